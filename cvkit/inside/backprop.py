"""Backpropagation by hand and by ``tf.GradientTape``, and vanishing and exploding gradients with and
without skip connections.

The worked example is the course's two-input, two-hidden, two-output network with logistic
(sigmoid) units and squared error (segmentation notes, "Vanishing/Exploding gradients"; the same
numbers as M. Mazur, "A Step by Step Backpropagation Example", 2015):

.. code-block:: text

    i1 = 0.05, i2 = 0.10           targets o1 = 0.01, o2 = 0.99
    h1 = sigmoid(w1 i1 + w2 i2 + b1)          w1 = 0.15, w2 = 0.20, b1 = 0.35
    h2 = sigmoid(w3 i1 + w4 i2 + b1)          w3 = 0.25, w4 = 0.30
    o1 = sigmoid(w5 h1 + w6 h2 + b2)          w5 = 0.40, w6 = 0.45, b2 = 0.60
    o2 = sigmoid(w7 h1 + w8 h2 + b2)          w7 = 0.50, w8 = 0.55

The notebook ``notebooks/08_inside_cnns.ipynb`` runs it step by step.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_float, check_int, check_seed

__all__ = [
    "EXAMPLE_INPUTS",
    "EXAMPLE_TARGETS",
    "EXAMPLE_PARAMS",
    "sigmoid",
    "forward",
    "total_error",
    "backward",
    "tape_gradients",
    "sgd_step",
    "backprop_step",
    "chain_rule_w1",
    "deep_stack",
    "sigmoid_stack",
    "gradient_norms",
    "vanishing_gradients",
    "exploding_gradients",
]

#: inputs (i1, i2) of the worked example
EXAMPLE_INPUTS = (0.05, 0.10)
#: targets (o1, o2) of the worked example
EXAMPLE_TARGETS = (0.01, 0.99)
#: weights and biases of the worked example (biases are shared per layer, as in the notes)
EXAMPLE_PARAMS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
                  "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55,
                  "b1": 0.35, "b2": 0.60}

_NAMES = tuple(EXAMPLE_PARAMS)


def sigmoid(x):
    r"""The logistic function :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Examples
    --------
    >>> sigmoid([0.0, 0.3775]).round(6)
    array([0.5    , 0.59327])
    """
    x = as_array(x, "x", kind="float", dtype=np.float64)
    with np.errstate(over="ignore"):   # exp(1000) = inf gives the exact limit 0
        return 1.0 / (1.0 + np.exp(-x))


def _check_params(params, name="params"):
    if not isinstance(params, dict):
        raise TypeError(f"`{name}` must be a dict with keys {list(_NAMES)}; got "
                        f"{type(params).__name__}.")
    missing = [k for k in _NAMES if k not in params]
    if missing:
        raise ValueError(f"`{name}` is missing {missing}; it needs {list(_NAMES)} "
                         "(see EXAMPLE_PARAMS).")
    return {k: check_float(params[k], f"{name}['{k}']") for k in _NAMES}


def _pair(v, name):
    a = as_array(v, name, kind="float")
    if a.shape != (2,):
        raise ValueError(f"`{name}` must be two numbers; got shape {a.shape}.")
    return float(a[0]), float(a[1])


def forward(params=None, inputs=EXAMPLE_INPUTS):
    r"""Forward pass of the 2-2-2 sigmoid network, written out unit by unit.

    :math:`net_{h1} = w_1 i_1 + w_2 i_2 + b_1`, :math:`out_{h1} = \sigma(net_{h1})` (likewise
    :math:`h_2` with :math:`w_3, w_4`), :math:`net_{o1} = w_5\, out_{h1} + w_6\, out_{h2} + b_2`,
    :math:`out_{o1} = \sigma(net_{o1})` (likewise :math:`o_2` with :math:`w_7, w_8`).

    Returns
    -------
    dict
        ``net_h1, out_h1, net_h2, out_h2, net_o1, out_o1, net_o2, out_o2`` as floats.
        For the example: net_h1 = 0.3775, out_h1 = 0.593270, out_h2 = 0.596884,
        net_o1 = 1.105906, out_o1 = 0.751365, out_o2 = 0.772928.

    Examples
    --------
    >>> c = forward()
    >>> round(c["net_h1"], 4), round(c["out_h1"], 6), round(c["out_o1"], 6)
    (0.3775, 0.59327, 0.751365)
    """
    p = _check_params(EXAMPLE_PARAMS if params is None else params)
    i1, i2 = _pair(inputs, "inputs")
    c = {}
    c["net_h1"] = p["w1"] * i1 + p["w2"] * i2 + p["b1"]
    c["out_h1"] = float(sigmoid(c["net_h1"]))
    c["net_h2"] = p["w3"] * i1 + p["w4"] * i2 + p["b1"]
    c["out_h2"] = float(sigmoid(c["net_h2"]))
    c["net_o1"] = p["w5"] * c["out_h1"] + p["w6"] * c["out_h2"] + p["b2"]
    c["out_o1"] = float(sigmoid(c["net_o1"]))
    c["net_o2"] = p["w7"] * c["out_h1"] + p["w8"] * c["out_h2"] + p["b2"]
    c["out_o2"] = float(sigmoid(c["net_o2"]))
    return c


def total_error(outputs, targets=EXAMPLE_TARGETS):
    r"""Squared error :math:`E_{total} = \sum_k \tfrac12 (target_k - out_k)^2`.

    ``outputs`` is the dict from :func:`forward` (or two numbers). Returns ``(E_o1, E_o2,
    E_total)``; for the example 0.274811, 0.023560, 0.298371.

    Note: the course notes print :math:`E_{total} = 0.2748`, which is :math:`E_{o1}` alone; the
    sum over both outputs is 0.2984, and the notes' gradient for :math:`w_1` (0.00043) is the
    gradient of that sum.

    Examples
    --------
    >>> [round(e, 6) for e in total_error(forward())]
    [0.274811, 0.02356, 0.298371]
    """
    if isinstance(outputs, dict):
        o1, o2 = outputs["out_o1"], outputs["out_o2"]
    else:
        o1, o2 = _pair(outputs, "outputs")
    t1, t2 = _pair(targets, "targets")
    e1, e2 = 0.5 * (t1 - o1) ** 2, 0.5 * (t2 - o2) ** 2
    return e1, e2, e1 + e2


def backward(params=None, inputs=EXAMPLE_INPUTS, targets=EXAMPLE_TARGETS):
    r"""Gradients of :math:`E_{total}` for every weight and bias, by the chain rule by hand.

    Output layer: :math:`\delta_{o1} = \frac{\partial E}{\partial out_{o1}}
    \frac{\partial out_{o1}}{\partial net_{o1}} = (out_{o1} - target_{o1})\, out_{o1}(1 - out_{o1})`
    and :math:`\partial E / \partial w_5 = \delta_{o1}\, out_{h1}`.
    Hidden layer: :math:`\frac{\partial E_{total}}{\partial out_{h1}} = \delta_{o1} w_5 +
    \delta_{o2} w_7`, :math:`\delta_{h1} = \frac{\partial E_{total}}{\partial out_{h1}}\,
    out_{h1}(1 - out_{h1})` and :math:`\partial E_{total} / \partial w_1 = \delta_{h1}\, i_1`.
    A shared bias collects the deltas of its layer: :math:`\partial E / \partial b_1 =
    \delta_{h1} + \delta_{h2}`.

    Returns
    -------
    dict
        ``{name: dE_total/dname}`` for ``w1 .. w8, b1, b2``; for the example
        dE/dw1 = 0.000438568 and dE/dw5 = 0.082167041.

    Examples
    --------
    >>> g = backward()
    >>> round(g["w1"], 9), round(g["w5"], 9)
    (0.000438568, 0.082167041)
    """
    p = _check_params(EXAMPLE_PARAMS if params is None else params)
    i1, i2 = _pair(inputs, "inputs")
    t1, t2 = _pair(targets, "targets")
    c = forward(p, (i1, i2))
    d_o1 = (c["out_o1"] - t1) * c["out_o1"] * (1 - c["out_o1"])
    d_o2 = (c["out_o2"] - t2) * c["out_o2"] * (1 - c["out_o2"])
    d_h1 = (d_o1 * p["w5"] + d_o2 * p["w7"]) * c["out_h1"] * (1 - c["out_h1"])
    d_h2 = (d_o1 * p["w6"] + d_o2 * p["w8"]) * c["out_h2"] * (1 - c["out_h2"])
    return {"w1": d_h1 * i1, "w2": d_h1 * i2, "w3": d_h2 * i1, "w4": d_h2 * i2,
            "w5": d_o1 * c["out_h1"], "w6": d_o1 * c["out_h2"],
            "w7": d_o2 * c["out_h1"], "w8": d_o2 * c["out_h2"],
            "b1": d_h1 + d_h2, "b2": d_o1 + d_o2}


def tape_gradients(params=None, inputs=EXAMPLE_INPUTS, targets=EXAMPLE_TARGETS):
    """The same forward pass in TensorFlow (float64, matrix form) with gradients from
    ``tf.GradientTape``.

    Returns
    -------
    (float, dict)
        :math:`E_{total}` and ``{name: gradient}`` for ``w1 .. w8, b1, b2``.

    Examples
    --------
    >>> e, g = tape_gradients()
    >>> round(e, 6), abs(g["w1"] - backward()["w1"]) < 1e-12
    (0.298371, True)
    """
    import tensorflow as tf

    p = _check_params(EXAMPLE_PARAMS if params is None else params)
    x = tf.constant([_pair(inputs, "inputs")], tf.float64)
    t = tf.constant([_pair(targets, "targets")], tf.float64)
    v = {k: tf.Variable(val, dtype=tf.float64) for k, val in p.items()}
    with tf.GradientTape() as tape:
        w_h = tf.stack([[v["w1"], v["w3"]], [v["w2"], v["w4"]]])  # (in, hidden)
        w_o = tf.stack([[v["w5"], v["w7"]], [v["w6"], v["w8"]]])  # (hidden, out)
        h = tf.sigmoid(x @ w_h + v["b1"])
        o = tf.sigmoid(h @ w_o + v["b2"])
        e = tf.reduce_sum(0.5 * tf.square(t - o))
    grads = tape.gradient(e, v)
    return float(e), {k: float(g) for k, g in grads.items()}


def sgd_step(params, grads, eta=0.5, update_biases=False):
    r"""One gradient-descent update :math:`w \leftarrow w - \eta\, \partial E_{total}/\partial w`.

    As in the worked example, biases stay fixed unless ``update_biases``. For the example
    :math:`w_1 = 0.15 - 0.5 \times 0.000438568 = 0.149781` (the notes round it to 0.1497).

    Examples
    --------
    >>> new = sgd_step(EXAMPLE_PARAMS, backward(), eta=0.5)
    >>> round(new["w1"], 6), new["b1"]
    (0.149781, 0.35)
    """
    p = _check_params(params)
    g = _check_params(grads, "grads") if update_biases else {
        k: check_float(grads[k], f"grads['{k}']") for k in _NAMES if k.startswith("w")}
    eta = check_float(eta, "eta", 0.0, strict_min=True)
    return {k: (p[k] - eta * g[k]) if k in g else p[k] for k in _NAMES}


def backprop_step(params=None, inputs=EXAMPLE_INPUTS, targets=EXAMPLE_TARGETS, eta=0.5):
    """Forward, backward by hand and one update; returns ``(new_params, E_total before)``.

    Examples
    --------
    >>> new, e = backprop_step()
    >>> round(new["w5"], 6), round(e, 6)
    (0.358916, 0.298371)
    """
    p = _check_params(EXAMPLE_PARAMS if params is None else params)
    e = total_error(forward(p, inputs), targets)[2]
    return sgd_step(p, backward(p, inputs, targets), eta), e


def chain_rule_w1(params=None, inputs=EXAMPLE_INPUTS, targets=EXAMPLE_TARGETS):
    r"""Every factor of the chain rule for :math:`\partial E_{total} / \partial w_1`, in the order
    the notes lay it out, and the gradient it gives.

    .. math::
        \frac{\partial E_{total}}{\partial w_1} &= \frac{\partial E_{total}}{\partial out_{h1}}
            \cdot \frac{\partial out_{h1}}{\partial net_{h1}} \cdot
            \frac{\partial net_{h1}}{\partial w_1}, \qquad
        \frac{\partial E_{total}}{\partial out_{h1}} = \frac{\partial E_{o1}}{\partial out_{h1}}
            + \frac{\partial E_{o2}}{\partial out_{h1}}, \\
        \frac{\partial E_{o1}}{\partial out_{h1}} &= \frac{\partial E_{o1}}{\partial net_{o1}}
            \cdot \frac{\partial net_{o1}}{\partial out_{h1}}, \qquad
        \frac{\partial E_{o1}}{\partial net_{o1}} = \frac{\partial E_{o1}}{\partial out_{o1}}
            \cdot \frac{\partial out_{o1}}{\partial net_{o1}}

    (likewise for :math:`o_2`): factors along one path multiply; the two paths from
    :math:`out_{h1}` to the error (through :math:`o_1` and :math:`o_2`) add. The notes write the
    last two lines with "+" between the factors; evaluated that way the gradient comes out as
    ``dE_dw1_with_sums`` (0.021556 for the example, 49 times the true 0.000438568 that the notes
    then quote).

    Returns
    -------
    dict
        ``dEo1_dout_o1`` :math:`= out_{o1} - target_{o1}`, ``dout_o1_dnet_o1`` :math:`=
        out_{o1}(1 - out_{o1})`, their product ``dEo1_dnet_o1``, ``dnet_o1_dout_h1`` :math:`= w_5`,
        ``dEo1_dout_h1``; the same five for ``o2`` (with :math:`w_7`); ``dE_dout_h1``,
        ``dout_h1_dnet_h1``, ``dnet_h1_dw1`` :math:`= i_1`, ``dE_dw1`` (their product, equal to
        :func:`backward`'s) and ``dE_dw1_with_sums`` (the notes' "+" in place of the products).

    Examples
    --------
    >>> c = chain_rule_w1()
    >>> round(c["dEo1_dout_o1"], 6), round(c["dout_o1_dnet_o1"], 6), round(c["dEo1_dnet_o1"], 6)
    (0.741365, 0.186816, 0.138499)
    >>> round(c["dE_dw1"], 9), round(c["dE_dw1_with_sums"], 6)
    (0.000438568, 0.021556)
    """
    p = _check_params(EXAMPLE_PARAMS if params is None else params)
    i1, _ = _pair(inputs, "inputs")
    t = _pair(targets, "targets")
    c = forward(p, inputs)
    f, sums = {}, 0.0
    for k, w in (("1", p["w5"]), ("2", p["w7"])):
        out = c[f"out_o{k}"]
        a, b = out - t[int(k) - 1], out * (1 - out)
        f[f"dEo{k}_dout_o{k}"], f[f"dout_o{k}_dnet_o{k}"] = a, b
        f[f"dEo{k}_dnet_o{k}"] = a * b
        f[f"dnet_o{k}_dout_h1"] = w
        f[f"dEo{k}_dout_h1"] = a * b * w
        sums += (a + b) + w
    f["dE_dout_h1"] = f["dEo1_dout_h1"] + f["dEo2_dout_h1"]
    f["dout_h1_dnet_h1"] = c["out_h1"] * (1 - c["out_h1"])
    f["dnet_h1_dw1"] = i1
    f["dE_dw1"] = f["dE_dout_h1"] * f["dout_h1_dnet_h1"] * i1
    f["dE_dw1_with_sums"] = sums * f["dout_h1_dnet_h1"] * i1
    return f


# --------------------------------------------------------------------------------------------
# vanishing and exploding gradients
# --------------------------------------------------------------------------------------------

def deep_stack(depth=20, width=16, residual=False, activation="sigmoid", gain=None, input_dim=16,
               seed=0):
    r"""A deep stack of Dense layers, plain or with identity skip connections.

    Plain: :math:`a^{[l+1]} = g(W^{[l+1]} a^{[l]} + b^{[l+1]})`. Residual:
    :math:`a^{[l+1]} = a^{[l]} + g(W^{[l+1]} a^{[l]} + b^{[l+1]})`, so that
    :math:`\partial a^{[l+1]} / \partial a^{[l]} = I + \dots` and the gradient keeps an identity
    path. By the chain rule the backward signal :math:`\delta^{[l]} = \partial L / \partial
    z^{[l]}` of a plain stack is a product of one factor :math:`W^{[l+1]\top}
    \mathrm{diag}\, g'(z^{[l]})` per layer: it vanishes when the factors are small (a sigmoid has
    :math:`g' \le 1/4`) and explodes when they are large (weights of scale :math:`\gamma > 1`).

    Initialisation: ``gain=None`` draws the kernels Glorot-uniform (as :func:`sigmoid_stack`);
    ``gain`` :math:`= \gamma` draws :math:`W \sim \mathcal N(0, \gamma^2 c / n_{in})` with
    :math:`c = 2` for ReLU (He) and 1 otherwise, so that :math:`\gamma = 1` keeps the scale of
    the signal from layer to layer in a plain ReLU or linear stack and :math:`\gamma > 1`
    multiplies it by about :math:`\gamma` per layer, forward and backward. Biases start at 0.

    Parameters
    ----------
    depth, width, input_dim : int >= 1
    residual : bool
    activation : str
        A Keras activation name (``'sigmoid'``, ``'relu'``, ``'tanh'``, ``'linear'``).
    gain : float > 0 or None
    seed : int

    Returns
    -------
    keras.Model
        Hidden layers ``hidden_0 .. hidden_{depth-1}`` (Dense with the activation), ``skip_i``
        (Add) when residual, an input projection ``proj`` and a linear ``head`` with one output;
        ``proj`` and ``head`` are Glorot-uniform.

    Examples
    --------
    >>> m = deep_stack(depth=3, width=4, residual=True, activation="relu", gain=1.0)
    >>> [l.name for l in m.layers if l.name.startswith(("hidden", "skip"))]
    ['hidden_0', 'skip_0', 'hidden_1', 'skip_1', 'hidden_2', 'skip_2']

    Notebook: ``08_inside_cnns.ipynb`` (vanishing and exploding gradients).
    """
    import keras

    depth = check_int(depth, "depth", minimum=1)
    width = check_int(width, "width", minimum=1)
    input_dim = check_int(input_dim, "input_dim", minimum=1)
    seed = check_seed(seed, allow_none=False)
    if not isinstance(residual, bool):
        raise TypeError(f"`residual` must be True or False; got {residual!r}.")
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`activation` must be a Keras activation name such as 'sigmoid', "
                         f"'relu', 'tanh' or 'linear'; got {activation!r}.") from exc
    glorot = lambda i: keras.initializers.GlorotUniform(seed=seed * 1000 + i)  # noqa: E731
    if gain is None:
        init = glorot
    else:
        gain = check_float(gain, "gain", 0.0, strict_min=True)
        c = 2.0 if activation == "relu" else 1.0
        init = lambda i: keras.initializers.VarianceScaling(  # noqa: E731
            gain ** 2 * c, "fan_in", "untruncated_normal", seed=seed * 1000 + i)
    inp = keras.Input((input_dim,))
    x = keras.layers.Dense(width, kernel_initializer=glorot(999), name="proj")(inp)
    for i in range(depth):
        h = keras.layers.Dense(width, activation=activation, kernel_initializer=init(i),
                               name=f"hidden_{i}")(x)
        x = keras.layers.Add(name=f"skip_{i}")([x, h]) if residual else h
    out = keras.layers.Dense(1, kernel_initializer=glorot(998), name="head")(x)
    return keras.Model(inp, out, name="residual_stack" if residual else "plain_stack")


def sigmoid_stack(depth=20, width=16, residual=False, input_dim=16, seed=0):
    r"""A deep stack of sigmoid Dense layers, plain or with identity skip connections:
    :func:`deep_stack` with ``activation='sigmoid'`` and Glorot-uniform kernels.

    Plain: :math:`a^{[l+1]} = \sigma(W^{[l+1]} a^{[l]} + b^{[l+1]})`. Residual:
    :math:`a^{[l+1]} = a^{[l]} + \sigma(W^{[l+1]} a^{[l]} + b^{[l+1]})`, so that
    :math:`\partial a^{[l+1]} / \partial a^{[l]} = I + \dots` and the gradient keeps an identity
    path. (The notes' block :math:`a^{[l+2]} = g(z^{[l+2]} + a^{[l]})` has the same identity path
    when :math:`g` is a ReLU in its linear part; with a sigmoid after the sum, its derivative
    :math:`\le 1/4` would shrink the gradient again, hence the activation inside the branch here.)

    The hidden layers are named ``hidden_0 .. hidden_{depth-1}``; a linear ``head`` gives one
    output. Weights are Glorot-uniform from ``seed``.

    Examples
    --------
    >>> sigmoid_stack(depth=2, width=3).get_layer("hidden_1").activation.__name__
    'sigmoid'
    """
    return deep_stack(depth, width, residual, "sigmoid", None, input_dim, seed)


def gradient_norms(model, x, y, param="kernel"):
    r"""Frobenius norm of the gradient of the mean-squared-error loss for the kernel (or bias) of
    every layer named ``hidden_*``, from the input side to the output side.

    ``param='kernel'``: :math:`\|\partial L / \partial W^{[l]}\|`. ``param='bias'``:
    :math:`\|\partial L / \partial b^{[l]}\| = \|\sum_n \delta^{[l]}_n\|`, the backward signal
    :math:`\delta^{[l]} = \partial L / \partial z^{[l]}` that the chain rule multiplies layer by
    layer, summed over the batch (the kernel's gradient is :math:`\sum_n \delta^{[l]}_n
    a^{[l-1]\top}_n`, which also carries the forward activations).

    Examples
    --------
    >>> m = sigmoid_stack(depth=4, width=4, input_dim=4)
    >>> gradient_norms(m, np.ones((2, 4)), np.zeros(2), param="bias").shape
    (4,)
    """
    import tensorflow as tf

    from .._validate import check_choice

    check_choice(param, "param", ("kernel", "bias"))
    hidden = [l for l in model.layers if l.name.startswith("hidden_")]
    if not hidden:
        raise ValueError("`model` has no layers named 'hidden_*'; build it with deep_stack or "
                         "sigmoid_stack.")
    x = tf.constant(np.asarray(x, np.float32))
    y = tf.constant(np.asarray(y, np.float32).reshape(-1, 1))
    weights = [getattr(l, param) for l in hidden]
    # eager: one pass on a small stack, and no retracing warnings when called for many models
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=False) - y))
    return np.array([float(tf.norm(g)) for g in tape.gradient(loss, weights)])


def _regression_batch(n, width, seed):
    n = check_int(n, "n", minimum=1)
    rng = np.random.default_rng(check_seed(seed, allow_none=False))
    return (rng.standard_normal((n, width)).astype(np.float32),
            rng.standard_normal(n).astype(np.float32))


def vanishing_gradients(depth=20, width=16, n=64, seed=0, param="kernel"):
    """Per-layer gradient norms of the same deep sigmoid stack without and with skip connections
    on one random regression batch. Returns ``{"plain": (depth,), "residual": (depth,)}``.

    The plain stack's first-layer gradient is many orders of magnitude below its last (about 1e-12
    relative at depth 20); the residual one stays within two orders of magnitude. ``param`` as in
    :func:`gradient_norms`.

    Examples
    --------
    >>> g = vanishing_gradients(depth=10, width=8, n=16)
    >>> bool(g["plain"][0] / g["plain"][-1] < 1e-4), bool(g["residual"][0] > g["residual"][-1] / 100)
    (True, True)

    Notebook: ``08_inside_cnns.ipynb``.
    """
    x, y = _regression_batch(n, width, seed)
    return {name: gradient_norms(sigmoid_stack(depth, width, res, width, seed), x, y, param)
            for name, res in (("plain", False), ("residual", True))}


def exploding_gradients(depth=20, width=16, gain=2.0, n=64, seed=0, param="bias"):
    r"""Per-layer gradient norms of the same deep ReLU stack, its kernels drawn at ``gain`` times
    the He scale (:func:`deep_stack`), without and with skip connections, on one random regression
    batch. Returns ``{"plain": (depth,), "residual": (depth,)}``.

    In the plain stack each layer multiplies the backward signal by about :math:`\gamma`, so with
    :math:`\gamma = 2` and 20 layers the first layer's :math:`\|\partial L/\partial b\|` is
    about :math:`10^4`-:math:`10^5` times the last one's (and the loss itself is huge: the forward
    signal explodes too). The identity path does not help here: each residual block *adds* its
    branch, the variance grows by about :math:`1 + \gamma^2` per block, and the residual twin
    explodes faster. What keeps the scale is the weights' scale (:math:`\gamma = 1`, He
    initialisation) or normalisation inside the blocks, as ResNets do with batch norm.

    Examples
    --------
    >>> g = exploding_gradients(depth=10, width=8, n=16)
    >>> bool(g["plain"][0] / g["plain"][-1] > 10), bool(g["residual"][0] > g["plain"][0])
    (True, True)

    Notebook: ``08_inside_cnns.ipynb``.
    """
    x, y = _regression_batch(n, width, seed)
    return {name: gradient_norms(deep_stack(depth, width, res, "relu", gain, width, seed), x, y,
                                 param)
            for name, res in (("plain", False), ("residual", True))}
