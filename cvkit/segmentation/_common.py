"""Input helpers shared by the classic-segmentation functions (grey images in their own units)."""
from __future__ import annotations

import numpy as np

from .._validate import describe, to_numpy

# ITU-R BT.709 luma weights, the ones scikit-image's ``rgb2gray`` uses.
LUMA = np.array([0.2125, 0.7154, 0.0721])


def as_gray(image, name="image", keep_dtype=True):
    """Return a 2-D grey array from ``image``.

    ``(H, W)`` is kept as it is (uint8 and other integers keep their dtype when ``keep_dtype``,
    floats become float64, bool becomes uint8 0/1); ``(H, W, 1)`` is squeezed; ``(H, W, 3)`` RGB is
    converted with the BT.709 weights after scaling uint8 to [0, 1] (as ``skimage.color.rgb2gray``).
    Raises ``ValueError`` for another rank, an empty image or NaN, ``TypeError`` for a non-numeric
    dtype.

    .. math:: Y = 0.2125\\,R + 0.7154\\,G + 0.0721\\,B

    Parameters
    ----------
    image : array (H, W), (H, W, 1) or (H, W, 3)
    name : str
        The argument's name in error messages.
    keep_dtype : bool
        Keep an integer grey image's dtype (``False``: float64 at face value).

    Returns
    -------
    np.ndarray (H, W)

    Examples
    --------
    White RGB is 1 (the weights add up to 1); a uint8 grey image keeps its values and dtype; a
    bool mask becomes 0/1:

    >>> as_gray(np.full((1, 2, 3), 255, np.uint8))
    array([[1., 1.]])
    >>> as_gray(np.array([[0, 128, 255]], np.uint8))
    array([[  0, 128, 255]], dtype=uint8)
    >>> as_gray(np.array([[True, False]]))
    array([[1, 0]], dtype=uint8)
    """
    image = to_numpy(image)
    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must be a numeric array (uint8, float or bool); got "
                        f"{describe(arr)}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be real; got dtype {arr.dtype}.")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 3:
        rgb = arr.astype(np.float64) / (255.0 if arr.dtype == np.uint8 else 1.0)
        arr = rgb @ LUMA
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a grey image (H, W), (H, W, 1) or an RGB image "
                         f"(H, W, 3); got {describe(arr)}. Pass one image, not a batch.")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` contains NaN or infinite values; clean the input first.")
        arr = arr.astype(np.float64, copy=False)
    elif not keep_dtype:
        arr = arr.astype(np.float64)
    return arr


def as_float_gray(image, name="image"):
    """Like :func:`as_gray` but always float64; uint8 is scaled to [0, 1] (``img_as_float``),
    other integers and bool are taken at their face value.

    Examples
    --------
    >>> as_float_gray(np.array([[0, 51, 255]], np.uint8))
    array([[0. , 0.2, 1. ]])
    >>> as_float_gray(np.array([[0, 2]]))        # int64: face value
    array([[0., 2.]])
    """
    arr = as_gray(image, name)
    if arr.dtype == np.uint8 and np.asarray(image).dtype != bool:
        return arr.astype(np.float64) / 255.0
    return arr.astype(np.float64, copy=False)
