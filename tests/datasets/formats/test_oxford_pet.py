"""``load_oxford_pet`` on the committed fixture copy: boxes, splits, trimaps, and every bad-input
case of its index, xml files and images."""
import os
import shutil

import numpy as np
import pytest

from cvkit.datasets import mask_to_box
from cvkit.datasets.formats import LocalizationRecords, load_oxford_pet
from formats_helpers import (PET, REPO, _copy, _expect_error, _expect_skip, _set_line, _tol, mk,
                             sources)  # noqa: F401  (sources is a fixture)


def test_pet_fixture_matches_shapes(sources):
    ds, sizes = sources["oxford_pet"]
    recs = load_oxford_pet(PET)
    n = mk.PET_WITH_XML
    assert isinstance(recs, LocalizationRecords) and len(recs) == n and recs.source == "oxford_pet"
    assert [c.lower() for c in recs.class_names] == list(mk.CLASSES)
    np.testing.assert_array_equal(recs.labels, ds.labels[:n])
    np.testing.assert_array_equal(recs.sizes, sizes[:n])
    assert np.all(np.abs(recs.boxes - ds.boxes[:n]) <= _tol(sizes[:n]))
    assert recs.boxes.dtype == np.float32 and recs.skipped == []
    assert all(os.path.isfile(p) for p in recs.paths + recs.mask_paths)


def test_pet_splits_and_images_without_boxes(sources):
    ds, sizes = sources["oxford_pet"]
    assert len(load_oxford_pet(PET, split="trainval")) == mk.PET_WITH_XML
    with pytest.raises(ValueError, match="require_boxes=False"):
        load_oxford_pet(PET, split="test")
    test = load_oxford_pet(PET, split="test", require_boxes=False)
    assert len(test) == len(ds) - mk.PET_TRAINVAL and np.isnan(test.boxes).all()
    np.testing.assert_array_equal(test.sizes, sizes[mk.PET_TRAINVAL:])  # from the image headers
    full = load_oxford_pet(PET, require_boxes=False, masks=False)
    assert len(full) == len(ds) and full.mask_paths is None
    no_box = np.arange(len(ds)) >= mk.PET_WITH_XML
    np.testing.assert_array_equal(np.isnan(full.boxes).any(1), no_box)


def test_pet_masks_from_trimaps(sources):
    from scipy.ndimage import binary_erosion

    ds, sizes = sources["oxford_pet"]
    recs = load_oxford_pet(PET, require_boxes=False)
    fg = recs.load_masks(64)
    bg = recs.load_masks(64, border="background")
    assert fg.shape == (len(ds), 64, 64) and fg.dtype == bool
    for i, size in enumerate(sizes):
        if size == (64, 64):  # native size: the trimap gives the mask back exactly
            np.testing.assert_array_equal(fg[i], ds.masks[i])
            np.testing.assert_array_equal(bg[i], binary_erosion(ds.masks[i], border_value=0))
        inter = np.logical_and(fg[i], ds.masks[i]).sum()
        assert inter / np.logical_or(fg[i], ds.masks[i]).sum() > 0.8
        # the box of the mask agrees with the box of the record (both from the same shape)
        assert np.all(np.abs(mask_to_box(fg[i]) - ds.boxes[i]) <= 2.5 / 64)


def test_pet_size_from_image_header_without_xml_size(tmp_path, sources):
    ds, sizes = sources["oxford_pet"]
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "Square_2.xml"  # 64 x 96 (H x W)
    for lineno in (8, 9, 10):  # drop <width>, <height>, <depth>
        _set_line(xml, lineno, "")
    recs = load_oxford_pet(pet)
    np.testing.assert_array_equal(recs.sizes[1], sizes[1])
    np.testing.assert_allclose(recs.boxes[1], load_oxford_pet(PET).boxes[1])
    _set_line(xml, 8, "    <width>0</width>")  # VOC tools write 0 for "unknown"
    _set_line(xml, 9, "    <height>0</height>")
    np.testing.assert_array_equal(load_oxford_pet(pet).sizes[1], sizes[1])
    _set_line(xml, 9, "")  # a <size> with <width> but no <height> is malformed
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 7)


def test_pet_relative_paths_become_absolute(monkeypatch):
    monkeypatch.chdir(os.path.join(REPO, "datasets"))
    recs = load_oxford_pet(os.path.join("fixtures", "oxford_pet"))
    assert all(os.path.isabs(p) for p in recs.paths + recs.mask_paths)


# ------------------------------------------------------------------------------------------------
# bad input: each case raises naming the file and the line; on_error='skip' drops the record
# ------------------------------------------------------------------------------------------------


def test_pet_missing_folders_and_index_files(tmp_path):
    _expect_error(lambda: load_oxford_pet(tmp_path / "nope"), "nope", None)
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "annotations" / "list.txt")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", None)
    shutil.rmtree(pet / "images")
    _expect_error(lambda: load_oxford_pet(pet), "images", None)


def test_pet_missing_image_file(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "images" / "Square_2.jpg")  # list.txt line 7
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 7)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "Square_2")


def test_missing_trimap(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "annotations" / "trimaps" / "star_1.png")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 6)
    assert len(load_oxford_pet(pet, masks=False)) == mk.PET_WITH_XML


def test_pet_malformed_lines(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 two 1 2")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 8)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "CLASS-ID")
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 2 1")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 8)
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 2 1 2")
    _set_line(pet / "annotations" / "list.txt", 11, "Square_6 3 1 2")  # class 3 is 'triangle'
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 11)


def test_malformed_xml(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "Square_2.xml"
    _set_line(xml, 19, "      <xmin>7</xmin")  # broken tag: expat stops on the next line
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 20)
    _set_line(xml, 19, "      <xmin>seven</xmin>")
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 19)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "<xmin>")
    _set_line(xml, 19, "")  # no xmin at all: named at the <bndbox> line
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 18)


def test_pet_box_outside_the_image(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "Square_2.xml"  # 96 px wide
    _set_line(xml, 21, "      <xmax>99</xmax>")
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 18)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "outside")


def test_pet_inverted_box(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "star_1.xml"  # xmin 12 .. xmax 29
    _set_line(xml, 21, "      <xmax>10</xmax>")
    _expect_error(lambda: load_oxford_pet(pet), "star_1.xml", 18)


def test_pet_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        load_oxford_pet(PET, split="train")


# ------------------------------------------------------------------------------------------------
# class ids (issue 17): a mistyped id is one bad line, never a billion class names
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lineno, text", [(11, "Square_6 1000000000 1 2"),
                                          (13, "Circle_8 1000000000 1 1")])  # its breed's only line
def test_pet_huge_class_id_is_one_bad_line(tmp_path, lineno, text):
    pet = _copy(tmp_path, "oxford_pet")
    _set_line(pet / "annotations" / "list.txt", lineno, text)
    err = _expect_error(lambda: load_oxford_pet(pet, masks=False), "list.txt", lineno)
    assert "1000000000" in str(err)
    recs = _expect_skip(lambda: load_oxford_pet(pet, require_boxes=False, masks=False,
                                                on_error="skip"), mk.SPEC["oxford_pet"][0] - 1,
                       "1000000000")
    assert len(recs.class_names) == len(mk.CLASSES)
    assert f"line {lineno}" in recs.skipped[0]


def test_pet_wrong_class_id_drops_exactly_its_line(tmp_path, sources):
    """Square_2 (line 7) says CLASS-ID 3, which the two triangle lines after it (9, 10) also say:
    the one disagreeing line is the bad one, whichever comes first."""
    ds, _ = sources["oxford_pet"]
    n = mk.PET_WITH_XML
    pet = _copy(tmp_path, "oxford_pet")
    _set_line(pet / "annotations" / "list.txt", 7, "Square_2 3 1 2")
    err = _expect_error(lambda: load_oxford_pet(pet), "list.txt", 7)
    assert "'Square'" in str(err) and "'triangle'" in str(err)
    recs = _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), n - 1, "line 7")
    assert [c.lower() for c in recs.class_names] == list(mk.CLASSES)
    np.testing.assert_array_equal(recs.labels, np.delete(ds.labels[:n], 1))
    assert not any("Square_2" in p for p in recs.paths)
    # a breed with a second CLASS-ID on one line: that line is the bad one
    _set_line(pet / "annotations" / "list.txt", 7, "Square_2 2 1 2")
    _set_line(pet / "annotations" / "list.txt", 12, "Square_7 4 1 2")
    _expect_error(lambda: load_oxford_pet(pet, require_boxes=False, masks=False), "list.txt", 12)
