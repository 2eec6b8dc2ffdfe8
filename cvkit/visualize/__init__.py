"""Drawing helpers: overlays, boxes, grids, plots and the feature visualisations.

Every function reads arrays and returns matplotlib figures or arrays; nothing here trains.
matplotlib is imported only when a drawing function is first used. Each name is looked up in the
submodule named below on first access (:mod:`cvkit._lazy`), so ``cvkit.visualize.draw_boxes`` and
``cvkit.visualize.boxes.draw_boxes`` are the same function.
"""
from .._lazy import attach

# public name -> the submodule that draws it
_EXPORTS = {
    # boxes.py
    "draw_boxes": "boxes",
    "image_grid": "boxes",
    "plot_localization": "boxes",
    "plot_iou_histogram": "boxes",
    # inside.py
    "plot_filters": "inside",
    "plot_feature_maps": "inside",
    "plot_patches": "inside",
    "plot_ascent": "inside",
    # overlays.py
    "overlay_heatmap": "overlays",
    "largest_component_box": "overlays",
    "plot_cam_box": "overlays",
    "compare_methods": "overlays",
    # perception.py
    "plot_perception": "perception",
    # segmentation.py
    "overlay_labels": "segmentation",
    "plot_threshold_histogram": "segmentation",
    "draw_anchors": "segmentation",
    "plot_roi_grid": "segmentation",
    # wsol.py
    "plot_boxacc_curves": "wsol",
    "plot_precision_recall": "wsol",
    "plot_activation_histogram": "wsol",
    "draw_wsol_boxes": "wsol",
    "plot_wsol_report": "wsol",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS, ('boxes', 'inside', 'overlays', 'perception', 'segmentation', 'wsol'))
