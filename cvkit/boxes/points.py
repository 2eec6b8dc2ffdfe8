"""Keypoints from masks: the extreme points of an object."""
from __future__ import annotations

import numpy as np

from .._validate import as_array

__all__ = ["extreme_points"]


def extreme_points(masks):
    """The leftmost, topmost, rightmost and bottommost points of each object mask.

    Four keypoints per object, useful as synthetic "joints" for the pose-estimation head. Each point
    is the centre of the extreme pixels, normalised: :math:`x = (j + 0.5) / W`, :math:`y = (i +
    0.5) / H`; where several pixels share the extreme column (row), their mean row (column) is
    used.

    Parameters
    ----------
    masks : array-like (N, H, W) bool, or a single (H, W)

    Returns
    -------
    np.ndarray (N, 4, 2) float32
        (x, y) of the left, top, right and bottom points (or (4, 2) for a single mask).

    Examples
    --------
    A plus sign centred on pixel (row 2, col 2) of a 5 x 5 mask: its left tip is pixel (2, 1),
    whose centre is at :math:`x = 1.5 / 5`, :math:`y = 2.5 / 5`:

    >>> m = np.zeros((5, 5), bool)
    >>> m[1:4, 2] = m[2, 1:4] = True
    >>> extreme_points(m)
    array([[0.3, 0.5],
           [0.5, 0.3],
           [0.7, 0.5],
           [0.5, 0.7]], dtype=float32)
    """
    # 0 / 1 only: a float map (0.3) or a string is not read as a mask by truthiness
    m = as_array(masks, "masks", ndim=(2, 3), kind="bool", hint="(N, H, W) or (H, W)")
    single = m.ndim == 2
    if single:
        m = m[None]
    if not np.all(m.any(axis=(1, 2))):
        raise ValueError("`masks` holds an empty mask: every mask needs at least one pixel.")
    n, h, w = m.shape
    cols, rows = m.any(axis=1), m.any(axis=2)          # (N, W), (N, H)
    left = cols.argmax(axis=1)
    right = w - 1 - cols[:, ::-1].argmax(axis=1)
    top = rows.argmax(axis=1)
    bottom = h - 1 - rows[:, ::-1].argmax(axis=1)
    ii, jj = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)

    def mean_row(col):  # mean row index of the mask pixels in column col[n]
        c = np.take_along_axis(m, col[:, None, None].repeat(h, axis=1), axis=2)[..., 0]
        return (c * ii).sum(axis=1) / c.sum(axis=1)

    def mean_col(row):
        r = np.take_along_axis(m, row[:, None, None].repeat(w, axis=2), axis=1)[:, 0]
        return (r * jj).sum(axis=1) / r.sum(axis=1)

    pts = np.stack([
        np.stack([left, mean_row(left)], axis=1),
        np.stack([mean_col(top), top], axis=1),
        np.stack([right, mean_row(right)], axis=1),
        np.stack([mean_col(bottom), bottom], axis=1),
    ], axis=1).astype(np.float64)
    pts = (pts + 0.5) / np.asarray([w, h], dtype=np.float64)
    pts = pts.astype(np.float32)
    return pts[0] if single else pts
