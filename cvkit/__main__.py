"""Command line: ``python -m cvkit tour | exercises | zoo``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    """Parse the command line and run one command: ``tour``, ``exercises`` or ``zoo``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``python -m cvkit`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0; 1 when ``exercises`` kept a student copy that was edited (``--force`` overwrites it);
        argparse exits with status 2 on a wrong command line (and 0 after ``--help``).

    Examples
    --------
    >>> try:   # doctest: +ELLIPSIS
    ...     main(["--help"])
    ... except SystemExit as exc:
    ...     print("exit status", exc.code)
    usage: python -m cvkit [-h]...{tour,exercises,zoo}...
    exit status 0

    The ``exercises`` command on a folder holding one notebook; a copy edited since it was written
    is kept (status 1) unless ``--force``:

    >>> import contextlib, io, json, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +ELLIPSIS
    ...     _ = Path(tmp, "00_demo.ipynb").write_text(json.dumps({"cells": []}))
    ...     main(["exercises", "--src", tmp, "--out", str(Path(tmp, "student"))])
    ...     print(sorted(p.name for p in Path(tmp, "student").iterdir()))
    ...     answer = {"cells": [{"cell_type": "code", "source": "x = 1"}]}   # a student's edits
    ...     _ = Path(tmp, "student", "00_demo.ipynb").write_text(json.dumps(answer))
    ...     with contextlib.redirect_stderr(io.StringIO()) as err:
    ...         main(["exercises", "--src", tmp, "--out", str(Path(tmp, "student"))])
    ...     print(err.getvalue())
    ...     main(["exercises", "--src", tmp, "--out", str(Path(tmp, "student")), "--force"])
    wrote ...00_demo.ipynb
    0
    ['00_demo.ipynb']
    1
    kept ...00_demo.ipynb: it was edited since cvkit wrote it (your answers are in it), so it was not overwritten. ...
    <BLANKLINE>
    wrote ...00_demo.ipynb
    0
    """
    parser = argparse.ArgumentParser(prog="python -m cvkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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

    args = parser.parse_args(argv)
    if args.command == "tour":
        from cvkit.tour import run_tour

        index = run_tour(out=args.out, quick=args.quick, only=args.only, seed=args.seed)
        print(f"gallery written to {index}")
    elif args.command == "exercises":
        return _exercises(args.src, args.out, args.force)
    elif args.command == "zoo":
        from cvkit.models import zoo as Z

        if args.action == "train":
            for name in args.names or list(Z.ZOO):   # parents (init_from) come first
                _, card = Z.train_zoo_model(name, args.out)
                print(f"{name}: held-out {card['held_out']}, {card['train_seconds']} s")
        else:
            for name, entry in sorted(Z.ZOO.items()):
                try:
                    scores = Z.zoo_card(name, args.out)["held_out"]
                except FileNotFoundError:
                    scores = "not trained"
                print(f"{name}: {entry.description}; held-out {scores}")
    return 0


def _exercises(src, out, force):
    """Write the student copies; keep (and name) the ones a student edited unless ``force``."""
    from cvkit.exercises import edited_copies, write_student_copies

    kept = [] if force else edited_copies(src, out)
    for path in write_student_copies(src, out, force=force):
        print(f"wrote {path}")
    for path in kept:
        print(f"kept {path}: it was edited since cvkit wrote it (your answers are in it), so it "
              "was not overwritten. `python -m cvkit exercises --force` replaces it with a fresh "
              "copy (save yours under another name first).", file=sys.stderr)
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
