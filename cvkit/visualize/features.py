"""Looking inside a CNN: filters, feature maps, receptive fields, maximally activating patches and
class-model images by gradient ascent, with the regularisers of feature visualisation (octaves,
random shifts, zooms and rotations, blur, TV, a Fourier-preconditioned gradient).

Everything here works on Keras 3 functional or Sequential models, including layers that sit inside
a nested model (a MobileNetV2 used as a layer): a layer is named by its name, given as a layer
object, or as a path ``"backbone/block_3_expand"``. Images are fed to the model as given (float32
NHWC in [0, 1], uint8 accepted), so put the preprocessing inside the model (e.g. a ``Rescaling``
layer).

The notebook ``notebooks/08_inside_cnns.ipynb`` shows every function at work.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._validate import as_images, check_finite, check_float, check_int, restore_rank

__all__ = [
    "find_layer",
    "conv_filters",
    "plot_filters",
    "feature_maps",
    "plot_feature_maps",
    "ReceptiveField",
    "receptive_field",
    "receptive_field_by_gradient",
    "MeasuredField",
    "ActivatingPatches",
    "max_activating_patches",
    "plot_patches",
    "AscentResult",
    "octave_sizes",
    "total_variation",
    "gaussian_blur",
    "random_transform",
    "spectral_precondition",
    "gradient_ascent",
    "plot_ascent",
]

_CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
_POOL_TYPES = ("MaxPooling2D", "AveragePooling2D")
_UNSUPPORTED_RF = ("UpSampling2D", "Conv2DTranspose", "Resizing", "Conv1D", "Conv3D")


# --------------------------------------------------------------------------------------------
# graph helpers (layers inside nested models included)
# --------------------------------------------------------------------------------------------


def _one_or_list(inputs):
    """A single input tensor rather than a list of one (avoids Keras' structure warning)."""
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _model(graph, outputs):
    """keras.Model from ``graph``'s inputs to ``outputs`` (one tensor when there is one)."""
    outputs = list(outputs)
    return _keras().Model(_one_or_list(graph.inputs), outputs[0] if len(outputs) == 1 else outputs)

def _keras():
    import keras

    return keras


def _is_model(obj):
    keras = _keras()
    return isinstance(obj, keras.Model)


def _graph(model, name="model"):
    """The functional graph behind ``model`` (a Sequential keeps one in ``_functional``)."""
    keras = _keras()
    if isinstance(model, keras.Sequential):
        fn = getattr(model, "_functional", None)
        if fn is None:
            raise ValueError(f"`{name}` is a Sequential model that is not built; start it with "
                             "keras.Input(shape) or call it once on a batch.")
        return fn
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        return model
    raise TypeError(f"`{name}` must be a Keras functional or Sequential model (a subclassed model "
                    f"has no layer graph to walk); got {type(model).__name__}.")


def _nodes(graph):
    """Nodes of a functional graph in execution order (inputs first)."""
    out = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            out.append(node)
    return out


def _walk_layers(model):
    """Every layer of ``model`` with its nesting (``LayerRef``), nested models expanded in place:
    the walk of :mod:`cvkit.explain`, after checking that ``model`` has a graph to walk."""
    from ..explain._core import _walk

    _graph(model)
    return list(_walk(model))


def _layer_names(model, limit=12):
    names = [ref.name for ref in _walk_layers(model)]
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def find_layer(model, layer, name="layer"):
    """Locate a layer of ``model``, also inside nested models.

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model.
    layer : str or keras.layers.Layer
        A layer name (searched at every nesting depth, outer first), a path
        ``"outer/inner"``, or the layer object itself.

    Returns
    -------
    tuple of keras.layers.Layer
        The path from a top-level layer of ``model`` down to the layer.
    """
    from ..explain._core import resolve_layer

    ref = resolve_layer(model, layer, name, refs=_walk_layers(model),
                        candidates=lambda m: f"Its layers are: {_layer_names(m)}.")
    return ref.path + (ref.layer,)


def _tap_model(model, paths, with_outputs=False):
    """A keras.Model from ``model``'s inputs to the outputs of the layers at ``paths`` (followed by
    the model's own outputs when ``with_outputs``).

    Layers inside nested models are reached by re-running the outer graph with each nested model
    replaced by a copy that also returns the inner outputs (same layers, same weights).
    """
    keras = _keras()
    graph = _graph(model)
    captured = [None] * len(paths)
    direct, nested = {}, {}
    for i, p in enumerate(paths):
        if len(p) == 1:
            direct.setdefault(id(p[0]), []).append(i)
        else:
            nested.setdefault(id(p[0]), (p[0], []))[1].append((i, p[1:]))
    if not nested:
        first = {}
        for node in _nodes(graph):
            first.setdefault(id(node.operation), node.outputs)
        outs = []
        for p in paths:
            if id(p[0]) not in first:  # pragma: no cover - found layers are in the graph
                raise ValueError(f"layer {p[0].name!r} is not connected to the model's inputs.")
            node_out = first[id(p[0])]
            outs.append(node_out[0] if len(node_out) == 1 else node_out)
        return _model(graph, outs + (list(graph.outputs) if with_outputs else []))
    subs = {k: _tap_model(layer, [sp for _, sp in items], True)
            for k, (layer, items) in nested.items()}

    def operation_fn(op):
        key = id(op)
        if key in nested:
            sub, idxs = subs[key], [i for i, _ in nested[key][1]]

            def call(*args, **kwargs):
                outs = sub(*args, training=kwargs.get("training"))
                for i, t in zip(idxs, outs[:len(idxs)]):
                    if captured[i] is None:
                        captured[i] = t
                rest = outs[len(idxs):]
                return rest[0] if len(rest) == 1 else rest

            return call
        if key in direct:
            def call(*args, **kwargs):
                out = op(*args, **kwargs)
                for i in direct[key]:
                    if captured[i] is None:
                        captured[i] = out
                return out

            return call
        return op

    outputs = graph._run_through_graph(graph.inputs, operation_fn=operation_fn)
    if any(c is None for c in captured):  # pragma: no cover - unreachable for connected graphs
        raise ValueError("a requested layer is not connected to the model's inputs.")
    flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return _model(graph, captured + (flat if with_outputs else []))


def _path_name(path):
    return "/".join(l.name for l in path)


def _spatial_input_size(model, input_size, name="input_size"):
    shape = tuple(_graph(model).inputs[0].shape)
    if input_size is not None:
        if isinstance(input_size, (int, np.integer)):
            input_size = (int(input_size), int(input_size))
        if len(tuple(input_size)) != 2:
            raise ValueError(f"`{name}` must be an int or (height, width); got {input_size!r}.")
        return tuple(check_int(v, name, minimum=1) for v in input_size)
    if len(shape) != 4:
        raise ValueError(f"`model` must take images (N, H, W, C); its input has shape {shape}.")
    if shape[1] is None or shape[2] is None:
        raise ValueError("`model` has an input of unknown spatial size; pass "
                         "`input_size=(height, width)`.")
    return int(shape[1]), int(shape[2])


# --------------------------------------------------------------------------------------------
# filters and feature maps
# --------------------------------------------------------------------------------------------

def _minmax(x, axes):
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


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

    Notebook: ``08_inside_cnns.ipynb`` (filters).
    """
    if layer is None:
        convs = [r.layer for r in _walk_layers(model) if type(r.layer).__name__ in _CONV_TYPES]
        if not convs:
            raise ValueError("`model` has no convolution layer (Conv2D, DepthwiseConv2D or "
                             "SeparableConv2D); there are no filters to show.")
        lay = convs[0]
    else:
        lay = find_layer(model, layer)[-1]
        if type(lay).__name__ not in _CONV_TYPES:
            raise ValueError(f"`layer` must be a convolution layer; {lay.name!r} is a "
                             f"{type(lay).__name__}.")
    kind = type(lay).__name__
    if kind == "Conv2D":
        k = np.asarray(lay.kernel)  # (kh, kw, cin, F)
        k = np.transpose(k, (3, 0, 1, 2))  # F, kh, kw, cin
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
        return _minmax(k, (1, 2, 3))
    return _minmax(np.transpose(k, (0, 3, 1, 2)), (1, 2, 3))


def plot_filters(filters, max_filters=32, max_channels=8, title=None):
    """Draw the tiles from :func:`conv_filters` in a grid (RGB: one tile per filter; grey: one row
    per filter, one column per input channel). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    f = np.asarray(filters)
    if f.ndim != 4:
        raise ValueError(f"`filters` must be the 4-D output of conv_filters; got shape {f.shape}.")
    max_filters = check_int(max_filters, "max_filters", minimum=1)
    max_channels = check_int(max_channels, "max_channels", minimum=1)
    if f.shape[-1] == 3:
        f = f[:max_filters]
        cols = min(8, len(f))
        rows = math.ceil(len(f) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.0, rows * 1.0), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for i, tile in enumerate(f):
            axes.ravel()[i].imshow(tile, interpolation="nearest")
    else:
        f = f[:max_filters, :max_channels]
        rows, cols = f.shape[:2]
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8), squeeze=False)
        for i in range(rows):
            for j in range(cols):
                axes[i, j].imshow(f[i, j], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                axes[i, j].axis("off")
    if title:
        fig.suptitle(title)
    return fig


def _batches(n, batch_size):
    for s in range(0, n, batch_size):
        yield slice(s, min(n, s + batch_size))


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

    Notebook: ``08_inside_cnns.ipynb`` (feature maps by depth).
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if isinstance(layers, (str,)) or hasattr(layers, "weights"):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("`layers` must name at least one layer.")
    paths = [find_layer(model, l, "layers") for l in layers]
    tap = _tap_model(model, paths)
    fn = lambda x: tap(x, training=False)  # noqa: E731
    if len(imgs) > 2 * batch_size:  # tracing pays off only over several batches
        fn = tf.function(fn, reduce_retracing=True)
    chunks = [[] for _ in paths]
    for sl in _batches(len(imgs), batch_size):
        outs = fn(tf.constant(imgs[sl]))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for c, o in zip(chunks, outs):
            c.append(np.asarray(o))
    result = {}
    for p, c in zip(paths, chunks):
        arr = np.concatenate(c, axis=0)
        result[_path_name(p)] = arr[0] if single else arr
    return result


def plot_feature_maps(maps, max_channels=8, image=None):
    """Draw feature maps (the dict from :func:`feature_maps` for ONE image): one row per layer,
    the first ``max_channels`` channels, each map min-max scaled on its own. ``image`` adds the
    input on the left. Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(maps, dict) or not maps:
        raise TypeError("`maps` must be the non-empty dict returned by feature_maps for one image.")
    max_channels = check_int(max_channels, "max_channels", minimum=1)
    for k, v in maps.items():
        if np.asarray(v).ndim != 3:
            raise ValueError(f"`maps[{k!r}]` must be (h, w, C) for one image; got shape "
                             f"{np.asarray(v).shape}. Pass a single image to feature_maps.")
    extra = 1 if image is not None else 0
    rows, cols = len(maps), max_channels + extra
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, m) in enumerate(maps.items()):
        m = np.asarray(m)
        if image is not None:
            axes[r, 0].imshow(np.asarray(image))
        for c in range(min(max_channels, m.shape[-1])):
            axes[r, c + extra].imshow(_minmax(m[..., c], (0, 1)), cmap="viridis")
        axes[r, extra].set_title(f"{name.split('/')[-1]} {m.shape[0]}x{m.shape[1]}", fontsize=7,
                                 loc="left")
    return fig


# --------------------------------------------------------------------------------------------
# receptive fields
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceptiveField:
    r"""The receptive field of a layer's output units on the input image.

    Unit ``(r, c)`` of the layer sees the input pixels rows ``offset_y + r * stride_y`` to
    ``offset_y + r * stride_y + size_y - 1`` (inclusive), and the same for columns. ``offset`` is
    negative where padding makes the field reach outside the image.

    ``size``, ``stride`` and ``offset`` are ints when both axes agree, else ``(y, x)`` tuples;
    ``size_yx``, ``stride_yx``, ``offset_yx`` are always tuples. ``output_size`` is the layer's
    spatial size (h, w) for the given input size.

    ``extent_yx`` = ((y_first, y_last), (x_first, x_last)) is the range of input pixels that the
    layer's units can depend on at all: the image, further narrowed where a 'valid' layer drops
    border units. Zero padding inside the network feeds constants, not pixels, so the pixels a unit
    really depends on are its box cut to this extent: ``box(r, c, clip=True)``.
    """

    size_yx: tuple
    stride_yx: tuple
    offset_yx: tuple
    output_size: tuple
    input_size: tuple
    layer: str = ""
    extent_yx: tuple = None

    @staticmethod
    def _one(v):
        return v[0] if v[0] == v[1] else v

    @property
    def size(self):
        return self._one(self.size_yx)

    @property
    def stride(self):
        return self._one(self.stride_yx)

    @property
    def offset(self):
        return self._one(self.offset_yx)

    def box(self, row, col, clip=False):
        """Inclusive pixel box ``(y0, x0, y1, x1)`` of unit ``(row, col)``.

        ``clip=False``: the full field (may reach outside the image); ``clip=True``: the pixels
        the unit actually depends on (the box cut to ``extent_yx``)."""
        y0 = self.offset_yx[0] + row * self.stride_yx[0]
        x0 = self.offset_yx[1] + col * self.stride_yx[1]
        y1, x1 = y0 + self.size_yx[0] - 1, x0 + self.size_yx[1] - 1
        if clip:
            (ey0, ey1), (ex0, ex1) = self.extent_yx or ((0, self.input_size[0] - 1),
                                                        (0, self.input_size[1] - 1))
            y0, x0, y1, x1 = max(y0, ey0), max(x0, ex0), min(y1, ey1), min(x1, ex1)
        return int(y0), int(x0), int(y1), int(x1)

    def __repr__(self):
        return (f"ReceptiveField(layer={self.layer!r}, size={self.size}, stride={self.stride}, "
                f"offset={self.offset}, output_size={self.output_size})")


def _pair(v):
    if isinstance(v, (tuple, list)):
        return tuple(int(a) for a in v)
    return (int(v), int(v))


def _rf_window(state, k, s, d, padding, layer_name):
    """Receptive-field recursion through a window op (conv or pooling) along both axes.

    With :math:`k_e = d (k - 1) + 1`:
    :math:`r_{out} = r_{in} + (k_e - 1) j_{in}`, :math:`j_{out} = j_{in} s`,
    :math:`o_{out} = o_{in} - p_{left} j_{in}`.
    """
    n, size, stride, offset, ext = state
    new = [[], [], [], []]
    for ax in range(2):
        ke = d[ax] * (k[ax] - 1) + 1
        if padding == "valid":
            pl = 0
            no = (n[ax] - ke) // s[ax] + 1
        elif padding == "same":
            no = -(-n[ax] // s[ax])
            pl = max((no - 1) * s[ax] + ke - n[ax], 0) // 2
        else:
            raise ValueError(f"receptive_field: layer {layer_name!r} uses padding={padding!r}; "
                             "only 'same' and 'valid' are supported.")
        if no < 1:
            raise ValueError(f"receptive_field: layer {layer_name!r} gets an input of size {n} "
                             "that is smaller than its window; use a larger input_size.")
        new[0].append(no)
        new[1].append(size[ax] + (ke - 1) * stride[ax])
        new[2].append(stride[ax] * s[ax])
        new[3].append(offset[ax] - pl * stride[ax])
    return _narrow(tuple(tuple(v) for v in new) + (ext,))


def _narrow(state):
    """Cut the extent to the pixels the units of this tensor can reach:
    :math:`[\max(o, e_0),\ \min(o + (n - 1) j + r - 1, e_1)]`."""
    n, size, stride, offset, ext = state
    new = tuple((max(offset[a], ext[a][0]),
                 min(offset[a] + (n[a] - 1) * stride[a] + size[a] - 1, ext[a][1]))
                for a in range(2))
    return n, size, stride, offset, new


def _rf_op(op, in_states, out_tensors, record, prefix):
    """States of the outputs of ``op`` given the states of its spatial inputs."""
    kind = type(op).__name__
    out_ranks = [len(t.shape) for t in out_tensors]
    if _is_model(op):
        return _rf_graph(op, in_states, record, prefix + (op,))
    if any(s == "global" for s in in_states) and any(r == 4 for r in out_ranks):
        raise ValueError(f"receptive_field: layer {op.name!r} mixes a spatial input with a "
                         "global one (e.g. squeeze-and-excitation): every unit sees the whole "
                         "image.")
    spatial = [s for s in in_states if s not in (None, "global")]
    if not spatial or all(r != 4 for r in out_ranks):
        return ["global" if spatial or "global" in in_states else None] * len(out_tensors)
    if kind in _UNSUPPORTED_RF:
        raise ValueError(f"receptive_field: layer {op.name!r} ({kind}) is not supported; it is "
                         "defined for convolutions, pooling, padding and pointwise layers.")
    if kind in _CONV_TYPES or kind in _POOL_TYPES:
        st = spatial[0]
        if kind in _CONV_TYPES:
            k, s, d = _pair(op.kernel_size), _pair(op.strides), _pair(op.dilation_rate)
        else:
            k, s, d = _pair(op.pool_size), _pair(op.strides), (1, 1)
        return [_rf_window(st, k, s, d, op.padding, op.name)]
    if kind in ("ZeroPadding2D", "Cropping2D"):
        (t, b), (l, r) = op.padding if kind == "ZeroPadding2D" else op.cropping
        sign = 1 if kind == "ZeroPadding2D" else -1
        n, size, stride, offset, ext = spatial[0]
        return [_narrow(((n[0] + sign * (t + b), n[1] + sign * (l + r)), size, stride,
                         (offset[0] - sign * t * stride[0], offset[1] - sign * l * stride[1]),
                         ext))]
    # pointwise layers (activations, batch norm, add, concatenate, dropout, rescaling, ...)
    n0, j0 = spatial[0][0], spatial[0][2]
    for st in spatial[1:]:
        if st[0] != n0 or st[2] != j0:
            raise ValueError(f"receptive_field: the inputs of {op.name!r} have different sizes or "
                             "strides; cannot merge their receptive fields.")
    for t in out_tensors:
        if len(t.shape) == 4 and t.shape[1] is not None and tuple(t.shape[1:3]) != tuple(n0):
            raise ValueError(f"receptive_field: layer {op.name!r} ({kind}) changes the spatial "
                             f"size from {n0} to {tuple(t.shape[1:3])} and is not supported.")
    lo = [min(st[3][a] for st in spatial) for a in range(2)]
    hi = [max(st[3][a] + st[1][a] for st in spatial) for a in range(2)]
    ext = tuple((min(st[4][a][0] for st in spatial), max(st[4][a][1] for st in spatial))
                for a in range(2))
    merged = (n0, (hi[0] - lo[0], hi[1] - lo[1]), j0, (lo[0], lo[1]), ext)
    return [merged] * len(out_tensors)


def _rf_graph(model, in_states, record, prefix=()):
    graph = _graph(model)
    states = {id(t): s for t, s in zip(graph.inputs, in_states)}
    for node in _nodes(graph):
        op = node.operation
        ins = [states.get(id(t)) for t in node.input_tensors]
        outs = _rf_op(op, ins, node.outputs, record, prefix)
        for t, s in zip(node.outputs, outs):
            states[id(t)] = s
        path = prefix + (op,)
        if id(op) not in record:
            record[id(op)] = (path, outs[0])
    return [states.get(id(t)) for t in graph.outputs]


def receptive_field(model, layer, input_size=None):
    r"""Exact receptive field of a layer, computed from the layers on the way from the input.

    Walks the model graph (nested models included) and applies, per axis, for each convolution,
    depthwise/separable convolution or pooling with kernel :math:`k`, stride :math:`s`, dilation
    :math:`d` (:math:`k_e = d(k-1)+1`) and left padding :math:`p`:

    .. math::
        r_{l} = r_{l-1} + (k_e - 1)\,j_{l-1}, \qquad j_l = j_{l-1}\,s, \qquad
        o_l = o_{l-1} - p\,j_{l-1}

    starting from :math:`r_0 = j_0 = 1, o_0 = 0`. ``'valid'`` has :math:`p = 0`; ``'same'`` (as
    TensorFlow pads) has :math:`p = \lfloor \max((\lceil n/s \rceil - 1)s + k_e - n, 0) / 2
    \rfloor` for an input of size :math:`n`, so offsets depend on the input size.
    ``ZeroPadding2D`` shifts the offset by its top/left padding; pointwise layers keep the field;
    where branches merge (``Add``, ``Concatenate``) the field is the union.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential CNN.
    layer : str or layer
        The layer (also inside a nested model).
    input_size : int or (int, int), optional
        Needed when the model's input size is not fixed.

    Returns
    -------
    ReceptiveField
        ``size``, ``stride``, ``offset`` (ints or (y, x) tuples) and ``box(row, col)``.

    Notebook: ``08_inside_cnns.ipynb`` (receptive fields); checked against
    :func:`receptive_field_by_gradient` in the tests.
    """
    path = find_layer(model, layer)
    hw = _spatial_input_size(model, input_size)
    record = {}
    start = (hw, (1, 1), (1, 1), (0, 0), ((0, hw[0] - 1), (0, hw[1] - 1)))
    _rf_graph(model, [start] + [None] * (len(_graph(model).inputs) - 1), record)
    target = path[-1]
    if id(target) not in record:  # pragma: no cover - layer found but not in the graph
        raise ValueError(f"`layer` {target.name!r} is not connected to the model input.")
    state = record[id(target)][1]
    if state in (None, "global"):
        raise ValueError(f"`layer` {target.name!r} ({type(target).__name__}) has no spatial "
                         "output: each of its units sees the whole image. Pick a layer with a "
                         "4-D (N, h, w, C) output.")
    n, size, stride, offset, ext = state
    return ReceptiveField(size, stride, offset, n, hw, _path_name(path), ext)


@dataclass(frozen=True)
class MeasuredField:
    """Input pixels with a non-zero gradient for one output unit: ``mask`` (H, W) and the
    inclusive bounding ``box`` (y0, x0, y1, x1), ``None`` if the gradient is zero everywhere."""

    box: tuple
    mask: np.ndarray


def receptive_field_by_gradient(model, layer, position=None, images=None, input_size=None,
                                seed=0):
    r"""Measure the receptive field of one unit: the input pixels where
    :math:`\partial\, \sum_c A_{r,c,k} / \partial x \neq 0`.

    The result is the true receptive field (cut to the image) only when no path is switched off:
    dead ReLUs and max pooling (the gradient goes to the maximum only) make it smaller. For an exact
    check use positive weights, average pooling and a positive input, as the tests do.

    Parameters
    ----------
    model, layer
        As in :func:`receptive_field`.
    position : (int, int) or a list of them, optional
        Unit ``(row, col)`` of the layer's map; default the centre. A list measures several units
        from one forward pass.
    images : array, optional
        One image (H, W, 3) in [0, 1]; default uniform noise in [0.25, 0.75] from ``seed``.

    Returns
    -------
    MeasuredField, or a list of them for a list of positions
    """
    import tensorflow as tf

    path = find_layer(model, layer)
    hw = _spatial_input_size(model, input_size)
    if images is None:
        c = int(_graph(model).inputs[0].shape[-1] or 3)
        img = np.random.default_rng(seed).uniform(0.25, 0.75, (1,) + hw + (c,)).astype(np.float32)
    else:
        img, _ = as_images(images, "images")
        img = img[:1]
    tap = _tap_model(model, [path])
    x = tf.constant(img)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tap(x, training=False)
        if len(a.shape) != 4:
            raise ValueError(f"`layer` {path[-1].name!r} has no spatial output (shape {a.shape}).")
        h, w = int(a.shape[1]), int(a.shape[2])
        many = isinstance(position, list)
        positions = position if many else [(h // 2, w // 2) if position is None else position]
        units = []
        for pos in positions:
            r, c = (check_int(v, "position", minimum=0) for v in pos)
            if r >= h or c >= w:
                raise ValueError(f"`position` must lie in the layer's {h}x{w} map; got {(r, c)}.")
            units.append(tf.reduce_sum(a[0, r, c, :]))
    out = []
    for unit in units:
        mask = np.abs(tape.gradient(unit, x).numpy()[0]).sum(-1) > 0
        if not mask.any():
            out.append(MeasuredField(None, mask))
            continue
        ys, xs = np.nonzero(mask)
        out.append(MeasuredField((int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())),
                                 mask))
    del tape
    return out if many else out[0]


# --------------------------------------------------------------------------------------------
# maximally activating patches
# --------------------------------------------------------------------------------------------

@dataclass
class ActivatingPatches:
    """Top-k activations of some channels of a layer over a dataset.

    Attributes
    ----------
    channels : np.ndarray (C,)
    values : np.ndarray (C, k) activations, largest first
    image_index : np.ndarray (C, k) position of the image in the stream
    positions : np.ndarray (C, k, 2) unit (row, col) in the layer's map
    boxes : np.ndarray (C, k, 4) inclusive pixel boxes (y0, x0, y1, x1) of the receptive fields
        (may reach outside the image)
    patches : np.ndarray (C, k, size_y, size_x, 3) the receptive-field patches, pixels outside the
        image filled with ``fill``
    field : ReceptiveField
    n_images : int
    """

    channels: np.ndarray
    values: np.ndarray
    image_index: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    field: ReceptiveField
    n_images: int


def _iter_image_batches(data, batch_size):
    """Yield float32 [0, 1] image batches from an array, a dataset object or a tf.data.Dataset."""
    import tensorflow as tf

    if hasattr(data, "images") and not isinstance(data, np.ndarray):
        data = data.images
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if isinstance(spec, (tuple, list)):
            spec = spec[0]
        elif isinstance(spec, dict):
            raise TypeError("`data` as a tf.data.Dataset must yield images or (images, labels) "
                            "tuples; got dict elements.")
        rank = len(spec.shape) if spec.shape.rank is not None else None
        if rank == 3:
            data = data.batch(batch_size)
        elif rank != 4:
            raise ValueError(f"`data` must yield images (H, W, C) or batches (N, H, W, C); its "
                             f"elements have shape {spec.shape}.")
        for el in data:
            if isinstance(el, (tuple, list)):
                el = el[0]
            yield as_images(el, "data", allow_single=False)[0]
        return
    if hasattr(data, "shape") and hasattr(data, "__getitem__"):
        if len(data.shape) != 4:
            raise ValueError(f"`data` must be images (N, H, W, C); got shape {tuple(data.shape)}.")
        for sl in _batches(int(data.shape[0]), batch_size):
            yield as_images(data[sl], "data", allow_single=False)[0]
        return
    raise TypeError(f"`data` must be an image array (N, H, W, C), a dataset with `.images`, or a "
                    f"tf.data.Dataset; got {type(data).__name__}.")


def _cut_patches(images, b, y0, x0, ph, pw, fill):
    """Vectorised crop of boxes of size (ph, pw) at (y0, x0) from images[b]; outside -> fill."""
    h, w = images.shape[1:3]
    rows = y0[:, None] + np.arange(ph)[None]
    cols = x0[:, None] + np.arange(pw)[None]
    rv = (rows >= 0) & (rows < h)
    cv = (cols >= 0) & (cols < w)
    out = images[b[:, None, None], np.clip(rows, 0, h - 1)[:, :, None],
                 np.clip(cols, 0, w - 1)[:, None, :]]
    valid = rv[:, :, None] & cv[:, None, :]
    out[~valid] = fill
    return out


def max_activating_patches(model, data, layer, channels=None, k=9, batch_size=64, fill=0.0):
    r"""Find, for each chosen channel of a layer, the ``k`` input patches that excite it most.

    The data are streamed in batches: each batch gives its own top-k units per channel (over
    images and positions), which are merged with the running top-k and their receptive-field
    patches cut out at once, so memory depends on ``batch_size``, ``k`` and the patch size, never
    on the number of images. A unit at map position :math:`(r, c)` sees the input box
    :math:`[o_y + r j_y,\ o_y + r j_y + s_y - 1] \times [o_x + c j_x,\ o_x + c j_x + s_x - 1]`
    (see :func:`receptive_field`).

    Parameters
    ----------
    model : keras.Model
    data : array (N, H, W, 3), a dataset with ``.images``, or a tf.data.Dataset
        yielding images, batches, or ``(images, labels)``.
    layer : str or layer
        A layer with a spatial (N, h, w, C) output.
    channels : int, sequence of int or None
        Channels to study; ``None`` = the first 8.
    k : int
        Patches per channel.
    batch_size : int
        Images per model call (and per array slice).
    fill : float
        Value of patch pixels that fall outside the image.

    Returns
    -------
    ActivatingPatches

    Notebook: ``08_inside_cnns.ipynb`` (maximally activating patches).
    """
    import tensorflow as tf

    k = check_int(k, "k", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    fill = check_float(fill, "fill", 0.0, 1.0)
    path = find_layer(model, layer)
    tap = _tap_model(model, [path])
    out_shape = tuple(tap.outputs[0].shape)
    if len(out_shape) != 4:
        raise ValueError(f"`layer` {path[-1].name!r} has no spatial output (shape {out_shape}); "
                         "maximally activating patches need a layer with an (N, h, w, C) output.")
    n_ch = int(out_shape[-1])
    if channels is None:
        channels = list(range(min(8, n_ch)))
    elif isinstance(channels, (int, np.integer)):
        channels = [channels]
    channels = [check_int(c, "channels") for c in channels]
    bad = [c for c in channels if not 0 <= c < n_ch]
    if bad or not channels:
        raise ValueError(f"`channels` must be indices in [0, {n_ch - 1}] (layer "
                         f"{path[-1].name!r} has {n_ch} channels); got {channels}.")
    field = None
    ch = tf.constant(channels, tf.int32)

    @tf.function(reduce_retracing=True)
    def batch_top(x, kk):
        a = tap(x, training=False)
        a = tf.gather(a, ch, axis=-1)  # B, h, w, C
        s = tf.shape(a)
        flat = tf.reshape(tf.transpose(a, (3, 0, 1, 2)), (len(channels), -1))
        v, i = tf.math.top_k(flat, k=tf.minimum(kk, tf.shape(flat)[1]))
        return v, i, s[1], s[2]

    C = len(channels)
    vals = np.full((C, 0), -np.inf, np.float32)
    img_idx = np.zeros((C, 0), np.int64)
    pos = np.zeros((C, 0, 2), np.int64)
    patches = None
    seen = 0
    for batch in _iter_image_batches(data, batch_size):
        if field is None:
            field = receptive_field(model, path[-1], input_size=batch.shape[1:3])
            ph, pw = field.size_yx
            patches = np.zeros((C, 0, ph, pw, batch.shape[-1]), np.float32)
        v, i, h, w = batch_top(tf.constant(batch), tf.constant(k))
        v, i, h, w = v.numpy(), i.numpy().astype(np.int64), int(h), int(w)
        b = i // (h * w)
        r = (i % (h * w)) // w
        c = i % w
        y0 = field.offset_yx[0] + r * field.stride_yx[0]
        x0 = field.offset_yx[1] + c * field.stride_yx[1]
        cand = _cut_patches(batch, b.ravel(), y0.ravel(), x0.ravel(), ph, pw, fill)
        cand = cand.reshape((C, -1) + cand.shape[1:])
        vals = np.concatenate([vals, v], 1)
        img_idx = np.concatenate([img_idx, b + seen], 1)
        pos = np.concatenate([pos, np.stack([r, c], -1)], 1)
        patches = np.concatenate([patches, cand], 1)
        order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(vals, order, 1)
        img_idx = np.take_along_axis(img_idx, order, 1)
        pos = np.take_along_axis(pos, order[..., None], 1)
        patches = np.take_along_axis(patches, order[:, :, None, None, None], 1)
        seen += len(batch)
    if field is None:
        raise ValueError("`data` holds no images.")
    y0 = field.offset_yx[0] + pos[..., 0] * field.stride_yx[0]
    x0 = field.offset_yx[1] + pos[..., 1] * field.stride_yx[1]
    boxes = np.stack([y0, x0, y0 + field.size_yx[0] - 1, x0 + field.size_yx[1] - 1], -1)
    return ActivatingPatches(np.asarray(channels), vals, img_idx, pos, boxes, patches, field,
                             seen)


def plot_patches(result, max_k=None, title=None):
    """Grid of the patches of an :class:`ActivatingPatches`: one row per channel, best first."""
    import matplotlib.pyplot as plt

    if not isinstance(result, ActivatingPatches):
        raise TypeError("`result` must be the ActivatingPatches returned by "
                        f"max_activating_patches; got {type(result).__name__}.")
    k = result.values.shape[1] if max_k is None else min(check_int(max_k, "max_k", minimum=1),
                                                         result.values.shape[1])
    C = len(result.channels)
    fig, axes = plt.subplots(C, k, figsize=(k * 0.9, C * 0.95), squeeze=False)
    for i in range(C):
        for j in range(k):
            ax = axes[i, j]
            ax.imshow(np.clip(result.patches[i, j], 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"ch {result.channels[i]}", fontsize=8)
    fig.suptitle(title or f"{result.field.layer}: receptive field {result.field.size} px",
                 fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# gradient ascent (class model visualisation)
# --------------------------------------------------------------------------------------------

@dataclass
class AscentResult:
    """Result of :func:`gradient_ascent`.

    ``image`` (H, W, 3) in [0, 1]; ``scores`` (octaves * steps + 1,) the target score before each
    step and after the last (at the transformed copy the step used); ``objective`` likewise, the
    score minus the penalties; ``sizes`` the (h, w) of the optimised image at each octave.
    """

    image: np.ndarray
    scores: np.ndarray
    objective: np.ndarray
    sizes: tuple = ()


# -- the regularisers of feature visualisation (Olah et al. 2017; Mordvintsev's lucid) ---------

def octave_sizes(size, octaves=1, octave_scale=1.5):
    r"""The image sizes of the octaves of :func:`gradient_ascent`, coarse to fine.

    Octave :math:`k = 0, \dots, K-1` optimises an image of
    :math:`\lfloor H / s^{K-1-k} + \tfrac12 \rfloor \times \lfloor W / s^{K-1-k} + \tfrac12 \rfloor`
    pixels (:math:`s` = ``octave_scale``), bilinearly up-sampled to the model's input size before
    each forward pass; the next octave starts from the up-sampled result and the last works at the
    full size. Coarse octaves can only hold low frequencies, so the large structure is settled
    first (the octaves of Mordvintsev's DeepDream).

    Parameters
    ----------
    size : int or (int, int)
        Full image size (H, W).
    octaves : int >= 1
    octave_scale : float > 1

    Returns
    -------
    list of (int, int)
        ``octaves`` sizes, the last equal to ``size``.

    Raises
    ------
    ValueError
        When the coarsest octave would be under 4 pixels on a side.

    Examples
    --------
    >>> octave_sizes(64, 3, 2.0)
    [(16, 16), (32, 32), (64, 64)]
    >>> octave_sizes((64, 48), 2)
    [(43, 32), (64, 48)]
    """
    if isinstance(size, (int, np.integer)):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"`size` must be an int or (height, width); got {size!r}.")
    h, w = (check_int(v, "size", minimum=1) for v in size)
    octaves = check_int(octaves, "octaves", minimum=1)
    octave_scale = check_float(octave_scale, "octave_scale", 1.0, strict_min=True)
    f = octave_scale ** np.arange(octaves - 1, -1, -1, dtype=np.float64)
    sizes = [(int(np.floor(h / v + 0.5)), int(np.floor(w / v + 0.5))) for v in f]
    if min(sizes[0]) < 4:
        raise ValueError(f"`octaves`={octaves} with `octave_scale`={octave_scale} makes the "
                         f"coarsest octave {sizes[0][0]}x{sizes[0][1]} px for a {h}x{w} image; "
                         "it must be at least 4 px: use fewer octaves or a smaller scale.")
    return sizes


def _tv_tf(x):
    """Per-image mean anisotropic total variation of a (N, H, W, C) tensor."""
    import tensorflow as tf

    dy = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3])
    return dy + dx


def total_variation(images):
    r"""Mean anisotropic total variation of each image: the TV penalty of :func:`gradient_ascent`.

    .. math::
        TV(I) = \overline{|I_{y+1,x} - I_{y,x}|} + \overline{|I_{y,x+1} - I_{y,x}|}

    each bar a mean over the pixels and channels where the forward difference is defined, so the
    value does not grow with the image size (0 for a constant image, 1 for stripes of 0 and 1 one
    pixel wide, 2 for a one-pixel checkerboard).

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image, float in [0, 1] or uint8; H, W >= 2.

    Returns
    -------
    np.ndarray or float
        float32 (N,), or a float for one image.

    Examples
    --------
    >>> stripes = np.tile(np.array([0.0, 1.0], np.float32), (4, 2))[..., None].repeat(3, -1)
    >>> stripes.shape, total_variation(stripes)   # |dx| = 1 everywhere, dy = 0
    ((4, 4, 3), 1.0)
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    if min(imgs.shape[1:3]) < 2:
        raise ValueError(f"`images` must be at least 2x2 to have a total variation; got "
                         f"{imgs.shape[1]}x{imgs.shape[2]}.")
    tv = _tv_tf(tf.constant(imgs)).numpy().astype(np.float32)
    return float(tv[0]) if single else tv


def _gauss_kernel(sigma):
    """1-D Gaussian of radius floor(3 sigma + 1/2) (SciPy's ``truncate=3``), summing to 1."""
    r = int(3.0 * sigma + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def _blur_tf(x, sigma):
    """Separable Gaussian blur of a (N, H, W, C) tensor with mirrored (symmetric) borders."""
    import tensorflow as tf

    k = _gauss_kernel(sigma)
    r, c = len(k) // 2, int(x.shape[-1])
    if r == 0:
        return x
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="SYMMETRIC")
    ky = tf.constant(np.tile(k[:, None, None, None], (1, 1, c, 1)))
    kx = tf.constant(np.tile(k[None, :, None, None], (1, 1, c, 1)))
    x = tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "VALID")


def gaussian_blur(images, sigma):
    r"""Gaussian blur with mirrored borders: the blur of :func:`gradient_ascent`.

    Each channel is convolved along rows, then columns, with
    :math:`g(t) \propto e^{-t^2 / 2\sigma^2}` for :math:`|t| \le r = \lfloor 3\sigma + \tfrac12
    \rfloor`, normalised to sum 1; the image is mirrored at its borders (``d c b a | a b c d``).
    This equals ``scipy.ndimage.gaussian_filter(x, (0, sigma, sigma, 0), mode='reflect',
    truncate=3)``. Blurring the image every few steps of gradient ascent damps the high
    frequencies that the gradient keeps adding (Yosinski et al. 2015).

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image in [0, 1] (or uint8).
    sigma : float > 0
        Standard deviation in pixels; the radius must be below the image size.

    Returns
    -------
    np.ndarray
        float32, the shape of ``images``.

    Examples
    --------
    >>> x = np.zeros((9, 9, 3), np.float32); x[4, 4] = 1.0
    >>> y = gaussian_blur(x, 1.0)
    >>> round(float(y.sum() / 3), 6), bool(y[4, 4, 0] > y[4, 5, 0] > y[4, 6, 0])
    (1.0, True)
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    sigma = check_float(sigma, "sigma", 0.0, strict_min=True)
    r = int(3.0 * sigma + 0.5)
    if r >= min(imgs.shape[1:3]):
        raise ValueError(f"`sigma`={sigma} has a kernel radius of {r} px, too large for "
                         f"{imgs.shape[1]}x{imgs.shape[2]} images; use sigma < "
                         f"{min(imgs.shape[1:3]) / 3:.3g}.")
    return restore_rank(_blur_tf(tf.constant(imgs), sigma).numpy(), single)


def _spectral_tf(g, decay_power):
    """Filter the channels of a (N, H, W, C) tensor by :math:`\max(f, 1/\max(H, W))^{-2d}` in
    the 2-D Fourier domain (f in cycles per pixel)."""
    import tensorflow as tf

    h, w = tf.shape(g)[1], tf.shape(g)[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    ky = tf.cast(tf.range(h), tf.float32)
    ky = tf.minimum(ky, hf - ky) / hf
    kx = tf.cast(tf.range(w // 2 + 1), tf.float32) / wf
    f = tf.maximum(tf.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2), 1.0 / tf.maximum(hf, wf))
    spec = tf.signal.rfft2d(tf.transpose(g, [0, 3, 1, 2]))
    spec *= tf.cast(f ** (-2.0 * decay_power), tf.complex64)
    return tf.transpose(tf.signal.irfft2d(spec, fft_length=[h, w]), [0, 2, 3, 1])


def spectral_precondition(gradient, decay_power=1.0):
    r"""The update of lucid's Fourier image parametrisation, applied to a pixel gradient.

    Lucid writes the image as :math:`I = \mathcal F^{-1}(s \odot p)` with the spectrum scaled by
    :math:`s(f) = 1 / \max(f, 1/N)^{d}` (``decay_power`` :math:`d`, :math:`f` the spatial
    frequency in cycles per pixel, :math:`N = \max(H, W)`) and climbs the gradient in :math:`p`.
    A gradient step :math:`\Delta p = \eta\, s \odot \mathcal F(g)` moves the image by
    :math:`\Delta I = \eta\, \mathcal F^{-1}(s^2 \odot \mathcal F(g))`: the pixel gradient
    :math:`g` with each frequency scaled by :math:`s(f)^2 = \max(f, 1/N)^{-2d}`, which is what
    this function returns. Low frequencies move fast and high ones slowly, so the ascent builds
    large structure instead of pixel noise (Olah et al. 2017, "preconditioning";
    :func:`gradient_ascent` with ``decay_power``).

    Parameters
    ----------
    gradient : array
        (N, H, W, C) or one (H, W, C), any real values.
    decay_power : float >= 0
        0 returns the gradient unchanged.

    Returns
    -------
    np.ndarray
        float32, the shape of ``gradient``.

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32)
    >>> waves = np.stack([np.cos(2 * np.pi * x / 16), np.cos(2 * np.pi * x / 4)], -1)  # f = 1/16, 1/4
    >>> g = np.repeat(waves[None], 16, 0)                              # (16, 16, 2), along x
    >>> out = spectral_precondition(g, 1.0)
    >>> np.round(out[0, 0] / g[0, 0], 3)                               # f^-2 = 256 and 16
    array([256.,  16.], dtype=float32)
    """
    import tensorflow as tf

    g = np.asarray(gradient, np.float32)
    single = g.ndim == 3
    if g.ndim not in (3, 4):
        raise ValueError(f"`gradient` must be (N, H, W, C) or (H, W, C); got shape {g.shape}.")
    check_finite(g, "gradient")
    decay_power = check_float(decay_power, "decay_power", 0.0)
    g4 = g[None] if single else g
    out = g4 if decay_power == 0 else _spectral_tf(tf.constant(g4), decay_power).numpy()
    return restore_rank(out, single)


def _transform_tf(x, seed, i, jitter, scale, rotate):
    """Random roll by up to ``jitter`` px, then zoom by a factor in ``scale`` and rotation by up to
    ``rotate`` degrees about the centre; draws are stateless from (``seed``, ``i``)."""
    import tensorflow as tf

    key = tf.stack([tf.cast(seed, tf.int32), tf.cast(i, tf.int32)])
    if jitter > 0:
        sh = tf.random.stateless_uniform([2], seed=key, minval=-jitter, maxval=jitter + 1,
                                         dtype=tf.int32)
        x = tf.roll(x, sh, axis=[1, 2])
    if scale is None and rotate == 0:
        return x
    u = tf.random.stateless_uniform([2], seed=tf.random.experimental.stateless_fold_in(key, 1))
    lo, hi = scale if scale is not None else (1.0, 1.0)
    inv = 1.0 / (lo + (hi - lo) * u[0])  # the output samples the input at centre + R d / s
    ang = float(np.deg2rad(rotate)) * (2.0 * u[1] - 1.0)
    cos, sin = inv * tf.cos(ang), inv * tf.sin(ang)
    hw = tf.shape(x)[1:3]
    cy, cx = (tf.cast(hw[0], tf.float32) - 1) / 2, (tf.cast(hw[1], tf.float32) - 1) / 2
    t = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                  0.0, 0.0])
    t = tf.tile(t[None], [tf.shape(x)[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=t, output_shape=hw,
                                                 fill_value=0.0, interpolation="BILINEAR",
                                                 fill_mode="REFLECT")


def _check_transform(jitter, scale, rotate):
    jitter = check_int(jitter, "jitter", minimum=0)
    if scale is not None:
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise TypeError(f"`scale` must be None or a pair (low, high) of zoom factors; got "
                            f"{scale!r}.")
        lo = check_float(scale[0], "scale", 0.0, strict_min=True)
        hi = check_float(scale[1], "scale", 0.0, strict_min=True)
        if lo > hi:
            raise ValueError(f"`scale` must be (low, high) with low <= high; got {scale!r}.")
        scale = (lo, hi)
    rotate = check_float(rotate, "rotate", 0.0, 180.0)
    return jitter, scale, rotate


def random_transform(images, seed=0, step=0, jitter=0, scale=None, rotate=0.0):
    r"""The transformation-robustness step of :func:`gradient_ascent`, on its own.

    The image is rolled (circularly) by a shift :math:`(d_y, d_x)` drawn uniformly from
    :math:`\{-j, \dots, j\}^2` (``jitter``), then zoomed by a factor :math:`s \sim U(s_0, s_1)`
    (``scale``) and rotated by :math:`\theta \sim U(-\theta_{max}, \theta_{max})` degrees
    (``rotate``) about its centre: output pixel :math:`p` samples the input at
    :math:`c + R(\theta)(p - c) / s` (bilinear, mirrored borders). Optimising the score of the
    transformed image asks for a picture that works at every small shift and scale, not a
    pixel-exact adversarial pattern (Olah et al. 2017, "transformation robustness"). The draws are
    stateless functions of (``seed``, ``step``): the same pair gives the same transform.

    Parameters
    ----------
    images : array
        (N, H, W, C) or one (H, W, C) image in [0, 1] (or uint8).
    seed, step : int
    jitter : int >= 0
    scale : (float, float) or None
        Zoom range (``None`` = no zoom).
    rotate : float in [0, 180]
        Maximum rotation in degrees.

    Returns
    -------
    np.ndarray
        float32, the shape of ``images``; the same transform for every image of the batch.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    >>> a = random_transform(x, seed=1, step=5, jitter=2, scale=(0.9, 1.1), rotate=10)
    >>> np.array_equal(a, random_transform(x, seed=1, step=5, jitter=2, scale=(0.9, 1.1),
    ...                                    rotate=10))
    True
    >>> np.array_equal(random_transform(x, jitter=0, scale=(1, 1)), x)   # the identity
    True
    """
    import tensorflow as tf

    imgs, single = as_images(images, "images", channels=None)
    jitter, scale, rotate = _check_transform(jitter, scale, rotate)
    seed, step = check_int(seed, "seed"), check_int(step, "step")
    out = _transform_tf(tf.constant(imgs), tf.constant(seed), tf.constant(step), jitter, scale,
                        rotate)
    return restore_rank(out.numpy(), single)


# -- the objective and the ascent ----------------------------------------------------------------

def _logit_target(model):
    """The tensor that holds (or leads to) the pre-activation class scores, and the function that
    finishes them: the last Dense's linear part when it applies softmax or sigmoid."""
    graph = _graph(model)
    if len(graph.outputs) != 1:
        raise ValueError("`model` must have one output (the class scores) for a class target.")
    out = graph.outputs[0]
    op = out._keras_history[0]
    act = getattr(op, "activation", None)
    act_name = getattr(act, "__name__", "")
    kind = type(op).__name__
    if kind == "Softmax" or (kind == "Activation" and act_name in ("softmax", "sigmoid")):
        return op.input, None
    if act_name in ("softmax", "sigmoid"):
        if kind != "Dense":
            raise ValueError(f"the last layer {op.name!r} ({kind}) applies {act_name}; only a "
                             "Dense head can be read before its activation. Give a model that "
                             "outputs logits.")

        def linear(h):
            import keras

            z = keras.ops.matmul(h, op.kernel)
            return z + op.bias if op.use_bias else z

        return op.input, linear
    return out, None


def _as_targets(value, name, n, what):
    """``value`` (an int or a sequence of ints, each in [0, n)) as a list, and whether it was one
    int."""
    single = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)
    if single:
        values = [value]
    elif isinstance(value, (list, tuple, range, np.ndarray)):
        values = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
        if not values:
            raise ValueError(f"`{name}` must hold at least one index; got an empty sequence.")
    else:
        raise TypeError(f"`{name}` must be an integer or a sequence of integers; got "
                        f"{type(value).__name__} {value!r}.")
    values = [check_int(v, name) for v in values]
    for v in values:
        if not 0 <= v < n:
            raise ValueError(f"`{name}` must be in [0, {n - 1}] ({what}); got {v}.")
    return values, single


def _ascent_score(model, class_index, layer, channel, unit):
    """``(score, onehot, single)``: ``score(x)`` maps images (K, H, W, C) to the (K, n) class
    logits, channel means or unit activations; row k of ``onehot`` (K, n) picks the score that
    image k climbs; ``single`` when one index was given."""
    import tensorflow as tf

    graph = _graph(model)
    if (class_index is None) == (layer is None):
        raise ValueError("give either `class_index` (a class score) or `layer` with `channel` "
                         "(a channel or unit of a layer), not both or neither.")
    if layer is None:
        target, head = _logit_target(model)
        tap = _keras().Model(_one_or_list(graph.inputs), target)
        n_cls = int(graph.outputs[0].shape[-1])
        targets, single = _as_targets(class_index, "class_index", n_cls,
                                      f"the model has {n_cls} classes")

        def score(x):
            z = tap(x, training=False)
            return head(z) if head is not None else z

        return score, np.eye(n_cls, dtype=np.float32)[targets], single
    if channel is None:
        raise ValueError("`channel` is required with `layer`.")
    path = find_layer(model, layer)
    tap = _tap_model(model, [path])
    shape = tuple(tap.outputs[0].shape)
    targets, single = _as_targets(channel, "channel", int(shape[-1]),
                                  f"layer {path[-1].name!r} has {int(shape[-1])} channels")
    if unit is not None:
        if len(shape) != 4:
            raise ValueError(f"`unit` needs a layer with a spatial output; {path[-1].name!r} "
                             f"has shape {shape}.")
        if not isinstance(unit, (tuple, list)) or len(unit) != 2:
            raise TypeError(f"`unit` must be a (row, col) pair; got {unit!r}.")
        unit = tuple(check_int(u, "unit", minimum=0) for u in unit)

    def score(x):
        a = tap(x, training=False)
        if unit is not None:
            return a[:, unit[0], unit[1]]
        return tf.reduce_mean(a, axis=list(range(1, len(a.shape) - 1)))

    return score, np.eye(int(shape[-1]), dtype=np.float32)[targets], single


def _ascent_step(score_fn, onehot, hw, resize, cfg):
    """One compiled ascent step ``(x, i, blur) -> (x', scores, objectives)`` for a batch of K
    images, image k climbing the score picked by row k of ``onehot``.

    A compiled step called from a Python loop: on CPU this ran several times faster per step than
    the same body inside a tf.while_loop, and traces faster too. Its input shape is relaxed when
    there are octaves, so that all of them share one trace."""
    import tensorflow as tf

    seed, sel = tf.constant(cfg["seed"], tf.int32), tf.constant(onehot)
    l2, tv, sigma = cfg["l2"], cfg["tv"], cfg["sigma"]
    shape = [None, None, None, cfg["channels"]] if resize else [None, hw[0], hw[1], cfg["channels"]]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.bool)])
    def step(x, i, blur):
        with tf.GradientTape() as tape:
            tape.watch(x)
            full = tf.image.resize(x, hw, "bilinear") if resize else x
            t = _transform_tf(full, seed, i, cfg["jitter"], cfg["scale"], cfg["rotate"])
            s = tf.reduce_sum(score_fn(t) * sel, axis=-1)
            obj = s - l2 * tf.reduce_mean(tf.square(x - 0.5), axis=[1, 2, 3])
            if tv > 0:
                obj -= tv * _tv_tf(x)
            total = tf.reduce_sum(obj)  # the images are independent: per-image gradients
        g = tape.gradient(total, x)
        if cfg["decay_power"] > 0:
            g = _spectral_tf(g, cfg["decay_power"])
        g = g / (tf.sqrt(tf.reduce_mean(tf.square(g), axis=[1, 2, 3], keepdims=True)) + 1e-8)
        x = x + cfg["step_size"] * g
        if cfg["clip"]:
            x = tf.clip_by_value(x, 0.0, 1.0)
        if sigma > 0:
            x = tf.cond(blur, lambda: _blur_tf(x, sigma), lambda: x)
        return x, s, obj

    return step


def _ascent_init(init, hw, n_in, seed, first, k):
    """K copies of the start image at the first octave's size: ``init`` (resized) or grey plus
    noise from ``seed``."""
    import tensorflow as tf

    if init is None:
        rng = np.random.default_rng(seed)
        x0 = (0.5 + 0.01 * rng.standard_normal((1,) + tuple(first) + (n_in,))).astype(np.float32)
    else:
        x0, _ = as_images(init, "init", channels=(n_in,))
        if len(x0) != 1 or x0.shape[1:3] != tuple(hw):
            raise ValueError(f"`init` must be one {hw[0]}x{hw[1]} image; got shape {x0.shape}.")
        if tuple(first) != tuple(hw):
            x0 = tf.image.resize(x0, first, "area").numpy()
    return np.repeat(x0, k, axis=0)


def gradient_ascent(model, class_index=None, *, layer=None, channel=None, unit=None, steps=200,
                    step_size=0.03, l2=1.0, tv=3.0, jitter=3, image_size=None, init=None, seed=0,
                    clip=True, scale=None, rotate=0.0, blur_every=0, blur_sigma=0.5, octaves=1,
                    octave_scale=1.5, decay_power=0.0):
    r"""Synthesise the input that maximises a class score, a channel or one neuron.

    Gradient ascent on the regularised objective (the course's class-model visualisation, with
    the regularisers of feature visualisation added: Olah et al., "Feature Visualization",
    Distill 2017; Yosinski et al. 2015; Mordvintsev's lucid and DeepDream):

    .. math::
        I^* = \arg\max_I\; \mathbb{E}_{T}\, S_c\big(T(\uparrow I)\big) - \lambda_2
              \,\overline{(I - 0.5)^2} - \lambda_{TV}\, TV(I)

    :math:`S_c` is the class score before the softmax (or a channel's mean activation, or one
    unit's activation); bars are means over pixels, so the weights do not depend on the image size;
    :math:`TV` is :func:`total_variation`. :math:`T` is a random transform drawn at every step
    (:func:`random_transform`: a roll of up to ``jitter`` px, a zoom in ``scale``, a rotation up to
    ``rotate`` degrees) and :math:`\uparrow` the bilinear up-sampling of the image of the current
    octave to the model's input size (:func:`octave_sizes`). Each step takes the gradient
    :math:`g`, optionally preconditions it as lucid's Fourier parametrisation would
    (:func:`spectral_precondition`, ``decay_power``), moves by ``step_size`` along
    :math:`g / \mathrm{RMS}(g)`, clips to [0, 1] (``clip``) and, every ``blur_every`` steps,
    blurs the image (:func:`gaussian_blur`, ``blur_sigma`` px). ``steps`` steps run at each
    octave; each step is one compiled TensorFlow function.

    The defaults are the plain recipe of the course (jitter, L2, TV). Without the other
    regularisers the ascent finds a high-frequency pattern that drives the score up without looking
    like anything. For the zoo's small CNN (notebook 08) ``octaves=2, octave_scale=1.5,
    scale=(0.8, 1.2), rotate=15, jitter=6, blur_every=4, blur_sigma=1.0, tv=10`` gives pictures
    of the class's parts (round blobs, blocks, oblique bars, spiky dots); a MobileNetV2 trained
    separately on the same classes recognises 2 to 4 of the 4 (seeds 0-7, mean 2.6), against
    about 1 of 4 for the plain recipe.

    Parameters
    ----------
    model : keras.Model
        Takes images in [0, 1]. A softmax/sigmoid head is read before its activation.
    class_index : int or sequence of int, optional
        The class to maximise (give this, or ``layer`` and ``channel``). A sequence optimises one
        image per class together in one batch (one trace, one model call per step for all): the
        same start image and transforms, so each result equals its own single-class run up to
        float rounding.
    layer, channel : optional
        Maximise channel ``channel`` (an int or a sequence, batched like ``class_index``) of
        ``layer``: its mean over the map, or the unit ``unit`` ``(row, col)`` when given. Prefer
        the layer before a ReLU: a unit that is off at the start image has zero gradient and does
        not move.
    steps : int >= 1
        Steps per octave.
    step_size : float > 0
        Step per iteration, in units of the gradient's RMS.
    l2, tv : float >= 0
        Regularisation weights.
    jitter : int >= 0
        Maximum random shift in pixels (0 = none).
    image_size : int or (int, int), optional
        Needed when the model's input size is not fixed.
    init : array, optional
        Start image (H, W, 3) in [0, 1]; default 0.5 grey plus noise of std 0.01 from ``seed``.
    seed : int
        Seeds the start noise and every random transform.
    clip : bool
    scale : (float, float) or None
        Random zoom range of each step, e.g. ``(0.9, 1.1)``; ``None`` = no zoom.
    rotate : float in [0, 180]
        Maximum random rotation of each step, in degrees (0 = none).
    blur_every : int >= 0
        Blur the image every this many steps (0 = never).
    blur_sigma : float > 0
        Standard deviation of that blur in pixels of the current octave.
    octaves : int >= 1
        Number of octaves, coarse to fine (1 = optimise at full size only).
    octave_scale : float > 1
        Size ratio between consecutive octaves.
    decay_power : float >= 0
        Precondition each gradient with the spectrum :math:`\max(f, 1/N)^{-2d}` of lucid's
        Fourier parametrisation (0 = plain pixel gradient; lucid uses 1).

    Returns
    -------
    AscentResult or list of AscentResult
        ``image``, ``scores`` and ``objective`` (``octaves * steps + 1`` entries) and ``sizes``;
        a list (one per index) when ``class_index`` or ``channel`` is a sequence.

    References
    ----------
    K. Simonyan, A. Vedaldi, A. Zisserman, "Deep inside convolutional networks", ICLR workshop
    2014, arXiv:1312.6034. J. Yosinski et al., "Understanding neural networks through deep
    visualization", ICML workshop 2015, arXiv:1506.06579. C. Olah, A. Mordvintsev, L. Schubert,
    "Feature visualization", Distill 2017, doi:10.23915/distill.00007.

    Examples
    --------
    >>> import keras
    >>> keras.utils.set_random_seed(0)
    >>> inp = keras.Input((32, 32, 3))
    >>> h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    >>> out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    >>> res = gradient_ascent(keras.Model(inp, out), 1, steps=5, octaves=2, octave_scale=2.0,
    ...                       scale=(0.9, 1.1), blur_every=2)
    >>> res.image.shape, res.sizes, res.scores.shape
    ((32, 32, 3), ((16, 16), (32, 32)), (11,))
    >>> both = gradient_ascent(keras.Model(inp, out), [0, 1], steps=5)   # one batch, two images
    >>> len(both), both[1].scores.shape
    (2, (6,))

    Notebook: ``08_inside_cnns.ipynb`` (class-model images).
    """
    import tensorflow as tf

    steps = check_int(steps, "steps", minimum=1)
    step_size = check_float(step_size, "step_size", 0.0, strict_min=True)
    l2 = check_float(l2, "l2", 0.0)
    tv = check_float(tv, "tv", 0.0)
    jitter, scale, rotate = _check_transform(jitter, scale, rotate)
    seed = check_int(seed, "seed")
    blur_every = check_int(blur_every, "blur_every", minimum=0)
    blur_sigma = check_float(blur_sigma, "blur_sigma", 0.0, strict_min=True)
    decay_power = check_float(decay_power, "decay_power", 0.0)
    if not isinstance(clip, bool):
        raise TypeError(f"`clip` must be True or False; got {clip!r}.")
    score_fn, onehot, single = _ascent_score(model, class_index, layer, channel, unit)
    hw = _spatial_input_size(model, image_size, "image_size")
    sizes = octave_sizes(hw, octaves, octave_scale)
    if blur_every and int(3.0 * blur_sigma + 0.5) >= min(sizes[0]):
        raise ValueError(f"`blur_sigma`={blur_sigma} is too large for the {sizes[0][0]}x"
                         f"{sizes[0][1]} px of the first octave; use a smaller one.")
    n_in = int(_graph(model).inputs[0].shape[-1] or 3)
    x = tf.constant(_ascent_init(init, hw, n_in, seed, sizes[0], len(onehot)))
    cfg = dict(seed=seed, step_size=step_size, l2=l2, tv=tv, jitter=jitter, scale=scale,
               rotate=rotate, clip=clip, sigma=blur_sigma if blur_every else 0.0, channels=n_in,
               decay_power=decay_power)
    step = _ascent_step(score_fn, onehot, hw, len(sizes) > 1, cfg)
    scores, objs = [], []
    for k, size in enumerate(sizes):
        if k:
            x = tf.image.resize(x, size, "bilinear")
        for j in range(steps):
            blur = bool(blur_every) and (j + 1) % max(blur_every, 1) == 0
            x, s, o = step(x, tf.constant(len(scores), tf.int32), tf.constant(blur))
            scores.append(s.numpy())
            objs.append(o.numpy())
    # one more call scores the final image (its update is dropped); with random transforms that
    # score is taken at a transformed copy, like every other entry
    _, s, o = step(x, tf.constant(len(scores), tf.int32), tf.constant(False))
    scores, objs = np.stack(scores + [s.numpy()], 1), np.stack(objs + [o.numpy()], 1)
    images = np.clip(x.numpy(), 0, 1)
    results = [AscentResult(images[k], scores[k], objs[k], tuple(sizes))
               for k in range(len(onehot))]
    return results[0] if single else results


def plot_ascent(results, titles=None):
    """Draw the images of one or several :class:`AscentResult` with their score curves below."""
    import matplotlib.pyplot as plt

    if isinstance(results, AscentResult):
        results = [results]
    if not results or not all(isinstance(r, AscentResult) for r in results):
        raise TypeError("`results` must be an AscentResult or a list of them.")
    titles = list(titles) if titles is not None else [""] * len(results)
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.2), squeeze=False,
                             gridspec_kw={"height_ratios": [2, 1]})
    for j, (r, t) in enumerate(zip(results, titles)):
        axes[0, j].imshow(r.image)
        axes[0, j].set_title(t, fontsize=9)
        axes[0, j].axis("off")
        axes[1, j].plot(r.scores, label="score")
        axes[1, j].plot(r.objective, label="objective")
        axes[1, j].set_xlabel("step", fontsize=8)
        axes[1, j].tick_params(labelsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
