"""Augmented Grad-CAM, the objective: total variation, its subgradient, the objective's value."""
import numpy as np
import pytest
import tensorflow as tf
from augmented_cases import H, PARAMS, W

from cvkit.explain import augmented as A
from cvkit.explain.augmented import objective


def test_total_variation_hand_worked():
    h = np.array([[0.0, 1.0], [2.0, 4.0]])
    # |2-0| + |4-1| (down) + |1-0| + |4-2| (right)
    assert A.total_variation(h) == pytest.approx(8.0)
    np.testing.assert_allclose(A.total_variation(np.stack([h, 2 * h])), [8.0, 16.0])
    np.testing.assert_allclose(A.tv_subgradient(h), [[-2.0, 0.0], [0.0, 2.0]])


def test_tv_subgradient_is_the_gradient_where_tv_is_smooth():
    h = tf.constant(np.random.default_rng(4).random((7, 9)), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(h)
        tv = objective._tv(h)
    assert float(tv) == pytest.approx(A.total_variation(h.numpy()))
    np.testing.assert_allclose(A.tv_subgradient(h.numpy()), tape.gradient(tv, h).numpy(),
                               atol=1e-6)


def test_tv_subgradient_satisfies_the_subgradient_inequality():
    rng = np.random.default_rng(5)
    h = np.round(rng.random((6, 6)) * 2) / 2          # many ties: differences equal to 0
    xi = A.tv_subgradient(h).astype(np.float64)
    for _ in range(20):
        z = rng.normal(size=h.shape)
        assert A.total_variation(z) >= A.total_variation(h) + np.sum(xi * (z - h)) - 1e-9


def test_grad_adjoint_is_the_transpose_of_grad():
    rng = np.random.default_rng(6)
    x = tf.constant(rng.random((5, 4)), tf.float32)
    py, px = (tf.constant(rng.random((5, 4)), tf.float32) for _ in range(2))
    dy, dx = objective._grad(x)
    lhs = float(tf.reduce_sum(dy * py) + tf.reduce_sum(dx * px))
    rhs = float(tf.reduce_sum(x * objective._grad_adjoint(py, px)))
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_objective_matches_numpy():
    rng = np.random.default_rng(7)
    hmap = rng.random((H, W)).astype(np.float32)
    g = rng.random((len(PARAMS), 6, 5)).astype(np.float32)
    warped = A.warp_maps(hmap, PARAMS).astype(np.float64)
    low = warped.reshape(len(PARAMS), 6, 8, 5, 8).mean(axis=(2, 4))
    tv = np.abs(np.diff(hmap, axis=0)).sum() + np.abs(np.diff(hmap, axis=1)).sum()
    want = ((low - g) ** 2).sum() + 0.3 * tv + 0.01 * (hmap.astype(np.float64) ** 2).sum()
    got = A.superresolution_objective(hmap, g, PARAMS, lambda_tv=0.3, lambda_energy=0.01)
    assert got == pytest.approx(want, rel=1e-5)
