"""From maps to boxes: the course's recipe for a batch, and the WSOL benchmark's box extraction.

The course's recipe (notebook 02): normalise the CAM to [0, 1], keep the pixels above a fixed
fraction of its maximum, keep the largest 8-connected component, and take its bounding box.
:func:`recipe_boxes` runs it on N maps with one labelling of the stack (no loop over maps or
components); :func:`peak_in_box` asks the simpler question of whether the map's maximum lies on
the object.

The WSOL benchmark (Choe et al., CVPR 2020) extracts boxes its own way, which the metrics of
:mod:`cvkit.wsol.metrics` follow:

* each map is min-max normalised to [0, 1] (:func:`cvkit.explain.normalize_maps`; a constant map
  becomes zeros) and quantised to :math:`u = \\lfloor 255\\, s \\rfloor` (:func:`quantize_maps`);
* at a threshold :math:`\\tau` the foreground is the set of pixels *strictly above*
  :math:`\\lfloor \\tau \\max u \\rfloor`; the predicted box is the box of the largest 8-connected
  region, or one box per region (:func:`boxes_from_cam`);
* boxes are in the *pixel-inclusive* convention: ``(x0, y0, x1, y1)`` are the first and last pixel
  columns / rows, so a box is :math:`(x_1-x_0+1)(y_1-y_0+1)` pixels (:func:`box_iou`,
  :func:`pixel_boxes`).

Differences from the OpenCV reference implementation (documented, not hidden)
------------------------------------------------------------------------------
* The "largest" region is the one with the most pixels (ties: the region whose first pixel in
  raster order comes first). OpenCV compares the polygon area of the contours, which counts a
  one-pixel-wide line as zero area; on smooth maps the two agree.
* With ``multi_contour=True`` OpenCV also returns the boxes of hole contours; we return one box per
  8-connected region.
* ``benchmark_boxes=True`` reproduces the reference's box quirks: ``cv2.boundingRect`` gives an
  exclusive end, so the reference's box is ``(x0, y0, min(x1 + 1, W - 1), min(y1 + 1, H - 1))`` in
  inclusive terms, and an empty foreground gives the box ``(0, 0, 0, 0)`` (one pixel) instead of an
  empty box. By default we use exact inclusive boxes and an empty box of IoU 0.

Notebooks: ``notebooks/02_cam_gap_mobilenet.ipynb`` (the recipe),
``notebooks/05_wsol_evaluation.ipynb`` (the benchmark's boxes).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .._validate import as_array, as_maps, check_bool, check_float, check_size, describe
from ..explain import normalize_maps
from ._inputs import as_cams

__all__ = ["EMPTY_BOX", "recipe_boxes", "peak_in_box", "quantize_maps", "pixel_boxes", "box_iou",
           "boxes_from_cam"]

#: The empty box in the pixel-inclusive convention: zero columns and zero rows, IoU 0 with any box.
EMPTY_BOX = np.array([0, 0, -1, -1], dtype=np.int64)

_STRUCTURE8 = np.ones((3, 3), dtype=bool)

# 8-connectivity inside each map, none across the batch axis
_STACK8 = np.zeros((3, 3, 3), bool)
_STACK8[1] = True


def recipe_boxes(maps, threshold=0.3, return_masks=False):
    r"""Box of the largest component of :math:`\{\hat M > \tau\}` for each map (course recipe).

    :math:`\hat M = (M - \min M) / (\max M - \min M)` (:func:`cvkit.explain.normalize_maps`; a
    constant map is all zeros); components are 8-connected; the box encloses the largest one (most
    pixels; ties go to the component met first in raster order), with the pixel-edge convention
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
    return_masks = check_bool(return_masks, "return_masks")
    if threshold >= 1.0:
        raise ValueError(f"`threshold` must be < 1 (nothing is above the maximum); got {threshold}.")
    n, h, w = arr.shape
    fg = normalize_maps(arr) > threshold
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
    * ``field`` given (a :class:`cvkit.inside.ReceptiveField`, or anything with
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


def _quantize(s):
    """The benchmark's quantisation of normalised maps: :math:`u = \\lfloor 255\\, s \\rfloor`."""
    return (s * np.float32(255)).astype(np.uint8)


def quantize_maps(cams, nan="raise"):
    """Quantise normalised maps as the benchmark does: :math:`u = \\lfloor 255\\, s \\rfloor` (uint8).

    Parameters
    ----------
    cams : array_like, (N, H, W) or (H, W)
        Raw maps; they are min-max normalised first (:func:`cvkit.explain.normalize_maps`).
    nan : {'raise', 'zero'}
        What a map holding NaN does: raise, or count as all zeros (the benchmark's rule).

    Returns
    -------
    np.ndarray
        uint8 maps of the caller's rank.

    Examples
    --------
    >>> quantize_maps(np.array([[0.0, 1.0], [2.0, 4.0]]))
    array([[  0,  63],
           [127, 255]], dtype=uint8)
    """
    arr, single = as_cams(cams, nan=nan, allow_single=True)
    u = _quantize(normalize_maps(arr))
    return u[0] if single else u


def pixel_boxes(boxes, image_size, name="boxes", tolerance=0.01):
    """Convert normalised ``xyxy`` boxes (pixel-edge convention) to pixel-inclusive integer boxes.

    A box covering pixel columns :math:`x_0 \\dots x_1` is stored by :mod:`cvkit.datasets` as
    :math:`x_{min} = x_0 / W`, :math:`x_{max} = (x_1 + 1) / W`; this returns
    :math:`(x_0, y_0, x_1, y_1) = (\\mathrm{round}(x_{min} W), \\mathrm{round}(y_{min} H),
    \\mathrm{round}(x_{max} W) - 1, \\mathrm{round}(y_{max} H) - 1)`, clipped to the image.

    Coordinates must lie in [0, 1] (up to ``tolerance``) with :math:`x_{min} \\le x_{max}` and
    :math:`y_{min} \\le y_{max}`: boxes in pixels would otherwise be clipped to one pixel at the
    image's corner without a word, so they are refused.

    Parameters
    ----------
    boxes : array_like, (..., 4)
        Normalised ``(x_min, y_min, x_max, y_max)``.
    image_size : int or (height, width)
    name : str
        The boxes' name in error messages.
    tolerance : float
        How far outside [0, 1] a coordinate may lie (rounding, augmentation) before it is refused;
        it is clipped to the image.

    Returns
    -------
    np.ndarray
        int64 boxes of the same shape.

    Examples
    --------
    >>> pixel_boxes([[0.25, 0.5, 0.75, 1.0]], (64, 128)).tolist()
    [[32, 32, 95, 63]]
    >>> pixel_boxes([[16, 32, 48, 64]], 64)      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `boxes` must be normalised xyxy boxes in [0, 1]; got coordinates in [16, 64]. Boxes in pixels?...
    """
    h, w = check_size(image_size, "image_size")
    tolerance = check_float(tolerance, "tolerance", 0.0, 1.0)
    b = as_array(boxes, name, kind="float", dtype=np.float64)
    if b.shape[-1:] != (4,):
        raise ValueError(f"`{name}` must be (..., 4) normalised xyxy boxes; got {describe(b)}.")
    if b.size and (b.min() < -tolerance or b.max() > 1 + tolerance):
        raise ValueError(f"`{name}` must be normalised xyxy boxes in [0, 1]; got coordinates in "
                         f"[{b.min():.4g}, {b.max():.4g}]. Boxes in pixels? Divide them by "
                         "(W, H, W, H), or give pixel-inclusive boxes to the metrics directly.")
    if np.any(b[..., 2] < b[..., 0]) or np.any(b[..., 3] < b[..., 1]):
        raise ValueError(f"`{name}` must be (x_min, y_min, x_max, y_max) with x_min <= x_max and "
                         "y_min <= y_max; got a box with a max below its min (xywh boxes?).")
    scale = np.array([w, h, w, h], dtype=np.float64)
    px = np.round(b * scale).astype(np.int64) - np.array([0, 0, 1, 1])
    hi = np.array([w - 1, h - 1, w - 1, h - 1])
    px = np.clip(px, 0, hi)
    px[..., 2] = np.maximum(px[..., 2], px[..., 0])
    px[..., 3] = np.maximum(px[..., 3], px[..., 1])
    return px


def box_iou(a, b):
    """IoU of pixel-inclusive boxes: every box of ``a`` (..., 4) with every box of ``b`` (M, 4).

    .. math::

        |B| = (x_1 - x_0 + 1)(y_1 - y_0 + 1), \\qquad
        \\mathrm{IoU}(A, B) = \\frac{|A \\cap B|}{|A| + |B| - |A \\cap B|}

    An empty box (such as :data:`EMPTY_BOX`, with :math:`x_1 < x_0`) has area 0; a pair whose union
    is empty has IoU 0 (never NaN).

    Parameters
    ----------
    a : array_like, (4,) or (N, 4)
    b : array_like, (4,) or (M, 4)

    Returns
    -------
    np.ndarray
        (N, M) IoUs (scalars in, (1, 1) out).

    Examples
    --------
    Two 2x2 boxes that share one column: intersection 2 pixels, union 6.

    >>> float(box_iou([0, 0, 1, 1], [1, 0, 2, 1])[0, 0])
    0.3333333333333333
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    for arr, nm in ((a, "a"), (b, "b")):
        if arr.shape[-1:] != (4,) or arr.ndim > 2:
            raise ValueError(f"`{nm}` must be a (4,) box or an (N, 4) array of boxes; got "
                             f"{describe(arr)}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{nm}` contains NaN or infinite coordinates.")
    return _iou_matrix(a.reshape(-1, 4), b.reshape(-1, 4))


def _iou_matrix(a, b):
    """IoU of (..., 4) boxes ``a`` against (..., M, 4) boxes ``b`` broadcast as a[..., None, :]."""
    a = a[..., None, :]
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    area_a = np.maximum(a[..., 2] - a[..., 0] + 1, 0) * np.maximum(a[..., 3] - a[..., 1] + 1, 0)
    area_b = np.maximum(b[..., 2] - b[..., 0] + 1, 0) * np.maximum(b[..., 3] - b[..., 1] + 1, 0)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _compat_boxes(boxes, h, w):
    """The reference's boxes: exclusive end of cv2.boundingRect clipped to the last pixel."""
    out = np.array(boxes, dtype=np.int64, copy=True)
    out[..., 2] = np.minimum(out[..., 2] + 1, w - 1)
    out[..., 3] = np.minimum(out[..., 3] + 1, h - 1)
    return out


def boxes_from_cam(cam, threshold, multi_contour=False, nan="raise", benchmark_boxes=False):
    """Boxes of the foreground of one map at one threshold (the benchmark's box extraction).

    The map is min-max normalised, quantised to :math:`u = \\lfloor 255 s \\rfloor`, and the
    foreground is :math:`\\{u > \\lfloor \\tau \\max u \\rfloor\\}` (strictly above). Regions are
    8-connected (:func:`scipy.ndimage.label`).

    Parameters
    ----------
    cam : array_like, (H, W)
        A heat-map (any range; it is normalised).
    threshold : float
        :math:`\\tau \\in [0, 1]`.
    multi_contour : bool
        False: the box of the largest region (most pixels; ties go to the region met first in
        raster order). True: one box per region.
    nan : {'raise', 'zero'}
        What a map holding NaN does: raise, or count as all zeros (the benchmark's rule).
    benchmark_boxes : bool
        Reproduce the OpenCV reference's boxes (end coordinate one pixel further, clipped; the
        box ``(0, 0, 0, 0)`` when nothing is foreground). See the module notes.

    Returns
    -------
    np.ndarray
        int64 ``(x0, y0, x1, y1)`` pixel-inclusive: shape (4,) when ``multi_contour`` is False
        (:data:`EMPTY_BOX` when nothing is foreground), else (k, 4) with k regions (k may be 0;
        with ``benchmark_boxes`` an empty foreground gives the one box ``(0, 0, 0, 0)``).

    Examples
    --------
    >>> cam = np.zeros((8, 8)); cam[2:5, 3:7] = 1
    >>> boxes_from_cam(cam, 0.5).tolist()
    [3, 2, 6, 4]
    >>> boxes_from_cam(cam, 0.5, benchmark_boxes=True).tolist()
    [3, 2, 7, 5]
    """
    arr, _ = as_cams(cam, name="cam", nan=nan, allow_single=True)
    if arr.shape[0] != 1:
        raise ValueError(f"`cam` must be a single (H, W) map; got shape {np.shape(cam)}. Use "
                         "max_box_acc for a batch.")
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    multi_contour = check_bool(multi_contour, "multi_contour")
    benchmark_boxes = check_bool(benchmark_boxes, "benchmark_boxes")
    u = _quantize(normalize_maps(arr))[0]
    h, w = u.shape
    thr = int(np.floor(threshold * float(u.max())))
    labels, n = ndi.label(u > thr, structure=_STRUCTURE8)
    if n == 0:
        if multi_contour:
            return np.zeros((1 if benchmark_boxes else 0, 4), np.int64)
        return np.zeros(4, np.int64) if benchmark_boxes else EMPTY_BOX.copy()
    slices = ndi.find_objects(labels)
    boxes = np.array([[s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1] for s in slices],
                     dtype=np.int64)
    if not multi_contour:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        boxes = boxes[int(np.argmax(sizes))]
    if benchmark_boxes:
        boxes = _compat_boxes(boxes, h, w)
    return boxes
