r"""Gradient ascent: synthesise the input that maximises a class score, a channel or one neuron
(the course's class-model visualisation), with the regularisers of feature visualisation from
:mod:`cvkit.inside.regularizers`.

The ascent runs in named steps: check the options (:func:`_check_options`), build the score to
climb (:func:`_ascent_score`), the start image (:func:`_ascent_init`) and one compiled step
(:func:`_ascent_step`), then climb octave by octave (:func:`_climb`). Draw the results with
:func:`cvkit.visualize.plot_ascent`. Notebook: ``notebooks/08_inside_cnns.ipynb`` (class-model
images).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .. import _graph
from .._validate import as_images, check_bool, check_float, check_int, check_seed
from ._common import input_channels, spatial_input_size
from .regularizers import _blur_tf, _check_transform, _spectral_tf, _transform_tf, _tv_tf
from .regularizers import octave_sizes

__all__ = ["AscentResult", "gradient_ascent"]


@dataclass
class AscentResult:
    """Result of :func:`gradient_ascent`.

    ``image`` (H, W, 3) in [0, 1]; ``scores`` (octaves * steps + 1,) the target score before each
    step and after the last (at the transformed copy the step used); ``objective`` likewise, the
    score minus the penalties; ``sizes`` the (h, w) of the optimised image at each octave.

    Examples
    --------
    >>> r = AscentResult(np.zeros((4, 4, 3)), np.arange(3.0), np.arange(3.0) - 1, ((4, 4),))
    >>> float(r.scores[-1]), r.sizes
    (2.0, ((4, 4),))
    """

    image: np.ndarray
    scores: np.ndarray
    objective: np.ndarray
    sizes: tuple = ()


def _as_targets(value, name, n, what):
    """``value`` (an int or a sequence of ints, each in [0, n)) as a list, and whether it was one
    int."""
    single = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)
    if single:
        values = [value]
    elif isinstance(value, (list, tuple, range, np.ndarray)):
        values = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
        if not values:
            raise ValueError(f"`{name}` must hold at least one index; got an empty sequence.")
    else:
        raise TypeError(f"`{name}` must be an integer or a sequence of integers; got "
                        f"{type(value).__name__} {value!r}.")
    values = [check_int(v, name) for v in values]
    for v in values:
        if not 0 <= v < n:
            raise ValueError(f"`{name}` must be in [0, {n - 1}] ({what}); got {v}.")
    return values, single


def _class_score(model, class_index):
    """The class logits (read before a softmax / sigmoid) as the score to climb."""
    logits = _graph.logit_model(model)
    n_cls = int(logits.outputs[0].shape[-1])
    targets, single = _as_targets(class_index, "class_index", n_cls,
                                  f"the model has {n_cls} classes")

    def score(x):
        return logits(x, training=False)

    return score, np.eye(n_cls, dtype=np.float32)[targets], single


def _channel_score(model, layer, channel, unit):
    """A channel's mean activation over the map (or one unit's activation) as the score."""
    import tensorflow as tf

    ref = _graph.find_layer(model, layer)
    tap = _graph.tap_model(model, [ref])
    shape = tuple(tap.outputs[0].shape)
    targets, single = _as_targets(channel, "channel", int(shape[-1]),
                                  f"layer {ref.layer.name!r} has {int(shape[-1])} channels")
    if unit is not None:
        if len(shape) != 4:
            raise ValueError(f"`unit` needs a layer with a spatial output; {ref.layer.name!r} "
                             f"has shape {shape}.")
        if not isinstance(unit, (tuple, list)) or len(unit) != 2:
            raise TypeError(f"`unit` must be a (row, col) pair; got {unit!r}.")
        unit = tuple(check_int(u, "unit", minimum=0) for u in unit)

    def score(x):
        a = tap(x, training=False)
        if unit is not None:
            return a[:, unit[0], unit[1]]
        return tf.reduce_mean(a, axis=list(range(1, len(a.shape) - 1)))

    return score, np.eye(int(shape[-1]), dtype=np.float32)[targets], single


def _ascent_score(model, class_index, layer, channel, unit):
    """``(score, onehot, single)``: ``score(x)`` maps images (K, H, W, C) to the (K, n) class
    logits, channel means or unit activations; row k of ``onehot`` (K, n) picks the score that
    image k climbs; ``single`` when one index was given."""
    _graph.graph_of(model)
    if (class_index is None) == (layer is None):
        raise ValueError("give either `class_index` (a class score) or `layer` with `channel` "
                         "(a channel or unit of a layer), not both or neither.")
    if layer is None:
        return _class_score(model, class_index)
    if channel is None:
        raise ValueError("`channel` is required with `layer`.")
    return _channel_score(model, layer, channel, unit)


def _check_options(steps, step_size, l2, tv, jitter, scale, rotate, seed, blur_every, blur_sigma,
                   decay_power, clip):
    """The ascent's options, each checked, as the config dict of :func:`_ascent_step`."""
    cfg = dict(steps=check_int(steps, "steps", minimum=1),
               step_size=check_float(step_size, "step_size", 0.0, strict_min=True),
               l2=check_float(l2, "l2", 0.0), tv=check_float(tv, "tv", 0.0))
    cfg["jitter"], cfg["scale"], cfg["rotate"] = _check_transform(jitter, scale, rotate)
    cfg["seed"] = check_seed(seed, allow_none=False)
    cfg["blur_every"] = check_int(blur_every, "blur_every", minimum=0)
    blur_sigma = check_float(blur_sigma, "blur_sigma", 0.0, strict_min=True)
    cfg["sigma"] = blur_sigma if cfg["blur_every"] else 0.0
    cfg["decay_power"] = check_float(decay_power, "decay_power", 0.0)
    cfg["clip"] = check_bool(clip, "clip")
    return cfg


def _ascent_step(score_fn, onehot, hw, resize, cfg):
    """One compiled ascent step ``(x, i, blur) -> (x', scores, objectives)`` for a batch of K
    images, image k climbing the score picked by row k of ``onehot``.

    A compiled step called from a Python loop: on CPU this ran several times faster per step than
    the same body inside a tf.while_loop, and traces faster too. Its input shape is relaxed when
    there are octaves, so that all of them share one trace."""
    import tensorflow as tf

    seed, sel = tf.constant(cfg["seed"], tf.int32), tf.constant(onehot)
    l2, tv, sigma = cfg["l2"], cfg["tv"], cfg["sigma"]
    shape = [None, None, None, cfg["channels"]] if resize else [None, hw[0], hw[1], cfg["channels"]]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.bool)])
    def step(x, i, blur):
        with tf.GradientTape() as tape:
            tape.watch(x)
            full = tf.image.resize(x, hw, "bilinear") if resize else x
            t = _transform_tf(full, seed, i, cfg["jitter"], cfg["scale"], cfg["rotate"])
            s = tf.reduce_sum(score_fn(t) * sel, axis=-1)
            obj = s - l2 * tf.reduce_mean(tf.square(x - 0.5), axis=[1, 2, 3])
            if tv > 0:
                obj -= tv * _tv_tf(x)
            total = tf.reduce_sum(obj)  # the images are independent: per-image gradients
        g = tape.gradient(total, x)
        if cfg["decay_power"] > 0:
            g = _spectral_tf(g, cfg["decay_power"])
        g = g / (tf.sqrt(tf.reduce_mean(tf.square(g), axis=[1, 2, 3], keepdims=True)) + 1e-8)
        x = x + cfg["step_size"] * g
        if cfg["clip"]:
            x = tf.clip_by_value(x, 0.0, 1.0)
        if sigma > 0:
            x = tf.cond(blur, lambda: _blur_tf(x, sigma), lambda: x)
        return x, s, obj

    return step


def _ascent_init(init, hw, n_in, seed, first, k):
    """K copies of the start image at the first octave's size: ``init`` (resized) or grey plus
    noise from ``seed``."""
    import tensorflow as tf

    if init is None:
        rng = np.random.default_rng(seed)
        x0 = (0.5 + 0.01 * rng.standard_normal((1,) + tuple(first) + (n_in,))).astype(np.float32)
    else:
        x0, _ = as_images(init, "init", channels=(n_in,))
        if len(x0) != 1 or x0.shape[1:3] != tuple(hw):
            raise ValueError(f"`init` must be one {hw[0]}x{hw[1]} image; got shape {x0.shape}.")
        if tuple(first) != tuple(hw):
            x0 = tf.image.resize(x0, first, "area").numpy()
    return np.repeat(x0, k, axis=0)


def _climb(step, x, sizes, steps, blur_every):
    """Run ``steps`` steps at each octave size; returns the final images and the (K, T) scores
    and objectives, the last entry scoring the final image."""
    import tensorflow as tf

    scores, objs = [], []
    for k, size in enumerate(sizes):
        if k:
            x = tf.image.resize(x, size, "bilinear")
        for j in range(steps):
            blur = bool(blur_every) and (j + 1) % max(blur_every, 1) == 0
            x, s, o = step(x, tf.constant(len(scores), tf.int32), tf.constant(blur))
            scores.append(s.numpy())
            objs.append(o.numpy())
    # one more call scores the final image (its update is dropped); with random transforms that
    # score is taken at a transformed copy, like every other entry
    _, s, o = step(x, tf.constant(len(scores), tf.int32), tf.constant(False))
    return x, np.stack(scores + [s.numpy()], 1), np.stack(objs + [o.numpy()], 1)


def gradient_ascent(model, class_index=None, *, layer=None, channel=None, unit=None, steps=200,
                    step_size=0.03, l2=1.0, tv=3.0, jitter=3, image_size=None, init=None, seed=0,
                    clip=True, scale=None, rotate=0.0, blur_every=0, blur_sigma=0.5, octaves=1,
                    octave_scale=1.5, decay_power=0.0):
    r"""Synthesise the input that maximises a class score, a channel or one neuron.

    Gradient ascent on the regularised objective (the course's class-model visualisation, with
    the regularisers of feature visualisation added: Olah et al., "Feature Visualization",
    Distill 2017; Yosinski et al. 2015; Mordvintsev's lucid and DeepDream):

    .. math::
        I^* = \arg\max_I\; \mathbb{E}_{T}\, S_c\big(T(\uparrow I)\big) - \lambda_2
              \,\overline{(I - 0.5)^2} - \lambda_{TV}\, TV(I)

    :math:`S_c` is the class score before the softmax (or a channel's mean activation, or one
    unit's activation); bars are means over pixels, so the weights do not depend on the image size;
    :math:`TV` is :func:`~cvkit.inside.total_variation`. :math:`T` is a random transform drawn at
    every step (:func:`~cvkit.inside.random_transform`: a roll of up to ``jitter`` px, a zoom in
    ``scale``, a rotation up to ``rotate`` degrees) and :math:`\uparrow` the bilinear up-sampling of
    the image of the current octave to the model's input size (:func:`~cvkit.inside.octave_sizes`).
    Each step takes the gradient :math:`g`, optionally preconditions it as lucid's Fourier
    parametrisation would (:func:`~cvkit.inside.spectral_precondition`, ``decay_power``), moves by
    ``step_size`` along :math:`g / \mathrm{RMS}(g)`, clips to [0, 1] (``clip``) and, every
    ``blur_every`` steps, blurs the image (:func:`~cvkit.inside.gaussian_blur`, ``blur_sigma`` px).
    ``steps`` steps run at each octave; each step is one compiled TensorFlow function.

    The defaults are the plain recipe of the course (jitter, L2, TV). Without the other
    regularisers the ascent finds a high-frequency pattern that drives the score up without looking
    like anything. For the zoo's small CNN (notebook 08) ``octaves=2, octave_scale=1.5,
    scale=(0.8, 1.2), rotate=15, jitter=6, blur_every=4, blur_sigma=1.0, tv=10`` gives pictures
    of the class's parts (round blobs, blocks, oblique bars, spiky dots); a MobileNetV2 trained
    separately on the same classes recognises 2 to 4 of the 4 (seeds 0-7, mean 2.6), against
    about 1 of 4 for the plain recipe.

    Parameters
    ----------
    model : keras.Model
        Takes images in [0, 1]. A softmax/sigmoid head is read before its activation.
    class_index : int or sequence of int, optional
        The class to maximise (give this, or ``layer`` and ``channel``). A sequence optimises one
        image per class together in one batch (one trace, one model call per step for all): the
        same start image and transforms, so each result equals its own single-class run up to
        float rounding.
    layer, channel : optional
        Maximise channel ``channel`` (an int or a sequence, batched like ``class_index``) of
        ``layer``: its mean over the map, or the unit ``unit`` ``(row, col)`` when given. Prefer
        the layer before a ReLU: a unit that is off at the start image has zero gradient and does
        not move.
    steps : int >= 1
        Steps per octave.
    step_size : float > 0
        Step per iteration, in units of the gradient's RMS.
    l2, tv : float >= 0
        Regularisation weights.
    jitter : int >= 0
        Maximum random shift in pixels (0 = none).
    image_size : int or (int, int), optional
        Needed when the model's input size is not fixed.
    init : array, optional
        Start image (H, W, 3) in [0, 1]; default 0.5 grey plus noise of std 0.01 from ``seed``.
    seed : int
        Seeds the start noise and every random transform.
    clip : bool
    scale : (float, float) or None
        Random zoom range of each step, e.g. ``(0.9, 1.1)``; ``None`` = no zoom.
    rotate : float in [0, 180]
        Maximum random rotation of each step, in degrees (0 = none).
    blur_every : int >= 0
        Blur the image every this many steps (0 = never).
    blur_sigma : float > 0
        Standard deviation of that blur in pixels of the current octave.
    octaves : int >= 1
        Number of octaves, coarse to fine (1 = optimise at full size only).
    octave_scale : float > 1
        Size ratio between consecutive octaves.
    decay_power : float >= 0
        Precondition each gradient with the spectrum :math:`\max(f, 1/N)^{-2d}` of lucid's
        Fourier parametrisation (0 = plain pixel gradient; lucid uses 1).

    Returns
    -------
    AscentResult or list of AscentResult
        ``image``, ``scores`` and ``objective`` (``octaves * steps + 1`` entries) and ``sizes``;
        a list (one per index) when ``class_index`` or ``channel`` is a sequence.

    References
    ----------
    K. Simonyan, A. Vedaldi, A. Zisserman, "Deep inside convolutional networks", ICLR workshop
    2014, arXiv:1312.6034. J. Yosinski et al., "Understanding neural networks through deep
    visualization", ICML workshop 2015, arXiv:1506.06579. C. Olah, A. Mordvintsev, L. Schubert,
    "Feature visualization", Distill 2017, doi:10.23915/distill.00007.

    Examples
    --------
    >>> import keras
    >>> keras.utils.set_random_seed(0)
    >>> inp = keras.Input((32, 32, 3))
    >>> h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    >>> out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    >>> res = gradient_ascent(keras.Model(inp, out), 1, steps=5, octaves=2, octave_scale=2.0,
    ...                       scale=(0.9, 1.1), blur_every=2)
    >>> res.image.shape, res.sizes, res.scores.shape
    ((32, 32, 3), ((16, 16), (32, 32)), (11,))
    >>> both = gradient_ascent(keras.Model(inp, out), [0, 1], steps=5)   # one batch, two images
    >>> len(both), both[1].scores.shape
    (2, (6,))

    Notebook: ``08_inside_cnns.ipynb`` (class-model images).
    """
    import tensorflow as tf

    cfg = _check_options(steps, step_size, l2, tv, jitter, scale, rotate, seed, blur_every,
                         blur_sigma, decay_power, clip)
    score_fn, onehot, single = _ascent_score(model, class_index, layer, channel, unit)
    hw = spatial_input_size(model, image_size, "image_size")
    sizes = octave_sizes(hw, octaves, octave_scale)
    if cfg["sigma"] and int(3.0 * cfg["sigma"] + 0.5) >= min(sizes[0]):
        raise ValueError(f"`blur_sigma`={cfg['sigma']} is too large for the {sizes[0][0]}x"
                         f"{sizes[0][1]} px of the first octave; use a smaller one.")
    cfg["channels"] = input_channels(model)
    x = tf.constant(_ascent_init(init, hw, cfg["channels"], cfg["seed"], sizes[0], len(onehot)))
    step = _ascent_step(score_fn, onehot, hw, len(sizes) > 1, cfg)
    x, scores, objs = _climb(step, x, sizes, cfg["steps"], cfg["blur_every"])
    images = np.clip(x.numpy(), 0, 1)
    results = [AscentResult(images[k], scores[k], objs[k], tuple(sizes))
               for k in range(len(onehot))]
    return results[0] if single else results
