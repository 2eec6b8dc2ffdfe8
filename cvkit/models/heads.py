"""Model builders: the two-headed localizer, the CAM classifier and the keypoint regressor.

All three share the same recipe from the course notes: a convolutional backbone
(:func:`cvkit.models.backbone`), a global pooling layer, then small dense heads.

* :func:`localizer`: a ``classifier`` head (softmax over the classes, or one sigmoid for the binary
  "quick and dirty" variant) and a ``localizer`` head (4 box numbers), trained together with the
  multitask loss of :class:`cvkit.models.LocalizationModel`.
* :func:`cam_classifier`: backbone + global average (or max) pooling + ONE dense layer: the
  architecture Class Activation Maps need, :math:`M_c(x, y) = \\sum_k w_k^c f_k(x, y)`.
* :func:`keypoint_regressor`: the pose-estimation head: K joints as (x, y) normalised to the person
  box, trained with an L2 loss.

Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .._validate import as_array, check_bool, check_choice, check_float, check_int
from .backbones import backbone as _backbone
from .backbones import check_image_shape
from .multitask import LocalizationModel

__all__ = ["localizer", "cam_classifier", "small_cnn", "keypoint_regressor", "normalize_keypoints",
           "denormalize_keypoints", "CAM_DENSE", "CAM_POOL"]

#: name of the dense layer of :func:`cam_classifier` (its kernel holds the CAM weights w_k^c).
CAM_DENSE = "predictions"
#: name of the pooling layer of :func:`cam_classifier` ('gap' for average, 'gmp' for max).
CAM_POOL = {"avg": "gap", "max": "gmp"}


def _features(backbone, input_shape, alpha, weights, trainable, nested, output_stride=32,
              output_layer=None):
    """A backbone by name, or the caller's own feature extractor (a keras.Model with 4-D output)."""
    if isinstance(backbone, keras.Model):
        shape = backbone.outputs[0].shape if len(backbone.outputs) == 1 else None
        if shape is None or len(shape) != 4 or len(backbone.inputs) != 1:
            raise ValueError("`backbone` given as a keras.Model must have one input and one 4-D "
                             f"output (N, h, w, C); got outputs {[o.shape for o in backbone.outputs]}.")
        if output_stride != 32 or output_layer is not None:
            raise ValueError("`output_stride` and `output_layer` apply to a backbone given by "
                             f"name; got a keras.Model with output_stride={output_stride!r}, "
                             f"output_layer={output_layer!r}. Dilate your own "
                             "model with cvkit.models.dilate(model, output_stride).")
        return backbone
    return _backbone(backbone, input_shape=input_shape, alpha=alpha, weights=weights,
                     trainable=trainable, nested=nested, output_stride=output_stride,
                     output_layer=output_layer)


def _check_dropout(dropout):
    return check_float(dropout, "dropout", minimum=0.0, maximum=0.95)


def _pool(x, pooling):
    check_choice(pooling, "pooling", ("avg", "max"))
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="gap")(x)
    return layers.GlobalMaxPooling2D(name="gmp")(x)


def localizer(num_classes, backbone="mobilenetv2", input_shape=(224, 224, 3), alpha=1.0,
              weights=None, dropout=0.0, box_activation="sigmoid", trainable=True, nested=False,
              pooling="avg", box_features="pooled", box_hidden=0, output_stride=32,
              name="object_localization_model"):
    """Two-headed localization model: class probabilities and one box per image.

    .. math::
        \\mathcal{L} = \\mathcal{L}_{cls} + \\alpha\\, \\mathcal{L}_{box}

    Parameters
    ----------
    num_classes : int >= 1
        ``1`` builds the binary "quick and dirty" model of the notes (one sigmoid unit: object of
        class 1 vs class 0); ``>= 2`` a softmax over the classes.
    backbone : str or keras.Model
        A name for :func:`cvkit.models.backbone`, or your own feature extractor (a model with one
        4-D output, e.g. built from :func:`cvkit.models.residual_block`); then ``input_shape``,
        ``alpha``, ``weights``, ``trainable`` and ``nested`` are not used.
    input_shape, alpha, weights, trainable, nested
        See :func:`cvkit.models.backbone`.
    dropout : float
        Dropout rate after the global pooling (the notes use 0.5 in the binary model).
    box_activation : {'sigmoid', 'linear'}
        ``'sigmoid'`` keeps the predicted normalised box inside the image (boxes that stick out of
        the image cannot be represented) and eases training from scratch; ``'linear'`` is
        unbounded (the notes' multiclass model) and can represent boxes partly outside the image.
    pooling : {'avg', 'max'}
        Global pooling of the shared features (GAP in the course).
    box_features : {'pooled', 'spatial'}
        What the box head reads. ``'pooled'``: the globally pooled vector, as in the course.
        Global pooling makes the features (almost) translation invariant: *where* the object is
        survives only through padding effects, which a network trained from scratch for a few
        minutes has not learnt to use. ``'spatial'``: the feature map itself, reduced to 32
        channels by a 1x1 convolution (``'box_reduce'``) and flattened, so that position is kept;
        this trains boxes much faster.
    box_hidden : int >= 0
        Units of a hidden ReLU ``Dense`` layer (``'box_hidden'``) before the 4 box outputs; 0
        (default) maps the features linearly to the box, as in the course. The box corners are a
        non-linear function of where the object's features fire, so a hidden layer lets the head
        place them more precisely (``benchmarks/bench_localization.py`` measures it).
    output_stride : {32, 16, 8}
        See :func:`cvkit.models.backbone` (finer feature maps by dilation).
    name : str

    Returns
    -------
    LocalizationModel
        Outputs ``[probabilities (N, C), boxes (N, 4)]`` from the layers named ``'classifier'`` and
        ``'localizer'``; boxes are normalised ``xyxy``. Compile it with
        ``model.compile(optimizer, box_loss='l2', box_weight=alpha)`` and train it with
        ``model.fit(images, {'classifier': labels, 'localizer': boxes})``.

    Examples
    --------
    >>> model = localizer(4, input_shape=(64, 64, 3), alpha=0.35)
    >>> [o.shape for o in model.outputs]
    [(None, 4), (None, 4)]
    """
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    dropout = _check_dropout(dropout)
    check_choice(box_activation, "box_activation", ("sigmoid", "linear"))
    check_choice(box_features, "box_features", ("pooled", "spatial"))
    box_hidden = check_int(box_hidden, "box_hidden", minimum=0)
    bb = _features(backbone, input_shape, alpha, weights, trainable, nested, output_stride)
    x = _pool(bb.outputs[0], pooling)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    # Zero-initialised heads: the first predictions are uniform class probabilities and a centred
    # half-size box. A random kernel on the large, unnormalised features of a backbone trained
    # from scratch saturates the sigmoid of the box head, whose gradients then vanish.
    cls = layers.Dense(num_classes, activation="sigmoid" if num_classes == 1 else "softmax",
                       kernel_initializer="zeros", name="classifier")(x)
    if box_features == "spatial":
        s = layers.Conv2D(32, 1, activation="relu", name="box_reduce")(bb.outputs[0])
        s = layers.Flatten(name="box_flatten")(s)
        if dropout > 0:
            s = layers.Dropout(dropout, name="box_dropout")(s)
    else:
        s = x
    if box_hidden:
        s = layers.Dense(box_hidden, activation="relu", name="box_hidden")(s)
    start = np.array([0.25, 0.25, 0.75, 0.75])
    bias = np.log(start / (1 - start)) if box_activation == "sigmoid" else start
    box = layers.Dense(4, activation=box_activation, kernel_initializer="zeros",
                       bias_initializer=keras.initializers.Constant(bias.tolist()),
                       name="localizer")(s)
    return LocalizationModel(bb.inputs[0], [cls, box], name=name)


def cam_classifier(num_classes, backbone="mobilenetv2", input_shape=(224, 224, 3), alpha=1.0,
                   pooling="avg", weights=None, nested=False, trainable=True, dropout=0.0,
                   output_stride=32, output_layer=None, head_conv=0, name="cam_classifier"):
    """Backbone + global pooling + one dense layer: the classifier that CAM needs.

    The class score is linear in the pooled features, so the class activation map is

    .. math::
        M_c(x, y) = \\sum_k w_k^c f_k(x, y), \\qquad
        S_c = \\sum_k w_k^c \\frac{1}{Z}\\sum_{x,y} f_k(x, y) = \\frac{1}{Z}\\sum_{x,y} M_c(x, y)

    with :math:`w_k^c` the kernel of the dense layer (named :data:`CAM_DENSE`, ``'predictions'``)
    and :math:`f_k` the last feature maps (layer ``'out_relu'`` of a flat MobileNetV2). With
    ``pooling='max'`` (GMP) the score only sees each map's maximum, so the CAM highlights the most
    discriminative part rather than the whole object, the comparison the notes make.

    Parameters
    ----------
    num_classes : int >= 1
        Softmax over the classes (one sigmoid unit when 1).
    pooling : {'avg', 'max'}
        Global average pooling (layer ``'gap'``) or global max pooling (layer ``'gmp'``).
    backbone, input_shape, alpha, weights, nested, trainable
        See :func:`cvkit.models.backbone`.
    dropout : float
        Optional dropout between pooling and the dense layer (identity at inference: CAM is
        unchanged).
    output_stride : {32, 16, 8}
        Side of the input over the side of the CAM: 8 gives 16 x 16 maps at 128 px instead of
        4 x 4 (dilated later stages, :func:`cvkit.models.backbone`).
    output_layer : str, optional
        Put GAP earlier: cut the backbone after this layer (e.g. ``'block_5_add'``, stride 8).
    head_conv : int >= 0
        Channels of a 3x3 convolution + BN + ReLU (``'cam_conv'``, ``'cam_bn'``, ``'cam_relu'``)
        between the backbone and GAP: the CAM's feature maps :math:`f_k` when a cut backbone's
        own channels are too few; 0 (default) adds nothing.

    Returns
    -------
    keras.Model
        Probabilities (N, C).

    Examples
    --------
    A small ResNet backbone at 64 px: its 2 x 2 x 32 last map feeds GAP and the dense layer.
    Averaging the class activation maps :math:`M_c = \\sum_k w_k^c f_k` over the map and adding the
    bias gives the pre-softmax scores, exactly:

    >>> keras.utils.set_random_seed(0)
    >>> model = cam_classifier(3, backbone='miniresnet', input_shape=(64, 64, 3), alpha=0.25)
    >>> model.output.shape, tuple(model.get_layer(CAM_DENSE).kernel.shape)
    ((None, 3), (32, 3))
    >>> x = np.random.default_rng(0).random((1, 64, 64, 3)).astype('float32')
    >>> f = np.asarray(keras.Model(model.input, model.get_layer('block4_out').output)(x))
    >>> w, b = model.get_layer(CAM_DENSE).get_weights()
    >>> cam = f[0] @ w                        # M_c(x, y), shape (2, 2, 3)
    >>> bool(np.allclose(keras.ops.softmax(cam.mean(axis=(0, 1)) + b), model(x)[0], atol=1e-5))
    True
    """
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    dropout = _check_dropout(dropout)
    check_choice(pooling, "pooling", ("avg", "max"))
    head_conv = check_int(head_conv, "head_conv", minimum=0)
    bb = _features(backbone, input_shape, alpha, weights, trainable, nested, output_stride,
                   output_layer)
    x = bb.outputs[0]
    if head_conv:
        x = layers.Conv2D(head_conv, 3, padding="same", use_bias=False, name="cam_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name="cam_bn")(x)
        x = layers.ReLU(name="cam_relu")(x)
    x = _pool(x, pooling)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(num_classes, activation="sigmoid" if num_classes == 1 else "softmax",
                       name=CAM_DENSE)(x)
    return keras.Model(bb.inputs[0], out, name=name)


def small_cnn(num_classes=4, input_shape=(64, 64, 3), batchnorm=True, bn_momentum=0.9,
              widths=(16, 32, 64, 64), name="small_cnn"):
    """The small CNN of "looking inside CNNs": four conv blocks and a softmax head.

    Blocks ``conv{i}`` (5x5 then 3x3, 'same', no bias when followed by BN) -> ``bn{i}`` ->
    ``relu{i}`` -> ``pool{i}`` (2x2 max-pool, not after the last block), then GAP (``'gap'``) and
    ``Dense`` (``'probs'``). Inputs in [0, 1] are mapped to [-1, 1] by the first layer.

    Parameters
    ----------
    num_classes : int >= 2
    input_shape : tuple (H, W, 3)
    batchnorm : bool
        ``False`` builds the same network without batch normalization (convolutions with bias):
        the twin of the course's "advantages of batch norm" comparison.
    bn_momentum : float in (0, 1)
        Momentum of the BN running averages. 0.9 (Keras' default 0.99) lets them settle within
        a short CPU run; with 0.99 and a few hundred steps the model is at chance in inference
        mode while it learns in training mode, the train/inference gap of the course notes.
    widths : 4 ints
        Channels of the four blocks.

    Returns
    -------
    keras.Model
        Probabilities (N, num_classes).

    Examples
    --------
    >>> small_cnn(4).output.shape
    (None, 4)
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    batchnorm = check_bool(batchnorm, "batchnorm")
    input_shape = check_image_shape(input_shape, allow_none=True)
    bn_momentum = check_float(bn_momentum, "bn_momentum", minimum=0.0, maximum=1.0)
    widths = tuple(check_int(c, "widths", minimum=1) for c in widths)
    if len(widths) != 4:
        raise ValueError(f"`widths` must hold 4 channel counts; got {widths}.")
    inp = keras.Input(shape=tuple(input_shape))
    x = layers.Rescaling(2.0, -1.0, name="scale")(inp)
    for i, (ch, k) in enumerate(zip(widths, (5, 3, 3, 3)), start=1):
        x = layers.Conv2D(ch, k, padding="same", use_bias=not batchnorm, name=f"conv{i}")(x)
        if batchnorm:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < 4:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=name)


def keypoint_regressor(num_keypoints, backbone="mobilenetv2", input_shape=(224, 224, 3),
                       alpha=1.0, weights=None, dropout=0.0, activation="sigmoid",
                       trainable=True, nested=False, name="keypoint_regressor"):
    """Pose-estimation model: regress K joints (x, y) normalised to the person box.

    The whole image goes in (full context); out come :math:`2K` numbers reshaped to (K, 2), trained
    with the L2 loss :func:`cvkit.models.losses.keypoint_l2_loss`

    .. math:: \\mathcal{L} = \\frac{1}{K}\\sum_{i=1}^{K} \\| y_i - \\hat y_i \\|_2^2 .

    Parameters
    ----------
    num_keypoints : int >= 1
    activation : {'sigmoid', 'linear'}
        ``'sigmoid'`` keeps joints inside the box (coordinates in [0, 1]).
    backbone, input_shape, alpha, weights, trainable, nested, dropout
        As in :func:`localizer`.

    Returns
    -------
    keras.Model
        Output (N, K, 2) from the layer named ``'keypoints'``; compile it with
        ``loss=cvkit.models.keypoint_l2_loss``.

    Examples
    --------
    The head starts at zero, so before training every joint sits at the box centre (0.5, 0.5):

    >>> model = keypoint_regressor(4, backbone='miniresnet', input_shape=(32, 32, 3), alpha=0.25)
    >>> model.output.shape
    (None, 4, 2)
    >>> keras.ops.convert_to_numpy(model(np.zeros((1, 32, 32, 3))))[0]
    array([[0.5, 0.5],
           [0.5, 0.5],
           [0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """
    num_keypoints = check_int(num_keypoints, "num_keypoints", minimum=1)
    dropout = _check_dropout(dropout)
    check_choice(activation, "activation", ("sigmoid", "linear"))
    bb = _features(backbone, input_shape, alpha, weights, trainable, nested)
    x = layers.GlobalAveragePooling2D(name="gap")(bb.outputs[0])
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    init = "zeros" if activation == "sigmoid" else keras.initializers.Constant(0.5)
    x = layers.Dense(2 * num_keypoints, activation=activation, kernel_initializer="zeros",
                     bias_initializer=init, name="keypoints_dense")(x)
    out = layers.Reshape((num_keypoints, 2), name="keypoints")(x)
    return keras.Model(bb.inputs[0], out, name=name)


def _kp_boxes(keypoints, boxes):
    from ..boxes import as_boxes

    kp = as_array(keypoints, "keypoints", kind="float", dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"`keypoints` must have shape (N, K, 2) of (x, y); got {kp.shape}.")
    b = as_boxes(boxes, "boxes").astype(np.float64)
    if b.shape != (kp.shape[0], 4):
        raise ValueError(f"`boxes` must have shape ({kp.shape[0]}, 4), one box per image of "
                         f"`keypoints`; got {b.shape}.")
    size = b[:, 2:] - b[:, :2]
    if np.any(size <= 0):
        raise ValueError("`boxes` must have positive width and height to normalise keypoints.")
    return kp, b[:, None, :2], size[:, None, :]


def normalize_keypoints(keypoints, boxes):
    """Express keypoints relative to their box: :math:`u = (x - x_{min}) / w`, likewise v.

    ``keypoints`` (N, K, 2) and ``boxes`` (N, 4) ``xyxy`` in the same units. Returns float32.

    Parameters
    ----------
    keypoints : array-like (N, K, 2)
        (x, y) of each joint.
    boxes : array-like (N, 4)
        One ``xyxy`` box per image, with positive width and height.

    Returns
    -------
    np.ndarray float32 (N, K, 2)
        (u, v), in [0, 1] inside the box.

    Examples
    --------
    The box (10, 20)-(30, 60) is 20 wide and 40 high:

    >>> normalize_keypoints([[[15, 30], [30, 60]]], [[10, 20, 30, 60]])
    array([[[0.25, 0.25],
            [1.  , 1.  ]]], dtype=float32)
    """
    kp, origin, size = _kp_boxes(keypoints, boxes)
    return ((kp - origin) / size).astype(np.float32)


def denormalize_keypoints(keypoints, boxes):
    """Inverse of :func:`normalize_keypoints`: :math:`x = x_{min} + u\\, w`.

    Parameters
    ----------
    keypoints : array-like (N, K, 2)
        (u, v) relative to the box.
    boxes : array-like (N, 4)
        One ``xyxy`` box per image.

    Returns
    -------
    np.ndarray float32 (N, K, 2)
        (x, y) in the boxes' units.

    Examples
    --------
    >>> denormalize_keypoints([[[0.25, 0.25], [1.0, 1.0]]], [[10, 20, 30, 60]])
    array([[[15., 30.],
            [30., 60.]]], dtype=float32)
    """
    kp, origin, size = _kp_boxes(keypoints, boxes)
    return (origin + kp * size).astype(np.float32)
