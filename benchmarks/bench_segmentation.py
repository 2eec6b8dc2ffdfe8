"""Benchmark of cvkit.segmentation and cvkit.detection against scikit-image, SciPy and TensorFlow,
measured in one run.

    python benchmarks/bench_segmentation.py [--quick] [--repeats N] [--blas-threads N]

Targets (issue 7): Otsu, Sobel and k-means on a 1024x1024 image within 2x of scikit-image / SciPy;
ROI Align of 1000 boxes on a 64x64x256 map within 1.5x of ``tf.image.crop_and_resize``; labelling
20k anchors against 50 boxes well under a second. Prints a table, writes
``benchmarks/segmentation.json`` and a markdown section to ``/tmp/cvkit-results/segmentation.md``.
Each figure is the median of ``--repeats`` runs; ratios are cvkit / reference on the same input.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "--blas-threads" in sys.argv:  # must be set before NumPy loads its BLAS
    _n = sys.argv[sys.argv.index("--blas-threads") + 1]
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="threads of NumPy's BLAS (1 compares like with like: scipy's k-means "
                         "assignment is single-threaded C; on an oversubscribed machine BLAS "
                         "threads mostly wait)")
    ap.add_argument("--out", default=str(HERE / "segmentation.json"))
    ap.add_argument("--md", default="/tmp/cvkit-results/segmentation.md")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    size = 512 if args.quick else 1024

    import tensorflow as tf
    from scipy import ndimage as ndi
    from scipy.cluster.vq import kmeans2
    from skimage import filters, transform
    from skimage.data import camera

    from cvkit import detection as det
    from cvkit import segmentation as seg

    img_u8 = (transform.resize(camera(), (size, size), preserve_range=True)).astype(np.uint8)
    img_f = img_u8 / 255.0
    rng = np.random.default_rng(0)
    rows = []

    def add(name, ours, ref, ref_name, target=None, note=""):
        ratio = ours / ref if ref else float("nan")
        ok = None if target is None else bool(ratio <= target)
        rows.append({"task": name, "cvkit_s": ours, "reference": ref_name, "reference_s": ref,
                     "ratio": ratio, "target_ratio": target, "meets_target": ok, "note": note})

    # Otsu on uint8 and float
    add(f"Otsu {size}x{size} uint8", median_time(lambda: seg.otsu_threshold(img_u8), repeats),
        median_time(lambda: filters.threshold_otsu(img_u8), repeats), "skimage.threshold_otsu", 2.0)
    add(f"Otsu {size}x{size} float", median_time(lambda: seg.otsu_threshold(img_f), repeats),
        median_time(lambda: filters.threshold_otsu(img_f), repeats), "skimage.threshold_otsu", 2.0)
    add(f"multi-Otsu 3 classes {size}x{size}",
        median_time(lambda: seg.multi_otsu_thresholds(img_u8, 3), repeats),
        median_time(lambda: filters.threshold_multiotsu(img_u8, 3), repeats),
        "skimage.threshold_multiotsu")
    # Sobel: the fast separable path vs skimage and scipy; the 3x3 hand correlation too
    t_sobel = median_time(lambda: seg.sobel(img_f), repeats)
    add(f"Sobel magnitude {size}x{size}", t_sobel,
        median_time(lambda: filters.sobel(img_f), repeats), "skimage.filters.sobel", 2.0)
    add(f"Sobel magnitude {size}x{size}", t_sobel,
        median_time(lambda: np.hypot(ndi.sobel(img_f, 0), ndi.sobel(img_f, 1)), repeats),
        "scipy.ndimage.sobel x2 + hypot", 2.0)
    k3 = rng.normal(size=(3, 3))
    add(f"correlate 3x3 (teaching, per tap) {size}x{size}",
        median_time(lambda: seg.correlate(img_f, k3, mode="reflect"), repeats),
        median_time(lambda: ndi.correlate(img_f, k3, mode="reflect"), repeats),
        "scipy.ndimage.correlate", None, "hand-written version")
    add(f"Laplacian (4) {size}x{size}", median_time(lambda: seg.laplacian(img_f), repeats),
        median_time(lambda: filters.laplace(img_f), repeats), "skimage.filters.laplace")
    # k-means on the pixels of a colour image, the same number of Lloyd iterations
    rgb = np.stack([img_f, np.roll(img_f, 7, 0), np.roll(img_f, 13, 1)], -1)
    X = rgb.reshape(-1, 3)
    iters = 10
    k = 4
    res = {}

    def ours_km():
        res["ours"] = seg.kmeans(X, k, seed=0, max_iter=iters, tol=0.0)

    def ref_km():
        c, lab = kmeans2(X, k, iter=iters, minit="++", seed=0)
        res["ref"] = (c, lab)

    t_ours = median_time(ours_km, max(1, repeats // 2))
    t_ref = median_time(ref_km, max(1, repeats // 2))
    c, lab = res["ref"]
    inertia_ref = float(np.sum((X - c[lab]) ** 2))
    add(f"k-means k={k}, {iters} iterations, {size}x{size}x3", t_ours, t_ref,
        "scipy.cluster.vq.kmeans2", 2.0,
        f"inertia cvkit {res['ours'][2]:.1f} vs kmeans2 {inertia_ref:.1f}")
    # ROI Align: 1000 boxes on a 64x64x256 map, 7x7 output, sampling ratio 2
    n_boxes = 300 if args.quick else 1000
    fmap = rng.random((1, 64, 64, 256)).astype(np.float32)
    xy = rng.uniform(0, 48, (n_boxes, 2))
    wh = rng.uniform(4, 16, (n_boxes, 2))
    rois = np.clip(np.concatenate([xy, xy + wh], 1), 0, 64)
    bidx = np.zeros(n_boxes, np.int32)
    boxes_n = (rois[:, [1, 0, 3, 2]] / 64).astype(np.float32)
    fmap_t = tf.constant(fmap)
    boxes_t = tf.constant(boxes_n)
    bidx_t = tf.constant(bidx)
    crop = tf.function(lambda f, b, i: tf.image.crop_and_resize(f, b, i, (14, 14)))
    t_ref = median_time(lambda: crop(fmap_t, boxes_t, bidx_t).numpy(), repeats)
    add(f"ROI Align {n_boxes} boxes, 64x64x256, 7x7 (fast path)",
        median_time(lambda: det.roi_align_tf(fmap, rois, (7, 7), 1.0, 2, bidx), repeats), t_ref,
        "tf.image.crop_and_resize 14x14", 1.5)
    add(f"ROI Align {n_boxes} boxes, 64x64x256, 7x7 (NumPy teaching)",
        median_time(lambda: det.roi_align(fmap, rois, (7, 7), 1.0, 2, bidx), max(1, repeats // 3)),
        t_ref, "tf.image.crop_and_resize 14x14", None, "hand-written version")
    # anchor labelling: 20k anchors vs 50 boxes
    A = det.anchors((50, 50), 16, scales=(32, 64, 128))[:20000]
    xy = rng.uniform(0, 700, (50, 2))
    wh = rng.uniform(20, 200, (50, 2))
    gt = np.concatenate([xy, xy + wh], 1)
    t_lab = median_time(lambda: det.label_anchors(A, gt, (800, 800)), repeats)
    rows.append({"task": "label 20k anchors vs 50 boxes", "cvkit_s": t_lab, "reference": "1 s",
                 "reference_s": 1.0, "ratio": t_lab, "target_ratio": 1.0,
                 "meets_target": bool(t_lab < 1.0), "note": "absolute target: well under 1 s"})

    # table
    header = f"{'task':58s} {'cvkit ms':>9s} {'ref ms':>9s} {'ratio':>6s} {'target':>6s}  reference"
    print(header)
    print("-" * len(header))
    for r in rows:
        tgt = "" if r["target_ratio"] is None else f"{r['target_ratio']:.1f}"
        flag = "" if r["meets_target"] is None else (" ok" if r["meets_target"] else " MISS")
        print(f"{r['task']:58s} {1e3 * r['cvkit_s']:9.2f} {1e3 * r['reference_s']:9.2f} "
              f"{r['ratio']:6.2f} {tgt:>6s}  {r['reference']}{flag}"
              + (f"  ({r['note']})" if r["note"] else ""))
    meta = {"python": platform.python_version(), "numpy": np.__version__,
            "tensorflow": tf.__version__, "quick": args.quick, "repeats": repeats,
            "size": size, "cpu_count": os.cpu_count(), "blas_threads": args.blas_threads,
            "note": "medians of repeats; shared 2-core machine under load, timings are noisy"}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    flags = (" --quick" if args.quick else "") + (f" --blas-threads {args.blas_threads}"
                                                  if args.blas_threads else "")
    md = ["## Segmentation (issue 7)", "",
          f"`python benchmarks/bench_segmentation.py{flags}`: medians of "
          f"{repeats} runs, cvkit and reference timed in the same run on the same input "
          "(shared 2-core CPU under load: noisy).", "",
          "| task | cvkit (ms) | reference | ref (ms) | ratio | target |",
          "|---|---:|---|---:|---:|---|"]
    for r in rows:
        tgt = "" if r["target_ratio"] is None else (f"<= {r['target_ratio']:.1f}"
                                                    + (" ok" if r["meets_target"] else " MISS"))
        note = f" ({r['note']})" if r["note"] else ""
        md.append(f"| {r['task']}{note} | {1e3 * r['cvkit_s']:.2f} | {r['reference']} | "
                  f"{1e3 * r['reference_s']:.2f} | {r['ratio']:.2f} | {tgt} |")
    try:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text("\n".join(md) + "\n")
    except OSError:
        pass
    return rows


if __name__ == "__main__":
    main()
