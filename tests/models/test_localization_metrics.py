"""Keras localization metrics against the NumPy reference and a hand-worked batch."""
import numpy as np
import pytest

from cvkit.models import (NO_BOX, BoxMeanIoU, ClassAccuracy, CorrectLocalization,
                          localization_scores)


def _batch():
    labels = np.array([0, 1, 2, 1])
    boxes = np.array([[0, 0, 0.5, 0.5], [0, 0, 1, 1], NO_BOX, [0.5, 0.5, 1, 1]], np.float32)
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]],
                     np.float32)
    pred = np.array([[0, 0, 0.5, 0.25],      # IoU 0.5, right class -> correct
                     [0, 0, 0.5, 0.5],       # IoU 0.25, right class -> wrong box
                     [0.2, 0.2, 0.3, 0.3],   # no object, right class -> correct
                     [0.5, 0.5, 1, 1]],      # IoU 1, wrong class -> wrong
                    np.float32)
    return labels, boxes, probs, pred


def test_hand_worked_scores():
    labels, boxes, probs, pred = _batch()
    s = localization_scores(labels, boxes, probs, pred)
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["mean_iou"] == pytest.approx((0.5 + 0.25 + 1) / 3)
    assert s["correct_localization"] == pytest.approx(0.5)
    np.testing.assert_allclose(s["iou"], [0.5, 0.25, 0, 1])


def test_keras_metrics_match_numpy_reference():
    rng = np.random.default_rng(3)
    n = 50
    labels = rng.integers(0, 4, n)
    lo = rng.random((n, 2)) * 0.5
    boxes = np.concatenate([lo, lo + 0.1 + 0.4 * rng.random((n, 2))], 1).astype(np.float32)
    boxes[::7] = NO_BOX
    probs = rng.dirichlet(np.ones(4), n).astype(np.float32)
    pred = np.clip(boxes + rng.normal(0, 0.1, boxes.shape), 0, 1).astype(np.float32)
    ref = localization_scores(labels, boxes, probs, pred)
    for metric, key in ((ClassAccuracy(), "accuracy"), (BoxMeanIoU(), "mean_iou"),
                        (CorrectLocalization(), "correct_localization")):
        metric.update_state((labels[:20], boxes[:20]), (probs[:20], pred[:20]))  # two batches
        metric.update_state({"classifier": labels[20:], "localizer": boxes[20:]},
                            {"classifier": probs[20:], "localizer": pred[20:]})
        assert float(metric.result()) == pytest.approx(ref[key], rel=1e-5), key
        metric.reset_state()
        assert float(metric.result()) == 0


def test_binary_and_one_hot_labels():
    acc = ClassAccuracy()
    acc.update_state(np.array([1, 0, 1]), np.array([[0.9], [0.2], [0.4]], np.float32))
    assert float(acc.result()) == pytest.approx(2 / 3)
    acc.reset_state()
    acc.update_state(np.eye(3)[[0, 2]], np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], np.float32))
    assert float(acc.result()) == pytest.approx(0.5)


def test_bad_inputs():
    labels, boxes, probs, pred = _batch()
    with pytest.raises(ValueError, match="same number of images"):
        localization_scores(labels[:3], boxes, probs, pred)
    with pytest.raises(ValueError, match="`pred_boxes`"):
        localization_scores(labels, boxes, probs, pred[:, :3])
    with pytest.raises(ValueError, match="`iou_threshold`"):
        CorrectLocalization(iou_threshold=2.0)
    with pytest.raises(ValueError, match="`probs`"):
        localization_scores(labels, boxes, probs[:, 0], pred)
