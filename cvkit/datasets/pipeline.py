"""tf.data pipelines for classification, localization and segmentation, with augmentation that
transforms boxes and masks together with the images.

Every pipeline takes either a :class:`~cvkit.datasets.ShapesDataset` (or any object with
``images``, ``labels``, ``boxes``, ``masks`` attributes) or the arrays themselves, and yields

- classification: ``(images, labels)``
- localization: ``(images, {"classifier": labels, "localizer": boxes})`` — the head names of
  :func:`cvkit.models.localizer`, so the pipeline goes straight into ``model.fit``
- segmentation: ``(images, masks[..., None])`` with float32 masks in {0, 1}

Augmentation (``augment=True``), decided per example from a seeded random stream so that the same
``seed`` gives the same batches:

- horizontal flip with probability 1/2: :math:`(x_0, y_0, x_1, y_1) \\mapsto (1 - x_1, y_0, 1 - x_0, y_1)`;
- optional vertical flip;
- a random square crop of side :math:`s \\in` ``crop_scale`` (fraction of the side) that contains the
  whole box when a box is known, resized back to the input size; boxes map as
  :math:`x \\mapsto (x - c_x) / s`, masks are cropped with nearest-neighbour sampling.

Shown in ``notebooks/00_datasets_and_preprocessing.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_images, check_choice, check_float, check_int, check_seed, to_numpy

__all__ = ["make_pipeline", "classification_pipeline", "localization_pipeline",
           "segmentation_pipeline", "augment_example"]

_TASKS = ("classification", "localization", "segmentation")


def _unpack(data, labels, boxes, masks):
    if hasattr(data, "images"):
        return (data.images, getattr(data, "labels", None) if labels is None else labels,
                getattr(data, "boxes", None) if boxes is None else boxes,
                getattr(data, "masks", None) if masks is None else masks)
    return data, labels, boxes, masks


def augment_example(image, box, mask, rnd, flip=True, vertical_flip=False, crop=True,
                    crop_scale=(0.6, 1.0)):
    """Augment one example with TF ops. ``rnd`` holds 5 uniform numbers in [0, 1).

    ``box`` is a normalised xyxy (4,) tensor (or None; the row (-1, -1, -1, -1) marks an image
    without an object and is returned unchanged), ``mask`` an (H, W, 1) tensor (or None).
    ``rnd[0] < 0.5`` flips horizontally (with ``flip``), ``rnd[1] < 0.5`` vertically (with
    ``vertical_flip``), ``rnd[2]`` picks the crop side and ``rnd[3]``, ``rnd[4]`` its position
    (with ``crop``). Returns ``(image, box, mask)``.

    Examples
    --------
    >>> import tensorflow as tf
    >>> image, box = tf.zeros((8, 8, 3)), tf.constant([0.0, 0.25, 0.5, 0.75])
    >>> rnd = tf.constant([0.0, 0.9, 0.0, 0.0, 0.0])  # flip horizontally, nothing else
    >>> _, flipped, _ = augment_example(image, box, None, rnd, crop=False)
    >>> flipped.numpy().tolist()
    [0.5, 0.25, 1.0, 0.75]
    """
    import tensorflow as tf

    if box is not None:
        # an image without object (box = NO_BOX = -1s) keeps its marker through every transform
        no_box = tf.reduce_all(tf.equal(box, -1.0))
        marker = box
        box = tf.where(no_box, tf.constant([0.0, 0.0, 0.0, 0.0]), box)
    if flip:
        image, box, mask = _flip(image, box, mask, rnd[0] < 0.5, axis=1)
    if vertical_flip:
        image, box, mask = _flip(image, box, mask, rnd[1] < 0.5, axis=0)
    if crop:
        image, box, mask = _crop(image, box, mask, rnd, crop_scale)
    if box is not None:
        box = tf.where(no_box, marker, box)
    return image, box, mask


def _flip(image, box, mask, do, axis):
    """Mirror image, box and mask where ``do``: ``axis=1`` left-right, ``axis=0`` top-bottom.

    A horizontal flip maps :math:`(x_0, y_0, x_1, y_1) \\mapsto (1 - x_1, y_0, 1 - x_0, y_1)`.
    """
    import tensorflow as tf

    image = tf.where(do, tf.reverse(image, [axis]), image)
    if mask is not None:
        mask = tf.where(do, tf.reverse(mask, [axis]), mask)
    if box is not None:
        mirrored = (tf.stack([1 - box[2], box[1], 1 - box[0], box[3]]) if axis == 1
                    else tf.stack([box[0], 1 - box[3], box[2], 1 - box[1]]))
        box = tf.where(do, mirrored, box)
    return image, box, mask


def _crop(image, box, mask, rnd, crop_scale):
    """A random square crop of side ``s`` in ``crop_scale`` that contains the box, resized back.

    Boxes map as :math:`x \\mapsto (x - c_x) / s`; masks use nearest-neighbour sampling.
    """
    import tensorflow as tf

    size = tf.shape(image)[:2]
    lo, hi = crop_scale
    s = lo + (hi - lo) * rnd[2]
    if box is not None:
        # the crop must contain the box: side at least the box's larger side
        s = tf.maximum(s, tf.maximum(box[2] - box[0], box[3] - box[1]))
        x_lo, x_hi = tf.maximum(0.0, box[2] - s), tf.minimum(box[0], 1.0 - s)
        y_lo, y_hi = tf.maximum(0.0, box[3] - s), tf.minimum(box[1], 1.0 - s)
    else:
        x_lo = y_lo = tf.constant(0.0)
        x_hi = y_hi = 1.0 - s
    cx = x_lo + (tf.maximum(x_hi, x_lo) - x_lo) * rnd[3]
    cy = y_lo + (tf.maximum(y_hi, y_lo) - y_lo) * rnd[4]
    # crop_and_resize samples at y0*(H-1) .. y1*(H-1) (pixel indices); map the pixel-edge
    # window [cy, cy+s] onto it so that boxes and pixels stay aligned
    h = tf.cast(size[0], tf.float32)
    w = tf.cast(size[1], tf.float32)
    crop_box = _edge_crop_to_centre_box(cx, cy, s, h, w)
    image = tf.image.crop_and_resize(image[None], crop_box[None], [0], size)[0]
    if mask is not None:
        mask = tf.image.crop_and_resize(mask[None], crop_box[None], [0], size,
                                        method="nearest")[0]
    if box is not None:
        box = tf.clip_by_value((box - tf.stack([cx, cy, cx, cy])) / s, 0.0, 1.0)
    return image, box, mask


def _edge_crop_to_centre_box(cx, cy, s, h, w):
    """crop_and_resize box (y0, x0, y1, x1) for the pixel-edge window [cx, cx+s] x [cy, cy+s].

    Output pixel i of n (centre at edge coordinate (i + 0.5) / n of the window) must sample the
    input at edge coordinate c + s (i + 0.5) / n, that is, at input pixel index
    (c + s (i + 0.5)/n) W - 0.5. crop_and_resize samples index x0 (W-1) + i (x1-x0)(W-1)/(n-1).
    With n = W, matching i = 0 and the slope gives the formulas below.
    """
    import tensorflow as tf

    def axis(c, n):
        start = (c + s * 0.5 / n) * n - 0.5  # input index sampled by output pixel 0
        step = s  # input pixels advanced per output pixel (n = input size)
        end = start + step * (n - 1)
        return start / (n - 1), end / (n - 1)

    y0, y1 = axis(cy, h)
    x0, x1 = axis(cx, w)
    return tf.stack([y0, x0, y1, x1])


def make_pipeline(data, labels=None, boxes=None, masks=None, task="classification",
                  batch_size=32, shuffle=True, augment=False, flip=True, vertical_flip=False,
                  crop=True, crop_scale=(0.6, 1.0), preprocess=None, repeat=False, seed=0,
                  drop_remainder=False):
    """Build a batched, prefetched ``tf.data.Dataset`` for a task.

    Parameters
    ----------
    data : ShapesDataset or array
        A dataset object with ``images``/``labels``/``boxes``/``masks`` or an image array
        (N, H, W, 3), float in [0, 1] or uint8.
    labels, boxes, masks : array, optional
        Override or supply the targets: labels (N,), boxes (N, 4) normalised xyxy, masks (N, H, W).
    task : {'classification', 'localization', 'segmentation'}
    batch_size : int
    shuffle : bool
        Shuffle with ``seed`` (a new order every epoch, the same orders for the same seed).
    augment : bool
        Apply flips and crops (see the module docstring) with per-example randomness from ``seed``.
    flip, vertical_flip, crop : bool
        The augmentations that ``augment`` applies (:func:`augment_example`).
    crop_scale : (float, float)
        Range of the crop side as a fraction of the image side, within [0.05, 1].
    preprocess : callable, optional
        Applied to each image batch after augmentation (e.g. a backbone's preprocessing).
    repeat : bool
        Repeat forever (use with ``steps_per_epoch``).
    seed : int
    drop_remainder : bool
        Drop the last batch when it is smaller than ``batch_size``.

    Returns
    -------
    tf.data.Dataset

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> data = shapes(6, image_size=32, seed=0)
    >>> images, labels = next(iter(make_pipeline(data, batch_size=4, shuffle=False)))
    >>> tuple(images.shape), labels.numpy().tolist() == data.labels[:4].tolist()
    ((4, 32, 32, 3), True)
    """
    import tensorflow as tf

    task = check_choice(task, "task", _TASKS)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = check_seed(seed, allow_none=False)
    crop_scale = _check_crop_scale(crop_scale)
    columns = _columns(task, *_unpack(data, labels, boxes, masks))
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        ds = ds.shuffle(len(columns["image"]), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if augment:
        ds = _augmented(ds, seed, flip, vertical_flip, crop, crop_scale)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(_model_inputs(task, preprocess), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_crop_scale(crop_scale):
    lo, hi = (check_float(v, "crop_scale", 0.05, 1.0) for v in crop_scale)
    if hi < lo:
        raise ValueError(f"`crop_scale` must be (low, high) with low <= high; got {crop_scale}.")
    return lo, hi


def _columns(task, images, labels, boxes, masks):
    """The checked arrays the task needs: ``{"image", "label"?, "box"?, "mask"?}``."""
    images, _ = as_images(images, "images", allow_single=False)
    n = len(images)
    if task in ("classification", "localization"):
        labels = _check_labels(labels, n, task)
    if boxes is not None:
        boxes = _check_boxes(boxes, n)
    if task == "localization" and boxes is None:
        raise ValueError("task='localization' needs `boxes` (N, 4); got none.")
    if masks is not None:
        masks = to_numpy(masks)
        if masks.shape != images.shape[:3]:
            raise ValueError(f"`masks` must have shape {images.shape[:3]} to match the images; got "
                             f"{masks.shape}.")
        masks = masks.astype(np.float32)[..., None]
    if task == "segmentation" and masks is None:
        raise ValueError("task='segmentation' needs `masks` (N, H, W); got none.")
    columns = {"image": images}
    if labels is not None and task != "segmentation":
        columns["label"] = labels
    if boxes is not None and task != "segmentation":
        columns["box"] = boxes
    if task == "segmentation":
        columns["mask"] = masks
    return columns


def _check_labels(labels, n, task):
    if labels is None:
        raise ValueError(f"task={task!r} needs `labels` (N,); got none.")
    labels = to_numpy(labels)
    if labels.shape != (n,):
        raise ValueError(f"`labels` must have shape ({n},) to match {n} images; got "
                         f"{labels.shape}.")
    return labels.astype(np.int64)


def _check_boxes(boxes, n):
    boxes = to_numpy(boxes).astype(np.float32)
    if boxes.shape != (n, 4):
        raise ValueError(f"`boxes` must have shape ({n}, 4) (normalised xyxy) to match {n} "
                         f"images; got {boxes.shape}.")
    no_box = np.all(boxes == -1.0, axis=1)  # cvkit.models.NO_BOX: an image without object
    real = boxes[~no_box]
    if (real < -1e-6).any() or (real > 1 + 1e-6).any() or (real[:, 2:] < real[:, :2]).any():
        raise ValueError("`boxes` must be normalised xyxy in [0, 1] with x_min <= x_max and "
                         "y_min <= y_max (or the row (-1, -1, -1, -1) for an image without "
                         "an object); convert pixel boxes with cvkit.boxes.convert.")
    return boxes


def _augmented(ds, seed, flip, vertical_flip, crop, crop_scale):
    """``ds`` with :func:`augment_example` applied per example, its randomness drawn from ``seed``."""
    import tensorflow as tf

    rnd = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(5).map(
        lambda r: tf.cast(r % 1000003, tf.float32) / 1000003.0)
    ds = tf.data.Dataset.zip((ds, rnd))

    def _aug(ex, r):
        img, box, mask = augment_example(ex["image"], ex.get("box"), ex.get("mask"), r,
                                         flip, vertical_flip, crop, crop_scale)
        out = dict(ex, image=img)
        if box is not None:
            out["box"] = box
        if mask is not None:
            out["mask"] = mask
        return out

    return ds.map(_aug, num_parallel_calls=tf.data.AUTOTUNE)


def _model_inputs(task, preprocess):
    """The batch map to what ``model.fit`` takes for the task: ``(x, y)``."""

    def _finish(ex):
        x = ex["image"]
        if preprocess is not None:
            x = preprocess(x)
        if task == "classification":
            return x, ex["label"]
        if task == "localization":
            return x, {"classifier": ex["label"], "localizer": ex["box"]}
        return x, ex["mask"]

    return _finish


def classification_pipeline(data, labels=None, **kwargs):
    """:func:`make_pipeline` with ``task='classification'``: yields ``(images, labels)``.

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> x, y = next(iter(classification_pipeline(shapes(4, image_size=32), batch_size=4)))
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 32, 32, 3), (4,))
    """
    return make_pipeline(data, labels=labels, task="classification", **kwargs)


def localization_pipeline(data, labels=None, boxes=None, **kwargs):
    """:func:`make_pipeline` with ``task='localization'``: yields
    ``(images, {'classifier': labels, 'localizer': boxes})``.

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> x, y = next(iter(localization_pipeline(shapes(4, image_size=32), batch_size=4,
    ...                                        augment=True, seed=1)))
    >>> tuple(x.shape), sorted(y), tuple(y["localizer"].shape)
    ((4, 32, 32, 3), ['classifier', 'localizer'], (4, 4))
    """
    return make_pipeline(data, labels=labels, boxes=boxes, task="localization", **kwargs)


def segmentation_pipeline(data, masks=None, **kwargs):
    """:func:`make_pipeline` with ``task='segmentation'``: yields ``(images, masks[..., None])``.

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> x, m = next(iter(segmentation_pipeline(shapes(4, image_size=32), batch_size=4)))
    >>> tuple(m.shape), m.dtype.name
    ((4, 32, 32, 1), 'float32')
    """
    return make_pipeline(data, masks=masks, task="segmentation", **kwargs)
