"""Greedy non-maximum suppression."""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from .formats import as_boxes

__all__ = ["nms"]


def nms(boxes, scores, max_output_size=100, iou_threshold=0.5, score_threshold=None):
    """Greedy non-maximum suppression (a wrapper over ``tf.image.non_max_suppression``).

    Repeatedly keeps the highest-scoring remaining box and drops every box whose IoU with it is
    above ``iou_threshold``.

    Parameters
    ----------
    boxes : array-like (N, 4)
        ``xyxy`` boxes (normalised or pixels).
    scores : array-like (N,)
    max_output_size : int
        At most this many boxes are kept.
    iou_threshold : float in [0, 1]
    score_threshold : float, optional
        Boxes scoring below it are dropped first.

    Returns
    -------
    np.ndarray (K,) int64
        Indices of the kept boxes, by decreasing score.

    Examples
    --------
    Box 1 overlaps box 0 with IoU 0.95 / 1.05 = 0.905 and scores lower, so it is dropped; box 2
    overlaps nothing:

    >>> boxes = [[0, 0, 1, 1], [0.05, 0, 1.05, 1], [2, 2, 3, 3]]
    >>> nms(boxes, [0.9, 0.8, 0.7])
    array([0, 2])
    >>> nms(boxes, [0.9, 0.8, 0.7], iou_threshold=0.95)
    array([0, 1, 2])
    >>> nms(boxes, [0.9, 0.8, 0.7], score_threshold=0.75)
    array([0])
    """
    import tensorflow as tf

    from .._validate import as_array, check_float, check_int

    b = as_boxes(boxes, "boxes")
    if b.ndim != 2:
        raise ValueError(f"`boxes` must have shape (N, 4); got {b.shape}.")
    s = as_array(scores, "scores", kind="float")
    if s.shape != (b.shape[0],):
        raise ValueError(f"`scores` must have shape ({b.shape[0]},), one score per box; got "
                         f"{s.shape}.")
    if np.asarray(to_numpy(scores)).dtype == bool:
        raise TypeError("`scores` must be numbers (one confidence per box); got a bool array.")
    max_output_size = check_int(max_output_size, "max_output_size", minimum=0)
    iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
    kw = {}
    if score_threshold is not None:
        kw["score_threshold"] = check_float(score_threshold, "score_threshold")
    if b.shape[0] == 0:
        return np.zeros((0,), np.int64)
    # tf.image.non_max_suppression takes any diagonal pair of corners (so xyxy works unchanged, as
    # IoU is symmetric in x and y); note that it reads an inverted box as the box between its corners.
    # never more than the boxes given (TensorFlow takes an int32 and refuses larger counts)
    idx = tf.image.non_max_suppression(tf.constant(b, tf.float32), tf.constant(s, tf.float32),
                                       min(max_output_size, b.shape[0]),
                                       iou_threshold=iou_threshold, **kw)
    return idx.numpy().astype(np.int64)


