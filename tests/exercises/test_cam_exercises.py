import numpy as np
import pytest
import tensorflow as tf

from cvkit.exercises import ExerciseError
from cvkit.exercises import cam as ex


def test_checkers_accept_the_reference():
    assert ex.check_cam_by_hand(lambda f, w, c: f @ w[:, c])
    assert ex.check_alpha_weights(lambda g: g.mean(axis=(1, 2)))
    assert ex.check_bilinear(lambda L, H, W: tf.compat.v1.image.resize(
        L[None, ..., None], (H, W), align_corners=True).numpy()[0, ..., 0])
    assert ex.check_rise_average(lambda m, s, p: np.tensordot(s, m, 1) / (len(s) * p))


def test_checkers_explain_the_usual_mistakes():
    with pytest.raises(ExerciseError, match="averaged over the channels"):
        ex.check_cam_by_hand(lambda f, w, c: f @ w[:, c] / f.shape[-1])
    with pytest.raises(ExerciseError, match="divide by Z"):
        ex.check_alpha_weights(lambda g: g.sum(axis=(1, 2)))
    with pytest.raises(ExerciseError, match="spatial"):
        ex.check_alpha_weights(lambda g: g.mean(axis=-1))
    with pytest.raises(ExerciseError, match="half-pixel"):
        ex.check_bilinear(lambda L, H, W: tf.image.resize(L[None, ..., None], (H, W)).numpy()[0, ..., 0])
    with pytest.raises(ExerciseError, match="N \\* p"):
        ex.check_rise_average(lambda m, s, p: np.tensordot(s, m, 1) / len(s))
    with pytest.raises(ExerciseError, match="None"):
        ex.check_alpha_weights(lambda g: None)
    with pytest.raises(ExerciseError, match="raised"):
        ex.check_rise_average(lambda m, s, p: 1 / 0)


# --- every checker: three or more plausible wrong answers named, two other right answers pass ---

@pytest.mark.parametrize("wrong, named", [
    (lambda f, w, c: np.maximum(f @ w[:, c], 0), "ReLU"),
    (lambda f, w, c: (lambda m: (m - m.min()) / (m.max() - m.min()))(f @ w[:, c]), "normalised"),
    (lambda f, w, c: f @ w[:, 1], "column of class 1"),
    (lambda f, w, c: f @ w[c], "weights\\[:, c\\]"),
])
def test_cam_by_hand_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_cam_by_hand(wrong)


def test_cam_by_hand_accepts_other_right_answers():
    assert ex.check_cam_by_hand(lambda f, w, c: np.einsum("hwk,k->hw", f, w[:, c]))
    assert ex.check_cam_by_hand(lambda f, w, c: tf.tensordot(f, w[:, c], axes=1))

    def loop(f, w, c):
        out = np.zeros(f.shape[:2])
        for k in range(f.shape[-1]):
            out += w[k, c] * f[..., k]
        return out

    assert ex.check_cam_by_hand(loop)


@pytest.mark.parametrize("wrong, named", [
    (lambda g: g.mean(axis=(0, 1, 2)), "over the images"),
    (lambda g: g.mean(axis=(1, 2), keepdims=True), "keepdims"),
    (lambda g: np.maximum(g, 0).mean(axis=(1, 2)), "no ReLU"),
    (lambda g: np.abs(g).mean(axis=(1, 2)), "absolute value"),
    (lambda g: g.mean(axis=(2, 3)), "axes 2 and 3"),
])
def test_alpha_weights_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_alpha_weights(wrong)


def test_alpha_weights_accepts_other_right_answers():
    assert ex.check_alpha_weights(lambda g: tf.reduce_mean(g, axis=[1, 2]))
    assert ex.check_alpha_weights(lambda g: g.sum(axis=(1, 2)) / (g.shape[1] * g.shape[2]))
    assert ex.check_alpha_weights(lambda g: tf.keras.layers.GlobalAveragePooling2D()(g))


def _course_bilinear(L, H, W, corners=True, nearest=False, swap=False):
    """A student's vectorised answer, right by default, with one of three mistakes."""
    h, w = L.shape
    u = np.arange(H) * ((h - 1) / (H - 1) if corners else h / H)
    v = np.arange(W) * ((w - 1) / (W - 1) if corners else w / W)
    if nearest:
        return L[np.rint(u).astype(int)][:, np.rint(v).astype(int)]
    i, j = np.minimum(u.astype(int), h - 2), np.minimum(v.astype(int), w - 2)
    a, b = (u - i)[:, None], (v - j)[None, :]
    if swap:
        a, b = 1 - a, 1 - b
    i1, j1 = np.minimum(i + 1, h - 1), np.minimum(j + 1, w - 1)
    return ((1 - a) * (1 - b) * L[i][:, j] + a * (1 - b) * L[i1][:, j]
            + (1 - a) * b * L[i][:, j1] + a * b * L[i1][:, j1])


@pytest.mark.parametrize("kwargs, named", [
    (dict(corners=False), "h / H"),
    (dict(nearest=True), "nearest cell"),
    (dict(swap=True), "swapped"),
])
def test_bilinear_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_bilinear(lambda L, H, W: _course_bilinear(L, H, W, **kwargs))


def test_bilinear_names_swapped_axes_and_a_crash_at_the_border():
    with pytest.raises(ExerciseError, match="rows and columns are swapped"):
        ex.check_bilinear(lambda L, H, W: _course_bilinear(L, H, W).T)

    def no_clamp(L, H, W):
        h, w = L.shape
        u = np.arange(H) * (h - 1) / (H - 1)
        i = np.floor(u).astype(int)
        return L[i + 1][:, :W]   # reads one row past the end at the last output row

    with pytest.raises(ExerciseError, match="clamp i \\+ 1"):
        ex.check_bilinear(no_clamp)


def test_bilinear_accepts_other_right_answers():
    assert ex.check_bilinear(_course_bilinear)

    def loop(L, H, W):   # one output pixel at a time
        h, w = L.shape
        out = np.zeros((H, W))
        for x in range(H):
            for y in range(W):
                u, v = x * (h - 1) / (H - 1), y * (w - 1) / (W - 1)
                i, j = min(int(u), h - 2), min(int(v), w - 2)
                a, b = u - i, v - j
                out[x, y] = ((1 - a) * (1 - b) * L[i, j] + a * (1 - b) * L[i + 1, j]
                             + (1 - a) * b * L[i, j + 1] + a * b * L[i + 1, j + 1])
        return out

    from scipy import ndimage

    def with_scipy(L, H, W):   # map_coordinates at the course's fractional positions, order 1
        u = np.arange(H) * (L.shape[0] - 1) / (H - 1)
        v = np.arange(W) * (L.shape[1] - 1) / (W - 1)
        uu, vv = np.meshgrid(u, v, indexing="ij")
        return ndimage.map_coordinates(L, [uu, vv], order=1)

    assert ex.check_bilinear(loop) and ex.check_bilinear(with_scipy)


@pytest.mark.parametrize("wrong, named", [
    (lambda m, s, p: np.tensordot(s, m, 1) / (len(s) * (1 - p)), "1 - p"),
    (lambda m, s, p: np.tensordot(s, m, 1) / p, "by p only"),
    (lambda m, s, p: np.tensordot(s, m, 1) / s.sum(), "sum of the scores"),
    (lambda m, s, p: np.tensordot(s, m, 1) / (len(s) * m.mean()), "not the mean of these masks"),
    (lambda m, s, p: m.mean(0) / p, "weight each mask"),
    (lambda m, s, p: np.tensordot(s, m, 1) * p / len(s), "multiplied by p"),
    (lambda m, s, p: np.tensordot(s, m, 1) / (40 * p), "N=25.*factor 5/8"),   # N hard-coded
])
def test_rise_average_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        ex.check_rise_average(wrong)


def test_rise_average_accepts_other_right_answers():
    assert ex.check_rise_average(lambda m, s, p: np.einsum("n,nhw->hw", s, m) / (len(s) * p))
    assert ex.check_rise_average(lambda m, s, p: tf.reduce_mean(s[:, None, None] * m, 0) / p)

    def loop(masks, scores, p):
        total = np.zeros(masks.shape[1:])
        for mask, score in zip(masks, scores):
            total += score * mask
        return total / (len(masks) * p)

    assert ex.check_rise_average(loop)
