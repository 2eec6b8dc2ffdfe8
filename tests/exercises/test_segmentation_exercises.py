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


# --- every checker: three or more plausible wrong answers named, two other right answers pass ---

def _otsu_variances(img):
    p = np.bincount(img.ravel(), minlength=256) / img.size
    lv = np.arange(256)
    w0, s0, q0 = np.cumsum(p), np.cumsum(p * lv), np.cumsum(p * lv ** 2)
    w1 = 1 - w0
    with np.errstate(all="ignore"):
        mu0, mu1 = s0 / w0, (s0[-1] - s0) / w1
        within = w0 * (q0 / w0 - mu0 ** 2) + w1 * ((q0[-1] - q0) / w1 - mu1 ** 2)
        between = (s0[-1] * w0 - s0) ** 2 / (w0 * w1)   # the course's form, NaN at the ends
    return within, between


@pytest.mark.parametrize("wrong, named", [
    (lambda img: img.min() + int(np.argmax(_otsu_variances(img)[0][img.min():img.max()])),
     "maximised the within-class variance"),
    (lambda img: int(np.argmax(_otsu_variances(img)[1])), "np.argmax returns the first NaN"),
    (lambda img: img.min() + int(np.argmin(_otsu_variances(img)[1][img.min():img.max()])),
     "argmin of the between-class"),
    (lambda img: float(img.mean()), "mean grey level"),
    (lambda img: _otsu(img) / 255.0, "not a normalised value"),
])
def test_otsu_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_otsu(wrong)


def test_otsu_accepts_other_right_answers():
    from skimage.filters import threshold_otsu

    def loop(img):   # every candidate threshold in turn, the between-class variance by hand
        best, best_t = -1.0, None
        for t in range(int(img.min()), int(img.max())):
            dark, bright = img[img <= t], img[img > t]
            v = dark.size * bright.size * (dark.mean() - bright.mean()) ** 2
            if v > best:
                best, best_t = v, t
        return best_t

    assert check_otsu(loop) and check_otsu(threshold_otsu)


@pytest.mark.parametrize("wrong, named", [
    (lambda img, k: _conv(img, k[::-1]), "one axis only"),                     # 99 of 99 wrong
    (lambda img, k: _conv(img, k.T), "transposed"),
    (lambda img, k: _conv(img, k) / k.size, "number of kernel taps"),
])
def test_laplacian_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_laplacian_convolution(wrong)


@pytest.mark.parametrize("mode", ["edge", "symmetric", "reflect", "wrap"])
def test_laplacian_names_the_padding(mode):   # 36 of 99 wrong: the border
    def padded(img, k):
        p = np.pad(img, 1, mode=mode)
        kf = k[::-1, ::-1]
        return sum(kf[m, n] * p[m:m + img.shape[0], n:n + img.shape[1]]
                   for m in range(3) for n in range(3))

    with pytest.raises(ExerciseError, match=f"pad with zeros.*'{mode}'"):
        check_laplacian_convolution(padded)


def test_laplacian_names_an_unknown_border_mistake():
    def border_dropped(img, k):
        out = _conv(img, k)
        out[[0, -1]] = 0
        out[:, [0, -1]] = 0
        return out

    with pytest.raises(ExerciseError, match="Only the border is wrong"):
        check_laplacian_convolution(border_dropped)


def test_laplacian_accepts_other_right_answers():
    from scipy import ndimage, signal

    assert check_laplacian_convolution(lambda img, k: signal.convolve2d(img, k, mode="same"))
    assert check_laplacian_convolution(lambda img, k: ndimage.convolve(img, k, mode="constant"))

    def per_pixel(img, k):
        p = np.pad(img, 1)
        return np.array([[np.sum(p[i:i + 3, j:j + 3] * k[::-1, ::-1])
                          for j in range(img.shape[1])] for i in range(img.shape[0])])

    assert check_laplacian_convolution(per_pixel)


@pytest.mark.parametrize("wrong, named", [
    (lambda iou: _labels_negatives_last(iou), "negative rule first"),
    (lambda iou: np.where(_labels(iou) == -1, 0, _labels(iou)), "not 0"),
    (lambda iou: np.where(_labels(iou) == -1, -1, 1 - _labels(iou)), "swapped"),
    (lambda iou: _labels_per_anchor_best(iou), "axis=0"),
])
def test_anchor_labels_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_anchor_labels(wrong)


def _labels_negatives_last(iou, pos=0.7, neg=0.3):
    m = iou.max(1)
    lab = np.full(iou.shape[0], -1)
    lab[m > pos] = 1
    lab[iou.argmax(0)] = 1
    lab[m < neg] = 0
    return lab


def _labels_per_anchor_best(iou, pos=0.7, neg=0.3):
    lab = _labels(iou, pos, neg, best_rule=False)
    lab[(iou == iou.max(1, keepdims=True)).any(1)] = 1
    return lab


def test_anchor_labels_accept_other_right_answers():
    def argmax_rule(iou, pos=0.7, neg=0.3):
        best = iou.max(axis=1)
        labels = np.where(best > pos, 1, np.where(best < neg, 0, -1))
        labels[iou.argmax(axis=0)] = 1
        return labels

    def loop(iou, pos=0.7, neg=0.3):
        labels = []
        for a in range(iou.shape[0]):
            best_of_some_box = any(iou[a, g] == iou[:, g].max() for g in range(iou.shape[1]))
            if iou[a].max() > pos or best_of_some_box:
                labels.append(1)
            elif iou[a].max() < neg:
                labels.append(0)
            else:
                labels.append(-1)
        return labels

    assert check_anchor_labels(argmax_rule) and check_anchor_labels(loop)


def _split_pool(reg, oh, ow, rows, cols, reduce=np.max):
    return np.array([[reduce(r) for r in np.array_split(part, ow, axis=1)]
                     for part in np.array_split(reg, oh, axis=0)]) if isinstance(rows, str) else \
        np.array([[reduce(reg[rows[i]:rows[i + 1], cols[j]:cols[j + 1]]) for j in range(ow)]
                  for i in range(oh)])


@pytest.mark.parametrize("wrong, named", [
    (lambda reg, oh, ow: _split_pool(reg, oh, ow, "array_split", None), "np.array_split"),
    (lambda reg, oh, ow: _pool(reg, oh, ow, ceil=True), "ceil"),
    (lambda reg, oh, ow: _split_pool(reg, oh, ow, (np.arange(oh + 1) * reg.shape[0]) // oh,
                                     (np.arange(ow + 1) * reg.shape[1]) // ow, np.mean),
     "averaged"),
    (lambda reg, oh, ow: _pool(reg, ow, oh).T, "swapped"),
])
def test_roi_pool_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_roi_pool(wrong)


def test_roi_pool_accepts_other_right_answers():
    def reduceat(reg, oh, ow):
        rows = (np.arange(oh) * reg.shape[0]) // oh
        cols = (np.arange(ow) * reg.shape[1]) // ow
        return np.maximum.reduceat(np.maximum.reduceat(reg, rows, axis=0), cols, axis=1)

    def tf_pool(reg, oh, ow):   # TensorFlow's max over each section
        import tensorflow as tf

        rows = (np.arange(oh + 1) * reg.shape[0]) // oh
        cols = (np.arange(ow + 1) * reg.shape[1]) // ow
        return tf.stack([tf.stack([tf.reduce_max(reg[rows[i]:rows[i + 1], cols[j]:cols[j + 1]])
                                   for j in range(ow)]) for i in range(oh)])

    assert check_roi_pool(reduceat) and check_roi_pool(tf_pool)
