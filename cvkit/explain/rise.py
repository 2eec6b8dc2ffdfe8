r"""Perturbation methods: the class score of masked copies of the image decides the map.

- :func:`rise` (Petsiuk et al. 2018) is black-box: random masks, no layer needed.
- :func:`score_cam` (Wang et al. 2020) masks the image with the up-sampled activation maps of a layer.

Both run the masked copies through a compiled forward pass in chunks of ``batch_size``, so memory is
bounded by ``batch_size`` whatever the number of masks. Shown in ``notebooks/03_gradcam_deep_dive.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_float, check_int, check_seed, check_size
from ._core import check_scores, finish, fix_classes, model_errors, prepare, run_pass

__all__ = ["rise", "rise_masks", "score_cam"]


def _class_prob(logits, cls):
    """Probability of class ``cls`` from logits: softmax, or sigmoid for a single-unit output."""
    import tensorflow as tf

    if logits.shape[-1] == 1:
        return tf.sigmoid(logits[:, 0])
    return tf.nn.softmax(logits, axis=-1)[:, cls]


def _upsample_crop(grids, shifts, height, width):
    """Bilinearly up-sample (B, s, s) grids to ((s+1) C_h, (s+1) C_w), C = ceil(size / s), and crop
    an (height, width) window at each mask's own shift."""
    import tensorflow as tf

    s = tf.shape(grids)[1]
    ch = (height + s - 1) // s
    cw = (width + s - 1) // s
    up = tf.image.resize(grids[..., None], tf.stack([(s + 1) * ch, (s + 1) * cw]),
                         method="bilinear")[..., 0]
    rows = shifts[:, 0:1] + tf.range(height)[None, :]
    cols = shifts[:, 1:2] + tf.range(width)[None, :]
    up = tf.gather(up, rows, axis=1, batch_dims=1)
    return tf.gather(up, cols, axis=2, batch_dims=1)


def _no_resize(req):
    """RISE maps are at the image size already: finish them without resizing."""
    from dataclasses import replace

    return replace(req, upsample=None)


def _rise_fn(probe):
    """Compiled: (image, grids, shifts, class) -> (sum_i P_c(I * M_i) M_i, sum_i M_i)."""
    import tensorflow as tf

    def build():
        def run(image, grids, shifts, cls):
            probe.traces += 1
            h, w = tf.shape(image)[0], tf.shape(image)[1]
            masks = _upsample_crop(grids, shifts, h, w)                   # (B, H, W)
            logits = probe.forward(image[None] * masks[..., None])[1]
            p = _class_prob(logits, cls)                                  # (B,)
            return tf.tensordot(p, masks, axes=1), tf.reduce_sum(masks, axis=0)

        return tf.function(run, input_signature=[
            tf.TensorSpec(probe.input_shape[1:], tf.float32),
            tf.TensorSpec((None, None, None), tf.float32), tf.TensorSpec((None, 2), tf.int32),
            tf.TensorSpec((), tf.int32)])

    return probe.compiled("rise", build)


def rise_masks(n_masks, image_size, grid_size=7, p=0.5, seed=0, start=0, stop=None):
    r"""The RISE masks :math:`M_i` (Petsiuk et al. 2018, Sec. 3.2), the same ones :func:`rise` uses.

    Each mask is a random binary :math:`s \times s` grid (a cell is 1 with probability ``p``),
    bilinearly up-sampled to :math:`(s+1) C_H \times (s+1) C_W` with :math:`C = \lceil \text{size}/s
    \rceil` and cropped to the image size at a random shift in :math:`[0, C_H) \times [0, C_W)`.
    The grids and shifts are drawn at once from ``seed`` so that mask ``i`` does not depend on the
    batch size; ``start``/``stop`` return a slice of them (``0 <= start < stop <= n_masks``).
    ``grid_size`` is at most the image's longer side (or the paper's 7 for smaller images): a
    larger grid has cells below one pixel and would only allocate ``n_masks * grid_size ** 2``
    random numbers for nothing.

    Returns
    -------
    np.ndarray
        float32 (stop - start, H, W) in [0, 1].

    Examples
    --------
    >>> m = rise_masks(100, (28, 28), grid_size=7, p=0.5, seed=0)
    >>> m.shape, float(m.min()) >= 0.0, float(m.max()) <= 1.0
    ((100, 28, 28), True, True)
    >>> round(float(m.mean()), 1)                 # E[M] = p
    0.5
    >>> bool(np.array_equal(m[10:20], rise_masks(100, (28, 28), seed=0, start=10, stop=20)))
    True
    """
    grids, shifts, (h, w) = _draw(n_masks, image_size, grid_size, p, seed)
    start = check_int(start, "start", 0, n_masks - 1)
    stop = n_masks if stop is None else check_int(stop, "stop", start + 1, n_masks)
    return _upsample_crop(grids[start:stop], shifts[start:stop], h, w).numpy()


def _draw(n_masks, image_size, grid_size, p, seed):
    n_masks = check_int(n_masks, "n_masks", 1)
    h, w = check_size(image_size, "image_size")
    grid_size = check_int(grid_size, "grid_size", 1, max(h, w, 7))   # cells of a pixel or more
    p = check_float(p, "p", 0.0, 1.0, strict_min=True)
    seed = check_seed(seed, allow_none=False)
    rng = np.random.default_rng(seed)
    grids = (rng.random((n_masks, grid_size, grid_size)) < p).astype(np.float32)
    ch, cw = -(-h // grid_size), -(-w // grid_size)
    shifts = np.stack([rng.integers(0, ch, n_masks), rng.integers(0, cw, n_masks)], 1).astype(np.int32)
    return grids, shifts, (h, w)


def rise(model, images, class_index=None, layer=None, upsample=True, normalize=True, n_masks=4000,
         grid_size=7, p=0.5, batch_size=64, seed=0, output=None):
    r"""RISE: Randomized Input Sampling for Explanation (Petsiuk et al. 2018, Eq. 6).

    .. math:: S_{I,f}(\lambda) = \frac{1}{\mathbb{E}[M]\,N} \sum_{i=1}^{N} f(I \odot M_i)\, M_i(\lambda)

    :math:`f(I \odot M_i)` is the softmax probability of the class for the image masked by
    :math:`M_i` (masks from :func:`rise_masks`), :math:`\mathbb{E}[M] = p`. Black box: no layer and no
    gradient, only forward passes, ``batch_size`` masked copies at a time (memory is bounded by
    ``batch_size``, not by ``n_masks``). The same ``seed`` gives the same masks and the same map.

    Parameters
    ----------
    model : keras.Model
    images : array-like (N, H, W, C) or (H, W, C), uint8 or float in [0, 1], or tf.data.Dataset
    class_index : None, int or sequence of int
        None explains each image's predicted class.
    layer : None
        RISE reads no layer; accepted (and must be None) so that every method takes the same
        arguments.
    upsample : bool or str
        Ignored for the size (the map is already at the image size); accepted so that every method
        has the same signature.
    normalize : bool
        Min-max normalise each map to [0, 1].
    n_masks : int
        Number of random masks N (the paper uses 4000 for ResNet-50 on ImageNet).
    grid_size : int
        Side s of the random binary grid (7 in the paper).
    p : float
        Probability that a grid cell is kept, in (0, 1].
    batch_size : int
        Masked copies per forward pass.
    seed : int
        Seed of the masks.
    output : None, int or str
        The output that scores the classes, for a model with several outputs.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> import keras
    >>> from cvkit.models import small_cnn
    >>> keras.utils.set_random_seed(0)
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> x = np.random.default_rng(0).random((16, 16, 3))
    >>> s = rise(model, x, n_masks=64, batch_size=32, seed=1)
    >>> s.shape, bool(np.allclose(s, rise(model, x, n_masks=64, batch_size=16, seed=1), atol=1e-5))
    ((16, 16), True)
    """
    if layer is not None:
        raise ValueError(f"`layer`: RISE is a black-box method and reads no layer; got {layer!r}. "
                         "Leave it None (or use score_cam / grad_cam to explain a layer).")
    req = fix_classes(prepare(model, images, class_index, None, upsample, normalize, batch_size,
                              output, scores_only=True))
    grids, shifts, _ = _draw(n_masks, req.size, grid_size, p, seed)
    fn = _rise_fn(req.probe)
    maps = np.zeros(req.x.shape[:3], np.float64)
    with model_errors(req):
        for i, (img, c) in enumerate(zip(req.x, req.class_index)):
            for s in range(0, n_masks, req.batch_size):
                part, _ = fn(img, grids[s:s + req.batch_size], shifts[s:s + req.batch_size],
                             np.int32(c))
                maps[i] += part.numpy()
    check_scores(maps, "class scores on the masked copies", req.name)
    maps /= n_masks * p
    return finish(_no_resize(req), maps)


def _score_cam_fn(probe):
    """Compiled: (image, maps (B, h, w), class) -> P_c(I * norm(up(A^k))) for each of the B maps."""
    import tensorflow as tf

    def build():
        def run(image, maps, cls):
            probe.traces += 1
            size = tf.shape(image)[:2]
            up = tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]
            lo = tf.reduce_min(up, axis=(1, 2), keepdims=True)
            hi = tf.reduce_max(up, axis=(1, 2), keepdims=True)
            rng = hi - lo
            masks = tf.where(rng > 0, (up - lo) / tf.where(rng > 0, rng, 1.0), 0.0)
            logits = probe.forward(image[None] * masks[..., None])[1]
            return _class_prob(logits, cls)

        return tf.function(run, input_signature=[
            tf.TensorSpec(probe.input_shape[1:], tf.float32),
            tf.TensorSpec((None, None, None), tf.float32), tf.TensorSpec((), tf.int32)])

    return probe.compiled("score_cam", build)


def score_cam(model, images, class_index=None, layer=None, upsample=True, normalize=True,
              batch_size=32, output=None):
    r"""Score-CAM (Wang et al. 2020, Eqs. 5-8): each channel is weighted by the class score of the
    image masked with that channel's own map, no gradient involved.

    .. math::
        H^k = s\big(\mathrm{Up}(A^k)\big), \quad \alpha_k^c = f_c(X \circ H^k), \quad
        L^c_{Score-CAM} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)

    :math:`\mathrm{Up}` is bilinear up-sampling to the image size, :math:`s` min-max normalisation to
    [0, 1] (a constant channel gives an all-zero mask) and :math:`f_c` the softmax probability of
    class :math:`c` (as in the authors' code, without subtracting a baseline score). Costs one forward
    pass per channel and image (1280 for MobileNetV2), ``batch_size`` at a time, so memory is bounded
    by ``batch_size``.

    Parameters
    ----------
    model, images, class_index, layer, upsample, normalize, batch_size, output
        As in :func:`cvkit.explain.grad_cam`.

    Returns
    -------
    np.ndarray
        float32 (N, H, W), or (H, W) for a single image.

    Examples
    --------
    >>> import keras
    >>> from cvkit.models import small_cnn
    >>> keras.utils.set_random_seed(0)
    >>> model = small_cnn(2, (16, 16, 3), widths=(4, 4, 4, 4))
    >>> m = score_cam(model, np.random.default_rng(0).random((2, 16, 16, 3)), layer="conv3")
    >>> m.shape, float(m.min()) >= 0.0
    ((2, 16, 16), True)
    """
    req = prepare(model, images, class_index, layer, upsample, normalize, batch_size, output)
    res = run_pass(req, gradients=False)        # the activations and the class of the clean image
    fn = _score_cam_fn(req.probe)
    bs = req.batch_size
    maps = np.zeros(res.activations.shape[:3], np.float64)
    finite = np.ones(len(maps), bool)
    for i, (img, acts, c) in enumerate(zip(req.x, res.activations, res.class_index)):
        chans = np.ascontiguousarray(np.moveaxis(acts, -1, 0))        # (K, h, w)
        with model_errors(req):
            weights = np.concatenate([fn(img, chans[s:s + bs], np.int32(c)).numpy()
                                      for s in range(0, len(chans), bs)])
        finite[i] = np.all(np.isfinite(weights))
        maps[i] = np.maximum(np.tensordot(weights.astype(np.float64), chans.astype(np.float64), 1), 0)
    check_scores(np.where(finite, 0.0, np.nan)[:, None], "class scores on the masked copies",
                 req.name)
    return finish(req, maps)
