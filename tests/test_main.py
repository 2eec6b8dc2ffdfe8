"""The command line (``python -m cvkit``) and the cost of ``import cvkit``."""
import doctest
import subprocess
import sys
from pathlib import Path


def test_exercises_command_writes_copies(tmp_path):
    res = subprocess.run([sys.executable, "-m", "cvkit", "exercises", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=str(Path(__file__).resolve().parents[1]))
    assert res.returncode == 0, res.stderr
    assert list(tmp_path.glob("00_*.ipynb"))


def test_cli_requires_a_command():
    res = subprocess.run([sys.executable, "-m", "cvkit"], capture_output=True, text=True)
    assert res.returncode == 2 and "command" in res.stderr


def test_import_cvkit_is_light():
    code = ("import sys, cvkit, cvkit.datasets, cvkit.preprocessing, cvkit.visualize; "
            "print('tensorflow' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.split() == ["False", "False"], res.stdout + res.stderr


def test_the_examples_of_main_run():
    import cvkit.__main__ as cli

    result = doctest.testmod(cli)
    assert result.attempted > 0 and result.failed == 0


def _exercises(src, out, *extra):
    return subprocess.run([sys.executable, "-m", "cvkit", "exercises", "--src", str(src), "--out",
                           str(out), *extra], capture_output=True, text=True)


def test_exercises_command_keeps_an_edited_copy_unless_forced(tmp_path):
    import json

    cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [],
            "execution_count": None, "source": "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n"}
    (tmp_path / "00_demo.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}}))
    (tmp_path / "01_other.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    out = tmp_path / "student"
    assert _exercises(tmp_path, out).returncode == 0
    copy = out / "00_demo.ipynb"
    # regenerating an untouched copy is fine, also after the notebook changed
    cell["source"] = "# BEGIN SOLUTION\nx = 2\n# END SOLUTION\nprint(x)\n"
    (tmp_path / "00_demo.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}}))
    assert _exercises(tmp_path, out).returncode == 0 and "print(x)" in copy.read_text()
    # running and saving it in Jupyter (sources as lists of lines, outputs) is not an edit
    nb = json.loads(copy.read_text())
    for c in nb["cells"]:
        c["source"] = c["source"].splitlines(keepends=True)
        c["outputs"] = [{"output_type": "error", "ename": "NotImplementedError"}]
    copy.write_text(json.dumps(nb, indent=2))
    assert _exercises(tmp_path, out).returncode == 0
    # a student's answer is kept, and the command says so
    nb = json.loads(copy.read_text())
    nb["cells"][0]["source"] = "x = 42   # my answer\nprint(x)\n"
    copy.write_text(json.dumps(nb, indent=2))
    res = _exercises(tmp_path, out)
    assert res.returncode == 1
    assert "kept" in res.stderr and "00_demo.ipynb" in res.stderr and "--force" in res.stderr
    assert "my answer" in copy.read_text() and "01_other.ipynb" in res.stdout
    # --force replaces it
    res = _exercises(tmp_path, out, "--force")
    assert res.returncode == 0 and "my answer" not in copy.read_text()
    assert "NotImplementedError" in copy.read_text() and "print(x)" in copy.read_text()
    assert _exercises(tmp_path, out).returncode == 0   # and it is ours again


def test_exercises_copy_without_hash_is_kept_only_when_it_differs(tmp_path):
    import json

    from cvkit.exercises import edited_copies, write_student_copies

    (tmp_path / "00_demo.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    out = tmp_path / "student"
    out.mkdir()
    (out / "00_demo.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))  # older cvkit
    assert edited_copies(tmp_path, out) == []
    assert write_student_copies(tmp_path, out) == [out / "00_demo.ipynb"]
    (out / "00_demo.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown",
                                                             "source": "notes"}]}))
    assert edited_copies(tmp_path, out) == [out / "00_demo.ipynb"]
    assert write_student_copies(tmp_path, out) == []
    (out / "00_demo.ipynb").write_text("{ not json")
    assert write_student_copies(tmp_path, out) == []


def _tour(out):
    return subprocess.run([sys.executable, "-m", "cvkit", "tour", "--quick", "--only", "datasets",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)


def test_tour_out_on_a_file_or_unwritable_path_is_one_line_and_status_2(tmp_path):
    taken = tmp_path / "taken.html"
    taken.write_text("a file")
    cases = [(taken, "is an existing file, not a folder"),
             (taken / "gallery", "cannot create the folder")]
    if Path("/sys").is_dir():                      # sysfs refuses mkdir, even to root
        cases.append((Path("/sys/cvkit-tour"), "cannot create the folder"))
    for out, expected in cases:
        res = _tour(out)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, res.stderr
        assert lines[0].startswith("error: `out`: ") and expected in lines[0], lines
        assert "Traceback" not in res.stderr and res.stdout == ""


def test_a_bug_keeps_its_traceback(monkeypatch):
    import numpy as np
    import pytest

    import cvkit.cli as cli

    def broken(args):
        return np.zeros(3).reshape(2, 2)         # a ValueError raised inside NumPy, not by cvkit

    monkeypatch.setitem(cli._RUN, "exercises", broken)
    with pytest.raises(ValueError, match="cannot reshape"):
        cli.main(["exercises"])
