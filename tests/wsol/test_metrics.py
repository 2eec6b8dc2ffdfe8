"""Tests of cvkit.wsol metrics against hand-worked cases, scikit-image / SciPy and a plain loop
reference (one labelling per image per threshold, written here independently of the package)."""
import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.ndimage import zoom
from skimage.measure import label as sk_label
from skimage.measure import regionprops

from cvkit.wsol import (EMPTY_BOX, box_iou, boxes_from_cam, max_box_acc, max_box_acc_v2,
                        normalize_maps, pixel_boxes, pxap, quantize_maps, top_k_localization)

S8 = np.ones((3, 3), bool)


# ------------------------------------------------------------------------------------------
# The loop reference: what the benchmark does, one threshold at a time
# ------------------------------------------------------------------------------------------
def _ref_norm(c):
    c = np.asarray(c, np.float32)
    lo, hi = c.min(), c.max()
    return ((c - lo) / (hi - lo)).astype(np.float32) if hi > lo else np.zeros_like(c)


def _ref_iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(iw, 0) * max(ih, 0)
    ua = max(a[2] - a[0] + 1, 0) * max(a[3] - a[1] + 1, 0)
    ub = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    union = ua + ub - inter
    return inter / union if union > 0 else 0.0


def _ref_boxes(cam, tau, multi):
    u = (_ref_norm(cam) * np.float32(255)).astype(np.uint8)
    lab, n = ndi.label(u > int(tau * u.max()), structure=S8)
    boxes = []
    for k in range(1, n + 1):
        ys, xs = np.nonzero(lab == k)
        boxes.append((xs.min(), ys.min(), xs.max(), ys.max(), xs.size))
    if not multi and boxes:
        boxes = [boxes[int(np.argmax([b[4] for b in boxes]))]]
    return [b[:4] for b in boxes]


def ref_ious(cams, gts, thresholds, multi):
    out = np.zeros((len(cams), len(thresholds)))
    for i, cam in enumerate(cams):
        for k, tau in enumerate(thresholds):
            boxes = _ref_boxes(cam, tau, multi)
            if boxes:
                out[i, k] = max(_ref_iou(b, g) for b in boxes for g in np.atleast_2d(gts[i]))
    return out


def ref_box_acc(cams, gts, thresholds, deltas, multi):
    ious = ref_ious(cams, gts, thresholds, multi)
    return np.mean([max((ious[:, k] >= d).mean() * 100 for k in range(len(thresholds)))
                    for d in deltas])


def ref_pxap(cams, masks, thresholds):
    s = np.stack([_ref_norm(c) for c in cams]).astype(np.float64)
    taus = sorted(set(list(thresholds) + [1.0]), reverse=True)
    prec, rec = [], []
    for t in taus:
        pred = s >= t
        tp = (pred & masks).sum()
        prec.append(tp / pred.sum() if pred.sum() else None)
        rec.append(tp / masks.sum())
    ap, prev = 0.0, 0.0
    for p, r in zip(prec, rec):
        if p is not None:
            ap += p * (r - prev)
        prev = r
    return ap * 100


def _random_case(rng, kind, n=5, h=15, w=19):
    if kind == "noise":
        cams = rng.random((n, h, w))
    elif kind == "plateaus":
        cams = np.round(rng.random((n, h, w)) * 3)
    elif kind == "sparse":
        cams = np.round(rng.random((n, h, w)) * 1.3)
    else:  # smooth, like an up-sampled CAM
        cams = np.stack([zoom(rng.random((4, 5)), (h / 4, w / 5), order=3)[:h, :w] for _ in range(n)])
    gts = []
    for _ in range(n):
        boxes = []
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.integers(0, w - 1), rng.integers(0, h - 1)
            boxes.append([x0, y0, rng.integers(x0, w), rng.integers(y0, h)])
        gts.append(np.array(boxes))
    return cams, gts


# ------------------------------------------------------------------------------------------
# Vectorised vs loop reference
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["noise", "plateaus", "sparse", "smooth"])
@pytest.mark.parametrize("multi", [False, True])
def test_ious_match_loop_reference(kind, multi):
    rng = np.random.default_rng({"noise": 1, "plateaus": 2, "sparse": 3, "smooth": 4}[kind])
    cams, gts = _random_case(rng, kind)
    th = np.arange(0, 1, 0.01)
    res = max_box_acc(cams, gts, multi_contour=multi, thresholds=th)
    np.testing.assert_allclose(res.ious, ref_ious(cams, gts, th, multi), atol=1e-6)


def test_full_grid_scores_match_loop_reference():
    rng = np.random.default_rng(7)
    cams, gts = _random_case(rng, "smooth", n=3, h=12, w=12)
    th = np.arange(0, 1, 0.001)
    got = max_box_acc(cams, gts)
    assert got.score == pytest.approx(ref_box_acc(cams, gts, th, [0.5], False))
    got2 = max_box_acc_v2(cams, gts)
    assert got2.score == pytest.approx(ref_box_acc(cams, gts, th, [0.3, 0.5, 0.7], True))


def test_chunking_does_not_change_result(monkeypatch):
    import cvkit.wsol.metrics as metrics
    from cvkit.wsol import box_iou_curves

    rng = np.random.default_rng(3)
    cams, gts = _random_case(rng, "plateaus", n=7)
    a = box_iou_curves(cams, gts)
    b = box_iou_curves(cams, gts, chunk_pixels=1)
    monkeypatch.setattr(metrics, "_TABLE_LIMIT", 256)  # forces the split of rugged chunks
    c = box_iou_curves(cams, gts)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


def test_multi_object_dataset_and_boxes_from_cam_agree_with_regionprops():
    rng = np.random.default_rng(11)
    cam = zoom(rng.random((5, 5)), 6, order=3)
    for tau in (0.2, 0.5, 0.8):
        u = quantize_maps(cam)
        fg = u > int(tau * u.max())
        props = regionprops(sk_label(fg, connectivity=2))
        expected = sorted((p.bbox[1], p.bbox[0], p.bbox[3] - 1, p.bbox[2] - 1) for p in props)
        got = sorted(map(tuple, boxes_from_cam(cam, tau, multi_contour=True).tolist()))
        assert got == expected
        largest = max(props, key=lambda p: p.area)
        assert tuple(boxes_from_cam(cam, tau)) == (largest.bbox[1], largest.bbox[0],
                                                   largest.bbox[3] - 1, largest.bbox[2] - 1)


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


def test_diagonal_pixels_are_one_region():
    cam = np.zeros((6, 6))
    cam[1, 1] = cam[2, 2] = cam[3, 3] = 1.0  # 8-connected like OpenCV's contours
    np.testing.assert_array_equal(boxes_from_cam(cam, 0.5), [1, 1, 3, 3])


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


def test_inclusive_pixel_iou_hand_worked():
    # 2x2 boxes sharing one column: 2 common pixels, union 4 + 4 - 2 = 6
    assert box_iou([0, 0, 1, 1], [1, 0, 2, 1])[0, 0] == pytest.approx(2 / 6)
    # a single pixel box has area 1, not 0
    assert box_iou([3, 3, 3, 3], [3, 3, 3, 3])[0, 0] == 1.0
    # 3x3 vs 2x2 in its corner: 4 / 9
    assert box_iou([0, 0, 2, 2], [0, 0, 1, 1])[0, 0] == pytest.approx(4 / 9)
    assert box_iou(EMPTY_BOX, [0, 0, 1, 1])[0, 0] == 0.0
    m = box_iou([[0, 0, 1, 1], [5, 5, 6, 6]], [[0, 0, 1, 1], [1, 0, 2, 1], [9, 9, 9, 9]])
    np.testing.assert_allclose(m, [[1, 2 / 6, 0], [0, 0, 0]])


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


def test_benchmark_box_quirks():
    cam = np.zeros((10, 10))
    cam[2:5, 3:6] = 1
    np.testing.assert_array_equal(boxes_from_cam(cam, 0.5, benchmark_boxes=True), [3, 2, 6, 5])
    cam2 = np.zeros((10, 10))
    cam2[5:, 7:] = 1  # touches the border: the end is clipped to the last pixel
    np.testing.assert_array_equal(boxes_from_cam(cam2, 0.5, benchmark_boxes=True), [7, 5, 9, 9])
    np.testing.assert_array_equal(boxes_from_cam(np.zeros((4, 4)), 0.5, benchmark_boxes=True),
                                  [0, 0, 0, 0])
    # the curves use the same boxes
    rng = np.random.default_rng(0)
    cams, gts = _random_case(rng, "smooth", n=3)
    th = np.arange(0, 1, 0.05)
    res = max_box_acc(cams, gts, thresholds=th, benchmark_boxes=True)
    for i in range(3):
        for k, t in enumerate(th):
            b = boxes_from_cam(cams[i], t, benchmark_boxes=True)
            assert res.ious[i, k] == pytest.approx(box_iou(b, gts[i]).max(), abs=1e-6)


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
    cams, gts = _random_case(rng, "smooth", n=6)
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
    s = np.stack([_ref_norm(c) for c in cams])
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


def test_pixel_boxes_match_dataset_masks(small_shapes):
    px = pixel_boxes(small_shapes.boxes, small_shapes.images.shape[1])
    for b, m in zip(px, small_shapes.masks):
        ys, xs = np.nonzero(m)
        assert b.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]


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
    with pytest.raises(ValueError, match="`threshold` must be <= 1"):
        boxes_from_cam(cams[0], 1.5)
    with pytest.raises(ValueError, match="`cam` must be a single"):
        boxes_from_cam(cams, 0.5)
    with pytest.raises(TypeError, match="`gt_boxes` must be a list"):
        max_box_acc(cams, "boxes")
    with pytest.raises(ValueError, match="`scores` must be an"):
        top_k_localization(np.zeros((3, 4)), [0, 1], cams, gts)
    with pytest.raises(ValueError, match="`labels` must lie"):
        top_k_localization(np.zeros((2, 4)), [0, 4], cams, gts)
    with pytest.raises(ValueError, match="`k` must be <= 4"):
        top_k_localization(np.zeros((2, 4)), [0, 1], cams, gts, k=5)
    with pytest.raises(ValueError, match="`a` must be"):
        box_iou([0, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="`image_size`|`boxes`"):
        pixel_boxes([0.1, 0.2, 0.3], 8)
    with pytest.raises(ValueError, match="`iou_threshold` must be one of"):
        max_box_acc(cams, gts).best_ious(0.7)
