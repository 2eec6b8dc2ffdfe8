"""Classic segmentation and the Mask R-CNN building blocks.

* ``threshold``: global (fixed, mean), Otsu, multi-level Otsu and local thresholds.
* ``edges``: convolution and correlation by hand, Sobel, the Laplacian kernels, LoG, zero-crossings.
* ``clustering``: k-means colour segmentation with k-means++, SLIC superpixels.
* ``regions``: connected components, region growing, region areas and boxes.
* ``detection``: anchors, RPN anchor labelling and loss, ROI pooling and ROI Align, mask targets.

The FCN builders live in :mod:`cvkit.models.fcn`. Notebooks: ``06_classic_segmentation.ipynb`` and
``07_mask_rcnn_building_blocks.ipynb``. Everything here is NumPy / SciPy except the RPN loss and the
fast ROI Align (TensorFlow, imported on first use).
"""
from .clustering import (KMeansSegmentation, kmeans, kmeans_plus_plus, kmeans_segment,
                         pixel_features, slic_superpixels)
from .detection import (anchors, label_anchors, mask_targets, quantize_roi, roi_align,
                        roi_align_tf, roi_pool, rpn_loss, sample_anchors, smooth_l1)
from .edges import (LAPLACIAN_4, LAPLACIAN_8, SOBEL_X, SOBEL_Y, box_blur, convolve, correlate,
                    gaussian_blur, gaussian_kernel, laplacian, laplacian_of_gaussian, sobel,
                    sobel_x, sobel_y, zero_crossings)
from .regions import connected_components, region_boxes, region_grow, region_properties
from .threshold import (apply_thresholds, between_class_variance, global_threshold, histogram,
                        local_threshold, multi_otsu_thresholds, otsu_threshold, to_gray)

__all__ = [
    # threshold
    "to_gray", "global_threshold", "histogram", "between_class_variance", "otsu_threshold",
    "multi_otsu_thresholds", "apply_thresholds", "local_threshold",
    # edges
    "correlate", "convolve", "gaussian_kernel", "gaussian_blur", "box_blur", "SOBEL_X", "SOBEL_Y",
    "LAPLACIAN_4", "LAPLACIAN_8", "sobel_x", "sobel_y", "sobel", "laplacian",
    "laplacian_of_gaussian", "zero_crossings",
    # clustering
    "kmeans_plus_plus", "kmeans", "KMeansSegmentation", "kmeans_segment", "slic_superpixels",
    "pixel_features",
    # regions
    "connected_components", "region_grow", "region_properties", "region_boxes",
    # detection
    "anchors", "label_anchors", "sample_anchors", "rpn_loss", "smooth_l1", "quantize_roi",
    "roi_pool", "roi_align", "roi_align_tf", "mask_targets",
]
