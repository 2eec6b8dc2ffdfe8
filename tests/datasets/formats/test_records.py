"""The shared record reading: the fixtures, the pixel conventions of all three sources against
hand-worked boxes and ``mask_to_box``, decoding through ``tf.io``, the arguments of
``LocalizationRecords`` and the class-id vote."""
import os

import numpy as np
import pytest
from PIL import Image

from cvkit.datasets import mask_to_box
from cvkit.datasets.formats import (DatasetFormatError, LocalizationRecords, load_csv, load_cub200,
                                    load_oxford_pet)
from cvkit.datasets.formats.records import MAX_CLASS_ID, _assign_class_ids
from formats_helpers import CSV, CUB, FIXTURES, PET, _make_region_datasets, mk


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


def test_records_bad_arguments():
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


@pytest.mark.parametrize("size", ["64", 64.0, 32.5, (32.0, 48), True, None])
def test_image_size_is_an_int_or_a_pair_of_ints(size):
    """Issue 17: '64' is not (6, 4) and a float size is refused, not truncated."""
    recs = load_cub200(CUB).subset(slice(0, 1))
    with pytest.raises(TypeError, match="image_size"):
        recs.load_images(size)
    with pytest.raises(TypeError, match="image_size"):
        recs.to_dataset(size)


def test_image_size_pair_and_numpy_ints():
    recs = load_cub200(CUB).subset(slice(0, 2))
    assert recs.load_images(np.int64(16)).shape == (2, 16, 16, 3)
    assert recs.load_images([np.int32(8), 12]).shape == (2, 8, 12, 3)


# ------------------------------------------------------------------------------------------------
# class ids and errors
# ------------------------------------------------------------------------------------------------


def test_class_id_vote_keeps_the_majority_pairing():
    # id 3 said by one Square line and two triangle lines; Square's own id is 2
    pairs = [(3, "Square"), (2, "Square"), (3, "tri"), (3, "tri"), (2, "Square"), (1, "Cat")]
    assert _assign_class_ids(pairs) == {2: "Square", 3: "tri", 1: "Cat"}
    assert _assign_class_ids([(1, "a"), (1, "b")]) == {1: "a"}  # a tie: the first line wins
    assert _assign_class_ids([(5, "a"), (6, "a")]) == {5: "a"}  # one id per name
    assert MAX_CLASS_ID >= 100_000


def test_dataset_format_error_names_file_and_line():
    err = DatasetFormatError("/x/list.txt", 7, "bad.", skippable=False)
    assert isinstance(err, ValueError) and str(err) == "/x/list.txt, line 7: bad."
    assert err.path == "/x/list.txt" and err.line == 7 and not err.skippable
    assert str(DatasetFormatError("/x", None, "missing.")) == "/x: missing."


def test_empty_records_cannot_make_a_dataset():
    recs = LocalizationRecords([], np.zeros(0, np.int64), ("a",), np.zeros((0, 4), np.float32),
                               np.zeros((0, 2), np.int64))
    assert len(recs) == 0 and not recs.has_masks
    with pytest.raises(ValueError, match="empty"):
        recs.to_dataset(8)
