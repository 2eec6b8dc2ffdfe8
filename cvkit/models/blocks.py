"""Reusable residual building blocks (Keras functional builders).

Both blocks learn a residual :math:`F(x)` added to a shortcut:

.. math:: y = \\mathrm{ReLU}\\big(F(x) + P(x)\\big)

where :math:`P` is the identity, or a 1x1 convolution + BatchNorm ("projection") when the block
changes the number of channels or the resolution.

* :func:`residual_block`: the basic block, :math:`F` = 3x3 conv - BN - ReLU - 3x3 conv - BN
  (ResNet-18/34).
* :class:`InferenceOnly`: a layer that runs a wrapped (frozen) model in inference mode whatever
  the caller's ``training`` flag, for decoders trained on a fixed classifier (F-CAM, Perception
  Visualization).
* :class:`ConvBatchNorm`: a convolution (no bias) and a batch norm that train as the two Keras
  layers and run, at inference, as one convolution with the norm folded into its kernel and bias.
* :func:`num_replicas`: how many replicas of a ``tf.distribute`` strategy share a training step
  (1 without one), to divide a custom ``train_step``'s loss by.
* :func:`bottleneck_block`: :math:`F` = 1x1 conv (reduce) - BN - ReLU - 3x3 conv - BN - ReLU -
  1x1 conv (expand to ``expansion * filters``) - BN (ResNet-50 and deeper): the 1x1 layers cut the
  cost of the 3x3 convolution by working on fewer channels.

Each function takes a Keras tensor and returns one, so blocks chain inside a functional model.
Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import keras
from keras import layers

from .._validate import check_float, check_int

__all__ = ["residual_block", "bottleneck_block", "InferenceOnly", "ConvBatchNorm",
           "num_replicas"]


def _common(x, filters, stride, name):
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) != 4:
        raise ValueError(f"`x` must be a 4-D Keras tensor (N, H, W, C); got "
                         f"{type(x).__name__} with shape {shape}.")
    filters = check_int(filters, "filters", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"`name` must be a str or None; got {type(name).__name__}.")
    return filters, stride


def _n(name, suffix):
    return None if name is None else f"{name}_{suffix}"


def _shortcut(x, out_channels, stride, projection, use_bias, eps, name):
    if projection is None:
        projection = stride != 1 or x.shape[-1] != out_channels
    if not projection:
        if stride != 1 or x.shape[-1] != out_channels:
            raise ValueError(f"`projection=False` needs an identity shortcut, but the block maps "
                             f"{x.shape[-1]} channels to {out_channels} with stride {stride}; use "
                             "projection=None or True.")
        return x
    s = layers.Conv2D(out_channels, 1, strides=stride, use_bias=use_bias, name=_n(name, "0_conv"))(x)
    return layers.BatchNormalization(epsilon=eps, name=_n(name, "0_bn"))(s)


def residual_block(x, filters, stride=1, projection=None, use_bias=False, bn_epsilon=1e-3,
                   name=None):
    """Basic residual block: two 3x3 convolutions and a shortcut.

    .. math:: y = \\mathrm{ReLU}\\big(\\mathrm{BN}(W_2 * \\mathrm{ReLU}(\\mathrm{BN}(W_1 * x)))
              + P(x)\\big)

    Parameters
    ----------
    x : Keras tensor (N, H, W, C)
    filters : int
        Output channels.
    stride : int
        Stride of the first convolution (2 halves the resolution).
    projection : None or bool
        ``None``: a 1x1 projection shortcut only when the shape changes; ``True``: always;
        ``False``: identity (the shape must not change).
    use_bias : bool
        Biases in the convolutions (redundant before BatchNorm).
    bn_epsilon : float
    name : str, optional
        Prefix of the layer names (``{name}_1_conv``, ``{name}_1_bn``, ..., ``{name}_out``).

    Returns
    -------
    Keras tensor (N, ceil(H / stride), ceil(W / stride), filters)

    Examples
    --------
    4 to 8 channels with stride 2: a projection shortcut (``b1_0_conv``, ``b1_0_bn``) is added.
    Parameters: :math:`3^2 \\cdot 4 \\cdot 8 + 3^2 \\cdot 8 \\cdot 8 + 4 \\cdot 8` for the
    convolutions, :math:`3 \\cdot 4 \\cdot 8` for the three BatchNorms (4 numbers per channel):

    >>> import keras
    >>> x = keras.Input((8, 8, 4))
    >>> y = residual_block(x, 8, stride=2, name='b1')
    >>> y.shape
    (None, 4, 4, 8)
    >>> model = keras.Model(x, y)
    >>> sorted(la.name for la in model.layers if '_0_' in la.name)
    ['b1_0_bn', 'b1_0_conv']
    >>> model.count_params()
    992

    Same shape in and out: an identity shortcut, no projection layer:

    >>> y = residual_block(x, 4, name='b2')
    >>> y.shape, [la.name for la in keras.Model(x, y).layers if '_0_' in la.name]
    ((None, 8, 8, 4), [])
    """
    filters, stride = _common(x, filters, stride, name)
    eps = check_float(bn_epsilon, "bn_epsilon", minimum=0.0, strict_min=True)
    shortcut = _shortcut(x, filters, stride, projection, use_bias, eps, name)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=use_bias,
                      name=_n(name, "1_conv"))(x)
    y = layers.BatchNormalization(epsilon=eps, name=_n(name, "1_bn"))(y)
    y = layers.Activation("relu", name=_n(name, "1_relu"))(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=_n(name, "2_conv"))(y)
    y = layers.BatchNormalization(epsilon=eps, name=_n(name, "2_bn"))(y)
    y = layers.Add(name=_n(name, "add"))([shortcut, y])
    return layers.Activation("relu", name=_n(name, "out"))(y)


def bottleneck_block(x, filters, stride=1, expansion=4, projection=None, use_bias=False,
                     bn_epsilon=1e-3, name=None):
    """Bottleneck residual block: 1x1 (reduce) - 3x3 - 1x1 (expand) and a shortcut.

    .. math::
        F(x) = \\mathrm{BN}\\Big(W_3 * \\mathrm{ReLU}\\big(\\mathrm{BN}(W_2 *
        \\mathrm{ReLU}(\\mathrm{BN}(W_1 * x)))\\big)\\Big)

    with :math:`W_1` 1x1 to ``filters`` channels (stride ``stride``, as in Keras' ResNet50),
    :math:`W_2` 3x3 and :math:`W_3` 1x1 to ``expansion * filters`` channels. Layer names follow
    ``keras.applications.ResNet50`` (``{name}_1_conv`` ... ``{name}_out``), so with
    ``use_bias=True, bn_epsilon=1.001e-5`` a block takes the weights of a ResNet50 block
    one-to-one.

    Parameters
    ----------
    x : Keras tensor (N, H, W, C)
    filters : int
        Channels of the inner 1x1 and 3x3 convolutions.
    stride : int
    expansion : int
        Output channels = ``expansion * filters`` (4 in ResNet).
    projection, use_bias, bn_epsilon, name
        As in :func:`residual_block`.

    Returns
    -------
    Keras tensor (N, ceil(H / stride), ceil(W / stride), expansion * filters)

    Examples
    --------
    8 inner channels expanded 4 times to 32:

    >>> import keras
    >>> x = keras.Input((8, 8, 4))
    >>> y = bottleneck_block(x, 8, stride=2, name='conv2_block1')
    >>> y.shape
    (None, 4, 4, 32)
    >>> tuple(keras.Model(x, y).get_layer('conv2_block1_3_conv').kernel.shape)   # 1x1, 8 -> 32
    (1, 1, 8, 32)
    """
    filters, stride = _common(x, filters, stride, name)
    expansion = check_int(expansion, "expansion", minimum=1)
    eps = check_float(bn_epsilon, "bn_epsilon", minimum=0.0, strict_min=True)
    out_channels = expansion * filters
    shortcut = _shortcut(x, out_channels, stride, projection, use_bias, eps, name)
    y = layers.Conv2D(filters, 1, strides=stride, use_bias=use_bias, name=_n(name, "1_conv"))(x)
    y = layers.BatchNormalization(epsilon=eps, name=_n(name, "1_bn"))(y)
    y = layers.Activation("relu", name=_n(name, "1_relu"))(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=_n(name, "2_conv"))(y)
    y = layers.BatchNormalization(epsilon=eps, name=_n(name, "2_bn"))(y)
    y = layers.Activation("relu", name=_n(name, "2_relu"))(y)
    y = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=_n(name, "3_conv"))(y)
    y = layers.BatchNormalization(epsilon=eps, name=_n(name, "3_bn"))(y)
    y = layers.Add(name=_n(name, "add"))([shortcut, y])
    return layers.Activation("relu", name=_n(name, "out"))(y)


@keras.saving.register_keras_serializable(package="cvkit")
class InferenceOnly(keras.layers.Layer):
    """Runs the wrapped model in inference mode whatever the caller's ``training`` flag: the frozen
    classifier's batch norms keep their statistics while the decoder trains.

    Examples
    --------
    >>> import numpy as np
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.99)])
    >>> float(InferenceOnly(inner)(np.ones((1, 2), np.float32), training=True).numpy().sum())
    2.0
    """

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x, training=None):
        return self.inner(x, training=False)

    def compute_output_spec(self, x, training=None):
        return self.inner.compute_output_spec(x)

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


def num_replicas():
    """The number of replicas that run the current step in sync (1 outside a strategy).

    A custom ``train_step`` divides its loss by it, so that the gradients summed over the
    replicas of a ``tf.distribute`` strategy equal one device's gradient of the whole batch.

    Examples
    --------
    >>> num_replicas()
    1
    >>> import tensorflow as tf
    >>> with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
    ...     num_replicas()
    1
    """
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is not None:
        return ctx.num_replicas_in_sync
    return tf.distribute.get_strategy().num_replicas_in_sync


@keras.saving.register_keras_serializable(package="cvkit")
class ConvBatchNorm(keras.layers.Layer):
    r"""``Conv2D`` (no bias, stride 1) followed by ``BatchNormalization``, folded at inference.

    In training (``training=True`` and the layer trainable) it *is* the two Keras layers: the
    convolution, then the batch's statistics, with the moving averages updated. Otherwise the norm
    is an affine map per channel and goes into the convolution:

    .. math:: y = x * (W s) + (\beta - \mu s), \qquad s = \gamma / \sqrt{\sigma^2 + \epsilon}

    with the moving mean :math:`\mu` and variance :math:`\sigma^2`: one convolution with a bias
    instead of a convolution and a normalisation pass over its whole output (on a CPU the passes
    cost more than the arithmetic in small decoders; ``benchmarks/bench_fcam.py``).

    Parameters
    ----------
    filters, kernel_size, padding
        As ``keras.layers.Conv2D``.
    momentum, epsilon
        As ``keras.layers.BatchNormalization``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = ConvBatchNorm(4, 3)
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    >>> _ = layer(x, training=True)                      # batch statistics, moving averages move
    >>> ref = layer.bn(layer.conv(x), training=False)    # the two layers at inference
    >>> bool(np.allclose(layer(x).numpy(), ref.numpy(), atol=1e-5))
    True
    """

    def __init__(self, filters, kernel_size, padding="same", momentum=0.99, epsilon=1e-3,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", minimum=1)
        self.kernel_size = kernel_size
        self.padding = padding
        self.momentum = check_float(momentum, "momentum", 0.0, 1.0)
        self.epsilon = check_float(epsilon, "epsilon", 0.0, strict_min=True)
        self.conv = layers.Conv2D(filters, kernel_size, padding=padding, use_bias=False,
                                  name="conv")
        self.bn = layers.BatchNormalization(momentum=momentum, epsilon=epsilon, name="bn")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=None):
        if training and self.trainable:
            return self.bn(self.conv(x), training=True)
        import tensorflow as tf

        bn = self.bn
        s = bn.gamma * tf.math.rsqrt(bn.moving_variance + bn.epsilon)
        kernel = self.conv.kernel * s
        bias = bn.beta - bn.moving_mean * s
        y = tf.nn.conv2d(x, tf.cast(kernel, x.dtype), 1, self.padding.upper())
        return tf.nn.bias_add(y, tf.cast(bias, x.dtype))

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "padding": self.padding, "momentum": self.momentum, "epsilon": self.epsilon}
