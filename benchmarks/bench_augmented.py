"""Augmented Grad-CAM: super-resolution quality, solver speed, whole-method time.

    python benchmarks/bench_augmented.py [--quick] [--wsol-only | --whole-only]

1. Known-answer super-resolution at 224 px, L = 100, factor 32 (7 x 7 maps): PSNR and IoU (maps
   thresholded at half their max) of bilinear up-sampling of the identity view, the warped-back
   max / mean, the authors' 200 Adam steps, the subgradient method and FISTA (medians over seeds).
2. Solver race on seed 0: time for FISTA to reach the subgradient method's final objective, and a
   plot of the objective against time for the three solvers (benchmarks/augmented_convergence.png).
3. Whole ``augmented_grad_cam`` (solver='fista') of one 224 px image, L = 100, MobileNetV2
   (weights=None), against a plain implementation of the authors' scheme: the same Grad-CAMs,
   then 200 Adam steps with one compiled step per iteration that warps the L copies and averages
   them (autodiff for the gradient), as their TF1 code runs one session call per iteration. Both
   objectives are evaluated with the same function.
4. ``--wsol-only [--wsol-model NAME] [--wsol-n N] [--wsol-copies L]``: MaxBoxAcc / PxAP on held-out
   ``shapes`` of a zoo classifier (default the fine-map ``shapes_cam_mobilenetv2_s8``, 16 x 16
   maps at 128 px): Grad-CAM, ``augmented_grad_cam`` with its defaults (20 subgradient steps),
   the warp-back mean and max, and the paper's objective solved to convergence (FISTA, with
   ``downsample='area'`` and with the authors' bilinear D) and by the authors' 200 Adam steps, all
   from the same L Grad-CAMs per image.

Prints a table, writes benchmarks/augmented.json and /tmp/cvkit-results/augmented.md. The machine
is shared: timings are noisy, ratios are taken in one run.
"""
import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def psnr(x, ref):
    return float(10 * np.log10(1.0 / np.mean((x - ref) ** 2)))


def iou(x, ref, t=0.5):
    a, b = x >= t * x.max(), ref >= t
    return float((a & b).sum() / max((a | b).sum(), 1))


def quality(seeds, sub_iters):
    from cvkit.explain import augmented as A

    rows = {}
    race = None
    for seed in seeds:
        h_true, g, p = A.synthetic_superresolution_problem(224, 7, 100, seed=seed)
        op = A.AugmentationOperator(p, 224, 7)
        n = len(p)
        maps = {
            "bilinear (Grad-CAM)": A.upsample_baseline(g, 224),
            "warped-back max": A.warp_back_baseline(g, p, 224, "max"),
            "warped-back mean": A.warp_back_baseline(g, p, 224, "mean"),
        }
        infos = {}
        for name, kw in (("adam (authors, 200 steps)", dict(solver="adam")),
                         ("subgradient", dict(solver="subgradient", iterations=sub_iters)),
                         ("fista", dict(solver="fista", iterations=300, tol=1e-5)),
                         ("fista, authors' 0.002L / 0.0001L",
                          dict(solver="fista", iterations=300, tol=1e-5,
                               lambda_tv=0.002 * n, lambda_energy=0.0001 * n))):
            h, info = A.superresolve(g, p, 224, operator=op, **kw)
            maps[name] = h
            infos[name] = info
        for name, m in maps.items():
            rows.setdefault(name, []).append((psnr(m, h_true), iou(m, h_true)))
        if race is None:
            race = infos
        print(f"  seed {seed}: " + ", ".join(f"{k} {psnr(v, h_true):.2f} dB"
                                              for k, v in maps.items()), flush=True)
    table = {k: {"psnr_db": statistics.median(r[0] for r in v),
                 "iou": statistics.median(r[1] for r in v),
                 "psnr_all": [r[0] for r in v]} for k, v in rows.items()}
    return table, race


def solver_race(infos, out_png):
    sub, fista = infos["subgradient"], infos["fista"]
    target = sub["final_objective"]
    reached = np.nonzero(np.minimum.accumulate(fista["objective"]) <= target)[0]
    t_fista = float(fista["times"][reached[0]]) if len(reached) else float("nan")
    t_sub = float(sub["times"][-1])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name in ("subgradient", "adam (authors, 200 steps)", "fista"):
        info = infos[name]
        ax.semilogy(info["times"], np.minimum.accumulate(info["objective"]), label=name)
    ax.axhline(target, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("seconds (solver loop)")
    ax.set_ylabel("best objective")
    ax.set_title("224 px, L = 100, factor 32")
    ax.legend()
    fig.savefig(out_png, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return {"subgradient_iterations": sub["iterations"], "subgradient_time_s": t_sub,
            "subgradient_final_objective": target,
            "fista_time_to_subgradient_final_s": t_fista,
            "fista_iterations_to_subgradient_final": int(reached[0]) + 1 if len(reached) else None,
            "fista_final_objective": fista["final_objective"],
            "fista_iterations": fista["iterations"], "fista_time_s": float(fista["times"][-1]),
            "adam_final_objective": infos["adam (authors, 200 steps)"]["final_objective"],
            "speedup": t_sub / t_fista if t_fista == t_fista else None}


def plain_authors_scheme(g, params, size, lambda_tv, lambda_energy, steps=200):
    """200 Adam steps (lr 1e-3, from zero), one compiled step per iteration, direct operator."""
    import keras
    import tensorflow as tf

    from cvkit.explain.augmented.warp import _warp

    n, m = g.shape[0], g.shape[1]
    s = size // m
    g_t = tf.constant(g)
    p_t = tf.constant(params)
    h = tf.Variable(tf.zeros([size, size]))
    opt = keras.optimizers.Adam(1e-3, epsilon=1e-8)   # TF1 AdamOptimizer defaults

    def objective(x):
        warped = _warp(x[None, :, :, None], p_t, True)[..., 0]
        low = tf.reduce_mean(tf.reshape(warped, [n, m, s, m, s]), axis=[2, 4])
        tv = (tf.reduce_sum(tf.abs(x[1:] - x[:-1])) + tf.reduce_sum(tf.abs(x[:, 1:] - x[:, :-1])))
        return tf.reduce_sum((low - g_t) ** 2) + lambda_tv * tv + lambda_energy * tf.reduce_sum(x * x)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            f = objective(h)
        opt.apply_gradients([(tape.gradient(f, h), h)])
        return f

    for _ in range(steps):
        step()
    return h.numpy()


def whole_method(repeats):
    import keras
    from skimage import data as skdata, transform

    from cvkit.explain import augmented as A

    img = transform.resize(skdata.astronaut(), (224, 224), anti_aliasing=True).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None)
    # FISTA to convergence: this part compares the objective reached with the authors' scheme
    kw = dict(n_augmentations=100, max_angle=0.5, max_shift=30, solver="fista", seed=0)
    A.augmented_grad_cam(model, img, **kw, iterations=3)             # warm-up: tracing
    # a cold call: augmentations never seen before, so the operator is built in the call
    t0 = time.perf_counter()
    _, cold = A.augmented_grad_cam(model, img, return_info=True, **{**kw, "seed": 1})
    t_cold = time.perf_counter() - t0
    # the calls timed below use seed 0 again: its operator, built by the warm-up, is still cached
    times, infos = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out, info = A.augmented_grad_cam(model, img, return_info=True, **kw)
        times.append(time.perf_counter() - t0)
        infos.append(info)
    info = infos[-1]
    g, p = info["low_res_maps"], info["params"]
    # the plain scheme: same Grad-CAMs (time them again), then 200 compiled Adam steps
    from cvkit.explain.gradcam import grad_cam

    plain_authors_scheme(g, p, 224, info["lambda_tv"], info["lambda_energy"], steps=2)  # trace
    t0 = time.perf_counter()
    copies = A.augment(img, p)
    gc = grad_cam(model, copies, class_index=info["class_index"], upsample=False, normalize=False)
    gc = gc / np.maximum(gc.reshape(len(p), -1).max(axis=1), 1e-12)[:, None, None]
    h_plain = plain_authors_scheme(gc.astype(np.float32), p, 224, info["lambda_tv"],
                                   info["lambda_energy"])
    t_plain = time.perf_counter() - t0
    op = A.AugmentationOperator(p, 224, g.shape[1:])
    f_plain = A.superresolution_objective(h_plain, g, p, lambda_tv=info["lambda_tv"],
                                          lambda_energy=info["lambda_energy"], operator=op)
    return {"ours_time_s": statistics.median(times), "ours_times_s": times,
            "ours_cold_time_s": t_cold,
            "ours_cold_breakdown_s": {k: cold[k] for k in ("time_augment", "time_gradcam",
                                                           "time_solve")},
            "ours_breakdown_s": {k: info[k] for k in ("time_augment", "time_gradcam",
                                                      "time_solve")},
            "ours_solver_iterations": info["iterations"],
            "ours_objective": info["final_objective"],
            "plain_time_s": t_plain, "plain_objective": f_plain,
            "speedup": t_plain / statistics.median(times)}


#: the variants of the WSOL comparison: label -> how the map is made from the L Grad-CAMs
#: ('mean' / 'max': warp-back baselines; a dict: superresolve's keyword arguments). The default of
#: augmented_grad_cam (20 subgradient steps) is its own row.
WSOL_VARIANTS = {
    "warp-back mean": "mean",
    "warp-back max": "max",
    "same objective, FISTA to convergence": dict(solver="fista"),
    "same objective with the authors' D (bilinear), FISTA to convergence":
        dict(solver="fista", downsample="bilinear"),
    "same objective, the authors' 200 Adam steps": dict(solver="adam"),
}


def _variant_maps(g, p, size, how):
    """Maps (N, H, W) of one variant from the per-image Grad-CAMs ``g`` and its seconds/image."""
    from cvkit.explain import augmented as A
    from cvkit.explain.upsample import normalize_maps

    t0 = time.perf_counter()
    if isinstance(how, str):
        maps, objective = [A.warp_back_baseline(gi, p, size, how) for gi in g], None
    else:
        res = [A.superresolve(gi, p, size, **how) for gi in g]
        maps = [r[0] for r in res]
        objective = float(np.median([r[1]["final_objective"] for r in res]))
    return normalize_maps(np.stack(maps)), objective, (time.perf_counter() - t0) / len(g)


def wsol_comparison(name, n_test, n_aug, seed=None):
    """MaxBoxAcc / PxAP (GT-known) on held-out shapes of zoo entry ``name``: Grad-CAM, the
    default ``augmented_grad_cam`` (20 subgradient steps), the warp-back baselines and the paper's
    objective solved other ways (FISTA to convergence with D = 'area' and with the authors'
    bilinear D, the authors' 200 Adam steps), every row from the same L Grad-CAMs per image. Also
    the median objective each reaches, to relate localization to how well the problem is solved."""
    from cvkit.explain import augmented as A
    from cvkit.explain.gradcam import grad_cam
    from cvkit.models import ZOO, pretrained, zoo_data
    from cvkit.wsol import max_box_acc, pixel_boxes, pxap

    size = ZOO[name].image_size
    model = pretrained(name)
    test = zoo_data(name, n_test, seed=seed)
    acc = float(np.mean(model.predict(test.images, verbose=0).argmax(1) == test.labels))
    gt = pixel_boxes(test.boxes, size)[:, None]
    t0 = time.perf_counter()
    cams = grad_cam(model, test.images, class_index=test.labels)
    t_cam = (time.perf_counter() - t0) / n_test
    A.augmented_grad_cam(model, test.images[:1], class_index=test.labels[:1],     # warm-up
                         n_augmentations=n_aug, max_shift=30 * size / 224, seed=0)
    t0 = time.perf_counter()
    aug, infos = A.augmented_grad_cam(model, test.images, class_index=test.labels,
                                      n_augmentations=n_aug, max_shift=30 * size / 224, seed=0,
                                      return_info=True)
    t_aug = (time.perf_counter() - t0) / n_test
    g = [i["low_res_maps"] for i in infos]
    p = infos[0]["params"]
    default = f"augmented_grad_cam() defaults ({int(np.median([i['iterations'] for i in infos]))}" \
              f" {infos[0]['solver']} steps)"
    rows = {"Grad-CAM (bilinear)": (cams, None, t_cam),
            default: (aug, float(np.median([i["final_objective"] for i in infos])), t_aug)}
    for label, how in WSOL_VARIANTS.items():
        rows[label] = _variant_maps(g, p, size, how)
        print(f"  {label}: {rows[label][2]:.3f} s/image", flush=True)
    table = {k: {"maxboxacc": float(max_box_acc(m, gt).score),
                 "pxap": float(pxap(m, test.masks).score), "median_objective": f,
                 "s_per_image": t}
             for k, (m, f, t) in rows.items()}
    return {"model": name, "test_accuracy": acc, "test_images": n_test, "image_size": size,
            "map_size": list(g[0].shape[1:]), "n_augmentations": n_aug, "table": table,
            "default": default,
            "maxboxacc_grad_cam": table["Grad-CAM (bilinear)"]["maxboxacc"],
            "maxboxacc_augmented": table[default]["maxboxacc"],
            "median_data_energy": float(np.median([np.sum(gi ** 2) for gi in g])),
            "load_average": os.getloadavg()}


def whole_line(whole):
    b, c = whole["ours_breakdown_s"], whole["ours_cold_breakdown_s"]
    return (f"Whole `augmented_grad_cam` (MobileNetV2 weights=None, 224 px, L = 100): "
            f"{whole['ours_time_s']:.2f} s median of {len(whole['ours_times_s'])} calls with the "
            f"operator cached (augment {b['time_augment']:.2f} s, Grad-CAMs "
            f"{b['time_gradcam']:.2f} s, solver {b['time_solve']:.2f} s, "
            f"{whole['ours_solver_iterations']} FISTA iterations), objective "
            f"{whole['ours_objective']:.2f}; {whole['ours_cold_time_s']:.2f} s for a call with new "
            f"augmentations (operator built in the call: solve {c['time_solve']:.2f} s). Plain "
            f"authors' scheme (same Grad-CAMs, 200 compiled Adam steps) "
            f"{whole['plain_time_s']:.1f} s, objective {whole['plain_objective']:.2f}: "
            f"{whole['speedup']:.1f}x faster.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one seed, shorter runs")
    ap.add_argument("--wsol-only", action="store_true",
                    help="only the MaxBoxAcc comparison on shapes (merged into the JSON)")
    ap.add_argument("--wsol-copies", type=int, default=32,
                    help="L for the MaxBoxAcc comparison (32, as bench_wsol and notebook 04)")
    ap.add_argument("--wsol-model", default="shapes_cam_mobilenetv2_s8",
                    help="zoo entry of the MaxBoxAcc comparison (default: the fine-map classifier)")
    ap.add_argument("--wsol-n", type=int, default=None,
                    help="held-out images of the MaxBoxAcc comparison (200; 64 with --quick)")
    ap.add_argument("--whole-only", action="store_true",
                    help="only the whole-method timing (merged into the JSON)")
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    if args.whole_only:
        whole = whole_method(1 if args.quick else 3)
        for k, v in whole.items():
            print(f"  {k}: {v}")
        out = here / "augmented.json"
        result = json.loads(out.read_text()) if out.exists() else {}
        result["whole_method"] = whole
        result["whole_method_load_average"] = os.getloadavg()
        out.write_text(json.dumps(result, indent=1, default=float))
        print(whole_line(whole))
        return
    if args.wsol_only:
        n = args.wsol_n or (64 if args.quick else 200)
        t0 = time.perf_counter()
        w = wsol_comparison(args.wsol_model, n, args.wsol_copies)
        w["total_s"] = time.perf_counter() - t0
        print(f"{'map':64s} {'MaxBoxAcc':>9s} {'PxAP':>6s} {'objective':>9s} {'s/img':>6s}")
        for k, r in w["table"].items():
            f = "" if r["median_objective"] is None else f"{r['median_objective']:.2f}"
            print(f"{k:64s} {r['maxboxacc']:9.1f} {r['pxap']:6.1f} {f:>9s} "
                  f"{r['s_per_image']:6.3f}")
        print(f"total {w['total_s']:.0f} s")
        out = here / "augmented.json"
        result = json.loads(out.read_text()) if out.exists() else {}
        wsol = result.get("wsol_shapes", {})
        result["wsol_shapes"] = {**(wsol if "table" not in wsol else {}), w["model"]: w}
        out.write_text(json.dumps(result, indent=1, default=float))
        md = Path("/tmp/cvkit-results/augmented.md")
        text = md.read_text() if md.exists() else ""
        text += (f"\nOn `shapes` ({w['image_size']} px, GT-known, {w['test_images']} held-out "
                 f"images; the zoo's `{w['model']}`, held-out accuracy {w['test_accuracy']:.1%}; "
                 f"{w['map_size'][0]} x {w['map_size'][1]} maps, L = {w['n_augmentations']}; "
                 f"median data energy sum g^2 {w['median_data_energy']:.1f}):\n\n"
                 "| map | MaxBoxAcc | PxAP | median objective | s / image |"
                 "\n|---|---:|---:|---:|---:|\n")
        for k, r in w["table"].items():
            f = "" if r["median_objective"] is None else f"{r['median_objective']:.2f}"
            text += (f"| {k} | {r['maxboxacc']:.1f} | {r['pxap']:.1f} | {f} | "
                     f"{r['s_per_image']:.2f} |\n")
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(text)
        return
    seeds = [0] if args.quick else [0, 1, 2]
    sub_iters = 200 if args.quick else 500
    t_all = time.perf_counter()

    print("1. known-answer super-resolution, 224 px, L = 100, factor 32", flush=True)
    table, race_infos = quality(seeds, sub_iters)
    base = table["bilinear (Grad-CAM)"]["psnr_db"]
    print(f"{'method':36s} {'PSNR dB':>8s} {'vs bilinear':>11s} {'IoU':>6s}")
    for name, r in table.items():
        print(f"{name:36s} {r['psnr_db']:8.2f} {r['psnr_db'] - base:+11.2f} {r['iou']:6.3f}")

    print("2. solver race (seed 0)", flush=True)
    race = solver_race(race_infos, here / "augmented_convergence.png")
    for k, v in race.items():
        print(f"  {k}: {v}")

    partial = {"quality_224_L100_factor32": table, "solver_race": race, "quick": args.quick,
               "seeds": seeds}
    (here / "augmented.json").write_text(json.dumps(partial, indent=1, default=float))

    print("3. whole augmented_grad_cam, MobileNetV2 224 px, L = 100", flush=True)
    whole = whole_method(1 if args.quick else 3)
    for k, v in whole.items():
        print(f"  {k}: {v}")

    result = {"quality_224_L100_factor32": table, "solver_race": race, "whole_method": whole,
              "quick": args.quick, "seeds": seeds, "total_s": time.perf_counter() - t_all,
              "load_average": os.getloadavg()}
    (here / "augmented.json").write_text(json.dumps(result, indent=1, default=float))

    lines = ["## Augmented Grad-CAM (`benchmarks/bench_augmented.py`)", "",
             f"2 shared CPU cores (load average {os.getloadavg()[0]:.1f} at the end: timings are "
             "noisy, ratios measured in one run). Synthetic known-answer problem: 224 px, "
             f"L = 100, factor 32 (7 x 7 maps), median over seeds {seeds}.", "",
             "| method | PSNR (dB) | vs bilinear | IoU |", "|---|---|---|---|"]
    for name, r in table.items():
        lines.append(f"| {name} | {r['psnr_db']:.2f} | {r['psnr_db'] - base:+.2f} | "
                     f"{r['iou']:.3f} |")
    lines += ["", f"Solver race (seed 0): subgradient {race['subgradient_iterations']} iterations "
              f"in {race['subgradient_time_s']:.1f} s to objective "
              f"{race['subgradient_final_objective']:.2f}; FISTA reaches it after "
              f"{race['fista_iterations_to_subgradient_final']} iterations, "
              f"{race['fista_time_to_subgradient_final_s']:.2f} s "
              f"({race['speedup']:.0f}x faster), and ends at {race['fista_final_objective']:.2f} "
              f"after {race['fista_iterations']} iterations; the authors' 200 Adam steps end at "
              f"{race['adam_final_objective']:.2f}. Plot: `benchmarks/augmented_convergence.png`.",
              "", whole_line(whole)]
    res = Path("/tmp/cvkit-results")
    res.mkdir(parents=True, exist_ok=True)
    (res / "augmented.md").write_text("\n".join(lines) + "\n")
    print(f"total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
