r"""The augmentations of Augmented Grad-CAM: draw them, apply them to images and maps, invert them.

An augmentation is a row (angle, dx, dy): a rotation by ``angle`` radians about the image centre
(positive = counter-clockwise as displayed), then a translation by (dx, dy) pixels (x to the right,
y down). The forward warp moves a point :math:`p` to :math:`A_\ell(p) = R(\theta_\ell)(p - c) + c
+ t_\ell`, and output pixel :math:`q` of copy :math:`\ell` reads the input at
:math:`A_\ell^{-1}(q)` by bilinear interpolation with zeros outside the image. One function
(:func:`_source_coordinates`) computes those sampling points, so the image copies
(:func:`augment`) and the operator :math:`A_\ell` of
:class:`~cvkit.explain.augmented.AugmentationOperator` are the same warp.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from cvkit._validate import as_images, as_maps, check_float, check_int, to_numpy

__all__ = ["random_augmentations", "augment", "warp_maps", "invert_augmentations"]


def _as_params(params, name="params"):
    """Validate augmentation parameters: (L, 3) rows (angle [rad], dx [px], dy [px])."""
    arr = to_numpy(params)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)
                                   or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"`{name}` must be a numeric array of (angle, dx, dy) rows; got dtype "
                        f"{arr.dtype}.")
    if arr.ndim == 1 and arr.shape[0] == 3:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"`{name}` must have shape (L, 3) with L >= 1, one row (angle in radians, "
                         f"dx, dy in pixels) per augmentation; got shape {arr.shape}. Use "
                         "random_augmentations(L) to draw them.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def random_augmentations(n, max_angle=0.5, max_shift=30, seed=0):
    r"""Draw ``n`` random augmentations, the first one the identity.

    Each augmentation is a row (angle, dx, dy): a rotation by ``angle`` radians about the image
    centre (positive = counter-clockwise as displayed), then a translation by (dx, dy) pixels of the
    input image (x to the right, y down). Angles are uniform in
    :math:`[-\theta_{max}, \theta_{max}]`, shifts uniform in :math:`[-s_{max}, s_{max}]`, as in the
    authors' code (0.5 rad, 30 px on 224 x 224 images).

    Parameters
    ----------
    n : int
        Number of augmentations L (>= 1). Row 0 is always (0, 0, 0).
    max_angle : float
        Largest rotation in radians (>= 0).
    max_shift : float
        Largest translation in pixels (>= 0); scale it with the image size.
    seed : int
        Random seed; the same seed gives the same augmentations.

    Returns
    -------
    params : np.ndarray
        float32 (n, 3).

    Examples
    --------
    >>> p = random_augmentations(4, seed=1)
    >>> p.shape, p[0].tolist()
    ((4, 3), [0.0, 0.0, 0.0])

    See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    n = check_int(n, "n", minimum=1)
    max_angle = check_float(max_angle, "max_angle", minimum=0.0)
    max_shift = check_float(max_shift, "max_shift", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    params = np.empty((n, 3), dtype=np.float32)
    params[:, 0] = rng.uniform(-max_angle, max_angle, n)
    params[:, 1:] = rng.uniform(-max_shift, max_shift, (n, 2))
    params[0] = 0.0
    return params


def invert_augmentations(params):
    r"""Parameters of the inverse warps: :math:`A_\ell^{-1}` as (angle, dx, dy) rows.

    The forward warp moves a point :math:`p` to :math:`R(\theta)(p - c) + c + t`; its inverse is a
    rotation by :math:`-\theta` followed by the translation :math:`-R(-\theta)\,t`. Up to the
    interpolation and the zero fill, ``warp_maps(warp_maps(m, p), invert_augmentations(p))``
    gives ``m`` back (used by :func:`~cvkit.explain.augmented.warp_back_baseline`).

    Parameters
    ----------
    params : array (L, 3) or (3,)
        Rows (angle [rad], dx [px], dy [px]), as from :func:`random_augmentations`.

    Returns
    -------
    np.ndarray
        float32 (L, 3).

    Examples
    --------
    >>> invert_augmentations([0.0, 2.0, -1.0]).tolist()
    [[-0.0, -2.0, 1.0]]
    >>> p = np.array([[0.3, 4.0, 1.0]], np.float32)
    >>> np.allclose(invert_augmentations(invert_augmentations(p)), p, atol=1e-6)
    True
    """
    p = _as_params(params).astype(np.float64)
    ang, dx, dy = p[:, 0], p[:, 1], p[:, 2]
    c, s = np.cos(ang), np.sin(ang)
    # R(theta) acting on (x, y) with y down, counter-clockwise as displayed: [[c, s], [-s, c]].
    # R(-theta) = [[c, -s], [s, c]];  t' = -R(-theta) t
    out = np.stack([-ang, -(c * dx - s * dy), -(s * dx + c * dy)], axis=1)
    return out.astype(np.float32)


def _source_coordinates(params, height, width):
    """Where each output pixel of each copy samples the input: (L, H, W) x and y, float32."""
    ang, dx, dy = params[:, 0], params[:, 1], params[:, 2]
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    ys = tf.range(height, dtype=tf.float32)[None, :, None] - cy
    xs = tf.range(width, dtype=tf.float32)[None, None, :] - cx
    c = tf.cos(ang)[:, None, None]
    s = tf.sin(ang)[:, None, None]
    u = xs - dx[:, None, None]
    v = ys - dy[:, None, None]
    # inverse of p -> R(theta)(p - c) + c + t, with R(theta) = [[c, s], [-s, c]]
    sx = c * u - s * v + cx
    sy = s * u + c * v + cy
    return sx, sy


def _warp_impl(x, params, broadcast):
    """One batched ``ImageProjectiveTransformV3`` (bilinear, zero fill) for all L copies.

    Output pixel (x, y) of copy l reads the input at the affine source point of
    :func:`_source_coordinates`: ``sx = c x - s y + a``, ``sy = s x + c y + b`` with
    ``a = cx - c (cx + dx) + s (cy + dy)`` and ``b = cy - s (cx + dx) - c (cy + dy)``; the op
    interpolates the four integer neighbours with zeros outside the image, exactly the taps of the
    operator :class:`~cvkit.explain.augmented.AugmentationOperator` (tested against it).
    """
    shape = tf.shape(x)
    height, width = shape[1], shape[2]
    ang, dx, dy = params[:, 0], params[:, 1], params[:, 2]
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    c, s = tf.cos(ang), tf.sin(ang)
    a = cx - c * (cx + dx) + s * (cy + dy)
    b = cy - s * (cx + dx) - c * (cy + dy)
    zero = tf.zeros_like(c)
    transforms = tf.stack([c, -s, a, s, c, b, zero, zero], axis=1)
    if broadcast:
        x = tf.repeat(x, tf.shape(params)[0], axis=0)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.stack([height, width]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


_SPECS = [tf.TensorSpec([None, None, None, None], tf.float32), tf.TensorSpec([None, 3], tf.float32)]
_warp_one = tf.function(lambda x, p: _warp_impl(x, p, True), input_signature=_SPECS)
_warp_each = tf.function(lambda x, p: _warp_impl(x, p, False), input_signature=_SPECS)


def _warp(x, params, broadcast=True):
    """Warp (B, H, W, C) by (L, 3) params, compiled: B == 1 with ``broadcast`` (L copies of one
    image), or B == L (image i by row i)."""
    return (_warp_one if broadcast else _warp_each)(tf.cast(x, tf.float32),
                                                    tf.cast(params, tf.float32))


def augment(images, params):
    r"""Apply augmentations (rotation about the centre, then translation; bilinear, zero fill).

    The output pixel :math:`q` of copy :math:`\ell` takes the input at
    :math:`A_\ell^{-1}(q) = R(-\theta_\ell)(q - c - t_\ell) + c`, read by bilinear interpolation
    with zeros outside the image; :math:`c = ((W-1)/2, (H-1)/2)` (pixel centres at integer
    coordinates). The same taps build the operator :math:`A_\ell` of
    :class:`~cvkit.explain.augmented.AugmentationOperator`.

    Parameters
    ----------
    images : array
        One image (H, W, C) or a batch (N, H, W, C), float in [0, 1] or uint8.
    params : array
        (L, 3) rows (angle [rad], dx [px], dy [px]) or one row (3,). With one image, the result
        holds L copies; with a batch, L must equal N (image i gets row i).

    Returns
    -------
    np.ndarray
        float32 (L, H, W, C) (or (H, W, C) when one image and one row came).

    Examples
    --------
    >>> image = np.zeros((5, 5, 3), np.float32)
    >>> image[2, 1] = 1.0
    >>> shifted = augment(image, [0.0, 2.0, 0.0])        # two pixels to the right
    >>> shifted.shape, float(shifted[2, 3, 0])
    ((5, 5, 3), 1.0)
    >>> augment(image, random_augmentations(4, seed=0)).shape
    (4, 5, 5, 3)

    See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    one_row = np.ndim(params) == 1
    p = _as_params(params)
    x, single = as_images(images, "images")
    if x.shape[0] != 1 and x.shape[0] != p.shape[0]:
        raise ValueError(f"`params` must have one row per image: {x.shape[0]} images but "
                         f"{p.shape[0]} rows. Pass one image to get L copies.")
    out = _warp(tf.constant(x), tf.constant(p), x.shape[0] == 1).numpy()
    return out[0] if (single and one_row) else out


def warp_maps(maps, params):
    r"""Warp heat-maps like :func:`augment` warps images (any real values, no [0, 1] check).

    This is :math:`A_\ell` applied to a map.

    Parameters
    ----------
    maps : array (H, W) or (N, H, W)
        One map (warped into L copies) or one map per row (N == L).
    params : array (L, 3) or (3,)
        Rows (angle [rad], dx [px], dy [px]).

    Returns
    -------
    np.ndarray
        float32 (L, H, W).

    Examples
    --------
    >>> m = np.zeros((4, 4), np.float32)
    >>> m[1, 1] = 5.0
    >>> float(warp_maps(m, [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0]])[1, 2, 2])   # one pixel down-right
    5.0
    """
    p = _as_params(params)
    m, _ = as_maps(maps, "maps")
    if m.shape[0] != 1 and m.shape[0] != p.shape[0]:
        raise ValueError(f"`params` must have one row per map: {m.shape[0]} maps but "
                         f"{p.shape[0]} rows.")
    return _warp(tf.constant(m[..., None]), tf.constant(p), m.shape[0] == 1).numpy()[..., 0]
