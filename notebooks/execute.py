"""Execute notebooks in place, top to bottom in a fresh kernel, and save their outputs.

    python notebooks/execute.py notebooks/00_datasets_and_preprocessing.ipynb [...]

With no argument, every ``NN_*.ipynb`` in this folder. The tests run the same function on copies.
"""
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
# quiet TensorFlow's C++ start-up logs in the kernels started from here
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# TensorFlow's C++ runtime writes start-up lines (no CUDA driver, CPU features) to stderr that no
# setting silences; they are noise in a saved notebook, so they are dropped from saved outputs.
_TF_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} [\d:. ]+\s*\d+ "
                       r"\w+\.cc:\d+\]|To enable the following instructions).*(\n|$)", re.M)


def _drop_tf_noise(nb):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = _TF_NOISE.sub("", out["text"])
                if not out["text"].strip():
                    continue
            kept.append(out)
        cell.outputs = kept
    return nb


def execute(path, timeout=600, save=True):
    """Run the notebook at ``path`` in a fresh python3 kernel with its folder as working dir."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - t0
    if save:
        nbformat.write(_drop_tf_noise(nb), path)
    return nb, elapsed


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for p in paths:
        _, s = execute(p)
        print(f"{p}: {s:.1f} s")
