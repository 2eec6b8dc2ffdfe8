r"""COCO-style average precision for boxes and masks, in NumPy: the teaching version of
pycocotools' ``COCOeval`` (crowd-free, all object areas).

For every class and every IoU threshold :math:`t \in \{0.50, 0.55, \dots, 0.95\}`:

1. **match** (:func:`match_detections`): in each image, the detections of the class, best score
   first (at most ``max_detections`` of them), each take the still-unmatched ground-truth object of
   the class with the highest IoU :math:`\ge t`: a true positive; a detection that finds none is a
   false positive;
2. **rank** all the class's detections of all images by score: precision
   :math:`P_n = TP_n / n` and recall :math:`R_n = TP_n / G` after the first :math:`n`
   (:math:`G` = the class's ground-truth objects);
3. **interpolate** (:func:`average_precision`): the precision envelope
   :math:`\hat P(r) = \max_{R_n \ge r} P_n`, read at the 101 recalls :math:`r = 0, 0.01, \dots, 1`
   (0 beyond the last recall reached) and averaged.

AP@[.5:.95] averages over the classes that have ground truth and the ten thresholds; AP50 and AP75
keep one threshold. :func:`pycocotools_evaluate` runs pycocotools on the same data (the
reference the tests compare with). Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_int, describe
from ._common import as_box_array

__all__ = ["IOU_THRESHOLDS", "RECALL_THRESHOLDS", "average_precision", "box_iou_matrix",
           "mask_iou_matrix", "match_detections", "coco_evaluate", "pycocotools_evaluate"]

#: the ten IoU thresholds of COCO
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: the 101 recalls at which COCO reads the precision envelope
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)


def average_precision(recall, precision, recall_thresholds=RECALL_THRESHOLDS):
    r"""COCO's interpolated AP of a precision-recall curve.

    .. math:: AP = \frac{1}{101} \sum_{r \in \{0, .01, \dots, 1\}} \max_{n:\,R_n \ge r} P_n

    (0 for a recall the curve never reaches). ``recall`` and ``precision`` may carry a leading
    axis (one curve per row, e.g. per IoU threshold).

    Parameters
    ----------
    recall : (..., n) non-decreasing recalls
    precision : (..., n)
    recall_thresholds : (R,)

    Returns
    -------
    float (or an array of the leading shape)

    Examples
    --------
    Two detections, the first right and the second wrong, for one object: precision 1 up to
    recall 1, so AP = 1; with the wrong one first, precision 0.5 at recall 1:

    >>> float(average_precision([1.0, 1.0], [1.0, 0.5])), float(average_precision([0.0, 1.0], [0.0, 0.5]))
    (1.0, 0.5)
    """
    q = _envelope_at(np.asarray(recall, np.float64), np.asarray(precision, np.float64),
                     np.asarray(recall_thresholds, np.float64))
    return q.mean(axis=-1)


def _envelope_at(rc, pr, thresholds):
    """Precision envelope read at the recall thresholds: (..., n) curves -> (..., R)."""
    if rc.shape != pr.shape or rc.ndim < 1:
        raise ValueError(f"`recall` and `precision` must have the same shape (..., n); got "
                         f"{rc.shape} and {pr.shape}.")
    n = rc.shape[-1]
    if n == 0:
        return np.zeros(rc.shape[:-1] + thresholds.shape)
    env = np.maximum.accumulate(pr[..., ::-1], axis=-1)[..., ::-1]
    # first index whose recall reaches each threshold (searchsorted 'left', batched)
    idx = (rc[..., None, :] < thresholds[:, None]).sum(axis=-1)         # (..., R)
    got = np.take_along_axis(env, np.minimum(idx, n - 1), axis=-1)
    return np.where(idx < n, got, 0.0)


def box_iou_matrix(a, b):
    """(N, M) IoU of pixel xyxy boxes (the continuous convention of pycocotools' ``bbox``).

    Examples
    --------
    >>> box_iou_matrix([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]])
    array([[0.14285714, 1.        ]])
    """
    from ..boxes import pairwise_iou

    return pairwise_iou(as_box_array(a, "a", allow_empty=True),
                        as_box_array(b, "b", allow_empty=True)).astype(np.float64)


def mask_iou_matrix(a, b):
    r"""(N, M) IoU of boolean masks (N, H, W) and (M, H, W): :math:`|A \cap B| / |A \cup B|`, the
    intersections as one matrix product.

    Examples
    --------
    >>> a = np.zeros((1, 4, 4), bool); a[0, :2] = True
    >>> b = np.zeros((2, 4, 4), bool); b[0, :1] = True; b[1] = True
    >>> mask_iou_matrix(a, b)
    array([[0.5, 0.5]])
    """
    fa = np.asarray(a, bool).reshape(len(a), -1).astype(np.float64)
    fb = np.asarray(b, bool).reshape(len(b), -1).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_detections(iou, iou_thresholds=IOU_THRESHOLDS):
    """Greedy COCO matching of score-sorted detections to ground truth, all thresholds at once.

    Detection ``d`` (rows, best score first) takes, at each threshold, the still-unmatched object
    with the highest IoU at or above the threshold (the last such object on a tie, as pycocotools).
    The loop runs over the detections (each depends on the ones before); thresholds and objects are
    vectorised.

    Parameters
    ----------
    iou : (D, G) IoU of the detections with the objects of one class in one image
    iou_thresholds : (T,)

    Returns
    -------
    bool (T, D): detection ``d`` is a true positive at threshold ``t``.

    Examples
    --------
    Two detections on one object: only the first (higher score) is a true positive.

    >>> match_detections(np.array([[0.8], [0.9]]), [0.5, 0.85]).astype(int)
    array([[1, 0],
           [0, 1]])
    """
    iou = np.asarray(iou, np.float64)
    thr = np.minimum(np.asarray(iou_thresholds, np.float64), 1 - 1e-10)
    n_t, (n_d, n_g) = thr.size, iou.shape
    taken = np.zeros((n_t, n_g), bool)
    tp = np.zeros((n_t, n_d), bool)
    if n_g == 0:
        return tp
    rows = np.arange(n_t)
    for d in range(n_d):                       # sequential by definition: greedy in score order
        ok = ~taken & (iou[d][None, :] >= thr[:, None])                 # (T, G)
        cand = np.where(ok, iou[d][None, :], -1.0)
        best = n_g - 1 - np.argmax(cand[:, ::-1], axis=1)               # last of the maxima
        hit = ok[rows, best]
        taken[rows[hit], best[hit]] = True
        tp[:, d] = hit
    return tp


def _check_items(items, name, needs_scores, iou_type):
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"`{name}` must be a list with one dict per image; got {describe(items)}.")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"`{name}[{i}]` must be a dict; got {describe(item)}.")
        key = "masks" if iou_type == "mask" else "boxes"
        if key not in item or "classes" not in item or (needs_scores and "scores" not in item):
            keys = [key, "classes"] + (["scores"] if needs_scores else [])
            raise ValueError(f"`{name}[{i}]` must have the keys {keys}; got {sorted(item)}.")
        cls = np.asarray(item["classes"]).reshape(-1).astype(np.int64)
        geo = (np.asarray(item["masks"], bool) if iou_type == "mask" else
               as_box_array(item["boxes"], f"{name}[{i}]['boxes']", allow_empty=True))
        scores = np.asarray(item.get("scores", np.zeros(len(cls))), np.float64).reshape(-1)
        if len(geo) != len(cls) or len(scores) != len(cls):
            raise ValueError(f"`{name}[{i}]` holds {len(cls)} classes, {len(scores)} scores and "
                             f"{len(geo)} {key}: one of each per object.")
        if iou_type == "mask" and len(geo) and geo.ndim != 3:
            raise ValueError(f"`{name}[{i}]['masks']` must be (k, H, W); got {describe(geo)}.")
        out.append((geo, cls, scores))
    return out


def _image_matches(det, gt, cls, iou_type, max_detections, thresholds):
    """Scores and true-positive flags (T, n) of the detections of class ``cls`` in one image."""
    dg, dc, ds = det
    gg, gc, _ = gt
    d_idx = np.flatnonzero(dc == cls)
    d_idx = d_idx[np.argsort(-ds[d_idx], kind="mergesort")][:max_detections]
    g_idx = np.flatnonzero(gc == cls)
    if len(d_idx) == 0 or len(g_idx) == 0:
        return ds[d_idx], np.zeros((len(thresholds), len(d_idx)), bool)
    fn = mask_iou_matrix if iou_type == "mask" else box_iou_matrix
    return ds[d_idx], match_detections(fn(dg[d_idx], gg[g_idx]), thresholds)


def coco_evaluate(detections, ground_truth, iou_type="box", num_classes=None, max_detections=100):
    """COCO AP@[.5:.95], AP50 and AP75 of detections against ground truth (crowd-free, all areas).

    Parameters
    ----------
    detections : list of dict, one per image
        ``boxes`` (k, 4) pixel xyxy (for ``iou_type='box'``) or ``masks`` (k, H, W) bool (for
        ``'mask'``), ``scores`` (k,), ``classes`` (k,) ints. An image may have no detection.
    ground_truth : list of dict, one per image (same order)
        ``boxes`` or ``masks`` and ``classes``. An image may have no object; all images together
        need at least one.
    iou_type : {'box', 'mask'}
    num_classes : int, optional
        Classes are ``0 .. num_classes - 1`` (default: those that occur); a class without
        ground truth is left out of the mean, as in pycocotools.
    max_detections : int
        Detections kept per image and class (COCO's 100).

    Returns
    -------
    dict
        ``AP``, ``AP50``, ``AP75`` (floats), ``per_class_AP`` (K,) (NaN for a class without
        ground truth), ``precision`` (10, 101, K) (the interpolated curves, -1 without ground
        truth), ``iou_thresholds``, ``recall_thresholds``.

    Examples
    --------
    One image with one object found exactly and a false alarm scored lower: AP = 1 (the false
    alarm comes after full recall).

    >>> gt = [{"boxes": [[0, 0, 10, 10]], "classes": [0]}]
    >>> det = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "scores": [0.9, 0.5], "classes": [0, 0]}]
    >>> r = coco_evaluate(det, gt)
    >>> round(r["AP"], 6), round(r["AP50"], 6), round(r["AP75"], 6)
    (1.0, 1.0, 1.0)
    """
    check_choice(iou_type, "iou_type", ("box", "mask"))
    max_detections = check_int(max_detections, "max_detections", minimum=1)
    dets = _check_items(detections, "detections", True, iou_type)
    gts = _check_items(ground_truth, "ground_truth", False, iou_type)
    if len(dets) != len(gts):
        raise ValueError(f"`detections` ({len(dets)} images) and `ground_truth` ({len(gts)} "
                         "images) must list the same images.")
    all_gt = np.concatenate([g[1] for g in gts]) if gts else np.zeros(0, np.int64)
    if all_gt.size == 0:
        raise ValueError("`ground_truth` holds no object: AP is undefined without ground truth.")
    if num_classes is None:
        num_classes = int(max(all_gt.max(), max((d[1].max() for d in dets if d[1].size),
                                                 default=0))) + 1
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    for name, items in (("detections", dets), ("ground_truth", gts)):
        bad = [c for _, cls, _ in items for c in cls if c < 0 or c >= num_classes]
        if bad:
            raise ValueError(f"`{name}` has class {bad[0]} outside 0..{num_classes - 1}.")
    precision = np.full((IOU_THRESHOLDS.size, RECALL_THRESHOLDS.size, num_classes), -1.0)
    for k in range(num_classes):
        n_gt = int((all_gt == k).sum())
        if n_gt == 0:
            continue
        parts = [_image_matches(d, g, k, iou_type, max_detections, IOU_THRESHOLDS)
                 for d, g in zip(dets, gts)]
        scores = np.concatenate([p[0] for p in parts])
        tp = np.concatenate([p[1] for p in parts], axis=1)[:, np.argsort(-scores, kind="mergesort")]
        tp_sum = np.cumsum(tp, axis=1, dtype=np.float64)
        fp_sum = np.cumsum(~tp, axis=1, dtype=np.float64)
        pr = tp_sum / (tp_sum + fp_sum + np.spacing(1))
        precision[:, :, k] = _envelope_at(tp_sum / n_gt, pr, RECALL_THRESHOLDS)
    return _summary(precision)


def _summary(precision):
    def mean(p):
        p = p[p > -1]
        return float(p.mean()) if p.size else -1.0

    per_class = np.array([mean(precision[:, :, k]) for k in range(precision.shape[2])])
    return {"AP": mean(precision), "AP50": mean(precision[0]), "AP75": mean(precision[5]),
            "per_class_AP": np.where(per_class < 0, np.nan, per_class), "precision": precision,
            "iou_thresholds": IOU_THRESHOLDS, "recall_thresholds": RECALL_THRESHOLDS}


def _coco_dicts(detections, ground_truth, iou_type):
    """The pycocotools ``dataset`` of the ground truth and the result list of the detections."""
    from pycocotools import mask as mask_utils

    def segm(m):
        rle = mask_utils.encode(np.asfortranarray(np.asarray(m, np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        return rle

    def bbox(b):
        b = np.asarray(b, np.float64)
        return [b[0], b[1], b[2] - b[0], b[3] - b[1]]

    images, anns, res, classes = [], [], [], set()
    for i, (det, gt) in enumerate(zip(detections, ground_truth)):
        image = {"id": i + 1}
        if iou_type == "mask":
            shape = np.shape(gt["masks"])[1:] or np.shape(det["masks"])[1:]
            image.update(height=int(shape[0]), width=int(shape[1]))
        images.append(image)
        for j, c in enumerate(np.asarray(gt["classes"]).reshape(-1)):
            ann = {"id": len(anns) + 1, "image_id": i + 1, "category_id": int(c) + 1,
                   "iscrowd": 0}
            if iou_type == "mask":
                ann["segmentation"] = segm(gt["masks"][j])
                ann["area"] = float(np.asarray(gt["masks"][j]).sum())
            else:
                ann["bbox"] = bbox(gt["boxes"][j])
                ann["area"] = ann["bbox"][2] * ann["bbox"][3]
            anns.append(ann)
            classes.add(int(c) + 1)
        for j, c in enumerate(np.asarray(det["classes"]).reshape(-1)):
            r = {"image_id": i + 1, "category_id": int(c) + 1, "score": float(det["scores"][j])}
            if iou_type == "mask":
                r["segmentation"] = segm(det["masks"][j])
            else:
                r["bbox"] = bbox(det["boxes"][j])
            res.append(r)
            classes.add(int(c) + 1)
    cats = [{"id": c} for c in sorted(classes)]
    return {"images": images, "annotations": anns, "categories": cats}, res


def pycocotools_evaluate(detections, ground_truth, iou_type="box"):
    """The same evaluation with pycocotools' ``COCOeval`` (the reference): ``{'AP', 'AP50',
    'AP75'}``. Inputs as :func:`coco_evaluate`; needs ``pycocotools``.

    Examples
    --------
    >>> gt = [{"boxes": [[0, 0, 10, 10]], "classes": [0]}]
    >>> det = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "scores": [0.9, 0.5], "classes": [0, 0]}]
    >>> {k: round(v, 6) for k, v in pycocotools_evaluate(det, gt).items()}
    {'AP': 1.0, 'AP50': 1.0, 'AP75': 1.0}
    """
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    check_choice(iou_type, "iou_type", ("box", "mask"))
    dataset, res = _coco_dicts(detections, ground_truth, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        dt = coco.loadRes(res) if res else COCO()
        if not res:
            dt.dataset = {"images": dataset["images"], "annotations": [],
                          "categories": dataset["categories"]}
            dt.createIndex()
        ev = COCOeval(coco, dt, "segm" if iou_type == "mask" else "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"AP": float(ev.stats[0]), "AP50": float(ev.stats[1]), "AP75": float(ev.stats[2])}
