"""Bounding boxes: formats, clipping, IoU / GIoU, delta encoding and non-maximum suppression.

One internal format is used everywhere in cvkit: normalised ``xyxy`` = ``(x_min, y_min, x_max,
y_max)`` with coordinates in [0, 1] of the image width and height. :func:`convert` moves between it
and

* ``'xywh'``: top-left corner and size ``(x_min, y_min, w, h)``, normalised;
* ``'cxcywh'``: centre and size ``(c_x, c_y, w, h)``, normalised (the course notes' (x, y, w, h));
* ``'pixels'``: ``xyxy`` in pixel units with the *pixel-edge* convention: a box that covers the pixel
  columns ``x0 .. x1`` (inclusive) has ``x_min = x0`` and ``x_max = x1 + 1``, so its width is the
  number of pixels it covers and ``pixels = xyxy * (W, H, W, H)``. This is the convention of
  :func:`cvkit.datasets.shapes`. (The WSOL metrics use the inclusive convention ``x_max = x1``
  instead; see :mod:`cvkit.wsol`.)

The IoU functions work for any ``xyxy`` coordinates, normalised or in pixels, and never return NaN:
a box of zero area, or an inverted one (``x_max < x_min``), has area 0 and IoU 0 with everything.

Shown in ``notebooks/01_localization.ipynb``.
"""
from .deltas import decode_deltas, encode_deltas
from .formats import FORMATS, area, as_boxes, clip, convert
from .iou import giou, giou_tf, iou, iou_tf, pairwise_giou, pairwise_iou, pairwise_iou_tf
from .nms import nms
from .points import extreme_points

__all__ = ["FORMATS", "as_boxes", "convert", "clip", "area", "iou", "pairwise_iou", "giou",
           "pairwise_giou", "iou_tf", "giou_tf", "pairwise_iou_tf", "encode_deltas",
           "decode_deltas", "nms", "extreme_points"]
