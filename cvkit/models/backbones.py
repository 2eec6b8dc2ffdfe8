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

import numbers
import os

import keras
import numpy as np
from keras import layers

from .._validate import check_bool, check_choice, check_float, check_int, describe

__all__ = ["BACKBONES", "backbone", "mini_resnet", "ImagePreprocess", "check_input_shape",
           "check_image_shape",
           "feature_layer_name", "OUTPUT_STRIDES", "dilate"]

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

#: output strides each family can be built with (see :func:`dilate`)
OUTPUT_STRIDES = {"mobilenetv2": (32, 16, 8), "resnet50": (32, 16, 8), "efficientnetb0": (32,),
                  "miniresnet": (32,)}

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

    A uint8 tensor is read as [0, 255] and divided by 255 first (it is not scaled by 255 twice).

    Parameters
    ----------
    mode : {'tf', 'caffe', 'raw255', 'none'}
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples
    --------
    >>> keras.ops.convert_to_numpy(ImagePreprocess('tf')(np.array([[0.0, 0.5, 1.0]])))
    array([[-1.,  0.,  1.]], dtype=float32)

    'caffe' flips RGB to BGR, scales to 0..255 and subtracts the ImageNet means: pure red becomes

    >>> keras.ops.convert_to_numpy(ImagePreprocess('caffe')(np.array([[1.0, 0.0, 0.0]])))
    array([[-103.939, -116.779,  131.32 ]], dtype=float32)
    >>> keras.ops.convert_to_numpy(ImagePreprocess('tf')(np.array([[0, 255]], np.uint8)))
    array([[-1.,  1.]], dtype=float32)
    """

    MODES = ("tf", "caffe", "raw255", "none")

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        check_choice(mode, "mode", self.MODES)
        self.mode = mode

    def call(self, x):
        if keras.backend.standardize_dtype(x.dtype) == "uint8":   # [0, 255] -> [0, 1] first
            x = keras.ops.cast(x, self.compute_dtype) / 255.0
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


def check_image_shape(input_shape, name="input_shape", allow_none=False):
    """Read an image input shape ``(H, W, C)`` of positive ints (None for H and W where allowed).

    Strings, floats and booleans are refused rather than read digit by digit or truncated
    (``'643'`` is not (6, 4, 3), ``64.5`` is not 64).

    Parameters
    ----------
    input_shape : sequence of 3 ints
    name : str
        The argument's name in error messages.
    allow_none : bool
        Accept None for the height and the width (a model for any image size).

    Returns
    -------
    tuple (H, W, C)

    Examples
    --------
    >>> check_image_shape([16, 24, 3])
    (16, 24, 3)
    >>> check_image_shape((None, None, 3), allow_none=True)
    (None, None, 3)
    >>> check_image_shape("643")
    Traceback (most recent call last):
    ...
    TypeError: `input_shape` must be a tuple (height, width, channels) of ints; got str '643'.
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        kind = TypeError if not isinstance(input_shape, (tuple, list)) else ValueError
        raise kind(f"`{name}` must be a tuple (height, width, channels) of ints; got "
                   f"{describe(input_shape)}.")
    out = []
    for i, v in enumerate(input_shape):
        if v is None and allow_none and i < 2:
            out.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"`{name}` must be a tuple (height, width, channels) of ints; got "
                            f"{describe(v)} in {tuple(input_shape)!r}.")
        if v < 1:
            raise ValueError(f"`{name}` must hold sizes >= 1; got {tuple(input_shape)!r}.")
        out.append(int(v))
    return tuple(out)


def check_input_shape(input_shape, name="input_shape"):
    """Validate an image input shape ``(H, W, 3)`` with ``H, W >= 32``; return it as a tuple.

    Parameters
    ----------
    input_shape : sequence of 3 ints
    name : str
        The argument's name in error messages.

    Returns
    -------
    tuple (H, W, 3)

    Examples
    --------
    >>> check_input_shape([64, 64, 3])
    (64, 64, 3)
    >>> check_input_shape((16, 16, 3))    # five stride-2 stages need 32 px
    Traceback (most recent call last):
    ...
    ValueError: `input_shape` is too small for the backbone: height and width must be at least 32 px (five stride-2 stages); got 16x16. Resize the images up.
    """
    shape = check_image_shape(input_shape, name)
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
    """Name of the last convolutional feature layer of a flat backbone (the CAM target layer).

    Parameters
    ----------
    name : str
        A family of :data:`BACKBONES` (or an alias such as ``'mobilenet_v2'``).

    Returns
    -------
    str

    Examples
    --------
    >>> feature_layer_name(), feature_layer_name('resnet50'), feature_layer_name('miniresnet')
    ('out_relu', 'conv5_block3_out', 'block4_out')
    """
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

    Parameters
    ----------
    input_shape : tuple (H, W, C)
    width : int
        Channels :math:`w` of the stem.
    input_tensor : Keras tensor, optional
        Build on this tensor instead of a new ``keras.Input``.
    name : str

    Returns
    -------
    keras.Model
        (N, H, W, C) -> (N, H/32, W/32, 8 * width).

    Examples
    --------
    >>> model = mini_resnet((32, 32, 3), width=4)
    >>> model.output.shape, model.layers[-1].name
    ((None, 1, 1, 32), 'block4_out')
    """
    from .blocks import residual_block

    width = check_int(width, "width", minimum=1)
    if input_tensor is None:
        input_shape = check_image_shape(input_shape, allow_none=True)
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


def _native_strides(model, size):
    """Stride (a power of 2) of each layer's input in the undilated ``model`` of input side
    ``size``: ``size / h_in`` rounded in log2 (odd sizes round their maps up)."""
    out = {}
    for layer in model.layers:
        try:
            h = layer.input.shape[1]
        except (AttributeError, ValueError, IndexError, TypeError):
            continue
        if h:
            out[layer.name] = int(2 ** round(np.log2(size / h)))
    return out


def _dilation_plan(model, size, output_stride):
    """Config changes that turn ``model`` into its output-stride-``output_stride`` twin."""
    stride_in = _native_strides(model, size)
    plan, convs = {}, (layers.Conv2D, layers.DepthwiseConv2D)
    for layer in model.layers:
        if not isinstance(layer, convs):
            continue
        cfg, s_in = layer.get_config(), stride_in.get(layer.name, 1)
        k, s = cfg["kernel_size"][0], cfg["strides"][0]
        if s_in < output_stride and not (s > 1 and s_in * s > output_stride):
            continue                      # before the cut: unchanged
        change = {}
        if s > 1:                         # would pass the output stride: keep the resolution
            change.update(strides=(1, 1), padding="same")
        rate = max(1, s_in // output_stride)
        if k > 1 and rate > 1:
            change.update(dilation_rate=(rate, rate), padding="same")
        if change:
            plan[layer.name] = change
    for layer in model.layers:            # explicit padding of a conv that no longer strides
        if isinstance(layer, layers.ZeroPadding2D) and layer.name.endswith("_pad"):
            if plan.get(layer.name[:-4] + "_depthwise", {}).get("strides") == (1, 1):
                plan[layer.name] = "identity"
    return plan


def dilate(model, output_stride, input_size=None):
    r"""Rebuild a backbone with output stride 16 or 8 by dilating instead of striding.

    The "à trous" trick of DeepLab: every convolution that would bring the feature map below
    :math:`1/\text{output\_stride}` of the input keeps its resolution (stride 1), and every
    later :math:`k \times k` convolution (k > 1) is dilated by

    .. math:: r = \frac{s_{in}}{\text{output\_stride}}

    where :math:`s_{in}` is the stride its input had in the original network. Each filter then
    samples the same input pixels as before, so the weights keep their meaning (ImageNet or any
    trained weights load unchanged), and the original map is a sub-sampling of the new one:
    for MobileNetV2 ``f_32[i] = f_16[2i + 1] = f_8[4i + 3]`` exactly (inference mode), for
    ResNet50 ``f_32[i] = f_16[2i] = f_8[4i]``. Maps get 2x or 4x finer; the cost of the later
    layers grows by the same factor squared.

    Parameters
    ----------
    model : keras.Model
        A functional backbone (flat :func:`backbone` or a ``keras.applications`` model) with its
        weights.
    output_stride : {8, 16, 32}
        32 returns ``model`` itself.
    input_size : int, optional
        Input side used to read the native strides (default: the model's input height).

    Returns
    -------
    keras.Model
        Same layer names and weights; last map ``ceil(H / output_stride)`` on a side.

    Examples
    --------
    >>> fe = backbone('mobilenetv2', input_shape=(64, 64, 3), alpha=0.35)
    >>> dilate(fe, 8).output.shape
    (None, 8, 8, 1280)
    """
    check_choice(output_stride, "output_stride", (8, 16, 32))
    if output_stride == 32:
        return model
    size = input_size or model.inputs[0].shape[1]
    if not size:
        raise ValueError("`model` must have a fixed input height to be dilated; pass `input_size`.")
    plan = _dilation_plan(model, size, output_stride)

    def clone(layer):
        change = plan.get(layer.name)
        if change == "identity":
            return layers.Identity(name=layer.name)
        cfg = layer.get_config()
        cfg.update(change or {})
        return layer.__class__.from_config(cfg)

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            new.get_layer(layer.name).set_weights(layer.get_weights())
            new.get_layer(layer.name).trainable = layer.trainable
    return new


def backbone(name="mobilenetv2", input_shape=(224, 224, 3), alpha=1.0, weights=None,
             trainable=True, nested=False, preprocess=True, bn_momentum="auto", output_stride=32,
             output_layer=None):
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
    output_stride : {32, 16, 8}
        Ratio of the input side to the last map's side. 16 and 8 (MobileNetV2, ResNet50) keep
        the later stages at a finer resolution by dilated convolutions (:func:`dilate`): the
        same weights, 2x or 4x finer maps, e.g. CAMs of 16 x 16 instead of 4 x 4 at 128 px
        ("positioning the GAP layer at layers with larger spatial dimensions", without losing
        the depth of the network).

    output_layer : str, optional
        Cut the network after this inner layer (e.g. ``'block_5_add'`` of MobileNetV2, stride 8,
        receptive field 59 px): the course's other way to finer maps, "GAP earlier in the
        network". Unlike dilation it also shrinks the receptive field, so each cell of the map
        can only respond to what is near it (notebook 02 measures both).

    Returns
    -------
    keras.Model
        Maps (N, H, W, 3) images to the last feature map (N, h, w, C), with
        h = ceil(H / output_stride) (or the size of ``output_layer``).

    Examples
    --------
    >>> fe = backbone('mobilenetv2', input_shape=(96, 96, 3), alpha=0.35)
    >>> fe.output.shape
    (None, 3, 3, 1280)
    >>> backbone('mobilenetv2', input_shape=(96, 96, 3), alpha=0.35, output_stride=8).output.shape
    (None, 12, 12, 1280)
    """
    key = _resolve_name(name)
    if output_stride not in OUTPUT_STRIDES[key] or isinstance(output_stride, bool):
        raise ValueError(f"`output_stride` must be one of {OUTPUT_STRIDES[key]} for backbone "
                         f"{key!r}; got {output_stride!r}.")
    input_shape = check_input_shape(input_shape)
    alpha = check_float(alpha, "alpha", minimum=0.0, strict_min=True)
    if key not in ("mobilenetv2", "miniresnet") and alpha != 1.0:
        raise ValueError(f"`alpha` (width multiplier) applies to MobileNetV2 and miniresnet only; got "
                         f"alpha={alpha} "
                         f"with backbone {key!r}. Leave it at 1.0.")
    weights = _check_weights(weights, key, input_shape, alpha)
    trainable = check_bool(trainable, "trainable")
    preprocess = check_bool(preprocess, "preprocess")
    nested = check_bool(nested, "nested")
    mode = BACKBONES[key][1] if preprocess else "none"
    if isinstance(bn_momentum, str):
        check_choice(bn_momentum, "bn_momentum", ("auto",))
        bn_momentum = 0.9 if weights is None else None
    elif bn_momentum is not None:
        bn_momentum = check_float(bn_momentum, "bn_momentum", minimum=0.0, maximum=1.0)

    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocess(mode, name="preprocess")(inputs) if preprocess else inputs
    if nested:
        app = dilate(_build_app(key, input_shape, alpha, weights), output_stride)
        if output_layer is not None:
            app = _cut(app, output_layer)
        app.trainable = trainable
        out = app(x, training=None)
        model = keras.Model(inputs, out, name=f"{key}_backbone")
    else:
        # input_tensor: keras.applications builds its layers on our tensor, in our graph.
        app = _build_app(key, input_shape, alpha, weights, input_tensor=x)
        for layer in app.layers:
            if layer.weights:
                layer.trainable = trainable
        model = dilate(keras.Model(inputs, app.output, name=f"{key}_backbone"), output_stride)
        if output_layer is not None:
            model = _cut(model, output_layer)
        app = model
    if bn_momentum is not None:
        for layer in app.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = bn_momentum
    return model


def _cut(app, output_layer):
    """``app`` ending at its inner layer ``output_layer``."""
    if not isinstance(output_layer, str):
        raise TypeError(f"`output_layer` must be a layer name (str) or None; got "
                        f"{type(output_layer).__name__}.")
    names = [la.name for la in app.layers]
    if output_layer not in names or len(app.get_layer(output_layer).output.shape) != 4:
        near = [n for n in names if n.endswith(("_add", "_out"))][-4:]
        raise ValueError(f"`output_layer` must name a layer of the backbone with a 4-D output; "
                         f"got {output_layer!r} (e.g. {near}).")
    return keras.Model(app.inputs, app.get_layer(output_layer).output, name=app.name)
