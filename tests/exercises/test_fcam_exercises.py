"""The F-CAM exercise checkers (cvkit.exercises.fcam) accept right answers written in different
ways, name the usual mistakes, and agree with cvkit.wsol.fcam."""
import math

import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.fcam import (check_log_barrier, check_seed_pools, log_barrier_cases,
                                  seed_pool_cases)
from cvkit.segmentation import otsu_threshold


# --- seed pools ---------------------------------------------------------------------------------

def pools_skimage(cam, n_neg):
    from skimage.filters import threshold_otsu

    fg = cam > np.clip(threshold_otsu(cam), 1, 254)
    bg = np.zeros(cam.size, bool)
    bg[np.argsort(cam, axis=None, kind="stable")[:int(n_neg * cam.size)]] = True
    return fg, bg.reshape(cam.shape)


def _histogram_otsu(cam):
    p = np.bincount(cam.ravel(), minlength=256) / cam.size
    w0, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    between = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return int(np.argmax(between))


def pools_by_hand(cam, n_neg):
    """Otsu from the histogram, argpartition (another choice among ties), float masks."""
    t = min(max(_histogram_otsu(cam), 1), 254)
    n = int(n_neg * cam.shape[0] * cam.shape[1])
    flat = cam.astype(float).ravel()
    bg = np.zeros_like(flat)
    bg[np.argpartition(flat, n - 1)[:n]] = 1.0
    return (cam > t).astype(np.float32), bg.reshape(cam.shape)


def test_seed_pool_checker_accepts_two_right_answers():
    assert check_seed_pools(pools_skimage)
    assert check_seed_pools(pools_by_hand)


def _fg_with(threshold):
    def pools(cam, n_neg):
        return threshold(cam), pools_skimage(cam, n_neg)[1]
    return pools


def _bg_with(choose):
    def pools(cam, n_neg):
        bg = np.zeros(cam.size, bool)
        bg[choose(cam, n_neg)] = True
        return pools_skimage(cam, n_neg)[0], bg.reshape(cam.shape)
    return pools


@pytest.mark.parametrize("wrong, match", [
    (_fg_with(lambda c: c >= np.clip(otsu_threshold(c), 1, 254)), "cam > t, not cam >= t"),
    (_fg_with(lambda c: c > otsu_threshold(c)), "clamp the threshold to \\[1, 254\\]"),
    (_fg_with(lambda c: c <= np.clip(otsu_threshold(c), 1, 254)), "ABOVE the threshold"),
    (_fg_with(lambda c: c > np.clip(otsu_threshold(c), 1, 254) + 1), "fg_pool.*wrong value"),
    (_bg_with(lambda c, n: np.argsort(c, axis=None)[::-1][:int(n * c.size)]), "highest values"),
    (_bg_with(lambda c, n: np.argsort(c, axis=None)[:round(n * c.size)]), "Off by one"),
    (_bg_with(lambda c, n: np.argsort(c, axis=None)[:int(n * c.size) + 1]), "Off by one"),
    (_bg_with(lambda c, n: np.arange(int(n * c.size))), "lowest values"),     # the first pixels
])
def test_seed_pool_checker_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        check_seed_pools(wrong)


def test_seed_pool_checker_shapes_and_types():
    with pytest.raises(ExerciseError, match="two masks"):
        check_seed_pools(lambda cam, n_neg: pools_skimage(cam, n_neg)[0])
    with pytest.raises(ExerciseError, match="wrong shape"):
        check_seed_pools(lambda cam, n_neg: (np.argwhere(pools_skimage(cam, n_neg)[0]),
                                             pools_skimage(cam, n_neg)[1]))
    with pytest.raises(ExerciseError, match="a pool is a mask"):
        check_seed_pools(lambda cam, n_neg: (cam / 255.0, pools_skimage(cam, n_neg)[1]))
    with pytest.raises(ExerciseError, match="raised KeyError"):
        check_seed_pools(lambda cam, n_neg: {}["x"])
    with pytest.raises(ExerciseError, match="your function itself"):
        check_seed_pools(pools_skimage(*seed_pool_cases()[0][:2]))


def test_seed_pool_cases_carry_the_traps():
    cases = seed_pool_cases()
    for cam, n_neg, _ in cases:
        assert cam.dtype == np.uint8
        assert n_neg * cam.size != int(n_neg * cam.size)                # int differs from float
        t = otsu_threshold(cam)
        if cam.min() != cam.max():
            assert (cam == t).any()                                     # > and >= differ
    assert otsu_threshold(cases[2][0]) == 0 and (cases[2][0] == 1).any()   # the lower clamp
    assert otsu_threshold(cases[3][0]) == 255                            # the upper clamp
    assert any(round(n * c.size) != int(n * c.size) for c, n, _ in cases)


def test_seed_pool_reference_is_the_library_without_erosion():
    """cvkit.wsol.fcam.seed_pools with erode=1 on cam / 255 passes the checker."""
    import tensorflow as tf

    from cvkit.wsol.fcam import seed_pools

    def pools_library(cam, n_neg):
        fg, bg = seed_pools(tf.constant(cam[None] / 255.0, tf.float32), n_neg=n_neg, erode=1)
        return fg.numpy()[0], bg.numpy()[0]

    assert check_seed_pools(pools_library)


# --- log barrier --------------------------------------------------------------------------------

def psi_where(z, t):
    with np.errstate(invalid="ignore", divide="ignore"):
        log_piece = -np.log(-z) / t
    return np.where(z <= -1 / t ** 2, log_piece, t * z - np.log(1 / t ** 2) / t + 1 / t)


def psi_masks(z, t):
    """Boolean indexing into an output array: no log of a positive number is ever taken."""
    z = np.asarray(z, float)
    out = np.empty_like(z)
    inside = z <= -1.0 / (t * t)
    out[inside] = -np.log(-z[inside]) / t
    out[~inside] = t * z[~inside] + 2.0 * np.log(t) / t + 1.0 / t
    return out


def test_log_barrier_checker_accepts_two_right_answers():
    assert check_log_barrier(psi_where)
    assert check_log_barrier(psi_masks)


def _line(z, t, constant=True, log_term=True):
    return t * z - (np.log(1 / t ** 2) / t if log_term else 0) + (1 / t if constant else 0)


def _where(cond, z, t, sign=-1.0, **line):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cond, sign * np.log(-z) / t, _line(z, t, **line))


def psi_if(z, t):
    if z <= -1 / t ** 2:
        return -math.log(-z) / t
    return t * z - math.log(1 / t ** 2) / t + 1 / t


@pytest.mark.parametrize("wrong, match", [
    (lambda z, t: _where(z <= -1 / t, z, t), "wrong branch condition.*-1/t\\*\\*2"),
    (lambda z, t: _where(z < -1 / t, z, t), "wrong branch condition"),
    (lambda z, t: _where(z <= -1 / t ** 2, z, t, constant=False), "misses the constant \\+ 1/t"),
    (lambda z, t: _where(z <= -1 / t ** 2, z, t, log_term=False),
     "misses the constant - \\(1/t\\) log"),
    (lambda z, t: _where(z <= -1 / t ** 2, z, t, sign=1.0), "sign of the log"),
    (psi_if, "element-wise with np.where"),
    (lambda z, t: float(np.mean(psi_where(z, t))), "same shape"),
    (lambda z, t: _where(z <= -1 / t ** 2, z, t) / t, "psi\\(z, t=2\\): wrong value"),
])
def test_log_barrier_checker_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        check_log_barrier(wrong)


def test_log_barrier_checker_other_failures():
    with pytest.raises(ExerciseError, match="got None"):
        check_log_barrier(lambda z, t: None)
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check_log_barrier(lambda z, t: 1 / 0)
    with pytest.raises(NotImplementedError):
        check_log_barrier(lambda z, t: (_ for _ in ()).throw(NotImplementedError()))


def test_log_barrier_reference_is_the_library():
    from cvkit.wsol.fcam import log_barrier

    for z, t in log_barrier_cases():
        np.testing.assert_allclose(log_barrier(z, t).numpy(), psi_where(z, t), rtol=1e-5,
                                   atol=1e-6)
