"""F-CAM's loss terms (cvkit.wsol.fcam.losses) against hand values, the dense O(N^2) NumPy CRF
and finite differences."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.wsol.fcam import (CRF_REFERENCE, bilateral_kernel, crf_loss, crf_loss_dense,
                             log_barrier, partial_cross_entropy, size_loss)


def test_partial_cross_entropy_hand_value():
    probs = np.array([[[[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]]],
                      [[[0.2, 0.8], [1.0, 0.0], [0.6, 0.4]]]], np.float32)   # (2, 1, 3, 2)
    fg = np.array([[[0, 1, 0]], [[1, 0, 0]]], np.float32)
    bg = np.array([[[1, 0, 0]], [[0, 0, 1]]], np.float32)                     # (1, 0, 2) ignored
    want = -(np.log(0.9) + np.log(0.7) + np.log(0.8) + np.log(0.6)) / 4
    got = float(partial_cross_entropy(tf.constant(probs), tf.constant(fg), tf.constant(bg)))
    assert got == pytest.approx(want, rel=1e-6)
    # a zero probability on a seed is floored at eps, never inf
    fg0 = np.zeros_like(fg)
    fg0[1, 0, 1] = 1.0                                     # foreground seed where S_fg = 0
    got0 = float(partial_cross_entropy(probs, fg0, np.zeros_like(bg), eps=1e-7))
    assert got0 == pytest.approx(-np.log(1e-7), rel=1e-5)
    assert float(partial_cross_entropy(probs, np.zeros_like(fg), np.zeros_like(bg))) == 0.0


def _random_case(rng, n, h, c=2):
    logits = rng.normal(size=(n, h, h, c)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return probs.astype(np.float32), rng.random((n, h, h, 3)).astype(np.float32)


@pytest.mark.parametrize("n, h, sigma_rgb, sigma_xy, weight", [
    (1, 6, 15.0, 100.0, 5.0),
    (2, 8, 15.0, 3.0, 1.0),
    (3, 12, 40.0, 5.0, 2.5),
    (2, 10, 5.0, 1.5, 1.0),
])
def test_crf_on_a_full_grid_equals_the_dense_numpy_loss(rng, n, h, sigma_rgb, sigma_xy, weight):
    probs, images = _random_case(rng, n, h)
    got = float(crf_loss(probs, images, sigma_rgb, sigma_xy, weight, grid=h))
    want = crf_loss_dense(probs, images, sigma_rgb, sigma_xy, weight)
    assert got == pytest.approx(want, rel=1e-4)


def _block_mean(x, f):
    n, h, w, c = x.shape
    return x.reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4))


@pytest.mark.parametrize("h, grid, sigma_xy", [(12, 4, 6.0), (16, 8, 3.0), (16, 4, 20.0)])
def test_crf_on_a_coarse_grid_is_the_dense_loss_of_the_block_means(rng, h, grid, sigma_xy):
    """On a grid of side g the maps and the images are averaged over blocks of f = H / g pixels;
    the cells sit f image pixels apart, so sigma_xy (in image pixels) is sigma_xy / f cells, and
    the weight stays normalised by the number of pairs (g^2)^2."""
    probs, images = _random_case(rng, 2, h)
    f = h // grid
    got = float(crf_loss(probs, images, 15.0, sigma_xy, 5.0, grid=grid))
    want = crf_loss_dense(_block_mean(probs, f), _block_mean(images, f), 15.0, sigma_xy / f, 5.0)
    assert got == pytest.approx(want, rel=1e-4)
    # ... and that is not the loss of the full-resolution maps
    assert got != pytest.approx(crf_loss_dense(probs, images, 15.0, sigma_xy, 5.0), rel=1e-3)


def test_crf_rewards_maps_that_follow_colour_edges_and_has_a_gradient():
    img = np.zeros((1, 16, 16, 3), np.float32)
    img[:, :, 8:] = 1.0
    good = np.stack([1 - img[..., 0], img[..., 0]], -1)
    bad = np.roll(good, 4, axis=2)
    assert float(crf_loss(good, img, grid=16)) < float(crf_loss(bad, img, grid=16)) < 0
    logits = tf.Variable(np.random.default_rng(1).normal(size=(2, 16, 16, 2)).astype(np.float32))
    images = tf.constant(np.random.default_rng(2).random((2, 16, 16, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = crf_loss(tf.nn.softmax(logits), images, sigma_xy=5.0, grid=8)
    grad = tape.gradient(loss, logits).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_bilateral_kernel_closed_form(rng):
    f = rng.normal(size=(2, 5, 3)).astype(np.float32)
    want = np.exp(-0.5 * ((f[:, :, None] - f[:, None]) ** 2).sum(-1))
    np.testing.assert_allclose(bilateral_kernel(tf.constant(f)).numpy(), want, rtol=1e-5, atol=1e-6)


def test_crf_reference_weight_is_lambda_times_pairs():
    assert CRF_REFERENCE["weight"] * CRF_REFERENCE["size"] ** 4 == pytest.approx(5.0, rel=0.01)


def test_crf_dense_bad_input():
    p, x = np.zeros((1, 4, 4, 2), np.float32), np.zeros((1, 4, 5, 3), np.float32)
    with pytest.raises(ValueError, match="`probs`.*`images`"):
        crf_loss_dense(p, x)
    with pytest.raises(ValueError, match="`sigma_xy`"):
        crf_loss_dense(p, np.zeros((1, 4, 4, 3), np.float32), sigma_xy=0.0)
    with pytest.raises(ValueError, match="`grid`"):
        crf_loss(p, np.zeros((1, 4, 4, 3), np.float32), grid=1)


def _psi(z, t):
    z = np.asarray(z, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        barrier = -np.log(-z) / t
    return np.where(z <= -1 / t ** 2, barrier, t * z - np.log(1 / t ** 2) / t + 1 / t)


@pytest.mark.parametrize("t", [1.0, 1.64, 2.0, 10.0])
def test_log_barrier_closed_form_on_both_branches(t):
    z0 = -1 / t ** 2
    z = np.array([-50.0, -3.0, -1.0, 2 * z0, z0, 0.5 * z0, 0.0, 0.3, 4.0])
    got = log_barrier(tf.constant(z, tf.float32), t).numpy()
    np.testing.assert_allclose(got, _psi(z, t), rtol=1e-5, atol=1e-5)
    assert got[0] == pytest.approx(-np.log(50.0) / t, rel=1e-6)               # the log branch
    assert got[-1] == pytest.approx(t * 4.0 + 2 * np.log(t) / t + 1 / t, rel=1e-6)   # the line
    # t may be a tensor or a variable (the model's barrier t)
    np.testing.assert_allclose(log_barrier(z, tf.Variable(t)).numpy(), got)


@pytest.mark.parametrize("t", [1.0, 2.0, 5.0])
def test_log_barrier_is_continuous_with_equal_slopes_at_the_switch(t):
    z0 = -1.0 / t ** 2
    eps = 1e-3 * abs(z0)
    f = lambda z: _psi(z, t)                                                     # noqa: E731
    left, right = -np.log(-z0) / t, t * z0 - np.log(1 / t ** 2) / t + 1 / t
    assert left == pytest.approx(right, abs=1e-12)
    slope_left = (f(z0) - f(z0 - eps)) / eps
    slope_right = (f(z0 + eps) - f(z0)) / eps
    assert slope_left == pytest.approx(t, rel=2e-3) and slope_right == pytest.approx(t, rel=1e-9)
    # the TensorFlow version: the same value on both sides and the gradient t on both sides
    z = tf.Variable([z0 - eps, z0, z0 + eps])
    with tf.GradientTape() as tape:
        out = log_barrier(z, t)
        total = tf.reduce_sum(out)
    vals, grads = out.numpy(), tape.gradient(total, z).numpy()
    np.testing.assert_allclose(vals, [f(z0 - eps), f(z0), f(z0 + eps)], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads, [t, t, t], rtol=2e-3)
    # no NaN from the unused log branch where z > 0
    zp = tf.Variable([0.5, 3.0])
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(log_barrier(zp, t))
    assert np.isfinite(tape.gradient(s, zp).numpy()).all()


def test_size_loss_hand_value():
    probs = np.zeros((2, 2, 2, 2), np.float32)
    probs[0, ..., 1] = 0.75                                # image 0: areas 1 (bg) and 3 (fg)
    probs[0, ..., 0] = 0.25
    probs[1, ..., 1] = 0.1                                 # image 1: areas 3.6 and 0.4
    probs[1, ..., 0] = 0.9
    t = 2.0                                                # switch at area 1 / t^2 = 0.25
    per_image = [_psi(-1.0, t) + _psi(-3.0, t), _psi(-3.6, t) + _psi(-0.4, t)]
    assert float(size_loss(tf.constant(probs), t)) == pytest.approx(np.mean(per_image), rel=1e-5)
    # an area under 1 / t^2 reads the linear piece: t z - (1/t) log(1/t^2) + 1/t
    tiny = np.zeros((1, 1, 2, 2), np.float32)
    tiny[0, 0, 0] = [0.9, 0.1]
    tiny[0, 0, 1] = [0.9, 0.1]                             # fg area 0.2 < 1, t = 1
    want = -np.log(1.8) + (-0.2 + 1.0)
    assert float(size_loss(tf.constant(tiny), 1.0)) == pytest.approx(want, rel=1e-5)


def test_maps_of_another_size_than_the_images_are_refused():
    import tensorflow as tf

    from cvkit.wsol.fcam import crf_loss, partial_cross_entropy

    probs = tf.fill((1, 8, 8, 2), 0.5)
    with pytest.raises(ValueError, match="`probs`.*`images`.*same \\(N, H, W\\)"):
        crf_loss(probs, tf.zeros((1, 16, 16, 3)), grid=4)
    with pytest.raises(ValueError, match="`probs`.*`fg`"):
        partial_cross_entropy(probs, tf.zeros((1, 4, 4)), tf.zeros((1, 8, 8)))
