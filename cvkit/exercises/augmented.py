"""Checkers for ``notebooks/04_augmented_gradcam.ipynb`` (Augmented Grad-CAM).

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.explain.augmented`; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that
says what is wrong (and, for the usual mistakes, which one it is).
"""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from . import ExerciseError, check_array, check_scalar

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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (one axis only
        and squared differences are named).

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
        got = total_variation(h.copy())
        want = ref(h)
        arr = np.asarray(to_numpy(got), dtype=np.float64)
        if arr.size == 1:
            v = float(arr.reshape(()))
            # the two usual mistakes: one direction only, squares instead of absolute values
            one = np.abs(np.diff(h, axis=0)).sum()
            other = np.abs(np.diff(h, axis=1)).sum()
            if not np.isclose(v, want) and (np.isclose(v, one) or np.isclose(v, other)):
                raise ExerciseError("total_variation: you summed the differences along one axis "
                                    "only; add the vertical (axis 0) and horizontal (axis 1) ones.")
            sq = (np.diff(h, axis=0) ** 2).sum() + (np.diff(h, axis=1) ** 2).sum()
            if not np.isclose(v, want) and np.isclose(v, sq):
                raise ExerciseError("total_variation: you squared the differences; the anisotropic "
                                    "TV takes their absolute values (|x|, not x**2).")
        check_scalar(f"total_variation on a {h.shape} map", got, want, atol=1e-6)
    return True


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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (a flipped sign is
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
        got = tv_subgradient(h.copy())
        want = ref(h)
        arr = np.asarray(got, dtype=np.float64) if got is not None else None
        if arr is not None and arr.shape == want.shape and np.allclose(arr, -want):
            raise ExerciseError("tv_subgradient: the sign is flipped. The term |h[i+1,j] - h[i,j]| "
                                "grows with h[i+1,j]: add sign(d) there and subtract it at h[i,j].")
        check_array(f"tv_subgradient on a {h.shape} map", got, want, atol=1e-6,
                    hint="each difference d = h[i+1,j] - h[i,j] adds sign(d) to pixel (i+1, j) "
                         "and -sign(d) to pixel (i, j); the same along rows; sign(0) = 0.")
    return True


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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (an uphill step and
        a missing factor 2 are named).

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
        xi = data + lt * tv_subgradient(h) + 2.0 * le * h
        want = h - alpha * xi
        got = subgradient_step(h.copy(), g.copy(), op, lt, le, alpha)
        arr = np.asarray(got, dtype=np.float64) if got is not None else None
        if arr is not None and arr.shape == want.shape:
            if np.allclose(arr, h + alpha * xi, atol=1e-4):
                raise ExerciseError("subgradient_step: you stepped uphill: h - alpha * xi, not +.")
            if np.allclose(arr, h - alpha * (0.5 * data + lt * tv_subgradient(h) + 2 * le * h),
                           atol=1e-4) and lt + le > 0:
                raise ExerciseError("subgradient_step: the data term's gradient is 2 M^T (M h - g): "
                                    "the factor 2 is missing.")
        check_array(f"subgradient_step (lambda_tv={lt}, lambda_e={le}, alpha={alpha})", got, want,
                    atol=1e-4, rtol=1e-4,
                    hint="xi = 2 op.adjoint(op(h) - g) + lambda_tv * tv_subgradient(h) "
                         "+ 2 lambda_energy h")
    return True
