"""Edge-based segmentation: convolution and correlation by hand, Sobel, Laplacian, LoG, zero-crossings.

Convolution flips the kernel, correlation does not:

.. math::
    (I * K)(i, j) = \\sum_{m, n} I(i - m, j - n)\\,K(m, n) \\qquad
    (I \\star K)(i, j) = \\sum_{m, n} I(i + m, j + n)\\,K(m, n)

Deep-learning "convolution" layers compute the correlation. Both are written here as a sum of
shifted copies of the padded image (one vectorised multiply-add per kernel tap, never a loop over
pixels) and are tested against ``scipy.ndimage.convolve`` / ``correlate``.

Conventions (different libraries differ, the tests pin each one):

- :func:`sobel_x` correlates with ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` (positive where the image
  gets brighter to the right); :func:`sobel_y` with its transpose (brighter downwards).
  :func:`sobel` is :math:`\\sqrt{G_x^2 + G_y^2}`. scikit-image divides each kernel by 4 and the
  magnitude by :math:`\\sqrt 2`, so ``skimage.filters.sobel = sobel / (4 * sqrt(2))``.
- :func:`laplacian` uses the course kernels with a positive centre (``kernel=4`` or ``8``), the
  negative of the second derivative: ``laplacian(I, 4) == skimage.filters.laplace(I)`` and
  ``== -scipy.ndimage.laplace(I)``.
- Borders are reflected (``d c b a | a b c d``, scipy's ``'reflect'``) unless ``mode`` says otherwise.
- uint8 images are scaled to [0, 1] first; RGB is converted to grey (BT.709).

Shown in ``notebooks/06_classic_segmentation.ipynb``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import (as_array, check_bool, check_choice, check_float, check_int, check_size,
                         to_numpy)
from ._common import as_float_gray

__all__ = [
    "correlate",
    "convolve",
    "gaussian_kernel",
    "gaussian_blur",
    "box_blur",
    "SOBEL_X",
    "SOBEL_Y",
    "LAPLACIAN_4",
    "LAPLACIAN_8",
    "sobel_x",
    "sobel_y",
    "sobel",
    "laplacian",
    "laplacian_of_gaussian",
    "zero_crossings",
    "MAX_KERNEL_RADIUS",
]

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
SOBEL_Y = SOBEL_X.T.copy()
#: the two Laplacian kernels of the course (positive centre)
LAPLACIAN_4 = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float64)
LAPLACIAN_8 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)

# scipy.ndimage border modes -> numpy.pad modes
_PAD_MODES = {"constant": "constant", "reflect": "symmetric", "mirror": "reflect",
              "nearest": "edge", "wrap": "wrap"}


#: largest Gaussian radius :func:`gaussian_kernel` builds (a kernel of 2 * 10**5 + 1 taps)
MAX_KERNEL_RADIUS = 10 ** 5


def _check_reach(reach, image_shape, name, value):
    """Refuse a padding / kernel radius beyond 4 x the image's larger side (at least 64): such a
    window is no longer local, and the padded image and the one pass per tap would grow with the
    argument instead of the image."""
    limit = max(4 * max(image_shape), 64)
    if reach > limit:
        raise ValueError(f"`{name}` reaches {reach} pixels from the centre; the limit for an image "
                         f"of shape {tuple(image_shape)} is {limit} (4 x its larger side, at least "
                         f"64); got {name}={value!r}. Use a smaller value or a larger image.")


def _as_kernel(kernel, name="kernel", odd=False):
    k = as_array(kernel, name, ndim=2, kind="float", dtype=np.float64, empty_ok=False,
                 hint="(kh, kw)")
    if odd and (k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0):
        raise ValueError(f"`{name}` must have odd sides so that it has a centre pixel (needed for "
                         f"padding='same'); got shape {k.shape}. Use padding='valid' or an "
                         "integer padding for even kernels.")
    return k


def correlate(image, kernel, stride=1, padding="same", mode="constant", cval=0.0):
    """2-D cross-correlation of a grey image with a kernel (no flip), with stride and padding.

    .. math:: O(i, j) = \\sum_{m=0}^{k_h-1}\\sum_{n=0}^{k_w-1} I_p(s i + m,\\; s j + n)\\,K(m, n)

    where :math:`I_p` is the padded image and :math:`s` the stride. The course's worked example
    (input ``0..8`` as 3x3, kernel ``[[0, 1], [2, 3]]``): ``padding='valid'`` gives
    ``[[19, 25], [37, 43]]``; with ``padding=1`` the notes' coloured squares read 0 (only
    padding), 9 and 37.

    Parameters
    ----------
    image : array (H, W) (or (H, W, 1) / RGB, converted to grey)
    kernel : array (kh, kw)
    stride : int or (int, int)
    padding : 'same', 'valid', int or (int, int)
        ``'same'`` pads ``k // 2`` on each side (odd kernels only), so that with stride 1 the output
        has the input's size and equals ``scipy.ndimage.correlate``; ``'valid'`` pads nothing; an
        int pads that many pixels on every side.
    mode : {'constant', 'reflect', 'mirror', 'nearest', 'wrap'}
        How the padding is filled, with scipy's names (``'constant'`` uses ``cval``).
    cval : float

    Returns
    -------
    np.ndarray float64 (Ho, Wo), :math:`H_o = \\lfloor (H + 2p - k_h)/s \\rfloor + 1`.

    Examples
    --------
    The course's example, :math:`O(0, 0) = 0 \\cdot 0 + 1 \\cdot 1 + 2 \\cdot 3 + 3 \\cdot 4 = 19`:

    >>> x = np.arange(9).reshape(3, 3)
    >>> k = [[0, 1], [2, 3]]
    >>> correlate(x, k, padding='valid')
    array([[19., 25.],
           [37., 43.]])
    >>> correlate(x, k, padding=1)
    array([[ 0.,  3.,  8.,  4.],
           [ 9., 19., 25., 10.],
           [21., 37., 43., 16.],
           [ 6.,  7.,  8.,  0.]])
    >>> correlate(x, k, stride=(3, 2), padding=1)    # 3 down, 2 across
    array([[0., 8.],
           [6., 8.]])
    """
    img = as_float_gray(image)
    stride = check_size(stride, "stride", minimum=1)
    check_choice(mode, "mode", tuple(_PAD_MODES))
    cval = check_float(cval, "cval")
    if isinstance(padding, str):
        check_choice(padding, "padding", ("same", "valid"))
        k = _as_kernel(kernel, odd=padding == "same")
        pad = (k.shape[0] // 2, k.shape[1] // 2) if padding == "same" else (0, 0)
    else:
        if not isinstance(padding, (numbers.Integral, tuple, list)):
            raise TypeError(f"`padding` must be 'same', 'valid' or a non-negative int; got "
                            f"{padding!r}.")
        pad = check_size(padding, "padding", minimum=0)
        k = _as_kernel(kernel)
    _check_reach(max(pad), img.shape + k.shape, "padding", padding)
    kh, kw = k.shape
    if pad != (0, 0):
        np_mode = _PAD_MODES[mode]
        kwargs = {"constant_values": cval} if np_mode == "constant" else {}
        # (NumPy's 'reflect' equals SciPy's 'mirror' for any pad, one-pixel sides included)
        img = np.pad(img, ((pad[0], pad[0]), (pad[1], pad[1])), mode=np_mode, **kwargs)
    H, W = img.shape
    if H < kh or W < kw:
        raise ValueError(f"`kernel` of shape {k.shape} is larger than the (padded) image of shape "
                         f"{(H, W)}; pad more or use a smaller kernel.")
    sh, sw = stride
    ho = (H - kh) // sh + 1
    wo = (W - kw) // sw + 1
    out = np.zeros((ho, wo), dtype=np.float64)
    for m in range(kh):  # one vectorised multiply-add per kernel tap
        for n in range(kw):
            if k[m, n] != 0:
                out += k[m, n] * img[m:m + sh * (ho - 1) + 1:sh, n:n + sw * (wo - 1) + 1:sw]
    return out


def convolve(image, kernel, stride=1, padding="same", mode="constant", cval=0.0):
    """2-D convolution: correlation with the kernel flipped along both axes.

    .. math:: (I * K)(i, j) = \\sum_{m, n} I(i - m, j - n)\\,K(m, n) = (I \\star K^{\\updownarrow\\leftrightarrow})(i, j)

    With ``padding='same'`` and stride 1 it equals ``scipy.ndimage.convolve(image, kernel, mode)``.
    Arguments as :func:`correlate`.

    Examples
    --------
    On an impulse, convolution draws the kernel itself and correlation draws it flipped:

    >>> impulse = np.zeros((3, 3))
    >>> impulse[1, 1] = 1
    >>> k = np.arange(1, 10).reshape(3, 3)
    >>> convolve(impulse, k)
    array([[1., 2., 3.],
           [4., 5., 6.],
           [7., 8., 9.]])
    >>> correlate(impulse, k)
    array([[9., 8., 7.],
           [6., 5., 4.],
           [3., 2., 1.]])
    """
    k = _as_kernel(kernel)
    return correlate(image, k[::-1, ::-1], stride=stride, padding=padding, mode=mode, cval=cval)


def gaussian_kernel(sigma, truncate=4.0):
    """Normalised 1-D Gaussian :math:`g(x) \\propto e^{-x^2 / 2\\sigma^2}` on
    :math:`x = -r..r`, :math:`r = \\lfloor \\text{truncate}\\,\\sigma + 0.5 \\rfloor` (as scipy).

    Parameters
    ----------
    sigma : float > 0
    truncate : float > 0
        Radius in standard deviations.

    Returns
    -------
    np.ndarray float64 (2r + 1,), summing to 1.

    Examples
    --------
    With radius 1: :math:`(e^{-1/2}, 1, e^{-1/2}) / (1 + 2e^{-1/2})`:

    >>> np.round(gaussian_kernel(1.0, truncate=1.0), 4)
    array([0.2741, 0.4519, 0.2741])
    >>> gaussian_kernel(1.0).size                    # r = 4 by default
    9
    """
    sigma = check_float(sigma, "sigma", minimum=0.0, strict_min=True)
    truncate = check_float(truncate, "truncate", minimum=0.0, strict_min=True)
    r = int(truncate * sigma + 0.5)
    if r > MAX_KERNEL_RADIUS:
        raise ValueError(f"`sigma` * `truncate` gives a kernel radius of {r}, above "
                         f"MAX_KERNEL_RADIUS = {MAX_KERNEL_RADIUS}; got sigma={sigma:g}, "
                         f"truncate={truncate:g}.")
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def gaussian_blur(image, sigma, mode="reflect", truncate=4.0):
    """Gaussian smoothing as two 1-D correlations (the Gaussian is separable and symmetric).

    .. math:: G_\\sigma * I = g_\\sigma^{(y)} * (g_\\sigma^{(x)} * I)

    Equals ``scipy.ndimage.gaussian_filter(image, sigma, mode=mode, truncate=truncate)``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    sigma : float > 0
    mode : border mode (scipy names)
    truncate : float
        Kernel radius in standard deviations.

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    An impulse spreads into the 2-D Gaussian; reflected borders keep its total:

    >>> impulse = np.zeros((5, 5))
    >>> impulse[2, 2] = 1
    >>> g = gaussian_blur(impulse, 1.0)
    >>> np.round(g[2], 4)
    array([0.0233, 0.0966, 0.1592, 0.0966, 0.0233])
    >>> round(float(g.sum()), 6)
    1.0
    """
    g = gaussian_kernel(sigma, truncate)
    img = as_float_gray(image)
    _check_reach(g.size // 2, img.shape, "sigma", sigma)
    out = correlate(img, g[None, :], padding="same", mode=mode)
    return correlate(out, g[:, None], padding="same", mode=mode)


def box_blur(image, size, mode="reflect"):
    """Mean over a ``size x size`` box (odd ``size``), as ``scipy.ndimage.uniform_filter``.

    Computed from a summed-area table, so the cost does not grow with ``size``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    size : odd int >= 1
    mode : border mode (scipy names)

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    The centre is the mean of 0..8; the corner sees the reflected border ``0 0 1 / 0 0 1 / 3 3 4``:

    >>> box_blur(np.arange(9.0).reshape(3, 3), 3)
    array([[1.33333333, 2.        , 2.66666667],
           [3.33333333, 4.        , 4.66666667],
           [5.33333333, 6.        , 6.66666667]])
    """
    size = check_int(size, "size", minimum=1)
    if size % 2 == 0:
        raise ValueError(f"`size` must be odd; got {size}.")
    check_choice(mode, "mode", tuple(_PAD_MODES))
    img = as_float_gray(image)
    r = size // 2
    _check_reach(r, img.shape, "size", size)
    np_mode = _PAD_MODES[mode]
    p = np.pad(img, r, mode=np_mode)
    c = np.zeros((p.shape[0] + 1, p.shape[1] + 1))
    c[1:, 1:] = p.cumsum(0).cumsum(1)
    H, W = img.shape
    s = c[size:size + H, size:size + W] - c[:H, size:size + W] - c[size:size + H, :W] + c[:H, :W]
    return s / (size * size)


def _separable3(img, along_x, along_y, mode):
    # correlate with the outer product along_y[:, None] * along_x[None, :] (3 taps each)
    p = np.pad(img, 1, mode=_PAD_MODES[mode])
    H, W = img.shape
    rows = along_x[0] * p[:, 0:W] + along_x[1] * p[:, 1:W + 1] + along_x[2] * p[:, 2:W + 2]
    return along_y[0] * rows[0:H] + along_y[1] * rows[1:H + 1] + along_y[2] * rows[2:H + 2]


def sobel_x(image, mode="reflect"):
    """Horizontal derivative :math:`G_x = I \\star \\begin{bmatrix}-1&0&1\\\\-2&0&2\\\\-1&0&1\\end{bmatrix}`.

    Positive where the image gets brighter to the right. Computed separably (smoothing
    ``[1, 2, 1]`` down, difference ``[-1, 0, 1]`` across). Equals
    ``4 * skimage.filters.sobel_v(image)`` and ``scipy.ndimage.sobel(image, axis=1)``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    mode : border mode (scipy names)

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    A step from 0 to 1 between columns 1 and 2: both columns next to the step see a difference
    of 1, weighted by 1 + 2 + 1:

    >>> step = np.zeros((3, 4))
    >>> step[:, 2:] = 1
    >>> sobel_x(step)
    array([[0., 4., 4., 0.],
           [0., 4., 4., 0.],
           [0., 4., 4., 0.]])
    """
    img = as_float_gray(image)
    check_choice(mode, "mode", tuple(_PAD_MODES))
    return _separable3(img, np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0]), mode)


def sobel_y(image, mode="reflect"):
    """Vertical derivative :math:`G_y = I \\star S_x^T`, positive where the image gets brighter
    downwards. Equals ``4 * skimage.filters.sobel_h(image)``.

    Examples
    --------
    A vertical step has no vertical derivative; the same step turned on its side does:

    >>> step = np.zeros((3, 4))
    >>> step[:, 2:] = 1
    >>> sobel_y(step)
    array([[0., 0., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.]])
    >>> sobel_y(step.T)
    array([[0., 0., 0.],
           [4., 4., 4.],
           [4., 4., 4.],
           [0., 0., 0.]])
    """
    img = as_float_gray(image)
    check_choice(mode, "mode", tuple(_PAD_MODES))
    return _separable3(img, np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0]), mode)


def sobel(image, mode="reflect", return_components=False):
    """Sobel gradient magnitude :math:`\\|\\nabla I\\| \\approx \\sqrt{G_x^2 + G_y^2}`.

    A first-derivative edge detector: large on edges, less sensitive to noise than the Laplacian
    because each derivative is smoothed across. ``skimage.filters.sobel`` equals this divided by
    :math:`4\\sqrt 2`.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    mode : border mode (scipy names)
    return_components : bool
        Also return :math:`(G_x, G_y)`.

    Returns
    -------
    magnitude : float64 (H, W), and ``(gx, gy)`` when asked.

    Examples
    --------
    On the ramp :math:`I(i, j) = i + j` both derivatives are :math:`4 \\cdot 2 = 8` inside, so the
    magnitude is :math:`8\\sqrt 2`:

    >>> ramp = np.add.outer(np.arange(4.0), np.arange(4.0))
    >>> mag, (gx, gy) = sobel(ramp, return_components=True)
    >>> gx[1]
    array([4., 8., 8., 4.])
    >>> np.round(mag[1:3, 1:3], 4)
    array([[11.3137, 11.3137],
           [11.3137, 11.3137]])
    """
    return_components = check_bool(return_components, "return_components")
    gx = sobel_x(image, mode)
    gy = sobel_y(image, mode)
    mag = np.hypot(gx, gy)
    return (mag, (gx, gy)) if return_components else mag


def laplacian(image, kernel=4, mode="reflect"):
    """Discrete Laplacian with one of the course's two kernels.

    .. math:: L(x, y) = \\frac{\\partial^2 I}{\\partial x^2} + \\frac{\\partial^2 I}{\\partial y^2}

    approximated (with the sign flipped, as the course's kernels have a positive centre) by
    correlation with ``[[0,-1,0],[-1,4,-1],[0,-1,0]]`` (``kernel=4``, 4-neighbours) or
    ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` (``kernel=8``, with the diagonals). Both kernels are
    symmetric, so correlation and convolution agree. The edges are the zero-crossings
    (:func:`zero_crossings`). Very sensitive to noise: smooth first (:func:`laplacian_of_gaussian`).
    ``laplacian(I, 4)`` equals ``skimage.filters.laplace(I)`` and ``-scipy.ndimage.laplace(I)``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    kernel : {4, 8} or a 3x3 array
    mode : border mode

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    The response to an impulse is the kernel; a linear ramp has no second derivative inside
    (only the reflected borders respond):

    >>> impulse = np.zeros((3, 3))
    >>> impulse[1, 1] = 1
    >>> laplacian(impulse)
    array([[ 0., -1.,  0.],
           [-1.,  4., -1.],
           [ 0., -1.,  0.]])
    >>> laplacian(np.tile(np.arange(5.0), (2, 1)))
    array([[-1.,  0.,  0.,  0.,  1.],
           [-1.,  0.,  0.,  0.,  1.]])
    """
    if isinstance(kernel, numbers.Integral) and not isinstance(kernel, bool):
        check_choice(int(kernel), "kernel", (4, 8))
        k = LAPLACIAN_4 if kernel == 4 else LAPLACIAN_8
    else:
        k = _as_kernel(kernel, odd=True)
    return correlate(image, k, padding="same", mode=mode)


def laplacian_of_gaussian(image, sigma=2.0, kernel=4, mode="reflect"):
    """Laplacian of Gaussian: smooth with :math:`G_\\sigma` first, then take the Laplacian.

    .. math:: \\mathrm{LoG} = \\nabla^2 (G_\\sigma * I) = (\\nabla^2 G_\\sigma) * I

    The smoothing removes the noise the second derivative would amplify; the edges are the
    zero-crossings of the result. Equals ``laplacian(gaussian_blur(image, sigma), kernel)``; for
    ``kernel=4`` it is ``-scipy.ndimage.laplace(scipy.ndimage.gaussian_filter(image, sigma))``.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3)
    sigma : float > 0
    kernel : {4, 8} or a 3x3 array
    mode : border mode

    Returns
    -------
    np.ndarray float64 (H, W)

    Examples
    --------
    Across a step from 0 to 1 the response is negative on the dark side, positive on the bright
    side, and crosses zero at the edge:

    >>> img = np.zeros((5, 8))
    >>> img[:, 4:] = 1
    >>> r = laplacian_of_gaussian(img, sigma=1.0)
    >>> np.round(r[2], 3)
    array([-0.004, -0.05 , -0.188, -0.157,  0.157,  0.188,  0.05 ,  0.004])
    >>> zero_crossings(r)[2]
    array([False, False, False,  True, False, False, False, False])
    """
    return laplacian(gaussian_blur(image, sigma, mode=mode), kernel=kernel, mode=mode)


def zero_crossings(response, threshold=0.0):
    """Pixels where a (Laplacian) response changes sign between neighbours.

    A pixel :math:`p` is marked when it and its right or lower neighbour :math:`q` have opposite
    signs (:math:`r_p\\,r_q < 0`) and the jump is strong enough, :math:`|r_p - r_q| > \\tau`; of the
    two pixels, the one with the smaller :math:`|r|` (closer to the zero) is marked. Also a pixel
    that is exactly zero between a positive and a negative neighbour along a row or column.

    Parameters
    ----------
    response : array (H, W), float
    threshold : float
        :math:`\\tau` in the units of ``response`` (suppresses the crossings of weak noise).

    Returns
    -------
    bool (H, W)

    Examples
    --------
    The sign changes between -0.5 and 0.5 (the left one of a tie is marked); an exact zero between
    -1 and 1 is marked too:

    >>> zero_crossings(np.array([[-1.0, -0.5, 0.5, 1.0]]))
    array([[False,  True, False, False]])
    >>> r = np.array([[-1.0, 0.0, 1.0, 0.01, -0.01]])
    >>> zero_crossings(r)
    array([[False,  True, False,  True, False]])
    >>> zero_crossings(r, threshold=0.1)           # drops the weak crossing
    array([[False,  True, False, False, False]])
    """
    r = as_array(response, "response", ndim=2, kind="float", dtype=np.float64, empty_ok=False,
                 hint="(a 2-D map H x W)")
    if np.asarray(to_numpy(response)).dtype == bool:
        raise TypeError("`response` must be a numeric map (e.g. a Laplacian); got a bool mask.")
    threshold = check_float(threshold, "threshold", minimum=0.0)
    out = np.zeros(r.shape, dtype=bool)
    sg = np.sign(r)
    for axis in (0, 1):
        a = r[:-1] if axis == 0 else r[:, :-1]
        b = r[1:] if axis == 0 else r[:, 1:]
        # signs, not the product a * b, which underflows to 0 for tiny responses (1e-200)
        cross = (np.sign(a) * np.sign(b) < 0) & (np.abs(a - b) > threshold)
        first = cross & (np.abs(a) <= np.abs(b))
        second = cross & ~first
        if axis == 0:
            out[:-1] |= first
            out[1:] |= second
        else:
            out[:, :-1] |= first
            out[:, 1:] |= second
        # exact zeros between opposite signs
        if axis == 0:
            z = ((r[1:-1] == 0) & (sg[:-2] * sg[2:] < 0)
                 & (np.abs(r[:-2] - r[2:]) > threshold))
            out[1:-1] |= z
        else:
            z = ((r[:, 1:-1] == 0) & (sg[:, :-2] * sg[:, 2:] < 0)
                 & (np.abs(r[:, :-2] - r[:, 2:]) > threshold))
            out[:, 1:-1] |= z
    return out
