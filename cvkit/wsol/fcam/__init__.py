r"""F-CAM: full-resolution class activation maps by a decoder trained from CAM seeds
(Belharbi et al., "F-CAM: Full Resolution Class Activation Maps via Guided Parametric Upscaling",
WACV 2022).

A CAM is as coarse as the layer it is read from (16 x 16 for a 128 px image at stride 8): up-sampled,
it is a blob. F-CAM keeps the classifier frozen and trains a U-Net decoder on its features
(:mod:`.decoder`) to output full-resolution foreground / background maps, from pseudo-labels drawn
from the CAM at every step (:mod:`.seeds`) and three loss terms (:mod:`.losses`): cross-entropy on
the seeds, a CRF loss that aligns the maps with colour edges, and a size constraint. :mod:`.model`
puts them in a Keras model with its own training step; :mod:`.zoo` holds the zoo's recipe and the
evaluation of CAM against CAM + F-CAM. Shown in ``notebooks/09_fcam.ipynb``.
"""
from .decoder import LITE_DECODER, SKIP_LAYERS, TwoClassSoftmax, find_skips, unet_decoder
from .losses import (CRF_REFERENCE, bilateral_kernel, crf_loss, crf_loss_dense, log_barrier,
                     partial_cross_entropy, size_loss)
from .model import (FCAM, SEED_METHODS, BarrierSchedule, CRFWarmup, build_fcam, fcam_maps,
                    seed_maps)
from .seeds import otsu_thresholds_tf, sample_seeds, seed_pools

__all__ = ["SKIP_LAYERS", "LITE_DECODER", "TwoClassSoftmax", "find_skips", "unet_decoder",
           "CRF_REFERENCE", "bilateral_kernel", "crf_loss", "crf_loss_dense", "log_barrier",
           "partial_cross_entropy", "size_loss", "FCAM", "SEED_METHODS", "BarrierSchedule",
           "CRFWarmup", "build_fcam", "fcam_maps", "seed_maps", "otsu_thresholds_tf",
           "sample_seeds", "seed_pools"]
