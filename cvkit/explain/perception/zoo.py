"""Perception Visualization in the model zoo: the builder, the training recipe and the evaluation,
named by the zoo entry ``shapes_perception_mobilenetv2``."""
from __future__ import annotations

from .measures import reconstruction_scores
from .model import build_perception, recalibrate_batchnorm

__all__ = ["perception_builder", "fit_perception", "score_perception", "STRIDE_LAYERS",
           "train_layer_decoder", "layer_decoder"]


def perception_builder(num_classes, input_shape, classifier="shapes_cam_mobilenetv2", layer=None,
                       channels=(128, 64, 32, 16, 16)):
    """The zoo builder: a latent decoder on the zoo classifier ``classifier`` (loaded with its
    weights), at ``layer`` (default: its last convolutional map).

    Examples
    --------
    >>> model = perception_builder(4, (128, 128, 3))
    >>> model.layer_name, [tuple(o.shape) for o in model.outputs][:2]
    ('out_relu', [(None, 128, 128, 3), (None, 4, 4, 1280)])
    """
    from ...models.zoo import pretrained_classifier

    clf = pretrained_classifier(classifier, num_classes, input_shape)
    return build_perception(clf, layer=layer, channels=channels)


def fit_perception(model, train, epochs=4, batch_size=32, lr=2e-3, pixel_loss="l1",
                   pixel_weight=1.0, feature_weight=1.0, class_weight=0.0, callbacks=(),
                   verbose=0):
    """Train the decoder on ``train.images`` (Adam, cosine decay of ``lr`` over the run), then
    re-estimate its batch-norm statistics on 16 batches of them (:func:`recalibrate_batchnorm`:
    after a few hundred steps the moving averages still remember the first ones; re-estimated,
    the class consistency of the zoo's stride-8 decoder rose from 0.81 to 0.92 on held-out
    images).

    Parameters
    ----------
    model : PerceptionModel
    train : object with ``images`` (N, H, W, 3)
        E.g. a :func:`cvkit.datasets.shapes` data set (its labels are not used).
    epochs, batch_size : int
    lr : float
    pixel_loss, pixel_weight, feature_weight, class_weight
        The loss (:meth:`PerceptionModel.compile`).
    callbacks : sequence of keras.callbacks.Callback
    verbose : int
        Passed to ``fit`` (1: a progress bar).

    Returns
    -------
    keras.callbacks.History

    Examples
    --------
    >>> import numpy as np
    >>> from cvkit.models import small_cnn
    >>> from types import SimpleNamespace
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> data = SimpleNamespace(images=np.random.default_rng(0).random((8, 16, 16, 3)))
    >>> sorted(fit_perception(model, data, epochs=1, batch_size=4).history)
    ['class', 'consistency', 'feature', 'loss', 'pixel']
    """
    import keras

    steps = max(1, -(-len(train.images) // batch_size) * epochs)
    schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.05)
    model.compile(keras.optimizers.Adam(schedule), pixel_loss=pixel_loss,
                  pixel_weight=pixel_weight, feature_weight=feature_weight,
                  class_weight=class_weight)
    history = model.fit(train.images, batch_size=batch_size, epochs=epochs, verbose=verbose,
                        callbacks=list(callbacks), shuffle=True)
    recalibrate_batchnorm(model, train.images, batch_size, max_batches=16)
    return history


def score_perception(model, test):
    """Held-out measures of the zoo card: PSNR, SSIM, class consistency, and the classifier's
    accuracy on the originals and on the reconstructions (:func:`reconstruction_scores`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> test = SimpleNamespace(images=np.zeros((2, 16, 16, 3)), labels=np.array([0, 2]))
    >>> 0.0 <= score_perception(model, test)["class_consistency"] <= 1.0
    True
    """
    return reconstruction_scores(model, test.images, test.labels)


#: the layers of ``shapes_cam_mobilenetv2`` the notebook inverts, by output stride
STRIDE_LAYERS = {8: "block_5_add", 16: "block_12_add", 32: "out_relu"}
ZOO_NAME = "shapes_perception_mobilenetv2"


def _layer_paths(layer, directory):
    from pathlib import Path

    from ...models import ZOO_DIR

    d = ZOO_DIR if directory is None else Path(directory)
    return d / f"{ZOO_NAME}_{layer}.weights.h5", d / f"{ZOO_NAME}_{layer}.json"


def _check_stride_layer(layer):
    if layer not in STRIDE_LAYERS.values():
        raise ValueError(f"`layer` must be one of {sorted(STRIDE_LAYERS.values())}; got {layer!r}.")


def train_layer_decoder(layer, directory=None, n_train=1024, epochs=3, n_test=200, verbose=0):
    """Train the zoo entry's recipe at a shallower ``layer`` (fewer images and epochs) and write
    the decoder's weights and a JSON card with its held-out measures next to the zoo files.

    The notebook loads these decoders to compare what survives at strides 8, 16 and 32 (the zoo
    entry itself is the stride-32 decoder).

    Returns
    -------
    (PerceptionModel, dict)
        The trained model and its card.

    Examples
    --------
    >>> model, card = train_layer_decoder("block_5_add")     # doctest: +SKIP
    """
    import json
    import time

    import keras

    from ...models import ZOO, zoo_data

    _check_stride_layer(layer)
    e = ZOO[ZOO_NAME]
    weights, card_path = _layer_paths(layer, directory)
    train = zoo_data(ZOO_NAME, n_train, seed=e.train_seed + 1)
    keras.utils.set_random_seed(e.seed)
    model = perception_builder(e.num_classes, (e.image_size,) * 2 + (3,), layer=layer)
    t0 = time.perf_counter()
    fit_perception(model, train, **{**e.train, "epochs": epochs}, verbose=verbose)
    seconds = time.perf_counter() - t0
    scores = score_perception(model, zoo_data(ZOO_NAME, n_test))
    model.get_layer("decoder").save_weights(weights)
    card = {"layer": layer, "n_train": n_train, "epochs": epochs, "train": e.train,
            "held_out": {"n": n_test, "seed": e.test_seed, **scores},
            "train_seconds": round(seconds, 1),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return model, card


def layer_decoder(layer, directory=None):
    """The trained decoder of ``shapes_cam_mobilenetv2`` at ``layer`` (one of
    :data:`STRIDE_LAYERS`): the zoo entry for ``'out_relu'``, the files of
    :func:`train_layer_decoder` otherwise.

    Examples
    --------
    >>> layer_decoder("block_12_add").layer_name
    'block_12_add'
    """
    from ...models import ZOO, pretrained

    _check_stride_layer(layer)
    if layer == STRIDE_LAYERS[32]:
        return pretrained(ZOO_NAME)
    weights, _ = _layer_paths(layer, directory)
    if not weights.exists():
        raise FileNotFoundError(f"no decoder for {layer!r} at {weights}; train it with "
                                f"cvkit.explain.perception.zoo.train_layer_decoder({layer!r}).")
    e = ZOO[ZOO_NAME]
    model = perception_builder(e.num_classes, (e.image_size,) * 2 + (3,), layer=layer)
    model.get_layer("decoder").load_weights(weights)
    return model
