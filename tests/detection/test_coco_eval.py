"""cvkit.detection.coco_eval against pycocotools (the reference) on random detections, a
hand-worked precision-recall curve, and bad input."""
import numpy as np
import pytest

from cvkit.detection.coco_eval import (average_precision, box_iou_matrix, coco_evaluate,
                                       mask_iou_matrix, match_detections, pycocotools_evaluate)

pytest.importorskip("pycocotools")


def _random_box(rng, size=64):
    x0, y0 = rng.uniform(0, size - 12, 2)
    w, h = rng.uniform(6, 24, 2)
    return np.array([x0, y0, min(x0 + w, size), min(y0 + h, size)])


def _mask(box, size=64):
    m = np.zeros((size, size), bool)
    x0, y0, x1, y1 = np.round(box).astype(int)
    m[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] = True
    return m


def _scene(seed, n_images=12, n_classes=3, size=64):
    """Ground truth and noisy detections: jittered copies of the objects (some missed), false
    alarms, an image without objects and an image without detections."""
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for i in range(n_images):
        k = 0 if i == 3 else int(rng.integers(1, 5))
        boxes = np.array([_random_box(rng, size) for _ in range(k)]).reshape(k, 4)
        classes = rng.integers(0, n_classes, k)
        gts.append({"boxes": boxes, "classes": classes,
                    "masks": np.array([_mask(b, size) for b in boxes]).reshape(k, size, size)})
        d_boxes, d_classes = [], []
        for b, c in zip(boxes, classes):
            for _ in range(int(rng.integers(0, 3))):         # missed, found once or twice
                d_boxes.append(np.clip(b + rng.normal(0, 2.5, 4), 0, size))
                d_classes.append(c if rng.random() > 0.1 else (c + 1) % n_classes)
        for _ in range(int(rng.integers(0, 3))):                 # false alarms
            d_boxes.append(_random_box(rng, size))
            d_classes.append(int(rng.integers(0, n_classes)))
        if i == 5:
            d_boxes, d_classes = [], []
        d_boxes = np.array(d_boxes).reshape(-1, 4)
        d_boxes[:, 2:] = np.maximum(d_boxes[:, 2:], d_boxes[:, :2] + 1)
        dets.append({"boxes": d_boxes, "classes": np.array(d_classes, int),
                     "scores": np.round(rng.random(len(d_boxes)), 2),      # some ties
                     "masks": np.array([_mask(b, size) for b in d_boxes]).reshape(-1, size, size)})
    return dets, gts


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("iou_type", ["box", "mask"])
def test_equals_pycocotools(seed, iou_type):
    dets, gts = _scene(seed)
    ours = coco_evaluate(dets, gts, iou_type=iou_type)
    ref = pycocotools_evaluate(dets, gts, iou_type=iou_type)
    for key in ("AP", "AP50", "AP75"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key
    assert 0.05 < ours["AP50"] < 0.95          # a scene that is neither trivial nor hopeless


def test_class_without_ground_truth_is_left_out_like_pycocotools():
    dets, gts = _scene(4, n_classes=3)
    for g in gts:                              # class 2 only ever detected, never present
        keep = g["classes"] != 2
        for key in ("boxes", "classes", "masks"):
            g[key] = g[key][keep]
    ours = coco_evaluate(dets, gts, num_classes=3)
    assert np.isnan(ours["per_class_AP"][2])
    assert ours["AP"] == pytest.approx(pycocotools_evaluate(dets, gts)["AP"], abs=1e-6)


def test_no_detections_scores_zero():
    _, gts = _scene(0)
    empty = [{"boxes": np.zeros((0, 4)), "classes": np.zeros(0, int), "scores": np.zeros(0)}
             for _ in gts]
    ours = coco_evaluate(empty, gts)
    assert (ours["AP"], ours["AP50"], ours["AP75"]) == (0.0, 0.0, 0.0)
    assert pycocotools_evaluate(empty, gts)["AP"] == pytest.approx(0.0)


def test_average_precision_hand_worked():
    # detections: hit, miss, hit for 2 objects -> P = 1, 1/2, 2/3 at R = .5, .5, 1
    # envelope: 1 up to recall .5 (51 points), 2/3 from .51 to 1 (50 points)
    ap = average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
    assert ap == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)
    # a curve that stops at recall 0.5: zero beyond
    assert average_precision([0.5], [1.0]) == pytest.approx(51 / 101)
    assert average_precision(np.zeros((2, 0)), np.zeros((2, 0))).tolist() == [0.0, 0.0]


def test_match_detections_greedy_by_score():
    iou = np.array([[0.6, 0.9],     # best score: takes object 1 (highest IoU)
                    [0.7, 0.95],    # object 1 taken: takes object 0
                    [0.55, 0.0]])   # nothing left at 0.5
    tp = match_detections(iou, [0.5, 0.65])
    assert tp.tolist() == [[True, True, False], [True, True, False]]
    tp = match_detections(iou, [0.8])
    assert tp.tolist() == [[True, False, False]]


def test_iou_matrices_against_hand_values():
    np.testing.assert_allclose(box_iou_matrix([[0, 0, 4, 4]], [[2, 0, 6, 4]]), [[1 / 3]])
    a = np.zeros((1, 4, 4), bool)
    a[0, :, :2] = True
    b = np.zeros((1, 4, 4), bool)
    b[0, :, 1:3] = True
    np.testing.assert_allclose(mask_iou_matrix(a, b), [[4 / 12]])
    assert mask_iou_matrix(np.zeros((1, 2, 2), bool), np.zeros((1, 2, 2), bool))[0, 0] == 0.0


def test_bad_input():
    _, gts = _scene(0)
    dets = [{"boxes": np.zeros((0, 4)), "classes": [], "scores": []} for _ in gts]
    with pytest.raises(ValueError, match="same images"):
        coco_evaluate(dets[:-1], gts)
    with pytest.raises(ValueError, match="iou_type"):
        coco_evaluate(dets, gts, iou_type="segm")
    with pytest.raises(ValueError, match="no object"):
        coco_evaluate(dets, [{"boxes": np.zeros((0, 4)), "classes": []} for _ in gts])
    with pytest.raises(ValueError, match="outside 0..1"):
        coco_evaluate(dets, gts, num_classes=2)
    with pytest.raises(ValueError, match="keys"):
        coco_evaluate([{"boxes": np.zeros((0, 4)), "classes": []}] * len(gts), gts)
    with pytest.raises(ValueError, match="one of each"):
        coco_evaluate([{"boxes": np.zeros((1, 4)), "classes": [0, 1], "scores": [1, 1]}]
                      + dets[1:], gts)
    with pytest.raises(TypeError, match="list"):
        coco_evaluate(dets[0], gts)
    with pytest.raises(ValueError, match="same shape"):
        average_precision([0.5, 1.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        box_iou_matrix([[0, 0, np.nan, 1]], [[0, 0, 1, 1]])
