"""Checkers for ``notebooks/08_inside_cnns.ipynb``: the receptive-field recursion, one backprop step
of the worked example, and the batch-norm forward pass.

Each checker calls the student's function on the notes' case and on fresh ones, compares with the
reference in :mod:`cvkit.inside.receptive_field` / :mod:`cvkit.inside.backprop` /
:mod:`cvkit.inside.batchnorm`, and raises :class:`~cvkit.exercises.ExerciseError` saying what is
wrong (with a hint for the usual mistakes).
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, check_array

__all__ = ["check_receptive_field", "check_backprop_step", "check_batchnorm_forward"]

#: (kernel, stride, left padding) chains used by :func:`check_receptive_field`
RF_CASES = (
    [(3, 1, 0), (2, 2, 0), (3, 1, 0)],
    [(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 1, 1)],  # ResNet stem + one basic block
    [(3, 2, 0), (3, 1, 1), (3, 2, 0), (1, 1, 0), (3, 1, 1)],  # MobileNetV2-like
    [(5, 1, 2)],
)


def _rf_reference(layers):
    """The recursion, also what :func:`cvkit.inside.receptive_field` applies per
    layer (tested there against gradients)."""
    size, stride, offset = 1, 1, 0
    for k, s, p in layers:
        size += (k - 1) * stride
        offset -= p * stride
        stride *= s
    return size, stride, offset


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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the wrong
        number (size, stride or offset) and the rule behind it.

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
    cvkit.exercises.ExerciseError: receptive_field_chain([(3, 1, 0), (2, 2, 0), (3, 1, 0)]): wrong size: expected 8, got 9. Hint: the size grows by (k - 1) times the stride accumulated BEFORE this layer, not after it.
    """
    for layers in RF_CASES:
        got = receptive_field_chain(list(layers))
        if got is None:
            raise ExerciseError("receptive_field_chain returned None; return (size, stride, "
                                "offset).")
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise ExerciseError("receptive_field_chain must return three numbers (size, stride, "
                                f"offset); got {got!r}.")
        size, stride, offset = _rf_reference(layers)
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
        wrong weight (a flipped sign, a hidden weight that misses one of the two paths and a wrong
        output delta are named).

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
        got = backprop_step(dict(params), x, t, eta)
        if not isinstance(got, dict):
            raise ExerciseError("backprop_step must return a dict of the new parameters; got "
                                f"{type(got).__name__}.")
        ref = B.sgd_step(params, B.backward(params, x, t), eta)
        for k in ("w1", "w5", "w8", "w3", "w2", "w4", "w6", "w7"):
            if k not in got:
                raise ExerciseError(f"backprop_step: the result has no '{k}'.")
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
        variance and per-position statistics of images are named).

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
        got = bn_forward(x.copy(), gamma, beta, 1e-3)
        ref = batchnorm_forward(x, gamma, beta, training=True, epsilon=1e-3)[0]
        got_arr = np.asarray(got, np.float64) if got is not None else None
        if got_arr is not None and got_arr.shape == ref.shape:
            axes = tuple(range(len(shape) - 1))
            unbiased = gamma * (x - x.mean(axes)) / np.sqrt(x.var(axes, ddof=1) + 1e-3) + beta
            if np.allclose(got_arr, unbiased, atol=1e-6):
                raise ExerciseError("bn_forward: you used the unbiased variance (ddof=1); batch "
                                    "norm divides by m, the number of values in the batch.")
            if len(shape) == 4 and np.allclose(
                    got_arr, gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) + beta, atol=1e-6):
                raise ExerciseError("bn_forward: for images the statistics are per channel over "
                                    "the batch AND the positions: average over axes (0, 1, 2).")
        check_array(f"bn_forward on shape {shape}", got, ref, atol=1e-6, rtol=1e-6,
                    hint="y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel.")
    return True
