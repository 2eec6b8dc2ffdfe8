r"""Training targets of Mask R-CNN in the TensorFlow graph, batched over padded ground truth.

* :func:`match_anchors` / :func:`rpn_targets`: every anchor positive, negative or ignored and its
  regression target: the rules of :func:`cvkit.detection.label_anchors` (IoU above 0.7 or the best
  anchor of a box: positive; below 0.3: negative) and the mini-batch of
  :func:`cvkit.detection.sample_anchors` (256 anchors, at most half positive).
* :func:`roi_targets`: the ROI sampler of the box and mask heads: the proposals plus the
  ground-truth boxes, positive at IoU >= 0.5, ``n_rois`` per image with at most a third positive,
  each with its class, its box deltas and, for the positives, the 28 x 28 mask target of
  :func:`cvkit.detection.mask_targets` (the object's mask ROI-Aligned to the box, one sample per
  cell, thresholded at 0.5).

The random draws come from :func:`per_image_uniform`, seeded per image by the training step and
the image's pixels, so an image gets the same sample whatever its place in the batch or the
replica that holds it (training on several replicas equals training on one device).

Ground truth is padded: ``gt_boxes`` (B, M, 4) pixel xyxy, ``gt_labels`` (B, M) with -1 in empty
slots, ``gt_masks`` (B, M, H, W). Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

from ..._validate import check_float, check_int
from ._checks import check_shape
from .heads import roi_align_graph
from .proposals import encode_graph

__all__ = ["image_seeds", "per_image_uniform", "sample_labels", "match_anchors", "rpn_targets",
           "mask_targets_graph", "roi_targets"]


def image_seeds(images, step):
    """(B, 2) int32 seeds: the training ``step`` and a checksum of each image's pixels.

    Examples
    --------
    >>> import numpy as np
    >>> image_seeds(np.ones((2, 4, 4, 3), np.float32), 7).numpy().tolist()
    [[7, 12240], [7, 12240]]
    """
    import tensorflow as tf

    x = tf.cast(tf.round(tf.cast(check_shape(images, "images", 4), tf.float32) * 255.0), tf.int32)
    checksum = tf.reduce_sum(x, axis=[1, 2, 3])
    step = tf.cast(step, tf.int32) * tf.ones_like(checksum)
    return tf.stack([step, checksum], axis=1)


def per_image_uniform(seeds, n):
    """(B, n) uniform numbers in [0, 1), row ``b`` drawn from ``seeds[b]`` alone
    (``tf.random.stateless_uniform``).

    Examples
    --------
    >>> import numpy as np
    >>> r = per_image_uniform(np.array([[1, 2], [1, 2], [3, 4]], np.int32), 5).numpy()
    >>> r.shape, bool((r[0] == r[1]).all()), bool((r[0] == r[2]).all())
    ((3, 5), True, False)
    """
    import tensorflow as tf

    seeds = tf.cast(check_shape(seeds, "seeds", 2, 2), tf.int32)
    return tf.map_fn(lambda s: tf.random.stateless_uniform((n,), s), seeds,
                     fn_output_signature=tf.float32)


def _rank_desc(key):
    """Rank of every entry of each row of ``key`` in decreasing order (0 = largest)."""
    import tensorflow as tf

    order = tf.argsort(key, axis=-1, direction="DESCENDING", stable=True)
    return tf.argsort(order, axis=-1, stable=True)


def sample_labels(positive, negative, total, max_positive, r):
    """Sample a mini-batch per row: at most ``max_positive`` positives (those with the largest
    ``r``), then negatives up to ``total``; labels 1 / 0 for the sampled, -1 for the rest.

    Examples
    --------
    >>> import numpy as np
    >>> pos = np.array([[1, 1, 1, 0, 0, 0]], bool)
    >>> r = np.array([[0.1, 0.9, 0.5, 0.3, 0.8, 0.2]], np.float32)
    >>> sample_labels(pos, ~pos, 4, 2, r).numpy()
    array([[-1,  1,  1,  0,  0, -1]], dtype=int32)
    """
    import tensorflow as tf

    positive = tf.cast(check_shape(positive, "positive", 2), tf.bool)
    negative = tf.cast(negative, tf.bool)
    r = tf.cast(r, tf.float32)
    if tuple(negative.shape) != tuple(positive.shape) or tuple(r.shape) != tuple(positive.shape):
        raise ValueError(f"`positive`, `negative` and `r` must have one shape (B, N); got "
                         f"{tuple(positive.shape)}, {tuple(negative.shape)}, {tuple(r.shape)}.")
    negative = negative & ~positive
    sel_pos = positive & (_rank_desc(tf.where(positive, r, -1.0)) < max_positive)
    n_pos = tf.reduce_sum(tf.cast(sel_pos, tf.int32), axis=-1, keepdims=True)
    sel_neg = negative & (_rank_desc(tf.where(negative, r, -1.0)) < total - n_pos)
    return tf.where(sel_pos, 1, tf.where(sel_neg, 0, -1))


def _iou_to_gt(boxes, gt_boxes, gt_valid):
    """(B, N, M) IoU of every box with every ground-truth box; -1 for the empty slots."""
    import tensorflow as tf

    from ...boxes import iou_tf

    iou = iou_tf(boxes[:, :, None, :], gt_boxes[:, None, :, :])
    return tf.where(gt_valid[:, None, :], iou, -1.0)


def match_anchors(anchors, gt_boxes, gt_valid, positive_iou=0.7, negative_iou=0.3):
    """Label every anchor as :func:`cvkit.detection.label_anchors` does (no anchor ignored for
    crossing the border): positive (1) above ``positive_iou`` or the best anchor of a box (ties
    included), negative (0) below ``negative_iou``, ignored (-1) otherwise.

    Returns
    -------
    labels : int32 (B, A), matched : int (B, A) index of the matched box

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0, 0, 20, 20], [2, 0, 22, 20], [50, 50, 60, 60]], np.float32)
    >>> labels, matched = match_anchors(a, np.array([[[0, 0, 20, 20]]], np.float32),
    ...                                 np.array([[True]]))
    >>> labels.numpy().tolist()
    [[1, 1, 0]]
    """
    import tensorflow as tf

    gt_boxes = tf.cast(check_shape(gt_boxes, "gt_boxes", 3, 4), tf.float32)
    gt_valid = tf.cast(check_shape(gt_valid, "gt_valid", 2), tf.bool)
    b = tf.shape(gt_boxes)[0]
    a = tf.tile(tf.constant(anchors, tf.float32)[None], [b, 1, 1])
    iou = _iou_to_gt(a, gt_boxes, gt_valid)                             # (B, A, M)
    max_iou = tf.reduce_max(iou, axis=2)
    gt_best = tf.reduce_max(iou, axis=1, keepdims=True)                 # (B, 1, M)
    is_best = (iou == gt_best) & (gt_best > 0)
    best_anchor = tf.reduce_any(is_best, axis=2)
    labels = tf.where(max_iou < negative_iou, 0, -1)
    labels = tf.where((max_iou > positive_iou) | best_anchor, 1, labels)
    matched = tf.where(best_anchor & (max_iou <= positive_iou),
                       tf.argmax(tf.cast(is_best, tf.int32), axis=2), tf.argmax(iou, axis=2))
    return labels, matched


def rpn_targets(anchors, gt_boxes, gt_valid, r, batch_size=256, positive_fraction=0.5):
    """The RPN's training targets: sampled labels (B, A) in {1, 0, -1} and deltas (B, A, 4) of the
    matched boxes (in units of :data:`BOX_STD`, zero where the label is not 1).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0, 0, 20, 20], [2, 0, 22, 20], [50, 50, 60, 60]], np.float32)
    >>> labels, deltas = rpn_targets(a, np.array([[[0, 0, 20, 20]]], np.float32),
    ...                              np.array([[True]]), np.zeros((1, 3), np.float32))
    >>> labels.numpy().tolist(), deltas.numpy()[0, 1].round(2).tolist()
    ([[1, 1, 0]], [-1.0, 0.0, 0.0, 0.0])
    """
    import tensorflow as tf

    labels, matched = match_anchors(anchors, gt_boxes, gt_valid)
    sampled = sample_labels(labels == 1, labels == 0, batch_size,
                            int(batch_size * positive_fraction), r)
    boxes = tf.gather(tf.cast(gt_boxes, tf.float32), matched, batch_dims=1)
    deltas = encode_graph(boxes, tf.constant(anchors, tf.float32)[None])
    return sampled, tf.where((sampled == 1)[..., None], deltas, 0.0)


def mask_targets_graph(gt_masks, boxes, mask_index, size=28):
    """Mask targets in the graph: the masks ``gt_masks`` (N, H, W) ROI-Aligned to ``boxes`` (R, 4)
    (pixel xyxy) with one sample per cell, mask ``mask_index[r]`` for box ``r``, thresholded at
    0.5: what :func:`cvkit.detection.mask_targets` computes in NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 32, 32), np.float32); m[0, 8:24, 8:16] = 1    # left half of the box
    >>> mask_targets_graph(m, np.array([[8, 8, 24, 24]], np.float32), [0], size=4).numpy()[0, 0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    import tensorflow as tf

    masks = tf.cast(check_shape(gt_masks, "gt_masks", 3), tf.float32)
    crops = roi_align_graph(masks[..., None], boxes, mask_index, size, 1.0, 1)
    return tf.cast(crops[..., 0] >= 0.5, tf.float32)


def roi_targets(proposals, valid, gt_boxes, gt_labels, gt_masks, r, n_rois=32,
                positive_fraction=0.33, positive_iou=0.5, mask_size=28):
    """Sample the ROIs of the box and mask heads and their targets.

    The candidates are the proposals (``valid`` ones) plus the ground-truth boxes; a candidate is
    positive when its best IoU with a box reaches ``positive_iou``, negative otherwise. Per image,
    ``n_rois`` are drawn, at most ``int(n_rois * positive_fraction)`` positive and those first.

    Returns
    -------
    dict
        ``rois`` (B, R, 4) pixel xyxy; ``labels`` (B, R) class 1..K, 0 for background;
        ``used`` (B, R) whether the ROI was sampled (else padding); ``positive`` (B, R);
        ``deltas`` (B, R, 4) box targets (units of :data:`BOX_STD`); ``mask_targets``
        (B, P, size, size) for the first ``P = int(n_rois * positive_fraction)`` ROIs (all the
        positives).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 1, 32, 32), np.float32); m[0, 0, 4:20, 4:20] = 1
    >>> t = roi_targets(np.array([[[5, 5, 19, 19], [20, 20, 30, 30]]], np.float32),
    ...                 np.array([[True, True]]), np.array([[[4, 4, 20, 20]]], np.float32),
    ...                 np.array([[2]]), m, np.zeros((1, 3), np.float32), n_rois=3,
    ...                 positive_fraction=0.67, mask_size=4)
    >>> t["labels"].numpy().tolist(), t["positive"].numpy().tolist()
    ([[3, 3, 0]], [[True, True, False]])
    """
    import tensorflow as tf

    gt_boxes = tf.cast(check_shape(gt_boxes, "gt_boxes", 3, 4), tf.float32)
    gt_labels = tf.cast(check_shape(gt_labels, "gt_labels", 2), tf.int32)
    proposals = check_shape(proposals, "proposals", 3, 4)
    gt_valid = gt_labels >= 0
    n_cand = proposals.shape[1] + gt_boxes.shape[1]
    n_rois = check_int(n_rois, "n_rois", minimum=1, maximum=n_cand)
    n_pos = int(n_rois * check_float(positive_fraction, "positive_fraction", 0.0, 1.0))
    if n_pos < 1:
        raise ValueError(f"`n_rois * positive_fraction` must allow one positive ROI; got "
                         f"{n_rois} * {positive_fraction}.")
    cand = tf.concat([tf.cast(proposals, tf.float32), gt_boxes], axis=1)
    cand_valid = tf.concat([tf.cast(valid, tf.bool), gt_valid], axis=1)
    iou = _iou_to_gt(cand, gt_boxes, gt_valid)
    max_iou, matched = tf.reduce_max(iou, axis=2), tf.argmax(iou, axis=2, output_type=tf.int32)
    lab = sample_labels(cand_valid & (max_iou >= positive_iou),
                        cand_valid & (max_iou < positive_iou), n_rois, n_pos, r)
    r = tf.cast(r, tf.float32)
    key = tf.where(lab == 1, 2.0 + r, tf.where(lab == 0, 1.0 + r, r - 1.0))
    idx = tf.math.top_k(key, k=n_rois).indices                           # positives first
    rois = tf.gather(cand, idx, batch_dims=1)
    roi_lab = tf.gather(lab, idx, batch_dims=1)
    positive = roi_lab == 1
    m = tf.gather(matched, idx, batch_dims=1)
    labels = tf.where(positive, tf.gather(gt_labels, m, batch_dims=1) + 1, 0)
    deltas = encode_graph(tf.gather(gt_boxes, m, batch_dims=1), rois)
    masks = tf.cast(gt_masks, tf.float32)
    n_img, n_gt = tf.shape(masks)[0], tf.shape(masks)[1]
    flat = tf.reshape(masks, tf.concat([[-1], tf.shape(masks)[2:]], 0))
    which = tf.range(n_img)[:, None] * n_gt + m[:, :n_pos]
    targets = mask_targets_graph(flat, tf.reshape(rois[:, :n_pos], (-1, 4)),
                                 tf.reshape(which, (-1,)), mask_size)
    return {"rois": rois, "labels": labels, "used": roi_lab >= 0, "positive": positive,
            "deltas": tf.where(positive[..., None], deltas, 0.0),
            "mask_targets": tf.reshape(targets, (n_img, n_pos, mask_size, mask_size))}
