"""Property-based checks (Hypothesis) of the thresholds and edge filters against scikit-image and
SciPy on arbitrary arrays."""
import warnings

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from skimage import filters

from cvkit.segmentation import (laplacian, multi_otsu_thresholds, otsu_threshold, sobel, sobel_x,
                                sobel_y)

FAST = settings(max_examples=50, deadline=None)
shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))
uint8_images = arrays(np.uint8, shapes)
float_images = arrays(np.float64, shapes,
                      elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
MODES = st.sampled_from(["reflect", "mirror", "nearest", "constant", "wrap"])


@FAST
@given(uint8_images)
def test_otsu_matches_skimage_on_uint8(img):
    assume(np.unique(img).size > 1)
    assert otsu_threshold(img) == filters.threshold_otsu(img)


@FAST
@given(float_images, st.integers(2, 300))
def test_otsu_matches_skimage_on_floats(img, nbins):
    assume(np.ptp(img) > 1e-6)
    ours = otsu_threshold(img, nbins=nbins)
    theirs = filters.threshold_otsu(img, nbins=nbins)
    # the same bin (tie order may differ by one rounding in the criterion: compare the split)
    np.testing.assert_array_equal(img > ours, img > theirs)


def _criterion(img, thresholds):
    """Otsu's multi-class criterion sum_k w_k mu_k^2 of the split ``img > t`` (what both libraries
    maximise: the between-class variance up to a constant)."""
    cls = np.digitize(img.ravel(), thresholds, right=True)
    v = img.ravel().astype(np.float64)
    return sum(np.sum(cls == k) * v[cls == k].mean() ** 2 for k in np.unique(cls)) / v.size


@FAST
@given(uint8_images, st.integers(2, 4))
def test_multi_otsu_as_good_as_skimage(img, classes):
    assume(np.unique(img).size > classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = filters.threshold_multiotsu(img, classes=classes)
    ours = multi_otsu_thresholds(img, classes=classes)
    assert ours.shape == (classes - 1,) and np.all(np.diff(ours) > 0)
    # the exact optimum: never below scikit-image's split (equal but for ties between equally
    # good splits, which the two break differently)
    assert _criterion(img, ours) >= _criterion(img, theirs) * (1 - 1e-12)


@FAST
@given(float_images, MODES)
def test_sobel_matches_scipy(img, mode):
    np.testing.assert_allclose(sobel_x(img, mode), ndimage.sobel(img, axis=1, mode=mode),
                               atol=1e-9 * (1 + np.abs(img).max()))
    np.testing.assert_allclose(sobel_y(img, mode), ndimage.sobel(img, axis=0, mode=mode),
                               atol=1e-9 * (1 + np.abs(img).max()))


@FAST
@given(float_images)
def test_sobel_magnitude_matches_skimage(img):
    assume(min(img.shape) >= 3)     # skimage's sobel masks the one-pixel border
    ours = sobel(img)[1:-1, 1:-1] / (4 * np.sqrt(2))
    np.testing.assert_allclose(ours, filters.sobel(img)[1:-1, 1:-1],
                               atol=1e-9 * (1 + np.abs(img).max()))


@FAST
@given(float_images, MODES)
def test_laplacian_matches_scipy_and_skimage(img, mode):
    scale = 1e-9 * (1 + np.abs(img).max())
    np.testing.assert_allclose(laplacian(img, 4, mode=mode), -ndimage.laplace(img, mode=mode),
                               atol=scale)
    k8 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float)
    np.testing.assert_allclose(laplacian(img, 8, mode=mode), ndimage.correlate(img, k8, mode=mode),
                               atol=scale)
    if mode == "reflect":
        np.testing.assert_allclose(laplacian(img, 4), filters.laplace(img, ksize=3), atol=scale)
