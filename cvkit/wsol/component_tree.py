"""The component tree of quantised maps: the IoU of the predicted boxes at every threshold at once.

The WSOL protocol (:mod:`cvkit.wsol.metrics`) scores the box of a map at 1000 thresholds
:math:`\\tau`. Labelling every image once per threshold, as the reference code does, is slow; this
module gets the regions of all thresholds from one component tree per image.

How all 1000 thresholds are evaluated without 1000 labellings per image
-----------------------------------------------------------------------
Because the maps are quantised, the foreground at any threshold is one of the super-level sets
:math:`\\{u \\ge L\\}` for an integer level :math:`L = \\lfloor \\tau \\max u \\rfloor + 1 \\in
\\{1, \\dots, 256\\}`, so at most 255 distinct region sets exist per image, and the 1000 thresholds
are mapped to their levels at the end. The regions of all levels are not labelled one by one
either; they form a *component tree*, built in three vectorised steps for a chunk of images at once:

1. *Basins.* Every pixel points to its 8-neighbour with the largest float value (ties by index),
   and pointer jumping (``root = root[root]``, log2(path length) rounds) takes each pixel to its
   peak. The path from a pixel of level :math:`\\ge L` climbs through pixels of level
   :math:`\\ge L`, so the part of a basin above any level is connected to its peak: within a level
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

The notebook ``notebooks/05_wsol_evaluation.ipynb`` shows that the result equals the loop.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_bool, check_int
from ..explain import normalize_maps
from ._inputs import as_cams, as_gt_boxes
from .boxes import _compat_boxes, _iou_matrix, _quantize

__all__ = ["box_iou_curves"]

#: Largest number of (basin, level) table entries built at once (memory bound for rugged maps).
_TABLE_LIMIT = 2 ** 21

#: The per-basin tables (step 2): row / column minima and maxima of the box, first pixel; each
#: with the reduction that folds two parts into one.
_TABLE_FNS = (np.minimum, np.minimum, np.maximum, np.maximum, np.minimum)


class _Grid(NamedTuple):
    """Layout of a chunk of n (h, w) maps tiled into one flat array with zero gaps between them."""

    n: int
    h: int
    w: int

    @property
    def wp(self):
        return self.w + 1

    @property
    def tile(self):
        return (self.h + 1) * self.wp

    @property
    def base(self):
        return self.wp + 1

    @property
    def size(self):
        return self.n * self.tile + 2 * self.base

    @property
    def inner(self):
        return slice(self.base, self.size - self.base)

    @property
    def offsets(self):
        """Flat offsets of half of the 8 neighbours (the other half are their negatives)."""
        return (1, self.wp - 1, self.wp, self.wp + 1)

    @property
    def itype(self):
        """Index dtype: int32 when it fits (half the memory traffic), else int64."""
        return np.int32 if self.size < 2 ** 31 else np.int64


def _tiled(g, maps, dtype):
    """Step 0, tiling: lay (n, h, w) maps into the flat array of ``g`` (zeros between them)."""
    flat = np.zeros(g.size, dtype=dtype)
    flat[g.base:g.base + g.n * g.tile].reshape(g.n, g.h + 1, g.wp)[:, :g.h, :g.w] = maps
    return flat


def _steepest_neighbour(s, g):
    """Step 1, basins: each pixel's pointer to its 8-neighbour (or itself) of largest key.

    The key orders pixels by their float value (a refinement of the uint8 order, so plateaus of u
    still slope towards the real peak) and then by index; the bits of a non-negative float32
    compare like the float.
    """
    shift = max(int(g.size - 1).bit_length(), 1)
    key = _tiled(g, s.view(np.int32), np.int64)
    key <<= shift
    key |= np.arange(g.size, dtype=np.int64)
    best = key.copy()
    inner, base, size = g.inner, g.base, g.size
    for off in g.offsets:
        np.maximum(best[inner], key[base + off:size - base + off], out=best[inner])
        np.maximum(best[inner], key[base - off:size - base - off], out=best[inner])
    del key
    best &= (1 << shift) - 1
    return best.astype(g.itype)


def _basins(s, v, g):
    """Step 1, basins: follow the pointers to the peaks (pointer jumping); number the basins.

    Following the pointers from a pixel of value >= L only visits pixels of value >= L, so each
    basin's part above L is connected to its peak. Returns the basin of every flat pixel (-1 on
    level 0), the indices of the pixels above level 0, and the peaks.
    """
    root = _steepest_neighbour(s, g)
    act_idx = np.flatnonzero(v > 0).astype(g.itype)
    todo = act_idx
    while todo.size:  # log2(path length) rounds, on the unfinished pixels only
        r = root[todo]
        rr = root[r]
        root[todo] = rr
        todo = todo[rr != r]
    r = root[act_idx]
    peaks = act_idx[r == act_idx]
    rid = np.full(g.size, -1, dtype=np.int64)
    rid[peaks] = np.arange(peaks.size)
    basin = np.full(g.size, -1, dtype=np.int64)
    basin[act_idx] = rid[r]
    return basin, act_idx, peaks


def _reduce_edges(ea, eb, el, nb):
    """Edges between basins (steps 1 and 3): keep one edge per (basin, basin, level)."""
    if ea.size == 0:
        return ea, eb, el
    pk = np.unique((np.minimum(ea, eb) * nb + np.maximum(ea, eb)) * 256 + el)
    pair = pk // 256
    return pair // nb, pair % nb, pk % 256


def _basin_edges(basin, v, g, nb):
    """Edges between basins (steps 1 and 3): neighbour pixels in two basins, at the lower level."""
    ea, eb, el = [], [], []
    bi = basin[g.inner]
    vi = v[g.inner]
    for off in g.offsets:
        sl = slice(g.base + off, g.size - g.base + off)
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


def _merge_flat_tops(basin, peaks, peak_level, ea, eb, el):
    """Step 1, basins: merge a basin whose peak touches a neighbour basin at its own peak level.

    Such a basin (a plateau split by the index tie-break) is joined to its neighbour at every level
    where it exists. Each one gets one parent (a higher peak, or the same peak and a smaller id, so
    the parents form a forest); merging along the parents never joins two regions too early.
    """
    nb = peaks.size
    parent = np.full(nb, nb, dtype=np.int64)
    for c, p in ((ea, eb), (eb, ea)):
        pc, pp = peak_level[c], peak_level[p]
        sel = (el == pc) & ((pp > pc) | ((pp == pc) & (p < c)))
        np.minimum.at(parent, c[sel], p[sel])
    if not (parent < nb).any():
        return basin, peaks, peak_level, ea, eb, el
    lab = np.where(parent < nb, parent, np.arange(nb))
    while True:
        nxt = lab[lab]
        if np.array_equal(nxt, lab):
            break
        lab = nxt
    keep = lab == np.arange(nb)
    lab = (np.cumsum(keep) - 1)[lab]
    peaks, peak_level = peaks[keep], peak_level[keep]
    basin = np.where(basin >= 0, lab[np.maximum(basin, 0)], -1)
    ea, eb = lab[ea], lab[eb]
    ok = ea != eb
    ea, eb, el = _reduce_edges(ea[ok], eb[ok], el[ok], peaks.size)
    return basin, peaks, peak_level, ea, eb, el


def _basin_tables(basin, v, act_idx, g, nb):
    """Step 2, tables: area, box and first pixel of each basin's part above every level.

    Per (basin, level) statistics of the pixels of that value, then cumulated over the levels
    >= L. Returns the (nb, 256) area and the five (nb, 256) tables in the order of ``_TABLE_FNS``.
    """
    ap = act_idx
    t = basin[ap] * 256 + v[ap]
    grid_r = np.broadcast_to(np.arange(g.h + 1, dtype=np.int64)[None, :, None],
                             (g.n, g.h + 1, g.wp)).ravel()
    grid_c = np.broadcast_to(np.arange(g.wp, dtype=np.int64)[None, None, :],
                             (g.n, g.h + 1, g.wp)).ravel()
    loc = ap - g.base
    row = grid_r[loc]
    col = grid_c[loc]
    del grid_r, grid_c
    m = nb * 256
    area = np.bincount(t, minlength=m).reshape(nb, 256)
    tabs = []
    for vals, fn, init in zip((row, col, row, col, ap), _TABLE_FNS, (g.h, g.w, -1, -1, g.size)):
        tab = np.full(m, init, dtype=np.int64)
        fn.at(tab, t, vals)
        tab = fn.accumulate(tab.reshape(nb, 256)[:, ::-1], axis=1)[:, ::-1]
        tabs.append(tab)
    area = np.cumsum(area[:, ::-1], axis=1)[:, ::-1]
    return area, tabs


def _find(rep, x):
    """Step 3, union-find: roots of ``x`` in the forest ``rep``, with path halving."""
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


def _union(rep, a, b):
    """Step 3, union-find: unite the sets of ``a[i]`` and ``b[i]``, the larger root onto the smaller."""
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


def _edges_by_level(ea, eb, el):
    """Step 3, merges: sort the edges from the top level down; the slice of each level."""
    order = np.argsort(-el, kind="stable")
    ea, eb, el = ea[order], eb[order], el[order]
    estart = np.searchsorted(-el, -np.arange(257), side="left")
    estop = np.searchsorted(-el, -np.arange(257), side="right")
    return ea, eb, estart, estop


def _fold_tables(area, tabs, src, dst, cut):
    """Step 3, merges: fold the tables of the absorbed roots ``src`` into ``dst`` for levels < cut."""
    np.add.at(area[:, :cut], dst, area[src, :cut])
    for tab, fn in zip(tabs, _TABLE_FNS):
        fn.at(tab[:, :cut], dst, tab[src, :cut])


def _merge_level(rep, flag, a_, b_, level, area, tabs):
    """Step 3, merges: join the basins of the edges of one level and fold their tables."""
    cand = np.concatenate([_find(rep, a_), _find(rep, b_)])
    flag[cand] = True
    cand = np.flatnonzero(flag)
    flag[cand] = False
    _union(rep, a_, b_)
    fr = _find(rep, cand)
    moved = fr != cand
    if moved.any():
        _fold_tables(area, tabs, cand[moved], fr[moved], level + 1)


def _regions_by_level(peak_level, ea, eb, estart, estop, area, tabs):
    """Step 3, merges: union-find over basins, level by level from the top.

    When regions merge at level L, the tables of the absorbed root are folded into the surviving
    root for the levels <= L, so a root's table row always describes its whole region. Returns the
    (level, root) pair of every region of every level.
    """
    nb = peak_level.size
    border = np.argsort(-peak_level, kind="stable")
    nactive = np.searchsorted(-peak_level[border], -np.arange(257), side="right")
    rep = np.arange(nb, dtype=np.int64)
    flag = np.zeros(nb, dtype=bool)
    alive = np.zeros(0, dtype=np.int64)
    rec_level, rec_root = [], []
    for level in range(int(peak_level.max()), 0, -1):
        new_b = border[nactive[level + 1] if level < 256 else 0:nactive[level]]
        if estop[level] > estart[level]:
            edges = slice(estart[level], estop[level])
            _merge_level(rep, flag, ea[edges], eb[edges], level, area, tabs)
        alive = np.concatenate([alive, new_b])
        alive = alive[rep[alive] == alive]
        rec_root.append(alive)
        rec_level.append(np.full(alive.size, level, dtype=np.int64))
    return np.concatenate(rec_level), np.concatenate(rec_root)


def _region_ious(g_level, g_root, area, tabs, peak_img, gt, valid, compat, g):
    """Step 3, IoU: area, first pixel, box of every (level, region) and its best IoU with the truth.

    Returns the (image, level) cell of each region, its IoU, its area and its first pixel.
    """
    r0, c0, r1, c1, first = tabs
    ca = area[g_root, g_level]
    cf = first[g_root, g_level]
    boxes = np.stack([c0[g_root, g_level], r0[g_root, g_level], c1[g_root, g_level],
                      r1[g_root, g_level]], axis=-1)
    if compat:
        boxes = _compat_boxes(boxes, g.h, g.w)
    ci = peak_img[g_root]
    ious = np.where(valid[ci], _iou_matrix(boxes.astype(np.float64), gt.astype(np.float64)[ci]),
                    -1.0).max(axis=1)
    return ci * 257 + g_level, ious, ca, cf


def _write_curves(out_large, out_all, cell, ious, ca, cf, g):
    """Step 3, IoU: per (image, level), the largest region's IoU and the best IoU of all regions."""
    n_cells = g.n * 257
    has = np.zeros(n_cells, dtype=bool)
    has[cell] = True
    if out_all is not None:
        best = np.full(n_cells, -1.0)
        np.maximum.at(best, cell, ious)
        out_all.ravel()[has] = best[has]
    if out_large is not None:
        # most pixels first; ties go to the region whose first pixel comes first in raster order
        big = np.int64(g.size)
        key = ca * big + (big - 1 - cf)
        bestk = np.full(n_cells, -1, dtype=np.int64)
        np.maximum.at(bestk, cell, key)
        sel = key == bestk[cell]
        out_large.ravel()[cell[sel]] = ious[sel]


def _chunk_curves(s, u, gt, valid, empty_iou, compat, want_largest, want_all):
    """IoU of the largest region and best IoU over all regions at every level, for a chunk.

    ``s`` is (n, H, W) float32 in [0, 1] and ``u`` its uint8 quantisation; returns two (n, 257)
    arrays indexed by level L (foreground u >= L).
    """
    g = _Grid(*u.shape)
    v = _tiled(g, u, np.uint8)
    out_large = np.tile(empty_iou[:, None], (1, 257))
    out_all = np.tile(empty_iou[:, None], (1, 257))
    if not v.any():
        return out_large, out_all
    basin, act_idx, peaks = _basins(s, v, g)
    peak_level = v[peaks].astype(np.int64)
    ea, eb, el = _basin_edges(basin, v, g, peaks.size)
    basin, peaks, peak_level, ea, eb, el = _merge_flat_tops(basin, peaks, peak_level, ea, eb, el)
    if peaks.size * 256 > _TABLE_LIMIT and g.n > 1:
        # very rugged maps (noise) have many basins: keep the (basin x level) tables small
        del basin, v, act_idx, ea, eb, el
        half = g.n // 2
        parts = [_chunk_curves(s[sl], u[sl], gt[sl], valid[sl], empty_iou[sl], compat,
                               want_largest, want_all)
                 for sl in (slice(0, half), slice(half, g.n))]
        return np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])
    peak_img = (peaks - g.base) // g.tile
    area, tabs = _basin_tables(basin, v, act_idx, g, peaks.size)
    del basin, act_idx
    g_level, g_root = _regions_by_level(peak_level, *_edges_by_level(ea, eb, el), area, tabs)
    cell, ious, ca, cf = _region_ious(g_level, g_root, area, tabs, peak_img, gt, valid, compat, g)
    _write_curves(out_large if want_largest else None, out_all if want_all else None, cell, ious,
                  ca, cf, g)
    return out_large, out_all


def box_iou_curves(cams, gt_boxes, nan="raise", benchmark_boxes=False, largest=True,
                   all_regions=True, chunk_pixels=2_000_000):
    """Per image and per quantised level, the IoU of the predicted box(es) with the true boxes.

    The engine behind :func:`cvkit.wsol.max_box_acc` and :func:`cvkit.wsol.max_box_acc_v2` (see
    the module notes for the component-tree algorithm). Level :math:`L` means the foreground
    :math:`\\{u \\ge L\\}`, i.e. the threshold test :math:`u > L - 1`; level 256 is always empty.

    Parameters
    ----------
    cams : array_like, (N, H, W)
    gt_boxes : list of (k_i, 4) arrays, or an (N, 4) / (N, K, 4) array
        Pixel-inclusive true boxes; the best-matching one counts.
    nan : {'raise', 'zero'}
    benchmark_boxes : bool
        Use the OpenCV reference's box quirks (:mod:`cvkit.wsol.boxes`).
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

    Examples
    --------
    A 3x4 block of ones: every level from 1 to 255 keeps the block, whose box is the true one.

    >>> cam = np.zeros((1, 8, 8)); cam[0, 2:5, 3:7] = 1
    >>> u_max, large, every = box_iou_curves(cam, [[[3, 2, 6, 4]]])
    >>> int(u_max[0]), large[0, [1, 255, 256]].tolist()
    (255, [1.0, 1.0, 0.0])
    """
    arr, _ = as_cams(cams, nan=nan)
    n, h, w = arr.shape
    gt, valid = as_gt_boxes(gt_boxes, n, (h, w))
    check_int(chunk_pixels, "chunk_pixels", minimum=1)
    benchmark_boxes = check_bool(benchmark_boxes, "benchmark_boxes")
    largest, all_regions = check_bool(largest, "largest"), check_bool(all_regions, "all_regions")
    if benchmark_boxes:
        zero = np.zeros((n, 4), dtype=np.float64)
        empty = np.where(valid, _iou_matrix(zero, gt.astype(np.float64)), -1.0).max(axis=1)
        empty = np.maximum(empty, 0.0)
    else:
        empty = np.zeros(n)
    large = np.empty((n, 257)) if largest else None
    allr = np.empty((n, 257)) if all_regions else None
    u_max = np.empty(n, np.int64)
    step = max(1, int(chunk_pixels) // ((h + 1) * (w + 1)))
    for start in range(0, n, step):   # normalised and quantised a chunk at a time: bounded memory
        sl = slice(start, min(n, start + step))
        sm = normalize_maps(arr[sl])
        u = _quantize(sm)
        u_max[sl] = u.reshape(len(u), -1).max(axis=1)
        lg, al = _chunk_curves(sm, u, gt[sl], valid[sl], empty[sl], benchmark_boxes,
                               largest, all_regions)
        if largest:
            large[sl] = lg
        if all_regions:
            allr[sl] = al
    return u_max, large, allr


def _levels(u_max, thresholds):
    """Level index per (image, threshold): :math:`\\lfloor \\tau \\max u \\rfloor + 1`."""
    thr = np.floor(thresholds[None, :] * u_max[:, None].astype(np.float64)).astype(np.int64)
    return np.minimum(thr + 1, 256)
