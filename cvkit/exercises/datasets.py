"""Checkers for ``notebooks/00_datasets_and_preprocessing.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.preprocessing`; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that
says what is wrong, and a statistic taken from the test split is reported as a leak.
"""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from . import ExerciseError, call_student, check_array, check_mistakes

__all__ = ["check_flip_box", "check_channel_standardize", "check_whiten"]


def _split_with_shift(seed=0):
    rng = np.random.default_rng(seed)
    train = rng.random((20, 6, 6, 3)).astype(np.float32) * 0.6
    test = (rng.random((10, 6, 6, 3)) * 0.6 + 0.3).astype(np.float32)  # brighter: stats differ
    return train, test


def check_flip_box(flip_box):
    """``flip_box(box)`` mirrors a normalised xyxy box (4,) left-right.

    Parameters
    ----------
    flip_box : callable
        The student's function, called on three float32 boxes (one of them the whole image).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (x_min and
        x_max left in the wrong order is named).

    Examples
    --------
    >>> import numpy as np
    >>> check_flip_box(lambda b: np.array([1 - b[2], b[1], 1 - b[0], b[3]]))
    Correct: flip_box([0.1, 0.2, 0.4, 0.9])
    Correct: flip_box([0.0, 0.0, 1.0, 1.0])
    Correct: flip_box([0.55, 0.3, 0.75, 0.35])
    True
    >>> check_flip_box(lambda b: np.array([1 - b[0], b[1], 1 - b[2], b[3]]))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: flip_box: x_min > x_max in your box: after mirroring, the old x_max becomes the new x_min (1 - x_max).
    """
    for box in ([0.1, 0.2, 0.4, 0.9], [0.0, 0.0, 1.0, 1.0], [0.55, 0.3, 0.75, 0.35]):
        x0, y0, x1, y1 = box
        got = call_student(flip_box, f"flip_box({box})", np.array(box, np.float32))
        check_mistakes(f"flip_box({box})", got, [1 - x1, y0, 1 - x0, y1], [
            ("a horizontal flip mirrors x only; you flipped y (upside down) as well.",
             [1 - x1, 1 - y1, 1 - x0, 1 - y0]),
            ("a horizontal flip mirrors x only; you flipped y (upside down) instead.",
             [x0, 1 - y1, x1, 1 - y0]),
            ("you swapped x_min and x_max but did not mirror them: the new x_min is 1 - x_max.",
             [x1, y0, x0, y1]),
            ("you overwrote box[0] before reading it for the new x_max: read x_min and x_max "
             "first (x0, y0, x1, y1 = box), or work on a copy.", [1 - x1, y0, x1, y1]),
        ], atol=1e-6)
        got_arr = np.asarray(to_numpy(got), np.float64)
        if got_arr.shape == (4,) and got_arr[0] > got_arr[2]:
            raise ExerciseError("flip_box: x_min > x_max in your box: after mirroring, the old "
                                "x_max becomes the new x_min (1 - x_max).")
        check_array(f"flip_box({box})", got, [1 - x1, y0, 1 - x0, y1], atol=1e-6)
    return True


def check_channel_standardize(channel_standardize):
    """``channel_standardize(x_train, x_test) -> (train_out, test_out)``: ResNet-style per-channel
    standardisation with the statistics of the training split only.

    Parameters
    ----------
    channel_standardize : callable
        The student's function, called on a (20, 6, 6, 3) training split and a brighter
        (10, 6, 6, 3) test split, so that statistics taken from the wrong split show.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (statistics
        of train + test, of the test split alone, or per pixel are named).

    Examples
    --------
    >>> import numpy as np
    >>> def channel_standardize(x_train, x_test):
    ...     mean, std = x_train.mean(axis=(0, 1, 2)), x_train.std(axis=(0, 1, 2))
    ...     return (x_train - mean) / std, (x_test - mean) / std
    >>> check_channel_standardize(channel_standardize)
    Correct: train_out
    Correct: test_out
    True
    >>> def leaky(x_train, x_test):   # statistics of both splits
    ...     both = np.concatenate([x_train, x_test])
    ...     mean, std = both.mean(axis=(0, 1, 2)), both.std(axis=(0, 1, 2))
    ...     return (x_train - mean) / std, (x_test - mean) / std
    >>> check_channel_standardize(leaky)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: Data leakage: your statistics were computed on train + test together. ...
    """
    from ..preprocessing import ChannelStandardizer

    train, test = _split_with_shift()
    out = call_student(channel_standardize, "channel_standardize(x_train, x_test)", train.copy(),
                       test.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError("channel_standardize must return a pair (train_out, test_out).")
    got_train, got_test = (np.asarray(to_numpy(o), np.float64) for o in out)
    ref = ChannelStandardizer(eps=0).fit(train)
    right = (ref.transform(train), ref.transform(test))
    unbiased = (_standardize(train, train, ddof=1), _standardize(train, test, ddof=1))
    if _matches(got_train, unbiased[0]) and _matches(got_test, unbiased[1]):
        print("Correct: train_out and test_out (with the unbiased std, ddof=1: as good here)")
        return True
    for message, (train_out, test_out) in _standardize_mistakes(train, test, right):
        if _matches(got_train, train_out) and _matches(got_test, test_out) and not (
                _matches(got_train, right[0]) and _matches(got_test, right[1])):
            raise ExerciseError(message)
    check_array("train_out", got_train, right[0], atol=1e-4)
    check_array("test_out", got_test, right[1], atol=1e-4)
    return True


def _standardize(fit, x, axes=(0, 1, 2), ddof=0, scale=True):
    mean = fit.mean(axis=axes, keepdims=axes is not None)
    std = fit.std(axis=axes, ddof=ddof, keepdims=axes is not None) if scale else 1.0
    return (x - mean) / std


def _matches(got, want):
    return got.shape == np.shape(want) and np.allclose(got, want, atol=1e-4)


def _standardize_mistakes(train, test, right):
    """(explanation, (wrong train_out, wrong test_out)) of the usual mistakes."""
    both = np.concatenate([train, test])
    return [
        ("Data leakage: your statistics were computed on train + test together. Compute mean and "
         "std on x_train only, then apply them to both.",
         (_standardize(both, train), _standardize(both, test))),
        ("The test split was standardised with its own statistics: it must use the training "
         "mean and std (the test set is unseen data).",
         (_standardize(train, train), _standardize(test, test))),
        ("You standardised each pixel separately; ResNet uses one mean and one std per colour "
         "channel (average over axes 0, 1, 2).",
         (_standardize(train, train, axes=0), _standardize(train, test, axes=0))),
        ("You used one mean and one std for all the channels; ResNet keeps one per colour "
         "channel: average over axes (0, 1, 2), not over every axis.",
         (_standardize(train, train, axes=None), _standardize(train, test, axes=None))),
        ("You standardised each image with its own statistics; the statistics are those of the "
         "whole training split, per channel (axes 0, 1, 2).",
         (_standardize(train, train, axes=(1, 2)), _standardize(test, test, axes=(1, 2)))),
        ("You subtracted the mean but did not divide by the standard deviation.",
         (_standardize(train, train, scale=False), _standardize(train, test, scale=False))),
        ("test_out is x_test unchanged: apply the training mean and std to x_test as well.",
         (right[0], test)),
    ]


def check_whiten(whiten):
    """``whiten(x_train, x_test) -> (train_out, test_out)`` on (N, D) data: PCA whitening fitted on
    the training split; the training output must have identity covariance.

    Parameters
    ----------
    whiten : callable
        The student's function, called on 500 training and 50 test points of correlated 4-D
        Gaussian data.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (output
        still correlated, wrong variances, a different map on the test split).

    Examples
    --------
    >>> import numpy as np
    >>> def whiten(x_train, x_test):
    ...     mean = x_train.mean(axis=0)
    ...     cov = np.cov(x_train - mean, rowvar=False, bias=True)   # divide by N, as .std() does
    ...     values, vectors = np.linalg.eigh(cov)
    ...     w = vectors / np.sqrt(values)
    ...     return (x_train - mean) @ w, (x_test - mean) @ w
    >>> check_whiten(whiten)
    Correct: diagonal of the covariance of train_out
    Correct: test_out (the training map applied to x_test)
    True
    >>> def standardize(x_train, x_test):   # scales each feature but keeps them correlated
    ...     mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    ...     return (x_train - mean) / std, (x_test - mean) / std
    >>> check_whiten(standardize)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: train_out is not decorrelated: largest off-diagonal covariance 0.763. Project ...
    """
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(4, 4))
    train = rng.normal(size=(500, 4)) @ mix + 3.0
    test = rng.normal(size=(50, 4)) @ mix + 3.0
    out = call_student(whiten, "whiten(x_train, x_test)", train.copy(), test.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError("whiten must return a pair (train_out, test_out).")
    got_train, got_test = (np.asarray(to_numpy(o), np.float64) for o in out)
    if got_train.shape != train.shape:
        raise ExerciseError(f"train_out: expected shape {train.shape}, got {got_train.shape}.")
    _check_whitened(got_train, train)
    # the same linear map must be applied to the test split
    a, *_ = np.linalg.lstsq(np.c_[train, np.ones(len(train))], got_train, rcond=None)
    check_array("test_out (the training map applied to x_test)", got_test,
                np.c_[test, np.ones(len(test))] @ a, atol=1e-4,
                hint="apply the mean and the matrix fitted on x_train to x_test.")
    return True


def _check_whitened(got, train):
    """train_out must be centred, decorrelated and of unit variance (the covariance divided by
    N or by N - 1: both are accepted)."""
    mean = np.abs(got.mean(axis=0)).max()
    if mean > 1e-6:
        raise ExerciseError(f"train_out is not centred (a column mean is {mean:.3g}): subtract the "
                            "training mean before projecting.")
    cov = np.cov(got, rowvar=False, bias=True)
    off = np.abs(cov - np.diag(np.diag(cov))).max()
    if off > 1e-3:
        raise ExerciseError(f"train_out is not decorrelated: largest off-diagonal covariance "
                            f"{off:.3g}. Project the centred data on the eigenvectors of the "
                            "covariance matrix (the columns of np.linalg.eigh's second result).")
    var = np.sort(np.diag(cov))
    lam = np.sort(np.linalg.eigvalsh(np.cov(train, rowvar=False, bias=True)))
    if np.allclose(var, lam, rtol=1e-2):
        raise ExerciseError("train_out is decorrelated but its variances are the eigenvalues: "
                            "divide each projected component by the square root of its "
                            "eigenvalue.")
    if np.allclose(var, np.sort(1 / lam), rtol=1e-2):
        raise ExerciseError("the variances of train_out are 1 / eigenvalue: divide each projected "
                            "component by the SQUARE ROOT of its eigenvalue, not the eigenvalue.")
    n = len(train)
    if np.allclose(var, (n - 1) / n, atol=1e-6):   # np.cov's default ddof=1 is as good
        print("Correct: covariance of train_out (identity up to (N - 1) / N: np.cov's ddof=1)")
    else:
        check_array("diagonal of the covariance of train_out", np.diag(cov), np.ones(4),
                    atol=1e-3, hint="divide each projected component by the square root of its "
                                    "eigenvalue.")
