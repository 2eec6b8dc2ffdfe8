"""The tour: its sections and the gallery it writes."""
import re
import subprocess
import sys

import pytest

from cvkit.tour import SECTIONS, run_tour


def test_tour_rejects_unknown_section(tmp_path):
    with pytest.raises(ValueError, match="unknown tour sections"):
        run_tour(out=tmp_path, only=["nope"])


def test_every_section_has_a_module():
    import importlib

    for name, title in SECTIONS:
        mod = importlib.import_module(f"cvkit.tour.{name}")
        assert callable(mod.run) and title


@pytest.mark.slow
def test_tour_quick_writes_the_gallery(tmp_path):
    out = tmp_path / "gallery"
    res = subprocess.run([sys.executable, "-m", "cvkit", "tour", "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (out / "index.html").read_text()
    images = re.findall(r"src='([^']+\.png)'", html)
    sections = {s for s, _ in SECTIONS}
    assert {img.split("_")[0] for img in images} == sections
    for img in images:
        assert (out / img).stat().st_size > 2000
    assert html.count("<figcaption>") == len(images)
