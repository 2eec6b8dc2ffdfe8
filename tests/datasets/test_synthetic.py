import numpy as np
import pytest

from cvkit.datasets import CLASS_NAMES, mask_to_box, shapes


def test_shapes_arrays_and_ranges():
    ds = shapes(24, image_size=48, seed=5)
    assert ds.images.shape == (24, 48, 48, 3) and ds.images.dtype == np.float32
    assert ds.images.min() >= 0 and ds.images.max() <= 1
    assert ds.labels.shape == (24,) and set(ds.labels) <= {0, 1, 2, 3}
    assert ds.class_names == ("circle", "square", "triangle", "star")
    assert ds.boxes.shape == (24, 4) and ds.masks.shape == (24, 48, 48) and ds.masks.dtype == bool
    assert len(ds) == 24


def test_shapes_is_deterministic_and_prefix_stable():
    a = shapes(12, image_size=40, seed=7)
    b = shapes(12, image_size=40, seed=7)
    c = shapes(5, image_size=40, seed=7)
    d = shapes(12, image_size=40, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.images[:5], c.images)
    assert not np.array_equal(a.images, d.images)


def test_each_box_is_the_tight_box_of_its_mask():
    ds = shapes(40, image_size=64, seed=1)
    h = w = 64
    for img_mask, box in zip(ds.masks, ds.boxes):
        ys, xs = np.nonzero(img_mask)
        expected = np.array([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h])
        np.testing.assert_allclose(box, expected, atol=1e-7)


def test_mask_to_box_hand_example_and_empty():
    m = np.zeros((10, 20), bool)
    m[2:5, 3:9] = True  # rows 2..4, cols 3..8
    np.testing.assert_allclose(mask_to_box(m), [3 / 20, 2 / 10, 9 / 20, 5 / 10])
    np.testing.assert_array_equal(mask_to_box(np.zeros((4, 4), bool)), np.zeros(4))
    with pytest.raises(ValueError, match="mask"):
        mask_to_box(np.zeros((2, 2, 2)))


def test_scale_range_and_all_classes_present():
    ds = shapes(200, image_size=64, seed=2, scale=(0.1, 0.6))
    side = np.maximum(ds.boxes[:, 2] - ds.boxes[:, 0], ds.boxes[:, 3] - ds.boxes[:, 1])
    # box side <= circumscribed diameter <= 60 % (+1 px rasterisation), and objects are not tiny
    assert side.max() <= 0.6 + 1.5 / 64 and side.min() >= 0.05
    assert np.bincount(ds.labels, minlength=4).min() >= 30


def test_colour_alone_does_not_separate_object_from_background():
    """Object pixels and background pixels share one colour distribution: the best per-channel
    threshold on the mean object colour cannot tell the classes, nor find the objects."""
    ds = shapes(100, image_size=48, seed=3)
    obj = np.stack([im[m].mean(0) for im, m in zip(ds.images, ds.masks)])
    bg = np.stack([im[~m].mean(0) for im, m in zip(ds.images, ds.masks)])
    # object colours span the cube like background colours do
    assert np.all(obj.std(0) > 0.2) and np.all(bg.std(0) > 0.1)
    # a global threshold on brightness finds the mask poorly (mean IoU well below 0.5)
    ious = []
    for im, m in zip(ds.images, ds.masks):
        g = im.mean(-1)
        best = 0.0
        for t in np.linspace(0.05, 0.95, 19):
            for fg in (g > t, g <= t):
                best = max(best, (fg & m).sum() / (fg | m).sum())
        ious.append(best)
    assert np.mean(ious) < 0.6


def test_several_objects_do_not_overlap_and_boxes_match_masks():
    ds = shapes(10, image_size=96, seed=4, n_objects=(2, 3), scale=(0.1, 0.3))
    for obj in ds.objects:
        k = len(obj["labels"])
        assert 2 <= k <= 3 and obj["boxes"].shape == (k, 4) and obj["masks"].shape == (k, 96, 96)
        assert obj["masks"].sum(0).max() == 1
        for m, b in zip(obj["masks"], obj["boxes"]):
            np.testing.assert_allclose(mask_to_box(m), b)


def test_more_classes_and_subset_split():
    ds = shapes(30, image_size=32, seed=0, classes=CLASS_NAMES)
    assert ds.class_names == CLASS_NAMES
    tr, te = ds.split(0.8)
    assert len(tr) == 24 and len(te) == 6
    np.testing.assert_array_equal(te.images, ds.images[24:])
    assert "n=30" in repr(ds)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "`n` must be >= 1"),
    (dict(n=2.5), "`n` must be an integer"),
    (dict(n=2, image_size=8), "image_size"),
    (dict(n=2, classes=("circle",)), "classes"),
    (dict(n=2, classes=("circle", "blob")), "classes"),
    (dict(n=2, scale=(0.5, 0.2)), "scale"),
    (dict(n=2, n_objects=0), "n_objects"),
    (dict(n=2, distractors=(5, 1)), "distractors"),
    (dict(n=1, image_size=32, n_objects=30, scale=(0.5, 0.6)), "could not place"),
    (dict(n=2, image_size="64"), "image_size"),
    (dict(n=2, image_size=64.0), "image_size"),
    (dict(n=2, image_size=(32, 48)), "square"),
])
def test_shapes_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        shapes(**kwargs)


def test_image_size_is_an_int_or_a_square_pair():
    """Issue 17: sizes go through check_size: '64' is not (6, 4), 40.7 is not truncated to 40."""
    np.testing.assert_array_equal(shapes(2, image_size=(32, 32), seed=1).images,
                                  shapes(2, image_size=32, seed=1).images)
    np.testing.assert_array_equal(shapes(2, image_size=np.int64(32), seed=1).images,
                                  shapes(2, image_size=32, seed=1).images)
    for size in ("64", 40.7, (40.0, 40.0), True):
        with pytest.raises(TypeError, match="image_size"):
            shapes(2, image_size=size)
