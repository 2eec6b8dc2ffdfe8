"""Intersection over union and generalised IoU, in NumPy and (differentiable) in TensorFlow."""
from __future__ import annotations

import numpy as np

from .formats import _area, as_boxes

__all__ = ["iou", "pairwise_iou", "giou", "pairwise_giou", "iou_tf", "giou_tf", "pairwise_iou_tf"]


def _inter_union(a, b):
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    union = _area(a) + _area(b) - inter
    return inter, union


def _safe_div(num, den):
    pos = den > 0
    return np.where(pos, num / np.where(pos, den, 1), 0).astype(num.dtype, copy=False)


def _pair_shapes(a, b, fn):
    try:
        np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except ValueError:
        raise ValueError(f"{fn}: `a` and `b` must hold the same number of boxes (element-wise "
                         f"pairs; use pairwise_{fn} for all pairs); got shapes {a.shape} and "
                         f"{b.shape}.") from None


def _common(a, b):
    dt = np.result_type(a.dtype, b.dtype, np.float32)
    return a.astype(dt, copy=False), b.astype(dt, copy=False)


def iou(a, b):
    """Element-wise intersection over union of ``xyxy`` boxes.

    .. math::
        \\mathrm{IoU}(A, B) = \\frac{|A \\cap B|}{|A \\cup B|}
                           = \\frac{|A \\cap B|}{|A| + |B| - |A \\cap B|}

    Parameters
    ----------
    a, b : array-like (N, 4)
        Pairs of ``xyxy`` boxes (any units, both in the same). Shapes broadcast, so one box (4,)
        against (N, 4) works.

    Returns
    -------
    np.ndarray (N,)
        IoU in [0, 1]. Boxes of zero area or inverted boxes give 0, never NaN.

    Examples
    --------
    >>> iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])   # 1 / (4 + 4 - 1)
    array([0.14285715], dtype=float32)

    Shown in ``notebooks/01_localization.ipynb``.
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    _pair_shapes(a, b, "iou")
    a, b = _common(a, b)
    inter, union = _inter_union(a, b)
    return _safe_div(inter, union)


def pairwise_iou(a, b):
    """IoU of every box of ``a`` with every box of ``b``: an (N, M) matrix.

    Vectorised by broadcasting (``a[:, None]`` against ``b[None]``); works for any ``xyxy``
    coordinates (normalised or pixels). Used for anchor labelling in detection.

    Parameters
    ----------
    a : array-like (N, 4)
    b : array-like (M, 4)

    Returns
    -------
    np.ndarray (N, M)
        ``out[i, j] = iou(a[i], b[j])``; 0 for degenerate boxes.

    Examples
    --------
    >>> pairwise_iou([[0, 0, 2, 2], [1, 1, 3, 3]], [[0, 0, 2, 2], [4, 4, 5, 5]])
    array([[1.        , 0.        ],
           [0.14285715, 0.        ]], dtype=float32)
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"pairwise_iou: `a` and `b` must have shape (N, 4) and (M, 4); got "
                         f"{a.shape} and {b.shape}.")
    a, b = _common(a, b)
    inter, union = _inter_union(a[:, None, :], b[None, :, :])
    return _safe_div(inter, union)


def _giou(a, b):
    inter, union = _inter_union(a, b)
    iou_ = _safe_div(inter, union)
    cw = np.maximum(a[..., 2], b[..., 2]) - np.minimum(a[..., 0], b[..., 0])
    ch = np.maximum(a[..., 3], b[..., 3]) - np.minimum(a[..., 1], b[..., 1])
    enclose = np.maximum(cw, 0) * np.maximum(ch, 0)
    return iou_ - _safe_div(enclose - union, enclose)


def giou(a, b):
    """Element-wise generalised IoU (Rezatofighi et al., CVPR 2019).

    .. math::
        \\mathrm{GIoU}(A, B) = \\mathrm{IoU}(A, B) - \\frac{|C \\setminus (A \\cup B)|}{|C|}

    where :math:`C` is the smallest box enclosing :math:`A` and :math:`B`. GIoU lies in
    [-1, 1]; unlike IoU it still tells how far apart two disjoint boxes are, which is why
    ``1 - GIoU`` is a useful box loss. When the enclosing box has zero area the penalty term is 0.

    Parameters
    ----------
    a, b : array-like (N, 4)
        ``xyxy`` boxes; shapes broadcast.

    Returns
    -------
    np.ndarray (N,)

    Examples
    --------
    Two disjoint unit squares one unit apart: IoU 0, enclosing box 3 x 1, union 2, so
    :math:`0 - 1/3`; and the overlapping pair of :func:`iou`, :math:`1/7 - (9 - 7)/9`:

    >>> giou([[0, 0, 1, 1], [0, 0, 2, 2]], [[2, 0, 3, 1], [1, 1, 3, 3]])
    array([-0.33333334, -0.07936507], dtype=float32)
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    _pair_shapes(a, b, "giou")
    a, b = _common(a, b)
    return _giou(a, b)


def pairwise_giou(a, b):
    """GIoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): an (N, M) matrix.

    Parameters
    ----------
    a : array-like (N, 4)
    b : array-like (M, 4)

    Returns
    -------
    np.ndarray (N, M)
        ``out[i, j] = giou(a[i], b[j])``, in [-1, 1].

    Examples
    --------
    >>> pairwise_giou([[0, 0, 1, 1]], [[0, 0, 1, 1], [2, 0, 3, 1]])
    array([[ 1.        , -0.33333334]], dtype=float32)
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"pairwise_giou: `a` and `b` must have shape (N, 4) and (M, 4); got "
                         f"{a.shape} and {b.shape}.")
    a, b = _common(a, b)
    return _giou(a[:, None, :], b[None, :, :])


def _tf_boxes(x, name):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    if x.shape.rank is not None and (x.shape.rank < 1 or (x.shape[-1] is not None
                                                         and x.shape[-1] != 4)):
        raise ValueError(f"`{name}` must have shape (..., 4); got shape {tuple(x.shape)}.")
    return x


def _tf_parts(a, b):
    import tensorflow as tf

    ax0, ay0, ax1, ay1 = tf.unstack(a, 4, axis=-1)
    bx0, by0, bx1, by1 = tf.unstack(b, 4, axis=-1)
    area_a = tf.nn.relu(ax1 - ax0) * tf.nn.relu(ay1 - ay0)
    area_b = tf.nn.relu(bx1 - bx0) * tf.nn.relu(by1 - by0)
    iw = tf.nn.relu(tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0))
    ih = tf.nn.relu(tf.minimum(ay1, by1) - tf.maximum(ay0, by0))
    inter = iw * ih
    union = area_a + area_b - inter
    cw = tf.nn.relu(tf.maximum(ax1, bx1) - tf.minimum(ax0, bx0))
    ch = tf.nn.relu(tf.maximum(ay1, by1) - tf.minimum(ay0, by0))
    return inter, union, cw * ch


def _tf_pair(a, b):
    import tensorflow as tf

    a = _tf_boxes(a, "a")
    b = _tf_boxes(b, "b")
    if a.dtype != b.dtype:
        b = tf.cast(b, a.dtype)
    return a, b


def iou_tf(a, b):
    """Element-wise IoU in TensorFlow (differentiable), same definition as :func:`iou`.

    ``a`` and ``b`` are ``xyxy`` tensors (..., 4) that broadcast against each other. Degenerate
    boxes give 0 (``tf.math.divide_no_nan``), and so do their gradients: never NaN.

    Examples
    --------
    >>> iou_tf([[0., 0., 2., 2.]], [[1., 1., 3., 3.]]).numpy()
    array([0.14285715], dtype=float32)

    A box of zero area has IoU 0 and a zero (not NaN) gradient:

    >>> import tensorflow as tf
    >>> b = tf.Variable([[1., 1., 1., 1.]])
    >>> with tf.GradientTape() as tape:
    ...     v = iou_tf([[0., 0., 2., 2.]], b)
    >>> v.numpy(), tape.gradient(v, b).numpy()
    (array([0.], dtype=float32), array([[0., 0., 0., 0.]], dtype=float32))
    """
    import tensorflow as tf

    a, b = _tf_pair(a, b)
    inter, union, _ = _tf_parts(a, b)
    return tf.math.divide_no_nan(inter, union)


def giou_tf(a, b):
    """Element-wise generalised IoU in TensorFlow (differentiable), as :func:`giou`.

    .. math::
        \\mathrm{GIoU} = \\mathrm{IoU} - \\frac{|C| - |A \\cup B|}{|C|}

    ``1 - giou_tf(y_true, y_pred)`` is the GIoU box loss of :mod:`cvkit.models.losses`.

    Examples
    --------
    >>> giou_tf([[0., 0., 1., 1.]], [[2., 0., 3., 1.]]).numpy()   # 0 - (3 - 2) / 3
    array([-0.33333334], dtype=float32)
    """
    import tensorflow as tf

    a, b = _tf_pair(a, b)
    inter, union, enclose = _tf_parts(a, b)
    return tf.math.divide_no_nan(inter, union) - tf.math.divide_no_nan(enclose - union, enclose)


def pairwise_iou_tf(a, b):
    """IoU matrix (N, M) of ``xyxy`` tensors ``a`` (N, 4) and ``b`` (M, 4) in TensorFlow.

    Examples
    --------
    >>> pairwise_iou_tf([[0., 0., 2., 2.], [1., 1., 3., 3.]], [[0., 0., 2., 2.]]).numpy()
    array([[1.        ],
           [0.14285715]], dtype=float32)
    """
    a, b = _tf_pair(a, b)
    if a.shape.rank != 2 or b.shape.rank != 2:
        raise ValueError(f"pairwise_iou_tf: `a` and `b` must have shape (N, 4) and (M, 4); got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    import tensorflow as tf

    inter, union, _ = _tf_parts(a[:, None, :], b[None, :, :])
    return tf.math.divide_no_nan(inter, union)


