r"""The F-CAM model: the frozen classifier's encoder, the U-Net decoder and a training step that
draws seeds from the CAM and minimises the three loss terms (:mod:`.losses`).

``build_fcam(classifier)`` makes a functional Keras model ``image -> [S, A, y]`` (the decoder's
softmax, the classifier's CAM layer and its class scores); :class:`FCAM` adds ``compile`` (the
loss settings), ``train_step`` / ``test_step`` (``fit``, callbacks, ``evaluate``, ``.keras`` save
and load and ``tf.distribute`` strategies all work) and :func:`fcam_maps` returns the foreground
maps at full resolution. The classifier's layers run in inference mode and receive no gradient:
its predictions are those of the classifier, by construction.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ...models.blocks import InferenceOnly, num_replicas
from ..._validate import as_images, check_bool, check_choice, check_float, check_int, restore_rank
from .losses import crf_loss, partial_cross_entropy, size_loss
from .seeds import check_seed_options, sample_seeds

__all__ = ["FCAM", "InferenceOnly", "build_fcam", "fcam_maps", "seed_maps", "SEED_METHODS",
           "BarrierSchedule", "CRFWarmup"]

#: The methods whose map can seed F-CAM inside the training step: CAM and the gradient methods of
#: :data:`cvkit.explain.MAP_FUNCTIONS` (exact on the classifier's global-pooling -> Dense head).
SEED_METHODS = ("cam", "grad_cam", "grad_cam_plus_plus", "xgrad_cam", "layer_cam")


def _images_labels(data):
    """(images, labels) of a training batch; the seeds need the labels."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if y is None:
        raise ValueError("F-CAM draws its seeds from the map of each image's true class: pass the "
                         "labels too, `fit(images, labels)` / `evaluate(images, labels)`, or a "
                         "dataset of (images, labels) pairs.")
    return x, y


def seed_maps(acts, kernel, labels, size, method="cam"):
    r"""The normalised, up-sampled map of the true class from the CAM layer, in TensorFlow.

    For a global-average-pooling -> Dense head the score is :math:`y^c = \frac1Z\sum_{ij}\sum_k
    A^k_{ij} w^c_k + b^c`, so :math:`\partial y^c / \partial A^k_{ij} = w^c_k / Z` everywhere:
    CAM is :math:`\sum_k w^c_k A^k` and the gradient methods get that constant gradient.

    Examples
    --------
    >>> a = tf.constant(np.arange(8.0, dtype=np.float32).reshape(1, 2, 2, 2))
    >>> w = tf.constant([[1.0, 0.0], [0.0, 1.0]])            # class 1 reads channel 1
    >>> seed_maps(a, w, tf.constant([1]), (2, 2)).numpy()
    array([[[0.        , 0.33333334],
            [0.6666667 , 1.        ]]], dtype=float32)
    """
    from ...explain import MAP_FUNCTIONS
    from ...explain.upsample import normalize_maps_tf, upsample_maps_tf

    w = tf.gather(tf.transpose(tf.cast(kernel, tf.float32)), tf.cast(labels, tf.int32))  # (N, K)
    if method == "cam":
        raw = tf.einsum("nhwk,nk->nhw", acts, w)
    else:
        z = tf.cast(tf.shape(acts)[1] * tf.shape(acts)[2], tf.float32)
        grads = tf.ones_like(acts) * (w / z)[:, None, None, :]
        raw = MAP_FUNCTIONS[method](acts, grads, labels)
    return normalize_maps_tf(upsample_maps_tf(raw, size, "bilinear"))


@keras.saving.register_keras_serializable(package="cvkit")
class FCAM(keras.Model):
    """The F-CAM model (build it with :func:`build_fcam`). Outputs ``[S, A, y]``: the decoder's
    softmax (N, H, W, 2), the classifier's CAM layer and its class scores; ``fit(images, labels)``
    trains the decoder only.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> model.compile(crf_weight=0.0)
    >>> sorted(model.fcam_config)[:4], model.fcam_config["sigma_xy"]     # 100 px at 224 -> 32 px
    (['alpha', 'crf_grid', 'crf_warmup', 'crf_weight'], 14.285714285714286)
    """

    def compile(self, optimizer=None, method="cam", k=10, n_neg=0.2, erode=11, dilate=1,
                alpha=1.0, crf_weight=5.0, sigma_rgb=15.0, sigma_xy=None, crf_grid=32,
                size_weight=0.1, t0=1.0, t_growth=1.01, t_max=10.0, crf_warmup=0, **kwargs):
        """Set the optimizer and the loss (``crf_weight=0`` / ``size_weight=0`` switch a term
        off). ``sigma_xy=None`` keeps the reference 100 px at 224 px: ``100 * H / 224``. The
        default optimizer is the reference's SGD (lr 0.01, momentum 0.9, Nesterov, weight decay
        1e-4). ``crf_warmup`` epochs train without the CRF term first (:class:`CRFWarmup`; 0, the
        reference, adds it from the first step)."""
        if optimizer is None:
            optimizer = keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
        super().compile(optimizer=optimizer, **kwargs)
        side = int(self.inputs[0].shape[1])
        self.fcam_config = {
            "method": check_choice(method, "method", SEED_METHODS),
            **dict(zip(("k", "n_neg", "erode", "dilate"),
                       check_seed_options(k, n_neg, erode, dilate))),
            "alpha": check_float(alpha, "alpha", 0.0),
            "crf_weight": check_float(crf_weight, "crf_weight", 0.0),
            "sigma_rgb": check_float(sigma_rgb, "sigma_rgb", 0.0, strict_min=True),
            "sigma_xy": 100.0 * side / 224 if sigma_xy is None
            else check_float(sigma_xy, "sigma_xy", 0.0, strict_min=True),
            "crf_grid": check_int(crf_grid, "crf_grid", minimum=2),
            "size_weight": check_float(size_weight, "size_weight", 0.0),
            "t0": check_float(t0, "t0", 0.0, strict_min=True),
            "t_growth": check_float(t_growth, "t_growth", 1.0),
            "t_max": check_float(t_max, "t_max", 0.0, strict_min=True),
            "crf_warmup": check_int(crf_warmup, "crf_warmup", minimum=0)}
        self.crf_on = tf.Variable(float(crf_warmup == 0), trainable=False, dtype=tf.float32)
        self.barrier_t = tf.Variable(self.fcam_config["t0"], trainable=False, dtype=tf.float32)
        self.seed_generator = keras.random.SeedGenerator(0)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("loss", "seed_ce", "crf", "size")}
        self.optimizer.build(self.get_layer("decoder").trainable_variables)   # saved and restored

    def get_compile_config(self):
        cfg = dict(getattr(self, "fcam_config", {}))
        if hasattr(self, "barrier_t"):
            cfg["t0"] = float(self.barrier_t.numpy())      # resumed training keeps its t
        return {**(super().get_compile_config() or {}), **cfg}

    def compile_from_config(self, config):
        config = dict(config)
        opt = config.pop("optimizer", None)
        for key in ("loss", "metrics", "loss_weights", "weighted_metrics", "run_eagerly",
                    "steps_per_execution", "jit_compile", "auto_scale_loss"):
            config.pop(key, None)
        if opt is not None:
            opt = keras.optimizers.deserialize(opt)
        self.compile(opt, **config)

    @property
    def metrics(self):
        return list(getattr(self, "trackers", {}).values())

    def _cam_kernel(self):
        """The classifier's Dense kernel :math:`w_k^c` (found once, then remembered)."""
        from ...explain import find_cam_head

        if getattr(self, "_dense", None) is None:
            enc = self.get_layer("encoder").inner
            self._dense = find_cam_head(enc, output=len(enc.outputs) - 1)[1]
        return self._dense.kernel

    def _fcam_losses(self, x, y, training):
        cfg = self.fcam_config
        enc, dec = self.get_layer("encoder"), self.get_layer("decoder")
        outs = enc(x)                                    # InferenceOnly: the classifier is frozen
        acts = outs[0]
        probs = dec([acts, *outs[1:len(dec.inputs)]], training=training)
        maps = seed_maps(tf.stop_gradient(acts), self._cam_kernel(), y, tuple(x.shape[1:3]),
                         cfg["method"])
        fg, bg = sample_seeds(maps, cfg["k"], cfg["n_neg"], cfg["erode"], cfg["dilate"],
                              seed=self.seed_generator)
        ce = partial_cross_entropy(probs, fg, bg)
        crf = tf.constant(0.0)
        if cfg["crf_weight"] > 0:
            def term():
                return crf_loss(probs, x, cfg["sigma_rgb"], cfg["sigma_xy"], cfg["crf_weight"],
                                cfg["crf_grid"])
            # off during the warm-up epochs of training (CRFWarmup); evaluate always has it
            crf = tf.cond(self.crf_on > 0, term, lambda: crf) if training else term()
        size = size_loss(probs, self.barrier_t) if cfg["size_weight"] > 0 else tf.constant(0.0)
        total = cfg["alpha"] * ce + crf + cfg["size_weight"] * size
        return total, {"seed_ce": ce, "crf": crf, "size": size}

    def _track(self, total, parts):
        self.trackers["loss"].update_state(total)
        for name, value in parts.items():
            self.trackers[name].update_state(value)
        return {name: m.result() for name, m in self.trackers.items()}

    def train_step(self, data):
        x, y = _images_labels(data)
        weights = self.get_layer("decoder").trainable_variables
        with tf.GradientTape() as tape:
            total, parts = self._fcam_losses(x, y, True)
            scaled = total / num_replicas()
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return self._track(total, parts)

    def test_step(self, data):
        total, parts = self._fcam_losses(*_images_labels(data), False)
        return self._track(total, parts)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with the log-barrier schedule (:class:`BarrierSchedule`) and the
        CRF warm-up (:class:`CRFWarmup`) added."""
        callbacks = list(callbacks or [])
        for kind in (BarrierSchedule, CRFWarmup):
            if not any(isinstance(c, kind) for c in callbacks):
                callbacks.append(kind())
        return super().fit(*args, callbacks=callbacks, **kwargs)


class BarrierSchedule(keras.callbacks.Callback):
    """The log-barrier's :math:`t`: ``t0`` at the start, times ``t_growth`` after every epoch,
    capped at ``t_max`` (reference: 1, 1.01, 10).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> model.compile(t0=9.95)
    >>> cb = BarrierSchedule()
    >>> cb.set_model(model)
    >>> cb.on_epoch_end(0); round(float(model.barrier_t.numpy()), 4)      # 9.95 x 1.01, then capped
    10.0
    """

    def on_epoch_end(self, epoch, logs=None):
        cfg = self.model.fcam_config
        self.model.barrier_t.assign(min(cfg["t_max"], float(self.model.barrier_t.numpy())
                                        * cfg["t_growth"]))


class CRFWarmup(keras.callbacks.Callback):
    """Trains the first ``crf_warmup`` epochs (an :meth:`FCAM.compile` setting) on the seeds and
    the size term only, then adds the CRF term: epoch ``e`` (counted from 0, ``initial_epoch``
    included) has it when ``e >= crf_warmup``.

    The CRF term alone is lowest for a map of one label everywhere. From random decoder weights
    it can win before the seeds have shaped the map: cvkit's cheaper decoders then learned
    "foreground everywhere" (:mod:`~.decoder`); one epoch of warm-up avoids it.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> model.compile(crf_warmup=1)
    >>> cb = CRFWarmup()
    >>> cb.set_model(model)
    >>> [(cb.on_epoch_begin(e), float(model.crf_on.numpy()))[1] for e in range(3)]
    [0.0, 1.0, 1.0]
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.model.crf_on.assign(float(epoch >= self.model.fcam_config["crf_warmup"]))


def build_fcam(classifier, skips=None, channels=(32, 16, 8), layer=None, reduce=None,
               stop_stride=1, separable=False, skip_reduce=None, name="fcam"):
    """F-CAM on a trained classifier: its encoder (frozen, inference mode) and a U-Net decoder.

    Parameters
    ----------
    classifier : keras.Model
        A CAM classifier (global average pooling -> Dense), e.g. the zoo's
        ``shapes_cam_mobilenetv2_s8``; it is not modified.
    skips : list of str, optional
        Encoder layers concatenated by the decoder (default: :data:`~.decoder.SKIP_LAYERS`).
    channels : sequence of int
        Decoder block channels (:func:`~.decoder.unet_decoder`).
    layer : str, optional
        The CAM layer (default: the layer feeding the global pooling).
    reduce, stop_stride, separable, skip_reduce
        The cheaper decoder's options (:func:`~.decoder.unet_decoder`; off by default, the
        reference layout). Train them with ``crf_warmup=1`` (:class:`CRFWarmup`).
    name : str

    Returns
    -------
    FCAM
        Uncompiled; call :meth:`FCAM.compile` before ``fit``.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> clf = small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8))
    >>> model = build_fcam(clf, skips=["relu3", "relu2"])
    >>> [tuple(o.shape) for o in model.outputs]      # S, the CAM layer, the class scores
    [(None, 32, 32, 2), (None, 4, 4, 8), (None, 4)]
    """
    from ..._graph import tap_model
    from ...explain import find_cam_head, find_layer
    from .decoder import find_skips, unet_decoder

    pool, _ = find_cam_head(classifier)
    cam_layer = find_layer(classifier, layer)
    shape = tuple(cam_layer.layer.output.shape)
    skip_refs = find_skips(classifier, shape, skips)
    encoder = InferenceOnly(tap_model(classifier, [cam_layer, *skip_refs], with_outputs=True),
                            name="encoder")
    size = tuple(classifier.inputs[0].shape[1:3])
    decoder = unet_decoder(shape[1:], [tuple(r.layer.output.shape[1:]) for r in skip_refs], size,
                           channels, reduce=reduce, stop_stride=stop_stride,
                           separable=check_bool(separable, "separable"), skip_reduce=skip_reduce,
                           name="decoder")
    x = keras.Input(classifier.inputs[0].shape[1:], name="image")
    outs = encoder(x)                            # the classifier stays in inference mode
    probs = decoder([outs[0], *outs[1:1 + len(skip_refs)]])
    return FCAM(x, [probs, outs[0], outs[-1]], name=name)


def fcam_maps(model, images, batch_size=32):
    """The F-CAM (the decoder's foreground probability) at full resolution.

    Parameters
    ----------
    model : FCAM
    images : array (N, H, W, 3) or (H, W, 3), uint8 or float in [0, 1]
    batch_size : int

    Returns
    -------
    np.ndarray
        float32 (N, H, W) in [0, 1], or (H, W) for one image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"])
    >>> fcam_maps(model, np.zeros((32, 32, 3), np.uint8)).shape
    (32, 32)
    """
    if not isinstance(model, FCAM):
        raise TypeError(f"`model` must be an F-CAM model (build_fcam); got {type(model).__name__}.")
    x, single = as_images(images)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    want = tuple(model.inputs[0].shape[1:])
    if x.shape[1:] != want:
        raise ValueError(f"`images` of shape {x.shape} do not fit the model input {want}.")
    probs = model.predict(x, batch_size=batch_size, verbose=0)[0]
    return restore_rank(probs[..., 1].astype(np.float32), single)
