"""Weakly-supervised localization metrics: MaxBoxAcc, MaxBoxAccV2, PxAP, top-k localization.

The protocol is the WSOL benchmark of Choe et al. (CVPR 2020), which the F-CAM paper (section 4.1)
follows. Every metric is computed from heat-maps ``cams`` of shape (N, H, W) and pixel annotations:

* each map is min-max normalised to [0, 1] (:func:`cvkit.explain.normalize_maps`; a constant map
  becomes zeros) and quantised to :math:`u = \\lfloor 255\\, s \\rfloor` (``uint8``, as the
  benchmark does; :func:`cvkit.wsol.quantize_maps`);
* at a threshold :math:`\\tau` the foreground is the set of pixels *strictly above*
  :math:`\\lfloor \\tau \\max u \\rfloor`; the predicted box is the box of the largest 8-connected
  region (MaxBoxAcc) or one box per region (MaxBoxAccV2);
* boxes are in the *pixel-inclusive* convention: ``(x0, y0, x1, y1)`` are the first and last pixel
  columns / rows, so a box is :math:`(x_1-x_0+1)(y_1-y_0+1)` pixels;
* PxAP compares :math:`\\{s \\ge \\tau\\}` (greater *or equal*) with a pixel mask.

The boxes of one map at one threshold, and where they differ from the OpenCV reference, are in
:mod:`cvkit.wsol.boxes`; how all 1000 thresholds are evaluated at once (a component tree per map)
is in :mod:`cvkit.wsol.component_tree`. The notebook ``notebooks/05_wsol_evaluation.ipynb`` shows
every metric at work.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_bool, check_float, check_int, describe, to_numpy
from ..explain import normalize_maps
from ._inputs import as_cams, as_iou_thresholds, as_masks, as_thresholds
from .component_tree import _levels, box_iou_curves

__all__ = [
    "DEFAULT_THRESHOLDS",
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

    Examples
    --------
    >>> cam = np.zeros((1, 8, 8)); cam[0, 2:5, 3:7] = 1
    >>> res = max_box_acc(cam, [[[3, 2, 6, 4]]], thresholds=[0.0, 0.5])
    >>> print(res)
    MaxBoxAcc = 100.00
      IoU>=0.50: 100.00 at tau=0.000
    >>> res.best_ious(0.5).tolist()
    [1.0]
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

    Examples
    --------
    >>> res = pxap(np.array([[[1.0, 0.5, 0.0]]]), np.array([[[True, False, True]]]), [0.0, 0.5])
    >>> print(res)
    PxAP = 83.33
    >>> res.recall.tolist()
    [1.0, 0.5]
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

    Examples
    --------
    >>> r = TopKResult({1: 50.0, 5: 75.0}, {1: 60.0, 5: 90.0}, threshold=0.2, iou_threshold=0.5)
    >>> r.top1, r.top5
    (50.0, 75.0)
    >>> print(r)
    top-1 loc = 50.00 (top-1 cls = 60.00)
    top-5 loc = 75.00 (top-5 cls = 90.00)
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
# MaxBoxAcc and MaxBoxAccV2
# ----------------------------------------------------------------------------------------------
def _box_acc_from_curves(u_max, curve, thresholds, deltas, multi, name):
    """BoxAcc(tau, delta) curves and their maxima from the per-level IoU curves."""
    lv = _levels(u_max, thresholds)
    ious = np.take_along_axis(curve, lv, axis=1)
    # count * 100 / n, as the benchmark computes it (54.5, where mean() * 100 gives 54.50000000000001)
    acc = np.stack([np.count_nonzero(ious >= d, axis=0) * 100.0 / len(ious) for d in deltas])
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
    :math:`\\{u > \\lfloor \\tau \\max u \\rfloor\\}` (:func:`cvkit.wsol.boxes_from_cam`). With several
    IoU levels the score is the mean of the per-level maxima, each level with its own best
    :math:`\\tau`. The maximum over :math:`\\tau` removes the threshold as a hyper-parameter: each
    method is compared at its own best operating point (GT-known: the map of the true class is
    used).

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
        Reproduce the OpenCV reference's box quirks (:mod:`cvkit.wsol.boxes`).

    Returns
    -------
    BoxAccResult

    Notes
    -----
    All thresholds are evaluated from one component tree per image
    (:mod:`cvkit.wsol.component_tree`); shown in ``notebooks/05_wsol_evaluation.ipynb``.

    Examples
    --------
    >>> cam = np.zeros((1, 16, 16)); cam[0, 4:8, 4:10] = 1
    >>> max_box_acc(cam, [[[4, 4, 9, 7]]]).score
    100.0
    """
    deltas = as_iou_thresholds(iou_thresholds)
    thresholds = as_thresholds(thresholds)
    multi_contour = check_bool(multi_contour, "multi_contour")
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


# ----------------------------------------------------------------------------------------------
# PxAP
# ----------------------------------------------------------------------------------------------
def _pooled_counts(s, mask, keep, edges, chunk_pixels=1 << 20):
    """True and false positives of :math:`\{s \ge e\}` at every edge e, pooled over the maps.

    The maps are min-max normalised and binned a chunk of about ``chunk_pixels`` pixels at a time
    (whole maps); the histograms of the object pixels and of the background pixels are accumulated
    over the chunks, so memory stays bounded by the chunk whatever the number of maps. Bin j of
    ``np.histogram`` against ``edges`` (plus a last edge above 1) holds the pixels with
    ``edges[j] <= s < edges[j + 1]``, so count(s >= edges[j]) is the sum of the bins from j on.
    """
    n, h, w = s.shape
    bins = np.append(edges, edges[-1] + 1.0)
    hp = np.zeros(edges.size, np.int64)
    hn = np.zeros(edges.size, np.int64)
    n_pos = 0
    step = max(1, chunk_pixels // (h * w))
    for a in range(0, n, step):
        sl = slice(a, min(n, a + step))
        sc, m = normalize_maps(s[sl]), mask[sl]
        neg = ~m if keep is None else ~m & keep[sl]
        hp += np.histogram(sc[m], bins=bins)[0]
        hn += np.histogram(sc[neg], bins=bins)[0]
        n_pos += int(np.count_nonzero(m))
    tp = np.cumsum(hp[::-1])[::-1]  # tp[j] = #pos with s >= edges[j]
    fp = np.cumsum(hn[::-1])[::-1]
    return tp, fp, n_pos


def _average_precision(tp, fp, total_pos):
    """AP over decreasing thresholds, skipping those where nothing is predicted (in percent)."""
    tp_d, fp_d = tp[::-1].astype(np.float64), fp[::-1].astype(np.float64)  # decreasing thresholds
    pred = tp_d + fp_d
    with np.errstate(invalid="ignore", divide="ignore"):
        precision_d = np.where(pred > 0, tp_d / np.where(pred > 0, pred, 1), np.nan)
    recall_d = tp_d / total_pos
    ok = pred[1:] > 0
    return float(np.sum((precision_d[1:] * np.diff(recall_d))[ok]) * 100.0)


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
        The benchmark's "ignore" regions (e.g. boxes around crowds of objects). As in the
        benchmark (Choe et al.'s ``get_mask``), only the ignore region *minus the object pixels*
        is left out of the count: an object pixel inside an ignore region still counts.
    nan : {'raise', 'zero'}

    Returns
    -------
    PxAPResult

    Notes
    -----
    Each pixel is binned once with :func:`numpy.searchsorted` against the grid, a chunk of whole
    maps at a time, and the histograms of object and background pixels are accumulated over the
    chunks (memory bounded by a chunk, not by the dataset); cumulative sums of the two histograms
    give the counts at every threshold. Unlike the reference, pixels below
    the first threshold still count as missed positives (identical for grids starting at 0).
    Shown in ``notebooks/05_wsol_evaluation.ipynb``.

    Examples
    --------
    A map equal to the mask is perfect:

    >>> m = np.zeros((1, 8, 8), bool); m[0, 2:5, 2:6] = True
    >>> pxap(m.astype(float), m).score
    100.0
    """
    arr, _ = as_cams(cams, nan=nan)
    thresholds = as_thresholds(thresholds)
    mask = as_masks(masks, arr.shape, "masks")
    keep = None
    if ignore is not None:   # the benchmark's rule: the ignore region minus the object pixels
        keep = ~as_masks(ignore, arr.shape, "ignore") | mask
    if not mask.any():
        raise ValueError("`masks` has no foreground pixel; PxAP needs at least one true pixel.")
    edges = np.unique(np.concatenate([thresholds, [1.0, 2.0]]))
    tp, fp, n_pos = _pooled_counts(arr, mask, keep, edges)
    ap = _average_precision(tp, fp, n_pos)
    j = np.searchsorted(edges, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp[j] + fp[j] > 0, tp[j] / np.maximum(tp[j] + fp[j], 1), np.nan)
    rec = tp[j] / n_pos
    return PxAPResult(score=ap, precision=prec, recall=rec, thresholds=thresholds)


# ----------------------------------------------------------------------------------------------
# Top-k localization
# ----------------------------------------------------------------------------------------------
def _top_k_inputs(scores, labels, n, k):
    """Check the class scores (N, C), the labels (N,) and the k values; return them as arrays."""
    sc = to_numpy(scores)
    if sc.ndim != 2 or sc.shape[0] != n:
        raise ValueError(f"`scores` must be an (N, C) array with N = {n} (one row per map); got "
                         f"{describe(sc)}.")
    if not np.issubdtype(sc.dtype, np.number) or not np.all(np.isfinite(sc)):
        raise ValueError("`scores` must be finite numbers.")
    lab = to_numpy(labels)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"`labels` must be N = {n} integer class indices; got {describe(lab)}.")
    if lab.min() < 0 or lab.max() >= sc.shape[1]:
        raise ValueError(f"`labels` must lie in [0, {sc.shape[1] - 1}]; got [{lab.min()}, {lab.max()}].")
    if isinstance(k, numbers.Integral) and not isinstance(k, bool):
        ks = [k]
    elif isinstance(k, (list, tuple, np.ndarray)):
        ks = list(np.asarray(k).reshape(-1))
    else:
        raise TypeError(f"`k` must be a positive integer or a sequence of them; got {describe(k)}.")
    if not ks:
        raise ValueError("`k` must be a positive integer or a non-empty sequence of them.")
    return sc, lab, [check_int(v, "k", 1, sc.shape[1]) for v in ks]


def _top_k_result(sc, lab, good_box, ks, tau, iou_threshold):
    """Top-k localization and classification from the scores and each image's box test."""
    true_score = sc[np.arange(len(lab)), lab]
    # rank of the true class: number of classes scored strictly higher (ties favour the true class)
    rank = (sc > true_score[:, None]).sum(axis=1)
    loc, cls = {}, {}
    for kk in ks:
        hit = rank < kk
        loc[kk] = int(np.count_nonzero(hit & good_box)) * 100.0 / len(lab)   # count * 100 / n
        cls[kk] = int(np.count_nonzero(hit)) * 100.0 / len(lab)
    return TopKResult(localization=loc, classification=cls, threshold=tau,
                      iou_threshold=iou_threshold)


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
    arr, _ = as_cams(cams, nan=nan)
    sc, lab, ks = _top_k_inputs(scores, labels, arr.shape[0], k)
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
    return _top_k_result(sc, lab, ious >= iou_threshold, ks, tau, iou_threshold)
