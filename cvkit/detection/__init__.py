"""The Mask R-CNN building blocks: anchors, RPN targets and loss, ROI pooling and ROI Align, mask
targets.

* ``anchors``: :func:`anchors`, the reference boxes of a region proposal network.
* ``rpn``: :func:`label_anchors` (positive / negative / ignored and the regression targets),
  :func:`sample_anchors`, :func:`rpn_loss` and its :func:`smooth_l1`.
* ``roi``: :func:`quantize_roi`, :func:`roi_pool`, :func:`roi_align` (NumPy, the teaching version)
  and :func:`roi_align_tf` (the fast path).
* ``masks``: :func:`mask_targets`.
* ``coco_eval``: :func:`coco_evaluate` (COCO AP@[.5:.95], AP50, AP75 for boxes and masks, NumPy),
  :func:`average_precision`, :func:`match_detections` and :func:`pycocotools_evaluate` (the
  reference).
* ``maskrcnn/`` (import ``cvkit.detection.maskrcnn``; it loads Keras): the whole model,
  :class:`~cvkit.detection.maskrcnn.MaskRCNN`, with its proposal layer, ROI sampler, losses and
  inference. Notebook: ``notebooks/10_mask_rcnn.ipynb``.

Coordinates are pixel ``xyxy`` boxes with pixel edges. Everything is NumPy except the RPN loss and
the fast ROI Align (TensorFlow, imported on first use). The FCN builders live in
:mod:`cvkit.models.fcn`. Notebook: ``notebooks/07_mask_rcnn_building_blocks.ipynb``.
"""
from .anchors import anchors
from .coco_eval import (average_precision, coco_evaluate, match_detections,
                        pycocotools_evaluate)
from .masks import mask_targets
from .roi import quantize_roi, roi_align, roi_align_tf, roi_pool
from .rpn import label_anchors, rpn_loss, sample_anchors, smooth_l1

__all__ = [
    "anchors", "label_anchors", "sample_anchors", "rpn_loss", "smooth_l1", "quantize_roi",
    "roi_pool", "roi_align", "roi_align_tf", "mask_targets", "coco_evaluate",
    "average_precision", "match_detections", "pycocotools_evaluate",
]
