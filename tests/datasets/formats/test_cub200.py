"""``load_cub200`` on the committed fixture copy: boxes, splits, grey images, and every bad-input
case of its id tables and images."""
import os
import shutil

import numpy as np
import pytest

from cvkit.datasets.formats import load_cub200
from formats_helpers import (CUB, FIXTURES, _copy, _expect_error, _expect_skip, _set_line, _tol,
                             mk, sources)  # noqa: F401  (sources is a fixture)


def test_cub_fixture_matches_shapes_and_splits(sources):
    ds, sizes = sources["cub200"]
    recs = load_cub200(CUB)
    assert len(recs) == len(ds) and recs.class_names == mk.CLASSES and recs.mask_paths is None
    np.testing.assert_array_equal(recs.labels, ds.labels)
    np.testing.assert_array_equal(recs.sizes, sizes)
    # CUB stores floats with one decimal: x and width each round by <= 0.05 px
    assert np.all(np.abs(recs.boxes - ds.boxes) <= _tol(sizes) / 5)
    train, test = load_cub200(CUB, split="train"), load_cub200(CUB, split="test")
    assert len(train) + len(test) == len(ds)
    np.testing.assert_array_equal(train.labels, ds.labels[0::2])  # fixture: even ids train
    np.testing.assert_array_equal(test.boxes, recs.boxes[1::2])


def test_grey_and_jpeg_images_decode_to_rgb(sources):
    ds, sizes = sources["cub200"]
    recs = load_cub200(CUB)
    imgs = recs.load_images(64)
    grey = imgs[mk.CUB_GREY]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    for i, size in enumerate(sizes):
        if size == (64, 64) and i != mk.CUB_GREY:  # JPEG at native size: close to the source
            assert np.abs(imgs[i] - ds.images[i]).mean() < 0.03


def test_cub_home_paths_become_absolute(monkeypatch, tmp_path):
    shutil.copytree(os.path.join(FIXTURES, "cub200"), tmp_path / "cub")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert len(load_cub200("~/cub")) == 8


# ------------------------------------------------------------------------------------------------
# bad input: each case raises naming the file and the line; on_error='skip' drops the record
# ------------------------------------------------------------------------------------------------


def test_cub_missing_folders_and_index_files(tmp_path):
    _expect_error(lambda: load_cub200(tmp_path / "nope"), "nope", None)
    cub = _copy(tmp_path, "cub200")
    os.remove(cub / "bounding_boxes.txt")
    err = _expect_error(lambda: load_cub200(cub, on_error="skip"), "bounding_boxes.txt", None)
    assert not err.skippable  # a missing index file cannot be skipped


def test_cub_missing_image_file(tmp_path):
    cub = _copy(tmp_path, "cub200")
    os.remove(cub / "images" / "002.square" / "square_0003.jpg")  # images.txt line 3
    _expect_error(lambda: load_cub200(cub), "images.txt", 3)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "square_0003")


def test_cub_malformed_lines(tmp_path):
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "bounding_boxes.txt", 2, "2 61.5 5.0 30.0")
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 2)
    recs = _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "bounding_boxes.txt")
    assert 2 not in [int(os.path.basename(p)[-8:-4]) for p in recs.paths]
    _set_line(cub / "bounding_boxes.txt", 2, "2 61.5 five 30.0 20.0")
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 2)
    _set_line(cub / "bounding_boxes.txt", 2, "1 61.5 5.0 30.0 20.0")  # id 1 again
    err = _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 2)
    assert "appears again" in str(err)
    _set_line(cub / "bounding_boxes.txt", 2, "")  # id 2 has no box at all
    err = _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", None)
    assert "image id 2" in str(err) and "images.txt, line 2" in str(err)
    cub2 = _copy(tmp_path / "b", "cub200")
    _set_line(cub2 / "image_class_labels.txt", 4, "4 9")  # no class 9
    _expect_error(lambda: load_cub200(cub2), "image_class_labels.txt", 4)
    _set_line(cub2 / "classes.txt", 2, "5 005.square")
    err = _expect_error(lambda: load_cub200(cub2, on_error="skip"), "classes.txt", 2)
    assert not err.skippable


@pytest.mark.parametrize("split", ["all", "train"])
def test_cub_image_line_without_path_is_skipped(tmp_path, split):
    """An images.txt line with an id but no path is one bad record (it used to crash in skip
    mode with a TypeError)."""
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "images.txt", 4, "4")
    _expect_error(lambda: load_cub200(cub, split=split), "images.txt", 4)
    recs = _expect_skip(lambda: load_cub200(cub, split=split, on_error="skip"),
                        7 if split == "all" else 4, "images.txt, line 4")
    assert not any("square_0004" in p for p in recs.paths)


def test_cub_box_outside_the_image(tmp_path):
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "bounding_boxes.txt", 1, "1 50.0 17.0 29.0 28.0")  # 64 px wide: 50 + 29 > 65
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 1)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "outside")


def test_cub_inverted_or_empty_box(tmp_path):
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "bounding_boxes.txt", 5, "5 39.0 20.0 0.0 20.0")  # zero width
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 5)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "inverted or empty")


def test_cub_bad_arguments():
    with pytest.raises(ValueError, match="on_error"):
        load_cub200(CUB, on_error="ignore")
    with pytest.raises(ValueError, match="split"):
        load_cub200(CUB, split="val")
