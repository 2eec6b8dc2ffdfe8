"""Tests for cvkit.detection.rpn: anchor labels against a brute force, sampling, the RPN loss."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.boxes import encode_deltas, pairwise_iou
from cvkit.detection import anchors, label_anchors, rpn_loss, sample_anchors, smooth_l1


def _brute_labels(a, g, H, W, hi=0.7, lo=0.3):
    iou = np.array([[_iou(x, y) for y in g] for x in a])
    inside = (a[:, 0] >= 0) & (a[:, 1] >= 0) & (a[:, 2] <= W) & (a[:, 3] <= H)
    labels = np.full(len(a), -1)
    for i in range(len(a)):
        if inside[i] and iou[i].max() < lo:
            labels[i] = 0
        if inside[i] and iou[i].max() > hi:
            labels[i] = 1
    for j in range(len(g)):
        col = np.where(inside, iou[:, j], -1)
        best = col.max()
        if best > 0:
            labels[(col == best) & inside] = 1
    return labels


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_label_anchors_brute_force():
    a = anchors((8, 8), 16, scales=(24, 48), ratios=(0.5, 1, 2)).astype(np.float64)
    g = np.array([[10, 12, 60, 50], [70, 70, 120, 126], [30, 80, 40, 100.0]])
    labels, targets, matched, max_iou = label_anchors(a, g, (128, 128))
    np.testing.assert_array_equal(labels, _brute_labels(a, g, 128, 128))
    pos = labels == 1
    np.testing.assert_allclose(targets[pos], encode_deltas(g[matched[pos]], a[pos]), atol=1e-5)
    assert np.all(targets[~pos] == 0)
    np.testing.assert_allclose(max_iou[labels >= 0],
                               pairwise_iou(a, g).max(1)[labels >= 0], atol=1e-6)
    # every box has a positive anchor, even the small third one whose best IoU is below 0.7
    for j in range(3):
        assert np.any(pos & (matched == j))


def test_label_anchors_cross_boundary_ignored():
    a = np.array([[-5, 0, 20, 20], [0, 0, 20, 20], [50, 50, 60, 60.0]])
    g = np.array([[0, 0, 20, 20.0]])
    labels, *_ = label_anchors(a, g, (64, 64))
    np.testing.assert_array_equal(labels, [-1, 1, 0])
    labels, *_ = label_anchors(a, g, ignore_cross_boundary=False)
    np.testing.assert_array_equal(labels, [1, 1, 0])  # IoU 0.8 > 0.7


def test_label_anchors_no_boxes_and_bad_input():
    a = anchors((4, 4), 16, scales=(16,), ratios=(1,))
    labels, targets, matched, _ = label_anchors(a, np.zeros((0, 4)), (64, 64))
    assert np.all(labels == 0) and np.all(matched == -1)
    with pytest.raises(ValueError, match="gt_boxes"):
        label_anchors(a, [[10, 10, 5, 20]], (64, 64))
    with pytest.raises(ValueError, match="image_size"):
        label_anchors(a, [[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="negative_iou"):
        label_anchors(a, [[0, 0, 5, 5]], (64, 64), positive_iou=0.3, negative_iou=0.5)


def test_sample_anchors():
    labels = np.array([1] * 200 + [0] * 1000 + [-1] * 50)
    s = sample_anchors(labels, 256, 0.5, seed=0)
    assert (s == 1).sum() == 128 and (s == 0).sum() == 128
    np.testing.assert_array_equal(s, sample_anchors(labels, 256, 0.5, seed=0))
    s = sample_anchors(np.array([1] * 10 + [0] * 1000), 256)
    assert (s == 1).sum() == 10 and (s == 0).sum() == 246


def test_rpn_loss_closed_form():
    rng = np.random.default_rng(0)
    A = 40
    logits = rng.normal(size=A).astype(np.float32)
    deltas = rng.normal(size=(A, 4)).astype(np.float32)
    targets = rng.normal(size=(A, 4)).astype(np.float32)
    labels = rng.choice([-1, 0, 1], size=A)
    total, cls, reg = rpn_loss(logits, deltas, labels, targets, lam=10.0, n_reg=25.0)
    used = labels >= 0
    p = 1 / (1 + np.exp(-logits))
    y = (labels == 1).astype(float)
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    want_cls = ce[used].sum() / used.sum()
    d = np.abs(deltas - targets)
    sl1 = np.where(d < 1, 0.5 * d ** 2, d - 0.5).sum(1)
    want_reg = sl1[labels == 1].sum() / 25.0
    np.testing.assert_allclose(float(cls), want_cls, rtol=1e-5)
    np.testing.assert_allclose(float(reg), want_reg, rtol=1e-5)
    np.testing.assert_allclose(float(total), want_cls + 10 * want_reg, rtol=1e-5)
    # gradients reach the predictions
    lt = tf.Variable(logits)
    with tf.GradientTape() as tape:
        t, _, _ = rpn_loss(lt, deltas, labels, targets)
    g = tape.gradient(t, lt).numpy()
    assert np.all(g[labels == -1] == 0) and np.any(g[labels >= 0] != 0)


def test_smooth_l1_is_the_box_loss_per_element():
    from cvkit.models import smooth_l1_box_loss

    x = np.array([[-2.0, -0.5, 0.0, 0.3], [0.99, 1.0, 1.5, 7.0]], np.float32)
    np.testing.assert_allclose(smooth_l1(x).numpy(),
                               np.where(np.abs(x) < 1, 0.5 * x ** 2, np.abs(x) - 0.5), rtol=1e-6)
    # one implementation: the localisation box loss is its mean over the four numbers
    np.testing.assert_allclose(smooth_l1(x, beta=0.1).numpy().mean(-1),
                               smooth_l1_box_loss(np.zeros_like(x), x, 0.1).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="`beta` must be > 0"):
        smooth_l1(x, beta=0.0)


def test_rpn_loss_bad_shapes():
    with pytest.raises(ValueError, match="labels"):
        rpn_loss(np.zeros(5), np.zeros((5, 4)), np.zeros(4), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="deltas"):
        rpn_loss(np.zeros(5), np.zeros((5, 3)), np.zeros(5), np.zeros((5, 3)))
