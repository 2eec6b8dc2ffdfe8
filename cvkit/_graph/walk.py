"""Walking a Keras model's graph: its layers (nested models too), finding one, the node where a layer
is called, a layer's output shape, the layer behind an output."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LayerRef", "is_container", "is_graph_model", "graph_of", "graph_nodes", "walk_layers",
           "layer_names", "find_layer", "producer", "layer_io", "output_shape", "output_layer"]


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


def _node(parent, layer):
    """The node where ``layer`` is called inside ``parent``'s graph (a layer shared by several
    models has one node per call; ``layer.output`` is ambiguous then)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    graph = graph_of(parent) if is_graph_model(parent) else None
    own = getattr(graph, "_nodes", None)
    if own is not None:
        for i, node in enumerate(nodes):
            if f"{id(layer)}_ib-{i}" in own:
                return node
    return nodes[0] if len(nodes) == 1 else None


def layer_io(parent, layer, which):
    """The symbolic input or output tensor of ``layer`` where ``parent``'s graph calls it.

    A layer shared by several models has one node per call, so ``layer.input`` /
    ``layer.output`` do not say which call is meant; this reads the call made inside ``parent``.

    Parameters
    ----------
    parent : keras.Model
        The functional or Sequential model whose graph calls ``layer`` (for a layer inside a
        nested model, that nested model: :meth:`LayerRef.parent`).
    layer : keras.layers.Layer
    which : {'input', 'output'}
        Read the tensor going into the layer or the one coming out of it.

    Returns
    -------
    KerasTensor or None
        ``None`` when the layer is not called in ``parent`` (and called more than once elsewhere),
        or when that call takes or gives several tensors (the inputs of an ``Add``).

    Examples
    --------
    >>> import keras
    >>> pool = keras.layers.MaxPooling2D(2, name="pool")
    >>> small, large = keras.Input((4, 4, 3)), keras.Input((8, 8, 3))
    >>> m_small, m_large = keras.Model(small, pool(small)), keras.Model(large, pool(large))
    >>> layer_io(m_large, pool, "input") is large
    True
    >>> [tuple(layer_io(m, pool, "output").shape) for m in (m_small, m_large)]
    [(None, 2, 2, 3), (None, 4, 4, 3)]
    >>> a, b = keras.Input((3,)), keras.Input((3,))
    >>> add = keras.layers.Add()
    >>> print(layer_io(keras.Model([a, b], add([a, b])), add, "input"))   # two inputs
    None
    """
    node = _node(parent, layer)
    if node is None:
        return None
    tensors = node.outputs if which == "output" else node.input_tensors
    return tensors[0] if len(tensors) == 1 else None


def output_shape(layer, parent=None):
    """The output shape of ``layer``, batch axis included (``None`` where it is free).

    Parameters
    ----------
    layer : keras.layers.Layer
        A layer that has been called on a symbolic input (it belongs to a built model).
    parent : keras.Model, optional
        The model whose call of ``layer`` is meant (see :func:`layer_io`); without it, the
        layer's own ``output``.

    Returns
    -------
    tuple or None
        ``None`` for a layer never called, or one with several outputs.

    Examples
    --------
    >>> import keras
    >>> seq = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, name="conv")])
    >>> output_shape(seq.get_layer("conv"), seq)   # 8 - 3 + 1 = 6, 2 filters
    (None, 6, 6, 2)
    >>> pool = keras.layers.MaxPooling2D(2)
    >>> small, large = keras.Input((4, 4, 3)), keras.Input((8, 8, 3))
    >>> m_small, m_large = keras.Model(small, pool(small)), keras.Model(large, pool(large))
    >>> output_shape(pool, m_small), output_shape(pool, m_large)
    ((None, 2, 2, 3), (None, 4, 4, 3))
    >>> print(output_shape(keras.layers.Dense(3)))   # never called: no shape yet
    None
    """
    out = layer_io(parent, layer, "output") if parent is not None else None
    if out is None:
        try:
            out = layer.output
        except (AttributeError, ValueError, RuntimeError):
            return None
    if isinstance(out, (list, tuple)):
        return None
    try:
        return tuple(out.shape)
    except Exception:  # pragma: no cover - exotic layers
        return None


def output_layer(model, index=0):
    """The layer that produces output ``index`` of ``model`` (the last layer of a Sequential).

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model.
    index : int
        Which output, for a model with several (a localizer's class and box heads).

    Returns
    -------
    keras.layers.Layer
        A nested model when the output comes out of one (walk on with ``output_layer(layer)``).

    Examples
    --------
    >>> import keras
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(3, name="hidden")(x)
    >>> two = keras.Model(x, [keras.layers.Dense(2, name="cls")(h),
    ...                       keras.layers.Dense(4, name="box")(h)])
    >>> output_layer(two).name, output_layer(two, 1).name
    ('cls', 'box')
    >>> seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="last")])
    >>> output_layer(seq).name
    'last'
    """
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return model.layers[-1]
    return producer(model.outputs[index])
