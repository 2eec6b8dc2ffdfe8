"""Models that read inside a model: tapping inner outputs, reading class scores before the softmax."""
from __future__ import annotations

from .walk import (LayerRef, _keras, _one_or_list, find_layer, graph_nodes, graph_of, is_container,
                   output_layer)

__all__ = ["tap_model", "logit_model", "probe_model"]

_SQUASHING = ("softmax", "sigmoid", "log_softmax")


def _run(graph, operation_fn):
    """Re-run ``graph`` on its own inputs, each layer ``op`` replaced by ``operation_fn(op)``."""
    return graph._run_through_graph(graph.inputs, operation_fn=operation_fn)


def _capture(op, sub, nested_idx, direct_idx, captured):
    """The replacement of ``op`` while tapping: a nested model's tap copy, or ``op`` itself, that
    also stores the tapped outputs in ``captured``."""
    if sub is not None:
        def call(*args, **kwargs):
            outs = sub(*args, training=kwargs.get("training"))
            for i, t in zip(nested_idx, outs[:len(nested_idx)]):
                if captured[i] is None:
                    captured[i] = t
            rest = outs[len(nested_idx):]
            rest = rest[0] if len(rest) == 1 else rest
            for i in direct_idx:  # the nested model's own output was asked for too
                if captured[i] is None:
                    captured[i] = rest
            return rest

        return call

    def call(*args, **kwargs):
        out = op(*args, **kwargs)
        for i in direct_idx:
            if captured[i] is None:
                captured[i] = out
        return out

    return call


def _tap(model, chains, with_outputs):
    """keras.Model from ``model``'s inputs to the outputs of the layers at ``chains`` (followed by
    the model's own outputs when ``with_outputs``). A layer inside a nested model is reached by
    re-running the outer graph with the nested model replaced by a tap of itself (same layers,
    same weights)."""
    keras = _keras()
    graph = graph_of(model)
    direct, nested = {}, {}
    for i, chain in enumerate(chains):
        if len(chain) == 1:
            direct.setdefault(id(chain[0]), []).append(i)
        else:
            nested.setdefault(id(chain[0]), (chain[0], []))[1].append((i, chain[1:]))
    inputs = _one_or_list(graph.inputs)
    own = list(graph.outputs) if with_outputs else []
    if not nested:
        first = {}
        for node in graph_nodes(graph):
            first.setdefault(id(node.operation), node.outputs)
        if any(id(chain[0]) not in first for chain in chains):  # pragma: no cover
            raise ValueError("a requested layer is not connected to the model's inputs.")
        outs = [first[id(chain[0])] for chain in chains]
        outs = [o[0] if len(o) == 1 else o for o in outs]
        return keras.Model(inputs, _one_or_list(outs + own))
    subs = {k: _tap(layer, [c for _, c in items], True) for k, (layer, items) in nested.items()}
    captured = [None] * len(chains)

    def operation_fn(op):
        key = id(op)
        if key not in nested and key not in direct:
            return op
        idx = [i for i, _ in nested[key][1]] if key in nested else []
        return _capture(op, subs.get(key), idx, direct.get(key, []), captured)

    outputs = _run(graph, operation_fn)
    if any(c is None for c in captured):  # pragma: no cover - found layers are connected
        raise ValueError("a requested layer is not connected to the model's inputs.")
    flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return keras.Model(inputs, _one_or_list(captured + (flat if with_outputs else [])))


def tap_model(model, layers, with_outputs=False):
    """A model from ``model``'s inputs to the outputs of some of its layers (nested ones too).

    The new model shares every layer (so every weight) with ``model``.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential, possibly holding nested models.
    layers : list of (str, keras.layers.Layer or LayerRef)
        The layers to read, as :func:`find_layer` takes them.
    with_outputs : bool
        Also return the model's own outputs, after the tapped ones.

    Returns
    -------
    keras.Model
        One output per tapped layer (a single tensor when there is one).

    Examples
    --------
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")],
    ...                          name="inner")
    >>> inp = keras.Input((4,))
    >>> model = keras.Model(inp, keras.layers.Dense(1, name="head")(inner(inp)))
    >>> tap = tap_model(model, ["d", "head"])
    >>> [tuple(t.shape) for t in tap.outputs]
    [(None, 3), (None, 1)]
    """
    refs = [find_layer(model, layer, "layers") for layer in layers]
    return _tap(model, [ref.chain for ref in refs], bool(with_outputs))


def logit_model(model):
    """A model from ``model``'s inputs to its class scores before the softmax (or sigmoid).

    When the last layer is a ``Softmax`` / ``Activation('softmax')`` layer its input is read; when
    it is a ``Dense`` with a softmax or sigmoid activation, its linear part :math:`z = h W + b` is
    computed from the layer's own variables. Any other output is returned as it is. The caller's
    model is not changed.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential, with one output.

    Returns
    -------
    keras.Model
        Sharing the layers of ``model``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inp = keras.Input((3,))
    >>> model = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="head")(inp))
    >>> x = np.ones((1, 3), np.float32)
    >>> head = model.get_layer("head")
    >>> want = x @ head.kernel.numpy() + head.bias.numpy()
    >>> bool(np.allclose(logit_model(model)(x).numpy(), want, atol=1e-6))
    True
    """
    keras = _keras()
    graph = graph_of(model)
    if len(graph.outputs) != 1:
        raise ValueError("`model` must have one output (the class scores) for a class target.")
    out = graph.outputs[0]
    op, node_index, _ = out._keras_history
    act_name = getattr(getattr(op, "activation", None), "__name__", "")
    kind = type(op).__name__
    inputs = _one_or_list(graph.inputs)
    if kind == "Softmax" or (kind == "Activation" and act_name in _SQUASHING):
        return keras.Model(inputs, op._inbound_nodes[node_index].input_tensors[0])
    if act_name in _SQUASHING:
        if kind != "Dense":
            raise ValueError(f"the last layer {op.name!r} ({kind}) applies {act_name}; only a "
                             "Dense head can be read before its activation. Give a model that "
                             "outputs logits.")
        h = op._inbound_nodes[node_index].input_tensors[0]
        return keras.Model(inputs, _make_pre_activation_layer()(op)(h))
    return keras.Model(inputs, out)


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def _make_pre_activation_layer():
    keras = _keras()
    from keras import ops

    class PreActivation(keras.layers.Layer):
        """Returns the pre-softmax (pre-sigmoid) output of a layer, sharing its variables."""

        def __init__(self, inner, **kwargs):
            super().__init__(name=f"{inner.name}_logits", **kwargs)
            self.inner = inner
            self.built = True

        def call(self, x):
            inner = self.inner
            if isinstance(inner, keras.layers.Dense):
                y = ops.matmul(x, inner.kernel)
                if inner.bias is not None:
                    y = ops.add(y, inner.bias)
                return y
            # Any other layer with an `activation` attribute (e.g. a 1 x 1 Conv2D head): call it
            # with a linear activation. The swap lasts only while the graph is being traced and
            # is undone before returning, so the caller's layer keeps its activation.
            saved = inner.activation
            try:
                inner.activation = keras.activations.linear
                return inner.call(x)
            finally:
                inner.activation = saved

        def compute_output_shape(self, input_shape):
            return self.inner.compute_output_shape(input_shape)

    return PreActivation


def _pre_activation(layer, args, kwargs):
    keras = _keras()
    if isinstance(layer, (keras.layers.Softmax,)) or (
            isinstance(layer, keras.layers.Activation) and _activation_name(layer) in _SQUASHING):
        return args[0]
    if _activation_name(layer) in _SQUASHING:
        return _make_pre_activation_layer()(layer)(args[0])
    return layer(*args, **kwargs)


def probe_model(model, target, kind, linearize, output_index):
    """A model from ``model``'s inputs to ``[A, score]``: a layer's activations and the scores.

    The probe of every explanation method (:mod:`cvkit.explain`): one pass gives the target
    activations :math:`A` and the class scores :math:`y`, so that :math:`\\partial y^c /
    \\partial A` is one gradient. It shares every layer (so every weight) with ``model``, and
    reaches into nested models; the caller's model is not changed.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential, possibly holding nested models.
    target : LayerRef or None
        The layer to read, as :func:`find_layer` returns it for ``model``; ``None`` for a probe
        of the scores alone.
    kind : {'output', 'input'}
        Read the layer's output or its input as :math:`A`.
    linearize : bool
        Read the scores before a softmax / sigmoid of the scoring layer (the logits); see
        :func:`logit_model`.
    output_index : int
        Which output of ``model`` holds the scores.

    Returns
    -------
    keras.Model
        Outputs ``[A, score]``, or ``[score]`` when ``target`` is None; called on the image
        batch ``x``.

    Raises
    ------
    ValueError
        When the layer is not connected to the scores, or is called more than once (shared).

    Examples
    --------
    >>> import keras, numpy as np
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(3, activation="relu", name="hidden")(x)
    >>> model = keras.Model(x, keras.layers.Dense(2, activation="softmax", name="head")(h))
    >>> probe = probe_model(model, find_layer(model, "hidden"), "output", True, 0)
    >>> [tuple(t.shape) for t in probe.outputs]
    [(None, 3), (None, 2)]
    >>> a, score = probe(np.ones((1, 4), np.float32))
    >>> head = model.get_layer("head")   # the scores are h W + b, before the softmax
    >>> bool(np.allclose(score, a.numpy() @ head.kernel.numpy() + head.bias.numpy(), atol=1e-6))
    True
    >>> len(probe_model(model, None, "output", True, 0).outputs)
    1
    """
    keras = _keras()
    score_layer = output_layer(model, output_index)
    nxt = target.path[0] if (target is not None and target.path) else None
    captured = []

    def call_fn(layer, *args, **kwargs):
        is_score = linearize and layer is score_layer
        if nxt is not None and layer is nxt:
            sub = LayerRef(target.path[1:], target.layer)
            probe = probe_model(layer, sub, kind, is_score, 0)
            outs = probe(*args, **kwargs)
            captured.append(outs[0])
            return outs[1]
        if target is not None and nxt is None and layer is target.layer:
            if kind == "input":
                captured.append(args[0])
            out = layer(*args, **kwargs)
            if kind == "output":
                captured.append(out)
            return out
        if is_score:
            if is_container(layer):
                probe = probe_model(layer, None, kind, True, 0)
                return probe(*args, **kwargs)
            return _pre_activation(layer, args, kwargs)
        return layer(*args, **kwargs)

    if isinstance(model, keras.Sequential):
        x = inp = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        for layer in model.layers:
            x = call_fn(layer, x)
        outputs = [x]
        inputs = [inp]
    else:
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer,
                                         call_function=call_fn)
        inputs = clone.inputs
        outputs = clone.outputs
    score = outputs[output_index]
    inputs = _one_or_list(inputs)    # a single input, not a list of one (Keras warns otherwise)
    if target is None:
        return keras.Model(inputs, [score])
    if len(captured) != 1:
        raise ValueError(f"`layer`: {target.name!r} is " + (
            "not connected to the model's output." if not captured else
            "called more than once in the model (a shared layer); pick an unshared layer."))
    return keras.Model(inputs, [captured[0], score])
