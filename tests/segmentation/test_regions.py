import numpy as np
import pytest
from skimage import data, measure, segmentation

from cvkit.segmentation import connected_components, region_boxes, region_grow, region_properties


@pytest.mark.parametrize("connectivity", [1, 2])
def test_label_equals_skimage(connectivity):
    rng = np.random.default_rng(connectivity)
    for _ in range(4):
        m = rng.random((40, 50)) > 0.55
        lab, n = connected_components(m, connectivity)
        ref = measure.label(m, connectivity=connectivity)
        np.testing.assert_array_equal(lab, ref)
        assert n == ref.max()
    multi = rng.integers(0, 3, (30, 30))
    np.testing.assert_array_equal(connected_components(multi, connectivity)[0],
                                  measure.label(multi, connectivity=connectivity))


def test_label_coins_and_spiral():
    m = data.coins() > 100
    np.testing.assert_array_equal(connected_components(m)[0], measure.label(m))
    # a long snake: one component however it winds
    s = np.zeros((21, 21), bool)
    s[::4, 1:-1] = True
    s[1::4, -2] = True
    s[2::4, -2] = True
    s[3::4, 1] = True
    s[3::8, 1] = False
    s[7::8, -2] = True
    lab, n = connected_components(s, 1)
    np.testing.assert_array_equal(lab, measure.label(s, connectivity=1))


def test_label_empty_and_bad():
    lab, n = connected_components(np.zeros((4, 4), bool))
    assert n == 0 and not lab.any()
    with pytest.raises(ValueError, match="mask"):
        connected_components(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="connectivity"):
        connected_components(np.zeros((3, 3)), 3)


@pytest.mark.parametrize("tol", [0, 5, 20])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_region_grow_equals_flood(tol, connectivity):
    img = data.coins()
    for seed in [(100, 100), (50, 300), (170, 50)]:
        np.testing.assert_array_equal(
            region_grow(img, seed, tol, connectivity),
            segmentation.flood(img, seed, tolerance=tol, connectivity=connectivity))


def test_region_grow_on_shapes(small_shapes):
    i = 0
    img = small_shapes.images[i]
    mask = small_shapes.masks[i]
    r, c = np.argwhere(mask)[len(np.argwhere(mask)) // 2]
    grown = region_grow(img, (r, c), 0.02)
    assert grown[r, c] and grown.dtype == bool


def test_region_grow_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        region_grow(np.zeros((5, 5)), (9, 0), 0.1)
    with pytest.raises(ValueError, match="seed"):
        region_grow(np.zeros((5, 5)), 3, 0.1)
    with pytest.raises(ValueError, match="tolerance"):
        region_grow(np.zeros((5, 5)), (1, 1), -1)


def test_region_properties_equal_regionprops():
    rng = np.random.default_rng(0)
    lab = measure.label(rng.random((50, 60)) > 0.6)
    p = region_properties(lab)
    rp = measure.regionprops(lab)
    np.testing.assert_array_equal(p["area"], [r.area for r in rp])
    np.testing.assert_array_equal(p["bbox"], [r.bbox for r in rp])
    np.testing.assert_allclose(p["centroid"], [r.centroid for r in rp])
    with pytest.raises(ValueError, match="labels"):
        region_properties(-np.ones((3, 3), int))
    with pytest.raises(TypeError, match="labels"):
        region_properties(np.ones((3, 3)) * 0.5)


def test_region_boxes_match_dataset_boxes(small_shapes):
    for i in range(5):
        box = region_boxes(small_shapes.masks[i].astype(int))[0]
        np.testing.assert_allclose(box, small_shapes.boxes[i], atol=1e-6)
