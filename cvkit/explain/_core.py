"""The one core every explanation method in :mod:`cvkit.explain` runs on.

It does three things, once, for all methods:

1. **Find the target layer** by name (``'Conv_1'`` or a path ``'mobilenetv2_1.00_224/Conv_1'``), by
   layer object, or automatically (the last layer with a 4-D output whose spatial size is above 1),
   also inside nested models such as a MobileNetV2 used as a layer of the classifier.
2. **Build a probe**: a Keras model that shares every layer (and so every weight) with the caller's
   model and returns the target activations :math:`A` and the class scores. The probe is built by
   re-running the model's graph (``keras.models.clone_model`` with the layers themselves as
   clones), so a layer inside a nested model is reachable without the "Graph disconnected" error.
   When the scoring layer squashes its output (softmax or sigmoid), the probe reads the
   pre-activation instead (for ``Dense``: :math:`x W + b`, computed from the layer's own variables),
   so scores are logits and the caller's model is never modified.
3. **Run one compiled pass** (``tf.function`` with a fixed input signature, cached per model, layer
   and output; no retrace per call or per batch size) that returns :math:`A`,
   :math:`\partial y^c / \partial A` and the logits, in chunks of ``batch_size`` images.

The methods (:mod:`.cam`, :mod:`.gradcam`, :mod:`.rise`) only turn :math:`(A, \partial y^c/\partial A)`
into a map.
"""
from __future__ import annotations

import collections
import numbers
import weakref
from dataclasses import dataclass

import numpy as np

from .._validate import as_images, check_int, restore_rank
from .upsample import UPSAMPLE_METHODS, normalize_maps, upsample_maps

__all__ = [
    "LayerRef",
    "find_layer",
    "conv_layer_candidates",
    "PassResult",
    "activations_and_gradients",
    "get_probe",
    "clear_cache",
]

_SQUASHING = ("softmax", "sigmoid", "log_softmax")
_CACHE_SIZE = 16


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


def _is_container(layer):
    keras = _keras()
    return isinstance(layer, keras.Model)


def _walk(model, path=()):
    """Every non-input layer of ``model`` with its path, nested models expanded in place."""
    keras = _keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if _is_container(layer):
            yield from _walk(layer, path + (layer,))
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


def _layer_io(parent, layer, which):
    node = _node(parent, layer)
    if node is None:
        return None
    tensors = node.outputs if which == "output" else node.input_tensors
    return tensors[0] if len(tensors) == 1 else None


def _output_shape(layer, parent=None):
    out = _layer_io(parent, layer, "output") if parent is not None else None
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
    _check_model(model)
    out = []
    for ref in _walk(model):
        if _is_container(ref.layer):
            continue
        shape = _output_shape(ref.layer, ref.parent(model))
        if _is_spatial(shape) and _spatial_above_one(shape):
            out.append(ref.name)
    return out


def _check_model(model):
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


def _candidates_message(model):
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
        ``list(_walk(model))`` when the caller has it already.
    none_ok : bool
        Whether the caller accepts None (said in the TypeError for other types).

    Returns
    -------
    LayerRef

    Shared by :func:`find_layer` and :func:`cvkit.visualize.find_layer`.
    """
    keras = _keras()
    refs = list(_walk(model)) if refs is None else refs
    listing = _candidates_message if candidates is None else candidates
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
    _check_model(model)
    refs = list(_walk(model))
    if layer is None:
        for ref in reversed(refs):
            if _is_container(ref.layer):
                continue
            shape = _output_shape(ref.layer, ref.parent(model))
            if _is_spatial(shape) and _spatial_above_one(shape):
                return ref
        raise ValueError("`layer=None`: found no layer with a 4-D output larger than 1 x 1 in "
                         f"model {model.name!r}; give `layer` explicitly.")
    ref = resolve_layer(model, layer, refs=refs, none_ok=True)
    shape = _output_shape(ref.layer, ref.parent(model))
    if shape is not None and not _is_spatial(shape):
        raise ValueError(f"`layer`: {ref.name!r} has output shape {shape}, not a 4-D (N, H, W, C) "
                         "feature map; class activation maps need a convolutional layer. "
                         + _candidates_message(model))
    if shape is not None and not _spatial_above_one(shape):
        raise ValueError(f"`layer`: {ref.name!r} has a 1 x 1 spatial output {shape}: its map "
                         "cannot localise anything. Pick an earlier layer. "
                         + _candidates_message(model))
    return ref


# --------------------------------------------------------------------------------------------
# The probe: a model sharing the caller's layers that returns (A, logits)
# --------------------------------------------------------------------------------------------

def _producer(tensor):
    hist = getattr(tensor, "_keras_history", None)
    return hist[0] if hist is not None else None


def _output_layer(model, index=0):
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return model.layers[-1]
    return _producer(model.outputs[index])


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


def _build_probe(model, target, kind, linearize, output_index):
    """Keras model: input -> [A, score] (or [score] when ``target`` is None).

    ``target`` is a LayerRef relative to ``model``; ``kind`` is 'output' (the layer's output) or
    'input' (its input). ``linearize`` replaces a softmax/sigmoid on the scoring layer by its
    pre-activation.
    """
    keras = _keras()
    score_layer = _output_layer(model, output_index)
    nxt = target.path[0] if (target is not None and target.path) else None
    captured = []

    def call_fn(layer, *args, **kwargs):
        is_score = linearize and layer is score_layer
        if nxt is not None and layer is nxt:
            sub = LayerRef(target.path[1:], target.layer)
            probe = _build_probe(layer, sub, kind, is_score, 0)
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
            if _is_container(layer):
                probe = _build_probe(layer, None, kind, True, 0)
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


def _resolve_output(model, output):
    n = len(model.outputs)
    if output is None:
        if n > 1:
            names = [getattr(_producer(t), "name", str(i)) for i, t in enumerate(model.outputs)]
            raise ValueError(f"`output`: the model has {n} outputs {names}; say which one scores the "
                             "classes with `output=<index or layer name>`.")
        return 0
    if isinstance(output, str):
        names = [getattr(_producer(t), "name", None) for t in model.outputs]
        if output not in names:
            raise ValueError(f"`output`: no output named {output!r}; the outputs are {names}.")
        return names.index(output)
    return check_int(output, "output", 0, n - 1)


class _Probe:
    """A compiled pass over one (model, layer, output): A, dy^c/dA and logits per chunk."""

    def __init__(self, model, target, kind, output_index, logits=True):
        import tensorflow as tf

        self.target = target
        self.traces = 0
        self.extras = {}
        self.model_ref = weakref.ref(model)
        self.keras_model = _build_probe(model, target, kind, logits, output_index)
        in_shape = tuple(model.inputs[0].shape)
        self.input_shape = in_shape
        out_shape = tuple(self.keras_model.outputs[-1].shape)
        self.n_classes = int(np.prod([d for d in out_shape[1:] if d is not None])) \
            if all(d is not None for d in out_shape[1:]) else None
        spec = tf.TensorSpec((None,) + in_shape[1:], tf.float32)
        cls_spec = tf.TensorSpec((None,), tf.int32)
        self._grad = tf.function(self._grad_py, input_signature=[spec, cls_spec])
        self._fwd = tf.function(self._fwd_py, input_signature=[spec, cls_spec])

    def _run(self, x):
        import tensorflow as tf

        outs = self.keras_model(x, training=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        logits = tf.cast(outs[-1], tf.float32)
        logits = tf.reshape(logits, (tf.shape(logits)[0], -1))
        a = tf.cast(outs[0], tf.float32) if len(outs) == 2 else None
        return a, logits

    @staticmethod
    def _pick(logits, cls):
        import tensorflow as tf

        pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
        cls = tf.where(cls < 0, pred, cls)
        return cls, tf.gather(logits, cls, batch_dims=1)

    def _grad_py(self, x, cls):
        import tensorflow as tf

        self.traces += 1  # Python side effect: runs only while tracing
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            a, logits = self._run(x)
            cls, score = self._pick(logits, cls)
        grads = tape.gradient(score, a)
        if grads is None:  # pragma: no cover - the score does not depend on the layer
            grads = tf.zeros_like(a)
        return a, grads, logits, cls

    def _fwd_py(self, x, cls):
        self.traces += 1
        a, logits = self._run(x)
        cls, _ = self._pick(logits, cls)
        if a is None:
            return logits, cls
        return a, logits, cls


_PROBES = collections.OrderedDict()


def clear_cache():
    """Forget every compiled probe (they are rebuilt on the next call)."""
    _PROBES.clear()


def get_probe(model, layer=None, output=None, kind="output", scores_only=False):
    """The cached compiled probe for (model, layer, output); built on first use."""
    _check_model(model)
    out_index = _resolve_output(model, output)
    target = None if scores_only else (layer if isinstance(layer, LayerRef) else find_layer(model, layer))
    key = (id(model), None if target is None else (tuple(id(c) for c in target.path),
                                                    id(target.layer)), kind, out_index)
    hit = _PROBES.get(key)
    if hit is not None and hit.model_ref() is model:
        _PROBES.move_to_end(key)
        return hit
    probe = _Probe(model, target, kind, out_index)
    _PROBES[key] = probe
    while len(_PROBES) > _CACHE_SIZE:
        _PROBES.popitem(last=False)
    return probe


# --------------------------------------------------------------------------------------------
# Inputs, class indices, chunks, output maps
# --------------------------------------------------------------------------------------------

def prepare_images(images, model=None, name="images"):
    """Images (batch, single image or tf.data dataset) -> (float32 NHWC [0, 1], single)."""
    if model is not None:
        _check_model(model)
    try:
        import tensorflow as tf

        is_ds = isinstance(images, tf.data.Dataset)
    except ImportError:  # pragma: no cover
        is_ds = False
    if is_ds:
        parts = []
        for elem in images.as_numpy_iterator():
            if isinstance(elem, (tuple, list)):
                elem = elem[0]
            if isinstance(elem, dict):
                raise TypeError(f"`{name}`: dataset elements that are dicts are not supported; map "
                                "the dataset to images (or (images, labels)) first.")
            arr, _ = as_images(elem, name)
            parts.append(arr)
        if not parts:
            raise ValueError(f"`{name}`: the dataset is empty.")
        x, single = np.concatenate(parts, axis=0), False
    else:
        x, single = as_images(images, name)
    if model is not None:
        want = tuple(model.inputs[0].shape)[1:]
        got = x.shape[1:]
        if len(want) != 3 or any(w is not None and w != g for w, g in zip(want, got)):
            raise ValueError(f"`{name}` of shape {x.shape} do not fit the model input {tuple(model.inputs[0].shape)}"
                             "; resize them (H, W) or convert the channels first.")
    return x, single


def class_indices(class_index, n, n_classes, name="class_index"):
    """None / int / one per image -> int32 array of length n; -1 means 'the predicted class'."""
    if class_index is None:
        return np.full(n, -1, np.int32)
    if isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
        arr = np.full(n, int(class_index), np.int64)
    else:
        arr = np.asarray(class_index)
        if arr.ndim == 0 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"`{name}` must be None, an int or one int per image; got "
                            f"{type(class_index).__name__} {str(class_index)[:80]}.")
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"`{name}` must hold one class per image ({n}); got shape {arr.shape}.")
    if n_classes is not None and (arr.min() < 0 or arr.max() >= n_classes):
        bad = int(arr[(arr < 0) | (arr >= n_classes)][0])
        raise ValueError(f"`{name}` must be in [0, {n_classes - 1}] (the model scores {n_classes} "
                         f"classes); got {bad}.")
    return arr.astype(np.int32)


def check_batch_size(batch_size):
    return check_int(batch_size, "batch_size", 1)


@dataclass
class PassResult:
    """What the core returns: the target activations, the gradients of the class score with respect
    to them, the logits, the class explained per image and the layer used."""

    activations: np.ndarray   # (N, h, w, K)
    gradients: np.ndarray     # (N, h, w, K) or None
    logits: np.ndarray        # (N, n_classes)
    class_index: np.ndarray   # (N,)
    layer: str


def run_pass(model, x, class_index=None, layer=None, output=None, batch_size=32, gradients=True,
             kind="output"):
    """Run the compiled pass over ``x`` (already prepared) in chunks of ``batch_size``."""
    batch_size = check_batch_size(batch_size)
    probe = get_probe(model, layer, output, kind=kind)
    cls = class_indices(class_index, len(x), probe.n_classes)
    acts, grads, logits, used = [], [], [], []
    fn = probe._grad if gradients else probe._fwd
    for s in range(0, len(x), batch_size):
        outs = fn(x[s:s + batch_size], cls[s:s + batch_size])
        outs = [o.numpy() for o in outs]
        acts.append(outs[0])
        if gradients:
            grads.append(outs[1])
        logits.append(outs[-2])
        used.append(outs[-1])
    a = np.concatenate(acts)
    if a.shape[1] * a.shape[2] <= 1:
        raise ValueError(f"`layer`: {probe.target.name!r} gives a {a.shape[1]} x {a.shape[2]} map "
                         "for these images: its map cannot localise anything. Pick an earlier layer. "
                         + _candidates_message(model))
    return PassResult(a, np.concatenate(grads) if gradients else None, np.concatenate(logits),
                      np.concatenate(used), probe.target.name)


def activations_and_gradients(model, images, class_index=None, layer=None, output=None,
                              batch_size=32):
    r"""The core pass: activations :math:`A^k`, gradients :math:`\partial y^c/\partial A^k_{ij}`,
    logits and the class explained, for a batch, a single image or a ``tf.data`` dataset.

    :math:`y^c` is the pre-softmax score of class :math:`c` (the model is not changed). This is what
    every Grad-CAM variant in :mod:`cvkit.explain` starts from; ``notebooks/03_gradcam_deep_dive.ipynb``
    uses it to compute the channel weights by hand.

    Parameters
    ----------
    model : keras.Model
    images : array-like (N, H, W, C) or (H, W, C), uint8 or float in [0, 1], or tf.data.Dataset
    class_index : None, int or sequence of int
        None explains the predicted class of each image.
    layer : None, str or keras layer
        See :func:`find_layer`.
    output : None, int or str
        Which output scores the classes, for a model with several outputs.
    batch_size : int
        Images per compiled call.

    Returns
    -------
    PassResult
        ``activations`` and ``gradients`` (N, h, w, K), ``logits`` (N, classes), ``class_index`` (N,)
        and ``layer`` (the layer's path name). A single image keeps the batch axis of size 1.
    """
    x, _ = prepare_images(images, model)
    return run_pass(model, x, class_index, layer, output, batch_size, gradients=True)


def check_upsample(upsample):
    if upsample is True:
        return "bilinear"
    if upsample is False or upsample is None:
        return None
    if isinstance(upsample, str):
        from .._validate import check_choice

        return check_choice(upsample, "upsample", UPSAMPLE_METHODS)
    raise TypeError(f"`upsample` must be True, False or one of {list(UPSAMPLE_METHODS)}; got "
                    f"{upsample!r}.")


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {value!r}.")
    return bool(value)


def finish(maps, size, upsample, normalize, single):
    """Up-sample to the image size, normalise, restore the caller's rank."""
    maps = np.asarray(maps, np.float32)
    if upsample is not None:
        maps = upsample_maps(maps, size, upsample)
    if normalize:
        maps = normalize_maps(maps)
    return restore_rank(maps.astype(np.float32, copy=False), single)


def explain_with(weight_fn, model, images, class_index, layer, upsample, normalize, batch_size,
                 output):
    """Shared body of the gradient methods: core pass -> ``weight_fn(A, G)`` -> map."""
    upsample = check_upsample(upsample)
    normalize = check_bool(normalize, "normalize")
    batch_size = check_batch_size(batch_size)
    x, single = prepare_images(images, model)
    res = run_pass(model, x, class_index, layer, output, batch_size, gradients=True)
    maps = weight_fn(res.activations.astype(np.float64), res.gradients.astype(np.float64))
    return finish(maps, x.shape[1:3], upsample, normalize, single)
