import warnings

import numpy as np
import pytest
from skimage import color, data, filters

from cvkit.segmentation import (apply_thresholds, between_class_variance, global_threshold,
                                local_threshold, multi_otsu_thresholds, otsu_threshold, to_gray)


def _images():
    rng = np.random.default_rng(0)
    imgs = {"camera": data.camera(), "coins": data.coins(), "moon": data.moon(),
            "page": data.page(), "astronaut": color.rgb2gray(data.astronaut()[::2, ::2])}
    for i in range(3):
        imgs[f"uniform{i}"] = rng.random((40, 50))
        imgs[f"uint8_{i}"] = rng.integers(0, 256, (40, 50)).astype(np.uint8)
        imgs[f"beta{i}"] = rng.beta(0.5, 0.5, (60, 60))
        imgs[f"bimodal{i}"] = np.concatenate([rng.normal(0.3, 0.05, 900),
                                              rng.normal(0.7, 0.1, 700)]).reshape(40, 40)
    return imgs


IMAGES = _images()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_otsu_equals_skimage(name):
    img = IMAGES[name]
    assert otsu_threshold(img) == filters.threshold_otsu(img)


def test_otsu_camera_value_and_units():
    assert otsu_threshold(data.camera()) == 102  # uint8 units, like skimage
    assert np.isclose(otsu_threshold(data.camera() / 255.0),
                      filters.threshold_otsu(data.camera() / 255.0))


def test_otsu_criterion_closed_form():
    # two clusters of values: the best split lies between them, and the criterion matches
    # w0 * w1 * (mu0 - mu1)^2 computed directly for every threshold
    rng = np.random.default_rng(1)
    img = rng.integers(0, 20, (30, 30)).astype(np.uint8)
    centers, crit = between_class_variance(img)
    flat = img.reshape(-1)
    for k, t in enumerate(centers):
        lo, hi = flat[flat <= t], flat[flat > t]
        expect = lo.size * hi.size * (lo.mean() - hi.mean()) ** 2
        assert np.isclose(crit[k], expect, rtol=1e-5)
    two = np.array([[10, 10, 200, 200]] * 3, dtype=np.uint8)
    t = otsu_threshold(two)
    assert 10 <= t < 200 and np.array_equal(two > t, two == 200)


def test_otsu_constant_image_returns_value():
    assert otsu_threshold(np.full((5, 5), 7, np.uint8)) == 7
    assert otsu_threshold(np.full((5, 5), 0.25)) == 0.25


def test_otsu_bool_and_rgb():
    m = np.zeros((6, 6), bool)
    m[2:4] = True
    assert otsu_threshold(m) == 0
    rgb = data.astronaut()[::4, ::4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert otsu_threshold(rgb) == filters.threshold_otsu(color.rgb2gray(rgb))


@pytest.mark.parametrize("bad,exc", [(np.zeros((2, 3, 4, 3)), ValueError),
                                     (np.zeros((0, 4)), ValueError),
                                     (np.array([[0.1, np.nan]]), ValueError),
                                     (np.array([["a"]]), TypeError),
                                     (np.zeros(5), ValueError)])
def test_otsu_bad_input(bad, exc):
    with pytest.raises(exc, match="image"):
        otsu_threshold(bad)


@pytest.mark.parametrize("classes", [2, 3, 4])
@pytest.mark.parametrize("name", ["camera", "coins", "uniform0", "uint8_1", "beta2", "bimodal0"])
def test_multi_otsu_equals_skimage(name, classes):
    img = IMAGES[name]
    np.testing.assert_array_equal(multi_otsu_thresholds(img, classes),
                                  filters.threshold_multiotsu(img, classes))


def test_multi_otsu_two_classes_is_otsu():
    for name in ("camera", "moon", "uniform1"):
        img = IMAGES[name]
        assert multi_otsu_thresholds(img, 2)[0] == otsu_threshold(img)


def test_multi_otsu_few_values():
    img = np.array([[0, 0, 5, 5, 9, 9]], np.uint8)
    np.testing.assert_array_equal(multi_otsu_thresholds(img, 3), [0, 5])
    with pytest.raises(ValueError, match="classes"):
        multi_otsu_thresholds(img, 4)
    with pytest.raises(ValueError, match="classes"):
        multi_otsu_thresholds(img, 1)


def test_apply_thresholds_digitize():
    img = IMAGES["camera"]
    t = multi_otsu_thresholds(img, 3)
    np.testing.assert_array_equal(apply_thresholds(img, t), np.digitize(img, t, right=True))
    with pytest.raises(ValueError, match="increasing"):
        apply_thresholds(img, [100, 50])


def test_global_threshold_kite_style():
    sky = np.full((20, 20), 0.8)
    sky[5:10, 5:10] = 0.1  # dark kite
    mask, t = global_threshold(sky, 0.3, invert=True)
    assert t == 0.3 and mask.sum() == 25 and mask[5:10, 5:10].all()
    mask, t = global_threshold(sky, "mean")
    assert np.isclose(t, sky.mean()) and (~mask).sum() == 25
    with pytest.raises(ValueError, match="threshold"):
        global_threshold(sky, "max")


@pytest.mark.parametrize("method", ["gaussian", "mean"])
@pytest.mark.parametrize("block", [5, 21])
def test_local_threshold_equals_skimage(method, block):
    img = data.page() / 255.0
    np.testing.assert_allclose(local_threshold(img, block, method, offset=0.02),
                               filters.threshold_local(img, block, method, offset=0.02), atol=1e-9)


def test_local_threshold_bad_block():
    with pytest.raises(ValueError, match="block_size"):
        local_threshold(data.page(), 4)
    with pytest.raises(ValueError, match="block_size"):
        local_threshold(data.page(), 1)


def test_to_gray_matches_rgb2gray():
    rgb = data.astronaut()[::8, ::8]
    np.testing.assert_allclose(to_gray(rgb), color.rgb2gray(rgb), atol=1e-12)
