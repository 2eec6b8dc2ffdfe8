"""Looking inside CNNs: what the layers hold, what they see and what excites them.

* ``filters``: :func:`conv_filters` (kernels as image tiles), :func:`feature_maps` (activations of
  any layers, nested models included).
* ``receptive_field``: :func:`receptive_field` (exact, from kernels, strides and paddings) and
  :func:`receptive_field_by_gradient` (measured from one unit's gradient).
* ``patches``: :func:`max_activating_patches`, the input patches that excite a channel most over a
  dataset, in one streamed pass.
* ``ascent``: :func:`gradient_ascent`, class-model and channel images; ``regularizers``: its
  octaves, total variation, blur, Fourier preconditioning and random transforms, each on its own.
* ``backprop``: the course's worked backpropagation example, vanishing and exploding gradients.
* ``batchnorm``: batch norm from scratch, and folding it into the convolution before it
  (:func:`fold_batchnorm`, :func:`fold_batchnorm_model`).

Layers are named by their name, an ``"outer/inner"`` path or the layer object
(:func:`cvkit._graph.find_layer`). The drawings are in :mod:`cvkit.visualize` (``plot_filters``,
``plot_feature_maps``, ``plot_patches``, ``plot_ascent``). TensorFlow is imported on first use,
so ``import cvkit.inside`` stays cheap. Notebook: ``notebooks/08_inside_cnns.ipynb``.
"""
from .ascent import AscentResult, gradient_ascent
from .backprop import (EXAMPLE_INPUTS, EXAMPLE_PARAMS, EXAMPLE_TARGETS, backprop_step, backward,
                       chain_rule_w1, deep_stack, exploding_gradients, forward, gradient_norms,
                       sgd_step, sigmoid, sigmoid_stack, tape_gradients, total_error,
                       vanishing_gradients)
from .batchnorm import (BatchNorm, batchnorm_forward, fold_batchnorm, fold_batchnorm_model,
                        folded_layer, small_batch_noise)
from .filters import conv_filters, feature_maps
from .patches import ActivatingPatches, max_activating_patches
from .receptive_field import (MeasuredField, ReceptiveField, receptive_field,
                              receptive_field_by_gradient)
from .regularizers import (gaussian_blur, octave_sizes, random_transform, spectral_precondition,
                           total_variation)

__all__ = [
    # filters
    "conv_filters", "feature_maps",
    # receptive_field
    "ReceptiveField", "receptive_field", "MeasuredField", "receptive_field_by_gradient",
    # patches
    "ActivatingPatches", "max_activating_patches",
    # ascent and regularizers
    "AscentResult", "gradient_ascent", "octave_sizes", "total_variation", "gaussian_blur",
    "spectral_precondition", "random_transform",
    # backprop
    "EXAMPLE_INPUTS", "EXAMPLE_TARGETS", "EXAMPLE_PARAMS", "sigmoid", "forward", "total_error",
    "backward", "tape_gradients", "sgd_step", "backprop_step", "chain_rule_w1", "deep_stack",
    "sigmoid_stack", "gradient_norms", "vanishing_gradients", "exploding_gradients",
    # batchnorm
    "batchnorm_forward", "BatchNorm", "fold_batchnorm", "folded_layer", "fold_batchnorm_model",
    "small_batch_noise",
]
