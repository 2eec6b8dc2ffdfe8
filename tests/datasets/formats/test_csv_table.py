"""``load_csv`` on the committed fixture copy: boxes, class names, integer labels, and every
bad-input case of its rows and images."""
import os
import warnings

import numpy as np
import pytest

from cvkit.datasets.formats import BOX_TOLERANCE_PX, load_csv
from formats_helpers import (CSV, _copy, _expect_error, _expect_skip, _make_region_datasets,
                             _set_line, _tol, mk, sources)  # noqa: F401  (sources is a fixture)


def test_csv_fixture_matches_shapes(sources):
    ds, sizes = sources["csv"]
    recs = load_csv(CSV, class_names=mk.CLASSES)
    np.testing.assert_array_equal(recs.labels, ds.labels)
    np.testing.assert_array_equal(recs.sizes, sizes)
    assert np.all(np.abs(recs.boxes - ds.boxes) <= _tol(sizes))
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in recs.paths)
    default = load_csv(CSV)  # names sorted alphabetically without class_names
    assert default.class_names == tuple(sorted(mk.CLASSES))
    assert [default.class_names[i] for i in default.labels] == [mk.CLASSES[i] for i in ds.labels]


def test_small_overshoot_is_clipped(tmp_path):
    pet, cub, csv_path = _make_region_datasets(tmp_path, 10, 20, 0, 0, 19, 9)
    assert BOX_TOLERANCE_PX >= 1
    _set_line(csv_path, 2, "a.png,0,-0.5,0,20.5,10")
    np.testing.assert_allclose(load_csv(csv_path).boxes[0], [0, 0, 1, 1])


def test_csv_integer_labels(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    path = csv_dir / "boxes.csv"
    lines = path.read_text().splitlines()
    ref = load_csv(CSV, class_names=mk.CLASSES)
    for i, label in enumerate(ref.labels, start=2):
        parts = lines[i - 1].split(",")
        parts[1] = str(label)
        lines[i - 1] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    recs = load_csv(path)
    assert recs.class_names == ("0", "1", "2", "3")
    np.testing.assert_array_equal(recs.labels, ref.labels)
    np.testing.assert_array_equal(load_csv(path, class_names=mk.CLASSES).labels, ref.labels)
    _set_line(path, 2, lines[1].replace(f",{ref.labels[0]},", ",7,", 1))
    _expect_error(lambda: load_csv(path, class_names=mk.CLASSES), "boxes.csv", 2)


def test_csv_huge_integer_label_is_one_bad_row(tmp_path):
    """Issue 17: one mistyped integer label must not build a billion class names."""
    csv_dir = _copy(tmp_path, "csv")
    path = csv_dir / "boxes.csv"
    ref = load_csv(CSV, class_names=mk.CLASSES)
    lines = path.read_text().splitlines()
    for i, label in enumerate(ref.labels, start=2):
        parts = lines[i - 1].split(",")
        parts[1] = "1000000000" if i == 4 else str(label)
        lines[i - 1] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    err = _expect_error(lambda: load_csv(path), "boxes.csv", 4)
    assert "1000000000" in str(err)
    recs = _expect_skip(lambda: load_csv(path, on_error="skip"), 5, "1000000000")
    assert recs.class_names == ("0", "1", "2", "3")
    np.testing.assert_array_equal(recs.labels, np.delete(ref.labels, 2))
    # with class names the label is an index that must lie in range
    _expect_error(lambda: load_csv(path, class_names=mk.CLASSES), "boxes.csv", 4)


# ------------------------------------------------------------------------------------------------
# bad input: each case raises naming the file and the line; on_error='skip' drops the record
# ------------------------------------------------------------------------------------------------


def test_csv_missing_file(tmp_path):
    _expect_error(lambda: load_csv(tmp_path / "nope.csv"), "nope.csv", None)


def test_csv_missing_image_file(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    os.remove(csv_dir / "images" / "img_03.png")  # boxes.csv line 5
    _expect_error(lambda: load_csv(csv_dir / "boxes.csv"), "boxes.csv", 5)
    _expect_skip(lambda: load_csv(csv_dir / "boxes.csv", on_error="skip"), 5, "img_03")


def test_csv_malformed_lines(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    path = csv_dir / "boxes.csv"
    _set_line(path, 3, "images/img_01.png,square,46,5,90")
    _expect_error(lambda: load_csv(path), "boxes.csv", 3)
    _expect_skip(lambda: load_csv(path, on_error="skip"), 5, "expected 6 fields")
    _set_line(path, 3, "images/img_01.png,square,46,5,ninety,33")
    _expect_error(lambda: load_csv(path), "boxes.csv", 3)
    _set_line(path, 3, "images/img_01.png,hexagon,46,5,90,33")
    _expect_error(lambda: load_csv(path, class_names=mk.CLASSES), "boxes.csv", 3)
    _set_line(path, 1, "file,label,x_min,y_min,x_max,y_max")
    _expect_error(lambda: load_csv(path), "boxes.csv", 1)


def test_csv_box_outside_the_image(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    _set_line(csv_dir / "boxes.csv", 2, "images/img_00.png,triangle,-3,21,38,52")
    _expect_error(lambda: load_csv(csv_dir / "boxes.csv"), "boxes.csv", 2)
    _expect_skip(lambda: load_csv(csv_dir / "boxes.csv", on_error="skip"), 5, "outside")


def test_csv_inverted_or_empty_box(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    _set_line(csv_dir / "boxes.csv", 4, "images/img_02.png,star,21,30,4,57")
    _expect_error(lambda: load_csv(csv_dir / "boxes.csv"), "boxes.csv", 4)
    _expect_skip(lambda: load_csv(csv_dir / "boxes.csv", on_error="skip"), 5, "inverted")


def test_all_records_bad_is_an_error(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    (csv_dir / "boxes.csv").write_text("path,label,x_min,y_min,x_max,y_max\n"
                                       "missing.png,a,0,0,1,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="no valid records"):
            load_csv(csv_dir / "boxes.csv", on_error="skip")


def test_csv_bad_arguments():
    with pytest.raises(TypeError, match="class_names"):
        load_csv(CSV, class_names="circle")
    with pytest.raises(ValueError, match="class_names"):
        load_csv(CSV, class_names=["a", "a"])
