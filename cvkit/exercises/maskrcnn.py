"""Checker for ``notebooks/10_mask_rcnn.ipynb``: COCO's average precision of one precision-recall
curve.

The checker calls the student's function on fresh curves and compares it with
:func:`cvkit.detection.coco_eval.average_precision`; a wrong answer raises
:class:`~cvkit.exercises.ExerciseError` that says what is wrong and, for the usual mistakes (no
precision envelope, the 11 recalls of PASCAL VOC, the area under the raw curve, the mean precision),
which one it is.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_mistakes, check_scalar

__all__ = ["check_coco_ap", "pr_curve"]


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
