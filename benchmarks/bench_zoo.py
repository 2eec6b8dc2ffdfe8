"""Benchmark: every zoo model scored on 500 held-out images, and the zoo's size on disk.

    python benchmarks/bench_zoo.py [--n 500] [--names NAME ...]

Each entry of ``cvkit.models.ZOO`` is loaded with ``pretrained`` and scored by its own evaluator
(``score_classifier``, ``score_localizer`` or ``score_cam``: accuracy; mean IoU and correct
localization; CAM MaxBoxAcc, MaxBoxAccV2, PxAP, the course's CAM -> box recipe at several
thresholds and how often the CAM's maximum falls in the object's box) on the card's held-out images
(``zoo_data(name, n)``: the entry's preset, its ``test_seed``, never seen in training). Prints a
table and writes ``benchmarks/zoo.json``. Inference only: a few minutes on 2 CPU cores.
``--update-cards`` writes the fresh scores into the cards' ``held_out`` (same images, same
weights: for when an evaluator gains a measure).
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
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cvkit.models import zoo as Z  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="held-out images per entry")
    ap.add_argument("--names", nargs="*", default=None, help="entries (default: all)")
    ap.add_argument("--update-cards", action="store_true",
                    help="write the scores into the cards (requires --n 500, the cards' n)")
    args = ap.parse_args(argv)
    names = args.names or list(Z.ZOO)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        model = Z.pretrained(name)
        test = Z.zoo_data(name, args.n)
        scores = Z._resolve(Z.ZOO[name].evaluator, "evaluator")(model, test)
        card = Z.zoo_card(name)
        if args.update_cards:
            if args.n != card["held_out"]["n"]:
                raise SystemExit(f"--update-cards needs --n {card['held_out']['n']} (the card's)")
            card["held_out"] = {"n": args.n, "seed": Z.ZOO[name].test_seed, **scores}
            card["rescored_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            (Z.ZOO_DIR / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
        results[name] = {"scores": scores, "seconds": round(time.perf_counter() - t0, 1),
                         "train_seconds": card["train_seconds"], "trained_on": card["trained_on"],
                         "mb": round((Z.ZOO_DIR / f"{name}.weights.h5").stat().st_size / 2**20, 2)}
        shown = "  ".join(f"{k} {v:.3f}" if v <= 1.5 else f"{k} {v:.1f}" for k, v in scores.items())
        print(f"{name:32s} {results[name]['mb']:5.2f} MB  {shown}", flush=True)
    total = sum(p.stat().st_size for p in Z.ZOO_DIR.iterdir()) / 2**20
    print(f"zoo folder: {total:.2f} MB")
    out = {"n": args.n, "results": results, "zoo_mb": round(total, 2),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    (ROOT / "benchmarks" / "zoo.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
