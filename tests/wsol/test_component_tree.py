"""cvkit.wsol.component_tree: the IoU curves of all thresholds at once against the loop reference
(one scipy labelling per image per threshold), chunking, and the level convention."""
import numpy as np
import pytest
from wsol_reference import random_case, ref_box_acc, ref_ious

from cvkit.wsol import box_iou_curves, max_box_acc, max_box_acc_v2


@pytest.mark.parametrize("kind", ["noise", "plateaus", "sparse", "smooth"])
@pytest.mark.parametrize("multi", [False, True])
def test_ious_match_loop_reference(kind, multi):
    rng = np.random.default_rng({"noise": 1, "plateaus": 2, "sparse": 3, "smooth": 4}[kind])
    cams, gts = random_case(rng, kind)
    th = np.arange(0, 1, 0.01)
    res = max_box_acc(cams, gts, multi_contour=multi, thresholds=th)
    np.testing.assert_allclose(res.ious, ref_ious(cams, gts, th, multi), atol=1e-6)


def test_full_grid_scores_match_loop_reference():
    rng = np.random.default_rng(7)
    cams, gts = random_case(rng, "smooth", n=3, h=12, w=12)
    th = np.arange(0, 1, 0.001)
    got = max_box_acc(cams, gts)
    assert got.score == pytest.approx(ref_box_acc(cams, gts, th, [0.5], False))
    got2 = max_box_acc_v2(cams, gts)
    assert got2.score == pytest.approx(ref_box_acc(cams, gts, th, [0.3, 0.5, 0.7], True))


def test_chunking_does_not_change_result(monkeypatch):
    import cvkit.wsol.component_tree as component_tree

    rng = np.random.default_rng(3)
    cams, gts = random_case(rng, "plateaus", n=7)
    a = box_iou_curves(cams, gts)
    b = box_iou_curves(cams, gts, chunk_pixels=1)
    monkeypatch.setattr(component_tree, "_TABLE_LIMIT", 256)  # forces the split of rugged chunks
    c = box_iou_curves(cams, gts)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


def test_levels_are_super_level_sets():
    # u = 255 on a 2x2 block, 127 on a ring around it, 0 elsewhere: levels 1..127 keep the 4x4
    # ring-and-block, levels 128..255 the block, level 256 nothing.
    cam = np.zeros((1, 8, 8))
    cam[0, 2:6, 2:6] = 0.5
    cam[0, 3:5, 3:5] = 1.0
    u_max, large, every = box_iou_curves(cam, [[[3, 3, 4, 4]]])
    assert u_max.tolist() == [255]
    assert large[0, 1] == every[0, 1] == pytest.approx(4 / 16)
    assert large[0, 127] == pytest.approx(4 / 16) and large[0, 128] == 1.0
    assert large[0, 255] == 1.0 and large[0, 256] == 0.0
    only_all = box_iou_curves(cam, [[[3, 3, 4, 4]]], largest=False)
    assert only_all[1] is None
    np.testing.assert_array_equal(only_all[2], every)


def test_flat_tops_split_by_the_tie_break_are_one_region():
    # a plateau of equal values: the pointers split it into several basins that must merge
    cam = np.zeros((1, 9, 9))
    cam[0, 1:8, 1:8] = 1.0
    _, large, every = box_iou_curves(cam, [[[1, 1, 7, 7]]])
    assert np.all(large[0, 1:256] == 1.0) and np.all(every[0, 1:256] == 1.0)


def test_chunk_pixels_is_checked():
    with pytest.raises(TypeError, match="`chunk_pixels`"):
        box_iou_curves(np.zeros((1, 4, 4)), [[0, 0, 1, 1]], chunk_pixels=1.5)
