"""Checkers for ``notebooks/02_cam_gap_mobilenet.ipynb`` and ``notebooks/03_gradcam_deep_dive.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.explain` (or TensorFlow), raising :class:`~cvkit.exercises.ExerciseError` with a message
that names the usual mistake.
"""
from __future__ import annotations

import numpy as np

from . import call_student, check_array, check_mistakes

__all__ = ["check_cam_by_hand", "check_alpha_weights", "check_bilinear", "check_rise_average"]


def _cam_mistakes(feats, weights, c):
    """(explanation, wrong map) of the usual mistakes of CAM by hand, for class ``c``."""
    cam = feats @ weights[:, c]
    mistakes = [
        ("you averaged over the channels; CAM is the weighted *sum* over k, with no division.",
         cam / feats.shape[-1]),
        ("CAM keeps negative evidence; do not apply a ReLU.", np.maximum(cam, 0)),
        ("you normalised the map to [0, 1]; CAM by hand is the raw weighted sum (the explanation "
         "functions normalise later).", (cam - cam.min()) / (cam.max() - cam.min())),
    ]
    for k in range(weights.shape[1]):
        if k != c:
            mistakes.append((f"you used the column of class {k}; the weights of class c are "
                             "weights[:, c].", feats @ weights[:, k]))
    return mistakes


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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (an average over
        the channels, a ReLU, a normalised map and another class's column are named).

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
        got = call_student(cam_by_hand, f"cam_by_hand(features, weights, c={c})", feats.copy(),
                           weights.copy(), c,
                           hint="weights is (K, classes): the column of class c is weights[:, c].")
        want = feats @ weights[:, c]
        check_mistakes("cam_by_hand", got, want, _cam_mistakes(feats, weights, c), atol=1e-4)
        check_array(f"cam_by_hand(c={c})", got, want, atol=1e-4,
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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a sum instead of
        a mean, the wrong axes, the batch averaged away, ``keepdims`` and a ReLU or absolute value
        of the gradients are named).

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
    got = call_student(alpha_weights, "alpha_weights", grads.copy())
    spatial = "average over the spatial axes 1 and 2 instead, one weight per image and channel."
    check_mistakes("alpha_weights", got, grad_cam_weights(None, grads), [
        ("you summed the gradients; divide by Z = h * w (the number of positions) to get their "
         "average.", grads.sum(axis=(1, 2))),
        ("you averaged over the channels (last axis); " + spatial, grads.mean(axis=-1)),
        ("you averaged over the axes 2 and 3; grads is (N, h, w, K): " + spatial,
         grads.mean(axis=(2, 3))),
        ("you also averaged over the images (axis 0); " + spatial, grads.mean(axis=(0, 1, 2))),
        ("keepdims=True leaves shape (N, 1, 1, K): return (N, K).",
         grads.mean(axis=(1, 2), keepdims=True)),
        ("Grad-CAM averages the raw gradients: no ReLU on them (positive gradients only is "
         "Grad-CAM++'s idea).", np.maximum(grads, 0).mean(axis=(1, 2))),
        ("Grad-CAM averages the raw gradients, signs included: no absolute value.",
         np.abs(grads).mean(axis=(1, 2))),
    ])
    check_array("alpha_weights", got, grad_cam_weights(None, grads), atol=1e-5)
    return True


def _bilinear(L, H, W, corners=True, nearest=False, swap=False, last=1):
    """The course's bilinear formula and its usual mistakes (no ``- 1`` in the scale, nearest
    cell instead of interpolation, the weights of the two neighbours swapped); the top-left
    neighbour is clamped at index ``h - last`` (1 or 2: the same for the right formula)."""
    h, w = L.shape
    if corners:
        u = np.arange(H) * (h - 1) / max(H - 1, 1)
        v = np.arange(W) * (w - 1) / max(W - 1, 1)
    else:
        u, v = np.arange(H) * h / H, np.arange(W) * w / W
    if nearest:
        return L[np.minimum(np.round(u).astype(int), h - 1)][:, np.minimum(np.round(v).astype(int),
                                                                           w - 1)]
    i = np.minimum(np.floor(u).astype(int), max(h - last, 0))
    j = np.minimum(np.floor(v).astype(int), max(w - last, 0))
    a, b = (u - i)[:, None], (v - j)[None, :]
    if swap:
        a, b = 1 - a, 1 - b
    i1, j1 = np.minimum(i + 1, h - 1), np.minimum(j + 1, w - 1)
    return ((1 - a) * (1 - b) * L[i][:, j] + a * (1 - b) * L[i1][:, j]
            + (1 - a) * b * L[i][:, j1] + a * b * L[i1][:, j1])


def _bilinear_mistakes(L, H, W, ref):
    """(explanation, wrong map) of the usual mistakes of the bilinear exercise."""
    import tensorflow as tf

    half = tf.image.resize(L[None, ..., None], (H, W)).numpy()[0, ..., 0]
    mistakes = [
        ("you used half-pixel centres (tf.image.resize); the course's formula is "
         "u = x (h - 1) / (H - 1).", half),
        ("you took the nearest cell; interpolate between the four neighbours with the weights "
         "alpha = u - i and beta = v - j.", _bilinear(L, H, W, nearest=True)),
    ]
    for last in (1, 2):   # clamping i at h - 1 or at h - 2
        mistakes += [
            ("the scale is (h - 1) / (H - 1), so that the corners map to the corners: you used "
             "h / H.", _bilinear(L, H, W, corners=False, last=last)),
            ("the weights of the neighbours are swapped: (1 - alpha) goes with L[i], alpha with "
             "L[i + 1] (alpha = u - i is the distance from row i).",
             _bilinear(L, H, W, swap=True, last=last)),
        ]
    if L.shape[0] == L.shape[1] and H == W:
        mistakes.append(("rows and columns are swapped (alpha goes with i and the rows, beta with "
                         "j and the columns).", ref.T))
    return mistakes


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
        centres, a scale without the ``- 1``, the nearest cell, swapped weights and swapped axes
        are named).

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
        got = call_student(bilinear, f"bilinear(L of shape {L.shape}, {H}, {W})", L.copy(), H, W,
                           hint="clamp i + 1 and j + 1 at the last row and column.")
        check_mistakes("bilinear", got, ref, _bilinear_mistakes(L, H, W, ref), atol=1e-4)
        check_array(f"bilinear({h}x{w} -> {H}x{W})", got, ref, atol=1e-4,
                    hint="check the corners: out[0, 0] = L[0, 0] and out[-1, -1] = L[-1, -1]")
    return True


def _rise_mistakes(masks, scores, p):
    """(explanation, wrong map) of the usual normalisations of the RISE average."""
    total = np.tensordot(scores, masks, 1)
    n = len(scores)
    return [
        ("divide by N * p (the expected value of a mask is p), not only by N.", total / n),
        ("the paper normalises by N * E[M] = N * p, not by the sum of the scores.",
         total / scores.sum()),
        ("divide by N * p, where p is the probability that a cell is KEPT: you divided by "
         "N * (1 - p).", total / (n * (1 - p))),
        ("divide by N as well: S = sum_i f(I * M_i) M_i / (N p); you divided by p only.",
         total / p),
        ("divide by N * p: you multiplied by p instead of dividing by it.", total * p / n),
        ("use the given p (the expected value E[M] of the mask generator), not the mean of "
         "these masks.", total / (n * masks.mean())),
        ("weight each mask by its score f(I * M_i) before averaging.", masks.mean(0) / p),
    ]


def check_rise_average(rise_average):
    r"""``rise_average(masks, scores, p) -> (H, W)``:
    :math:`S = \frac{1}{N\,p}\sum_i f(I \odot M_i) M_i` for masks (N, H, W) and scores (N,).

    Parameters
    ----------
    rise_average : callable
        The student's function, called on 40 random 6 x 7 masks that keep each cell with
        probability ``p = 0.4`` and on 25 with ``p = 0.75`` (never 0.5, where dividing by
        :math:`N p` and by :math:`N (1 - p)` agree).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (every wrong
        normalisation: by N only, by N (1 - p), by p only, by the sum of the scores, by the masks'
        own mean; and unweighted masks are named).

    Examples
    --------
    >>> import numpy as np
    >>> def rise_average(masks, scores, p):
    ...     return np.tensordot(scores, masks, axes=1) / (len(scores) * p)
    >>> check_rise_average(rise_average)
    Correct: rise_average (N=40, p=0.4)
    Correct: rise_average (N=25, p=0.75)
    True
    >>> check_rise_average(lambda masks, scores, p: p * rise_average(masks, scores, p))   # / N only
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: rise_average (N=40, p=0.4): divide by N * p (the expected value of a mask is p), not only by N.
    """
    rng = np.random.default_rng(6)
    for n, p in ((40, 0.4), (25, 0.75)):
        masks = (rng.random((n, 6, 7)) < p).astype(np.float32)
        scores = rng.random(n).astype(np.float32)
        ref = np.tensordot(scores, masks, 1) / (n * p)
        name = f"rise_average (N={n}, p={p})"
        got = call_student(rise_average, name, masks.copy(), scores.copy(), p)
        check_mistakes(name, got, ref, _rise_mistakes(masks, scores, p), atol=1e-4)
        check_array(name, got, ref, atol=1e-4,
                    hint="S = sum_i scores[i] * masks[i] / (N * p)")
    return True
