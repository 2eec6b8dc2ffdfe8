"""Exercise tooling: checkers that tell a student what is wrong, and the student copies.

Notebook exercise cells carry the cell tag ``exercise``; the solution sits between the lines
``# BEGIN SOLUTION`` and ``# END SOLUTION``. :func:`write_student_copies` (``python -m cvkit
exercises``) writes each notebook to ``notebooks/exercises/`` with every solution replaced by a stub
that raises ``NotImplementedError`` and with the outputs of exercise cells cleared.

Checkers live in one module per topic (``cvkit.exercises.datasets``, ...). Each one calls the
student's function or takes the student's value, compares it with the reference and either prints a
short confirmation or raises :class:`ExerciseError` whose message says what is wrong: the type, the
shape, or the first wrong value and where it is.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np

from .._validate import to_numpy

__all__ = [
    "call_student",
    "ExerciseError",
    "check_array",
    "check_scalar",
    "strip_solutions",
    "write_student_copies",
    "BEGIN",
    "END",
]

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = "raise NotImplementedError('Exercise: write your solution here')"


class ExerciseError(AssertionError):
    """Raised by a checker when a student's answer is wrong; the message says why.

    A subclass of ``AssertionError``, so that a failed check reads as a failed assertion in a
    notebook and in pytest.

    Examples
    --------
    >>> issubclass(ExerciseError, AssertionError)
    True
    >>> raise ExerciseError("iou: got None. Did you forget to `return` the result?")
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: iou: got None. Did you forget to `return` the result?
    """


def check_array(name, got, expected, atol=1e-5, rtol=1e-4, hint=None):
    """Compare a student's array with the reference.

    Raises :class:`ExerciseError` naming the problem (not an array, wrong shape, NaN, first wrong
    value with its index and the number of wrong entries); prints a confirmation otherwise.

    Parameters
    ----------
    name : str
        What is checked, at the start of every message.
    got : array_like or tensor
        The student's answer.
    expected : array_like
        The reference.
    atol, rtol : float
        Tolerances of ``np.isclose``.
    hint : str, optional
        Appended to the message of a wrong shape or value.

    Returns
    -------
    bool
        ``True`` when the answer is right.

    Examples
    --------
    >>> check_array("column means", [1.0, 2.0], [1.0, 2.0])
    Correct: column means
    True
    >>> check_array("column means", [1.0, 2.5], [1.0, 2.0], hint="average over axis 0")
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: column means: wrong value at index (1,): expected 2, got 2.5 (1 of 2 entries wrong). Hint: average over axis 0
    >>> check_array("column means", [1.0], [1.0, 2.0])
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: column means: wrong shape: expected (2,), got (1,).
    """
    if got is None:
        raise ExerciseError(f"{name}: got None. Did you forget to `return` the result?")
    try:
        got_arr = np.asarray(to_numpy(got), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{name}: expected a numeric array, got {type(got).__name__}.") from exc
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        raise ExerciseError(f"{name}: wrong shape: expected {exp_arr.shape}, got {got_arr.shape}."
                            + (f" Hint: {hint}" if hint else ""))
    if np.isnan(got_arr).any() and not np.isnan(exp_arr).any():
        raise ExerciseError(f"{name}: your result contains NaN (a division by zero?).")
    bad = ~np.isclose(got_arr, exp_arr, atol=atol, rtol=rtol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {idx}" if got_arr.ndim else ""
        raise ExerciseError(
            f"{name}: wrong value{where}: expected {exp_arr[idx] if exp_arr.ndim else exp_arr:.6g}, "
            f"got {got_arr[idx] if got_arr.ndim else got_arr:.6g} ({int(bad.sum())} of {bad.size} "
            "entries wrong)." + (f" Hint: {hint}" if hint else ""))
    print(f"Correct: {name}")
    return True


def call_student(fn, what, *args):
    """Call the student's ``fn(*args)``; an error it raises becomes an :class:`ExerciseError` that
    names ``what`` (the call and the case), except ``NotImplementedError`` (the untouched stub).

    Examples
    --------
    >>> call_student(lambda a, b: a + b, "add(1, 2)", 1, 2)
    3
    >>> call_student(lambda a: a[3], "first([1])", [1])
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: first([1]) raised IndexError: list index out of range
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # the student's bug: report it with the case that caused it
        raise ExerciseError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def check_scalar(name, got, expected, atol=1e-5, rtol=1e-4, hint=None):
    """Compare a student's scalar with the reference (see :func:`check_array`).

    ``got`` may be a Python number, a NumPy scalar, a one-element array or a tensor; anything with
    more than one element is rejected.

    Returns
    -------
    bool
        ``True`` when the answer is right.

    Examples
    --------
    >>> check_scalar("loss", 0.5, 0.5)
    Correct: loss
    True
    >>> check_scalar("loss", [0.5, 0.5], 0.5)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: loss: expected a single number, got an array of shape (2,).
    """
    if got is None:
        raise ExerciseError(f"{name}: got None. Did you forget to `return` the result?")
    arr = np.asarray(to_numpy(got))
    if arr.size != 1:
        raise ExerciseError(f"{name}: expected a single number, got an array of shape {arr.shape}.")
    return check_array(name, arr.reshape(()), np.asarray(expected).reshape(()), atol, rtol, hint)


_SOLUTION_RE = re.compile(r"^([ \t]*)" + re.escape(BEGIN) + r"[^\n]*\n(.*?)^[ \t]*" + re.escape(END)
                          + r"[^\n]*(\n|$)", re.S | re.M)


def _strip_source(source):
    def repl(m):
        return f"{m.group(1)}{STUB}{m.group(3)}"

    out, n = _SOLUTION_RE.subn(repl, source)
    if BEGIN in out or END in out:
        raise ValueError("unbalanced '# BEGIN SOLUTION' / '# END SOLUTION' markers in cell:\n"
                         + source[:300])
    return out, n


def strip_solutions(notebook):
    r"""Return a copy of an nbformat notebook (a dict) with solutions replaced by stubs.

    Every cell tagged ``exercise`` must contain at least one solution block; its outputs are cleared.
    Solution markers in untagged cells are an error (they would leak into the student copy).

    Parameters
    ----------
    notebook : dict
        The JSON of an ``.ipynb`` file (``json.load``) or an ``nbformat`` node.

    Returns
    -------
    dict
        A deep copy; ``notebook`` is left unchanged.

    Examples
    --------
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "execution_count": 3,
    ...         "outputs": [{"output_type": "stream", "text": "4"}],
    ...         "source": "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n"
    ...                   "    # END SOLUTION\n"}
    >>> student = strip_solutions({"cells": [cell]})["cells"][0]
    >>> print(student["source"], end="")
    def double(x):
        raise NotImplementedError('Exercise: write your solution here')
    >>> student["outputs"], student["execution_count"]
    ([], None)
    >>> cell["metadata"]["tags"] = []   # a solution outside an exercise cell would leak
    >>> strip_solutions({"cells": [cell]})
    Traceback (most recent call last):
    ...
    ValueError: cell 0 has a solution block but no 'exercise' tag
    """
    nb = copy.deepcopy(notebook)
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code":
            continue
        if "exercise" in tags:
            new, n = _strip_source(src)
            if n == 0:
                raise ValueError(f"cell {i} is tagged 'exercise' but has no '{BEGIN}' block")
            cell["source"] = new
            cell["outputs"] = []
            cell["execution_count"] = None
        elif BEGIN in src:
            raise ValueError(f"cell {i} has a solution block but no 'exercise' tag")
    return nb


def write_student_copies(src_dir="notebooks", dst_dir=None):
    r"""Write the student copy of every ``NN_*.ipynb`` in ``src_dir`` to ``dst_dir``.

    ``dst_dir`` defaults to ``<src_dir>/exercises``. Returns the list of written paths.

    Parameters
    ----------
    src_dir : str or Path
        Folder of the notebooks; only names ``NN_*.ipynb`` (two digits) are copied.
    dst_dir : str or Path, optional
        Created if missing.

    Returns
    -------
    list of Path

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [],
    ...         "execution_count": None,
    ...         "source": "# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION\n"}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "00_demo.ipynb").write_text(json.dumps({"cells": [cell]}))
    ...     _ = Path(tmp, "notes.ipynb").write_text(json.dumps({"cells": []}))   # not NN_*
    ...     written = write_student_copies(tmp)
    ...     print([(p.parent.name, p.name) for p in written])
    ...     print(json.loads(written[0].read_text())["cells"][0]["source"])
    [('exercises', '00_demo.ipynb')]
    raise NotImplementedError('Exercise: write your solution here')
    <BLANKLINE>
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise ValueError(f"`src_dir` must be a folder of notebooks; {str(src)!r} does not exist.")
    dst = Path(dst_dir) if dst_dir is not None else src / "exercises"
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
        student = strip_solutions(nb)
        out = dst / path.name
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(student, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        written.append(out)
    return written

