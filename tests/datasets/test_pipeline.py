import numpy as np
import pytest
import tensorflow as tf

from cvkit.datasets import mask_to_box, shapes
from cvkit.datasets.pipeline import (augment_example, classification_pipeline,
                                     localization_pipeline, make_pipeline, segmentation_pipeline)


@pytest.fixture(scope="module")
def ds():
    return shapes(20, image_size=40, seed=11)


def test_localization_pipeline_without_augmentation_yields_the_data(ds):
    p = localization_pipeline(ds, batch_size=8, shuffle=False)
    x, y = next(iter(p))
    np.testing.assert_allclose(x.numpy(), ds.images[:8])
    np.testing.assert_array_equal(y["classifier"].numpy(), ds.labels[:8])
    np.testing.assert_allclose(y["localizer"].numpy(), ds.boxes[:8])
    assert sum(int(b[0].shape[0]) for b in p) == 20


def test_classification_and_segmentation_outputs(ds):
    x, y = next(iter(classification_pipeline(ds, batch_size=4, shuffle=False)))
    np.testing.assert_array_equal(y.numpy(), ds.labels[:4])
    x, m = next(iter(segmentation_pipeline(ds, batch_size=4, shuffle=False)))
    np.testing.assert_array_equal(m.numpy()[..., 0], ds.masks[:4].astype(np.float32))


def test_same_seed_same_batches_and_epochs_differ(ds):
    def batches(seed):
        p = localization_pipeline(ds, batch_size=20, augment=True, seed=seed)
        it = iter(p)
        first = next(it)
        second = next(iter(p))  # a second epoch
        return first, second

    (a1, a2), (b1, _) = batches(3), batches(3)
    np.testing.assert_array_equal(a1[0].numpy(), b1[0].numpy())
    np.testing.assert_array_equal(a1[1]["localizer"].numpy(), b1[1]["localizer"].numpy())
    assert not np.array_equal(a1[0].numpy(), a2[0].numpy())


def test_augmentation_moves_boxes_with_the_pixels(ds):
    """Flip + crop applied to image, box and mask: the mask's tight box after augmentation equals
    the transformed box (to one output pixel, the nearest-neighbour resampling of the mask)."""
    rng = np.random.default_rng(0)
    for i in range(len(ds)):
        r = tf.constant(rng.random(5), tf.float32)
        mask = tf.constant(ds.masks[i][..., None].astype(np.float32))
        img, box, m = augment_example(tf.constant(ds.images[i]), tf.constant(ds.boxes[i]), mask, r,
                                      vertical_flip=True)
        mb = mask_to_box(m.numpy()[..., 0] > 0.5)
        np.testing.assert_allclose(mb, box.numpy(), atol=1.01 / 40)


def test_pure_horizontal_flip_is_exact(ds):
    r = tf.constant([0.1, 0.9, 0.0, 0.0, 0.0])
    img, box, m = augment_example(tf.constant(ds.images[0]), tf.constant(ds.boxes[0]), None, r,
                                  crop=False)
    np.testing.assert_array_equal(img.numpy(), ds.images[0][:, ::-1])
    x0, y0, x1, y1 = ds.boxes[0]
    np.testing.assert_allclose(box.numpy(), [1 - x1, y0, 1 - x0, y1], atol=1e-6)


def test_full_crop_is_identity(ds):
    r = tf.constant([0.9, 0.9, 1.0, 0.0, 0.0])  # no flip, crop of side 1
    img, box, _ = augment_example(tf.constant(ds.images[1]), tf.constant(ds.boxes[1]), None, r,
                                  crop_scale=(1.0, 1.0))
    np.testing.assert_allclose(img.numpy(), ds.images[1], atol=1e-5)
    np.testing.assert_allclose(box.numpy(), ds.boxes[1], atol=1e-6)


def test_preprocess_and_repeat(ds):
    p = classification_pipeline(ds, batch_size=8, shuffle=False, preprocess=lambda x: x * 2 - 1,
                                repeat=True)
    batches = [b for _, b in zip(range(4), p)]
    assert len(batches) == 4
    assert batches[0][0].numpy().min() < 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(task="detection"), "task"),
    (dict(task="localization", boxes=None, labels=np.zeros(20)), "boxes"),
    (dict(labels=np.zeros(19)), "labels"),
    (dict(task="localization", labels=np.zeros(20), boxes=np.zeros((20, 3))), "boxes"),
    (dict(task="localization", labels=np.zeros(20), boxes=np.tile([0.5, 0, 0.2, 1], (20, 1))),
     "x_min <= x_max"),
    (dict(task="segmentation", masks=np.zeros((20, 8, 8))), "masks"),
    (dict(batch_size=0, labels=np.zeros(20)), "batch_size"),
    (dict(crop_scale=(0.9, 0.5), labels=np.zeros(20)), "crop_scale"),
])
def test_pipeline_bad_input(ds, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_pipeline(ds.images, **kwargs)


def test_pipeline_rejects_out_of_range_images():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        classification_pipeline(np.full((2, 8, 8, 3), 200.0), labels=np.zeros(2))


def test_images_without_object_keep_the_no_box_marker(ds):
    boxes = ds.boxes.copy()
    boxes[::2] = -1.0
    p = localization_pipeline(ds, boxes=boxes, batch_size=20, augment=True, shuffle=False, seed=2)
    _, y = next(iter(p))
    got = y["localizer"].numpy()
    np.testing.assert_array_equal(got[::2], -1.0)
    assert (got[1::2] >= 0).all() and (got[1::2, 2:] > got[1::2, :2]).all()


def test_targets_may_be_tensors(ds):
    p = localization_pipeline(ds.images, labels=tf.constant(ds.labels), boxes=tf.constant(ds.boxes),
                              batch_size=20, shuffle=False)
    _, y = next(iter(p))
    np.testing.assert_array_equal(y["classifier"].numpy(), ds.labels)
    np.testing.assert_allclose(y["localizer"].numpy(), ds.boxes)
    _, m = next(iter(segmentation_pipeline(ds.images, masks=tf.constant(ds.masks), batch_size=20,
                                           shuffle=False)))
    np.testing.assert_array_equal(m.numpy()[..., 0], ds.masks.astype(np.float32))
