"""The zoo's training and scoring recipes: Adam with a warm-up cosine schedule, and held-out scores.

A :class:`~cvkit.models.zoo.ZooEntry` names its trainer and evaluator; the names below are found
without a module path (``trainer='fit_classifier'``).
"""
from __future__ import annotations

import numpy as np

from ..._validate import check_int

__all__ = ["warmup_cosine", "fit_classifier", "fit_localizer", "score_classifier",
           "score_localizer"]


def warmup_cosine(lr, steps, warmup_steps=0):
    r"""Adam's schedule of the zoo: linear warm-up from :math:`\eta/10` to :math:`\eta`, then

    .. math:: \eta_t = \tfrac{\eta}{2}\,\bigl(1 + \cos(\pi\, t / T)\bigr).

    Examples
    --------
    >>> s = warmup_cosine(1e-3, 100)
    >>> round(float(s(0)), 6), round(float(s(50)), 6), round(float(s(100)), 6)
    (0.001, 0.0005, 0.0)
    """
    import keras

    steps = check_int(steps, "steps", minimum=1)
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(lr, steps)
    return keras.optimizers.schedules.CosineDecay(lr / 10, max(steps - warmup_steps, 1),
                                                  warmup_target=lr, warmup_steps=warmup_steps)


def _schedule(n, epochs, batch_size, lr, warmup_epochs):
    steps_per_epoch = -(-n // batch_size)
    warm = int(round(warmup_epochs * steps_per_epoch))
    return warmup_cosine(lr, epochs * steps_per_epoch, warm)


def fit_classifier(model, train, epochs=10, batch_size=64, lr=2e-3, warmup_epochs=1.0,
                   callbacks=(), verbose=0):
    """Train a classifier on ``train.images`` / ``train.labels``: sparse cross-entropy, Adam with
    :func:`warmup_cosine`. Returns the Keras ``History``."""
    import keras

    model.compile(keras.optimizers.Adam(_schedule(len(train.labels), epochs, batch_size, lr,
                                                  warmup_epochs)),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(train.images, train.labels, batch_size=batch_size, epochs=epochs,
                     verbose=verbose, callbacks=list(callbacks))


def fit_localizer(model, train, epochs=4, batch_size=32, lr=2e-3, warmup_epochs=0.0,
                  box_loss="giou", box_weight=5.0, callbacks=(), verbose=0):
    r"""Train a :func:`cvkit.models.localizer` with the multitask loss
    :math:`\mathcal{L}_{cls} + \alpha\,\mathcal{L}_{box}` (``box_loss``, :math:`\alpha` =
    ``box_weight``), Adam with :func:`warmup_cosine`. Returns the Keras ``History``."""
    import keras

    model.compile(keras.optimizers.Adam(_schedule(len(train.labels), epochs, batch_size, lr,
                                                  warmup_epochs)),
                  box_loss=box_loss, box_weight=box_weight)
    return model.fit(train.images, {"classifier": train.labels, "localizer": train.boxes},
                     batch_size=batch_size, epochs=epochs, verbose=verbose,
                     callbacks=list(callbacks))


def score_classifier(model, test):
    """Held-out accuracy."""
    probs = model.predict(test.images, batch_size=100, verbose=0)
    return {"accuracy": float(np.mean(probs.argmax(1) == test.labels))}


def score_localizer(model, test):
    """Held-out accuracy, mean IoU and correct localization (class right and IoU >= 0.5)."""
    from ..metrics import localization_scores

    probs, boxes = model.predict(test.images, batch_size=100, verbose=0)
    s = localization_scores(test.labels, test.boxes, probs, boxes)
    return {"accuracy": float(s["accuracy"]), "mean_iou": float(s["mean_iou"]),
            "correct_localization": float(s["correct_localization"])}


