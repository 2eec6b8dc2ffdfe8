"""Checkers of notebook 04 (Augmented Grad-CAM): plausible wrong answers are named, other right
answers (NumPy slicing, TensorFlow, autodiff) pass."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.exercises import ExerciseError
from cvkit.exercises import augmented as ex


def _tv(h):
    return np.abs(np.diff(h, axis=0)).sum() + np.abs(np.diff(h, axis=1)).sum()


@pytest.mark.parametrize("wrong, named", [
    (lambda h: np.abs(np.diff(h, axis=1)).sum(), "one axis only"),
    (lambda h: (np.diff(h, axis=0) ** 2).sum() + (np.diff(h, axis=1) ** 2).sum(), "squared"),
    (lambda h: np.sqrt(np.diff(h, axis=0)[:, :-1] ** 2 + np.diff(h, axis=1)[:-1] ** 2).sum(),
     "isotropic"),
    (lambda h: np.abs(np.diff(h, axis=0)).mean() + np.abs(np.diff(h, axis=1)).mean(), "averaged"),
    (lambda h: np.abs(np.roll(h, -1, 0) - h).sum() + np.abs(np.roll(h, -1, 1) - h).sum(),
     "np.roll wraps"),
    (lambda h: np.diff(h, axis=0).sum() + np.diff(h, axis=1).sum(), "absolute value"),
])
def test_total_variation_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_total_variation(wrong)


def test_total_variation_accepts_other_right_answers():
    assert ex.check_total_variation(_tv)
    assert ex.check_total_variation(lambda h: np.abs(h[1:] - h[:-1]).sum()
                                    + np.abs(h[:, 1:] - h[:, :-1]).sum())
    assert ex.check_total_variation(lambda h: tf.image.total_variation(tf.constant(h[..., None])))
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        ex.check_total_variation(lambda h: 1 / 0)


def _subgradient(h, flip=1.0, rows=True, cols=True, sign=np.sign, both=True):
    g = np.zeros_like(h, dtype=np.float64)
    if rows:
        d = sign(np.diff(h, axis=0))
        g[1:] += d
        if both:
            g[:-1] -= d
    if cols:
        d = sign(np.diff(h, axis=1))
        g[:, 1:] += d
        if both:
            g[:, :-1] -= d
    return flip * g


@pytest.mark.parametrize("kwargs, named", [
    (dict(flip=-1.0), "sign is flipped"),
    (dict(cols=False), "one direction only"),
    (dict(sign=lambda d: np.where(d >= 0, 1.0, -1.0)), "sign\\(0\\) must be 0"),
    (dict(both=False), "touches two pixels"),
])
def test_tv_subgradient_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_tv_subgradient(lambda h: _subgradient(h, **kwargs))


def test_tv_subgradient_accepts_other_right_answers():
    assert ex.check_tv_subgradient(_subgradient)

    def autodiff(h):   # TensorFlow's gradient of |x| at 0 is sign(0) = 0
        x = tf.Variable(h)
        with tf.GradientTape() as tape:
            tv = tf.reduce_sum(tf.abs(x[1:] - x[:-1])) + tf.reduce_sum(tf.abs(x[:, 1:] - x[:, :-1]))
        return tape.gradient(tv, x)

    def padded(h):   # pad the signs with zeros and take backward differences
        sy = np.pad(np.sign(np.diff(h, axis=0)), ((1, 1), (0, 0)))
        sx = np.pad(np.sign(np.diff(h, axis=1)), ((0, 0), (1, 1)))
        return (sy[:-1] - sy[1:]) + (sx[:, :-1] - sx[:, 1:])

    assert ex.check_tv_subgradient(autodiff) and ex.check_tv_subgradient(padded)


def _step(h, g, op, lt, le, alpha, data=2.0, residual=1.0, energy=2.0, tv=1.0, step=-1.0):
    from cvkit.explain.augmented import tv_subgradient

    xi = (data * op.adjoint(residual * (op(h) - g)) + tv * lt * tv_subgradient(h)
          + energy * le * h)
    return h + step * alpha * xi


@pytest.mark.parametrize("kwargs, named", [
    (dict(step=1.0), "uphill"),
    (dict(data=1.0), "data term's gradient"),
    (dict(residual=-1.0), "not g - M h"),
    (dict(energy=1.0), "energy term's gradient"),
    (dict(energy=0.0), "energy term 2 lambda_e h is missing"),
    (dict(tv=-1.0), "TV term is added"),
])
def test_subgradient_step_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_subgradient_step(lambda *args: _step(*args, **kwargs))


def test_subgradient_step_accepts_other_right_answers():
    assert ex.check_subgradient_step(_step)

    def autodiff(h, g, op, lambda_tv, lambda_energy, alpha):   # the data and energy by the tape
        from cvkit.explain.augmented import tv_subgradient

        x = tf.Variable(h.astype(np.float64))
        residual = op(h) - g
        with tf.GradientTape() as tape:
            energy = lambda_energy * tf.reduce_sum(x ** 2)
        data = 2 * op.adjoint(residual)
        xi = data + lambda_tv * tv_subgradient(h) + tape.gradient(energy, x).numpy()
        return h - alpha * xi

    assert ex.check_subgradient_step(autodiff)
