"""``instances``: multi-object ``shapes`` for instance segmentation (Mask R-CNN).

Each image holds 1-4 non-overlapping objects (circle, square, triangle, star by default), each with
its own mask, tight box and class, drawn by :func:`cvkit.datasets.shapes` (its ``n_objects``
argument) and gathered into padded arrays: ``M`` = the most objects an image may hold, unused slots
have label ``-1``, a zero box and an empty mask. Boxes are normalised ``xyxy`` with pixel edges, as
everywhere in cvkit. :func:`instance_pipeline` serves them as a ``tf.data`` pipeline with an
optional horizontal flip that moves boxes and masks with the pixels.

:func:`instances_from_records` turns a real dataset whose loader gives masks (Oxford-IIIT Pet's
trimaps) into the same arrays, one object per image.

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_bool, check_int, check_seed, describe
from .synthetic import shapes

__all__ = ["InstanceSet", "instances", "instances_from_records", "instance_pipeline"]

#: drawing settings of :func:`instances`: objects of 15-45 % of the side (up to four must fit
#: without overlapping), few distractors, clearly visible colours
INSTANCE_DEFAULTS = dict(scale=(0.15, 0.45), distractors=(0, 2), min_contrast=0.4)


@dataclass
class InstanceSet:
    """Arrays of a multi-object dataset, padded to ``M`` objects per image.

    Attributes
    ----------
    images : float32 (N, H, W, 3) in [0, 1]
    boxes : float32 (N, M, 4) normalised xyxy (zeros in unused slots)
    labels : int32 (N, M) class index, ``-1`` in unused slots
    masks : bool (N, M, H, W) one mask per object (empty in unused slots)
    class_names : tuple of str

    Examples
    --------
    >>> ds = instances(3, image_size=64, seed=0)
    >>> ds
    InstanceSet(n=3, image_size=(64, 64), max_objects=4, objects=[1, 2, 3])
    >>> ds.boxes.shape, ds.masks.shape, ds.labels.dtype
    ((3, 4, 4), (3, 4, 64, 64), dtype('int32'))
    """

    images: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    class_names: tuple

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        n, h, w, _ = self.images.shape
        return (f"InstanceSet(n={n}, image_size=({h}, {w}), max_objects={self.labels.shape[1]}, "
                f"objects={self.counts.tolist()})")

    @property
    def counts(self):
        """int (N,): the number of objects in each image.

        Examples
        --------
        >>> instances(2, image_size=64, seed=3).counts
        array([4, 1])
        """
        return (self.labels >= 0).sum(axis=1)

    def subset(self, index):
        """A new set with the images at ``index`` (slice, index array or boolean mask).

        Examples
        --------
        >>> ds = instances(4, image_size=64, seed=0)
        >>> bool((ds.subset([2]).masks[0] == ds.masks[2]).all())
        True
        """
        idx = np.arange(len(self))[index]
        return InstanceSet(self.images[idx], self.boxes[idx], self.labels[idx], self.masks[idx],
                           self.class_names)

    def objects(self, i):
        """The real objects of image ``i``: ``(boxes (k, 4), labels (k,), masks (k, H, W))``.

        Examples
        --------
        >>> b, l, m = instances(2, image_size=64, seed=3).objects(1)
        >>> b.shape, l.tolist(), m.shape
        ((1, 4), [1], (1, 64, 64))
        """
        i = check_int(i, "i", minimum=0, maximum=len(self) - 1)
        keep = self.labels[i] >= 0
        return self.boxes[i][keep], self.labels[i][keep], self.masks[i][keep]


def instances(n, image_size=128, seed=0, n_objects=(1, 4), classes=("circle", "square",
              "triangle", "star"), **draw):
    """Multi-object ``shapes``: 1-4 objects per image with their masks, boxes and classes.

    Parameters
    ----------
    n : int
        Number of images.
    image_size : int
        Side in pixels (>= 16).
    seed : int
        Same seed, same images; image ``i`` depends only on ``(seed, i)``.
    n_objects : int or (int, int)
        Objects per image (an inclusive range drawn per image); the arrays are padded to the
        upper end.
    classes : sequence of str
        As :func:`cvkit.datasets.shapes`.
    **draw
        ``scale``, ``distractors``, ``min_contrast`` of :func:`cvkit.datasets.shapes`; the defaults
        are :data:`INSTANCE_DEFAULTS`.

    Returns
    -------
    InstanceSet

    Examples
    --------
    >>> ds = instances(4, image_size=64, seed=0)
    >>> ds.counts.tolist(), ds.labels[0].tolist()
    ([1, 2, 3, 2], [3, -1, -1, -1])
    >>> bool(np.all(ds.masks[0, 1:] == False))    # image 0 has one object: slots 1-3 are empty
    True
    """
    n = check_int(n, "n", minimum=1)
    unknown = sorted(set(draw) - set(INSTANCE_DEFAULTS))
    if unknown:
        raise TypeError(f"instances() got unexpected arguments {unknown}; the drawing settings "
                        f"are {sorted(INSTANCE_DEFAULTS)}.")
    pair = (n_objects, n_objects) if np.isscalar(n_objects) else tuple(n_objects)
    if len(pair) != 2:
        raise ValueError(f"`n_objects` must be an int or a pair (low, high); got {n_objects!r}.")
    m = check_int(pair[1], "n_objects", minimum=1)
    ds = shapes(n, image_size=image_size, seed=check_seed(seed, allow_none=False), classes=classes,
                n_objects=pair, **{**INSTANCE_DEFAULTS, **draw})
    size = ds.images.shape[1]
    boxes = np.zeros((n, m, 4), np.float32)
    labels = np.full((n, m), -1, np.int32)
    masks = np.zeros((n, m, size, size), bool)
    for i, obj in enumerate(ds.objects):       # one gather per image: 1-4 objects each
        k = len(obj["labels"])
        boxes[i, :k], labels[i, :k], masks[i, :k] = obj["boxes"], obj["labels"], obj["masks"]
    return InstanceSet(ds.images, boxes, labels, masks, tuple(ds.class_names))


def _tight_boxes(masks):
    """Normalised xyxy boxes (N, 4) of bool masks (N, H, W), pixel edges; zeros for empty ones."""
    n, h, w = masks.shape
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    y0, x0 = rows.argmax(axis=1), cols.argmax(axis=1)
    y1, x1 = h - rows[:, ::-1].argmax(axis=1), w - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([x0 / w, y0 / h, x1 / w, y1 / h], axis=1).astype(np.float32)
    boxes[~rows.any(axis=1)] = 0.0
    return boxes


def instances_from_records(records, image_size=128, border="foreground"):
    """An :class:`InstanceSet` from dataset records with masks, one object per image.

    Each image's object is its mask (:meth:`~cvkit.datasets.LocalizationRecords.load_masks`) with
    the mask's tight box: Oxford-IIIT Pet's own boxes mark the pet's head while its trimap covers
    the whole animal, and Mask R-CNN's mask targets are cut from the box.

    Parameters
    ----------
    records : LocalizationRecords
        Records with masks (``load_oxford_pet``).
    image_size : int or (H, W)
    border : {'foreground', 'background'}
        Where the trimap's uncertain border goes.

    Returns
    -------
    InstanceSet
        ``M = 1``; an image whose mask is empty raises (it would be an object without pixels).

    Examples
    --------
    >>> from cvkit.datasets import load_oxford_pet
    >>> pets = instances_from_records(load_oxford_pet("datasets/fixtures/oxford_pet"), 32)
    >>> pets
    InstanceSet(n=5, image_size=(32, 32), max_objects=1, objects=[1, 1, 1, 1, 1])
    >>> pets.class_names[:2], pets.masks.shape
    (('Circle', 'Square'), (5, 1, 32, 32))
    """
    from .formats import LocalizationRecords

    if not isinstance(records, LocalizationRecords):
        raise TypeError(f"`records` must be LocalizationRecords (from a cvkit loader); got "
                        f"{describe(records)}.")
    masks = records.load_masks(image_size, border=border)
    empty = np.flatnonzero(~masks.reshape(len(masks), -1).any(axis=1))
    if empty.size:
        raise ValueError(f"`records`: the masks of {[records.paths[i] for i in empty[:5]]} are "
                         "empty at this size; an instance needs at least one pixel.")
    return InstanceSet(images=records.load_images(image_size), boxes=_tight_boxes(masks)[:, None],
                       labels=np.asarray(records.labels, np.int32)[:, None],
                       masks=masks[:, None], class_names=tuple(records.class_names))


def _flip(image, boxes, labels, masks, do):
    import tensorflow as tf

    flipped = tf.stack([1.0 - boxes[:, 2], boxes[:, 1], 1.0 - boxes[:, 0], boxes[:, 3]], axis=-1)
    flipped = tf.where((labels >= 0)[:, None], flipped, boxes)
    return (tf.where(do, tf.reverse(image, [1]), image), tf.where(do, flipped, boxes),
            tf.where(do, tf.reverse(masks, [2]), masks))


def instance_pipeline(data, batch_size=8, shuffle=True, flip=False, seed=0, repeat=False):
    """A ``tf.data`` pipeline of ``(images, {'boxes', 'labels', 'masks'})`` batches for
    :class:`cvkit.detection.maskrcnn.MaskRCNN`.

    Parameters
    ----------
    data : InstanceSet
    batch_size : int
    shuffle : bool
        Shuffle the images every epoch (seeded).
    flip : bool
        Flip each image left-right with probability 1/2 (its boxes and masks with it).
    seed : int
    repeat : bool
        Repeat forever (then pass ``steps_per_epoch`` to ``fit``).

    Returns
    -------
    tf.data.Dataset
        ``images`` float32 (B, H, W, 3); ``boxes`` float32 (B, M, 4) normalised xyxy; ``labels``
        int32 (B, M) with -1 for an empty slot; ``masks`` uint8 (B, M, H, W).

    Examples
    --------
    >>> ds = instance_pipeline(instances(4, image_size=64), batch_size=2, shuffle=False)
    >>> x, y = next(iter(ds))
    >>> tuple(x.shape), tuple(y["boxes"].shape), tuple(y["masks"].shape), y["masks"].dtype.name
    ((2, 64, 64, 3), (2, 4, 4), (2, 4, 64, 64), 'uint8')
    """
    import tensorflow as tf

    if not isinstance(data, InstanceSet):
        raise TypeError(f"`data` must be an InstanceSet (from cvkit.datasets.instances); got "
                        f"{describe(data)}.")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    shuffle, flip, repeat = (check_bool(v, k) for v, k in ((shuffle, "shuffle"), (flip, "flip"),
                                                           (repeat, "repeat")))
    seed = check_seed(seed, allow_none=False)
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.boxes, data.labels,
                                             data.masks.astype(np.uint8)))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if flip:
        coins = tf.data.Dataset.random(seed=seed).map(lambda r: r % 2 == 1)

        def flip_one(ex, do):
            image, boxes, masks = _flip(ex[0], ex[1], ex[2], ex[3], do)
            return image, boxes, ex[2], masks

        ds = tf.data.Dataset.zip((ds, coins)).map(flip_one, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda im, b, lab, m: (im, {"boxes": b, "labels": lab, "masks": m}))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
