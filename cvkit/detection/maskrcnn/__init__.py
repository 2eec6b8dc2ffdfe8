"""A small, trainable Mask R-CNN (He et al. 2017) in Keras 3, built from the blocks of
:mod:`cvkit.detection`.

* ``heads.py``: :func:`backbone_s8` (a ResNet of residual blocks, stride 8), :func:`rpn_head`,
  :func:`box_head`, :func:`roi_align_graph` (the mask head is :func:`cvkit.models.mask_head`);
* ``proposals.py``: :func:`propose` (decode, clip, top-k, NMS) and the delta encoding in the graph;
* ``targets.py``: :func:`rpn_targets` and :func:`roi_targets` (the ROI sampler with its class, box
  and 28 x 28 mask targets);
* ``losses.py``: :func:`maskrcnn_losses`, the five losses;
* ``inference.py``: :func:`detect` (per-class NMS, score threshold) and :func:`paste_masks`;
* ``model.py``: :class:`MaskRCNN` and :func:`mask_rcnn`;
* ``zoo.py``: the builder, recipe and evaluation of the zoo entry ``shapes_maskrcnn``.

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from .heads import backbone_s8, box_head, roi_align_graph, rpn_head
from .inference import detect, paste_masks
from .losses import LOSS_NAMES, maskrcnn_losses, per_image_mean, rpn_image_losses
from .model import STRIDE, MaskRCNN, mask_rcnn
from .proposals import BOX_STD, decode_graph, encode_graph, propose
from .targets import (image_seeds, match_anchors, mask_targets_graph, per_image_uniform,
                      roi_targets, rpn_targets, sample_labels)

__all__ = ["backbone_s8", "box_head", "roi_align_graph", "rpn_head", "detect", "paste_masks",
           "LOSS_NAMES", "maskrcnn_losses", "per_image_mean", "rpn_image_losses", "STRIDE",
           "MaskRCNN", "mask_rcnn", "BOX_STD", "decode_graph", "encode_graph", "propose",
           "image_seeds", "match_anchors", "mask_targets_graph", "per_image_uniform",
           "roi_targets", "rpn_targets", "sample_labels"]
