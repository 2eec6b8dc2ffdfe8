r"""Perception Visualization (PV; Giulivi, Carman and Boracchi, BMVC 2021, arXiv:2204.09920).

A saliency map says *where* a classifier looked; PV also shows *what it perceived* there. A decoder
is trained to invert the frozen classifier's latent representation :math:`A = \phi(x)` (a
convolutional map) back into an input-like image :math:`\hat x = D(\phi(x))`; the explanation shows
that reconstruction through the saliency map of the explained class. The classifier's parameters
and predictions are never changed. In the paper's user study (about 100 people) PV helped people
understand and predict the model's decisions, its errors in particular. Notebook:
``11_perception_visualization.ipynb``.

No public code of PV exists; this package follows the paper's description, and the following
choices are cvkit's own:

- **decoder** (:func:`perception_decoder`): a 1 x 1 convolution, then per x2 step bilinear
  up-sampling + 3 x 3 convolution + batch norm + ReLU (widths 128, 64, 32, 16, 16 from stride 32),
  a 3 x 3 convolution to RGB and a sigmoid. No skip connection from the encoder: everything the
  reconstruction shows went through :math:`A`.
- **training**: Adam with a cosine decay, then the decoder's batch-norm statistics re-estimated on
  training images (:func:`recalibrate_batchnorm`), since a short run leaves stale moving averages.
- **layer**: the last convolutional map by default (the one Grad-CAM reads), any shallower 4-D
  layer as an option.
- **loss** (:class:`PerceptionModel`): :math:`w_{pix}\,\ell_1(\hat x, x) + w_{feat}\,
  \lVert\phi(\hat x)-\phi(x)\rVert^2 / \lVert\phi(x)\rVert^2` with
  :math:`w_{pix} = w_{feat} = 1`
  by default: the pixel term anchors colours and positions, the feature term (normalised by the
  energy of the features, so its weight does not depend on the layer's scale) makes the classifier
  perceive the reconstruction like the original; plus an optional class term
  :math:`w_{cls}\,(-\sum_c p_c(x) \log p_c(\hat x))`, the cross-entropy of the frozen
  classifier's probabilities on the reconstruction against those on the original (0 by default;
  1 for the zoo's stride-32 decoder, whose class consistency it raised from 0.72 to 0.92 on the
  card's 500 images, for 1.4 dB less PSNR).
- **PV image** (:func:`pv_blend`): :math:`M^c \odot \hat x + (1 - M^c) \odot 0.3\,x`, the
  reconstruction where the map of the explained class is high and the original dimmed elsewhere;
  the map is Grad-CAM at the decoder's layer by default, any method of :mod:`cvkit.explain` by
  name as an option (:data:`PV_METHODS`).
- **measures** (:mod:`.measures`): PSNR and SSIM of the reconstructions (scikit-image) and class
  consistency, the fraction of images whose reconstruction keeps the original's class.
"""
from .measures import class_consistency, psnr, reconstruction_scores, ssim
from .model import (PIXEL_LOSSES, FrozenEncoder, PerceptionModel, build_perception,
                    perception_decoder, recalibrate_batchnorm, reconstruct)
from .visualization import PV_METHODS, PerceptionResult, perception_visualization, pv_blend

__all__ = ["PIXEL_LOSSES", "PV_METHODS", "FrozenEncoder", "PerceptionModel", "PerceptionResult",
           "build_perception", "class_consistency", "perception_decoder",
           "perception_visualization", "psnr", "pv_blend", "recalibrate_batchnorm", "reconstruct",
           "reconstruction_scores", "ssim"]
