"""Keras graph internals for the explain core: walking layers (nested models too), finding the target
layer, and rebuilding a model so that it also returns an inner tensor and scores as logits.

(To be merged into :mod:`cvkit._graph`.)
"""
from __future__ import annotations

from dataclasses import dataclass

from .._validate import check_int

__all__ = [
    "LayerRef",
    "walk",
    "is_container",
    "layer_io",
    "output_shape",
    "output_layer",
    "producer",
    "check_model",
    "conv_layer_candidates",
    "candidates_message",
    "resolve_layer",
    "find_layer",
    "resolve_output",
    "build_probe",
]

_SQUASHING = ("softmax", "sigmoid", "log_softmax")


def _keras():
    import keras

    return keras


# --------------------------------------------------------------------------------------------
# Finding layers
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LayerRef:
    """A layer and the chain of nested models that holds it (outermost first)."""

    path: tuple  # containers from the top model down to the layer's parent (excluding the top)
    layer: object

    def parent(self, model):
        """The model whose graph calls the layer (the innermost container, or ``model``)."""
        return self.path[-1] if self.path else model

    @property
    def name(self):
        return "/".join([c.name for c in self.path] + [self.layer.name])

    def __repr__(self):
        return f"LayerRef({self.name!r})"


def is_container(layer):
    keras = _keras()
    return isinstance(layer, keras.Model)


def walk(model, path=()):
    """Every non-input layer of ``model`` with its path, nested models expanded in place."""
    keras = _keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if is_container(layer):
            yield from walk(layer, path + (layer,))
        yield LayerRef(path, layer)


def _graph_of(model):
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    return model


def _node(parent, layer):
    """The node where ``layer`` is called inside ``parent``'s graph (a layer shared by several
    models has one node per call; ``layer.output`` is ambiguous then)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    graph = _graph_of(parent)
    own = getattr(graph, "_nodes", None)
    if own is not None:
        for i, node in enumerate(nodes):
            if f"{id(layer)}_ib-{i}" in own:
                return node
    return nodes[0] if len(nodes) == 1 else None


def layer_io(parent, layer, which):
    node = _node(parent, layer)
    if node is None:
        return None
    tensors = node.outputs if which == "output" else node.input_tensors
    return tensors[0] if len(tensors) == 1 else None


def output_shape(layer, parent=None):
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


def _is_spatial(shape):
    return shape is not None and len(shape) == 4


def _spatial_above_one(shape):
    h, w = shape[1], shape[2]
    return (h is None or h > 1) or (w is None or w > 1)


def conv_layer_candidates(model):
    """Names (with nested paths) of the layers whose output is a 4-D map larger than 1 x 1.

    These are the layers a class activation map can be read from; they are listed, in graph
    order, in the error raised for an unknown layer name.
    """
    check_model(model)
    out = []
    for ref in walk(model):
        if is_container(ref.layer):
            continue
        shape = output_shape(ref.layer, ref.parent(model))
        if _is_spatial(shape) and _spatial_above_one(shape):
            out.append(ref.name)
    return out


def check_model(model):
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras model (keras.Model); got {type(model).__name__}.")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError("`model` has no defined input: build it on an input shape first (give "
                         "`keras.Input(shape=...)` or call it once on a batch).")
    if not _is_graph_model(model):
        raise TypeError(f"`model` must be a Functional or Sequential Keras model (possibly nesting "
                        f"others); got the subclassed model {type(model).__name__}, whose "
                        "intermediate activations cannot be read. Rebuild it with the functional API.")
    if len(model.inputs) != 1:
        raise ValueError(f"`model` must have one image input; it has {len(model.inputs)} inputs.")


def _is_graph_model(model):
    keras = _keras()
    try:
        from keras.src.models.functional import Functional
    except ImportError:  # pragma: no cover - a Keras that moved the class
        return isinstance(model, keras.Sequential) or hasattr(model, "_nodes_by_depth")
    return isinstance(model, (Functional, keras.Sequential))


def candidates_message(model):
    cands = conv_layer_candidates(model)
    shown = ", ".join(repr(c) for c in cands[-25:])
    more = f" (last 25 of {len(cands)})" if len(cands) > 25 else ""
    return f"Candidate convolutional layers{more}: {shown}." if cands else \
        "The model has no layer with a 4-D output larger than 1 x 1."


def resolve_layer(model, layer, name="layer", candidates=None, refs=None, none_ok=False):
    """A layer of ``model`` by name, path or identity, nested models included (no shape check).

    Parameters
    ----------
    model : keras.Model
    layer : str or keras.layers.Layer
        A name (searched in the top model first, then deeper: the outermost match wins), a path
        through nested models (``'backbone/Conv_1'``), or the layer object.
    name : str
        The argument's name in error messages.
    candidates : callable, optional
        ``candidates(model)`` -> text listing layers to choose from, appended to the error when
        nothing matches (default: the convolutional candidates of a class activation map).
    refs : list of LayerRef, optional
        ``list(walk(model))`` when the caller has it already.
    none_ok : bool
        Whether the caller accepts None (said in the TypeError for other types).

    Returns
    -------
    LayerRef

    Shared by :func:`find_layer` and :func:`cvkit.visualize.find_layer`.
    """
    keras = _keras()
    refs = list(walk(model)) if refs is None else refs
    listing = candidates_message if candidates is None else candidates
    if isinstance(layer, str):
        if "/" in layer:
            matches = [r for r in refs if r.name == layer]
        else:
            matches = sorted((r for r in refs if r.layer.name == layer), key=lambda r: len(r.path))
        if not matches:
            raise ValueError(f"`{name}`: no layer named {layer!r} in model {model.name!r}. "
                             + listing(model))
    elif isinstance(layer, keras.layers.Layer):
        matches = [r for r in refs if r.layer is layer]
        if not matches:
            raise ValueError(f"`{name}`: the layer object {layer.name!r} is not part of model "
                             f"{model.name!r}. " + listing(model))
    else:
        raise TypeError(f"`{name}` must be {'None, ' if none_ok else ''}a layer name (str) or a "
                        f"keras layer; got {type(layer).__name__} {layer!r}"[:300])
    return matches[0]


def find_layer(model, layer=None):
    """Resolve the target layer of a class activation map.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential model, possibly holding nested models.
    layer : None, str or keras.layers.Layer
        None: the last layer (in graph order, nested models included) with a 4-D output whose
        spatial size is above 1 x 1. A str: a layer name, searched in the top model first and then in
        the nested models (``'Conv_1'``), or a path through nested models
        (``'mobilenetv2_1.00_224/Conv_1'``). A layer object: found by identity anywhere.

    Returns
    -------
    LayerRef
    """
    check_model(model)
    refs = list(walk(model))
    if layer is None:
        for ref in reversed(refs):
            if is_container(ref.layer):
                continue
            shape = output_shape(ref.layer, ref.parent(model))
            if _is_spatial(shape) and _spatial_above_one(shape):
                return ref
        raise ValueError("`layer=None`: found no layer with a 4-D output larger than 1 x 1 in "
                         f"model {model.name!r}; give `layer` explicitly.")
    ref = resolve_layer(model, layer, refs=refs, none_ok=True)
    shape = output_shape(ref.layer, ref.parent(model))
    if shape is not None and not _is_spatial(shape):
        raise ValueError(f"`layer`: {ref.name!r} has output shape {shape}, not a 4-D (N, H, W, C) "
                         "feature map; class activation maps need a convolutional layer. "
                         + candidates_message(model))
    if shape is not None and not _spatial_above_one(shape):
        raise ValueError(f"`layer`: {ref.name!r} has a 1 x 1 spatial output {shape}: its map "
                         "cannot localise anything. Pick an earlier layer. "
                         + candidates_message(model))
    return ref


# --------------------------------------------------------------------------------------------
# The probe: a model sharing the caller's layers that returns (A, logits)
# --------------------------------------------------------------------------------------------

def producer(tensor):
    hist = getattr(tensor, "_keras_history", None)
    return hist[0] if hist is not None else None


def output_layer(model, index=0):
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return model.layers[-1]
    return producer(model.outputs[index])


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


def build_probe(model, target, kind, linearize, output_index):
    """Keras model: input -> [A, score] (or [score] when ``target`` is None).

    ``target`` is a LayerRef relative to ``model``; ``kind`` is 'output' (the layer's output) or
    'input' (its input). ``linearize`` replaces a softmax/sigmoid on the scoring layer by its
    pre-activation.
    """
    keras = _keras()
    score_layer = output_layer(model, output_index)
    nxt = target.path[0] if (target is not None and target.path) else None
    captured = []

    def call_fn(layer, *args, **kwargs):
        is_score = linearize and layer is score_layer
        if nxt is not None and layer is nxt:
            sub = LayerRef(target.path[1:], target.layer)
            probe = build_probe(layer, sub, kind, is_score, 0)
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
                probe = build_probe(layer, None, kind, True, 0)
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
    if target is None:
        return keras.Model(inputs, [score])
    if len(captured) != 1:
        raise ValueError(f"`layer`: {target.name!r} is " + (
            "not connected to the model's output." if not captured else
            "called more than once in the model (a shared layer); pick an unshared layer."))
    return keras.Model(inputs, [captured[0], score])


def resolve_output(model, output):
    n = len(model.outputs)
    if output is None:
        if n > 1:
            names = [getattr(producer(t), "name", str(i)) for i, t in enumerate(model.outputs)]
            raise ValueError(f"`output`: the model has {n} outputs {names}; say which one scores the "
                             "classes with `output=<index or layer name>`.")
        return 0
    if isinstance(output, str):
        names = [getattr(producer(t), "name", None) for t in model.outputs]
        if output not in names:
            raise ValueError(f"`output`: no output named {output!r}; the outputs are {names}.")
        return names.index(output)
    return check_int(output, "output", 0, n - 1)


