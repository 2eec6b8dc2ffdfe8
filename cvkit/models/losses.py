"""Losses for localization: box regression losses and the weighted multitask loss.

The course writes the localization loss as the sum of a classification loss and a box regression
loss, weighted by :math:`\\alpha`:

.. math::
    \\mathcal{L}(x) = \\mathcal{L}_{cls}(y, \\hat y) + \\alpha\\, \\mathcal{L}_{box}(b, \\hat b)

with :math:`\\mathcal{L}_{cls}` the categorical cross-entropy (binary for the one-class "quick and
dirty" model) and :math:`\\mathcal{L}_{box}` an L2 (MSE), smooth-L1 or GIoU loss on the four box
numbers. Images without an object have no box: their box loss is masked out (a box row whose
``x_max <= x_min`` or ``y_max <= y_min``, e.g. :data:`NO_BOX`, or with NaN, marks "no object").

All functions are TensorFlow, differentiable, and return per-image losses unless said otherwise.
Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from .. import boxes as _boxes
from .._validate import check_float, describe

__all__ = [
    "NO_BOX",
    "BOX_LOSSES",
    "l2_box_loss",
    "smooth_l1_box_loss",
    "giou_box_loss",
    "box_loss",
    "box_mask",
    "classification_loss",
    "multitask_loss",
    "keypoint_l2_loss",
    "BoxLoss",
]

#: the box target of an image without an object: its box loss is masked out.
NO_BOX = (-1.0, -1.0, -1.0, -1.0)


def _as_tensor(x, name, last=None, what="boxes"):
    """A numeric tensor (bool and strings refused) whose static last axis is ``last``."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be a numeric tensor or array of {what}; got {describe(x)}.")
    try:
        t = tf.convert_to_tensor(x)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a numeric tensor or array of {what}; got "
                        f"{describe(x)}.") from None
    if t.dtype == tf.bool or not (t.dtype.is_floating or t.dtype.is_integer):
        raise TypeError(f"`{name}` must hold numbers; got dtype {t.dtype.name}.")
    rank = t.shape.rank
    if last is not None and rank is not None and (rank < 2 or t.shape[-1] not in (None, last)):
        raise ValueError(f"`{name}` must have shape (N, ..., {last}) ({what}); got shape "
                         f"{tuple(t.shape)}.")
    return t


def _pair(a, b, names=("b_true", "b_pred"), last=4, what="boxes"):
    """Target and prediction as tensors of one float dtype and the same static shape."""
    a, b = _as_tensor(a, names[0], last, what), _as_tensor(b, names[1], last, what)
    dtype = b.dtype if b.dtype.is_floating else (a.dtype if a.dtype.is_floating else tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    if a.shape.is_fully_defined() and b.shape.is_fully_defined() and a.shape != b.shape:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same shape; got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    return a, b


def l2_box_loss(b_true, b_pred):
    """Per-image L2 (mean squared error) over the four box numbers.

    .. math:: \\mathcal{L}_{L2} = \\frac{1}{4} \\sum_{j=1}^{4} (b_j - \\hat b_j)^2

    Parameters
    ----------
    b_true, b_pred : (N, 4) tensors
        Target and predicted boxes (any one format, the same for both).

    Returns
    -------
    (N,) tensor

    Examples
    --------
    A box off by 0.1 on x_min and 0.2 on y_max: (0.1**2 + 0.2**2) / 4 = 0.0125.

    >>> import numpy as np
    >>> b_true = np.array([[0.0, 0.0, 0.5, 0.5]], np.float32)
    >>> b_pred = np.array([[0.1, 0.0, 0.5, 0.3]], np.float32)
    >>> round(float(l2_box_loss(b_true, b_pred)[0]), 6)
    0.0125
    """
    b_true, b_pred = _pair(b_true, b_pred)
    return tf.reduce_mean(tf.square(b_true - b_pred), axis=-1)


def smooth_l1_box_loss(b_true, b_pred, beta=0.1):
    """Per-image smooth-L1 (Huber) loss, quadratic near zero and linear beyond ``beta``.

    .. math::
        \\mathcal{L}_{sL1} = \\frac{1}{4} \\sum_j
        \\begin{cases} 0.5\\, d_j^2 / \\beta & |d_j| < \\beta \\\\ |d_j| - 0.5 \\beta & \\text{else}
        \\end{cases},\\qquad d_j = b_j - \\hat b_j

    Less sensitive to outliers than L2 (the Fast R-CNN box loss). ``beta`` is in the units of the
    boxes (normalised coordinates: 0.1 is a tenth of the image side).

    Parameters
    ----------
    b_true, b_pred : (N, 4) tensors
    beta : float
        Where the loss turns from quadratic to linear.

    Returns
    -------
    (N,) tensor

    Examples
    --------
    Differences 0.05 (below beta: 0.5 * 0.05**2 / 0.1 = 0.0125) and 0.2 (above: 0.2 - 0.05 =
    0.15): (0.0125 + 0.15) / 4 = 0.040625.

    >>> import numpy as np
    >>> b_true = np.array([[0.0, 0.0, 0.5, 0.5]], np.float32)
    >>> b_pred = np.array([[0.05, 0.0, 0.5, 0.3]], np.float32)
    >>> round(float(smooth_l1_box_loss(b_true, b_pred, beta=0.1)[0]), 6)
    0.040625
    """
    b_true, b_pred = _pair(b_true, b_pred)
    if not tf.is_tensor(beta):
        beta = check_float(beta, "beta", minimum=0.0, strict_min=True)
    d = tf.abs(b_true - b_pred)
    beta = tf.cast(beta, d.dtype)
    return tf.reduce_mean(tf.where(d < beta, 0.5 * tf.square(d) / beta, d - 0.5 * beta), axis=-1)


def giou_box_loss(b_true, b_pred):
    """Per-image GIoU loss :math:`1 - \\mathrm{GIoU}(b, \\hat b)` on ``xyxy`` boxes, in [0, 2].

    Scale invariant and, unlike :math:`1 - \\mathrm{IoU}`, it still has a gradient when the boxes
    do not overlap (see :func:`cvkit.boxes.giou_tf`).

    Parameters
    ----------
    b_true, b_pred : (N, 4) tensors
        ``xyxy`` boxes.

    Returns
    -------
    (N,) tensor

    Examples
    --------
    The square [0, 0.5] x [0, 0.5] against a box shifted right by half its width (intersection 0.125,
    union 0.375, the enclosing box is the union: GIoU = 1/3) and against a disjoint box
    (IoU 0, union 0.375, enclosing box 0.5: GIoU = -0.125 / 0.5 = -0.25):

    >>> import numpy as np
    >>> b_true = np.array([[0.0, 0.0, 0.5, 0.5]] * 2, np.float32)
    >>> b_pred = np.array([[0.25, 0.0, 0.75, 0.5], [0.75, 0.0, 1.0, 0.5]], np.float32)
    >>> giou_box_loss(b_true, b_pred).numpy().round(6)
    array([0.666667, 1.25    ], dtype=float32)
    """
    b_true, b_pred = _pair(b_true, b_pred)
    return 1.0 - _boxes.giou_tf(b_true, b_pred)


BOX_LOSSES = {"l2": l2_box_loss, "mse": l2_box_loss, "smooth_l1": smooth_l1_box_loss,
              "giou": giou_box_loss}


def _box_loss_fn(name, arg="box_loss"):
    if callable(name):
        return name
    if not isinstance(name, str) or name not in BOX_LOSSES:
        raise ValueError(f"`{arg}` must be one of {sorted(BOX_LOSSES)} or a callable "
                         f"(b_true, b_pred) -> per-image loss; got {name!r}.")
    return BOX_LOSSES[name]


def box_mask(b_true):
    """1.0 for images that have a box, 0.0 for "no object" rows (degenerate, e.g. NO_BOX, or NaN).

    Parameters
    ----------
    b_true : (N, 4) tensor
        ``xyxy`` target boxes.

    Returns
    -------
    (N,) tensor
        Of the dtype of ``b_true``.

    Examples
    --------
    >>> import numpy as np
    >>> b_true = np.array([[0, 0, 0.5, 0.5], NO_BOX, [np.nan] * 4, [0.5, 0, 0.5, 1]], np.float32)
    >>> box_mask(b_true).numpy()   # the last box has zero width
    array([1., 0., 0., 0.], dtype=float32)
    """
    finite = tf.reduce_all(tf.math.is_finite(b_true), axis=-1)
    safe = tf.where(tf.math.is_finite(b_true), b_true, tf.zeros_like(b_true))
    valid = (safe[..., 2] > safe[..., 0]) & (safe[..., 3] > safe[..., 1]) & finite
    return tf.cast(valid, b_true.dtype)


def box_loss(b_true, b_pred, kind="l2", sample_weight=None, normalizer=None):
    """Box loss averaged over the images that have an object.

    .. math::
        \\mathcal{L}_{box} = \\frac{\\sum_i m_i\\, w_i\\, \\ell(b_i, \\hat b_i)}{\\max(1, \\sum_i m_i)}

    with :math:`m_i` the object mask (:func:`box_mask`) and :math:`w_i` the sample weights.
    A batch without any box gives 0 (and a zero gradient), never NaN. ``normalizer`` replaces the
    denominator (the training step of a distributed model passes the number of boxes over all
    replicas, so that every box weighs the same whichever replica it lands on).

    Parameters
    ----------
    b_true, b_pred : (N, 4) tensors
        Target and predicted ``xyxy`` boxes; "no object" rows of ``b_true`` are masked out.
    kind : {'l2', 'mse', 'smooth_l1', 'giou'} or callable
        The per-image loss :math:`\\ell`, or a function ``(b_true, b_pred) -> (N,)``.
    sample_weight : (N,), optional
    normalizer : scalar, optional
        The denominator (default: the number of images with a box, at least 1).

    Returns
    -------
    scalar tensor

    Examples
    --------
    The second image has no object: only the first counts, with the L2 loss 0.0125 of
    :func:`l2_box_loss`, divided by one box.

    >>> import numpy as np
    >>> b_true = np.array([[0.0, 0.0, 0.5, 0.5], NO_BOX], np.float32)
    >>> b_pred = np.array([[0.1, 0.0, 0.5, 0.3], [0.3, 0.3, 0.6, 0.6]], np.float32)
    >>> round(float(box_loss(b_true, b_pred)), 6)
    0.0125
    >>> float(box_loss(np.array([NO_BOX, NO_BOX], np.float32), b_pred))   # no box: 0, not NaN
    0.0
    """
    fn = _box_loss_fn(kind, "kind")
    b_true, b_pred = _pair(b_true, b_pred)
    mask = box_mask(b_true)
    # replace the "no object" rows by the prediction itself: zero loss, zero gradient, no NaN
    safe_true = tf.where(mask[..., None] > 0, b_true, tf.stop_gradient(b_pred))
    per = fn(safe_true, b_pred) * mask
    if sample_weight is not None:
        per = per * tf.cast(tf.reshape(sample_weight, tf.shape(per)), per.dtype)
    if normalizer is None:
        normalizer = tf.maximum(tf.reduce_sum(mask), 1.0)
    return tf.math.divide_no_nan(tf.reduce_sum(per), tf.cast(normalizer, per.dtype))


def classification_loss(y_true, y_prob, sample_weight=None):
    """Mean cross-entropy of predicted probabilities.

    ``y_prob`` (N, C) with C > 1: categorical cross-entropy
    :math:`-\\sum_c y_c \\log \\hat y_c`; ``y_true`` holds class ids (N,) or one-hot rows (N, C).
    ``y_prob`` (N, 1): binary cross-entropy, ``y_true`` in {0, 1}.

    Parameters
    ----------
    y_true : (N,) class ids or (N, C) one-hot rows
    y_prob : (N, C) probabilities
    sample_weight : (N,), optional
        Weights of the images; the weighted sum is divided by N.

    Returns
    -------
    scalar tensor

    Examples
    --------
    The right class gets 0.5 and 0.75: (-ln 0.5 - ln 0.75) / 2 = (0.693147 + 0.287682) / 2.

    >>> import numpy as np
    >>> y_prob = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    >>> round(float(classification_loss([0, 1], y_prob)), 6)
    0.490415
    >>> round(float(classification_loss([1, 0], np.array([[0.5], [0.5]], np.float32))), 6)
    0.693147
    """
    y_prob = _as_tensor(y_prob, "y_prob", what="probabilities (N, C)")
    if y_prob.shape.rank is not None and y_prob.shape.rank != 2:
        raise ValueError(f"`y_prob` must have shape (N, C); got shape {tuple(y_prob.shape)}.")
    n_classes = y_prob.shape[-1]
    y_true = _as_tensor(y_true, "y_true", what="class ids (N,) or one-hot rows (N, C)")
    _check_labels(y_true, y_prob)
    if n_classes == 1:
        y_t = tf.cast(tf.reshape(y_true, [-1, 1]), y_prob.dtype)
        per = keras.losses.binary_crossentropy(y_t, y_prob)
    elif y_true.shape.rank == 2 and y_true.shape[-1] == n_classes:
        per = keras.losses.categorical_crossentropy(tf.cast(y_true, y_prob.dtype), y_prob)
    else:
        per = keras.losses.sparse_categorical_crossentropy(tf.reshape(y_true, [-1]), y_prob)
    if sample_weight is not None:
        sw = tf.cast(tf.reshape(sample_weight, tf.shape(per)), per.dtype)
        return tf.reduce_sum(per * sw) / tf.cast(tf.size(per), per.dtype)
    return tf.reduce_mean(per)


def _check_labels(y_true, y_prob):
    """One label (or one-hot row) per row of ``y_prob``; class ids in range (checked eagerly)."""
    n, n_classes = y_prob.shape[0], y_prob.shape[-1]
    m = y_true.shape[0] if y_true.shape.rank else None
    if n is not None and m is not None and m != n:
        raise ValueError(f"`y_true` must hold one label per row of `y_prob` ({n}); got shape "
                         f"{tuple(y_true.shape)}.")
    one_hot = y_true.shape.rank == 2 and y_true.shape[-1] == n_classes
    if tf.executing_eagerly() and not one_hot and n_classes not in (None, 1) and tf.size(y_true):
        lo, hi = float(tf.reduce_min(y_true)), float(tf.reduce_max(y_true))
        if lo < 0 or hi > n_classes - 1:
            raise ValueError(f"`y_true` class ids must lie in [0, {n_classes - 1}] (`y_prob` has "
                             f"{n_classes} columns); got values in [{lo:g}, {hi:g}].")


def multitask_loss(y_true, y_pred, box_weight=1.0, cls_weight=1.0, box_loss_kind="l2",
                   sample_weight=None, box_normalizer=None):
    """The weighted multitask loss :math:`w_{cls} \\mathcal{L}_{cls} + \\alpha \\mathcal{L}_{box}`.

    Parameters
    ----------
    y_true : (labels, boxes) or dict with keys 'classifier' and 'localizer'
    y_pred : (probabilities, boxes) or such a dict (what a ``localizer`` model returns)
    box_weight : float
        :math:`\\alpha` of the notes: the weight of the box loss.
    cls_weight : float
        Weight of the classification loss.
    box_loss_kind : {'l2', 'smooth_l1', 'giou'} or callable
    sample_weight : (N,), optional
    box_normalizer : scalar, optional
        Denominator of the box loss (default: the number of images with a box, at least 1).

    Returns
    -------
    total, cls, box : scalar tensors

    Examples
    --------
    Two images, the second without an object (:data:`NO_BOX`): the classification loss is
    -ln 0.5 = 0.693147 for both, the box loss the 0.0125 of the first image alone, and with
    :math:`\\alpha = 2` the total is 0.693147 + 2 * 0.0125 = 0.718147.

    >>> import numpy as np
    >>> labels, b_true = [0, 1], np.array([[0.0, 0.0, 0.5, 0.5], NO_BOX], np.float32)
    >>> probs = np.full((2, 2), 0.5, np.float32)
    >>> b_pred = np.array([[0.1, 0.0, 0.5, 0.3], [0.3, 0.3, 0.6, 0.6]], np.float32)
    >>> total, cls, box = multitask_loss((labels, b_true), (probs, b_pred), box_weight=2.0)
    >>> [round(float(v), 6) for v in (total, cls, box)]
    [0.718147, 0.693147, 0.0125]
    """
    labels, b_true = _split(y_true, "y_true")
    probs, b_pred = _split(y_pred, "y_pred")
    l_cls = classification_loss(labels, probs, sample_weight)
    l_box = box_loss(b_true, b_pred, box_loss_kind, sample_weight, box_normalizer)
    total = tf.cast(cls_weight, l_cls.dtype) * l_cls + tf.cast(box_weight, l_box.dtype) * l_box
    return total, l_cls, l_box


def _split(y, name):
    if isinstance(y, dict):
        missing = {"classifier", "localizer"} - set(y)
        if missing:
            raise ValueError(f"`{name}` as a dict needs the keys 'classifier' and 'localizer'; "
                             f"missing {sorted(missing)} (got keys {sorted(y)}).")
        return y["classifier"], y["localizer"]
    if isinstance(y, (list, tuple)) and len(y) == 2:
        return y[0], y[1]
    raise ValueError(f"`{name}` must be (labels, boxes) or a dict with keys 'classifier' and "
                     f"'localizer'; got {type(y).__name__}.")


@keras.saving.register_keras_serializable(package="cvkit")
def keypoint_l2_loss(k_true, k_pred):
    """Pose-estimation loss: mean over joints of the squared distance, per image.

    .. math:: \\mathcal{L} = \\frac{1}{K} \\sum_{i=1}^{K} \\| y_i - \\hat y_i \\|_2^2

    ``k_true`` and ``k_pred`` are (N, K, 2) joint coordinates (normalised to the person box).

    Examples
    --------
    Two joints, the first off by (0.3, 0.4), a squared distance of 0.25; the mean over the joints
    is 0.125.

    >>> import numpy as np
    >>> k_true = np.array([[[0.0, 0.0], [1.0, 1.0]]], np.float32)
    >>> k_pred = np.array([[[0.3, 0.4], [1.0, 1.0]]], np.float32)
    >>> keypoint_l2_loss(k_true, k_pred).numpy()
    array([0.125], dtype=float32)
    """
    k_true, k_pred = _pair(k_true, k_pred, ("k_true", "k_pred"), 2, "(x, y) joints")
    return tf.reduce_mean(tf.reduce_sum(tf.square(k_true - k_pred), axis=-1), axis=-1)


@keras.saving.register_keras_serializable(package="cvkit")
class BoxLoss(keras.losses.Loss):
    """A box loss usable in ``compile(loss={'localizer': BoxLoss('giou')})`` of a plain model.

    Masks "no object" rows like :func:`box_loss`. For the full multitask loss with masking and
    per-task weights, use :class:`cvkit.models.LocalizationModel`.

    Keras averages the per-image losses over the whole batch, the "no object" rows counted as 0
    (:func:`box_loss` divides by the number of boxes instead).

    Parameters
    ----------
    kind : {'l2', 'mse', 'smooth_l1', 'giou'}
        The per-image box loss.
    name : str, optional
        Default ``'<kind>_box_loss'``.

    Examples
    --------
    The half-shifted box of :func:`giou_box_loss` (loss 2/3) and an image without an object:

    >>> import numpy as np
    >>> loss = BoxLoss("giou")
    >>> b_true = np.array([[0.0, 0.0, 0.5, 0.5], NO_BOX], np.float32)
    >>> b_pred = np.array([[0.25, 0.0, 0.75, 0.5], [0.3, 0.3, 0.6, 0.6]], np.float32)
    >>> loss.name, round(float(loss(b_true, b_pred)), 6)   # (2/3 + 0) / 2
    ('giou_box_loss', 0.333333)
    """

    def __init__(self, kind="l2", name=None, **kwargs):
        if not isinstance(kind, str):
            raise TypeError("`kind` must be a name, one of "
                            f"{sorted(BOX_LOSSES)}; got {type(kind).__name__}.")
        _box_loss_fn(kind, "kind")
        super().__init__(name=name or f"{kind}_box_loss", **kwargs)
        self.kind = kind

    def call(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred, ("y_true", "y_pred"))
        mask = box_mask(y_true)
        safe_true = tf.where(mask[..., None] > 0, y_true, tf.stop_gradient(y_pred))
        return _box_loss_fn(self.kind)(safe_true, y_pred) * mask

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}

