"""cvkit: a Keras 3 / TensorFlow toolkit for a computer-vision course.

Topics are subpackages, imported on first use so that ``import cvkit`` stays light:
``cvkit.datasets``, ``cvkit.preprocessing``, ``cvkit.boxes``, ``cvkit.models``, ``cvkit.explain``,
``cvkit.wsol``, ``cvkit.segmentation``, ``cvkit.detection``, ``cvkit.inside``, ``cvkit.visualize``,
``cvkit.exercises``, ``cvkit.tour`` (one scheme for all: :mod:`cvkit._lazy`).
"""
import os as _os
import sys as _sys

from ._lazy import attach

# TensorFlow's C++ INFO lines (the CPU-instructions banner, ...) off when cvkit is imported before
# TensorFlow; its warnings and errors stay on, and a value the user set wins (setdefault). The
# lines absl writes before its logging starts (oneDNN, CUDA stub, cuInit) ignore this variable: the
# command line and the tour filter them (cvkit.cli.console.quiet_tensorflow).
if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "preprocessing", "boxes", "models", "explain", "wsol", "segmentation",
               "detection", "inside", "visualize", "exercises", "tour")

__getattr__, __dir__, __all__ = attach(__name__, submodules=_SUBMODULES)
__all__ = __all__ + ["__version__"]
