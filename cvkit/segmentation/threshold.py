"""Region-based segmentation by thresholds: global (fixed or mean), Otsu, multi-level Otsu, local.

All functions take one grey image ``(H, W)`` (or ``(H, W, 1)``; an RGB ``(H, W, 3)`` image is
converted to grey with the BT.709 weights, as ``skimage.color.rgb2gray``). Thresholds are returned in
the units of the input, so that ``image > t`` is the foreground as in scikit-image: a uint8 image
gives thresholds in 0..255, a float image in its own range, a bool image is taken as 0/1.

Shown in ``notebooks/06_classic_segmentation.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_bool, check_choice, check_float, check_int, describe, to_numpy
from ._common import as_gray

#: most histogram bins: ``nbins`` of a float image, grey levels spanned by an integer image (the
#: 65536 levels of uint16); a wider integer image is refused rather than given a table that size
MAX_BINS = 2 ** 16
#: most bins of :func:`multi_otsu_thresholds`, whose exact search builds (bins x bins) tables
MAX_MULTI_OTSU_BINS = 1024

__all__ = [
    "MAX_BINS",
    "MAX_MULTI_OTSU_BINS",
    "to_gray",
    "global_threshold",
    "histogram",
    "between_class_variance",
    "otsu_threshold",
    "multi_otsu_thresholds",
    "apply_thresholds",
    "local_threshold",
]


def to_gray(image):
    """Grey version of ``image`` as float64 (``(H, W, 3)`` RGB through the BT.709 weights).

    uint8 RGB is scaled to [0, 1] first (as ``skimage.color.rgb2gray``); a grey image keeps its
    values. Raises ``ValueError`` for a batch or another rank.

    .. math:: Y = 0.2125\\,R + 0.7154\\,G + 0.0721\\,B

    Parameters
    ----------
    image : array (H, W), (H, W, 1) or (H, W, 3)

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    Pure red weighs 0.2125; a uint8 grey image keeps its 0..255 values:

    >>> red = np.zeros((1, 1, 3), np.uint8)
    >>> red[..., 0] = 255
    >>> to_gray(red)
    array([[0.2125]])
    >>> to_gray(np.array([[0, 255]], np.uint8))
    array([[  0., 255.]])
    """
    return as_gray(image).astype(np.float64, copy=False)


def global_threshold(image, threshold="mean", invert=False):
    """Split an image into foreground and background with one global threshold.

    .. math:: m(x, y) = [\\, I(x, y) > T \\,]

    the kite example of the course uses :math:`T = 0.3` with ``invert=True`` (dark kite on a light
    sky: the pixels *below* the threshold are the object).

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    threshold : float or {'mean', 'median', 'otsu'}
        A value in the units of ``image``, or how to choose it. A uint8 RGB image is thresholded
        on its grey version in [0, 1] (as ``rgb2gray``), so a value above 1 is refused there
        rather than selecting nothing.
    invert : bool
        Foreground is ``image <= T`` instead of ``image > T``.

    Returns
    -------
    mask : bool (H, W)
    t : float
        The threshold used.

    Examples
    --------
    >>> img = np.array([[0.1, 0.2], [0.8, 0.9]])
    >>> global_threshold(img)                       # T = mean = 0.5
    (array([[False, False],
           [ True,  True]]), 0.5)
    >>> global_threshold(img, 0.3, invert=True)     # the kite: dark object below T
    (array([[ True,  True],
           [False, False]]), 0.3)
    """
    gray = as_gray(image)
    invert = check_bool(invert, "invert")
    if isinstance(threshold, str):
        check_choice(threshold, "threshold", ("mean", "median", "otsu"))
        if threshold == "mean":
            t = float(gray.mean())
        elif threshold == "median":
            t = float(np.median(gray))
        else:
            t = float(otsu_threshold(gray))
    else:
        t = check_float(threshold, "threshold")
        _check_rgb_units(image, [t], "threshold")
    mask = gray > t
    return (~mask if invert else mask), t


def _check_rgb_units(image, thresholds, name):
    """Refuse thresholds above 1 for a uint8 RGB image, whose grey version lies in [0, 1]
    (``skimage.color.rgb2gray``): ``128`` meant in 0..255 would select nothing without a word."""
    arr = to_numpy(image)
    if arr.ndim == 3 and arr.shape[-1] == 3 and arr.dtype == np.uint8 and max(thresholds) > 1:
        raise ValueError(f"`{name}` must be in [0, 1] for a uint8 RGB image: its grey version "
                         f"(BT.709, as skimage.color.rgb2gray) lies in [0, 1]; got "
                         f"{max(thresholds):g}. Divide by 255 ({max(thresholds) / 255:.4g}), or "
                         "threshold a uint8 grey image, whose thresholds are in 0..255.")


def histogram(image, nbins=256):
    """Histogram of a grey image as scikit-image's ``exposure.histogram`` computes it.

    Integer images get one bin per integer value between their min and max (``nbins`` is ignored;
    at most :data:`MAX_BINS` levels, else a ``ValueError``), float images ``nbins`` equal bins
    between their min and max.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    nbins : int, 2 <= nbins <= MAX_BINS
        Bins of a float image.

    Returns
    -------
    counts : float32 (B,)
    centers : (B,) bin centres, in the units of the image

    Examples
    --------
    A uint8 image gets one bin per value from its min to its max (value 2 has no pixel):

    >>> histogram(np.array([[0, 0, 1, 3, 3, 3]], np.uint8))
    (array([2., 1., 0., 3.], dtype=float32), array([0, 1, 2, 3]))
    >>> histogram(np.array([[0.0, 0.1, 0.9, 1.0]]), nbins=4)
    (array([2., 0., 0., 2.], dtype=float32), array([0.125, 0.375, 0.625, 0.875]))
    """
    gray = as_gray(image)
    nbins = check_int(nbins, "nbins", minimum=2, maximum=MAX_BINS)
    flat = gray.reshape(-1)
    if np.issubdtype(flat.dtype, np.integer):
        lo, hi = int(flat.min()), int(flat.max())
        if hi - lo + 1 > MAX_BINS:
            raise ValueError(f"`image` is an integer image spanning {hi - lo + 1} grey levels "
                             f"({lo}..{hi}); one bin per level is limited to MAX_BINS = "
                             f"{MAX_BINS} (uint16). Pass image.astype(float) to bin its range into "
                             "`nbins` equal bins.")
        if np.issubdtype(flat.dtype, np.unsignedinteger):
            offset = (flat - flat.dtype.type(lo)).astype(np.int64)
        else:
            offset = flat.astype(np.int64) - lo
        counts = np.bincount(offset, minlength=hi - lo + 1)
        centers = np.arange(lo, hi + 1)
    else:
        counts, edges = np.histogram(flat, bins=nbins)
        centers = (edges[:-1] + edges[1:]) / 2.0
    return counts.astype(np.float32), centers


def between_class_variance(image, nbins=256):
    """Otsu's criterion for every candidate threshold (one per histogram bin but the last).

    With :math:`\\omega_0(t), \\omega_1(t)` the pixel counts (class weights) at or below / above bin
    :math:`t` and :math:`\\mu_0(t), \\mu_1(t)` the class means,

    .. math:: \\sigma_B^2(t) = \\omega_0(t)\\,\\omega_1(t)\\,\\big(\\mu_0(t) - \\mu_1(t)\\big)^2

    (up to the constant factor :math:`1/N^2`). Otsu's threshold maximises it, which is the same as
    minimising the within-class variance because the two add up to the total variance.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    nbins : int
        Bins of a float image (see :func:`histogram`).

    Returns
    -------
    centers : (B - 1,) candidate thresholds
    sigma_b : float32 (B - 1,) the criterion at each

    Examples
    --------
    Pixels ``0, 0, 1, 3, 3, 3``. Splitting after 0 gives classes {0, 0} and {1, 3, 3, 3}:
    :math:`2 \\cdot 4 \\cdot (0 - 2.5)^2 = 50`; after 1 (or after the empty bin 2), {0, 0, 1} and
    {3, 3, 3}: :math:`3 \\cdot 3 \\cdot (1/3 - 3)^2 = 64`, the maximum:

    >>> between_class_variance(np.array([[0, 0, 1, 3, 3, 3]], np.uint8))
    (array([0, 1, 2]), array([50., 64., 64.]))
    """
    counts, centers = histogram(image, nbins)
    return centers[:-1], _sigma_b(counts, centers)


def _sigma_b(counts, centers):
    """:math:`\\omega_0 \\omega_1 (\\mu_0 - \\mu_1)^2` after each bin but the last."""
    w0 = np.cumsum(counts)
    w1 = np.cumsum(counts[::-1])[::-1]
    mu0 = np.cumsum(counts * centers) / w0
    mu1 = (np.cumsum((counts * centers)[::-1]) / w1[::-1])[::-1]
    # threshold after bin t: class 0 = bins 0..t, class 1 = bins t+1..B-1
    return w0[:-1] * w1[1:] * (mu0[:-1] - mu1[1:]) ** 2


def otsu_threshold(image, nbins=256):
    """Otsu's threshold: the bin centre that maximises the between-class variance.

    .. math:: t^* = \\arg\\max_t\\; \\omega_0(t)\\,\\omega_1(t)\\,\\big(\\mu_0(t) - \\mu_1(t)\\big)^2

    Equal to ``skimage.filters.threshold_otsu`` (same histogram, same tie rule: the first maximum).
    The foreground is ``image > t``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
        uint8 / integer (one bin per value), float, or bool (taken as 0/1).
    nbins : int
        Bins of the histogram of a float image.

    Returns
    -------
    float
        The threshold, in the units of ``image``. A constant image returns its value (as
        scikit-image does).

    Examples
    --------
    The example of :func:`between_class_variance`: the first maximum is at 1, so the foreground
    ``image > 1`` is the three pixels of value 3:

    >>> img = np.array([[0, 0, 1, 3, 3, 3]], np.uint8)
    >>> int(otsu_threshold(img))
    1
    >>> img > otsu_threshold(img)
    array([[False, False, False,  True,  True,  True]])

    A photograph (scikit-image's ``camera``, shipped with the library):

    >>> from skimage.data import camera
    >>> int(otsu_threshold(camera()))
    102
    """
    gray = as_gray(image)
    nbins = check_int(nbins, "nbins", minimum=2, maximum=MAX_BINS)
    first = gray.reshape(-1)[0]
    if np.all(gray == first):
        return first
    counts, centers = histogram(gray, nbins)
    with np.errstate(over="ignore", under="ignore"):
        sigma_b = _sigma_b(counts, centers)
    if not (np.all(np.isfinite(sigma_b)) and sigma_b.max() > 0):
        # values near 1e300 overflow the squared difference of the means, values near 1e-300
        # underflow it to 0; the criterion's argmax does not change under c -> (c - c_0) / span
        c = centers.astype(np.float64)
        sigma_b = _sigma_b(counts, (c - c[0]) / (c[-1] - c[0]))
    return centers[int(np.argmax(sigma_b))]


def multi_otsu_thresholds(image, classes=3, nbins=256):
    """Multi-level Otsu: ``classes - 1`` thresholds that maximise the between-class variance.

    .. math:: \\{t_1 < \\dots < t_{K-1}\\} = \\arg\\max \\sum_{k=0}^{K-1} \\omega_k\\,\\mu_k^2

    (equivalent to maximising :math:`\\sum_k \\omega_k (\\mu_k - \\mu)^2` since the total mean is
    fixed). Solved exactly by dynamic programming over the histogram: with :math:`V(i, j)` the
    score :math:`S^2/P` of the bins :math:`i..j`, the best split of bins :math:`i..B-1` into
    :math:`k` classes is :math:`G_k(i) = \\max_t V(i, t) + G_{k-1}(t+1)`, each step one vectorised
    max over a (B, B) table; the thresholds are then read off from the left, the first maximum
    winning ties. Equal to ``skimage.filters.threshold_multiotsu`` up to ties between equally good
    splits, which the two break differently (checked for 2-4 classes; with
    5 or more classes scikit-image's float32 look-up table can settle on a split whose criterion is
    slightly lower than the exact optimum found here).

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    classes : int
        Number of classes (>= 2); gives ``classes - 1`` thresholds.
    nbins : int, 2 <= nbins <= MAX_MULTI_OTSU_BINS
        Bins of a float image. An integer image gets one bin per grey level and may span at most
        :data:`MAX_MULTI_OTSU_BINS` levels (uint8 does; for uint16 pass ``image.astype(float)``).

    Returns
    -------
    np.ndarray (classes - 1,)
        Increasing thresholds; :func:`apply_thresholds` (``np.digitize``) turns them into a label
        image.

    Examples
    --------
    Three groups of grey levels (around 5, 105 and 205) give one threshold at the top of each of
    the two lower groups:

    >>> img = np.array([[0, 0, 10, 100, 110, 200, 210]], np.uint8)
    >>> multi_otsu_thresholds(img, classes=3)
    array([ 10, 110])
    """
    gray = as_gray(image)
    classes = check_int(classes, "classes", minimum=2)
    nbins = check_int(nbins, "nbins", minimum=2, maximum=MAX_MULTI_OTSU_BINS)
    if np.issubdtype(gray.dtype, np.integer):
        lo, hi = int(gray.min()), int(gray.max())
        if hi - lo + 1 > MAX_MULTI_OTSU_BINS:
            raise ValueError(f"`image` is an integer image spanning {hi - lo + 1} grey levels "
                             f"({lo}..{hi}); the exact multi-Otsu search builds (levels x levels) "
                             f"tables and is limited to MAX_MULTI_OTSU_BINS = "
                             f"{MAX_MULTI_OTSU_BINS} levels. Pass image.astype(float) (binned into "
                             "`nbins` bins) or rescale to uint8.")
    counts, centers = histogram(gray, nbins)
    prob = counts / counts.sum()
    nvalues = int(np.count_nonzero(prob))
    if nvalues < classes:
        raise ValueError(f"`image` has only {nvalues} distinct values after binning; it cannot be "
                         f"split into classes={classes} classes. Use fewer classes or more bins.")
    if nvalues == classes:
        return centers[np.flatnonzero(prob)[:-1]]
    p = prob.astype(np.float64)
    n = p.size
    P = np.concatenate([[0.0], np.cumsum(p)])
    S = np.concatenate([[0.0], np.cumsum(p * np.arange(n))])
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = P[j + 1] - P[i]
        s = S[j + 1] - S[i]
        V = np.where((j >= i) & (w > 0), s * s / np.where(w > 0, w, 1.0), 0.0)
    V = np.where(j >= i, V, -np.inf)
    # G[k][i]: best score for bins i..n-1 split into k classes (each class at least one bin)
    G = {1: V[:, n - 1].copy()}
    for k in range(2, classes + 1):
        nxt = np.concatenate([G[k - 1][1:], [-np.inf]])  # G_{k-1}(t + 1)
        G[k] = np.max(V + nxt[None, :], axis=1)
    thresholds = []
    start = 0
    for k in range(classes, 1, -1):
        nxt = np.concatenate([G[k - 1][1:], [-np.inf]])
        score = V[start] + nxt
        t = int(np.argmax(score))
        thresholds.append(t)
        start = t + 1
    return centers[np.array(thresholds)]


def apply_thresholds(image, thresholds):
    """Label image from increasing thresholds: class :math:`k` where :math:`t_k < I \\le t_{k+1}`.

    Same as ``np.digitize(image, thresholds, right=True)`` (class 0 at or below the first
    threshold).

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    thresholds : float or 1-D array of increasing floats
        In the units of ``image``, e.g. from :func:`multi_otsu_thresholds`.

    Returns
    -------
    int32 (H, W)
        Classes ``0 .. len(thresholds)``.

    Examples
    --------
    >>> img = np.array([[0, 0, 10, 100, 110, 200, 210]], np.uint8)
    >>> apply_thresholds(img, [10, 110])
    array([[0, 0, 0, 1, 1, 2, 2]], dtype=int32)
    """
    gray = as_gray(image)
    t = np.atleast_1d(as_array(thresholds, "thresholds", ndim=(0, 1), kind="float",
                               dtype=np.float64, empty_ok=False,
                               hint="(a number or a 1-D list of increasing numbers)"))
    if np.asarray(to_numpy(thresholds)).dtype == bool:
        raise TypeError(f"`thresholds` must be numbers; got {describe(thresholds)}.")
    if np.any(np.diff(t) < 0):
        raise ValueError(f"`thresholds` must be increasing; got {t.tolist()}.")
    _check_rgb_units(image, t, "thresholds")
    return np.digitize(gray, t, right=True).astype(np.int32)


def local_threshold(image, block_size=35, method="gaussian", offset=0.0):
    """Adaptive (local) threshold: a threshold per pixel from its neighbourhood.

    .. math:: T(x, y) = \\sum_{(u, v)} w(u, v)\\, I(x - u, y - v) - c

    with :math:`w` a Gaussian of :math:`\\sigma = (b - 1)/6` (``'gaussian'``) or a :math:`b\\times b`
    box (``'mean'``) and :math:`c` the ``offset``; the foreground is ``image > T``. Borders are
    reflected (``d c b a | a b c d``). Equal to ``skimage.filters.threshold_local``. Useful when the
    lighting changes across the image and no global threshold works.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    block_size : int
        Odd neighbourhood size (>= 3).
    method : {'gaussian', 'mean'}
    offset : float
        Subtracted from the local mean.

    Returns
    -------
    np.ndarray float64 (H, W)
        The threshold image.

    Examples
    --------
    Two bright dots (+0.2) on a background lit from dark (0.2, left) to bright (1.0, right). No
    global threshold separates them (Otsu keeps the bright right side), a 3 x 3 local mean raised
    by 0.05 (``offset=-0.05``) does:

    >>> img = np.tile(np.linspace(0.2, 1.0, 9), (5, 1))
    >>> img[2, 2] += 0.2
    >>> img[2, 6] += 0.2
    >>> int((img > otsu_threshold(img)).sum())
    20
    >>> np.argwhere(img > local_threshold(img, 3, 'mean', offset=-0.05)).tolist()
    [[2, 2], [2, 6]]
    """
    from .edges import gaussian_blur, box_blur

    gray = as_gray(image).astype(np.float64)
    block_size = check_int(block_size, "block_size", minimum=3)
    if block_size % 2 == 0:
        raise ValueError(f"`block_size` must be odd so that the block has a centre; got "
                         f"{block_size}. Use {block_size + 1}.")
    check_choice(method, "method", ("gaussian", "mean"))
    offset = check_float(offset, "offset")
    if method == "gaussian":
        local = gaussian_blur(gray, (block_size - 1) / 6.0, mode="reflect")
    else:
        local = box_blur(gray, block_size, mode="reflect")
    return local - offset
