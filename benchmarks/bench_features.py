"""Benchmark of cvkit.inside (maximally activating patches and gradient ascent).

1. Maximally activating patches stream a dataset in batches: peak memory of a fresh process that
   streams N images at 128 px (N = 1,000 and 5,000; --quick: 200 and 1,000) through a small CNN
   from a tf.data pipeline, with the Python/NumPy peak from tracemalloc and the process peak RSS.
   Both should not grow with N.
2. Gradient ascent: 200 steps at 128 px for a small CNN and a MobileNetV2 (alpha 0.35,
   weights=None), first call (with tracing) and second call; target < 20 s.

    python benchmarks/bench_features.py [--quick] [--repeats 3]

Prints a table, writes benchmarks/features.json and /tmp/cvkit-results/features.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import os, sys, time, json, resource, tracemalloc
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
from cvkit.datasets import shapes
from cvkit.tour.inside import small_cnn
from cvkit.inside import max_activating_patches

n, size = int(sys.argv[1]), 128
pool = shapes(64, image_size=size, seed=0).images          # same small pool for every n

def gen():
    for i in range(n):  # image i: a shifted / flipped pool image
        img = np.roll(pool[i % 64], (i // 64) % size, axis=1)
        yield img[:, ::-1] if (i // 64) % 2 else img

spec = tf.TensorSpec((size, size, 3), tf.float32)
ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
model = small_cnn(size)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t0 = time.perf_counter()
res = max_activating_patches(model, ds, "relu3", channels=range(8), k=9, batch_size=64)
dt = time.perf_counter() - t0
_, peak = tracemalloc.get_traced_memory()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"n": res.n_images, "seconds": dt, "tracemalloc_peak_mb": peak / 2**20,
                  "peak_rss_mb": rss / 1024, "rss_before_mb": rss0 / 1024,
                  "patch_bytes_mb": res.patches.nbytes / 2**20}))
"""


def patches_memory(n):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(HERE.parent))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ascent_timing(kind, steps=200, size=128):
    import keras

    from cvkit.tour.inside import small_cnn
    from cvkit.inside import gradient_ascent

    if kind == "small_cnn":
        model = small_cnn(size)
    else:
        keras.utils.set_random_seed(0)
        inp = keras.Input((size, size, 3))
        bb = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35,
                                            weights=None, include_top=False)
        x = keras.layers.GlobalAveragePooling2D()(bb(keras.layers.Rescaling(2.0, -1.0)(inp)))
        model = keras.Model(inp, keras.layers.Dense(4, activation="softmax")(x))
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        res = gradient_ascent(model, 1, steps=steps, seed=0)
        times.append(time.perf_counter() - t0)
    return {"model": kind, "steps": steps, "size": size, "first_call_s": times[0],
            "second_call_s": times[1], "score_gain": float(res.scores[-1] - res.scores[0])}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    sizes = (200, 1000) if args.quick else (1000, 5000)
    mem = []
    for n in sizes:
        runs = [patches_memory(n) for _ in range(args.repeats)]
        med = {k: float(sorted(r[k] for r in runs)[len(runs) // 2]) for k in runs[0]}
        mem.append(med)
    asc = [ascent_timing(k) for k in ("small_cnn", "mobilenetv2_0.35")]
    load = os.getloadavg()[0]

    print(f"\nMaximally activating patches (relu3 of a small CNN, 8 channels, k=9, 128 px, "
          f"batch 64), load avg {load:.1f}")
    print(f"{'images':>8} {'seconds':>8} {'img/s':>7} {'tracemalloc MB':>15} {'peak RSS MB':>12}")
    for m in mem:
        print(f"{int(m['n']):>8} {m['seconds']:>8.1f} {m['n'] / m['seconds']:>7.0f} "
              f"{m['tracemalloc_peak_mb']:>15.1f} {m['peak_rss_mb']:>12.0f}")
    print(f"\nGradient ascent, 200 steps at 128 px (target < 20 s)")
    print(f"{'model':>18} {'first call s':>13} {'second call s':>14} {'score gain':>11}")
    for a in asc:
        print(f"{a['model']:>18} {a['first_call_s']:>13.1f} {a['second_call_s']:>14.1f} "
              f"{a['score_gain']:>11.3g}")

    result = {"patches_memory": mem, "gradient_ascent": asc, "quick": args.quick,
              "load_average": load, "repeats": args.repeats}
    (HERE / "features.json").write_text(json.dumps(result, indent=1))
    md = ["## Looking inside CNNs (`benchmarks/bench_features.py`)", "",
          f"Shared 2-core machine, load average {load:.1f} during the run: timings are noisy.", "",
          "Maximally activating patches, streamed from tf.data (relu3 of a small CNN, 8 channels, "
          "k = 9, 128 px, batch 64), each N in a fresh process:", "",
          "| images | seconds | img/s | tracemalloc peak (MB) | peak RSS (MB) |",
          "|---:|---:|---:|---:|---:|"]
    for m in mem:
        md.append(f"| {int(m['n'])} | {m['seconds']:.1f} | {m['n'] / m['seconds']:.0f} | "
                  f"{m['tracemalloc_peak_mb']:.1f} | {m['peak_rss_mb']:.0f} |")
    md += ["", "Gradient ascent, 200 steps at 128 px (target < 20 s on 2 cores):", "",
           "| model | first call (s, incl. tracing) | second call (s) |", "|---|---:|---:|"]
    for a in asc:
        md.append(f"| {a['model']} | {a['first_call_s']:.1f} | {a['second_call_s']:.1f} |")
    out = Path("/tmp/cvkit-results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "features.md").write_text("\n".join(md) + "\n")
    return result


if __name__ == "__main__":
    main()
