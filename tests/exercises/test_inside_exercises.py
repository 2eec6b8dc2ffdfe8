"""Checkers of notebook 08 (inside CNNs): plausible wrong answers are named, other right answers
(another recursion, autodiff, TensorFlow) pass."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.exercises import ExerciseError
from cvkit.exercises import inside as ex
from cvkit.inside import backprop as B


def _rf(layers, stride_first=False, add=False, taps=-1, sign=-1):
    size, stride, offset = 1, 1, 0
    for k, s, p in layers:
        if stride_first:
            stride = stride + s if add else stride * s
        size += (k + taps) * stride
        offset += sign * p * stride
        if not stride_first:
            stride = stride + s if add else stride * s
    return size, stride, offset


@pytest.mark.parametrize("kwargs, named", [
    (dict(stride_first=True), "stride before the size"),
    (dict(add=True), "strides multiply"),
    (dict(taps=0), "k - 1 steps"),
    (dict(sign=1), "offset LEFT"),
])
def test_receptive_field_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_receptive_field(lambda layers: _rf(layers, **kwargs))


def test_receptive_field_other_answers():
    def backwards(layers):   # from the output back to the input: r = s r + (k - s)
        size = 1
        for k, s, _ in reversed(layers):
            size = s * size + (k - s)
        strides = np.cumprod([1] + [s for _, s, _ in layers])
        offset = -sum(p * j for (_, _, p), j in zip(layers, strides))
        return size, int(strides[-1]), offset

    def vectorised(layers):
        k, s, p = np.array(layers).T
        jumps = np.concatenate([[1], np.cumprod(s)[:-1]])
        return 1 + np.sum((k - 1) * jumps), np.prod(s), -np.sum(p * jumps)

    assert ex.check_receptive_field(backwards) and ex.check_receptive_field(vectorised)
    with pytest.raises(ExerciseError, match="three numbers"):
        ex.check_receptive_field(lambda layers: [1, 2])
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_receptive_field(lambda layers: None)


def _step(params, inputs, targets, eta, sequential=False, out_derivative=True, both=True,
          ascent=False, biases=False):
    p = dict(params)
    (i1, i2), (t1, t2) = inputs, targets
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h1 = sig(p["w1"] * i1 + p["w2"] * i2 + p["b1"])
    h2 = sig(p["w3"] * i1 + p["w4"] * i2 + p["b1"])
    o1 = sig(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
    o2 = sig(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    d1 = (o1 - t1) * (o1 * (1 - o1) if out_derivative else 1)
    d2 = (o2 - t2) * (o2 * (1 - o2) if out_derivative else 1)
    sign = 1 if ascent else -1
    out = dict(p)
    out.update(w5=p["w5"] + sign * eta * d1 * h1, w6=p["w6"] + sign * eta * d1 * h2,
               w7=p["w7"] + sign * eta * d2 * h1, w8=p["w8"] + sign * eta * d2 * h2)
    w = out if sequential else p   # the mistake: the hidden deltas read the updated weights
    e1 = (d1 * w["w5"] + (d2 * w["w7"] if both else 0)) * h1 * (1 - h1)
    e2 = (d1 * w["w6"] + (d2 * w["w8"] if both else 0)) * h2 * (1 - h2)
    out.update(w1=p["w1"] + sign * eta * e1 * i1, w2=p["w2"] + sign * eta * e1 * i2,
               w3=p["w3"] + sign * eta * e2 * i1, w4=p["w4"] + sign * eta * e2 * i2)
    if biases:
        out["b2"] = p["b2"] + sign * eta * (d1 + d2)
    return out


@pytest.mark.parametrize("kwargs, named", [
    (dict(sequential=True), "OLD w5..w8"),
    (dict(out_derivative=False), "derivative of the output"),
    (dict(both=False), "BOTH outputs"),
    (dict(ascent=True), "DESCENT"),
    (dict(biases=True), "b2 changed"),
])
def test_backprop_step_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_backprop_step(lambda *args: _step(*args, **kwargs))


def test_backprop_step_other_answers():
    assert ex.check_backprop_step(_step)

    def autodiff(params, inputs, targets, eta):   # TensorFlow computes the gradients
        v = {k: tf.Variable(float(x), dtype=tf.float64) for k, x in params.items()}
        i1, i2 = inputs
        with tf.GradientTape() as tape:
            h1 = tf.sigmoid(v["w1"] * i1 + v["w2"] * i2 + v["b1"])
            h2 = tf.sigmoid(v["w3"] * i1 + v["w4"] * i2 + v["b1"])
            o1 = tf.sigmoid(v["w5"] * h1 + v["w6"] * h2 + v["b2"])
            o2 = tf.sigmoid(v["w7"] * h1 + v["w8"] * h2 + v["b2"])
            error = 0.5 * (targets[0] - o1) ** 2 + 0.5 * (targets[1] - o2) ** 2
        names = [f"w{i}" for i in range(1, 9)]
        grads = tape.gradient(error, [v[k] for k in names])
        new = dict(params)
        new.update({k: params[k] - eta * float(g) for k, g in zip(names, grads)})
        return new

    def matrices(params, inputs, targets, eta):   # the layers as 2 x 2 matrices
        p = params
        W1 = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
        W2 = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
        x, t = np.array(inputs), np.array(targets)
        h = 1 / (1 + np.exp(-(W1 @ x + p["b1"])))
        o = 1 / (1 + np.exp(-(W2 @ h + p["b2"])))
        d_o = (o - t) * o * (1 - o)
        d_h = (W2.T @ d_o) * h * (1 - h)
        W1, W2 = W1 - eta * np.outer(d_h, x), W2 - eta * np.outer(d_o, h)
        return dict(p, w1=W1[0, 0], w2=W1[0, 1], w3=W1[1, 0], w4=W1[1, 1],
                    w5=W2[0, 0], w6=W2[0, 1], w7=W2[1, 0], w8=W2[1, 1])

    assert ex.check_backprop_step(autodiff) and ex.check_backprop_step(matrices)
    assert ex.check_backprop_step(lambda p, x, t, eta: B.sgd_step(p, B.backward(p, x, t), eta))


def _bn(x, gamma, beta, eps, axes="batch", ddof=0, eps_inside=True, swap=False):
    over = {"batch": tuple(range(x.ndim - 1)), "all": None, "channels": -1, "first": 0}[axes]
    mean, var = x.mean(over, keepdims=True), x.var(over, ddof=ddof, keepdims=True)
    x_hat = (x - mean) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)
    return beta * x_hat + gamma if swap else gamma * x_hat + beta


@pytest.mark.parametrize("kwargs, named", [
    (dict(ddof=1), "unbiased"),
    (dict(eps_inside=False), "inside the square root"),
    (dict(swap=True), "swapped"),
    (dict(axes="all"), "every axis but the last"),
    (dict(axes="channels"), "layer norm"),
])
def test_batchnorm_forward_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_batchnorm_forward(lambda *args: _bn(*args, **kwargs))


def test_batchnorm_forward_per_position_and_missing_affine():
    # the first case is 2-D, where axis 0 is every axis but the last: the image case names it
    with pytest.raises(ExerciseError, match="AND the positions"):
        ex.check_batchnorm_forward(lambda *args: _bn(*args, axes="first"))
    with pytest.raises(ExerciseError, match="gamma and beta are missing"):
        ex.check_batchnorm_forward(lambda x, g, b, eps: _bn(x, 1.0, 0.0, eps))


def test_batchnorm_forward_other_answers():
    assert ex.check_batchnorm_forward(_bn)

    def with_tf(x, gamma, beta, eps):
        mean, var = tf.nn.moments(tf.constant(x), axes=list(range(x.ndim - 1)))
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, eps)

    def flattened(x, gamma, beta, eps):   # every value of a channel in one column
        flat = x.reshape(-1, x.shape[-1])
        y = (flat - flat.mean(0)) / np.sqrt(((flat - flat.mean(0)) ** 2).mean(0) + eps)
        return (gamma * y + beta).reshape(x.shape)

    assert ex.check_batchnorm_forward(with_tf) and ex.check_batchnorm_forward(flattened)
