"""Up-sampling and normalising heat-maps.

A class activation map has the spatial size of the layer it was read from (7 x 7 for MobileNetV2 at
224 px); to lay it over the image it is resized to the input size. The course derives bilinear
interpolation by hand (notebook ``03_gradcam_deep_dive.ipynb``); :func:`bilinear_upsample` writes that
formula out, vectorised over the whole batch, and :func:`upsample_maps` is what every method in
:mod:`cvkit.explain` calls.
"""
from __future__ import annotations


import numpy as np

from .._validate import as_maps, check_bool, check_choice, check_size, to_numpy

__all__ = ["bilinear_upsample", "upsample_maps", "normalize_maps", "upsample_maps_tf", "normalize_maps_tf",
           "UPSAMPLE_METHODS"]

#: The interpolation methods accepted by ``upsample=`` in every explanation function.
UPSAMPLE_METHODS = ("bilinear", "bicubic", "nearest", "bilinear_align_corners")


def _coords(n_out, n_in, align_corners):
    """Fractional source coordinate of every output index, its floor and the offset."""
    x = np.arange(n_out, dtype=np.float64)
    if align_corners:
        # u = x (h - 1) / (H - 1): the first and last pixels of both grids coincide.
        u = x * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(x)
    else:
        # half-pixel centres: pixel x covers [x, x + 1), its centre x + 0.5 maps to
        # (x + 0.5) h / H in the source; clamp at the borders (what TensorFlow does).
        u = np.clip((x + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    i = np.minimum(np.floor(u).astype(np.int64), max(n_in - 2, 0))
    frac = (u - i).astype(np.float32)
    return i, np.minimum(i + 1, n_in - 1), frac


def bilinear_upsample(maps, size, align_corners=True):
    r"""Resize heat-maps with bilinear interpolation, written out as in the course.

    For an output pixel :math:`(x, y)` of an :math:`H \times W` map, the fractional source
    coordinates in the :math:`h \times w` map are

    .. math:: u = x \frac{h-1}{H-1}, \qquad v = y \frac{w-1}{W-1}

    (``align_corners=True``; with ``align_corners=False`` the half-pixel convention
    :math:`u = (x + \tfrac12)\tfrac{h}{H} - \tfrac12`, clamped to :math:`[0, h-1]`, is used instead).
    With :math:`i = \lfloor u \rfloor`, :math:`j = \lfloor v \rfloor`, :math:`\alpha = u - i`,
    :math:`\beta = v - j`:

    .. math::
        \tilde L_{x,y} = (1-\alpha)(1-\beta) L_{i,j} + \alpha(1-\beta) L_{i+1,j}
                         + (1-\alpha)\beta L_{i,j+1} + \alpha\beta L_{i+1,j+1}

    The whole batch is computed at once with four gathers (no loop over pixels). It equals
    ``tf.compat.v1.image.resize(maps[..., None], size, align_corners=True)`` (and
    ``tf.image.resize(..., 'bilinear')`` with ``align_corners=False``). Shown in
    ``notebooks/03_gradcam_deep_dive.ipynb``.

    Parameters
    ----------
    maps : array-like, (N, h, w) or (h, w)
        Low-resolution maps.
    size : int or (int, int)
        Output size ``(H, W)``.
    align_corners : bool
        True for the course's formula (corners of both grids coincide); False for half-pixel
        centres, the convention of ``tf.image.resize``, OpenCV and scikit-image.

    Returns
    -------
    np.ndarray
        float32, (N, H, W), or (H, W) for a single map.

    Examples
    --------
    >>> m = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> bilinear_upsample(m, (3, 3))              # corners kept, centre = mean of the four
    array([[0. , 0.5, 1. ],
           [1. , 1.5, 2. ],
           [2. , 2.5, 3. ]], dtype=float32)
    """
    maps, single = as_maps(maps, "maps")
    H, W = check_size(size, "size")
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"`align_corners` must be a bool; got {align_corners!r}.")
    _, h, w = maps.shape
    i0, i1, alpha = _coords(H, h, bool(align_corners))
    j0, j1, beta = _coords(W, w, bool(align_corners))
    a = alpha[None, :, None]
    b = beta[None, None, :]
    rows0, rows1 = maps[:, i0, :], maps[:, i1, :]          # (N, H, w)
    out = ((1 - a) * (1 - b) * rows0[:, :, j0] + a * (1 - b) * rows1[:, :, j0]
           + (1 - a) * b * rows0[:, :, j1] + a * b * rows1[:, :, j1])
    out = out.astype(np.float32, copy=False)
    return out[0] if single else out


def upsample_maps(maps, size, method="bilinear"):
    """Resize (N, h, w) maps to ``size`` with the named method.

    ``'bilinear'`` is :func:`bilinear_upsample` with half-pixel centres (a feature-map cell is
    centred on the image region it sees); ``'bilinear_align_corners'`` is the course's formula;
    ``'bicubic'`` (Keys cubic, a = -0.5, half-pixel; the WSOL evaluation protocol resizes CAMs
    bicubically) and ``'nearest'`` use ``tf.image.resize``.

    Examples
    --------
    >>> m = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> upsample_maps(m, 4, "nearest")[0]
    array([0., 0., 1., 1.], dtype=float32)
    >>> upsample_maps(m, 4)[0]                    # half-pixel bilinear, as tf.image.resize
    array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
    """
    method = check_choice(method, "upsample", UPSAMPLE_METHODS)
    maps, single = as_maps(maps, "maps")
    size = check_size(size, "size")
    if method == "bilinear":
        out = bilinear_upsample(maps, size, align_corners=False)
    elif method == "bilinear_align_corners":
        out = bilinear_upsample(maps, size, align_corners=True)
    else:
        import tensorflow as tf

        out = tf.image.resize(maps[..., None], size, method=method, antialias=False).numpy()[..., 0]
    out = out.astype(np.float32, copy=False)
    return out[0] if single else out


def normalize_maps(maps, relu=False, nan="raise"):
    r"""Min-max normalise every map to [0, 1]: :math:`(M - \min M) / (\max M - \min M)`.

    A constant map (all zeros included; after a ReLU an all-negative map is all zeros) has no range
    and becomes all zeros: never NaN. A map whose range is below float32 rounding of its values
    (:math:`\max - \min \le 10^{-6} \max(|\min|, |\max|)`) counts as constant too: its "contrast"
    is rounding noise. This is the one normalisation of the package; the WSOL metrics use it.

    Parameters
    ----------
    maps : array-like, (N, H, W) or (H, W)
    relu : bool
        Clip negative values to zero before normalising.
    nan : {'raise', 'zero'}
        What to do with a map holding NaN or infinity: raise (default), or make it all zeros, which
        is the rule of the WSOL benchmark (Choe et al., 2020).

    Returns
    -------
    np.ndarray
        float32 in [0, 1] with the caller's rank.

    Examples
    --------
    >>> normalize_maps(np.array([[0.0, 2.0], [4.0, 8.0]]))
    array([[0.  , 0.25],
           [0.5 , 1.  ]], dtype=float32)
    >>> normalize_maps(np.full((2, 2), 3.0))
    array([[0., 0.],
           [0., 0.]], dtype=float32)
    >>> normalize_maps(np.array([[np.nan, 1.0]]), nan="zero")
    array([[0., 0.]], dtype=float32)
    """
    check_bool(relu, "relu")
    check_choice(nan, "nan", ("raise", "zero"))
    arr = to_numpy(maps)
    if nan == "zero" and arr.ndim in (2, 3) and np.issubdtype(arr.dtype, np.inexact):
        arr = arr.astype(np.float64)
        flat = arr.reshape(-1, arr.shape[-2] * arr.shape[-1]) if arr.ndim == 3 else arr.reshape(1, -1)
        rows = ~np.all(np.isfinite(flat), axis=1)
        flat[rows] = 0.0
        arr = flat.reshape(arr.shape)
    maps, single = as_maps(arr, "maps")
    if maps.size == 0:
        raise ValueError(f"`maps` is empty: shape {arr.shape}; give at least one map of 1 x 1 "
                         "pixels or more.")
    m = maps                                       # float32, as the WSOL benchmark computes
    if relu:
        m = np.maximum(m, 0.0)
    lo = m.min(axis=(1, 2), keepdims=True)
    hi = m.max(axis=(1, 2), keepdims=True)
    rng = hi - lo
    scale = np.maximum(np.abs(lo), np.abs(hi))
    ok = rng > 1e-6 * scale                        # False for a constant (or zero) map
    out = np.where(ok, (m - lo) / np.where(ok, rng, np.float32(1)), np.float32(0))
    return out[0] if single else out


def _interpolation_matrix(n_out, n_in, align_corners):
    """(n_out, n_in) matrix of the bilinear weights along one axis: row x holds 1 - frac at the
    left source cell and frac at the right one (the course's formula, one axis at a time)."""
    i0, i1, frac = _coords(n_out, n_in, align_corners)
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1.0 - frac)
    np.add.at(m, (rows, i1), frac)
    return m


def upsample_maps_tf(maps, size, method="bilinear"):
    """TensorFlow twin of :func:`upsample_maps`, for use inside a compiled pass.

    ``maps`` is a float tensor (N, h, w); ``size`` a static pair (H, W). Bilinear interpolation is
    separable, so with a static map size it is two small matrix products,
    :math:`\tilde L = R\, L\, C^\top` with the interpolation matrices :math:`R` (H x h) and
    :math:`C` (W x w) of :func:`bilinear_upsample` (half-pixel centres for ``'bilinear'``, the
    course's corners for ``'bilinear_align_corners'``): the same numbers as ``tf.image.resize``,
    in a third of its time on a CPU. Other methods call ``tf.image.resize``.

    Examples
    --------
    >>> import tensorflow as tf
    >>> m = tf.constant([[[0.0, 1.0], [2.0, 3.0]]])
    >>> out = upsample_maps_tf(m, (4, 4)).numpy()
    >>> np.allclose(out, upsample_maps(m.numpy(), (4, 4)))
    True
    >>> np.allclose(upsample_maps_tf(m, (3, 3), "bilinear_align_corners").numpy()[0, 1],
    ...             [1.0, 1.5, 2.0])
    True
    """
    import tensorflow as tf

    method = check_choice(method, "upsample", UPSAMPLE_METHODS)
    h, w = maps.shape[1], maps.shape[2]
    static = all(isinstance(v, (int, np.integer)) for v in (h, w, size[0], size[1]))
    if method.startswith("bilinear") and static:
        corners = method == "bilinear_align_corners"
        rows = tf.constant(_interpolation_matrix(size[0], h, corners))
        cols = tf.constant(_interpolation_matrix(size[1], w, corners))
        return tf.einsum("Hh,nhw,Ww->nHW", rows, tf.cast(maps, tf.float32), cols)
    x = maps[..., None]
    if method == "bilinear_align_corners":
        out = tf.compat.v1.image.resize(x, size, method="bilinear", align_corners=True)
    else:
        out = tf.image.resize(x, size, method=method, antialias=False)
    return out[..., 0]


def normalize_maps_tf(maps):
    """TensorFlow twin of :func:`normalize_maps` (same rule for a constant map), for a compiled pass.

    Examples
    --------
    >>> import tensorflow as tf
    >>> normalize_maps_tf(tf.constant([[[1.0, 3.0]], [[2.0, 2.0]]])).numpy()
    array([[[0., 1.]],
    <BLANKLINE>
           [[0., 0.]]], dtype=float32)
    """
    import tensorflow as tf

    lo = tf.reduce_min(maps, axis=(1, 2), keepdims=True)
    hi = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
    rng = hi - lo
    ok = rng > 1e-6 * tf.maximum(tf.abs(lo), tf.abs(hi))
    # divided, not multiplied by 1 / range, so that the maximum is exactly 1 as in NumPy
    return (maps - lo) / tf.where(ok, rng, tf.ones_like(rng)) * tf.cast(ok, maps.dtype)
