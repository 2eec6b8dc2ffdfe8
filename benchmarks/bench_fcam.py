"""Benchmark of F-CAM (cvkit.wsol.fcam): inference cost, the CRF term's cost, and the ablation.

    python benchmarks/bench_fcam.py [--quick] [--repeats 7] [--ablation]

On the zoo's F-CAM model ``shapes_fcam_s8`` (the cheaper U-Net decoder ``LITE_DECODER`` on the
frozen stride-8 MobileNetV2 CAM classifier, 128 px; a fresh decoder when the zoo file is missing,
the timings do not depend on the weights), every ratio measured in one run, medians of
interleaved rounds:

- inference: ``fcam_maps`` for a batch of 32 against the classifier's ``predict`` on the same
  batch (target <= 2x), and the same for the bare compiled forward passes (wall and CPU time),
  with the reference decoder layout (``build_fcam(classifier)``) beside it;
- the CRF term's cost per training step: ``train_on_batch`` on a batch of 32 with
  ``crf_weight=100`` (the zoo's recipe) and with ``crf_weight=0``;
- ``--ablation``: a fresh (zoo-layout) decoder trained 4 epochs on 512 images for each of {full, no CRF, no
  size, neither} (the zoo's recipe otherwise), MaxBoxAcc / MaxBoxAccV2 / PxAP on 200 held-out
  images (``zoo_data``), with the classifier's CAM as the first row (about 12 minutes on 2 CPU
  cores).

Writes ``benchmarks/fcam.json`` (a run without ``--ablation`` keeps the ablation of the previous
file) and ``/tmp/cvkit-results/fcam.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from _timing import _interleaved, _ratio, _timing_rows  # noqa: E402  (benchmarks/ is on sys.path)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
ZOO_NAME = "shapes_fcam_s8"
#: the ablation's variants: name -> the loss switches given to fit_fcam
VARIANTS = {"full (seeds + CRF + size)": {}, "no CRF": {"crf_weight": 0.0},
            "no size": {"size_weight": 0.0}, "seeds only": {"crf_weight": 0.0, "size_weight": 0.0}}


def _recipe():
    """The zoo entry's loss and optimiser settings (without the epochs)."""
    from cvkit.models import ZOO

    return {k: v for k, v in ZOO[ZOO_NAME].train.items() if k != "epochs"}


def _decoder():
    """The zoo entry's decoder options (``LITE_DECODER``)."""
    from cvkit.models import ZOO

    return dict(ZOO[ZOO_NAME].builder_kwargs)


def _models():
    """The zoo F-CAM model (or a fresh one) and its classifier."""
    from cvkit.models import pretrained
    from cvkit.wsol.fcam import build_fcam

    clf = pretrained("shapes_cam_mobilenetv2_s8")
    try:
        return pretrained(ZOO_NAME), clf, "zoo weights"
    except FileNotFoundError:
        return build_fcam(clf, **_decoder()), clf, "fresh decoder (zoo file missing)"


def bench_inference(fcam, clf, x, repeats):
    """fcam_maps against the classifier's predict, and the compiled forward passes (the zoo's
    decoder and the reference layout)."""
    import tensorflow as tf

    from cvkit.wsol.fcam import build_fcam, fcam_maps

    xt = tf.constant(x)
    ref = build_fcam(clf)                                  # the paper's layout, fresh weights
    f_fwd = tf.function(lambda t: fcam(t, training=False)[0])
    r_fwd = tf.function(lambda t: ref(t, training=False)[0])
    c_fwd = tf.function(lambda t: clf(t, training=False))
    t = _interleaved({"clf_predict": lambda: clf.predict(x, batch_size=len(x), verbose=0),
                      "fcam_maps": lambda: fcam_maps(fcam, x, batch_size=len(x)),
                      "clf_fwd": lambda: c_fwd(xt).numpy(),
                      "fcam_fwd": lambda: f_fwd(xt).numpy(),
                      "ref_fwd": lambda: r_fwd(xt).numpy()}, repeats)
    med = {k: float(np.median(v)) for k, v in t.items()}
    fwd = {"clf_fwd": lambda: c_fwd(xt).numpy(), "fcam_fwd": lambda: f_fwd(xt).numpy(),
           "ref_fwd": lambda: r_fwd(xt).numpy()}
    cpu = _interleaved(fwd, repeats, clock=time.process_time)
    n = len(x)
    return [(f"classifier predict, batch {n}", med["clf_predict"], None, None),
            (f"fcam_maps, batch {n}", med["fcam_maps"], _ratio(t, "fcam_maps", "clf_predict"),
             "<= 2 x classifier predict"),
            (f"classifier forward (compiled), batch {n}", med["clf_fwd"], None, None),
            (f"F-CAM forward (compiled), batch {n}", med["fcam_fwd"],
             _ratio(t, "fcam_fwd", "clf_fwd"), "<= 2 x classifier forward"),
            (f"classifier forward (compiled), CPU time, batch {n}",
             float(np.median(cpu["clf_fwd"])), None, None),
            (f"F-CAM forward (compiled), CPU time, batch {n}", float(np.median(cpu["fcam_fwd"])),
             _ratio(cpu, "fcam_fwd", "clf_fwd"), "<= 2 x classifier forward"),
            (f"reference decoder: F-CAM forward (compiled), batch {n}", med["ref_fwd"],
             _ratio(t, "ref_fwd", "clf_fwd"), "x classifier forward"),
            (f"reference decoder: F-CAM forward, CPU time, batch {n}",
             float(np.median(cpu["ref_fwd"])), _ratio(cpu, "ref_fwd", "clf_fwd"),
             "x classifier forward")]


def bench_crf_step(clf, x, y, repeats):
    """One training step with and without the CRF term (fresh decoders, the zoo's recipe)."""
    import keras

    from cvkit.wsol.fcam import build_fcam

    recipe = {k: v for k, v in _recipe().items() if k not in ("batch_size", "lr", "crf_warmup")}
    models = {}
    for name, weight in (("with", recipe.get("crf_weight", 100.0)), ("without", 0.0)):
        keras.utils.set_random_seed(0)
        m = build_fcam(clf, **_decoder())
        m.compile(**{**recipe, "crf_weight": weight})
        models[name] = m
    t = _interleaved({k: (lambda m=m: m.train_on_batch(x, y)) for k, m in models.items()},
                     repeats)
    with_crf, without = float(np.median(t["with"])), float(np.median(t["without"]))
    weight = recipe.get("crf_weight", 100.0)
    return [(f"train step, batch {len(x)}, crf_weight={weight:g}", with_crf,
             _ratio(t, "with", "without"), "x the step without CRF"),
            (f"train step, batch {len(x)}, crf_weight=0", without, None, None),
            ("CRF term per step (difference)", with_crf - without, None, None)]


def run_ablation(clf, n_train=512, epochs=4, n_test=200):
    """Train a fresh decoder per variant and score it; the CAM it starts from is the first row."""
    import keras

    from cvkit.models import zoo_data
    from cvkit.wsol.fcam import build_fcam
    from cvkit.wsol.fcam.zoo import fit_fcam, score_fcam

    train = zoo_data(ZOO_NAME, n_train, seed=7)
    test = zoo_data(ZOO_NAME, n_test)
    rows = []
    for variant, switches in VARIANTS.items():
        keras.utils.set_random_seed(0)
        model = build_fcam(clf, **_decoder())
        t0 = time.perf_counter()
        fit_fcam(model, train, epochs=epochs, **{**_recipe(), **switches})
        seconds = time.perf_counter() - t0
        s = score_fcam(model, test)
        if not rows:
            rows.append({"variant": "CAM (no decoder)", "maxboxacc": s["base_maxboxacc"],
                         "maxboxacc_v2": s["base_maxboxacc_v2"], "pxap": s["base_pxap"],
                         "seconds": 0.0})
        rows.append({"variant": variant, "maxboxacc": s["fcam_maxboxacc"],
                     "maxboxacc_v2": s["fcam_maxboxacc_v2"], "pxap": s["fcam_pxap"],
                     "seconds": seconds})
        print(f"  {variant:26s} MaxBoxAcc {s['fcam_maxboxacc']:5.1f}  PxAP {s['fcam_pxap']:5.1f}  "
              f"({seconds:.0f} s)", flush=True)
    return rows


def _markdown(result):
    """The figures as Markdown (for benchmarks/RESULTS.md)."""
    md = ["## F-CAM (benchmarks/bench_fcam.py)", "",
          f"{result['weights']}, 128 px, median of {result['repeats']} interleaved rounds, "
          f"{result['cpu_count']} shared CPU cores (noisy).", "",
          *_timing_rows(result["timing"])]
    if result.get("ablation"):
        md += ["", "Ablation: 4 epochs on 512 images, 200 held-out images:", "",
               "| variant | MaxBoxAcc | MaxBoxAccV2 | PxAP | train s |", "|---|---:|---:|---:|---:|"]
        md += [f"| {r['variant']} | {r['maxboxacc']:.1f} | {r['maxboxacc_v2']:.1f} | "
               f"{r['pxap']:.1f} | {r['seconds']:.0f} |" for r in result["ablation"]]
    return "\n".join(md) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--ablation", action="store_true", help="also train the four variants")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    import tensorflow as tf

    from cvkit.models import zoo_data

    fcam, clf, weights = _models()
    batch = zoo_data(ZOO_NAME, 32, seed=99)
    rows = bench_inference(fcam, clf, batch.images, repeats)
    rows += bench_crf_step(clf, batch.images, batch.labels, repeats)
    path = HERE / "fcam.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    ablation = run_ablation(clf) if args.ablation else previous.get("ablation")
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    ablation_date = now if args.ablation else previous.get("ablation_date_utc")

    print(f"\nF-CAM ({weights}), 128 px; median of {repeats} interleaved rounds; "
          f"{os.cpu_count()} CPU cores (shared machine: timings are noisy)\n")
    print(f"{'measure':46s} {'seconds':>9s} {'ratio':>7s}  target")
    for name, t, ratio, target in rows:
        print(f"{name:46s} {t:9.3f} {'' if ratio is None else f'{ratio:7.2f}':>7s}  {target or ''}")
    if ablation:
        print(f"\nablation (4 epochs on 512 images; 200 held-out images):\n"
              f"{'variant':28s} {'MaxBoxAcc':>10s} {'V2':>6s} {'PxAP':>6s}")
        for r in ablation:
            print(f"{r['variant']:28s} {r['maxboxacc']:10.1f} {r['maxboxacc_v2']:6.1f} "
                  f"{r['pxap']:6.1f}")

    result = {"weights": weights, "batch": len(batch.images), "repeats": repeats,
              "cpu_count": os.cpu_count(), "platform": platform.platform(),
              "tensorflow": tf.__version__, "date_utc": now,
              "timing": [{"measure": n, "seconds": t, "ratio": r, "target": g}
                         for n, t, r, g in rows],
              "ablation": ablation, "ablation_date_utc": ablation_date}
    path.write_text(json.dumps(result, indent=2))
    out = Path("/tmp/cvkit-results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "fcam.md").write_text(_markdown(result))
    return result


if __name__ == "__main__":
    main()
