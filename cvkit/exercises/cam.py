"""Checkers for ``notebooks/02_cam_gap_mobilenet.ipynb`` and ``notebooks/03_gradcam_deep_dive.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.explain` (or TensorFlow), raising :class:`~cvkit.exercises.ExerciseError` with a message
that names the usual mistake.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_array

__all__ = ["check_cam_by_hand", "check_alpha_weights", "check_bilinear", "check_rise_average"]


def check_cam_by_hand(cam_by_hand):
    r"""``cam_by_hand(features, weights, c) -> (h, w)``: :math:`M_c = \sum_k w_k^c f_k`, with
    ``features`` (h, w, K) and ``weights`` the Dense kernel (K, classes).

    Parameters
    ----------
    cam_by_hand : callable
        The student's function, called on random 5 x 6 x 8 features for the classes 0 and 2.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (an average
        over the channels and a ReLU are named).

    Examples
    --------
    >>> check_cam_by_hand(lambda features, weights, c: features @ weights[:, c])
    Correct: cam_by_hand(c=0)
    Correct: cam_by_hand(c=2)
    True
    >>> check_cam_by_hand(lambda features, weights, c: (features * weights[:, c]).mean(-1))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: cam_by_hand: you averaged over the channels; CAM is the weighted *sum* over k, with no division.
    """
    rng = np.random.default_rng(3)
    feats = rng.random((5, 6, 8)).astype(np.float32)
    weights = rng.normal(size=(8, 3)).astype(np.float32)
    for c in (0, 2):
        got = call_student(cam_by_hand, "cam_by_hand", feats, weights, c)
        got_arr = np.asarray(got)
        if got_arr.shape == (5, 6) and np.allclose(got_arr, feats @ weights[:, c] / 8, atol=1e-4):
            raise ExerciseError("cam_by_hand: you averaged over the channels; CAM is the weighted "
                                "*sum* over k, with no division.")
        if got_arr.shape == (5, 6) and np.allclose(got_arr, np.maximum(feats @ weights[:, c], 0),
                                                   atol=1e-4) and (feats @ weights[:, c]).min() < 0:
            raise ExerciseError("cam_by_hand: CAM keeps negative evidence; do not apply a ReLU.")
        check_array(f"cam_by_hand(c={c})", got, feats @ weights[:, c], atol=1e-4,
                    hint="use the column weights[:, c] of the Dense kernel")
    return True


def check_alpha_weights(alpha_weights):
    r"""``alpha_weights(grads) -> (N, K)``: :math:`\alpha_k^c = \frac{1}{Z}\sum_{ij}
    \partial y^c/\partial A^k_{ij}` for gradients of shape (N, h, w, K).

    Parameters
    ----------
    alpha_weights : callable
        The student's function, called on random gradients of shape (2, 3, 5, 4).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a sum
        instead of a mean, and the wrong axes, are named).

    Examples
    --------
    >>> check_alpha_weights(lambda grads: grads.mean(axis=(1, 2)))
    Correct: alpha_weights
    True
    >>> check_alpha_weights(lambda grads: grads.sum(axis=(1, 2)))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: alpha_weights: you summed the gradients; divide by Z = h * w ...
    """
    from ..explain import grad_cam_weights

    rng = np.random.default_rng(4)
    grads = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    got = call_student(alpha_weights, "alpha_weights", grads)
    got_arr = np.asarray(got)
    if got_arr.shape == (2, 4) and np.allclose(got_arr, grads.sum(axis=(1, 2)), atol=1e-4):
        raise ExerciseError("alpha_weights: you summed the gradients; divide by Z = h * w (the number "
                            "of positions) to get their average.")
    if got_arr.shape == (2, 3, 5):
        raise ExerciseError("alpha_weights: you averaged over the channels (last axis); average over "
                            "the spatial axes 1 and 2 instead, one weight per channel.")
    check_array("alpha_weights", got, grad_cam_weights(None, grads), atol=1e-5)
    return True


def check_bilinear(bilinear):
    r"""``bilinear(L, H, W) -> (H, W)``: the course's formula with :math:`u = x (h-1)/(H-1)`,
    compared with ``tf.compat.v1.image.resize(..., align_corners=True)``.

    Parameters
    ----------
    bilinear : callable
        The student's function, called on random (3, 3) -> (7, 7), (4, 5) -> (9, 13) and
        (2, 2) -> (3, 3) cases.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (half-pixel
        centres and swapped axes are named).

    Examples
    --------
    The package's own version of the formula passes; the half-pixel convention of
    ``tf.image.resize`` does not:

    >>> from cvkit.explain import bilinear_upsample
    >>> check_bilinear(lambda L, H, W: bilinear_upsample(L, (H, W)))
    Correct: bilinear(3x3 -> 7x7)
    Correct: bilinear(4x5 -> 9x13)
    Correct: bilinear(2x2 -> 3x3)
    True
    >>> check_bilinear(lambda L, H, W: bilinear_upsample(L, (H, W), align_corners=False))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: bilinear: you used half-pixel centres (tf.image.resize); the course's formula is u = x (h - 1) / (H - 1).
    """
    import tensorflow as tf

    rng = np.random.default_rng(5)
    for (h, w), (H, W) in (((3, 3), (7, 7)), ((4, 5), (9, 13)), ((2, 2), (3, 3))):
        L = rng.random((h, w)).astype(np.float32)
        ref = tf.compat.v1.image.resize(L[None, ..., None], (H, W), method="bilinear",
                                        align_corners=True).numpy()[0, ..., 0]
        got = call_student(bilinear, "bilinear", L, H, W)
        got_arr = np.asarray(got)
        if got_arr.shape == (H, W):
            half = tf.image.resize(L[None, ..., None], (H, W)).numpy()[0, ..., 0]
            if np.allclose(got_arr, half, atol=1e-4) and not np.allclose(ref, half, atol=1e-4):
                raise ExerciseError("bilinear: you used half-pixel centres (tf.image.resize); the "
                                    "course's formula is u = x (h - 1) / (H - 1).")
            if h == w and H == W and np.allclose(got_arr, ref.T, atol=1e-4) \
                    and not np.allclose(ref, ref.T, atol=1e-4):
                raise ExerciseError("bilinear: rows and columns are swapped (alpha goes with i and "
                                    "the rows, beta with j and the columns).")
        check_array(f"bilinear({h}x{w} -> {H}x{W})", got, ref, atol=1e-4,
                    hint="check the corners: out[0, 0] = L[0, 0] and out[-1, -1] = L[-1, -1]")
    return True


def check_rise_average(rise_average):
    r"""``rise_average(masks, scores, p) -> (H, W)``:
    :math:`S = \frac{1}{N\,p}\sum_i f(I \odot M_i) M_i` for masks (N, H, W) and scores (N,).

    Parameters
    ----------
    rise_average : callable
        The student's function, called on 40 random 6 x 7 masks with ``p = 0.4``.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a missing p
        and a division by the sum of the scores are named).

    Examples
    --------
    >>> import numpy as np
    >>> def rise_average(masks, scores, p):
    ...     return np.tensordot(scores, masks, axes=1) / (len(scores) * p)
    >>> check_rise_average(rise_average)
    Correct: rise_average
    True
    >>> check_rise_average(lambda masks, scores, p: p * rise_average(masks, scores, p))   # / N only
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: rise_average: divide by N * p (the expected value of a mask is p), not only by N.
    """
    rng = np.random.default_rng(6)
    masks = rng.random((40, 6, 7)).astype(np.float32)
    scores = rng.random(40).astype(np.float32)
    p = 0.4
    ref = np.tensordot(scores, masks, 1) / (40 * p)
    got = call_student(rise_average, "rise_average", masks, scores, p)
    got_arr = np.asarray(got)
    if got_arr.shape == ref.shape:
        if np.allclose(got_arr, ref * p, atol=1e-4):
            raise ExerciseError("rise_average: divide by N * p (the expected value of a mask is p), "
                                "not only by N.")
        if np.allclose(got_arr, np.tensordot(scores, masks, 1) / scores.sum(), atol=1e-4):
            raise ExerciseError("rise_average: the paper normalises by N * E[M] = N * p, not by the "
                                "sum of the scores.")
    check_array("rise_average", got, ref, atol=1e-4)
    return True
