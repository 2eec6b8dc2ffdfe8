"""The commands ``tour``, ``exercises`` and ``zoo`` of ``python -m cvkit``: their arguments and
what they run."""
from __future__ import annotations

import sys

__all__ = ["add_parsers", "run_tour_command", "run_exercises", "run_zoo"]


def add_parsers(sub):
    """Add ``tour``, ``exercises`` and ``zoo`` to the sub-parsers ``sub`` of the main parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_parsers(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["tour", "--quick", "--only", "cam"])
    >>> args.command, args.quick, args.only, args.out
    ('tour', True, ['cam'], 'cvkit-tour')
    """
    tour = sub.add_parser("tour", help="run the toolkit end to end and write a gallery")
    tour.add_argument("--out", default="cvkit-tour", help="output folder (default ./cvkit-tour)")
    tour.add_argument("--quick", action="store_true", help="smaller data and shorter training")
    tour.add_argument("--only", nargs="+", metavar="SECTION", help="run only these sections")
    tour.add_argument("--seed", type=int, default=0)

    ex = sub.add_parser("exercises", help="write the student copies of the notebooks")
    ex.add_argument("--src", default="notebooks", help="folder of the notebooks")
    ex.add_argument("--out", default=None, help="output folder (default <src>/exercises)")
    ex.add_argument("--force", action="store_true",
                    help="also overwrite student copies that were edited (their answers are lost)")

    zoo = sub.add_parser("zoo", help="list the shipped models trained on shapes, or re-train one")
    zoo.add_argument("action", nargs="?", choices=["list", "train"], default="list")
    zoo.add_argument("names", nargs="*", metavar="NAME", help="entries to train (default: all)")
    zoo.add_argument("--out", default=None, help="output folder (default: the package's zoo)")


def run_tour_command(args):
    """``tour``: write the gallery and say where.

    Examples
    --------
    >>> import argparse
    >>> run_tour_command(argparse.Namespace(out="unused", quick=True, only=["nope"], seed=0))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `only` names unknown tour sections ['nope']; ...
    """
    from ..tour import run_tour

    index = run_tour(out=args.out, quick=args.quick, only=args.only, seed=args.seed)
    print(f"gallery written to {index}")
    return 0


def run_exercises(args):
    """``exercises``: write the student copies; keep (and name) the ones a student edited unless
    ``--force``; status 1 when one was kept.

    Examples
    --------
    >>> import argparse, json, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +ELLIPSIS
    ...     _ = Path(tmp, "00_demo.ipynb").write_text(json.dumps({"cells": []}))
    ...     run_exercises(argparse.Namespace(src=tmp, out=str(Path(tmp, "copies")), force=False))
    wrote ...00_demo.ipynb
    0
    """
    from ..exercises import edited_copies, write_student_copies

    kept = [] if args.force else edited_copies(args.src, args.out)
    for path in write_student_copies(args.src, args.out, force=args.force):
        print(f"wrote {path}")
    for path in kept:
        print(f"kept {path}: it was edited since cvkit wrote it (your answers are in it), so it "
              "was not overwritten. `python -m cvkit exercises --force` replaces it with a fresh "
              "copy (save yours under another name first).", file=sys.stderr)
    return 1 if kept else 0


def run_zoo(args):
    """``zoo``: list the entries with their held-out scores, or re-train some.

    Examples
    --------
    >>> import argparse
    >>> run_zoo(argparse.Namespace(action="list", names=[], out=None))   # doctest: +ELLIPSIS
    shapes_cam_mobilenetv2: MobileNetV2 (alpha 0.35) + GAP + Dense, ...
    0
    """
    from ..models import zoo as Z

    if args.action == "train":
        for name in args.names or list(Z.ZOO):   # parents (init_from) come first
            _, card = Z.train_zoo_model(name, args.out)
            print(f"{name}: held-out {card['held_out']}, {card['train_seconds']} s")
        return 0
    for name, entry in sorted(Z.ZOO.items()):
        try:
            scores = Z.zoo_card(name, args.out)["held_out"]
        except FileNotFoundError:
            scores = "not trained"
        print(f"{name}: {entry.description}; held-out {scores}")
    return 0
