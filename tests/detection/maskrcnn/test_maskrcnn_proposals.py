"""The proposal layer and the graph delta encoding against cvkit.boxes (NumPy decode, clip, NMS)."""
import numpy as np
import pytest

from cvkit.boxes import decode_deltas, encode_deltas, nms, pairwise_iou
from cvkit.detection import anchors
from cvkit.detection.maskrcnn import BOX_STD, decode_graph, encode_graph, propose


def test_encode_decode_equal_cvkit_boxes(rng):
    a = anchors(4, 16, scales=(16, 40), ratios=(0.5, 1.0, 2.0))
    b = np.concatenate([a[:, :2] + rng.uniform(-5, 5, (len(a), 2)),
                        a[:, 2:] + rng.uniform(-5, 5, (len(a), 2))], 1)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 2)
    np.testing.assert_allclose(encode_graph(b, a).numpy(),
                               encode_deltas(b, a, variances=BOX_STD), rtol=1e-4, atol=1e-4)
    d = rng.normal(0, 1, (len(a), 4))
    np.testing.assert_allclose(decode_graph(d, a).numpy(), decode_deltas(d, a, variances=BOX_STD),
                               rtol=1e-4, atol=1e-3)
    # a wild prediction stays finite (the size exponent is capped)
    assert np.isfinite(decode_graph([0, 0, 1e4, 1e4], [0, 0, 10, 10]).numpy()).all()


def _reference(logits, deltas, a, size, pre, post, thr):
    """One image, step by step in NumPy with cvkit.boxes."""
    order = np.argsort(-logits, kind="stable")[:pre]
    boxes = np.clip(decode_deltas(deltas[order], a[order], variances=BOX_STD), 0, size)
    scores = 1 / (1 + np.exp(-logits[order]))
    big = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    boxes, scores = boxes[big], scores[big]
    keep = nms(boxes, scores, max_output_size=post, iou_threshold=thr)
    return boxes[keep], scores[keep]


def test_propose_equals_decode_clip_nms(rng):
    a = anchors(8, 8, scales=(12, 24), ratios=(1.0,))
    logits = rng.normal(0, 2, (2, len(a))).astype(np.float32)
    deltas = rng.normal(0, 1, (2, len(a), 4)).astype(np.float32)
    boxes, scores, valid = propose(logits, deltas, a, 64, pre_nms=60, post_nms=20,
                                   iou_threshold=0.5)
    for i in range(2):
        ref_b, ref_s = _reference(logits[i], deltas[i], a, 64, 60, 20, 0.5)
        n = int(valid.numpy()[i].sum())
        assert n == len(ref_b)
        np.testing.assert_allclose(boxes.numpy()[i, :n], ref_b, atol=1e-3)
        np.testing.assert_allclose(scores.numpy()[i, :n], ref_s, atol=1e-5)
        assert (boxes.numpy()[i, n:] == 0).all() and (scores.numpy()[i, n:] == 0).all()
        kept = boxes.numpy()[i, :n]
        iou = pairwise_iou(kept, kept) - np.eye(n)
        assert iou.max() <= 0.5 + 1e-6                     # no two survivors overlap > 0.5
        assert (kept >= 0).all() and (kept <= 64).all()      # clipped


def test_propose_drops_thin_boxes():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    # the second anchor's box is squeezed to a fraction of a pixel: dropped
    deltas = np.array([[[0, 0, 0, 0], [0, 0, -20, 0]]], np.float32)
    _, _, valid = propose(np.array([[1.0, 2.0]]), deltas, a, 32, pre_nms=2, post_nms=2)
    assert valid.numpy().tolist() == [[True, False]]


@pytest.mark.parametrize("arg", ["deltas", "anchors"])
def test_propose_bad_shapes(arg):
    a = np.zeros((3, 4), np.float32)
    kw = dict(logits=np.zeros((1, 3)), deltas=np.zeros((1, 3, 4)), anchors=a, image_size=32)
    kw[arg] = np.zeros((1, 2, 4)) if arg == "deltas" else np.zeros((2, 4))
    with pytest.raises(ValueError, match=arg):
        propose(**kw)


def test_encode_decode_bad_shapes():
    with pytest.raises(ValueError, match="boxes"):
        encode_graph(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="anchors"):
        decode_graph(np.zeros((2, 4)), np.zeros((2, 5)))
