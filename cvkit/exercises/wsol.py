"""Checkers for the exercises of ``notebooks/05_wsol_evaluation.ipynb`` (WSOL evaluation).

* :func:`check_inclusive_iou`: ``iou(box_a, box_b)`` of two pixel-inclusive boxes.
* :func:`check_box_acc_at_threshold`: ``box_acc(cams, gt_boxes, tau, iou_threshold)``, the
  percentage of images whose box at one threshold matches a true box.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_mistakes, check_scalar

__all__ = ["check_inclusive_iou", "check_box_acc_at_threshold", "box_acc_cases"]

_IOU_CASES = [
    # (box_a, box_b, what the case tests)
    ([0, 0, 1, 1], [0, 0, 1, 1], "two identical boxes"),
    ([0, 0, 1, 1], [1, 0, 2, 1], "2x2 boxes sharing one column (inclusive ends: 2 common pixels)"),
    ([3, 3, 3, 3], [3, 3, 3, 3], "a one-pixel box with itself (area 1, not 0)"),
    ([0, 0, 2, 2], [0, 0, 1, 1], "a 2x2 box in the corner of a 3x3 box"),
    ([0, 0, 1, 1], [2, 2, 3, 3], "boxes that only touch at a corner diagonal (no common pixel)"),
    ([0, 0, 4, 1], [2, 0, 2, 5], "a horizontal and a vertical bar that cross"),
    ([5, 2, 9, 7], [0, 0, 19, 19], "a box inside a large box"),
    ([0, 0, 1, 1], [4, 0, 5, 1], "two boxes side by side, apart in x (no common pixel)"),
    ([0, 0, 1, 1], [5, 5, 7, 7], "two boxes apart in x and in y (no common pixel)"),
]
_SIDE = "with inclusive pixel boxes every side is x1 - x0 + 1 pixels long"
_CLIP = ("an empty overlap must give 0, not a negative or a made-up area: clip each overlap side "
         "at 0 before multiplying, max(w, 0) * max(h, 0)")


def _ref_iou(a, b, side=1, area=1, clip="sides", subtract=True):
    """IoU of inclusive boxes, and its usual mistakes: ``side`` / ``area`` the ``+ 1`` of the
    overlap's sides / the boxes' sides (0: half-open), ``clip`` 'sides', 'product' or None,
    ``subtract`` the overlap from the union."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + side
    ih = min(a[3], b[3]) - max(a[1], b[1]) + side
    inter = {"sides": max(iw, 0) * max(ih, 0), "product": max(iw * ih, 0), None: iw * ih}[clip]
    union = (a[2] - a[0] + area) * (a[3] - a[1] + area) + (b[2] - b[0] + area) * (b[3] - b[1]
                                                                                  + area)
    return inter / (union - inter if subtract else union)


def _iou_mistakes(a, b):
    """(explanation, wrong IoU) of the usual mistakes of the inclusive IoU."""
    return [
        (f"{_SIDE}: you used x1 - x0 (half-open boxes).", lambda: _ref_iou(a, b, 0, 0)),
        (f"{_SIDE}, for the overlap too: you added 1 to the box sides only.",
         lambda: _ref_iou(a, b, side=0)),
        (f"{_SIDE}, for the boxes too: you added 1 to the overlap's sides only.",
         lambda: _ref_iou(a, b, area=0)),
        (f"clipping the product is not enough (two negative sides multiply to a positive "
         f"area): {_CLIP}.", lambda: _ref_iou(a, b, clip="product")),
        (f"the overlap is not clipped: {_CLIP}.", lambda: _ref_iou(a, b, clip=None)),
        ("the union counts the overlap twice: |A u B| = |A| + |B| - |A n B|.",
         lambda: _ref_iou(a, b, subtract=False)),
    ]


def check_inclusive_iou(iou_fn):
    """Check ``iou_fn(box_a, box_b) -> float`` on pixel-inclusive ``(x0, y0, x1, y1)`` boxes.

    The area of a box is :math:`(x_1 - x_0 + 1)(y_1 - y_0 + 1)`: its last row and column count.

    Parameters
    ----------
    iou_fn : callable
        The student's function, called on seven pairs of boxes (one-pixel boxes, shared columns,
        bars that cross, ...) in both orders.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the case.

    Examples
    --------
    >>> def iou(a, b):
    ...     w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ...     h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    ...     inter = max(w, 0) * max(h, 0)
    ...     area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    ...     area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    ...     return inter / (area_a + area_b - inter)
    >>> check_inclusive_iou(iou)   # doctest: +ELLIPSIS
    Correct: iou([0, 0, 1, 1], [0, 0, 1, 1]) for two identical boxes
    Correct: iou([0, 0, 1, 1], [0, 0, 1, 1]) (IoU is symmetric)
    ...
    Correct: iou([5, 5, 7, 7], [0, 0, 1, 1]) (IoU is symmetric)
    All IoU cases are right.
    True

    Without the ``+ 1`` (the half-open convention) two boxes sharing a column seem disjoint:

    >>> def half_open_iou(a, b):
    ...     w = min(a[2], b[2]) - max(a[0], b[0])
    ...     h = min(a[3], b[3]) - max(a[1], b[1])
    ...     inter = max(w, 0) * max(h, 0)
    ...     return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    >>> from cvkit.exercises import ExerciseError
    >>> try:   # doctest: +ELLIPSIS
    ...     check_inclusive_iou(half_open_iou)
    ... except ExerciseError as error:
    ...     print(error)
    Correct: iou([0, 0, 1, 1], [0, 0, 1, 1]) for two identical boxes
    Correct: iou([0, 0, 1, 1], [0, 0, 1, 1]) (IoU is symmetric)
    iou([0, 0, 1, 1], [1, 0, 2, 1]) for 2x2 boxes sharing one column ...: with inclusive pixel boxes every side is x1 - x0 + 1 pixels long: you used x1 - x0 (half-open boxes).
    """
    if not callable(iou_fn):
        raise ExerciseError(f"pass your function itself, not {type(iou_fn).__name__}.")
    for a, b, what in _IOU_CASES:
        exp = _ref_iou(a, b)
        for first, second, name in ((a, b, f"iou({a}, {b}) for {what}"),
                                    (b, a, f"iou({b}, {a}) (IoU is symmetric)")):
            got = call_student(iou_fn, f"iou({first}, {second})", np.array(first),
                               np.array(second))
            check_mistakes(name, got, exp, _iou_mistakes(first, second), atol=1e-6)
            check_scalar(name, got, exp, atol=1e-6, hint=f"{_SIDE}, and {_CLIP}.")
    print("All IoU cases are right.")
    return True


def box_acc_cases(seed=0):
    """Small cases for the BoxAcc exercise: (cams, gt_boxes, tau, iou_threshold, description).

    Parameters
    ----------
    seed : int
        Seed of the Gaussian-blob cases (the others are fixed).

    Returns
    -------
    list of tuple
        Twelve ``(cams (N, H, W), gt_boxes (list of (k, 4) pixel-inclusive arrays), tau,
        iou_threshold, description)`` cases, for :func:`check_box_acc_at_threshold` and for
        trying a solution by hand.

    Examples
    --------
    >>> cases = box_acc_cases()
    >>> len(cases)
    12
    >>> cams, gt_boxes, tau, iou_threshold, what = cases[0]
    >>> cams.shape, [b.tolist() for b in gt_boxes], tau, iou_threshold, what
    ((2, 12, 12), [[[2, 2, 5, 5]], [[5, 6, 10, 9]]], 0.3, 0.5, 'two blobs, tau=0.3')
    """
    rng = np.random.default_rng(seed)
    cases = []
    cam = np.zeros((2, 12, 12))
    cam[0, 2:6, 2:6] = 1.0
    cam[1, 6:10, 5:11] = 0.6
    cam[1, 0, 0] = 1.0  # a bright pixel: the object sits at 0.6 of the maximum
    gts = [np.array([[2, 2, 5, 5]]), np.array([[5, 6, 10, 9]])]
    for tau in (0.3, 0.6, 0.61, 0.0):
        cases.append((cam, gts, tau, 0.5, f"two blobs, tau={tau}"))
    two = np.zeros((1, 16, 16))
    two[0, 1:8, 1:8] = 1.0
    two[0, 10:14, 10:14] = 1.0
    cases.append((two, [np.array([[10, 10, 13, 13]])], 0.5, 0.5,
                  "the object is the smaller region: only the largest region counts"))
    cases.append((two, [np.array([[0, 0, 0, 0], [1, 1, 7, 7]])], 0.5, 0.5,
                  "several true boxes: the best one counts"))
    cases.append((two, [np.array([[1, 1, 7, 7], [0, 0, 0, 0], [12, 12, 15, 15]])], 0.5, 0.7,
                  "three true boxes, IoU >= 0.7: the best one counts"))
    yy, xx = np.mgrid[:20, :20]
    g = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 18.0)
                  for cx, cy in rng.integers(5, 15, size=(4, 2))])
    boxes = [np.array([[max(cx - 3, 0), max(cy - 3, 0), min(cx + 3, 19), min(cy + 3, 19)]])
             for cx, cy in rng.integers(5, 15, size=(4, 2))]
    for tau, d in ((0.2, 0.5), (0.5, 0.3), (0.8, 0.7)):
        cases.append((g, boxes, tau, d, f"Gaussian blobs, tau={tau}, IoU >= {d}"))
    exact = np.zeros((2, 12, 12))
    exact[0, 0:4, 0:4] = 1.0   # its box (0, 0, 3, 3) has 16 pixels, the true box 32: IoU 0.5
    exact[1, 4:8, 4:8] = 1.0
    exact_gts = [np.array([[0, 0, 3, 7]]), np.array([[4, 4, 7, 7]])]
    cases.append((exact, exact_gts, 0.5, 0.5,
                  "an IoU of exactly 0.5 at iou_threshold=0.5 counts (>=)"))
    cases.append((exact, exact_gts, 0.5, 0.6, "IoUs 0.5 and 1 at iou_threshold=0.6"))
    return cases


def _box_acc(cams, gt_boxes, tau, iou_threshold, best=np.max, first=False, strict=False,
             count=True):
    """BoxAcc by the exercise's recipe, and its usual mistakes: ``best`` how the IoUs with the
    true boxes are reduced, ``first`` only the first true box, ``strict`` IoU > threshold,
    ``count`` False averages the IoUs instead of counting the hits."""
    from ..wsol import box_iou, boxes_from_cam

    ious = [best(box_iou(boxes_from_cam(c, tau), g[:1] if first else g))
            for c, g in zip(cams, gt_boxes)]
    if not count:
        return 100.0 * np.mean(ious)
    return 100.0 * np.mean([i > iou_threshold if strict else i >= iou_threshold for i in ious])


def _box_acc_mistakes(cams, gts, tau, d, want):
    """(explanation, wrong percentage) of the usual mistakes of BoxAcc at one threshold."""
    return [
        ("return a percentage (0-100), not a fraction.", want / 100.0),
        ("count IoU >= iou_threshold: an IoU exactly at the threshold counts as a hit (you "
         "used >).", lambda: _box_acc(cams, gts, tau, d, strict=True)),
        ("with several true boxes the best one counts: take the max of the IoUs with all of "
         "the image's true boxes.", lambda: _box_acc(cams, gts, tau, d, first=True)),
        ("with several true boxes the best one counts: the max of the IoUs, not their mean.",
         lambda: _box_acc(cams, gts, tau, d, best=np.mean)),
        ("use the iou_threshold argument, not a fixed 0.5.",
         lambda: _box_acc(cams, gts, tau, 0.5)),
        ("BoxAcc counts the images whose IoU reaches iou_threshold; you averaged the IoUs.",
         lambda: _box_acc(cams, gts, tau, d, count=False)),
    ]


def check_box_acc_at_threshold(box_acc_fn):
    """Check ``box_acc_fn(cams, gt_boxes, tau, iou_threshold) -> percentage``.

    Reference: :func:`cvkit.wsol.max_box_acc` with the single threshold ``[tau]``: the box of the
    largest region of :math:`\\{u > \\lfloor \\tau \\max u \\rfloor\\}`, the best IoU over the image's
    true boxes, and the percentage of images where it reaches ``iou_threshold``.

    Parameters
    ----------
    box_acc_fn : callable
        The student's function, called on the cases of :func:`box_acc_cases`.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the case.

    Examples
    --------
    >>> import numpy as np
    >>> from cvkit.wsol import box_iou, boxes_from_cam
    >>> def box_acc(cams, gt_boxes, tau, iou_threshold):
    ...     best = [box_iou(boxes_from_cam(c, tau), g).max() for c, g in zip(cams, gt_boxes)]
    ...     return 100 * np.mean(np.array(best) >= iou_threshold)
    >>> check_box_acc_at_threshold(box_acc)   # doctest: +ELLIPSIS
    Correct: BoxAcc on 'two blobs, tau=0.3'
    ...
    Correct: BoxAcc on 'IoUs 0.5 and 1 at iou_threshold=0.6'
    All BoxAcc cases are right.
    True
    >>> check_box_acc_at_threshold(lambda *case: box_acc(*case) / 100)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: BoxAcc on 'two blobs, tau=0.3': return a percentage (0-100), not a fraction.

    Counting IoU > 0.5 instead of >= 0.5 misses the image whose IoU is exactly 0.5:

    >>> def strict(cams, gt_boxes, tau, iou_threshold):
    ...     best = [box_iou(boxes_from_cam(c, tau), g).max() for c, g in zip(cams, gt_boxes)]
    ...     return 100 * np.mean(np.array(best) > iou_threshold)
    >>> check_box_acc_at_threshold(strict)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: BoxAcc on 'an IoU of exactly 0.5 ...': count IoU >= iou_threshold: an IoU exactly at the threshold counts as a hit (you used >).
    """
    from ..wsol import max_box_acc

    if not callable(box_acc_fn):
        raise ExerciseError(f"pass your function itself, not {type(box_acc_fn).__name__}.")
    for cams, gts, tau, d, what in box_acc_cases():
        got = call_student(box_acc_fn, f"box_acc on the case '{what}'", cams, gts, tau, d)
        exp = max_box_acc(cams, gts, iou_thresholds=(d,), thresholds=[tau]).accuracy[0, 0]
        check_mistakes(f"BoxAcc on '{what}'", got, exp, _box_acc_mistakes(cams, gts, tau, d, exp),
                       atol=1e-6)
        hint = ("use boxes_from_cam(cam, tau) (largest region, strictly above the threshold), take "
                "the best IoU over the image's true boxes, count IoU >= iou_threshold and return a "
                "percentage (0-100).")
        check_scalar(f"BoxAcc on '{what}'", got, exp, atol=1e-6, hint=hint)
    print("All BoxAcc cases are right.")
    return True
