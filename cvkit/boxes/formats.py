"""Box formats: the one internal format (normalised ``xyxy``), conversions, clipping and area."""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_size, describe, to_numpy

__all__ = ["FORMATS", "as_boxes", "convert", "clip", "area"]

#: the box formats :func:`convert` understands.
FORMATS = ("xyxy", "xywh", "cxcywh", "pixels")

def as_boxes(boxes, name="boxes", min_ndim=1):
    """Return ``boxes`` as a float array of shape (..., 4), or raise naming ``name``.

    Examples
    --------
    >>> as_boxes([[0, 0, 2, 2]]).dtype
    dtype('float32')
    >>> as_boxes([1, 2, 3], "gt_boxes")
    Traceback (most recent call last):
    ...
    ValueError: `gt_boxes` must have shape (N, 4) (four coordinates in the last axis); got shape (3,).
    """
    try:
        arr = to_numpy(boxes)
    except Exception as exc:  # pragma: no cover - exotic input
        raise TypeError(f"`{name}` must be an array of boxes; got {describe(boxes)}.") from exc
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
    if isinstance(image_size, (tuple, list, np.ndarray)) and np.ndim(image_size) == 1 \
            and len(image_size) == 3:
        image_size = tuple(image_size)[:2]   # an image shape (H, W, C)
    # strings, floats and bools are refused, not read digit by digit ('64' is not (6, 4)) nor
    # truncated (64.5 is not 64)
    h, w = check_size(image_size, name, minimum=-np.inf)
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
    check_choice(src, "src", FORMATS)
    check_choice(dst, "dst", FORMATS)
    b = as_boxes(boxes, "boxes")
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

    Examples
    --------
    >>> clip([[-0.1, 0.2, 0.5, 1.3]])
    array([[0. , 0.2, 0.5, 1. ]])

    In pixels of a 64 x 32 image (height 64, width 32):

    >>> clip([[-5, 10, 40, 70]], image_size=(64, 32))
    array([[ 0., 10., 32., 64.]], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    if image_size is None:
        return np.clip(b, 0.0, 1.0)
    h, w = _image_hw(image_size)
    upper = np.asarray([w, h, w, h], dtype=b.dtype)
    return np.clip(b, 0.0, upper)


def area(boxes):
    """Area of ``xyxy`` boxes, :math:`\\max(0, x_{max}-x_{min})\\,\\max(0, y_{max}-y_{min})`.

    Inverted boxes have area 0.

    Parameters
    ----------
    boxes : array-like (..., 4)
        ``xyxy`` boxes (normalised or pixels).

    Returns
    -------
    np.ndarray (...,)

    Examples
    --------
    >>> area([[0, 0, 2, 3], [2, 2, 1, 1]])   # a 2 x 3 box and an inverted one
    array([6., 0.], dtype=float32)
    """
    b = as_boxes(boxes, "boxes")
    return _area(b)


def _area(b):
    return np.maximum(b[..., 2] - b[..., 0], 0) * np.maximum(b[..., 3] - b[..., 1], 0)


