import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.segmentation import (check_anchor_labels, check_laplacian_convolution,
                                          check_otsu, check_roi_pool)


def _otsu(img):
    counts = np.bincount(img.ravel(), minlength=256).astype(float)
    levels = np.arange(256)
    w0 = np.cumsum(counts)
    w1 = counts.sum() - w0
    m0 = np.cumsum(counts * levels) / np.maximum(w0, 1)
    m1 = (np.sum(counts * levels) - np.cumsum(counts * levels)) / np.maximum(w1, 1)
    crit = w0 * w1 * (m0 - m1) ** 2
    lo, hi = img.min(), img.max()
    return lo + int(np.argmax(crit[lo:hi]))


def test_otsu_checker():
    assert check_otsu(_otsu)
    with pytest.raises(ExerciseError, match="Off by one"):
        check_otsu(lambda img: _otsu(img) + 1)
    with pytest.raises(ExerciseError, match="otsu"):
        check_otsu(lambda img: float(img.mean()))


def _conv(img, k):
    kh, kw = k.shape
    p = np.pad(img, ((kh // 2,) * 2, (kw // 2,) * 2))
    kf = k[::-1, ::-1]
    out = np.zeros_like(img, dtype=float)
    for m in range(kh):
        for n in range(kw):
            out += kf[m, n] * p[m:m + img.shape[0], n:n + img.shape[1]]
    return out


def test_laplacian_checker():
    assert check_laplacian_convolution(_conv)
    with pytest.raises(ExerciseError, match="correlation"):
        check_laplacian_convolution(lambda img, k: _conv(img, k[::-1, ::-1]))
    with pytest.raises(ExerciseError, match="valid"):
        check_laplacian_convolution(lambda img, k: _conv(img, k)[1:-1, 1:-1])


def _labels(iou, pos=0.7, neg=0.3, best_rule=True):
    m = iou.max(1)
    lab = np.full(iou.shape[0], -1)
    lab[m < neg] = 0
    lab[m > pos] = 1
    if best_rule:
        lab[(iou == iou.max(0, keepdims=True)).any(1)] = 1
    return lab


def test_anchor_label_checker():
    assert check_anchor_labels(_labels)
    with pytest.raises(ExerciseError, match="best anchor"):
        check_anchor_labels(lambda iou: _labels(iou, best_rule=False))


def _pool(reg, oh, ow, ceil=False):
    h, w = reg.shape
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * h) // oh, max(((i + 1) * h) // oh, (i * h) // oh + 1)
            c0, c1 = (j * w) // ow, max(((j + 1) * w) // ow, (j * w) // ow + 1)
            if ceil:  # Caffe's overlapping sections
                r1, c1 = -(-(i + 1) * h // oh), -(-(j + 1) * w // ow)
            out[i, j] = reg[r0:r1, c0:c1].max()
    return out


def test_roi_pool_checker():
    assert check_roi_pool(_pool)
    with pytest.raises(ExerciseError, match="pool_fn"):
        check_roi_pool(lambda reg, oh, ow: _pool(reg, oh, ow, ceil=True))
    with pytest.raises(ExerciseError, match="None"):
        check_roi_pool(lambda reg, oh, ow: None)
