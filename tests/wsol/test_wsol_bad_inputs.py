"""Bad inputs and the benchmark's conventions in cvkit.wsol (issue 17): boxes in pixels, float
labels, masks of the wrong size, BoxAcc as count * 100 / n, PxAP's ignore rule and its chunked
histograms. Every bad-input case asserts the error type and that the message names the argument.
"""
import numpy as np
import pytest

from cvkit import wsol
from cvkit.wsol import metrics as wsol_metrics


def _dataset(n=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(n):
        x0, y0 = rng.integers(0, size // 2, 2)
        w, h = rng.integers(3, size // 2, 2)
        boxes.append([x0 / size, y0 / size, (x0 + w) / size, (y0 + h) / size])
    return {"images": rng.random((n, size, size, 3)), "labels": np.arange(n) % 2,
            "boxes": np.array(boxes)}


def test_evaluate_refuses_boxes_in_pixels_and_accepts_them_when_told():
    ds = _dataset()
    px = dict(ds, boxes=ds["boxes"] * 16)
    # before: every box clipped to the last pixel, MaxBoxAcc 0 without a word
    with pytest.raises(ValueError, match=r"`dataset.boxes` .* box_units='pixels'"):
        wsol.evaluate(None, px, "center_gaussian", progress=False)
    ref = wsol.evaluate(None, ds, "center_gaussian", progress=False, thresholds=[0.0, 0.5])
    inclusive = dict(ds, boxes=ds["boxes"] * 16 - np.array([0, 0, 1, 1]))   # pixel-inclusive
    got = wsol.evaluate(None, inclusive, "center_gaussian", progress=False, thresholds=[0.0, 0.5],
                        box_units="pixels")
    np.testing.assert_array_equal(got.max_box_acc.ious, ref.max_box_acc.ious)


def test_evaluate_labels_masks_and_flags():
    ds = _dataset()
    with pytest.raises(ValueError, match=r"`dataset.labels` must hold integers; got 1.7"):
        wsol.evaluate(None, dict(ds, labels=[0, 1.7, 0, 1]), "center_gaussian", progress=False)
    ok = wsol.evaluate(None, dict(ds, labels=[0.0, 1.0, 0.0, 1.0]), "center_gaussian",
                       progress=False, thresholds=[0.0, 0.5])        # whole floats are fine
    assert ok.n_images == 4
    # before: masks of another size were dropped and PxAP silently disappeared
    with pytest.raises(ValueError, match=r"`dataset.masks` must have the images' shape"):
        wsol.evaluate(None, dict(ds, masks=np.zeros((4, 8, 8), bool)), "center_gaussian",
                      progress=False)
    with pytest.raises(ValueError, match="`box_units`"):
        wsol.evaluate(None, ds, "center_gaussian", box_units="px")
    with pytest.raises(TypeError, match="`progress`"):
        wsol.evaluate(None, ds, "center_gaussian", progress="no")
    with pytest.raises(TypeError, match="`method_kwargs`"):
        wsol.evaluate(None, ds, "center_gaussian", method_kwargs=[("sigma", 0.2)])


def test_box_acc_is_count_times_100_over_n():
    cams = np.zeros((200, 8, 8))
    cams[:109, 2:5, 2:5] = 1          # 109 maps find the box, 91 do not
    cams[109:, 0:2, 6:8] = 1
    res = wsol.max_box_acc(cams, [[2, 2, 4, 4]] * 200, thresholds=[0.0, 0.5])
    assert res.score == 54.5          # exactly; (ious >= d).mean() * 100 gave 54.50000000000001
    assert res.max_per_iou.tolist() == [54.5]


def _reference_pxap(cams, masks, thresholds, ignore=None):
    """Brute force: one pooled count per threshold, the benchmark's ignore rule, its AP sum."""
    s = np.stack([wsol_metrics.normalize_maps(c) for c in cams])
    keep = np.ones_like(masks) if ignore is None else ~(ignore & ~masks)
    grid = np.append(thresholds, [1.0, 2.0])[::-1]        # decreasing: 2 (nothing), 1, ..., 0
    tp = np.array([np.count_nonzero((s >= t) & masks & keep) for t in grid], float)
    fp = np.array([np.count_nonzero((s >= t) & ~masks & keep) for t in grid], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = tp / (tp + fp)
    rec = tp / np.count_nonzero(masks)
    ok = (tp + fp)[1:] > 0
    return float(np.sum((prec[1:] * np.diff(rec))[ok]) * 100)


def test_pxap_ignore_follows_the_benchmark():
    rng = np.random.default_rng(1)
    cams = rng.random((6, 12, 12)).astype(np.float32)
    masks = rng.random((6, 12, 12)) > 0.6
    ignore = rng.random((6, 12, 12)) > 0.5           # overlaps the objects on purpose
    t = np.arange(0, 1, 0.01)
    got = wsol.pxap(cams, masks, thresholds=t, ignore=ignore).score
    assert got == pytest.approx(_reference_pxap(cams, masks, t, ignore), abs=1e-9)
    # object pixels inside the ignore region still count: not the same as dropping them all
    dropped = _reference_pxap(cams, masks & ~ignore, t, ignore)
    assert abs(got - dropped) > 1e-3


def test_pxap_histograms_accumulated_over_chunks_match_one_pass():
    rng = np.random.default_rng(2)
    cams = rng.random((7, 10, 10)).astype(np.float32)
    masks = rng.random((7, 10, 10)) > 0.5
    edges = np.unique(np.concatenate([np.arange(0, 1, 0.05), [1.0, 2.0]]))
    one = wsol_metrics._pooled_counts(cams, masks, None, edges)
    chunked = wsol_metrics._pooled_counts(cams, masks, None, edges, chunk_pixels=150)  # 1 map each
    for a, b in zip(one, chunked):
        np.testing.assert_array_equal(a, b)
    assert wsol.pxap(cams, masks, np.arange(0, 1, 0.05)).score == pytest.approx(
        _reference_pxap(cams, masks, np.arange(0, 1, 0.05)), abs=1e-9)


def test_as_cams_nan_zero_does_not_write_into_the_callers_maps():
    cams = np.ones((2, 4, 4), np.float32)
    cams[0, 0, 0] = np.nan
    wsol.pxap(cams, np.ones((2, 4, 4), bool), thresholds=[0.0], nan="zero")
    assert np.isnan(cams[0, 0, 0]) and cams[0, 1, 1] == 1.0


CAMS = np.random.default_rng(0).random((2, 8, 8))
GT = [[[1, 1, 4, 4]], [[2, 2, 5, 5]]]
MASKS = CAMS > 0.5
BAD = [
    # (call, error type, the argument the message names)
    (lambda: wsol.max_box_acc(CAMS, GT, thresholds=True), TypeError, "thresholds"),
    (lambda: wsol.max_box_acc(CAMS, GT, iou_thresholds=[True]), TypeError, "iou_thresholds"),
    (lambda: wsol.max_box_acc(CAMS, GT, multi_contour="no"), TypeError, "multi_contour"),
    (lambda: wsol.max_box_acc(CAMS, GT, benchmark_boxes="yes"), TypeError, "benchmark_boxes"),
    (lambda: wsol.max_box_acc(CAMS.astype(str), GT), TypeError, "cams"),
    (lambda: wsol.max_box_acc(CAMS, [[[1, 1, 40, 4]], [[2, 2, 5, 5]]]), ValueError, "gt_boxes[0]"),
    (lambda: wsol.pxap(CAMS, MASKS[:, :4]), ValueError, "masks"),
    (lambda: wsol.pxap(CAMS, MASKS, ignore=MASKS[:1]), ValueError, "ignore"),
    (lambda: wsol.pxap(CAMS, np.zeros_like(MASKS)), ValueError, "masks"),
    (lambda: wsol.top_k_localization([[1., 2.], [2., 1.]], [0, 1], CAMS, GT, k=2.5), TypeError,
     "k"),
    (lambda: wsol.top_k_localization([[1., 2.], [2., 1.]], [0, 1], CAMS, GT, k=None), TypeError,
     "k"),
    (lambda: wsol.top_k_localization([[1., 2.], [2., 1.]], [0.5, 1], CAMS, GT), ValueError,
     "labels"),
    (lambda: wsol.evaluate_maps(CAMS, GT, scores=[[1., 2.], [2., 1.]], labels=[0, 1],
                                top_k=("1",)), TypeError, "top_k"),
    (lambda: wsol.evaluate_maps(CAMS, GT, keep_maps="no"), TypeError, "keep_maps"),
    (lambda: wsol.evaluate_maps(CAMS, GT, bins=10 ** 9), ValueError, "bins"),
    (lambda: wsol.boxes_from_cam(CAMS[0], 0.5, multi_contour=1), TypeError, "multi_contour"),
    (lambda: wsol.recipe_boxes(CAMS, return_masks="no"), TypeError, "return_masks"),
    (lambda: wsol.box_iou_curves(CAMS, GT, largest="no"), TypeError, "largest"),
    (lambda: wsol.pixel_boxes([[16, 32, 48, 64]], 64), ValueError, "boxes"),
    (lambda: wsol.pixel_boxes([[0.5, 0.5, 0.2, 0.9]], 64), ValueError, "boxes"),
    (lambda: wsol.pixel_boxes([["a", "b", "c", "d"]], 64), TypeError, "boxes"),
    (lambda: wsol.pixel_boxes([[0.1, 0.1, 0.5, 0.5]], "64"), TypeError, "image_size"),
    (lambda: wsol.center_gaussian(2, 8, sigma="0.2"), TypeError, "sigma"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments_name_the_argument(case):
    call, error, arg = BAD[case]
    with pytest.raises(error) as err:
        call()
    assert f"`{arg}" in str(err.value)
