"""Execute every notebook in a fresh kernel; check the student copies hold no solution."""
import json
import sys
from pathlib import Path

import pytest

from cvkit.exercises import BEGIN, END, strip_solutions, write_student_copies

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    sys.path.insert(0, str(ROOT / "notebooks"))
    from execute import execute

    # run from notebooks/ (relative paths such as ../datasets/fixtures), never saving over it
    nb, elapsed = execute(path, timeout=600, save=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_checked_exercises(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    ex = [c for c in nb["cells"] if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert ex, f"{path.name} has no cell tagged 'exercise'"
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "cvkit.exercises" in text, f"{path.name} never calls a checker from cvkit.exercises"


def test_student_copies_hold_no_solution(tmp_path):
    written = write_student_copies(ROOT / "notebooks", tmp_path)
    assert len(written) == len(NOTEBOOKS)
    for out in written:
        nb = json.loads(out.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            assert BEGIN not in src and END not in src
            if "exercise" in cell.get("metadata", {}).get("tags", []):
                assert "NotImplementedError" in src and not cell["outputs"]


def test_committed_student_copies_are_current(tmp_path):
    written = write_student_copies(ROOT / "notebooks", tmp_path)
    for out in written:
        committed = ROOT / "notebooks" / "exercises" / out.name
        assert committed.exists(), f"run `python -m cvkit exercises` to write {committed}"
        assert json.loads(committed.read_text()) == json.loads(out.read_text()), (
            f"{committed} is stale: run `python -m cvkit exercises`")


def test_strip_solutions_replaces_block_and_keeps_the_rest():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [1],
                     "execution_count": 3,
                     "source": "def f(x):\n    " + BEGIN + "\n    return x + 1\n    " + END
                               + "\n\ncheck(f)\n"},
                    {"cell_type": "markdown", "metadata": {}, "source": "text"}]}
    out = strip_solutions(nb)
    src = out["cells"][0]["source"]
    assert src == ("def f(x):\n    raise NotImplementedError('Exercise: write your solution here')"
                   "\n\ncheck(f)\n")
    assert out["cells"][0]["outputs"] == [] and nb["cells"][0]["outputs"] == [1]


def test_strip_solutions_rejects_untagged_or_unbalanced():
    untagged = {"cells": [{"cell_type": "code", "metadata": {}, "source": BEGIN + "\nx\n" + END}]}
    with pytest.raises(ValueError, match="no 'exercise' tag"):
        strip_solutions(untagged)
    unbalanced = {"cells": [{"cell_type": "code", "metadata": {"tags": ["exercise"]},
                             "source": BEGIN + "\nx\n"}]}
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions(unbalanced)


def test_write_student_copies_bad_folder(tmp_path):
    with pytest.raises(ValueError, match="src_dir"):
        write_student_copies(tmp_path / "missing")
