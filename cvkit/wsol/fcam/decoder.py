r"""F-CAM's decoder: a U-Net on the frozen classifier's features that outputs full-resolution maps.

The classifier's CAM layer :math:`A` (stride 8 in the fine-map classifier) is up-sampled x2 per
block; each block concatenates the encoder feature map of the same resolution (a *skip*), then
applies two 3x3 convolutions (no bias) + batch norm + ReLU (each convolution and its norm a
:class:`cvkit.models.ConvBatchNorm`: the two layers in training, one convolution with the norm
folded in at inference). A 3x3 convolution to 2 channels and a softmax give the background and
foreground maps :math:`S` at the input resolution; the F-CAM is :math:`S_{fg}`. The image itself is not a skip (it would let the decoder copy edges instead of
learning the object). Reference: channels (256, 128, 64, 32, 16), nearest x2 up-sampling, blocks
up to the input resolution (Belharbi et al., WACV 2022, and their code).

Options for a cheaper decoder (off by default): ``reduce`` (a 1x1 conv-BN-ReLU that first brings
:math:`A`, 256 channels, to a few), ``skip_reduce`` (the same on each skip: MobileNetV2's are its
expanded activations, 96 and 144 channels), ``stop_stride=2`` (the last block at half resolution,
its 2-channel logits up-sampled bilinearly before the softmax) and ``separable``
(depthwise-separable 3x3 convolutions). With :data:`LITE_DECODER`, the zoo's layout, F-CAM costs
1.6x the classifier's forward pass against 3.5x with the reference layout (batch 32 at 128 px,
``benchmarks/bench_fcam.py``). Train it with one epoch of CRF warm-up (``crf_warmup=1``,
:class:`~.model.CRFWarmup`): with the CRF term from the first step, four of five runs of cheaper
decoders collapsed to a map that is foreground everywhere (MaxBoxAcc 70-77, below the CAM's 80-85);
with the warm-up, every run (seven: two seeds, CAM and Grad-CAM seeds, four layouts) scored as the
reference layout does (MaxBoxAcc 97.5-99.0, PxAP 94.6-96.7 on 200 held-out images).
"""
from __future__ import annotations

import keras

from ..._validate import check_choice, check_int

__all__ = ["SKIP_LAYERS", "LITE_DECODER", "TwoClassSoftmax", "find_skips", "unet_decoder"]

#: The cheaper decoder of the zoo's F-CAM entries: ``build_fcam(classifier, **LITE_DECODER)``.
LITE_DECODER = {"reduce": 32, "skip_reduce": 16, "stop_stride": 2}

#: Skip layers per backbone of :func:`cvkit.models.backbone`, by stride: the last layer at each
#: resolution that every cut of the backbone keeps. For MobileNetV2 the expanded activations (after
#: ReLU6, 6x the channels of the block outputs), which the reference layout trained on (with the
#: narrow linear block outputs, ``expanded_conv_project_BN`` and ``block_2_add``, one run without
#: the CRF warm-up collapsed; ``skip_reduce`` learns its own narrowing instead).
SKIP_LAYERS = {
    "mobilenetv2": {2: "block_1_expand_relu", 4: "block_3_expand_relu", 8: "block_5_add",
                    16: "block_12_add"},
    "resnet50": {2: "conv1_relu", 4: "conv2_block3_out", 8: "conv3_block4_out",
                 16: "conv4_block6_out"},
}


def _spatial_layers(model):
    from ..._graph import walk_layers

    out = []
    for ref in walk_layers(model):
        shape = getattr(ref.layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4:
            out.append((ref, tuple(shape)))
    return out


def find_skips(model, target_shape, skips=None):
    """The encoder layers whose outputs the decoder concatenates: one per resolution between the
    CAM layer's and the input's (strides 2, 4, ... up to the CAM layer's stride, excluded).

    Parameters
    ----------
    model : keras.Model
        The classifier.
    target_shape : tuple
        The CAM layer's output shape (None, h, w, K).
    skips : list of str, optional
        Layer names to use; default: :data:`SKIP_LAYERS` of the backbone the model is built on
        (recognised by its layer names).

    Returns
    -------
    list of LayerRef
        From the deepest (lowest resolution) to the shallowest.

    Examples
    --------
    >>> from cvkit.models import pretrained
    >>> model = pretrained("shapes_cam_mobilenetv2_s8")
    >>> [r.name for r in find_skips(model, (None, 16, 16, 256))]
    ['block_3_expand_relu', 'block_1_expand_relu']
    """
    from ..._graph import find_layer

    size = tuple(model.inputs[0].shape[1:3])
    layers = {ref.name: shape for ref, shape in _spatial_layers(model)}
    if skips is None:
        table = next((t for t in SKIP_LAYERS.values() if any(n in layers for n in t.values())),
                     None)
        if table is None:
            raise ValueError("`skips`: found none of the known skip layers "
                             f"({sorted(n for t in SKIP_LAYERS.values() for n in t.values())}) in "
                             f"model {model.name!r}; give `skips` as layer names. Candidates (4-D "
                             f"outputs): {[n for n in layers][:40]}.")
        skips = [n for stride, n in sorted(table.items())
                 if n in layers and layers[n][1] is not None and layers[n][1] > target_shape[1]]
    refs = []
    for name in skips:
        if name not in layers:
            raise ValueError(f"`skips`: no 4-D layer named {name!r} in model {model.name!r}. "
                             f"Candidates: {[n for n in layers][:40]}.")
        refs.append(find_layer(model, name, "skips"))
    refs.sort(key=lambda r: layers[r.name][1] or 0)
    bad = [r.name for r in refs if (layers[r.name][1] or 0) <= target_shape[1]
           or (layers[r.name][1] or 0) >= size[0]]
    if bad:
        raise ValueError(f"`skips`: {bad} are not between the CAM layer ({target_shape[1]} px) and "
                         f"the input ({size[0]} px) in resolution.")
    return refs


@keras.saving.register_keras_serializable(package="cvkit")
class TwoClassSoftmax(keras.layers.Layer):
    r"""The softmax over two channels, as a sigmoid of their difference:
    :math:`S_{fg} = \sigma(z_{fg} - z_{bg})`, :math:`S_{bg} = \sigma(z_{bg} - z_{fg})`.

    The same numbers as ``keras.layers.Softmax`` on (N, H, W, 2), ten times cheaper on a CPU,
    where TensorFlow's softmax over a last axis of length 2 costs more than a decoder block.
    With ``size``, the logits are first up-sampled bilinearly to ``size``: as bilinear
    interpolation is linear, it up-samples the one-channel difference only (half the work of
    resizing both logits, the same numbers).

    Parameters
    ----------
    size : (int, int) or None
        The output (H, W); None keeps the input's.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[[[0.0, 2.0], [1.0, -1.0]]]], np.float32)          # (1, 1, 2, 2)
    >>> np.round(TwoClassSoftmax()(z).numpy(), 4)
    array([[[[0.1192, 0.8808],
             [0.8808, 0.1192]]]], dtype=float32)
    >>> TwoClassSoftmax(size=(4, 8))(z).shape
    TensorShape([1, 4, 8, 2])
    """

    def __init__(self, size=None, **kwargs):
        super().__init__(**kwargs)
        self.size = None if size is None else tuple(
            check_int(v, "size", minimum=1) for v in size)

    def call(self, logits):
        d = logits[..., 1:] - logits[..., :1]
        if self.size is not None:
            d = keras.ops.image.resize(d, self.size, interpolation="bilinear")
        return keras.ops.concatenate([keras.ops.sigmoid(-d), keras.ops.sigmoid(d)], axis=-1)

    def compute_output_shape(self, input_shape):
        hw = tuple(input_shape[1:3]) if self.size is None else self.size
        return (input_shape[0], *hw, 2)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _conv_bn_relu(x, channels, kernel, name, tag="", separable=False):
    """conv + BN + ReLU; a plain convolution and its norm are one :class:`ConvBatchNorm` (folded
    at inference)."""
    from keras import layers

    from ...models.blocks import ConvBatchNorm

    if separable and kernel > 1:
        x = layers.SeparableConv2D(channels, kernel, padding="same", use_bias=False,
                                   name=f"{name}_conv{tag}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{tag}")(x)
    else:
        x = ConvBatchNorm(channels, kernel, momentum=0.9, name=f"{name}_conv{tag}")(x)  # short runs
    return layers.ReLU(name=f"{name}_relu{tag}")(x)


def _block(x, skip, channels, name, separable=False, skip_reduce=None):
    """One decoder block: x2 up-sampling (nearest), concatenation of the skip (first brought to
    ``skip_reduce`` channels by a 1x1 conv-BN-ReLU, if given), 2 x (conv-BN-ReLU)."""
    from keras import layers

    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(x)
    if skip is not None:
        if skip_reduce is not None:
            skip = _conv_bn_relu(skip, skip_reduce, 1, f"{name}_skip")
        if tuple(skip.shape[1:3]) != tuple(x.shape[1:3]):
            x = layers.Resizing(skip.shape[1], skip.shape[2], "bilinear", name=f"{name}_fit")(x)
        x = layers.Concatenate(name=f"{name}_cat")([x, skip])
    for i in (1, 2):
        x = _conv_bn_relu(x, channels, 3, name, i, separable)
    return x


def unet_decoder(feature_shape, skip_shapes, output_size, channels=(32, 16, 8), reduce=None,
                 stop_stride=1, separable=False, skip_reduce=None, name="decoder"):
    """The decoder as a Keras model: ``[A, skip_1, ..., skip_m] -> S`` (N, H, W, 2), a softmax.

    Parameters
    ----------
    feature_shape : tuple
        (h, w, K) of the CAM layer.
    skip_shapes : list of tuple
        (h_i, w_i, K_i) of the skips, deepest first; each joins the block of its resolution.
    output_size : (H, W)
        The input resolution.
    channels : sequence of int
        Channels of the blocks, one block per x2 step from (h, w) to (H, W) / ``stop_stride``; if
        longer than needed, its last entries are used (the reference's (256, 128, 64, 32, 16)).
    reduce : int or None
        Channels of a 1x1 conv-BN-ReLU applied to :math:`A` first (None: none, the reference).
    stop_stride : {1, 2}
        The last block's stride: 1 (the reference) or 2 (its 2-channel logits are up-sampled
        bilinearly to (H, W) before the softmax).
    separable : bool
        Depthwise-separable 3x3 convolutions in the blocks.
    skip_reduce : int or None
        Channels of a 1x1 conv-BN-ReLU applied to each skip before its concatenation (None: none,
        the reference). MobileNetV2's skips are its expanded activations (96 and 144 channels at
        strides 2 and 4): the first convolution of their blocks is most of the decoder's cost.
    name : str

    Examples
    --------
    >>> dec = unet_decoder((16, 16, 64), [(32, 32, 24), (64, 64, 16)], (128, 128))
    >>> [tuple(t.shape) for t in dec.inputs], tuple(dec.output.shape)
    ([(None, 16, 16, 64), (None, 32, 32, 24), (None, 64, 64, 16)], (None, 128, 128, 2))
    >>> [l.output.shape[1] for l in dec.layers if l.name.endswith("_relu2")]
    [32, 64, 128]
    >>> lite = unet_decoder((16, 16, 64), [(32, 32, 24), (64, 64, 16)], (128, 128), (32, 16),
    ...                     reduce=32, stop_stride=2)
    >>> [l.output.shape[1] for l in lite.layers if l.name.endswith("_relu2")]
    [32, 64]
    """
    import keras
    from keras import layers

    stop_stride = check_choice(stop_stride, "stop_stride", (1, 2))
    steps, h = 0, feature_shape[0]
    while h * stop_stride < output_size[0]:
        h, steps = h * 2, steps + 1
    channels = [check_int(c, "channels", minimum=1) for c in channels]
    if len(channels) < steps:
        raise ValueError(f"`channels` needs {steps} entries (one per x2 step from "
                         f"{feature_shape[0]} to {output_size[0] // stop_stride} px); got "
                         f"{len(channels)}.")
    channels = channels[len(channels) - steps:]
    a = keras.Input(feature_shape, name=f"{name}_features")
    skips = [keras.Input(s, name=f"{name}_skip{i}") for i, s in enumerate(skip_shapes)]
    x, pending = a, list(skips)
    if reduce is not None:
        x = _conv_bn_relu(x, check_int(reduce, "reduce", minimum=1), 1, f"{name}_reduce")
    if skip_reduce is not None:
        skip_reduce = check_int(skip_reduce, "skip_reduce", minimum=1)
    for i, c in enumerate(channels):
        # a skip joins the block whose x2 step reaches its resolution (nearer 2h than 4h), not
        # the i-th block: a backbone may have no skip at some resolution
        joins = bool(pending) and pending[0].shape[1] < 3 * x.shape[1]
        x = _block(x, pending.pop(0) if joins else None, c, f"{name}_block{i + 1}", separable,
                   skip_reduce)
    if pending:
        raise ValueError(f"`skip_shapes`: {[tuple(s.shape[1:]) for s in pending]} are not below "
                         f"the decoder's last resolution {output_size[0] // stop_stride} px; a "
                         "skip joins the decoder block of its resolution.")
    x = layers.Conv2D(2, 3, padding="same", name=f"{name}_head")(x)
    fit = None if tuple(x.shape[1:3]) == tuple(output_size) else tuple(output_size)
    out = TwoClassSoftmax(fit, name=f"{name}_softmax")(x)
    return keras.Model([a, *skips], out, name=name)
