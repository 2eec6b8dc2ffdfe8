"""F-CAM's seeds (cvkit.wsol.fcam.seeds) against NumPy / SciPy / scikit-image references: Otsu on
uint8 maps, the foreground and background pools, and the uniform draw without replacement."""
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage
from skimage.filters import threshold_otsu

from cvkit.segmentation import otsu_threshold
from cvkit.wsol.fcam import otsu_thresholds_tf, sample_seeds, seed_pools


def _uint8_maps(rng, n=150, size=(12, 14)):
    """Uniform noise, bimodal, constant, two-level, one outlier and narrow-range uint8 maps."""
    maps = []
    for i in range(n):
        kind = i % 6
        if kind == 0:
            m = rng.integers(0, 256, size)
        elif kind == 1:
            bright = rng.random(size) < rng.uniform(0.1, 0.6)
            m = np.where(bright, rng.normal(190, 20, size), rng.normal(60, 25, size))
        elif kind == 2:
            m = np.full(size, rng.integers(0, 256))
        elif kind == 3:
            a, b = rng.choice(256, 2, replace=False)
            m = np.where(rng.random(size) < rng.uniform(0.05, 0.95), a, b)
        elif kind == 4:
            m = np.full(size, rng.integers(0, 256))
            m[rng.integers(size[0]), rng.integers(size[1])] = rng.integers(0, 256)
        else:
            lo = rng.integers(0, 250)
            m = rng.integers(lo, lo + 5, size)
        maps.append(np.clip(np.round(m), 0, 255).astype(np.uint8))
    return np.stack(maps)


def test_otsu_thresholds_equal_cvkit_and_skimage(rng):
    maps = _uint8_maps(rng)
    got = otsu_thresholds_tf(tf.constant(maps)).numpy()
    assert got.dtype == np.int32 and got.shape == (len(maps),)
    ours = np.array([otsu_threshold(m) for m in maps])
    sk = np.array([threshold_otsu(m) for m in maps])
    np.testing.assert_array_equal(got, ours)
    np.testing.assert_array_equal(got, sk)
    # each map is thresholded on its own histogram: the batch order does not matter
    np.testing.assert_array_equal(otsu_thresholds_tf(tf.constant(maps[::-1])).numpy(), got[::-1])


def test_otsu_thresholds_two_level_and_constant_closed_forms():
    two = np.zeros((1, 4, 4), np.uint8)
    two[0, :, 2:] = 200                                   # 0 and 200: the first maximum is 0
    const = np.full((1, 4, 4), 37, np.uint8)
    got = otsu_thresholds_tf(tf.constant(np.concatenate([two, const]))).numpy()
    assert got.tolist() == [0, 37]


def _fg_reference(m, erode):
    """The foreground pool in NumPy / SciPy: uint8 floor of 255 m, Otsu clamped to [1, 254],
    eroded once by a square (outside the image counts as set) unless that empties it."""
    u8 = np.floor(np.clip(m.astype(np.float32) * np.float32(255.0), 0, 255)).astype(np.uint8)
    t = int(np.clip(otsu_threshold(u8), 1, 254))
    fg = u8 > t
    if erode > 1:
        eroded = ndimage.binary_erosion(fg, np.ones((erode, erode), bool), border_value=1)
        fg = eroded if eroded.any() else fg
    return fg


def _blob_maps(rng, n, size):
    yy, xx = np.mgrid[:size, :size]
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0, size, 2)
        s = rng.uniform(1.5, size / 3)
        m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        m = m + 0.15 * rng.random((size, size))
        out.append((m - m.min()) / (m.max() - m.min()))
    return np.stack(out).astype(np.float32)


@pytest.mark.parametrize("erode", [1, 3, 11])
def test_foreground_pool_equals_scipy(rng, erode):
    maps = _blob_maps(rng, 24, 27)
    maps[0] = 0.0
    maps[0, 13, 13] = 1.0                                 # one pixel: erosion would empty it
    maps[1] = 1.0                                         # constant 1: Otsu 255, clamped to 254
    maps[2] = 0.0                                         # constant 0: no foreground
    maps[3] = np.where(rng.random((27, 27)) < 0.5, 0.0, np.where(rng.random((27, 27)) < 0.5,
                                                                 1 / 255, 2 / 255))   # Otsu 0 -> 1
    fg, bg = seed_pools(tf.constant(maps), n_neg=0.2, erode=erode)
    fg = fg.numpy()
    assert fg.dtype == np.float32 and set(np.unique(fg)) <= {0.0, 1.0}
    for i, m in enumerate(maps):
        np.testing.assert_array_equal(fg[i] > 0, _fg_reference(m, erode), err_msg=f"map {i}")
    assert fg[0].sum() == 1 and fg[1].sum() == 27 * 27 and fg[2].sum() == 0
    u8 = np.floor(maps[3] * np.float32(255.0))
    assert otsu_threshold(u8.astype(np.uint8)) == 0           # the case tests the lower clamp
    np.testing.assert_array_equal(fg[3] > 0, u8 > 1)


@pytest.mark.parametrize("size", [5, 7, 10, 13, 20, 50])
def test_background_pool_is_exactly_int_n_neg_h_w_pixels(size):
    fractions = np.round(np.arange(0.01, 1.0, 0.01), 2)
    maps = tf.zeros((1, size, size))
    for n_neg in fractions:
        _, bg = seed_pools(maps, n_neg=float(n_neg), erode=1)
        assert int(bg.numpy().sum()) == max(1, int(float(n_neg) * (size * size))), n_neg


def test_background_pool_holds_the_lowest_pixels(rng):
    h, w = 9, 11
    distinct = np.stack([rng.permutation(h * w).reshape(h, w) / (h * w) for _ in range(4)])
    ties = np.round(rng.random((4, h, w)) * 4) / 4                       # many equal values
    maps = np.concatenate([distinct, ties]).astype(np.float32)
    _, bg = seed_pools(tf.constant(maps), n_neg=0.3, erode=1)
    bg = bg.numpy() > 0
    n = int(0.3 * (h * w))
    for i, m in enumerate(maps):
        assert bg[i].sum() == n
        assert m[bg[i]].max() <= m[~bg[i]].min()                        # no higher pixel taken
        if i < 4:                                                # distinct: the set is unique
            lowest = np.zeros(h * w, bool)
            lowest[np.argsort(m.ravel())[:n]] = True
            np.testing.assert_array_equal(bg[i].ravel(), lowest)
    _, one = seed_pools(tf.constant(maps[:1]), n_neg=0.001, erode=1)    # int(0.099) = 0 -> 1
    assert one.numpy().sum() == 1 and maps[0].ravel()[np.argmax(one.numpy().ravel())] == 0


def _square_map(size=32, lo=10, hi=22):
    """A bright square on a ground that darkens away from it: the pools are far apart."""
    yy, xx = np.mgrid[:size, :size]
    d = np.maximum(np.maximum(lo - yy, yy - (hi - 1)), np.maximum(lo - xx, xx - (hi - 1)))
    m = np.where(d <= 0, 1.0, 0.6 - d / (2 * size))
    return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)


def test_sample_seeds_counts_and_pools():
    maps = np.stack([_square_map()] * 3)
    fg_pool, bg_pool = (p.numpy() > 0 for p in seed_pools(tf.constant(maps), 0.2, 3))
    fg, bg = (s.numpy() for s in sample_seeds(maps, k=7, n_neg=0.2, erode=3, seed=1))
    assert fg.dtype == np.float32 and set(np.unique(np.concatenate([fg, bg]))) <= {0.0, 1.0}
    assert fg.sum(axis=(1, 2)).tolist() == [7.0] * 3 and bg.sum(axis=(1, 2)).tolist() == [7.0] * 3
    assert not (fg.astype(bool) & ~fg_pool).any() and not (bg.astype(bool) & ~bg_pool).any()
    assert not (fg * bg).any()
    # a pool smaller than k is taken whole
    big_k = sample_seeds(maps, k=10_000, n_neg=0.2, erode=3, seed=1)
    np.testing.assert_array_equal(big_k[0].numpy() > 0, fg_pool)
    np.testing.assert_array_equal(big_k[1].numpy() > 0, bg_pool)


def test_pixels_claimed_by_both_pools_are_dropped():
    """A constant map: every pixel is in the foreground pool and the first int(n_neg H W) pixels
    form the background pool; drawing everything leaves the overlap to neither."""
    maps = np.ones((2, 8, 8), np.float32)
    fg, bg = (s.numpy() for s in sample_seeds(maps, k=64, n_neg=0.25, erode=1, seed=0))
    assert bg.sum() == 0
    expected = np.ones(64)
    expected[:16] = 0                                      # the 16 background-pool pixels
    np.testing.assert_array_equal(fg.reshape(2, -1), np.stack([expected] * 2))


def _chi2(counts, expected):
    return float(((counts - expected) ** 2 / expected).sum())


def test_draw_is_uniform_without_replacement():
    """Six foreground and six background pixels, k = 2, 3000 draws in one batch: every pixel and
    every pair is equally likely (chi-square far below the 1e-4 quantile)."""
    m = np.full((8, 8), 0.5, np.float32)
    m[2:4, 2:5] = 1.0                                      # fg pool: 6 pixels (no erosion)
    m[6, 2:8] = 0.0                                        # bg pool: the int(0.1 * 64) = 6 lowest
    n = 3000
    fg, bg = sample_seeds(np.stack([m] * n), k=2, n_neg=0.1, erode=1, seed=7)
    for seeds, pool in ((fg.numpy(), m == 1.0), (bg.numpy(), m == 0.0)):
        assert (seeds.sum(axis=(1, 2)) == 2).all() and not (seeds.astype(bool) & ~pool).any()
        flat = seeds.reshape(n, -1)[:, pool.ravel()]
        assert _chi2(flat.sum(0), n * 2 / 6) < 25.0        # 5 d.o.f.: p(chi2 > 25) ~ 1e-4
        pairs = np.unique(flat, axis=0, return_counts=True)[1]
        assert len(pairs) == 15 and _chi2(pairs, n / 15) < 45.0   # 14 d.o.f.


def test_dilation_grows_each_seed_to_a_square_and_same_seed_same_draw():
    maps = np.stack([_square_map()] * 2)
    one = [s.numpy() for s in sample_seeds(maps, k=1, n_neg=0.2, erode=11, seed=3)]
    again = [s.numpy() for s in sample_seeds(maps, k=1, n_neg=0.2, erode=11, seed=3)]
    np.testing.assert_array_equal(one, again)
    other = [s.numpy() for s in sample_seeds(maps, k=1, n_neg=0.2, erode=11, seed=4)]
    assert not all(np.array_equal(a, b) for a, b in zip(one, other))
    for d in (3, 5):
        grown = [s.numpy() for s in sample_seeds(maps, k=1, n_neg=0.2, erode=11, dilate=d, seed=3)]
        for seeds, big in zip(one, grown):
            for s, g in zip(seeds, big):
                ref = ndimage.binary_dilation(s > 0, np.ones((d, d), bool))
                np.testing.assert_array_equal(g > 0, ref)
    # the foreground seed sits in the pool's centre: a full 5 x 5 square
    assert grown[0].sum(axis=(1, 2)).tolist() == [25.0, 25.0]


def test_sample_seeds_accepts_a_seed_generator():
    import keras

    gen = keras.random.SeedGenerator(0)
    maps = np.stack([_square_map()] * 2)
    a = sample_seeds(maps, k=3, erode=3, seed=gen)[1].numpy()
    b = sample_seeds(maps, k=3, erode=3, seed=gen)[1].numpy()
    assert a.sum() == b.sum() == 6 and not np.array_equal(a, b)     # the generator moves on


@pytest.mark.parametrize("kwargs, err, match", [
    ({"k": 0}, ValueError, "`k`"),
    ({"k": 2.0}, TypeError, "`k`"),
    ({"n_neg": 0.0}, ValueError, "`n_neg`"),
    ({"n_neg": 1.0}, ValueError, "`n_neg`"),
    ({"n_neg": -0.2}, ValueError, "`n_neg`"),
    ({"n_neg": 1.5}, ValueError, "`n_neg`"),
    ({"erode": 0}, ValueError, "`erode`"),
    ({"dilate": 0}, ValueError, "`dilate`"),
])
def test_bad_options_name_the_argument(kwargs, err, match):
    with pytest.raises(err, match=match):
        sample_seeds(np.zeros((1, 8, 8), np.float32), **kwargs)


@pytest.mark.parametrize("shape", [(8, 8), (1, 8, 8, 1), (8,)])
def test_maps_must_be_three_dimensional(shape):
    with pytest.raises(ValueError, match="`maps`.*\\(N, H, W\\)"):
        sample_seeds(np.zeros(shape, np.float32))
