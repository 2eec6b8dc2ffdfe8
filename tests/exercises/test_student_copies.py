"""The student copies in notebooks/exercises/ work from where they are, and the tool keeps a
student's answers."""
import json
import re
from pathlib import Path

import pytest

from cvkit.exercises import copy_hash, edited_copies, write_student_copies
from cvkit.exercises.copies import relocate_paths

ROOT = Path(__file__).resolve().parents[2]
COPIES = sorted((ROOT / "notebooks" / "exercises").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", COPIES, ids=[p.stem for p in COPIES])
def test_relative_paths_of_a_copy_exist_from_its_folder(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for rel in re.findall(r"""["'](\.\./[^"'\n]*)["']""", "".join(cell["source"])):
            assert (path.parent / rel).exists(), f"{path.name}: {rel} is missing from {path.parent}"


@pytest.mark.parametrize("path", COPIES, ids=[p.stem for p in COPIES])
def test_committed_copies_are_unedited(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["cvkit"]["student_copy_sha256"] == copy_hash(nb)


def test_relocate_paths_only_rewrites_paths_that_exist(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "nb").mkdir()
    src = "a = '../data'\nb = \"../data/x.csv\"\nc = '../nope'\nd = 'data'\n"
    assert relocate_paths(src, tmp_path / "nb") == ("a = '../../data'\nb = \"../data/x.csv\"\n"
                                                    "c = '../nope'\nd = 'data'\n")


def test_an_answer_typed_in_a_copy_is_kept(tmp_path):
    cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [],
            "execution_count": None, "source": ["def f():\n", "    # BEGIN SOLUTION\n",
                                                "    return 1\n", "    # END SOLUTION\n"]}
    (tmp_path / "03_demo.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}}))
    [copy] = write_student_copies(tmp_path)
    nb = json.loads(copy.read_text())
    nb["cells"][0]["source"] = ["def f():\n", "    return 1   # mine\n"]
    copy.write_text(json.dumps(nb))
    assert edited_copies(tmp_path) == [copy]
    assert write_student_copies(tmp_path) == [] and "mine" in copy.read_text()
    assert write_student_copies(tmp_path, force=True) == [copy] and "mine" not in copy.read_text()
