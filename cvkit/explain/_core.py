r"""The one core every explanation method in :mod:`cvkit.explain` runs on.

A method does three things, always through the public functions of this module:

1. :func:`prepare` validates the arguments once (images, class, layer, up-sampling, batch size) and
   returns a :class:`Request`: the images as float32 NHWC in [0, 1], the compiled :class:`Probe` of
   (model, layer, output) and the class to explain per image. :func:`fix_classes` fixes the class on
   the clean images (the predicted one where none was asked), for the methods that then perturb the
   images (Smooth Grad-CAM++, Score-CAM, RISE, Augmented Grad-CAM).
2. The probe is a Keras model that shares every layer (and so every weight) with the caller's model
   and returns the target activations :math:`A` and the class scores, read before a final softmax or
   sigmoid (:func:`cvkit._graph.probe_model`), so scores are logits and the caller's model
   is never modified. Its passes are compiled (``tf.function`` with a fixed input signature, cached
   per model, layer and output; no retrace per call or per batch size).
3. :func:`compute_maps` runs one compiled pass per chunk of ``batch_size`` images that goes from the
   images to the finished maps: forward, :math:`\partial y^c / \partial A`, the method's map, then
   up-sampling and normalisation, all inside the same graph. Methods that build their map outside a
   gradient pass (Score-CAM, RISE) end with :func:`finish`.
"""
from __future__ import annotations

import collections
import numbers
import weakref
from dataclasses import dataclass, replace

import numpy as np

from .._validate import as_images, check_bool, check_choice, check_int, restore_rank
from .._graph import LayerRef, probe_model
from ._guards import check_scores, model_errors
from ._target import candidates_message, check_model, find_layer, resolve_output
from .upsample import (UPSAMPLE_METHODS, normalize_maps, normalize_maps_tf, upsample_maps,
                       upsample_maps_tf)

__all__ = [
    "Probe",
    "Request",
    "PassResult",
    "get_probe",
    "clear_cache",
    "prepare",
    "fix_classes",
    "run_pass",
    "compute_maps",
    "finish",
    "activations_and_gradients",
    "check_scores",
    "model_errors",
]

_CACHE_SIZE = 16


class Probe:
    """The compiled passes over one (model, layer, output).

    Attributes
    ----------
    keras_model : keras.Model
        Input -> [A, logits] (or [logits] for a probe without a layer), sharing the caller's layers.
    target : LayerRef or None
    n_classes : int or None
    traces : int
        How many times a compiled function of this probe was traced (tests check it stays small).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> probe = get_probe(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)), "conv2")
    >>> probe.n_classes, [tuple(t.shape) for t in probe.keras_model.outputs]
    (3, [(None, 8, 8, 4), (None, 3)])
    """

    def __init__(self, model, target, kind, output_index, logits=True):
        import tensorflow as tf

        self.target = target
        self.traces = 0
        self._cache = {}
        self.model_ref = weakref.ref(model)
        self.keras_model = probe_model(model, target, kind, logits, output_index)
        self.input_shape = tuple(model.inputs[0].shape)
        out_shape = tuple(self.keras_model.outputs[-1].shape)
        self.n_classes = int(np.prod(out_shape[1:])) if None not in out_shape[1:] else None
        self.image_spec = tf.TensorSpec((None,) + self.input_shape[1:], tf.float32)
        self.class_spec = tf.TensorSpec((None,), tf.int32)
        self.gradients = tf.function(self._gradients, input_signature=[self.image_spec,
                                                                       self.class_spec])
        self.predict = tf.function(self._predict, input_signature=[self.image_spec,
                                                                   self.class_spec])

    def forward(self, x):
        """``(A, logits)`` for a float32 batch, to be called inside a compiled function."""
        import tensorflow as tf

        outs = self.keras_model(x, training=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        logits = tf.cast(outs[-1], tf.float32)
        logits = tf.reshape(logits, (tf.shape(logits)[0], -1))
        a = tf.cast(outs[0], tf.float32) if len(outs) == 2 else None
        return a, logits

    @staticmethod
    def pick(logits, cls):
        """The class per image (-1 -> the predicted one) and its score :math:`y^c`."""
        import tensorflow as tf

        pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
        cls = tf.where(cls < 0, pred, cls)
        return cls, tf.gather(logits, cls, batch_dims=1)

    def _gradients(self, x, cls):
        a, grads, logits, cls = self.tape(x, cls)
        return a, grads, logits, cls

    def tape(self, x, cls):
        r"""``(A, \partial y^c/\partial A, logits, class)``, to be called inside a compiled function."""
        import tensorflow as tf

        self.traces += 1  # Python side effect: runs only while tracing
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            a, logits = self.forward(x)
            cls, score = self.pick(logits, cls)
        grads = tape.gradient(score, a)
        if grads is None:  # pragma: no cover - the score does not depend on the layer
            grads = tf.zeros_like(a)
        return a, grads, logits, cls

    def _predict(self, x, cls):
        self.traces += 1
        a, logits = self.forward(x)
        cls, _ = self.pick(logits, cls)
        return (logits, cls) if a is None else (a, logits, cls)

    def compiled(self, key, build):
        """A compiled function of this probe cached under ``key``; ``build()`` makes it once."""
        fn = self._cache.get(key)
        if fn is None:
            fn = self._cache[key] = build()
        return fn


_PROBES = collections.OrderedDict()


def clear_cache():
    """Forget every compiled probe (they are rebuilt on the next call).

    Examples
    --------
    >>> clear_cache()
    >>> len(_PROBES)
    0
    """
    _PROBES.clear()
    _FOUND.clear()


_FOUND = collections.OrderedDict()


def _find_layer_cached(model, layer):
    """:func:`find_layer`, remembered per (model, layer name or object): walking a large model's
    graph costs milliseconds, a call of a method on a small batch not much more."""
    if isinstance(layer, LayerRef):
        return layer
    key = (id(model), layer if isinstance(layer, (str, type(None))) else id(layer))
    hit = _FOUND.get(key)
    if hit is not None and hit[0]() is model and (layer is None or isinstance(layer, str)
                                                  or hit[1].layer is layer):
        return hit[1]
    ref = find_layer(model, layer)
    _FOUND[key] = (weakref.ref(model), ref)
    while len(_FOUND) > 4 * _CACHE_SIZE:
        _FOUND.popitem(last=False)
    return ref


def get_probe(model, layer=None, output=None, kind="output", scores_only=False):
    """The cached :class:`Probe` for (model, layer, output); built on first use.

    ``kind='input'`` taps the layer's input instead of its output (CAM reads the map entering the
    pooling layer); ``scores_only`` builds a probe without a layer (RISE).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> get_probe(model, "conv2") is get_probe(model, "conv2")      # compiled once, then cached
    True
    >>> get_probe(model, scores_only=True).target is None
    True
    """
    check_model(model)
    out_index = resolve_output(model, output)
    target = None if scores_only else _find_layer_cached(model, layer)
    key = (id(model), None if target is None else (tuple(id(c) for c in target.path),
                                                    id(target.layer)), kind, out_index)
    hit = _PROBES.get(key)
    if hit is not None and hit.model_ref() is model:
        _PROBES.move_to_end(key)
        return hit
    probe = _PROBES[key] = Probe(model, target, kind, out_index)
    while len(_PROBES) > _CACHE_SIZE:
        _PROBES.popitem(last=False)
    return probe


# --------------------------------------------------------------------------------------------
# Validating a call
# --------------------------------------------------------------------------------------------

def _images(images, model, name):
    """Images (batch, single image or tf.data dataset) -> (float32 NHWC [0, 1], single)."""
    import tensorflow as tf

    if isinstance(images, tf.data.Dataset):
        parts = []
        for elem in images.as_numpy_iterator():
            elem = elem[0] if isinstance(elem, (tuple, list)) else elem
            if isinstance(elem, dict):
                raise TypeError(f"`{name}`: dataset elements that are dicts are not supported; map "
                                "the dataset to images (or (images, labels)) first.")
            parts.append(as_images(elem, name)[0])
        if not parts:
            raise ValueError(f"`{name}`: the dataset is empty.")
        x, single = np.concatenate(parts, axis=0), False
    else:
        x, single = as_images(images, name)
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ValueError(f"`{name}` of {x.shape[1]} x {x.shape[2]} pixels are too small to explain: a "
                         "map needs at least 2 x 2 pixels (and the model's pooling usually far more). "
                         "Resize the images to the model's training size.")
    want = tuple(model.inputs[0].shape)
    if len(want) != 4 or any(w is not None and w != g for w, g in zip(want[1:], x.shape[1:])):
        raise ValueError(f"`{name}` of shape {x.shape} do not fit the model input {want}; resize "
                         "them (H, W) or convert the channels first.")
    return x, single


def _class_indices(class_index, n, n_classes, name="class_index"):
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


def _upsample_method(upsample):
    if upsample is True:
        return "bilinear"
    if upsample is False or upsample is None:
        return None
    if isinstance(upsample, str):
        return check_choice(upsample, "upsample", UPSAMPLE_METHODS)
    raise TypeError(f"`upsample` must be True, False or one of {list(UPSAMPLE_METHODS)}; got "
                    f"{upsample!r}.")


@dataclass(frozen=True)
class Request:
    """One validated call of an explanation method (made by :func:`prepare`).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> req = prepare(small_cnn(2, (16, 16, 3)), np.zeros((5, 16, 16, 3)), batch_size=2)
    >>> req.size, req.chunks()
    ((16, 16), [(0, 2), (2, 4), (4, 5)])
    """

    model: object
    x: np.ndarray            # (N, H, W, C) float32 in [0, 1]
    single: bool             # the caller gave one image: drop the batch axis at the end
    probe: Probe
    class_index: np.ndarray  # (N,) int32; -1 = the predicted class
    upsample: str | None     # an UPSAMPLE_METHODS name, or None to keep the layer's size
    normalize: bool
    batch_size: int
    name: str = "images"     # the images argument's name, for messages

    @property
    def size(self):
        """The images' (H, W)."""
        return tuple(self.x.shape[1:3])

    def chunks(self):
        """``(start, stop)`` of every chunk of ``batch_size`` images."""
        n = len(self.x)
        return [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]


def prepare(model, images, class_index=None, layer=None, upsample=True, normalize=True,
            batch_size=32, output=None, kind="output", scores_only=False, name="images"):
    """Validate the arguments every method shares and return a :class:`Request`.

    Parameters
    ----------
    model : keras.Model
    images : array-like (N, H, W, C) or (H, W, C), uint8 or float in [0, 1], or tf.data.Dataset
    class_index : None, int or sequence of int
    layer : None, str, keras layer or LayerRef
    upsample : bool or str
    normalize : bool
    batch_size : int
    output : None, int or str
    kind : {'output', 'input'}
        Tap the layer's output (default) or its input.
    scores_only : bool
        No layer: a probe that returns scores only (black-box methods).
    name : str
        The images argument's name in messages.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    >>> req = prepare(model, np.zeros((8, 8, 3)), class_index=2)
    >>> req.x.shape, req.single, req.class_index.tolist(), req.upsample
    ((1, 8, 8, 3), True, [2], 'bilinear')
    """
    upsample = _upsample_method(upsample)
    normalize = check_bool(normalize, "normalize")
    batch_size = check_int(batch_size, "batch_size", 1)
    check_model(model)
    x, single = _images(images, model, name)
    probe = get_probe(model, layer, output, kind=kind, scores_only=scores_only)
    cls = _class_indices(class_index, len(x), probe.n_classes)
    return Request(model, x, single, probe, cls, upsample, normalize, batch_size, name)


def fix_classes(req):
    """The request with every 'predicted class' (-1) replaced by the class predicted on the clean
    image: methods that perturb the image explain one class for all its copies.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> req = fix_classes(prepare(model, np.full((16, 16, 3), 0.5)))
    >>> int(req.class_index[0]) == int(np.argmax(model(np.full((1, 16, 16, 3), 0.5))))
    True
    """
    if np.all(req.class_index >= 0):
        return req
    with model_errors(req):
        outs = [req.probe.predict(req.x[s:e], req.class_index[s:e]) for s, e in req.chunks()]
    check_scores(np.concatenate([o[-2].numpy() for o in outs]), images=req.name)
    cls = np.concatenate([o[-1].numpy() for o in outs])
    return replace(req, class_index=cls.astype(np.int32))


# --------------------------------------------------------------------------------------------
# Running the pass
# --------------------------------------------------------------------------------------------

@dataclass
class PassResult:
    """What the core pass returns: the target activations, the gradients of the class score with
    respect to them, the logits, the class explained per image and the layer used.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> res = activations_and_gradients(small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4)),
    ...                                 np.zeros((1, 16, 16, 3)), class_index=0)
    >>> res.layer, res.activations.shape, res.logits.shape, res.class_index.tolist()
    ('relu4', (1, 2, 2, 4), (1, 2), [0])
    """

    activations: np.ndarray   # (N, h, w, K)
    gradients: np.ndarray     # (N, h, w, K) or None
    logits: np.ndarray        # (N, n_classes)
    class_index: np.ndarray   # (N,)
    layer: str


def _check_map_size(req, h, w):
    if h * w <= 1:
        raise ValueError(f"`layer`: {req.probe.target.name!r} gives a {h} x {w} map for these "
                         "images: its map cannot localise anything. Pick an earlier layer. "
                         + candidates_message(req.model))


def run_pass(req, gradients=True):
    """Run the compiled pass over the request's images in chunks; return a :class:`PassResult`.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> req = prepare(small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4)), np.zeros((3, 16, 16, 3)),
    ...               layer="conv3")
    >>> res = run_pass(req, gradients=False)
    >>> res.activations.shape, res.gradients is None
    ((3, 4, 4, 4), True)
    """
    fn = req.probe.gradients if gradients else req.probe.predict
    with model_errors(req):
        outs = [[o.numpy() for o in fn(req.x[s:e], req.class_index[s:e])] for s, e in req.chunks()]
    check_scores(np.concatenate([o[-2] for o in outs]), images=req.name)
    a = np.concatenate([o[0] for o in outs])
    _check_map_size(req, a.shape[1], a.shape[2])
    grads = np.concatenate([o[1] for o in outs]) if gradients else None
    return PassResult(a, grads, np.concatenate([o[-2] for o in outs]),
                      np.concatenate([o[-1] for o in outs]), req.probe.target.name)


def _finish_tf(maps, req):
    if req.upsample is not None:
        maps = upsample_maps_tf(maps, req.size, req.upsample)
    return normalize_maps_tf(maps) if req.normalize else maps


def compute_maps(req, map_fn, gradients=True, key=None):
    r"""Finished maps from one compiled pass per chunk: images -> :math:`A` (and
    :math:`\partial y^c/\partial A`) -> ``map_fn`` -> up-sampling -> normalisation.

    ``map_fn(acts, grads, cls)`` takes float32 tensors (N, h, w, K) (``grads`` is None when
    ``gradients=False``) and the class per image, and returns the raw maps (N, h, w); it is traced
    once per (probe, ``key``, size, up-sampling, normalisation); ``key`` defaults to ``map_fn``
    itself (give one when ``map_fn`` is a closure made anew at every call).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> import tensorflow as tf
    >>> req = prepare(model, np.random.default_rng(0).random((2, 16, 16, 3)))
    >>> maps = compute_maps(req, lambda a, g, c: tf.reduce_sum(a * g, axis=-1))
    >>> maps.shape, float(maps.min()) >= 0.0, float(maps.max()) <= 1.0
    ((2, 16, 16), True, True)
    """
    import tensorflow as tf

    probe = req.probe

    def build():
        def run(x, cls):
            if gradients:
                a, g, logits, cls = probe.tape(x, cls)
            else:
                probe.traces += 1
                a, logits = probe.forward(x)
                g, (cls, _) = None, probe.pick(logits, cls)
            raw = map_fn(a, g, cls)
            finite = tf.reduce_all(tf.math.is_finite(logits), axis=-1)
            return _finish_tf(raw, req), tf.shape(a)[1:3], finite

        return tf.function(run, input_signature=[probe.image_spec, probe.class_spec])

    fn = probe.compiled(("maps", map_fn if key is None else key, gradients, req.size, req.upsample, req.normalize), build)
    with model_errors(req):
        outs = [fn(req.x[s:e], req.class_index[s:e]) for s, e in req.chunks()]
    h, w = (int(v) for v in outs[0][1].numpy())
    _check_map_size(req, h, w)
    finite = np.concatenate([f.numpy() for _, _, f in outs])
    check_scores(np.where(finite, 0.0, np.nan)[:, None], images=req.name)
    maps = outs[0][0].numpy() if len(outs) == 1 else np.concatenate([m.numpy() for m, _, _ in outs])
    _check_maps(req, maps)
    return restore_rank(maps.astype(np.float32, copy=False), req.single)


def _check_maps(req, maps):
    """Maps computed from finite scores can still overflow (huge activations or gradients)."""
    bad = np.flatnonzero(~np.all(np.isfinite(maps.reshape(len(maps), -1)), axis=1))
    if bad.size:
        layer = req.probe.target.name if req.probe.target is not None else "the input"
        raise ValueError(f"`model`: the maps computed at layer {layer!r} for `{req.name}` "
                         f"{bad[:5].tolist()} hold NaN or infinity although the class scores are "
                         "finite (the layer's activations or gradients overflow float32). Check the "
                         "model's weights, or explain an earlier layer.")


def finish(req, maps):
    """Up-sample raw maps (N, h, w) computed outside the compiled pass as the request asks,
    normalise them, and restore the caller's rank.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    >>> req = prepare(model, np.zeros((4, 4, 3)))
    >>> finish(req, np.array([[[0.0, 2.0], [2.0, 4.0]]])).shape
    (4, 4)
    """
    maps = np.asarray(maps, np.float32)
    _check_maps(req, maps)
    if req.upsample is not None:
        maps = upsample_maps(maps, req.size, req.upsample)
    if req.normalize:
        maps = normalize_maps(maps)
    return restore_rank(maps.astype(np.float32, copy=False), req.single)


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

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, name="conv"),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    >>> res = activations_and_gradients(model, np.zeros((2, 8, 8, 3)), class_index=1)
    >>> res.activations.shape, res.gradients.shape, res.layer
    ((2, 6, 6, 2), (2, 6, 6, 2), 'conv')
    >>> # the gradient of a GAP -> Dense score is the Dense weight spread over the 36 cells
    >>> np.allclose(res.gradients[0, 0, 0], model.layers[-1].kernel.numpy()[:, 1] / 36)
    True
    """
    req = prepare(model, images, class_index, layer, False, False, batch_size, output)
    return run_pass(req, gradients=True)

