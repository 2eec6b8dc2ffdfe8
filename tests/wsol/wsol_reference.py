"""The loop reference of the WSOL tests: what the benchmark does, one threshold at a time (one
labelling per image per threshold, written here independently of the package), and random cases."""
import numpy as np
from scipy import ndimage as ndi
from scipy.ndimage import zoom

S8 = np.ones((3, 3), bool)


def ref_norm(c):
    c = np.asarray(c, np.float32)
    lo, hi = c.min(), c.max()
    return ((c - lo) / (hi - lo)).astype(np.float32) if hi > lo else np.zeros_like(c)


def ref_iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(iw, 0) * max(ih, 0)
    ua = max(a[2] - a[0] + 1, 0) * max(a[3] - a[1] + 1, 0)
    ub = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    union = ua + ub - inter
    return inter / union if union > 0 else 0.0


def ref_boxes(cam, tau, multi):
    u = (ref_norm(cam) * np.float32(255)).astype(np.uint8)
    lab, n = ndi.label(u > int(tau * u.max()), structure=S8)
    boxes = []
    for k in range(1, n + 1):
        ys, xs = np.nonzero(lab == k)
        boxes.append((xs.min(), ys.min(), xs.max(), ys.max(), xs.size))
    if not multi and boxes:
        boxes = [boxes[int(np.argmax([b[4] for b in boxes]))]]
    return [b[:4] for b in boxes]


def ref_ious(cams, gts, thresholds, multi):
    out = np.zeros((len(cams), len(thresholds)))
    for i, cam in enumerate(cams):
        for k, tau in enumerate(thresholds):
            boxes = ref_boxes(cam, tau, multi)
            if boxes:
                out[i, k] = max(ref_iou(b, g) for b in boxes for g in np.atleast_2d(gts[i]))
    return out


def ref_box_acc(cams, gts, thresholds, deltas, multi):
    ious = ref_ious(cams, gts, thresholds, multi)
    return np.mean([max((ious[:, k] >= d).mean() * 100 for k in range(len(thresholds)))
                    for d in deltas])


def ref_pxap(cams, masks, thresholds):
    s = np.stack([ref_norm(c) for c in cams]).astype(np.float64)
    taus = sorted(set(list(thresholds) + [1.0]), reverse=True)
    prec, rec = [], []
    for t in taus:
        pred = s >= t
        tp = (pred & masks).sum()
        prec.append(tp / pred.sum() if pred.sum() else None)
        rec.append(tp / masks.sum())
    ap, prev = 0.0, 0.0
    for p, r in zip(prec, rec):
        if p is not None:
            ap += p * (r - prev)
        prev = r
    return ap * 100


def random_case(rng, kind, n=5, h=15, w=19):
    if kind == "noise":
        cams = rng.random((n, h, w))
    elif kind == "plateaus":
        cams = np.round(rng.random((n, h, w)) * 3)
    elif kind == "sparse":
        cams = np.round(rng.random((n, h, w)) * 1.3)
    else:  # smooth, like an up-sampled CAM
        cams = np.stack([zoom(rng.random((4, 5)), (h / 4, w / 5), order=3)[:h, :w] for _ in range(n)])
    gts = []
    for _ in range(n):
        boxes = []
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.integers(0, w - 1), rng.integers(0, h - 1)
            boxes.append([x0, y0, rng.integers(x0, w), rng.integers(y0, h)])
        gts.append(np.array(boxes))
    return cams, gts
