r"""Receptive fields: which input pixels a unit of a layer can see.

:func:`receptive_field` computes the field exactly from the layers on the way from the input
(kernel sizes, strides, dilations, paddings), nested models included;
:func:`receptive_field_by_gradient` measures it as the pixels where the gradient of one unit is not
zero, which is how the tests check the first against the second. Notebook:
``notebooks/08_inside_cnns.ipynb`` (receptive fields).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _graph
from .._validate import as_images, check_int, check_seed
from ._common import CONV_TYPES, POOL_TYPES, input_channels, spatial_input_size

__all__ = ["ReceptiveField", "receptive_field", "MeasuredField", "receptive_field_by_gradient"]

_UNSUPPORTED = ("UpSampling2D", "Conv2DTranspose", "Resizing", "Conv1D", "Conv3D")


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

    Examples
    --------
    >>> rf = ReceptiveField((5, 5), (2, 2), (-1, -1), (8, 8), (16, 16), "conv")
    >>> rf.size, rf.box(0, 0), rf.box(0, 0, clip=True)
    (5, (-1, -1, 3, 3), (0, 0, 3, 3))
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


# A state of the recursion is (n, size, stride, offset, extent), each a (y, x) pair: the spatial
# size of the tensor, and the field, jump and offset of its units; "global" for a tensor whose
# units see the whole image, None for a tensor that does not depend on the image.

def _yx(v):
    if isinstance(v, (tuple, list)):
        return tuple(int(a) for a in v)
    return int(v), int(v)


def _narrow(state):
    r"""Cut the extent to the pixels the units of this tensor can reach:
    :math:`[\max(o, e_0),\ \min(o + (n - 1) j + r - 1, e_1)]`."""
    n, size, stride, offset, ext = state
    new = tuple((max(offset[a], ext[a][0]),
                 min(offset[a] + (n[a] - 1) * stride[a] + size[a] - 1, ext[a][1]))
                for a in range(2))
    return n, size, stride, offset, new


def _rf_window(state, k, s, d, padding, layer_name):
    r"""Receptive-field recursion through a window op (conv or pooling) along both axes.

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


def _rf_pad(op, kind, state):
    """``ZeroPadding2D`` / ``Cropping2D``: the map grows (shrinks) and the offset moves."""
    (t, b), (l, r) = op.padding if kind == "ZeroPadding2D" else op.cropping
    sign = 1 if kind == "ZeroPadding2D" else -1
    n, size, stride, offset, ext = state
    return _narrow(((n[0] + sign * (t + b), n[1] + sign * (l + r)), size, stride,
                    (offset[0] - sign * t * stride[0], offset[1] - sign * l * stride[1]), ext))


def _rf_pointwise(op, kind, spatial, out_tensors):
    """Pointwise layers (activations, batch norm, add, concatenate, ...): the union of the
    fields of their inputs, which must share size and stride."""
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
    return (n0, (hi[0] - lo[0], hi[1] - lo[1]), j0, (lo[0], lo[1]), ext)


def _rf_op(op, in_states, out_tensors, record):
    """States of the outputs of ``op`` given the states of its inputs."""
    kind = type(op).__name__
    out_ranks = [len(t.shape) for t in out_tensors]
    if _graph.is_container(op):
        return _rf_graph(op, in_states, record)
    if any(s == "global" for s in in_states) and any(r == 4 for r in out_ranks):
        raise ValueError(f"receptive_field: layer {op.name!r} mixes a spatial input with a "
                         "global one (e.g. squeeze-and-excitation): every unit sees the whole "
                         "image.")
    spatial = [s for s in in_states if s not in (None, "global")]
    if not spatial or all(r != 4 for r in out_ranks):
        return ["global" if spatial or "global" in in_states else None] * len(out_tensors)
    if kind in _UNSUPPORTED:
        raise ValueError(f"receptive_field: layer {op.name!r} ({kind}) is not supported; it is "
                         "defined for convolutions, pooling, padding and pointwise layers.")
    if kind in CONV_TYPES:
        return [_rf_window(spatial[0], _yx(op.kernel_size), _yx(op.strides),
                           _yx(op.dilation_rate), op.padding, op.name)]
    if kind in POOL_TYPES:
        return [_rf_window(spatial[0], _yx(op.pool_size), _yx(op.strides), (1, 1), op.padding,
                           op.name)]
    if kind in ("ZeroPadding2D", "Cropping2D"):
        return [_rf_pad(op, kind, spatial[0])]
    return [_rf_pointwise(op, kind, spatial, out_tensors)] * len(out_tensors)


def _rf_graph(model, in_states, record):
    """Run the recursion through ``model``'s graph; ``record`` keeps each layer's first state."""
    graph = _graph.graph_of(model)
    states = {id(t): s for t, s in zip(graph.inputs, in_states)}
    for node in _graph.graph_nodes(graph):
        op = node.operation
        outs = _rf_op(op, [states.get(id(t)) for t in node.input_tensors], node.outputs, record)
        for t, s in zip(node.outputs, outs):
            states[id(t)] = s
        record.setdefault(id(op), outs[0])
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

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((40, 40, 3)), keras.layers.Conv2D(2, 3, name="a"),
    ...                       keras.layers.MaxPooling2D(2, name="b"),
    ...                       keras.layers.Conv2D(2, 3, name="c")])
    >>> receptive_field(m, "c")
    ReceptiveField(layer='c', size=8, stride=2, offset=0, output_size=(17, 17))

    Notebook: ``08_inside_cnns.ipynb`` (receptive fields); checked against
    :func:`receptive_field_by_gradient` in the tests.
    """
    ref = _graph.find_layer(model, layer)
    hw = spatial_input_size(model, input_size)
    record = {}
    start = (hw, (1, 1), (1, 1), (0, 0), ((0, hw[0] - 1), (0, hw[1] - 1)))
    _rf_graph(model, [start] + [None] * (len(_graph.graph_of(model).inputs) - 1), record)
    target = ref.layer
    if id(target) not in record:  # pragma: no cover - layer found but not in the graph
        raise ValueError(f"`layer` {target.name!r} is not connected to the model input.")
    state = record[id(target)]
    if state in (None, "global"):
        raise ValueError(f"`layer` {target.name!r} ({type(target).__name__}) has no spatial "
                         "output: each of its units sees the whole image. Pick a layer with a "
                         "4-D (N, h, w, C) output.")
    n, size, stride, offset, ext = state
    return ReceptiveField(size, stride, offset, n, hw, ref.name, ext)


@dataclass(frozen=True)
class MeasuredField:
    """Input pixels with a non-zero gradient for one output unit: ``mask`` (H, W) and the
    inclusive bounding ``box`` (y0, x0, y1, x1), ``None`` if the gradient is zero everywhere.

    Examples
    --------
    >>> mask = np.zeros((4, 4), bool); mask[1:3, 2] = True
    >>> MeasuredField((1, 2, 2, 2), mask).box
    (1, 2, 2, 2)
    """

    box: tuple
    mask: np.ndarray


def _probe_image(model, images, hw, seed):
    """The image the gradient is measured at: ``images[0]`` or uniform noise from ``seed``."""
    if images is None:
        rng = np.random.default_rng(check_seed(seed, allow_none=False))
        return rng.uniform(0.25, 0.75, (1,) + hw + (input_channels(model),)).astype(np.float32)
    return as_images(images, "images")[0][:1]


def _units(a, position):
    """The positions to measure (``many`` when a list was given) checked against the map."""
    h, w = int(a.shape[1]), int(a.shape[2])
    many = isinstance(position, list)
    positions = position if many else [(h // 2, w // 2) if position is None else position]
    out = []
    for pos in positions:
        r, c = (check_int(v, "position", minimum=0) for v in pos)
        if r >= h or c >= w:
            raise ValueError(f"`position` must lie in the layer's {h}x{w} map; got {(r, c)}.")
        out.append((r, c))
    return out, many


def _measured(grad):
    mask = np.abs(grad).sum(-1) > 0
    if not mask.any():
        return MeasuredField(None, mask)
    ys, xs = np.nonzero(mask)
    return MeasuredField((int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())), mask)


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
    input_size : int or (int, int), optional
        Needed when the model's input size is not fixed.
    seed : int
        Seeds the default noise image.

    Returns
    -------
    MeasuredField, or a list of them for a list of positions

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((9, 9, 3)),
    ...                       keras.layers.Conv2D(1, 3, kernel_initializer="ones", name="a")])
    >>> receptive_field_by_gradient(m, "a", position=(0, 2)).box
    (0, 2, 2, 4)
    """
    import tensorflow as tf

    ref = _graph.find_layer(model, layer)
    hw = spatial_input_size(model, input_size)
    x = tf.constant(_probe_image(model, images, hw, seed))
    tap = _graph.tap_model(model, [ref])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tap(x, training=False)
        if len(a.shape) != 4:
            raise ValueError(f"`layer` {ref.layer.name!r} has no spatial output (shape {a.shape}).")
        positions, many = _units(a, position)
        units = [tf.reduce_sum(a[0, r, c, :]) for r, c in positions]
    out = [_measured(tape.gradient(unit, x).numpy()[0]) for unit in units]
    del tape
    return out if many else out[0]
