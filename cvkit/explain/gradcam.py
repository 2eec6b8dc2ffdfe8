r"""The Grad-CAM family: each method is a weight function of the activations :math:`A^k_{ij}` and
the gradients :math:`g^k_{ij} = \partial y^c / \partial A^k_{ij}` that the core
(:mod:`cvkit.explain._core`) computes; :math:`y^c` is the pre-softmax score of class :math:`c`.

The weight functions are written once in TensorFlow operations, so the same code runs inside the
compiled pass (float32, where the map is also up-sampled and normalised) and on NumPy arrays (the
public ``*_weights`` functions, in float64). Shown side by side in
``notebooks/03_gradcam_deep_dive.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_float, check_int, check_seed, describe, to_numpy
from ._core import check_scores, compute_maps, finish, fix_classes, model_errors, prepare

__all__ = [
    "grad_cam",
    "grad_cam_plus_plus",
    "smooth_grad_cam_plus_plus",
    "layer_cam",
    "xgrad_cam",
    "grad_cam_weights",
    "grad_cam_plus_plus_weights",
    "xgrad_cam_weights",
    "plus_plus_weights",
    "MAP_FUNCTIONS",
]


def _tf():
    import tensorflow as tf

    return tf


def _safe(x):
    """``x`` where it is non-zero, else 1: the denominator guard of every weight (never NaN)."""
    tf = _tf()
    return tf.where(x != 0, x, tf.ones_like(x))


def _check_pair(acts, grads, need_acts=True):
    """Validate (N, h, w, K) activations and gradients of the same shape -> float64 tensors."""
    tf = _tf()
    g = to_numpy(grads).astype(np.float64)
    if g.ndim != 4:
        raise ValueError(f"`grads` must have shape (N, h, w, K); got {describe(g)}.")
    if not need_acts and acts is None:
        return None, tf.constant(g)
    a = to_numpy(acts).astype(np.float64)
    if a.shape != g.shape:
        raise ValueError(f"`acts` and `grads` must have the same shape (N, h, w, K); got {a.shape} "
                         f"and {g.shape}.")
    return tf.constant(a), tf.constant(g)


def _combine(weights, acts):
    r""":math:`\mathrm{ReLU}(\sum_k w_k A^k)` for every image: (N, K) x (N, h, w, K) -> (N, h, w)."""
    tf = _tf()
    return tf.nn.relu(tf.einsum("nk,nhwk->nhw", weights, acts))


# ---- channel weights (TensorFlow operations, any float dtype) ---------------------------------

def _gc_weights(acts, grads):
    return _tf().reduce_mean(grads, axis=(1, 2))


def plus_plus_weights(total, g1, g2, g3):
    r"""The Grad-CAM++ weights from the activation totals and the first three gradient powers:

    .. math::
        a^{kc}_{ij} = \frac{g^{(2)}_{ij}}{2 g^{(2)}_{ij} + \sum_{ab} A^k_{ab}\, g^{(3)}_{ij}},
        \qquad w^c_k = \sum_{ij} \frac{a^{kc}_{ij}}{\sum_{ab} a^{kc}_{ab}}\,
        \mathrm{ReLU}(g^{(1)}_{ij})

    Grad-CAM++ passes :math:`g^{(p)} = g^p`; Smooth Grad-CAM++ the powers averaged over noisy
    copies. ``total`` is :math:`\sum_{ab} A^k_{ab}` (N, 1, 1, K); the others (N, h, w, K). A zero
    denominator gives :math:`a = 0`, never NaN. Returns (N, K).

    Examples
    --------
    >>> g = np.full((1, 2, 2, 1), 0.5)
    >>> plus_plus_weights(np.full((1, 1, 1, 1), 4.0), g, g**2, g**3).numpy()  # 4 x 1/4 x 0.5
    array([[0.5]])
    """
    tf = _tf()
    denom = 2.0 * g2 + total * g3
    a = g2 / tf.where((g2 != 0) & (denom != 0), denom, tf.ones_like(denom))
    a = a / _safe(tf.reduce_sum(a, axis=(1, 2), keepdims=True))
    return tf.reduce_sum(a * tf.nn.relu(g1), axis=(1, 2))


def _pp_weights(acts, grads):
    tf = _tf()
    total = tf.reduce_sum(acts, axis=(1, 2), keepdims=True)
    return plus_plus_weights(total, grads, grads * grads, grads * grads * grads)


def _xgc_weights(acts, grads):
    tf = _tf()
    share = acts / _safe(tf.reduce_sum(acts, axis=(1, 2), keepdims=True))
    return tf.reduce_sum(share * grads, axis=(1, 2))


def grad_cam_weights(acts, grads):
    r"""Grad-CAM channel weights (Selvaraju et al. 2017, Eq. 1):

    .. math:: \alpha_k^c = \frac{1}{Z}\sum_i\sum_j \frac{\partial y^c}{\partial A^k_{ij}}

    with :math:`Z = h w`, the number of positions of the map. ``acts`` is unused (kept so that every
    weight function has the same signature) and may be None.

    Parameters
    ----------
    acts : array-like (N, h, w, K) or None
    grads : array-like (N, h, w, K)

    Returns
    -------
    np.ndarray
        float64 (N, K).

    Examples
    --------
    >>> g = np.arange(8.0).reshape(1, 2, 2, 2)     # channel 0: 0, 2, 4, 6; channel 1: 1, 3, 5, 7
    >>> grad_cam_weights(None, g)
    array([[3., 4.]])
    """
    a, g = _check_pair(acts, grads, need_acts=False)
    return _gc_weights(a, g).numpy()


def grad_cam_plus_plus_weights(acts, grads):
    r"""Grad-CAM++ channel weights (Chattopadhyay et al. 2018, Eqs. 10 and 19).

    With the exponential of the score as the target, the higher derivatives reduce to powers of the
    first one, and

    .. math::
        a^{kc}_{ij} = \frac{(g^k_{ij})^2}{2 (g^k_{ij})^2 + \sum_{ab} A^k_{ab}\,(g^k_{ij})^3},
        \qquad w^c_k = \sum_{ij} \frac{a^{kc}_{ij}}{\sum_{ab} a^{kc}_{ab}}\,\mathrm{ReLU}(g^k_{ij})

    The division by :math:`\sum_{ab} a^{kc}_{ab}` is the authors' released code (tf-keras-vis does the
    same); the constant :math:`\exp(y^c)` factor is dropped, it does not change the normalised map.
    A zero denominator (where :math:`g = 0`) gives :math:`a = 0`, never NaN (see
    :func:`plus_plus_weights`, which Smooth Grad-CAM++ shares).

    Parameters
    ----------
    acts, grads : array-like (N, h, w, K)

    Returns
    -------
    np.ndarray
        float64 (N, K).

    Examples
    --------
    >>> a = np.ones((1, 2, 2, 1))
    >>> g = np.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 2, 2, 1)
    >>> grad_cam_plus_plus_weights(a, g)    # two equal shares of 1/2, each times ReLU(g) = 1
    array([[1.]])
    """
    a, g = _check_pair(acts, grads)
    return _pp_weights(a, g).numpy()


def xgrad_cam_weights(acts, grads):
    r"""XGrad-CAM channel weights (Fu et al. 2020, Eq. 9):

    .. math:: w^c_k = \sum_{ij} \frac{A^k_{ij}}{\sum_{ab} A^k_{ab}} \frac{\partial y^c}{\partial A^k_{ij}}

    A channel that is zero everywhere gets weight 0.

    Parameters
    ----------
    acts, grads : array-like (N, h, w, K)

    Returns
    -------
    np.ndarray
        float64 (N, K).

    Examples
    --------
    >>> a = np.array([3.0, 1.0, 0.0, 0.0]).reshape(1, 2, 2, 1)
    >>> g = np.array([2.0, 6.0, 9.0, 9.0]).reshape(1, 2, 2, 1)
    >>> xgrad_cam_weights(a, g)             # 3/4 x 2 + 1/4 x 6
    array([[3.]])
    """
    a, g = _check_pair(acts, grads)
    return _xgc_weights(a, g).numpy()


# ---- the maps, traced into the compiled pass ---------------------------------------------------

def _grad_cam_map(acts, grads, cls):
    return _combine(_gc_weights(acts, grads), acts)


def _grad_cam_pp_map(acts, grads, cls):
    return _combine(_pp_weights(acts, grads), acts)


def _xgrad_cam_map(acts, grads, cls):
    return _combine(_xgc_weights(acts, grads), acts)


def _layer_cam_map(acts, grads, cls):
    # Layer-CAM (Jiang et al. 2021, Eqs. 5-6): a spatial weight per position, not per channel.
    tf = _tf()
    return tf.nn.relu(tf.reduce_sum(tf.nn.relu(grads) * acts, axis=-1))


#: The gradient methods as traced map functions ``fn(acts, grads, cls) -> (N, h, w)`` of TensorFlow
#: tensors: what :func:`cvkit.explain._core.compute_maps` runs, and what a training step that
#: computes its own activations and gradients can call (F-CAM's seeds, :mod:`cvkit.wsol.fcam`).
MAP_FUNCTIONS = {"grad_cam": _grad_cam_map, "grad_cam_plus_plus": _grad_cam_pp_map,
                 "xgrad_cam": _xgrad_cam_map, "layer_cam": _layer_cam_map}


def _explain(map_fn, model, images, class_index, layer, upsample, normalize, batch_size, output):
    req = prepare(model, images, class_index, layer, upsample, normalize, batch_size, output)
    return compute_maps(req, map_fn)


def grad_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
             batch_size=32, output=None):
    r"""Grad-CAM (Selvaraju et al. 2017):

    .. math::
        \alpha_k^c = \frac{1}{Z}\sum_i\sum_j \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
        L^c_{Grad-CAM} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)

    For a GAP -> Dense classifier :math:`\alpha_k^c = w_k^c / Z`, so Grad-CAM is ReLU(CAM) up to a
    positive scale. Shown in ``notebooks/03_gradcam_deep_dive.ipynb``.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential classifier (nested models are fine).
    images : array-like (N, H, W, C) or (H, W, C), uint8 or float in [0, 1], or tf.data.Dataset
    class_index : None, int or sequence of int
        The class explained: None for each image's predicted class, one int for all images, or one
        per image. Any class can be explained, not only the predicted one.
    layer : None, str or keras layer
        Target layer (see :func:`cvkit.explain.find_layer`); None picks the last layer with a 4-D
        output larger than 1 x 1, also inside a nested backbone.
    upsample : bool or str
        True or 'bilinear' resizes the map to the image size (half-pixel bilinear); 'bicubic',
        'nearest' and 'bilinear_align_corners' are the other choices; False keeps the layer's size.
    normalize : bool
        Min-max normalise each map to [0, 1] (a constant map gives zeros).
    batch_size : int
        Images per compiled call (memory is bounded by it).
    output : None, int or str
        The output that scores the classes, for a model with several outputs.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> maps = grad_cam(model, np.random.default_rng(0).random((3, 16, 16, 3)), class_index=1)
    >>> maps.shape, maps.dtype, float(maps.max())
    ((3, 16, 16), dtype('float32'), 1.0)
    """
    return _explain(_grad_cam_map, model, images, class_index, layer, upsample, normalize,
                    batch_size, output)


def grad_cam_plus_plus(model, images, class_index=None, layer=None, upsample=True, normalize=True,
                       batch_size=32, output=None):
    r"""Grad-CAM++ (Chattopadhyay et al. 2018): pixel-wise weighted positive gradients,

    .. math:: L^c = \mathrm{ReLU}\Big(\sum_k w^c_k A^k\Big), \quad
              w^c_k = \sum_{ij} a^{kc}_{ij}\,\mathrm{ReLU}(\partial y^c/\partial A^k_{ij})

    with :math:`a^{kc}_{ij}` as in :func:`grad_cam_plus_plus_weights`.

    Parameters
    ----------
    model, images, class_index, layer, upsample, normalize, batch_size, output
        As in :func:`grad_cam`.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> grad_cam_plus_plus(model, np.zeros((16, 16, 3), np.uint8), upsample=False).shape
    (2, 2)
    """
    return _explain(_grad_cam_pp_map, model, images, class_index, layer, upsample, normalize,
                    batch_size, output)


def xgrad_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
              batch_size=32, output=None):
    r"""XGrad-CAM (Fu et al. 2020): gradients weighted by each channel's normalised activations,

    .. math:: L^c = \mathrm{ReLU}\Big(\sum_k \Big(\sum_{ij} \frac{A^k_{ij}}{\sum_{ab} A^k_{ab}}
              \frac{\partial y^c}{\partial A^k_{ij}}\Big) A^k\Big)

    Parameters
    ----------
    model, images, class_index, layer, upsample, normalize, batch_size, output
        As in :func:`grad_cam`.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> xgrad_cam(model, np.ones((2, 16, 16, 3)), class_index=[0, 1]).shape
    (2, 16, 16)
    """
    return _explain(_xgrad_cam_map, model, images, class_index, layer, upsample, normalize,
                    batch_size, output)


def layer_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
              batch_size=32, output=None):
    r"""Layer-CAM (Jiang et al. 2021): every position gets its own weight, the positive gradient,

    .. math:: L^c_{ij} = \mathrm{ReLU}\Big(\sum_k \mathrm{ReLU}\big(\partial y^c/\partial A^k_{ij}\big)
              A^k_{ij}\Big)

    which keeps finer detail than one weight per channel and also works on earlier layers.

    Parameters
    ----------
    model, images, class_index, layer, upsample, normalize, batch_size, output
        As in :func:`grad_cam`.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> layer_cam(model, np.ones((1, 16, 16, 3)), layer="conv2", upsample="nearest").shape
    (1, 16, 16)
    """
    return _explain(_layer_cam_map, model, images, class_index, layer, upsample, normalize,
                    batch_size, output)


def _smooth_moments(probe, noisy, cls, batch_size):
    """Activations and gradients of every noisy copy, in float64 (M, h, w, K) each."""
    a_all, g_all = [], []
    for t in range(0, len(noisy), batch_size):
        a, g, logits, _ = probe.gradients(noisy[t:t + batch_size], cls[t:t + batch_size])
        check_scores(logits.numpy(), "class scores on the noisy copies")
        a_all.append(a.numpy().astype(np.float64))
        g_all.append(g.numpy().astype(np.float64))
    return np.concatenate(a_all), np.concatenate(g_all)


def smooth_grad_cam_plus_plus(model, images, class_index=None, layer=None, upsample=True,
                              normalize=True, batch_size=32, output=None, n_samples=8,
                              noise_level=0.15, seed=0):
    r"""Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ with the activations and the gradient
    powers averaged over ``n_samples`` noisy copies of each image,

    .. math::
        \bar g^{(p)} = \frac{1}{n}\sum_{s=1}^{n} \big(g(x + \epsilon_s)\big)^p,\ p = 1, 2, 3, \qquad
        \epsilon_s \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \text{noise\_level}\,(\max x - \min x)

    and :math:`\bar A` likewise, then the Grad-CAM++ weights (:func:`plus_plus_weights`, the same
    function Grad-CAM++ uses) with :math:`g^2, g^3` replaced by :math:`\bar g^{(2)}, \bar g^{(3)}`.
    The class is fixed on the clean image (the predicted class when ``class_index`` is None). Same
    ``seed``, same map.

    Parameters
    ----------
    model, images, class_index, layer, upsample, normalize, batch_size, output
        As in :func:`grad_cam`.
    n_samples : int
        Noisy copies per image (>= 1).
    noise_level : float
        Noise standard deviation relative to each image's value range (>= 0).
    seed : int
        Seed of the noise.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> x = np.random.default_rng(0).random((2, 16, 16, 3))
    >>> m = smooth_grad_cam_plus_plus(model, x, n_samples=4, seed=1)
    >>> m.shape, bool(np.array_equal(m, smooth_grad_cam_plus_plus(model, x, n_samples=4, seed=1)))
    ((2, 16, 16), True)
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    noise_level = check_float(noise_level, "noise_level", 0.0)
    seed = check_seed(seed, allow_none=False)
    req = fix_classes(prepare(model, images, class_index, layer, upsample, normalize, batch_size,
                              output))
    x, rng = req.x, np.random.default_rng(seed)
    sigma = noise_level * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
    per = max(1, req.batch_size // n_samples)          # images per chunk, each with n_samples copies
    maps = []
    for s in range(0, len(x), per):
        xb, cb, sb = x[s:s + per], req.class_index[s:s + per], sigma[s:s + per]
        noisy = np.repeat(xb, n_samples, axis=0)
        noisy = noisy + rng.standard_normal(noisy.shape).astype(np.float32) \
            * np.repeat(sb, n_samples)[:, None, None, None].astype(np.float32)
        with model_errors(req):
            a, g = _smooth_moments(req.probe, noisy, np.repeat(cb, n_samples), req.batch_size)
        a = a.reshape((len(xb), n_samples) + a.shape[1:]).mean(axis=1)
        g = g.reshape((len(xb), n_samples) + g.shape[1:])
        total = a.sum(axis=(1, 2), keepdims=True)
        w = plus_plus_weights(total, g.mean(axis=1), (g ** 2).mean(axis=1), (g ** 3).mean(axis=1))
        maps.append(_combine(w, a).numpy())
    return finish(req, np.concatenate(maps))
