"""Box deltas: the Faster R-CNN parameterisation of a box as offsets from an anchor."""
from __future__ import annotations

import numpy as np

from .._validate import as_array
from .formats import as_boxes
from .iou import _common, _pair_shapes

__all__ = ["encode_deltas", "decode_deltas"]

# exp() argument cap when decoding sizes (as torchvision's bbox_xform_clip): a box never grows by
# more than 1000/16 times its anchor, so decoding never overflows.
_DELTA_CLIP = float(np.log(1000.0 / 16))

def _variances(variances):
    if variances is None:
        return np.ones(4)
    v = as_array(variances, "variances", ndim=(0, 1), kind="float", dtype=np.float64,
                 finite=False).reshape(-1)
    if np.asarray(variances).dtype == bool:
        raise TypeError(f"`variances` must be numbers; got {variances!r}.")
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

    Examples
    --------
    An anchor centred at (1, 1) of size 2 x 2 and a box centred at (2, 2) of size 2 x 4: the centre
    moves by half the anchor's size in x and y, the height doubles (:math:`\\log 2`):

    >>> np.round(encode_deltas([1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 2.0, 2.0]), 4)
    array([0.5   , 0.5   , 0.    , 0.6931])

    SSD-style variances divide each delta:

    >>> np.round(encode_deltas([1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 2.0, 2.0],
    ...                        variances=(0.1, 0.1, 0.2, 0.2)), 4)
    array([5.    , 5.    , 0.    , 3.4657])
    """
    b = as_boxes(boxes, "boxes")
    a = as_boxes(anchors, "anchors")
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

    Parameters
    ----------
    deltas : array-like (..., 4)
        ``(tx, ty, tw, th)`` as :func:`encode_deltas` returns them.
    anchors : array-like (..., 4)
        ``xyxy`` anchors; shapes broadcast with ``deltas``.
    variances : None, float or 4 floats, optional
        The same as given to :func:`encode_deltas`.

    Returns
    -------
    np.ndarray (..., 4)
        ``xyxy`` boxes in the anchors' units.

    Examples
    --------
    The deltas of :func:`encode_deltas`'s example give the box back:

    >>> decode_deltas([0.5, 0.5, 0.0, np.log(2)], [0.0, 0.0, 2.0, 2.0])
    array([1., 0., 3., 4.])
    >>> anchors = [[0.0, 0.0, 2.0, 2.0]]
    >>> d = encode_deltas([[1.0, 0.0, 3.0, 4.0]], anchors, variances=0.1)
    >>> decode_deltas(d, anchors, variances=0.1)
    array([[1., 0., 3., 4.]])
    """
    d = as_boxes(deltas, "deltas")
    a = as_boxes(anchors, "anchors")
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


