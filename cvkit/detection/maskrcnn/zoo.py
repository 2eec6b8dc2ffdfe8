"""Mask R-CNN in the model zoo: the builder, the training recipe and the COCO-style evaluation named
by the zoo entry ``shapes_maskrcnn``.

The zoo hands every trainer single-object ``shapes``; Mask R-CNN learns from multi-object images, so
:func:`fit_maskrcnn` draws ``len(train)`` images of :func:`cvkit.datasets.instances` (seed
``data_seed``) and :func:`score_maskrcnn` scores ``len(test)`` held-out ones of seed
:data:`HELD_OUT_SEED` (the zoo's ``test_seed``), never seen in training.
"""
from __future__ import annotations

import time

import numpy as np

from ..._validate import check_float, check_int

__all__ = ["maskrcnn_builder", "fit_maskrcnn", "score_maskrcnn", "held_out", "predict_instances",
           "HELD_OUT_SEED"]

#: seed of the held-out multi-object images of the card (the zoo entry's ``test_seed``)
HELD_OUT_SEED = 12345


def maskrcnn_builder(num_classes, input_shape=(128, 128, 3), **kwargs):
    """The zoo builder: :func:`cvkit.detection.maskrcnn.mask_rcnn` for square ``input_shape``.

    Examples
    --------
    >>> maskrcnn_builder(4, (32, 32, 3), width=4, box_hidden=8).image_size
    32
    """
    from .model import mask_rcnn

    h, w = int(input_shape[0]), int(input_shape[1])
    if h != w or len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"`input_shape` must be a square RGB (s, s, 3); got {input_shape!r}.")
    return mask_rcnn(num_classes, image_size=h, **kwargs)


def held_out(n, image_size=128):
    """The card's held-out multi-object images (:data:`HELD_OUT_SEED`).

    Examples
    --------
    >>> held_out(2, 64).counts.tolist()
    [4, 2]
    """
    from ...datasets import instances

    return instances(check_int(n, "n", minimum=1), image_size=image_size, seed=HELD_OUT_SEED)


def fit_maskrcnn(model, train, epochs=8, batch_size=8, lr=1e-3, warmup_epochs=0.25, data_seed=0,
                 flip=True, callbacks=(), verbose=0):
    """Train ``model`` on ``len(train)`` multi-object images (:func:`cvkit.datasets.instances`,
    seed ``data_seed``): Adam with a linear warm-up and cosine decay, gradients clipped at norm 5,
    random horizontal flips.

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> model = maskrcnn_builder(4, (32, 32, 3), width=4, rpn_hidden=8, box_hidden=8,
    ...                          mask_filters=4, anchor_scales=(8, 16))
    >>> hist = fit_maskrcnn(model, shapes(4, image_size=32), epochs=1, batch_size=2)
    >>> sorted(hist.history)[:3], bool(np.isfinite(hist.history["loss"][0]))
    (['box_loss', 'cls_loss', 'loss'], True)
    """
    import keras

    from ...datasets import instance_pipeline, instances
    from ...models import warmup_cosine

    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_float(lr, "lr", 0.0, strict_min=True)
    data = instances(len(train), image_size=model.image_size, seed=data_seed)
    steps = epochs * int(np.ceil(len(data) / batch_size))
    warm = int(round(warmup_epochs * np.ceil(len(data) / batch_size)))
    model.compile(keras.optimizers.Adam(warmup_cosine(lr, steps, warm), global_clipnorm=5.0))
    pipe = instance_pipeline(data, batch_size=batch_size, shuffle=True, flip=flip, seed=data_seed)
    return model.fit(pipe, epochs=epochs, verbose=verbose, callbacks=list(callbacks))


def predict_instances(model, images, batch_size=16):
    """Detections of ``model`` on ``images`` as per-image lists for :mod:`cvkit.detection.coco_eval`:
    ``boxes`` (k, 4) pixel xyxy, ``scores`` (k,), ``classes`` (k,), ``masks`` (k, H, W) bool.

    Examples
    --------
    >>> model = maskrcnn_builder(4, (32, 32, 3), width=4, box_hidden=8, mask_filters=4)
    >>> dets = predict_instances(model, np.zeros((3, 32, 32, 3), np.float32))
    >>> len(dets), sorted(dets[0])
    (3, ['boxes', 'classes', 'masks', 'scores'])
    """
    out = model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    size = model.image_size
    dets = []
    for i, k in enumerate(out["num_detections"]):       # one slice per image
        dets.append({"boxes": out["boxes"][i, :k] * size, "scores": out["scores"][i, :k],
                     "classes": out["classes"][i, :k], "masks": out["masks"][i, :k]})
    return dets


def score_maskrcnn(model, test):
    """COCO-style held-out scores on ``len(test)`` images of :func:`held_out`: box and mask
    AP@[.5:.95], AP50, AP75 (:func:`cvkit.detection.coco_eval.coco_evaluate`) and the inference
    speed (images per second, batches of 16).

    Examples
    --------
    >>> model = maskrcnn_builder(4, (32, 32, 3), width=4, box_hidden=8, mask_filters=4)
    >>> s = score_maskrcnn(model, np.zeros(2))
    >>> sorted(s)[:3], s["box_ap50"] <= 1.0
    (['box_ap', 'box_ap50', 'box_ap75'], True)
    """
    from ..coco_eval import coco_evaluate

    data = held_out(len(test), model.image_size)
    t0 = time.perf_counter()
    dets = predict_instances(model, data.images)
    speed = len(data) / (time.perf_counter() - t0)
    truth = [dict(zip(("boxes", "classes", "masks"), data.objects(i))) for i in range(len(data))]
    for t in truth:
        t["boxes"] = t["boxes"] * model.image_size
    out = {}
    for kind in ("box", "mask"):
        res = coco_evaluate(dets, truth, iou_type=kind, num_classes=model.num_classes)
        out.update({f"{kind}_ap": res["AP"], f"{kind}_ap50": res["AP50"],
                    f"{kind}_ap75": res["AP75"]})
    out["images_per_second"] = round(speed, 1)
    return out
