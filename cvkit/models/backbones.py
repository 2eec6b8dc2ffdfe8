"""Backbones: ``keras.applications`` feature extractors that take cvkit images ([0, 1] floats).

:func:`backbone` builds MobileNetV2, ResNet50 or EfficientNetB0 without their classification top.
It puts an :class:`ImagePreprocess` layer in front, so the model takes images in [0, 1] (the cvkit
convention) and maps them to the range the network was trained with.

Two layouts:

* flat (default): the backbone's layers sit in the model's own graph, so every inner layer is
  reachable by name (``model.get_layer('Conv_1')``); Grad-CAM and friends need this;
* nested (``nested=True``): the ``keras.applications`` model stays one layer, named like
  ``'mobilenetv2_1.00_224'``, as in the course code
  (``model.get_layer('mobilenetv2_1.00_224').get_layer('Conv_1')``).

Pretrained weights: ``weights=None`` (random initialisation: what the tests, notebooks and the tour
use), ``'imagenet'`` (Keras downloads them once into ``~/.keras/models``; offline, an error tells you
to pass a local file), or the path of a weights file of the ``keras.applications`` model without top.

Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import os

import keras
import numpy as np
from keras import layers

from .._validate import check_choice, check_float

__all__ = ["BACKBONES", "backbone", "mini_resnet", "ImagePreprocess", "check_input_shape",
           "feature_layer_name"]

#: supported backbone families: name -> (keras.applications constructor name, preprocessing mode,
#: name of the last feature layer in the flat model).
BACKBONES = {
    "mobilenetv2": ("MobileNetV2", "tf", "out_relu"),
    "resnet50": ("ResNet50", "caffe", "conv5_block3_out"),
    "efficientnetb0": ("EfficientNetB0", "raw255", "top_activation"),
    "miniresnet": ("miniresnet", "tf", "block4_out"),
}

_ALIASES = {"mobilenet_v2": "mobilenetv2", "efficientnet_b0": "efficientnetb0",
            "resnet_50": "resnet50"}

#: the smallest input side the backbones accept (five stride-2 stages: 32 px gives a 1x1 map).
MIN_SIZE = 32

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="cvkit")
class ImagePreprocess(layers.Layer):
    """Map images in [0, 1] to the input range a ``keras.applications`` backbone expects.

    Modes
    -----
    ``'tf'`` (MobileNetV2): :math:`x' = 2x - 1`, in [-1, 1].
    ``'caffe'`` (ResNet50): :math:`x' = 255\\,x_{BGR} - \\mu_{BGR}` with the ImageNet channel means.
    ``'raw255'`` (EfficientNet, which rescales and normalises inside): :math:`x' = 255\\,x`.
    ``'none'``: identity.
    """

    MODES = ("tf", "caffe", "raw255", "none")

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        check_choice(mode, "mode", self.MODES)
        self.mode = mode

    def call(self, x):
        x = keras.ops.cast(x, self.compute_dtype)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "raw255":
            return x * 255.0
        if self.mode == "caffe":
            x = x[..., ::-1] * 255.0
            return x - keras.ops.convert_to_tensor(np.asarray(_CAFFE_MEAN_BGR, np.float32),
                                                   dtype=self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _resolve_name(name):
    if not isinstance(name, str):
        raise TypeError(f"`backbone` must be a backbone name (str), one of {sorted(BACKBONES)}; "
                        f"got {type(name).__name__} {name!r}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: `name` must be one of {sorted(BACKBONES)}.")
    return key


def check_input_shape(input_shape, name="input_shape"):
    """Validate an image input shape ``(H, W, 3)`` with ``H, W >= 32``; return it as a tuple."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except Exception as exc:
        raise TypeError(f"`{name}` must be a tuple (height, width, 3); got {input_shape!r}.") \
            from exc
    if len(shape) != 3:
        raise ValueError(f"`{name}` must be (height, width, channels); got {input_shape!r}.")
    h, w, c = shape
    if c != 3:
        raise ValueError(f"`{name}` must have 3 channels (RGB); got {c}. Repeat a grayscale image "
                         "to 3 channels with np.repeat(images, 3, axis=-1).")
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"`{name}` is too small for the backbone: height and width must be at "
                         f"least {MIN_SIZE} px (five stride-2 stages); got {h}x{w}. Resize the "
                         "images up.")
    return shape


def feature_layer_name(name="mobilenetv2"):
    """Name of the last convolutional feature layer of a flat backbone (the CAM target layer)."""
    return BACKBONES[_resolve_name(name)][2]


def _check_weights(weights, key, input_shape, alpha):
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"`weights` must be None, 'imagenet' or a file path; got "
                        f"{type(weights).__name__}.")
    weights = os.fspath(weights)
    if weights == "imagenet":
        if key == "mobilenetv2" and alpha not in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
            raise ValueError("ImageNet weights of MobileNetV2 exist for `alpha` in "
                             f"(0.35, 0.5, 0.75, 1.0, 1.3, 1.4) only; got {alpha}.")
        return weights
    if not os.path.isfile(weights):
        raise ValueError(f"`weights` must be None, 'imagenet' or the path of an existing weights "
                         f"file; {weights!r} does not exist.")
    return weights


def mini_resnet(input_shape=(64, 64, 3), width=16, input_tensor=None, name="miniresnet"):
    """A small ResNet built from :func:`cvkit.models.residual_block`: fast to train from scratch.

    Stem 3x3 conv (``width`` channels, stride 2), then four residual blocks with stride 2 and
    ``2w, 4w, 8w, 8w`` channels: overall stride 32 like the ``keras.applications`` backbones, about
    0.6 M parameters for ``width=16``. Last layer ``'block4_out'``.
    """
    from .blocks import residual_block

    inputs = keras.Input(shape=input_shape) if input_tensor is None else input_tensor
    x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for i, mult in enumerate((2, 4, 8, 8), start=1):
        x = residual_block(x, mult * width, stride=2, name=f"block{i}")
    src = inputs if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
    return keras.Model(src, x, name=name)


def _build_app(key, input_shape, alpha, weights, input_tensor=None):
    ctor_name = BACKBONES[key][0]
    if key == "miniresnet":
        if weights is not None:
            raise ValueError("`weights` must be None for 'miniresnet' (no pretrained weights "
                             f"exist); got {weights!r}.")
        return mini_resnet(input_shape, width=max(1, int(round(16 * alpha))),
                           input_tensor=input_tensor)
    ctor = getattr(keras.applications, ctor_name)
    kwargs = dict(include_top=False, weights=weights, input_shape=input_shape)
    if input_tensor is not None:
        kwargs["input_tensor"] = input_tensor
    if key == "mobilenetv2":
        kwargs["alpha"] = alpha
    try:
        return ctor(**kwargs)
    except Exception as exc:
        if weights == "imagenet":
            raise RuntimeError(
                f"could not load the ImageNet weights of {ctor_name} (no internet access, or no "
                "copy in ~/.keras/models). Download the 'no top' weights file where you have "
                "internet access and pass its path: `weights='/path/to/file.h5'`; or use "
                f"weights=None. Original error: {type(exc).__name__}: {exc}") from exc
        if weights is not None:
            raise ValueError(f"could not load `weights` from {weights!r} into {ctor_name} "
                             f"(alpha={alpha}, include_top=False): {type(exc).__name__}: {exc}") \
                from exc
        raise


def backbone(name="mobilenetv2", input_shape=(224, 224, 3), alpha=1.0, weights=None,
             trainable=True, nested=False, preprocess=True, bn_momentum="auto"):
    """Build a convolutional feature extractor that takes images in [0, 1].

    Parameters
    ----------
    name : {'mobilenetv2', 'resnet50', 'efficientnetb0', 'miniresnet'}
        Network family (``keras.applications``, without the classification top), or
        ``'miniresnet'``, a small ResNet of :func:`cvkit.models.residual_block` (no pretrained
        weights; quick to train from scratch on the synthetic data).
    input_shape : tuple (H, W, 3)
        H and W at least 32.
    alpha : float
        Width multiplier of MobileNetV2 (0.35 is a good size for the synthetic data) and of
        'miniresnet'; must be 1.0 for the other families.
    weights : None, 'imagenet' or path
        Initial weights. ``'imagenet'`` never downloads silently in offline use: it raises a
        ``RuntimeError`` that asks for a local file path.
    trainable : bool
        ``False`` freezes the backbone (its BatchNormalization layers then run in inference mode).
    nested : bool
        ``False``: flat graph, inner layers reachable by name. ``True``: the ``keras.applications``
        model is one layer (named e.g. ``'mobilenetv2_1.00_224'``).
    preprocess : bool
        Put an :class:`ImagePreprocess` layer (named ``'preprocess'``) in front.
    bn_momentum : 'auto', None or float in (0, 1)
        Momentum of the BatchNormalization moving averages. ``keras.applications`` uses 0.999,
        whose moving statistics need thousands of steps to settle: a network trained from scratch
        for a few hundred steps then predicts garbage in inference mode although it trains well.
        ``'auto'`` sets 0.9 when ``weights=None`` and keeps the network's own otherwise; ``None``
        always keeps it.

    Returns
    -------
    keras.Model
        Maps (N, H, W, 3) images to the last feature map (N, h, w, C), with h = ceil(H / 32).

    Examples
    --------
    >>> fe = backbone('mobilenetv2', input_shape=(96, 96, 3), alpha=0.35)
    >>> fe.output.shape
    (None, 3, 3, 1280)
    """
    key = _resolve_name(name)
    input_shape = check_input_shape(input_shape)
    alpha = check_float(alpha, "alpha", minimum=0.0, strict_min=True)
    if key not in ("mobilenetv2", "miniresnet") and alpha != 1.0:
        raise ValueError(f"`alpha` (width multiplier) applies to MobileNetV2 and miniresnet only; got "
                         f"alpha={alpha} "
                         f"with backbone {key!r}. Leave it at 1.0.")
    weights = _check_weights(weights, key, input_shape, alpha)
    if not isinstance(trainable, bool):
        raise TypeError(f"`trainable` must be True or False; got {trainable!r}.")
    mode = BACKBONES[key][1] if preprocess else "none"
    if isinstance(bn_momentum, str):
        check_choice(bn_momentum, "bn_momentum", ("auto",))
        bn_momentum = 0.9 if weights is None else None
    elif bn_momentum is not None:
        bn_momentum = check_float(bn_momentum, "bn_momentum", minimum=0.0, maximum=1.0)

    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocess(mode, name="preprocess")(inputs) if preprocess else inputs
    if nested:
        app = _build_app(key, input_shape, alpha, weights)
        app.trainable = trainable
        out = app(x, training=None)
        model = keras.Model(inputs, out, name=f"{key}_backbone")
    else:
        # input_tensor: keras.applications builds its layers on our tensor, in our graph.
        app = _build_app(key, input_shape, alpha, weights, input_tensor=x)
        for layer in app.layers:
            if layer.weights:
                layer.trainable = trainable
        model = keras.Model(inputs, app.output, name=f"{key}_backbone")
    if bn_momentum is not None:
        for layer in app.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = bn_momentum
    return model
