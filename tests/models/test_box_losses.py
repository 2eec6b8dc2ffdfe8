"""Box and multitask losses against Keras losses, NumPy GIoU and hand-worked values."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit import boxes as B
from cvkit.models import losses as L


def _boxes(rng, n):
    lo = rng.random((n, 2)) * 0.6
    return np.concatenate([lo, lo + 0.05 + 0.35 * rng.random((n, 2))], 1).astype(np.float32)


def test_l2_and_smooth_l1_match_keras(rng):
    t, p = _boxes(rng, 20), _boxes(rng, 20)
    np.testing.assert_allclose(L.l2_box_loss(t, p).numpy(),
                               keras.losses.MeanSquaredError(reduction=None)(t, p).numpy(),
                               rtol=1e-6)
    beta = 0.1  # smooth-L1 = Huber(delta=beta) / beta
    huber = keras.losses.Huber(delta=beta, reduction=None)(t, p).numpy()
    np.testing.assert_allclose(L.smooth_l1_box_loss(t, p, beta).numpy(), huber / beta, rtol=1e-5)
    # hand-worked: errors 0.05 (quadratic side) and 0.3 (linear side), beta 0.1
    got = L.smooth_l1_box_loss(np.zeros((1, 4), np.float32),
                               np.array([[0.05, 0.3, 0, 0]], np.float32), 0.1).numpy()
    np.testing.assert_allclose(got, [(0.5 * 0.05 ** 2 / 0.1 + 0.3 - 0.05) / 4], rtol=1e-6)


def test_giou_loss_matches_numpy(rng):
    t, p = _boxes(rng, 30), _boxes(rng, 30)
    np.testing.assert_allclose(L.giou_box_loss(t, p).numpy(), 1 - B.giou(t, p), atol=1e-6)


def test_box_loss_masks_images_without_object():
    t = np.array([[0.1, 0.1, 0.5, 0.5], L.NO_BOX, [np.nan] * 4, [0.2, 0.2, 0.6, 0.9]], np.float32)
    p = tf.Variable(np.full((4, 4), 0.3, np.float32))
    for kind in ("l2", "smooth_l1", "giou"):
        with tf.GradientTape() as tape:
            loss = L.box_loss(t, p, kind)
        grad = tape.gradient(loss, p).numpy()
        ref = L.BOX_LOSSES[kind](t[[0, 3]], p.numpy()[[0, 3]]).numpy().mean()
        np.testing.assert_allclose(loss.numpy(), ref, rtol=1e-6)
        assert np.all(np.isfinite(grad)) and np.all(grad[1:3] == 0)
    np.testing.assert_array_equal(L.box_mask(t).numpy(), [1, 0, 0, 1])


def test_box_loss_all_masked_is_zero_not_nan():
    p = tf.Variable(np.full((2, 4), 0.3, np.float32))
    with tf.GradientTape() as tape:
        loss = L.box_loss(np.array([L.NO_BOX, L.NO_BOX], np.float32), p, "giou")
    assert loss.numpy() == 0 and np.all(tape.gradient(loss, p).numpy() == 0)


def test_classification_loss_matches_keras(rng):
    probs = rng.dirichlet(np.ones(4), size=10).astype(np.float32)
    labels = rng.integers(0, 4, 10)
    ref = keras.losses.SparseCategoricalCrossentropy()(labels, probs).numpy()
    np.testing.assert_allclose(L.classification_loss(labels, probs).numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(L.classification_loss(np.eye(4)[labels], probs).numpy(), ref,
                               rtol=1e-6)
    p1 = rng.random((10, 1)).astype(np.float32)
    y1 = rng.integers(0, 2, 10)
    ref1 = keras.losses.BinaryCrossentropy()(y1[:, None].astype(np.float32), p1).numpy()
    np.testing.assert_allclose(L.classification_loss(y1, p1).numpy(), ref1, rtol=1e-5)


def test_multitask_loss_is_weighted_sum(rng):
    probs = rng.dirichlet(np.ones(3), size=6).astype(np.float32)
    labels = rng.integers(0, 3, 6)
    t, p = _boxes(rng, 6), _boxes(rng, 6)
    total, l_cls, l_box = L.multitask_loss({"classifier": labels, "localizer": t}, (probs, p),
                                           box_weight=5.0, cls_weight=0.5, box_loss_kind="l2")
    ce = -np.log(probs[np.arange(6), labels]).mean()
    mse = ((t - p) ** 2).mean()
    np.testing.assert_allclose([l_cls.numpy(), l_box.numpy()], [ce, mse], rtol=1e-5)
    np.testing.assert_allclose(total.numpy(), 0.5 * ce + 5.0 * mse, rtol=1e-5)
    # sample weights multiply each image's terms
    sw = np.array([1, 0, 1, 0, 1, 0], np.float32)
    _, l_cls_w, l_box_w = L.multitask_loss((labels, t), (probs, p), sample_weight=sw)
    keep = sw > 0
    np.testing.assert_allclose(l_cls_w.numpy(), -np.log(probs[keep, labels[keep]]).sum() / 6,
                               rtol=1e-5)
    np.testing.assert_allclose(l_box_w.numpy(), ((t[keep] - p[keep]) ** 2).mean(1).sum() / 6,
                               rtol=1e-5)


def test_keypoint_l2_loss_closed_form():
    t = np.zeros((1, 2, 2), np.float32)
    p = np.array([[[3.0, 4.0], [0.0, 1.0]]], np.float32)
    np.testing.assert_allclose(L.keypoint_l2_loss(t, p).numpy(), [(25 + 1) / 2])


def test_box_loss_class_in_compile_masks(rng):
    loss = L.BoxLoss("giou")
    t = np.array([[0.1, 0.1, 0.5, 0.5], L.NO_BOX], np.float32)
    p = _boxes(rng, 2)
    np.testing.assert_allclose(loss(t, p).numpy(), (1 - B.giou(t[:1], p[:1]))[0] / 2, rtol=1e-5)
    assert L.BoxLoss.from_config(loss.get_config()).kind == "giou"


def test_bad_inputs():
    with pytest.raises(ValueError, match="`kind` must be one of"):
        L.box_loss(np.zeros((1, 4)), np.zeros((1, 4)), "l3")
    with pytest.raises(ValueError, match="'classifier' and 'localizer'"):
        L.multitask_loss({"labels": 0}, (np.zeros((1, 2)), np.zeros((1, 4))))
    with pytest.raises(ValueError, match="`y_pred`"):
        L.multitask_loss((np.zeros(1), np.zeros((1, 4))), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="`kind`"):
        L.BoxLoss(kind=3)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        L.BoxLoss(kind="iou")
