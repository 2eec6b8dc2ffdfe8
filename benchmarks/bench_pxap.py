"""PxAP speed and memory: cvkit's pooled PxAP against a per-image histogram loop (the way the WSOL
benchmark of Choe et al. accumulates its two score histograms), and the peak memory of the three
WSOL metrics together.

N CAM-like maps (default 1000 at 224 x 224, smooth random fields with an elliptic mask each), the
benchmark's grid of 1000 thresholds. Time: median of ``--repeats`` interleaved rounds (this machine
is shared). Memory: the peak of NumPy's allocations traced by :mod:`tracemalloc` during one call,
above what the inputs already hold.

    python benchmarks/bench_pxap.py [--n 1000] [--size 224] [--repeats 5]

Writes benchmarks/pxap.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _timing import _interleaved  # noqa: E402
from cvkit.wsol import DEFAULT_THRESHOLDS, evaluate_maps, pxap  # noqa: E402


def make_data(n, size, seed=0):
    """Smooth random maps (bilinear up-sampling of 7 x 7 noise) and one elliptic mask per map."""
    rng = np.random.default_rng(seed)
    low = rng.random((n, 7, 7)).astype(np.float32)
    pos = np.linspace(0, 6, size)
    i0 = np.minimum(pos.astype(int), 5)
    f = (pos - i0).astype(np.float32)
    rows = low[:, i0] * (1 - f)[None, :, None] + low[:, i0 + 1] * f[None, :, None]
    cams = rows[:, :, i0] * (1 - f) + rows[:, :, i0 + 1] * f
    yy, xx = np.mgrid[:size, :size]
    cx, cy, r = rng.uniform(0.3, 0.7, (3, n)) * size
    masks = ((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2
             <= (0.4 * r[:, None, None]) ** 2)
    boxes = [[max(0, int(x - 0.4 * rr)), max(0, int(y - 0.4 * rr)), min(size - 1, int(x + 0.4 * rr)),
              min(size - 1, int(y + 0.4 * rr))] for x, y, rr in zip(cx, cy, r)]
    return np.ascontiguousarray(cams, dtype=np.float32), masks, boxes


def histogram_loop_pxap(cams, masks, thresholds):
    """PxAP from score histograms accumulated image by image (the benchmark's scheme)."""
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    pos = np.zeros(len(edges) - 1)
    neg = np.zeros(len(edges) - 1)
    for c, m in zip(cams, masks):
        lo, hi = c.min(), c.max()
        s = (c - lo) / (hi - lo) if hi > lo else np.zeros_like(c)
        pos += np.histogram(s[m], bins=edges)[0]
        neg += np.histogram(s[~m], bins=edges)[0]
    tp, fp = pos[::-1].cumsum(), neg[::-1].cumsum()
    ok = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        prec, rec = tp / (tp + fp), tp / pos.sum()
    return float((prec[1:] * np.diff(rec))[ok[1:]].sum() * 100)


def pooled_searchsorted_pxap(cams, masks, thresholds):
    """The previous cvkit scheme, kept as a reference: every map normalised at once, the object and
    background pixels gathered into two arrays and binned with one ``searchsorted`` each."""
    lo = cams.min(axis=(1, 2), keepdims=True)
    rng = cams.max(axis=(1, 2), keepdims=True) - lo
    s = np.where(rng > 0, (cams - lo) / np.where(rng > 0, rng, 1), 0).astype(np.float32)
    edges = np.unique(np.concatenate([thresholds, [1.0, 2.0]]))
    nb = edges.size + 1
    hp = np.bincount(np.searchsorted(edges, s[masks].astype(np.float64), side="right"), minlength=nb)
    hn = np.bincount(np.searchsorted(edges, s[~masks].astype(np.float64), side="right"), minlength=nb)
    tp, fp = np.cumsum(hp[::-1])[::-1][1:], np.cumsum(hn[::-1])[::-1][1:]
    tp_d, fp_d = tp[::-1].astype(float), fp[::-1].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = tp_d / (tp_d + fp_d)
    rec = tp_d / masks.sum()
    ok = (tp_d + fp_d)[1:] > 0
    return float(np.sum((prec[1:] * np.diff(rec))[ok]) * 100)


def peak_mb(fn):
    """Peak of the traced allocations during ``fn()``, in MB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "pxap.json"))
    args = ap.parse_args()
    cams, masks, boxes = make_data(args.n, args.size)
    t = DEFAULT_THRESHOLDS
    ours, ref = pxap(cams, masks, t).score, histogram_loop_pxap(cams, masks, t)
    fns = {"cvkit pxap": lambda: pxap(cams, masks, t),
           "histogram loop": lambda: histogram_loop_pxap(cams, masks, t),
           "previous pooled searchsorted": lambda: pooled_searchsorted_pxap(cams, masks, t)}
    times = _interleaved(fns, args.repeats)
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = {k: float(np.median(np.asarray(v) / np.asarray(times["histogram loop"])))
              for k, v in times.items()}
    mem = {k: peak_mb(fn) for k, fn in fns.items()}
    mem.update({
        "evaluate_maps (3 metrics)": peak_mb(lambda: evaluate_maps(cams, boxes, masks=masks,
                                                                   keep_maps=False))})
    out = {"n": args.n, "size": args.size, "pxap": ours, "pxap_histogram_loop": ref,
           "seconds": med, "time_over_histogram_loop": ratios, "peak_mb": mem,
           "input_mb": cams.nbytes / 2 ** 20}
    print(f"{args.n} maps at {args.size} px; inputs {out['input_mb']:.0f} MB of maps")
    print(f"PxAP: cvkit {ours:.6f}, histogram loop {ref:.6f}")
    for k, v in med.items():
        print(f"  {k:30s} {v:7.3f} s   x{ratios[k]:.2f} of the histogram loop's time")
    for k, v in mem.items():
        print(f"  peak {k:23s} {v:7.0f} MB")
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
