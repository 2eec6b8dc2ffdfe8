"""Rebuilding a model: who reads each tensor, how often a layer is called, and the graph re-run with
layers replaced (batch-norm folding)."""
from __future__ import annotations

from .walk import _keras, _one_or_list, graph_of
from .tap import _run

__all__ = ["consumers", "layer_calls", "rebuild"]


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
