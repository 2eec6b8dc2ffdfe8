"""Checkers of notebook 00 (datasets and preprocessing): plausible wrong answers are named,
other right answers (TensorFlow, Keras, SVD, ZCA, np.cov's default) pass."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit.exercises import ExerciseError
from cvkit.exercises.datasets import check_channel_standardize, check_flip_box, check_whiten


def _overwrite_in_place(box):
    box[0] = 1 - box[2]
    box[2] = 1 - box[0]   # reads the new box[0]
    return box


@pytest.mark.parametrize("wrong, named", [
    (lambda b: np.array([1 - b[0], b[1], 1 - b[2], b[3]]), "x_min > x_max"),
    (lambda b: np.array([b[0], 1 - b[3], b[2], 1 - b[1]]), "flipped y"),
    (lambda b: np.array([1 - b[2], 1 - b[3], 1 - b[0], 1 - b[1]]), "y \\(upside down\\) as well"),
    (lambda b: np.array([b[2], b[1], b[0], b[3]]), "did not mirror"),
    (_overwrite_in_place, "overwrote box\\[0\\]"),
])
def test_flip_box_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_flip_box(wrong)


def test_flip_box_accepts_other_right_answers():
    assert check_flip_box(lambda b: [1 - b[2], b[1], 1 - b[0], b[3]])           # a list
    assert check_flip_box(lambda b: tf.stack([1 - b[2], b[1], 1 - b[0], b[3]]))  # TensorFlow
    assert check_flip_box(lambda b: np.abs(np.array([1, 0, 1, 0]) - b[[2, 1, 0, 3]]))
    with pytest.raises(ExerciseError, match="None"):
        check_flip_box(lambda b: None)


def _standardize(x_train, x_test, stats="train", axes=(0, 1, 2), scale=True, apply_test=True):
    fit = {"train": x_train, "both": np.concatenate([x_train, x_test])}[stats]
    mean = fit.mean(axis=axes)
    std = fit.std(axis=axes) if scale else 1.0
    return (x_train - mean) / std, ((x_test - mean) / std if apply_test else x_test)


@pytest.mark.parametrize("kwargs, named", [
    (dict(stats="both"), "Data leakage"),
    (dict(axes=0), "each pixel separately"),
    (dict(axes=None), "for all the channels"),
    (dict(scale=False), "did not divide"),
    (dict(apply_test=False), "x_test unchanged"),
])
def test_channel_standardize_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        check_channel_standardize(lambda tr, te: _standardize(tr, te, **kwargs))


def test_channel_standardize_names_per_image_and_own_test_statistics():
    def own(tr, te):
        return _standardize(tr, tr)[0], _standardize(te, te)[0]

    def per_image(tr, te):
        f = lambda x: (x - x.mean((1, 2), keepdims=True)) / x.std((1, 2), keepdims=True)  # noqa
        return f(tr), f(te)

    with pytest.raises(ExerciseError, match="its own statistics"):
        check_channel_standardize(own)
    with pytest.raises(ExerciseError, match="each image"):
        check_channel_standardize(per_image)


def test_channel_standardize_accepts_other_right_answers():
    def with_tf(x_train, x_test):
        mean, var = tf.nn.moments(tf.constant(x_train), axes=[0, 1, 2])
        return (x_train - mean) / tf.sqrt(var), (x_test - mean) / tf.sqrt(var)

    def with_keras(x_train, x_test):
        norm = keras.layers.Normalization(axis=-1)
        norm.adapt(x_train)
        return norm(x_train), norm(x_test)

    def unbiased(x_train, x_test):   # torch's default std: as good a choice
        flat = x_train.reshape(-1, 3)
        mean, std = flat.mean(0), flat.std(0, ddof=1)
        return (x_train - mean) / std, (x_test - mean) / std

    assert check_channel_standardize(_standardize) and check_channel_standardize(with_tf)
    assert check_channel_standardize(with_keras) and check_channel_standardize(unbiased)


def _whiten(x_train, x_test, centre=True, power=0.5, rotate=True, test_stats=False):
    mu = x_train.mean(0)
    lam, u = np.linalg.eigh(np.cov(x_train - mu, rowvar=False, bias=True))
    m = u / lam ** power if rotate else np.diag(1 / np.sqrt(np.diag(np.cov(x_train.T))))
    shift = mu if centre else 0.0
    test_shift = x_test.mean(0) if test_stats else shift
    return (x_train - shift) @ m, (x_test - test_shift) @ m


@pytest.mark.parametrize("kwargs, named", [
    (dict(centre=False), "not centred"),
    (dict(power=0.0), "variances are the eigenvalues"),
    (dict(power=1.0), "SQUARE ROOT"),
    (dict(rotate=False), "not decorrelated"),
    (dict(test_stats=True), "fitted on x_train"),
])
def test_whiten_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        check_whiten(lambda tr, te: _whiten(tr, te, **kwargs))


def test_whiten_accepts_other_right_answers():
    def svd(x_train, x_test):
        mu = x_train.mean(0)
        _, s, vt = np.linalg.svd(x_train - mu, full_matrices=False)
        m = vt.T / s * np.sqrt(len(x_train))
        return (x_train - mu) @ m, (x_test - mu) @ m

    def zca(x_train, x_test):   # rotated back: identity covariance as well
        mu = x_train.mean(0)
        lam, u = np.linalg.eigh(np.cov(x_train - mu, rowvar=False, bias=True))
        m = u @ np.diag(lam ** -0.5) @ u.T
        return (x_train - mu) @ m, (x_test - mu) @ m

    def numpy_cov_default(x_train, x_test):   # np.cov divides by N - 1
        mu = x_train.mean(0)
        lam, u = np.linalg.eigh(np.cov(x_train, rowvar=False))
        return (x_train - mu) @ (u / np.sqrt(lam)), (x_test - mu) @ (u / np.sqrt(lam))

    assert check_whiten(_whiten) and check_whiten(svd) and check_whiten(zca)
    assert check_whiten(numpy_cov_default)
