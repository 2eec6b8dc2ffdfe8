"""Shared input validation: every public function checks its arguments through these helpers so
that a wrong input gets the same kind of message everywhere: the argument's name, what was
expected, what came, and what to do.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_images",
    "restore_rank",
    "check_int",
    "check_float",
    "check_choice",
    "check_finite",
    "as_maps",
]


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"a {type(x).__name__} of shape {tuple(shape)}"
    return f"{type(x).__name__} {x!r}"[:200]


def as_images(images, name="images", channels=(1, 3), allow_single=True, check_nan=True):
    """Convert images to float32 NHWC in [0, 1].

    Accepts a batch ``(N, H, W, C)`` or, when ``allow_single``, a single image ``(H, W, C)``.
    ``uint8`` input is divided by 255; float input must already lie in [0, 1] (a small tolerance
    is allowed for rounding) and bool input maps to {0, 1}.

    Returns
    -------
    images : np.ndarray
        float32 array of shape (N, H, W, C).
    single : bool
        True when the caller gave one image; pass it to :func:`restore_rank`.
    """
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.numpy()
    try:
        arr = np.asarray(images)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"`{name}` must be an array-like of images; got {_describe(images)}") from exc
    if arr.dtype == object:
        raise TypeError(f"`{name}` must be a numeric array of images; got an object array "
                        "(images of different sizes?). Resize them to one size first.")
    single = False
    if arr.ndim == 3 and allow_single:
        arr = arr[None]
        single = True
    if arr.ndim != 4:
        want = "(N, H, W, C) or a single (H, W, C) image" if allow_single else "(N, H, W, C)"
        raise ValueError(f"`{name}` must have shape {want}; got {_describe(arr)}.")
    if channels is not None and arr.shape[-1] not in tuple(channels):
        raise ValueError(f"`{name}` must have {' or '.join(map(str, channels))} channels in the last "
                         f"axis (NHWC); got {arr.shape[-1]} channels in shape {arr.shape}. "
                         "Channels-first input must be transposed to channels-last.")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == bool:
        out = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        out = arr.astype(np.float32, copy=False)
        if check_nan and not np.all(np.isfinite(out)):
            raise ValueError(f"`{name}` contains NaN or infinite values; clean the input first.")
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ValueError(f"`{name}` must be float in [0, 1] or uint8 in [0, 255]; got values in "
                             f"[{lo:.4g}, {hi:.4g}] with dtype {arr.dtype}. Divide by 255 or use "
                             "uint8.")
        out = np.clip(out, 0.0, 1.0)
    else:
        raise TypeError(f"`{name}` must be uint8, bool or float; got dtype {arr.dtype}.")
    return out, single


def restore_rank(array, single):
    """Drop the batch axis again when the caller passed a single item."""
    return array[0] if single else array


def check_int(value, name, minimum=None, maximum=None):
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {_describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}; got {value}.")
    return value


def check_float(value, name, minimum=None, maximum=None, strict_min=False):
    """Return ``value`` as a finite float in the allowed range, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {_describe(value)}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite; got {value}.")
    if minimum is not None:
        if strict_min and value <= minimum:
            raise ValueError(f"`{name}` must be > {minimum}; got {value}.")
        if not strict_min and value < minimum:
            raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}; got {value}.")
    return value


def check_choice(value, name, choices):
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {sorted(map(str, choices))}; got {value!r}.")
    return value


def check_finite(array, name):
    """Raise if ``array`` holds NaN or inf."""
    arr = np.asarray(array)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def as_maps(maps, name="maps", allow_single=True):
    """Convert heat-maps to float32 (N, H, W); a single (H, W) map is accepted.

    Returns ``(maps, single)`` like :func:`as_images`.
    """
    if hasattr(maps, "numpy") and not isinstance(maps, np.ndarray):
        maps = maps.numpy()
    arr = np.asarray(maps)
    single = False
    if arr.ndim == 2 and allow_single:
        arr = arr[None]
        single = True
    if arr.ndim != 3:
        raise ValueError(f"`{name}` must have shape (N, H, W) or a single (H, W); got {_describe(arr)}.")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == bool):
        raise TypeError(f"`{name}` must be numeric; got dtype {arr.dtype}.")
    arr = arr.astype(np.float32, copy=False)
    check_finite(arr, name)
    return arr, single
