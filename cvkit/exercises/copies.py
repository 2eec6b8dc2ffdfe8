"""The student copies of the notebooks: solutions replaced by stubs, edited copies kept.

Exercise cells carry the cell tag ``exercise``; the solution sits between the lines
``# BEGIN SOLUTION`` and ``# END SOLUTION``. :func:`write_student_copies` (``python -m cvkit
exercises``) writes each notebook to ``notebooks/exercises/`` with every solution replaced by a stub
that raises ``NotImplementedError``, with the outputs of exercise cells cleared, and with relative
paths (``"../datasets/..."``) rewritten to work from that folder (:func:`relocate_paths`).

Each copy records, in its notebook metadata (``metadata.cvkit.student_copy_sha256``), the SHA-256
of the cells it was written with (:func:`copy_hash`). A copy whose cells no longer match that hash
has been edited by a student (an answer typed in, a cell added): :func:`edited_copies` lists those,
and :func:`write_student_copies` leaves them alone unless ``force=True``. Running the cells and
saving the notebook does not count as an edit.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

__all__ = ["BEGIN", "END", "STUB", "strip_solutions", "write_student_copies", "edited_copies",
           "copy_hash", "relocate_paths"]

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = "raise NotImplementedError('Exercise: write your solution here')"
_HASH_KEY = "student_copy_sha256"

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


def copy_hash(notebook):
    r"""SHA-256 of what a student writes in a notebook: the type and the source of every cell.

    Outputs, execution counts, metadata (the hash :func:`write_student_copies` stores included)
    and the way Jupyter stores a source (one string or a list of lines) do not count, so running
    and saving an unchanged copy does not make it "edited".

    Examples
    --------
    >>> nb = {"cells": [{"cell_type": "code", "source": "x = 1\ny = 2", "outputs": []}]}
    >>> saved = {"cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"],
    ...                     "outputs": [{"output_type": "stream", "text": "ran"}]}],
    ...          "metadata": {"cvkit": {"student_copy_sha256": "..."}}}
    >>> copy_hash(nb) == copy_hash(saved)
    True
    >>> saved["cells"][0]["source"] = "x = 42"   # an answer
    >>> copy_hash(nb) == copy_hash(saved)
    False
    """
    cells = [[cell.get("cell_type"), "".join(cell.get("source", ""))]
             for cell in notebook.get("cells", [])]
    text = json.dumps(cells, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_RELATIVE_RE = re.compile(r"""(["'])(\.\./[^"'\n]*)\1""")


def relocate_paths(source, src_dir):
    r"""Rewrite the relative paths of a notebook in ``src_dir`` for its copy one folder deeper.

    A student copy lives in ``<src_dir>/exercises/`` and Jupyter runs it from there, so a path such
    as ``"../datasets/fixtures/cub200"`` (from ``notebooks/``) becomes
    ``"../../datasets/fixtures/cub200"``. Only quoted strings that start with ``../`` and name a
    file or folder that exists from ``src_dir`` are rewritten.

    Parameters
    ----------
    source : str
        The source of a code cell.
    src_dir : str or Path
        The folder of the notebook.

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (Path(tmp) / "data").mkdir()
    ...     (Path(tmp) / "notebooks").mkdir()
    ...     print(relocate_paths('load("../data")\nx = "../missing"', Path(tmp) / "notebooks"))
    load("../../data")
    x = "../missing"
    """
    def repl(m):
        exists = (Path(src_dir) / m.group(2)).exists()
        return f"{m.group(1)}../{m.group(2)}{m.group(1)}" if exists else m.group(0)

    return _RELATIVE_RE.sub(repl, source)


def _student_copy(path):
    """The student copy of the notebook at ``path`` (solutions stubbed, relative paths made to work
    from ``exercises/``), its hash recorded in its metadata."""
    with open(path, encoding="utf-8") as fh:
        student = strip_solutions(json.load(fh))
    for cell in student.get("cells", []):
        if cell.get("cell_type") == "code":   # a source is a string or a list of lines
            src = cell.get("source", "")
            cell["source"] = (relocate_paths(src, Path(path).parent) if isinstance(src, str) else
                              [relocate_paths(line, Path(path).parent) for line in src])
    student.setdefault("metadata", {}).setdefault("cvkit", {})[_HASH_KEY] = copy_hash(student)
    return student


def _is_edited(out, fresh):
    """Whether the existing copy ``out`` was changed since cvkit wrote it. A copy without a
    recorded hash (written by an older cvkit) counts as unedited only when it equals ``fresh``."""
    try:
        with open(out, encoding="utf-8") as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        return True   # unreadable: not ours to overwrite silently
    stored = old.get("metadata", {}).get("cvkit", {}).get(_HASH_KEY)
    if stored is None:
        return copy_hash(old) != copy_hash(fresh)
    return copy_hash(old) != stored


def _pairs(src_dir, dst_dir):
    src = Path(src_dir)
    if not src.is_dir():
        raise ValueError(f"`src_dir` must be a folder of notebooks; {str(src)!r} does not exist.")
    dst = Path(dst_dir) if dst_dir is not None else src / "exercises"
    return dst, [(path, dst / path.name) for path in sorted(src.glob("[0-9][0-9]_*.ipynb"))]


def edited_copies(src_dir="notebooks", dst_dir=None):
    r"""The student copies in ``dst_dir`` that were edited since :func:`write_student_copies`
    wrote them (a student's answers: never overwritten without ``force``).

    Parameters
    ----------
    src_dir, dst_dir : str or Path
        As in :func:`write_student_copies`.

    Returns
    -------
    list of Path

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [],
    ...         "execution_count": None, "source": "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n"}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "00_demo.ipynb").write_text(json.dumps({"cells": [cell]}))
    ...     [copy] = write_student_copies(tmp)
    ...     before = edited_copies(tmp)
    ...     nb = json.loads(copy.read_text())
    ...     nb["cells"][0]["source"] = "x = 2   # my answer"
    ...     _ = copy.write_text(json.dumps(nb))
    ...     print(before, [p.name for p in edited_copies(tmp)])
    [] ['00_demo.ipynb']
    """
    _, pairs = _pairs(src_dir, dst_dir)
    return [out for path, out in pairs if out.exists() and _is_edited(out, _student_copy(path))]


def write_student_copies(src_dir="notebooks", dst_dir=None, force=False):
    r"""Write the student copy of every ``NN_*.ipynb`` in ``src_dir`` to ``dst_dir``.

    A copy that a student edited since it was written (see :func:`edited_copies`) is kept as it
    is, unless ``force`` is true.

    Parameters
    ----------
    src_dir : str or Path
        Folder of the notebooks; only names ``NN_*.ipynb`` (two digits) are copied.
    dst_dir : str or Path, optional
        Created if missing; defaults to ``<src_dir>/exercises``.
    force : bool
        Overwrite edited copies too (their answers are lost).

    Returns
    -------
    list of Path
        The copies written (edited copies that were kept are not in it).

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
    ...     _ = written[0].write_text(json.dumps({"cells": []}))        # a student's edits
    ...     print(write_student_copies(tmp), len(write_student_copies(tmp, force=True)))
    [('exercises', '00_demo.ipynb')]
    raise NotImplementedError('Exercise: write your solution here')
    <BLANKLINE>
    [] 1
    """
    dst, pairs = _pairs(src_dir, dst_dir)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path, out in pairs:
        student = _student_copy(path)
        if out.exists() and not force and _is_edited(out, student):
            continue
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(student, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        written.append(out)
    return written
