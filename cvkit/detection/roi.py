r"""Cutting a fixed-size feature from a region of interest: ROI pooling (Fast R-CNN) and ROI Align
(Mask R-CNN).

A box in image pixels maps to the feature map by multiplying by ``spatial_scale = 1 / stride``.
ROI pooling then rounds it to whole cells (:func:`quantize_roi`) and max-pools nearly equal
sections; ROI Align keeps the exact box and averages bilinear samples. :func:`roi_align` is the
teaching version in NumPy, :func:`roi_align_tf` the fast path with the same result. Notebook:
``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_float, check_int, check_size, describe, to_numpy
from ._common import as_box_array

__all__ = ["quantize_roi", "roi_pool", "roi_align", "roi_align_tf", "MAX_OUTPUT_SIZE",
           "MAX_SAMPLES"]

#: largest side of ``output_size`` (Fast R-CNN pools to 7 x 7, Mask R-CNN's mask head to 14 x 14)
MAX_OUTPUT_SIZE = 1024
#: most bilinear samples one ROI Align call computes (rois x bins x sampling_ratio^2)
MAX_SAMPLES = 2 ** 26


def _check_map(feature_map, name="feature_map"):
    """(B, H, W, C) float32 maps and how to restore the caller's rank ('hw', 'hwc' or False)."""
    f = to_numpy(feature_map)
    if f.dtype == object or not (np.issubdtype(f.dtype, np.number) or f.dtype == bool) \
            or np.issubdtype(f.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be numeric; got {describe(f)}.")
    single = False
    if f.ndim == 2:
        f = f[None, :, :, None]
        single = "hw"
    elif f.ndim == 3:
        f = f[None]
        single = "hwc"
    if f.ndim != 4:
        raise ValueError(f"`{name}` must be (H, W), (H, W, C) or (N, H, W, C); got {describe(f)}.")
    if 0 in f.shape:
        raise ValueError(f"`{name}` is empty: shape {f.shape}.")
    f = f.astype(np.float32)
    if not np.all(np.isfinite(f)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return f, single


def _check_inside(m, r, H, W, spatial_scale):
    """Raise unless every ROI (``m``: map coordinates, ``r``: pixels) lies inside the map."""
    tol = 1e-6
    outside = (m[:, 0] < -tol) | (m[:, 1] < -tol) | (m[:, 2] > W + tol) | (m[:, 3] > H + tol)
    if np.any(outside):
        bad = int(np.flatnonzero(outside)[0])
        raise ValueError(f"`rois` must lie inside the feature map ({W} x {H} cells = "
                         f"{W / spatial_scale:g} x {H / spatial_scale:g} image pixels at "
                         f"spatial_scale={spatial_scale:g}); roi {bad} is {r[bad].tolist()}. Clip "
                         "the boxes first (cvkit.boxes.clip).")


def _check_batch_indices(batch_indices, n_rois, N):
    if batch_indices is None:
        if N != 1:
            raise ValueError(f"`batch_indices` is needed with a batch of {N} feature maps.")
        return np.zeros(n_rois, np.int64)
    b = np.asarray(to_numpy(batch_indices)).reshape(-1)
    if b.shape[0] != n_rois or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"`batch_indices` must be {n_rois} integers; got {describe(b)}.")
    if b.size and (b.min() < 0 or b.max() >= N):
        raise ValueError(f"`batch_indices` must lie in [0, {N - 1}]; got {b.min()}..{b.max()}.")
    return b.astype(np.int64)


def _check_rois(rois, batch_indices, fmap_shape, spatial_scale):
    """ROIs in map coordinates (N, 4) and the map each one reads (N,)."""
    r = as_box_array(rois, "rois", allow_empty=False)
    N, H, W, _ = fmap_shape
    inverted = (r[:, 2] <= r[:, 0]) | (r[:, 3] <= r[:, 1])
    if np.any(inverted):
        bad = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"`rois` must have x_max > x_min and y_max > y_min; roi {bad} is "
                         f"{r[bad].tolist()} (inverted or empty).")
    m = r * spatial_scale
    _check_inside(m, r, H, W, spatial_scale)
    return m, _check_batch_indices(batch_indices, r.shape[0], N)


def _inputs(feature_map, rois, output_size, spatial_scale, batch_indices):
    """The checked inputs of every ROI function: maps, rank flag, (H_o, W_o), ROIs, batch index."""
    f, single = _check_map(feature_map)
    oh, ow = check_size(output_size, "output_size", maximum=MAX_OUTPUT_SIZE)
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    m, b = _check_rois(rois, batch_indices, f.shape, spatial_scale)
    return f, single, (oh, ow), m, b


def _sampling_ratio(sampling_ratio, n_rois, oh, ow):
    """``sampling_ratio`` checked, with the number of bilinear samples it asks for bounded."""
    n = check_int(sampling_ratio, "sampling_ratio", minimum=1)
    if n_rois * oh * ow * n * n > MAX_SAMPLES:
        raise ValueError(f"`sampling_ratio`={n} with output_size ({oh}, {ow}) and {n_rois} rois "
                         f"asks for {n_rois * oh * ow * n * n} bilinear samples, above "
                         f"MAX_SAMPLES = {MAX_SAMPLES}; use a smaller sampling_ratio (2 is usual).")
    return n


def _restore(out, single):
    if single == "hw":
        return out[..., 0]
    return out


def quantize_roi(roi, spatial_scale):
    r"""Where ROI pooling puts a box on the feature map: the exact and the quantised coordinates.

    .. math:: x' = x \cdot \text{scale} \quad\to\quad \lfloor x' \rfloor

    The course's example: a 145 x 200 box on a stride-32 map (``spatial_scale=1/32``) covers
    4.53 x 6.25 cells, which ROI pooling quantises to 4 x 6, losing the fractions; ROI Align keeps
    them.

    Parameters
    ----------
    roi : (4,) pixel xyxy
    spatial_scale : float

    Returns
    -------
    exact : float (4,) map coordinates, quantised : int (4,) (x0, y0, x1, y1) cells used by
    :func:`roi_pool` (end exclusive, at least one cell).

    Examples
    --------
    >>> exact, q = quantize_roi([0, 0, 145, 200], 1 / 32)
    >>> exact, q
    (array([0.     , 0.     , 4.53125, 6.25   ]), array([0, 0, 4, 6]))
    """
    r = as_box_array(roi, "roi")
    if r.shape[0] != 1:
        raise ValueError(f"`roi` must be one box (4,); got shape {r.shape}.")
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    exact = r[0] * spatial_scale
    x0, y0 = np.floor(exact[:2] + 1e-9).astype(np.int64)
    x1, y1 = np.floor(exact[2:] + 1e-9).astype(np.int64)
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)
    return exact, np.array([x0, y0, x1, y1], dtype=np.int64)


def _sections(start, length, n_out, size):
    """(N, n_out, size) masks of the cells of each of the ``n_out`` sections of each ROI."""
    j = np.arange(n_out + 1)
    edges = start[:, None] + (j[None, :] * length[:, None]) // n_out  # (N, n_out + 1)
    lo = edges[:, :-1]
    hi = np.maximum(edges[:, 1:], lo + 1)
    pos = np.arange(size)
    return (pos[None, None, :] >= lo[:, :, None]) & (pos[None, None, :] < hi[:, :, None])


def roi_pool(feature_map, rois, output_size=(7, 7), spatial_scale=1.0, batch_indices=None):
    r"""ROI pooling (Fast R-CNN): quantise each ROI to whole cells, split it into an
    ``output_size`` grid of (nearly) equal sections, and keep the maximum of each section.

    The ROI covers cells :math:`x_0 = \lfloor x_{min} s \rfloor` to
    :math:`x_1 = \lfloor x_{max} s \rfloor` (exclusive, at least one cell); its :math:`w` columns
    are split at :math:`x_0 + \lfloor j w / W_o \rfloor`, :math:`j = 0..W_o` (a section keeps at
    least one cell when the ROI is smaller than the output), and the same for the rows. The course's
    7 x 5 region pooled to 2 x 2 has columns split 3 + 4 and rows 2 + 3 and gives
    ``[[0.85, 0.84], [0.97, 0.96]]``.

    Vectorised over ROIs and sections: a max over columns inside the column sections, then over
    rows inside the row sections (masked reductions), ROIs taken in chunks that bound the memory.

    Parameters
    ----------
    feature_map : (H, W), (H, W, C) or (B, H, W, C)
    rois : (N, 4) xyxy in image pixels (map cells when ``spatial_scale=1``), inside the map
    output_size : int or (H_o, W_o)
    spatial_scale : float, 1 / stride
    batch_indices : (N,) ints, which map of the batch each ROI reads (needed when B > 1)

    Returns
    -------
    float32 (N, H_o, W_o, C) ((N, H_o, W_o) for a 2-D map)

    Examples
    --------
    >>> fmap = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> roi_pool(fmap, [0, 0, 4, 4], output_size=2)
    array([[[ 5.,  7.],
            [13., 15.]]], dtype=float32)
    """
    f, single, (oh, ow), m, b = _inputs(feature_map, rois, output_size, spatial_scale,
                                        batch_indices)
    _, H, W, C = f.shape
    q0 = np.floor(m[:, :2] + 1e-9).astype(np.int64)
    q1 = np.floor(m[:, 2:] + 1e-9).astype(np.int64)
    q1 = np.maximum(q1, q0 + 1)
    q1[:, 0] = np.minimum(q1[:, 0], W)
    q1[:, 1] = np.minimum(q1[:, 1], H)
    colmask = _sections(q0[:, 0], q1[:, 0] - q0[:, 0], ow, W)  # (N, ow, W)
    rowmask = _sections(q0[:, 1], q1[:, 1] - q0[:, 1], oh, H)  # (N, oh, H)
    neg = np.float32(-np.inf)
    N = m.shape[0]
    out = np.empty((N, oh, ow, C), dtype=np.float32)
    # ROIs in chunks so that the masked (n, H, ow, W, C) intermediate stays near 64 MB
    step = max(1, (1 << 24) // max(1, H * W * C * max(ow, oh)))
    for s0 in range(0, N, step):
        sl = slice(s0, s0 + step)
        fb = f[b[sl]]  # (n, H, W, C)
        # max over the columns of each column section: (n, H, ow, C)
        colmax = np.max(np.where(colmask[sl][:, None, :, :, None], fb[:, :, None, :, :], neg),
                        axis=3)
        # then over the rows of each row section: (n, oh, ow, C)
        out[sl] = np.max(np.where(rowmask[sl][:, :, :, None, None], colmax[:, None], neg), axis=2)
    return _restore(out.astype(np.float32), single)


def _bilinear(f, b, y, x):
    """Bilinear samples of maps ``f`` (B, H, W, C) at continuous positions ``y, x`` (N, P) given in
    pixel-edge coordinates (pixel centres at i + 0.5), edges replicated. Returns (N, P, C)."""
    _, H, W, _ = f.shape
    yc = np.clip(y - 0.5, 0.0, H - 1)
    xc = np.clip(x - 0.5, 0.0, W - 1)
    y0 = np.floor(yc).astype(np.int64)
    x0 = np.floor(xc).astype(np.int64)
    y1 = np.minimum(y0 + 1, H - 1)
    x1 = np.minimum(x0 + 1, W - 1)
    wy = (yc - y0)[..., None]
    wx = (xc - x0)[..., None]
    bb = b[:, None]
    top = f[bb, y0, x0] * (1 - wx) + f[bb, y0, x1] * wx
    bot = f[bb, y1, x0] * (1 - wx) + f[bb, y1, x1] * wx
    return top * (1 - wy) + bot * wy


def roi_align(feature_map, rois, output_size=(7, 7), spatial_scale=1.0, sampling_ratio=2,
              batch_indices=None):
    r"""ROI Align (Mask R-CNN, He et al. 2017), the teaching version in NumPy.

    No quantisation: the ROI :math:`[x_0, x_1) \times [y_0, y_1)` in map coordinates
    (``rois * spatial_scale``) is split into :math:`H_o \times W_o` bins of size
    :math:`b_w = (x_1 - x_0)/W_o`, :math:`b_h = (y_1 - y_0)/H_o`; each bin averages
    :math:`n \times n` bilinear samples (``n = sampling_ratio``) at

    .. math:: x = x_0 + \big(j + \tfrac{u + 1/2}{n}\big) b_w, \quad u = 0..n-1

    where bilinear interpolation reads the four cells around :math:`(x - \tfrac12, y - \tfrac12)`
    (cell :math:`i` has its centre at :math:`i + \tfrac12`; beyond the outer centres the edge value
    is used). This equals torchvision's ``roi_align(..., aligned=True)`` and
    ``tf.image.crop_and_resize`` on the sample grid (see :func:`roi_align_tf`, the fast path).

    Parameters
    ----------
    feature_map : (H, W), (H, W, C) or (B, H, W, C)
    rois : (N, 4) xyxy image pixels, inside the map (raises otherwise), not inverted
    output_size : int or (H_o, W_o)
    spatial_scale : float, 1 / stride
    sampling_ratio : int >= 1
    batch_indices : (N,) ints, needed when B > 1

    Returns
    -------
    float32 (N, H_o, W_o, C) ((N, H_o, W_o) for a 2-D map)

    Examples
    --------
    >>> ramp = np.tile(np.arange(8, dtype=np.float32) + 0.5, (8, 1))   # value = x of the centre
    >>> roi_align(ramp, [2, 0, 6, 8], output_size=(1, 2))              # bin centres x = 3, 5
    array([[[3., 5.]]], dtype=float32)
    """
    f, single, (oh, ow), m, b = _inputs(feature_map, rois, output_size, spatial_scale,
                                        batch_indices)
    n = _sampling_ratio(sampling_ratio, m.shape[0], oh, ow)
    N = m.shape[0]
    bw = (m[:, 2] - m[:, 0]) / ow
    bh = (m[:, 3] - m[:, 1]) / oh
    fy = (np.arange(oh)[:, None] + (np.arange(n)[None, :] + 0.5) / n).reshape(-1)  # (oh*n,)
    fx = (np.arange(ow)[:, None] + (np.arange(n)[None, :] + 0.5) / n).reshape(-1)
    ys = m[:, 1:2] + fy[None, :] * bh[:, None]  # (N, oh*n)
    xs = m[:, 0:1] + fx[None, :] * bw[:, None]
    C = f.shape[-1]
    P = oh * n * ow * n
    vals = np.empty((N, oh, ow, C), dtype=np.float32)
    step = max(1, (1 << 22) // max(1, P * C))  # ROIs per chunk: bounded intermediate arrays
    for s0 in range(0, N, step):
        sl = slice(s0, s0 + step)
        Y = np.repeat(ys[sl], ow * n, axis=1)  # (n_chunk, P) row-major sample grid
        X = np.tile(xs[sl], (1, oh * n))
        v = _bilinear(f, b[sl], Y, X)  # (n_chunk, P, C)
        vals[sl] = v.reshape(-1, oh, n, ow, n, C).mean(axis=(2, 4))
    return _restore(vals.astype(np.float32), single)


def roi_align_tf(feature_map, rois, output_size=(7, 7), spatial_scale=1.0, sampling_ratio=2,
                 batch_indices=None):
    """ROI Align, the fast path: the same result as :func:`roi_align`, computed with
    ``tf.image.crop_and_resize``.

    The sample grid of :func:`roi_align` is regular, so it is exactly the grid that
    ``crop_and_resize`` samples (its crop size ``(H_o n, W_o n)`` with corners at the first and last
    sample); the map is padded by one replicated cell so that samples past the outer cell centres
    read the edge value, as in :func:`roi_align`; then an ``n x n`` average pool. Inputs as
    :func:`roi_align`; returns a float32 NumPy array.

    Examples
    --------
    >>> f = np.random.default_rng(0).random((12, 14, 3)).astype(np.float32)
    >>> rois = [[1.3, 2.2, 10.7, 9.1], [0, 0, 14, 12]]
    >>> fast, slow = roi_align_tf(f, rois, (3, 4)), roi_align(f, rois, (3, 4))
    >>> fast.shape, bool(np.allclose(fast, slow, atol=2e-6))
    ((2, 3, 4, 3), True)
    """
    import tensorflow as tf

    f, single, (oh, ow), m, b = _inputs(feature_map, rois, output_size, spatial_scale,
                                        batch_indices)
    n = _sampling_ratio(sampling_ratio, m.shape[0], oh, ow)
    out = _roi_align_tf(tf.constant(f), tf.constant(m, tf.float32), tf.constant(b, tf.int32),
                        oh, ow, n)
    return _restore(out.numpy(), single)


_TF_CACHE = {}


def _roi_align_tf(f, m, b, oh, ow, n):
    import tensorflow as tf

    key = (oh, ow, n)
    if key not in _TF_CACHE:
        @tf.function(reduce_retracing=True)
        def run(f, m, b):
            H = tf.cast(tf.shape(f)[1], tf.float32)
            W = tf.cast(tf.shape(f)[2], tf.float32)
            fp = tf.pad(f, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
            bw = (m[:, 2] - m[:, 0]) / ow
            bh = (m[:, 3] - m[:, 1]) / oh
            # first / last sample, as an index into the padded map (+1 pad, -0.5 centre)
            x_first = m[:, 0] + 0.5 / n * bw + 0.5
            x_last = m[:, 2] - 0.5 / n * bw + 0.5
            y_first = m[:, 1] + 0.5 / n * bh + 0.5
            y_last = m[:, 3] - 0.5 / n * bh + 0.5
            boxes = tf.stack([y_first / (H + 1), x_first / (W + 1),
                              y_last / (H + 1), x_last / (W + 1)], axis=1)
            crops = tf.image.crop_and_resize(fp, boxes, b, (oh * n, ow * n))
            if n > 1:
                crops = tf.nn.avg_pool2d(crops, n, n, "VALID")
            return crops

        _TF_CACHE[key] = run
    return _TF_CACHE[key](f, m, b)
