r"""The three terms of F-CAM's training loss (Belharbi et al., WACV 2022, Eq. 5):

.. math::
    \mathcal{L} = \alpha\, \mathcal{H}_{seeds}(S) + \lambda_{crf}\, \mathcal{R}_{crf}(S, X)
                  + \lambda_{size} \sum_{c \in \{bg, fg\}} \psi_t\Big(-\sum_p S_c(p)\Big)

- :func:`partial_cross_entropy`: the cross-entropy on the seed pixels only;
- :func:`crf_loss`: the dense CRF loss of Tang et al. (2018), :math:`-\sum_c S_c^\top W S_c` with the
  Gaussian bilateral kernel :math:`W`, which pulls pixels of similar colour near each other to the
  same label; computed exactly on a down-sampled grid (:func:`crf_loss_dense` is the direct O(N^2)
  NumPy version it is tested against);
- :func:`size_loss`: the absolute size constraint on both maps through the log-barrier extension
  :func:`log_barrier` (Kervadec et al. 2019), so that neither map empties.

Shown in ``notebooks/09_fcam.ipynb``.
"""
from __future__ import annotations

import numpy as np

from ..._validate import as_array, check_float, check_int

__all__ = ["partial_cross_entropy", "bilateral_kernel", "crf_loss", "crf_loss_dense",
           "log_barrier", "size_loss", "CRF_REFERENCE"]

#: The reference CRF settings: on 0-255 RGB at 224 px, sigma_rgb 15, sigma_xy 100, lambda 2e-9.
CRF_REFERENCE = {"sigma_rgb": 15.0, "sigma_xy": 100.0, "weight": 2e-9, "size": 224}


def _same_size(a, b, name_a, name_b):
    """Raise unless the static (N, H, W) of two tensors agree (where known)."""
    sa, sb = tuple(a.shape[:3]), tuple(b.shape[:3])
    if any(x is not None and y is not None and x != y for x, y in zip(sa, sb)):
        raise ValueError(f"`{name_a}` {tuple(a.shape)} and `{name_b}` {tuple(b.shape)} must have the "
                         "same (N, H, W): resize the maps to the images first.")


def partial_cross_entropy(probs, fg, bg, eps=1e-7):
    r"""Cross-entropy on the seed pixels only, every other pixel ignored:

    .. math:: \mathcal{H} = -\frac{1}{|\Omega_s|}\sum_{p \in \Omega_s} \log S_{y_p}(p)

    with :math:`y_p` = 1 on foreground seeds, 0 on background seeds.

    Parameters
    ----------
    probs : tf.Tensor, (N, H, W, 2)
        The decoder's softmax (background, foreground).
    fg, bg : tf.Tensor, (N, H, W)
        0 / 1 seed masks.
    eps : float
        Floor of the probabilities in the log.

    Returns
    -------
    tf.Tensor
        Scalar; 0 when there is no seed.

    Examples
    --------
    >>> import tensorflow as tf
    >>> p = tf.constant([[[[0.5, 0.5], [0.2, 0.8]]]])      # two pixels
    >>> fg, bg = tf.constant([[[0.0, 1.0]]]), tf.constant([[[1.0, 0.0]]])
    >>> round(float(partial_cross_entropy(p, fg, bg)), 6)  # -(log 0.5 + log 0.8) / 2
    0.458145
    """
    import tensorflow as tf

    probs, fg, bg = (tf.convert_to_tensor(v, tf.float32) for v in (probs, fg, bg))
    _same_size(probs, fg, "probs", "fg")
    _same_size(probs, bg, "probs", "bg")
    logp = tf.math.log(tf.maximum(probs, eps))
    total = -tf.reduce_sum(fg * logp[..., 1] + bg * logp[..., 0])
    return total / tf.maximum(tf.reduce_sum(fg + bg), 1.0)


def _to_grid(x, grid):
    """Average (N, H, W, C) onto grid x grid cells (differentiable; exact block means when the
    side is a multiple of the grid, an anti-aliased resize otherwise)."""
    import tensorflow as tf

    h, w = x.shape[1], x.shape[2]
    if h is not None and w is not None and h % grid == 0 and w % grid == 0:
        return tf.nn.avg_pool2d(x, (h // grid, w // grid), (h // grid, w // grid), "VALID")
    return tf.image.resize(x, (grid, grid), method="bilinear", antialias=True)


def _grid_features(images, grid, sigma_rgb, sigma_xy):
    """(N, g*g, 5) features (x / sigma_xy, y / sigma_xy, RGB / sigma_rgb) of the images averaged
    onto a grid x grid; sigma_xy is in pixels of the image and is rescaled to the grid here."""
    import tensorflow as tf

    h = tf.shape(images)[1]
    small = _to_grid(images, grid) * 255.0
    step = tf.cast(h, tf.float32) / grid                       # image pixels per grid cell
    yy, xx = tf.meshgrid(tf.range(grid, dtype=tf.float32), tf.range(grid, dtype=tf.float32),
                         indexing="ij")
    xy = tf.stack([xx, yy], -1) * step / sigma_xy               # positions in image pixels
    xy = tf.broadcast_to(xy[None], (tf.shape(images)[0], grid, grid, 2))
    f = tf.concat([xy, small / sigma_rgb], -1)
    return tf.reshape(f, (tf.shape(images)[0], grid * grid, 5))


def bilateral_kernel(features):
    r""":math:`W_{ij} = \exp\big(-\tfrac12 \|f_i - f_j\|^2\big)` for (N, P, D) scaled features.

    Examples
    --------
    >>> import tensorflow as tf
    >>> w = bilateral_kernel(tf.constant([[[0.0], [1.0]]]))[0].numpy()
    >>> np.round(w, 4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]], dtype=float32)
    """
    import tensorflow as tf

    sq = tf.reduce_sum(features ** 2, -1)
    d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * tf.matmul(features, features, transpose_b=True)
    return tf.exp(-0.5 * tf.maximum(d2, 0.0))


def crf_loss(probs, images, sigma_rgb=15.0, sigma_xy=100.0, weight=5.0, grid=32):
    r"""The dense CRF loss of Tang et al. (2018), exact on a ``grid`` x ``grid`` down-sampling:

    .. math:: \mathcal{R} = -\frac{\lambda}{N}\sum_{n}\sum_{c} S_c^\top W S_c, \qquad
              W_{ij} = \exp\Big(-\frac{\|p_i - p_j\|^2}{2\sigma_{xy}^2}
                                -\frac{\|I_i - I_j\|^2}{2\sigma_{rgb}^2}\Big)

    with :math:`p` pixel positions, :math:`I` colours in 0-255 and :math:`N` the batch size.
    Maps and images are averaged onto the grid (block means); ``sigma_xy`` stays
    in image pixels (each grid cell is ``H / grid`` pixels). The sum has :math:`P^2` terms for
    :math:`P` cells, so the weight is given normalised: :math:`\lambda = w / P^2`. The reference
    :math:`\lambda = 2\cdot10^{-9}` at :math:`P = 224^2` is :math:`w = 2\cdot10^{-9}\cdot 224^4
    \approx 5.0` (the default), and keeps that meaning on any grid. The reference scale of
    ``sigma_xy`` is 100 pixels at 224 px: pass ``100 * H / 224`` for images of side H to keep it.

    Parameters
    ----------
    probs : tf.Tensor, (N, H, W, C)
        Softmax maps.
    images : tf.Tensor, (N, H, W, 3)
        Images in [0, 1].
    sigma_rgb, sigma_xy : float
    weight : float
        :math:`w`, the weight normalised by the number of pairs.
    grid : int
        Side of the grid (memory :math:`N P^2` floats: 4 MB per image at 32).

    Returns
    -------
    tf.Tensor
        Scalar (negative: lower is better).

    Examples
    --------
    A map that follows the colours scores lower than one that cuts a colour region in two:

    >>> import tensorflow as tf
    >>> img = np.zeros((1, 16, 16, 3), np.float32)
    >>> img[:, :, 8:] = 1.0                                    # white right half
    >>> good = np.stack([1 - img[..., 0], img[..., 0]], -1)    # foreground = the white half
    >>> bad = np.roll(good, 4, axis=2)
    >>> lo = float(crf_loss(tf.constant(good), tf.constant(img), grid=8))
    >>> hi = float(crf_loss(tf.constant(bad), tf.constant(img), grid=8))
    >>> lo < hi
    True
    """
    import tensorflow as tf

    grid = check_int(grid, "grid", minimum=2)
    probs, images = tf.convert_to_tensor(probs, tf.float32), tf.convert_to_tensor(images, tf.float32)
    _same_size(probs, images, "probs", "images")
    feats = _grid_features(images, grid, sigma_rgb, sigma_xy)
    w = bilateral_kernel(feats)                                 # (N, P, P)
    s = _to_grid(tf.cast(probs, tf.float32), grid)
    s = tf.reshape(s, (tf.shape(s)[0], grid * grid, -1))         # (N, P, C)
    quad = tf.reduce_sum(s * tf.matmul(w, s), axis=(1, 2))     # sum_c S_c^T W S_c per image
    pairs = float(grid * grid) ** 2
    return -weight / pairs * tf.reduce_mean(quad)


def crf_loss_dense(probs, images, sigma_rgb=15.0, sigma_xy=100.0, weight=5.0):
    r"""The same CRF loss written directly over all pixel pairs in NumPy, O(P^2) in time and memory:
    the teaching version, for small images (and the reference :func:`crf_loss` is tested against,
    with ``grid`` equal to the image side).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.dirichlet([1, 1], size=(1, 6, 6)).astype(np.float32)
    >>> x = rng.random((1, 6, 6, 3)).astype(np.float32)
    >>> import tensorflow as tf
    >>> bool(np.isclose(crf_loss_dense(p, x), float(crf_loss(p, x, grid=6)), rtol=1e-4))
    True
    """
    p = as_array(probs, "probs", ndim=4, kind="float", dtype=np.float64)
    x = as_array(images, "images", ndim=4, kind="float", dtype=np.float64)
    if p.shape[:3] != x.shape[:3]:
        raise ValueError(f"`probs` {p.shape} and `images` {x.shape} must share (N, H, W).")
    sigma_rgb = check_float(sigma_rgb, "sigma_rgb", 0.0, strict_min=True)
    sigma_xy = check_float(sigma_xy, "sigma_xy", 0.0, strict_min=True)
    n, h, w_, c = p.shape
    yy, xx = np.mgrid[:h, :w_]
    pos = np.stack([xx, yy], -1).reshape(-1, 2) / sigma_xy
    total = 0.0
    for i in range(n):                                  # a loop over images, not over pixels
        f = np.concatenate([pos, x[i].reshape(-1, 3) * 255.0 / sigma_rgb], 1)
        d2 = ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1)
        s = p[i].reshape(-1, c)
        total += float(np.einsum("pc,pq,qc->", s, np.exp(-0.5 * d2), s))
    return -weight / float(h * w_) ** 2 * total / n


def log_barrier(z, t):
    r"""The log-barrier extension :math:`\tilde\psi_t(z)` of the constraint :math:`z \le 0`
    (Kervadec et al. 2019), a smooth, everywhere-defined stand-in for :math:`-\frac1t\log(-z)`:

    .. math::
        \tilde\psi_t(z) = \begin{cases} -\frac1t \log(-z) & z \le -\frac{1}{t^2} \\
                         t z - \frac1t \log\frac{1}{t^2} + \frac1t & \text{otherwise} \end{cases}

    The two pieces meet with the same value and slope at :math:`z = -1/t^2`; a larger :math:`t`
    approaches the hard constraint.

    Examples
    --------
    >>> import tensorflow as tf
    >>> z = tf.constant([-4.0, -1.0, 0.0, 2.0])
    >>> [round(float(v), 4) for v in log_barrier(z, 1.0)]   # -log 4, 0, then the line z + 1
    [-1.3863, -0.0, 1.0, 3.0]
    """
    import tensorflow as tf

    z = tf.convert_to_tensor(z, tf.float32)
    t = tf.cast(t, tf.float32)
    inside = z <= -1.0 / t ** 2
    barrier = -tf.math.log(tf.where(inside, -z, 1.0)) / t
    line = t * z - tf.math.log(1.0 / t ** 2) / t + 1.0 / t
    return tf.where(inside, barrier, line)


def size_loss(probs, t):
    r"""The absolute size constraint of every map, :math:`z_c = -\sum_p S_c(p) \le 0` (no map may
    empty), through :func:`log_barrier`: :math:`\sum_c \tilde\psi_t(z_c)`, averaged over the batch.
    The barrier rewards a larger area weakly (:math:`-\frac1t \log` of it) and steeply once a map's
    area falls under :math:`1/t^2` pixels.

    Examples
    --------
    >>> import tensorflow as tf
    >>> p = np.full((1, 2, 2, 2), 0.5, np.float32)          # each map sums to 2
    >>> round(float(size_loss(tf.constant(p), 1.0)), 4)     # 2 x (-log 2)
    -1.3863
    """
    import tensorflow as tf

    z = -tf.reduce_sum(tf.cast(probs, tf.float32), axis=(1, 2))        # (N, C)
    return tf.reduce_mean(tf.reduce_sum(log_barrier(z, t), axis=-1))
