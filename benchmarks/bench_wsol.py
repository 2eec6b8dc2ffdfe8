"""Benchmark of cvkit.wsol: speed of the metrics against a loop reference, and a quality table.

Speed: N CAM-like maps (default 1000 at 224 x 224: 7 x 7 random maps up-sampled bicubically, as a
CAM is), the benchmark's full grid of 1000 thresholds, MaxBoxAcc, MaxBoxAccV2 and PxAP, each timed
on its own and all three together (:func:`cvkit.wsol.evaluate_maps`, which builds the component
trees once). The loop reference does what the WSOL benchmark code does (one labelling per image
per threshold, or one pooled count per threshold for PxAP); it is run on a subset in the same
process and extrapolated linearly to N maps, and its IoUs are checked against ours on that subset.

Quality (``--quality``): the zoo's MobileNetV2 CAM classifier (``shapes_cam_mobilenetv2``, trained
on ``shapes`` by :func:`cvkit.models.train_zoo_model`; ``--train`` re-trains it here with the same
recipe), then MaxBoxAcc, MaxBoxAccV2 and PxAP on 500 held-out images for the centre-Gaussian
baseline, CAM, Grad-CAM, Grad-CAM++, Layer-CAM, RISE and Augmented Grad-CAM.

    python benchmarks/bench_wsol.py [--quick] [--quality [--train]] [--n 1000] [--ref-n 8] [--repeats 3]

Writes benchmarks/wsol.json and /tmp/cvkit-results/wsol.md. Timings on a shared machine are noisy:
ratios are measured in one run, times are medians of the repeats.
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

import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cvkit.wsol import (DEFAULT_THRESHOLDS, evaluate_maps, max_box_acc, max_box_acc_v2,  # noqa: E402
                        pxap)

S8 = np.ones((3, 3), bool)


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def make_maps(n, size=224, seed=0):
    """CAM-like maps (ReLU of a 7x7 Gaussian field, bicubic x32), one or two true boxes, masks."""
    rng = np.random.default_rng(seed)
    low = np.maximum(rng.normal(size=(n, 7, 7)) + 0.3, 0)
    cams = np.stack([ndi.zoom(m, size / 7, order=3) for m in low]).astype(np.float32)
    gts, masks = [], np.zeros((n, size, size), bool)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        boxes = []
        for _ in range(rng.integers(1, 3)):
            w, h = rng.integers(size // 6, size // 2, size=2)
            x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
            boxes.append([x0, y0, x0 + w - 1, y0 + h - 1])
            cx, cy = x0 + (w - 1) / 2, y0 + (h - 1) / 2
            masks[i] |= ((xx - cx) / (w / 2)) ** 2 + ((yy - cy) / (h / 2)) ** 2 <= 1
        gts.append(np.array(boxes))
    return cams, gts, masks


# ----------------------------------------------------------------------------------------------
# the loop reference (what the benchmark's code does, without OpenCV)
# ----------------------------------------------------------------------------------------------
def _norm(c):
    lo, hi = c.min(), c.max()
    return ((c - lo) / (hi - lo)).astype(np.float32) if hi > lo else np.zeros_like(c)


def _iou(a, gts):
    best = 0.0
    for b in gts:
        iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
        ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
        inter = max(iw, 0) * max(ih, 0)
        union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
        best = max(best, inter / union)
    return best


def loop_box_ious(cams, gts, thresholds, multi):
    out = np.zeros((len(cams), len(thresholds)))
    for i, cam in enumerate(cams):
        u = (_norm(cam) * np.float32(255)).astype(np.uint8)
        for k, t in enumerate(thresholds):
            lab, n = ndi.label(u > int(t * u.max()), structure=S8)
            if n == 0:
                continue
            sl = ndi.find_objects(lab)
            boxes = [(s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1) for s in sl]
            if not multi:
                boxes = [boxes[int(np.argmax(np.bincount(lab.ravel())[1:]))]]
            out[i, k] = max(_iou(b, gts[i]) for b in boxes)
    return out


def loop_pxap(cams, masks, thresholds):
    s = np.stack([_norm(c) for c in cams])
    pos = masks.sum()
    prec, rec = [], []
    for t in list(thresholds[::-1]):
        pred = s >= t
        tp = np.count_nonzero(pred & masks)
        npred = np.count_nonzero(pred)
        prec.append(tp / npred if npred else np.nan)
        rec.append(tp / pos)
    prec, rec = np.array(prec), np.array(rec)
    return prec, rec


# ----------------------------------------------------------------------------------------------
CPU = {}


def timed(fn, repeats, key=None):
    """Median wall time of ``repeats`` runs; the median CPU time of this process goes to CPU[key]."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if key:
        CPU[key] = statistics.median(cpu)
    return statistics.median(times), out


def speed(n, ref_n, repeats, seed=0):
    th = DEFAULT_THRESHOLDS
    t0 = time.perf_counter()
    cams, gts, masks = make_maps(n, seed=seed)
    print(f"made {n} maps of 224x224 in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = {}
    t_mba, r1 = timed(lambda: max_box_acc(cams, gts), repeats, "max_box_acc")
    print(f"  max_box_acc     {t_mba:7.2f} s  score {r1.score:.2f}", flush=True)
    t_v2, r2 = timed(lambda: max_box_acc_v2(cams, gts), repeats, "max_box_acc_v2")
    print(f"  max_box_acc_v2  {t_v2:7.2f} s  score {r2.score:.2f}", flush=True)
    t_px, r3 = timed(lambda: pxap(cams, masks), repeats, "pxap")
    print(f"  pxap            {t_px:7.2f} s  score {r3.score:.2f}", flush=True)
    t_all, rep = timed(lambda: evaluate_maps(cams, gts, masks=masks, keep_maps=False), repeats,
                        "all")
    print(f"  evaluate_maps   {t_all:7.2f} s  (all three, shared trees)", flush=True)
    assert abs(rep.max_box_acc.score - r1.score) < 1e-9 and abs(rep.pxap.score - r3.score) < 1e-9

    sub = slice(0, ref_n)
    t_lb, ious_l = timed(lambda: loop_box_ious(cams[sub], gts[sub], th, False), 1)
    t_lv, ious_a = timed(lambda: loop_box_ious(cams[sub], gts[sub], th, True), 1)
    t_lp, (prec, rec) = timed(lambda: loop_pxap(cams[sub], masks[sub], th), 1)
    ours_sub = max_box_acc(cams[sub], gts[sub])
    ours_sub_v2 = max_box_acc_v2(cams[sub], gts[sub])
    ours_px = pxap(cams[sub], masks[sub])
    agree = (np.abs(ours_sub.ious - ious_l).max() < 1e-6 and np.abs(ours_sub_v2.ious - ious_a).max() < 1e-6
             and np.allclose(ours_px.recall[::-1], rec) and np.allclose(ours_px.precision[::-1], prec,
                                                                       equal_nan=True))
    scale = n / ref_n
    ref = {"max_box_acc": t_lb * scale, "max_box_acc_v2": t_lv * scale, "pxap": t_lp * scale}
    print(f"  loop reference on {ref_n} maps: {t_lb:.1f} / {t_lv:.1f} / {t_lp:.1f} s "
          f"-> extrapolated x{scale:.0f}; results agree: {agree}", flush=True)
    ours = {"max_box_acc": t_mba, "max_box_acc_v2": t_v2, "pxap": t_px}
    for k in ours:
        rows[k] = {"ours_s": ours[k], "ours_cpu_s": CPU[k], "loop_s_extrapolated": ref[k],
                   "speedup": ref[k] / ours[k]}
    rows["all_three_separately"] = {"ours_s": t_mba + t_v2 + t_px,
                                    "ours_cpu_s": sum(CPU[k] for k in ours),
                                    "loop_s_extrapolated": sum(ref.values()),
                                    "speedup": sum(ref.values()) / (t_mba + t_v2 + t_px)}
    rows["evaluate_maps (shared)"] = {"ours_s": t_all, "ours_cpu_s": CPU["all"],
                                      "loop_s_extrapolated": sum(ref.values()),
                                      "speedup": sum(ref.values()) / t_all}
    return {"n_maps": n, "size": 224, "n_thresholds": len(th), "ref_n": ref_n, "repeats": repeats,
            "agree_on_subset": bool(agree), "rows": rows,
            "scores": {"MaxBoxAcc": r1.score, "MaxBoxAccV2": r2.score, "PxAP": r3.score}}


# ----------------------------------------------------------------------------------------------
ZOO_NAME = "shapes_cam_mobilenetv2_s8"   # GAP after stride 8: 16 x 16 maps


def quality(n_test, rise_masks, aug_copies, train=False, seed=0, name=ZOO_NAME):
    """WSOL table of the zoo's MobileNetV2 CAM classifier on held-out ``shapes``.

    ``train=True`` re-trains it first with :func:`cvkit.models.train_zoo_model` (the recipe that
    made the shipped weights; about half an hour on 2 CPU cores) into a temporary folder.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    from cvkit.explain import augmented_grad_cam
    from cvkit.models import ZOO, pretrained, train_zoo_model, zoo_card, zoo_data
    from cvkit.wsol import evaluate, report_table

    entry = ZOO[name]
    if train:
        tmp = tempfile.mkdtemp()
        _, card = train_zoo_model(name, tmp)
        model = pretrained(name, tmp)
    else:
        card = zoo_card(name)
        model = pretrained(name)
    test = zoo_data(name, n_test)
    acc = float(np.mean(model.predict(test.images, verbose=0).argmax(1) == test.labels))
    print(f"{name}: held-out accuracy {acc:.3f} on {n_test} images", flush=True)
    size = entry.image_size
    reports, times = [], {}
    methods = [("center_gaussian", {}), ("cam", {}), ("grad_cam", {}), ("grad_cam_plus_plus", {}),
               ("layer_cam", {})]
    if rise_masks:     # N x n_masks forward passes: the slowest row by far on a CPU
        methods.append(("rise", {"n_masks": rise_masks, "seed": seed}))
    # evaluate() takes the callable as it is: (model, images, class_index=...) -> maps
    if aug_copies:
        methods += [(augmented_grad_cam, {"n_augmentations": aug_copies,
                                          "max_shift": 30 * size / 224, "seed": seed})]
    for method, kw in methods:
        name = getattr(method, "__name__", method)
        t0 = time.perf_counter()
        rep = evaluate(model if name != "center_gaussian" else None, test, method,
                       method_kwargs=kw, keep_maps=False)
        times[name] = time.perf_counter() - t0
        reports.append(rep)
        print(f"  {name:20s} {times[name]:6.1f} s  MaxBoxAcc {rep.max_box_acc.score:5.1f}  "
              f"V2 {rep.max_box_acc_v2.score:5.1f}  PxAP {rep.pxap.score:5.1f}", flush=True)
    table = report_table(reports)
    print(table)
    return {"model": name, "description": entry.description, "data": entry.preset,
            "n_test": n_test, "image_size": size, "retrained": bool(train),
            "card": {"n_train": card["n_train"], "epochs": card["train"]["epochs"],
                     "train_seconds": card["train_seconds"], "held_out": card["held_out"]},
            "test_accuracy": acc, "rise_masks": rise_masks, "aug_copies": aug_copies,
            "methods": {r.method: r.summary() for r in reports}, "eval_s": times, "table": table}


def markdown(res):
    lines = ["## WSOL evaluation (`benchmarks/bench_wsol.py`)", ""]
    sp = res.get("speed")
    if sp:
        lines += [f"Speed: {sp['n_maps']} CAM-like maps of 224x224, {sp['n_thresholds']} thresholds, "
                  f"median of {sp['repeats']} runs; loop reference (one labelling per image per "
                  f"threshold, as the benchmark code) run on {sp['ref_n']} maps in the same process and "
                  f"extrapolated linearly; results identical on that subset: {sp['agree_on_subset']}. "
                  "Shared 2-core machine under load from other jobs: times are noisy.", "",
                  "| metric | cvkit wall (s) | cvkit CPU (s) | loop reference wall (s, extrapolated) "
                  "| speed-up (wall) |",
                  "|---|---:|---:|---:|---:|"]
        for k, r in sp["rows"].items():
            lines.append(f"| {k} | {r['ours_s']:.1f} | {r['ours_cpu_s']:.1f} | "
                         f"{r['loop_s_extrapolated']:.0f} | {r['speedup']:.0f}x |")
        lines.append("")
    q = res.get("quality")
    if q:
        lines += [f"Quality on `shapes` ({q['n_test']} held-out images at {q['image_size']} px, "
                  f"preset {q['data']!r}; the zoo's `{q['model']}` ({q['description']}), trained "
                  f"{q['card']['epochs']} epochs on {q['card']['n_train']} images with "
                  "`cvkit.models.train_zoo_model`"
                  f"{' in this run' if q['retrained'] else ''}; held-out accuracy "
                  f"{q['test_accuracy']:.3f}; GT-known maps; "
                  f"{'RISE with ' + str(q['rise_masks']) + ' masks' if q['rise_masks'] else 'RISE left out (time)'}; Augmented Grad-CAM with L = {q['aug_copies']} and "
                  "FISTA):", "",
                  "| method | MaxBoxAcc | MaxBoxAccV2 | PxAP | top-1 loc | eval time (s) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for m, s in q["methods"].items():
            top1 = s.get("top-1 loc")
            lines.append(f"| {m} | {s['MaxBoxAcc']:.1f} | {s['MaxBoxAccV2']:.1f} | {s['PxAP']:.1f} | "
                         f"{'-' if top1 is None else f'{top1:.1f}'} | {q['eval_s'][m]:.1f} |")
        lines += [""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 maps, 1 repeat, small quality run")
    ap.add_argument("--n", type=int, default=None, help="number of maps (default 1000, quick 200)")
    ap.add_argument("--ref-n", type=int, default=None, help="maps for the loop reference (default 8)")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3, quick 1)")
    ap.add_argument("--quality", action="store_true",
                    help="also fill the quality table with the zoo's MobileNetV2 CAM classifier")
    ap.add_argument("--n-test", type=int, default=500, help="held-out images of the quality table")
    ap.add_argument("--rise-masks", type=int, default=500,
                    help="RISE masks per image in the quality table (0 leaves RISE out)")
    ap.add_argument("--train", action="store_true",
                    help="re-train that classifier with its zoo recipe first (about 30 min)")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed part")
    ap.add_argument("--model", default=ZOO_NAME, help=f"zoo entry to explain (default {ZOO_NAME})")
    ap.add_argument("--aug-copies", type=int, default=32,
                    help="Augmented Grad-CAM copies in the quality table (0 leaves it out)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "wsol.json"))
    args = ap.parse_args(argv)
    n = args.n or (200 if args.quick else 1000)
    ref_n = args.ref_n or (4 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 3)
    res = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "numpy": np.__version__}}
    if not args.no_speed:
        res["speed"] = speed(n, ref_n, repeats)
        print("\n| metric                   | wall (s) |  CPU (s) | loop ref (s) | speed-up |")
        for k, r in res["speed"]["rows"].items():
            print(f"| {k:24s} | {r['ours_s']:8.2f} | {r['ours_cpu_s']:8.2f} | "
                  f"{r['loop_s_extrapolated']:12.0f} | {r['speedup']:7.0f}x |")
    if args.quality:
        if args.quick:
            res["quality"] = quality(40, 200, 8, args.train, name=args.model)
        else:
            res["quality"] = quality(args.n_test, args.rise_masks, args.aug_copies, args.train,
                                     name=args.model)
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    old.update(res)
    out.write_text(json.dumps(old, indent=2, default=float))
    md = Path("/tmp/cvkit-results")
    md.mkdir(parents=True, exist_ok=True)
    (md / "wsol.md").write_text(markdown(old))
    print(f"\nwrote {out} and {md / 'wsol.md'}")


if __name__ == "__main__":
    main()
