"""Benchmark of Perception Visualization (cvkit.explain.perception): the cost of a PV.

    python benchmarks/bench_perception.py [--quick] [--repeats 7]

On the zoo's decoder ``shapes_perception_mobilenetv2`` (the frozen stride-32 MobileNetV2
classifier, 128 px; a fresh decoder when the zoo file is missing, the timings do not depend on the
weights), every ratio measured in one run, medians of per-round ratios of interleaved rounds, a
batch of 32 images:

- the reference: the classifier's forward + backward pass (compiled: the logits and the gradient
  of the predicted class's score with respect to the input images);
- ``perception_visualization`` (Grad-CAM map, reconstruction, PV blend; target <= 3x the
  reference), also with ``classify_reconstruction=True`` (one more classifier forward pass);
- ``cvkit.explain.grad_cam`` alone, and the decoder's forward pass alone (compiled);
- one training step of the decoder (``train_on_batch``), for the training-time budget.

Writes ``benchmarks/perception.json`` and ``/tmp/cvkit-results/perception.md``.
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
ZOO_NAME = "shapes_perception_mobilenetv2"


def _model():
    """The zoo decoder (or a fresh one on the zoo classifier) and where it came from."""
    from cvkit.explain.perception.zoo import perception_builder
    from cvkit.models import pretrained

    try:
        return pretrained(ZOO_NAME), "zoo weights"
    except FileNotFoundError:
        return perception_builder(4, (128, 128, 3)), "fresh decoder (zoo file missing)"


def _reference_pass(classifier):
    """Compiled forward + backward of the classifier: logits and d y^c / d x."""
    import tensorflow as tf

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = classifier(x, training=False)
            top = tf.reduce_max(scores, axis=-1)
        return scores, tape.gradient(top, x)

    return run


def bench_pv(model, x, repeats):
    import tensorflow as tf

    from cvkit.explain import grad_cam, perception_visualization
    from cvkit.models import pretrained

    clf = pretrained("shapes_cam_mobilenetv2")        # the classifier the decoder inverts
    xt = tf.constant(x)
    ref = _reference_pass(clf)
    dec = model.get_layer("decoder")
    feats = tf.constant(model.classifier.predict(x, verbose=0)[0])
    dec_fwd = tf.function(lambda a: dec(a, training=False))
    n = len(x)
    t = _interleaved({
        "reference": lambda: [v.numpy() for v in ref(xt)],
        "pv": lambda: perception_visualization(model, x, batch_size=n),
        "pv_classified": lambda: perception_visualization(model, x, batch_size=n,
                                                          classify_reconstruction=True),
        "grad_cam": lambda: grad_cam(clf, x, batch_size=n),
        "decoder": lambda: dec_fwd(feats).numpy()}, repeats)
    med = {k: float(np.median(v)) for k, v in t.items()}
    return [(f"classifier forward + backward, batch {n}", med["reference"], None, None),
            (f"perception_visualization, batch {n}", med["pv"], _ratio(t, "pv", "reference"),
             "<= 3 x forward + backward"),
            ("  + classify_reconstruction", med["pv_classified"],
             _ratio(t, "pv_classified", "reference"), "x forward + backward"),
            (f"grad_cam (cvkit.explain), batch {n}", med["grad_cam"],
             _ratio(t, "grad_cam", "reference"), "x forward + backward"),
            (f"decoder forward (compiled), batch {n}", med["decoder"],
             _ratio(t, "decoder", "reference"), "x forward + backward")]


def bench_train_step(x, repeats):
    """One training step of a fresh decoder with the zoo recipe's loss."""
    import keras

    from cvkit.explain.perception.zoo import perception_builder
    from cvkit.models import ZOO

    recipe = ZOO[ZOO_NAME].train
    keras.utils.set_random_seed(0)
    model = perception_builder(4, (128, 128, 3))
    model.compile(feature_weight=recipe.get("feature_weight", 0.1))
    model.train_on_batch(x)
    cpu0 = time.process_time()
    t = _interleaved({"step": lambda: model.train_on_batch(x)}, repeats)
    cpu = (time.process_time() - cpu0) / (repeats + 1)       # all threads, warm-up included
    step = float(np.median(t["step"]))
    n_train, epochs, batch = ZOO[ZOO_NAME].n_train, recipe["epochs"], recipe["batch_size"]
    steps = -(-n_train // batch) * epochs
    return [(f"decoder train step, batch {len(x)}", step, None, None),
            ("  CPU seconds per step (all threads)", cpu, None, None),
            (f"zoo recipe: {steps} steps ({n_train} images x {epochs} epochs)", step * steps,
             None, "<= 600 s on 2 cores")]


def _markdown(result):
    md = ["## Perception Visualization (benchmarks/bench_perception.py)", "",
          f"{result['weights']}, 128 px, median of {result['repeats']} interleaved rounds, "
          f"{result['cpu_count']} shared CPU cores (noisy).", "",
          *_timing_rows(result["timing"])]
    return "\n".join(md) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    import tensorflow as tf

    from cvkit.models import zoo_data

    model, weights = _model()
    batch = zoo_data(ZOO_NAME, 32, seed=99)
    rows = bench_pv(model, batch.images, repeats)
    rows += bench_train_step(batch.images, max(3, repeats // 2))
    print(f"\nPerception Visualization ({weights}), 128 px; median of {repeats} interleaved "
          f"rounds; {os.cpu_count()} CPU cores (shared machine: timings are noisy)\n")
    print(f"{'measure':52s} {'seconds':>9s} {'ratio':>7s}  target")
    for name, t, ratio, target in rows:
        print(f"{name:52s} {t:9.3f} {'' if ratio is None else f'{ratio:7.2f}':>7s}  "
              f"{target or ''}")
    result = {"weights": weights, "batch": len(batch.images), "repeats": repeats,
              "cpu_count": os.cpu_count(), "platform": platform.platform(),
              "tensorflow": tf.__version__, "date_utc": time.strftime("%Y-%m-%d %H:%M",
                                                                       time.gmtime()),
              "timing": [{"measure": n, "seconds": t, "ratio": r, "target": g}
                         for n, t, r, g in rows]}
    (HERE / "perception.json").write_text(json.dumps(result, indent=2))
    out = Path("/tmp/cvkit-results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "perception.md").write_text(_markdown(result))


if __name__ == "__main__":
    main()
