r"""The five losses of Mask R-CNN.

.. math::
    L = L_{rpn\,cls} + \lambda\,L_{rpn\,box} + L_{cls} + L_{box} + L_{mask}

* :math:`L_{rpn\,cls}`, :math:`L_{rpn\,box}`: the RPN loss of :func:`cvkit.detection.rpn_loss`
  on the sampled anchors, per image (:func:`rpn_image_losses`: log loss on objectness; smooth L1 on
  the deltas of the positives, normalised by the 256 sampled anchors, hence :math:`\lambda = 10`
  as in Faster R-CNN);
* :math:`L_{cls}`: softmax cross-entropy over background + K classes on the sampled ROIs;
* :math:`L_{box}`: smooth L1 between the predicted deltas *of the ground-truth class* and the
  targets, on the positive ROIs;
* :math:`L_{mask}`: per-pixel sigmoid cross-entropy of the 28 x 28 mask *of the ground-truth
  class* only (no competition between classes), on the positive ROIs.

The ROI terms are averaged per image, then over the images: an image without objects adds zero
box and mask loss, never NaN, and each replica of a distributed batch computes the same average
as one device would. Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["per_image_mean", "rpn_image_losses", "maskrcnn_losses", "LOSS_NAMES"]

#: the keys of :func:`maskrcnn_losses`, in the order of the formula
LOSS_NAMES = ("rpn_cls", "rpn_box", "cls", "box", "mask")


def per_image_mean(values, weights):
    r"""Mean over the images of the weighted mean of each image:
    :math:`\frac1B \sum_b \frac{\sum_i w_{bi} v_{bi}}{\max(1, \sum_i w_{bi})}`.

    Examples
    --------
    >>> import numpy as np
    >>> float(per_image_mean(np.array([[1.0, 3.0], [5.0, 7.0]]), np.array([[1, 1], [0, 0]])))
    1.0
    """
    import tensorflow as tf

    v = tf.cast(values, tf.float32)
    w = tf.cast(weights, tf.float32)
    if tuple(v.shape) != tuple(w.shape) or v.shape.rank < 1:
        raise ValueError(f"`values` and `weights` must have one shape (B, ...); got "
                         f"{tuple(v.shape)} and {tuple(w.shape)}.")
    axes = list(range(1, len(v.shape)))
    per_image = tf.reduce_sum(v * w, axis=axes) / tf.maximum(tf.reduce_sum(w, axis=axes), 1.0)
    return tf.reduce_mean(per_image)


def rpn_image_losses(logits, deltas, labels, targets):
    r"""The two terms of :func:`cvkit.detection.rpn_loss`, normalised per image: for each image
    :math:`\frac{1}{N_{cls}} \sum_i L_{cls}(p_i, p_i^*)` and
    :math:`\frac{1}{N_{cls}} \sum_i p_i^* L_{reg}(t_i, t_i^*)` over its labelled anchors, then the
    mean over the images (for one image, exactly ``rpn_loss``'s ``cls_loss`` and ``reg_loss``).

    Examples
    --------
    >>> import numpy as np
    >>> cls, reg = rpn_image_losses(np.zeros((1, 2)), np.zeros((1, 2, 4)), np.array([[1, -1]]),
    ...                             np.full((1, 2, 4), 0.5))
    >>> round(float(cls), 6), float(reg)
    (0.693147, 0.5)
    """
    import tensorflow as tf

    from ..rpn import smooth_l1

    logits = tf.cast(logits, tf.float32)
    labels = tf.convert_to_tensor(labels)
    if tuple(labels.shape) != tuple(logits.shape) or tuple(np.shape(deltas)) != tuple(
            np.shape(targets)) or tuple(np.shape(deltas)) != tuple(logits.shape) + (4,):
        raise ValueError(f"the RPN `labels` (B, A), `deltas` and `targets` (B, A, 4) must agree "
                         f"with `logits` {tuple(logits.shape)}; got {tuple(labels.shape)}, "
                         f"{tuple(np.shape(deltas))} and {tuple(np.shape(targets))}.")
    used = labels >= 0
    positive = tf.cast(labels > 0, tf.float32)
    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=logits)
    reg = tf.reduce_sum(smooth_l1(tf.cast(deltas, tf.float32) - tf.cast(targets, tf.float32)),
                        axis=-1)
    return per_image_mean(ce, used), per_image_mean(reg * positive, used)


def maskrcnn_losses(rpn, heads, targets, rpn_box_weight=10.0):
    """The five losses of Mask R-CNN.

    Parameters
    ----------
    rpn : dict
        ``logits`` (B, A), ``deltas`` (B, A, 4) of the RPN head and its targets ``labels``
        (B, A) in {1, 0, -1} and ``targets`` (B, A, 4) (:func:`rpn_targets`).
    heads : dict
        ``cls_logits`` (B, R, K + 1), ``box_deltas`` (B, R, K + 1, 4) and ``mask_logits``
        (B, P, 28, 28, K) of the heads on the sampled ROIs.
    targets : dict
        What :func:`roi_targets` returns.
    rpn_box_weight : float
        :math:`\\lambda`.

    Returns
    -------
    dict of scalar tensors, keys :data:`LOSS_NAMES`.

    Examples
    --------
    Uniform class logits over 2 classes + background, zero deltas, zero mask logits: the class
    loss is log 3, the mask loss log 2, and the box loss that of the targets themselves.

    >>> import numpy as np
    >>> rpn = {"logits": np.zeros((1, 2)), "deltas": np.zeros((1, 2, 4)),
    ...        "labels": np.array([[1, 0]]), "targets": np.full((1, 2, 4), 0.5)}
    >>> heads = {"cls_logits": np.zeros((1, 2, 3)), "box_deltas": np.zeros((1, 2, 3, 4)),
    ...          "mask_logits": np.zeros((1, 1, 2, 2, 2))}
    >>> targets = {"labels": np.array([[2, 0]]), "used": np.array([[True, True]]),
    ...            "positive": np.array([[True, False]]), "deltas": np.full((1, 2, 4), 0.5),
    ...            "mask_targets": np.ones((1, 1, 2, 2))}
    >>> {k: round(float(v), 4) for k, v in maskrcnn_losses(rpn, heads, targets, 1.0).items()}
    {'rpn_cls': 0.6931, 'rpn_box': 0.25, 'cls': 1.0986, 'box': 0.5, 'mask': 0.6931}
    """
    import tensorflow as tf

    from ..rpn import smooth_l1

    rpn_cls, rpn_box = rpn_image_losses(rpn["logits"], rpn["deltas"], rpn["labels"],
                                        rpn["targets"])
    labels = tf.cast(targets["labels"], tf.int32)
    positive = tf.cast(targets["positive"], tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=tf.cast(heads["cls_logits"], tf.float32))
    cls = per_image_mean(ce, targets["used"])
    deltas = tf.gather(tf.cast(heads["box_deltas"], tf.float32), labels, batch_dims=2)
    box_err = tf.reduce_sum(smooth_l1(deltas - tf.cast(targets["deltas"], tf.float32)), axis=-1)
    box = per_image_mean(box_err, positive)
    n_mask = int(heads["mask_logits"].shape[1])
    mask_logits = tf.cast(heads["mask_logits"], tf.float32)
    channel = tf.maximum(labels[:, :n_mask] - 1, 0)
    mask_logits = tf.gather(tf.transpose(mask_logits, [0, 1, 4, 2, 3]), channel, batch_dims=2)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(targets["mask_targets"], tf.float32), logits=mask_logits)
    mask = per_image_mean(tf.reduce_mean(bce, axis=[2, 3]), positive[:, :n_mask])
    return {"rpn_cls": rpn_cls, "rpn_box": rpn_box_weight * rpn_box, "cls": cls, "box": box,
            "mask": mask}
