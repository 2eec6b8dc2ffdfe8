"""Checkers for ``notebooks/06_classic_segmentation.ipynb`` and
``notebooks/07_mask_rcnn_building_blocks.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.segmentation` (notebook 06) or :mod:`cvkit.detection` (notebook 07); a wrong answer
raises :class:`~cvkit.exercises.ExerciseError` that says what is wrong (and, for the usual
mistakes, which one it is).
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, check_array, check_scalar

__all__ = ["check_otsu", "check_laplacian_convolution", "check_anchor_labels", "check_roi_pool"]


def _call(fn, name, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # report the student's error with the case that caused it
        raise ExerciseError(f"{name} raised {type(exc).__name__}: {exc}") from exc


def check_otsu(otsu):
    """``otsu(gray_uint8) -> t``: Otsu's threshold of a uint8 grey image from its 256-bin histogram
    (one bin per grey level; ``t`` is the last grey level of the dark class, so the foreground is
    ``image > t``)."""
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
        got = _call(otsu, "otsu", img.copy())
        want = otsu_threshold(img)
        if got is not None and np.size(got) == 1:
            g = float(np.asarray(got))
            if abs(g - want) > 0.5 and abs(g - (want + 1)) <= 0.5:
                raise ExerciseError(f"otsu({name}): got {g:g}, expected {want}. Off by one: the "
                                    "threshold is the last level of the dark class (image > t is "
                                    "the foreground), not the first of the bright one.")
            if abs(g - want) > 0.5 and 0 <= g <= 1.0 and want > 1:
                raise ExerciseError(f"otsu({name}): got {g:g}, expected {want}: return a grey "
                                    "level (0..255), not a normalised value or a variance.")
        check_scalar(f"otsu({name})", got, want, atol=0.5, rtol=0,
                     hint="maximise w0 * w1 * (mu0 - mu1)**2 over the thresholds")
    return True


def check_laplacian_convolution(conv2d):
    """``conv2d(image, kernel) -> out``: 2-D convolution (kernel flipped) with zero padding of
    ``k // 2`` on each side, same size as the input; applied to the Laplacian kernels."""
    from ..segmentation import LAPLACIAN_4, LAPLACIAN_8, convolve, correlate

    rng = np.random.default_rng(3)
    img = rng.random((9, 11))
    asym = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    for name, k in (("LAPLACIAN_4", LAPLACIAN_4), ("LAPLACIAN_8", LAPLACIAN_8),
                    ("an asymmetric kernel", asym)):
        got = _call(conv2d, "conv2d", img.copy(), k.copy())
        want = convolve(img, k, mode="constant")
        got_arr = None if got is None else np.asarray(got, np.float64)
        if got_arr is not None and got_arr.shape == want.shape and not np.allclose(got_arr, want):
            if np.allclose(got_arr, correlate(img, k, mode="constant")):
                raise ExerciseError(f"conv2d with {name}: you computed the correlation. A "
                                    "convolution flips the kernel first: kernel[::-1, ::-1].")
        if got_arr is not None and got_arr.shape == (img.shape[0] - 2, img.shape[1] - 2):
            raise ExerciseError(f"conv2d with {name}: output {got_arr.shape} is the 'valid' part; "
                                "pad the image with one row/column of zeros on each side first.")
        check_array(f"conv2d(image, {name})", got, want, atol=1e-8)
    return True


def check_anchor_labels(label_fn):
    """``label_fn(iou, pos=0.7, neg=0.3) -> labels``: from the (A, G) IoU matrix, label each anchor
    1 (IoU > pos with some box, or the best anchor of some box), 0 (IoU < neg with every box and
    not positive) or -1 (neither)."""
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
        from ..boxes import pairwise_iou

        iou = pairwise_iou(a, g)
        want = label_anchors(a, g, ignore_cross_boundary=False)[0].astype(np.int64)
        got = _call(label_fn, "label_fn", iou.copy())
        got_arr = None if got is None else np.asarray(got)
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


def check_roi_pool(pool_fn):
    """``pool_fn(region, out_h, out_w) -> pooled``: max-pool a 2-D region (h, w) into an
    ``out_h x out_w`` grid whose rows are split at ``floor(i * h / out_h)`` and columns at
    ``floor(j * w / out_w)``."""
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
        got = _call(pool_fn, "pool_fn", reg.copy(), oh, ow)
        check_array(f"pool_fn({name}, {oh}, {ow})", got, want, atol=1e-6,
                    hint="rows of section i: floor(i*h/out_h) .. floor((i+1)*h/out_h) (end "
                         "excluded); take the max of each section")
    return True
