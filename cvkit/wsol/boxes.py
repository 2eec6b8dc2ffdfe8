"""From maps to boxes the way the course does it, for a whole batch at once.

The course's recipe (notebook 02): normalise the CAM to [0, 1], keep the pixels above a fixed
fraction of its maximum, keep the largest 8-connected component, and take its bounding box.
:func:`recipe_boxes` runs it on N maps with one labelling of the stack (no loop over maps or
components); :func:`peak_in_box` asks the simpler question of whether the map's maximum lies on
the object. The benchmark's protocol over all thresholds is :func:`cvkit.wsol.max_box_acc`.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .._validate import as_maps, check_float

__all__ = ["recipe_boxes", "peak_in_box"]

# 8-connectivity inside each map, none across the batch axis
_STACK8 = np.zeros((3, 3, 3), bool)
_STACK8[1] = True


def _normalized(maps):
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.0)


def recipe_boxes(maps, threshold=0.3, return_masks=False):
    r"""Box of the largest component of :math:`\{\hat M > \tau\}` for each map (course recipe).

    :math:`\hat M = (M - \min M) / (\max M - \min M)` (a constant map is all zeros);
    components are 8-connected; the box encloses the largest one (most pixels; ties go to the
    component met first in raster order), with the pixel-edge convention
    :math:`x_{max} = (x_1 + 1) / W`.

    Parameters
    ----------
    maps : array_like, (N, H, W) or (H, W)
    threshold : float in [0, 1)
        :math:`\tau`, a fraction of the maximum.
    return_masks : bool
        Also return the (N, H, W) bool masks of the kept components.

    Returns
    -------
    np.ndarray
        float32 (N, 4) normalised ``xyxy`` ((4,) for one map); all zeros where nothing is above
        the threshold.

    Examples
    --------
    >>> m = np.zeros((2, 8, 8)); m[0, 2:4, 1:6] = 1; m[1, 5, 5] = 1; m[1, 0:2, 0:2] = 0.9
    >>> recipe_boxes(m, 0.5).tolist()
    [[0.125, 0.25, 0.75, 0.5], [0.0, 0.0, 0.25, 0.25]]
    """
    arr, single = as_maps(maps, "maps")
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    if threshold >= 1.0:
        raise ValueError(f"`threshold` must be < 1 (nothing is above the maximum); got {threshold}.")
    n, h, w = arr.shape
    fg = _normalized(arr.astype(np.float64)) > threshold
    labels, k = ndi.label(fg, structure=_STACK8)
    boxes = np.zeros((n, 4), np.float32)
    keep = np.zeros(n, np.int64)
    if k:
        idx = np.arange(1, k + 1)
        sizes = np.bincount(labels.ravel(), minlength=k + 1)[1:]
        owner = ndi.minimum(np.broadcast_to(np.arange(n)[:, None, None], arr.shape), labels, idx)
        owner = np.asarray(owner, np.int64)
        # per map, the largest component; labels grow in raster order, so ties keep the first
        order = np.lexsort((idx, -sizes, owner))
        first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        keep[owner[first]] = idx[first]
        rows, cols = np.indices((h, w))
        rr = np.broadcast_to(rows, arr.shape)
        cc = np.broadcast_to(cols, arr.shape)
        sel = idx[first]
        y0 = np.asarray(ndi.minimum(rr, labels, sel)); y1 = np.asarray(ndi.maximum(rr, labels, sel))
        x0 = np.asarray(ndi.minimum(cc, labels, sel)); x1 = np.asarray(ndi.maximum(cc, labels, sel))
        boxes[owner[first]] = np.stack([x0 / w, y0 / h, (x1 + 1) / w, (y1 + 1) / h], 1)
    out = boxes[0] if single else boxes
    if not return_masks:
        return out
    masks = (labels == keep[:, None, None]) & (keep[:, None, None] > 0)
    return out, (masks[0] if single else masks)


def peak_in_box(maps, boxes, field=None, image_size=None):
    r"""Whether each map's maximum (its first arg-max in raster order) lies inside its box.

    Two readings of "where is the maximum":

    * ``field=None``: ``maps`` are up-sampled to the image and the arg-max pixel is tested;
    * ``field`` given (a :class:`cvkit.visualize.features.ReceptiveField`, or anything with
      ``size_yx``, ``stride_yx``, ``offset_yx``): ``maps`` are the raw (h, w) maps of that layer
      and the arg-max *cell* (r, c) is placed at the centre of its receptive field,
      :math:`y = o_y + r s_y + (k_y - 1)/2` (likewise x), the image point that cell looks at.
      Up-sampling by resizing places cell centres at :math:`(r + \tfrac12) s_y - \tfrac12`
      instead; with TensorFlow's bottom/right padding of strided layers the two differ by a few
      pixels (3.5 px at stride 8, 15.5 px at stride 32 for MobileNetV2).

    Pixel (row, col) is inside a normalised ``xyxy`` box on pixel edges when
    :math:`x_{min} W \le col + \tfrac12 < x_{max} W` and likewise for rows.

    Parameters
    ----------
    maps : array_like, (N, H, W) (or (N, h, w) with ``field``)
    boxes : array_like, (N, 4)
        Normalised ``xyxy`` on pixel edges.
    field : ReceptiveField, optional
    image_size : (int, int), optional
        (H, W) of the images when ``field`` is given (default ``field.input_size``).

    Returns
    -------
    np.ndarray
        bool (N,).

    Examples
    --------
    >>> m = np.zeros((2, 4, 4)); m[0, 1, 1] = 1; m[1, 3, 3] = 1
    >>> peak_in_box(m, [[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5]]).tolist()
    [True, False]
    """
    arr, _ = as_maps(maps, "maps", allow_single=False)
    b = np.asarray(boxes, np.float64)
    n, h, w = arr.shape
    if b.shape != (n, 4):
        raise ValueError(f"`boxes` must have shape ({n}, 4), one normalised xyxy box per map; "
                         f"got {b.shape}.")
    if not np.all(np.isfinite(b)):
        raise ValueError("`boxes` must be finite; got NaN or inf.")
    peak = arr.reshape(n, -1).argmax(1)
    r, c = (peak // w).astype(np.float64), (peak % w).astype(np.float64)
    H, W = h, w
    if field is not None:
        try:
            (ky, kx), (sy, sx), (oy, ox) = field.size_yx, field.stride_yx, field.offset_yx
        except AttributeError as exc:
            raise TypeError("`field` must be a ReceptiveField (size_yx, stride_yx, offset_yx); "
                            f"got {type(field).__name__}.") from exc
        H, W = image_size if image_size is not None else field.input_size
        r, c = oy + r * sy + (ky - 1) / 2, ox + c * sx + (kx - 1) / 2
    r, c = r + 0.5, c + 0.5
    return (c >= b[:, 0] * W) & (c < b[:, 2] * W) & (r >= b[:, 1] * H) & (r < b[:, 3] * H)
