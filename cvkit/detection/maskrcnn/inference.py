r"""From the heads' outputs to detections: per-class boxes, scores, per-class NMS, a score threshold,
and the 28 x 28 masks pasted back into the full image. Batched TensorFlow, no Python loop over
boxes.

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .proposals import clip_graph, decode_graph

__all__ = ["detect", "paste_masks"]


def detect(cls_logits, box_deltas, rois, roi_valid, image_size, score_threshold=0.5,
           iou_threshold=0.3, max_detections=16):
    """Final detections of the box head.

    Every ROI gives one box per class (its deltas of that class applied to the ROI, clipped to the
    image) scored by the softmax probability of the class; the background is dropped. Then, per
    image and per class, NMS at ``iou_threshold`` and a ``score_threshold``; the
    ``max_detections`` best survivors over all classes are kept
    (``tf.image.combined_non_max_suppression``).

    Parameters
    ----------
    cls_logits : (B, N, K + 1)
    box_deltas : (B, N, K + 1, 4) in units of :data:`BOX_STD`
    rois : (B, N, 4) pixel xyxy
    roi_valid : bool (B, N)
    image_size : int
    score_threshold, iou_threshold : float
    max_detections : int

    Returns
    -------
    boxes : (B, D, 4) pixel xyxy; scores : (B, D); classes : int32 (B, D) in 0..K-1 (-1 when
    empty); valid : bool (B, D)

    Examples
    --------
    Two ROIs on the same object, both confident of class 1 (index 0 without the background), and
    one background ROI: one detection survives.

    >>> import numpy as np
    >>> logits = np.log(np.array([[[0.05, 0.9, 0.05], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05]]]))
    >>> rois = np.array([[[10, 10, 40, 40], [12, 10, 42, 40], [60, 60, 90, 90]]], np.float32)
    >>> boxes, scores, classes, valid = detect(logits, np.zeros((1, 3, 3, 4)), rois,
    ...                                        np.ones((1, 3), bool), 128)
    >>> boxes.numpy()[0, 0], round(float(scores[0, 0]), 3), classes.numpy()[0, :2], valid.numpy()[0, :2]
    (array([10., 10., 40., 40.], dtype=float32), 0.9, array([ 0, -1], dtype=int32), array([ True, False]))
    """
    import tensorflow as tf

    size = float(image_size)
    cls_logits = tf.convert_to_tensor(cls_logits)
    k1 = cls_logits.shape[-1]
    if cls_logits.shape.rank != 3 or tuple(np.shape(box_deltas))[-2:] != (k1, 4):
        raise ValueError(f"`cls_logits` (B, N, K + 1) and `box_deltas` (B, N, K + 1, 4) must "
                         f"agree; got {tuple(cls_logits.shape)} and {tuple(np.shape(box_deltas))}.")
    probs = tf.nn.softmax(tf.cast(cls_logits, tf.float32), axis=-1)[..., 1:]   # (B, N, K)
    probs = probs * tf.cast(roi_valid, tf.float32)[..., None]
    rois = tf.cast(rois, tf.float32)
    boxes = decode_graph(tf.cast(box_deltas, tf.float32)[:, :, 1:], rois[:, :, None, :])
    boxes = clip_graph(boxes, size, size) / size                                # (B, N, K, 4)
    out = tf.image.combined_non_max_suppression(
        boxes, probs, max_output_size_per_class=int(max_detections),
        max_total_size=int(max_detections), iou_threshold=float(iou_threshold),
        score_threshold=float(score_threshold), clip_boxes=False)
    valid = tf.range(int(max_detections))[None, :] < out.valid_detections[:, None]
    classes = tf.where(valid, tf.cast(out.nmsed_classes, tf.int32), -1)
    return out.nmsed_boxes * size, out.nmsed_scores, classes, valid


def paste_masks(masks, boxes, image_size, threshold=0.5):
    r"""Paste ``S x S`` mask probabilities back into their boxes of the full image and threshold.

    Image pixel :math:`(i, j)` (centre :math:`(j + \tfrac12, i + \tfrac12)`) reads the mask
    bilinearly at :math:`u = (j + \tfrac12 - x_0)\,S / w - \tfrac12` (and the same in y), with the
    mask padded by one cell of zeros (so the pasted mask fades out at the box edge, as in
    torchvision); outside the box it is 0. All boxes at once with ``tf.image.crop_and_resize``: the
    "crop" is the whole image expressed in the mask's coordinates.

    Parameters
    ----------
    masks : (B, D, S, S) probabilities
    boxes : (B, D, 4) pixel xyxy
    image_size : int
    threshold : float

    Returns
    -------
    bool tf.Tensor (B, D, image_size, image_size)

    Examples
    --------
    A mask of ones pasted into the box (2, 1)-(6, 4) covers exactly those pixels:

    >>> import numpy as np
    >>> m = paste_masks(np.ones((1, 1, 28, 28)), np.array([[[2, 1, 6, 4]]], np.float32), 8)
    >>> m.numpy()[0, 0].astype(int)
    array([[0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 1, 1, 0, 0],
           [0, 0, 1, 1, 1, 1, 0, 0],
           [0, 0, 1, 1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0]])
    """
    import tensorflow as tf

    m = tf.cast(masks, tf.float32)
    b = tf.cast(boxes, tf.float32)
    if m.shape.rank != 4 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"`masks` must be (B, D, S, S); got shape {tuple(m.shape)}.")
    if b.shape.rank != 3 or b.shape[-1] != 4:
        raise ValueError(f"`boxes` must be (B, D, 4) pixel xyxy; got shape {tuple(b.shape)}.")
    n_img, n_det = tf.shape(m)[0], tf.shape(m)[1]
    s = int(m.shape[-1])
    size = int(image_size)
    flat = tf.pad(tf.reshape(m, (-1, s, s, 1)), [[0, 0], [1, 1], [1, 1], [0, 0]])
    b = tf.reshape(b, (-1, 4))
    w = tf.maximum(b[:, 2] - b[:, 0], 1e-3)
    h = tf.maximum(b[:, 3] - b[:, 1], 1e-3)
    # padded-mask index of the first and last pixel centre of the image, over (S + 1)
    x_first = ((0.5 - b[:, 0]) * s / w + 0.5) / (s + 1)
    x_last = ((size - 0.5 - b[:, 0]) * s / w + 0.5) / (s + 1)
    y_first = ((0.5 - b[:, 1]) * s / h + 0.5) / (s + 1)
    y_last = ((size - 0.5 - b[:, 1]) * s / h + 0.5) / (s + 1)
    crop = tf.stack([y_first, x_first, y_last, x_last], axis=1)
    full = tf.image.crop_and_resize(flat, crop, tf.range(tf.shape(flat)[0]), (size, size),
                                    extrapolation_value=0.0)
    return tf.reshape(full[..., 0] >= threshold, (n_img, n_det, size, size))
