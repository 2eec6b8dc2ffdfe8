"""Cluster-based segmentation: k-means on pixel colours (k-means++ start), SLIC superpixels.

As in the course, an image ``(H, W, C)`` becomes a table of ``H*W`` pixels with ``C`` features
(optionally with the pixel position ``(x, y)`` appended, scaled by ``spatial_weight``); k-means groups
the rows and every pixel is repainted with its cluster's mean colour.

Shown in ``notebooks/06_classic_segmentation.ipynb``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_array, check_float, check_int, check_seed

__all__ = ["kmeans_plus_plus", "kmeans", "KMeansSegmentation", "kmeans_segment", "slic_superpixels",
           "pixel_features"]


#: most k-means starts (each is a full run of Lloyd's iterations)
MAX_N_INIT = 1000


def _as_points(X, name="X"):
    return as_array(X, name, ndim=2, kind="float", dtype=np.float64, empty_ok=False,
                    hint="(a table of points N x D: reshape an image with image.reshape(-1, C))")


def _centred(X):
    """``(X - m) / s`` with ``m`` the mean point and ``s`` the largest centred coordinate, and
    ``(m, s)``. Distances keep their order under this map, and the expansion
    :math:`\\|x\\|^2 - 2 c \\cdot x + \\|c\\|^2` no longer cancels digits when the data sit far from the
    origin (two clusters 1 apart at an offset of 3e3 are resolved as at the origin)."""
    m = X.mean(axis=0)
    Xc = X - m
    s = float(np.max(np.abs(Xc))) or 1.0
    Xc /= s
    return Xc, m, s


#: points per block of the assignment: its (K, block) distances stay in the CPU's cache
ASSIGN_BLOCK = 32768


def _assign(XTa, C, work=None):
    """Nearest centre of every point, and :math:`\\|x - c\\|^2 - \\|x\\|^2` for it.

    Uses :math:`\\arg\\min_j \\|x - c_j\\|^2 = \\arg\\min_j (\\|c_j\\|^2 - 2 c_j \\cdot x)`: per block of
    :data:`ASSIGN_BLOCK` points, one product of the centres with the points augmented by a row of
    ones, ``XTa`` (D + 1, N), then a running minimum over the K rows (contiguous passes, faster
    than ``argmin`` across a short axis; ties go to the first centre, as ``argmin``). Blocks keep
    the K rows in the cache; ``work``, a dict kept across the iterations of one run, holds the
    buffers (a fresh array per call costs its page faults). The returned distances live in it
    (valid until the next call)."""
    work = {} if work is None else work
    k, n = C.shape[0], XTa.shape[1]
    small = np.int8 if k <= 127 else np.int16 if k <= 32767 else np.int64
    if work.get("shape") != (k, n):
        b = min(n, ASSIGN_BLOCK)
        work.update(shape=(k, n), S=np.empty((k, b)), best=np.empty(n), closer=np.empty(b, bool),
                    labels=np.empty(n, small), tmp=np.empty(b, small))
    S, best, closer, labels, tmp = (work[key] for key in ("S", "best", "closer", "labels", "tmp"))
    Ca = np.concatenate([-2.0 * C, np.einsum("kd,kd->k", C, C)[:, None]], axis=1)
    labels.fill(0)
    for start in range(0, n, S.shape[1]):  # blocks of points, each fully vectorised
        m = min(S.shape[1], n - start)
        Sb, bb, lb, cb, tb = S[:, :m], best[start:start + m], labels[start:start + m], \
            closer[:m], tmp[:m]
        np.matmul(Ca, XTa[:, start:start + m], out=Sb)
        np.copyto(bb, Sb[0])
        for j in range(1, k):  # the K centres, one vectorised pass each
            np.less(Sb[j], bb, out=cb)
            np.minimum(bb, Sb[j], out=bb)
            np.subtract(small(j), lb, out=tb)     # labels = where(closer, j, labels), branch-free
            np.multiply(tb, cb, out=tb)
            lb += tb
    return labels.astype(np.intp), best


def kmeans_plus_plus(X, k, seed=0):
    """k-means++ initial centres (Arthur & Vassilveritskii, 2007).

    The first centre is a random point; each next one is drawn with probability
    :math:`D(x)^2 / \\sum_x D(x)^2`, :math:`D(x)` the distance to the nearest centre chosen so far.
    One vectorised distance update per centre (a loop over ``k``, never over points).

    Parameters
    ----------
    X : array (N, D)
    k : int, 1 <= k <= N
    seed : int

    Returns
    -------
    np.ndarray (k, D)
        Rows of ``X``.

    Examples
    --------
    Two clusters 10 apart: once a point of one is chosen, the next centre is almost surely in the
    other (:math:`D^2 \\approx 200` against at most 2):

    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [10., 10.], [10., 11.], [11., 10.]])
    >>> kmeans_plus_plus(X, 2, seed=0)
    array([[11., 10.],
           [ 0.,  0.]])
    """
    X = _as_points(X)
    k = check_int(k, "k", minimum=1, maximum=X.shape[0])
    seed = check_seed(seed)
    Xs, m, s = _centred(X)
    XT = np.ascontiguousarray(Xs.T)
    idx = _kmeans_pp(XT, np.einsum("dn,dn->n", XT, XT), k, np.random.default_rng(seed))
    return X[idx]


def _kmeans_pp(XT, x2, k, rng):
    """Indices (k,) of the k-means++ starting points (columns of ``XT``); the squared distances
    :math:`\\|x\\|^2 - 2 c \\cdot x + \\|c\\|^2` (one (1, D) @ (D, N) product: the points are kept
    transposed, which BLAS handles much faster than (N, D)) into three buffers reused for every
    centre."""
    n = XT.shape[1]
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(n)
    d2, new, cums = np.empty(n), np.empty(n), np.empty(n)

    def sq_dist(idx, out):
        c = XT[:, idx:idx + 1].T
        np.matmul(c, XT, out=out[None, :])
        out *= -2.0
        out += x2
        out += np.einsum("kd,kd->k", c, c)[0]
        np.maximum(out, 0.0, out=out)

    sq_dist(chosen[0], d2)
    for i in range(1, k):
        total = d2.sum()
        if total <= 0:  # fewer distinct points than k: repeat a point
            idx = rng.integers(n)
        else:
            np.cumsum(d2, out=cums)
            idx = int(np.searchsorted(cums, rng.random() * total, side="right"))
            idx = min(idx, n - 1)
        chosen[i] = idx
        sq_dist(idx, new)
        np.minimum(d2, new, out=d2)
    return chosen


def kmeans(X, k, seed=0, n_init=1, max_iter=100, tol=1e-6):
    """Lloyd's k-means with k-means++ starts.

    Minimises the inertia :math:`J = \\sum_i \\min_j \\|x_i - c_j\\|^2` by alternating the
    assignment :math:`l_i = \\arg\\min_j \\|x_i - c_j\\|^2` and the update
    :math:`c_j = \\frac{1}{|S_j|}\\sum_{i \\in S_j} x_i` (both vectorised: one matrix product and one
    ``bincount`` per iteration). An empty cluster is moved to the point farthest from its centre.
    The distances are computed in float64 on centred, rescaled data, so clusters far from the
    origin (pixel values offset by thousands) are split as well as at the origin.

    Parameters
    ----------
    X : array (N, D)
    k : int, 1 <= k <= N
    seed : int
    n_init : int, 1 <= n_init <= MAX_N_INIT
        Starts; the lowest inertia wins.
    max_iter : int
    tol : float
        Stop when no centre moves by more than ``tol`` (relative to the data's spread).

    Returns
    -------
    centers : (k, D), labels : int (N,), inertia : float, n_iter : int

    Examples
    --------
    Two separated triangles: each centre is its triangle's mean (1/3, 1/3) or (31/3, 31/3), and
    the inertia is :math:`2 \\cdot (2 + 5 + 5)/9 = 8/3`:

    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [10., 10.], [10., 11.], [11., 10.]])
    >>> centers, labels, inertia, n_iter = kmeans(X, 2, seed=0)
    >>> np.round(centers, 4)
    array([[10.3333, 10.3333],
           [ 0.3333,  0.3333]])
    >>> labels
    array([1, 1, 1, 0, 0, 0])
    >>> round(inertia, 4)
    2.6667
    """
    X = _as_points(X)
    n = X.shape[0]
    k = check_int(k, "k", minimum=1, maximum=n)
    n_init = check_int(n_init, "n_init", minimum=1, maximum=MAX_N_INIT)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_float(tol, "tol", minimum=0.0)
    rng = np.random.default_rng(check_seed(seed))
    # everything runs on centred, scaled data in float64 (the expansion of the distance cancels
    # digits in float32 as soon as the data sit far from the origin); centres are mapped back.
    # _centred's map, written straight into the transposed points augmented for _assign:
    m = X.mean(axis=0)
    XTa = np.empty((X.shape[1] + 1, n))
    XT = XTa[:-1]
    np.subtract(X.T, m[:, None], out=XT)
    s = float(max(XT.max(), -XT.min())) or 1.0
    XT /= s
    XTa[-1] = 1.0
    x2_64 = np.einsum("dn,dn->n", XT, XT)
    scale = float(x2_64.mean()) / XT.shape[0] or 1.0  # mean per-feature variance (centred data)
    best = None
    work = {}
    for _ in range(n_init):
        C = XT[:, _kmeans_pp(XT, x2_64, k, np.random.default_rng(rng.integers(2**63 - 1)))].T
        it = 0
        for it in range(1, max_iter + 1):
            labels, part = _assign(XTa, C, work)
            counts = np.bincount(labels, minlength=k).astype(np.float64)
            sums = np.stack([np.bincount(labels, weights=XT[j], minlength=k)
                             for j in range(XT.shape[0])], axis=1)
            newC = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], C)
            empty = np.flatnonzero(counts == 0)
            if empty.size:
                far = np.argsort(-(part + x2_64))[:empty.size]
                newC[empty] = XT[:, far].T
            shift = float(np.max(np.sum((newC - C) ** 2, axis=1)))
            C = newC
            if shift <= tol * scale:
                break
        labels, _ = _assign(XTa, C, work)
        # exact inertia: sum of squared deviations from the centres, in the data's units
        inertia = float(sum(np.sum((XT[j] - C[labels, j]) ** 2) for j in range(XT.shape[0])))
        inertia *= s * s
        if best is None or inertia < best[2]:
            best = (C * s + m, labels, inertia, it)
    return best


def pixel_features(image, spatial_weight=0.0):
    """Table of pixel features (H*W, C [+ 2]): the colours, and when ``spatial_weight > 0`` the
    coordinates ``(x/W, y/H) * spatial_weight`` so that nearby pixels tend to share a cluster.

    Parameters
    ----------
    image : (H, W, C), uint8 or float in [0, 1]
        One image, not a batch.
    spatial_weight : float >= 0

    Returns
    -------
    np.ndarray float64 (H*W, C) or (H*W, C + 2)
        One row per pixel, in raster order.

    Examples
    --------
    >>> img = np.zeros((2, 2, 3))
    >>> pixel_features(img).shape
    (4, 3)
    >>> pixel_features(img, spatial_weight=1.0)[:, 3:]     # (x/W, y/H), row by row
    array([[0. , 0. ],
           [0.5, 0. ],
           [0. , 0.5],
           [0.5, 0.5]])
    """
    from .._validate import as_images

    imgs, single = as_images(image, "image")
    if not single:
        raise ValueError(f"`image` must be one image (H, W, C); got a batch of shape {imgs.shape}.")
    img = imgs[0].astype(np.float64)
    h, w, c = img.shape
    feats = img.reshape(h * w, c)
    spatial_weight = check_float(spatial_weight, "spatial_weight", minimum=0.0)
    if spatial_weight > 0:
        yy, xx = np.mgrid[0:h, 0:w]
        xy = np.stack([xx.ravel() / w, yy.ravel() / h], axis=1) * spatial_weight
        feats = np.concatenate([feats, xy], axis=1)
    return feats


@dataclass
class KMeansSegmentation:
    """Result of :func:`kmeans_segment`.

    Attributes
    ----------
    labels : int (H, W) cluster of every pixel
    centers : (k, C) mean colour of every cluster (the colour part only)
    recolored : float32 (H, W, C) every pixel painted with its cluster's mean colour
    inertia : float, sum of squared distances to the centres (in feature space)
    n_iter : int

    Examples
    --------
    >>> img = np.zeros((2, 2, 3), np.float32)
    >>> seg = kmeans_segment(img, 1)
    >>> type(seg).__name__, seg.labels.shape, seg.centers.shape, seg.recolored.shape
    ('KMeansSegmentation', (2, 2), (1, 3), (2, 2, 3))
    """

    labels: np.ndarray
    centers: np.ndarray
    recolored: np.ndarray
    inertia: float
    n_iter: int


def kmeans_segment(image, k, seed=0, spatial_weight=0.0, n_init=1, max_iter=100):
    """Segment an image by k-means on its pixels (the course's ``reshape(H*W, C)`` recipe).

    .. math:: \\min_{\\{c_j\\}} \\sum_{p} \\min_j \\| f(p) - c_j \\|^2, \\quad
        f(p) = (r, g, b[, \\lambda x/W, \\lambda y/H])

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 1), uint8 or float in [0, 1]
    k : int, 1 <= k <= H*W
    seed : int
    spatial_weight : float
        :math:`\\lambda`; 0 clusters on colour only.
    n_init, max_iter : see :func:`kmeans`

    Returns
    -------
    KMeansSegmentation

    Examples
    --------
    A 4 x 4 image, red on the left and blue on the right: two clusters, one per half, whose mean
    colours are exactly red and blue (inertia 0):

    >>> img = np.zeros((4, 4, 3), np.float32)
    >>> img[:, :2, 0] = 1.0
    >>> img[:, 2:, 2] = 1.0
    >>> seg = kmeans_segment(img, 2, seed=0)
    >>> seg.labels
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1]], dtype=int32)
    >>> seg.centers
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    >>> seg.inertia, bool(np.array_equal(seg.recolored, img))
    (0.0, True)
    """
    seed = check_seed(seed)
    feats = pixel_features(image, spatial_weight)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > feats.shape[0]:
        raise ValueError(f"`k` must be at most the number of pixels ({feats.shape[0]}); got {k}.")
    C, labels, inertia, n_iter = kmeans(feats, k, seed=seed, n_init=n_init, max_iter=max_iter)
    from .._validate import as_images

    img = as_images(image, "image")[0][0]
    h, w, c = img.shape
    colours = C[:, :c]
    return KMeansSegmentation(labels=labels.reshape(h, w).astype(np.int32),
                              centers=colours.astype(np.float32),
                              recolored=colours[labels].reshape(h, w, c).astype(np.float32),
                              inertia=inertia, n_iter=int(n_iter))


def slic_superpixels(image, n_segments=100, compactness=10.0):
    """SLIC superpixels (Achanta et al., 2012) through ``skimage.segmentation.slic``, for comparison
    with k-means: SLIC is k-means in (L*a*b*, x, y) restricted to a local window around each centre,
    so its clusters are compact and connected.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 1), uint8 or float in [0, 1]
    n_segments : int
        About how many superpixels (the initial grid).
    compactness : float > 0
        Weight of the distance in (x, y) against the colour distance: larger gives squarer cells.

    Returns
    -------
    int (H, W) labels starting at 0.

    Examples
    --------
    Black on the left, white on the right: four superpixels, none crossing the edge:

    >>> img = np.zeros((32, 32, 3), np.float32)
    >>> img[:, 16:] = 1.0
    >>> labels = slic_superpixels(img, n_segments=4)
    >>> np.unique(labels[:, :16]).tolist(), np.unique(labels[:, 16:]).tolist()
    ([0, 2], [1, 3])
    """
    from skimage.segmentation import slic

    from .._validate import as_images

    imgs, single = as_images(image, "image")
    if not single:
        raise ValueError(f"`image` must be one image (H, W, C); got a batch of shape {imgs.shape}.")
    n_segments = check_int(n_segments, "n_segments", minimum=1)
    compactness = check_float(compactness, "compactness", minimum=0.0, strict_min=True)
    img = imgs[0]
    channel_axis = -1 if img.shape[-1] == 3 else None
    src = img if channel_axis is not None else img[..., 0]
    return slic(src, n_segments=n_segments, compactness=compactness, start_label=0,
                channel_axis=channel_axis).astype(np.int32)
