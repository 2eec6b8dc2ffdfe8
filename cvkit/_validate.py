"""Shared input validation: every public function checks its arguments through these helpers so
that a wrong input gets the same kind of message everywhere: the argument's name, what was
expected, what came, and what to do.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "describe",
    "to_numpy",
    "as_array",
    "check_size",
    "check_bool",
    "check_seed",
    "as_images",
    "restore_rank",
    "check_int",
    "check_float",
    "check_choice",
    "check_finite",
    "as_maps",
]


def describe(x):
    """Say what ``x`` is in a few words, for error messages.

    Examples
    --------
    >>> describe(np.zeros((2, 3), np.float32))
    'an array of shape (2, 3) and dtype float32'
    >>> describe("64")
    "str '64'"
    """
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"a {type(x).__name__} of shape {tuple(shape)}"
    return f"{type(x).__name__} {x!r}"[:200]


_describe = describe  # the old private spelling, kept for callers inside the package


def to_numpy(x):
    """Return ``x`` as a NumPy array; TensorFlow tensors and Keras variables are read with ``.numpy()``.

    Examples
    --------
    >>> import tensorflow as tf
    >>> to_numpy(tf.constant([1, 2]))
    array([1, 2], dtype=int32)
    """
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x)


def as_array(x, name, ndim=None, kind="numeric", finite=True, dtype=None, empty_ok=True, hint=""):
    """Convert ``x`` to an array and check its rank, its dtype kind and that it is finite.

    Parameters
    ----------
    x : array-like or tf.Tensor
    name : str
        The argument's name, used in the error message.
    ndim : int or tuple of int, optional
        Allowed ranks.
    kind : {'numeric', 'float', 'integer', 'bool', 'any'}
        ``'numeric'`` accepts bool, integer and float arrays; ``'integer'`` accepts integers and
        floats holding whole numbers.
    finite : bool
        Raise on NaN or infinity.
    dtype : numpy dtype, optional
        Cast the result to it.
    empty_ok : bool
        Whether an array with no element is accepted.
    hint : str
        Said after the expected rank in messages, e.g. ``"(H, W)"`` or a sentence on what to do.

    Examples
    --------
    >>> as_array([[1, 2]], "boxes", ndim=2, dtype=np.float32)
    array([[1., 2.]], dtype=float32)
    >>> as_array([1.5], "labels", kind="integer")
    Traceback (most recent call last):
    ...
    ValueError: `labels` must hold integers; got 1.5 at index 0.
    """
    try:
        arr = to_numpy(x)
    except Exception as exc:
        raise TypeError(f"`{name}` must be array-like; got {describe(x)}.") from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"`{name}` must have {want} dimensions {hint}; got {describe(arr)}."
                             .replace(" ;", ";"))
    is_num = arr.dtype == bool or np.issubdtype(arr.dtype, np.number)
    if kind != "any" and not is_num:
        raise TypeError(f"`{name}` must be numeric; got dtype {arr.dtype}"
                        f"{' (strings are not read as numbers)' if arr.dtype.kind in 'US' else ''}.")
    if kind != "any" and np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be real; got dtype {arr.dtype}.")
    if not empty_ok and arr.size == 0:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    if kind == "float" and not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if kind == "bool" and arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"`{name}` must be boolean (0 / 1); got values other than 0 and 1.")
        arr = arr.astype(bool)
    if finite and np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    if kind == "integer" and not (arr.dtype == bool or np.issubdtype(arr.dtype, np.integer)):
        bad = np.flatnonzero(arr.ravel() != np.round(arr.ravel()))
        if bad.size:
            raise ValueError(f"`{name}` must hold integers; got {arr.ravel()[bad[0]]:g} at index "
                             f"{bad[0]}.")
        big = np.flatnonzero(np.abs(arr.ravel()) >= 2.0 ** 63)
        if big.size:   # beyond int64: the cast would wrap around silently
            raise ValueError(f"`{name}` must hold integers within int64; got "
                             f"{arr.ravel()[big[0]]:g} at index {big[0]}.")
        arr = arr.astype(np.int64)
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def check_size(value, name, minimum=1, maximum=None, ndim=2):
    """Read a size given as one int or a sequence of ``ndim`` ints, e.g. ``image_size=64`` or (64, 48).

    Strings, floats and booleans are refused rather than guessed at (``'64'`` is not (6, 4)).

    Examples
    --------
    >>> check_size(64, "image_size")
    (64, 64)
    >>> check_size((32, 48), "image_size")
    (32, 48)
    >>> check_size("64", "image_size")
    Traceback (most recent call last):
    ...
    TypeError: `image_size` must be an int or a sequence of 2 ints; got str '64'.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]   # a 0-d array: its one element
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        values = (value,) * ndim
    elif isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
        if len(values) != ndim:
            raise ValueError(f"`{name}` must be an int or a sequence of {ndim} ints; got "
                             f"{len(values)} values {value!r}.")
    else:
        hint = (" (a float size is not truncated: pass an int)"
                if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
                else "")
        raise TypeError(f"`{name}` must be an int or a sequence of {ndim} ints; got "
                        f"{describe(value)}{hint}.")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            hint = (" (a float size is not truncated: pass an int)"
                    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) else "")
            raise TypeError(f"`{name}` must be an int or a sequence of {ndim} ints; got "
                            f"{describe(value)}, whose {describe(v)} is not an int{hint}.")
        v = int(v)
        if v < minimum or (maximum is not None and v > maximum):
            hi = f" and <= {maximum}" if maximum is not None else ""
            raise ValueError(f"`{name}` must be >= {minimum}{hi} in every dimension; got {value!r}.")
        out.append(v)
    return tuple(out)


def check_bool(value, name):
    """Return ``value`` if it is a bool (NumPy's included); a string such as ``'no'`` is refused.

    Examples
    --------
    >>> check_bool(np.bool_(True), "relu")
    True
    >>> check_bool("no", "relu")
    Traceback (most recent call last):
    ...
    TypeError: `relu` must be True or False; got str 'no'.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {describe(value)}.")
    return bool(value)


def check_seed(seed, name="seed", allow_none=True):
    """Return ``seed`` as a non-negative int (or None where ``allow_none``).

    Examples
    --------
    >>> check_seed(3)
    3
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: `seed` must be >= 0; got -1.
    """
    if seed is None and allow_none:
        return None
    return check_int(seed, name, minimum=0, maximum=2 ** 63 - 1)


def as_images(images, name="images", channels=(1, 3), allow_single=True, check_nan=True):
    """Convert images to float32 NHWC in [0, 1].

    Accepts a batch ``(N, H, W, C)`` or, when ``allow_single``, a single image ``(H, W, C)``.
    ``uint8`` input is divided by 255; float input must already lie in [0, 1] (a small tolerance
    is allowed for rounding) and bool input maps to {0, 1}.

    Parameters
    ----------
    images : array-like or tf.Tensor
        A batch ``(N, H, W, C)`` or one image ``(H, W, C)``.
    name : str
        The argument's name, used in the error message.
    channels : tuple of int or None
        Allowed sizes of the last axis (None: any).
    allow_single : bool
        Accept one image without a batch axis.
    check_nan : bool
        Raise on NaN or infinity.

    Returns
    -------
    images : np.ndarray
        float32 array of shape (N, H, W, C).
    single : bool
        True when the caller gave one image; pass it to :func:`restore_rank`.

    Examples
    --------
    >>> x, single = as_images(np.full((2, 2, 3), 255, np.uint8))   # one white uint8 image
    >>> x.shape, x.dtype, float(x.max()), single
    ((1, 2, 2, 3), dtype('float32'), 1.0, True)
    >>> as_images(np.full((1, 2, 2, 3), 2.0))
    Traceback (most recent call last):
    ...
    ValueError: `images` must be float in [0, 1] or uint8 in [0, 255]; got values in [2, 2] with dtype float64. Divide by 255 or use uint8.
    >>> as_images(np.zeros((1, 3, 2, 2)))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `images` must have 1 or 3 channels in the last axis (NHWC); got 2 channels ...
    """
    try:
        arr = to_numpy(images)
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
        lo, hi = float(out.min()), float(out.max())   # NaN and inf show in the extremes
        if check_nan and not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"`{name}` contains NaN or infinite values; clean the input first.")
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ValueError(f"`{name}` must be float in [0, 1] or uint8 in [0, 255]; got values in "
                             f"[{lo:.4g}, {hi:.4g}] with dtype {arr.dtype}. Divide by 255 or use "
                             "uint8.")
        if lo < 0.0 or hi > 1.0:
            out = np.clip(out, 0.0, 1.0)
    else:
        raise TypeError(f"`{name}` must be uint8, bool or float; got dtype {arr.dtype}.")
    return out, single


def restore_rank(array, single):
    """Drop the batch axis again when the caller passed a single item.

    Parameters
    ----------
    array : np.ndarray or tf.Tensor
        A result with a batch axis first.
    single : bool
        The flag returned by :func:`as_images` or :func:`as_maps`.

    Examples
    --------
    >>> x, single = as_images(np.zeros((4, 4, 3), np.uint8))
    >>> maps = x.mean(axis=-1)   # (1, 4, 4): one map per image
    >>> restore_rank(maps, single).shape, restore_rank(maps, False).shape
    ((4, 4), (1, 4, 4))
    """
    return array[0] if single else array


def check_int(value, name, minimum=None, maximum=None):
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range.

    Python and NumPy integers are accepted; booleans and floats (even ``2.0``) are refused.

    Parameters
    ----------
    value : int
    name : str
        The argument's name, used in the error message.
    minimum, maximum : int, optional
        Inclusive bounds.

    Examples
    --------
    >>> check_int(np.int64(3), "k", minimum=1)
    3
    >>> check_int(0, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: `k` must be >= 1; got 0.
    >>> check_int(2.0, "k")
    Traceback (most recent call last):
    ...
    TypeError: `k` must be an integer; got float 2.0.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {_describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}; got {value}.")
    return value


def check_float(value, name, minimum=None, maximum=None, strict_min=False):
    """Return ``value`` as a finite float in the allowed range, or raise naming ``name``.

    Parameters
    ----------
    value : float or int
        A real number; booleans are refused.
    name : str
        The argument's name, used in the error message.
    minimum, maximum : float, optional
        Bounds; ``maximum`` is inclusive.
    strict_min : bool
        Refuse ``value == minimum`` too (e.g. a standard deviation must be > 0).

    Examples
    --------
    >>> check_float(1, "alpha")
    1.0
    >>> check_float(0.0, "sigma", minimum=0, strict_min=True)
    Traceback (most recent call last):
    ...
    ValueError: `sigma` must be > 0; got 0.0.
    >>> check_float(float("nan"), "sigma")
    Traceback (most recent call last):
    ...
    ValueError: `sigma` must be finite; got nan.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
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
    """Return ``value`` if it is one of ``choices``; otherwise raise, listing them.

    Parameters
    ----------
    value : object
    name : str
        The argument's name, used in the error message.
    choices : collection
        The allowed values.

    Examples
    --------
    >>> check_choice("bilinear", "method", ("nearest", "bilinear"))
    'bilinear'
    >>> check_choice("cubic", "method", ("nearest", "bilinear"))
    Traceback (most recent call last):
    ...
    ValueError: `method` must be one of ['bilinear', 'nearest']; got 'cubic'.
    """
    listed = sorted(map(str, choices))
    if isinstance(value, (bool, np.bool_)) and not any(isinstance(c, (bool, np.bool_))
                                                       for c in choices):
        # True == 1: a bool would otherwise pass for the choice 1
        raise TypeError(f"`{name}` must be one of {listed}; got {describe(value)}.")
    try:   # an array is never a choice (its == is element-wise; a 1-element one would pass)
        ok = not isinstance(value, np.ndarray) and any(value is c or bool(value == c)
                                                       for c in choices)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        got = repr(value) if isinstance(value, (str, numbers.Number)) else describe(value)
        raise ValueError(f"`{name}` must be one of {listed}; got {got}.")
    return value


def check_finite(array, name):
    """Return ``array`` as a NumPy array; raise if it holds NaN or inf.

    Parameters
    ----------
    array : array-like
    name : str
        The argument's name, used in the error message.

    Examples
    --------
    >>> check_finite([1.0, 2.0], "maps")
    array([1., 2.])
    >>> check_finite([1.0, np.inf], "maps")
    Traceback (most recent call last):
    ...
    ValueError: `maps` contains NaN or infinite values.
    """
    arr = np.asarray(array)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def as_maps(maps, name="maps", allow_single=True):
    """Convert heat-maps to float32 (N, H, W); a single (H, W) map is accepted.

    Parameters
    ----------
    maps : array-like or tf.Tensor
        Numeric (bool, integer or float) and finite.
    name : str
        The argument's name, used in the error message.
    allow_single : bool
        Accept one (H, W) map without a batch axis.

    Returns
    -------
    maps : np.ndarray
        float32 array of shape (N, H, W).
    single : bool
        True when the caller gave one map; pass it to :func:`restore_rank`.

    Examples
    --------
    >>> m, single = as_maps(np.ones((3, 4), np.uint8))
    >>> m.shape, m.dtype, single
    ((1, 3, 4), dtype('float32'), True)
    >>> as_maps(np.zeros((1, 2, 3, 4)))
    Traceback (most recent call last):
    ...
    ValueError: `maps` must have shape (N, H, W) or a single (H, W); got an array of shape (1, 2, 3, 4) and dtype float64.
    """
    arr = to_numpy(maps)
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
