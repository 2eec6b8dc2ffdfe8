"""Evaluate an explanation method as a weakly-supervised localizer, the WSOL benchmark's way.

:func:`evaluate` runs a map method (CAM, Grad-CAM, ..., or the centre-Gaussian baseline) over a
labelled dataset with the *true* class (GT-known), and :func:`evaluate_maps` scores maps you
already have. Both return a :class:`WSOLReport` with MaxBoxAcc, MaxBoxAccV2, PxAP, top-k
localization and the histogram of map activations; it prints as a table and plots its curves.
Notebook: ``notebooks/05_wsol_evaluation.ipynb``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_array, check_bool, check_choice, describe, check_float, check_int, check_size, to_numpy
from ..explain import normalize_maps
from ._inputs import as_cams, as_gt_boxes, as_iou_thresholds, as_masks, as_thresholds
from .boxes import pixel_boxes
from .component_tree import box_iou_curves
from .metrics import (DEFAULT_THRESHOLDS, BoxAccResult, PxAPResult, TopKResult,
                      _box_acc_from_curves, _top_k_inputs, _top_k_result, pxap)

__all__ = ["METHODS", "WSOLReport", "center_gaussian", "evaluate", "evaluate_maps", "report_table",
           "boxes_mask"]

#: Names accepted by :func:`evaluate` (functions of :mod:`cvkit.explain`, plus the baseline).
METHODS = ("cam", "grad_cam", "grad_cam_plus_plus", "layer_cam", "xgrad_cam",
           "smooth_grad_cam_plus_plus", "score_cam", "rise", "center_gaussian")


def center_gaussian(n, image_size, sigma=0.25):
    """The centre-Gaussian baseline: the same isotropic Gaussian at the image centre for every image.

    .. math:: G(x, y) = \\exp\\left(-\\frac{(x - c_x)^2 + (y - c_y)^2}{2 (\\sigma \\max(H, W))^2}\\right)

    It uses no image and no model: the lower bound of the WSOL benchmark (and of the F-CAM paper's
    tables). Since the metrics sweep every threshold, ``sigma`` hardly matters: its level sets are
    the same discs.

    Parameters
    ----------
    n : int
        Number of maps.
    image_size : int or (height, width)
    sigma : float
        Standard deviation as a fraction of the longer side.

    Returns
    -------
    np.ndarray
        float32 (n, H, W) maps in [0, 1].

    Examples
    --------
    >>> center_gaussian(1, (3, 5), sigma=0.5).round(2)
    array([[[0.  , 0.55, 0.77, 0.55, 0.  ],
            [0.17, 0.77, 1.  , 0.77, 0.17],
            [0.  , 0.55, 0.77, 0.55, 0.  ]]], dtype=float32)
    """
    n = check_int(n, "n", minimum=1)
    h, w = check_size(image_size, "image_size")
    sigma = check_float(sigma, "sigma", 0.0, strict_min=True)
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    s = sigma * max(h, w)
    g = np.exp(-((xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2) / (2 * s * s))
    g = (g - g.min()) / max(g.max() - g.min(), 1e-12)
    return np.broadcast_to(g.astype(np.float32), (n, h, w)).copy()


def boxes_mask(gt_boxes, shape):
    """Boolean (N, H, W) mask of the union of each image's pixel-inclusive boxes.

    The object pixels of the activation histogram when a dataset has boxes but no masks.

    Parameters
    ----------
    gt_boxes : list of (k_i, 4) arrays, or an (N, 4) / (N, K, 4) array
        Pixel-inclusive ``(x0, y0, x1, y1)`` boxes.
    shape : (int, int, int)
        ``(N, H, W)``.

    Returns
    -------
    np.ndarray
        bool (N, H, W).

    Examples
    --------
    >>> boxes_mask([[[0, 0, 1, 0], [3, 1, 3, 2]]], (1, 3, 4)).astype(int)
    array([[[1, 1, 0, 0],
            [0, 0, 0, 1],
            [0, 0, 0, 1]]])
    """
    n, h, w = shape
    gt, valid = as_gt_boxes(gt_boxes, n, (h, w))
    yy = np.arange(h)[None, None, :, None]
    xx = np.arange(w)[None, None, None, :]
    b = gt[:, :, :, None, None]
    inside = ((xx >= b[:, :, 0]) & (xx <= b[:, :, 2]) & (yy >= b[:, :, 1]) & (yy <= b[:, :, 3]))
    return (inside & valid[:, :, None, None]).any(axis=1)


@dataclass
class WSOLReport:
    """Everything the WSOL protocol measures for one method on one dataset.

    Attributes
    ----------
    method : str
    max_box_acc : BoxAccResult
        Largest region, IoU 0.5.
    max_box_acc_v2 : BoxAccResult
        All regions, IoU 0.3 / 0.5 / 0.7.
    pxap : PxAPResult or None
        When masks were given.
    top_k : TopKResult or None
        When class scores were given.
    histogram : dict
        ``bins`` (edges), ``inside`` and ``outside``: densities of the normalised map values on the
        object pixels (mask, or boxes) and on the rest (the F-CAM paper's figure 6).
    n_images : int
    maps : np.ndarray or None
        The normalised maps (N, H, W) when kept, for drawing failure cases.

    Examples
    --------
    >>> cams = np.zeros((2, 8, 8)); cams[:, 2:5, 2:6] = 1
    >>> rep = evaluate_maps(cams, [[2, 2, 5, 4]] * 2, method="blobs", thresholds=[0.0, 0.5])
    >>> rep.summary()["MaxBoxAcc"], rep.n_images
    (100.0, 2)
    """

    method: str
    max_box_acc: BoxAccResult
    max_box_acc_v2: BoxAccResult
    pxap: PxAPResult | None
    top_k: TopKResult | None
    histogram: dict
    n_images: int
    maps: np.ndarray | None = field(default=None, repr=False)

    def summary(self):
        """The headline numbers as a dict (percentages)."""
        out = {"MaxBoxAcc": self.max_box_acc.score, "MaxBoxAccV2": self.max_box_acc_v2.score}
        for d, m in zip(self.max_box_acc_v2.iou_thresholds, self.max_box_acc_v2.max_per_iou):
            out[f"BoxAccV2@{d:g}"] = float(m)
        out["best tau"] = float(self.max_box_acc.best_thresholds[0])
        if self.pxap is not None:
            out["PxAP"] = self.pxap.score
        if self.top_k is not None:
            for k, v in self.top_k.localization.items():
                out[f"top-{k} loc"] = v
            for k, v in self.top_k.classification.items():
                out[f"top-{k} cls"] = v
        return out

    def __str__(self):
        return report_table([self], title=f"WSOL evaluation of {self.method} on {self.n_images} images")

    def _repr_pretty_(self, p, cycle):  # IPython shows the table
        p.text(str(self))

    def plot(self, figsize=(13, 3.6)):
        """BoxAcc(tau) curves, precision-recall curve and activation histogram in one figure."""
        from ..visualize.wsol import plot_wsol_report

        return plot_wsol_report(self, figsize=figsize)


def report_table(reports, title=None):
    """A plain-text table with one row per :class:`WSOLReport` (the quality table).

    Parameters
    ----------
    reports : sequence of WSOLReport
    title : str, optional

    Returns
    -------
    str

    Examples
    --------
    >>> cams = np.zeros((2, 8, 8)); cams[:, 2:5, 2:6] = 1
    >>> good = evaluate_maps(cams, [[2, 2, 5, 4]] * 2, method="blobs", thresholds=[0.0, 0.5])
    >>> flat = evaluate_maps(np.ones((2, 8, 8)), [[2, 2, 5, 4]] * 2, method="flat",
    ...                      thresholds=[0.0, 0.5])
    >>> print(report_table([good, flat]))
    method        MaxBoxAcc  MaxBoxAccV2  BoxAccV2@0.3  BoxAccV2@0.5  BoxAccV2@0.7  best tau
    ----------------------------------------------------------------------------------------
    blobs             100.0        100.0         100.0         100.0         100.0     0.000
    flat                0.0          0.0           0.0           0.0           0.0     0.000
    """
    reports = list(reports)
    if not reports or not all(isinstance(r, WSOLReport) for r in reports):
        raise TypeError("`reports` must be a non-empty sequence of WSOLReport objects.")
    cols = []
    for r in reports:
        for k in r.summary():
            if k not in cols:
                cols.append(k)
    width = max(12, max(len(r.method) for r in reports) + 2)
    head = "method".ljust(width) + "".join(c.rjust(max(len(c) + 2, 9)) for c in cols)
    lines = ([title] if title else []) + [head, "-" * len(head)]
    for r in reports:
        s = r.summary()
        row = r.method.ljust(width)
        for c in cols:
            v = s.get(c)
            fmt = "{:.3f}" if c == "best tau" else "{:.1f}"
            row += ("-" if v is None else fmt.format(v)).rjust(max(len(c) + 2, 9))
        lines.append(row)
    return "\n".join(lines)


def _histogram(arr, fg, bins, chunk_pixels=1 << 20):
    """Densities of the normalised map values on the object pixels and on the rest, accumulated
    a chunk of maps at a time (the normalised maps are never all held at once)."""
    n, h, w = arr.shape
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.zeros((2, bins), np.int64)
    step = max(1, chunk_pixels // (h * w))
    for a in range(0, n, step):
        s, f = normalize_maps(arr[a:a + step]), fg[a:a + step]
        counts[0] += np.histogram(s[f], bins=edges)[0]
        counts[1] += np.histogram(s[~f], bins=edges)[0]
    total = counts.sum(axis=1, keepdims=True)
    dens = counts / np.maximum(total, 1) / np.diff(edges)      # np.histogram's density, pooled
    return {"bins": edges, "inside": dens[0], "outside": dens[1]}


def evaluate_maps(cams, gt_boxes, masks=None, scores=None, labels=None, method="maps",
                  thresholds=DEFAULT_THRESHOLDS, iou_thresholds=(0.3, 0.5, 0.7), top_k=(1, 5),
                  ignore=None, nan="raise", benchmark_boxes=False, keep_maps=True, bins=50):
    """Score heat-maps with every WSOL metric, building the component trees once.

    Parameters
    ----------
    cams : array_like, (N, H, W)
        Maps of the true class (GT-known).
    gt_boxes : list of (k_i, 4) arrays, or an (N, 4) / (N, K, 4) array
        Pixel-inclusive true boxes on the maps' grid.
    masks : array_like of bool, (N, H, W), optional
        Object masks, for PxAP.
    scores, labels : array_like, optional
        Class scores (N, C) and true labels (N,), for top-k localization.
    method : str
        Name shown in the report.
    thresholds : array_like
        The :math:`\\tau` grid.
    iou_thresholds : sequence of float
        The IoU levels of MaxBoxAccV2 (MaxBoxAcc always uses 0.5).
    top_k : sequence of int
        k values (those above the number of classes are dropped).
    ignore : array_like of bool, optional
        Pixels PxAP leaves out.
    nan : {'raise', 'zero'}
        A map holding NaN raises, or counts as zeros when asked (the benchmark's rule).
    benchmark_boxes : bool
        The OpenCV reference's box quirks (:mod:`cvkit.wsol.boxes`).
    keep_maps : bool
        Keep the normalised maps in the report (for drawing).
    bins : int
        Histogram bins.

    Returns
    -------
    WSOLReport

    Examples
    --------
    >>> cams = np.zeros((2, 8, 8)); cams[:, 2:5, 2:6] = 1
    >>> masks = cams > 0
    >>> rep = evaluate_maps(cams, [[2, 2, 5, 4]] * 2, masks=masks, scores=[[2.0, 1.0], [2.0, 1.0]],
    ...                     labels=[0, 1], thresholds=np.arange(0, 1, 0.1), top_k=(1, 2))
    >>> rep.max_box_acc.score, rep.pxap.score, rep.top_k.localization
    (100.0, 100.0, {1: 50.0, 2: 100.0})
    """
    arr, _ = as_cams(cams, nan=nan)
    n, h, w = arr.shape
    thresholds = as_thresholds(thresholds)
    deltas = as_iou_thresholds(iou_thresholds)
    bins = check_int(bins, "bins", minimum=1, maximum=10_000)
    keep_maps = check_bool(keep_maps, "keep_maps")
    as_gt_boxes(gt_boxes, n, (h, w))  # validate before the long part
    if masks is not None:
        masks = as_masks(masks, arr.shape, "masks")
    u_max, large, allr = box_iou_curves(arr, gt_boxes, nan=nan, benchmark_boxes=benchmark_boxes)
    mba = _box_acc_from_curves(u_max, large, thresholds, np.array([0.5]), False, "MaxBoxAcc")
    v2 = _box_acc_from_curves(u_max, allr, thresholds, deltas, True, "MaxBoxAccV2")
    px = pxap(arr, masks, thresholds=thresholds, ignore=ignore, nan=nan) if masks is not None else None
    tk = None
    if scores is not None and labels is not None:
        sc = to_numpy(scores)
        if not isinstance(top_k, (list, tuple, np.ndarray)):
            top_k = [top_k]
        top_k = [check_int(k, "top_k", minimum=1) for k in top_k]
        ks = [k for k in top_k if sc.ndim == 2 and k <= sc.shape[1]] or [1]
        tk = _top_k_from(sc, labels, mba, ks)
    fg = masks if masks is not None else boxes_mask(gt_boxes, arr.shape)
    hist = _histogram(arr, fg, bins)
    return WSOLReport(method=str(method), max_box_acc=mba, max_box_acc_v2=v2, pxap=px, top_k=tk,
                      histogram=hist, n_images=n, maps=normalize_maps(arr) if keep_maps else None)


def _top_k_from(scores, labels, mba, ks):
    """Top-k localization reusing the MaxBoxAcc IoUs at its best threshold."""
    sc, lab, ks = _top_k_inputs(scores, labels, mba.ious.shape[0], ks)
    good = mba.best_ious(0.5) >= 0.5
    return _top_k_result(sc.astype(np.float64), lab, good, ks, float(mba.best_thresholds[0]), 0.5)


def _dataset_boxes(get, n, size, box_units):
    """One (k_i, 4) array of pixel-inclusive boxes per image, from ``objects`` or ``boxes``."""
    objects, boxes = get("objects"), get("boxes")
    if objects is not None and len(objects) == n and all("boxes" in o for o in objects):
        items, name = [o["boxes"] for o in objects], "dataset.objects[i]['boxes']"
    elif boxes is not None:
        items, name = list(boxes), "dataset.boxes"
        if len(items) != n:
            raise ValueError(f"`{name}` has {len(items)} entries for {n} images; give one box (or "
                             "one (k, 4) array of boxes) per image.")
    else:
        raise TypeError("`dataset` has no `boxes`: the box metrics need normalised xyxy boxes.")
    parsed = [as_array(b, name, kind="float", dtype=np.float64).reshape(-1, 4) for b in items]
    if box_units == "pixels":
        return parsed
    top = max((float(b.max()) for b in parsed if b.size), default=0.0)
    if top > 1.01:
        raise ValueError(f"`{name}` must be normalised xyxy boxes in [0, 1]; got coordinates up to "
                         f"{top:g}: boxes in pixels? Pass box_units='pixels' for pixel-inclusive "
                         "(x0, y0, x1, y1) boxes, or divide them by (W, H, W, H).")
    return [pixel_boxes(b, size, name=name) for b in parsed]


def _dataset_arrays(dataset, box_units="normalized"):
    """images, labels, pixel boxes (list), masks or None from a dataset object or a dict."""
    get = (lambda k: dataset.get(k)) if isinstance(dataset, dict) else (lambda k: getattr(dataset, k, None))
    images, labels = get("images"), get("labels")
    if images is None or labels is None:
        raise TypeError("`dataset` must have `images` (N, H, W, 3), `labels` (N,) and `boxes` "
                        "(normalised xyxy) attributes or keys, like cvkit.datasets.shapes(); got "
                        f"{type(dataset).__name__}.")
    images = as_array(images, "dataset.images", ndim=4, hint="(N, H, W, C)", empty_ok=False)
    # float labels such as 1.7 are refused, not truncated; 2.0 is read as 2
    labels = as_array(labels, "dataset.labels", ndim=1, kind="integer", hint="(N,)")
    if len(labels) != len(images):
        raise ValueError(f"`dataset.labels` must hold one label per image ({len(images)}); got "
                         f"{len(labels)}.")
    if labels.dtype == bool or (labels.size and labels.min() < 0):
        raise ValueError("`dataset.labels` must be class indices >= 0; got "
                         f"{labels[:5].tolist()}...")
    gt = _dataset_boxes(get, len(images), images.shape[1:3], box_units)
    masks = get("masks")
    if masks is not None:
        masks = as_array(masks, "dataset.masks", ndim=3, kind="bool", hint="(N, H, W)")
        if masks.shape != images.shape[:3]:
            raise ValueError(f"`dataset.masks` must have the images' shape {images.shape[:3]} (one "
                             f"(H, W) mask per image); got {masks.shape}. Resize the masks with "
                             "nearest-neighbour interpolation (PxAP is computed on the image grid).")
    return images, labels.astype(np.int64), gt, masks


def _resolve_method(method):
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    check_choice(method, "method", METHODS)
    if method == "center_gaussian":
        return method, None
    from .. import explain

    return method, getattr(explain, method)


def evaluate(model, dataset, method="grad_cam", batch_size=32, thresholds=DEFAULT_THRESHOLDS,
             iou_thresholds=(0.3, 0.5, 0.7), top_k=(1, 5), layer=None, method_kwargs=None,
             progress=True, nan="raise", benchmark_boxes=False, keep_maps=True,
             box_units="normalized"):
    """Run an explanation method over a labelled dataset and score it as a WSOL localizer.

    For every image the map of the *true* class is computed (GT-known, as the benchmark does: the
    localization is judged apart from the classification), up-sampled to the image and min-max
    normalised; then :func:`evaluate_maps` computes MaxBoxAcc, MaxBoxAccV2, PxAP (when the dataset
    has masks), top-k localization (with the model's scores) and the activation histograms.

    Parameters
    ----------
    model : keras.Model or None
        The classifier (None only for ``method='center_gaussian'``).
    dataset : object or dict
        With ``images`` (N, H, W, 3), ``labels`` (N,), ``boxes`` (normalised xyxy, or ``objects``
        with several boxes per image) and optionally ``masks``: :func:`cvkit.datasets.shapes`.
    method : str or callable
        One of :data:`METHODS`, or a function
        ``f(model, images, class_index=..., **method_kwargs) -> (N, H, W)`` maps.
    batch_size : int
        Images per call.
    thresholds, iou_thresholds, top_k, nan, benchmark_boxes, keep_maps
        As in :func:`evaluate_maps`.
    layer : optional
        Target layer for the CAM family (default: found automatically).
    method_kwargs : dict, optional
        Extra arguments for the method (``n_masks`` and ``seed`` for RISE, ...).
    progress : bool
        Show a progress bar (tqdm).
    box_units : {'normalized', 'pixels'}
        How the dataset's boxes are given: normalised xyxy in [0, 1] (the default, as
        :mod:`cvkit.datasets` stores them; boxes with a coordinate above 1 are refused rather than
        clipped to one pixel), or pixel-inclusive integer ``(x0, y0, x1, y1)`` on the image grid.

    Returns
    -------
    WSOLReport

    Examples
    --------
    The centre-Gaussian baseline needs no model; a dict of arrays is a dataset:

    >>> ds = {"images": np.zeros((2, 8, 8, 3)), "labels": [0, 1],
    ...       "boxes": [[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 0.25, 0.25]]}
    >>> report = evaluate(None, ds, "center_gaussian", thresholds=np.arange(0, 1, 0.1))
    >>> report.max_box_acc.score
    50.0

    With a classifier: ``evaluate(model, shapes(200, image_size=64, seed=1), 'grad_cam')``.
    """
    name, fn = _resolve_method(method)
    check_choice(box_units, "box_units", ("normalized", "pixels"))
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    progress = check_bool(progress, "progress")
    if method_kwargs is not None and not isinstance(method_kwargs, dict):
        raise TypeError(f"`method_kwargs` must be a dict or None; got {describe(method_kwargs)}.")
    kwargs = dict(method_kwargs or {})
    images, labels, gt, masks = _dataset_arrays(dataset, box_units)
    n, h, w = images.shape[:3]
    if fn is None:
        cams = center_gaussian(n, (h, w), **kwargs)
    else:
        if model is None:
            raise ValueError(f"`model` is required for method {name!r}; only 'center_gaussian' runs "
                             "without one.")
        if layer is not None and name != "rise":
            kwargs.setdefault("layer", layer)
        cams = _method_maps(fn, name, model, images, labels, batch_size, progress, kwargs)
    scores = None
    if model is not None:
        scores = _predict_scores(model, images, batch_size)
    return evaluate_maps(cams, gt, masks=masks, scores=scores, labels=labels if scores is not None
                         else None, method=name, thresholds=thresholds, iou_thresholds=iou_thresholds,
                         top_k=top_k, nan=nan, benchmark_boxes=benchmark_boxes, keep_maps=keep_maps)


def _method_maps(fn, name, model, images, labels, batch_size, progress, kwargs):
    """The maps of the true class for every image, computed batch by batch."""
    from tqdm import tqdm

    n, h, w = images.shape[:3]
    starts = range(0, n, batch_size)
    it = tqdm(starts, desc=f"wsol {name}", file=sys.stderr, disable=not progress, leave=False)
    cams = np.empty((n, h, w), dtype=np.float32)
    for s in it:
        sl = slice(s, min(n, s + batch_size))
        out = to_numpy(fn(model, images[sl], class_index=labels[sl], **kwargs)).astype(np.float32)
        if out.shape != (sl.stop - sl.start, h, w):
            raise ValueError(f"method {name!r} returned maps of shape {out.shape}; expected "
                             f"{(sl.stop - sl.start, h, w)} (up-sampled to the image).")
        cams[sl] = out
    return cams


def _predict_scores(model, images, batch_size):
    x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(out, (list, tuple)):
        out = out[0]
    out = np.asarray(out)
    if out.ndim != 2:
        return None
    if out.shape[1] == 1:  # one sigmoid unit: the probabilities of the two classes
        out = np.concatenate([1.0 - out, out], axis=1)
    return out
