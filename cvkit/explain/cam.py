r"""Class activation maps (Zhou et al. 2016) for a classifier that ends in global pooling -> Dense.

Shown in ``notebooks/02_cam_gap_mobilenet.ipynb``.
"""
from __future__ import annotations


from .._validate import check_bool
from ._core import compute_maps, prepare
from .._graph import LayerRef, is_container, layer_io, output_layer, producer
from ._target import check_model, find_layer, resolve_output

__all__ = ["cam", "find_cam_head"]

_PASS_THROUGH = ("Dropout", "SpatialDropout1D", "Flatten", "Identity", "ActivityRegularization",
                 "GaussianNoise", "GaussianDropout", "AlphaDropout")


def _input_producer(model, path, layer):
    parent = path[-1] if path else model
    tensor = layer_io(parent, layer, "input")
    if tensor is None:
        try:
            tensor = layer.input
        except (AttributeError, ValueError, RuntimeError):
            return None
    return producer(tensor)


def _skip_back(model, layer, path):
    """Walk from the layer feeding a Dense back over pass-through layers and into nested models."""
    import keras

    while layer is not None:
        if is_container(layer):
            path = path + (layer,)
            layer = output_layer(layer, 0)
            continue
        name = type(layer).__name__
        if name in _PASS_THROUGH or (isinstance(layer, keras.layers.Activation)
                                     and getattr(layer.activation, "__name__", "") == "linear"):
            layer = _input_producer(model, path, layer)
            continue
        return layer, path
    return None, path


def find_cam_head(model, output=None):
    """Locate the global pooling layer and the Dense layer that make CAM possible.

    Returns
    -------
    pool : LayerRef
        The GlobalAveragePooling2D (or GlobalMaxPooling2D) layer, with its nested path.
    dense : keras.layers.Dense
        The classifier; its kernel holds :math:`w_k^c`.

    Raises
    ------
    ValueError
        When the model does not end in global pooling -> Dense (-> softmax); the message points to
        :func:`cvkit.explain.grad_cam`, which needs no particular structure.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> pool, dense = find_cam_head(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> pool.name, dense.name
    ('gap', 'probs')
    """
    import keras

    check_model(model)
    idx = resolve_output(model, output)
    path = ()
    head = output_layer(model, idx)
    while is_container(head):               # a whole classifier used as a layer
        path = path + (head,)
        head = output_layer(head, 0)
    if isinstance(head, keras.layers.Softmax) or (
            isinstance(head, keras.layers.Activation)
            and getattr(head.activation, "__name__", "") in ("softmax", "sigmoid", "linear")):
        head = _input_producer(model, path, head)
    why = None
    if not isinstance(head, keras.layers.Dense):
        why = f"its output layer {getattr(head, 'name', head)!r} is a {type(head).__name__}, not Dense"
    else:
        pool, pool_path = _skip_back(model, _input_producer(model, path, head), path)
        if not isinstance(pool, (keras.layers.GlobalAveragePooling2D,
                                 keras.layers.GlobalMaxPooling2D)):
            why = (f"the layer feeding Dense {head.name!r} is {getattr(pool, 'name', pool)!r} "
                   f"({type(pool).__name__}), not GlobalAveragePooling2D")
    if why is not None:
        raise ValueError(f"`model`: CAM needs a classifier ending in GlobalAveragePooling2D -> Dense; "
                         f"{why}. Use cvkit.explain.grad_cam, which works on any architecture (and "
                         "equals ReLU(CAM) up to scale on a GAP -> Dense model).")
    return LayerRef(pool_path, pool), head


def cam(model, images, class_index=None, layer=None, upsample=True, normalize=True, batch_size=32,
        output=None, relu=False):
    r"""Class activation map (Zhou et al. 2016, Eq. 2):

    .. math:: M_c(x, y) = \sum_k w_k^c f_k(x, y)

    where :math:`f_k` is the :math:`k`-th map entering the global average pooling layer and
    :math:`w_k^c` the weight from its pooled value :math:`F_k = \frac{1}{N}\sum_{x,y} f_k(x,y)` to
    class :math:`c` in the Dense layer (the bias is left out). One forward pass: no gradient. Works
    when the backbone is a nested model (e.g. MobileNetV2 used as a layer, with or without its own
    ``pooling='avg'``). With global max pooling the same sum is returned (the map is then read as
    in Oquab et al. 2015). Shown in ``notebooks/02_cam_gap_mobilenet.ipynb``.

    Parameters
    ----------
    model : keras.Model
        A classifier ending in GlobalAveragePooling2D -> [Dropout] -> Dense [-> softmax]. Any other
        model raises a ValueError that points to :func:`cvkit.explain.grad_cam`.
    images : array-like (N, H, W, C) or (H, W, C), uint8 or float in [0, 1], or tf.data.Dataset
    class_index : None, int or sequence of int
        None explains each image's predicted class; an int or one per image picks any class.
    layer : None, str or keras layer
        None (the layer feeding the pooling). A name or object is accepted only if it is that layer.
    upsample : bool or str
        True / 'bilinear' (default), 'bicubic', 'nearest', 'bilinear_align_corners', or False.
    normalize : bool
        Min-max normalise each map to [0, 1] (a constant map gives zeros, never NaN).
    batch_size : int
        Images per compiled call.
    output : None, int or str
        The output that scores the classes, for a model with several outputs.
    relu : bool
        Clip negative evidence to zero before normalising (CAM itself keeps the sign).

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from cvkit.models import small_cnn
    >>> keras.utils.set_random_seed(0)
    >>> model = small_cnn(3, (32, 32, 3), widths=(4, 4, 4, 8))
    >>> x = np.random.default_rng(0).random((2, 32, 32, 3))
    >>> cam(model, x).shape, cam(model, x, upsample=False, normalize=False).shape
    ((2, 32, 32), (2, 4, 4))
    >>> # the mean of M_c over the map is the class score without its bias (Eq. 2 with GAP)
    >>> raw = cam(model, x, class_index=1, upsample=False, normalize=False)
    >>> pooled = keras.Model(model.input, model.get_layer("gap").output)(x).numpy()
    >>> dense = model.get_layer("probs")
    >>> bool(np.allclose(raw.mean(axis=(1, 2)), pooled @ dense.kernel.numpy()[:, 1], atol=1e-5))
    True
    """
    relu = check_bool(relu, "relu")
    pool, dense = find_cam_head(model, output)
    if layer is not None:
        ref = find_layer(model, layer)
        feeding = _skip_back_to_map(model, pool)
        if ref.layer not in feeding:
            raise ValueError(f"`layer`: CAM reads the maps entering {pool.name!r}; {ref.name!r} is a "
                             "different layer. Leave `layer=None`, or use cvkit.explain.grad_cam to "
                             "explain another layer.")
    req = prepare(model, images, class_index, pool, upsample, normalize, batch_size, output,
                  kind="input")
    channels = req.probe.keras_model.outputs[0].shape[-1]
    if dense.kernel.shape[0] != channels:
        raise ValueError(f"`model`: Dense {dense.name!r} has {dense.kernel.shape[0]} inputs but the "
                         f"pooled layer has {channels} channels; CAM needs them equal.")
    return compute_maps(req, _cam_map(dense, relu), gradients=False, key=("cam", id(dense), relu))


def _cam_map(dense, relu):
    """The traced map of CAM: :math:`\\sum_k w_k^c f_k` with the Dense kernel's column of each class."""
    import tensorflow as tf

    def cam_map(acts, grads, cls):
        w = tf.gather(tf.transpose(tf.cast(dense.kernel, tf.float32)), cls)   # (N, K): w_k^c
        maps = tf.einsum("nhwk,nk->nhw", acts, w)
        return tf.nn.relu(maps) if relu else maps

    return cam_map


def _skip_back_to_map(model, pool):
    """Layers whose output is the map entering ``pool`` (the producer and, through nested models,
    the layers that produce the same tensor)."""
    layers = []
    layer = _input_producer(model, pool.path, pool.layer)
    while layer is not None:
        layers.append(layer)
        if is_container(layer):
            layer = output_layer(layer, 0)
        else:
            break
    return layers
