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
