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
    :func:`warmup_cosine`. Returns the Keras ``History``.

    Parameters
    ----------
    model : keras.Model
        Uncompiled, ending in a softmax over the classes; it is compiled and trained in place.
    train : object with ``images`` (N, H, W, 3) and ``labels`` (N,)
        E.g. a :func:`cvkit.datasets.shapes` data set.
    epochs, batch_size : int
    lr : float
        Peak learning rate :math:`\\eta`.
    warmup_epochs : float
        Length of the linear warm-up, in epochs (0: none).
    callbacks : sequence of keras.callbacks.Callback
    verbose : int
        Passed to ``model.fit``.

    Returns
    -------
    keras.callbacks.History

    Examples
    --------
    >>> import keras
    >>> from cvkit.datasets import shapes
    >>> train = shapes(8, image_size=16, seed=1, preset="easy")
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(4, activation="softmax")])
    >>> history = fit_classifier(model, train, epochs=2, batch_size=4)
    >>> sorted(history.history), len(history.history["loss"])
    (['accuracy', 'loss'], 2)
    """
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
    ``box_weight``), Adam with :func:`warmup_cosine`. Returns the Keras ``History``.

    Parameters
    ----------
    model : cvkit.models.LocalizationModel
        Uncompiled, as :func:`cvkit.models.localizer` returns it; compiled and trained in place.
    train : object with ``images`` (N, H, W, 3), ``labels`` (N,) and ``boxes`` (N, 4)
        E.g. a :func:`cvkit.datasets.shapes` data set (normalised ``xyxy`` boxes).
    epochs, batch_size : int
    lr : float
        Peak learning rate.
    warmup_epochs : float
        Length of the linear warm-up, in epochs (0: none).
    box_loss : {'l2', 'smooth_l1', 'giou'}
    box_weight : float
        :math:`\alpha`, the weight of the box loss.
    callbacks : sequence of keras.callbacks.Callback
    verbose : int
        Passed to ``model.fit``.

    Returns
    -------
    keras.callbacks.History
        With the total loss, both parts and the localization metrics.

    Examples
    --------
    A localizer on a one-convolution backbone, one epoch on eight 16 x 16 images:

    >>> import keras
    >>> from cvkit.datasets import shapes
    >>> from cvkit.models import localizer
    >>> train = shapes(8, image_size=16, seed=1, preset="easy")
    >>> inp = keras.Input((16, 16, 3))
    >>> model = localizer(4, backbone=keras.Model(inp, keras.layers.Conv2D(4, 3, strides=4)(inp)))
    >>> history = fit_localizer(model, train, epochs=1, batch_size=8)
    >>> sorted(history.history)
    ['accuracy', 'box_loss', 'cls_loss', 'correct_localization', 'loss', 'mean_iou']
    """
    import keras

    model.compile(keras.optimizers.Adam(_schedule(len(train.labels), epochs, batch_size, lr,
                                                  warmup_epochs)),
                  box_loss=box_loss, box_weight=box_weight)
    return model.fit(train.images, {"classifier": train.labels, "localizer": train.boxes},
                     batch_size=batch_size, epochs=epochs, verbose=verbose,
                     callbacks=list(callbacks))


def score_classifier(model, test):
    """Held-out accuracy.

    Parameters
    ----------
    model : keras.Model
        A classifier returning class probabilities (N, C).
    test : object with ``images`` and ``labels`` (N,)

    Returns
    -------
    dict
        ``{'accuracy': float}``, the share of images whose most probable class is the label.

    Examples
    --------
    A model that outputs 1/3 for each of 3 classes picks class 0 (the first of the ties), right
    for two of the four labels:

    >>> import keras
    >>> from types import SimpleNamespace
    >>> flat = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
    ...                          keras.layers.Dense(3, "softmax", kernel_initializer="zeros")])
    >>> test = SimpleNamespace(images=np.zeros((4, 4, 4, 3)), labels=np.array([0, 0, 1, 2]))
    >>> score_classifier(flat, test)
    {'accuracy': 0.5}
    """
    probs = model.predict(test.images, batch_size=100, verbose=0)
    return {"accuracy": float(np.mean(probs.argmax(1) == test.labels))}


def score_localizer(model, test):
    """Held-out accuracy, mean IoU and correct localization (class right and IoU >= 0.5).

    Parameters
    ----------
    model : keras.Model
        A localizer returning ``[probabilities (N, C), boxes (N, 4)]``.
    test : object with ``images``, ``labels`` (N,) and ``boxes`` (N, 4)
        Normalised ``xyxy`` boxes.

    Returns
    -------
    dict
        ``'accuracy'``, ``'mean_iou'`` and ``'correct_localization'``, floats in [0, 1].

    Examples
    --------
    A fresh :func:`cvkit.models.localizer` has zero-initialised heads: uniform probabilities
    (class 0 wins the tie) and the centred box (0.25, 0.25, 0.75, 0.75). Against that box and
    one of half its height (IoU 0.5), labelled 0 and 1:

    >>> import keras
    >>> from types import SimpleNamespace
    >>> from cvkit.models import localizer
    >>> inp = keras.Input((16, 16, 3))
    >>> model = localizer(4, backbone=keras.Model(inp, keras.layers.Conv2D(4, 3, strides=4)(inp)))
    >>> test = SimpleNamespace(images=np.zeros((2, 16, 16, 3)), labels=np.array([0, 1]),
    ...                        boxes=np.array([[0.25, 0.25, 0.75, 0.75], [0.25, 0.25, 0.75, 0.5]]))
    >>> score_localizer(model, test)
    {'accuracy': 0.5, 'mean_iou': 0.75, 'correct_localization': 0.5}
    """
    from ..metrics import localization_scores

    probs, boxes = model.predict(test.images, batch_size=100, verbose=0)
    s = localization_scores(test.labels, test.boxes, probs, boxes)
    return {"accuracy": float(s["accuracy"]), "mean_iou": float(s["mean_iou"]),
            "correct_localization": float(s["correct_localization"])}


