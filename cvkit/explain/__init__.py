"""Class activation maps and saliency: CAM, Grad-CAM and its family, Score-CAM, RISE.

Every method runs on one core (:mod:`cvkit.explain._core`): it finds the target layer (by name,
object, or automatically, also inside nested models), builds a compiled pass cached per model and
layer that returns the activations, the gradients of the pre-softmax class score and the logits, and
takes a batch, a single image or a ``tf.data`` dataset in chunks of ``batch_size``. Each method is
then a short function of those arrays. Notebooks: ``02_cam_gap_mobilenet.ipynb`` and
``03_gradcam_deep_dive.ipynb``.
"""
from .._lazy import attach
from ._core import PassResult, activations_and_gradients, clear_cache
from ._target import LayerRef, conv_layer_candidates, find_layer
from .cam import cam, find_cam_head
from .gradcam import (MAP_FUNCTIONS, grad_cam, grad_cam_plus_plus, grad_cam_plus_plus_weights, grad_cam_weights,
                      layer_cam, plus_plus_weights, smooth_grad_cam_plus_plus, xgrad_cam,
                      xgrad_cam_weights)
from .rise import rise, rise_masks, score_cam
from .upsample import UPSAMPLE_METHODS, bilinear_upsample, normalize_maps, upsample_maps

_AUGMENTED = ("random_augmentations", "augment", "warp_maps", "invert_augmentations",
              "downsampling_matrix", "AugmentationOperator", "total_variation", "tv_subgradient",
              "superresolution_objective", "superresolve", "SOLVERS", "augmented_grad_cam",
              "upsample_baseline", "warp_back_baseline", "synthetic_superresolution_problem")

_EAGER = [
    "cam",
    "grad_cam",
    "grad_cam_plus_plus",
    "smooth_grad_cam_plus_plus",
    "layer_cam",
    "xgrad_cam",
    "score_cam",
    "rise",
    "rise_masks",
    "bilinear_upsample",
    "upsample_maps",
    "normalize_maps",
    "UPSAMPLE_METHODS",
    "activations_and_gradients",
    "find_layer",
    "find_cam_head",
    "conv_layer_candidates",
    "grad_cam_weights",
    "grad_cam_plus_plus_weights",
    "xgrad_cam_weights",
    "plus_plus_weights",
    "MAP_FUNCTIONS",
    "LayerRef",
    "PassResult",
    "clear_cache",
]

# Perception Visualization (cvkit/explain/perception/) imports TensorFlow: loaded on first use
_PERCEPTION = ("build_perception", "perception_decoder", "PerceptionModel", "FrozenEncoder",
               "reconstruct", "perception_visualization", "pv_blend", "PerceptionResult",
               "PV_METHODS", "PIXEL_LOSSES", "psnr", "ssim", "class_consistency",
               "reconstruction_scores", "recalibrate_batchnorm")

# Augmented Grad-CAM (cvkit/explain/augmented/) imports TensorFlow: loaded on first use
__getattr__, __dir__, __all__ = attach(__name__, dict.fromkeys(_AUGMENTED, "augmented")
                                       | dict.fromkeys(_PERCEPTION, "perception"),
                                       ("augmented", "perception"), _EAGER)
