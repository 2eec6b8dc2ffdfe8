r"""Augmented Grad-CAM: heat-map super-resolution through augmentation.

Grad-CAM maps have the resolution of the target layer (7 x 7 for a MobileNetV2 at 224 px, a
factor 32 below the image). Augmented Grad-CAM (Morbidelli et al., ICASSP 2020) explains ``L``
augmented copies of the image (rotations and translations), treats their Grad-CAMs
:math:`g_\ell` as low-resolution views of one unknown high-resolution map :math:`h`, and solves

.. math::

    \hat h = \arg\min_h \sum_{\ell=1}^{L} \lVert D(A_\ell h) - g_\ell \rVert_2^2
             + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2,

    TV(h) = \sum_{i,j} |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|,

where :math:`A_\ell` is the known augmentation of copy :math:`\ell` and :math:`D` the down-sampling
to the map size. The objective is convex but not smooth.

Building blocks
---------------
- :func:`random_augmentations`, :func:`augment`, :func:`warp_maps`, :func:`invert_augmentations`:
  the augmentations (angle, dx, dy): rotation about the image centre, then translation, bilinear
  interpolation, zero fill. One function computes the sampling taps, so the image copies and the
  operator :math:`A_\ell` are the same warp.
- :func:`downsampling_matrix`, :class:`AugmentationOperator`: :math:`D` (``'area'`` or
  ``'bilinear'``) and the stacked linear map :math:`h \mapsto (D(A_\ell h))_\ell` as one sparse
  matrix, with its exact adjoint (the transpose).
- :func:`total_variation`, :func:`tv_subgradient`, :func:`superresolution_objective`.
- :func:`superresolve`: three solvers, compiled with ``tf.function``: ``'subgradient'`` (the
  course's method), ``'adam'`` (the authors' code path) and ``'fista'`` (the fast one).
- :func:`augmented_grad_cam` and the baselines :func:`upsample_baseline`,
  :func:`warp_back_baseline`.
- :func:`synthetic_superresolution_problem`: a known-answer problem for tests and benchmarks.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import collections
import math
import numbers
import time

import numpy as np
import tensorflow as tf

from cvkit._validate import (as_images, as_maps, check_choice, check_finite, check_float, check_int,
                             restore_rank)

__all__ = [
    "random_augmentations",
    "augment",
    "warp_maps",
    "invert_augmentations",
    "downsampling_matrix",
    "AugmentationOperator",
    "total_variation",
    "tv_subgradient",
    "superresolution_objective",
    "superresolve",
    "SOLVERS",
    "augmented_grad_cam",
    "EARLY_STOP_ITERATIONS",
    "upsample_baseline",
    "warp_back_baseline",
    "synthetic_superresolution_problem",
]

#: Solver names accepted by :func:`superresolve`.
SOLVERS = ("subgradient", "adam", "fista")
_DOWNSAMPLE = ("area", "bilinear")


# --------------------------------------------------------------------------------------------
# Augmentations
# --------------------------------------------------------------------------------------------

def _as_params(params, name="params"):
    """Validate augmentation parameters: (L, 3) rows (angle [rad], dx [px], dy [px])."""
    if hasattr(params, "numpy") and not isinstance(params, np.ndarray):
        params = params.numpy()
    arr = np.asarray(params)
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
    gives ``m`` back (used by :func:`warp_back_baseline`).
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
    operator :class:`AugmentationOperator` (tested against it).
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
    coordinates). The same taps build the operator :math:`A_\ell` of :class:`AugmentationOperator`.

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
    """Warp heat-maps like :func:`augment` warps images (any real values, no [0, 1] check).

    ``maps``: (H, W) (warped into L copies) or (N, H, W) with N == L. Returns (L, H, W) float32.
    This is :math:`A_\\ell` applied to a map.
    """
    p = _as_params(params)
    m, _ = as_maps(maps, "maps")
    if m.shape[0] != 1 and m.shape[0] != p.shape[0]:
        raise ValueError(f"`params` must have one row per map: {m.shape[0]} maps but "
                         f"{p.shape[0]} rows.")
    return _warp(tf.constant(m[..., None]), tf.constant(p), m.shape[0] == 1).numpy()[..., 0]


# --------------------------------------------------------------------------------------------
# Down-sampling and the operator
# --------------------------------------------------------------------------------------------

def downsampling_matrix(size, out_size, method="area"):
    r"""The 1-D down-sampling matrix :math:`R` (out_size, size); :math:`D(x) = R_y\, x\, R_x^T`.

    - ``'area'``: output cell :math:`i` covers :math:`[i s, (i+1) s)` with :math:`s` = size /
      out_size; :math:`R_{iq}` is the overlap of pixel :math:`q` with that footprint divided by
      :math:`s` (the average over the footprint; rows sum to 1). Equals
      ``tf.image.resize(..., method='area')``. With an integer factor it is the block mean, which
      models a target layer whose cell sees its :math:`s \times s` block.
    - ``'bilinear'``: sampling at the cell centre :math:`(i + 1/2) s - 1/2` with bilinear
      weights, as ``tf.image.resize(..., method='bilinear', antialias=False)`` (half-pixel
      centres): only 2 pixels per row count.

    Returns float32 (out_size, size).
    """
    size = check_int(size, "size", minimum=1)
    out_size = check_int(out_size, "out_size", minimum=1)
    check_choice(method, "method", _DOWNSAMPLE)
    scale = size / out_size
    i = np.arange(out_size, dtype=np.float64)[:, None]
    q = np.arange(size, dtype=np.float64)[None, :]
    if method == "area":
        lo = np.maximum(i * scale, q)
        hi = np.minimum((i + 1) * scale, q + 1)
        r = np.clip(hi - lo, 0.0, None) / scale
    else:
        pos = (i[:, 0] + 0.5) * scale - 0.5
        f = np.floor(pos)
        lerp = pos - f
        lower = np.clip(f, 0, size - 1).astype(int)
        upper = np.clip(np.ceil(pos), 0, size - 1).astype(int)
        r = np.zeros((out_size, size))
        rows = np.arange(out_size)
        np.add.at(r, (rows, lower), 1.0 - lerp)
        np.add.at(r, (rows, upper), lerp)
    return r.astype(np.float32)


def _row_taps(r):
    """Contiguous non-zero run of each row of R: start (n,) int32 and weights (n, K) float32."""
    nz = r != 0
    start = np.argmax(nz, axis=1)
    stop = r.shape[1] - np.argmax(nz[:, ::-1], axis=1)
    k = int((stop - start).max())
    pos = start[:, None] + np.arange(k)[None]
    ok = pos < r.shape[1]
    w = np.where(ok, r[np.arange(r.shape[0])[:, None], np.minimum(pos, r.shape[1] - 1)], 0.0)
    return np.minimum(pos, r.shape[1] - 1).astype(np.int32), w.astype(np.float32)


@tf.function(reduce_retracing=True)
def _operator_entries(params, qy, wy, qx, wx, height, width, blocks):
    """Non-zero entries of the stacked operator D A_l as COO (rows, cols, values).

    Cell (l, i, j) of the low-resolution maps is sum_q R_y[i, q_y] R_x[j, q_x] (A_l h)(q) over the
    warped pixels q of its footprint, and each (A_l h)(q) is 4 bilinear taps of h. The taps of one
    cell are merged in a dense local patch (one segment sum over all copies and cells at once),
    whose non-zeros become the matrix entries. With ``blocks`` (integer 'area' factor) the
    footprints tile the image and a reshape replaces the gathers. No loop over copies or cells.
    """
    n = tf.shape(params)[0]
    h, ky = tf.shape(qy)[0], tf.shape(qy)[1]
    w, kx = tf.shape(qx)[0], tf.shape(qx)[1]
    sx, sy = _source_coordinates(params, height, width)            # (L, H, W)
    if blocks:
        sx = tf.reshape(sx, [n, h, ky, w, kx])
        sy = tf.reshape(sy, [n, h, ky, w, kx])
    else:
        sx = tf.gather(tf.gather(sx, qy, axis=1), qx, axis=3)       # (L, h, Ky, w, Kx)
        sy = tf.gather(tf.gather(sy, qy, axis=1), qx, axis=3)
    r = wy[None, :, :, None, None] * wx[None, None, None, :, :]    # (1, h, Ky, w, Kx)
    used = tf.broadcast_to(r > 0, tf.shape(sx))
    x0 = tf.floor(sx)
    y0 = tf.floor(sy)
    fx = sx - x0
    fy = sy - y0
    big = 2.0**30
    oy = tf.reduce_min(tf.where(used, y0, big), axis=[2, 4], keepdims=True)
    ox = tf.reduce_min(tf.where(used, x0, big), axis=[2, 4], keepdims=True)
    py = tf.cast(tf.reduce_max(tf.where(used, y0, -big) - oy), tf.int32) + 2
    px = tf.cast(tf.reduce_max(tf.where(used, x0, -big) - ox), tf.int32) + 2
    ly = tf.cast(tf.where(used, y0 - oy, 0.0), tf.int32)
    lx = tf.cast(tf.where(used, x0 - ox, 0.0), tf.int32)
    cells = n * h * w
    cell = tf.reshape(tf.range(cells), [n, h, 1, w, 1])
    seg = (cell * py + ly) * px + lx
    hf = tf.cast(height, tf.float32)
    wf = tf.cast(width, tf.float32)
    iny0 = tf.cast((y0 >= 0) & (y0 <= hf - 1), tf.float32)
    iny1 = tf.cast((y0 >= -1) & (y0 <= hf - 2), tf.float32)
    inx0 = tf.cast((x0 >= 0) & (x0 <= wf - 1), tf.float32)
    inx1 = tf.cast((x0 >= -1) & (x0 <= wf - 2), tf.float32)
    wy0 = (1.0 - fy) * iny0 * r
    wy1 = fy * iny1 * r
    wx0 = (1.0 - fx) * inx0
    wx1 = fx * inx1
    vals = tf.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1], axis=-1)
    segs = tf.stack([seg, seg + 1, seg + px, seg + px + 1], axis=-1)
    dense = tf.math.unsorted_segment_sum(tf.reshape(vals, [-1]), tf.reshape(segs, [-1]),
                                         cells * py * px)
    nz = tf.cast(tf.where(dense != 0)[:, 0], tf.int32)
    values = tf.gather(dense, nz)
    row = nz // (py * px)
    rem = nz % (py * px)
    oyi = tf.cast(tf.reshape(oy, [-1]), tf.int32)
    oxi = tf.cast(tf.reshape(ox, [-1]), tf.int32)
    col = (tf.gather(oyi, row) + rem // px) * width + tf.gather(oxi, row) + rem % px
    return row, col, values


class AugmentationOperator:
    r"""The stacked linear operator :math:`h \mapsto (D(A_\ell h))_{\ell=1}^{L}` as a sparse matrix.

    Built once from the augmentation parameters (one batched computation: no loop over copies);
    applying it and its adjoint (the exact transpose) are sparse-dense products, so every solver
    iteration costs two of them whatever L is.

    Parameters
    ----------
    params : array (L, 3)
        Augmentations, as from :func:`random_augmentations`.
    output_size : int or (H, W)
        Size of the high-resolution map h (the input image size).
    map_size : int or (h, w)
        Size of the low-resolution maps (the target layer's size); at most ``output_size`` in each
        axis (equal sizes make D the identity, so the operator is the warp alone).
    downsample : {'area', 'bilinear'}
        D, see :func:`downsampling_matrix`.

    Attributes
    ----------
    matrix : tf.sparse.SparseTensor
        (L*h*w, H*W).
    norm_bound : float
        Upper bound on the squared spectral norm :math:`\|M\|_2^2 \le \|M\|_1 \|M\|_\infty`
        (Schur's test: largest column sum times largest row sum, all entries being >= 0); it sets
        the step of the fast solver.

    Examples
    --------
    >>> op = AugmentationOperator(random_augmentations(3), 32, 4)
    >>> op(np.ones((32, 32))).shape
    (3, 4, 4)
    """

    def __init__(self, params, output_size, map_size, downsample="area"):
        self.params = _as_params(params)
        self.output_size = _as_size(output_size, "output_size")
        self.map_size = _as_size(map_size, "map_size")
        check_choice(downsample, "downsample", _DOWNSAMPLE)
        (H, W), (h, w) = self.output_size, self.map_size
        if h > H or w > W:
            raise ValueError(f"`map_size` {self.map_size} must not exceed `output_size` "
                             f"{self.output_size}.")
        self.downsample = downsample
        self.n = self.params.shape[0]
        qy, wy = _row_taps(downsampling_matrix(H, h, downsample))
        qx, wx = _row_taps(downsampling_matrix(W, w, downsample))
        # integer 'area' factor: the footprints tile the image, a reshape replaces the gathers
        blocks = (downsample == "area" and H % h == 0 and W % w == 0)
        rot = np.abs(np.cos(self.params[:, 0])) + np.abs(np.sin(self.params[:, 0]))
        patch = (float(rot.max()) * max(qy.shape[1], qx.shape[1]) + 4) ** 2
        if self.n * h * w * patch >= 2**31 - 1:
            raise ValueError(f"the operator for L={self.n} copies of {self.map_size} maps at "
                             f"{self.output_size} is too large for int32 indexing; use fewer "
                             "augmentations.")
        row, col, val = _operator_entries(tf.constant(self.params), tf.constant(qy),
                                          tf.constant(wy), tf.constant(qx), tf.constant(wx),
                                          tf.constant(H), tf.constant(W), blocks)
        idx = tf.cast(tf.stack([row, col], axis=1), tf.int64)
        self.matrix = tf.sparse.SparseTensor(idx, val, [self.n * h * w, H * W])
        ones_h = tf.ones([H * W, 1])
        ones_g = tf.ones([self.n * h * w, 1])
        row_sum = float(tf.reduce_max(tf.sparse.sparse_dense_matmul(self.matrix, ones_h)))
        col_sum = float(tf.reduce_max(tf.sparse.sparse_dense_matmul(self.matrix, ones_g,
                                                                    adjoint_a=True)))
        self.norm_bound = row_sum * col_sum

    @property
    def nnz(self):
        """Number of stored non-zeros."""
        return int(self.matrix.values.shape[0])

    def __call__(self, h):
        """:math:`(D(A_\\ell h))_\\ell`: (H, W) -> (L, h, w) float32."""
        h = np.asarray(h, dtype=np.float32)
        if h.shape != self.output_size:
            raise ValueError(f"`h` must have shape {self.output_size}; got {h.shape}.")
        out = tf.sparse.sparse_dense_matmul(self.matrix, tf.reshape(h, [-1, 1]))
        return tf.reshape(out, [self.n, *self.map_size]).numpy()

    def adjoint(self, g):
        """:math:`\\sum_\\ell A_\\ell^T D^T g_\\ell`: (L, h, w) -> (H, W) float32."""
        g = np.asarray(g, dtype=np.float32)
        if g.shape != (self.n, *self.map_size):
            raise ValueError(f"`g` must have shape {(self.n, *self.map_size)}; got {g.shape}.")
        out = tf.sparse.sparse_dense_matmul(self.matrix, tf.reshape(g, [-1, 1]), adjoint_a=True)
        return tf.reshape(out, self.output_size).numpy()


#: Operators kept for reuse (most recent last): building one at 224 px, L = 100, factor 32 takes
#: about 0.6 s on 2 CPU cores and holds 4.6 M entries (about 90 MB), so two are kept.
_OPERATOR_CACHE = collections.OrderedDict()
_OPERATOR_CACHE_SIZE = 2


def _operator_for(params, output_size, map_size, downsample):
    """The :class:`AugmentationOperator` for these arguments, built once and then reused.

    ``augmented_grad_cam`` draws the same augmentations for every call with the same seed, so a
    loop over images builds the operator once. Keyed on the exact parameter bytes.
    """
    p = _as_params(params)
    key = (p.shape, p.tobytes(), _as_size(output_size, "output_size"),
           _as_size(map_size, "map_size"), downsample)
    op = _OPERATOR_CACHE.pop(key, None)
    if op is None:
        op = AugmentationOperator(p, output_size, map_size, downsample)
    _OPERATOR_CACHE[key] = op
    while len(_OPERATOR_CACHE) > _OPERATOR_CACHE_SIZE:
        _OPERATOR_CACHE.popitem(last=False)
    return op


def _as_size(size, name):
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    if isinstance(size, str):
        raise TypeError(f"`{name}` must be an int or a pair (height, width); got {size!r}.")
    try:
        size = tuple(size)
    except TypeError:
        raise TypeError(f"`{name}` must be an int or a pair (height, width); got {size!r}.") from None
    if len(size) != 2:
        raise ValueError(f"`{name}` must be an int or a pair (height, width); got {size!r}.")
    return tuple(check_int(s, name, minimum=1) for s in size)


# --------------------------------------------------------------------------------------------
# Objective
# --------------------------------------------------------------------------------------------

def _tv(h):
    return (tf.reduce_sum(tf.abs(h[1:, :] - h[:-1, :]))
            + tf.reduce_sum(tf.abs(h[:, 1:] - h[:, :-1])))


def _grad(h):
    """Forward differences with a zero last row / column: (dy, dx), each (H, W)."""
    dy = tf.concat([h[1:, :] - h[:-1, :], tf.zeros_like(h[:1, :])], axis=0)
    dx = tf.concat([h[:, 1:] - h[:, :-1], tf.zeros_like(h[:, :1])], axis=1)
    return dy, dx


def _grad_adjoint(py, px):
    """Adjoint of :func:`_grad` (minus the discrete divergence); the last row of ``py`` and the
    last column of ``px`` are ignored, as :func:`_grad` sets them to zero."""
    qy = py[:-1, :]
    qx = px[:, :-1]
    return (tf.pad(qy, [[1, 0], [0, 0]]) - tf.pad(qy, [[0, 1], [0, 0]])
            + tf.pad(qx, [[0, 0], [1, 0]]) - tf.pad(qx, [[0, 0], [0, 1]]))


def total_variation(h):
    r"""Anisotropic total variation with forward differences.

    .. math:: TV(h) = \sum_{i,j} |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|

    (the sums run over the pairs inside the image). ``h``: (H, W) or a batch (N, H, W); returns a
    float or an (N,) array. See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    m, single = as_maps(h, "h")
    x = np.asarray(m, dtype=np.float64)
    tv = np.abs(np.diff(x, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2))
    return float(tv[0]) if single else tv


def tv_subgradient(h):
    r"""A subgradient of :func:`total_variation`: :math:`\nabla^T \operatorname{sign}(\nabla h)`.

    With :math:`d = h_{i+1,j} - h_{i,j}`, the term :math:`|d|` adds :math:`\operatorname{sign}(d)`
    to pixel :math:`(i+1, j)` and subtracts it from :math:`(i, j)` (same along columns);
    :math:`\operatorname{sign}(0) = 0` is a valid choice in :math:`\partial|x|(0) = [-1, 1]`.
    ``h``: (H, W) or (N, H, W); returns float32 of the same shape.
    """
    m, single = as_maps(h, "h")
    x = np.asarray(m, dtype=np.float64)
    sy = np.sign(np.diff(x, axis=1))
    sx = np.sign(np.diff(x, axis=2))
    g = np.zeros_like(x)
    g[:, 1:, :] += sy
    g[:, :-1, :] -= sy
    g[:, :, 1:] += sx
    g[:, :, :-1] -= sx
    return restore_rank(g.astype(np.float32), single)


def _default_lambdas(n, lambda_tv, lambda_energy, output_size=None, map_size=None):
    """The authors' weights 0.002 L and 0.0001 L at their factor 16, rescaled by (16 / s)^2.

    The data term's curvature is about L / s^2 (each of the L copies averages s x s pixels per
    cell), so keeping the authors' balance between the terms at another down-sampling factor s
    means scaling both weights by (16 / s)^2; at s = 16 (VGG16 block5_conv3, 14 x 14 at 224 px)
    these are exactly the authors' values.
    """
    scale = 1.0
    if output_size is not None and map_size is not None:
        s2 = (output_size[0] * output_size[1]) / float(map_size[0] * map_size[1])
        scale = 256.0 / s2
    lt = 0.002 * n * scale if lambda_tv is None else check_float(lambda_tv, "lambda_tv",
                                                                  minimum=0.0)
    le = 0.0001 * n * scale if lambda_energy is None else check_float(
        lambda_energy, "lambda_energy", minimum=0.0)
    return lt, le


def superresolution_objective(h, low_res_maps, params, downsample="area", lambda_tv=None,
                              lambda_energy=None, operator=None):
    r"""Value of the Augmented Grad-CAM objective at ``h``.

    .. math:: f(h) = \sum_\ell \lVert D(A_\ell h) - g_\ell \rVert_2^2 + \lambda_{TV} TV(h)
              + \lambda_e \lVert h \rVert_2^2

    ``lambda_tv`` / ``lambda_energy`` default as in :func:`superresolve`. Pass
    ``operator`` (an :class:`AugmentationOperator`) to reuse a built one.
    """
    g, _ = as_maps(low_res_maps, "low_res_maps")
    p = _as_params(params)
    m, _ = as_maps(h, "h", allow_single=True)
    if m.shape[0] != 1:
        raise ValueError(f"`h` must be one (H, W) map; got shape {np.shape(h)}.")
    lt, le = _default_lambdas(p.shape[0], lambda_tv, lambda_energy, m.shape[1:], g.shape[1:])
    op = operator or AugmentationOperator(p, m.shape[1:], g.shape[1:], downsample)
    r = op(m[0]).astype(np.float64) - g
    x = m[0].astype(np.float64)
    return float((r ** 2).sum() + lt * total_variation(x) + le * (x ** 2).sum())


# --------------------------------------------------------------------------------------------
# Solvers (compiled; each iteration is one product with the operator and one with its adjoint)
# --------------------------------------------------------------------------------------------

def _objective_tf(h, mh, g, lambda_tv, lambda_energy):
    r = mh - g
    return tf.reduce_sum(r * r) + lambda_tv * _tv(h) + lambda_energy * tf.reduce_sum(h * h)


def _apply(matrix, h):
    return tf.sparse.sparse_dense_matmul(matrix, tf.reshape(h, [-1, 1]))


def _apply_t(matrix, r, shape):
    return tf.reshape(tf.sparse.sparse_dense_matmul(matrix, r, adjoint_a=True), shape)


def _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy):
    """xi = 2 M^T (M h - g) + lambda_tv grad^T sign(grad h) + 2 lambda_e h, given mh = M h."""
    dy, dx = _grad(h)
    return (2.0 * _apply_t(matrix, mh - g, tf.shape(h))
            + lambda_tv * _grad_adjoint(tf.sign(dy), tf.sign(dx)) + 2.0 * lambda_energy * h)


def _stalled(best_hist, k, tol, window=10):
    """True when the best objective improved by less than tol (relative) over ``window`` iterations
    (never with tol = 0)."""
    old = best_hist.read(tf.maximum(k - window, 0))
    new = best_hist.read(k)
    return (k >= window) & (old - new < tol * tf.abs(new))


def _start(matrix, h0, g, lambda_tv, lambda_energy):
    """Start time, M h0 and f(h0); the stamp is taken before the work (control dependency)."""
    start = tf.timestamp()
    with tf.control_dependencies([start]):
        mh0 = _apply(matrix, h0)
    return start, mh0, _objective_tf(h0, mh0, g, lambda_tv, lambda_energy)


def _drive(step, state, x0, f0, start, iterations, tol):
    """The loop all three solvers share: ``state, x, f = step(k, state)`` until ``iterations`` or a
    stall (:func:`_stalled`), recording f, the best f so far and a time stamp after each
    iteration, and keeping the best iterate.

    Returns the best x, the last x, k (iterations run), the iteration of the best x (1-based; 0 for
    x0), the objective per iteration and the seconds since ``start`` after each iteration.
    """
    hist = tf.TensorArray(tf.float32, size=iterations)
    best_hist = tf.TensorArray(tf.float32, size=iterations, clear_after_read=False)
    stamps = tf.TensorArray(tf.float64, size=iterations)

    def body(k, state, x, best, fbest, kbest, hist, best_hist, stamps, stop):
        state, x, f = step(k, state)
        with tf.control_dependencies([f]):      # stamp once the iteration's work is done
            stamp = tf.timestamp()
        better = f < fbest
        best = tf.where(better, x, best)
        kbest = tf.where(better, k + 1, kbest)
        fbest = tf.minimum(f, fbest)
        hist = hist.write(k, f)
        best_hist = best_hist.write(k, fbest)
        stamps = stamps.write(k, stamp)
        return k + 1, state, x, best, fbest, kbest, hist, best_hist, stamps, _stalled(
            best_hist, k, tol)

    k, _, x, best, _, kbest, hist, _, stamps, _ = tf.while_loop(
        lambda k, *a: (k < iterations) & ~a[-1], body,
        (0, state, x0, x0, f0, 0, hist, best_hist, stamps, False))
    return best, x, k, kbest, hist.stack()[:k], stamps.stack()[:k] - start


@tf.function(reduce_retracing=True)
def _solve_subgradient(h0, matrix, g, lambda_tv, lambda_energy, gamma0, iterations, tol):
    """Subgradient descent with normalised diminishing steps gamma0 / sqrt(k + 1); keeps the best."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)

    def step(k, state):
        h, mh = state
        xi = _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy)
        norm = tf.sqrt(tf.reduce_sum(xi * xi))
        alpha = gamma0 / tf.sqrt(tf.cast(k, tf.float32) + 1.0) / tf.maximum(norm, 1e-12)
        h = h - alpha * xi
        mh = _apply(matrix, h)
        return (h, mh), h, _objective_tf(h, mh, g, lambda_tv, lambda_energy)

    best, _, _, kbest, hist, stamps = _drive(step, (h0, mh0), h0, f0, start, iterations, tol)
    return best, f0, hist, stamps, kbest


@tf.function(reduce_retracing=True)
def _solve_adam(h0, matrix, g, lambda_tv, lambda_energy, lr, iterations, tol):
    """Adam on the objective (the authors' code path): beta1 0.9, beta2 0.999, eps 1e-8."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(k, state):
        h, mh, m, v = state
        xi = _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy)
        t = tf.cast(k, tf.float32) + 1.0
        m = b1 * m + (1 - b1) * xi
        v = b2 * v + (1 - b2) * xi * xi
        alpha = lr * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        h = h - alpha * m / (tf.sqrt(v) + eps)
        mh = _apply(matrix, h)
        return (h, mh, m, v), h, _objective_tf(h, mh, g, lambda_tv, lambda_energy)

    z = tf.zeros_like(h0)
    _, last, k, _, hist, stamps = _drive(step, (h0, mh0, z, z), h0, f0, start, iterations, tol)
    # the authors keep the last iterate (Adam is not monotone on a non-smooth objective)
    return last, f0, hist, stamps, k


def _tv_prox(v, mu, py, px, inner):
    """prox of mu * TV at v by FGP (Beck & Teboulle 2009) on the dual, warm-started at (py, px).

    x = v - mu grad^T p with p in [-1, 1] (one dual variable per difference); returns x and p.
    """
    step = 1.0 / (8.0 * mu)
    qy, qx, t = py, px, tf.constant(1.0)

    def body(i, py, px, qy, qx, t):
        x = v - mu * _grad_adjoint(qy, qx)
        dy, dx = _grad(x)
        ny = tf.clip_by_value(qy + step * dy, -1.0, 1.0)
        nx = tf.clip_by_value(qx + step * dx, -1.0, 1.0)
        tn = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / tn
        return i + 1, ny, nx, ny + beta * (ny - py), nx + beta * (nx - px), tn

    _, py, px, _, _, _ = tf.while_loop(lambda i, *a: i < inner, body, (0, py, px, qy, qx, t))
    return v - mu * _grad_adjoint(py, px), py, px


@tf.function(reduce_retracing=True)
def _solve_fista(h0, matrix, g, lambda_tv, lambda_energy, lipschitz, iterations, tol, inner):
    """FISTA with function-value restart; the smooth part is the data term, the prox handles
    lambda_tv TV + lambda_e ||h||^2 (a scaled TV prox, computed by warm-started FGP)."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)
    tau = 1.0 / lipschitz
    shrink = 1.0 / (1.0 + 2.0 * tau * lambda_energy)
    mu = tf.maximum(lambda_tv * tau * shrink, 1e-12)

    def step(k, state):
        x, xp, mx, mxp, t, f, py, px = state
        tn = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / tn
        y = x + beta * (x - xp)
        my = mx + beta * (mx - mxp)
        grad = 2.0 * _apply_t(matrix, my - g, tf.shape(x))
        v = (y - tau * grad) * shrink
        xn, py, px = tf.cond(lambda_tv > 0, lambda: _tv_prox(v, mu, py, px, inner),
                             lambda: (v, py, px))
        mxn = _apply(matrix, xn)
        fn = _objective_tf(xn, mxn, g, lambda_tv, lambda_energy)
        tn = tf.where(fn > f, 1.0, tn)          # adaptive restart (O'Donoghue & Candes 2015)
        return (xn, x, mxn, mx, tn, fn, py, px), xn, fn

    z = tf.zeros_like(h0)
    best, _, _, kbest, hist, stamps = _drive(
        step, (h0, h0, mh0, mh0, tf.constant(1.0), f0, z, z), h0, f0, start, iterations, tol)
    return best, f0, hist, stamps, kbest


_DEFAULT_ITERATIONS = {"subgradient": 500, "adam": 200, "fista": 100}
# fista: on the benchmark's MobileNetV2 maps (224 px, L = 100, factor 32) 5e-4 stops after about
# 20 iterations with h within 0.4 % (relative l2) of the map 800 iterations give.
_DEFAULT_TOL = {"subgradient": 0.0, "adam": 0.0, "fista": 5e-4}


def _check_low_res(low_res_maps):
    if isinstance(low_res_maps, (list, tuple)):
        shapes = {np.shape(m) for m in low_res_maps}
        if len(shapes) > 1:
            raise ValueError("`low_res_maps` must all have the same size; got maps of sizes "
                             f"{sorted(shapes)}. Compute them all at the same target layer.")
        if len(low_res_maps) == 0:
            raise ValueError("`low_res_maps` is empty: L must be >= 1.")
    g, _ = as_maps(low_res_maps, "low_res_maps", allow_single=False)
    if g.shape[0] < 1:
        raise ValueError(f"`low_res_maps` must hold L >= 1 maps; got shape {g.shape}.")
    if g.shape[1] < 1 or g.shape[2] < 1:
        raise ValueError(f"`low_res_maps` has empty maps: shape {g.shape}.")
    return g


def superresolve(low_res_maps, params, output_size, downsample="area", lambda_tv=None,
                 lambda_energy=None, solver="subgradient", iterations=None, tol=None, init=None,
                 step=None, operator=None):
    r"""Recover a high-resolution map from L low-resolution views (the Augmented Grad-CAM problem).

    .. math::

        \hat h = \arg\min_h \; f(h) = \sum_{\ell=1}^L \lVert D(A_\ell h) - g_\ell \rVert_2^2
                 + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2

    Write :math:`M` for the stacked operator (:class:`AugmentationOperator`). The solvers:

    - ``'subgradient'`` (the course's method): :math:`h_{k+1} = h_k - \alpha_k \xi_k` with the
      subgradient :math:`\xi_k = 2M^T(Mh_k - g) + \lambda_{TV} \nabla^T\operatorname{sign}(\nabla
      h_k) + 2\lambda_e h_k` and the normalised diminishing step
      :math:`\alpha_k = \gamma_0 / (\sqrt{k+1}\,\lVert\xi_k\rVert)` (so the k-th move has length
      :math:`\gamma_0/\sqrt{k+1}`; :math:`\sum_k \gamma_0/\sqrt{k+1} = \infty` and the steps tend to
      0, the conditions under which the best value converges to the minimum). The method is not a
      descent method, so the best iterate is kept and returned. :math:`\gamma_0` = ``step``,
      default :math:`0.05\sqrt{HW}\max|g|` (a twentieth of the largest plausible
      :math:`\lVert h \rVert`).
    - ``'adam'``: the authors' code path, Adam (lr ``step`` = 1e-3, 200 iterations from
      :math:`h = 0`) on the same subgradient; returns the last iterate. Kept for reproduction:
      200 steps of length about 1e-3 cannot bring a pixel above about 0.2, so it stops far from
      the minimum.
    - ``'fista'`` (fast): FISTA (Beck & Teboulle 2009) on the split :math:`f = F + G` with the
      smooth :math:`F(h) = \lVert Mh - g\rVert^2` (gradient :math:`2M^T(Mh - g)`, Lipschitz
      constant :math:`2\lVert M\rVert^2`, bounded by Schur's test) and
      :math:`G = \lambda_{TV}TV + \lambda_e\lVert\cdot\rVert^2`, whose proximal map is a TV
      denoising of a scaled input, computed by a few warm-started iterations of FGP (the fast
      dual projected gradient for TV) on the 2 x H x W dual. One product with :math:`M` and one
      with :math:`M^T` per iteration like the subgradient method, but the rate is
      :math:`O(1/k^2)` instead of :math:`O(1/\sqrt k)`, and with the adaptive restart of
      O'Donoghue & Candes it becomes linear here, since :math:`\lambda_e > 0` makes f strongly
      convex. Stops when the best objective improves by less than ``tol`` (relative) over 10
      iterations.

    All three run as one ``tf.function`` (a ``tf.while_loop``), on a GPU when there is one; the L
    copies are one sparse product per iteration, never a Python loop.

    Parameters
    ----------
    low_res_maps : array (L, h, w)
        The observed maps :math:`g_\ell` (for Grad-CAMs, each divided by its max).
    params : array (L, 3)
        The augmentation of each map, (angle, dx, dy) as in :func:`random_augmentations`.
    output_size : int or (H, W)
        Size of h; larger than the maps in both axes.
    downsample : {'area', 'bilinear'}
        D, see :func:`downsampling_matrix`.
    lambda_tv, lambda_energy : float, optional
        Weights (>= 0). Default: the authors' :math:`0.002L` and :math:`0.0001L`, which they
        used at a down-sampling factor :math:`s = 16` (VGG16, 14 x 14 maps at 224 px), times
        :math:`(16/s)^2` with :math:`s^2 = HW / (hw)`. The data term's curvature is about
        :math:`L/s^2` (each cell averages :math:`s^2` pixels), so this keeps the authors' balance
        between the three terms at other factors (at 7 x 7 maps, :math:`s = 32`, a quarter of
        their values). On the synthetic problem at 224 px, L = 100, factor 32
        (``benchmarks/bench_augmented.py``) the gain over bilinear up-sampling is +4.5 dB with
        these weights and +1.3 dB with the unscaled 0.002 L / 0.0001 L, whose TV flattens the map.
    solver : {'subgradient', 'adam', 'fista'}
    iterations : int, optional
        Largest number of iterations; default 500 / 200 / 100.
    tol : float, optional
        Relative improvement of the best objective over 10 iterations below which the solver
        stops; default 0 (run all iterations) for 'subgradient' and 'adam', 5e-4 for 'fista'
        (on 224 px maps at factor 32 that is about 20 iterations, and h within 0.4 % of the
        converged map in relative l2 norm).
    init : None, 'zeros' or array (H, W)
        Starting point (default zeros, as the authors).
    step : float, optional
        :math:`\gamma_0` for 'subgradient', the learning rate for 'adam' (default 1e-3); not used
        by 'fista', whose step is :math:`1/(2\lVert M\rVert^2)`.
    operator : AugmentationOperator, optional
        A built operator for these params and sizes. Without it the operator is built, or taken
        from a small cache of the two most recently used ones (same params, sizes and
        downsample), so repeated calls with the same augmentations build it once.

    Returns
    -------
    h : np.ndarray
        float32 (H, W), the solution.
    info : dict
        ``objective`` (value after each iteration, float array), ``objective_initial``,
        ``time`` (seconds, total), ``time_build`` (building the operator), ``times`` (seconds
        since the solver started, after each iteration), ``iterations``, ``best_iteration``,
        ``solver``, ``lambda_tv``, ``lambda_energy``, ``downsample``, ``final_objective``
        (of the returned h).

    Examples
    --------
    >>> h_true, g, p = synthetic_superresolution_problem(64, 4, n_augmentations=8)
    >>> h, info = superresolve(g, p, 64, solver='fista')
    >>> h.shape, info['solver']
    ((64, 64), 'fista')

    See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    t_start = time.perf_counter()
    g = _check_low_res(low_res_maps)
    p = _as_params(params)
    if p.shape[0] != g.shape[0]:
        raise ValueError(f"`params` must have one row per map: {g.shape[0]} maps but "
                         f"{p.shape[0]} rows.")
    size = _as_size(output_size, "output_size")
    if size[0] <= g.shape[1] or size[1] <= g.shape[2]:
        raise ValueError(f"`output_size` {size} must be larger than the maps {g.shape[1:]} in "
                         "both axes (it is the size of the input image).")
    check_choice(downsample, "downsample", _DOWNSAMPLE)
    check_choice(solver, "solver", SOLVERS)
    lt, le = _default_lambdas(g.shape[0], lambda_tv, lambda_energy, size, g.shape[1:])
    iterations = _DEFAULT_ITERATIONS[solver] if iterations is None else \
        check_int(iterations, "iterations", minimum=1)
    tol = _DEFAULT_TOL[solver] if tol is None else check_float(tol, "tol", minimum=0.0)
    if init is None or (isinstance(init, str) and init == "zeros"):
        h0 = np.zeros(size, np.float32)
    elif isinstance(init, str):
        raise ValueError(f"`init` must be None, 'zeros' or an array of shape {size}; got {init!r}.")
    else:
        h0 = np.asarray(init, dtype=np.float32)
        if h0.shape != size:
            raise ValueError(f"`init` must have shape {size}; got {h0.shape}.")
        check_finite(h0, "init")
    if operator is None:
        operator = _operator_for(p, size, g.shape[1:], downsample)
    elif not isinstance(operator, AugmentationOperator):
        raise TypeError(f"`operator` must be an AugmentationOperator; got {type(operator).__name__}.")
    elif (operator.output_size != size or operator.map_size != g.shape[1:]
          or operator.n != g.shape[0] or operator.downsample != downsample
          or not np.allclose(operator.params, p)):
        raise ValueError("`operator` was built for other params, sizes or downsample than the "
                         "ones given.")
    t_build = time.perf_counter() - t_start
    args = (tf.constant(h0), operator.matrix, tf.constant(g.reshape(-1, 1)),
            tf.constant(lt, tf.float32), tf.constant(le, tf.float32))
    t0 = time.perf_counter()
    if solver == "subgradient":
        gamma0 = 0.05 * math.sqrt(size[0] * size[1]) * max(float(np.abs(g).max()), 1e-6) \
            if step is None else check_float(step, "step", minimum=0.0, strict_min=True)
        out = _solve_subgradient(*args, tf.constant(gamma0, tf.float32), tf.constant(iterations),
                                 tf.constant(tol, tf.float32))
    elif solver == "adam":
        lr = 1e-3 if step is None else check_float(step, "step", minimum=0.0, strict_min=True)
        out = _solve_adam(*args, tf.constant(lr, tf.float32), tf.constant(iterations),
                          tf.constant(tol, tf.float32))
    else:
        lip = 2.0 * operator.norm_bound
        out = _solve_fista(*args, tf.constant(max(lip, 1e-12), tf.float32),
                           tf.constant(iterations), tf.constant(tol, tf.float32),
                           tf.constant(_FGP_INNER))
    h, f0, hist, stamps, kbest = (o.numpy() for o in out)
    t_solve = time.perf_counter() - t0
    final = float(_objective_tf(tf.constant(h), _apply(operator.matrix, tf.constant(h)),
                                args[2], lt, le))
    info = {
        "solver": solver,
        "objective": hist.astype(np.float64),
        "objective_initial": float(f0),
        "final_objective": final,
        "times": stamps.astype(np.float64),
        "iterations": int(hist.shape[0]),
        "best_iteration": int(kbest),
        "time": time.perf_counter() - t_start,
        "time_build": t_build,
        "time_solve": t_solve,
        "lambda_tv": lt,
        "lambda_energy": le,
        "downsample": downsample,
    }
    return h.astype(np.float32), info


#: FGP iterations per FISTA step (warm-started). An exact prox lets FISTA stop sooner: on the
#: benchmark's MobileNetV2 maps (224 px, L = 100, factor 32) 100 inner steps reach the default
#: tolerance in 21 iterations (1.1 s, h within 0.4 % of the converged map), 40 need 41 (1.8 s).
_FGP_INNER = 100


# --------------------------------------------------------------------------------------------
# Known-answer problem
# --------------------------------------------------------------------------------------------

def synthetic_superresolution_problem(output_size=224, map_size=7, n_augmentations=100,
                                      max_angle=0.5, max_shift=None, downsample="area",
                                      noise=0.0, seed=0):
    r"""A super-resolution problem with a known answer, for tests and benchmarks.

    The ground truth :math:`h^*` (values in [0, 1]) is a heat-map-like scene: a sharp-edged
    ellipse (value 1), a sharp square (0.6) and a smooth Gaussian blob (peak 0.8), placed at random
    away from the border. The observations are :math:`g_\ell = D(A_\ell h^*) + \varepsilon_\ell`
    with the same operator :func:`superresolve` inverts and optional Gaussian noise of standard
    deviation ``noise``.

    Returns
    -------
    h_true : (H, H) float32
    low_res_maps : (L, m, m) float32
    params : (L, 3) float32, from :func:`random_augmentations` (``max_shift`` default
        ``30 * H / 224``).
    """
    size = check_int(output_size, "output_size", minimum=8)
    m = check_int(map_size, "map_size", minimum=1, maximum=size - 1)
    n = check_int(n_augmentations, "n_augmentations", minimum=1)
    noise = check_float(noise, "noise", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    shift = 30.0 * size / 224.0 if max_shift is None else max_shift
    params = random_augmentations(n, max_angle, shift, seed)
    rng = np.random.default_rng(seed + 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    cy, cx = rng.uniform(0.3, 0.6, 2)
    a, b = rng.uniform(0.12, 0.2, 2)
    phi = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(phi) + (yy - cy) * np.sin(phi)
    v = -(xx - cx) * np.sin(phi) + (yy - cy) * np.cos(phi)
    h = np.where((u / a) ** 2 + (v / b) ** 2 <= 1.0, 1.0, 0.0)
    sy, sx = rng.uniform(0.62, 0.72, 2)
    half = rng.uniform(0.06, 0.1)
    h = np.maximum(h, np.where((np.abs(xx - sx) <= half) & (np.abs(yy - sy) <= half), 0.6, 0.0))
    gy, gx = rng.uniform(0.15, 0.3), rng.uniform(0.65, 0.85)
    h = np.maximum(h, 0.8 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * 0.07 ** 2)))
    h = h.astype(np.float32)
    op = AugmentationOperator(params, size, m, downsample)
    g = op(h)
    if noise > 0:
        g = g + rng.normal(0.0, noise, g.shape).astype(np.float32)
    return h, g.astype(np.float32), params


# --------------------------------------------------------------------------------------------
# Baselines and the method
# --------------------------------------------------------------------------------------------

def upsample_baseline(low_res_maps, output_size):
    """Baseline 1: bilinear up-sampling (half-pixel centres) of the identity copy's map ``g_0``.

    This is plain Grad-CAM. ``low_res_maps``: (L, h, w) with copy 0 the identity. Returns (H, W).
    """
    from .upsample import upsample_maps

    g = _check_low_res(low_res_maps)
    size = _as_size(output_size, "output_size")
    return upsample_maps(g[:1], size, "bilinear")[0]


def warp_back_baseline(low_res_maps, params, output_size, reduce="mean"):
    r"""Baseline 2: up-sample every map, warp it back with :math:`A_\ell^{-1}` and take the
    pixel-wise ``'mean'`` or ``'max'`` over the copies (the authors' other baselines).

    Pixels that a copy did not see (zero fill) are left out of the mean and the max (0 where no
    copy saw the pixel). Returns (H, W).
    """
    from .upsample import upsample_maps

    g = _check_low_res(low_res_maps)
    p = _as_params(params)
    if p.shape[0] != g.shape[0]:
        raise ValueError(f"`params` must have one row per map: {g.shape[0]} maps but "
                         f"{p.shape[0]} rows.")
    size = _as_size(output_size, "output_size")
    check_choice(reduce, "reduce", ("mean", "max"))
    up = upsample_maps(g, size, "bilinear")
    inv = tf.constant(invert_augmentations(p))
    back = _warp(tf.constant(up[..., None]), inv, False)[..., 0]
    seen = _warp(tf.ones([1, *size, 1]), inv, True)[..., 0]   # 1 where copy l saw the pixel
    ok = seen > 0.5
    vals = back / tf.maximum(seen, 1e-6)          # undo the zero fill's attenuation at the border
    if reduce == "max":
        out = tf.reduce_max(tf.where(ok, vals, -np.inf), axis=0)
        out = tf.where(tf.math.is_finite(out), out, 0.0)
    else:
        count = tf.reduce_sum(tf.cast(ok, tf.float32), axis=0)
        out = tf.reduce_sum(tf.where(ok, vals, 0.0), axis=0) / tf.maximum(count, 1.0)
    return out.numpy().astype(np.float32)


#: Iterations of :func:`augmented_grad_cam`'s default solver: the subgradient method from
#: :math:`h = 0`, stopped early (see the Notes of :func:`augmented_grad_cam`).
EARLY_STOP_ITERATIONS = 20


def augmented_grad_cam(model, image, class_index=None, layer=None, n_augmentations=100,
                       max_angle=0.5, max_shift=30, solver="subgradient", downsample="area",
                       lambda_tv=None, lambda_energy=None, iterations=None, tol=None,
                       normalize=True, batch_size=32, return_info=False, seed=0):
    r"""Augmented Grad-CAM (Morbidelli et al., ICASSP 2020): a Grad-CAM at the image's resolution.

    1. Draw L = ``n_augmentations`` augmentations (:func:`random_augmentations`, copy 0 the
       identity) and make the copies :math:`A_\ell x` (:func:`augment`).
    2. Compute their Grad-CAMs :math:`g_\ell` at the target layer in batches through
       :func:`cvkit.explain.grad_cam` (raw maps, pre-softmax score of one class for every copy:
       ``class_index`` or the class predicted for the unaugmented image), each divided by its max.
    3. Fuse them through the paper's problem (:func:`superresolve`)

       .. math:: \min_h \sum_\ell \lVert D(A_\ell h) - g_\ell\rVert_2^2 + \lambda_{TV} TV(h)
                 + \lambda_e \lVert h \rVert_2^2

       by default with :data:`EARLY_STOP_ITERATIONS` = 20 subgradient steps from :math:`h = 0`,
       the variant that localizes best (Notes); ``solver='fista'`` solves it to convergence.

    For a batch the same augmentations serve every image, so the operator is built once; it is
    also kept for later calls with the same ``seed``, ``n_augmentations``, ``max_angle``,
    ``max_shift`` and sizes (the two most recent operators are cached), which saves about 0.6 s
    per call at 224 px with L = 100.

    Parameters
    ----------
    model : keras.Model
        Classifier (nested backbones are fine).
    image : array (H, W, 3) or (N, H, W, 3)
        uint8 or float in [0, 1].
    class_index : None, int or one int per image
    layer : None, str or layer
        Target layer (see :func:`cvkit.explain.find_layer`).
    n_augmentations, max_angle, max_shift : see :func:`random_augmentations`
        The authors use 100, 0.5 rad and 30 px at 224 px; scale ``max_shift`` with the image.
    solver, downsample, lambda_tv, lambda_energy, iterations, tol : see :func:`superresolve`
        Default: ``'subgradient'`` (the course's method) stopped after
        :data:`EARLY_STOP_ITERATIONS` = 20 steps. ``iterations=None`` means 20 for
        ``'subgradient'`` and :func:`superresolve`'s default for the others: ``'fista'`` to
        convergence (the exact minimiser, fast), ``'adam'`` the authors' 200 steps.
    normalize : bool
        Min-max normalise the result to [0, 1] (default, like every map in cvkit.explain).
    batch_size : int
        Copies per compiled Grad-CAM call.
    return_info : bool
        Also return a dict (one per image for a batch) with ``low_res_maps``, ``params``,
        ``class_index``, the solver's info (:func:`superresolve`) and timings
        (``time_augment``, ``time_gradcam``, ``time_solve``, ``time`` for this image and
        ``time_call`` for the whole call).
    seed : int
        Seed of the augmentations.

    Returns
    -------
    np.ndarray
        float32 (H, W) for one image, (N, H, W) for a batch; with ``return_info`` also the info.

    Notes
    -----
    Why the default stops early. MaxBoxAcc / PxAP (GT-known, 200 held-out ``shapes`` images at
    128 px, L = 32, shifts up to 17 px; ``benchmarks/bench_augmented.py --wsol-only``) on the
    zoo's three CAM classifiers, which differ only in the grid of their target layer (output
    stride 32, 16 and 8):

    ===================================  =============  =============  ==============
    map (all from the same L Grad-CAMs)  4 x 4 maps     8 x 8 maps     16 x 16 maps
    ===================================  =============  =============  ==============
    Grad-CAM (bilinear up-sampling)      45.5 / 39.1    91.5 / 83.3    86.5 / 67.8
    20 subgradient steps (the default)   62.0 / 48.6    94.0 / 84.3    88.5 / 73.7
    warp-back mean                       60.0 / 50.8    93.5 / 84.6    89.0 / 73.0
    FISTA to convergence                 36.5 / 32.1    89.5 / 79.8    89.0 / 70.1
    the same with the authors' bilinear  18.5 / 35.6    91.0 / 83.3    91.0 / 71.8
    D (``downsample='bilinear'``)
    the authors' 200 Adam steps          57.5 / 50.4    93.0 / 82.2    87.5 / 68.5
    ===================================  =============  =============  ==============

    Only the early-stopped steps and the warp-back mean beat Grad-CAM on every grid; on the
    fine-map classifier (``shapes_cam_mobilenetv2_s8``) the default gains 2 MaxBoxAcc points and 6
    PxAP points over Grad-CAM, and 10, 50 or 100 steps score within a point of 20. The exact
    minimiser is the least robust: the copies' Grad-CAMs are not exact views of one map (a CNN is
    not equivariant), fitting their disagreement builds plateaus that follow the cells, and on the
    coarser grids it falls below Grad-CAM (with the bilinear D, which samples 2 pixels of each
    cell, far below). Its top score on the 16 x 16 grid is within the noise of 200 images. From
    :math:`h = 0` the first steps follow the back-projection :math:`\sum_\ell A_\ell^T D^T g_\ell`
    of all views, the fusion the warp-back mean computes: stopping early regularises.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((32, 32, 3))
    >>> feat = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inp)    # 8 x 8 maps
    >>> out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(feat))
    >>> model = keras.Model(inp, out)
    >>> image = np.random.default_rng(0).random((32, 32, 3)).astype("float32")
    >>> h, info = augmented_grad_cam(model, image, n_augmentations=4, max_shift=4,
    ...                              return_info=True)
    >>> h.shape, info["solver"], info["iterations"]
    ((32, 32), 'subgradient', 20)

    See ``notebooks/04_augmented_gradcam.ipynb``; the baselines are :func:`upsample_baseline` and
    :func:`warp_back_baseline`.
    """
    from ._core import check_bool, prepare_images, run_pass
    from .gradcam import grad_cam
    from .upsample import normalize_maps

    t_start = time.perf_counter()
    x, single = prepare_images(image, model, "image")
    n_aug = check_int(n_augmentations, "n_augmentations", minimum=1)
    normalize = check_bool(normalize, "normalize")
    return_info = check_bool(return_info, "return_info")
    check_choice(solver, "solver", SOLVERS)
    check_choice(downsample, "downsample", _DOWNSAMPLE)
    if iterations is None and solver == "subgradient":
        iterations = EARLY_STOP_ITERATIONS          # early stopped: the default that localizes best
    params = random_augmentations(n_aug, max_angle, max_shift, seed)
    # the class explained: given, or predicted on the unaugmented image
    if class_index is None:
        cls = run_pass(model, x, None, layer, None, batch_size, gradients=False).class_index
    else:
        from ._core import class_indices, get_probe

        cls = class_indices(class_index, len(x), get_probe(model, layer).n_classes)
    maps, infos = [], []
    p_tf = tf.constant(params)
    for i in range(len(x)):
        t0 = time.perf_counter()
        copies = _warp(tf.constant(x[i:i + 1]), p_tf, True).numpy()
        t1 = time.perf_counter()
        g = grad_cam(model, copies, class_index=int(cls[i]), layer=layer, upsample=False,
                     normalize=False, batch_size=batch_size)
        g = np.asarray(g, np.float32).reshape(n_aug, *np.shape(g)[-2:])
        peak = g.reshape(n_aug, -1).max(axis=1)
        g = np.where(peak[:, None, None] > 0, g / np.where(peak > 0, peak, 1.0)[:, None, None],
                     0.0).astype(np.float32)
        t2 = time.perf_counter()
        if g.shape[1] >= x.shape[1] or g.shape[2] >= x.shape[2]:
            raise ValueError(f"`layer` gives {g.shape[1:]} maps for {x.shape[1:3]} images: "
                             "nothing to super-resolve. Pick a deeper layer.")
        # the operator is the same for every image: superresolve builds it once (its cache)
        h, info = superresolve(g, params, x.shape[1:3], downsample, lambda_tv, lambda_energy,
                               solver, iterations, tol)
        t3 = time.perf_counter()
        if normalize:
            h = normalize_maps(h)
        maps.append(h)
        info.update(low_res_maps=g, params=params, class_index=int(cls[i]), time_augment=t1 - t0,
                    time_gradcam=t2 - t1, time_solve=t3 - t2, time=t3 - t0)
        infos.append(info)
    for info in infos:
        info["time_call"] = time.perf_counter() - t_start   # the whole call, all images
    out = restore_rank(np.stack(maps).astype(np.float32), single)
    if return_info:
        return out, (infos[0] if single else infos)
    return out
