"""The one lazy-loading scheme of the package: a package names its public objects and the submodule
that defines each; a submodule (and TensorFlow behind it) is imported on first access only, so that
``import cvkit`` stays well under a second.
"""
from __future__ import annotations

import importlib

__all__ = ["attach"]


def attach(package, exports=None, submodules=(), eager=()):
    """Make the module-level ``__getattr__``, ``__dir__`` and ``__all__`` of a lazy package.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict, optional
        Public name -> the submodule (relative to ``package``) that defines it.
    submodules : sequence of str
        Submodules reachable as attributes (``cvkit.explain``).
    eager : sequence of str
        Names the package imports at once; listed in ``__all__`` and ``dir()`` with the others.

    Returns
    -------
    (__getattr__, __dir__, __all__)

    Examples
    --------
    >>> getattr_, dir_, all_ = attach("cvkit", {"normalize_maps": "explain.upsample"}, ["boxes"])
    >>> all_
    ['boxes', 'normalize_maps']
    >>> getattr_("normalize_maps").__name__
    'normalize_maps'
    >>> getattr_("nothing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'cvkit' has no attribute 'nothing'
    """
    exports = dict(exports or {})
    submodules = tuple(submodules)
    names = sorted(set(exports) | set(submodules) | set(eager))

    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in exports:
            module = importlib.import_module(f"{package}.{exports[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return names

    return __getattr__, __dir__, list(names)
