"""Bounding boxes: formats, clipping, IoU / GIoU, delta encoding and non-maximum suppression.

One internal format is used everywhere in cvkit: normalised ``xyxy`` = ``(x_min, y_min, x_max,
y_max)`` with coordinates in [0, 1] of the image width and height. :func:`convert` moves between it
and

* ``'xywh'``: top-left corner and size ``(x_min, y_min, w, h)``, normalised;
* ``'cxcywh'``: centre and size ``(c_x, c_y, w, h)``, normalised (the course notes' (x, y, w, h));
* ``'pixels'``: ``xyxy`` in pixel units with the *pixel-edge* convention: a box that covers the pixel
  columns ``x0 .. x1`` (inclusive) has ``x_min = x0`` and ``x_max = x1 + 1``, so its width is the
  number of pixels it covers and ``pixels = xyxy * (W, H, W, H)``. This is the convention of
  :func:`cvkit.datasets.shapes`. (The WSOL metrics use the inclusive convention ``x_max = x1``
  instead; see :mod:`cvkit.wsol`.)

The IoU functions work for any ``xyxy`` coordinates, normalised or in pixels, and never return NaN:
a box of zero area, or an inverted one (``x_max < x_min``), has area 0 and IoU 0 with everything.

Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "FORMATS",
    "convert",
    "clip",
    "area",
    "iou",
    "pairwise_iou",
    "giou",
    "pairwise_giou",
    "iou_tf",
    "giou_tf",
    "pairwise_iou_tf",
    "encode_deltas",
    "decode_deltas",
    "nms",
    "extreme_points",
]

#: the box formats :func:`convert` understands.
FORMATS = ("xyxy", "xywh", "cxcywh", "pixels")

# exp() argument cap when decoding sizes (as torchvision's bbox_xform_clip): a box never grows by
# more than 1000/16 times its anchor, so decoding never overflows.
_DELTA_CLIP = float(np.log(1000.0 / 16))


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"[:120]


def _as_boxes(boxes, name, min_ndim=1):
    """Return ``boxes`` as a float array of shape (..., 4), or raise naming ``name``."""
    if hasattr(boxes, "numpy") and not isinstance(boxes, np.ndarray):
        boxes = boxes.numpy()
    try:
        arr = np.asarray(boxes)
    except Exception as exc:  # pragma: no cover - exotic input
        raise TypeError(f"`{name}` must be an array of boxes; got {_describe(boxes)}.") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)
                                   or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"`{name}` must be a numeric array of boxes (..., 4); got dtype {arr.dtype}.")
    if arr.ndim < min_ndim or arr.shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape (N, 4) (four coordinates in the last axis); "
                         f"got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite coordinates.")
    return arr


def _image_hw(image_size, name="image_size"):
    if image_size is None:
        raise ValueError(f"`{name}` is required to convert to or from 'pixels': give (height, width) "
                         "or one int for a square image.")
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        h = w = int(image_size)
    else:
        try:
            size = tuple(int(s) for s in image_size)
        except Exception as exc:
            raise TypeError(f"`{name}` must be an int or (height, width); got "
                            f"{_describe(image_size)}.") from exc
        if len(size) == 3:  # an image shape (H, W, C)
            size = size[:2]
        if len(size) != 2:
            raise ValueError(f"`{name}` must be an int or (height, width); got {image_size!r}.")
        h, w = size
    if h < 1 or w < 1:
        raise ValueError(f"`{name}` must be positive; got height {h}, width {w}.")
    return h, w


def _to_xyxy(b, fmt, image_size):
    if fmt == "xyxy":
        return b
    if fmt == "xywh":
        return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], axis=-1)
    if fmt == "cxcywh":
        half = b[..., 2:] / 2
        return np.concatenate([b[..., :2] - half, b[..., :2] + half], axis=-1)
    h, w = _image_hw(image_size)
    return b / np.asarray([w, h, w, h], dtype=b.dtype)


def _from_xyxy(b, fmt, image_size):
    if fmt == "xyxy":
        return b
    if fmt == "xywh":
        return np.concatenate([b[..., :2], b[..., 2:] - b[..., :2]], axis=-1)
    if fmt == "cxcywh":
        return np.concatenate([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], axis=-1)
    h, w = _image_hw(image_size)
    return b * np.asarray([w, h, w, h], dtype=b.dtype)


def convert(boxes, src, dst, image_size=None):
    """Convert boxes between formats.

    .. math::
        c_x = \\frac{x_{min} + x_{max}}{2},\\quad w = x_{max} - x_{min},\\qquad
        x^{px}_{min} = W\\,x_{min},\\quad x^{px}_{max} = W\\,x_{max}

    Parameters
    ----------
    boxes : array-like (..., 4)
        Boxes in format ``src``.
    src, dst : {'xyxy', 'xywh', 'cxcywh', 'pixels'}
        Normalised corners, normalised top-left + size, normalised centre + size, or corners in
        pixels with the pixel-edge convention (a box over pixel columns ``x0 .. x1`` has
        ``x_min = x0``, ``x_max = x1 + 1``).
    image_size : int or (height, width), optional
        Required when ``src`` or ``dst`` is ``'pixels'``.

    Returns
    -------
    np.ndarray
        Same shape as ``boxes``, floating point (float32 for integer input).

    Examples
    --------
    >>> convert([[0.25, 0.5, 0.75, 1.0]], 'xyxy', 'cxcywh')
    array([[0.5 , 0.75, 0.5 , 0.5 ]])
    >>> convert([[0.25, 0.5, 0.75, 1.0]], 'xyxy', 'pixels', image_size=(64, 128))
    array([[32., 32., 96., 64.]])

    Shown in ``notebooks/01_localization.ipynb``.
    """
    if src not in FORMATS:
        raise ValueError(f"`src` must be one of {list(FORMATS)}; got {src!r}.")
    if dst not in FORMATS:
        raise ValueError(f"`dst` must be one of {list(FORMATS)}; got {dst!r}.")
    b = _as_boxes(boxes, "boxes")
    if "pixels" in (src, dst):
        _image_hw(image_size)
    return _from_xyxy(_to_xyxy(b, src, image_size), dst, image_size)


def clip(boxes, image_size=None):
    """Clip ``xyxy`` boxes to the image: to [0, 1] when normalised, to [0, W] x [0, H] in pixels.

    Parameters
    ----------
    boxes : array-like (..., 4)
        ``xyxy`` boxes (normalised, or in pixels when ``image_size`` is given).
    image_size : int or (height, width), optional
        When given, boxes are in pixels and are clipped to the image's pixel extent.

    Returns
    -------
    np.ndarray of the same shape.
    """
    b = _as_boxes(boxes, "boxes")
    if image_size is None:
        return np.clip(b, 0.0, 1.0)
    h, w = _image_hw(image_size)
    upper = np.asarray([w, h, w, h], dtype=b.dtype)
    return np.clip(b, 0.0, upper)


def area(boxes):
    """Area of ``xyxy`` boxes, :math:`\\max(0, x_{max}-x_{min})\\,\\max(0, y_{max}-y_{min})`.

    Inverted boxes have area 0.
    """
    b = _as_boxes(boxes, "boxes")
    return _area(b)


def _area(b):
    return np.maximum(b[..., 2] - b[..., 0], 0) * np.maximum(b[..., 3] - b[..., 1], 0)


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
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
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
    """
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
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
    """
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    _pair_shapes(a, b, "giou")
    a, b = _common(a, b)
    return _giou(a, b)


def pairwise_giou(a, b):
    """GIoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): an (N, M) matrix."""
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"pairwise_giou: `a` and `b` must have shape (N, 4) and (M, 4); got "
                         f"{a.shape} and {b.shape}.")
    a, b = _common(a, b)
    return _giou(a[:, None, :], b[None, :, :])


# --------------------------------------------------------------------------------------------
# TensorFlow versions (differentiable; used by the box losses)
# --------------------------------------------------------------------------------------------

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
    """
    import tensorflow as tf

    a, b = _tf_pair(a, b)
    inter, union, enclose = _tf_parts(a, b)
    return tf.math.divide_no_nan(inter, union) - tf.math.divide_no_nan(enclose - union, enclose)


def pairwise_iou_tf(a, b):
    """IoU matrix (N, M) of ``xyxy`` tensors ``a`` (N, 4) and ``b`` (M, 4) in TensorFlow."""
    a, b = _tf_pair(a, b)
    if a.shape.rank != 2 or b.shape.rank != 2:
        raise ValueError(f"pairwise_iou_tf: `a` and `b` must have shape (N, 4) and (M, 4); got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    import tensorflow as tf

    inter, union, _ = _tf_parts(a[:, None, :], b[None, :, :])
    return tf.math.divide_no_nan(inter, union)


# --------------------------------------------------------------------------------------------
# Box deltas (Faster R-CNN parameterisation)
# --------------------------------------------------------------------------------------------

def _variances(variances):
    if variances is None:
        return np.ones(4)
    v = np.asarray(variances, dtype=np.float64).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 4)
    if v.size != 4 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("`variances` must be None, one positive number or four positive numbers "
                         f"(for tx, ty, tw, th); got {variances!r}.")
    return v


def encode_deltas(boxes, anchors, variances=None):
    """Encode ``xyxy`` boxes as offsets from anchors (Faster R-CNN, Ren et al. 2015).

    .. math::
        t_x = \\frac{x - x_a}{w_a},\\quad t_y = \\frac{y - y_a}{h_a},\\quad
        t_w = \\log\\frac{w}{w_a},\\quad t_h = \\log\\frac{h}{h_a}

    with :math:`(x, y, w, h)` the centre and size of the box and :math:`(x_a, y_a, w_a, h_a)`
    those of the anchor; each :math:`t` is then divided by its variance (SSD-style scaling, e.g.
    ``(0.1, 0.1, 0.2, 0.2)``).

    Parameters
    ----------
    boxes, anchors : array-like (..., 4)
        ``xyxy`` boxes and anchors in the same units; shapes broadcast. Both must have positive
        width and height.
    variances : None, float or 4 floats, optional
        Divisors of ``(tx, ty, tw, th)``; ``None`` means 1.

    Returns
    -------
    np.ndarray (..., 4)
        The deltas ``(tx, ty, tw, th)``; :func:`decode_deltas` inverts them.
    """
    b = _as_boxes(boxes, "boxes")
    a = _as_boxes(anchors, "anchors")
    _pair_shapes(b, a, "encode_deltas")
    b, a = _common(b, a)
    v = _variances(variances).astype(b.dtype)
    bw, bh = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    if np.any(aw <= 0) or np.any(ah <= 0):
        raise ValueError("`anchors` must have positive width and height (x_max > x_min, "
                         "y_max > y_min); some have zero or negative size.")
    if np.any(bw <= 0) or np.any(bh <= 0):
        raise ValueError("`boxes` must have positive width and height to be encoded (log of the "
                         "size ratio); some have zero or negative size. Drop or clip them first.")
    tx = ((b[..., 0] + b[..., 2]) - (a[..., 0] + a[..., 2])) / 2 / aw
    ty = ((b[..., 1] + b[..., 3]) - (a[..., 1] + a[..., 3])) / 2 / ah
    tw = np.log(bw / aw)
    th = np.log(bh / ah)
    return np.stack([tx, ty, tw, th], axis=-1) / v


def decode_deltas(deltas, anchors, variances=None):
    """Invert :func:`encode_deltas`: apply offsets ``(tx, ty, tw, th)`` to anchors.

    .. math::
        x = x_a + t_x w_a,\\quad y = y_a + t_y h_a,\\quad w = w_a e^{t_w},\\quad h = h_a e^{t_h}

    ``tw`` and ``th`` are capped at :math:`\\log(1000/16)` before the exponential, so wild
    predictions never overflow.

    Returns
    -------
    np.ndarray (..., 4)
        ``xyxy`` boxes in the anchors' units.
    """
    d = _as_boxes(deltas, "deltas")
    a = _as_boxes(anchors, "anchors")
    _pair_shapes(d, a, "decode_deltas")
    d, a = _common(d, a)
    d = d * _variances(variances).astype(d.dtype)
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    ax, ay = (a[..., 0] + a[..., 2]) / 2, (a[..., 1] + a[..., 3]) / 2
    cx = ax + d[..., 0] * aw
    cy = ay + d[..., 1] * ah
    w = aw * np.exp(np.minimum(d[..., 2], _DELTA_CLIP))
    h = ah * np.exp(np.minimum(d[..., 3], _DELTA_CLIP))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


# --------------------------------------------------------------------------------------------
# Non-maximum suppression
# --------------------------------------------------------------------------------------------

def nms(boxes, scores, max_output_size=100, iou_threshold=0.5, score_threshold=None):
    """Greedy non-maximum suppression (a wrapper over ``tf.image.non_max_suppression``).

    Repeatedly keeps the highest-scoring remaining box and drops every box whose IoU with it is
    above ``iou_threshold``.

    Parameters
    ----------
    boxes : array-like (N, 4)
        ``xyxy`` boxes (normalised or pixels).
    scores : array-like (N,)
    max_output_size : int
        At most this many boxes are kept.
    iou_threshold : float in [0, 1]
    score_threshold : float, optional
        Boxes scoring below it are dropped first.

    Returns
    -------
    np.ndarray (K,) int64
        Indices of the kept boxes, by decreasing score.
    """
    import tensorflow as tf

    from ._validate import check_float, check_int

    b = _as_boxes(boxes, "boxes")
    if b.ndim != 2:
        raise ValueError(f"`boxes` must have shape (N, 4); got {b.shape}.")
    s = np.asarray(scores.numpy() if hasattr(scores, "numpy") else scores)
    if s.shape != (b.shape[0],):
        raise ValueError(f"`scores` must have shape ({b.shape[0]},), one score per box; got "
                         f"{s.shape}.")
    if not np.issubdtype(s.dtype, np.number) or not np.all(np.isfinite(s)):
        raise ValueError("`scores` must be finite numbers.")
    max_output_size = check_int(max_output_size, "max_output_size", minimum=0)
    iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
    kw = {}
    if score_threshold is not None:
        kw["score_threshold"] = check_float(score_threshold, "score_threshold")
    if b.shape[0] == 0:
        return np.zeros((0,), np.int64)
    # tf.image.non_max_suppression takes any diagonal pair of corners (so xyxy works unchanged, as
    # IoU is symmetric in x and y); note that it reads an inverted box as the box between its corners.
    idx = tf.image.non_max_suppression(tf.constant(b, tf.float32), tf.constant(s, tf.float32),
                                       max_output_size, iou_threshold=iou_threshold, **kw)
    return idx.numpy().astype(np.int64)


# --------------------------------------------------------------------------------------------
# Keypoints from masks
# --------------------------------------------------------------------------------------------

def extreme_points(masks):
    """The leftmost, topmost, rightmost and bottommost points of each object mask.

    Four keypoints per object, useful as synthetic "joints" for the pose-estimation head. Each point
    is the centre of the extreme pixels, normalised: :math:`x = (j + 0.5) / W`, :math:`y = (i +
    0.5) / H`; where several pixels share the extreme column (row), their mean row (column) is
    used.

    Parameters
    ----------
    masks : array-like (N, H, W) bool, or a single (H, W)

    Returns
    -------
    np.ndarray (N, 4, 2) float32
        (x, y) of the left, top, right and bottom points (or (4, 2) for a single mask).
    """
    m = np.asarray(masks)
    single = m.ndim == 2
    if single:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"`masks` must have shape (N, H, W) or (H, W); got {m.shape}.")
    m = m.astype(bool)
    if not np.all(m.any(axis=(1, 2))):
        raise ValueError("`masks` holds an empty mask: every mask needs at least one pixel.")
    n, h, w = m.shape
    cols, rows = m.any(axis=1), m.any(axis=2)          # (N, W), (N, H)
    left = cols.argmax(axis=1)
    right = w - 1 - cols[:, ::-1].argmax(axis=1)
    top = rows.argmax(axis=1)
    bottom = h - 1 - rows[:, ::-1].argmax(axis=1)
    ii, jj = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)

    def mean_row(col):  # mean row index of the mask pixels in column col[n]
        c = np.take_along_axis(m, col[:, None, None].repeat(h, axis=1), axis=2)[..., 0]
        return (c * ii).sum(axis=1) / c.sum(axis=1)

    def mean_col(row):
        r = np.take_along_axis(m, row[:, None, None].repeat(w, axis=2), axis=1)[:, 0]
        return (r * jj).sum(axis=1) / r.sum(axis=1)

    pts = np.stack([
        np.stack([left, mean_row(left)], axis=1),
        np.stack([mean_col(top), top], axis=1),
        np.stack([right, mean_row(right)], axis=1),
        np.stack([mean_col(bottom), bottom], axis=1),
    ], axis=1).astype(np.float64)
    pts = (pts + 0.5) / np.asarray([w, h], dtype=np.float64)
    pts = pts.astype(np.float32)
    return pts[0] if single else pts
