r"""Batch normalization from scratch, and folding a trained batch norm into the convolution
before it.

For a mini-batch :math:`B = \{x_1, \dots, x_m\}` of one channel's activations (all images and all
positions of the batch):

.. math::
    \mu_B = \frac{1}{m}\sum_i x_i, \qquad \sigma_B^2 = \frac{1}{m}\sum_i (x_i - \mu_B)^2, \qquad
    \hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad
    y_i = \gamma \hat x_i + \beta

In training the layer uses the batch statistics and updates running averages
:math:`\mu \leftarrow \rho\,\mu + (1-\rho)\,\mu_B` and :math:`\sigma^2 \leftarrow \rho\,\sigma^2 +
(1-\rho)\,\sigma_B^2` (Keras: momentum :math:`\rho = 0.99`, the biased batch variance); in inference
it uses the running averages, which makes it a per-channel affine map that can be merged into the
preceding convolution. The notebook ``notebooks/08_inside_cnns.ipynb`` shows both.
"""
from __future__ import annotations

import numpy as np

from .. import _graph
from .._validate import as_array, check_bool, check_float, check_int, check_seed

__all__ = [
    "batchnorm_forward",
    "BatchNorm",
    "fold_batchnorm",
    "folded_layer",
    "fold_batchnorm_model",
    "small_batch_noise",
]

_FOLDABLE = ("Conv2D", "DepthwiseConv2D", "Dense")


def _as_float(x, name):
    return as_array(x, name, dtype=np.float64)


def _channel_param(v, c, name, default):
    a = np.full(c, default, np.float64) if v is None else _as_float(v, name)
    if a.ndim == 0:
        a = np.full(c, float(a))
    if a.shape != (c,):
        raise ValueError(f"`{name}` must have one value per channel, shape ({c},); got {a.shape}.")
    return a


def batchnorm_forward(x, gamma=None, beta=None, moving_mean=None, moving_var=None, training=True,
                      momentum=0.99, epsilon=1e-3):
    r"""Batch-norm forward over the last axis (channels), written out from the formula.

    Parameters
    ----------
    x : array (N, ..., C)
        Activations; statistics are taken over every axis but the last.
    gamma, beta : array (C,), optional
        Scale and shift (default 1 and 0).
    moving_mean, moving_var : array (C,), optional
        Running averages (default 0 and 1, as a fresh Keras layer).
    training : bool
        ``True``: normalise with the batch mean and (biased) variance and update the running
        averages; ``False``: normalise with the running averages and leave them unchanged.
    momentum : float
        :math:`\rho` in [0, 1].
    epsilon : float
        Added to the variance (> 0; Keras' default is 1e-3).

    Returns
    -------
    y : np.ndarray
        Same shape as ``x`` (float64).
    moving_mean, moving_var : np.ndarray
        The running averages after this call.

    Examples
    --------
    >>> x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 13.0]])
    >>> y, mm, mv = batchnorm_forward(x, epsilon=1e-8, momentum=0.5)
    >>> np.round(y[:, 0], 4), mm          # column 0: mean 3, variance 8/3
    (array([-1.2247,  0.    ,  1.2247]), array([1.5, 5.5]))
    """
    x = _as_float(x, "x")
    if x.ndim < 2:
        raise ValueError(f"`x` must be (N, ..., C) with at least 2 axes; got shape {x.shape}.")
    if x.shape[0] < 1:
        raise ValueError("`x` is an empty batch.")
    training = check_bool(training, "training")
    momentum = check_float(momentum, "momentum", 0.0, 1.0)
    epsilon = check_float(epsilon, "epsilon", 0.0, strict_min=True)
    c = x.shape[-1]
    gamma = _channel_param(gamma, c, "gamma", 1.0)
    beta = _channel_param(beta, c, "beta", 0.0)
    mm = _channel_param(moving_mean, c, "moving_mean", 0.0)
    mv = _channel_param(moving_var, c, "moving_var", 1.0)
    if np.any(mv < 0):
        raise ValueError("`moving_var` must be >= 0.")
    axes = tuple(range(x.ndim - 1))
    if training:
        mu = x.mean(axis=axes)
        var = ((x - mu) ** 2).mean(axis=axes)
        new_mm = momentum * mm + (1 - momentum) * mu
        new_mv = momentum * mv + (1 - momentum) * var
    else:
        mu, var, new_mm, new_mv = mm, mv, mm, mv
    x_hat = (x - mu) / np.sqrt(var + epsilon)
    return gamma * x_hat + beta, new_mm, new_mv


class BatchNorm:
    """A from-scratch batch-norm layer with state: ``bn(x, training)`` as in
    :func:`batchnorm_forward`, keeping its running averages between calls.

    ``BatchNorm.from_keras(layer)`` copies a ``keras.layers.BatchNormalization`` (axis -1, no
    renorm); ``weights()`` returns ``[gamma, beta, moving_mean, moving_var]`` in Keras' order.

    Examples
    --------
    >>> bn = BatchNorm(2, momentum=0.5)
    >>> y = bn(np.array([[0.0, 1.0], [2.0, 3.0]]), training=True)
    >>> y.mean(0), bn.moving_mean
    (array([0., 0.]), array([0.5, 1. ]))
    """

    def __init__(self, channels, momentum=0.99, epsilon=1e-3):
        self.channels = check_int(channels, "channels", minimum=1)
        self.momentum = check_float(momentum, "momentum", 0.0, 1.0)
        self.epsilon = check_float(epsilon, "epsilon", 0.0, strict_min=True)
        self.gamma = np.ones(self.channels)
        self.beta = np.zeros(self.channels)
        self.moving_mean = np.zeros(self.channels)
        self.moving_var = np.ones(self.channels)

    @classmethod
    def from_keras(cls, layer):
        import keras

        if not isinstance(layer, keras.layers.BatchNormalization):
            raise TypeError(f"`layer` must be a keras.layers.BatchNormalization; got "
                            f"{type(layer).__name__}.")
        if not layer.built:
            raise ValueError("`layer` is not built yet; call it once first.")
        _check_last_axis(layer, "layer")
        bn = cls(int(layer.moving_mean.shape[0]), layer.momentum, layer.epsilon)
        bn.gamma = np.asarray(layer.gamma, np.float64) if layer.scale else np.ones(bn.channels)
        bn.beta = np.asarray(layer.beta, np.float64) if layer.center else np.zeros(bn.channels)
        bn.moving_mean = np.asarray(layer.moving_mean, np.float64)
        bn.moving_var = np.asarray(layer.moving_variance, np.float64)
        return bn

    def __call__(self, x, training=False):
        y, self.moving_mean, self.moving_var = batchnorm_forward(
            x, self.gamma, self.beta, self.moving_mean, self.moving_var, training, self.momentum,
            self.epsilon)
        return y

    def weights(self):
        return [self.gamma, self.beta, self.moving_mean, self.moving_var]


def _check_last_axis(layer, name):
    ndim = getattr(layer.input_spec, "ndim", None) if layer.input_spec is not None else None
    if layer.axis != -1 and (ndim is None or layer.axis != ndim - 1):
        raise ValueError(f"`{name}` normalises axis {layer.axis}; only the last (channel) axis is "
                         "supported.")


def _bn_scale_shift(bn):
    """Per-channel (a, c) with BN_inference(z) = a z + c."""
    import keras

    if not isinstance(bn, keras.layers.BatchNormalization):
        raise TypeError(f"`bn` must be a keras.layers.BatchNormalization; got {type(bn).__name__}.")
    if not bn.built:
        raise ValueError("`bn` is not built; call the model once first.")
    _check_last_axis(bn, "bn")
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta, np.float64) if bn.center else 0.0
    a = gamma / np.sqrt(np.asarray(bn.moving_variance, np.float64) + bn.epsilon)
    c = beta - a * np.asarray(bn.moving_mean, np.float64)
    return a, c


def fold_batchnorm(conv, bn):
    r"""Kernel and bias of the convolution that equals ``bn(conv(x))`` in inference.

    With :math:`a = \gamma / \sqrt{\sigma^2 + \epsilon}` per output channel:

    .. math:: W' = W \cdot a, \qquad b' = a\,(b - \mu) + \beta

    Parameters
    ----------
    conv : keras.layers.Conv2D, DepthwiseConv2D or Dense
        Built, with a linear activation (a non-linearity between the two cannot be folded).
    bn : keras.layers.BatchNormalization
        Built, over the last axis.

    Returns
    -------
    (np.ndarray, np.ndarray)
        The folded kernel (same shape as ``conv``'s) and bias (one per output channel), float32.

    Examples
    --------
    >>> import keras
    >>> conv = keras.layers.Dense(2, kernel_initializer="ones")
    >>> bn = keras.layers.BatchNormalization()
    >>> _ = keras.Sequential([keras.Input((3,)), conv, bn])
    >>> _ = bn.moving_variance.assign(np.full(2, 4.0 - 1e-3, np.float32))   # sigma = 2
    >>> _ = bn.moving_mean.assign(np.ones(2, np.float32))
    >>> kernel, bias = fold_batchnorm(conv, bn)
    >>> kernel[0], bias
    (array([0.5, 0.5], dtype=float32), array([-0.5, -0.5], dtype=float32))
    """
    kind = type(conv).__name__
    if kind not in _FOLDABLE:
        raise TypeError(f"`conv` must be a Conv2D, DepthwiseConv2D or Dense layer; got {kind}.")
    if not conv.built:
        raise ValueError("`conv` is not built; call the model once first.")
    act = getattr(conv.activation, "__name__", "linear")
    if act != "linear":
        raise ValueError(f"`conv` {conv.name!r} applies {act!r} before the batch norm; only a "
                         "linear convolution can absorb it.")
    a, c = _bn_scale_shift(bn)
    k = np.asarray(conv.kernel, np.float64)
    b = np.asarray(conv.bias, np.float64) if conv.use_bias else 0.0
    n_out = k.shape[-2] * k.shape[-1] if kind == "DepthwiseConv2D" else k.shape[-1]
    if np.shape(a) != (n_out,):
        raise ValueError(f"`bn` has {np.shape(a)[0]} channels but `conv` {conv.name!r} gives "
                         f"{n_out}.")
    if kind == "DepthwiseConv2D":  # output channel = c * multiplier + m
        k2 = k * a.reshape(k.shape[-2], k.shape[-1])
    else:
        k2 = k * a
    b2 = a * (b - np.asarray(bn.moving_mean, np.float64)) + (np.asarray(bn.beta, np.float64)
                                                             if bn.center else 0.0)
    return k2.astype(np.float32), np.asarray(b2, np.float32) * np.ones(n_out, np.float32)


def folded_layer(conv, bn, name=None):
    """A new layer of ``conv``'s type (with a bias) whose weights are :func:`fold_batchnorm`'s, so
    that ``folded_layer(conv, bn)(x) == bn(conv(x), training=False)``.

    Examples
    --------
    >>> import keras
    >>> conv, bn = keras.layers.Conv2D(3, 3, name="conv"), keras.layers.BatchNormalization()
    >>> model = keras.Sequential([keras.Input((5, 5, 2)), conv, bn])
    >>> x = np.random.default_rng(0).random((1, 5, 5, 2)).astype(np.float32)
    >>> folded = folded_layer(conv, bn)
    >>> folded.name, bool(np.allclose(folded(x), model(x, training=False), atol=1e-5))
    ('conv_folded', True)
    """
    kernel, bias = fold_batchnorm(conv, bn)
    cfg = conv.get_config()
    cfg["use_bias"] = True
    cfg["name"] = name or f"{conv.name}_folded"
    for key in ("kernel_initializer", "bias_initializer", "depthwise_initializer"):
        cfg.pop(key, None)
    layer = type(conv).from_config(cfg)
    if type(conv).__name__ == "Dense":
        layer.build((None, kernel.shape[0]))
    else:
        layer.build((None, None, None, kernel.shape[2]))
    layer.set_weights([kernel, bias])
    return layer


def _foldable(node, op, consumers, calls):
    """Whether the batch norm ``op`` called at ``node`` directly follows a linear conv / dense
    layer that it is the only reader of (and neither layer is shared)."""
    if len(node.input_tensors) != 1:
        return False
    src = _graph.producer(node.input_tensors[0])
    return (type(src).__name__ in _FOLDABLE
            and getattr(src.activation, "__name__", "") == "linear"
            and consumers.get(id(node.input_tensors[0]), 0) == 1
            and calls.get(id(src)) == 1 and calls.get(id(op)) == 1)


def fold_batchnorm_model(model):
    """A copy of ``model`` for inference with every batch norm that directly follows a linear
    ``Conv2D``/``DepthwiseConv2D``/``Dense`` (and is its only consumer) merged into it.

    Works on functional and Sequential models, also inside nested models; other layers are shared
    with the original (same weights).

    Returns
    -------
    (keras.Model, int)
        The folded model and the number of batch norms folded.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.BatchNormalization(), keras.layers.ReLU()])
    >>> folded, n = fold_batchnorm_model(model)
    >>> n, [type(layer).__name__ for layer in folded.layers]
    (1, ['InputLayer', 'Conv2D', 'ReLU'])
    """
    import keras

    consumers, calls = _graph.consumers(model), _graph.layer_calls(model)
    replace, drop, n = {}, set(), 0
    for node in _graph.graph_nodes(model):
        op = node.operation
        if isinstance(op, keras.layers.BatchNormalization):
            if _foldable(node, op, consumers, calls):
                src = _graph.producer(node.input_tensors[0])
                replace[id(src)] = folded_layer(src, op)
                drop.add(id(op))
                n += 1
        elif _graph.is_graph_model(op):
            sub, k = fold_batchnorm_model(op)
            if k:
                replace[id(op)] = sub
                n += k

    def operation_fn(op):
        if id(op) in drop:
            return lambda x, *a, **kw: x
        if id(op) in replace:
            new = replace[id(op)]
            return lambda *a, **kw: new(*a)
        return op

    return _graph.rebuild(model, operation_fn, name=f"{model.name}_folded"), n


def small_batch_noise(features, batch_sizes=(2, 4, 8, 16, 32, 64), n_draws=200, epsilon=1e-3,
                      seed=0):
    r"""How much the training-mode output for one example depends on its batch mates.

    The first example of ``features`` (N, C) is normalised with the statistics of random
    mini-batches of size :math:`m` (itself plus :math:`m - 1` others drawn without replacement);
    the spread of :math:`\hat x` across draws, averaged over channels, is returned per batch size.
    It shrinks roughly like :math:`1/\sqrt{m}`: small batches make BN noisy.

    Returns
    -------
    np.ndarray (len(batch_sizes),)
        Standard deviation of the probe's normalised value across draws.

    Examples
    --------
    >>> feats = np.random.default_rng(0).normal(size=(400, 6))
    >>> noise = small_batch_noise(feats, batch_sizes=(2, 8, 32), n_draws=100)
    >>> bool(noise[0] > noise[1] > noise[2])
    True
    """
    f = _as_float(features, "features")
    if f.ndim != 2:
        raise ValueError(f"`features` must be (N, C); got shape {f.shape}.")
    n_draws = check_int(n_draws, "n_draws", minimum=2, maximum=100_000)
    epsilon = check_float(epsilon, "epsilon", 0.0, strict_min=True)
    sizes = [check_int(b, "batch_sizes", minimum=2, maximum=len(f)) for b in batch_sizes]
    rng = np.random.default_rng(check_seed(seed, allow_none=False))
    out = []
    others = np.arange(1, len(f))
    for m in sizes:
        idx = np.stack([rng.choice(others, m - 1, replace=False) for _ in range(n_draws)])
        batch = np.concatenate([np.broadcast_to(f[:1], (n_draws, 1, f.shape[1])), f[idx]], 1)
        mu = batch.mean(1)
        var = batch.var(1)
        x_hat = (f[0] - mu) / np.sqrt(var + epsilon)  # (draws, C)
        out.append(float(x_hat.std(0).mean()))
    return np.array(out)
