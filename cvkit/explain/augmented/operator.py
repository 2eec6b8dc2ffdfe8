r"""The linear operator of Augmented Grad-CAM: :math:`h \mapsto (D(A_\ell h))_{\ell=1}^{L}`.

:math:`D` is the down-sampling to the map size (:func:`downsampling_matrix`, ``'area'`` or
``'bilinear'``) and :math:`A_\ell` the warp of copy :math:`\ell`
(:mod:`cvkit.explain.augmented.warp`). :class:`AugmentationOperator` stores the stacked map as one
sparse matrix, built in one batched computation, with its exact adjoint (the transpose); a small
cache keeps the most recent ones for calls with the same augmentations.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from cvkit._validate import check_choice, check_int, check_size

from .warp import _as_params, _source_coordinates

__all__ = ["downsampling_matrix", "AugmentationOperator"]

_DOWNSAMPLE = ("area", "bilinear")


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

    Parameters
    ----------
    size : int
        Length of the high-resolution axis.
    out_size : int
        Length of the low-resolution axis.
    method : {'area', 'bilinear'}

    Returns
    -------
    np.ndarray
        float32 (out_size, size).

    Examples
    --------
    >>> downsampling_matrix(4, 2)
    array([[0.5, 0.5, 0. , 0. ],
           [0. , 0. , 0.5, 0.5]], dtype=float32)
    >>> downsampling_matrix(6, 2, "bilinear")[0].tolist()
    [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
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


# --------------------------------------------------------------------------------------------
# The entries of the stacked operator, in named steps (all traced into one tf.function)
# --------------------------------------------------------------------------------------------

def _footprint_sources(params, qy, qx, height, width, blocks):
    """Source points of the warped pixels in each cell's footprint: x and y, (L, h, Ky, w, Kx)."""
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
    return sx, sy


def _patch_layout(x0, y0, used):
    """Each cell's local patch: its top-left corner (oy, ox), the patch size (py, px) shared by all
    cells (one more than the spread of the used taps, for the right / lower neighbour) and each
    tap's position (ly, lx) in its patch."""
    big = 2.0**30
    oy = tf.reduce_min(tf.where(used, y0, big), axis=[2, 4], keepdims=True)
    ox = tf.reduce_min(tf.where(used, x0, big), axis=[2, 4], keepdims=True)
    py = tf.cast(tf.reduce_max(tf.where(used, y0, -big) - oy), tf.int32) + 2
    px = tf.cast(tf.reduce_max(tf.where(used, x0, -big) - ox), tf.int32) + 2
    ly = tf.cast(tf.where(used, y0 - oy, 0.0), tf.int32)
    lx = tf.cast(tf.where(used, x0 - ox, 0.0), tf.int32)
    return oy, ox, py, px, ly, lx


def _tap_values(sx, sy, x0, y0, r, height, width):
    """The four bilinear weights of each warped pixel (zero for a neighbour outside the image),
    times its down-sampling weight ``r``: (L, h, Ky, w, Kx, 4)."""
    fx = sx - x0
    fy = sy - y0
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
    return tf.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1], axis=-1)


def _merged_entries(vals, segs, cells, py, px, oy, ox, width):
    """Sum the taps of every cell in its dense patch; the non-zeros become (row, col, value)."""
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


@tf.function(reduce_retracing=True)
def _operator_entries(params, qy, wy, qx, wx, height, width, blocks):
    """Non-zero entries of the stacked operator D A_l as COO (rows, cols, values).

    Cell (l, i, j) of the low-resolution maps is sum_q R_y[i, q_y] R_x[j, q_x] (A_l h)(q) over the
    warped pixels q of its footprint, and each (A_l h)(q) is 4 bilinear taps of h. The taps of one
    cell are merged in a dense local patch (one segment sum over all copies and cells at once),
    whose non-zeros become the matrix entries. With ``blocks`` (integer 'area' factor) the
    footprints tile the image and a reshape replaces the gathers. No loop over copies or cells.
    """
    n, h, w = tf.shape(params)[0], tf.shape(qy)[0], tf.shape(qx)[0]
    sx, sy = _footprint_sources(params, qy, qx, height, width, blocks)
    r = wy[None, :, :, None, None] * wx[None, None, None, :, :]    # (1, h, Ky, w, Kx)
    used = tf.broadcast_to(r > 0, tf.shape(sx))
    x0 = tf.floor(sx)
    y0 = tf.floor(sy)
    oy, ox, py, px, ly, lx = _patch_layout(x0, y0, used)
    cells = n * h * w
    cell = tf.reshape(tf.range(cells), [n, h, 1, w, 1])
    seg = (cell * py + ly) * px + lx
    vals = _tap_values(sx, sy, x0, y0, r, height, width)
    segs = tf.stack([seg, seg + 1, seg + px, seg + px + 1], axis=-1)
    return _merged_entries(vals, segs, cells, py, px, oy, ox, width)


def _schur_bound(matrix, n_rows, n_cols):
    """Largest row sum times largest column sum of a non-negative sparse matrix (>= its squared
    spectral norm)."""
    ones_h = tf.ones([n_cols, 1])
    ones_g = tf.ones([n_rows, 1])
    row_sum = float(tf.reduce_max(tf.sparse.sparse_dense_matmul(matrix, ones_h)))
    col_sum = float(tf.reduce_max(tf.sparse.sparse_dense_matmul(matrix, ones_g,
                                                                adjoint_a=True)))
    return row_sum * col_sum


class AugmentationOperator:
    r"""The stacked linear operator :math:`h \mapsto (D(A_\ell h))_{\ell=1}^{L}` as a sparse matrix.

    Built once from the augmentation parameters (one batched computation: no loop over copies);
    applying it and its adjoint (the exact transpose) are sparse-dense products, so every solver
    iteration costs two of them whatever L is.

    Parameters
    ----------
    params : array (L, 3)
        Augmentations, as from :func:`~cvkit.explain.augmented.random_augmentations`.
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
    >>> from cvkit.explain.augmented import random_augmentations
    >>> op = AugmentationOperator(random_augmentations(3), 32, 4)
    >>> op(np.ones((32, 32))).shape
    (3, 4, 4)
    """

    def __init__(self, params, output_size, map_size, downsample="area"):
        self.params = _as_params(params)
        self.output_size = check_size(output_size, "output_size")
        self.map_size = check_size(map_size, "map_size")
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
        self._check_int32(max(qy.shape[1], qx.shape[1]))
        row, col, val = _operator_entries(tf.constant(self.params), tf.constant(qy),
                                          tf.constant(wy), tf.constant(qx), tf.constant(wx),
                                          tf.constant(H), tf.constant(W), blocks)
        idx = tf.cast(tf.stack([row, col], axis=1), tf.int64)
        self.matrix = tf.sparse.SparseTensor(idx, val, [self.n * h * w, H * W])
        self.norm_bound = _schur_bound(self.matrix, self.n * h * w, H * W)

    def _check_int32(self, taps):
        """Raise when the local patches of all cells would overflow int32 indices."""
        h, w = self.map_size
        rot = np.abs(np.cos(self.params[:, 0])) + np.abs(np.sin(self.params[:, 0]))
        patch = (float(rot.max()) * taps + 4) ** 2
        if self.n * h * w * patch >= 2**31 - 1:
            raise ValueError(f"the operator for L={self.n} copies of {self.map_size} maps at "
                             f"{self.output_size} is too large for int32 indexing; use fewer "
                             "augmentations.")

    @property
    def nnz(self):
        """Number of stored non-zeros.

        Examples
        --------
        >>> AugmentationOperator(np.zeros((1, 3)), 4, 2).nnz      # identity warp, 2 x 2 blocks
        16
        """
        return int(self.matrix.values.shape[0])

    def __call__(self, h):
        r""":math:`(D(A_\ell h))_\ell`: (H, W) -> (L, h, w) float32.

        Examples
        --------
        >>> op = AugmentationOperator(np.zeros((2, 3)), 4, 2)
        >>> op(np.arange(16.0).reshape(4, 4))[1]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
        """
        h = np.asarray(h, dtype=np.float32)
        if h.shape != self.output_size:
            raise ValueError(f"`h` must have shape {self.output_size}; got {h.shape}.")
        out = tf.sparse.sparse_dense_matmul(self.matrix, tf.reshape(h, [-1, 1]))
        return tf.reshape(out, [self.n, *self.map_size]).numpy()

    def adjoint(self, g):
        r""":math:`\sum_\ell A_\ell^T D^T g_\ell`: (L, h, w) -> (H, W) float32.

        Examples
        --------
        >>> op = AugmentationOperator(np.zeros((2, 3)), 4, 2)
        >>> op.adjoint(np.ones((2, 2, 2)))[0]          # two copies, each 1/4 per pixel
        array([0.5, 0.5, 0.5, 0.5], dtype=float32)
        """
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
    key = (p.shape, p.tobytes(), check_size(output_size, "output_size"),
           check_size(map_size, "map_size"), downsample)
    op = _OPERATOR_CACHE.pop(key, None)
    if op is None:
        op = AugmentationOperator(p, output_size, map_size, downsample)
    _OPERATOR_CACHE[key] = op
    while len(_OPERATOR_CACHE) > _OPERATOR_CACHE_SIZE:
        _OPERATOR_CACHE.popitem(last=False)
    return op
