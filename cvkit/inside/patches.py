r"""Maximally activating patches: for some channels of a layer, the input patches (receptive
fields) where the channel fires most over a dataset, found in one streamed pass.

Draw them with :func:`cvkit.visualize.plot_patches`. Notebook: ``notebooks/08_inside_cnns.ipynb``
(maximally activating patches).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _graph
from .._validate import as_images, check_float, check_int
from ._common import batches
from .receptive_field import ReceptiveField, receptive_field

__all__ = ["ActivatingPatches", "max_activating_patches"]


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

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((8, 8, 3))
    >>> model = keras.Model(inp, keras.layers.Conv2D(2, 3, name="c")(inp))
    >>> res = max_activating_patches(model, np.random.default_rng(0).random((4, 8, 8, 3)), "c", k=2)
    >>> type(res).__name__, res.values.shape, res.field.size
    ('ActivatingPatches', (2, 2), 3)
    """

    channels: np.ndarray
    values: np.ndarray
    image_index: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    field: ReceptiveField
    n_images: int


def _dataset_batches(data, batch_size):
    """Batches of a tf.data.Dataset that yields images, batches or (images, labels)."""
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


def _iter_image_batches(data, batch_size):
    """Yield float32 [0, 1] image batches from an array, a dataset object or a tf.data.Dataset."""
    import tensorflow as tf

    if hasattr(data, "images") and not isinstance(data, np.ndarray):
        data = data.images
    if isinstance(data, tf.data.Dataset):
        yield from _dataset_batches(data, batch_size)
        return
    if hasattr(data, "shape") and hasattr(data, "__getitem__"):
        if len(data.shape) != 4:
            raise ValueError(f"`data` must be images (N, H, W, C); got shape {tuple(data.shape)}.")
        for sl in batches(int(data.shape[0]), batch_size):
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


def _check_channels(channels, n_ch, layer_name):
    """``channels`` (None = the first 8, an int, or a sequence) as a list of valid indices."""
    if channels is None:
        channels = list(range(min(8, n_ch)))
    elif isinstance(channels, (int, np.integer)):
        channels = [channels]
    channels = [check_int(c, "channels") for c in channels]
    bad = [c for c in channels if not 0 <= c < n_ch]
    if bad or not channels:
        raise ValueError(f"`channels` must be indices in [0, {n_ch - 1}] (layer "
                         f"{layer_name!r} has {n_ch} channels); got {channels}.")
    return channels


def _batch_top(tap, channels):
    """A compiled ``(images, k) -> (values, flat indices, h, w)``: the top-k units of each channel
    over the images and positions of one batch."""
    import tensorflow as tf

    ch = tf.constant(channels, tf.int32)

    @tf.function(reduce_retracing=True)
    def top(x, kk):
        a = tf.gather(tap(x, training=False), ch, axis=-1)  # B, h, w, C
        s = tf.shape(a)
        flat = tf.reshape(tf.transpose(a, (3, 0, 1, 2)), (len(channels), -1))
        v, i = tf.math.top_k(flat, k=tf.minimum(kk, tf.shape(flat)[1]))
        return v, i, s[1], s[2]

    return top


class _RunningTop:
    """The running top-k per channel: values, image indices, positions and patches."""

    def __init__(self, n_channels, k, field, channels_in):
        ph, pw = field.size_yx
        self.k, self.field = k, field
        self.vals = np.full((n_channels, 0), -np.inf, np.float32)
        self.img = np.zeros((n_channels, 0), np.int64)
        self.pos = np.zeros((n_channels, 0, 2), np.int64)
        self.patches = np.zeros((n_channels, 0, ph, pw, channels_in), np.float32)

    def merge(self, batch, v, i, h, w, seen, fill):
        """Add one batch's candidates (cutting their patches) and keep the best k."""
        f = self.field
        b, r, c = i // (h * w), (i % (h * w)) // w, i % w
        y0 = f.offset_yx[0] + r * f.stride_yx[0]
        x0 = f.offset_yx[1] + c * f.stride_yx[1]
        cand = _cut_patches(batch, b.ravel(), y0.ravel(), x0.ravel(), *f.size_yx, fill)
        self.vals = np.concatenate([self.vals, v], 1)
        self.img = np.concatenate([self.img, b + seen], 1)
        self.pos = np.concatenate([self.pos, np.stack([r, c], -1)], 1)
        cand = cand.reshape((len(v), -1) + cand.shape[1:])
        self.patches = np.concatenate([self.patches, cand], 1)
        order = np.argsort(-self.vals, axis=1, kind="stable")[:, :self.k]
        self.vals = np.take_along_axis(self.vals, order, 1)
        self.img = np.take_along_axis(self.img, order, 1)
        self.pos = np.take_along_axis(self.pos, order[..., None], 1)
        self.patches = np.take_along_axis(self.patches, order[:, :, None, None, None], 1)

    def result(self, channels, seen):
        f = self.field
        y0 = f.offset_yx[0] + self.pos[..., 0] * f.stride_yx[0]
        x0 = f.offset_yx[1] + self.pos[..., 1] * f.stride_yx[1]
        boxes = np.stack([y0, x0, y0 + f.size_yx[0] - 1, x0 + f.size_yx[1] - 1], -1)
        return ActivatingPatches(np.asarray(channels), self.vals, self.img, self.pos, boxes,
                                 self.patches, f, seen)


def max_activating_patches(model, data, layer, channels=None, k=9, batch_size=64, fill=0.0):
    r"""Find, for each chosen channel of a layer, the ``k`` input patches that excite it most.

    The data are streamed in batches: each batch gives its own top-k units per channel (over
    images and positions), which are merged with the running top-k and their receptive-field
    patches cut out at once, so memory depends on ``batch_size``, ``k`` and the patch size, never
    on the number of images. A unit at map position :math:`(r, c)` sees the input box
    :math:`[o_y + r j_y,\ o_y + r j_y + s_y - 1] \times [o_x + c j_x,\ o_x + c j_x + s_x - 1]`
    (see :func:`~cvkit.inside.receptive_field`).

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

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((8, 8, 3))
    >>> model = keras.Model(inp, keras.layers.Conv2D(4, 3, kernel_initializer="ones",
    ...                                              name="c")(inp))
    >>> images = np.zeros((3, 8, 8, 3), np.float32); images[2, 5, 5] = 1.0
    >>> res = max_activating_patches(model, images, "c", channels=[0, 1], k=1)
    >>> res.image_index[:, 0], res.patches.shape
    (array([2, 2]), (2, 1, 3, 3, 3))

    Notebook: ``08_inside_cnns.ipynb`` (maximally activating patches).
    """
    import tensorflow as tf

    k = check_int(k, "k", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    fill = check_float(fill, "fill", 0.0, 1.0)
    ref = _graph.find_layer(model, layer)
    tap = _graph.tap_model(model, [ref])
    out_shape = tuple(tap.outputs[0].shape)
    if len(out_shape) != 4:
        raise ValueError(f"`layer` {ref.layer.name!r} has no spatial output (shape {out_shape}); "
                         "maximally activating patches need a layer with an (N, h, w, C) output.")
    channels = _check_channels(channels, int(out_shape[-1]), ref.layer.name)
    top, running, seen = _batch_top(tap, channels), None, 0
    for batch in _iter_image_batches(data, batch_size):
        if running is None:
            field = receptive_field(model, ref, input_size=batch.shape[1:3])
            running = _RunningTop(len(channels), k, field, batch.shape[-1])
        v, i, h, w = top(tf.constant(batch), tf.constant(k))
        running.merge(batch, v.numpy(), i.numpy().astype(np.int64), int(h), int(w), seen, fill)
        seen += len(batch)
    if running is None:
        raise ValueError("`data` holds no images.")
    return running.result(channels, seen)
