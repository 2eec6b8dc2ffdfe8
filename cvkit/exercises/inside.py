"""Checkers for ``notebooks/08_inside_cnns.ipynb``: the receptive-field recursion, one backprop step
of the worked example, and the batch-norm forward pass.

Each checker calls the student's function on the notes' case and on fresh ones, compares with the
reference in :mod:`cvkit.inside.receptive_field` / :mod:`cvkit.inside.backprop` /
:mod:`cvkit.inside.batchnorm`, and raises :class:`~cvkit.exercises.ExerciseError` saying what is
wrong (with a hint for the usual mistakes).
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_array, check_mistakes

__all__ = ["check_receptive_field", "check_backprop_step", "check_batchnorm_forward"]

#: (kernel, stride, left padding) chains used by :func:`check_receptive_field`
RF_CASES = (
    [(3, 1, 0), (2, 2, 0), (3, 1, 0)],
    [(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 1, 1)],  # ResNet stem + one basic block
    [(3, 2, 0), (3, 1, 1), (3, 2, 0), (1, 1, 0), (3, 1, 1)],  # MobileNetV2-like
    [(5, 1, 2)],
)


def _rf_reference(layers, stride_first=False, add_strides=False, taps=-1, offset_sign=-1):
    """The recursion, also what :func:`cvkit.inside.receptive_field` applies per layer (tested
    there against gradients), and its usual mistakes: the stride updated before the size and
    offset, strides added, ``k`` instead of ``k - 1`` (``taps=0``), the offset moved right."""
    size, stride, offset = 1, 1, 0
    for k, s, p in layers:
        if stride_first:
            stride = stride + s if add_strides else stride * s
        size += (k + taps) * stride
        offset += offset_sign * p * stride
        if not stride_first:
            stride = stride + s if add_strides else stride * s
    return size, stride, offset


def _rf_mistakes(layers):
    """(explanation, wrong (size, stride, offset)) of the usual mistakes of the recursion."""
    return [
        ("you updated the stride before the size and the offset: a layer grows the receptive "
         "field by (k - 1) times the stride accumulated BEFORE it.",
         _rf_reference(layers, stride_first=True)),
        ("the strides multiply (j_l = j_{l-1} * s_l); you added them.",
         _rf_reference(layers, add_strides=True)),
        ("a kernel of k taps adds k - 1 steps, not k: r_l = r_{l-1} + (k_l - 1) j_{l-1}.",
         _rf_reference(layers, taps=0)),
        ("padding moves the offset LEFT (outside the image): o_l = o_{l-1} - p_l j_{l-1}.",
         _rf_reference(layers, offset_sign=1)),
    ]


def check_receptive_field(receptive_field_chain):
    """``receptive_field_chain(layers) -> (size, stride, offset)`` for a list of
    ``(kernel, stride, left_padding)`` layers from the input to the output, per axis:
    :math:`r_l = r_{l-1} + (k_l - 1) j_{l-1}`, :math:`j_l = j_{l-1} s_l`,
    :math:`o_l = o_{l-1} - p_l j_{l-1}`.

    Parameters
    ----------
    receptive_field_chain : callable
        The student's function, called on the chains of :data:`RF_CASES` (a toy stack, a ResNet
        stem and block, a MobileNetV2-like stack, one padded layer).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the known
        mistake (the stride updated first, strides added, k instead of k - 1, the offset moved
        right) or the wrong number (size, stride or offset) and the rule behind it.

    Examples
    --------
    >>> def receptive_field_chain(layers):
    ...     size, stride, offset = 1, 1, 0
    ...     for k, s, p in layers:
    ...         size += (k - 1) * stride
    ...         offset -= p * stride
    ...         stride *= s
    ...     return size, stride, offset
    >>> check_receptive_field(receptive_field_chain)
    Correct: receptive_field_chain
    True

    Multiplying the stride in first grows the size with the stride *after* the layer: for kernels
    3, 2, 3 (strides 1, 2, 1) the size is 1 + 2 + 2 + 2 * 2 = 9 instead of 1 + 2 + 1 + 2 * 2 = 8.

    >>> def stride_first(layers):
    ...     size, stride, offset = 1, 1, 0
    ...     for k, s, p in layers:
    ...         stride *= s
    ...         size += (k - 1) * stride
    ...         offset -= p * stride
    ...     return size, stride, offset
    >>> check_receptive_field(stride_first)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: receptive_field_chain([(3, 1, 0), (2, 2, 0), (3, 1, 0)]): you updated the stride before the size and the offset: a layer grows the receptive field by (k - 1) times the stride accumulated BEFORE it.

    A wrong number that matches no known mistake is named with the rule behind it:

    >>> check_receptive_field(lambda layers: (*receptive_field_chain(layers)[:2], 0))
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: receptive_field_chain([(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 1, 1)]): wrong offset: expected -13, got 0. Hint: each layer moves the offset left by its padding times the stride accumulated before it (offset starts at 0).
    """
    for layers in RF_CASES:
        got = call_student(receptive_field_chain, f"receptive_field_chain({list(layers)})",
                           list(layers))
        if got is None:
            raise ExerciseError("receptive_field_chain returned None; return (size, stride, "
                                "offset).")
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise ExerciseError("receptive_field_chain must return three numbers (size, stride, "
                                f"offset); got {got!r}.")
        size, stride, offset = _rf_reference(layers)
        check_mistakes(f"receptive_field_chain({list(layers)})", got, [size, stride, offset],
                       _rf_mistakes(layers), atol=0.5, rtol=0)
        names = ("size", "stride", "offset")
        for name, g, e in zip(names, got, (size, stride, offset)):
            if g != e:
                hint = {
                    "size": "the size grows by (k - 1) times the stride accumulated BEFORE this "
                            "layer, not after it.",
                    "stride": "the strides multiply.",
                    "offset": "each layer moves the offset left by its padding times the stride "
                              "accumulated before it (offset starts at 0).",
                }[name]
                raise ExerciseError(f"receptive_field_chain({list(layers)}): wrong {name}: "
                                    f"expected {e}, got {g}. Hint: {hint}")
    print("Correct: receptive_field_chain")
    return True


_WEIGHTS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")


def _backprop(p, x, t, eta, sequential=False, out_derivative=True, both_paths=True,
              hidden_derivative=True):
    """One SGD step of the worked example's 2-2-2 sigmoid network, and its usual mistakes:
    ``sequential`` updates w5..w8 before the hidden deltas use them, no derivative of the
    output or hidden sigmoid, a hidden delta through the output o1 only."""
    def sig(z):
        return 1.0 / (1.0 + np.exp(-z))

    h1 = sig(p["w1"] * x[0] + p["w2"] * x[1] + p["b1"])
    h2 = sig(p["w3"] * x[0] + p["w4"] * x[1] + p["b1"])
    o1 = sig(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
    o2 = sig(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    d1, d2 = o1 - t[0], o2 - t[1]
    if out_derivative:
        d1, d2 = d1 * o1 * (1 - o1), d2 * o2 * (1 - o2)
    new = {"w5": p["w5"] - eta * d1 * h1, "w6": p["w6"] - eta * d1 * h2,
           "w7": p["w7"] - eta * d2 * h1, "w8": p["w8"] - eta * d2 * h2}
    w = new if sequential else p
    e1 = d1 * w["w5"] + (d2 * w["w7"] if both_paths else 0.0)
    e2 = d1 * w["w6"] + (d2 * w["w8"] if both_paths else 0.0)
    if hidden_derivative:
        e1, e2 = e1 * h1 * (1 - h1), e2 * h2 * (1 - h2)
    new.update(w1=p["w1"] - eta * e1 * x[0], w2=p["w2"] - eta * e1 * x[1],
               w3=p["w3"] - eta * e2 * x[0], w4=p["w4"] - eta * e2 * x[1])
    return [new[k] for k in _WEIGHTS]


def _backprop_mistakes(params, x, t, eta):
    """(explanation, wrong new weights w1..w8) of the usual mistakes of one backprop step."""
    return [
        ("the hidden deltas must use the OLD w5..w8: compute every gradient first, then update "
         "the weights.", lambda: _backprop(params, x, t, eta, sequential=True)),
        ("delta_o = (out_o - target) * out_o * (1 - out_o): the derivative of the output "
         "sigmoid is missing.", lambda: _backprop(params, x, t, eta, out_derivative=False)),
        ("for a hidden weight, dE_total/dout_h1 sums the paths through BOTH outputs "
         "(delta_o1 * w5 + delta_o2 * w7).", lambda: _backprop(params, x, t, eta,
                                                               both_paths=False)),
        ("the hidden delta also multiplies by the derivative of the hidden sigmoid, "
         "out_h * (1 - out_h).", lambda: _backprop(params, x, t, eta, hidden_derivative=False)),
    ]


def check_backprop_step(backprop_step):
    """``backprop_step(params, inputs, targets, eta) -> new_params``: forward, chain rule by hand,
    and the update :math:`w \\leftarrow w - \\eta\\, \\partial E_{total} / \\partial w` of the eight
    weights (biases unchanged, as in the worked example).

    Parameters
    ----------
    backprop_step : callable
        The student's function, called on the worked example of the notes (:math:`\\eta = 0.5`)
        and on two random networks (:math:`\\eta = 0.3`).

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` with the first
        wrong weight (a flipped sign, hidden deltas computed with the updated w5..w8, a hidden
        weight that misses one of the two paths, a missing sigmoid derivative and changed biases
        are named).

    Examples
    --------
    >>> from cvkit.inside.backprop import backward, sgd_step
    >>> check_backprop_step(lambda params, inputs, targets, eta:
    ...                     sgd_step(params, backward(params, inputs, targets), eta))
    Correct: backprop_step
    True

    Adding the gradient climbs the error: :math:`w_1 = 0.15 + 0.5 \\times 0.000438568`.

    >>> def ascent(params, inputs, targets, eta):
    ...     grads = backward(params, inputs, targets)
    ...     return {k: v + eta * grads[k] if k[0] == "w" else v for k, v in params.items()}
    >>> check_backprop_step(ascent)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: backprop_step: wrong new w1 for inputs (0.05, 0.1): expected 0.149780716, got 0.150219284. Hint: check the sign: gradient DESCENT subtracts eta * gradient.
    """
    from ..inside import backprop as B

    rng = np.random.default_rng(8)
    cases = [(dict(B.EXAMPLE_PARAMS), B.EXAMPLE_INPUTS, B.EXAMPLE_TARGETS, 0.5)]
    for _ in range(2):
        p = {k: float(v) for k, v in zip(B.EXAMPLE_PARAMS, rng.uniform(-1, 1, 10))}
        cases.append((p, tuple(rng.uniform(0, 1, 2)), tuple(rng.uniform(0, 1, 2)), 0.3))
    for params, x, t, eta in cases:
        got = call_student(backprop_step, f"backprop_step(params, inputs={x}, targets={t}, "
                           f"eta={eta})", dict(params), x, t, eta)
        if not isinstance(got, dict):
            raise ExerciseError("backprop_step must return a dict of the new parameters; got "
                                f"{type(got).__name__}.")
        ref = B.sgd_step(params, B.backward(params, x, t), eta)
        for k in _WEIGHTS:
            if k not in got:
                raise ExerciseError(f"backprop_step: the result has no '{k}'.")
        check_mistakes(f"backprop_step (inputs {x})", [float(got[k]) for k in _WEIGHTS],
                       [ref[k] for k in _WEIGHTS], _backprop_mistakes(params, x, t, eta),
                       atol=1e-9, rtol=1e-7)
        for k in ("w1", "w5", "w8", "w3", "w2", "w4", "w6", "w7"):
            g = float(got[k])
            if not np.isclose(g, ref[k], atol=1e-9, rtol=1e-7):
                grad = B.backward(params, x, t)[k]
                hint = ("check the sign: gradient DESCENT subtracts eta * gradient."
                        if np.isclose(g, params[k] + eta * grad, atol=1e-9) else
                        "for a hidden weight, dE_total/dout_h1 sums the paths through BOTH "
                        "outputs (delta_o1 * w5 + delta_o2 * w7)." if k in ("w1", "w2", "w3",
                                                                              "w4")
                        else "delta_o = (out_o - target) * out_o * (1 - out_o).")
                raise ExerciseError(f"backprop_step: wrong new {k} for inputs {x}: expected "
                                    f"{ref[k]:.9f}, got {g:.9f}. Hint: {hint}")
        for k in ("b1", "b2"):
            if k in got and not np.isclose(float(got[k]), params[k]):
                raise ExerciseError(f"backprop_step: {k} changed; the worked example keeps the "
                                    "biases fixed.")
    print("Correct: backprop_step")
    return True


def check_batchnorm_forward(bn_forward):
    r"""``bn_forward(x, gamma, beta, eps) -> y``: training-mode batch norm over every axis but the
    last (channels), with the biased batch variance:
    :math:`y = \gamma\, (x - \mu_B) / \sqrt{\sigma_B^2 + \epsilon} + \beta`.

    Parameters
    ----------
    bn_forward : callable
        The student's function, called on random (8, 3) activations and (4, 5, 5, 2) feature
        maps with :math:`\epsilon = 10^{-3}`.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` (the unbiased
        variance, epsilon outside the root, gamma and beta swapped or missing, statistics over
        every axis, over the channels or per position of images are named).

    Examples
    --------
    >>> def bn_forward(x, gamma, beta, eps):
    ...     axes = tuple(range(x.ndim - 1))   # every axis but the channels
    ...     return gamma * (x - x.mean(axes)) / np.sqrt(x.var(axes) + eps) + beta
    >>> check_batchnorm_forward(bn_forward)
    Correct: bn_forward on shape (8, 3)
    Correct: bn_forward on shape (4, 5, 5, 2)
    True
    >>> def unbiased(x, gamma, beta, eps):
    ...     axes = tuple(range(x.ndim - 1))
    ...     return gamma * (x - x.mean(axes)) / np.sqrt(x.var(axes, ddof=1) + eps) + beta
    >>> check_batchnorm_forward(unbiased)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: bn_forward: you used the unbiased variance (ddof=1); batch norm divides by m, the number of values in the batch.
    """
    from ..inside import batchnorm_forward

    rng = np.random.default_rng(3)
    for shape in ((8, 3), (4, 5, 5, 2)):
        c = shape[-1]
        x = rng.normal(2.0, 3.0, shape)
        gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(size=c)
        got = call_student(bn_forward, f"bn_forward(x of shape {shape}, gamma, beta, 1e-3)",
                           x.copy(), gamma, beta, 1e-3)
        ref = batchnorm_forward(x, gamma, beta, training=True, epsilon=1e-3)[0]
        check_mistakes("bn_forward", got, ref, _bn_mistakes(x, gamma, beta, 1e-3), atol=1e-6,
                       rtol=1e-6)
        check_array(f"bn_forward on shape {shape}", got, ref, atol=1e-6, rtol=1e-6,
                    hint="y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel.")
    return True


def _bn_mistakes(x, gamma, beta, eps):
    """(explanation, wrong output) of the usual mistakes of the batch-norm forward pass."""
    axes = tuple(range(x.ndim - 1))

    def norm(over=axes, ddof=0, eps_inside=True):
        mean, var = x.mean(over, keepdims=True), x.var(over, ddof=ddof, keepdims=True)
        return (x - mean) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)

    mistakes = [
        ("you used the unbiased variance (ddof=1); batch norm divides by m, the number of values "
         "in the batch.", lambda: gamma * norm(ddof=1) + beta),
        ("epsilon goes inside the square root: sqrt(var + eps), not sqrt(var) + eps.",
         lambda: gamma * norm(eps_inside=False) + beta),
        ("gamma scales and beta shifts: y = gamma * x_hat + beta; you swapped them.",
         lambda: beta * norm() + gamma),
        ("gamma and beta are missing: y = gamma * x_hat + beta.", lambda: norm()),
        ("batch norm keeps one mean and variance per channel: average over every axis but the "
         "last, not over all of them.", lambda: gamma * norm(over=None) + beta),
        ("you normalised over the channels (the last axis: layer norm); batch norm averages "
         "over the batch, per channel.", lambda: gamma * norm(over=(x.ndim - 1,)) + beta),
    ]
    if x.ndim == 4:
        mistakes.append(("for images the statistics are per channel over the batch AND the "
                         "positions: average over axes (0, 1, 2).",
                         lambda: gamma * norm(over=(0,)) + beta))
    return mistakes
