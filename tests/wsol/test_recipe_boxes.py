"""cvkit.wsol.recipe_boxes / peak_in_box: the course's CAM -> box recipe for a batch, against a
per-map scipy.ndimage reference; bad input."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from cvkit.wsol import peak_in_box, recipe_boxes


def _reference(m, tau):
    m = m.astype(np.float64)
    span = m.max() - m.min()
    norm = (m - m.min()) / span if span > 0 else np.zeros_like(m)
    lab, n = ndi.label(norm > tau, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(4), np.zeros(m.shape, bool)
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == 1 + int(np.argmax(sizes))
    r, c = np.nonzero(comp)
    h, w = m.shape
    return np.array([c.min() / w, r.min() / h, (c.max() + 1) / w, (r.max() + 1) / h]), comp


@pytest.mark.parametrize("tau", [0.0, 0.2, 0.5, 0.9])
def test_recipe_boxes_match_a_per_map_reference(tau):
    rng = np.random.default_rng(0)
    maps = ndi.zoom(rng.normal(size=(12, 6, 5)), (1, 6, 6), order=1)   # blobs, several components
    maps[3] = 1.0                                                        # constant: nothing above
    boxes, masks = recipe_boxes(maps, tau, return_masks=True)
    for i, m in enumerate(maps):
        ref_box, ref_mask = _reference(m, tau)
        np.testing.assert_allclose(boxes[i], ref_box, atol=1e-6)
        np.testing.assert_array_equal(masks[i], ref_mask)
    single = recipe_boxes(maps[0], tau)
    assert single.shape == (4,) and np.allclose(single, boxes[0])


def test_recipe_boxes_tie_goes_to_the_first_component_in_raster_order():
    m = np.zeros((1, 6, 6))
    m[0, 0, 0:2] = 1
    m[0, 4, 3:5] = 1
    np.testing.assert_allclose(recipe_boxes(m, 0.5)[0], [0, 0, 2 / 6, 1 / 6])


def test_peak_in_box_against_a_loop():
    rng = np.random.default_rng(1)
    maps = rng.random((30, 9, 7))
    boxes = np.sort(rng.random((30, 2, 2)), axis=1).reshape(30, 4)[:, [0, 2, 1, 3]]
    got = peak_in_box(maps, boxes)
    for m, b, g in zip(maps, boxes, got):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        assert g == (b[0] * 7 <= c < b[2] * 7 and b[1] * 9 <= r < b[3] * 9)


def test_bad_input():
    with pytest.raises(ValueError, match="`threshold` must be < 1"):
        recipe_boxes(np.ones((2, 4, 4)), 1.0)
    with pytest.raises(ValueError, match="`threshold`"):
        recipe_boxes(np.ones((2, 4, 4)), -0.1)
    with pytest.raises(ValueError, match="`maps`"):
        recipe_boxes(np.ones((2, 3, 4, 4)), 0.3)
    with pytest.raises(ValueError, match="`maps`"):
        recipe_boxes(np.full((1, 4, 4), np.nan), 0.3)
    with pytest.raises(ValueError, match="`boxes` must have shape \\(2, 4\\)"):
        peak_in_box(np.ones((2, 4, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="`boxes` must be finite"):
        peak_in_box(np.ones((1, 4, 4)), [[0, 0, np.nan, 1]])


def test_peak_in_box_at_the_receptive_field_centre():
    """MobileNetV2's stride-8 cell (r, c) looks at pixel 8r + 7 (field 75 px from offset -30), not
    at 8r + 3.5 where resizing draws it: a peak in cell 0 is inside a box starting at pixel 6."""
    from types import SimpleNamespace

    field = SimpleNamespace(size_yx=(75, 75), stride_yx=(8, 8), offset_yx=(-30, -30),
                            input_size=(128, 128))
    raw = np.zeros((2, 16, 16))
    raw[0, 0, 0] = 1            # centre (7, 7)
    raw[1, 2, 1] = 1            # centre (23, 15)
    box = np.array([[6, 6, 20, 20], [14, 22, 30, 40]]) / 128
    assert peak_in_box(raw, box, field).tolist() == [True, True]
    assert peak_in_box(raw, box + np.array([[2], [-1]]) / 128, field).tolist() == [False, True]
    up = np.repeat(np.repeat(raw, 8, 1), 8, 2)     # resizing puts the same peak at pixels 0-7
    assert peak_in_box(up, np.array([[8, 8, 20, 20], [14, 22, 30, 40]]) / 128).tolist() == \
        [False, False]
    with pytest.raises(TypeError, match="`field` must be a ReceptiveField"):
        peak_in_box(raw, box, field=8)
