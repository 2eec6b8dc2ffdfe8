"""Loaders for Oxford-IIIT Pet, CUB-200-2011 and CSV on the committed fixture copies, their pixel
conventions against hand-worked boxes and ``mask_to_box``, and every bad-input case."""
import importlib.util
import os
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from cvkit.datasets import mask_to_box
from cvkit.datasets.formats import (
    BOX_TOLERANCE_PX,
    DatasetFormatError,
    LocalizationRecords,
    load_csv,
    load_cub200,
    load_oxford_pet,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


# ------------------------------------------------------------------------------------------------
# the fixtures load back what they were made from
# ------------------------------------------------------------------------------------------------


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


def test_fixture_script_is_deterministic(tmp_path):
    mk.write_fixtures(str(tmp_path))
    for dirpath, _, files in os.walk(FIXTURES):
        for f in files:
            ref = os.path.join(dirpath, f)
            new = os.path.join(tmp_path, os.path.relpath(ref, FIXTURES))
            assert os.path.isfile(new), new
            if f.endswith((".txt", ".xml", ".csv")):
                assert open(ref).read() == open(new).read(), f
            else:  # encoders may differ across Pillow versions: compare the pixels
                a = np.asarray(Image.open(ref), float)
                b = np.asarray(Image.open(new), float)
                assert a.shape == b.shape and np.abs(a - b).mean() < 2.0, f


# ------------------------------------------------------------------------------------------------
# pixel conventions, hand-worked
# ------------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("region", [(0, 0, 19, 9), (4, 2, 4, 2), (3, 1, 15, 8)])
def test_pixel_conventions_agree_with_mask_to_box(tmp_path, region):
    h, w = 10, 20
    c0, r0, c1, r1 = region
    mask = np.zeros((h, w), bool)
    mask[r0:r1 + 1, c0:c1 + 1] = True
    expected = mask_to_box(mask)
    pet, cub, csv_path = _make_region_datasets(tmp_path, h, w, *region)
    for recs in (load_oxford_pet(pet, masks=False), load_cub200(cub), load_csv(csv_path)):
        np.testing.assert_allclose(recs.boxes[0], expected, atol=1e-7)
        np.testing.assert_array_equal(recs.sizes[0], (h, w))
    if region == (0, 0, 19, 9):
        np.testing.assert_allclose(expected, [0, 0, 1, 1])
    if region == (4, 2, 4, 2):  # one pixel: hand-worked [4/20, 2/10, 5/20, 3/10]
        np.testing.assert_allclose(expected, [0.2, 0.2, 0.25, 0.3])


def test_small_overshoot_is_clipped(tmp_path):
    pet, cub, csv_path = _make_region_datasets(tmp_path, 10, 20, 0, 0, 19, 9)
    assert BOX_TOLERANCE_PX >= 1
    _set_line(csv_path, 2, "a.png,0,-0.5,0,20.5,10")
    np.testing.assert_allclose(load_csv(csv_path).boxes[0], [0, 0, 1, 1])


# ------------------------------------------------------------------------------------------------
# images through tf.io
# ------------------------------------------------------------------------------------------------


def test_load_images_match_an_independent_decode_and_resize():
    import tensorflow as tf

    recs = load_csv(CSV)  # PNG: lossless, so PIL and tf.io decode the same pixels
    imgs = recs.load_images((48, 72))
    assert imgs.shape == (len(recs), 48, 72, 3) and imgs.dtype == np.float32
    for i, path in enumerate(recs.paths):
        ref = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
        ref = tf.image.resize(ref, (48, 72), method="bilinear", antialias=True).numpy()
        np.testing.assert_allclose(imgs[i], np.clip(ref, 0, 1), atol=1e-5)


def test_grey_and_jpeg_images_decode_to_rgb(sources):
    ds, sizes = sources["cub200"]
    recs = load_cub200(CUB)
    imgs = recs.load_images(64)
    grey = imgs[mk.CUB_GREY]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    for i, size in enumerate(sizes):
        if size == (64, 64) and i != mk.CUB_GREY:  # JPEG at native size: close to the source
            assert np.abs(imgs[i] - ds.images[i]).mean() < 0.03


def test_to_dataset_elements_shuffle_and_batches():
    recs = load_oxford_pet(PET)
    ds = recs.to_dataset((40, 56), masks=True)
    items = list(ds)
    assert len(items) == len(recs)
    assert items[0]["image"].shape == (40, 56, 3) and items[0]["mask"].shape == (40, 56)
    np.testing.assert_array_equal(np.stack([it["box"] for it in items]), recs.boxes)
    np.testing.assert_array_equal(np.stack([it["mask"] for it in items]),
                                  recs.load_masks((40, 56)))
    order = [int(it["label"]) for it in recs.to_dataset(32, shuffle=True, seed=3)]
    again = [int(it["label"]) for it in recs.to_dataset(32, shuffle=True, seed=3)]
    assert order == again and sorted(order) == sorted(recs.labels.tolist())
    batches = list(recs.to_dataset(32, batch_size=2))
    assert [b["image"].shape[0] for b in batches] == [2, 2, 1]
    sub = recs.subset([0, 2])
    assert len(sub) == 2 and sub.paths == [recs.paths[0], recs.paths[2]]
    assert sub.mask_paths == [recs.mask_paths[0], recs.mask_paths[2]]


# ------------------------------------------------------------------------------------------------
# bad input: each case raises naming the file and the line; on_error='skip' drops the record
# ------------------------------------------------------------------------------------------------


def test_missing_folders_and_index_files(tmp_path):
    _expect_error(lambda: load_oxford_pet(tmp_path / "nope"), "nope", None)
    _expect_error(lambda: load_cub200(tmp_path / "nope"), "nope", None)
    _expect_error(lambda: load_csv(tmp_path / "nope.csv"), "nope.csv", None)
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "annotations" / "list.txt")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", None)
    shutil.rmtree(pet / "images")
    _expect_error(lambda: load_oxford_pet(pet), "images", None)
    cub = _copy(tmp_path, "cub200")
    os.remove(cub / "bounding_boxes.txt")
    err = _expect_error(lambda: load_cub200(cub, on_error="skip"), "bounding_boxes.txt", None)
    assert not err.skippable  # a missing index file cannot be skipped


def test_missing_image_file(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "images" / "Square_2.jpg")  # list.txt line 7
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 7)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "Square_2")
    cub = _copy(tmp_path, "cub200")
    os.remove(cub / "images" / "002.square" / "square_0003.jpg")  # images.txt line 3
    _expect_error(lambda: load_cub200(cub), "images.txt", 3)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "square_0003")
    csv_dir = _copy(tmp_path, "csv")
    os.remove(csv_dir / "images" / "img_03.png")  # boxes.csv line 5
    _expect_error(lambda: load_csv(csv_dir / "boxes.csv"), "boxes.csv", 5)
    _expect_skip(lambda: load_csv(csv_dir / "boxes.csv", on_error="skip"), 5, "img_03")


def test_missing_trimap(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    os.remove(pet / "annotations" / "trimaps" / "star_1.png")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 6)
    assert len(load_oxford_pet(pet, masks=False)) == mk.PET_WITH_XML


def test_malformed_lines(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 two 1 2")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 8)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "CLASS-ID")
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 2 1")
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 8)
    _set_line(pet / "annotations" / "list.txt", 8, "Square_3 2 1 2")
    _set_line(pet / "annotations" / "list.txt", 11, "Square_6 3 1 2")  # class 3 is 'triangle'
    _expect_error(lambda: load_oxford_pet(pet), "list.txt", 11)

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


def test_box_outside_the_image(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "Square_2.xml"  # 96 px wide
    _set_line(xml, 21, "      <xmax>99</xmax>")
    _expect_error(lambda: load_oxford_pet(pet), "Square_2.xml", 18)
    _expect_skip(lambda: load_oxford_pet(pet, on_error="skip"), mk.PET_WITH_XML - 1, "outside")
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "bounding_boxes.txt", 1, "1 50.0 17.0 29.0 28.0")  # 64 px wide: 50 + 29 > 65
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 1)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "outside")
    csv_dir = _copy(tmp_path, "csv")
    _set_line(csv_dir / "boxes.csv", 2, "images/img_00.png,triangle,-3,21,38,52")
    _expect_error(lambda: load_csv(csv_dir / "boxes.csv"), "boxes.csv", 2)
    _expect_skip(lambda: load_csv(csv_dir / "boxes.csv", on_error="skip"), 5, "outside")


def test_inverted_or_empty_box(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    xml = pet / "annotations" / "xmls" / "star_1.xml"  # xmin 12 .. xmax 29
    _set_line(xml, 21, "      <xmax>10</xmax>")
    _expect_error(lambda: load_oxford_pet(pet), "star_1.xml", 18)
    cub = _copy(tmp_path, "cub200")
    _set_line(cub / "bounding_boxes.txt", 5, "5 39.0 20.0 0.0 20.0")  # zero width
    _expect_error(lambda: load_cub200(cub), "bounding_boxes.txt", 5)
    _expect_skip(lambda: load_cub200(cub, on_error="skip"), 7, "inverted or empty")
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


def test_bad_arguments():
    with pytest.raises(ValueError, match="on_error"):
        load_cub200(CUB, on_error="ignore")
    with pytest.raises(ValueError, match="split"):
        load_cub200(CUB, split="val")
    with pytest.raises(ValueError, match="split"):
        load_oxford_pet(PET, split="train")
    with pytest.raises(TypeError, match="class_names"):
        load_csv(CSV, class_names="circle")
    with pytest.raises(ValueError, match="class_names"):
        load_csv(CSV, class_names=["a", "a"])
    recs = load_cub200(CUB)
    with pytest.raises(ValueError, match="masks"):
        recs.load_masks(32)
    with pytest.raises(ValueError, match="image_size"):
        recs.load_images(0)
    with pytest.raises(ValueError, match="image_size"):
        recs.to_dataset((32, 32, 3))
    with pytest.raises(ValueError, match="border"):
        load_oxford_pet(PET).to_dataset(32, masks=True, border="ignore")
    with pytest.raises(ValueError, match="batch_size"):
        recs.to_dataset(32, batch_size=0)


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


def test_relative_and_home_paths_become_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(os.path.join(REPO, "datasets"))
    recs = load_oxford_pet(os.path.join("fixtures", "oxford_pet"))
    assert all(os.path.isabs(p) for p in recs.paths + recs.mask_paths)
    shutil.copytree(os.path.join(FIXTURES, "cub200"), tmp_path / "cub")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert len(load_cub200("~/cub")) == 8
