"""Localization metrics: class accuracy, mean IoU and the "correct localization" rate.

A prediction localizes an object correctly when the class is right **and** the predicted box overlaps
the true one with :math:`\\mathrm{IoU} \\ge 0.5` (the top-1 localization criterion of ImageNet and
of the WSOL benchmark). Images without an object (see :data:`cvkit.models.losses.NO_BOX`) count as
correct when their class is right and are left out of the mean IoU.

The Keras metrics take ``y_true = (labels, boxes)`` and ``y_pred = (probabilities, boxes)`` (tuples
or dicts with keys ``'classifier'`` and ``'localizer'``), which is what
:class:`cvkit.models.LocalizationModel` passes them; :func:`localization_scores` computes the same
numbers from NumPy arrays. Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .. import boxes as _boxes
from .._validate import as_array, check_float
from .losses import _as_tensor, _pair, _split, box_mask

__all__ = ["ClassAccuracy", "BoxMeanIoU", "CorrectLocalization", "localization_scores",
           "predicted_classes"]


def _pred_class(probs):
    probs = tf.convert_to_tensor(probs)
    if probs.shape[-1] == 1:
        return tf.cast(tf.reshape(probs, [-1]) >= 0.5, tf.int64)
    return tf.argmax(probs, axis=-1, output_type=tf.int64)


def _true_class(labels, n_classes):
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2 and n_classes > 1 and labels.shape[-1] == n_classes:
        return tf.argmax(labels, axis=-1, output_type=tf.int64)
    return tf.cast(tf.reshape(labels, [-1]), tf.int64)


class _MeanMetric(keras.metrics.Metric):
    """Weighted running mean of a per-image quantity (helper base)."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _accumulate(self, values, weights):
        values = tf.cast(values, self.dtype)
        weights = tf.cast(weights, self.dtype)
        self.total.assign_add(tf.reduce_sum(values * weights))
        self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)


def _weights(sample_weight, n, dtype):
    if sample_weight is None:
        return tf.ones([n], dtype)
    return tf.cast(tf.reshape(sample_weight, [-1]), dtype)


@keras.saving.register_keras_serializable(package="cvkit")
class ClassAccuracy(_MeanMetric):
    """Fraction of images whose predicted class (argmax, or p >= 0.5 for one output) is right.

    Examples
    --------
    >>> acc = ClassAccuracy()
    >>> acc.update_state(np.array([0, 2]), np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]))
    >>> float(acc.result())                    # image 2 is predicted as class 1
    0.5
    >>> acc.update_state(np.array([1]), np.array([[0.2, 0.7, 0.1]]))
    >>> round(float(acc.result()), 4)          # a running mean: 2 right out of 3
    0.6667
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, _ = _split(y_true, "y_true") if isinstance(y_true, (dict, tuple, list)) \
            else (y_true, None)
        probs, _ = _split(y_pred, "y_pred") if isinstance(y_pred, (dict, tuple, list)) \
            else (y_pred, None)
        probs = _as_tensor(probs, "y_pred", what="class probabilities (N, C)")
        labels = _as_tensor(labels, "y_true", what="class ids (N,) or one-hot rows (N, C)")
        pc = _pred_class(probs)
        tc = _true_class(labels, probs.shape[-1])
        self._accumulate(tf.equal(pc, tc), _weights(sample_weight, tf.size(pc), self.dtype))


@keras.saving.register_keras_serializable(package="cvkit")
class BoxMeanIoU(_MeanMetric):
    """Mean IoU between predicted and true boxes, over the images that have an object.

    Examples
    --------
    The second image has no object (``NO_BOX``) and is left out; the first has IoU 1/7:

    >>> from cvkit.models.losses import NO_BOX
    >>> y_true = (np.array([0, 1]), np.array([[0.0, 0.0, 0.5, 0.5], NO_BOX]))
    >>> y_pred = (np.array([[1.0, 0.0], [0.0, 1.0]]),
    ...           np.array([[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 1.0, 1.0]]))
    >>> miou = BoxMeanIoU()
    >>> miou.update_state(y_true, y_pred)
    >>> round(float(miou.result()), 6)
    0.142857
    """

    def __init__(self, name="mean_iou", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, _, iou, mask = _box_ious(y_true, y_pred, self.dtype)
        self._accumulate(iou, mask * _weights(sample_weight, tf.shape(mask)[0], self.dtype))


def _box_ious(y_true, y_pred, dtype):
    """(labels, probs, IoU per image, 1 where the image has an object) of a localizer's batch;
    an image without an object (``NO_BOX``) gets IoU 0 and mask 0."""
    labels, b_true = _split(y_true, "y_true")
    probs, b_pred = _split(y_pred, "y_pred")
    b_true, b_pred = _pair(b_true, b_pred, ("y_true['localizer']", "y_pred['localizer']"))
    b_true, b_pred = tf.cast(b_true, dtype), tf.cast(b_pred, dtype)
    mask = box_mask(b_true)
    iou = _boxes.iou_tf(tf.where(mask[:, None] > 0, b_true, 0.0), b_pred)
    return labels, probs, iou, mask


@keras.saving.register_keras_serializable(package="cvkit")
class CorrectLocalization(_MeanMetric):
    """Fraction of images with the right class and :math:`\\mathrm{IoU} \\ge` ``iou_threshold``.

    Images without an object (``NO_BOX``) count when their class is right.

    Parameters
    ----------
    iou_threshold : float in [0, 1]
    name : str
    dtype : optional

    Examples
    --------
    Image 0: right class, IoU 1. Image 1: right class, IoU 0.25. Image 2: no object, right class.

    >>> from cvkit.models.losses import NO_BOX
    >>> labels = np.array([0, 1, 1])
    >>> boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0], NO_BOX])
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    >>> pred_boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.4, 0.4]])
    >>> loc = CorrectLocalization()
    >>> loc.update_state((labels, boxes), (probs, pred_boxes))
    >>> round(float(loc.result()), 4)          # image 1 misses IoU 0.5
    0.6667
    >>> loc = CorrectLocalization(iou_threshold=0.25)
    >>> loc.update_state((labels, boxes), (probs, pred_boxes))
    >>> float(loc.result())
    1.0
    """

    def __init__(self, iou_threshold=0.5, name="correct_localization", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, probs, iou, mask = _box_ious(y_true, y_pred, self.dtype)
        probs = _as_tensor(probs, "y_pred['classifier']", what="class probabilities (N, C)")
        hit = (iou >= self.iou_threshold) | (mask == 0)
        right = tf.equal(_pred_class(probs), _true_class(labels, probs.shape[-1]))
        self._accumulate(right & hit, _weights(sample_weight, tf.shape(mask)[0], self.dtype))

    def get_config(self):
        return {**super().get_config(), "iou_threshold": self.iou_threshold}


def predicted_classes(probs):
    """Class ids from probabilities: argmax, or ``p >= 0.5`` for a single sigmoid output.

    Parameters
    ----------
    probs : array-like (N, C)

    Returns
    -------
    np.ndarray int64 (N,)

    Examples
    --------
    >>> predicted_classes([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    array([1, 0])
    >>> predicted_classes([[0.7], [0.2]])      # one sigmoid unit
    array([1, 0])
    """
    p = as_array(probs, "probs", ndim=2, hint="(N, C)")
    if p.dtype == bool:
        raise TypeError("`probs` must be class probabilities or scores, not booleans; got dtype "
                        "bool.")
    return (p[:, 0] >= 0.5).astype(np.int64) if p.shape[1] == 1 else p.argmax(axis=1)


def localization_scores(labels, boxes, probs, pred_boxes, iou_threshold=0.5):
    """Class accuracy, mean IoU and correct-localization rate from NumPy arrays.

    Parameters
    ----------
    labels : (N,) int
        True classes.
    boxes : (N, 4)
        True normalised ``xyxy`` boxes (a degenerate row such as ``NO_BOX`` means no object).
    probs : (N, C)
        Predicted class probabilities.
    pred_boxes : (N, 4)
        Predicted boxes.
    iou_threshold : float
        IoU needed for a correct localization (0.5).

    Returns
    -------
    dict
        ``accuracy``, ``mean_iou`` (over images with an object), ``correct_localization`` and
        ``iou`` (N,) per image.

    Examples
    --------
    The images of :class:`CorrectLocalization`'s example:

    >>> from cvkit.models.losses import NO_BOX
    >>> scores = localization_scores(
    ...     [0, 1, 1], [[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0], NO_BOX],
    ...     [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]],
    ...     [[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.4, 0.4]])
    >>> scores['iou']
    array([1.  , 0.25, 0.  ])
    >>> scores['accuracy'], scores['mean_iou'], round(scores['correct_localization'], 4)
    (1.0, 0.625, 0.6667)
    """
    iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
    labels = as_array(labels, "labels", ndim=1, kind="integer", hint="(N,)")
    pc = predicted_classes(probs)
    b = _boxes.as_boxes(boxes, "boxes")
    pb = _boxes.as_boxes(pred_boxes, "pred_boxes")
    n = len(labels)
    if not (len(pc) == len(b) == len(pb) == n):
        raise ValueError(f"`labels`, `boxes`, `probs` and `pred_boxes` must hold the same number of "
                         f"images; got {n}, {len(b)}, {len(pc)} and {len(pb)}.")
    has_box = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    iou = _boxes.iou(b, pb)
    right = pc == labels
    return {
        "accuracy": float(right.mean()),
        "mean_iou": float(iou[has_box].mean()) if has_box.any() else float("nan"),
        "correct_localization": float((right & ((iou >= iou_threshold) | ~has_box)).mean()),
        "iou": iou,
    }
