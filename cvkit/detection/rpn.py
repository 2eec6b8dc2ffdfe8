r"""Training targets and loss of the region proposal network (Faster R-CNN, Ren et al. 2015):
label every anchor positive, negative or ignored, sample the mini-batch, and the RPN loss with its
smooth L1 term.

Coordinates are pixel ``xyxy`` boxes, as :func:`cvkit.detection.anchors` makes them. Notebook:
``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_bool, check_float, check_int, check_seed
from ._common import as_box_array, as_float_tensor

__all__ = ["label_anchors", "sample_anchors", "smooth_l1", "rpn_loss"]


def _image_extent(image_size):
    """(H, W) of the image as positive floats."""
    if isinstance(image_size, (tuple, list, np.ndarray)):
        if len(image_size) != 2:
            raise ValueError(f"`image_size` must be a number or a pair (h, w); got "
                             f"{image_size!r}.")
    else:
        image_size = (image_size, image_size)
    return tuple(check_float(v, "image_size", minimum=0.0, strict_min=True) for v in image_size)


def _check_ious(positive_iou, negative_iou):
    positive_iou = check_float(positive_iou, "positive_iou", 0.0, 1.0)
    negative_iou = check_float(negative_iou, "negative_iou", 0.0, 1.0)
    if negative_iou > positive_iou:
        raise ValueError(f"`negative_iou` ({negative_iou}) must not exceed `positive_iou` "
                         f"({positive_iou}).")
    return positive_iou, negative_iou


def _valid_anchors(a, image_size, ignore_cross_boundary):
    """Which anchors may be labelled: those inside the image when ``ignore_cross_boundary``."""
    if not check_bool(ignore_cross_boundary, "ignore_cross_boundary"):
        return np.ones(a.shape[0], dtype=bool)
    if image_size is None:
        raise ValueError("`image_size` (H, W) is needed to ignore the cross-boundary anchors; "
                         "pass it or set ignore_cross_boundary=False.")
    H, W = _image_extent(image_size)
    return (a[:, 0] >= 0) & (a[:, 1] >= 0) & (a[:, 2] <= W) & (a[:, 3] <= H)


def _match(iou, valid, positive_iou, negative_iou):
    """Labels (A,) and matched box (A,) from the (A, G) IoU matrix (invalid rows set to -1)."""
    A = iou.shape[0]
    labels = np.full(A, -1, dtype=np.int8)
    matched = np.argmax(iou, axis=1)
    max_iou = iou[np.arange(A), matched]
    labels[valid & (max_iou < negative_iou)] = 0
    labels[valid & (max_iou > positive_iou)] = 1
    gt_best = iou.max(axis=0)  # (G,)
    is_best = (iou == gt_best[None, :]) & (gt_best[None, :] > 0)
    best_anchor = is_best.any(axis=1) & valid
    labels[best_anchor] = 1
    # a best anchor is matched to the box it is best for
    col = np.argmax(is_best, axis=1)
    matched = np.where(best_anchor & (max_iou <= positive_iou), col, matched)
    return labels, matched, max_iou


def label_anchors(anchor_boxes, gt_boxes, image_size=None, positive_iou=0.7, negative_iou=0.3,
                  ignore_cross_boundary=True):
    r"""RPN training targets: label every anchor positive (1), negative (0) or ignored (-1).

    Following Faster R-CNN (Ren et al., 2015) as the course describes:

    - positive if its IoU with some ground-truth box is above ``positive_iou`` (0.7), or if it is
      the anchor with the highest IoU for some ground-truth box (ties included; this guarantees
      every box at least one anchor);
    - negative if its IoU with every ground-truth box is below ``negative_iou`` (0.3) and it is not
      positive;
    - ignored otherwise, and, when ``ignore_cross_boundary``, every anchor that crosses the image
      border (these never count, not even as the best anchor of a box).

    Regression targets are the deltas of the matched box (the box of highest IoU) relative to the
    anchor (:func:`cvkit.boxes.encode_deltas`):
    :math:`t_x = (x - x_a)/w_a,\ t_y = (y - y_a)/h_a,\ t_w = \log(w/w_a),\ t_h = \log(h/h_a)`.
    IoUs come from one vectorised (A, G) matrix (:func:`cvkit.boxes.pairwise_iou`).

    Parameters
    ----------
    anchor_boxes : (A, 4) pixel xyxy (from :func:`cvkit.detection.anchors`)
    gt_boxes : (G, 4) pixel xyxy; G may be 0 (then every valid anchor is negative)
    image_size : (H, W) or None
        Needed when ``ignore_cross_boundary``.
    positive_iou, negative_iou : float, ``0 <= negative_iou <= positive_iou <= 1``
    ignore_cross_boundary : bool

    Returns
    -------
    labels : int8 (A,) in {1, 0, -1}
    targets : float32 (A, 4) deltas (zero where the label is not 1)
    matched : int64 (A,) index of the matched ground-truth box (-1 when G = 0)
    max_iou : float32 (A,)

    Examples
    --------
    >>> a = np.array([[-5, 0, 20, 20], [0, 0, 20, 20], [50, 50, 60, 60.0]])
    >>> labels, targets, matched, max_iou = label_anchors(a, [[0, 0, 20, 20]], (64, 64))
    >>> labels, matched, max_iou
    (array([-1,  1,  0], dtype=int8), array([0, 0, 0]), array([0., 1., 0.], dtype=float32))
    """
    from ..boxes import encode_deltas, pairwise_iou

    a = as_box_array(anchor_boxes, "anchor_boxes")
    g = as_box_array(gt_boxes, "gt_boxes", allow_empty=True)
    positive_iou, negative_iou = _check_ious(positive_iou, negative_iou)
    if np.any(g[:, 2] <= g[:, 0]) or np.any(g[:, 3] <= g[:, 1]):
        raise ValueError("`gt_boxes` must have x_max > x_min and y_max > y_min (xyxy); some are "
                         "empty or inverted.")
    A = a.shape[0]
    valid = _valid_anchors(a, image_size, ignore_cross_boundary)
    targets = np.zeros((A, 4), dtype=np.float32)
    if g.shape[0] == 0:
        labels = np.where(valid, 0, -1).astype(np.int8)
        return labels, targets, np.full(A, -1, np.int64), np.zeros(A, np.float32)
    iou = pairwise_iou(a, g).astype(np.float64)  # (A, G)
    iou[~valid] = -1.0
    labels, matched, max_iou = _match(iou, valid, positive_iou, negative_iou)
    pos = labels == 1
    if pos.any():
        targets[pos] = encode_deltas(g[matched[pos]], a[pos]).astype(np.float32)
    return labels, targets, matched.astype(np.int64), np.maximum(max_iou, 0).astype(np.float32)


def _anchor_labels(labels, name, ndim=None):
    """Anchor labels as int64, each 1 (object), 0 (background) or -1 (ignored): no silent wrap
    (300 as int8) or truncation (0.5 -> 0)."""
    lab = as_array(labels, name, ndim=ndim, kind="integer", hint="(A,)")
    if lab.dtype == bool:
        raise TypeError(f"`{name}` must hold 1 / 0 / -1 labels; got a bool array.")
    bad = np.flatnonzero((lab < -1) | (lab > 1))
    if bad.size:
        raise ValueError(f"`{name}` must hold 1 (object), 0 (background) or -1 (ignored); got "
                         f"{lab.ravel()[bad[0]]} at index {bad[0]}.")
    return lab.astype(np.int64)


def sample_anchors(labels, batch_size=256, positive_fraction=0.5, seed=0):
    """Sample the RPN mini-batch: at most ``batch_size * positive_fraction`` positives, the rest
    negatives; the anchors not drawn become ignored (-1).

    Returns
    -------
    int8 (A,)
        A new label array.

    Examples
    --------
    >>> s = sample_anchors(np.array([1] * 10 + [0] * 1000), batch_size=256)
    >>> int((s == 1).sum()), int((s == 0).sum()), int((s == -1).sum())
    (10, 246, 754)
    """
    lab = _anchor_labels(labels, "labels", ndim=1).astype(np.int8)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    positive_fraction = check_float(positive_fraction, "positive_fraction", 0.0, 1.0)
    rng = np.random.default_rng(check_seed(seed))
    pos = np.flatnonzero(lab == 1)
    neg = np.flatnonzero(lab == 0)
    n_pos = min(pos.size, int(batch_size * positive_fraction))
    n_neg = min(neg.size, batch_size - n_pos)
    lab[rng.permutation(pos)[n_pos:]] = -1
    lab[rng.permutation(neg)[n_neg:]] = -1
    return lab


def smooth_l1(x, beta=1.0):
    r"""Smooth L1 (Huber) loss per element, the :math:`L_{reg}` of the RPN loss:
    :math:`0.5 x^2 / \beta` if :math:`|x| < \beta`, else :math:`|x| - 0.5 \beta`.

    The one implementation is :func:`cvkit.models.smooth_l1_box_loss` (the box loss of
    localisation, beta 0.1 by default); this is it per element, with Fast R-CNN's beta of 1.

    Parameters
    ----------
    x : array or tf.Tensor
        Differences between predicted and target deltas.
    beta : float > 0
        Where the loss turns from quadratic to linear.

    Returns
    -------
    tf.Tensor
        float32, the shape of ``x``.

    Examples
    --------
    >>> smooth_l1([0.5, -2.0, 3.0]).numpy()
    array([0.125, 1.5  , 2.5  ], dtype=float32)
    """
    import tensorflow as tf

    from ..models import smooth_l1_box_loss

    beta = check_float(beta, "beta", 0.0, strict_min=True)
    x = as_float_tensor(x, "x")
    # the box loss averages over a last axis of 4 numbers: four copies of x average to x itself
    x4 = tf.repeat(x[None, ..., None], 4, axis=-1)
    return smooth_l1_box_loss(tf.zeros_like(x4), x4, beta)[0]


def rpn_loss(objectness_logits, deltas, labels, targets, lam=1.0, n_reg=None):
    r"""The RPN loss of Faster R-CNN.

    .. math::
        L(\{p_i\}, \{t_i\}) = \frac{1}{N_{cls}} \sum_i L_{cls}(p_i, p_i^*)
        + \lambda \frac{1}{N_{reg}} \sum_i p_i^* L_{reg}(t_i, t_i^*)

    :math:`L_{cls}` the log loss over object / not object (sigmoid cross-entropy on the logit),
    :math:`L_{reg}` the smooth L1 loss summed over the 4 deltas, counted only for positive anchors
    (:math:`p_i^* = 1`). Ignored anchors (label -1) count in neither term. :math:`N_{cls}` is the
    number of labelled anchors (the mini-batch); :math:`N_{reg}` defaults to the same number (the
    paper normalises by the number of anchor positions, ~2400, with :math:`\lambda = 10`, which
    makes the two terms about equal; pass ``n_reg`` and ``lam`` to follow it).

    Parameters
    ----------
    objectness_logits : (A,) or (B, A) logits :math:`p_i` before the sigmoid
    deltas : (A, 4) or (B, A, 4) predicted :math:`t_i`
    labels : (A,) or (B, A) in {1, 0, -1}
    targets : (A, 4) or (B, A, 4) :math:`t_i^*`
    lam : float, :math:`\lambda`
    n_reg : float or None

    Returns
    -------
    total, cls_loss, reg_loss : scalar tf.Tensors (differentiable in the predictions)

    Examples
    --------
    >>> total, cls, reg = rpn_loss([0.0, 0.0], np.zeros((2, 4)), [1, -1], np.full((2, 4), 0.5))
    >>> round(float(cls), 6), float(reg)        # log 2; 4 deltas of 0.5 -> 4 * 0.125
    (0.693147, 0.5)
    """
    import tensorflow as tf

    lam = check_float(lam, "lam", minimum=0.0)
    logits = as_float_tensor(objectness_logits, "objectness_logits")
    d = as_float_tensor(deltas, "deltas")
    if tf.executing_eagerly():   # values can be checked (not inside a tf.function)
        _anchor_labels(labels, "labels")
    lab = as_float_tensor(labels, "labels")
    t = as_float_tensor(targets, "targets")
    if tuple(lab.shape) != tuple(logits.shape):
        raise ValueError(f"`labels` must have the shape of `objectness_logits` {tuple(logits.shape)}; "
                         f"got {tuple(lab.shape)}.")
    if tuple(d.shape) != tuple(logits.shape) + (4,) or tuple(t.shape) != tuple(d.shape):
        raise ValueError(f"`deltas` and `targets` must have shape {tuple(logits.shape) + (4,)}; got "
                         f"{tuple(d.shape)} and {tuple(t.shape)}.")
    lab = tf.cast(lab, tf.float32)
    used = tf.cast(lab >= 0, tf.float32)
    pos = tf.cast(lab > 0, tf.float32)
    n_cls = tf.maximum(tf.reduce_sum(used), 1.0)
    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=pos, logits=logits)
    cls_loss = tf.reduce_sum(ce * used) / n_cls
    n_r = n_cls if n_reg is None else tf.constant(check_float(n_reg, "n_reg", 0.0, strict_min=True))
    reg = tf.reduce_sum(smooth_l1(d - t), axis=-1)
    reg_loss = tf.reduce_sum(reg * pos) / n_r
    return cls_loss + lam * reg_loss, cls_loss, reg_loss
