"""Input handling shared by the WSOL metrics: maps, true boxes, masks, threshold grids.

Every metric of :mod:`cvkit.wsol` reads its arguments through these functions, so a wrong input gets
the same message everywhere (the argument's name, what was expected, what came, what to do). They
build on the package-wide checks of :mod:`cvkit._validate`.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_choice, describe, to_numpy

__all__ = ["as_cams", "as_gt_boxes", "as_masks", "as_thresholds", "as_iou_thresholds"]


def as_cams(cams, name="cams", nan="raise", allow_single=False):
    """Return float32 (N, H, W) maps and whether one (H, W) map came; NaN handled by ``nan``.

    With ``nan='zero'`` a map holding NaN or inf becomes all zeros (the WSOL benchmark's rule);
    with ``nan='raise'`` it is an error that names the maps concerned.

    Examples
    --------
    >>> arr, single = as_cams(np.ones((4, 5)), allow_single=True)
    >>> arr.shape, arr.dtype, single
    ((1, 4, 5), dtype('float32'), True)
    >>> as_cams(np.array([[[np.nan, 1.0]]]), nan="zero")[0]
    array([[[0., 0.]]], dtype=float32)
    """
    check_choice(nan, "nan", ("raise", "zero"))
    arr = to_numpy(cams)
    single = False
    if arr.ndim == 2 and allow_single:
        arr, single = arr[None], True
    if arr.ndim != 3:
        want = "(N, H, W) or a single (H, W) map" if allow_single else "(N, H, W)"
        raise ValueError(f"`{name}` must have shape {want}; got {describe(arr)}. "
                         "Squeeze a channel axis (N, H, W, 1) with cams[..., 0].")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}.")
    if 0 in arr.shape:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    arr = arr.astype(np.float32, copy=False)       # no copy of float32 maps: memory is the input's
    with np.errstate(invalid="ignore"):   # NaN and inf show in the extremes (no full-size mask)
        ok = np.isfinite(arr.max(axis=(1, 2))) & np.isfinite(arr.min(axis=(1, 2)))
    if not ok.all():
        rows = np.flatnonzero(~ok)
        if nan == "raise":
            raise ValueError(f"`{name}` contains NaN or infinite values (maps {rows[:5].tolist()}"
                             f"{'...' if len(rows) > 5 else ''}). Pass nan='zero' to treat such a map "
                             "as all zeros, as the WSOL benchmark does.")
        arr = arr.copy()                           # never write into the caller's array
        arr[rows] = 0.0
    return arr, single


def _box_items(gt_boxes, n, name):
    """Split the true boxes into one entry per map (a list, an (N, 4) or an (N, K, 4) array)."""
    arr = gt_boxes if isinstance(gt_boxes, (list, tuple)) else to_numpy(gt_boxes)
    if isinstance(arr, (list, tuple)) or (arr.dtype == object and arr.ndim > 0):
        items = list(arr)
    elif arr.ndim == 0:  # a scalar, a string, None: not boxes at all
        raise TypeError(f"`{name}` must be a list of (k_i, 4) arrays of pixel boxes; got "
                        f"{describe(gt_boxes)}.")
    elif arr.ndim == 2:
        items = [arr[i:i + 1] for i in range(len(arr))]
    elif arr.ndim == 3:
        items = list(arr)
    else:
        raise ValueError(f"`{name}` must be a list of (k_i, 4) arrays, an (N, 4) or an (N, K, 4) "
                         f"array; got {describe(arr)}.")
    if len(items) != n:
        raise ValueError(f"`{name}` has boxes for {len(items)} images but there are {n} maps; give one "
                         "(k_i, 4) array per map.")
    return items


def _check_boxes(b, where, shape):
    """One map's true boxes as an int64 (k, 4) array of pixel-inclusive boxes inside the map."""
    h, w = shape
    b = to_numpy(b)
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4 or b.shape[0] == 0:
        raise ValueError(f"`{where}` must be a non-empty (k, 4) array of (x0, y0, x1, y1) "
                         f"pixel boxes; got {describe(b)}.")
    if not np.issubdtype(b.dtype, np.number):
        raise TypeError(f"`{where}` must be numeric; got dtype {b.dtype}.")
    if not np.all(np.isfinite(b)):
        raise ValueError(f"`{where}` contains NaN or infinite coordinates.")
    if np.any(b != np.round(b)):
        raise ValueError(f"`{where}` must hold integer pixel indices (pixel-inclusive "
                         f"x0, y0, x1, y1); got {b[:2].tolist()}... Convert normalised boxes with "
                         "cvkit.wsol.pixel_boxes(boxes, image_size).")
    b = b.astype(np.int64)
    x0, y0, x1, y1 = b.T
    if (np.any(x0 < 0) or np.any(y0 < 0) or np.any(x1 > w - 1) or np.any(y1 > h - 1)
            or np.any(x1 < x0) or np.any(y1 < y0)):
        raise ValueError(f"`{where}` = {b.tolist()} is outside the {h}x{w} map or not ordered: "
                         f"need 0 <= x0 <= x1 <= {w - 1} and 0 <= y0 <= y1 <= {h - 1} "
                         "(pixel-inclusive boxes on the map's grid).")
    return b


def as_gt_boxes(gt_boxes, n, shape, name="gt_boxes"):
    """Return the true boxes padded to int64 (N, K, 4) and their validity mask (N, K).

    Examples
    --------
    >>> boxes, valid = as_gt_boxes([[[0, 0, 1, 1], [2, 2, 3, 3]], [[1, 1, 2, 2]]], 2, (4, 4))
    >>> boxes.shape, valid.tolist()
    ((2, 2, 4), [[True, True], [True, False]])
    """
    parsed = [_check_boxes(b, f"{name}[{i}]", shape)
              for i, b in enumerate(_box_items(gt_boxes, n, name))]
    k = max(len(b) for b in parsed)
    boxes = np.zeros((n, k, 4), dtype=np.int64)
    valid = np.zeros((n, k), dtype=bool)
    for i, b in enumerate(parsed):
        boxes[i, :len(b)] = b
        valid[i, :len(b)] = True
    return boxes, valid


def as_masks(masks, shape, name):
    """Return boolean masks of the maps' ``shape`` (one (H, W) mask is accepted for one map).

    Examples
    --------
    >>> as_masks([[0, 1], [1, 0]], (1, 2, 2), "masks").tolist()
    [[[False, True], [True, False]]]
    """
    m = to_numpy(masks)
    if m.ndim == 2 and len(shape) == 3 and shape[0] == 1:
        m = m[None]
    if m.shape != tuple(shape):
        raise ValueError(f"`{name}` must have the maps' shape {tuple(shape)} (one mask per map, same "
                         f"H and W); got {describe(m)}. Resize the masks with nearest-neighbour "
                         "interpolation to the map size.")
    return as_array(m, name, kind="bool")


def _as_levels(values, name):
    """Numbers as float64; booleans are refused (``True`` is not the level 1.0)."""
    if isinstance(values, (bool, np.bool_)) or to_numpy(values).dtype == bool:
        raise TypeError(f"`{name}` must be numbers in [0, 1]; got booleans {describe(values)}.")
    return as_array(values, name, kind="float", finite=False, dtype=np.float64)


def as_thresholds(thresholds, name="thresholds"):
    """Return the map thresholds as a strictly increasing float64 1-D array in [0, 1].

    Examples
    --------
    >>> as_thresholds(0.5)
    array([0.5])
    >>> as_thresholds([0.5, 0.2])
    Traceback (most recent call last):
    ...
    ValueError: `thresholds` must be strictly increasing, like np.arange(0, 1, 0.001).
    """
    t = _as_levels(thresholds, name)
    if t.ndim == 0:
        t = t[None]
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D sequence of values in [0, 1]; got "
                         f"{describe(t)}.")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
        raise ValueError(f"`{name}` must lie in [0, 1]; got values in [{np.nanmin(t):.4g}, "
                         f"{np.nanmax(t):.4g}].")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"`{name}` must be strictly increasing, like np.arange(0, 1, 0.001).")
    return t


def as_iou_thresholds(iou_thresholds, name="iou_thresholds"):
    """Return the IoU levels :math:`\\delta` as a float64 1-D array in (0, 1].

    Examples
    --------
    >>> as_iou_thresholds((0.3, 0.5, 0.7))
    array([0.3, 0.5, 0.7])
    """
    d = _as_levels(iou_thresholds, name).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)) or d.min() <= 0 or d.max() > 1:
        raise ValueError(f"`{name}` must be IoU levels in (0, 1], like (0.3, 0.5, 0.7); got "
                         f"{d.tolist()}.")
    return d
