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

from .._validate import check_float, check_int

__all__ = [
    "batchnorm_forward",
    "BatchNorm",
    "fold_batchnorm",
    "folded_layer",
    "fold_batchnorm_model",
    "small_batch_noise",
]



def _one_or_list(inputs):
    """A single input tensor rather than a list of one (avoids Keras' structure warning)."""
    return inputs[0] if len(inputs) == 1 else list(inputs)

def _as_float(x, name):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be numeric; got {type(x).__name__}.") from exc
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return a


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
    """
    x = _as_float(x, "x")
    if x.ndim < 2:
        raise ValueError(f"`x` must be (N, ..., C) with at least 2 axes; got shape {x.shape}.")
    if x.shape[0] < 1:
        raise ValueError("`x` is an empty batch.")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"`training` must be True or False; got {training!r}.")
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
    """
    kind = type(conv).__name__
    if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
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
    that ``folded_layer(conv, bn)(x) == bn(conv(x), training=False)``."""
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


def _consumers(graph):
    count = {}
    for depth in graph._nodes_by_depth.values():
        for node in depth:
            for t in node.input_tensors:
                count[id(t)] = count.get(id(t), 0) + 1
    return count


def fold_batchnorm_model(model):
    """A copy of ``model`` for inference with every batch norm that directly follows a linear
    ``Conv2D``/``DepthwiseConv2D``/``Dense`` (and is its only consumer) merged into it.

    Works on functional and Sequential models, also inside nested models; other layers are shared
    with the original (same weights). Returns ``(new_model, n_folded)``.
    """
    import keras

    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError("`model` is a Sequential model that is not built.")
    elif isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        graph = model
    else:
        raise TypeError(f"`model` must be a Keras functional or Sequential model; got "
                        f"{type(model).__name__}.")
    consumers = _consumers(graph)
    calls = {}  # how often each layer is called in this graph (a shared layer is left alone)
    for depth in graph._nodes_by_depth.values():
        for node in depth:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    replace, drop, n = {}, set(), 0
    for depth in graph._nodes_by_depth.values():
        for node in depth:
            op = node.operation
            if isinstance(op, keras.layers.BatchNormalization) and len(node.input_tensors) == 1:
                src = node.input_tensors[0]._keras_history[0]
                if (type(src).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense")
                        and getattr(src.activation, "__name__", "") == "linear"
                        and consumers.get(id(node.input_tensors[0]), 0) == 1
                        and calls.get(id(src)) == 1 and calls.get(id(op)) == 1):
                    replace[id(src)] = folded_layer(src, op)
                    drop.add(id(op))
                    n += 1
            elif isinstance(op, keras.Model) and hasattr(op, "_nodes_by_depth") or isinstance(
                    op, keras.Sequential):
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

    outputs = graph._run_through_graph(graph.inputs, operation_fn=operation_fn)
    return keras.Model(_one_or_list(graph.inputs), outputs, name=f"{model.name}_folded"), n


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
    """
    f = _as_float(features, "features")
    if f.ndim != 2:
        raise ValueError(f"`features` must be (N, C); got shape {f.shape}.")
    n_draws = check_int(n_draws, "n_draws", minimum=2)
    epsilon = check_float(epsilon, "epsilon", 0.0, strict_min=True)
    sizes = [check_int(b, "batch_sizes", minimum=2, maximum=len(f)) for b in batch_sizes]
    rng = np.random.default_rng(seed)
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
