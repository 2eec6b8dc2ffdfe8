"""The target of an explanation: the model check, the layer a class activation map is read from
(found automatically, or checked when given), and the output that scores the classes.

Built on :mod:`cvkit._graph`, which walks the model.
"""
from __future__ import annotations

from .._graph import (LayerRef, find_layer as _find, is_container, is_graph_model, output_shape,
                      producer, walk_layers)
from .._validate import check_int

__all__ = ["LayerRef", "check_model", "conv_layer_candidates", "candidates_message", "find_layer",
           "resolve_output"]


def _is_spatial(shape):
    return shape is not None and len(shape) == 4


def _spatial_above_one(shape):
    h, w = shape[1], shape[2]
    return (h is None or h > 1) or (w is None or w > 1)


def conv_layer_candidates(model):
    """Names (with nested paths) of the layers whose output is a 4-D map larger than 1 x 1.

    These are the layers a class activation map can be read from; they are listed, in graph
    order, in the error raised for an unknown layer name.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> conv_layer_candidates(small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4)))[:3]
    ['scale', 'conv1', 'bn1']
    """
    check_model(model)
    out = []
    for ref in walk_layers(model):
        if is_container(ref.layer):
            continue
        shape = output_shape(ref.layer, ref.parent(model))
        if _is_spatial(shape) and _spatial_above_one(shape):
            out.append(ref.name)
    return out


def check_model(model):
    """Raise unless ``model`` is a built Functional or Sequential Keras model with one input.

    Examples
    --------
    >>> check_model("model.keras")
    Traceback (most recent call last):
    ...
    TypeError: `model` must be a Keras model (keras.Model); got str.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras model (keras.Model); got {type(model).__name__}.")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError("`model` has no defined input: build it on an input shape first (give "
                         "`keras.Input(shape=...)` or call it once on a batch).")
    if not is_graph_model(model):
        raise TypeError(f"`model` must be a Functional or Sequential Keras model (possibly nesting "
                        f"others); got the subclassed model {type(model).__name__}, whose "
                        "intermediate activations cannot be read. Rebuild it with the functional API.")
    if len(model.inputs) != 1:
        raise ValueError(f"`model` must have one image input; it has {len(model.inputs)} inputs.")


def candidates_message(model):
    """The sentence listing the layers a class activation map can be read from (for errors).

    Examples
    --------
    >>> import keras
    >>> flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> candidates_message(flat)
    'The model has no layer with a 4-D output larger than 1 x 1.'
    """
    cands = conv_layer_candidates(model)
    shown = ", ".join(repr(c) for c in cands[-25:])
    more = f" (last 25 of {len(cands)})" if len(cands) > 25 else ""
    return f"Candidate convolutional layers{more}: {shown}." if cands else \
        "The model has no layer with a 4-D output larger than 1 x 1."


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

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (32, 32, 3), widths=(4, 4, 4, 4))
    >>> find_layer(model).name, find_layer(model, "conv2").name       # the last 4 x 4 map
    ('relu4', 'conv2')
    >>> find_layer(model, "probs")
    Traceback (most recent call last):
    ...
    ValueError: `layer`: 'probs' has output shape (None, 2), not a 4-D (N, H, W, C) feature map; ...
    """
    check_model(model)
    refs = walk_layers(model)
    if layer is None:
        for ref in reversed(refs):
            if is_container(ref.layer):
                continue
            shape = output_shape(ref.layer, ref.parent(model))
            if _is_spatial(shape) and _spatial_above_one(shape):
                return ref
        raise ValueError("`layer=None`: found no layer with a 4-D output larger than 1 x 1 in "
                         f"model {model.name!r}; give `layer` explicitly.")
    ref = _find(model, layer, candidates=candidates_message)
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


def resolve_output(model, output):
    """The index of the output that scores the classes: ``output`` is None (a model with one
    output), an index, or the name of the layer that produces it.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((4,))
    >>> two = keras.Model(inp, [keras.layers.Dense(3, name="cls")(inp),
    ...                         keras.layers.Dense(4, name="box")(inp)])
    >>> resolve_output(two, "box"), resolve_output(two, 0)
    (1, 0)
    """
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


