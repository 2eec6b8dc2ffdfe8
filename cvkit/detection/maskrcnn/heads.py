r"""The networks of the small Mask R-CNN: backbone, RPN head, ROI Align in the graph, box head and
mask head.

* :func:`backbone_s8`: a ResNet of :func:`cvkit.models.residual_block` blocks with output stride 8
  (a 16 x 16 map for a 128 px image): the objects of ``shapes`` are 14-60 px, one to eight cells,
  so a single stride-8 level serves them all and an FPN would add cost for no gain.
* :func:`rpn_head`: a shared 3 x 3 convolution, then per anchor one objectness logit and four deltas.
* :func:`roi_align_graph`: ROI Align as a TensorFlow graph op (the formula of
  :func:`cvkit.detection.roi_align`, computed like :func:`cvkit.detection.roi_align_tf`).
* :func:`box_head`: two fully connected layers on the 7 x 7 ROI features, then the class logits
  (background + K) and per-class deltas.
* the mask head is :func:`cvkit.models.mask_head` (14 -> 28, one logit per class).

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import keras
from keras import layers

from ..._validate import check_int
from ._checks import check_shape

__all__ = ["backbone_s8", "rpn_head", "box_head", "roi_align_graph"]


def backbone_s8(input_shape=(128, 128, 3), width=32):
    """A small ResNet with output stride 8.

    Stem 3 x 3 conv (``width``, stride 2) - BN - ReLU, then residual blocks with ``2w`` (stride 2),
    ``4w`` (stride 2) and ``4w`` (stride 1) channels: (N, H, W, 3) -> (N, H/8, W/8, 4w), receptive
    field 71 px. Its BatchNorm layers are ``synchronized``: under a ``tf.distribute`` strategy the
    batch statistics are those of the global batch, so training on several replicas equals training
    on one device.

    Examples
    --------
    >>> backbone_s8((64, 64, 3), width=4).output.shape
    (None, 8, 8, 16)
    """
    from ...models import residual_block

    width = check_int(width, "width", minimum=1)
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for i, (mult, stride) in enumerate(((2, 2), (4, 2), (4, 1)), start=1):
        x = residual_block(x, mult * width, stride=stride, name=f"res{i}")
    model = keras.Model(inputs, x, name="backbone")
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.synchronized = True
    return model


def rpn_head(channels, n_anchors, hidden=128):
    """The region proposal head: 3 x 3 conv (``hidden``, ReLU), then 1 x 1 convs to one objectness
    logit and four deltas per anchor.

    Returns
    -------
    keras.Model
        (N, h, w, channels) -> [(N, h, w, k) logits, (N, h, w, 4k) deltas], ``k = n_anchors``;
        reshaped to (N, h w k) and (N, h w k, 4) they follow the order of
        :func:`cvkit.detection.anchors`.

    Examples
    --------
    >>> [tuple(o.shape) for o in rpn_head(16, 3, hidden=8).outputs]
    [(None, None, None, 3), (None, None, None, 12)]
    """
    channels, n_anchors, hidden = (check_int(v, k, minimum=1) for v, k in (
        (channels, "channels"), (n_anchors, "n_anchors"), (hidden, "hidden")))
    inputs = keras.Input(shape=(None, None, channels), name="features")
    x = layers.Conv2D(hidden, 3, padding="same", activation="relu", name="rpn_conv")(inputs)
    logits = layers.Conv2D(n_anchors, 1, name="rpn_logits")(x)
    deltas = layers.Conv2D(4 * n_anchors, 1, name="rpn_deltas",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))(x)
    return keras.Model(inputs, [logits, deltas], name="rpn_head")


def box_head(pool_size, channels, num_classes, hidden=256):
    """The box head of Fast R-CNN: flatten, two fully connected layers (``hidden``, ReLU), then
    ``num_classes + 1`` class logits (0 = background) and 4 deltas per class.

    Returns
    -------
    keras.Model
        (R, p, p, channels) -> [(R, K + 1) logits, (R, K + 1, 4) deltas].

    Examples
    --------
    >>> [tuple(o.shape) for o in box_head(7, 16, 4, hidden=8).outputs]
    [(None, 5), (None, 5, 4)]
    """
    pool_size, channels, num_classes, hidden = (check_int(v, k, minimum=1) for v, k in (
        (pool_size, "pool_size"), (channels, "channels"), (num_classes, "num_classes"),
        (hidden, "hidden")))
    inputs = keras.Input(shape=(pool_size, pool_size, channels), name="roi_features")
    x = layers.Flatten(name="box_flatten")(inputs)
    x = layers.Dense(hidden, activation="relu", name="box_fc1")(x)
    x = layers.Dense(hidden, activation="relu", name="box_fc2")(x)
    logits = layers.Dense(num_classes + 1, name="box_logits")(x)
    deltas = layers.Dense(4 * (num_classes + 1), name="box_deltas",
                          kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))(x)
    deltas = layers.Reshape((num_classes + 1, 4), name="box_deltas_per_class")(deltas)
    return keras.Model(inputs, [logits, deltas], name="box_head")


def roi_align_graph(features, boxes, box_indices, output_size, spatial_scale=1.0,
                    sampling_ratio=2):
    r"""ROI Align in the TensorFlow graph (differentiable in ``features``).

    Each bin of the ROI :math:`[x_0, x_1) \times [y_0, y_1)` (map coordinates ``boxes *
    spatial_scale``) averages ``sampling_ratio``\ :sup:`2` bilinear samples at
    :math:`x = x_0 + (j + \tfrac{u + 1/2}{n})\,b_w`, pixel centres at :math:`i + \tfrac12`, edge
    values beyond the outer centres: the formula of :func:`cvkit.detection.roi_align`, computed with
    ``tf.image.crop_and_resize`` on the map padded by one replicated cell, then an ``n x n``
    average pool. No input checks: the boxes must lie inside the map (the proposal layer clips
    them).

    Parameters
    ----------
    features : tf.Tensor (B, H, W, C)
    boxes : tf.Tensor (R, 4) pixel xyxy
    box_indices : int tf.Tensor (R,), the map of the batch each box reads
    output_size : int
    spatial_scale : float, 1 / stride
    sampling_ratio : int

    Returns
    -------
    tf.Tensor (R, output_size, output_size, C)

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from cvkit.detection import roi_align
    >>> f = np.random.default_rng(0).random((1, 12, 14, 3)).astype(np.float32)
    >>> rois = np.array([[1.3, 2.2, 10.7, 9.1], [0, 0, 14, 12]], np.float32)
    >>> out = roi_align_graph(tf.constant(f), tf.constant(rois), tf.zeros(2, tf.int32), 3)
    >>> bool(np.allclose(out.numpy(), roi_align(f, rois, (3, 3), batch_indices=[0, 0]), atol=1e-5))
    True
    """
    import tensorflow as tf

    n = int(sampling_ratio)
    size = int(output_size)
    f = check_shape(features, "features", 4)
    boxes = check_shape(boxes, "boxes", 2, 4)
    h = tf.cast(tf.shape(f)[1], f.dtype)
    w = tf.cast(tf.shape(f)[2], f.dtype)
    m = tf.cast(boxes, f.dtype) * spatial_scale
    fp = tf.pad(f, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    bw = (m[:, 2] - m[:, 0]) / size
    bh = (m[:, 3] - m[:, 1]) / size
    # first and last sample as an index of the padded map (+1 for the pad, -1/2 for the centres)
    x_first = m[:, 0] + 0.5 / n * bw + 0.5
    x_last = m[:, 2] - 0.5 / n * bw + 0.5
    y_first = m[:, 1] + 0.5 / n * bh + 0.5
    y_last = m[:, 3] - 0.5 / n * bh + 0.5
    crop_boxes = tf.stack([y_first / (h + 1), x_first / (w + 1), y_last / (h + 1),
                           x_last / (w + 1)], axis=1)
    crops = tf.image.crop_and_resize(fp, crop_boxes, tf.cast(box_indices, tf.int32),
                                     (size * n, size * n))
    if n > 1:
        crops = tf.nn.avg_pool2d(crops, n, n, "VALID")
    return crops
