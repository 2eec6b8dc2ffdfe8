"""Throughput of the synthetic dataset and the tf.data pipelines.

    python benchmarks/bench_datasets.py [--quick]

Prints a table and writes benchmarks/datasets.json. Medians of repeats.
"""
import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from cvkit.datasets import localization_pipeline, shapes

    repeats = 3 if args.quick else 5
    rows = []
    for size, n in ((128, 200), (224, 100)):
        n = n // 2 if args.quick else n
        t = median_time(lambda: shapes(n, image_size=size, seed=0), repeats)
        rows.append((f"shapes generation {size}px", n / t))
    ds = shapes(512, image_size=128, seed=0)
    for augment in (False, True):
        pipe = localization_pipeline(ds, batch_size=64, augment=augment, seed=0)
        next(iter(pipe))  # build / trace once

        def epoch():
            for _ in pipe:
                pass

        t = median_time(epoch, repeats)
        rows.append((f"tf.data localization 128px batch 64{' + augment' if augment else ''}",
                     len(ds) / t))
    print(f"{'benchmark':50s} {'images/s':>10s}")
    for name, ips in rows:
        print(f"{name:50s} {ips:10.0f}")
    out = Path(__file__).with_name("datasets.json")
    out.write_text(json.dumps({name: ips for name, ips in rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
