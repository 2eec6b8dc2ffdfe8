"""cvkit: a Keras 3 / TensorFlow toolkit for a computer-vision course.

Topics are subpackages, imported on first use so that ``import cvkit`` stays light:
``cvkit.datasets``, ``cvkit.preprocessing``, ``cvkit.boxes``, ``cvkit.models``, ``cvkit.explain``,
``cvkit.wsol``, ``cvkit.segmentation``, ``cvkit.detection``, ``cvkit.inside``, ``cvkit.visualize``,
``cvkit.exercises``, ``cvkit.tour`` (one scheme for all: :mod:`cvkit._lazy`).
"""
from ._lazy import attach

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "preprocessing", "boxes", "models", "explain", "wsol", "segmentation",
               "detection", "inside", "visualize", "exercises", "tour")

__getattr__, __dir__, __all__ = attach(__name__, submodules=_SUBMODULES)
__all__ = __all__ + ["__version__"]
