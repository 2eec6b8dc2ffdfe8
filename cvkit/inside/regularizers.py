r"""The regularisers of feature visualisation (Olah et al. 2017; Mordvintsev's lucid and
DeepDream), each usable on its own: octave sizes, total variation, Gaussian blur, the Fourier
preconditioning of the gradient and random transformations.

:func:`cvkit.inside.gradient_ascent` runs them inside its compiled step through the private
TensorFlow versions (``_tv_tf``, ``_blur_tf``, ``_spectral_tf``, ``_transform_tf``); the public
functions take and return NumPy arrays. Notebook: ``notebooks/08_inside_cnns.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import (as_array, as_images, check_finite, check_float, check_int, check_seed,
                         check_size, restore_rank)

__all__ = [
    "octave_sizes",
    "total_variation",
    "gaussian_blur",
    "spectral_precondition",
    "random_transform",
]


def octave_sizes(size, octaves=1, octave_scale=1.5):
    r"""The image sizes of the octaves of :func:`~cvkit.inside.gradient_ascent`, coarse to fine.

    Octave :math:`k = 0, \dots, K-1` optimises an image of
    :math:`\lfloor H / s^{K-1-k} + \tfrac12 \rfloor \times \lfloor W / s^{K-1-k} + \tfrac12 \rfloor`
    pixels (:math:`s` = ``octave_scale``), bilinearly up-sampled to the model's input size before
    each forward pass; the next octave starts from the up-sampled result and the last works at the
    full size. Coarse octaves can only hold low frequencies, so the large structure is settled
    first (the octaves of Mordvintsev's DeepDream).

    Parameters
    ----------
    size : int or (int, int)
        Full image size (H, W).
    octaves : int >= 1
    octave_scale : float > 1

    Returns
    -------
    list of (int, int)
        ``octaves`` sizes, the last equal to ``size``.

    Raises
    ------
    ValueError
        When the coarsest octave would be under 4 pixels on a side.

    Examples
    --------
    >>> octave_sizes(64, 3, 2.0)
    [(16, 16), (32, 32), (64, 64)]
    >>> octave_sizes((64, 48), 2)
    [(43, 32), (64, 48)]
    """
    h, w = check_size(size, "size")
    octaves = check_int(octaves, "octaves", minimum=1)
    octave_scale = check_float(octave_scale, "octave_scale", 1.0, strict_min=True)
    # checked before building one size per octave (in logs: the power overflows for big octaves)
    if (octaves - 1) * np.log(octave_scale) > np.log(min(h, w) / 3.5):
        raise ValueError(f"`octaves`={octaves} with `octave_scale`={octave_scale} makes the "
                         f"coarsest octave under 4 px for a {h}x{w} image; it must be at least "
                         "4 px: use fewer octaves or a smaller scale.")
    f = octave_scale ** np.arange(octaves - 1, -1, -1, dtype=np.float64)
    sizes = [(int(np.floor(h / v + 0.5)), int(np.floor(w / v + 0.5))) for v in f]
    if min(sizes[0]) < 4:
        raise ValueError(f"`octaves`={octaves} with `octave_scale`={octave_scale} makes the "
                         f"coarsest octave {sizes[0][0]}x{sizes[0][1]} px for a {h}x{w} image; "
                         "it must be at least 4 px: use fewer octaves or a smaller scale.")
    return sizes


def _tv_tf(x):
    """Per-image mean anisotropic total variation of a (N, H, W, C) tensor."""
    import tensorflow as tf

    dy = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3])
    return dy + dx


def total_variation(images):
    r"""Mean anisotropic total variation of each image: the TV penalty of gradient ascent.

    .. math::
        TV(I) = \overline{|I_{y+1,x} - I_{y,x}|} + \overline{|I_{y,x+1} - I_{y,x}|}

    each bar a mean over the pixels and channels where the forward difference is defined, so the
    value does not grow with the image size (0 for a constant image, 1 for stripes of 0 and 1 one
    pixel wide, 2 for a one-pixel checkerboard).

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image, float in [0, 1] or uint8; H, W >= 2.

    Returns
    -------
    np.ndarray or float
        float32 (N,), or a float for one image.

    Examples
    --------
    >>> stripes = np.tile(np.array([0.0, 1.0], np.float32), (4, 2))[..., None].repeat(3, -1)
    >>> stripes.shape, total_variation(stripes)   # |dx| = 1 everywhere, dy = 0
    ((4, 4, 3), 1.0)
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    if min(imgs.shape[1:3]) < 2:
        raise ValueError(f"`images` must be at least 2x2 to have a total variation; got "
                         f"{imgs.shape[1]}x{imgs.shape[2]}.")
    tv = _tv_tf(tf.constant(imgs)).numpy().astype(np.float32)
    return float(tv[0]) if single else tv


def _gauss_kernel(sigma):
    """1-D Gaussian of radius floor(3 sigma + 1/2) (SciPy's ``truncate=3``), summing to 1."""
    r = int(3.0 * sigma + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def _blur_tf(x, sigma):
    """Separable Gaussian blur of a (N, H, W, C) tensor with mirrored (symmetric) borders."""
    import tensorflow as tf

    k = _gauss_kernel(sigma)
    r, c = len(k) // 2, int(x.shape[-1])
    if r == 0:
        return x
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="SYMMETRIC")
    ky = tf.constant(np.tile(k[:, None, None, None], (1, 1, c, 1)))
    kx = tf.constant(np.tile(k[None, :, None, None], (1, 1, c, 1)))
    x = tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "VALID")


def gaussian_blur(images, sigma):
    r"""Gaussian blur with mirrored borders: the blur of gradient ascent.

    Each channel is convolved along rows, then columns, with
    :math:`g(t) \propto e^{-t^2 / 2\sigma^2}` for :math:`|t| \le r = \lfloor 3\sigma + \tfrac12
    \rfloor`, normalised to sum 1; the image is mirrored at its borders (``d c b a | a b c d``).
    This equals ``scipy.ndimage.gaussian_filter(x, (0, sigma, sigma, 0), mode='reflect',
    truncate=3)``. Blurring the image every few steps of gradient ascent damps the high
    frequencies that the gradient keeps adding (Yosinski et al. 2015).

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image in [0, 1] (or uint8).
    sigma : float > 0
        Standard deviation in pixels; the radius must be below the image size.

    Returns
    -------
    np.ndarray
        float32, the shape of ``images``.

    Examples
    --------
    >>> x = np.zeros((9, 9, 3), np.float32); x[4, 4] = 1.0
    >>> y = gaussian_blur(x, 1.0)
    >>> round(float(y.sum() / 3), 6), bool(y[4, 4, 0] > y[4, 5, 0] > y[4, 6, 0])
    (1.0, True)
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    sigma = check_float(sigma, "sigma", 0.0, strict_min=True)
    r = int(3.0 * sigma + 0.5)
    if r >= min(imgs.shape[1:3]):
        raise ValueError(f"`sigma`={sigma} has a kernel radius of {r} px, too large for "
                         f"{imgs.shape[1]}x{imgs.shape[2]} images; use sigma < "
                         f"{min(imgs.shape[1:3]) / 3:.3g}.")
    return restore_rank(_blur_tf(tf.constant(imgs), sigma).numpy(), single)


def _spectral_tf(g, decay_power):
    r"""Filter the channels of a (N, H, W, C) tensor by :math:`\max(f, 1/\max(H, W))^{-2d}` in
    the 2-D Fourier domain (f in cycles per pixel)."""
    import tensorflow as tf

    h, w = tf.shape(g)[1], tf.shape(g)[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    ky = tf.cast(tf.range(h), tf.float32)
    ky = tf.minimum(ky, hf - ky) / hf
    kx = tf.cast(tf.range(w // 2 + 1), tf.float32) / wf
    f = tf.maximum(tf.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2), 1.0 / tf.maximum(hf, wf))
    spec = tf.signal.rfft2d(tf.transpose(g, [0, 3, 1, 2]))
    spec *= tf.cast(f ** (-2.0 * decay_power), tf.complex64)
    return tf.transpose(tf.signal.irfft2d(spec, fft_length=[h, w]), [0, 2, 3, 1])


def spectral_precondition(gradient, decay_power=1.0):
    r"""The update of lucid's Fourier image parametrisation, applied to a pixel gradient.

    Lucid writes the image as :math:`I = \mathcal F^{-1}(s \odot p)` with the spectrum scaled by
    :math:`s(f) = 1 / \max(f, 1/N)^{d}` (``decay_power`` :math:`d`, :math:`f` the spatial
    frequency in cycles per pixel, :math:`N = \max(H, W)`) and climbs the gradient in :math:`p`.
    A gradient step :math:`\Delta p = \eta\, s \odot \mathcal F(g)` moves the image by
    :math:`\Delta I = \eta\, \mathcal F^{-1}(s^2 \odot \mathcal F(g))`: the pixel gradient
    :math:`g` with each frequency scaled by :math:`s(f)^2 = \max(f, 1/N)^{-2d}`, which is what
    this function returns. Low frequencies move fast and high ones slowly, so the ascent builds
    large structure instead of pixel noise (Olah et al. 2017, "preconditioning";
    :func:`~cvkit.inside.gradient_ascent` with ``decay_power``).

    Parameters
    ----------
    gradient : array
        (N, H, W, C) or one (H, W, C), any real values.
    decay_power : float >= 0
        0 returns the gradient unchanged.

    Returns
    -------
    np.ndarray
        float32, the shape of ``gradient``.

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32)
    >>> waves = np.stack([np.cos(2 * np.pi * x / 16), np.cos(2 * np.pi * x / 4)], -1)  # f = 1/16, 1/4
    >>> g = np.repeat(waves[None], 16, 0)                              # (16, 16, 2), along x
    >>> out = spectral_precondition(g, 1.0)
    >>> np.round(out[0, 0] / g[0, 0], 3)                               # f^-2 = 256 and 16
    array([256.,  16.], dtype=float32)
    """
    import tensorflow as tf

    g = as_array(gradient, "gradient", kind="float", dtype=np.float32, empty_ok=False)
    if g.ndim not in (3, 4):
        raise ValueError(f"`gradient` must be (N, H, W, C) or (H, W, C); got shape {g.shape}.")
    single = g.ndim == 3
    decay_power = check_float(decay_power, "decay_power", 0.0)
    gain = 2 * decay_power * np.log10(max(g.shape[-3:-1]))   # log10 of the largest factor
    if gain > 30:
        raise ValueError(f"`decay_power`={decay_power:g} scales the lowest frequency by "
                         f"max(H, W)^(2 d) = 10^{gain:.0f}, beyond float32; use a decay_power "
                         "around 0.5-2.")
    g4 = g[None] if single else g
    out = g4 if decay_power == 0 else _spectral_tf(tf.constant(g4), decay_power).numpy()
    check_finite(out, "the preconditioned `gradient` (too large for float32)")
    return restore_rank(out, single)


def _transform_tf(x, seed, i, jitter, scale, rotate):
    """Random roll by up to ``jitter`` px, then zoom by a factor in ``scale`` and rotation by up to
    ``rotate`` degrees about the centre; draws are stateless from (``seed``, ``i``)."""
    import tensorflow as tf

    key = tf.stack([tf.cast(seed, tf.int32), tf.cast(i, tf.int32)])
    if jitter > 0:
        sh = tf.random.stateless_uniform([2], seed=key, minval=-jitter, maxval=jitter + 1,
                                         dtype=tf.int32)
        x = tf.roll(x, sh, axis=[1, 2])
    if scale is None and rotate == 0:
        return x
    u = tf.random.stateless_uniform([2], seed=tf.random.experimental.stateless_fold_in(key, 1))
    lo, hi = scale if scale is not None else (1.0, 1.0)
    inv = 1.0 / (lo + (hi - lo) * u[0])  # the output samples the input at centre + R d / s
    ang = float(np.deg2rad(rotate)) * (2.0 * u[1] - 1.0)
    cos, sin = inv * tf.cos(ang), inv * tf.sin(ang)
    hw = tf.shape(x)[1:3]
    cy, cx = (tf.cast(hw[0], tf.float32) - 1) / 2, (tf.cast(hw[1], tf.float32) - 1) / 2
    t = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                  0.0, 0.0])
    t = tf.tile(t[None], [tf.shape(x)[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=t, output_shape=hw,
                                                 fill_value=0.0, interpolation="BILINEAR",
                                                 fill_mode="REFLECT")


def _check_transform(jitter, scale, rotate):
    """The arguments of the random transform, checked: (jitter, scale or None, rotate)."""
    jitter = check_int(jitter, "jitter", minimum=0)
    if scale is not None:
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise TypeError(f"`scale` must be None or a pair (low, high) of zoom factors; got "
                            f"{scale!r}.")
        lo = check_float(scale[0], "scale", 0.0, strict_min=True)
        hi = check_float(scale[1], "scale", 0.0, strict_min=True)
        if lo > hi:
            raise ValueError(f"`scale` must be (low, high) with low <= high; got {scale!r}.")
        scale = (lo, hi)
    rotate = check_float(rotate, "rotate", 0.0, 180.0)
    return jitter, scale, rotate


def random_transform(images, seed=0, step=0, jitter=0, scale=None, rotate=0.0):
    r"""The transformation-robustness step of gradient ascent, on its own.

    The image is rolled (circularly) by a shift :math:`(d_y, d_x)` drawn uniformly from
    :math:`\{-j, \dots, j\}^2` (``jitter``), then zoomed by a factor :math:`s \sim U(s_0, s_1)`
    (``scale``) and rotated by :math:`\theta \sim U(-\theta_{max}, \theta_{max})` degrees
    (``rotate``) about its centre: output pixel :math:`p` samples the input at
    :math:`c + R(\theta)(p - c) / s` (bilinear, mirrored borders). Optimising the score of the
    transformed image asks for a picture that works at every small shift and scale, not a
    pixel-exact adversarial pattern (Olah et al. 2017, "transformation robustness"). The draws are
    stateless functions of (``seed``, ``step``): the same pair gives the same transform.

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image in [0, 1] (or uint8).
    seed, step : int
    jitter : int >= 0
    scale : (float, float) or None
        Zoom range (``None`` = no zoom).
    rotate : float in [0, 180]
        Maximum rotation in degrees.

    Returns
    -------
    np.ndarray
        float32, the shape of ``images``; the same transform for every image of the batch.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    >>> a = random_transform(x, seed=1, step=5, jitter=2, scale=(0.9, 1.1), rotate=10)
    >>> np.array_equal(a, random_transform(x, seed=1, step=5, jitter=2, scale=(0.9, 1.1),
    ...                                    rotate=10))
    True
    >>> np.array_equal(random_transform(x, jitter=0, scale=(1, 1)), x)   # the identity
    True
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    jitter, scale, rotate = _check_transform(jitter, scale, rotate)
    seed, step = check_seed(seed, allow_none=False), check_int(step, "step", minimum=0)
    if jitter > max(imgs.shape[1:3]):
        raise ValueError(f"`jitter` must be at most the image's larger side "
                         f"{max(imgs.shape[1:3])} (a shift beyond it only wraps around); got "
                         f"{jitter}.")
    out = _transform_tf(tf.constant(imgs), tf.constant(seed), tf.constant(step), jitter, scale,
                        rotate)
    return restore_rank(out.numpy(), single)
