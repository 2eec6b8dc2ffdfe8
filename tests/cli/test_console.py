"""The quiet console: TensorFlow's start-up lines filtered (real warnings kept), cvkit's own errors
told from library failures, output folders checked, and a real ``python -m cvkit explain`` run
without a single start-up line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvkit.cli.console import (STARTUP_LINE, cvkit_error, error_line, filtered_stderr,
                               output_folder)

ROOT = Path(__file__).resolve().parents[2]

# the start-up lines of TensorFlow 2.21 on a machine without a GPU, as written to descriptor 2
STARTUP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795784354.010669   11274 port.cc:153] oneDNN custom operations are on. You may "
    "see slightly different numerical results.",
    "I0000 00:00:1795784354.010983   11274 cudart_stub.cc:31] Could not find cuda drivers on your "
    "machine, GPU will not be used.",
    "E0000 00:00:1795784382.870301   12039 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with "
    "the appropriate compiler flags.",
]
TELLTALES = ("cuInit", "oneDNN", "E0000", "I0000", "absl::InitializeLog")


def test_filter_drops_startup_lines_and_keeps_the_rest(capfd):
    real_error = "E0000 00:00:1795784382.870301   12039 op_kernel.cc:1] Out of memory on a tensor"
    with filtered_stderr():
        os.write(2, ("\n".join(STARTUP[:3]) + "\nsomething else\n").encode())
        os.write(2, (real_error + "\n" + "\n".join(STARTUP[3:]) + "\n").encode())
    err = capfd.readouterr().err
    assert err == f"something else\n{real_error}\n"
    assert all(STARTUP_LINE.match(line) for line in STARTUP)


def test_python_warnings_pass_the_filter():
    code = ("import os, warnings\n"
            "from cvkit.cli.console import filtered_stderr\n"
            "with filtered_stderr():\n"
            f"    os.write(2, {STARTUP[1]!r}.encode() + b'\\n')\n"
            "    warnings.warn('a real warning', UserWarning)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "UserWarning: a real warning" in res.stderr, res.stderr
    assert "oneDNN" not in res.stderr


def test_filter_writes_back_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError), filtered_stderr():
        os.write(2, b"kept line\n")
        raise RuntimeError("boom")
    assert capfd.readouterr().err == "kept line\n"


def test_cvkit_errors_are_told_from_library_errors():
    import numpy as np

    from cvkit.wsol import recipe_boxes

    with pytest.raises(ValueError) as own:
        recipe_boxes(np.zeros((4, 4)), threshold=2.0)
    with pytest.raises(ValueError) as deep:
        np.zeros(3).reshape(2, 2)
    assert cvkit_error(own.value) and not cvkit_error(deep.value)
    assert not cvkit_error(RuntimeError("not a bad-input kind"))
    assert error_line(own.value).startswith("error: `threshold`")


def test_output_folder_refuses_files_and_unwritable_paths(tmp_path):
    afile = tmp_path / "taken.txt"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is an existing file"):
        output_folder(afile, "--out")
    with pytest.raises(ValueError, match="cannot create the folder .*Not a directory"):
        output_folder(afile / "sub", "--out")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(ValueError, match="is not writable"):
            output_folder(locked)
        with pytest.raises(ValueError, match="cannot create the folder .*Permission denied"):
            output_folder(locked / "new")
    finally:
        locked.chmod(0o700)


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **extra}


def test_explain_subprocess_prints_no_tensorflow_startup_line(tmp_path, photos, tiny_keras):
    res = subprocess.run([sys.executable, "-m", "cvkit", "explain", str(photos[0]), "--model",
                          str(tiny_keras), "--out", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, env=_clean_env(), timeout=300)
    assert res.returncode == 0, res.stderr
    both = res.stdout + res.stderr
    assert not [t for t in TELLTALES if t in both], both
    assert "chelsea.png" in res.stdout and (tmp_path / "chelsea_grad-cam.png").exists()


@pytest.mark.parametrize("user, expected", [(None, "1"), ("0", "0")])
def test_import_cvkit_sets_the_log_level_only_where_unset(user, expected):
    env = _clean_env() if user is None else _clean_env(TF_CPP_MIN_LOG_LEVEL=user)
    code = "import os, cvkit; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.stdout.strip() == expected, res.stderr
