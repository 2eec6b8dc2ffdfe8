"""Regions: connected components, region growing from a seed, and each region's area and box.

Connected components are found by a vectorised union-find: every foreground pixel starts as its own
tree (parent = its flat index); each round takes all neighbour pairs whose roots differ, hooks the
larger root under the smaller one (``np.minimum.at``), and compresses the paths by pointer jumping
(``parent = parent[parent]``), until every pair shares a root. Each component ends up labelled by
its first pixel in raster order, which gives the same numbering as ``skimage.measure.label``. Every
step is an array operation over all pixels or pairs at once (no loop over pixels).

Shown in ``notebooks/06_classic_segmentation.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_bool, check_choice, check_float, check_int, to_numpy
from ._common import as_gray

__all__ = ["connected_components", "region_grow", "region_properties", "region_boxes", "MAX_LABEL"]

#: a label above both this and the image's pixel count is refused by :func:`region_properties`
#: (its tables have one row per label 1..max)
MAX_LABEL = 2 ** 16


def _as_mask(mask, name="mask"):
    return as_array(mask, name, ndim=2, empty_ok=False, hint="(a mask H x W)")


def _edges(values, fg, connectivity):
    """Flat index pairs (a, b) of neighbouring foreground pixels with equal values."""
    H, W = fg.shape
    idx = np.arange(H * W).reshape(H, W)
    shifts = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 2 else [])
    a_all, b_all = [], []
    for dy, dx in shifts:
        ys = slice(0, H - dy)
        yd = slice(dy, H)
        xs = slice(0, W - dx) if dx >= 0 else slice(-dx, W)
        xd = slice(dx, W) if dx >= 0 else slice(0, W + dx)
        ok = fg[ys, xs] & fg[yd, xd] & (values[ys, xs] == values[yd, xd])
        a_all.append(idx[ys, xs][ok])
        b_all.append(idx[yd, xd][ok])
    return np.concatenate(a_all), np.concatenate(b_all)


def _compress(parent):
    while True:
        pp = parent[parent]
        if np.array_equal(pp, parent):
            return parent
        parent = pp


def connected_components(mask, connectivity=2, background=0):
    """Label the connected regions of a mask (or of equal values of a label image).

    Two pixels are connected when they are neighbours (4-neighbours for ``connectivity=1``, also the
    diagonals for ``connectivity=2``) and have the same value, and the value is not ``background``.

    Parameters
    ----------
    mask : bool or integer array (H, W)
    connectivity : {1, 2}
    background : int
        The value that is not a region (0: ``False`` for a bool mask).

    Returns
    -------
    labels : int32 (H, W), 0 for background and 1..n for the regions in raster order of their first
        pixel (equal to ``skimage.measure.label(mask, connectivity=connectivity)``)
    n : int

    Examples
    --------
    The pixel at (3, 1) touches the region of (2, 2) only by a corner: a separate region with
    4-neighbours, the same region with 8-neighbours:

    >>> m = np.array([[1, 1, 0, 0],
    ...               [1, 0, 0, 0],
    ...               [0, 0, 1, 1],
    ...               [0, 1, 0, 0]], bool)
    >>> connected_components(m, connectivity=1)
    (array([[1, 1, 0, 0],
           [1, 0, 0, 0],
           [0, 0, 2, 2],
           [0, 3, 0, 0]], dtype=int32), 3)
    >>> connected_components(m, connectivity=2)[1]
    2

    On a label image, equal neighbouring values form a region:

    >>> connected_components(np.array([[1, 1, 2], [3, 3, 2]]), connectivity=1)
    (array([[1, 1, 2],
           [3, 3, 2]], dtype=int32), 3)
    """
    m = _as_mask(mask)
    check_choice(connectivity, "connectivity", (1, 2))
    background = check_float(background, "background")
    values = m.astype(np.int64) if m.dtype == bool else m
    fg = values != background
    H, W = m.shape
    if not fg.any():
        return np.zeros((H, W), np.int32), 0
    a, b = _edges(values, fg, connectivity)
    parent = np.arange(H * W, dtype=np.int64)
    while a.size:
        parent = _compress(parent)
        ra, rb = parent[a], parent[b]
        diff = ra != rb
        if not diff.any():
            break
        a, b, ra, rb = a[diff], b[diff], ra[diff], rb[diff]
        # hook the larger root under the smaller one: pointers always go to smaller indices, so
        # every tree's root is its smallest pixel index
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
    final = _compress(parent).reshape(H, W)
    roots = np.unique(final[fg])  # sorted flat indices = raster order of first pixels
    out = np.zeros(H * W, dtype=np.int32)
    out[fg.reshape(-1)] = np.searchsorted(roots, final[fg]).astype(np.int32) + 1
    return out.reshape(H, W), int(roots.size)


def region_grow(image, seed, tolerance, connectivity=2):
    """Grow a region from a seed pixel: every pixel reachable from the seed through pixels whose
    value is within ``tolerance`` of the seed's value.

    .. math:: R = \\text{component of } s \\text{ in } \\{ p : |I(p) - I(s)| \\le \\tau \\}

    For an RGB image the distance is the largest channel difference. Equal to
    ``skimage.segmentation.flood(image, seed, tolerance=tolerance)`` on grey images (and with
    ``connectivity=1``, to ``flood(..., connectivity=1)``).

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
    seed : (row, col)
    tolerance : float >= 0, in the units of ``image``
    connectivity : {1, 2}
        2 (8-neighbours, the default of skimage's ``flood``) or 1 (4-neighbours).

    Returns
    -------
    bool (H, W)

    Examples
    --------
    The diagonal 10, 11, 12 lies within 2 of the seed's 10; its pixels touch only by corners:

    >>> img = np.array([[10, 50, 50],
    ...                 [50, 11, 50],
    ...                 [50, 50, 12]], np.uint8)
    >>> region_grow(img, (0, 0), tolerance=2).astype(int)
    array([[1, 0, 0],
           [0, 1, 0],
           [0, 0, 1]])
    >>> region_grow(img, (0, 0), tolerance=2, connectivity=1).astype(int)
    array([[1, 0, 0],
           [0, 0, 0],
           [0, 0, 0]])
    """
    image = to_numpy(image)
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] in (1, 3, 4):
        # finite: a NaN at the seed would be within no tolerance of itself and grow nothing
        vals = as_array(img, "image", kind="float", dtype=np.float64, empty_ok=False)
    else:
        vals = as_gray(image).astype(np.float64)[..., None]
    H, W = vals.shape[:2]
    if not (isinstance(seed, (tuple, list, np.ndarray)) and len(seed) == 2):
        raise ValueError(f"`seed` must be a (row, col) pair; got {seed!r}.")
    r = check_int(int(seed[0]) if isinstance(seed[0], np.integer) else seed[0], "seed[0]", 0, H - 1)
    c = check_int(int(seed[1]) if isinstance(seed[1], np.integer) else seed[1], "seed[1]", 0, W - 1)
    tolerance = check_float(tolerance, "tolerance", minimum=0.0)
    diff = np.max(np.abs(vals - vals[r, c]), axis=-1)
    candidate = diff <= tolerance
    labels, _ = connected_components(candidate, connectivity=connectivity)
    return labels == labels[r, c]


def region_properties(labels):
    """Area, box and centroid of every labelled region, vectorised with ``bincount``.

    Parameters
    ----------
    labels : int array (H, W), 0 = background

    Returns
    -------
    dict of arrays, one entry per label 1..max (labels with no pixel get area 0; a maximum label
    above both ``H * W`` and :data:`MAX_LABEL` raises, so that memory stays bounded by the image):
        ``label`` (n,), ``area`` (n,), ``bbox`` (n, 4) as ``(min_row, min_col, max_row, max_col)``
        with exclusive maxima (as ``skimage.measure.regionprops``), ``centroid`` (n, 2) as
        ``(row, col)``.

    Examples
    --------
    >>> labels = np.array([[0, 1, 1, 0],
    ...                    [0, 1, 1, 0],
    ...                    [2, 0, 0, 0]])
    >>> props = region_properties(labels)
    >>> props['area']
    array([4, 1])
    >>> props['bbox']                     # (min_row, min_col, max_row + 1, max_col + 1)
    array([[0, 1, 2, 3],
           [2, 0, 3, 1]])
    >>> props['centroid']
    array([[0.5, 1.5],
           [2. , 0. ]])
    """
    lab = _as_mask(labels, "labels")
    if lab.dtype == bool:
        lab = lab.astype(np.int64)
    if not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"`labels` must be an integer label image; got dtype {lab.dtype}.")
    if lab.min() < 0:
        raise ValueError(f"`labels` must be >= 0 (0 = background); got a minimum of {lab.min()}.")
    n = int(lab.max())
    H, W = lab.shape
    if n > max(H * W, MAX_LABEL):
        raise ValueError(f"`labels` holds the label {n}, but the result has one row per label "
                         f"1..max: the limit is max(H * W, MAX_LABEL) = {max(H * W, MAX_LABEL)} "
                         f"for an image of shape {lab.shape}. Relabel consecutively first: "
                         "labels = np.unique(labels, return_inverse=True)[1].reshape(labels.shape) "
                         "(0 stays 0 when the image holds background).")
    flat = lab.reshape(-1).astype(np.int64)
    rows = np.repeat(np.arange(H), W)
    cols = np.tile(np.arange(W), H)
    area = np.bincount(flat, minlength=n + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        cr = np.bincount(flat, weights=rows, minlength=n + 1)[1:] / area
        cc = np.bincount(flat, weights=cols, minlength=n + 1)[1:] / area
    bbox = np.zeros((n, 4), dtype=np.int64)
    if n:
        fg = flat > 0
        lf = flat[fg] - 1
        mn_r = np.full(n, H, np.int64)
        mn_c = np.full(n, W, np.int64)
        mx_r = np.full(n, -1, np.int64)
        mx_c = np.full(n, -1, np.int64)
        np.minimum.at(mn_r, lf, rows[fg])
        np.minimum.at(mn_c, lf, cols[fg])
        np.maximum.at(mx_r, lf, rows[fg])
        np.maximum.at(mx_c, lf, cols[fg])
        bbox = np.stack([mn_r, mn_c, mx_r + 1, mx_c + 1], axis=1)
        bbox[area == 0] = 0
    return {"label": np.arange(1, n + 1), "area": area, "bbox": bbox,
            "centroid": np.stack([cr, cc], axis=1)}


def region_boxes(labels, normalized=True):
    """Boxes of the labelled regions in the toolkit's ``xyxy`` format.

    With ``normalized`` the pixel-edge convention of :mod:`cvkit.datasets` is used
    (``x_min = c_0 / W``, ``x_max = (c_1 + 1) / W``), so the box of a ``shapes`` mask equals the
    dataset's ``boxes``; otherwise pixel edges ``(c_0, r_0, c_1 + 1, r_1 + 1)``.

    Parameters
    ----------
    labels : int array (H, W), 0 = background
    normalized : bool

    Returns
    -------
    float32 (n, 4)

    Examples
    --------
    Region 1 covers columns 1..2 and rows 0..1 of a 3 x 4 image: :math:`x` from 1/4 to 3/4,
    :math:`y` from 0 to 2/3:

    >>> labels = np.array([[0, 1, 1, 0],
    ...                    [0, 1, 1, 0],
    ...                    [2, 0, 0, 0]])
    >>> region_boxes(labels)
    array([[0.25     , 0.       , 0.75     , 0.6666667],
           [0.       , 0.6666667, 0.25     , 1.       ]], dtype=float32)
    >>> region_boxes(labels, normalized=False)
    array([[1., 0., 3., 2.],
           [0., 2., 1., 3.]], dtype=float32)
    """
    normalized = check_bool(normalized, "normalized")
    props = region_properties(labels)
    b = props["bbox"].astype(np.float64)
    xyxy = b[:, [1, 0, 3, 2]]
    if normalized:
        H, W = np.asarray(labels).shape
        xyxy = xyxy / np.array([W, H, W, H], dtype=np.float64)
    return xyxy.astype(np.float32)
