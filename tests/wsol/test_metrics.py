"""cvkit.wsol.metrics (MaxBoxAcc, MaxBoxAccV2, PxAP, top-k localization) against hand-worked cases
and the loop reference of ``wsol_reference.py``; the NaN policy; bad input."""
import numpy as np
import pytest
from wsol_reference import random_case, ref_ious, ref_norm, ref_pxap

from cvkit.wsol import (EMPTY_BOX, boxes_from_cam, max_box_acc, max_box_acc_v2, normalize_maps, pxap,
                        quantize_maps, top_k_localization)


# ------------------------------------------------------------------------------------------
# Hand-made cases with known answers
# ------------------------------------------------------------------------------------------
def test_single_square_blob_gives_iou_one():
    cam = np.zeros((1, 32, 32), np.float32)
    cam[0, 8:16, 10:20] = 1.0
    gt = [[10, 8, 19, 15]]
    res = max_box_acc(cam, [gt])
    assert res.score == 100.0
    assert res.ious.max() == pytest.approx(1.0)
    # every threshold below 1 gives the blob exactly: the map has two values
    assert np.all(res.accuracy == 100.0)
    np.testing.assert_array_equal(boxes_from_cam(cam[0], 0.3), [10, 8, 19, 15])


def test_blurred_blob_right_threshold_only():
    yy, xx = np.mgrid[:40, :40]
    cam = np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / (2 * 6.0 ** 2))
    gt = np.array([[14, 14, 26, 26]])
    res = max_box_acc(cam[None], [gt])
    assert res.score == 100.0
    j = np.searchsorted(res.thresholds, res.best_thresholds[0])
    assert res.ious[0, j] >= 0.5
    assert res.accuracy[0, 0] == 0.0  # tau = 0: the whole image
    assert res.accuracy[0, -1] == 0.0  # tau = 0.999: the peak pixel only


def test_two_blobs_largest_vs_all_regions():
    cam = np.zeros((1, 20, 20))
    cam[0, 1:9, 1:9] = 1.0  # 64 pixels: the largest region
    cam[0, 12:16, 12:16] = 1.0  # 16 pixels: the object
    gt = [[[12, 12, 15, 15]]]
    assert max_box_acc(cam, gt).score == 0.0
    assert max_box_acc(cam, gt, multi_contour=True).score == 100.0
    assert max_box_acc_v2(cam, gt).score == 100.0
    boxes = boxes_from_cam(cam[0], 0.5, multi_contour=True)
    assert sorted(map(tuple, boxes.tolist())) == [(1, 1, 8, 8), (12, 12, 15, 15)]
    np.testing.assert_array_equal(boxes_from_cam(cam[0], 0.5), [1, 1, 8, 8])


def test_empty_and_constant_maps():
    gt = [[[2, 2, 5, 5]]]
    for cam in (np.zeros((1, 8, 8)), np.full((1, 8, 8), 0.7)):
        res = max_box_acc(cam, gt)
        assert res.score == 0.0
        assert np.all(res.ious == 0.0)
        np.testing.assert_array_equal(boxes_from_cam(cam[0], 0.5), EMPTY_BOX)
        assert boxes_from_cam(cam[0], 0.5, multi_contour=True).shape == (0, 4)
        np.testing.assert_array_equal(normalize_maps(cam), 0.0)


def test_several_true_boxes_best_pair_counts():
    cam = np.zeros((1, 20, 20))
    cam[0, 10:18, 10:18] = 1.0
    gts = [np.array([[0, 0, 3, 3], [10, 10, 17, 17], [9, 9, 19, 19]])]
    res = max_box_acc(cam, gts)
    assert res.score == 100.0
    assert res.ious.max() == pytest.approx(1.0)


def test_strict_box_threshold_vs_inclusive_pxap():
    # one pixel at exactly 0.5: PxAP's {s >= 0.5} counts it, the box test {u > floor(0.5 max u)}
    # does not (u = 127 is not > 127).
    cam = np.zeros((1, 5, 5), np.float32)
    cam[0, 0, 0] = 1.0
    cam[0, 4, 4] = 0.5
    assert quantize_maps(cam)[0, 4, 4] == 127
    boxes = boxes_from_cam(cam[0], 0.5, multi_contour=True)
    np.testing.assert_array_equal(boxes, [[0, 0, 0, 0]])
    mask = np.zeros((1, 5, 5), bool)
    mask[0, 4, 4] = True
    res = pxap(cam, mask, thresholds=[0.5])
    assert res.recall[0] == 1.0 and res.precision[0] == 0.5


def test_empty_box_in_benchmark_mode_scores_corner_box():
    # The reference's (0, 0, 0, 0) stand-in matches a one-pixel box in the corner.
    cams = np.zeros((1, 6, 6))
    assert max_box_acc(cams, [[[0, 0, 0, 0]]]).score == 0.0
    assert max_box_acc(cams, [[[0, 0, 0, 0]]], benchmark_boxes=True).score == 100.0


def test_boxacc_curve_and_best_threshold():
    cam = np.full((2, 10, 10), 0.05)
    cam[:, 9, 9] = 0.0  # a dark pixel, so the 0.05 background is above zero after normalising
    cam[0, 2:6, 2:6] = 1.0
    cam[1, 2:6, 2:6] = 0.3
    cam[1, 0, 0] = 1.0  # a bright corner pixel: the object is at 0.3 of the maximum
    gts = [[[2, 2, 5, 5]], [[2, 2, 5, 5]]]
    res = max_box_acc(cam, gts, thresholds=[0.0, 0.1, 0.5])
    # tau=0: the whole background is foreground for both; tau=0.1: the object is the largest
    # region in both (the corner is one pixel); tau=0.5: image 1 keeps only its corner pixel
    np.testing.assert_allclose(res.accuracy[0], [0.0, 100.0, 50.0])
    assert res.best_thresholds[0] == 0.1 and res.score == 100.0
    np.testing.assert_allclose(res.best_ious(0.5), [1.0, 1.0])
    assert "MaxBoxAcc" in str(res)


def test_v2_uses_each_delta_best_threshold():
    rng = np.random.default_rng(5)
    cams, gts = random_case(rng, "smooth", n=6)
    th = np.arange(0, 1, 0.02)
    res = max_box_acc_v2(cams, gts, thresholds=th)
    ious = ref_ious(cams, gts, th, True)
    per = [max((ious[:, k] >= d).mean() * 100 for k in range(len(th))) for d in (0.3, 0.5, 0.7)]
    np.testing.assert_allclose(res.max_per_iou, per)
    assert res.score == pytest.approx(np.mean(per))
    assert res.name == "MaxBoxAccV2"


# ------------------------------------------------------------------------------------------
# PxAP
# ------------------------------------------------------------------------------------------
def test_pxap_matches_loop_reference():
    rng = np.random.default_rng(2)
    cams = rng.random((4, 9, 11))
    masks = rng.random((4, 9, 11)) < 0.3
    th = np.arange(0, 1, 0.01)
    res = pxap(cams, masks, thresholds=th)
    assert res.score == pytest.approx(ref_pxap(cams, masks, th), abs=1e-9)
    s = np.stack([ref_norm(c) for c in cams])
    for k in (0, 37, 99):
        pred = s >= th[k]
        assert res.precision[k] == pytest.approx((pred & masks).sum() / pred.sum())
        assert res.recall[k] == pytest.approx((pred & masks).sum() / masks.sum())


def test_pxap_hand_worked():
    # three pixels, scores 1, 0.5, 0 (after normalisation); the first and last are objects.
    cam = np.array([[[1.0, 0.5, 0.0]]])
    mask = np.array([[[True, False, True]]])
    res = pxap(cam, mask, thresholds=[0.0, 0.5])
    # thresholds from the top: 1.0 -> P=1, R=1/2; 0.5 -> P=1/2, R=1/2; 0.0 -> P=2/3, R=1
    assert res.score == pytest.approx(100 * (1 * 0.5 + 0.5 * 0 + 2 / 3 * 0.5))
    np.testing.assert_allclose(res.precision, [2 / 3, 0.5])
    np.testing.assert_allclose(res.recall, [1.0, 0.5])


def test_pxap_perfect_and_ignore():
    mask = np.zeros((2, 8, 8), bool)
    mask[:, 2:5, 2:6] = True
    assert pxap(mask.astype(float), mask).score == pytest.approx(100.0)
    cam = mask.astype(float)
    cam[:, 0, 0] = 1.0  # a false positive at the top score
    assert pxap(cam, mask).score < 100.0
    ignore = np.zeros_like(mask)
    ignore[:, 0, 0] = True
    assert pxap(cam, mask, ignore=ignore).score == pytest.approx(100.0)


# ------------------------------------------------------------------------------------------
# Top-k and helpers
# ------------------------------------------------------------------------------------------
def test_top_k_localization_hand_worked():
    cams = np.zeros((3, 8, 8))
    cams[:, 2:6, 2:6] = 1
    gts = [[2, 2, 5, 5], [2, 2, 5, 5], [0, 0, 1, 1]]  # the third box is missed
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    labels = np.array([0, 1, 0])  # the second image is right only in the top 2
    res = top_k_localization(scores, labels, cams, gts, k=(1, 2))
    assert res.localization == {1: pytest.approx(100 / 3), 2: pytest.approx(200 / 3)}
    assert res.classification == {1: pytest.approx(200 / 3), 2: 100.0}
    assert res.top1 == pytest.approx(100 / 3)
    fixed = top_k_localization(scores, labels, cams, gts, k=1, threshold=0.5)
    assert fixed.threshold == 0.5 and fixed.top1 == pytest.approx(100 / 3)


def test_nan_policy():
    cam = np.zeros((2, 8, 8))
    cam[:, 2:5, 2:5] = 1
    cam[1, 0, 0] = np.nan
    gts = [[2, 2, 4, 4]] * 2
    with pytest.raises(ValueError, match="nan='zero'"):
        max_box_acc(cam, gts)
    assert max_box_acc(cam, gts, nan="zero").score == 50.0
    with pytest.raises(ValueError, match="NaN"):
        pxap(cam, cam > 0.5)
    with pytest.raises(ValueError, match="`nan`"):
        max_box_acc(cam, gts, nan="ignore")


def test_input_forms_give_the_same_result():
    import tensorflow as tf

    cams = np.zeros((3, 8, 8))
    cams[:, 2:5, 2:6] = 1
    cams[2, 6:, 6:] = 1
    ref = max_box_acc_v2(cams, [np.array([[2, 2, 5, 4]])] * 3).ious
    one_box = np.array([[2, 2, 5, 4]] * 3)
    forms = [one_box, one_box[:, None], tf.constant(one_box), [b for b in one_box],
             np.array([b[None] for b in one_box] + [None], dtype=object)[:3]]
    for gts in forms:
        np.testing.assert_array_equal(max_box_acc_v2(tf.constant(cams), gts).ious, ref)
    # ragged: several true boxes for one image, the best one counts
    ragged = [np.array([[0, 0, 1, 1], [2, 2, 5, 4]]), one_box[1], one_box[2:]]
    np.testing.assert_array_equal(max_box_acc_v2(cams, ragged).ious, ref)
    masks = (cams > 0).astype(np.int64)
    assert pxap(cams, masks).score == pxap(cams, tf.constant(masks > 0)).score == 100.0
    scores = np.array([[2.0, 1.0]] * 3)
    assert (top_k_localization(tf.constant(scores), tf.constant([0, 0, 1]), cams, one_box, k=1).top1
            == top_k_localization(scores, [0, 0, 1], cams, one_box, k=1).top1)


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------
def test_bad_inputs():
    cams = np.zeros((2, 8, 8))
    gts = [[0, 0, 3, 3]] * 2
    with pytest.raises(ValueError, match="`gt_boxes` has boxes for 1 images but there are 2"):
        max_box_acc(cams, gts[:1])
    with pytest.raises(ValueError, match="`cams` must have shape"):
        max_box_acc(cams[0], gts)
    with pytest.raises(ValueError, match="`cams` must have shape"):
        max_box_acc_v2(cams[..., None], gts)
    with pytest.raises(ValueError, match="outside the 8x8 map"):
        max_box_acc(cams, [[0, 0, 8, 3], [0, 0, 3, 3]])
    with pytest.raises(ValueError, match="outside"):
        max_box_acc(cams, [[3, 0, 1, 3], [0, 0, 3, 3]])
    with pytest.raises(ValueError, match="integer pixel"):
        max_box_acc(cams, [[0, 0, 0.5, 0.5]] * 2)
    with pytest.raises(ValueError, match="`masks` must have the maps' shape"):
        pxap(cams, np.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match="`ignore` must have"):
        pxap(cams, np.ones((2, 8, 8), bool), ignore=np.zeros((2, 8, 9), bool))
    with pytest.raises(ValueError, match="no foreground"):
        pxap(cams, np.zeros((2, 8, 8), bool))
    with pytest.raises(ValueError, match="`thresholds` must be strictly increasing"):
        max_box_acc(cams, gts, thresholds=[0.5, 0.2])
    with pytest.raises(ValueError, match="`thresholds` must lie in"):
        pxap(cams, np.ones((2, 8, 8), bool), thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="`iou_thresholds`"):
        max_box_acc(cams, gts, iou_thresholds=(0.0,))
    with pytest.raises(TypeError, match="`gt_boxes` must be a list"):
        max_box_acc(cams, "boxes")
    with pytest.raises(ValueError, match="`scores` must be an"):
        top_k_localization(np.zeros((3, 4)), [0, 1], cams, gts)
    with pytest.raises(ValueError, match="`labels` must lie"):
        top_k_localization(np.zeros((2, 4)), [0, 4], cams, gts)
    with pytest.raises(ValueError, match="`k` must be <= 4"):
        top_k_localization(np.zeros((2, 4)), [0, 1], cams, gts, k=5)
    with pytest.raises(ValueError, match="`iou_threshold` must be one of"):
        max_box_acc(cams, gts).best_ious(0.7)
    with pytest.raises(ValueError, match="`gt_boxes` must be a list of"):
        max_box_acc(cams, np.zeros((2, 1, 1, 4)))
    with pytest.raises(ValueError, match="`masks` must be boolean"):
        pxap(cams, np.full((2, 8, 8), 2))
    with pytest.raises(TypeError, match="`thresholds` must be numeric"):
        max_box_acc(cams, gts, thresholds="0.5")
