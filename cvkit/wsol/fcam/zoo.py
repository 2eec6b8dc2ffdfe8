"""F-CAM in the model zoo: the builder, the training recipe and the evaluation (CAM against
CAM + F-CAM with the WSOL metrics), named by the zoo entries ``shapes_fcam_*``."""
from __future__ import annotations

import numpy as np

from ..._validate import check_choice
from .model import SEED_METHODS, build_fcam, fcam_maps

__all__ = ["fcam_builder", "fit_fcam", "score_fcam", "score_fcam_grad_cam", "base_maps"]


def fcam_builder(num_classes, input_shape, classifier="shapes_cam_mobilenetv2_s8",
                 channels=(32, 16, 8), skips=None, **decoder):
    """The zoo builder: F-CAM on the zoo classifier ``classifier`` (loaded with its weights);
    ``decoder`` holds :func:`~.model.build_fcam`'s cheaper-decoder options (the zoo's entries:
    :data:`~.decoder.LITE_DECODER`).

    Examples
    --------
    >>> model = fcam_builder(4, (128, 128, 3), reduce=32, skip_reduce=16, stop_stride=2)
    >>> [tuple(o.shape) for o in model.outputs][:2]
    [(None, 128, 128, 2), (None, 16, 16, 256)]
    >>> model.get_layer("decoder").get_layer("decoder_head").output.shape[1]     # stride 2
    64
    """
    from ...models.zoo import pretrained_classifier

    clf = pretrained_classifier(classifier, num_classes, input_shape)
    return build_fcam(clf, skips=skips, channels=channels, **decoder)


def fit_fcam(model, train, epochs=8, batch_size=32, lr=0.01, method="cam", callbacks=(),
             verbose=0, **loss_kwargs):
    """Train the decoder on ``train.images`` / ``train.labels`` (the reference SGD: momentum 0.9,
    Nesterov, weight decay 1e-4), seeds from ``method``; ``loss_kwargs`` go to
    :meth:`FCAM.compile` (``crf_weight=0`` and ``size_weight=0`` give the ablation).

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> hist = fit_fcam(model, shapes(8, image_size=32), epochs=1, batch_size=4)
    >>> sorted(hist.history)
    ['crf', 'loss', 'seed_ce', 'size']
    """
    import keras

    check_choice(method, "method", SEED_METHODS)
    model.compile(keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=1e-4),
                  method=method, **loss_kwargs)
    return model.fit(train.images, train.labels, batch_size=batch_size, epochs=epochs,
                     verbose=verbose, callbacks=list(callbacks))


def base_maps(model, images, labels, method="cam", batch_size=32):
    """The classifier's own maps of the true classes (what F-CAM starts from), up-sampled and
    normalised as :mod:`cvkit.explain` makes them.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> base_maps(model, np.zeros((2, 32, 32, 3)), np.array([0, 1])).shape
    (2, 32, 32)
    """
    from ... import explain

    check_choice(method, "method", SEED_METHODS)
    enc = model.get_layer("encoder").inner
    fn = getattr(explain, method)
    return fn(enc, images, class_index=np.asarray(labels), output=len(enc.outputs) - 1,
              batch_size=batch_size)


def score_fcam(model, test, method="cam"):
    """Held-out WSOL scores of the classifier's maps and of F-CAM: MaxBoxAcc, MaxBoxAccV2, PxAP
    and top-1 localization (:func:`cvkit.wsol.evaluate_maps`), keys ``base_*`` and ``fcam_*``.

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> sorted(score_fcam(model, shapes(4, image_size=32)))[:3]
    ['accuracy', 'base_maxboxacc', 'base_maxboxacc_v2']
    """
    from .. import evaluate_maps, pixel_boxes

    probs = model.predict(test.images, batch_size=32, verbose=0)[2]
    gt = pixel_boxes(test.boxes, test.images.shape[1:3])[:, None]
    out = {"accuracy": float(np.mean(probs.argmax(1) == test.labels))}
    for key, maps in (("base", base_maps(model, test.images, test.labels, method)),
                      ("fcam", fcam_maps(model, test.images))):
        rep = evaluate_maps(maps, gt, masks=test.masks, scores=probs, labels=test.labels,
                            method=key, keep_maps=False).summary()
        out.update({f"{key}_maxboxacc": float(rep["MaxBoxAcc"]),
                    f"{key}_maxboxacc_v2": float(rep["MaxBoxAccV2"]),
                    f"{key}_pxap": float(rep["PxAP"]), f"{key}_top1_loc": float(rep["top-1 loc"])})
    return out


def score_fcam_grad_cam(model, test):
    """:func:`score_fcam` with Grad-CAM as the base method (the zoo's ``shapes_fcam_s8_gradcam``).

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> round(score_fcam_grad_cam(model, shapes(4, image_size=32))["accuracy"], 2) <= 1.0
    True
    """
    return score_fcam(model, test, method="grad_cam")
