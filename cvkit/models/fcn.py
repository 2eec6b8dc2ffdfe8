"""Fully convolutional segmentation: transposed convolution by hand, FCN-32s/16s/8s, a mask head.

A transposed convolution scatters every input value, multiplied by the whole kernel, into the
output at ``stride`` steps and sums the overlaps:

.. math:: O(s i + m,\\; s j + n) \\mathrel{+}= I(i, j)\\,K(m, n)

so a :math:`H \\times W` input gives :math:`(H - 1)s + k` outputs per side (before cropping). The
course's example: input ``[[0, 1], [2, 3]]`` and kernel ``[[0, 1], [2, 3]]`` give
``[[0, 0, 1], [0, 4, 6], [4, 12, 9]]``. :func:`transposed_conv2d` equals
``keras.layers.Conv2DTranspose``.

FCN (Long, Shelhamer & Darrell, 2015) scores the classes on the coarse stride-32 features and
up-samples them back to the input size with transposed convolutions (initialised to bilinear
interpolation); FCN-16s and FCN-8s first add (element-wise) 2x up-sampled scores to scores computed
from the shallower stride-16 and stride-8 features, which keep more spatial detail.

Shown in ``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import check_bool, check_choice, check_float, check_int, describe, to_numpy

__all__ = [
    "transposed_conv2d",
    "bilinear_kernel",
    "FCN_SKIPS",
    "tiny_backbone",
    "build_fcn",
    "fcn32s",
    "fcn16s",
    "fcn8s",
    "mask_head",
    "pixel_mean_iou",
]

#: feature layers at strides 8, 16 and 32 of the flat backbones of :func:`cvkit.models.backbone`
FCN_SKIPS = {
    "mobilenetv2": {8: "block_5_add", 16: "block_12_add", 32: "out_relu"},
    "resnet50": {8: "conv3_block4_out", 16: "conv4_block6_out", 32: "conv5_block3_out"},
    "efficientnetb0": {8: "block3b_add", 16: "block5c_add", 32: "top_activation"},
    "tiny": {8: "stage3_out", 16: "stage4_out", 32: "stage5_out"},
}


def tiny_backbone(input_shape=(64, 64, 3), width=16):
    """A small plain CNN with five stride-2 stages (VGG-like, as the original FCN's backbone), for
    training FCNs in seconds on a CPU.

    Stage :math:`k = 1..5` is a 3x3 convolution of stride 2 then a 3x3 convolution, both with
    ReLU (He initialisation; no BatchNorm, whose moving statistics would not settle in a training
    of a few dozen steps), with ``width * min(2^(k-1), 4)`` channels; its output layer is named
    ``stage{k}_out`` (stride :math:`2^k`). Takes images in [0, 1].

    Returns
    -------
    keras.Model (N, H, W, 3) -> (N, H/32, W/32, 4 * width)

    Examples
    --------
    >>> model = tiny_backbone((32, 32, 3), width=4)
    >>> model.output.shape                  # 4 * width channels at stride 32
    (None, 1, 1, 16)
    >>> model.get_layer('stage3_out').output.shape      # stride 8
    (None, 4, 4, 16)
    """
    import keras

    from .backbones import check_image_shape

    width = check_int(width, "width", minimum=1)
    input_shape = check_image_shape(input_shape, allow_none=True)
    inp = keras.Input(shape=input_shape, name="image")
    x = inp
    for k in range(1, 6):
        ch = width * min(2 ** (k - 1), 4)
        for j, stride in enumerate((2, 1)):
            x = keras.layers.Conv2D(ch, 3, strides=stride, padding="same",
                                    kernel_initializer="he_normal",
                                    name=f"stage{k}_conv{j + 1}")(x)
            x = keras.layers.Activation("relu", name=f"stage{k}_out" if j == 1 else
                                        f"stage{k}_relu{j + 1}")(x)
    return keras.Model(inp, x, name="tiny_backbone")


def transposed_conv2d(x, kernel, stride=1, padding="valid"):
    """Transposed convolution by hand (NumPy): scatter-add the kernel scaled by each input value.

    .. math:: O(s i + m,\\; s j + n) \\mathrel{+}= \\sum_{c} I(i, j, c)\\,K(m, n, o, c)

    Parameters
    ----------
    x : (H, W) or (H, W, C_in)
    kernel : (k_h, k_w) or (k_h, k_w, C_out, C_in), the layout of ``Conv2DTranspose.kernel``
    stride : int or (int, int)
    padding : 'valid' or 'same'
        ``'valid'``: the full output, :math:`(H - 1)s + \\max(k, s)` per side (Keras pads with zeros
        when :math:`k < s`); ``'same'``: cropped to :math:`H s`, removing
        :math:`\\lfloor (k - s)/2 \\rfloor` rows at the top and the rest at the bottom (as Keras).

    Returns
    -------
    float64 (H_o, W_o) or (H_o, W_o, C_out)

    Examples
    --------
    The course's example: each input value stamps the kernel scaled by itself, and the stamps
    overlap and add (the centre is :math:`0 \\cdot 3 + 1 \\cdot 2 + 2 \\cdot 1 + 3 \\cdot 0 = 4`):

    >>> transposed_conv2d([[0, 1], [2, 3]], [[0, 1], [2, 3]])
    array([[ 0.,  0.,  1.],
           [ 0.,  4.,  6.],
           [ 4., 12.,  9.]])

    With stride 2 the 2 x 2 stamps no longer overlap:

    >>> transposed_conv2d([[0, 1], [2, 3]], [[0, 1], [2, 3]], stride=2)
    array([[0., 0., 0., 1.],
           [0., 0., 2., 3.],
           [0., 2., 0., 3.],
           [4., 6., 6., 9.]])
    """
    xa = np.asarray(to_numpy(x))
    ka = np.asarray(to_numpy(kernel))
    for name, a in (("x", xa), ("kernel", ka)):
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"`{name}` must be numeric; got {describe(a)}.")
    single = xa.ndim == 2
    if single:
        xa = xa[..., None]
    if xa.ndim != 3:
        raise ValueError(f"`x` must be (H, W) or (H, W, C_in); got {describe(xa)}.")
    kernel2d = ka.ndim == 2
    if kernel2d:
        ka = ka[:, :, None, None]
    if ka.ndim != 4:
        raise ValueError(f"`kernel` must be (k_h, k_w) or (k_h, k_w, C_out, C_in); got "
                         f"{describe(ka)}.")
    if ka.size == 0 or xa.size == 0:
        raise ValueError(f"`x` and `kernel` must not be empty; got shapes {xa.shape}, {ka.shape}.")
    if ka.shape[3] != xa.shape[2]:
        raise ValueError(f"`kernel` has C_in={ka.shape[3]} but `x` has {xa.shape[2]} channels.")
    if isinstance(stride, (tuple, list)):
        if len(stride) != 2:
            raise ValueError(f"`stride` must be an int or a pair; got {stride!r}.")
        sh, sw = (check_int(s, "stride", minimum=1) for s in stride)
    else:
        sh = sw = check_int(stride, "stride", minimum=1)
    check_choice(padding, "padding", ("valid", "same"))
    xa = xa.astype(np.float64)
    ka = ka.astype(np.float64)
    H, W, _ = xa.shape
    kh, kw, co, _ = ka.shape
    full_h = (H - 1) * sh + max(kh, sh)
    full_w = (W - 1) * sw + max(kw, sw)
    out = np.zeros((full_h, full_w, co))
    # one vectorised scatter per kernel tap: the tap (m, n) of every input lands at (s i + m, s j + n)
    for m in range(kh):
        for n in range(kw):
            out[m:m + (H - 1) * sh + 1:sh, n:n + (W - 1) * sw + 1:sw] += xa @ ka[m, n].T
    if padding == "same":
        th, tw = full_h - H * sh, full_w - W * sw
        out = out[th // 2: th // 2 + H * sh, tw // 2: tw // 2 + W * sw]
    return out[..., 0] if (single and kernel2d) else out


#: the largest side of a bilinear kernel (an up-sampling factor of 512) and its largest number of
#: elements: bounds on what a typo in ``size`` or ``channels`` may allocate.
_MAX_KERNEL = 1024
_MAX_KERNEL_ELEMENTS = 1 << 26


def bilinear_kernel(size, channels):
    """Kernel ``(size, size, channels, channels)`` that makes a transposed convolution of stride
    ``(size + 1) // 2`` do bilinear up-sampling, channel by channel (the FCN initialisation).

    .. math:: K(m, n) = \\Big(1 - \\frac{|m - c|}{f}\\Big)\\Big(1 - \\frac{|n - c|}{f}\\Big),\\quad
        f = \\lceil k/2 \\rceil,\\ c = f - 1 \\text{ (k odd) or } f - \\tfrac12 \\text{ (k even)}

    Parameters
    ----------
    size : int
        Kernel side :math:`k`; ``2 * factor`` for up-sampling by ``factor``.
    channels : int
        Each channel is up-sampled on its own (the kernel is zero between channels).

    Returns
    -------
    np.ndarray float32 (size, size, channels, channels)

    Examples
    --------
    For 2x up-sampling (:math:`k = 4`) the 1-D weights are :math:`(1/4, 3/4, 3/4, 1/4)`:

    >>> k = bilinear_kernel(4, 1)[:, :, 0, 0]
    >>> k[0]
    array([0.0625, 0.1875, 0.1875, 0.0625], dtype=float32)

    A ramp 0, 1, 2, 3 up-sampled 2x: every output pixel mixes its two nearest inputs 3 : 1, as
    bilinear interpolation does (the ends fall off, because the borders are padded with zeros):

    >>> ramp = np.tile([0.0, 1.0, 2.0, 3.0], (4, 1))
    >>> transposed_conv2d(ramp, k, stride=2, padding='same')[3]
    array([0.  , 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 2.25])
    """
    size = check_int(size, "size", minimum=1, maximum=_MAX_KERNEL)
    channels = check_int(channels, "channels", minimum=1)
    if size * size * channels * channels > _MAX_KERNEL_ELEMENTS:
        raise ValueError(f"`channels` = {channels} with `size` = {size} asks for a "
                         f"({size}, {size}, {channels}, {channels}) kernel, above the "
                         f"{_MAX_KERNEL_ELEMENTS} elements (256 MB) allowed; the up-sampling kernel "
                         "of an FCN has one channel per class and a size of twice the factor.")
    f = (size + 1) // 2
    c = f - 1 if size % 2 == 1 else f - 0.5
    og = 1 - np.abs(np.arange(size) - c) / f
    k2 = np.outer(og, og)
    k = np.zeros((size, size, channels, channels), dtype=np.float32)
    k[:, :, np.arange(channels), np.arange(channels)] = k2[:, :, None]
    return k


def _upsample(x, num_classes, factor, name, trainable=True):
    import keras

    size = 2 * factor
    layer = keras.layers.Conv2DTranspose(
        num_classes, size, strides=factor, padding="same", use_bias=False, name=name,
        kernel_initializer=keras.initializers.Constant(bilinear_kernel(size, num_classes)),
        trainable=trainable)
    return layer(x)


def build_fcn(num_classes, input_shape=(96, 96, 3), variant="8s", backbone="mobilenetv2",
              alpha=0.35, weights=None, train_backbone=True):
    """An FCN-32s, FCN-16s or FCN-8s segmentation model on a :func:`cvkit.models.backbone`.

    - FCN-32s: 1x1 class scores on the stride-32 features, up-sampled 32x.
    - FCN-16s: those scores up-sampled 2x, added to 1x1 scores of the stride-16 features, then
      up-sampled 16x.
    - FCN-8s: the FCN-16s sum up-sampled 2x again, added to scores of the stride-8 features, then
      up-sampled 8x.

    Every up-sampling is a ``Conv2DTranspose`` (kernel ``2f``, stride ``f``) initialised to bilinear
    interpolation and trained with the rest; the skip score layers start at zero, so an untrained
    FCN-16s/8s predicts the stride-32 scores only, up-sampled in steps (``up8(up2(up2(s)))`` for
    FCN-8s; close to, but not the same as, FCN-32s's single ``up32(s)``), as in the paper's staged
    training.

    Parameters
    ----------
    num_classes : int >= 1 (background counts as a class)
    input_shape : (H, W, 3), H and W multiples of 32
    variant : {'32s', '16s', '8s'}
    backbone : a name of :data:`FCN_SKIPS`: a :func:`cvkit.models.backbone` family or ``'tiny'``
        (:func:`tiny_backbone`, trains in seconds on a CPU; what the notebook uses)
    alpha : MobileNetV2 width (ignored for the others)
    weights : None, 'imagenet' or a path (passed to the backbone)
    train_backbone : bool

    Returns
    -------
    keras.Model mapping (N, H, W, 3) images in [0, 1] to (N, H, W, num_classes) logits.

    Examples
    --------
    >>> model = build_fcn(3, (32, 32, 3), variant='8s', backbone='tiny')
    >>> model.name, model.output.shape
    ('fcn8s_tiny', (None, 32, 32, 3))
    >>> model.get_layer('fuse_8').output.shape       # scores at stride 8 (32 / 8 = 4)
    (None, 4, 4, 3)
    """
    import keras

    from .backbones import backbone as make_backbone
    from .backbones import check_image_shape

    num_classes = check_int(num_classes, "num_classes", minimum=1)
    check_choice(variant, "variant", ("32s", "16s", "8s"))
    key = str(backbone).lower()
    check_choice(key, "backbone", tuple(FCN_SKIPS))
    input_shape = check_image_shape(input_shape)
    train_backbone = check_bool(train_backbone, "train_backbone")
    h, w = input_shape[0], input_shape[1]
    if not all(isinstance(v, numbers.Integral) and v >= 32 and v % 32 == 0 for v in (h, w)):
        raise ValueError(f"`input_shape` must have H and W multiples of 32 (>= 32) so that the "
                         f"stride-32 scores up-sample back to the input size; got {input_shape!r}.")
    if key == "tiny":
        if weights is not None:
            raise ValueError("`weights` must be None for the 'tiny' backbone (it has no pretrained "
                             f"weights); got {weights!r}.")
        base = tiny_backbone(tuple(input_shape))
        base.trainable = train_backbone
    else:
        kwargs = {"alpha": check_float(alpha, "alpha", 0.0, strict_min=True)} \
            if key == "mobilenetv2" else {}
        base = make_backbone(key, input_shape=tuple(input_shape), weights=weights,
                             trainable=train_backbone, **kwargs)
    skips = FCN_SKIPS[key]
    f32 = base.get_layer(skips[32]).output
    score = keras.layers.Conv2D(num_classes, 1, name="score_32")(f32)
    if variant == "32s":
        out = _upsample(score, num_classes, 32, "upsample_32x")
    else:
        up = _upsample(score, num_classes, 2, "upsample_32_to_16")
        s16 = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros",
                                  name="score_16")(base.get_layer(skips[16]).output)
        fused = keras.layers.Add(name="fuse_16")([up, s16])
        if variant == "16s":
            out = _upsample(fused, num_classes, 16, "upsample_16x")
        else:
            up = _upsample(fused, num_classes, 2, "upsample_16_to_8")
            s8 = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros",
                                     name="score_8")(base.get_layer(skips[8]).output)
            fused = keras.layers.Add(name="fuse_8")([up, s8])
            out = _upsample(fused, num_classes, 8, "upsample_8x")
    return keras.Model(base.input, out, name=f"fcn{variant}_{key}")


def fcn32s(num_classes, input_shape=(96, 96, 3), **kwargs):
    """FCN-32s (see :func:`build_fcn`): the stride-32 scores up-sampled 32x at once.

    Examples
    --------
    >>> model = fcn32s(2, (32, 32, 3), backbone='tiny')
    >>> model.get_layer('score_32').output.shape, model.output.shape
    ((None, 1, 1, 2), (None, 32, 32, 2))
    """
    return build_fcn(num_classes, input_shape, variant="32s", **kwargs)


def fcn16s(num_classes, input_shape=(96, 96, 3), **kwargs):
    """FCN-16s (see :func:`build_fcn`): stride-32 scores up-sampled 2x plus stride-16 scores, then 16x.

    Examples
    --------
    >>> model = fcn16s(2, (32, 32, 3), backbone='tiny')
    >>> model.get_layer('fuse_16').output.shape, model.output.shape
    ((None, 2, 2, 2), (None, 32, 32, 2))
    """
    return build_fcn(num_classes, input_shape, variant="16s", **kwargs)


def fcn8s(num_classes, input_shape=(96, 96, 3), **kwargs):
    """FCN-8s (see :func:`build_fcn`): the FCN-16s sum up-sampled 2x plus stride-8 scores, then 8x.

    Examples
    --------
    >>> model = fcn8s(2, (32, 32, 3), backbone='tiny')
    >>> model.get_layer('fuse_8').output.shape, model.output.shape
    ((None, 4, 4, 2), (None, 32, 32, 2))
    """
    return build_fcn(num_classes, input_shape, variant="8s", **kwargs)


def mask_head(input_shape=(14, 14, 16), num_classes=1, filters=64, n_convs=2):
    """The Mask R-CNN mask branch: a small FCN on ROI Align features.

    ``n_convs`` 3x3 convolutions (ReLU), a 2x2 stride-2 transposed convolution (ReLU) that doubles
    the resolution (14 -> 28), and a 1x1 convolution to one mask logit per class. Trained with a
    per-pixel sigmoid cross-entropy against the ground-truth mask cropped and resized to the ROI
    (:func:`cvkit.detection.mask_targets`).

    Parameters
    ----------
    input_shape : (h, w, C)
        The ROI Align features.
    num_classes : int
    filters : int
        Channels of the convolutions.
    n_convs : int >= 0
        Number of 3x3 convolutions before the up-sampling.

    Returns
    -------
    keras.Model (N, h, w, C) -> (N, 2h, 2w, num_classes) logits.

    Examples
    --------
    >>> head = mask_head((14, 14, 16), num_classes=2, filters=8)
    >>> head.output.shape
    (None, 28, 28, 2)
    """
    import keras

    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
            and all(isinstance(v, numbers.Integral) and v >= 1 for v in input_shape)):
        raise ValueError(f"`input_shape` must be (h, w, C) positive ints; got {input_shape!r}.")
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    filters = check_int(filters, "filters", minimum=1)
    n_convs = check_int(n_convs, "n_convs", minimum=0)
    inp = keras.Input(shape=tuple(input_shape), name="roi_features")
    x = inp
    for i in range(n_convs):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                name=f"mask_conv{i + 1}")(x)
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, activation="relu", name="mask_up")(x)
    out = keras.layers.Conv2D(num_classes, 1, name="mask_logits")(x)
    return keras.Model(inp, out, name="mask_head")


def pixel_mean_iou(y_true, y_pred, num_classes):
    """Mean over classes of the per-pixel IoU :math:`\\frac{TP_c}{TP_c + FP_c + FN_c}`.

    Classes absent from both the truth and the prediction are left out of the mean (as
    ``keras.metrics.MeanIoU``, which this equals). Computed from one confusion matrix
    (``bincount``).

    Parameters
    ----------
    y_true, y_pred : int arrays of the same shape (class per pixel)
    num_classes : int

    Returns
    -------
    float

    Examples
    --------
    Class 0: 1 pixel right, 1 missed, IoU 1/2; class 1: 2 right, 1 false alarm, IoU 2/3;
    mean 7/12. A third class that appears nowhere is left out:

    >>> y_true = np.array([[0, 0, 1, 1]])
    >>> y_pred = np.array([[0, 1, 1, 1]])
    >>> round(pixel_mean_iou(y_true, y_pred, 2), 6)
    0.583333
    >>> round(pixel_mean_iou(y_true, y_pred, 3), 6)
    0.583333
    """
    t = np.asarray(to_numpy(y_true))
    p = np.asarray(to_numpy(y_pred))
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    if t.shape != p.shape:
        raise ValueError(f"`y_true` and `y_pred` must have the same shape; got {t.shape} and "
                         f"{p.shape}. Take the argmax of logits first.")
    if t.size == 0:
        raise ValueError("`y_true` is empty.")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
            raise TypeError(f"`{name}` must hold integer class ids; got dtype {a.dtype}.")
        if a.min() < 0 or a.max() >= num_classes:
            raise ValueError(f"`{name}` must hold classes in [0, {num_classes - 1}]; got values "
                             f"{a.min()}..{a.max()}.")
    cm = np.bincount(t.reshape(-1).astype(np.int64) * num_classes + p.reshape(-1).astype(np.int64),
                     minlength=num_classes ** 2).reshape(num_classes, num_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(0) + cm.sum(1) - tp
    present = denom > 0
    return float(np.mean(tp[present] / denom[present]))
