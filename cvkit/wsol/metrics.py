"""Weakly-supervised localization metrics: boxes from maps, MaxBoxAcc, MaxBoxAccV2, PxAP, top-k.

The protocol is the WSOL benchmark of Choe et al. (CVPR 2020), which the F-CAM paper (section 4.1)
follows. Every metric is computed from heat-maps ``cams`` of shape (N, H, W) and pixel annotations:

* each map is min-max normalised to [0, 1] (a constant map becomes zeros) and quantised to
  :math:`u = \\lfloor 255\\, s \\rfloor` (``uint8``, as the benchmark does);
* at a threshold :math:`\\tau` the foreground is the set of pixels *strictly above*
  :math:`\\lfloor \\tau \\max u \\rfloor`; the predicted box is the box of the largest 8-connected
  region (MaxBoxAcc) or one box per region (MaxBoxAccV2);
* boxes are in the *pixel-inclusive* convention: ``(x0, y0, x1, y1)`` are the first and last pixel
  columns / rows, so a box is :math:`(x_1-x_0+1)(y_1-y_0+1)` pixels;
* PxAP compares :math:`\\{s \\ge \\tau\\}` (greater *or equal*) with a pixel mask.

How all 1000 thresholds are evaluated without 1000 labellings per image
-----------------------------------------------------------------------
Because the maps are quantised, the foreground at any threshold is one of the super-level sets
:math:`\{u \ge L\}` for an integer level :math:`L = \lfloor \tau \max u \rfloor + 1 \in
\{1, \dots, 256\}`, so at most 255 distinct region sets exist per image, and the 1000 thresholds
are mapped to their levels at the end. The regions of all levels are not labelled one by one
either; they form a *component tree*, built in three vectorised steps for a chunk of images at once:

1. *Basins.* Every pixel points to its 8-neighbour with the largest float value (ties by index),
   and pointer jumping (``root = root[root]``, log2(path length) rounds) takes each pixel to its
   peak. The path from a pixel of level :math:`\ge L` climbs through pixels of level
   :math:`\ge L`, so the part of a basin above any level is connected to its peak: within a level
   set, a basin never splits. A basin whose peak touches a neighbour basin at its own peak level
   (a flat top split by the tie-break) is merged into it at once.
2. *Per-basin tables.* For every basin and level: pixel count, first pixel and bounding box of its
   pixels of that level (``np.minimum.at``), then cumulated over the levels above
   (``np.minimum.accumulate``), which gives the same for the basin's part above any level.
3. *Merges.* Neighbouring pixels of two basins join the basins at the lower of their two levels;
   a union-find over basins (hooking with ``np.minimum.at``, pointer jumping), run from level 255
   down, gives the regions of every level as groups of basins, whose boxes and areas are the
   group minima / maxima / sums of the tables. The IoU of each region with the true boxes then gives
   the IoU of the largest region and the best IoU over all regions at every level.

Images are tiled into one array with a row and a column of zeros between them; level-0 pixels are
never foreground, so regions never cross from one image to the next. The cost is a few passes over
the pixels plus a loop over the 255 levels on basins only (a smooth map has a handful of basins);
the reference instead labels the whole image once per threshold. ``tests/wsol`` checks the result
against a plain loop over images and thresholds with :func:`scipy.ndimage.label`.

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

The notebook ``notebooks/05_wsol_evaluation.ipynb`` shows every metric at work.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .._validate import check_choice, check_float, check_int

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EMPTY_BOX",
    "normalize_maps",
    "quantize_maps",
    "box_iou",
    "boxes_from_cam",
    "pixel_boxes",
    "box_iou_curves",
    "BoxAccResult",
    "PxAPResult",
    "TopKResult",
    "max_box_acc",
    "max_box_acc_v2",
    "pxap",
    "top_k_localization",
]

#: The benchmark's threshold grid, :math:`\tau \in \{0, 0.001, \dots, 0.999\}`.
DEFAULT_THRESHOLDS = np.arange(0, 1, 0.001)

#: The empty box in the pixel-inclusive convention: zero columns and zero rows, IoU 0 with any box.
EMPTY_BOX = np.array([0, 0, -1, -1], dtype=np.int64)

_STRUCTURE8 = np.ones((3, 3), dtype=bool)


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:200]


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------
def _as_cams(cams, name="cams", nan="raise", allow_single=False):
    """Return float32 (N, H, W) maps, NaN handled by ``nan`` ('raise' or 'zero')."""
    check_choice(nan, "nan", ("raise", "zero"))
    if hasattr(cams, "numpy") and not isinstance(cams, np.ndarray):
        cams = cams.numpy()
    arr = np.asarray(cams)
    single = False
    if arr.ndim == 2 and allow_single:
        arr, single = arr[None], True
    if arr.ndim != 3:
        want = "(N, H, W) or a single (H, W) map" if allow_single else "(N, H, W)"
        raise ValueError(f"`{name}` must have shape {want}; got {_describe(arr)}. "
                         "Squeeze a channel axis (N, H, W, 1) with cams[..., 0].")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}.")
    if 0 in arr.shape:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    arr = arr.astype(np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))
        if nan == "raise":
            raise ValueError(f"`{name}` contains NaN or infinite values (maps {rows[:5].tolist()}"
                             f"{'...' if len(rows) > 5 else ''}). Pass nan='zero' to treat such a map "
                             "as all zeros, as the WSOL benchmark does.")
        arr[rows] = 0.0
    return arr, single


def normalize_maps(cams, nan="raise"):
    """Min-max normalise each map to [0, 1], as the WSOL benchmark does.

    .. math:: s = \\frac{c - \\min c}{\\max c - \\min c}

    A constant map becomes zeros (never NaN). With ``nan='zero'`` a map holding NaN or inf becomes
    all zeros (the benchmark's rule); with ``nan='raise'`` (default) it is an error.

    Parameters
    ----------
    cams : array_like, (N, H, W) or (H, W)
    nan : {'raise', 'zero'}

    Returns
    -------
    np.ndarray
        float32 maps in [0, 1] of the caller's rank.
    """
    arr, single = _as_cams(cams, nan=nan, allow_single=True)
    return _normalize(arr)[0] if single else _normalize(arr)


def _normalize(arr):
    lo = arr.min(axis=(1, 2), keepdims=True)
    hi = arr.max(axis=(1, 2), keepdims=True)
    span = hi - lo
    ok = span > 0
    out = np.where(ok, (arr - lo) / np.where(ok, span, 1), 0).astype(np.float32)
    return out


def quantize_maps(cams, nan="raise"):
    """Quantise normalised maps as the benchmark does: :math:`u = \\lfloor 255\\, s \\rfloor` (uint8).

    Parameters
    ----------
    cams : array_like, (N, H, W) or (H, W)
        Raw maps; they are min-max normalised first (:func:`normalize_maps`).
    nan : {'raise', 'zero'}

    Returns
    -------
    np.ndarray
        uint8 maps of the caller's rank.
    """
    arr, single = _as_cams(cams, nan=nan, allow_single=True)
    u = (_normalize(arr) * np.float32(255)).astype(np.uint8)
    return u[0] if single else u


def _as_gt_boxes(gt_boxes, n, shape, name="gt_boxes"):
    """Return padded int64 boxes (N, K, 4) and a validity mask (N, K)."""
    h, w = shape
    if hasattr(gt_boxes, "numpy") and not isinstance(gt_boxes, np.ndarray):
        gt_boxes = gt_boxes.numpy()
    if isinstance(gt_boxes, np.ndarray) and gt_boxes.dtype != object:
        if gt_boxes.ndim == 2:
            items = [gt_boxes[i:i + 1] for i in range(len(gt_boxes))]
        elif gt_boxes.ndim == 3:
            items = list(gt_boxes)
        else:
            raise ValueError(f"`{name}` must be a list of (k_i, 4) arrays, an (N, 4) or an (N, K, 4) "
                             f"array; got {_describe(gt_boxes)}.")
    elif isinstance(gt_boxes, (list, tuple)) or (isinstance(gt_boxes, np.ndarray)):
        items = list(gt_boxes)
    else:
        raise TypeError(f"`{name}` must be a list of (k_i, 4) arrays of pixel boxes; got "
                        f"{_describe(gt_boxes)}.")
    if len(items) != n:
        raise ValueError(f"`{name}` has boxes for {len(items)} images but there are {n} maps; give one "
                         "(k_i, 4) array per map.")
    parsed = []
    for i, b in enumerate(items):
        b = np.asarray(b.numpy() if hasattr(b, "numpy") else b)
        if b.ndim == 1:
            b = b[None]
        if b.ndim != 2 or b.shape[1] != 4 or b.shape[0] == 0:
            raise ValueError(f"`{name}[{i}]` must be a non-empty (k, 4) array of (x0, y0, x1, y1) "
                             f"pixel boxes; got {_describe(b)}.")
        if not np.issubdtype(b.dtype, np.number):
            raise TypeError(f"`{name}[{i}]` must be numeric; got dtype {b.dtype}.")
        if not np.all(np.isfinite(b)):
            raise ValueError(f"`{name}[{i}]` contains NaN or infinite coordinates.")
        if np.any(b != np.round(b)):
            raise ValueError(f"`{name}[{i}]` must hold integer pixel indices (pixel-inclusive "
                             f"x0, y0, x1, y1); got {b[:2].tolist()}... Convert normalised boxes with "
                             "cvkit.wsol.pixel_boxes(boxes, image_size).")
        b = b.astype(np.int64)
        x0, y0, x1, y1 = b.T
        if (np.any(x0 < 0) or np.any(y0 < 0) or np.any(x1 > w - 1) or np.any(y1 > h - 1)
                or np.any(x1 < x0) or np.any(y1 < y0)):
            raise ValueError(f"`{name}[{i}]` = {b.tolist()} is outside the {h}x{w} map or not ordered: "
                             f"need 0 <= x0 <= x1 <= {w - 1} and 0 <= y0 <= y1 <= {h - 1} "
                             "(pixel-inclusive boxes on the map's grid).")
        parsed.append(b)
    k = max(len(b) for b in parsed)
    boxes = np.zeros((n, k, 4), dtype=np.int64)
    valid = np.zeros((n, k), dtype=bool)
    for i, b in enumerate(parsed):
        boxes[i, :len(b)] = b
        valid[i, :len(b)] = True
    return boxes, valid


def _as_thresholds(thresholds, name="thresholds"):
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = t[None]
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D sequence of values in [0, 1]; got "
                         f"{_describe(np.asarray(thresholds))}.")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
        raise ValueError(f"`{name}` must lie in [0, 1]; got values in [{np.nanmin(t):.4g}, "
                         f"{np.nanmax(t):.4g}].")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"`{name}` must be strictly increasing, like np.arange(0, 1, 0.001).")
    return t


def _as_iou_thresholds(iou_thresholds, name="iou_thresholds"):
    d = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)) or d.min() <= 0 or d.max() > 1:
        raise ValueError(f"`{name}` must be IoU levels in (0, 1], like (0.3, 0.5, 0.7); got "
                         f"{np.asarray(iou_thresholds).tolist()}.")
    return d


def pixel_boxes(boxes, image_size):
    """Convert normalised ``xyxy`` boxes (pixel-edge convention) to pixel-inclusive integer boxes.

    A box covering pixel columns :math:`x_0 \\dots x_1` is stored by :mod:`cvkit.datasets` as
    :math:`x_{min} = x_0 / W`, :math:`x_{max} = (x_1 + 1) / W`; this returns
    :math:`(x_0, y_0, x_1, y_1) = (\\mathrm{round}(x_{min} W), \\mathrm{round}(y_{min} H),
    \\mathrm{round}(x_{max} W) - 1, \\mathrm{round}(y_{max} H) - 1)`, clipped to the image.

    Parameters
    ----------
    boxes : array_like, (..., 4)
        Normalised ``(x_min, y_min, x_max, y_max)``.
    image_size : int or (height, width)

    Returns
    -------
    np.ndarray
        int64 boxes of the same shape.

    Examples
    --------
    >>> pixel_boxes([[0.25, 0.5, 0.75, 1.0]], (64, 128)).tolist()
    [[32, 32, 95, 63]]
    """
    if isinstance(image_size, numbers.Integral):
        image_size = (int(image_size), int(image_size))
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`image_size` must be an int or (height, width); got {image_size!r}.") from exc
    if h <= 0 or w <= 0:
        raise ValueError(f"`image_size` must be positive; got {(h, w)}.")
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape[-1:] != (4,) or not np.all(np.isfinite(b)):
        raise ValueError(f"`boxes` must be finite (..., 4) normalised xyxy boxes; got {_describe(b)}.")
    scale = np.array([w, h, w, h], dtype=np.float64)
    px = np.round(b * scale).astype(np.int64) - np.array([0, 0, 1, 1])
    hi = np.array([w - 1, h - 1, w - 1, h - 1])
    px = np.clip(px, 0, hi)
    px[..., 2] = np.maximum(px[..., 2], px[..., 0])
    px[..., 3] = np.maximum(px[..., 3], px[..., 1])
    return px


# ----------------------------------------------------------------------------------------------
# IoU and single-map boxes
# ----------------------------------------------------------------------------------------------
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
                             f"{_describe(arr)}.")
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
    """
    arr, _ = _as_cams(cam, name="cam", nan=nan, allow_single=True)
    if arr.shape[0] != 1:
        raise ValueError(f"`cam` must be a single (H, W) map; got shape {np.shape(cam)}. Use "
                         "max_box_acc for a batch.")
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    u = (_normalize(arr) * np.float32(255)).astype(np.uint8)[0]
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


# ----------------------------------------------------------------------------------------------
# The component-tree engine
# ----------------------------------------------------------------------------------------------
def _find(rep, x):
    """Roots of ``x`` in the union-find forest ``rep``, with path halving."""
    r = rep[x]
    while True:
        g = rep[r]
        if np.array_equal(g, r):
            break
        gg = rep[g]
        rep[r] = gg
        r = gg
    rep[x] = r
    return r


#: Largest number of (basin, level) table entries built at once (memory bound for rugged maps).
_TABLE_LIMIT = 2 ** 21


def _union(rep, a, b):
    """Unite the sets of ``a[i]`` and ``b[i]`` for all i: hook the larger root onto the smaller."""
    x = _find(rep, a)
    y = _find(rep, b)
    while True:
        m = x != y
        if not m.any():
            return
        x, y = x[m], y[m]
        np.minimum.at(rep, np.maximum(x, y), np.minimum(x, y))
        x = _find(rep, x)
        y = _find(rep, y)


def _reduce_edges(ea, eb, el, nb):
    """One edge per (basin, basin, level)."""
    if ea.size == 0:
        return ea, eb, el
    pk = np.unique((np.minimum(ea, eb) * nb + np.maximum(ea, eb)) * 256 + el)
    pair = pk // 256
    return pair // nb, pair % nb, pk % 256


def _basin_edges(basin, v, inner, base, size, wp, nb):
    """Neighbour pairs of pixels in different basins, with the level at which they join."""
    ea, eb, el = [], [], []
    bi = basin[inner]
    vi = v[inner]
    for off in (1, wp - 1, wp, wp + 1):
        sl = slice(base + off, size - base + off)
        bo = basin[sl]
        sel = np.flatnonzero((bi != bo) & (bi >= 0) & (bo >= 0))
        if sel.size:
            ea.append(bi[sel])
            eb.append(bo[sel])
            el.append(np.minimum(vi[sel], v[sl][sel]).astype(np.int64))
    if not ea:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    return _reduce_edges(np.concatenate(ea), np.concatenate(eb), np.concatenate(el), nb)


def _chunk_curves(s, u, gt, valid, empty_iou, compat, want_largest, want_all):
    """IoU of the largest region and best IoU over all regions at every level, for a chunk.

    ``s`` is (n, H, W) float32 in [0, 1] and ``u`` its uint8 quantisation; returns two (n, 257)
    arrays indexed by level L (foreground u >= L).
    """
    n, h, w = u.shape
    hp, wp = h + 1, w + 1
    tile = hp * wp
    base = wp + 1
    size = n * tile + 2 * base
    v = np.zeros(size, dtype=np.uint8)
    v[base:base + n * tile].reshape(n, hp, wp)[:, :h, :w] = u
    out_large = np.tile(empty_iou[:, None], (1, 257))
    out_all = np.tile(empty_iou[:, None], (1, 257))
    if not v.any():
        return out_large, out_all
    inner = slice(base, size - base)

    # 1. steepest ascent: each pixel points at its neighbour with the largest key, where the key
    #    orders pixels by their float value (a refinement of the uint8 order, so plateaus of u
    #    still slope towards the real peak) and then by index. Following the pointers from a pixel
    #    of value >= L only visits pixels of value >= L, so each basin's part above L is connected
    #    to its peak. The bits of a non-negative float32 compare like the float.
    shift = max(int(size - 1).bit_length(), 1)
    key = np.zeros(size, dtype=np.int64)
    key[base:base + n * tile].reshape(n, hp, wp)[:, :h, :w] = s.view(np.int32)
    key <<= shift
    key |= np.arange(size, dtype=np.int64)
    best = key.copy()
    for off in (1, wp - 1, wp, wp + 1):
        np.maximum(best[inner], key[base + off:size - base + off], out=best[inner])
        np.maximum(best[inner], key[base - off:size - base - off], out=best[inner])
    del key
    best &= (1 << shift) - 1
    itype = np.int32 if size < 2 ** 31 else np.int64  # half the memory traffic when it fits
    root = best.astype(itype)
    del best
    active = v > 0
    act_idx = np.flatnonzero(active).astype(itype)
    todo = act_idx
    while todo.size:  # pointer jumping: log2(path length) rounds, on the unfinished pixels only
        r = root[todo]
        rr = root[r]
        root[todo] = rr
        todo = todo[rr != r]
    r = root[act_idx]
    peaks = act_idx[r == act_idx]
    nb = peaks.size
    rid = np.full(size, -1, dtype=np.int64)
    rid[peaks] = np.arange(nb)
    basin = np.full(size, -1, dtype=np.int64)
    basin[act_idx] = rid[r]
    del root, rid, r
    peak_level = v[peaks].astype(np.int64)

    # 2. basins meet across neighbour pairs; a pair joins at the lower of its two values.
    ea, eb, el = _basin_edges(basin, v, inner, base, size, wp, nb)
    # A basin whose peak touches a neighbour basin at its own peak value (a plateau split by the
    # index tie-break) is joined to it at every level where it exists: merge such basins now.
    # Each such basin gets one parent (a higher peak, or the same peak and a smaller id, so the
    # parents form a forest); merging along the parents never joins two regions too early.
    parent = np.full(nb, nb, dtype=np.int64)
    for c, p in ((ea, eb), (eb, ea)):
        pc, pp = peak_level[c], peak_level[p]
        sel = (el == pc) & ((pp > pc) | ((pp == pc) & (p < c)))
        np.minimum.at(parent, c[sel], p[sel])
    if (parent < nb).any():
        lab = np.where(parent < nb, parent, np.arange(nb))
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt
        keep = lab == np.arange(nb)
        lab = (np.cumsum(keep) - 1)[lab]
        peaks, peak_level = peaks[keep], peak_level[keep]
        nb = peaks.size
        basin = np.where(basin >= 0, lab[np.maximum(basin, 0)], -1)
        ea, eb = lab[ea], lab[eb]
        ok = ea != eb
        ea, eb, el = _reduce_edges(ea[ok], eb[ok], el[ok], nb)
    if nb * 256 > _TABLE_LIMIT and n > 1:
        # very rugged maps (noise) have many basins: keep the (basin x level) tables small
        del basin, v, active, act_idx, ea, eb, el
        half = n // 2
        parts = [_chunk_curves(s[sl], u[sl], gt[sl], valid[sl], empty_iou[sl], compat,
                               want_largest, want_all)
                 for sl in (slice(0, half), slice(half, n))]
        return np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])
    peak_img = (peaks - base) // tile

    # 3. per (basin, level) statistics of the pixels of that value, then cumulated over the
    #    levels >= L: the part of a basin above L, its area, bounding box and first pixel.
    ap = act_idx
    t = basin[ap] * 256 + v[ap]
    grid_r = np.broadcast_to(np.arange(hp, dtype=np.int64)[None, :, None], (n, hp, wp)).ravel()
    grid_c = np.broadcast_to(np.arange(wp, dtype=np.int64)[None, None, :], (n, hp, wp)).ravel()
    loc = ap - base
    row = grid_r[loc]
    col = grid_c[loc]
    del grid_r, grid_c
    m = nb * 256
    area = np.bincount(t, minlength=m).reshape(nb, 256)
    tabs = []
    for vals, fn, init in ((row, np.minimum, h), (col, np.minimum, w), (row, np.maximum, -1),
                           (col, np.maximum, -1), (ap, np.minimum, size)):
        tab = np.full(m, init, dtype=np.int64)
        fn.at(tab, t, vals)
        tab = fn.accumulate(tab.reshape(nb, 256)[:, ::-1], axis=1)[:, ::-1]
        tabs.append(tab)
    r0, c0, r1, c1, first = tabs
    area = np.cumsum(area[:, ::-1], axis=1)[:, ::-1]
    del ap, t, loc, row, col, basin
    order = np.argsort(-el, kind="stable")
    ea, eb, el = ea[order], eb[order], el[order]
    estart = np.searchsorted(-el, -np.arange(257), side="left")
    estop = np.searchsorted(-el, -np.arange(257), side="right")

    # 4. union-find over basins, level by level from the top. When regions merge at level L, the
    #    tables of the absorbed root are folded into the surviving root for the levels <= L, so a
    #    root's table row always describes its whole region; every level records its live roots.
    border = np.argsort(-peak_level, kind="stable")
    nactive = np.searchsorted(-peak_level[border], -np.arange(257), side="right")
    rep = np.arange(nb, dtype=np.int64)
    flag = np.zeros(nb, dtype=bool)
    alive = np.zeros(0, dtype=np.int64)
    rec_level, rec_root = [], []
    top = int(peak_level.max())
    for level in range(top, 0, -1):
        new_b = border[nactive[level + 1] if level < 256 else 0:nactive[level]]
        if estop[level] > estart[level]:
            a_, b_ = ea[estart[level]:estop[level]], eb[estart[level]:estop[level]]
            cand = np.concatenate([_find(rep, a_), _find(rep, b_)])
            flag[cand] = True
            cand = np.flatnonzero(flag)
            flag[cand] = False
            _union(rep, a_, b_)
            fr = _find(rep, cand)
            moved = fr != cand
            if moved.any():
                src, dst = cand[moved], fr[moved]
                cut = level + 1
                np.add.at(area[:, :cut], dst, area[src, :cut])
                for tab, fn in ((r0, np.minimum), (c0, np.minimum), (r1, np.maximum),
                                (c1, np.maximum), (first, np.minimum)):
                    fn.at(tab[:, :cut], dst, tab[src, :cut])
        alive = np.concatenate([alive, new_b])
        alive = alive[rep[alive] == alive]
        rec_root.append(alive)
        rec_level.append(np.full(alive.size, level, dtype=np.int64))
    g_level = np.concatenate(rec_level)
    g_root = np.concatenate(rec_root)
    del rec_level, rec_root

    # 5. every (level, region): area, box and first pixel from the root's table, then its IoU
    ca = area[g_root, g_level]
    cf = first[g_root, g_level]
    boxes = np.stack([c0[g_root, g_level], r0[g_root, g_level], c1[g_root, g_level],
                      r1[g_root, g_level]], axis=-1)
    if compat:
        boxes = _compat_boxes(boxes, h, w)
    ci = peak_img[g_root]
    ious = np.where(valid[ci], _iou_matrix(boxes.astype(np.float64), gt.astype(np.float64)[ci]),
                    -1.0).max(axis=1)
    cell = ci * 257 + g_level
    has = np.zeros(n * 257, dtype=bool)
    has[cell] = True
    if want_all:
        best = np.full(n * 257, -1.0)
        np.maximum.at(best, cell, ious)
        out_all.ravel()[has] = best[has]
    if want_largest:
        # most pixels first; ties go to the region whose first pixel comes first in raster order
        big = np.int64(size)
        key = ca * big + (big - 1 - cf)
        bestk = np.full(n * 257, -1, dtype=np.int64)
        np.maximum.at(bestk, cell, key)
        sel = key == bestk[cell]
        out_large.ravel()[cell[sel]] = ious[sel]
    return out_large, out_all


def box_iou_curves(cams, gt_boxes, nan="raise", benchmark_boxes=False, largest=True,
                   all_regions=True, chunk_pixels=2_000_000):
    """Per image and per quantised level, the IoU of the predicted box(es) with the true boxes.

    The engine behind :func:`max_box_acc` and :func:`max_box_acc_v2` (see the module notes for the
    component-tree algorithm). Level :math:`L` means the foreground :math:`\\{u \\ge L\\}`, i.e. the
    threshold test :math:`u > L - 1`; level 256 is always empty.

    Parameters
    ----------
    cams : array_like, (N, H, W)
    gt_boxes : list of (k_i, 4) arrays, or an (N, 4) / (N, K, 4) array
        Pixel-inclusive true boxes; the best-matching one counts.
    nan : {'raise', 'zero'}
    benchmark_boxes : bool
        Use the OpenCV reference's box quirks (module notes).
    largest, all_regions : bool
        Which curves to compute.
    chunk_pixels : int
        About how many pixels are processed together (memory vs per-level overhead).

    Returns
    -------
    u_max : np.ndarray, (N,)
        :math:`\\max u` per image (thresholds map to levels through it).
    iou_largest, iou_all : np.ndarray, (N, 257)
        IoU of the largest region's box / best IoU over all regions' boxes, per level
        (None when not asked for).
    """
    arr, _ = _as_cams(cams, nan=nan)
    n, h, w = arr.shape
    gt, valid = _as_gt_boxes(gt_boxes, n, (h, w))
    check_int(chunk_pixels, "chunk_pixels", minimum=1)
    sm = _normalize(arr)
    del arr
    u = (sm * np.float32(255)).astype(np.uint8)
    if benchmark_boxes:
        zero = np.zeros((n, 4), dtype=np.float64)
        empty = np.where(valid, _iou_matrix(zero, gt.astype(np.float64)), -1.0).max(axis=1)
        empty = np.maximum(empty, 0.0)
    else:
        empty = np.zeros(n)
    large = np.empty((n, 257)) if largest else None
    allr = np.empty((n, 257)) if all_regions else None
    step = max(1, int(chunk_pixels) // ((h + 1) * (w + 1)))
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        lg, al = _chunk_curves(sm[sl], u[sl], gt[sl], valid[sl], empty[sl], benchmark_boxes,
                               largest, all_regions)
        if largest:
            large[sl] = lg
        if all_regions:
            allr[sl] = al
    return u.reshape(n, -1).max(axis=1), large, allr


def _levels(u_max, thresholds):
    """Level index per (image, threshold): :math:`\\lfloor \\tau \\max u \\rfloor + 1`."""
    thr = np.floor(thresholds[None, :] * u_max[:, None].astype(np.float64)).astype(np.int64)
    return np.minimum(thr + 1, 256)


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------
@dataclass
class BoxAccResult:
    """MaxBoxAcc / MaxBoxAccV2 result.

    Attributes
    ----------
    score : float
        Mean over the IoU levels of :math:`\\max_\\tau \\mathrm{BoxAcc}(\\tau, \\delta)`, in percent.
    iou_thresholds : np.ndarray, (D,)
    max_per_iou : np.ndarray, (D,)
        :math:`\\max_\\tau \\mathrm{BoxAcc}(\\tau, \\delta)` per IoU level (percent).
    best_thresholds : np.ndarray, (D,)
        The :math:`\\tau` that reaches it (the first, when several do).
    accuracy : np.ndarray, (D, T)
        The BoxAcc(:math:`\\tau`) curves in percent.
    thresholds : np.ndarray, (T,)
    ious : np.ndarray, (N, T)
        Each image's IoU at each threshold (float32).
    multi_contour : bool
    name : str
    """

    score: float
    iou_thresholds: np.ndarray
    max_per_iou: np.ndarray
    best_thresholds: np.ndarray
    accuracy: np.ndarray
    thresholds: np.ndarray
    ious: np.ndarray = field(repr=False)
    multi_contour: bool = False
    name: str = "MaxBoxAcc"

    def best_ious(self, iou_threshold=0.5):
        """Each image's IoU at the best threshold of ``iou_threshold`` (must be one of the levels)."""
        k = self._delta_index(iou_threshold)
        j = int(np.searchsorted(self.thresholds, self.best_thresholds[k]))
        return self.ious[:, j].astype(np.float64)

    def _delta_index(self, iou_threshold):
        hit = np.flatnonzero(np.isclose(self.iou_thresholds, iou_threshold))
        if hit.size == 0:
            raise ValueError(f"`iou_threshold` must be one of {self.iou_thresholds.tolist()}; got "
                             f"{iou_threshold!r}.")
        return int(hit[0])

    def __str__(self):
        parts = [f"{self.name} = {self.score:.2f}"]
        for d, m, t in zip(self.iou_thresholds, self.max_per_iou, self.best_thresholds):
            parts.append(f"  IoU>={d:.2f}: {m:.2f} at tau={t:.3f}")
        return "\n".join(parts)

    def plot(self, ax=None, **kwargs):
        """Draw the BoxAcc(tau) curves (:func:`cvkit.visualize.plot_boxacc_curves`)."""
        from ..visualize.wsol import plot_boxacc_curves

        return plot_boxacc_curves(self, ax=ax, **kwargs)


@dataclass
class PxAPResult:
    """PxAP result.

    Attributes
    ----------
    score : float
        Average precision in percent.
    precision, recall : np.ndarray, (T,)
        Pooled pixel precision and recall of :math:`\\{s \\ge \\tau\\}` at each threshold
        (precision is NaN where nothing is predicted).
    thresholds : np.ndarray, (T,)
    """

    score: float
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    name: str = "PxAP"

    def __str__(self):
        return f"{self.name} = {self.score:.2f}"

    def plot(self, ax=None, **kwargs):
        """Draw the precision-recall curve (:func:`cvkit.visualize.plot_precision_recall`)."""
        from ..visualize.wsol import plot_precision_recall

        return plot_precision_recall(self, ax=ax, **kwargs)


@dataclass
class TopKResult:
    """Top-k localization result.

    Attributes
    ----------
    localization : dict
        k -> percentage of images whose true class is in the top k and whose box has
        IoU >= ``iou_threshold``.
    classification : dict
        k -> top-k classification accuracy (percent), for reference.
    threshold : float
        The map threshold used for the boxes.
    iou_threshold : float
    """

    localization: dict
    classification: dict
    threshold: float
    iou_threshold: float

    @property
    def top1(self):
        return self.localization.get(1)

    @property
    def top5(self):
        return self.localization.get(5)

    def __str__(self):
        return "\n".join(f"top-{k} loc = {v:.2f} (top-{k} cls = {self.classification[k]:.2f})"
                         for k, v in self.localization.items())


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------
def _box_acc_from_curves(u_max, curve, thresholds, deltas, multi, name):
    lv = _levels(u_max, thresholds)
    ious = np.take_along_axis(curve, lv, axis=1)
    acc = np.stack([(ious >= d).mean(axis=0) * 100.0 for d in deltas])
    best = acc.argmax(axis=1)
    mx = acc[np.arange(len(deltas)), best]
    return BoxAccResult(score=float(mx.mean()), iou_thresholds=deltas, max_per_iou=mx,
                        best_thresholds=thresholds[best], accuracy=acc, thresholds=thresholds,
                        ious=ious.astype(np.float32), multi_contour=multi, name=name)


def max_box_acc(cams, gt_boxes, iou_thresholds=(0.5,), multi_contour=False,
                thresholds=DEFAULT_THRESHOLDS, nan="raise", benchmark_boxes=False):
    """MaxBoxAcc: the best, over map thresholds, percentage of images with a good box.

    .. math::

        \\mathrm{BoxAcc}(\\tau, \\delta) = \\frac{100}{N}\\sum_{n=1}^{N}
            \\mathbb{1}\\left[\\max_{g} \\mathrm{IoU}\\big(\\mathrm{box}(s_n, \\tau), B_{n,g}\\big)
            \\ge \\delta\\right], \\qquad
        \\mathrm{MaxBoxAcc} = \\max_{\\tau} \\mathrm{BoxAcc}(\\tau, 0.5)

    where :math:`\\mathrm{box}(s, \\tau)` is the box of the largest region of
    :math:`\\{u > \\lfloor \\tau \\max u \\rfloor\\}` (:func:`boxes_from_cam`). With several IoU levels
    the score is the mean of the per-level maxima, each level with its own best :math:`\\tau`. The
    maximum over :math:`\\tau` removes the threshold as a hyper-parameter: each method is compared at
    its own best operating point (GT-known: the map of the true class is used).

    Parameters
    ----------
    cams : array_like, (N, H, W)
        Heat-maps (normalised per map here).
    gt_boxes : list of (k_i, 4) arrays, or an (N, 4) / (N, K, 4) array
        Pixel-inclusive ``(x0, y0, x1, y1)`` true boxes on the map's grid.
    iou_thresholds : sequence of float
        :math:`\\delta` levels.
    multi_contour : bool
        Score every region's box (best IoU) instead of the largest region's.
    thresholds : array_like
        Increasing :math:`\\tau` grid in [0, 1] (default ``np.arange(0, 1, 0.001)``).
    nan : {'raise', 'zero'}
        A map with NaN raises, or counts as zeros (the benchmark's rule).
    benchmark_boxes : bool
        Reproduce the OpenCV reference's box quirks (module notes).

    Returns
    -------
    BoxAccResult

    Notes
    -----
    All thresholds are evaluated from one component tree per image (module notes); shown in
    ``notebooks/05_wsol_evaluation.ipynb``.

    Examples
    --------
    >>> cam = np.zeros((1, 16, 16)); cam[0, 4:8, 4:10] = 1
    >>> max_box_acc(cam, [[[4, 4, 9, 7]]]).score
    100.0
    """
    deltas = _as_iou_thresholds(iou_thresholds)
    thresholds = _as_thresholds(thresholds)
    multi_contour = bool(multi_contour)
    u_max, lg, al = box_iou_curves(cams, gt_boxes, nan=nan, benchmark_boxes=benchmark_boxes,
                                   largest=not multi_contour, all_regions=multi_contour)
    curve = al if multi_contour else lg
    return _box_acc_from_curves(u_max, curve, thresholds, deltas, multi_contour, "MaxBoxAcc")


def max_box_acc_v2(cams, gt_boxes, iou_thresholds=(0.3, 0.5, 0.7), multi_contour=True,
                   thresholds=DEFAULT_THRESHOLDS, nan="raise", benchmark_boxes=False):
    """MaxBoxAccV2: MaxBoxAcc averaged over :math:`\\delta \\in \\{0.3, 0.5, 0.7\\}`, all regions.

    .. math::

        \\mathrm{MaxBoxAccV2} = \\frac{1}{3}\\sum_{\\delta \\in \\{0.3, 0.5, 0.7\\}}
            \\max_{\\tau} \\mathrm{BoxAcc}(\\tau, \\delta)

    where the box test uses the best IoU over the boxes of *all* regions of the thresholded map
    (``multi_contour=True``) and each :math:`\\delta` has its own best :math:`\\tau`. Parameters and
    result as :func:`max_box_acc`; shown in ``notebooks/05_wsol_evaluation.ipynb``.

    Examples
    --------
    Two blobs: the true object is the smaller one, so only the all-regions test finds it.

    >>> cam = np.zeros((1, 20, 20)); cam[0, 1:9, 1:9] = 1; cam[0, 12:16, 12:16] = 1
    >>> max_box_acc_v2(cam, [[[12, 12, 15, 15]]]).score
    100.0
    >>> max_box_acc(cam, [[[12, 12, 15, 15]]]).score
    0.0
    """
    res = max_box_acc(cams, gt_boxes, iou_thresholds=iou_thresholds, multi_contour=multi_contour,
                      thresholds=thresholds, nan=nan, benchmark_boxes=benchmark_boxes)
    res.name = "MaxBoxAccV2"
    return res


def _as_masks(masks, shape, name):
    if hasattr(masks, "numpy") and not isinstance(masks, np.ndarray):
        masks = masks.numpy()
    m = np.asarray(masks)
    if m.ndim == 2 and len(shape) == 3 and shape[0] == 1:
        m = m[None]
    if m.shape != tuple(shape):
        raise ValueError(f"`{name}` must have the maps' shape {tuple(shape)} (one mask per map, same "
                         f"H and W); got {_describe(m)}. Resize the masks with nearest-neighbour "
                         "interpolation to the map size.")
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number):
            raise TypeError(f"`{name}` must be boolean; got dtype {m.dtype}.")
        if not np.all(np.isin(m, (0, 1))):
            raise ValueError(f"`{name}` must be boolean (or 0/1); got values other than 0 and 1.")
        m = m.astype(bool)
    return m


def pxap(cams, masks, thresholds=DEFAULT_THRESHOLDS, ignore=None, nan="raise"):
    """PxAP: average precision of pixel-wise foreground prediction, pooled over the dataset.

    With :math:`s` the normalised maps and :math:`M` the masks, at each threshold

    .. math::

        \\mathrm{P}(\\tau) = \\frac{|\\{s \\ge \\tau\\} \\cap M|}{|\\{s \\ge \\tau\\}|}, \\qquad
        \\mathrm{R}(\\tau) = \\frac{|\\{s \\ge \\tau\\} \\cap M|}{|M|}

    counted over all pixels of all images together (greater *or equal*, unlike the box protocol's
    strict test), and with thresholds taken in decreasing order (the grid followed by 1.0)

    .. math:: \\mathrm{PxAP} = 100 \\sum_i \\mathrm{P}(\\tau_i)\\,(\\mathrm{R}(\\tau_i) - \\mathrm{R}(\\tau_{i-1}))

    skipping thresholds where nothing is predicted, as the benchmark does.

    Parameters
    ----------
    cams : array_like, (N, H, W)
        Heat-maps (normalised per map here).
    masks : array_like of bool, (N, H, W)
        True object pixels.
    thresholds : array_like
        Increasing grid in [0, 1] (default ``np.arange(0, 1, 0.001)``).
    ignore : array_like of bool, (N, H, W), optional
        Pixels left out of the count (the benchmark's "ignore" regions).
    nan : {'raise', 'zero'}

    Returns
    -------
    PxAPResult

    Notes
    -----
    Each pixel is binned once with :func:`numpy.searchsorted` against the grid; cumulative sums
    of the two histograms give the counts at every threshold. Unlike the reference, pixels below
    the first threshold still count as missed positives (identical for grids starting at 0).
    Shown in ``notebooks/05_wsol_evaluation.ipynb``.

    Examples
    --------
    A map equal to the mask is perfect:

    >>> m = np.zeros((1, 8, 8), bool); m[0, 2:5, 2:6] = True
    >>> pxap(m.astype(float), m).score
    100.0
    """
    arr, _ = _as_cams(cams, nan=nan)
    thresholds = _as_thresholds(thresholds)
    mask = _as_masks(masks, arr.shape, "masks")
    keep = None
    if ignore is not None:
        keep = ~_as_masks(ignore, arr.shape, "ignore")
    s = _normalize(arr)
    edges = np.concatenate([thresholds, [1.0, 2.0]])
    edges = np.unique(edges)
    if keep is not None:
        s_pos, s_neg = s[mask & keep], s[~mask & keep]
    else:
        s_pos, s_neg = s[mask], s[~mask]
    if s_pos.size == 0:
        raise ValueError("`masks` has no foreground pixel (after `ignore`); PxAP needs at least one "
                         "true pixel.")
    nb = edges.size + 1
    # bin b = number of edges <= s; count(s >= edges[j]) = sum of bins > j
    hp = np.bincount(np.searchsorted(edges, s_pos.astype(np.float64), side="right"), minlength=nb)
    hn = np.bincount(np.searchsorted(edges, s_neg.astype(np.float64), side="right"), minlength=nb)
    tp = np.cumsum(hp[::-1])[::-1][1:]  # tp[j] = #pos with s >= edges[j]
    fp = np.cumsum(hn[::-1])[::-1][1:]
    total_pos = s_pos.size
    tp_d, fp_d = tp[::-1].astype(np.float64), fp[::-1].astype(np.float64)  # decreasing thresholds
    pred = tp_d + fp_d
    with np.errstate(invalid="ignore", divide="ignore"):
        precision_d = np.where(pred > 0, tp_d / np.where(pred > 0, pred, 1), np.nan)
    recall_d = tp_d / total_pos
    ok = pred[1:] > 0
    ap = float(np.sum((precision_d[1:] * np.diff(recall_d))[ok]) * 100.0)
    j = np.searchsorted(edges, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp[j] + fp[j] > 0, tp[j] / np.maximum(tp[j] + fp[j], 1), np.nan)
    rec = tp[j] / total_pos
    return PxAPResult(score=ap, precision=prec, recall=rec, thresholds=thresholds)


def top_k_localization(scores, labels, cams, gt_boxes, k=(1, 5), iou_threshold=0.5, threshold=None,
                       multi_contour=False, thresholds=DEFAULT_THRESHOLDS, nan="raise"):
    """Top-k localization accuracy: true class among the top k scores and IoU >= 0.5.

    .. math::

        \\mathrm{Top}\\text{-}k\\ \\mathrm{Loc} = \\frac{100}{N}\\sum_n
            \\mathbb{1}[y_n \\in \\mathrm{top}_k(z_n)]\\;
            \\mathbb{1}[\\mathrm{IoU}(\\mathrm{box}(s_n, \\tau^*), B_n) \\ge 0.5]

    ``cams`` are the maps of the *true* class (as for MaxBoxAcc); when the prediction is right
    (top-1) that is also the predicted class's map. :math:`\\tau^*` is ``threshold`` or, when None,
    the MaxBoxAcc-optimal threshold for ``iou_threshold``.

    Parameters
    ----------
    scores : array_like, (N, C)
        Class scores (logits or probabilities; only their order matters).
    labels : array_like of int, (N,)
    cams, gt_boxes : as in :func:`max_box_acc`
    k : int or sequence of int
    iou_threshold : float
    threshold : float, optional
        Fixed map threshold :math:`\\tau`; default the best one for MaxBoxAcc.
    multi_contour, thresholds, nan : as in :func:`max_box_acc`

    Returns
    -------
    TopKResult

    Examples
    --------
    >>> cams = np.zeros((2, 8, 8)); cams[:, 2:6, 2:6] = 1
    >>> r = top_k_localization([[2., 1.], [2., 1.]], [0, 1], cams, [[2, 2, 5, 5]] * 2, k=(1, 2))
    >>> r.localization
    {1: 50.0, 2: 100.0}
    """
    arr, _ = _as_cams(cams, nan=nan)
    n = arr.shape[0]
    sc = np.asarray(scores.numpy() if hasattr(scores, "numpy") else scores)
    if sc.ndim != 2 or sc.shape[0] != n:
        raise ValueError(f"`scores` must be an (N, C) array with N = {n} (one row per map); got "
                         f"{_describe(sc)}.")
    if not np.issubdtype(sc.dtype, np.number) or not np.all(np.isfinite(sc)):
        raise ValueError("`scores` must be finite numbers.")
    lab = np.asarray(labels)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"`labels` must be N = {n} integer class indices; got {_describe(lab)}.")
    if lab.min() < 0 or lab.max() >= sc.shape[1]:
        raise ValueError(f"`labels` must lie in [0, {sc.shape[1] - 1}]; got [{lab.min()}, {lab.max()}].")
    ks = [k] if isinstance(k, numbers.Integral) else list(k)
    if not ks:
        raise ValueError("`k` must be a positive integer or a non-empty sequence of them.")
    ks = [check_int(v, "k", 1, sc.shape[1]) for v in ks]
    iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0, strict_min=True)
    if threshold is None:
        res = max_box_acc(arr, gt_boxes, iou_thresholds=(iou_threshold,), multi_contour=multi_contour,
                          thresholds=thresholds)
        tau = float(res.best_thresholds[0])
        ious = res.best_ious(iou_threshold)
    else:
        tau = check_float(threshold, "threshold", 0.0, 1.0)
        res = max_box_acc(arr, gt_boxes, iou_thresholds=(iou_threshold,), multi_contour=multi_contour,
                          thresholds=[tau])
        ious = res.ious[:, 0].astype(np.float64)
    good_box = ious >= iou_threshold
    true_score = sc[np.arange(n), lab]
    # rank of the true class: number of classes scored strictly higher (ties favour the true class)
    rank = (sc > true_score[:, None]).sum(axis=1)
    loc, cls = {}, {}
    for kk in ks:
        hit = rank < kk
        loc[kk] = float((hit & good_box).mean() * 100.0)
        cls[kk] = float(hit.mean() * 100.0)
    return TopKResult(localization=loc, classification=cls, threshold=tau,
                      iou_threshold=iou_threshold)
