"""Inference of Mask R-CNN: per-class NMS against cvkit.boxes.nms, and the mask paste against a
NumPy bilinear reference."""
import numpy as np
import pytest

from cvkit.boxes import nms
from cvkit.detection.maskrcnn import detect, paste_masks


def _paste_reference(mask, box, size):
    """Bilinear read of the zero-padded mask at every pixel centre, in NumPy (one box)."""
    s = mask.shape[0]
    padded = np.pad(mask, 1)
    x0, y0, x1, y1 = box
    u = (np.arange(size) + 0.5 - x0) * s / (x1 - x0) - 0.5 + 1      # padded index
    v = (np.arange(size) + 0.5 - y0) * s / (y1 - y0) - 0.5 + 1
    V, U = np.meshgrid(v, u, indexing="ij")
    inside = (U >= 0) & (U <= s + 1) & (V >= 0) & (V <= s + 1)
    U, V = np.clip(U, 0, s + 1), np.clip(V, 0, s + 1)
    u0, v0 = np.minimum(np.floor(U).astype(int), s), np.minimum(np.floor(V).astype(int), s)
    wu, wv = U - u0, V - v0
    val = (padded[v0, u0] * (1 - wu) * (1 - wv) + padded[v0, u0 + 1] * wu * (1 - wv)
           + padded[v0 + 1, u0] * (1 - wu) * wv + padded[v0 + 1, u0 + 1] * wu * wv)
    return np.where(inside, val, 0.0) >= 0.5


def test_paste_masks_equals_bilinear_reference(rng):
    masks = rng.random((2, 3, 28, 28)).astype(np.float32)
    masks[..., 10:20, 5:25] += 0.6
    boxes = np.array([[[3.3, 4.1, 40.7, 30.2], [0, 0, 64, 64], [50, 50, 63, 58]],
                      [[10, 20, 11.5, 22], [20.5, 2.2, 33.1, 60.0], [-5, -5, 20, 20]]],
                     np.float32)
    got = paste_masks(masks, boxes, 64).numpy()
    for i in range(2):
        for j in range(3):
            ref = _paste_reference(masks[i, j], boxes[i, j], 64)
            # a pixel whose value lands within float rounding of 0.5 may flip
            assert (got[i, j] != ref).sum() <= 2, (i, j)
    # nothing outside the box
    assert not got[0, 0, :, 41:].any() and not got[0, 0, 31:].any()


def _detect_reference(logits, deltas, rois, thr, score_thr, k):
    """Per class: NMS of the ROIs' class boxes (zero deltas: the ROIs) with cvkit.boxes.nms."""
    e = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True))[:, 1:]
    out = []
    for c in range(probs.shape[1]):
        keep = nms(rois, probs[:, c], max_output_size=k, iou_threshold=thr,
                   score_threshold=score_thr)
        out += [(float(probs[i, c]), c, tuple(rois[i])) for i in keep]
    return sorted(out, reverse=True)[:k]


def test_detect_equals_per_class_nms(rng):
    rois = np.concatenate([rng.uniform(0, 40, (12, 2)), rng.uniform(0, 40, (12, 2)) + 20], 1)
    rois = rois.astype(np.float32)
    logits = rng.normal(0, 2, (12, 4)).astype(np.float32)
    boxes, scores, classes, valid = detect(logits[None], np.zeros((1, 12, 4, 4)), rois[None],
                                           np.ones((1, 12), bool), 64, score_threshold=0.2,
                                           iou_threshold=0.3, max_detections=8)
    n = int(valid.numpy().sum())
    got = [(round(float(s), 5), int(c), tuple(np.round(b, 3)))
           for s, c, b in zip(scores.numpy()[0, :n], classes.numpy()[0, :n], boxes.numpy()[0, :n])]
    ref = [(round(s, 5), c, tuple(np.round(b, 3)))
           for s, c, b in _detect_reference(logits, None, rois, 0.3, 0.2, 8)]
    assert got == ref
    assert (classes.numpy()[0, n:] == -1).all()


def test_detect_ignores_invalid_rois():
    logits = np.log(np.array([[[0.1, 0.9], [0.1, 0.9]]]))
    rois = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
    _, _, classes, valid = detect(logits, np.zeros((1, 2, 2, 4)), rois,
                                  np.array([[True, False]]), 32)
    assert valid.numpy()[0].tolist()[:2] == [True, False]


def test_bad_shapes():
    with pytest.raises(ValueError, match="masks"):
        paste_masks(np.zeros((28, 28)), np.zeros((1, 1, 4)), 32)
    with pytest.raises(ValueError, match="boxes"):
        paste_masks(np.zeros((1, 1, 28, 28)), np.zeros((1, 4)), 32)
    with pytest.raises(ValueError, match="box_deltas"):
        detect(np.zeros((1, 2, 3)), np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 4)),
               np.ones((1, 2), bool), 32)
