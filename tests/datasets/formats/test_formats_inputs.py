"""Files as other tools write them (issue 17): a UTF-8 byte-order mark (Excel's "CSV UTF-8"), a
corrupt image whose header still reads, and sizes given as strings or floats."""
import numpy as np
import pytest

from cvkit.datasets.formats import DatasetFormatError, load_csv, load_oxford_pet
from formats_helpers import CSV, PET, _copy


def test_csv_with_a_byte_order_mark_reads_like_without(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    path = csv_dir / "boxes.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())      # what Excel writes
    ref = load_csv(CSV)
    recs = load_csv(path)
    assert recs.class_names == ref.class_names
    np.testing.assert_array_equal(recs.labels, ref.labels)
    np.testing.assert_allclose(recs.boxes, ref.boxes)


def test_pet_list_with_a_byte_order_mark(tmp_path):
    pet = _copy(tmp_path, "oxford_pet")
    lst = pet / "annotations" / "list.txt"
    lst.write_bytes(b"\xef\xbb\xbf" + lst.read_bytes())
    ref = load_oxford_pet(PET)
    recs = load_oxford_pet(pet)
    assert recs.class_names == ref.class_names and len(recs) == len(ref)
    np.testing.assert_array_equal(recs.labels, ref.labels)


def test_a_corrupt_image_is_named(tmp_path):
    csv_dir = _copy(tmp_path, "csv")
    recs = load_csv(csv_dir / "boxes.csv")
    bad = recs.paths[2]
    data = open(bad, "rb").read()
    open(bad, "wb").write(data[:64] + bytes(len(data) - 64))   # the header reads, the data do not
    with pytest.raises(DatasetFormatError) as info:
        recs.load_images(16)
    assert bad in str(info.value) and "cannot decode" in str(info.value)
    assert "{{function_node" not in str(info.value)
    good = recs.subset([0, 1, 3])                                  # the rest still loads
    assert good.load_images(16).shape == (3, 16, 16, 3)


def test_a_corrupt_image_met_while_iterating_the_dataset_is_named(tmp_path):
    import tensorflow as tf

    csv_dir = _copy(tmp_path, "csv")
    recs = load_csv(csv_dir / "boxes.csv")
    bad = recs.paths[2]
    data = open(bad, "rb").read()
    open(bad, "wb").write(data[:64] + bytes(len(data) - 64))
    with pytest.raises(tf.errors.OpError) as info:
        for _ in recs.to_dataset(16, batch_size=2):
            pass
    assert bad in str(info.value) and "cannot decode the image" in str(info.value)
    images = [b["image"].numpy() for b in recs.subset([0, 1, 3]).to_dataset(16)]
    np.testing.assert_allclose(np.stack(images), recs.subset([0, 1, 3]).load_images(16), atol=1e-6)


@pytest.mark.parametrize("size,exc", [("64", TypeError), (64.0, TypeError), ((32, 24.5), TypeError),
                                      ((32, 24, 3), ValueError), (0, ValueError)])
def test_image_size_is_refused_not_guessed(size, exc):
    recs = load_csv(CSV)
    with pytest.raises(exc, match="`image_size`"):
        recs.to_dataset(size)
