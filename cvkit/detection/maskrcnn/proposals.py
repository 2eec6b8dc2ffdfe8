r"""The proposal layer of the RPN, in the TensorFlow graph: decode every anchor's deltas into a box,
clip it to the image, keep the ``pre_nms`` best-scored boxes, suppress overlaps (NMS) and keep the
``post_nms`` best survivors; batched, with no Python loop over boxes or images.

Also the graph versions of the delta encoding (:func:`encode_graph`, :func:`decode_graph`): the
formulas of :func:`cvkit.boxes.encode_deltas` / :func:`cvkit.boxes.decode_deltas` divided by the box
standard deviations :math:`\sigma = (0.1, 0.1, 0.2, 0.2)` of Mask R-CNN, which bring the targets to
about unit scale.

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import check_shape

__all__ = ["BOX_STD", "encode_graph", "decode_graph", "propose"]

#: the standard deviations that divide the deltas :math:`(t_x, t_y, t_w, t_h)`
BOX_STD = (0.1, 0.1, 0.2, 0.2)
_MAX_LOG = math.log(1000.0 / 16.0)


def encode_graph(boxes, anchors, std=BOX_STD):
    r"""Deltas of ``boxes`` relative to ``anchors`` (both xyxy, shapes broadcast), divided by
    ``std``:
    :math:`t = \big(\tfrac{x - x_a}{w_a}, \tfrac{y - y_a}{h_a}, \log\tfrac{w}{w_a},
    \log\tfrac{h}{h_a}\big) / \sigma`. Sizes below 1e-6 are raised to 1e-6 (no log of zero for
    the empty slots that the caller masks out).

    Examples
    --------
    >>> encode_graph([1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 2.0, 2.0], std=1.0).numpy().round(4)
    array([0.5   , 0.5   , 0.    , 0.6931], dtype=float32)
    """
    import tensorflow as tf

    b = tf.cast(check_shape(boxes, "boxes", None, 4), tf.float32)
    a = tf.cast(check_shape(anchors, "anchors", None, 4), tf.float32)
    bw = tf.maximum(b[..., 2] - b[..., 0], 1e-6)
    bh = tf.maximum(b[..., 3] - b[..., 1], 1e-6)
    aw = tf.maximum(a[..., 2] - a[..., 0], 1e-6)
    ah = tf.maximum(a[..., 3] - a[..., 1], 1e-6)
    tx = ((b[..., 0] + b[..., 2]) - (a[..., 0] + a[..., 2])) / 2 / aw
    ty = ((b[..., 1] + b[..., 3]) - (a[..., 1] + a[..., 3])) / 2 / ah
    t = tf.stack([tx, ty, tf.math.log(bw / aw), tf.math.log(bh / ah)], axis=-1)
    return t / tf.constant(std, tf.float32)


def decode_graph(deltas, anchors, std=BOX_STD):
    r"""Invert :func:`encode_graph`: :math:`x = x_a + \sigma_x t_x w_a`,
    :math:`w = w_a e^{\sigma_w t_w}`, with :math:`\sigma_w t_w` capped at :math:`\log(1000/16)` so
    that a wild prediction never overflows.

    Examples
    --------
    >>> decode_graph([5.0, 5.0, 0.0, 3.4657359], [0.0, 0.0, 2.0, 2.0]).numpy().round(4)
    array([1., 0., 3., 4.], dtype=float32)
    """
    import tensorflow as tf

    d = tf.cast(check_shape(deltas, "deltas", None, 4), tf.float32) * tf.constant(std, tf.float32)
    a = tf.cast(check_shape(anchors, "anchors", None, 4), tf.float32)
    aw = a[..., 2] - a[..., 0]
    ah = a[..., 3] - a[..., 1]
    cx = (a[..., 0] + a[..., 2]) / 2 + d[..., 0] * aw
    cy = (a[..., 1] + a[..., 3]) / 2 + d[..., 1] * ah
    w = aw * tf.exp(tf.minimum(d[..., 2], _MAX_LOG))
    h = ah * tf.exp(tf.minimum(d[..., 3], _MAX_LOG))
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def clip_graph(boxes, height, width):
    """Clip xyxy boxes (..., 4) to ``[0, width] x [0, height]``.

    Examples
    --------
    >>> clip_graph([[-3.0, 2.0, 140.0, 60.0]], 128, 128).numpy()
    array([[  0.,   2., 128.,  60.]], dtype=float32)
    """
    import tensorflow as tf

    b = tf.cast(boxes, tf.float32)
    hi = tf.constant([width, height, width, height], tf.float32)
    return tf.clip_by_value(b, 0.0, hi)


def propose(logits, deltas, anchors, image_size, pre_nms=512, post_nms=128, iou_threshold=0.7,
            min_size=1.0):
    r"""The proposal layer: the ``post_nms`` best boxes of the RPN per image after NMS.

    Steps, batched over the images: (1) the ``pre_nms`` anchors with the highest objectness,
    (2) decode their deltas (:func:`decode_graph`), (3) clip to the image, (4) drop boxes thinner
    than ``min_size`` pixels, (5) greedy NMS at ``iou_threshold``
    (``tf.image.non_max_suppression_padded``), (6) keep at most ``post_nms``, padded with invalid
    rows.

    Parameters
    ----------
    logits : (B, A) objectness logits
    deltas : (B, A, 4) predicted deltas (in units of :data:`BOX_STD`)
    anchors : (A, 4) pixel xyxy
    image_size : int, the side of the square image
    pre_nms, post_nms : int
    iou_threshold : float
    min_size : float

    Returns
    -------
    boxes : (B, post_nms, 4) pixel xyxy, sorted by score
    scores : (B, post_nms) objectness probabilities (0 in padded rows)
    valid : bool (B, post_nms)

    Examples
    --------
    Two anchors that overlap heavily and a third apart: NMS keeps the better of the pair.

    >>> anchors = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float32)
    >>> boxes, scores, valid = propose(np.array([[2.0, 1.0, 0.0]]), np.zeros((1, 3, 4)),
    ...                                anchors, 32, pre_nms=3, post_nms=3)
    >>> boxes.numpy()[0], valid.numpy()[0]
    (array([[ 0.,  0., 10., 10.],
           [20., 20., 30., 30.],
           [ 0.,  0.,  0.,  0.]], dtype=float32), array([ True,  True, False]))
    """
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    deltas = tf.cast(deltas, tf.float32)
    anchors = np.asarray(anchors, np.float32)
    n_anchors = anchors.shape[0]
    if anchors.ndim != 2 or anchors.shape[1] != 4 or logits.shape[-1] != n_anchors:
        raise ValueError(f"`anchors` must be (A, 4) with A = the last axis of `logits` "
                         f"{tuple(logits.shape)}; got {anchors.shape}.")
    if tuple(deltas.shape[1:]) != (n_anchors, 4):
        raise ValueError(f"`deltas` must be (B, {n_anchors}, 4) like `logits`; got "
                         f"{tuple(deltas.shape)}.")
    k = min(int(pre_nms), n_anchors)
    top, idx = tf.math.top_k(logits, k=k)                                  # (B, k)
    a = tf.gather(tf.constant(anchors, tf.float32), idx)                  # (B, k, 4)
    d = tf.gather(deltas, idx, batch_dims=1)          # (B, k, 4)
    boxes = clip_graph(decode_graph(d, a), image_size, image_size)
    big = ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1])
                                                           >= min_size)
    scores = tf.where(big, tf.sigmoid(top), 0.0)
    keep, n_valid = tf.image.non_max_suppression_padded(
        boxes, scores, int(post_nms), iou_threshold=float(iou_threshold), score_threshold=1e-6,
        pad_to_max_output_size=True)
    valid = tf.range(int(post_nms))[None, :] < n_valid[:, None]
    out_boxes = tf.where(valid[..., None], tf.gather(boxes, keep, batch_dims=1), 0.0)
    out_scores = tf.where(valid, tf.gather(scores, keep, batch_dims=1), 0.0)
    return out_boxes, out_scores, valid
