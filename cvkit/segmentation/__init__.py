"""Classic segmentation: thresholds, edges, clustering and regions.

* ``threshold``: global (fixed, mean), Otsu, multi-level Otsu and local thresholds.
* ``edges``: convolution and correlation by hand, Sobel, the Laplacian kernels, LoG, zero-crossings.
* ``clustering``: k-means colour segmentation with k-means++, SLIC superpixels.
* ``regions``: connected components, region growing, region areas and boxes.

The Mask R-CNN building blocks (anchors, RPN targets, ROI pooling and ROI Align, mask targets) are
in :mod:`cvkit.detection`, the FCN builders in :mod:`cvkit.models.fcn`. Notebook:
``06_classic_segmentation.ipynb``. Everything here is NumPy / SciPy.
"""
from .clustering import (MAX_N_INIT, KMeansSegmentation, kmeans, kmeans_plus_plus, kmeans_segment,
                         pixel_features, slic_superpixels)
from .edges import (LAPLACIAN_4, LAPLACIAN_8, MAX_KERNEL_RADIUS, SOBEL_X, SOBEL_Y, box_blur,
                    convolve, correlate, gaussian_blur, gaussian_kernel, laplacian,
                    laplacian_of_gaussian, sobel, sobel_x, sobel_y, zero_crossings)
from .regions import (MAX_LABEL, connected_components, region_boxes, region_grow,
                      region_properties)
from .threshold import (MAX_BINS, MAX_MULTI_OTSU_BINS, apply_thresholds, between_class_variance,
                        global_threshold, histogram, local_threshold, multi_otsu_thresholds,
                        otsu_threshold, to_gray)

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
    # the stated maxima of the tables sized by an argument or by the data
    "MAX_BINS", "MAX_MULTI_OTSU_BINS", "MAX_KERNEL_RADIUS", "MAX_N_INIT", "MAX_LABEL",
]
