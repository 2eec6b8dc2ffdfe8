"""Mask R-CNN building blocks: anchors, RPN targets and loss, ROI pooling and ROI Align.

Coordinates are pixels of the input image, ``xyxy`` with pixel edges (pixel ``i`` covers
``[i, i + 1)``), since anchors are defined by pixel sizes (128, 256, 512 in Faster R-CNN). A feature
map of stride :math:`s` has cell :math:`(i, j)` covering image pixels
:math:`[s j, s (j+1)) \\times [s i, s (i+1))`; a box maps to the feature map by multiplying by
``spatial_scale = 1 / s``.

Shown in ``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import _describe, check_float, check_int

__all__ = [
    "anchors",
    "label_anchors",
    "sample_anchors",
    "rpn_loss",
    "smooth_l1",
    "quantize_roi",
    "roi_pool",
    "roi_align",
    "roi_align_tf",
    "mask_targets",
]


def _pair(value, name, integer=True):
    """A number or an (h, w) pair, each checked: a positive int, or a positive float."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be a number or a pair (h, w); got {value!r}.")
    else:
        value = (value, value)
    if integer:
        return tuple(check_int(v, name, minimum=1) for v in value)
    return tuple(check_float(v, name, minimum=0.0, strict_min=True) for v in value)


def anchors(feature_size, stride, scales=(128, 256, 512), ratios=(0.5, 1.0, 2.0)):
    """Anchors of the RPN: ``len(scales) * len(ratios)`` boxes centred on every feature-map cell.

    For scale :math:`s` and ratio :math:`r = h / w` the anchor has :math:`w = s / \\sqrt r`,
    :math:`h = s \\sqrt r` (area :math:`s^2`), centred on the cell centre
    :math:`((j + \\tfrac12)\\,\\text{stride}, (i + \\tfrac12)\\,\\text{stride})`. With the defaults,
    9 anchors per position, so an 800x600 image at stride 16 (50x38 cells) gets 17 100 anchors.

    Parameters
    ----------
    feature_size : int or (H_f, W_f)
    stride : int or float, pixels per feature cell
    scales : sequence of float, anchor sides in pixels
    ratios : sequence of float, height / width

    Returns
    -------
    float32 (H_f * W_f * len(scales) * len(ratios), 4) pixel ``xyxy``; ordered by row, column, then
    scale and ratio (the anchor index is ``((i * W_f + j) * S + s) * R + r``), the order of an RPN
    head's ``(H_f, W_f, k)`` output reshaped to ``(-1,)``.
    """
    hf, wf = _pair(feature_size, "feature_size")
    stride = check_float(stride, "stride", minimum=0.0, strict_min=True)
    sc = np.asarray(scales, dtype=np.float64).reshape(-1)
    ra = np.asarray(ratios, dtype=np.float64).reshape(-1)
    if sc.size == 0 or np.any(~np.isfinite(sc)) or np.any(sc <= 0):
        raise ValueError(f"`scales` must be positive sizes in pixels; got {scales!r}.")
    if ra.size == 0 or np.any(~np.isfinite(ra)) or np.any(ra <= 0):
        raise ValueError(f"`ratios` must be positive height/width ratios; got {ratios!r}.")
    w = (sc[:, None] / np.sqrt(ra)[None, :]).reshape(-1)  # (S*R,)
    h = (sc[:, None] * np.sqrt(ra)[None, :]).reshape(-1)
    cy, cx = np.meshgrid((np.arange(hf) + 0.5) * stride, (np.arange(wf) + 0.5) * stride,
                         indexing="ij")
    cx = cx.reshape(-1, 1)
    cy = cy.reshape(-1, 1)
    out = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return out.reshape(-1, 4).astype(np.float32)


def _as_box_array(boxes, name, allow_empty=False):
    if hasattr(boxes, "numpy") and not isinstance(boxes, np.ndarray):
        boxes = boxes.numpy()
    b = np.asarray(boxes)
    if b.dtype == object or not np.issubdtype(b.dtype, np.number):
        raise TypeError(f"`{name}` must be a numeric (N, 4) array of xyxy boxes; got "
                        f"{_describe(b)}.")
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape (N, 4) (x_min, y_min, x_max, y_max); got "
                         f"{_describe(b)}.")
    if b.shape[0] == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty.")
    b = b.astype(np.float64)
    if not np.all(np.isfinite(b)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return b


def label_anchors(anchor_boxes, gt_boxes, image_size=None, positive_iou=0.7, negative_iou=0.3,
                  ignore_cross_boundary=True):
    """RPN training targets: label every anchor positive (1), negative (0) or ignored (-1).

    Following Faster R-CNN (Ren et al., 2015) as the course describes:

    - positive if its IoU with some ground-truth box is above ``positive_iou`` (0.7), or if it is the
      anchor with the highest IoU for some ground-truth box (ties included; this guarantees every
      box at least one anchor);
    - negative if its IoU with every ground-truth box is below ``negative_iou`` (0.3) and it is not
      positive;
    - ignored otherwise, and, when ``ignore_cross_boundary``, every anchor that crosses the image
      border (these never count, not even as the best anchor of a box).

    Regression targets are the deltas of the matched box (the box of highest IoU) relative to the
    anchor (:func:`cvkit.boxes.encode_deltas`):
    :math:`t_x = (x - x_a)/w_a,\\ t_y = (y - y_a)/h_a,\\ t_w = \\log(w/w_a),\\ t_h = \\log(h/h_a)`.
    IoUs come from one vectorised (A, G) matrix (:func:`cvkit.boxes.pairwise_iou`).

    Parameters
    ----------
    anchor_boxes : (A, 4) pixel xyxy (from :func:`anchors`)
    gt_boxes : (G, 4) pixel xyxy; G may be 0 (then every valid anchor is negative)
    image_size : (H, W) or None
        Needed when ``ignore_cross_boundary``.
    positive_iou, negative_iou : float, ``0 <= negative_iou <= positive_iou <= 1``
    ignore_cross_boundary : bool

    Returns
    -------
    labels : int8 (A,) in {1, 0, -1}
    targets : float32 (A, 4) deltas (zero where the label is not 1)
    matched : int64 (A,) index of the matched ground-truth box (-1 when G = 0)
    max_iou : float32 (A,)
    """
    from ..boxes import encode_deltas, pairwise_iou

    a = _as_box_array(anchor_boxes, "anchor_boxes")
    g = _as_box_array(gt_boxes, "gt_boxes", allow_empty=True)
    positive_iou = check_float(positive_iou, "positive_iou", 0.0, 1.0)
    negative_iou = check_float(negative_iou, "negative_iou", 0.0, 1.0)
    if negative_iou > positive_iou:
        raise ValueError(f"`negative_iou` ({negative_iou}) must not exceed `positive_iou` "
                         f"({positive_iou}).")
    if np.any(g[:, 2] <= g[:, 0]) or np.any(g[:, 3] <= g[:, 1]):
        raise ValueError("`gt_boxes` must have x_max > x_min and y_max > y_min (xyxy); some are "
                         "empty or inverted.")
    A = a.shape[0]
    if ignore_cross_boundary:
        if image_size is None:
            raise ValueError("`image_size` (H, W) is needed to ignore the cross-boundary anchors; "
                             "pass it or set ignore_cross_boundary=False.")
        H, W = _pair(image_size, "image_size", integer=False)
        valid = (a[:, 0] >= 0) & (a[:, 1] >= 0) & (a[:, 2] <= W) & (a[:, 3] <= H)
    else:
        valid = np.ones(A, dtype=bool)
    labels = np.full(A, -1, dtype=np.int8)
    targets = np.zeros((A, 4), dtype=np.float32)
    if g.shape[0] == 0:
        labels[valid] = 0
        return labels, targets, np.full(A, -1, np.int64), np.zeros(A, np.float32)
    iou = pairwise_iou(a, g).astype(np.float64)  # (A, G)
    iou[~valid] = -1.0
    matched = np.argmax(iou, axis=1)
    max_iou = iou[np.arange(A), matched]
    labels[valid & (max_iou < negative_iou)] = 0
    labels[valid & (max_iou > positive_iou)] = 1
    gt_best = iou.max(axis=0)  # (G,)
    is_best = (iou == gt_best[None, :]) & (gt_best[None, :] > 0)
    best_anchor = is_best.any(axis=1) & valid
    labels[best_anchor] = 1
    # a best anchor is matched to the box it is best for
    col = np.argmax(is_best, axis=1)
    matched = np.where(best_anchor & (max_iou <= positive_iou), col, matched)
    pos = labels == 1
    if pos.any():
        targets[pos] = encode_deltas(g[matched[pos]], a[pos]).astype(np.float32)
    return labels, targets, matched.astype(np.int64), np.maximum(max_iou, 0).astype(np.float32)


def sample_anchors(labels, batch_size=256, positive_fraction=0.5, seed=0):
    """Sample the RPN mini-batch: at most ``batch_size * positive_fraction`` positives, the rest
    negatives; the anchors not drawn become ignored (-1). Returns a new label array."""
    lab = np.asarray(labels).astype(np.int8).copy()
    if lab.ndim != 1:
        raise ValueError(f"`labels` must be 1-D (A,); got {_describe(lab)}.")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    positive_fraction = check_float(positive_fraction, "positive_fraction", 0.0, 1.0)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(lab == 1)
    neg = np.flatnonzero(lab == 0)
    n_pos = min(pos.size, int(batch_size * positive_fraction))
    n_neg = min(neg.size, batch_size - n_pos)
    lab[rng.permutation(pos)[n_pos:]] = -1
    lab[rng.permutation(neg)[n_neg:]] = -1
    return lab


def smooth_l1(x, beta=1.0):
    """Smooth L1 (Huber) loss per element:
    :math:`0.5 x^2 / \\beta` if :math:`|x| < \\beta`, else :math:`|x| - 0.5 \\beta` (TensorFlow)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x, tf.float32)
    ax = tf.abs(x)
    return tf.where(ax < beta, 0.5 * x * x / beta, ax - 0.5 * beta)


def rpn_loss(objectness_logits, deltas, labels, targets, lam=1.0, n_reg=None):
    """The RPN loss of Faster R-CNN.

    .. math::
        L(\\{p_i\\}, \\{t_i\\}) = \\frac{1}{N_{cls}} \\sum_i L_{cls}(p_i, p_i^*)
        + \\lambda \\frac{1}{N_{reg}} \\sum_i p_i^* L_{reg}(t_i, t_i^*)

    :math:`L_{cls}` the log loss over object / not object (sigmoid cross-entropy on the logit),
    :math:`L_{reg}` the smooth L1 loss summed over the 4 deltas, counted only for positive anchors
    (:math:`p_i^* = 1`). Ignored anchors (label -1) count in neither term. :math:`N_{cls}` is the
    number of labelled anchors (the mini-batch); :math:`N_{reg}` defaults to the same number (the
    paper normalises by the number of anchor positions, ~2400, with :math:`\\lambda = 10`, which
    makes the two terms about equal; pass ``n_reg`` and ``lam`` to follow it).

    Parameters
    ----------
    objectness_logits : (A,) or (B, A) logits :math:`p_i` before the sigmoid
    deltas : (A, 4) or (B, A, 4) predicted :math:`t_i`
    labels : (A,) or (B, A) in {1, 0, -1}
    targets : (A, 4) or (B, A, 4) :math:`t_i^*`
    lam : float, :math:`\\lambda`
    n_reg : float or None

    Returns
    -------
    total, cls_loss, reg_loss : scalar tf.Tensors (differentiable in the predictions)
    """
    import tensorflow as tf

    lam = check_float(lam, "lam", minimum=0.0)
    logits = tf.convert_to_tensor(objectness_logits, tf.float32)
    d = tf.convert_to_tensor(deltas, tf.float32)
    lab = tf.convert_to_tensor(labels)
    t = tf.convert_to_tensor(targets, tf.float32)
    if tuple(lab.shape) != tuple(logits.shape):
        raise ValueError(f"`labels` must have the shape of `objectness_logits` {tuple(logits.shape)}; "
                         f"got {tuple(lab.shape)}.")
    if tuple(d.shape) != tuple(logits.shape) + (4,) or tuple(t.shape) != tuple(d.shape):
        raise ValueError(f"`deltas` and `targets` must have shape {tuple(logits.shape) + (4,)}; got "
                         f"{tuple(d.shape)} and {tuple(t.shape)}.")
    lab = tf.cast(lab, tf.float32)
    used = tf.cast(lab >= 0, tf.float32)
    pos = tf.cast(lab > 0, tf.float32)
    n_cls = tf.maximum(tf.reduce_sum(used), 1.0)
    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=pos, logits=logits)
    cls_loss = tf.reduce_sum(ce * used) / n_cls
    n_r = n_cls if n_reg is None else tf.constant(check_float(n_reg, "n_reg", 0.0, strict_min=True))
    reg = tf.reduce_sum(smooth_l1(d - t), axis=-1)
    reg_loss = tf.reduce_sum(reg * pos) / n_r
    return cls_loss + lam * reg_loss, cls_loss, reg_loss


def _check_map(feature_map, name="feature_map"):
    if hasattr(feature_map, "numpy") and not isinstance(feature_map, np.ndarray):
        feature_map = feature_map.numpy()
    f = np.asarray(feature_map)
    if f.dtype == object or not (np.issubdtype(f.dtype, np.number) or f.dtype == bool):
        raise TypeError(f"`{name}` must be numeric; got {_describe(f)}.")
    single = False
    if f.ndim == 2:
        f = f[None, :, :, None]
        single = "hw"
    elif f.ndim == 3:
        f = f[None]
        single = "hwc"
    if f.ndim != 4:
        raise ValueError(f"`{name}` must be (H, W), (H, W, C) or (N, H, W, C); got {_describe(f)}.")
    if 0 in f.shape:
        raise ValueError(f"`{name}` is empty: shape {f.shape}.")
    f = f.astype(np.float32)
    if not np.all(np.isfinite(f)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return f, single


def _check_rois(rois, batch_indices, fmap_shape, spatial_scale):
    r = _as_box_array(rois, "rois", allow_empty=False)
    N, H, W, _ = fmap_shape
    if np.any(r[:, 2] <= r[:, 0]) or np.any(r[:, 3] <= r[:, 1]):
        bad = int(np.flatnonzero((r[:, 2] <= r[:, 0]) | (r[:, 3] <= r[:, 1]))[0])
        raise ValueError(f"`rois` must have x_max > x_min and y_max > y_min; roi {bad} is "
                         f"{r[bad].tolist()} (inverted or empty).")
    m = r * spatial_scale
    tol = 1e-6
    if np.any(m[:, 0] < -tol) or np.any(m[:, 1] < -tol) or np.any(m[:, 2] > W + tol) \
            or np.any(m[:, 3] > H + tol):
        bad = int(np.flatnonzero((m[:, 0] < -tol) | (m[:, 1] < -tol) | (m[:, 2] > W + tol)
                                 | (m[:, 3] > H + tol))[0])
        raise ValueError(f"`rois` must lie inside the feature map ({W} x {H} cells = "
                         f"{W / spatial_scale:g} x {H / spatial_scale:g} image pixels at "
                         f"spatial_scale={spatial_scale:g}); roi {bad} is {r[bad].tolist()}. Clip "
                         "the boxes first (cvkit.boxes.clip).")
    if batch_indices is None:
        if N != 1:
            raise ValueError(f"`batch_indices` is needed with a batch of {N} feature maps.")
        b = np.zeros(r.shape[0], np.int64)
    else:
        b = np.asarray(batch_indices).reshape(-1)
        if b.shape[0] != r.shape[0] or not np.issubdtype(b.dtype, np.integer):
            raise ValueError(f"`batch_indices` must be {r.shape[0]} integers; got {_describe(b)}.")
        if b.size and (b.min() < 0 or b.max() >= N):
            raise ValueError(f"`batch_indices` must lie in [0, {N - 1}]; got {b.min()}..{b.max()}.")
        b = b.astype(np.int64)
    return m, b


def _restore(out, single):
    if single == "hw":
        return out[..., 0]
    return out


def quantize_roi(roi, spatial_scale):
    """Where ROI pooling puts a box on the feature map: the exact and the quantised coordinates.

    .. math:: x' = x \\cdot \\text{scale} \\quad\\to\\quad \\lfloor x' \\rfloor

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
    """
    r = _as_box_array(roi, "roi")
    if r.shape[0] != 1:
        raise ValueError(f"`roi` must be one box (4,); got shape {r.shape}.")
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    exact = r[0] * spatial_scale
    x0, y0 = np.floor(exact[:2] + 1e-9).astype(np.int64)
    x1, y1 = np.floor(exact[2:] + 1e-9).astype(np.int64)
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)
    return exact, np.array([x0, y0, x1, y1], dtype=np.int64)


def roi_pool(feature_map, rois, output_size=(7, 7), spatial_scale=1.0, batch_indices=None):
    """ROI pooling (Fast R-CNN): quantise each ROI to whole cells, split it into an
    ``output_size`` grid of (nearly) equal sections, and keep the maximum of each section.

    The ROI covers cells :math:`x_0 = \\lfloor x_{min} s \\rfloor` to
    :math:`x_1 = \\lfloor x_{max} s \\rfloor` (exclusive, at least one cell); its :math:`w` columns
    are split at :math:`x_0 + \\lfloor j w / W_o \\rfloor`, :math:`j = 0..W_o` (a section keeps at
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
    """
    f, single = _check_map(feature_map)
    oh, ow = _pair(output_size, "output_size")
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    m, b = _check_rois(rois, batch_indices, f.shape, spatial_scale)
    _, H, W, C = f.shape
    q0 = np.floor(m[:, :2] + 1e-9).astype(np.int64)
    q1 = np.floor(m[:, 2:] + 1e-9).astype(np.int64)
    q1 = np.maximum(q1, q0 + 1)
    q1[:, 0] = np.minimum(q1[:, 0], W)
    q1[:, 1] = np.minimum(q1[:, 1], H)

    def sections(start, length, n_out, size):
        j = np.arange(n_out + 1)
        edges = start[:, None] + (j[None, :] * length[:, None]) // n_out  # (N, n_out + 1)
        lo = edges[:, :-1]
        hi = np.maximum(edges[:, 1:], lo + 1)
        pos = np.arange(size)
        return (pos[None, None, :] >= lo[:, :, None]) & (pos[None, None, :] < hi[:, :, None])

    colmask = sections(q0[:, 0], q1[:, 0] - q0[:, 0], ow, W)  # (N, ow, W)
    rowmask = sections(q0[:, 1], q1[:, 1] - q0[:, 1], oh, H)  # (N, oh, H)
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
    """ROI Align (Mask R-CNN, He et al. 2017), the teaching version in NumPy.

    No quantisation: the ROI :math:`[x_0, x_1) \\times [y_0, y_1)` in map coordinates
    (``rois * spatial_scale``) is split into :math:`H_o \\times W_o` bins of size
    :math:`b_w = (x_1 - x_0)/W_o`, :math:`b_h = (y_1 - y_0)/H_o`; each bin averages
    :math:`n \\times n` bilinear samples (``n = sampling_ratio``) at

    .. math:: x = x_0 + \\big(j + \\tfrac{u + 1/2}{n}\\big) b_w, \\quad u = 0..n-1

    where bilinear interpolation reads the four cells around :math:`(x - \\tfrac12, y - \\tfrac12)`
    (cell :math:`i` has its centre at :math:`i + \\tfrac12`; beyond the outer centres the edge value
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
    """
    f, single = _check_map(feature_map)
    oh, ow = _pair(output_size, "output_size")
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    n = check_int(sampling_ratio, "sampling_ratio", minimum=1)
    m, b = _check_rois(rois, batch_indices, f.shape, spatial_scale)
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
    """
    import tensorflow as tf

    f, single = _check_map(feature_map)
    oh, ow = _pair(output_size, "output_size")
    spatial_scale = check_float(spatial_scale, "spatial_scale", minimum=0.0, strict_min=True)
    n = check_int(sampling_ratio, "sampling_ratio", minimum=1)
    m, b = _check_rois(rois, batch_indices, f.shape, spatial_scale)
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


def mask_targets(masks, boxes, size=28, threshold=0.5):
    """Mask R-CNN mask targets: each object's mask cut to its box and resized to ``size x size``.

    The ground-truth mask is ROI-Aligned (:func:`roi_align`, one sample per bin) on the box and
    binarised at ``threshold``, so target pixel :math:`(i, j)` is the mask at the centre of cell
    :math:`(i, j)` of the box's ``size x size`` grid.

    Parameters
    ----------
    masks : bool (N, H, W)
    boxes : (N, 4) pixel xyxy, one per mask
    size : int
    threshold : float in (0, 1)

    Returns
    -------
    float32 (N, size, size) in {0, 1}
    """
    m = np.asarray(masks.numpy() if hasattr(masks, "numpy") else masks)
    if m.ndim != 3:
        raise ValueError(f"`masks` must be (N, H, W); got {_describe(m)}.")
    b = _as_box_array(boxes, "boxes")
    if b.shape[0] != m.shape[0]:
        raise ValueError(f"`boxes` must hold one box per mask ({m.shape[0]}); got {b.shape[0]}.")
    size = check_int(size, "size", minimum=1)
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    crops = roi_align(m.astype(np.float32)[..., None], b, (size, size), 1.0, 1,
                      batch_indices=np.arange(m.shape[0]))
    return (crops[..., 0] >= threshold).astype(np.float32)
