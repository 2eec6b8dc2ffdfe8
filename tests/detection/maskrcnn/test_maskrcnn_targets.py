"""Mask R-CNN training targets in the graph against cvkit's NumPy building blocks
(label_anchors, encode_deltas, mask_targets, roi_align) and hand-worked samples."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.boxes import encode_deltas, pairwise_iou
from cvkit.detection import anchors, label_anchors, mask_targets, roi_align
from cvkit.detection.maskrcnn import (BOX_STD, image_seeds, match_anchors, mask_targets_graph,
                                      per_image_uniform, roi_align_graph, roi_targets,
                                      rpn_targets, sample_labels)


def _gt(rng, n_img=3, m=4, size=64):
    boxes = np.zeros((n_img, m, 4), np.float32)
    labels = np.full((n_img, m), -1, np.int32)
    masks = np.zeros((n_img, m, size, size), np.float32)
    for i in range(n_img):
        for j in range(i + 1 if i < m else m):          # image 0: 1 object, image 1: 2, ...
            x0, y0 = rng.integers(0, size - 20, 2)
            w, h = rng.integers(8, 20, 2)
            boxes[i, j] = [x0, y0, x0 + w, y0 + h]
            labels[i, j] = rng.integers(0, 3)
            masks[i, j, y0:y0 + h, x0:x0 + w // 2 + 1] = 1
    return boxes, labels, masks


def test_match_anchors_equals_label_anchors(rng):
    a = anchors(8, 8, scales=(8, 16, 32), ratios=(0.5, 1.0, 2.0))
    boxes, labels, _ = _gt(rng)
    got, matched = match_anchors(a, boxes, labels >= 0)
    for i in range(len(boxes)):
        valid = labels[i] >= 0
        ref, _, ref_matched, _ = label_anchors(a, boxes[i][valid], (64, 64),
                                               ignore_cross_boundary=False)
        np.testing.assert_array_equal(got.numpy()[i], ref)
        pos = ref == 1
        np.testing.assert_array_equal(matched.numpy()[i][pos], ref_matched[pos])
    # no object at all: every anchor negative
    none, _ = match_anchors(a, np.zeros((1, 2, 4), np.float32), np.zeros((1, 2), bool))
    assert (none.numpy() == 0).all()


def test_rpn_targets_sample_and_deltas(rng):
    a = anchors(8, 8, scales=(8, 16, 32), ratios=(1.0,))
    boxes, labels, _ = _gt(rng)
    r = per_image_uniform(image_seeds(np.zeros((3, 8, 8, 3)), 0) + [[0], [1], [2]], len(a))
    lab, deltas = rpn_targets(a, boxes, labels >= 0, r, batch_size=40, positive_fraction=0.25)
    lab, deltas = lab.numpy(), deltas.numpy()
    full, matched = match_anchors(a, boxes, labels >= 0)
    for i in range(3):
        assert (lab[i] >= 0).sum() == 40
        assert 1 <= (lab[i] == 1).sum() <= 10
        assert set(np.flatnonzero(lab[i] == 1)) <= set(np.flatnonzero(full.numpy()[i] == 1))
        pos = lab[i] == 1
        ref = encode_deltas(boxes[i][matched.numpy()[i][pos]], a[pos], variances=BOX_STD)
        np.testing.assert_allclose(deltas[i][pos], ref, atol=1e-4)
        assert (deltas[i][~pos] == 0).all()


def test_sample_labels_hand_worked():
    pos = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]], bool)
    r = np.linspace(0.05, 0.95, 10, dtype=np.float32)[None]
    # at most 2 positives (the two largest r among 0..3: 2 and 3), then 3 negatives (9, 8, 7)
    got = sample_labels(pos, ~pos, 5, 2, r).numpy()[0]
    assert got.tolist() == [-1, -1, 1, 1, -1, -1, -1, 0, 0, 0]
    # few positives: the negatives fill the batch
    got = sample_labels(pos & (np.arange(10) == 0), ~pos, 4, 2, r).numpy()[0]
    assert (got == 1).sum() == 1 and (got == 0).sum() == 3


def test_per_image_uniform_depends_on_the_image_only():
    imgs = np.random.default_rng(1).random((3, 8, 8, 3)).astype(np.float32)
    a = per_image_uniform(image_seeds(imgs, 5), 7).numpy()
    b = per_image_uniform(image_seeds(imgs[::-1], 5), 7).numpy()[::-1]
    np.testing.assert_array_equal(a, b)
    c = per_image_uniform(image_seeds(imgs, 6), 7).numpy()
    assert not np.allclose(a, c)


def test_roi_align_graph_equals_roi_align(rng):
    f = rng.random((2, 9, 11, 4)).astype(np.float32)
    rois = np.array([[0, 0, 88, 72], [8.5, 3.3, 40.2, 50.9], [30, 30, 31, 33]], np.float32)
    idx = np.array([1, 0, 1])
    for n in (1, 2):
        got = roi_align_graph(tf.constant(f), tf.constant(rois), tf.constant(idx), 5, 1 / 8, n)
        ref = roi_align(f, rois, (5, 5), spatial_scale=1 / 8, sampling_ratio=n,
                        batch_indices=idx)
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-5)


def test_mask_targets_graph_equals_mask_targets(rng):
    _, _, masks = _gt(rng)
    m = masks.reshape(-1, 64, 64)[[0, 4, 5]]
    boxes = np.array([[0, 0, 64, 64], [3.2, 7.7, 40.1, 33.3], [10, 10, 12, 30]], np.float32)
    got = mask_targets_graph(m, boxes, [0, 1, 2], size=28).numpy()
    np.testing.assert_array_equal(got, mask_targets(m > 0, boxes, size=28))


def test_roi_targets_classes_deltas_masks(rng):
    boxes, labels, masks = _gt(rng)
    proposals = np.concatenate([boxes + rng.normal(0, 1.5, boxes.shape).astype(np.float32),
                                np.tile([[[40, 40, 60, 60]]], (3, 1, 1)).astype(np.float32)], 1)
    proposals = np.clip(proposals, 0, 64)
    valid = np.ones(proposals.shape[:2], bool)
    r = per_image_uniform(image_seeds(np.zeros((3, 4, 4, 3)), 0) + [[0], [1], [2]], 5 + 4)
    t = {k: v.numpy() for k, v in roi_targets(proposals, valid, boxes, labels, masks, r, n_rois=6,
                                              positive_fraction=0.5, mask_size=14).items()}
    cand = np.concatenate([proposals, boxes], 1)
    for i in range(3):
        gv = labels[i] >= 0
        iou = pairwise_iou(t["rois"][i], boxes[i][gv])
        pos = t["positive"][i]
        np.testing.assert_array_equal(pos, t["used"][i] & (iou.max(1) >= 0.5))
        assert pos[:3].sum() == pos.sum() <= 3                # positives first, at most half
        best = iou.argmax(1)
        np.testing.assert_array_equal(t["labels"][i][pos], labels[i][gv][best[pos]] + 1)
        assert (t["labels"][i][~pos] == 0).all()
        ref = encode_deltas(boxes[i][gv][best[pos]], t["rois"][i][pos], variances=BOX_STD)
        np.testing.assert_allclose(t["deltas"][i][pos], ref, atol=1e-4)
        k = np.flatnonzero(pos[:3])
        ref_m = mask_targets(masks[i][gv][best[k]] > 0, t["rois"][i][k], size=14)
        np.testing.assert_array_equal(t["mask_targets"][i][k], ref_m)
        # every sampled ROI is a candidate of this image
        assert all(any(np.allclose(roi, c) for c in cand[i]) for roi in t["rois"][i][t["used"][i]])


def test_roi_targets_image_without_objects():
    props = np.array([[[0, 0, 10, 10], [5, 5, 20, 20]]], np.float32)
    t = roi_targets(props, np.ones((1, 2), bool), np.zeros((1, 2, 4), np.float32),
                    -np.ones((1, 2), np.int32), np.zeros((1, 2, 16, 16)),
                    np.zeros((1, 4), np.float32), n_rois=3, positive_fraction=0.34,
                    mask_size=4)
    assert t["labels"].numpy().tolist() == [[0, 0, 0]]
    assert t["used"].numpy().sum() == 2 and not t["positive"].numpy().any()
    assert np.isfinite(t["deltas"].numpy()).all()


@pytest.mark.parametrize("bad, match", [("n_rois", "n_rois"), ("fraction", "one positive")])
def test_roi_targets_bad_sizes(bad, match):
    props = np.zeros((1, 2, 4), np.float32)
    args = dict(n_rois=50) if bad == "n_rois" else dict(n_rois=3, positive_fraction=0.1)
    with pytest.raises(ValueError, match=match):
        roi_targets(props, np.ones((1, 2), bool), np.zeros((1, 1, 4), np.float32),
                    np.zeros((1, 1), np.int32), np.zeros((1, 1, 8, 8)),
                    np.zeros((1, 3), np.float32), **args)


@pytest.mark.parametrize("call, match", [
    (lambda: image_seeds(np.zeros((4, 4, 3)), 0), "images"),
    (lambda: per_image_uniform(np.zeros((2, 3), np.int32), 4), "seeds"),
    (lambda: sample_labels(np.ones((1, 3), bool), np.ones((1, 4), bool), 2, 1,
                           np.zeros((1, 3))), "one shape"),
    (lambda: match_anchors(np.zeros((2, 4)), np.zeros((2, 4)), np.ones((1, 2), bool)),
     "gt_boxes"),
    (lambda: rpn_targets(np.zeros((2, 4)), np.zeros((1, 2, 5)), np.ones((1, 2), bool),
                         np.zeros((1, 2))), "gt_boxes"),
    (lambda: mask_targets_graph(np.zeros((8, 8)), np.zeros((1, 4)), [0]), "gt_masks"),
    (lambda: roi_align_graph(np.zeros((8, 8, 1)), np.zeros((1, 4)), [0], 2), "features"),
    (lambda: roi_align_graph(np.zeros((1, 8, 8, 1)), np.zeros((1, 3)), [0], 2), "boxes"),
])
def test_bad_shapes_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
