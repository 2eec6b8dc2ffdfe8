r"""The Grad-CAM family: each method is a short function of the activations :math:`A^k_{ij}` and
the gradients :math:`g^k_{ij} = \partial y^c / \partial A^k_{ij}` returned by the core
(:mod:`cvkit.explain._core`); :math:`y^c` is the pre-softmax score of class :math:`c`.

Shown side by side in ``notebooks/03_gradcam_deep_dive.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_float, check_int
from ._core import (check_batch_size, check_bool, check_upsample, explain_with, finish,
                    get_probe, prepare_images, class_indices)

__all__ = [
    "grad_cam",
    "grad_cam_plus_plus",
    "smooth_grad_cam_plus_plus",
    "layer_cam",
    "xgrad_cam",
    "grad_cam_weights",
    "grad_cam_plus_plus_weights",
    "xgrad_cam_weights",
]


def _relu(x):
    return np.maximum(x, 0.0)


def _check_pair(acts, grads, need_acts=True):
    """Validate (N, h, w, K) activations and gradients of the same shape."""
    g = np.asarray(grads, dtype=np.float64)
    if g.ndim != 4:
        raise ValueError(f"`grads` must have shape (N, h, w, K); got shape {g.shape}.")
    if not need_acts and acts is None:
        return None, g
    a = np.asarray(acts, dtype=np.float64)
    if a.shape != g.shape:
        raise ValueError(f"`acts` and `grads` must have the same shape (N, h, w, K); got {a.shape} "
                         f"and {g.shape}.")
    return a, g


def _combine(weights, acts):
    r""":math:`\sum_k w_k A^k` for every image: (N, K) x (N, h, w, K) -> (N, h, w)."""
    return np.einsum("nk,nhwk->nhw", weights, acts)


# ---- channel weights -------------------------------------------------------------------------

def grad_cam_weights(acts, grads):
    r"""Grad-CAM channel weights (Selvaraju et al. 2017, Eq. 1):

    .. math:: \alpha_k^c = \frac{1}{Z}\sum_i\sum_j \frac{\partial y^c}{\partial A^k_{ij}}

    with :math:`Z = h w`, the number of positions of the map. ``acts`` is unused (kept so that every
    weight function has the same signature). Returns (N, K).
    """
    _, g = _check_pair(acts, grads, need_acts=False)
    return g.mean(axis=(1, 2))


def grad_cam_plus_plus_weights(acts, grads):
    r"""Grad-CAM++ channel weights (Chattopadhyay et al. 2018, Eqs. 10 and 19).

    With the exponential of the score as the target, the higher derivatives reduce to powers of the
    first one, and

    .. math::
        a^{kc}_{ij} = \frac{(g^k_{ij})^2}{2 (g^k_{ij})^2 + \sum_{ab} A^k_{ab}\,(g^k_{ij})^3},
        \qquad w^c_k = \sum_{ij} \frac{a^{kc}_{ij}}{\sum_{ab} a^{kc}_{ab}}\,\mathrm{ReLU}(g^k_{ij})

    The division by :math:`\sum_{ab} a^{kc}_{ab}` is the authors' released code (tf-keras-vis does the
    same); the constant :math:`\exp(y^c)` factor is dropped, it does not change the normalised map.
    A zero denominator (where :math:`g = 0`) gives :math:`a = 0`, never NaN. Returns (N, K).
    """
    acts, g = _check_pair(acts, grads)
    g2, g3 = g * g, g * g * g
    total = acts.sum(axis=(1, 2), keepdims=True)
    denom = 2.0 * g2 + total * g3
    denom = np.where(g2 != 0.0, denom, 1.0)
    denom = np.where(denom != 0.0, denom, 1.0)
    a = g2 / denom
    norm = a.sum(axis=(1, 2), keepdims=True)
    a = a / np.where(norm != 0.0, norm, 1.0)
    return (a * _relu(g)).sum(axis=(1, 2))


def xgrad_cam_weights(acts, grads):
    r"""XGrad-CAM channel weights (Fu et al. 2020, Eq. 9):

    .. math:: w^c_k = \sum_{ij} \frac{A^k_{ij}}{\sum_{ab} A^k_{ab}} \frac{\partial y^c}{\partial A^k_{ij}}

    A channel that is zero everywhere gets weight 0. Returns (N, K).
    """
    acts, g = _check_pair(acts, grads)
    total = acts.sum(axis=(1, 2), keepdims=True)
    share = acts / np.where(total != 0.0, total, 1.0)
    return (share * g).sum(axis=(1, 2))


# ---- maps -------------------------------------------------------------------------------------

def _grad_cam_map(acts, grads):
    return _relu(_combine(grad_cam_weights(acts, grads), acts))


def _grad_cam_pp_map(acts, grads):
    return _relu(_combine(grad_cam_plus_plus_weights(acts, grads), acts))


def _xgrad_cam_map(acts, grads):
    return _relu(_combine(xgrad_cam_weights(acts, grads), acts))


def _layer_cam_map(acts, grads):
    # Layer-CAM (Jiang et al. 2021, Eqs. 5-6): a spatial weight per position, not per channel.
    return _relu((_relu(grads) * acts).sum(axis=-1))


_DOC_PARAMS = """
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
"""


def grad_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
             batch_size=32, output=None):
    r"""Grad-CAM (Selvaraju et al. 2017):

    .. math::
        \alpha_k^c = \frac{1}{Z}\sum_i\sum_j \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
        L^c_{Grad-CAM} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)

    For a GAP -> Dense classifier :math:`\alpha_k^c = w_k^c / Z`, so Grad-CAM is ReLU(CAM) up to a
    positive scale. Shown in ``notebooks/03_gradcam_deep_dive.ipynb``.
    """
    return explain_with(_grad_cam_map, model, images, class_index, layer, upsample, normalize,
                        batch_size, output)


def grad_cam_plus_plus(model, images, class_index=None, layer=None, upsample=True, normalize=True,
                       batch_size=32, output=None):
    r"""Grad-CAM++ (Chattopadhyay et al. 2018): pixel-wise weighted positive gradients,

    .. math:: L^c = \mathrm{ReLU}\Big(\sum_k w^c_k A^k\Big), \quad
              w^c_k = \sum_{ij} a^{kc}_{ij}\,\mathrm{ReLU}(\partial y^c/\partial A^k_{ij})

    with :math:`a^{kc}_{ij}` as in :func:`grad_cam_plus_plus_weights`.
    """
    return explain_with(_grad_cam_pp_map, model, images, class_index, layer, upsample, normalize,
                        batch_size, output)


def xgrad_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
              batch_size=32, output=None):
    r"""XGrad-CAM (Fu et al. 2020): gradients weighted by each channel's normalised activations,

    .. math:: L^c = \mathrm{ReLU}\Big(\sum_k \Big(\sum_{ij} \frac{A^k_{ij}}{\sum_{ab} A^k_{ab}}
              \frac{\partial y^c}{\partial A^k_{ij}}\Big) A^k\Big)
    """
    return explain_with(_xgrad_cam_map, model, images, class_index, layer, upsample, normalize,
                        batch_size, output)


def layer_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
              batch_size=32, output=None):
    r"""Layer-CAM (Jiang et al. 2021): every position gets its own weight, the positive gradient,

    .. math:: L^c_{ij} = \mathrm{ReLU}\Big(\sum_k \mathrm{ReLU}\big(\partial y^c/\partial A^k_{ij}\big)
              A^k_{ij}\Big)

    which keeps finer detail than one weight per channel and also works on earlier layers.
    """
    return explain_with(_layer_cam_map, model, images, class_index, layer, upsample, normalize,
                        batch_size, output)


def smooth_grad_cam_plus_plus(model, images, class_index=None, layer=None, upsample=True,
                              normalize=True, batch_size=32, output=None, n_samples=8,
                              noise_level=0.15, seed=0):
    r"""Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ with the activations and the gradient
    powers averaged over ``n_samples`` noisy copies of each image,

    .. math::
        \bar g^{(p)} = \frac{1}{n}\sum_{s=1}^{n} \big(g(x + \epsilon_s)\big)^p,\ p = 1, 2, 3, \qquad
        \epsilon_s \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \text{noise\_level}\,(\max x - \min x)

    and :math:`\bar A` likewise, then the Grad-CAM++ weights of :func:`grad_cam_plus_plus_weights`
    with :math:`g^2, g^3` replaced by :math:`\bar g^{(2)}, \bar g^{(3)}`. The class is fixed on the
    clean image (the predicted class when ``class_index`` is None). Same ``seed``, same map.

    Extra parameters
    ----------------
    n_samples : int
        Noisy copies per image (>= 1).
    noise_level : float
        Noise standard deviation relative to each image's value range (>= 0).
    seed : int
        Seed of the noise.
    """
    upsample = check_upsample(upsample)
    normalize = check_bool(normalize, "normalize")
    batch_size = check_batch_size(batch_size)
    n_samples = check_int(n_samples, "n_samples", 1)
    noise_level = check_float(noise_level, "noise_level", 0.0)
    seed = check_int(seed, "seed")
    x, single = prepare_images(images, model)
    probe = get_probe(model, layer, output)
    cls = class_indices(class_index, len(x), probe.n_classes)
    # fix the class on the clean images
    fixed = []
    for s in range(0, len(x), batch_size):
        fixed.append(probe._fwd(x[s:s + batch_size], cls[s:s + batch_size])[-1].numpy())
    cls = np.concatenate(fixed)
    rng = np.random.default_rng(seed)
    sigma = noise_level * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
    per = max(1, batch_size // n_samples)          # images per chunk, each with n_samples copies
    maps = []
    for s in range(0, len(x), per):
        xb, cb, sb = x[s:s + per], cls[s:s + per], sigma[s:s + per]
        noisy = np.repeat(xb, n_samples, axis=0)
        noisy = noisy + rng.standard_normal(noisy.shape).astype(np.float32) \
            * np.repeat(sb, n_samples)[:, None, None, None].astype(np.float32)
        a_all, g_all = [], []
        for t in range(0, len(noisy), batch_size):
            a, g, _, _ = probe._grad(noisy[t:t + batch_size],
                                     np.repeat(cb, n_samples)[t:t + batch_size])
            a_all.append(a.numpy().astype(np.float64))
            g_all.append(g.numpy().astype(np.float64))
        a = np.concatenate(a_all).reshape((len(xb), n_samples) + a_all[0].shape[1:])
        g = np.concatenate(g_all).reshape((len(xb), n_samples) + g_all[0].shape[1:])
        a_mean = a.mean(axis=1)
        g1, g2, g3 = g.mean(axis=1), (g ** 2).mean(axis=1), (g ** 3).mean(axis=1)
        total = a_mean.sum(axis=(1, 2), keepdims=True)
        denom = 2.0 * g2 + total * g3
        denom = np.where((g2 != 0.0) & (denom != 0.0), denom, 1.0)
        alpha = g2 / denom
        norm = alpha.sum(axis=(1, 2), keepdims=True)
        alpha = alpha / np.where(norm != 0.0, norm, 1.0)
        w = (alpha * _relu(g1)).sum(axis=(1, 2))
        maps.append(_relu(_combine(w, a_mean)))
    return finish(np.concatenate(maps), x.shape[1:3], upsample, normalize, single)


for _f in (grad_cam, grad_cam_plus_plus, xgrad_cam, layer_cam):
    _f.__doc__ = _f.__doc__.rstrip() + "\n" + _DOC_PARAMS
smooth_grad_cam_plus_plus.__doc__ = smooth_grad_cam_plus_plus.__doc__.rstrip() + "\n" + _DOC_PARAMS
