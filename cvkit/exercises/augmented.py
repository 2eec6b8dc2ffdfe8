"""Checkers for ``notebooks/04_augmented_gradcam.ipynb`` (Augmented Grad-CAM).

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.explain.augmented`; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that
says what is wrong (and, for the usual mistakes, which one it is).
"""
from __future__ import annotations

import numpy as np

from . import call_student, check_array, check_mistakes, check_scalar

__all__ = ["check_total_variation", "check_tv_subgradient", "check_subgradient_step"]


def _cases():
    rng = np.random.default_rng(11)
    yield np.array([[0.0, 1.0], [2.0, 4.0]])                     # the hand-worked example
    yield rng.random((5, 7))                                     # not square
    yield np.round(rng.random((6, 6)) * 2) / 2                   # ties: zero differences


def check_total_variation(total_variation):
    r"""``total_variation(h) -> float``: :math:`\sum |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|`
    for one (H, W) map.

    Parameters
    ----------
    total_variation : callable
        The student's function, called on three maps (the hand-worked 2 x 2 example, a 5 x 7 map,
        a 6 x 6 map with ties).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (one axis only,
        squared differences, the isotropic TV, a mean, ``np.roll``'s wrap-around and signed
        differences are named).

    Examples
    --------
    >>> import numpy as np
    >>> def total_variation(h):
    ...     return np.abs(np.diff(h, axis=0)).sum() + np.abs(np.diff(h, axis=1)).sum()
    >>> check_total_variation(total_variation)
    Correct: total_variation on a (2, 2) map
    Correct: total_variation on a (5, 7) map
    Correct: total_variation on a (6, 6) map
    True
    >>> check_total_variation(lambda h: np.abs(np.diff(h, axis=0)).sum())
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: total_variation: you summed the differences along one axis only; add the vertical (axis 0) and horizontal (axis 1) ones.
    """
    from ..explain.augmented import total_variation as ref

    for h in _cases():
        got = call_student(total_variation, f"total_variation(a {h.shape} map)", h.copy())
        check_mistakes("total_variation", got, ref(h), _tv_mistakes(h), atol=1e-6)
        check_scalar(f"total_variation on a {h.shape} map", got, ref(h), atol=1e-6,
                     hint="sum |h[i+1, j] - h[i, j]| over every vertical pair and |h[i, j+1] - "
                          "h[i, j]| over every horizontal pair.")
    return True


def _tv_mistakes(h):
    """(explanation, wrong TV) of the usual mistakes of the total variation."""
    dy, dx = np.diff(h, axis=0), np.diff(h, axis=1)
    one = ("you summed the differences along one axis only; add the vertical (axis 0) and "
           "horizontal (axis 1) ones.")
    return [
        (one, np.abs(dy).sum()),
        (one, np.abs(dx).sum()),
        ("you squared the differences; the anisotropic TV takes their absolute values (|x|, not "
         "x**2).", (dy ** 2).sum() + (dx ** 2).sum()),
        ("you took sqrt(dx**2 + dy**2) (the isotropic TV); the anisotropic TV adds |dx| + |dy|.",
         np.sqrt(dy[:, :-1] ** 2 + dx[:-1, :] ** 2).sum()),
        ("you averaged the differences; TV is their sum.", np.abs(dy).mean() + np.abs(dx).mean()),
        ("np.roll wraps around, so the last row is compared with the first; use forward "
         "differences inside the map (np.diff, or h[1:] - h[:-1]).",
         np.abs(np.roll(h, -1, 0) - h).sum() + np.abs(np.roll(h, -1, 1) - h).sum()),
        ("take the absolute value of each difference before summing (signed differences cancel "
         "out).", dy.sum() + dx.sum()),
    ]


def check_tv_subgradient(tv_subgradient):
    r"""``tv_subgradient(h) -> (H, W)``: :math:`\nabla^T \operatorname{sign}(\nabla h)`, with
    sign(0) = 0.

    Parameters
    ----------
    tv_subgradient : callable
        The student's function, called on the same three maps as :func:`check_total_variation`.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a flipped sign,
        one direction only, sign(0) taken as 1 and a difference that touches one pixel only are
        named).

    Examples
    --------
    >>> import numpy as np
    >>> def tv_subgradient(h):
    ...     g = np.zeros_like(h)
    ...     d = np.sign(np.diff(h, axis=0))   # vertical differences h[i+1, j] - h[i, j]
    ...     g[1:] += d
    ...     g[:-1] -= d
    ...     d = np.sign(np.diff(h, axis=1))   # horizontal ones
    ...     g[:, 1:] += d
    ...     g[:, :-1] -= d
    ...     return g
    >>> check_tv_subgradient(tv_subgradient)
    Correct: tv_subgradient on a (2, 2) map
    Correct: tv_subgradient on a (5, 7) map
    Correct: tv_subgradient on a (6, 6) map
    True
    >>> check_tv_subgradient(lambda h: -tv_subgradient(h))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: tv_subgradient: the sign is flipped. ...
    """
    from ..explain.augmented import tv_subgradient as ref

    for h in _cases():
        got = call_student(tv_subgradient, f"tv_subgradient(a {h.shape} map)", h.copy())
        check_mistakes("tv_subgradient", got, ref(h), _subgradient_mistakes(h, ref(h)), atol=1e-6)
        check_array(f"tv_subgradient on a {h.shape} map", got, ref(h), atol=1e-6,
                    hint="each difference d = h[i+1,j] - h[i,j] adds sign(d) to pixel (i+1, j) "
                         "and -sign(d) to pixel (i, j); the same along rows; sign(0) = 0.")
    return True


def _spread(sy, sx, both=True):
    """Scatter the signs of the vertical and horizontal differences back onto the pixels."""
    out = np.zeros((sy.shape[0] + 1, sx.shape[1] + 1))
    out[1:, :] += sy
    out[:, 1:] += sx
    if both:
        out[:-1, :] -= sy
        out[:, :-1] -= sx
    return out


def _subgradient_mistakes(h, want):
    """(explanation, wrong subgradient) of the usual mistakes of the TV subgradient."""
    dy, dx = np.diff(h, axis=0), np.diff(h, axis=1)
    one = ("you used one direction only; add the terms of the vertical and the horizontal "
           "differences.")
    return [
        ("the sign is flipped. The term |h[i+1,j] - h[i,j]| grows with h[i+1,j]: add sign(d) "
         "there and subtract it at h[i,j].", -want),
        (one, _spread(np.sign(dy), np.zeros_like(dx))),
        (one, _spread(np.zeros_like(dy), np.sign(dx))),
        ("sign(0) must be 0 (np.sign): where two neighbours are equal the difference adds "
         "nothing.", _spread(np.where(dy >= 0, 1.0, -1.0), np.where(dx >= 0, 1.0, -1.0))),
        ("each difference d = h[i+1,j] - h[i,j] touches two pixels: +sign(d) at (i+1, j) AND "
         "-sign(d) at (i, j).", _spread(np.sign(dy), np.sign(dx), both=False)),
    ]


def check_subgradient_step(subgradient_step):
    r"""``subgradient_step(h, g, op, lambda_tv, lambda_energy, alpha) -> (H, W)``: one step
    :math:`h - \alpha\,\xi` with
    :math:`\xi = 2 M^T(Mh - g) + \lambda_{TV}\,\nabla^T\operatorname{sign}(\nabla h) + 2\lambda_e h`,
    where ``op(h)`` is :math:`Mh` (L, h, w) and ``op.adjoint(r)`` is :math:`M^T r` (H, W).

    Parameters
    ----------
    subgradient_step : callable
        The student's function, called with a 16 x 16 map, four 4 x 4 views and an
        :class:`~cvkit.explain.augmented.AugmentationOperator`, for three settings of the weights.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (an uphill step, a
        missing factor 2, a flipped residual, a missing or flipped term are named).

    Examples
    --------
    >>> from cvkit.explain.augmented import tv_subgradient
    >>> def subgradient_step(h, g, op, lambda_tv, lambda_energy, alpha):
    ...     xi = 2 * op.adjoint(op(h) - g) + lambda_tv * tv_subgradient(h) + 2 * lambda_energy * h
    ...     return h - alpha * xi
    >>> check_subgradient_step(subgradient_step)
    Correct: subgradient_step (lambda_tv=0.1, lambda_e=0.01, alpha=0.5)
    Correct: subgradient_step (lambda_tv=0.0, lambda_e=0.0, alpha=1.0)
    Correct: subgradient_step (lambda_tv=0.3, lambda_e=0.0, alpha=0.2)
    True
    >>> def uphill(h, g, op, lambda_tv, lambda_energy, alpha):
    ...     return 2 * h - subgradient_step(h, g, op, lambda_tv, lambda_energy, alpha)
    >>> check_subgradient_step(uphill)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: subgradient_step: you stepped uphill: h - alpha * xi, not +.
    """
    from ..explain.augmented import AugmentationOperator, random_augmentations, tv_subgradient

    rng = np.random.default_rng(12)
    params = random_augmentations(4, 0.4, 3, seed=3)
    op = AugmentationOperator(params, 16, 4)
    for lt, le, alpha in ((0.1, 0.01, 0.5), (0.0, 0.0, 1.0), (0.3, 0.0, 0.2)):
        h = rng.random((16, 16)).astype(np.float32)
        g = rng.random((4, 4, 4)).astype(np.float32)
        data = 2.0 * op.adjoint(op(h) - g).astype(np.float64)
        tv, energy = lt * tv_subgradient(h), 2.0 * le * h
        want = h - alpha * (data + tv + energy)
        name = f"subgradient_step (lambda_tv={lt}, lambda_e={le}, alpha={alpha})"
        got = call_student(subgradient_step, name, h.copy(), g.copy(), op, lt, le, alpha)
        check_mistakes("subgradient_step", got, want, [
            ("you stepped uphill: h - alpha * xi, not +.", h + alpha * (data + tv + energy)),
            ("the data term's gradient is 2 M^T (M h - g): the factor 2 is missing.",
             h - alpha * (0.5 * data + tv + energy)),
            ("the residual is M h - g (prediction minus target), not g - M h.",
             h - alpha * (-data + tv + energy)),
            ("the energy term's gradient is 2 lambda_e h: the factor 2 is missing.",
             h - alpha * (data + tv + 0.5 * energy)),
            ("the energy term 2 lambda_e h is missing from xi.", h - alpha * (data + tv)),
            ("the TV term lambda_tv * tv_subgradient(h) is missing from xi.",
             h - alpha * (data + energy)),
            ("the TV term is added to xi (+ lambda_tv ...), not subtracted.",
             h - alpha * (data - tv + energy)),
        ], atol=1e-4)
        check_array(name, got, want, atol=1e-4, rtol=1e-4,
                    hint="xi = 2 op.adjoint(op(h) - g) + lambda_tv * tv_subgradient(h) "
                         "+ 2 lambda_energy h")
    return True
