"""Checkers for ``notebooks/10_mask_rcnn.ipynb``: COCO's average precision of one precision-recall
curve, and the decoding + NMS of the RPN's proposal layer.

Each checker calls the student's function on fresh cases and compares it with the library:
:func:`cvkit.detection.coco_eval.average_precision` for the AP and
:func:`cvkit.detection.maskrcnn.decode_graph` with TensorFlow's NMS (the steps of
:func:`cvkit.detection.maskrcnn.propose`) for the proposals. A wrong answer raises
:class:`~cvkit.exercises.ExerciseError` that says what is wrong and, for the usual mistakes, which
one it is: for the AP no precision envelope, the 11 recalls of PASCAL VOC, the area under the raw
curve, the mean precision; for the proposals no exp on the size deltas, the anchor's corner instead
of its centre, the deltas not (or wrongly) scaled by the box standard deviations, no clipping, NMS
on the anchors before decoding, NMS that ignores the scores.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_array, check_mistakes, check_scalar

__all__ = ["check_coco_ap", "pr_curve", "check_decode_and_nms", "proposal_cases",
           "reference_proposals"]


def pr_curve(hits, n_objects):
    """Recall and precision after each detection of a score-ranked list (``hits``: 1 for a true
    positive, 0 for a false one) for ``n_objects`` ground-truth objects.

    Examples
    --------
    >>> pr_curve([1, 0, 1], 2)
    (array([0.5, 0.5, 1. ]), array([1.        , 0.5       , 0.66666667]))
    """
    hits = np.asarray(hits, np.float64)
    tp = np.cumsum(hits)
    return tp / n_objects, tp / np.arange(1, hits.size + 1)


def _cases():
    rng = np.random.default_rng(10)
    cases = {"hit, miss, hit (2 objects)": pr_curve([1, 0, 1], 2),
             "a dip and a recovery (4 objects)": pr_curve([1, 0, 0, 1, 1, 1], 4),
             "recall stops at 0.6 (5 objects)": pr_curve([1, 1, 0, 1, 0, 0], 5)}
    for k in range(2):
        hits = (rng.random(40) < np.linspace(0.9, 0.2, 40)).astype(int)
        cases[f"random ranking {k + 1} (30 objects)"] = pr_curve(hits, 30)
    return cases


def _mistakes(rc, pr):
    r101 = np.linspace(0, 1, 101)

    def raw_at(levels):
        idx = np.searchsorted(rc, levels, side="left")
        return np.where(idx < rc.size, pr[np.minimum(idx, rc.size - 1)], 0.0).mean()

    env = np.maximum.accumulate(pr[::-1])[::-1]
    idx11 = np.searchsorted(rc, np.linspace(0, 1, 11), side="left")
    voc11 = np.where(idx11 < rc.size, env[np.minimum(idx11, rc.size - 1)], 0.0).mean()
    area = float(np.sum(np.diff(np.concatenate([[0.0], rc])) * pr))
    return [("the precision is read without its envelope: COCO takes, at each recall r, the "
             "largest precision at recall >= r (np.maximum.accumulate on the reversed curve).",
             lambda: raw_at(r101)),
            ("that is the 11-point AP of PASCAL VOC (recalls 0, 0.1, ..., 1): COCO reads the "
             "envelope at 101 recalls 0, 0.01, ..., 1.", lambda: voc11),
            ("that is the area under the raw curve (sum of precision x recall step): COCO "
             "averages the precision envelope read at 101 recalls.", lambda: area),
            ("that is the mean of the precisions of the detections: AP averages over recall "
             "levels, not over detections.", lambda: float(pr.mean()))]


def check_coco_ap(coco_ap):
    """``coco_ap(recall, precision) -> float``: COCO's interpolated AP of one curve: the precision
    envelope :math:`\\hat P(r) = \\max_{R_n \\ge r} P_n` read at the 101 recalls
    :math:`r = 0, 0.01, \\dots, 1` (0 beyond the last recall reached), averaged.

    Parameters
    ----------
    coco_ap : callable
        The student's function, called on a hand-worked curve, a curve with a dip, one that never
        reaches full recall and two random rankings.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (the missing
        envelope, the 11-point VOC AP, the area under the raw curve and the mean precision are
        named).

    Examples
    --------
    >>> def coco_ap(recall, precision):
    ...     env = np.maximum.accumulate(precision[::-1])[::-1]
    ...     idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    ...     return np.where(idx < len(recall), env[np.minimum(idx, len(recall) - 1)], 0).mean()
    >>> check_coco_ap(coco_ap)                                # doctest: +ELLIPSIS
    Correct: coco_ap(hit, miss, hit (2 objects))
    ...
    True
    >>> check_coco_ap(lambda r, p: float(p.mean()))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: coco_ap(hit, miss, hit (2 objects)): that is the mean of the precisions of the detections: AP averages over recall levels, not over detections.
    """
    from ..detection.coco_eval import average_precision

    if not callable(coco_ap):
        raise ExerciseError(f"pass your function coco_ap itself; got {type(coco_ap).__name__}.")
    for name, (rc, pr) in _cases().items():
        what = f"coco_ap({name})"
        got = call_student(coco_ap, what, rc.copy(), pr.copy())
        want = float(average_precision(rc, pr))
        check_mistakes(what, got, want, _mistakes(rc, pr), atol=1e-6, rtol=0)
        check_scalar(what, got, want, atol=1e-6, rtol=0,
                     hint="read the envelope at the 101 recalls 0, 0.01, ..., 1 and average.")
    return True


# ------------------------------------------------------------------ proposals: decode + NMS
_STD = np.array([0.1, 0.1, 0.2, 0.2])


def proposal_cases():
    """The cases of :func:`check_decode_and_nms`: name -> (anchors (A, 4) px xyxy, deltas (A, 4)
    in units of the box standard deviations, scores (A,) distinct probabilities, image_size,
    iou_threshold, max_out).

    Examples
    --------
    >>> cases = proposal_cases()
    >>> anchors, deltas, scores, size, iou, max_out = cases["three anchors, two overlapping"]
    >>> anchors.shape, deltas.shape, scores.tolist(), size, iou, max_out
    ((3, 4), (3, 4), [0.6, 0.9, 0.3], 64, 0.5, 3)
    """
    anchors = np.array([[8, 8, 40, 40], [12, 8, 44, 40], [30, 30, 62, 62]], np.float64)
    deltas = np.array([[-2.0, -0.5, 0.5, 1.0], [2.0, 0.5, 1.5, -0.5], [2.0, 1.0, 1.0, 0.5]])
    cases = {"three anchors, two overlapping": (anchors, deltas, np.array([0.6, 0.9, 0.3]), 64,
                                                0.5, 3)}
    rng = np.random.default_rng(18)
    for k, (n, size, iou, max_out) in enumerate(((40, 64, 0.5, 12), (80, 128, 0.7, 30))):
        centre = rng.uniform(0, size, (n, 2))
        half = rng.choice([8.0, 12.0, 16.0, 24.0], (n, 2))
        anchors = np.concatenate([centre - half, centre + half], axis=1)
        scores = rng.permutation(np.linspace(0.05, 0.95, n))
        cases[f"{n} random anchors ({size} px, IoU {iou})"] = (
            anchors, rng.normal(0.0, 1.5, (n, 4)), scores, size, iou, max_out)
    return cases


def reference_proposals(anchors, deltas, scores, image_size, iou_threshold, max_out):
    """The answer of :func:`check_decode_and_nms` from the library:
    :func:`cvkit.detection.maskrcnn.decode_graph` (with :data:`~cvkit.detection.maskrcnn.BOX_STD`),
    clipped to the image, then ``tf.image.non_max_suppression``; (k, 4) float32, best first.
    (Unlike :func:`~cvkit.detection.maskrcnn.propose` it runs no ``tf.function``, so calls with
    different shapes trigger no retracing.)

    Examples
    --------
    >>> a = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float64)
    >>> reference_proposals(a, np.zeros((3, 4)), np.array([0.8, 0.9, 0.1]), 32, 0.7, 3)
    array([[ 1.,  0., 11., 10.],
           [20., 20., 30., 30.]], dtype=float32)
    """
    import tensorflow as tf

    from ..detection.maskrcnn import decode_graph

    boxes = tf.clip_by_value(decode_graph(deltas, anchors), 0.0, float(image_size))
    keep = tf.image.non_max_suppression(boxes, tf.constant(scores, tf.float32), int(max_out),
                                        iou_threshold=float(iou_threshold))
    return tf.gather(boxes, keep).numpy()


def _decode(anchors, deltas, std=_STD, centre=True, exp=True):
    d = deltas * std
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    x0 = (anchors[:, 0] + anchors[:, 2]) / 2 if centre else anchors[:, 0]
    y0 = (anchors[:, 1] + anchors[:, 3]) / 2 if centre else anchors[:, 1]
    cx, cy = x0 + d[:, 0] * wa, y0 + d[:, 1] * ha
    w, h = (wa * np.exp(d[:, 2]), ha * np.exp(d[:, 3])) if exp else (wa * d[:, 2], ha * d[:, 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _nms(boxes, scores, iou, max_out):
    """Indices kept by greedy NMS (TensorFlow's), in score order."""
    import tensorflow as tf

    keep = tf.image.non_max_suppression(boxes.astype(np.float32), scores.astype(np.float32),
                                        max_out, iou_threshold=iou)
    return keep.numpy()


def _proposal_mistakes(anchors, deltas, scores, size, iou, max_out):
    def variant(clip=True, nms_first=False, ordered=True, **decode):
        if nms_first:
            keep = _nms(anchors, scores, iou, max_out)
            boxes = _decode(anchors[keep], deltas[keep], **decode)
            return np.clip(boxes, 0, size) if clip else boxes
        boxes = _decode(anchors, deltas, **decode)
        boxes = np.clip(boxes, 0, size) if clip else boxes
        # greedy in the order of the rows: NMS with scores that fall with the row index
        order = scores if ordered else np.linspace(1.0, 0.5, len(scores))
        return boxes[_nms(boxes, order, iou, max_out)]

    return [("the size deltas need the exp: w = w_a * exp(0.2 * t_w) (and the same for h); you "
             "multiplied w_a by the delta itself.", lambda: variant(exp=False)),
            ("the shifts start from the anchor's centre ((x0 + x1) / 2, (y0 + y1) / 2), not "
             "from its corner (x0, y0).", lambda: variant(centre=False)),
            ("the deltas are in units of the box standard deviations: multiply them by "
             "(0.1, 0.1, 0.2, 0.2) before decoding; you used them as they are.",
             lambda: variant(std=1.0)),
            ("the deltas are in units of the box standard deviations: multiply them by "
             "(0.1, 0.1, 0.2, 0.2); you divided by them.", lambda: variant(std=1.0 / _STD)),
            ("clip the decoded boxes to the image [0, image_size] before NMS.",
             lambda: variant(clip=False)),
            ("NMS ran on the anchors before decoding: decode every anchor first, then suppress "
             "overlaps among the decoded boxes.", lambda: variant(nms_first=True)),
            ("NMS must visit the boxes from the highest score down; yours went in the order of "
             "the rows (greedy NMS without sorting by score).", lambda: variant(ordered=False))]


def check_decode_and_nms(decode_and_nms):
    r"""``decode_and_nms(anchors, deltas, scores, image_size, iou_threshold, max_out) -> boxes``:
    the proposal layer of the RPN on one image. Decode every anchor's deltas (given in units of
    the box standard deviations :math:`\sigma = (0.1, 0.1, 0.2, 0.2)`):

    .. math::
        x = x_a + \sigma_x t_x w_a,\quad y = y_a + \sigma_y t_y h_a,\quad
        w = w_a e^{\sigma_w t_w},\quad h = h_a e^{\sigma_h t_h}

    (:math:`(x_a, y_a)` the anchor's centre, :math:`w_a, h_a` its size), clip the boxes to
    ``[0, image_size]``, then greedy NMS at ``iou_threshold`` from the highest score down; return
    the (at most ``max_out``) kept boxes, (k, 4) pixel xyxy, highest score first.

    The reference is :func:`reference_proposals`: the library's
    :func:`cvkit.detection.maskrcnn.decode_graph` and TensorFlow's NMS, the steps of
    :func:`cvkit.detection.maskrcnn.propose` (which agrees with it on these cases).

    Parameters
    ----------
    decode_and_nms : callable
        The student's function, called on three anchors worked by hand and two random sets
        (:func:`proposal_cases`) with NumPy float64 arrays.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (no exp on the
        size deltas, the anchor's corner instead of its centre, the deltas unscaled or divided by
        :math:`\sigma`, no clipping, NMS before decoding and NMS without the score order are
        named).

    Examples
    --------
    >>> import tensorflow as tf
    >>> def decode_and_nms(anchors, deltas, scores, image_size, iou_threshold, max_out):
    ...     d = deltas * np.array([0.1, 0.1, 0.2, 0.2])
    ...     wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ...     cx = (anchors[:, 0] + anchors[:, 2]) / 2 + d[:, 0] * wa
    ...     cy = (anchors[:, 1] + anchors[:, 3]) / 2 + d[:, 1] * ha
    ...     w, h = wa * np.exp(d[:, 2]), ha * np.exp(d[:, 3])
    ...     boxes = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1),
    ...                     0, image_size)
    ...     keep = tf.image.non_max_suppression(boxes, scores, max_out, iou_threshold)
    ...     return boxes[keep.numpy()]
    >>> check_decode_and_nms(decode_and_nms)               # doctest: +ELLIPSIS
    Correct: decode_and_nms(three anchors, two overlapping)
    ...
    True

    The anchors themselves, in score order, are not the proposals:

    >>> check_decode_and_nms(lambda a, d, s, size, iou, k: a[np.argsort(-s)][:k])
    ...                                                    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: decode_and_nms(three anchors, two overlapping): wrong value at index (0, 0): expected 12.8023, got 12 ...
    """
    if not callable(decode_and_nms):
        raise ExerciseError("pass your function decode_and_nms itself; got "
                            f"{type(decode_and_nms).__name__}.")
    hint = "decode with the deltas, clip, then NMS from the highest score down."
    for name, case in proposal_cases().items():
        anchors, deltas, scores, size, iou, max_out = case
        what = f"decode_and_nms({name})"
        got = call_student(decode_and_nms, what, anchors.copy(), deltas.copy(), scores.copy(),
                           size, iou, max_out)
        want = reference_proposals(*case)
        check_mistakes(what, got, want, _proposal_mistakes(*case), atol=1e-3, rtol=1e-4)
        check_array(what, got, want, atol=1e-3, rtol=1e-4, hint=hint)
    return True
