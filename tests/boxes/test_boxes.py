"""Tests for cvkit.boxes against rasterised masks, hand-worked examples and a greedy NMS."""
import numpy as np
import pytest

from cvkit import boxes as B


def _random_int_boxes(rng, n, size=20):
    p = rng.integers(0, size + 1, size=(n, 2, 2))
    lo, hi = p.min(axis=1), p.max(axis=1)
    return np.concatenate([lo, hi], axis=1).astype(np.float64)  # may have zero width


def _mask(box, size=20):
    m = np.zeros((size, size), bool)
    x0, y0, x1, y1 = box.astype(int)
    m[y0:y1, x0:x1] = True
    return m


def _raster_iou(a, b, size=20):
    ma, mb = _mask(a, size), _mask(b, size)
    union = (ma | mb).sum()
    return (ma & mb).sum() / union if union else 0.0


# ---------------------------------------------------------------------------- formats

def test_convert_hand_worked():
    xyxy = np.array([[0.25, 0.5, 0.75, 1.0]])
    np.testing.assert_allclose(B.convert(xyxy, "xyxy", "xywh"), [[0.25, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(B.convert(xyxy, "xyxy", "cxcywh"), [[0.5, 0.75, 0.5, 0.5]])
    np.testing.assert_allclose(B.convert(xyxy, "xyxy", "pixels", image_size=(64, 128)),
                               [[32, 32, 96, 64]])
    np.testing.assert_allclose(B.convert([[32, 32, 96, 64]], "pixels", "cxcywh", image_size=(64, 128)),
                               [[0.5, 0.75, 0.5, 0.5]])


def test_convert_round_trips(rng):
    xyxy = np.sort(rng.random((50, 2, 2)), axis=1).transpose(0, 2, 1).reshape(50, 4)
    for fmt in B.FORMATS:
        back = B.convert(B.convert(xyxy, "xyxy", fmt, image_size=(30, 40)), fmt, "xyxy",
                         image_size=(30, 40))
        np.testing.assert_allclose(back, xyxy, atol=1e-12)


def test_convert_pixels_matches_shapes_dataset(small_shapes):
    """The pixel convention is the one of shapes(): the box covers exactly the mask's pixels."""
    px = B.convert(small_shapes.boxes, "xyxy", "pixels", image_size=small_shapes.images.shape[1:3])
    for box, mask in zip(px[:5], small_shapes.masks[:5]):
        ys, xs = np.nonzero(mask)
        np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1e-4)


def test_convert_keeps_float32_and_batch_shape():
    out = B.convert(np.zeros((2, 3, 4), np.float32), "xyxy", "cxcywh")
    assert out.dtype == np.float32 and out.shape == (2, 3, 4)


def test_convert_bad_input():
    with pytest.raises(ValueError, match="`src`"):
        B.convert([[0, 0, 1, 1]], "yxyx", "xyxy")
    with pytest.raises(ValueError, match="`dst`"):
        B.convert([[0, 0, 1, 1]], "xyxy", "corners")
    with pytest.raises(ValueError, match="image_size"):
        B.convert([[0, 0, 1, 1]], "xyxy", "pixels")
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        B.convert([[0, 0, 1]], "xyxy", "xywh")
    with pytest.raises(ValueError, match="NaN"):
        B.convert([[0, np.nan, 1, 1]], "xyxy", "xywh")
    with pytest.raises(TypeError, match="numeric"):
        B.convert([["a", "b", "c", "d"]], "xyxy", "xywh")
    with pytest.raises(ValueError, match="positive"):
        B.convert([[0, 0, 1, 1]], "xyxy", "pixels", image_size=(0, 5))


def test_clip():
    b = np.array([[-0.2, 0.1, 1.3, 0.9]])
    np.testing.assert_allclose(B.clip(b), [[0, 0.1, 1, 0.9]])
    np.testing.assert_allclose(B.clip([[-5, 3, 70, 40]], image_size=(32, 64)), [[0, 3, 64, 32]])
    with pytest.raises(ValueError, match="boxes"):
        B.clip([1, 2, 3])


def test_area_inverted_is_zero():
    np.testing.assert_allclose(B.area([[0, 0, 2, 3], [2, 2, 1, 5]]), [6, 0])


# ---------------------------------------------------------------------------- IoU

def test_iou_hand_worked():
    # overlap 1x1, areas 4 and 4: 1 / 7
    np.testing.assert_allclose(B.iou([[0, 0, 2, 2]], [[1, 1, 3, 3]]), [1 / 7], rtol=1e-6)
    np.testing.assert_allclose(B.iou([[0, 0, 1, 1]], [[0, 0, 1, 1]]), [1.0])
    np.testing.assert_allclose(B.iou([[0, 0, 1, 1]], [[2, 2, 3, 3]]), [0.0])


def test_iou_matches_rasterised_masks(rng):
    a, b = _random_int_boxes(rng, 300), _random_int_boxes(rng, 300)
    ref = np.array([_raster_iou(x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(B.iou(a, b), ref, atol=1e-12)
    # normalised coordinates give the same IoU as pixels
    np.testing.assert_allclose(B.iou(a / 20, b / 20), ref, atol=1e-9)


def test_iou_degenerate_never_nan():
    a = np.array([[0, 0, 0, 0], [1, 1, 1, 3], [3, 3, 1, 1], [0, 0, 1, 1]], float)
    b = np.array([[0, 0, 0, 0], [1, 1, 1, 3], [0, 0, 4, 4], [5, 5, 2, 2]], float)
    out = B.iou(a, b)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, 0)
    assert np.all(np.isfinite(B.giou(a, b)))


def test_iou_broadcast_one_box():
    out = B.iou([0, 0, 2, 2], [[0, 0, 2, 2], [1, 1, 3, 3]])
    np.testing.assert_allclose(out, [1, 1 / 7], rtol=1e-6)


def test_pairwise_iou_matches_elementwise(rng):
    a, b = _random_int_boxes(rng, 7), _random_int_boxes(rng, 5)
    m = B.pairwise_iou(a, b)
    assert m.shape == (7, 5)
    ref = np.array([[_raster_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(m, ref, atol=1e-12)
    # pixel coordinates work unchanged (anchor labelling uses pixels)
    np.testing.assert_allclose(B.pairwise_iou(a * 16, b * 16), ref, atol=1e-9)
    assert B.pairwise_iou(np.zeros((0, 4)), b).shape == (0, 5)


def test_iou_bad_shapes():
    with pytest.raises(ValueError, match="same number of boxes"):
        B.iou(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="`a`"):
        B.iou(np.zeros((3, 5)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(N, 4\) and \(M, 4\)"):
        B.pairwise_iou(np.zeros((2, 3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="`b`"):
        B.pairwise_giou(np.zeros((3, 4)), np.zeros((3,)))


def test_giou_hand_worked():
    # Overlapping: IoU 1/7, enclosing box 3x3 = 9, union 7 -> 1/7 - 2/9
    np.testing.assert_allclose(B.giou([[0, 0, 2, 2]], [[1, 1, 3, 3]]), [1 / 7 - 2 / 9], rtol=1e-6)
    # Disjoint unit boxes 1 apart: IoU 0, enclosing 3x1, union 2 -> -1/3
    np.testing.assert_allclose(B.giou([[0, 0, 1, 1]], [[2, 0, 3, 1]]), [-1 / 3], rtol=1e-6)
    np.testing.assert_allclose(B.giou([[0, 0, 1, 1]], [[0, 0, 1, 1]]), [1.0])
    m = B.pairwise_giou([[0, 0, 2, 2], [0, 0, 1, 1]], [[1, 1, 3, 3], [2, 0, 3, 1]])
    np.testing.assert_allclose(m, [[1 / 7 - 2 / 9, -(3 * 2 - 5) / 6], [-(9 - 5) / 9, -1 / 3]],
                               rtol=1e-6)


def test_giou_range(rng):
    a, b = _random_int_boxes(rng, 500), _random_int_boxes(rng, 500)
    g = B.giou(a, b)
    assert np.all(g <= B.iou(a, b) + 1e-12) and np.all(g >= -1)


# ---------------------------------------------------------------------------- TensorFlow versions

def test_tf_versions_match_numpy(rng):
    import tensorflow as tf

    a, b = _random_int_boxes(rng, 200) / 20, _random_int_boxes(rng, 200) / 20
    np.testing.assert_allclose(B.iou_tf(a.astype(np.float32), b.astype(np.float32)).numpy(),
                               B.iou(a, b), atol=1e-6)
    np.testing.assert_allclose(B.giou_tf(tf.constant(a), tf.constant(b)).numpy(), B.giou(a, b),
                               atol=1e-9)
    np.testing.assert_allclose(B.pairwise_iou_tf(a[:6], b[:9]).numpy(),
                               B.pairwise_iou(a[:6], b[:9]), atol=1e-9)


def test_giou_tf_gradients_finite_and_useful():
    import tensorflow as tf

    pred = tf.Variable([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.5, 0.5], [0.7, 0.7, 0.6, 0.6]])
    true = tf.constant([[0.5, 0.5, 0.9, 0.9], [0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.3, 0.3]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(1 - B.giou_tf(true, pred))
    g = tape.gradient(loss, pred).numpy()
    assert np.all(np.isfinite(g))
    # disjoint boxes: IoU has no gradient but GIoU pulls the box's far corner towards the target
    assert g[0, 2] < 0 and g[0, 3] < 0
    with tf.GradientTape() as tape:
        l2 = tf.reduce_sum(B.iou_tf(true, pred))
    assert np.all(np.isfinite(tape.gradient(l2, pred).numpy()))


def test_tf_bad_shape():
    with pytest.raises(ValueError, match="`a`"):
        B.iou_tf(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        B.pairwise_iou_tf(np.zeros((4,), np.float32), np.zeros((2, 4), np.float32))


# ---------------------------------------------------------------------------- deltas

def test_deltas_hand_worked():
    anchor = np.array([[0, 0, 10, 20]], float)  # centre (5, 10), size (10, 20)
    box = np.array([[2, 4, 22, 24]], float)     # centre (12, 14), size (20, 20)
    d = B.encode_deltas(box, anchor)
    np.testing.assert_allclose(d, [[0.7, 0.2, np.log(2), 0.0]], atol=1e-12)
    dv = B.encode_deltas(box, anchor, variances=(0.1, 0.1, 0.2, 0.2))
    np.testing.assert_allclose(dv, d / [0.1, 0.1, 0.2, 0.2])
    np.testing.assert_allclose(B.decode_deltas(dv, anchor, variances=(0.1, 0.1, 0.2, 0.2)), box,
                               atol=1e-12)


def test_deltas_round_trip(rng):
    lo = rng.random((100, 2))
    anchors = np.concatenate([lo, lo + 0.05 + rng.random((100, 2))], axis=1)
    lo = rng.random((100, 2))
    boxes = np.concatenate([lo, lo + 0.05 + rng.random((100, 2))], axis=1)
    np.testing.assert_allclose(B.decode_deltas(B.encode_deltas(boxes, anchors), anchors), boxes,
                               atol=1e-12)


def test_decode_never_overflows():
    out = B.decode_deltas([[0, 0, 1e4, 1e4]], [[0, 0, 1, 1]])
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, 2] - out[0, 0], 1000 / 16, rtol=1e-9)


def test_deltas_bad_input():
    with pytest.raises(ValueError, match="`anchors`"):
        B.encode_deltas([[0, 0, 1, 1]], [[0, 0, 0, 1]])
    with pytest.raises(ValueError, match="`boxes`"):
        B.encode_deltas([[0, 0, 1, 0]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="`variances`"):
        B.encode_deltas([[0, 0, 1, 1]], [[0, 0, 1, 1]], variances=(1, 2))
    with pytest.raises(ValueError, match="`deltas`"):
        B.decode_deltas([[0, 0, 1]], [[0, 0, 1, 1]])


# ---------------------------------------------------------------------------- NMS

def _greedy_nms(boxes, scores, thr):
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if B.iou(boxes[i], boxes[j])[()] <= thr]
    return np.array(keep)


def test_nms_matches_greedy_reference(rng):
    xy = rng.random((60, 2)) * 0.8
    boxes = np.concatenate([xy, xy + 0.05 + 0.15 * rng.random((60, 2))], axis=1)
    scores = rng.permutation(60).astype(float)  # distinct scores: a unique order
    for thr in (0.1, 0.3, 0.5):
        np.testing.assert_array_equal(B.nms(boxes, scores, iou_threshold=thr),
                                      _greedy_nms(boxes, scores, thr))
    kept = B.nms(boxes, scores, max_output_size=3, score_threshold=30.0)
    assert len(kept) <= 3 and np.all(scores[kept] >= 30)
    assert B.nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


def test_nms_bad_input():
    with pytest.raises(ValueError, match="`scores`"):
        B.nms(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="`iou_threshold`"):
        B.nms(np.zeros((3, 4)), np.zeros(3), iou_threshold=1.5)
    with pytest.raises(ValueError, match="`boxes`"):
        B.nms(np.zeros((3, 2, 4)), np.zeros(3))


# ---------------------------------------------------------------------------- keypoints from masks

def test_extreme_points_hand_worked():
    m = np.zeros((5, 8), bool)
    m[1:4, 2:6] = True
    m[4, 3] = True
    pts = B.extreme_points(m) * [8, 5] - 0.5  # back to pixel indices
    np.testing.assert_allclose(pts, [[2, 2], [3.5, 1], [5, 2], [3, 4]], atol=1e-5)
    batch = B.extreme_points(np.stack([m, m[:, ::-1]]))
    assert batch.shape == (2, 4, 2)
    np.testing.assert_allclose(batch[1, 0, 1], batch[0, 2, 1])  # mirrored: left <-> right


def test_extreme_points_bad_input():
    with pytest.raises(ValueError, match="empty mask"):
        B.extreme_points(np.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match="`masks`"):
        B.extreme_points(np.zeros((4,), bool))


# ---------------------------------------------------------------------------- drawing

def test_draw_boxes_puts_rectangles_on_pixel_edges():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cvkit.visualize import draw_boxes, image_grid, plot_iou_histogram, plot_localization

    img = np.zeros((10, 20, 3), np.float32)
    ax = draw_boxes(img, [[0.1, 0.2, 0.5, 0.8]], labels=[1], scores=[0.9], class_names=["a", "b"])
    rect = ax.patches[0]
    # pixel columns 2..9 and rows 2..7: edges at -0.5 of imshow coordinates
    assert rect.get_xy() == pytest.approx((1.5, 1.5))
    assert (rect.get_width(), rect.get_height()) == pytest.approx((8, 6))
    assert ax.texts[0].get_text() == "b 0.90"
    ax = draw_boxes(img, [[2, 2, 10, 8]], fmt="pixels")
    assert ax.patches[0].get_xy() == pytest.approx((1.5, 1.5))
    imgs = np.random.default_rng(0).random((3, 16, 16, 3)).astype(np.float32)
    fig = image_grid(imgs, titles=["x", "y", "z"], ncols=2, boxes=np.tile([0, 0, .5, .5], (3, 1)),
                     pred_boxes=np.tile([0, 0, .4, .5], (3, 1)))
    assert len(fig.axes) == 4 and len(fig.axes[0].patches) == 2
    fig = plot_localization(imgs, np.tile([0, 0, .5, .5], (3, 1)), np.tile([0, 0, .5, .2], (3, 1)),
                            [0, 1, 1], [0, 1, 0], ["a", "b"])
    assert fig.axes[0].get_title() == "a IoU 0.40"
    ax = plot_iou_histogram([0.2, 0.6, 0.9])
    assert "67%" in ax.get_title()
    plt.close("all")


def test_drawing_bad_input():
    from cvkit.visualize import draw_boxes, image_grid, plot_iou_histogram

    img = np.zeros((10, 20, 3), np.float32)
    with pytest.raises(ValueError, match="`labels`"):
        draw_boxes(img, [[0, 0, 1, 1]], labels=[0, 1])
    with pytest.raises(ValueError, match="`boxes`"):
        draw_boxes(img, [[0, 0, 1]])
    with pytest.raises(ValueError, match="`titles`"):
        image_grid(np.zeros((2, 8, 8, 3)), titles=["a"])
    with pytest.raises(ValueError, match="`ious`"):
        plot_iou_histogram([])
