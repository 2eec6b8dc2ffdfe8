r"""How good a latent decoder is: reconstruction fidelity and class consistency.

- PSNR :math:`= 10 \log_{10}(1 / \mathrm{MSE})` for images in [0, 1], and SSIM (Wang et al. 2004,
  7 x 7 windows, channels averaged), both from :mod:`skimage.metrics`, per image then averaged;
- class consistency: the fraction of images whose reconstruction the frozen classifier assigns to
  the same class as the original, :math:`\frac1N\sum_n [\arg\max y(\hat x_n) = \arg\max y(x_n)]`.
  A reconstruction that looks plausible but changes the class would explain nothing.
"""
from __future__ import annotations

import numpy as np

from ..._validate import as_images, as_array, check_int

__all__ = ["psnr", "ssim", "class_consistency", "reconstruction_scores"]


def _pair(images, reconstructions):
    x, single = as_images(images, "images")
    y, _ = as_images(reconstructions, "reconstructions")
    if x.shape != y.shape:
        raise ValueError(f"`reconstructions` must have the shape of `images` {x.shape}; got "
                         f"{y.shape}.")
    return x, y, single


def psnr(images, reconstructions):
    r"""Peak signal-to-noise ratio per image, in dB, for images in [0, 1]:
    :math:`10 \log_{10}(1 / \mathrm{MSE})` (:func:`skimage.metrics.peak_signal_noise_ratio`).

    Parameters
    ----------
    images, reconstructions : array (N, H, W, C) or (H, W, C), uint8 or float in [0, 1]

    Returns
    -------
    np.ndarray
        float64 (N,) (a float for one image); identical images give ``inf``.

    Examples
    --------
    >>> x = np.zeros((4, 4, 3))
    >>> round(psnr(x, x + 0.1), 4)          # MSE 0.01 -> 20 dB
    20.0
    """
    from skimage.metrics import peak_signal_noise_ratio

    x, y, single = _pair(images, reconstructions)
    with np.errstate(divide="ignore"):
        out = np.array([peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, y)])
    return float(out[0]) if single else out


def ssim(images, reconstructions):
    """Structural similarity per image (:func:`skimage.metrics.structural_similarity`, 7 x 7
    windows, ``data_range=1``, the mean over the channels).

    Parameters
    ----------
    images, reconstructions : array (N, H, W, C) or (H, W, C), uint8 or float in [0, 1]

    Returns
    -------
    np.ndarray
        float64 (N,) in [-1, 1] (a float for one image); identical images give 1.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 16, 16, 3))
    >>> ssim(x, x).tolist()
    [1.0, 1.0]
    """
    from skimage.metrics import structural_similarity

    x, y, single = _pair(images, reconstructions)
    if min(x.shape[1:3]) < 7:
        raise ValueError(f"`images` must be at least 7 x 7 pixels for SSIM's 7 x 7 window; got "
                         f"{x.shape[1:3]}.")
    out = np.array([structural_similarity(a, b, data_range=1.0, channel_axis=-1)
                    for a, b in zip(x, y)])
    return float(out[0]) if single else out


def class_consistency(scores, scores_reconstructed):
    r"""Fraction of images whose reconstruction gets the original's class:
    :math:`\frac1N\sum_n [\arg\max_c y_c(\hat x_n) = \arg\max_c y_c(x_n)]`.

    Parameters
    ----------
    scores, scores_reconstructed : array (N, classes)
        Class scores (logits or probabilities) of the originals and of the reconstructions, from
        the same classifier (:func:`reconstruct` returns both).

    Returns
    -------
    float

    Examples
    --------
    >>> class_consistency([[2.0, 1.0], [0.0, 3.0]], [[0.9, 0.1], [0.8, 0.2]])
    0.5
    """
    s = as_array(scores, "scores", ndim=2, kind="float")
    t = as_array(scores_reconstructed, "scores_reconstructed", ndim=2, kind="float")
    if s.shape != t.shape or s.shape[0] == 0:
        raise ValueError(f"`scores_reconstructed` must have the shape of `scores` {s.shape} (and "
                         f"hold at least one row); got {t.shape}.")
    return float(np.mean(s.argmax(1) == t.argmax(1)))


def reconstruction_scores(model, images, labels=None, batch_size=32):
    """The measures of a trained :class:`~cvkit.explain.perception.PerceptionModel` on held-out
    images: mean PSNR (dB) and SSIM, class consistency, and with ``labels`` the classifier's
    accuracy on the originals and on the reconstructions.

    Parameters
    ----------
    model : PerceptionModel
    images : array (N, H, W, 3), uint8 or float in [0, 1]
    labels : array (N,) of int, optional
    batch_size : int

    Returns
    -------
    dict
        ``psnr``, ``ssim``, ``class_consistency`` (and ``accuracy``, ``accuracy_reconstructed``).

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> from cvkit.explain import build_perception
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> sorted(reconstruction_scores(model, np.zeros((2, 16, 16, 3)), labels=[0, 1]))
    ['accuracy', 'accuracy_reconstructed', 'class_consistency', 'psnr', 'ssim']
    """
    from .model import reconstruct

    x_hat, s, s_hat = reconstruct(model, images, check_int(batch_size, "batch_size", minimum=1))
    x, _ = as_images(images)
    out = {"psnr": float(np.mean(psnr(x, x_hat))), "ssim": float(np.mean(ssim(x, x_hat))),
           "class_consistency": class_consistency(s, s_hat)}
    if labels is not None:
        y = as_array(labels, "labels", ndim=1, kind="integer").astype(np.int64)
        if y.shape[0] != len(x):
            raise ValueError(f"`labels` must hold one class per image ({len(x)}); got "
                             f"{y.shape[0]}.")
        out["accuracy"] = float(np.mean(s.argmax(1) == y))
        out["accuracy_reconstructed"] = float(np.mean(s_hat.argmax(1) == y))
    return out
