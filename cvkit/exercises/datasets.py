"""Checkers for ``notebooks/00_datasets_and_preprocessing.ipynb``.

Each checker calls the student's function on fresh cases and compares it with the reference in
:mod:`cvkit.preprocessing`; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that
says what is wrong, and a statistic taken from the test split is reported as a leak.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, check_array

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
        got = flip_box(np.array(box, np.float32))
        got_arr = np.asarray(got, np.float64)
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
    out = channel_standardize(train.copy(), test.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError("channel_standardize must return a pair (train_out, test_out).")
    got_train, got_test = (np.asarray(o, np.float64) for o in out)
    ref = ChannelStandardizer(eps=0).fit(train)
    both = np.concatenate([train, test])
    leaked = ChannelStandardizer(eps=0).fit(both)
    if got_test.shape == test.shape and np.allclose(got_test, leaked.transform(test), atol=1e-4):
        raise ExerciseError("Data leakage: your statistics were computed on train + test together. "
                            "Compute mean and std on x_train only, then apply them to both.")
    own = ChannelStandardizer(eps=0).fit(test)
    if got_test.shape == test.shape and np.allclose(got_test, own.transform(test), atol=1e-4):
        raise ExerciseError("The test split was standardised with its own statistics: it must use "
                            "the training mean and std (the test set is unseen data).")
    if got_train.shape == train.shape:
        per_pixel = (train - train.mean(0)) / train.std(0)
        if np.allclose(got_train, per_pixel, atol=1e-4):
            raise ExerciseError("You standardised each pixel separately; ResNet uses one mean and "
                                "one std per colour channel (average over axes 0, 1, 2).")
    check_array("train_out", got_train, ref.transform(train), atol=1e-4)
    check_array("test_out", got_test, ref.transform(test), atol=1e-4)
    return True


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
    out = whiten(train.copy(), test.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError("whiten must return a pair (train_out, test_out).")
    got_train, got_test = (np.asarray(o, np.float64) for o in out)
    if got_train.shape != train.shape:
        raise ExerciseError(f"train_out: expected shape {train.shape}, got {got_train.shape}.")
    cov = np.cov(got_train, rowvar=False, bias=True)
    off = np.abs(cov - np.diag(np.diag(cov))).max()
    if off > 1e-3:
        raise ExerciseError(f"train_out is not decorrelated: largest off-diagonal covariance "
                            f"{off:.3g}. Project the centred data on the eigenvectors of the "
                            "covariance matrix.")
    check_array("diagonal of the covariance of train_out", np.diag(cov), np.ones(4), atol=1e-3,
                hint="divide each projected component by the square root of its eigenvalue.")
    # the same linear map must be applied to the test split
    a, *_ = np.linalg.lstsq(np.c_[train, np.ones(len(train))], got_train, rcond=None)
    check_array("test_out (the training map applied to x_test)", got_test,
                np.c_[test, np.ones(len(test))] @ a, atol=1e-4,
                hint="apply the mean and the matrix fitted on x_train to x_test.")
    return True
