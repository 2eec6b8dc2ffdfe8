"""The COCO AP checker of notebook 10: two valid answers pass, the usual mistakes are named."""
import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.maskrcnn import (check_coco_ap, check_decode_and_nms, pr_curve,
                                      proposal_cases, reference_proposals)


def _vectorised(recall, precision):
    env = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.where(idx < len(recall), env[np.minimum(idx, len(recall) - 1)], 0).mean())


def _loop(recall, precision):
    total = 0.0
    for r in np.linspace(0, 1, 101):
        reached = precision[recall >= r]
        total += reached.max() if reached.size else 0.0
    return total / 101


def _no_envelope(recall, precision):
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.where(idx < len(recall), precision[np.minimum(idx, len(recall) - 1)], 0).mean())


def _voc11(recall, precision):
    return float(np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0
                          for r in np.linspace(0, 1, 11)]))


def _area(recall, precision):
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


@pytest.mark.parametrize("answer", [_vectorised, _loop])
def test_valid_answers_pass(answer, capsys):
    assert check_coco_ap(answer)
    assert capsys.readouterr().out.count("Correct") == 5


@pytest.mark.parametrize("answer, named", [
    (_no_envelope, "without its envelope"),
    (_voc11, "11-point AP of PASCAL VOC"),
    (_area, "area under the raw curve"),
    (lambda r, p: float(np.mean(p)), "mean of the precisions"),
])
def test_usual_mistakes_are_named(answer, named):
    with pytest.raises(ExerciseError, match=named):
        check_coco_ap(answer)


def test_other_wrong_answers_and_bad_input():
    with pytest.raises(ExerciseError, match="coco_ap"):
        check_coco_ap(lambda r, p: 0.5)
    with pytest.raises(ExerciseError, match="return"):
        check_coco_ap(lambda r, p: None)
    with pytest.raises(ExerciseError, match="function"):
        check_coco_ap(0.5)


def test_pr_curve_hand_worked():
    rc, pr = pr_curve([0, 1, 1, 0], 4)
    np.testing.assert_allclose(rc, [0, 0.25, 0.5, 0.5])
    np.testing.assert_allclose(pr, [0, 0.5, 2 / 3, 0.5])


# ------------------------------------------------------------------ decode + NMS (proposal layer)
def _decode_np(anchors, deltas, std=(0.1, 0.1, 0.2, 0.2), corner=False, exp=True):
    d = deltas * np.asarray(std)
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa = anchors[:, 0] if corner else (anchors[:, 0] + anchors[:, 2]) / 2
    ya = anchors[:, 1] if corner else (anchors[:, 1] + anchors[:, 3]) / 2
    cx, cy = xa + d[:, 0] * wa, ya + d[:, 1] * ha
    w, h = (wa * np.exp(d[:, 2]), ha * np.exp(d[:, 3])) if exp else (wa * d[:, 2], ha * d[:, 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _greedy_loop(boxes, order, iou_threshold, max_out):
    """Greedy NMS written as a loop, visiting the boxes in ``order``."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept = []
    for i in order:
        if len(kept) == max_out:
            break
        ok = True
        for j in kept:
            w = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            h = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = w * h
            union = area[i] + area[j] - inter
            if union > 0 and inter / union > iou_threshold:
                ok = False
                break
        if ok:
            kept.append(i)
    return boxes[np.array(kept, int)].reshape(-1, 4)


def _numpy_loop(anchors, deltas, scores, image_size, iou_threshold, max_out):
    boxes = np.clip(_decode_np(anchors, deltas), 0, image_size)
    return _greedy_loop(boxes, np.argsort(-scores), iou_threshold, max_out)


def _tensorflow(anchors, deltas, scores, image_size, iou_threshold, max_out):
    import tensorflow as tf

    a = tf.constant(anchors, tf.float32)
    d = tf.constant(deltas, tf.float32) * tf.constant([0.1, 0.1, 0.2, 0.2])
    size = a[:, 2:] - a[:, :2]
    centre = (a[:, :2] + a[:, 2:]) / 2 + d[:, :2] * size
    wh = size * tf.exp(d[:, 2:])
    boxes = tf.clip_by_value(tf.concat([centre - wh / 2, centre + wh / 2], axis=1), 0.0,
                             float(image_size))
    keep = tf.image.non_max_suppression(boxes, tf.constant(scores, tf.float32), max_out,
                                        iou_threshold=iou_threshold)
    return tf.gather(boxes, keep)


def _no_exp(anchors, deltas, scores, size, iou, max_out):
    boxes = np.clip(_decode_np(anchors, deltas, exp=False), 0, size)
    return _greedy_loop(boxes, np.argsort(-scores), iou, max_out)


def _corner(anchors, deltas, scores, size, iou, max_out):
    boxes = np.clip(_decode_np(anchors, deltas, corner=True), 0, size)
    return _greedy_loop(boxes, np.argsort(-scores), iou, max_out)


def _no_std(anchors, deltas, scores, size, iou, max_out):
    boxes = np.clip(_decode_np(anchors, deltas, std=(1, 1, 1, 1)), 0, size)
    return _greedy_loop(boxes, np.argsort(-scores), iou, max_out)


def _divided_by_std(anchors, deltas, scores, size, iou, max_out):
    boxes = np.clip(_decode_np(anchors, deltas, std=(10, 10, 5, 5)), 0, size)
    return _greedy_loop(boxes, np.argsort(-scores), iou, max_out)


def _no_clip(anchors, deltas, scores, size, iou, max_out):
    return _greedy_loop(_decode_np(anchors, deltas), np.argsort(-scores), iou, max_out)


def _nms_first(anchors, deltas, scores, size, iou, max_out):
    order = np.argsort(-scores)
    kept_anchors = _greedy_loop(anchors, order, iou, max_out)
    rows = [int(np.flatnonzero((anchors == k).all(axis=1))[0]) for k in kept_anchors]
    return np.clip(_decode_np(anchors[rows], deltas[rows]), 0, size)


def _unsorted(anchors, deltas, scores, size, iou, max_out):
    boxes = np.clip(_decode_np(anchors, deltas), 0, size)
    return _greedy_loop(boxes, np.arange(len(boxes)), iou, max_out)


@pytest.mark.parametrize("answer", [_numpy_loop, _tensorflow])
def test_decode_and_nms_valid_answers_pass(answer, capsys):
    assert check_decode_and_nms(answer)
    assert capsys.readouterr().out.count("Correct") == len(proposal_cases())


@pytest.mark.parametrize("answer, named", [
    (_no_exp, "need the exp"),
    (_corner, "not from its corner"),
    (_no_std, "you used them as they are"),
    (_divided_by_std, "you divided by them"),
    (_no_clip, "clip the decoded boxes"),
    (_nms_first, "NMS ran on the anchors before decoding"),
    (_unsorted, "without sorting by score"),
])
def test_decode_and_nms_mistakes_are_named(answer, named):
    with pytest.raises(ExerciseError, match=named):
        check_decode_and_nms(answer)


def test_decode_and_nms_other_wrong_answers_and_bad_input():
    with pytest.raises(ExerciseError, match=r"wrong shape: expected \(3, 4\), got \(1, 4\)"):
        check_decode_and_nms(lambda a, d, s, size, iou, k: a[:1])
    with pytest.raises(ExerciseError, match=r"wrong value at index \(0, 0\): expected 12.8023"):
        check_decode_and_nms(lambda a, d, s, size, iou, k: a)
    with pytest.raises(ExerciseError, match="return"):
        check_decode_and_nms(lambda a, d, s, size, iou, k: None)
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check_decode_and_nms(lambda a, d, s, size, iou, k: 1 / 0)
    with pytest.raises(ExerciseError, match="function"):
        check_decode_and_nms("decode_and_nms")


def test_proposal_cases_reference_by_hand():
    """The first case worked by hand: box 1 (score 0.9) decodes to centre (28 + 6.4, 24 + 1.6),
    size 32 e^0.3 x 32 e^-0.1; box 0 moves 6.4 px left (clipped at x = 0) and overlaps it by IoU
    0.33 < 0.5, so all three boxes stay, in score order 1, 0, 2 (the anchors 0 and 1 overlap by
    IoU 0.78: NMS before decoding would drop anchor 0)."""
    anchors, deltas, scores, size, iou, max_out = proposal_cases()["three anchors, two overlapping"]
    boxes = np.clip(_decode_np(anchors, deltas), 0, size)
    # box 1: centre (28 - 3.2, 24 + 1.6), size 32 e^0.3 x 32 e^-0.1
    w, h = 32 * np.exp(0.3), 32 * np.exp(-0.1)
    np.testing.assert_allclose(boxes[1], [34.4 - w / 2, 25.6 - h / 2, 34.4 + w / 2, 25.6 + h / 2])
    assert boxes[0, 0] == 0.0
    np.testing.assert_allclose(_numpy_loop(*proposal_cases()["three anchors, two overlapping"]),
                               boxes[[1, 0, 2]])


@pytest.mark.parametrize("name", list(proposal_cases()))
def test_reference_equals_the_proposal_layer(name):
    """The checker's reference is what the model's proposal layer (propose: every anchor kept
    before NMS, no minimum size) returns."""
    from cvkit.detection.maskrcnn import propose

    anchors, deltas, scores, size, iou, max_out = proposal_cases()[name]
    boxes, _, valid = propose(np.log(scores / (1 - scores))[None], deltas[None], anchors, size,
                              pre_nms=len(anchors), post_nms=max_out, iou_threshold=iou,
                              min_size=0.0)
    want = boxes.numpy()[0][valid.numpy()[0]]
    got = reference_proposals(anchors, deltas, scores, size, iou, max_out)
    assert got.shape == want.shape and got.shape[0] >= 2
    np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_allclose(_numpy_loop(anchors, deltas, scores, size, iou, max_out), want,
                               atol=1e-3)
