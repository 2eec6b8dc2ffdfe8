"""instances: the multi-object shapes of Mask R-CNN against shapes() itself, tight boxes, the
tf.data pipeline (flips move boxes and masks with the pixels) and bad input."""
import numpy as np
import pytest

from cvkit.datasets import InstanceSet, instance_pipeline, instances, mask_to_box, shapes
from cvkit.datasets.instances import INSTANCE_DEFAULTS


@pytest.fixture(scope="module")
def data():
    return instances(12, image_size=64, seed=3)


def test_same_objects_as_shapes(data):
    ref = shapes(12, image_size=64, seed=3, n_objects=(1, 4), **INSTANCE_DEFAULTS)
    np.testing.assert_array_equal(data.images, ref.images)
    for i, obj in enumerate(ref.objects):
        boxes, labels, masks = data.objects(i)
        np.testing.assert_array_equal(labels, obj["labels"])
        np.testing.assert_array_equal(boxes, obj["boxes"])
        np.testing.assert_array_equal(masks, obj["masks"])


def test_padding_tight_boxes_and_disjoint_masks(data):
    assert data.labels.shape == (12, 4) and data.masks.shape == (12, 4, 64, 64)
    assert set(data.counts) <= {1, 2, 3, 4} and len(set(data.counts)) > 1
    for i in range(len(data)):
        k = data.counts[i]
        assert (data.labels[i, k:] == -1).all() and (data.boxes[i, k:] == 0).all()
        assert not data.masks[i, k:].any()
        for j in range(k):
            np.testing.assert_array_equal(data.boxes[i, j], mask_to_box(data.masks[i, j]))
        assert data.masks[i].sum(0).max() == 1                  # objects never overlap


def test_pipeline_batches_and_flips(data):
    plain = list(instance_pipeline(data, batch_size=5, shuffle=False))
    assert [int(x.shape[0]) for x, _ in plain] == [5, 5, 2]
    x, y = plain[0]
    np.testing.assert_array_equal(x.numpy(), data.images[:5])
    np.testing.assert_array_equal(y["masks"].numpy(), data.masks[:5].astype(np.uint8))
    flipped = list(instance_pipeline(data, batch_size=12, shuffle=False, flip=True, seed=1))[0]
    fx, fy = flipped[0].numpy(), {k: v.numpy() for k, v in flipped[1].items()}
    n_flipped = 0
    for i in range(12):
        same = np.array_equal(fx[i], data.images[i])
        if not same:
            n_flipped += 1
            np.testing.assert_array_equal(fx[i], data.images[i][:, ::-1])
        for j in range(data.counts[i]):                        # the box follows its mask
            np.testing.assert_allclose(fy["boxes"][i, j], mask_to_box(fy["masks"][i, j] > 0),
                                       atol=1e-6)
        assert (fy["boxes"][i, data.counts[i]:] == 0).all()    # padding stays zero
    assert 0 < n_flipped < 12
    np.testing.assert_array_equal(fy["labels"], data.labels)


def test_shuffle_is_seeded(data):
    a = next(iter(instance_pipeline(data, batch_size=12, seed=5)))[1]["labels"].numpy()
    b = next(iter(instance_pipeline(data, batch_size=12, seed=5)))[1]["labels"].numpy()
    np.testing.assert_array_equal(a, b)
    assert sorted(map(tuple, a)) == sorted(map(tuple, data.labels))


def test_subset_and_repr(data):
    sub = data.subset(slice(2, 5))
    assert isinstance(sub, InstanceSet) and len(sub) == 3
    np.testing.assert_array_equal(sub.labels, data.labels[2:5])
    assert repr(sub).startswith("InstanceSet(n=3, image_size=(64, 64), max_objects=4")


def test_bad_input(data):
    with pytest.raises(TypeError, match="unexpected arguments"):
        instances(2, colour="red")
    with pytest.raises(ValueError, match="n_objects"):
        instances(2, n_objects=(1, 2, 3))
    with pytest.raises(ValueError, match="n_objects"):
        instances(2, n_objects=(1, 0))
    with pytest.raises(ValueError, match="`n`"):
        instances(0)
    with pytest.raises(TypeError, match="InstanceSet"):
        instance_pipeline(shapes(2, image_size=32))
    with pytest.raises(ValueError, match="batch_size"):
        instance_pipeline(data, batch_size=0)
    with pytest.raises(ValueError, match="`i`"):
        data.objects(12)


def test_instances_from_records_one_object_per_image_with_the_masks_tight_box():
    import os

    from cvkit.datasets import instance_pipeline, instances_from_records, load_cub200, load_oxford_pet
    from cvkit.datasets.synthetic import mask_to_box

    root = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "fixtures")
    pets = load_oxford_pet(os.path.join(root, "oxford_pet"))
    inst = instances_from_records(pets, 48, border="background")
    masks = pets.load_masks(48, border="background")
    np.testing.assert_array_equal(inst.masks[:, 0], masks)
    np.testing.assert_allclose(inst.images, pets.load_images(48))
    np.testing.assert_array_equal(inst.labels[:, 0], pets.labels)
    np.testing.assert_allclose(inst.boxes[:, 0], np.stack([mask_to_box(m) for m in masks]),
                               atol=1e-7)
    assert inst.class_names == tuple(pets.class_names) and inst.counts.tolist() == [1] * len(pets)
    batch = next(iter(instance_pipeline(inst, batch_size=2, shuffle=False)))
    assert len(batch) > 0
    with pytest.raises(ValueError, match="`masks`"):
        instances_from_records(load_cub200(os.path.join(root, "cub200")), 32)   # no masks
    with pytest.raises(TypeError, match="`records`"):
        instances_from_records(masks, 32)
    with pytest.raises(TypeError, match="`image_size`"):
        instances_from_records(pets, "48")
