"""Bad and edge-case input across cvkit.segmentation: a clear error naming the argument, bounded
memory, and no silent wrong answer (issue 17)."""
import numpy as np
import pytest
from scipy import ndimage
from skimage import filters

import cvkit.segmentation as seg

IMG = np.random.default_rng(0).random((8, 9))
RGB = np.random.default_rng(1).random((8, 9, 3))
LAB = np.array([[0, 1, 1], [0, 2, 2]])

# (function, keyword arguments, the argument named in the error, error type)
BAD = [
    (seg.to_gray, dict(image=np.array([["a"]])), "image", TypeError),
    (seg.to_gray, dict(image=np.zeros((2, 4, 4, 3))), "image", ValueError),
    (seg.global_threshold, dict(image=IMG, threshold="0.5"), "threshold", ValueError),
    (seg.global_threshold, dict(image=IMG, threshold=True), "threshold", TypeError),
    (seg.global_threshold, dict(image=IMG, invert="no"), "invert", TypeError),
    (seg.global_threshold, dict(image=(RGB * 255).astype(np.uint8), threshold=128), "threshold",
     ValueError),
    (seg.histogram, dict(image=IMG, nbins=10 ** 9), "nbins", ValueError),
    (seg.histogram, dict(image=np.array([[0, 10 ** 9]])), "image", ValueError),
    (seg.between_class_variance, dict(image=IMG, nbins="8"), "nbins", TypeError),
    (seg.otsu_threshold, dict(image=np.array([[0, 2 ** 31 - 1]], np.int32)), "image", ValueError),
    (seg.otsu_threshold, dict(image=IMG, nbins=2.5), "nbins", TypeError),
    (seg.multi_otsu_thresholds, dict(image=np.arange(4096, dtype=np.uint16).reshape(64, 64)),
     "image", ValueError),
    (seg.multi_otsu_thresholds, dict(image=IMG, nbins=10 ** 5), "nbins", ValueError),
    (seg.multi_otsu_thresholds, dict(image=IMG, classes=True), "classes", TypeError),
    (seg.apply_thresholds, dict(image=IMG, thresholds=["0.5"]), "thresholds", TypeError),
    (seg.apply_thresholds, dict(image=IMG, thresholds=[True]), "thresholds", TypeError),
    (seg.apply_thresholds, dict(image=IMG, thresholds=[0.6, 0.3]), "thresholds", ValueError),
    (seg.apply_thresholds, dict(image=(RGB * 255).astype(np.uint8), thresholds=[100]),
     "thresholds", ValueError),
    (seg.local_threshold, dict(image=IMG, block_size=4), "block_size", ValueError),
    (seg.local_threshold, dict(image=IMG, method="median"), "method", ValueError),
    (seg.correlate, dict(image=IMG, kernel=[["a"]]), "kernel", TypeError),
    (seg.correlate, dict(image=IMG, kernel=np.ones((3, 3)), padding=10 ** 6), "padding",
     ValueError),
    (seg.correlate, dict(image=IMG, kernel=np.ones((3, 3)), stride="2"), "stride", TypeError),
    (seg.convolve, dict(image=IMG, kernel=np.ones((3, 3)), cval="0"), "cval", TypeError),
    (seg.gaussian_kernel, dict(sigma=1e9), "sigma", ValueError),
    (seg.gaussian_kernel, dict(sigma=1.0, truncate=0), "truncate", ValueError),
    (seg.gaussian_blur, dict(image=IMG, sigma=1000.0), "sigma", ValueError),
    (seg.box_blur, dict(image=IMG, size=10 ** 6 + 1), "size", ValueError),
    (seg.sobel_x, dict(image=IMG, mode="zero"), "mode", ValueError),
    (seg.sobel_y, dict(image=IMG.astype(complex)), "image", TypeError),
    (seg.sobel, dict(image=IMG, return_components="yes"), "return_components", TypeError),
    (seg.laplacian, dict(image=IMG, kernel=6), "kernel", ValueError),
    (seg.laplacian_of_gaussian, dict(image=IMG, sigma=-1.0), "sigma", ValueError),
    (seg.zero_crossings, dict(response=IMG > 0.5), "response", TypeError),
    (seg.zero_crossings, dict(response=IMG, threshold=-1), "threshold", ValueError),
    (seg.kmeans_plus_plus, dict(X=RGB.reshape(-1, 3), k=2, seed=-1), "seed", ValueError),
    (seg.kmeans, dict(X=RGB.reshape(-1, 3), k=2, seed="0"), "seed", TypeError),
    (seg.kmeans, dict(X=RGB.reshape(-1, 3), k=2, n_init=10 ** 12), "n_init", ValueError),
    (seg.kmeans, dict(X=np.array([["a", "b"]]), k=1), "X", TypeError),
    (seg.kmeans_segment, dict(image=RGB, k=2, seed=1.5), "seed", TypeError),
    (seg.pixel_features, dict(image=RGB, spatial_weight="1"), "spatial_weight", TypeError),
    (seg.slic_superpixels, dict(image=RGB, compactness=0), "compactness", ValueError),
    (seg.connected_components, dict(mask=LAB, connectivity=True), "connectivity", TypeError),
    (seg.connected_components, dict(mask=LAB, background="0"), "background", TypeError),
    (seg.region_grow, dict(image=IMG, seed=(0, 0.5), tolerance=0.1), "seed", TypeError),
    (seg.region_grow, dict(image=IMG, seed=(0, 0), tolerance="1"), "tolerance", TypeError),
    (seg.region_properties, dict(labels=np.array([[0, 10 ** 9]])), "labels", ValueError),
    (seg.region_properties, dict(labels=LAB * 0.5), "labels", TypeError),
    (seg.region_boxes, dict(labels=LAB, normalized="no"), "normalized", TypeError),
]


@pytest.mark.parametrize("fn,kwargs,arg,exc", BAD, ids=[f"{b[0].__name__}-{b[2]}-{i}"
                                                        for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(fn, kwargs, arg, exc):
    with pytest.raises(exc, match=f"`{arg}"):
        fn(**kwargs)


def test_kmeans_far_from_the_origin_in_float32():
    # two clusters 1 apart per axis, offset by 3e3: the float32 expansion used to give chance
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3)) * 0.1
    X = np.concatenate([a, a + 1.0]).astype(np.float32) + np.float32(3e3)
    truth = np.repeat([0, 1], 500)
    centers, labels, inertia, _ = seg.kmeans(X, 2, seed=0)
    assert max(np.mean(labels == truth), np.mean(labels != truth)) == 1.0
    np.testing.assert_allclose(np.sort(centers[:, 0]), [3000.0, 3001.0], atol=0.02)
    # the same split as at the origin: the inertia is translation invariant
    _, labels0, inertia0, _ = seg.kmeans(X - np.float32(3e3), 2, seed=0)
    np.testing.assert_allclose(inertia, inertia0, rtol=1e-3)


def test_kmeans_pp_returns_rows_of_the_data():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]]) + 1e6
    c = seg.kmeans_plus_plus(X, 2, seed=3)
    assert all(any(np.array_equal(r, x) for x in X) for r in c)
    assert abs(c[0, 0] - c[1, 0]) == 10.0    # one centre in each cluster


def test_rgb_uint8_threshold_in_grey_units_is_refused_and_0_1_works():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0] = 200
    mask, t = seg.global_threshold(rgb, 128 / 255)
    np.testing.assert_array_equal(mask, [[True, True], [False, False]])
    grey = rgb[..., 0]     # the same image in grey uint8: thresholds in 0..255
    np.testing.assert_array_equal(seg.global_threshold(grey, 128)[0], mask)
    with pytest.raises(ValueError, match="Divide by 255"):
        seg.global_threshold(rgb, 128)


def test_region_grow_refuses_nan_at_the_seed():
    img = np.zeros((4, 4, 3))
    img[0, 0] = np.nan
    with pytest.raises(ValueError, match="`image`.*NaN"):
        seg.region_grow(img, (0, 0), 0.1)
    with pytest.raises(ValueError, match="`image`.*NaN"):
        seg.region_grow(img[..., 0], (0, 0), 0.1)


def test_region_properties_bounded_by_the_image():
    lab = np.zeros((3, 3), int)
    lab[1, 1] = 9                       # sparse labels up to H * W stay accepted
    assert seg.region_properties(lab)["area"].tolist() == [0] * 8 + [1]
    lab[1, 1] = seg.MAX_LABEL           # and up to MAX_LABEL
    assert seg.region_properties(lab)["area"].shape == (seg.MAX_LABEL,)
    lab[1, 1] = seg.MAX_LABEL + 1
    with pytest.raises(ValueError, match="np.unique"):
        seg.region_properties(lab)


def test_integer_ranges_bounded_and_uint16_otsu_still_exact():
    img = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)   # 63 001 levels: fine
    assert seg.otsu_threshold(img) == filters.threshold_otsu(img)
    with pytest.raises(ValueError, match="astype\\(float\\)"):
        seg.multi_otsu_thresholds(img)
    np.testing.assert_allclose(seg.multi_otsu_thresholds(img.astype(float), 3),
                               filters.threshold_multiotsu(img.astype(float), 3))
    big = np.array([[2 ** 63 + 5, 2 ** 63 + 9]], np.uint64)        # no wrap-around through int64
    counts, centers = seg.histogram(big)
    assert counts.tolist() == [1, 0, 0, 0, 1] and centers[0] == 2 ** 63 + 5


def test_otsu_survives_overflow_and_underflow_of_the_criterion():
    tiny = np.array([[3e-300, 1e-300, 1.1e-300, 3.1e-300]])
    t = seg.otsu_threshold(tiny)
    np.testing.assert_array_equal(tiny > t, [[True, False, False, True]])
    huge = tiny / 1e-300 * 1e299          # values around 1e299: the squares overflow
    np.testing.assert_array_equal(huge > seg.otsu_threshold(huge), [[True, False, False, True]])


def test_zero_crossings_of_tiny_responses():
    r = np.array([[-1e-200, 1e-200, 2e-200]])       # the product underflows to -0.0
    np.testing.assert_array_equal(seg.zero_crossings(r), [[True, False, False]])
    np.testing.assert_array_equal(seg.zero_crossings(r * 1e200), [[True, False, False]])


def test_one_pixel_images():
    one = np.array([[0.5]])
    assert seg.otsu_threshold(one) == 0.5
    np.testing.assert_array_equal(seg.sobel(one), [[0.0]])
    np.testing.assert_allclose(seg.gaussian_blur(one, 2.0), [[0.5]])
    np.testing.assert_allclose(seg.correlate(one, np.ones((3, 3)), mode="mirror"),
                               ndimage.correlate(one, np.ones((3, 3)), mode="mirror"))
    assert seg.connected_components(one > 0)[1] == 1
    assert seg.region_grow(one, (0, 0), 0.0).tolist() == [[True]]
