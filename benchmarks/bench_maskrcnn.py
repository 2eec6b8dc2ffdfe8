"""Benchmark of Mask R-CNN (cvkit.detection.maskrcnn): inference speed, the training step, the
zoo's training time, and cvkit's COCO AP against pycocotools.

    python benchmarks/bench_maskrcnn.py [--quick] [--repeats 5] [--n-eval 500]

On the zoo model ``shapes_maskrcnn`` (128 px), every figure measured in one run, medians of
interleaved rounds:

- inference of a batch of 16: ``predict_instances`` (``model.predict`` plus the per-image slicing)
  and the compiled forward pass ``model(x)``, wall time (images per second) and CPU time
  (``time.process_time``, all threads of the process);
- one training step of batch 8 with the zoo's recipe (a fresh model of the zoo's architecture,
  Adam with the warm-up cosine schedule and ``global_clipnorm=5``), and the zoo's training time it
  implies: the card's steps (``epochs x ceil(n_train / batch_size)``) x the step time, next to the
  training time the card records;
- COCO AP@[.5:.95], AP50, AP75 of the zoo model's detections on the card's held-out images
  (:func:`cvkit.detection.maskrcnn.zoo.held_out`) by :func:`cvkit.detection.coco_eval.coco_evaluate`
  and by pycocotools (``pycocotools_evaluate``), boxes and masks, with the largest absolute
  difference (target <= 1e-6).

Writes ``benchmarks/maskrcnn.json`` and prints a Markdown table.
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

from _timing import _interleaved  # noqa: E402  (benchmarks/ is on sys.path)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
ZOO_NAME = "shapes_maskrcnn"
AP_KEYS = ("AP", "AP50", "AP75")


def bench_inference(model, x, repeats):
    """predict_instances and the compiled forward pass on one batch: wall and CPU seconds."""
    import tensorflow as tf

    from cvkit.detection.maskrcnn.zoo import predict_instances

    xt = tf.constant(x)
    fwd = tf.function(lambda t: model(t, training=False))
    fns = {"predict_instances": lambda: predict_instances(model, x, batch_size=len(x)),
           "forward (compiled)": lambda: {k: v.numpy() for k, v in fwd(xt).items()}}
    wall = _interleaved(fns, repeats)
    cpu = _interleaved(fns, repeats, clock=time.process_time)
    rows = []
    for name in fns:
        w, c = float(np.median(wall[name])), float(np.median(cpu[name]))
        rows.append({"measure": f"{name}, batch {len(x)}", "wall_s": w, "cpu_s": c,
                     "images_per_s": len(x) / w})
    return rows


def bench_train_step(recipe, image_size, num_classes, repeats, batch_size=8):
    """Seconds of one training step (batch 8, the zoo's optimiser) of a fresh zoo-sized model."""
    import keras

    from cvkit.datasets import instance_pipeline, instances
    from cvkit.detection.maskrcnn.zoo import maskrcnn_builder
    from cvkit.models import warmup_cosine

    keras.utils.set_random_seed(0)
    model = maskrcnn_builder(num_classes, (image_size, image_size, 3))
    model.compile(keras.optimizers.Adam(warmup_cosine(recipe["lr"], 1000, 50),
                                        global_clipnorm=5.0))
    data = instances(4 * batch_size, image_size=image_size, seed=3)
    batches = list(instance_pipeline(data, batch_size=batch_size, shuffle=False, flip=True))
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        model.train_on_batch(x, y)

    t0 = time.perf_counter()
    step()                                   # the first call traces the train step
    first = time.perf_counter() - t0
    wall = _interleaved({"step": step}, repeats)["step"]
    cpu = _interleaved({"step": step}, repeats, clock=time.process_time)["step"]
    return {"first_call_s": first, "wall_s": float(np.median(wall)),
            "cpu_s": float(np.median(cpu)), "batch": batch_size}


def bench_coco(model, n_eval):
    """cvkit's COCO AP and pycocotools' on the held-out images, boxes and masks."""
    from cvkit.detection.coco_eval import coco_evaluate, pycocotools_evaluate
    from cvkit.detection.maskrcnn.zoo import held_out, predict_instances

    data = held_out(n_eval, model.image_size)
    dets = predict_instances(model, data.images)
    truth = []
    for i in range(len(data)):
        boxes, classes, masks = data.objects(i)
        truth.append({"boxes": boxes * model.image_size, "classes": classes, "masks": masks})
    rows = []
    for kind in ("box", "mask"):
        t0 = time.perf_counter()
        ours = coco_evaluate(dets, truth, iou_type=kind, num_classes=model.num_classes)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = pycocotools_evaluate(dets, truth, iou_type=kind)
        t_ref = time.perf_counter() - t0
        diff = max(abs(float(ours[k]) - float(ref[k])) for k in AP_KEYS)
        rows.append({"iou_type": kind, **{f"cvkit_{k}": float(ours[k]) for k in AP_KEYS},
                     **{f"pycocotools_{k}": float(ref[k]) for k in AP_KEYS},
                     "max_abs_diff": diff, "cvkit_s": t_ours, "pycocotools_s": t_ref})
    return rows


def _markdown(result):
    """The figures as Markdown."""
    tr = result["train"]
    md = ["## Mask R-CNN (benchmarks/bench_maskrcnn.py)", "",
          f"Zoo model `{ZOO_NAME}`, 128 px, median of {result['repeats']} interleaved rounds, "
          f"{result['cpu_count']} shared CPU cores (noisy).", "",
          "| measure | wall s | CPU s | images/s |", "|---|---:|---:|---:|"]
    md += [f"| {r['measure']} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | {r['images_per_s']:.1f} |"
           for r in result["inference"]]
    md += [f"| train step, batch {tr['batch']} (zoo recipe) | {tr['wall_s']:.3f} | "
           f"{tr['cpu_s']:.3f} | {tr['batch'] / tr['wall_s']:.1f} |",
           f"| first train step (tracing) | {tr['first_call_s']:.1f} | | |", "",
           f"Zoo training estimate: {tr['steps']} steps x {tr['wall_s']:.3f} s = "
           f"{tr['estimate_s']:.0f} s ({tr['estimate_s'] / 60:.1f} min); the card records "
           f"{tr['card_train_s']:.0f} s.", "",
           f"COCO AP on {result['n_eval']} held-out images (seed {result['eval_seed']}):", "",
           "| IoU type | | AP | AP50 | AP75 | seconds |", "|---|---|---:|---:|---:|---:|"]
    for r in result["coco"]:
        for who in ("cvkit", "pycocotools"):
            md.append(f"| {r['iou_type']} | {who} | {r[who + '_AP']:.6f} | "
                      f"{r[who + '_AP50']:.6f} | {r[who + '_AP75']:.6f} | {r[who + '_s']:.2f} |")
        md.append(f"| {r['iou_type']} | max abs difference | {r['max_abs_diff']:.1e} | | | |")
    return "\n".join(md) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 100 images")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--n-eval", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    n_eval = args.n_eval or (100 if args.quick else 500)

    import tensorflow as tf

    from cvkit.detection.maskrcnn.zoo import HELD_OUT_SEED, held_out
    from cvkit.models import ZOO, pretrained

    model = pretrained(ZOO_NAME)
    entry = ZOO[ZOO_NAME]
    batch = held_out(16, model.image_size).images
    inference = bench_inference(model, batch, repeats)
    train = bench_train_step(entry.train, model.image_size, model.num_classes, repeats,
                             batch_size=int(entry.train["batch_size"]))
    card = json.loads((HERE.parent / "cvkit" / "models" / "zoo" / f"{ZOO_NAME}.json").read_text())
    steps = int(entry.train["epochs"]) * int(np.ceil(card["n_train"] / train["batch"]))
    train.update(steps=steps, estimate_s=steps * train["wall_s"],
                 card_train_s=float(card["train_seconds"]))
    coco = bench_coco(model, n_eval)
    result = {"zoo": ZOO_NAME, "repeats": repeats, "n_eval": n_eval, "eval_seed": HELD_OUT_SEED,
              "cpu_count": os.cpu_count(), "platform": platform.platform(),
              "tensorflow": tf.__version__, "date_utc": time.strftime("%Y-%m-%d %H:%M",
                                                                      time.gmtime()),
              "inference": inference, "train": train, "coco": coco}
    (HERE / "maskrcnn.json").write_text(json.dumps(result, indent=1))
    print(_markdown(result))
    worst = max(r["max_abs_diff"] for r in coco)
    if worst > 1e-6:
        print(f"FAIL: cvkit's COCO AP differs from pycocotools by {worst:.2e} (> 1e-6)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
