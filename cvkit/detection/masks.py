"""Mask R-CNN mask targets: each object's mask cut to its box by ROI Align and resized to a small
fixed grid. Notebook: ``notebooks/07_mask_rcnn_building_blocks.ipynb``."""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_float, check_int
from ._common import as_box_array
from .roi import roi_align

__all__ = ["mask_targets", "MAX_MASK_SIZE"]

#: largest ``size`` of :func:`mask_targets` (Mask R-CNN uses 28); an (N, size, size) grid is built
MAX_MASK_SIZE = 1024


def mask_targets(masks, boxes, size=28, threshold=0.5):
    """Mask R-CNN mask targets: each object's mask cut to its box and resized to ``size x size``.

    The ground-truth mask is ROI-Aligned (:func:`cvkit.detection.roi_align`, one sample per bin)
    on the box and binarised at ``threshold``, so target pixel :math:`(i, j)` is the mask at the
    centre of cell :math:`(i, j)` of the box's ``size x size`` grid.

    Parameters
    ----------
    masks : bool (N, H, W)
    boxes : (N, 4) pixel xyxy, one per mask
    size : int, 1 <= size <= MAX_MASK_SIZE
    threshold : float in (0, 1)

    Returns
    -------
    float32 (N, size, size) in {0, 1}

    Examples
    --------
    >>> m = np.zeros((1, 32, 32), bool); m[0, 8:24, 8:16] = True    # the left half of the box
    >>> mask_targets(m, [[8, 8, 24, 24]], size=4)[0]
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [1., 1., 0., 0.]], dtype=float32)
    """
    m = as_array(masks, "masks", ndim=3, kind="float", dtype=np.float32, hint="(N, H, W)")
    b = as_box_array(boxes, "boxes")
    if b.shape[0] != m.shape[0]:
        raise ValueError(f"`boxes` must hold one box per mask ({m.shape[0]}); got {b.shape[0]}.")
    size = check_int(size, "size", minimum=1, maximum=MAX_MASK_SIZE)
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    crops = roi_align(m.astype(np.float32)[..., None], b, (size, size), 1.0, 1,
                      batch_indices=np.arange(m.shape[0]))
    return (crops[..., 0] >= threshold).astype(np.float32)
