r"""The latent decoder of Perception Visualization and the model that trains it.

:func:`build_perception` taps a frozen classifier at one layer (default: the last convolutional
map) and puts a decoder on it: ``image -> [x_hat, A, y]`` (the reconstruction, the layer's
activations :math:`A = \phi(x)` and the class scores). :class:`PerceptionModel` trains the decoder
only, with ``fit``, on the loss

.. math::
    \mathcal{L}(x) = w_{pix}\,\ell_{pix}(\hat x, x)
    + w_{feat}\,\frac{\lVert \phi(\hat x) - \phi(x) \rVert_2^2}
                     {\lVert \phi(x) \rVert_2^2 + \epsilon},
    \qquad \hat x = D(\phi(x)),

where :math:`\ell_{pix}` is the mean absolute (``'l1'``) or squared (``'l2'``) pixel error and the
second term is feature matching through the frozen encoder: the reconstruction must be *perceived*
like the original. The classifier runs in inference mode and receives no gradient update.
"""
from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from ...models.blocks import InferenceOnly
from ..._validate import as_images, check_choice, check_float, check_int, restore_rank

__all__ = ["FrozenEncoder", "PerceptionModel", "perception_decoder", "build_perception",
           "reconstruct", "compiled_scores", "check_perception_model", "check_model_images",
           "recalibrate_batchnorm", "PIXEL_LOSSES"]

#: the pixel terms :math:`\ell_{pix}`
PIXEL_LOSSES = ("l1", "l2")
_EPS = 1e-6


@keras.saving.register_keras_serializable(package="cvkit")
class FrozenEncoder(InferenceOnly):
    """The classifier tapped at the decoder's layer, always run in inference mode (its batch norms
    keep their statistics) and never trained: ``x -> [A, class scores]``.

    Examples
    --------
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.99)])
    >>> enc = FrozenEncoder(inner)
    >>> float(enc(np.ones((1, 2), np.float32), training=True).numpy().sum()), enc.trainable
    (2.0, False)
    """

    def __init__(self, inner, layer_name=None, **kwargs):
        super().__init__(inner, **kwargs)
        self.layer_name = layer_name
        self.trainable = False

    def get_config(self):
        return {**super().get_config(), "layer_name": self.layer_name}


def _steps(h, size):
    steps = 0
    while h < size:
        h, steps = h * 2, steps + 1
    return steps


def perception_decoder(feature_shape, output_size, channels=(128, 64, 32, 16, 16),
                       name="decoder"):
    r"""The decoder :math:`D`: features (h, w, K) -> an image (H, W, 3) in [0, 1].

    A 1 x 1 convolution brings the K channels to the first width, then each block doubles the
    resolution (bilinear up-sampling) and applies a 3 x 3 convolution + batch norm + ReLU, until the
    input resolution; a 3 x 3 convolution to 3 channels and a sigmoid give the image. There are no
    skip connections from the encoder: everything the decoder draws passes through :math:`A`.

    Parameters
    ----------
    feature_shape : tuple
        (h, w, K) of the tapped layer.
    output_size : (H, W)
        The classifier's input size.
    channels : sequence of int
        Widths of the blocks, one per x2 step; when longer than needed, its last entries are used.
    name : str

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> dec = perception_decoder((4, 4, 32), (32, 32))
    >>> tuple(dec.input.shape), tuple(dec.output.shape), dec.count_params() > 0
    ((None, 4, 4, 32), (None, 32, 32, 3), True)
    """
    from keras import layers

    shape = tuple(int(v) for v in feature_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"`feature_shape` must be (h, w, K) of a 4-D layer; got {feature_shape}.")
    size = tuple(int(v) for v in output_size)
    steps = _steps(shape[0], size[0])
    channels = [check_int(c, "channels", minimum=1) for c in channels]
    if len(channels) < max(steps, 1):
        raise ValueError(f"`channels` needs {steps} entries (one per x2 step from {shape[0]} to "
                         f"{size[0]} px); got {len(channels)}.")
    channels = channels[len(channels) - max(steps, 1):]
    a = keras.Input(shape, name=f"{name}_features")
    x = layers.Conv2D(channels[0], 1, use_bias=False, name=f"{name}_stem")(a)
    x = layers.BatchNormalization(name=f"{name}_stem_bn")(x)
    x = layers.ReLU(name=f"{name}_stem_relu")(x)
    for i, c in enumerate(channels[:steps]):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up{i + 1}")(x)
        x = layers.Conv2D(c, 3, padding="same", use_bias=False, name=f"{name}_conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i + 1}")(x)
        x = layers.ReLU(name=f"{name}_relu{i + 1}")(x)
    if tuple(x.shape[1:3]) != size:
        x = layers.Resizing(*size, "bilinear", name=f"{name}_fit")(x)
    out = layers.Conv2D(3, 3, padding="same", activation="sigmoid", name=f"{name}_image")(x)
    return keras.Model(a, out, name=name)


def _images_only(data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


@keras.saving.register_keras_serializable(package="cvkit")
class PerceptionModel(keras.Model):
    """Classifier encoder + latent decoder (build it with :func:`build_perception`). Outputs
    ``[x_hat, A, y]``; ``fit(images)`` (labels, if given, are ignored) trains the decoder only.

    Attributes
    ----------
    pv_config : dict
        The loss settings of :meth:`compile`.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> model.compile(feature_weight=0.5)
    >>> model.pv_config
    {'pixel_loss': 'l1', 'pixel_weight': 1.0, 'feature_weight': 0.5, 'class_weight': 0.0}
    """

    def compile(self, optimizer=None, pixel_loss="l1", pixel_weight=1.0, feature_weight=1.0,
                class_weight=0.0, **kwargs):
        r"""Set the optimizer (default Adam, learning rate 2e-3) and the loss weights.

        ``pixel_weight`` :math:`w_{pix}` and ``feature_weight`` :math:`w_{feat}` weigh the pixel
        and the normalised feature-matching terms; either may be 0 (not both).
        ``class_weight`` :math:`w_{cls}` weighs a class term, the cross-entropy
        :math:`-\sum_c p_c(x) \log p_c(\hat x)` of the frozen classifier's probabilities on the
        reconstruction against those on the original (cvkit's choice, off by default: the
        reconstruction must be *classified* like the original)."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(2e-3)
        super().compile(optimizer=optimizer, **kwargs)
        cfg = {"pixel_loss": check_choice(pixel_loss, "pixel_loss", PIXEL_LOSSES),
               "pixel_weight": check_float(pixel_weight, "pixel_weight", 0.0),
               "feature_weight": check_float(feature_weight, "feature_weight", 0.0),
               "class_weight": check_float(class_weight, "class_weight", 0.0)}
        if cfg["pixel_weight"] == 0 and cfg["feature_weight"] == 0:
            raise ValueError("`pixel_weight` and `feature_weight` are both 0: nothing to train.")
        self.pv_config = cfg
        self.trackers = {n: keras.metrics.Mean(name=n)
                         for n in ("loss", "pixel", "feature", "class", "consistency")}
        self.optimizer.build(self.get_layer("decoder").trainable_variables)

    def get_compile_config(self):
        return {**(super().get_compile_config() or {}), **getattr(self, "pv_config", {})}

    def compile_from_config(self, config):
        config = dict(config)
        opt = config.pop("optimizer", None)
        keep = {k: config[k] for k in ("pixel_loss", "pixel_weight", "feature_weight",
                                       "class_weight") if k in config}
        self.compile(None if opt is None else keras.optimizers.deserialize(opt), **keep)

    @property
    def metrics(self):
        return list(getattr(self, "trackers", {}).values())

    @property
    def layer_name(self):
        """Name of the classifier layer the decoder inverts."""
        return self.get_layer("encoder").layer_name

    @property
    def classifier(self):
        """The tapped classifier ``x -> [A, class scores]`` (shares the classifier's weights)."""
        return self.get_layer("encoder").inner

    def perception_losses(self, x, training=False):
        """``(total, parts)``: the weighted loss and its terms for a float32 batch ``x``."""
        cfg = self.pv_config
        enc, dec = self.get_layer("encoder"), self.get_layer("decoder")
        feats, scores = enc(x)
        feats = tf.stop_gradient(feats)
        x_hat = dec(feats, training=training)
        feats_hat, scores_hat = enc(x_hat)
        diff = x_hat - tf.cast(x, x_hat.dtype)
        pixel = tf.reduce_mean(tf.abs(diff) if cfg["pixel_loss"] == "l1" else tf.square(diff))
        feature = (tf.reduce_mean(tf.square(feats_hat - feats))
                   / (tf.reduce_mean(tf.square(feats)) + _EPS))
        same = tf.cast(tf.equal(tf.argmax(scores, -1), tf.argmax(scores_hat, -1)), tf.float32)
        p, p_hat = _probabilities(scores), _probabilities(scores_hat)
        klass = tf.reduce_mean(tf.reduce_sum(
            -tf.stop_gradient(p) * tf.math.log(p_hat + _EPS), axis=-1))
        total = (cfg["pixel_weight"] * pixel + cfg["feature_weight"] * feature
                 + cfg.get("class_weight", 0.0) * klass)
        return total, {"pixel": pixel, "feature": feature, "class": klass,
                       "consistency": tf.reduce_mean(same)}

    def _track(self, total, parts):
        self.trackers["loss"].update_state(total)
        for name, value in parts.items():
            self.trackers[name].update_state(value)
        return {name: m.result() for name, m in self.trackers.items()}

    def train_step(self, data):
        if not hasattr(self, "pv_config"):
            raise ValueError("compile the PerceptionModel before `fit` (model.compile()).")
        x = _images_only(data)
        weights = self.get_layer("decoder").trainable_variables
        with tf.GradientTape() as tape:
            total, parts = self.perception_losses(x, training=True)
        self.optimizer.apply_gradients(zip(tape.gradient(total, weights), weights))
        return self._track(total, parts)

    def test_step(self, data):
        return self._track(*self.perception_losses(_images_only(data), training=False))


def _probabilities(scores):
    """Class probabilities from the classifier's outputs: kept when they already are (a softmax
    output: non-negative, summing to 1), else a softmax of the logits."""
    scores = tf.cast(scores, tf.float32)
    is_prob = tf.logical_and(tf.reduce_all(scores >= 0.0),
                             tf.reduce_all(tf.abs(tf.reduce_sum(scores, -1) - 1.0) < 1e-3))
    return tf.cond(is_prob, lambda: scores, lambda: tf.nn.softmax(scores))


def recalibrate_batchnorm(model, images, batch_size=32, max_batches=16):
    r"""Re-estimate the decoder's batch-norm statistics on ``images`` ("precise BN").

    During a short training the moving averages (momentum 0.99) still remember the statistics of
    the first steps, when the decoder's weights were different, so the decoder in inference mode
    draws worse images than during training. This runs up to ``max_batches`` batches through the
    decoder in training mode, with weights frozen, and sets every moving mean and variance to the
    average of the batch statistics: for the :math:`k`-th batch the momentum is :math:`(k-1)/k`.

    Parameters
    ----------
    model : PerceptionModel
    images : array (N, H, W, 3), uint8 or float in [0, 1]
        Training images.
    batch_size, max_batches : int

    Returns
    -------
    int
        The number of batches used.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> recalibrate_batchnorm(model, np.random.default_rng(0).random((8, 16, 16, 3)), 4)
    2
    """
    check_perception_model(model)
    x, _ = check_model_images(model, images)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    max_batches = check_int(max_batches, "max_batches", minimum=1)
    enc, dec = model.get_layer("encoder"), model.get_layer("decoder")
    norms = [layer for layer in dec.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    starts = list(range(0, len(x), batch_size))[:max_batches]
    try:
        for k, start in enumerate(starts, start=1):
            for layer in norms:
                layer.momentum = (k - 1) / k
            dec(enc(x[start:start + batch_size])[0], training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum
    return len(starts)


def _check_decoder(decoder, shape, size):
    if not isinstance(decoder, keras.Model):
        raise TypeError(f"`decoder` must be a keras.Model (perception_decoder); got "
                        f"{type(decoder).__name__}.")
    got_in, got_out = tuple(decoder.inputs[0].shape[1:]), tuple(decoder.outputs[0].shape[1:])
    if got_in != tuple(shape) or got_out != (*size, 3):
        raise ValueError(f"`decoder` maps {got_in} -> {got_out}, but the layer gives "
                         f"{tuple(shape)} "
                         f"and the classifier takes {(*size, 3)}: it was built for another "
                         "classifier or layer. Build a new one with perception_decoder.")


def build_perception(classifier, layer=None, decoder=None, channels=(128, 64, 32, 16, 16),
                     output=None, name="perception"):
    """A :class:`PerceptionModel` on a trained classifier, which is not modified.

    Parameters
    ----------
    classifier : keras.Model
        Functional or Sequential classifier (nested backbones are fine), e.g. the zoo's
        ``shapes_cam_mobilenetv2``.
    layer : None, str or keras layer
        The layer whose output the decoder inverts; None is the last convolutional map (the layer
        Grad-CAM reads by default, :func:`cvkit.explain.find_layer`); a shallower one keeps more
        of the image.
    decoder : keras.Model, optional
        A decoder to reuse (its input must match the layer's output and its output the image);
        default: a new :func:`perception_decoder` of widths ``channels``.
    channels : sequence of int
    output : None, int or str
        The output that scores the classes, for a classifier with several outputs.
    name : str

    Returns
    -------
    PerceptionModel
        Uncompiled; call ``compile()`` before ``fit``.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> clf = small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> model = build_perception(clf, layer="relu3")
    >>> model.layer_name, [tuple(o.shape) for o in model.outputs]
    ('relu3', [(None, 16, 16, 3), (None, 4, 4, 4), (None, 3)])
    """
    from ..._graph import tap_model
    from .._target import check_model, find_layer, resolve_output

    check_model(classifier)
    ref = find_layer(classifier, layer)
    out_index = resolve_output(classifier, output)
    shape = tuple(classifier.inputs[0].shape[1:])
    tap = tap_model(classifier, [ref], with_outputs=True)
    feats = tuple(tap.outputs[0].shape[1:])
    if None in feats or None in shape:
        raise ValueError(f"`classifier` must have a fixed input size and `layer` a fixed output "
                         f"size; got input {shape} and layer output {feats}.")
    tap = keras.Model(tap.inputs[0], [tap.outputs[0], tap.outputs[1 + out_index]])
    if decoder is None:
        decoder = perception_decoder(feats, shape[:2], channels, name="decoder")
    else:
        _check_decoder(decoder, feats, shape[:2])
        decoder.name = "decoder"
    encoder = FrozenEncoder(tap, layer_name=ref.name, name="encoder")
    x = keras.Input(shape, name="image")
    a, scores = encoder(x)
    return PerceptionModel(x, [decoder(a), a, scores], name=name)


def check_perception_model(model, name="model"):
    """Raise unless ``model`` is a :class:`PerceptionModel`.

    Examples
    --------
    >>> check_perception_model("decoder.keras")
    Traceback (most recent call last):
    ...
    TypeError: `model` must be a PerceptionModel (build_perception); got str.
    """
    if not isinstance(model, PerceptionModel):
        raise TypeError(f"`{name}` must be a PerceptionModel (build_perception); got "
                        f"{type(model).__name__}.")


def check_model_images(model, images, name="images"):
    """``images`` as float32 NHWC in [0, 1] of the model's input size, and the single flag.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> check_model_images(model, np.zeros((8, 8, 3)))
    Traceback (most recent call last):
    ...
    ValueError: `images` of shape (1, 8, 8, 3) do not fit the classifier input (16, 16, 3); resize them.
    """
    x, single = as_images(images, name)
    want = tuple(model.inputs[0].shape[1:])
    if x.shape[1:] != want:
        raise ValueError(f"`{name}` of shape {x.shape} do not fit the classifier input {want}; "
                         "resize them.")
    return x, single


def reconstruct(model, images, batch_size=32):
    """The decoder's reconstructions :math:`\\hat x = D(\\phi(x))` and the class scores of the
    originals and of the reconstructions (both read by the frozen classifier).

    Parameters
    ----------
    model : PerceptionModel
    images : array (N, H, W, 3) or (H, W, 3), uint8 or float in [0, 1]
    batch_size : int

    Returns
    -------
    (np.ndarray, np.ndarray, np.ndarray)
        Reconstructions float32 (N, H, W, 3) in [0, 1] (or (H, W, 3)), the scores of the
        originals and of the reconstructions (N, classes).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> x_hat, s, s_hat = reconstruct(model, np.zeros((2, 16, 16, 3), np.uint8))
    >>> x_hat.shape, s.shape, bool(((x_hat >= 0) & (x_hat <= 1)).all())
    ((2, 16, 16, 3), (2, 3), True)
    """
    check_perception_model(model)
    x, single = check_model_images(model, images)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    fn = _compiled_reconstruct(model)
    outs = [fn(tf.constant(x[s:s + batch_size])) for s in range(0, len(x), batch_size)]
    x_hat, scores, scores_hat = (np.concatenate([o[i].numpy() for o in outs]) for i in range(3))
    return restore_rank(x_hat.astype(np.float32), single), scores, scores_hat


_COMPILED = weakref.WeakKeyDictionary()
_SCORES = weakref.WeakKeyDictionary()


def compiled_scores(model):
    """The compiled ``x -> y(x)`` of the classifier inside ``model`` (made once per model), for
    classifying reconstructions.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> tuple(compiled_scores(model)(np.zeros((2, 16, 16, 3), np.float32)).shape)
    (2, 3)
    """
    fn = _SCORES.get(model)
    if fn is None:
        enc = model.get_layer("encoder")
        spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)
        fn = tf.function(lambda x: enc(x)[1], input_signature=[spec], autograph=False)
        _SCORES[model] = fn
    return fn


def _compiled_reconstruct(model):
    """The compiled ``x -> (x_hat, y(x), y(x_hat))`` of ``model``, made once per model."""
    fn = _COMPILED.get(model)
    if fn is None:
        enc, dec = model.get_layer("encoder"), model.get_layer("decoder")

        def run(x):
            a, scores = enc(x)
            x_hat = dec(a, training=False)
            return x_hat, scores, enc(x_hat)[1]

        spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)
        fn = tf.function(run, input_signature=[spec], autograph=False)
        _COMPILED[model] = fn
    return fn
