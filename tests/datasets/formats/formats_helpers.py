"""Shared helpers of the loader tests: the fixture paths, the fixture maker, copies of a fixture
with a line changed, and the checks that an error names the file and the line."""
import importlib.util
import os
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from cvkit.datasets.formats import DatasetFormatError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(REPO, "datasets", "fixtures")
PET = os.path.join(FIXTURES, "oxford_pet")
CUB = os.path.join(FIXTURES, "cub200")
CSV = os.path.join(FIXTURES, "csv", "boxes.csv")


def _load_maker():
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", os.path.join(REPO, "datasets", "make_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mk = _load_maker()


@pytest.fixture(scope="module")
def sources():
    return {name: mk.source_shapes(name) for name in mk.SPEC}


def _tol(sizes):
    """Half a pixel of rounding on each edge, in normalised units, per box (N, 4)."""
    sizes = np.asarray(sizes, float)
    h, w = sizes[:, 0], sizes[:, 1]
    return np.stack([0.5 / w, 0.5 / h, 0.5 / w, 0.5 / h], axis=1) + 1e-6


def _copy(tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, name), dst)
    return dst


def _set_line(path, lineno, text):
    lines = open(path, encoding="utf-8").read().splitlines()
    lines[lineno - 1] = text
    open(path, "w", encoding="utf-8").write("\n".join(lines) + "\n")


def _expect_error(call, path, line):
    """The call raises a ValueError naming ``path`` and ``line``; returns the error."""
    with pytest.raises(ValueError) as info:
        call()
    err = info.value
    assert isinstance(err, DatasetFormatError)
    assert os.path.basename(str(path)) in str(err)
    if line is not None:
        assert f"line {line}" in str(err) and err.line == line
    return err


def _expect_skip(call, n_expected, fragment):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = call()
    assert len(recs.skipped) == 1 and fragment in recs.skipped[0]
    assert any("skipped 1 bad record" in str(w.message) for w in caught)
    assert len(recs) == n_expected
    return recs


def _write_image(path, h, w):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path)


def _make_region_datasets(tmp_path, h, w, c0, r0, c1, r1):
    """The same pixel region (columns c0..c1, rows r0..r1, inclusive, 0-based) in all 3 formats."""
    pet = tmp_path / "pet"
    _write_image(str(pet / "images" / "Cat_1.jpg"), h, w)
    os.makedirs(pet / "annotations" / "xmls")
    (pet / "annotations" / "list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\nCat_1 1 1 1\n")
    (pet / "annotations" / "xmls" / "Cat_1.xml").write_text(
        f"<annotation><size><width>{w}</width><height>{h}</height></size><object><bndbox>"
        f"<xmin>{c0 + 1}</xmin><ymin>{r0 + 1}</ymin><xmax>{c1 + 1}</xmax><ymax>{r1 + 1}</ymax>"
        "</bndbox></object></annotation>")
    cub = tmp_path / "cub"
    _write_image(str(cub / "images" / "001.a" / "a.png"), h, w)
    for fname, text in (("images.txt", "1 001.a/a.png"), ("image_class_labels.txt", "1 1"),
                        ("bounding_boxes.txt", f"1 {c0}.0 {r0}.0 {c1 - c0 + 1}.0 {r1 - r0 + 1}.0"),
                        ("classes.txt", "1 001.a")):
        (cub / fname).write_text(text + "\n")
    csv_dir = tmp_path / "csvset"
    _write_image(str(csv_dir / "a.png"), h, w)
    (csv_dir / "b.csv").write_text(f"path,label,x_min,y_min,x_max,y_max\na.png,0,{c0},{r0},"
                                   f"{c1 + 1},{r1 + 1}\n")
    return str(pet), str(cub), str(csv_dir / "b.csv")
