"""Weakly-supervised localization (WSOL) evaluation: boxes from maps, MaxBoxAcc, MaxBoxAccV2,
PxAP, top-k localization, and :func:`evaluate` that runs an explanation method over a dataset.

The protocol is the WSOL benchmark of Choe et al. (CVPR 2020) as followed by the F-CAM paper
(section 4.1). The modules, one idea each:

* :mod:`cvkit.wsol.boxes`: maps -> boxes (the course's recipe, the benchmark's quantisation and
  box extraction, pixel-inclusive IoU);
* :mod:`cvkit.wsol.component_tree`: the IoU of the boxes at every threshold at once;
* :mod:`cvkit.wsol.metrics`: MaxBoxAcc, MaxBoxAccV2, PxAP, top-k localization and their results;
* :mod:`cvkit.wsol.evaluate`: every metric for a method over a dataset, as one report.

Maps are normalised by :func:`cvkit.explain.normalize_maps` (re-exported here as
:func:`normalize_maps`). Notebook: ``notebooks/05_wsol_evaluation.ipynb``.
"""
from ..explain import normalize_maps
from .boxes import (EMPTY_BOX, box_iou, boxes_from_cam, peak_in_box, pixel_boxes, quantize_maps,
                    recipe_boxes)
from .component_tree import box_iou_curves
from .evaluate import (METHODS, WSOLReport, boxes_mask, center_gaussian, evaluate, evaluate_maps,
                       report_table)
from .metrics import (DEFAULT_THRESHOLDS, BoxAccResult, PxAPResult, TopKResult, max_box_acc,
                      max_box_acc_v2, pxap, top_k_localization)

# last: it reads the names above from this package
from .localization_scores import RECIPE_THRESHOLDS, score_cam_localization  # noqa: E402

__all__ = [
    "score_cam_localization",
    "RECIPE_THRESHOLDS",
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
