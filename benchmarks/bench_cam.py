"""Benchmark cvkit.explain against bare compiled passes of the same model, and against the peers.

    python benchmarks/bench_cam.py [--quick] [--size 224] [--batch 8] [--repeats 5]

On MobileNetV2 (weights=None), every ratio is measured in one run (medians of ``--repeats``):

- ``cam`` / a bare compiled forward pass (target <= 1.2);
- ``grad_cam`` / a bare compiled forward + backward pass to the same layer (target <= 1.2); the
  full backward to the input is shown as well;
- ``rise`` with N masks / N compiled forward passes in batches of the same size (target <= 1.3);
- ``grad_cam`` against tf-keras-vis ``Gradcam`` and Xplique ``GradCAM`` on the same model and batch
  (targets: 5x and 1.5x faster); a peer that is not installed is skipped (Xplique pins
  ``tensorflow[and-cuda]<=2.20``: install ``requirements-bench.txt`` in a separate environment);
- peak resident memory of ``rise`` and ``score_cam`` for two batch sizes, each in a fresh process.

Writes ``benchmarks/cam.json`` and ``/tmp/cvkit-results/cam.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from _timing import _interleaved, _ratio  # noqa: E402  (benchmarks/ is on sys.path)

HERE = Path(__file__).resolve().parent


def _model(size):
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(input_shape=(size, size, 3), weights=None)


def _bare_passes(model, layer_name):
    """Hand-written compiled passes on the same model: what cvkit should not be slower than."""
    import keras
    import tensorflow as tf

    head = model.layers[-1]
    feat = keras.Model(model.input, [model.get_layer(layer_name).output, head.input])

    @tf.function
    def forward(x):
        return model(x, training=False)

    @tf.function
    def forward_backward_layer(x):
        with tf.GradientTape() as tape:
            a, pooled = feat(x, training=False)
            logits = pooled @ head.kernel + head.bias
            score = tf.reduce_max(logits, axis=-1)
        return a, tape.gradient(score, a)

    @tf.function
    def forward_backward_gradcam(x):
        with tf.GradientTape() as tape:
            a, pooled = feat(x, training=False)
            logits = pooled @ head.kernel + head.bias
            score = tf.reduce_max(logits, axis=-1)
        g = tape.gradient(score, a)
        return tf.nn.relu(tf.einsum("nk,nhwk->nhw", tf.reduce_mean(g, axis=(1, 2)), a))

    @tf.function
    def forward_backward_input(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_max(model(x, training=False), axis=-1)
        return tape.gradient(score, x)

    return forward, forward_backward_layer, forward_backward_input, forward_backward_gradcam


def _peer_tf_keras_vis(model, x, layer):
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    cls = list(np.argmax(model.predict(x, verbose=0), 1))
    return lambda: gradcam(CategoricalScore(cls), x, penultimate_layer=layer)


def _peer_xplique(model, x, layer):
    try:
        from xplique.attributions import GradCAM
    except ImportError:
        return None
    import tensorflow as tf

    explainer = GradCAM(model, conv_layer=layer)
    y = tf.one_hot(np.argmax(model.predict(x, verbose=0), 1), model.output_shape[-1])
    return lambda: explainer.explain(x, y)


_MEMORY_CHILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
from cvkit import explain
method, bs, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keras.utils.set_random_seed(0)
model = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, weights=None)
x = np.random.default_rng(0).random((1, size, size, 3)).astype("float32")
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0
open("/proc/self/clear_refs", "w").write("5")   # reset the peak (VmHWM) to the current RSS
base = status("VmRSS")
if method == "rise":
    explain.rise(model, x, n_masks=n, batch_size=bs)
else:
    explain.score_cam(model, x, batch_size=bs)
print(status("VmHWM") - base)
"""


def _peak_memory(method, batch_size, size, n):
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, method, str(batch_size), str(size),
                          str(n)], capture_output=True, text=True, cwd=HERE.parent)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and masks")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--masks", type=int, default=None, help="RISE masks (default 256, quick 64)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    n_masks = args.masks or (64 if args.quick else 256)

    import tensorflow as tf

    from cvkit import explain

    model = _model(args.size)
    layer = "Conv_1"
    x = np.random.default_rng(0).random((args.batch, args.size, args.size, 3)).astype(np.float32)
    xt = tf.constant(x)
    forward, fb_layer, fb_input, fb_gradcam = _bare_passes(model, layer)
    rows = []

    # each ratio from its own round-robin group: a large backward pass just before a call slows
    # that call down on a loaded machine, so unrelated measurements are kept apart
    times = _interleaved({
        "fwd": lambda: forward(xt).numpy(),
        "cam": lambda: explain.cam(model, x, batch_size=args.batch),
    }, repeats)
    times.update(_interleaved({
        "fb": lambda: [t.numpy() for t in fb_layer(xt)],
        "fb_gc": lambda: fb_gradcam(xt).numpy(),
        "gc": lambda: explain.grad_cam(model, x, layer=layer, batch_size=args.batch),
        "gc_raw": lambda: explain.grad_cam(model, x, layer=layer, upsample=False, normalize=False,
                                           batch_size=args.batch),
    }, repeats))
    times.update(_interleaved({"fb_in": lambda: fb_input(xt).numpy()}, max(2, repeats // 2)))
    med = {k: float(np.median(v)) for k, v in times.items()}
    t_gc = med["gc"]
    rows += [
        ("bare forward (compiled)", med["fwd"], None, None),
        ("bare forward + backward to Conv_1", med["fb"], None, None),
        ("bare forward + backward to the input", med["fb_in"], None, None),
        ("bare forward + backward + Grad-CAM map", med["fb_gc"], None, None),
        ("cam (upsampled, normalised)", med["cam"], _ratio(times, "cam", "fwd"), "<= 1.2 x forward"),
        ("grad_cam (upsampled, normalised)", t_gc, _ratio(times, "gc", "fb"), "<= 1.2 x fwd+bwd"),
        ("grad_cam (raw maps)", med["gc_raw"], _ratio(times, "gc_raw", "fb"), "<= 1.2 x fwd+bwd"),
        ("grad_cam (upsampled, normalised) / bare Grad-CAM pass", t_gc,
         _ratio(times, "gc", "fb_gc"), "<= 1.05 x bare Grad-CAM pass"),
        ("grad_cam (raw maps) / bare Grad-CAM pass", med["gc_raw"],
         _ratio(times, "gc_raw", "fb_gc"), "<= 1.05 x bare Grad-CAM pass"),
    ]

    # RISE: N masks versus N forward passes in batches of the same size
    rise_bs = 32
    img = x[:1]
    masked = tf.constant(np.repeat(x[:1], rise_bs, axis=0))
    n_batches = -(-n_masks // rise_bs)
    rt = _interleaved({"nfwd": lambda: [forward(masked).numpy() for _ in range(n_batches)],
                       "rise": lambda: explain.rise(model, img, n_masks=n_masks, batch_size=rise_bs)},
                      max(2, repeats // 2))
    rows += [(f"{n_masks} forward passes (batches of {rise_bs})", float(np.median(rt["nfwd"])), None,
              None),
             (f"rise, {n_masks} masks", float(np.median(rt["rise"])), _ratio(rt, "rise", "nfwd"),
              "<= 1.3 x N forwards")]

    # peers on the same model and batch
    peers = {}
    for name, make, target in (("tf-keras-vis Gradcam", _peer_tf_keras_vis, 5.0),
                               ("Xplique GradCAM", _peer_xplique, 1.5)):
        fn = make(model, x, layer)
        if fn is None:
            peers[name] = None
            rows.append((f"{name} (not installed: skipped)", None, None, None))
            continue
        pt = _interleaved({"peer": fn, "ours": lambda: explain.grad_cam(model, x, layer=layer,
                                                                         batch_size=args.batch)},
                          max(2, repeats // 2))
        t_peer = float(np.median(pt["peer"]))
        peers[name] = t_peer
        rows.append((name, t_peer, _ratio(pt, "peer", "ours"), f"cvkit >= {target:g}x faster"))

    memory = {}
    if not args.no_memory:
        msize = 96
        for method, n in (("rise", 256), ("score_cam", None)):
            for bs in (8, 64):
                memory[f"{method} batch_size={bs}"] = _peak_memory(method, bs, msize, n or 0)

    # report
    print(f"\ncvkit.explain on MobileNetV2 (weights=None), {args.size} px, batch {args.batch}; "
          f"median of {repeats}; {os.cpu_count()} CPU cores (shared machine: timings are noisy)\n")
    print(f"{'measure':48s} {'seconds':>9s} {'ratio':>7s}  target")
    for name, t, ratio, target in rows:
        print(f"{name:48s} {'' if t is None else f'{t:9.3f}':>9s} "
              f"{'' if ratio is None else f'{ratio:7.2f}':>7s}  {target or ''}")
    if memory:
        print(f"\npeak extra RSS (MiB), MobileNetV2 alpha 0.35 at 96 px, one image, fresh process:")
        for k, v in memory.items():
            print(f"  {k:28s} {v:8.0f}")

    result = {
        "model": "MobileNetV2 weights=None", "size": args.size, "batch": args.batch,
        "repeats": repeats, "n_masks": n_masks, "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "tensorflow": tf.__version__,
        "rows": [{"measure": n, "seconds": t, "ratio": r, "target": g} for n, t, r, g in rows],
        "peers": peers, "peak_rss_mib": memory,
    }
    (HERE / "cam.json").write_text(json.dumps(result, indent=2))
    md = [f"## Class activation maps (benchmarks/bench_cam.py{' --quick' if args.quick else ''})", "",
          f"MobileNetV2 (weights=None), {args.size} px, batch {args.batch}, median of {repeats}, "
          f"{os.cpu_count()} shared CPU cores (noisy).", "",
          "| measure | seconds | ratio | target |", "|---|---:|---:|---|"]
    for name, t, ratio, target in rows:
        md.append(f"| {name} | {'' if t is None else f'{t:.3f}'} | "
                  f"{'' if ratio is None else f'{ratio:.2f}'} | {target or ''} |")
    if memory:
        md += ["", "Peak extra resident memory (MiB), MobileNetV2 alpha 0.35, 96 px, one image:", "",
               "| run | MiB |", "|---|---:|"]
        md += [f"| {k} | {v:.0f} |" for k, v in memory.items()]
    out = Path("/tmp/cvkit-results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "cam.md").write_text("\n".join(md) + "\n")
    return result


if __name__ == "__main__":
    main()
