r"""Checkers for the exercises of ``notebooks/09_fcam.ipynb`` (F-CAM).

* :func:`check_seed_pools`: ``pools(cam_uint8, n_neg) -> (fg_pool, bg_pool)``, the foreground and
  background pools that F-CAM draws its seeds from (:func:`cvkit.wsol.fcam.seed_pools`).
* :func:`check_log_barrier`: ``psi(z, t)``, the log-barrier extension of the size constraint
  (:func:`cvkit.wsol.fcam.log_barrier`).

The references here are NumPy (no TensorFlow): the tests check them against :mod:`cvkit.wsol.fcam`.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_array

__all__ = ["check_seed_pools", "check_log_barrier", "seed_pool_cases", "log_barrier_cases"]


def seed_pool_cases():
    """The cases of :func:`check_seed_pools`: ``(cam_uint8 (H, W), n_neg, description)``.

    Every non-constant uint8 map has pixels at exactly its Otsu threshold (the last grey level of
    the dark class), so every case tells ``>`` from ``>=``; the third needs the lower clamp and the
    fourth the upper one; no ``n_neg * H * W`` is an integer, so ``int`` differs from ``round``
    or ``ceil`` somewhere.

    Returns
    -------
    list of tuple

    Examples
    --------
    >>> [(cam.shape, n_neg, what) for cam, n_neg, what in seed_pool_cases()][:2]
    [((24, 20), 0.27, 'a blob on a noisy ground'), ((18, 18), 0.15, 'four grey levels')]
    """
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[:24, :20]
    blob = np.exp(-((yy - 10) ** 2 + (xx - 12) ** 2) / 40.0) + 0.2 * rng.random((24, 20))
    blob = np.floor(255 * (blob - blob.min()) / (blob.max() - blob.min()))
    levels = rng.permutation(np.repeat([20, 90, 160, 230], [120, 60, 90, 54])).reshape(18, 18)
    low = rng.permutation(np.repeat([0, 1, 2], [100, 50, 50])).reshape(10, 20)
    ramp = np.add.outer(np.arange(15) * 7, np.arange(13) * 3)
    return [(blob.astype(np.uint8), 0.27, "a blob on a noisy ground"),
            (levels.astype(np.uint8), 0.15, "four grey levels"),
            (low.astype(np.uint8), 0.333, "Otsu's threshold is 0: it must be clamped up to 1"),
            (np.full((9, 11), 255, np.uint8), 0.4,
             "a map saturated at 255: Otsu's 255 must be clamped down to 254"),
            (ramp.astype(np.uint8), 0.45, "a ramp")]


def _otsu_clamped(cam):
    from ..segmentation import otsu_threshold

    t = int(otsu_threshold(cam))
    return t, int(np.clip(t, 1, 254))


def _as_mask(got, name, shape):
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{name}: expected a mask array, got {type(got).__name__}.") from exc
    if arr.shape != shape:
        raise ExerciseError(f"{name}: wrong shape: expected {shape} (one entry per pixel), got "
                            f"{arr.shape}.")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ExerciseError(f"{name}: a pool is a mask: True / False or 1 / 0 per pixel; got "
                            f"values such as {arr[~np.isin(arr, (0.0, 1.0))][0]:g}.")
    return arr > 0


def _check_foreground(fg, cam, what):
    raw, t = _otsu_clamped(cam)
    if np.array_equal(fg, cam > t):
        print(f"Correct: fg_pool on {what}")
        return
    if raw != t and np.array_equal(fg, cam > raw):     # (the cases before catch a >= alone)
        raise ExerciseError(f"fg_pool on {what}: Otsu gives {raw}; clamp the threshold to "
                            f"[1, 254] first (np.clip(t, 1, 254) = {t}), then take cam > t.")
    if np.array_equal(fg, cam >= t):
        raise ExerciseError(f"fg_pool on {what}: pixels equal to the threshold t = {t} are "
                            "background: the foreground is cam > t, not cam >= t.")
    if np.array_equal(fg, cam <= t) or np.array_equal(fg, cam < t):
        raise ExerciseError(f"fg_pool on {what}: the foreground is the pixels ABOVE the threshold "
                            f"(cam > {t}).")
    check_array(f"fg_pool on {what}", fg, cam > t,
                hint=f"cam > t with t = np.clip(otsu(cam), 1, 254) = {t}; no erosion here.")


def _check_background(bg, cam, n_neg, what):
    n = int(n_neg * cam.size)
    count = int(bg.sum())
    if count != n:
        hint = (" Off by one: int() rounds down; do not round or add 1." if abs(count - n) == 1
                else "")
        raise ExerciseError(f"bg_pool on {what}: the background holds int(n_neg * H * W) = "
                            f"int({n_neg} * {cam.size}) = {n} pixels; yours holds {count}.{hint}")
    inside, outside = cam[bg], cam[~bg]
    if outside.size and inside.max() > outside.min():
        if inside.min() >= outside.max():
            raise ExerciseError(f"bg_pool on {what}: you took the highest values; the background "
                                f"is the {n} pixels with the LOWEST values (np.argsort ascending).")
        raise ExerciseError(f"bg_pool on {what}: a pixel of value {inside.max()} is in the "
                            f"background while one of value {outside.min()} is not: take the {n} "
                            "lowest values.")
    print(f"Correct: bg_pool on {what}")


def check_seed_pools(pools_fn):
    r"""Check ``pools_fn(cam_uint8, n_neg) -> (fg_pool, bg_pool)``, the pools of F-CAM's seeds.

    For a uint8 map ``cam`` (H, W):

    * foreground pool: :math:`\{p : cam(p) > t\}` with :math:`t` Otsu's threshold of ``cam``
      (:func:`cvkit.segmentation.otsu_threshold` or ``skimage.filters.threshold_otsu``) clamped
      to [1, 254]. **No erosion here**: the library (:func:`cvkit.wsol.fcam.seed_pools`)
      then erodes this pool once with an 11 x 11 square; the exercise stops before that;
    * background pool: the ``int(n_neg * H * W)`` pixels with the lowest values (among equal
      values, any choice is accepted).

    Masks may be booleans or 0 / 1 numbers.

    Parameters
    ----------
    pools_fn : callable
        The student's function, called on the cases of :func:`seed_pool_cases`.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that names the
        mistake (``>=`` for ``>``, a missing clamp, the highest values, an off-by-one count).

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.filters import threshold_otsu
    >>> def pools(cam, n_neg):
    ...     fg = cam > np.clip(threshold_otsu(cam), 1, 254)
    ...     bg = np.zeros(cam.size, bool)
    ...     bg[np.argsort(cam, axis=None)[:int(n_neg * cam.size)]] = True
    ...     return fg, bg.reshape(cam.shape)
    >>> check_seed_pools(pools)   # doctest: +ELLIPSIS
    Correct: fg_pool on a blob on a noisy ground
    Correct: bg_pool on a blob on a noisy ground
    ...
    All seed pools are right.
    True
    >>> def pools_geq(cam, n_neg):
    ...     return cam >= np.clip(threshold_otsu(cam), 1, 254), pools(cam, n_neg)[1]
    >>> check_seed_pools(pools_geq)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: fg_pool on a blob on a noisy ground: pixels equal to the threshold t = ... are background: the foreground is cam > t, not cam >= t.
    """
    if not callable(pools_fn):
        raise ExerciseError(f"pass your function itself, not {type(pools_fn).__name__}.")
    for cam, n_neg, what in seed_pool_cases():
        got = call_student(pools_fn, f"pools(cam, {n_neg}) on {what}", cam.copy(), n_neg)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError(f"pools on {what}: return two masks, (fg_pool, bg_pool); got "
                                f"{type(got).__name__}.")
        _check_foreground(_as_mask(got[0], f"fg_pool on {what}", cam.shape), cam, what)
        _check_background(_as_mask(got[1], f"bg_pool on {what}", cam.shape), cam, n_neg, what)
    print("All seed pools are right.")
    return True


def _psi(z, t, switch=None, strict=False, constant=True, log_term=True, sign=-1.0):
    """The log-barrier extension and its usual mistakes (the switch point, a constant of the
    linear piece, the sign of the log)."""
    z = np.asarray(z, np.float64)
    switch = -1.0 / t ** 2 if switch is None else switch
    with np.errstate(invalid="ignore", divide="ignore"):
        barrier = sign * np.log(-z) / t
    line = t * z - (np.log(1.0 / t ** 2) / t if log_term else 0.0) + (1.0 / t if constant else 0.0)
    return np.where(z < switch if strict else z <= switch, barrier, line)


def log_barrier_cases():
    """The cases of :func:`check_log_barrier`: ``(z (3, 4), t)``, with values on both pieces,
    at the switch :math:`-1/t^2` and between :math:`-1/t` and :math:`-1/t^2`.

    Examples
    --------
    >>> [(z.shape, t) for z, t in log_barrier_cases()]
    [((3, 4), 1.0), ((3, 4), 2.0), ((3, 4), 5.0)]
    """
    out = []
    for t in (1.0, 2.0, 5.0):
        z = np.array([-20.0, -2.0, -1.0 / t, -0.7 / t, -1.0 / t ** 2, -0.5 / t ** 2, -1e-3, 0.0,
                      0.05, 0.5, 1.0, 3.0]).reshape(3, 4)
        out.append((z, t))
    return out


def _diagnose_barrier(got, z, t):
    """Name the mistake when ``got`` matches a known wrong version."""
    def same(ref):
        return got.shape == ref.shape and np.allclose(got, ref, atol=1e-6, rtol=1e-5)

    if same(_psi(z, t)):
        return
    if same(_psi(z, t, switch=-1.0 / t)) or same(_psi(z, t, switch=-1.0 / t, strict=True)):
        raise ExerciseError(f"psi(z, t={t:g}): wrong branch condition: the log piece holds for "
                            "z <= -1/t**2, not z <= -1/t.")
    if same(_psi(z, t, sign=1.0)):
        raise ExerciseError(f"psi(z, t={t:g}): the sign of the log piece: -(1/t) log(-z), which "
                            "grows as z approaches 0.")
    for kwargs, what in (({"constant": False}, "+ 1/t"),
                         ({"log_term": False}, "- (1/t) log(1/t**2)"),
                         ({"constant": False, "log_term": False}, "- (1/t) log(1/t**2) + 1/t")):
        if same(_psi(z, t, **kwargs)):
            raise ExerciseError(f"psi(z, t={t:g}): the linear piece misses the constant {what}: "
                                "it is t z - (1/t) log(1/t**2) + 1/t, so that both pieces meet "
                                "at z = -1/t**2.")


def check_log_barrier(psi_fn):
    r"""Check ``psi_fn(z, t)``, the log-barrier extension of the constraint :math:`z \le 0`
    (Kervadec et al. 2019), applied element by element to an array ``z``:

    .. math::
        \tilde\psi_t(z) = \begin{cases} -\frac1t \log(-z) & z \le -\frac{1}{t^2} \\
                         t z - \frac1t \log\frac{1}{t^2} + \frac1t & \text{otherwise} \end{cases}

    Parameters
    ----------
    psi_fn : callable
        The student's function, called on the (3, 4) arrays of :func:`log_barrier_cases` for
        t = 1, 2, 5 (NumPy's warnings about the log of a positive ``z`` are silenced).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that names the
        mistake (the switch at -1/t, the sign of the log, a missing constant, an ``if`` that does
        not work on arrays).

    Examples
    --------
    >>> import numpy as np
    >>> def psi(z, t):
    ...     with np.errstate(invalid="ignore", divide="ignore"):
    ...         log_piece = -np.log(-z) / t
    ...     return np.where(z <= -1 / t**2, log_piece, t * z - np.log(1 / t**2) / t + 1 / t)
    >>> check_log_barrier(psi)
    Correct: psi(z, t=1)
    Correct: psi(z, t=2)
    Correct: psi(z, t=5)
    True
    >>> def psi_at_one_over_t(z, t):
    ...     with np.errstate(invalid="ignore", divide="ignore"):
    ...         log_piece = -np.log(-z) / t
    ...     return np.where(z <= -1 / t, log_piece, t * z - np.log(1 / t**2) / t + 1 / t)
    >>> check_log_barrier(psi_at_one_over_t)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: psi(z, t=2): wrong branch condition: the log piece holds for z <= -1/t**2, not z <= -1/t.
    """
    if not callable(psi_fn):
        raise ExerciseError(f"pass your function itself, not {type(psi_fn).__name__}.")
    for z, t in log_barrier_cases():
        with np.errstate(all="ignore"):
            try:
                got = psi_fn(z.copy(), t)
            except NotImplementedError:
                raise
            except Exception as exc:
                call_student(psi_fn, f"psi({z.ravel()[1]:g}, t={t:g}) on one number",
                             float(z.ravel()[1]), t)
                raise ExerciseError(
                    f"psi(z, t={t:g}) on a (3, 4) array raised {type(exc).__name__} ({exc}), yet "
                    "works on one number: make it element-wise with np.where (no `if`, no "
                    "math.log).") from exc
        if got is not None and np.shape(got) != z.shape:
            raise ExerciseError(f"psi(z, t={t:g}): an array z of shape {z.shape} must give the "
                                f"same shape, one value per entry; got {np.shape(got)}.")
        arr = np.asarray(got, np.float64) if got is not None else None
        if arr is not None:
            _diagnose_barrier(arr, z, t)
        check_array(f"psi(z, t={t:g})", got, _psi(z, t), atol=1e-6, rtol=1e-5,
                    hint="the log piece for z <= -1/t**2, the line t z - (1/t) log(1/t**2) + 1/t "
                         "elsewhere (np.where picks per entry).")
    return True
