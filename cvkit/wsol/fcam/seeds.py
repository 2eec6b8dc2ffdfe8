r"""F-CAM's pseudo-labels: a few foreground and background pixels drawn from a CAM, at every step.

The decoder of F-CAM never sees a mask. It learns from *seeds* drawn anew for every image at every
training step from the CAM of the true class (Belharbi et al., WACV 2022, Sec. 3):

1. the map is min-max normalised and bilinearly up-sampled to the image;
2. **foreground pool**: the pixels above Otsu's threshold of the map as uint8 (the threshold
   clamped to [1, 254]), eroded once by an 11 x 11 square unless that empties the pool;
3. **background pool**: the fraction :math:`n^-` of pixels with the lowest values;
4. :math:`k` pixels are drawn from each pool uniformly without replacement (optionally dilated to a
   small square); a pixel claimed by both is dropped; every other pixel is ignored by the loss.

Everything here is TensorFlow, so it runs inside the compiled training step. Shown in
``notebooks/09_fcam.ipynb``.
"""
from __future__ import annotations

import numpy as np

from ..._validate import check_float, check_int

__all__ = ["otsu_thresholds_tf", "seed_pools", "sample_seeds", "check_seed_options"]


def otsu_thresholds_tf(maps_u8):
    r"""Otsu's threshold of every uint8 map of a batch at once (one bin per grey level).

    .. math:: t^* = \arg\max_t\; \omega_0(t)\,\omega_1(t)\,\big(\mu_0(t) - \mu_1(t)\big)^2

    the first maximum, as :func:`cvkit.segmentation.otsu_threshold` and OpenCV; the foreground is
    ``map > t``. A constant map returns its value.

    Parameters
    ----------
    maps_u8 : tf.Tensor, (N, H, W), integer values in [0, 255]

    Returns
    -------
    tf.Tensor
        int32 (N,).

    Examples
    --------
    >>> import tensorflow as tf
    >>> m = tf.constant([[[0, 0, 1, 3, 3, 3]], [[7, 7, 7, 7, 7, 7]]], tf.uint8)
    >>> otsu_thresholds_tf(m).numpy().tolist()
    [1, 7]
    """
    import tensorflow as tf

    u = tf.cast(tf.reshape(maps_u8, (tf.shape(maps_u8)[0], -1)), tf.int32)
    # one 256-bin histogram per row; the raw op with a constant size also compiles with XLA
    # (tf.math.bincount derives its size from the data, which XLA refuses)
    hist = tf.raw_ops.DenseBincount(input=u, size=256, weights=tf.zeros([0], tf.float64),
                                    binary_output=False)
    levels = tf.range(256, dtype=tf.float64)
    w0 = tf.cumsum(hist, axis=1)                        # pixels at or below t
    total = w0[:, -1:]
    w1 = total - w0
    m0 = tf.cumsum(hist * levels, axis=1)
    m1 = m0[:, -1:] - m0
    mu0 = m0 / tf.where(w0 > 0, w0, 1.0)
    mu1 = m1 / tf.where(w1 > 0, w1, 1.0)
    sigma_b = tf.where((w0 > 0) & (w1 > 0), w0 * w1 * (mu0 - mu1) ** 2, -1.0)
    t = tf.argmax(sigma_b, axis=1, output_type=tf.int32)   # first maximum
    constant = tf.reduce_min(u, axis=1) == tf.reduce_max(u, axis=1)
    return tf.where(constant, u[:, 0], t)


def _erode(mask, size):
    """Binary erosion of (N, H, W) masks by a size x size square (outside the image counts as set,
    as OpenCV's default border for erosion)."""
    import tensorflow as tf

    return -tf.nn.max_pool2d(-mask[..., None], size, 1, "SAME")[..., 0]


def seed_pools(maps, n_neg=0.2, erode=11):
    """The foreground and background pools of a batch of normalised maps (N, H, W) in [0, 1].

    Returns
    -------
    fg, bg : tf.Tensor
        float32 (N, H, W) masks of 0 / 1.

    Examples
    --------
    >>> import tensorflow as tf
    >>> m = np.zeros((1, 20, 20), np.float32)
    >>> m[0, 2:18, 2:18] = 1.0                       # a 16 x 16 square
    >>> fg, bg = seed_pools(tf.constant(m), n_neg=0.25, erode=11)
    >>> int(fg.numpy().sum()), int(bg.numpy().sum())  # eroded by 5 on each side; 100 lowest
    (36, 100)
    """
    import tensorflow as tf

    maps = tf.convert_to_tensor(maps, tf.float32)
    u8 = tf.cast(tf.clip_by_value(maps * 255.0, 0.0, 255.0), tf.int32)   # floor, as uint8 casts
    t = tf.clip_by_value(otsu_thresholds_tf(u8), 1, 254)
    fg = tf.cast(u8 > t[:, None, None], tf.float32)
    if erode > 1:
        eroded = _erode(fg, erode)
        keep = tf.reduce_sum(eroded, axis=(1, 2), keepdims=True) > 0
        fg = tf.where(keep, eroded, fg)
    flat = tf.reshape(maps, (tf.shape(maps)[0], -1))
    # int(n_neg * H * W) as Python computes it (float64): float32 is one pixel off for some sizes
    n_low = tf.maximum(1, tf.cast(n_neg * tf.cast(tf.shape(flat)[1], tf.float64), tf.int32))
    order = tf.argsort(flat, axis=1, stable=True)[:, :n_low]             # the lowest values
    rows = tf.repeat(tf.range(tf.shape(flat)[0])[:, None], n_low, axis=1)
    bg = tf.scatter_nd(tf.stack([rows, order], -1), tf.ones(tf.shape(order), tf.float32),
                       tf.shape(flat))
    return fg, tf.reshape(bg, tf.shape(maps))


def _draw(pool, k, noise):
    """k pixels of each (N, P) pool uniformly without replacement: the k largest random keys
    among the pool's pixels (fewer when the pool is smaller than k)."""
    import tensorflow as tf

    pixels = pool.shape[1] if pool.shape[1] is not None else tf.shape(pool)[1]
    k = tf.minimum(k, pixels) if isinstance(pixels, tf.Tensor) else min(k, pixels)   # k > H W
    keys = tf.where(pool > 0, noise, -1.0)
    vals, idx = tf.math.top_k(keys, k)
    rows = tf.repeat(tf.range(tf.shape(pool)[0])[:, None], k, axis=1)
    picked = tf.scatter_nd(tf.stack([rows, idx], -1), tf.cast(vals >= 0, tf.float32),
                           tf.shape(pool))
    return tf.minimum(picked, 1.0)


def check_seed_options(k, n_neg, erode, dilate):
    """Validate the seed options (shared by :func:`sample_seeds` and the model builder).

    Examples
    --------
    >>> check_seed_options(10, 0.2, 11, 1)
    (10, 0.2, 11, 1)
    >>> check_seed_options(10, 1.0, 11, 1)
    Traceback (most recent call last):
    ...
    ValueError: `n_neg` must be in (0, 1): the fraction of pixels that may be background; got 1.0.
    """
    k = check_int(k, "k", minimum=1)
    n_neg = check_float(n_neg, "n_neg", 0.0, 1.0, strict_min=True)
    if n_neg >= 1.0:
        raise ValueError(f"`n_neg` must be in (0, 1): the fraction of pixels that may be "
                         f"background; got {n_neg}.")
    erode = check_int(erode, "erode", minimum=1)
    dilate = check_int(dilate, "dilate", minimum=1)
    return k, n_neg, erode, dilate


def sample_seeds(maps, k=10, n_neg=0.2, erode=11, dilate=1, seed=None):
    """Draw the seeds of a batch of normalised maps: ``k`` foreground and ``k`` background pixels.

    Parameters
    ----------
    maps : tf.Tensor or array, (N, H, W) in [0, 1]
        The CAMs of the true classes, up-sampled to the image and min-max normalised.
    k : int >= 1
        Pixels drawn from each pool (fewer if the pool is smaller).
    n_neg : float in (0, 1)
        The fraction of lowest-valued pixels that forms the background pool.
    erode : int
        Side of the square that erodes the foreground pool once (1: no erosion).
    dilate : int
        Side of the square each drawn pixel grows to (1: single pixels).
    seed : int, keras.random.SeedGenerator or None
        Randomness of the draw (a ``SeedGenerator`` inside a training step).

    Returns
    -------
    fg, bg : tf.Tensor
        float32 (N, H, W) 0 / 1 masks of the foreground and background seeds; no pixel is in both.

    Examples
    --------
    >>> m = np.zeros((2, 32, 32), np.float32)
    >>> m[:, 4:28, 4:28] = np.linspace(0.5, 1.0, 24)          # a bright square on a dark ground
    >>> fg, bg = sample_seeds(m, k=5, seed=0)
    >>> fg.numpy().sum(axis=(1, 2)).tolist(), bg.numpy().sum(axis=(1, 2)).tolist()
    ([5.0, 5.0], [5.0, 5.0])
    >>> bool((fg.numpy() * (m < 0.5)).sum() == 0), bool((bg.numpy() * (m > 0)).sum() == 0)
    (True, True)
    """
    import keras
    import tensorflow as tf

    k, n_neg, erode, dilate = check_seed_options(k, n_neg, erode, dilate)
    maps = tf.convert_to_tensor(maps, tf.float32)
    if maps.shape.rank != 3:
        raise ValueError(f"`maps` must have shape (N, H, W); got {tuple(maps.shape)}.")
    fg_pool, bg_pool = seed_pools(maps, n_neg, erode)
    shape = tf.shape(maps)
    flat = (shape[0], shape[1] * shape[2])
    seeds = (seed, seed + 1) if isinstance(seed, int) else (seed, seed)   # two different draws
    k_fg = keras.random.uniform(flat, seed=seeds[0])
    k_bg = keras.random.uniform(flat, seed=seeds[1])
    fg = tf.reshape(_draw(tf.reshape(fg_pool, flat), k, k_fg), shape)
    bg = tf.reshape(_draw(tf.reshape(bg_pool, flat), k, k_bg), shape)
    if dilate > 1:
        fg = tf.nn.max_pool2d(fg[..., None], dilate, 1, "SAME")[..., 0]
        bg = tf.nn.max_pool2d(bg[..., None], dilate, 1, "SAME")[..., 0]
    both = fg * bg
    return fg - both, bg - both
