"""Small helpers shared by the modules of :mod:`cvkit.inside`."""
from __future__ import annotations

import numpy as np

from .. import _graph
from .._validate import check_size

#: layer types whose kernels are filters (and whose windows grow the receptive field)
CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
#: pooling layer types (windows without weights)
POOL_TYPES = ("MaxPooling2D", "AveragePooling2D")


def spatial_input_size(model, input_size, name="input_size"):
    """``input_size`` as (H, W), or the model's own fixed input size when it is None.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((32, 24, 3)), keras.layers.Conv2D(2, 3)])
    >>> spatial_input_size(model, None), spatial_input_size(model, 16)
    ((32, 24), (16, 16))
    """
    if input_size is not None:
        return check_size(input_size, name)
    shape = tuple(_graph.graph_of(model).inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(f"`model` must take images (N, H, W, C); its input has shape {shape}.")
    if shape[1] is None or shape[2] is None:
        raise ValueError(f"`model` has an input of unknown spatial size; pass "
                         f"`{name}=(height, width)`.")
    return int(shape[1]), int(shape[2])


def input_channels(model):
    """The number of channels of the model's image input (3 when it is not fixed).

    Examples
    --------
    >>> import keras
    >>> input_channels(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)]))
    1
    """
    return int(_graph.graph_of(model).inputs[0].shape[-1] or 3)


def minmax(x, axes):
    """``x`` min-max scaled to [0, 1] over ``axes`` (a constant slice gives zeros), float32.

    Examples
    --------
    >>> minmax(np.array([[1.0, 3.0], [2.0, 2.0]]), (1,))
    array([[0., 1.],
           [0., 0.]], dtype=float32)
    """
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


def batches(n, batch_size):
    """Slices ``[0, b), [b, 2b), ...`` covering ``n`` items.

    Examples
    --------
    >>> list(batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    for s in range(0, n, batch_size):
        yield slice(s, min(n, s + batch_size))
