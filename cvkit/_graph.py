"""The one place that touches Keras graph internals.

Functional and Sequential Keras 3 models are graphs of nodes (one node per layer call). The
techniques of :mod:`cvkit.inside` need to look into those graphs: list every layer, also inside a
nested model (a MobileNetV2 used as a layer), find one by name, by ``"outer/inner"`` path or by
object, build a model that also returns the output of an inner layer, read the class score before
the softmax, and rebuild a model with some layers replaced (batch-norm folding). Each of those is a
small function here, so that the private attributes of Keras (``_functional``, ``_nodes_by_depth``,
``_keras_history``, ``_run_through_graph``) are read in this module and nowhere else.

Keras is imported on first use: ``import cvkit._graph`` stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LayerRef",
    "is_container",
    "is_graph_model",
    "graph_of",
    "graph_nodes",
    "walk_layers",
    "layer_names",
    "find_layer",
    "producer",
    "tap_model",
    "logit_model",
    "consumers",
    "layer_calls",
    "rebuild",
]

_SQUASHING = ("softmax", "sigmoid", "log_softmax")


def _keras():
    import keras

    return keras


def _one_or_list(tensors):
    """A single tensor rather than a list of one (avoids Keras' input-structure warning)."""
    tensors = list(tensors)
    return tensors[0] if len(tensors) == 1 else tensors


# --------------------------------------------------------------------------------------------
# the graph of a model
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LayerRef:
    """A layer and the chain of nested models that holds it (outermost first).

    Attributes
    ----------
    path : tuple of keras.Model
        The containers from the top model down to the layer's parent, the top model excluded
        (empty for a top-level layer).
    layer : keras.layers.Layer

    Examples
    --------
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")],
    ...                          name="inner")
    >>> inp = keras.Input((4,))
    >>> model = keras.Model(inp, inner(inp))
    >>> ref = find_layer(model, "d")
    >>> ref.name, ref.parent(model) is inner, len(ref.chain)
    ('inner/d', True, 2)
    """

    path: tuple
    layer: object

    def parent(self, model):
        """The model whose graph calls the layer (the innermost container, or ``model``)."""
        return self.path[-1] if self.path else model

    @property
    def chain(self):
        """``path + (layer,)``: every layer from the top model's level down to this one."""
        return tuple(self.path) + (self.layer,)

    @property
    def name(self):
        """The ``"outer/inner"`` path name of the layer."""
        return "/".join([c.name for c in self.path] + [self.layer.name])

    def __repr__(self):
        return f"LayerRef({self.name!r})"


def is_container(layer):
    """Whether ``layer`` is itself a model (a nested model holds layers of its own).

    Examples
    --------
    >>> import keras
    >>> is_container(keras.Sequential([keras.layers.Dense(1)])), is_container(keras.layers.Dense(1))
    (True, False)
    """
    return isinstance(layer, _keras().Model)


def is_graph_model(obj):
    """Whether ``obj`` is a functional or Sequential model (one with a layer graph to walk).

    Examples
    --------
    >>> import keras
    >>> class Sub(keras.Model):
    ...     def call(self, x):
    ...         return x
    >>> seq = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> is_graph_model(seq), is_graph_model(Sub())
    (True, False)
    """
    keras = _keras()
    return isinstance(obj, keras.Sequential) or (isinstance(obj, keras.Model)
                                                 and hasattr(obj, "_nodes_by_depth"))


def graph_of(model, name="model"):
    """The functional graph behind ``model`` (a built Sequential keeps one in ``_functional``).

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model.
    name : str
        The argument's name in error messages.

    Returns
    -------
    keras.Model
        A functional model with ``inputs``, ``outputs`` and its nodes.

    Raises
    ------
    TypeError
        For a subclassed model (no layer graph) or anything that is not a Keras model.
    ValueError
        For a Sequential model that is not built yet.

    Examples
    --------
    >>> import keras
    >>> seq = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    >>> [tuple(t.shape) for t in graph_of(seq).outputs]
    [(None, 6, 6, 2)]
    """
    keras = _keras()
    if isinstance(model, keras.Sequential):
        fn = getattr(model, "_functional", None)
        if fn is None:
            raise ValueError(f"`{name}` is a Sequential model that is not built; start it with "
                             "keras.Input(shape) or call it once on a batch.")
        return fn
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        return model
    raise TypeError(f"`{name}` must be a Keras functional or Sequential model (a subclassed model "
                    f"has no layer graph to walk); got {type(model).__name__}.")


def graph_nodes(model):
    """The nodes (layer calls) of ``model``'s graph in execution order, input nodes left out.

    Each node has ``operation`` (the layer), ``input_tensors`` and ``outputs``; a nested model is
    one node of the outer graph.

    Examples
    --------
    >>> import keras
    >>> seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                         keras.layers.Dense(2, name="b")])
    >>> [node.operation.name for node in graph_nodes(seq)]
    ['a', 'b']
    """
    graph = graph_of(model)
    out = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            out.append(node)
    return out


def _walk(model, path=()):
    keras = _keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if is_container(layer):
            yield from _walk(layer, path + (layer,))
        yield LayerRef(path, layer)


def walk_layers(model):
    """Every layer of ``model`` as a :class:`LayerRef`, nested models expanded in place (their
    layers first, then the nested model itself).

    Examples
    --------
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")],
    ...                          name="inner")
    >>> inp = keras.Input((4,))
    >>> model = keras.Model(inp, keras.layers.Dense(1, name="head")(inner(inp)))
    >>> [ref.name for ref in walk_layers(model)]
    ['inner/d', 'inner', 'head']
    """
    graph_of(model)
    return list(_walk(model))


def layer_names(model, limit=12):
    """The path names of ``model``'s layers, comma separated, at most ``limit`` of them (for error
    messages).

    Examples
    --------
    >>> import keras
    >>> seq = keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(1, name=f"d{i}")
    ...                                               for i in range(4)])
    >>> layer_names(seq, limit=2)
    'd0, d1 ... (4 in all)'
    """
    names = [ref.name for ref in walk_layers(model)]
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def find_layer(model, layer, name="layer", candidates=None):
    """Locate a layer of ``model``, also inside nested models.

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model.
    layer : str, keras.layers.Layer or LayerRef
        A layer name (searched at every nesting depth, the outermost match wins), a path
        ``"outer/inner"``, the layer object itself, or a :class:`LayerRef` of this model.
    name : str
        The argument's name in error messages.
    candidates : callable, optional
        ``candidates(model) -> str``, the text appended to the error when nothing matches
        (default: the first layer names, :func:`layer_names`).

    Returns
    -------
    LayerRef
        ``ref.layer`` is the layer, ``ref.path`` the nested models that hold it, ``ref.chain``
        both, ``ref.name`` its path name.

    Examples
    --------
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")],
    ...                          name="inner")
    >>> inp = keras.Input((4,))
    >>> model = keras.Model(inp, keras.layers.Dense(1, name="head")(inner(inp)))
    >>> find_layer(model, "d"), find_layer(model, "inner/d").layer is inner.get_layer("d")
    (LayerRef('inner/d'), True)
    >>> find_layer(model, "e")
    Traceback (most recent call last):
    ...
    ValueError: `layer`: no layer named 'e' in model ... Its layers are: inner/d, inner, head.
    """
    keras = _keras()
    refs = walk_layers(model)
    listing = candidates or (lambda m: f"Its layers are: {layer_names(m)}.")
    if isinstance(layer, LayerRef):
        matches = [r for r in refs if r.layer is layer.layer and r.path == tuple(layer.path)]
    elif isinstance(layer, str):
        if "/" in layer:
            matches = [r for r in refs if r.name == layer]
        else:
            matches = sorted((r for r in refs if r.layer.name == layer), key=lambda r: len(r.path))
        if not matches:
            raise ValueError(f"`{name}`: no layer named {layer!r} in model {model.name!r}. "
                             + listing(model))
    elif isinstance(layer, keras.layers.Layer):
        matches = [r for r in refs if r.layer is layer]
    else:
        raise TypeError(f"`{name}` must be a layer name (str) or a keras layer; got "
                        f"{type(layer).__name__} {layer!r}"[:300])
    if not matches:
        raise ValueError(f"`{name}`: the layer {layer.name!r} is not part of model "
                         f"{model.name!r}. " + listing(model))
    return matches[0]


def producer(tensor):
    """The layer whose call produced the symbolic ``tensor`` (``None`` for a model input's
    placeholder without history).

    Examples
    --------
    >>> import keras
    >>> dense = keras.layers.Dense(2, name="d")
    >>> producer(dense(keras.Input((3,)))) is dense
    True
    """
    hist = getattr(tensor, "_keras_history", None)
    return hist[0] if hist is not None else None


# --------------------------------------------------------------------------------------------
# models that read inside a model
# --------------------------------------------------------------------------------------------

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


def _pre_activation_layer():
    """The class of a layer that returns a Dense layer's :math:`xW + b` with its own variables."""
    keras = _keras()

    class PreActivation(keras.layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(name=f"{inner.name}_logits", **kwargs)
            self.inner = inner
            self.built = True

        def call(self, x):
            z = keras.ops.matmul(x, self.inner.kernel)
            return z + self.inner.bias if self.inner.use_bias else z

        def compute_output_shape(self, input_shape):
            return self.inner.compute_output_shape(input_shape)

    return PreActivation


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
        return keras.Model(inputs, _pre_activation_layer()(op)(h))
    return keras.Model(inputs, out)


# --------------------------------------------------------------------------------------------
# rebuilding a model
# --------------------------------------------------------------------------------------------

def consumers(model):
    """How many layer calls read each tensor of ``model``'s graph: ``{id(tensor): count}``.

    A tensor read once can be merged into its only reader (batch-norm folding).

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((4,))
    >>> h = keras.layers.Dense(3, name="a")(inp)
    >>> model = keras.Model(inp, keras.layers.Add()([keras.layers.Dense(3)(h), h]))
    >>> consumers(model)[id(h)]
    2
    """
    graph = graph_of(model)
    count = {}
    for depth in graph._nodes_by_depth.values():
        for node in depth:
            for t in node.input_tensors:
                count[id(t)] = count.get(id(t), 0) + 1
    return count


def layer_calls(model):
    """How often each layer is called in ``model``'s graph: ``{id(layer): count}`` (a shared layer
    is called more than once).

    Examples
    --------
    >>> import keras
    >>> dense = keras.layers.Dense(4, name="shared")
    >>> inp = keras.Input((4,))
    >>> model = keras.Model(inp, dense(dense(inp)))
    >>> layer_calls(model)[id(dense)]
    2
    """
    graph = graph_of(model)
    calls = {}
    for depth in graph._nodes_by_depth.values():
        for node in depth:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    return calls


def rebuild(model, replace, name=None):
    """A new model that runs ``model``'s graph with each layer ``op`` replaced by ``replace(op)``.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential.
    replace : callable
        ``replace(op)`` returns the callable to use in place of ``op`` (``op`` itself to keep it);
        it is called with the layer's arguments (``x``, ``training=...``).
    name : str, optional
        The new model's name.

    Returns
    -------
    keras.Model
        Layers that were not replaced are shared with ``model``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inp = keras.Input((2,))
    >>> model = keras.Model(inp, keras.layers.Dense(2, name="d")(keras.layers.Dropout(0.5)(inp)))
    >>> identity = lambda op: (lambda x, *a, **kw: x) if op.name == "d" else op
    >>> x = np.array([[1.0, 2.0]], np.float32)
    >>> rebuild(model, identity)(x, training=False).numpy()
    array([[1., 2.]], dtype=float32)
    """
    keras = _keras()
    graph = graph_of(model)
    outputs = _run(graph, replace)
    return keras.Model(_one_or_list(graph.inputs), outputs, name=name)
