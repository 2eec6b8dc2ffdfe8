"""Input checks shared by the modules of :mod:`cvkit.detection`."""
from __future__ import annotations

import numpy as np

from .._validate import describe, to_numpy


def as_box_array(boxes, name, allow_empty=False):
    """``boxes`` as a float64 (N, 4) array of xyxy boxes (one box (4,) becomes (1, 4)), checked for
    dtype, shape, emptiness and NaN.

    Examples
    --------
    >>> as_box_array([0, 0, 4, 2], "roi")
    array([[0., 0., 4., 2.]])
    """
    b = to_numpy(boxes)
    if b.dtype == object or not np.issubdtype(b.dtype, np.number) \
            or np.issubdtype(b.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be a numeric (N, 4) array of xyxy boxes; got "
                        f"{describe(b)}.")
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape (N, 4) (x_min, y_min, x_max, y_max); got "
                         f"{describe(b)}.")
    if b.shape[0] == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty.")
    b = b.astype(np.float64)
    if not np.all(np.isfinite(b)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return b


def as_float_tensor(x, name):
    """``x`` as a float32 tensor (NumPy, lists and tensors, symbolic ones included); strings, bools
    and other non-numbers raise a ``TypeError`` naming ``name`` instead of TensorFlow's message.

    Examples
    --------
    >>> as_float_tensor([1, 2], "logits").dtype.name
    'float32'
    """
    import tensorflow as tf

    try:
        t = tf.convert_to_tensor(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a numeric array or tensor; got {describe(x)}.") from exc
    if not (t.dtype.is_floating or t.dtype.is_integer) or t.dtype.is_complex:
        raise TypeError(f"`{name}` must be a numeric array or tensor; got dtype {t.dtype.name}.")
    return tf.cast(t, tf.float32)
