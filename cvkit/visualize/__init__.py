"""Drawing helpers: overlays, boxes, grids, plots and the feature visualisations.

Every function reads arrays and returns matplotlib figures or arrays; nothing here trains.
matplotlib is imported only when a drawing function is first used. Each name is looked up in the
submodules on first access, so ``cvkit.visualize.draw_boxes`` and
``cvkit.visualize.boxes.draw_boxes`` are the same function.
"""
import importlib
import pkgutil

_cache = {}


def _submodules():
    return [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _submodules():
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _cache:
        for sub in _submodules():
            mod = importlib.import_module(f"{__name__}.{sub}")
            if name in getattr(mod, "__all__", ()):
                _cache[name] = getattr(mod, name)
                break
        else:
            raise AttributeError(f"module 'cvkit.visualize' has no attribute {name!r}")
    return _cache[name]


def __dir__():
    names = set(_submodules())
    for sub in _submodules():
        names.update(getattr(importlib.import_module(f"{__name__}.{sub}"), "__all__", ()))
    return sorted(names)
