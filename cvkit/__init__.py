"""cvkit: a Keras 3 / TensorFlow toolkit for a computer-vision course.

Topics are subpackages, imported on first use so that ``import cvkit`` stays light:
``cvkit.datasets``, ``cvkit.preprocessing``, ``cvkit.boxes``, ``cvkit.models``, ``cvkit.explain``,
``cvkit.wsol``, ``cvkit.segmentation``, ``cvkit.visualize``, ``cvkit.exercises``, ``cvkit.tour``.
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "preprocessing", "boxes", "models", "explain", "wsol", "segmentation",
               "visualize", "exercises", "tour")

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"cvkit.{name}")
    raise AttributeError(f"module 'cvkit' has no attribute {name!r}")
