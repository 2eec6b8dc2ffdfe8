"""Command line: ``python -m cvkit tour | exercises | zoo | explain | wsol`` (see :mod:`cvkit.cli`)."""
from __future__ import annotations

import sys


def main(argv=None):
    """Parse the command line and run one command (:func:`cvkit.cli.main`).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``python -m cvkit`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0; 1 when ``exercises`` kept a student copy that was edited (``--force`` overwrites it);
        2 for cvkit's own errors (one line ``error: ...`` on stderr); argparse exits with status 2
        on a wrong command line (and 0 after ``--help``).

    Examples
    --------
    >>> try:   # doctest: +ELLIPSIS
    ...     main(["--help"])
    ... except SystemExit as exc:
    ...     print("exit status", exc.code)
    usage: python -m cvkit [-h] [--traceback]...{tour,exercises,zoo,explain,wsol}...
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
    from cvkit.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
