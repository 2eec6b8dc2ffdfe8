"""Weakly-supervised localization (WSOL) evaluation: boxes from maps, MaxBoxAcc, MaxBoxAccV2,
PxAP, top-k localization, and :func:`evaluate` that runs an explanation method over a dataset.

The protocol is the WSOL benchmark of Choe et al. (CVPR 2020) as followed by the F-CAM paper
(section 4.1); see :mod:`cvkit.wsol.metrics` for the conventions and for how all thresholds are
evaluated at once. Notebook: ``notebooks/05_wsol_evaluation.ipynb``.
"""
from .boxes import peak_in_box, recipe_boxes
from .evaluate import (METHODS, WSOLReport, boxes_mask, center_gaussian, evaluate, evaluate_maps,
                       report_table)
from .metrics import (DEFAULT_THRESHOLDS, EMPTY_BOX, BoxAccResult, PxAPResult, TopKResult, box_iou,
                      box_iou_curves, boxes_from_cam, max_box_acc, max_box_acc_v2, normalize_maps,
                      pixel_boxes, pxap, quantize_maps, top_k_localization)

__all__ = [
    "peak_in_box",
    "recipe_boxes",
    "METHODS",
    "WSOLReport",
    "boxes_mask",
    "center_gaussian",
    "evaluate",
    "evaluate_maps",
    "report_table",
    "DEFAULT_THRESHOLDS",
    "EMPTY_BOX",
    "BoxAccResult",
    "PxAPResult",
    "TopKResult",
    "box_iou",
    "box_iou_curves",
    "boxes_from_cam",
    "max_box_acc",
    "max_box_acc_v2",
    "normalize_maps",
    "pixel_boxes",
    "pxap",
    "quantize_maps",
    "top_k_localization",
]
