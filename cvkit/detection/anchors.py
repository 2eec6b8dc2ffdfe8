r"""Anchors of a region proposal network: ``len(scales) * len(ratios)`` reference boxes centred on
every cell of a feature map.

Coordinates are pixels of the input image, ``xyxy`` with pixel edges (pixel ``i`` covers
``[i, i + 1)``), since anchors are defined by pixel sizes (128, 256, 512 in Faster R-CNN). A feature
map of stride :math:`s` has cell :math:`(i, j)` covering image pixels
:math:`[s j, s (j+1)) \times [s i, s (i+1))`. Labelling anchors for training is in
:mod:`cvkit.detection.rpn`. Notebook: ``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_float, check_size, describe, to_numpy

__all__ = ["anchors", "MAX_ANCHORS"]


#: most anchors :func:`anchors` builds (4 float32 each: 1 GiB)
MAX_ANCHORS = 2 ** 26


def _positive_values(values, name, what):
    v = as_array(values, name, ndim=(0, 1), kind="float", dtype=np.float64, finite=False,
                 hint=f"({what})").reshape(-1)
    if np.asarray(to_numpy(values)).dtype == bool:
        raise TypeError(f"`{name}` must be positive {what}; got {describe(values)}.")
    if v.size == 0 or np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"`{name}` must be positive {what}; got {values!r}.")
    return v


def anchors(feature_size, stride, scales=(128, 256, 512), ratios=(0.5, 1.0, 2.0)):
    r"""Anchors of the RPN: ``len(scales) * len(ratios)`` boxes centred on every feature-map cell.

    For scale :math:`s` and ratio :math:`r = h / w` the anchor has :math:`w = s / \sqrt r`,
    :math:`h = s \sqrt r` (area :math:`s^2`), centred on the cell centre
    :math:`((j + \tfrac12)\,\text{stride}, (i + \tfrac12)\,\text{stride})`. With the defaults,
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

    Examples
    --------
    >>> anchors((38, 50), 16).shape
    (17100, 4)
    >>> anchors(2, 8, scales=(8,), ratios=(1.0,))
    array([[ 0.,  0.,  8.,  8.],
           [ 8.,  0., 16.,  8.],
           [ 0.,  8.,  8., 16.],
           [ 8.,  8., 16., 16.]], dtype=float32)
    """
    hf, wf = check_size(feature_size, "feature_size")
    stride = check_float(stride, "stride", minimum=0.0, strict_min=True)
    sc = _positive_values(scales, "scales", "sizes in pixels")
    ra = _positive_values(ratios, "ratios", "height/width ratios")
    if hf * wf * sc.size * ra.size > MAX_ANCHORS:
        raise ValueError(f"`feature_size` {(hf, wf)} with {sc.size} scales and {ra.size} ratios "
                         f"gives {hf * wf * sc.size * ra.size} anchors, above MAX_ANCHORS = "
                         f"{MAX_ANCHORS}; feature maps are the image size divided by the stride.")
    w = (sc[:, None] / np.sqrt(ra)[None, :]).reshape(-1)  # (S*R,)
    h = (sc[:, None] * np.sqrt(ra)[None, :]).reshape(-1)
    cy, cx = np.meshgrid((np.arange(hf) + 0.5) * stride, (np.arange(wf) + 0.5) * stride,
                         indexing="ij")
    cx = cx.reshape(-1, 1)
    cy = cy.reshape(-1, 1)
    out = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return out.reshape(-1, 4).astype(np.float32)
