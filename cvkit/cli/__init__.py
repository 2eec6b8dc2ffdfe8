"""The command line behind ``python -m cvkit``: one module per command family and the console.

* :mod:`.commands`: ``tour``, ``exercises``, ``zoo``;
* :mod:`.explain`: ``explain IMAGE... --model M``, a classifier explained on your own photos;
* :mod:`.wsol`: ``wsol --data DIR --format cub|pet|csv --model M``, the WSOL protocol on a dataset;
* :mod:`.models` and :mod:`.images`: what those two share (models, class names, methods, images);
* :mod:`.console`: TensorFlow's start-up lines filtered, cvkit's errors as one line.

:func:`main` parses the command line, imports TensorFlow quietly for the commands that need it,
runs the command, and turns cvkit's own bad-input errors into ``error: <message>`` and exit status 2
(``--traceback`` shows the whole traceback instead). Other exceptions keep their traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import commands, console

__all__ = ["build_parser", "main"]

_RUN = {"tour": commands.run_tour_command, "exercises": commands.run_exercises,
        "zoo": commands.run_zoo}


def build_parser():
    """The argument parser of ``python -m cvkit`` with every command.

    Examples
    --------
    >>> args = build_parser().parse_args(["explain", "a.png", "--model", "m.keras"])
    >>> args.command, args.images, args.method, args.top, args.threshold
    ('explain', ['a.png'], 'grad-cam', 3, 0.2)
    """
    from . import explain, wsol

    parser = argparse.ArgumentParser(
        prog="python -m cvkit",
        description="cvkit's command line: tour | exercises | zoo | explain | wsol.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of cvkit's errors (default: one line)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_parsers(sub)
    explain.add_parser(sub)
    wsol.add_parser(sub)
    return parser


def _runner(command):
    if command in _RUN:
        return _RUN[command]
    from . import explain, wsol

    return {"explain": explain.run, "wsol": wsol.run}[command]


def main(argv=None):
    """Parse ``argv`` and run one command; returns its exit status.

    0 on success; 1 when ``exercises`` kept an edited copy; 2 for a wrong command line (argparse)
    and for cvkit's own errors (printed as one line ``error: ...`` on stderr).

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     status = main(["explain", "no_such_photo.png", "--model", "shapes_small_cnn"])
    >>> status, err.getvalue()
    (2, 'error: `IMAGE`: no_such_photo.png does not exist.\\n')
    """
    args = build_parser().parse_args(argv)
    if args.command in ("explain", "wsol", "zoo"):   # the tour checks --out first, then does it
        console.quiet_tensorflow()
    try:
        return _runner(args.command)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:              # `python -m cvkit explain ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except console._OWN_KINDS as exc:
        if args.traceback or not console.cvkit_error(exc):
            raise
        print(console.error_line(exc), file=sys.stderr)
        return 2
