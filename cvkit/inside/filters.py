"""What a CNN's layers hold and compute: the filters of a convolution as image tiles, and the
feature maps of any layers for a batch of images (layers inside nested models included).

Draw them with :func:`cvkit.visualize.plot_filters` and :func:`cvkit.visualize.plot_feature_maps`.
Notebook: ``notebooks/08_inside_cnns.ipynb`` (filters, feature maps by depth).
"""
from __future__ import annotations

import numpy as np

from .. import _graph
from .._validate import as_images, check_int
from ._common import CONV_TYPES, batches, minmax

__all__ = ["conv_filters", "feature_maps"]


def _conv_layer(model, layer):
    """The convolution layer asked for, or the model's first one when ``layer`` is None."""
    if layer is None:
        convs = [r.layer for r in _graph.walk_layers(model) if type(r.layer).__name__ in CONV_TYPES]
        if not convs:
            raise ValueError("`model` has no convolution layer (Conv2D, DepthwiseConv2D or "
                             "SeparableConv2D); there are no filters to show.")
        return convs[0]
    lay = _graph.find_layer(model, layer).layer
    if type(lay).__name__ not in CONV_TYPES:
        raise ValueError(f"`layer` must be a convolution layer; {lay.name!r} is a "
                         f"{type(lay).__name__}.")
    return lay


def conv_filters(model, layer=None, rgb=None):
    r"""The kernels of a convolution layer as image tiles, min-max normalised per filter.

    For the first convolution (3 input channels) each filter is one RGB tile; for deeper layers
    every (filter, input channel) slice is a grey tile. Each filter ``f`` is rescaled on its own:
    :math:`\tilde w = (w - \min w_f) / (\max w_f - \min w_f)` (a constant filter gives zeros).

    Parameters
    ----------
    model : keras.Model
    layer : str, layer or None
        A ``Conv2D``, ``DepthwiseConv2D`` or ``SeparableConv2D`` (its depthwise kernel); ``None``
        takes the first convolution of the model (nested models included).
    rgb : bool or None
        ``True`` returns RGB tiles (needs 3 input channels); ``None`` decides from the kernel.

    Returns
    -------
    np.ndarray
        float32 in [0, 1]: ``(F, kh, kw, 3)`` for RGB tiles, else ``(F, C_in, kh, kw)``.
        A depthwise kernel gives ``(C * multiplier, 1, kh, kw)``.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((8, 8, 3))
    >>> h = keras.layers.Conv2D(4, 3, name="c1")(inp)
    >>> model = keras.Model(inp, keras.layers.Conv2D(2, 5, name="c2")(h))
    >>> conv_filters(model).shape, conv_filters(model, "c2").shape
    ((4, 3, 3, 3), (2, 4, 5, 5))

    Notebook: ``08_inside_cnns.ipynb`` (filters).
    """
    lay = _conv_layer(model, layer)
    kind = type(lay).__name__
    if kind == "Conv2D":
        k = np.transpose(np.asarray(lay.kernel), (3, 0, 1, 2))  # (kh, kw, cin, F) -> F, kh, kw, cin
    else:
        dk = np.asarray(lay.depthwise_kernel if kind == "SeparableConv2D" else lay.kernel)
        kh, kw, c, m = dk.shape
        k = dk.reshape(kh, kw, c * m, 1).transpose(2, 0, 1, 3)  # (C*m, kh, kw, 1)
    if rgb is None:
        rgb = k.shape[-1] == 3
    if rgb:
        if k.shape[-1] != 3:
            raise ValueError(f"`rgb`=True needs a kernel with 3 input channels; layer "
                             f"{lay.name!r} has {k.shape[-1]}.")
        return minmax(k, (1, 2, 3))
    return minmax(np.transpose(k, (0, 3, 1, 2)), (1, 2, 3))


def feature_maps(model, images, layers, batch_size=32):
    """Activations of one or several layers for a batch of images (nested models included).

    Parameters
    ----------
    model : keras.Model
    images : array
        float32 (N, H, W, 3) in [0, 1] or uint8, or one image (H, W, 3).
    layers : str, layer, or a list of them
        Names (or ``"outer/inner"`` paths, or layer objects) of the layers to read.
    batch_size : int
        Images per model call.

    Returns
    -------
    dict
        ``{layer path: np.ndarray}``, each of shape (N, ...) (the batch axis dropped for a single
        image), in the order asked.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inp = keras.Input((8, 8, 3))
    >>> h = keras.layers.Conv2D(4, 3, name="c1")(inp)
    >>> model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(h))
    >>> maps = feature_maps(model, np.zeros((2, 8, 8, 3), np.float32), ["c1", "gap"])
    >>> {name: m.shape for name, m in maps.items()}
    {'c1': (2, 6, 6, 4), 'gap': (2, 4)}

    Notebook: ``08_inside_cnns.ipynb`` (feature maps by depth).
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if isinstance(layers, str) or hasattr(layers, "weights"):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("`layers` must name at least one layer.")
    refs = [_graph.find_layer(model, lay, "layers") for lay in layers]
    tap = _graph.tap_model(model, refs)
    fn = lambda x: tap(x, training=False)  # noqa: E731
    if len(imgs) > 2 * batch_size:  # tracing pays off only over several batches
        fn = tf.function(fn, reduce_retracing=True)
    chunks = [[] for _ in refs]
    for sl in batches(len(imgs), batch_size):
        outs = fn(tf.constant(imgs[sl]))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for c, o in zip(chunks, outs):
            c.append(np.asarray(o))
    result = {}
    for ref, c in zip(refs, chunks):
        arr = np.concatenate(c, axis=0)
        result[ref.name] = arr[0] if single else arr
    return result
