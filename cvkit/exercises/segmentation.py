"""Checkers for ``notebooks/06_classic_segmentation.ipynb`` and
``notebooks/07_mask_rcnn_building_blocks.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.segmentation` (notebook 06) or :mod:`cvkit.detection` (notebook 07); a wrong answer
raises :class:`~cvkit.exercises.ExerciseError` that says what is wrong (and, for the usual
mistakes, which one it is).
"""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from . import ExerciseError, call_student, check_array, check_mistakes, check_scalar

__all__ = ["check_otsu", "check_laplacian_convolution", "check_anchor_labels", "check_roi_pool"]


def check_otsu(otsu):
    """``otsu(gray_uint8) -> t``: Otsu's threshold of a uint8 grey image from its 256-bin histogram
    (one bin per grey level; ``t`` is the last grey level of the dark class, so the foreground is
    ``image > t``).

    Parameters
    ----------
    otsu : callable
        The student's function, called on the camera man and the coins of scikit-image (every
        other pixel), two groups of grey levels and uniform noise.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (an off-by-one
        threshold, a normalised value or the variance instead of a grey level, the within-class
        variance maximised, the argmin, a NaN criterion and the mean grey level are named).

    Examples
    --------
    >>> def otsu(gray):   # maximise the between-class variance (mu_T w0 - mu)^2 / (w0 w1)
    ...     p = np.bincount(gray.ravel(), minlength=256) / gray.size
    ...     w0, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    ...     between = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    ...     return int(np.argmax(between))
    >>> check_otsu(otsu)
    Correct: otsu(camera)
    Correct: otsu(coins)
    Correct: otsu(two groups)
    Correct: otsu(noise)
    True
    >>> check_otsu(lambda gray: otsu(gray) + 1)   # the first level of the bright class
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: otsu(camera): got 104, expected 103. Off by one: the threshold is the last level of the dark class (image > t is the foreground), not the first of the bright one.
    """
    from skimage import data

    from ..segmentation import otsu_threshold

    rng = np.random.default_rng(7)
    cases = {
        "camera": data.camera()[::2, ::2],
        "coins": data.coins()[::2, ::2],
        "two groups": np.concatenate([rng.integers(20, 60, 500), rng.integers(150, 220, 300)])
                        .astype(np.uint8).reshape(20, 40),
        "noise": rng.integers(0, 256, (30, 30)).astype(np.uint8),
    }
    for name, img in cases.items():
        got = call_student(otsu, "otsu", img.copy())
        want = otsu_threshold(img)
        if got is not None and np.size(got) == 1:
            g = float(np.asarray(got))
            if abs(g - want) > 0.5 and abs(g - (want + 1)) <= 0.5:
                raise ExerciseError(f"otsu({name}): got {g:g}, expected {want}. Off by one: the "
                                    "threshold is the last level of the dark class (image > t is "
                                    "the foreground), not the first of the bright one.")
            if abs(g - want) > 0.5 and 0 < g < 1.0 and want > 1:
                raise ExerciseError(f"otsu({name}): got {g:g}, expected {want}: return a grey "
                                    "level (0..255), not a normalised value or a variance.")
        check_mistakes(f"otsu({name})", got, want, _otsu_mistakes(img), atol=0.5, rtol=0)
        check_scalar(f"otsu({name})", got, want, atol=0.5, rtol=0,
                     hint="maximise w0 * w1 * (mu0 - mu1)**2 over the thresholds")
    return True


def _otsu_mistakes(img):
    """(explanation, wrong threshold) of the usual mistakes of Otsu's method on ``img``."""
    p = np.bincount(img.ravel(), minlength=256) / img.size
    levels = np.arange(256)
    w0, s0 = np.cumsum(p), np.cumsum(p * levels)
    w1 = 1 - w0
    with np.errstate(all="ignore"):
        mu0, mu1 = s0 / w0, (s0[-1] - s0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
        var0 = np.cumsum(p * levels ** 2) / w0 - mu0 ** 2
        var1 = (np.sum(p * levels ** 2) - np.cumsum(p * levels ** 2)) / w1 - mu1 ** 2
        within = w0 * var0 + w1 * var1
    lo, hi = int(img.min()), int(img.max())
    return [
        ("you maximised the within-class variance w0 var0 + w1 var1 (the same as the argmin of "
         "the between-class variance); Otsu minimises the within-class variance, that is, it "
         "maximises the between-class variance.", lo + int(np.argmax(within[lo:hi]))),
        ("your criterion is NaN where a class is empty (w0 = 0 or w1 = 0), and np.argmax returns "
         "the first NaN: keep the thresholds between the darkest and the brightest grey level "
         "(or use np.nanargmax).", int(np.argmax(between))),
        ("that is the mean grey level; Otsu's threshold maximises the between-class variance "
         "w0 w1 (mu0 - mu1)**2.", float(img.mean())),
        ("return the grey level t where the between-class variance is largest (the argmax), "
         "not the largest variance itself.", float(np.nanmax(between))),
    ]


def check_laplacian_convolution(conv2d):
    """``conv2d(image, kernel) -> out``: 2-D convolution (kernel flipped) with zero padding of
    ``k // 2`` on each side, same size as the input; applied to the Laplacian kernels.

    Parameters
    ----------
    conv2d : callable
        The student's function, called on a random 9 x 11 image with ``LAPLACIAN_4``,
        ``LAPLACIAN_8`` and an asymmetric 3 x 3 kernel (where convolution and correlation
        differ).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a correlation,
        a kernel flipped along one axis, a transposed kernel, a border padded other than with
        zeros, a division by the number of taps and a 'valid' output without padding are named).

    Examples
    --------
    >>> from scipy import ndimage
    >>> check_laplacian_convolution(lambda image, kernel:
    ...                             ndimage.convolve(image, kernel, mode="constant"))
    Correct: conv2d(image, LAPLACIAN_4)
    Correct: conv2d(image, LAPLACIAN_8)
    Correct: conv2d(image, an asymmetric kernel)
    True

    The Laplacian kernels are symmetric, so a correlation passes them and fails on the third:

    >>> check_laplacian_convolution(lambda image, kernel:
    ...                             ndimage.correlate(image, kernel, mode="constant"))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: conv2d with an asymmetric kernel: you computed the correlation. A convolution flips the kernel first: kernel[::-1, ::-1].
    """
    from ..segmentation import LAPLACIAN_4, LAPLACIAN_8, convolve, correlate

    rng = np.random.default_rng(3)
    img = rng.random((9, 11))
    asym = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    for name, k in (("LAPLACIAN_4", LAPLACIAN_4), ("LAPLACIAN_8", LAPLACIAN_8),
                    ("an asymmetric kernel", asym)):
        got = call_student(conv2d, "conv2d", img.copy(), k.copy())
        want = convolve(img, k, mode="constant")
        got_arr = None if got is None else np.asarray(to_numpy(got), np.float64)
        check_mistakes(f"conv2d with {name}", got, want, [
            ("you computed the correlation. A convolution flips the kernel first: "
             "kernel[::-1, ::-1].", correlate(img, k, mode="constant")),
            ("you flipped the kernel along one axis only: flip both axes, kernel[::-1, ::-1].",
             correlate(img, k[::-1], mode="constant")),
            ("you flipped the kernel along one axis only: flip both axes, kernel[::-1, ::-1].",
             correlate(img, k[:, ::-1], mode="constant")),
            ("you transposed the kernel (kernel.T); a convolution flips it: kernel[::-1, ::-1].",
             convolve(img, k.T, mode="constant")),
            ("you divided by the number of kernel taps; a convolution sums the products.",
             want / k.size),
        ] + [(f"the border is wrong: pad with zeros (np.pad's default mode='constant'), not by "
              f"{how}.", lambda mode=mode: convolve(img, k, mode=mode))
             for mode, how in (("nearest", "repeating the edge pixels (mode='edge', or "
                                           "'symmetric': the same for a one-pixel border)"),
                               ("mirror", "mirroring the image (mode='reflect')"),
                               ("wrap", "wrapping around (mode='wrap')"))], atol=1e-8)
        if got_arr is not None and got_arr.shape == (img.shape[0] - 2, img.shape[1] - 2):
            raise ExerciseError(f"conv2d with {name}: output {got_arr.shape} is the 'valid' part; "
                                "pad the image with one row/column of zeros on each side first.")
        check_array(f"conv2d(image, {name})", got, want, atol=1e-8)
    return True


def check_anchor_labels(label_fn):
    """``label_fn(iou, pos=0.7, neg=0.3) -> labels``: from the (A, G) IoU matrix, label each anchor
    1 (IoU > pos with some box, or the best anchor of some box), 0 (IoU < neg with every box and
    not positive) or -1 (neither).

    Parameters
    ----------
    label_fn : callable
        The student's function, called on the IoU matrices of 60 random anchors and 3 boxes
        (one anchor equal to a box in the first case).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (forgetting that
        the best anchor of every box is positive, the negative rule applied last, neutral anchors
        labelled 0, the wrong axis and swapped labels are named).

    Examples
    --------
    >>> def label_fn(iou, pos=0.7, neg=0.3):
    ...     best = iou.max(axis=1)                         # each anchor's best IoU
    ...     labels = np.where(best < neg, 0, -1)
    ...     labels[best > pos] = 1
    ...     labels[(iou == iou.max(axis=0)).any(axis=1)] = 1   # the best anchor of every box
    ...     return labels
    >>> check_anchor_labels(label_fn)
    Correct: label_fn(case 0)
    Correct: label_fn(case 1)
    Correct: label_fn(case 2)
    True
    >>> check_anchor_labels(lambda iou, pos=0.7, neg=0.3:
    ...                     np.where(iou.max(1) > pos, 1, np.where(iou.max(1) < neg, 0, -1)))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: label_fn: some anchors with the highest IoU for a box are not positive. Rule 2: the best anchor of every ground-truth box is positive even when its IoU is below 0.7.
    """
    from ..boxes import pairwise_iou
    from ..detection import label_anchors

    rng = np.random.default_rng(11)
    for trial in range(3):
        # boxes on a 64 x 64 image and anchors around them: real IoU matrices
        a = rng.uniform(0, 40, (60, 2))
        a = np.concatenate([a, a + rng.uniform(8, 24, (60, 2))], 1)
        g = rng.uniform(0, 40, (3, 2))
        g = np.concatenate([g, g + rng.uniform(10, 24, (3, 2))], 1)
        if trial == 0:
            a[0] = g[0]  # one perfect match
        if trial == 1:
            g[2] = [36, 36, 40, 40]   # a small box: its best anchor has an IoU below 0.3
            a[1] = [30, 30, 46, 46]
        iou = pairwise_iou(a, g)
        want = label_anchors(a, g, ignore_cross_boundary=False)[0].astype(np.int64)
        got = call_student(label_fn, "label_fn", iou.copy())
        check_mistakes("label_fn", got, want, _label_mistakes(iou), atol=0)
        got_arr = None if got is None else np.asarray(to_numpy(got))
        if got_arr is not None and got_arr.shape == want.shape:
            best = np.zeros_like(want, dtype=bool)
            best[(iou == iou.max(0, keepdims=True)).any(1)] = True
            miss = (want == 1) & (got_arr != 1)
            if miss.any() and best[miss].all():
                raise ExerciseError("label_fn: some anchors with the highest IoU for a box are not "
                                    "positive. Rule 2: the best anchor of every ground-truth box "
                                    "is positive even when its IoU is below 0.7.")
        check_array(f"label_fn(case {trial})", got, want, atol=0)
    return True


def _labels(iou, pos=0.7, neg=0.3, rule2=True, negatives_last=False, neutral=-1, axis=0):
    """Anchor labels by the exercise's rules, and their usual mistakes."""
    best = iou.max(axis=1)
    labels = np.full(iou.shape[0], neutral)
    if not negatives_last:
        labels[best < neg] = 0
    labels[best > pos] = 1
    if rule2:
        labels[(iou == iou.max(axis=axis, keepdims=True)).any(axis=1)] = 1
    if negatives_last:
        labels[best < neg] = 0
    return labels


def _label_mistakes(iou):
    """(explanation, wrong labels) of the usual mistakes of the anchor labels."""
    right = _labels(iou)
    return [
        ("apply the negative rule first and the positive rules after it: the best anchor of a "
         "box stays positive even when its IoU is below 0.3.", _labels(iou, negatives_last=True)),
        ("anchors that are neither positive nor negative are ignored: label them -1, not 0.",
         _labels(iou, neutral=0)),
        ("the best anchor of each box is the maximum over the anchors, iou.max(axis=0) (one per "
         "column); iou.max(axis=1) is each anchor's best box.", _labels(iou, axis=1)),
        ("positives are 1 and negatives 0: your labels are swapped.",
         np.where(right == 1, 0, np.where(right == 0, 1, right))),
    ]


def check_roi_pool(pool_fn):
    """``pool_fn(region, out_h, out_w) -> pooled``: max-pool a 2-D region (h, w) into an
    ``out_h x out_w`` grid whose rows are split at ``floor(i * h / out_h)`` and columns at
    ``floor(j * w / out_w)``.

    Parameters
    ----------
    pool_fn : callable
        The student's function, called on the notes' 7 x 5 region (pooled to 2 x 2) and on
        random 9 x 6 and 10 x 10 regions.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` with the first
        wrong cell (a mean, overlapping ``ceil`` sections, ``np.array_split``, rounded
        boundaries and swapped rows and columns are named).

    Examples
    --------
    >>> def pool_fn(region, out_h, out_w, reduce=np.max):
    ...     h, w = region.shape
    ...     rows = [i * h // out_h for i in range(out_h + 1)]
    ...     cols = [j * w // out_w for j in range(out_w + 1)]
    ...     return np.array([[reduce(region[rows[i]:rows[i + 1], cols[j]:cols[j + 1]])
    ...                       for j in range(out_w)] for i in range(out_h)])
    >>> check_roi_pool(pool_fn)
    Correct: pool_fn(the notes' 7x5 region, 2, 2)
    Correct: pool_fn(a 9x6 region, 3, 2)
    Correct: pool_fn(a 10x10 region, 7, 7)
    True

    Averaging instead: the notes' top-left section (rows 0-1, columns 0-2) has the maximum
    0.85 and the mean (0.85 + 0.34 + 0.76 + 0.32 + 0.74 + 0.21) / 6 = 0.536667; the checker
    knows this mistake:

    >>> def mean_pool(region, out_h, out_w):
    ...     return pool_fn(region, out_h, out_w, reduce=np.mean)
    >>> check_roi_pool(mean_pool)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: pool_fn(the notes' 7x5 region, 2, 2): you averaged each section; ROI pooling takes the max.

    A mistake it does not know gets the first wrong cell:

    >>> check_roi_pool(lambda region, out_h, out_w: pool_fn(region, out_h, out_w) + 0.01)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: pool_fn(the notes' 7x5 region, 2, 2): wrong value at index (0, 0): expected 0.85, got 0.86 (4 of 4 entries wrong). Hint: ...
    """
    from ..detection import roi_pool

    notes = np.array([[0.85, 0.34, 0.76, 0.84, 0.29, 0.75, 0.62],
                      [0.32, 0.74, 0.21, 0.39, 0.34, 0.03, 0.33],
                      [0.20, 0.14, 0.16, 0.13, 0.73, 0.65, 0.96],
                      [0.19, 0.69, 0.09, 0.86, 0.88, 0.07, 0.01],
                      [0.83, 0.24, 0.97, 0.04, 0.24, 0.35, 0.50]])
    rng = np.random.default_rng(5)
    cases = [("the notes' 7x5 region", notes, 2, 2), ("a 9x6 region", rng.random((6, 9)), 3, 2),
             ("a 10x10 region", rng.random((10, 10)), 7, 7)]
    for name, reg, oh, ow in cases:
        h, w = reg.shape
        want = roi_pool(reg.astype(np.float32), [0, 0, w, h], (oh, ow))[0].astype(np.float64)
        got = call_student(pool_fn, "pool_fn", reg.copy(), oh, ow)
        check_mistakes(f"pool_fn({name}, {oh}, {ow})", got, want, [
            ("you averaged each section; ROI pooling takes the max.",
             lambda: _pool(reg, oh, ow, np.mean)),
            ("sections end at ceil((i + 1) h / out_h) here, so they overlap; split at "
             "floor(i * h / out_h) and end each section where the next begins.",
             lambda: _pool(reg, oh, ow, split="ceil")),
            ("np.array_split gives the extra rows to the first sections; split at "
             "floor(i * h / out_h).", lambda: _pool(reg, oh, ow, split="array_split")),
            ("the boundaries are floor(i * h / out_h), not round(...).",
             lambda: _pool(reg, oh, ow, split="round")),
            ("rows go with out_h and columns with out_w: you swapped them.",
             lambda: _pool(reg, ow, oh).T),
        ], atol=1e-6)
        check_array(f"pool_fn({name}, {oh}, {ow})", got, want, atol=1e-6,
                    hint="rows of section i: floor(i*h/out_h) .. floor((i+1)*h/out_h) (end "
                         "excluded); take the max of each section")
    return True


def _pool(region, out_h, out_w, reduce=np.max, split="floor"):
    """Max pooling of ``region`` into sections, and its usual mistakes: ``reduce`` np.mean,
    ``split`` 'ceil' (Caffe's overlapping ends), 'array_split' or 'round'."""
    def bounds(n, k):
        if split == "array_split":
            sizes = [len(part) for part in np.array_split(np.arange(n), k)]
            edges = np.concatenate([[0], np.cumsum(sizes)])
            return list(zip(edges[:-1], edges[1:]))
        start = {"floor": np.floor, "ceil": np.floor, "round": np.round}[split]
        end = {"floor": np.floor, "ceil": np.ceil, "round": np.round}[split]
        return [(int(start(i * n / k)), max(int(end((i + 1) * n / k)), int(start(i * n / k)) + 1))
                for i in range(k)]

    h, w = region.shape
    return np.array([[reduce(region[r0:r1, c0:c1]) for c0, c1 in bounds(w, out_w)]
                     for r0, r1 in bounds(h, out_h)])
