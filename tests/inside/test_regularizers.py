"""Tests for cvkit.inside.regularizers against closed forms and SciPy."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cvkit import inside as F  # noqa: E402


def test_total_variation_closed_forms():
    const = np.full((6, 5, 3), 0.3, np.float32)
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (4, 3))[..., None].repeat(3, -1)  # 4x6
    checker = (np.indices((6, 6)).sum(0) % 2).astype(np.float32)[..., None].repeat(3, -1)
    ramp = np.tile(np.linspace(0, 1, 9, dtype=np.float32), (5, 1))[..., None].repeat(3, -1)
    assert F.total_variation(const) == 0.0
    assert F.total_variation(stripes) == pytest.approx(1.0)  # |dx| = 1, dy = 0
    assert F.total_variation(checker) == pytest.approx(2.0)  # |dx| = |dy| = 1
    assert F.total_variation(ramp) == pytest.approx(1 / 8)  # steps of 1/8 along x only
    batch = F.total_variation(np.stack([stripes[:4, :4], checker[:4, :4]]))
    np.testing.assert_allclose(batch, [1.0, 2.0], rtol=1e-6)
    assert F.total_variation((checker * 255).astype(np.uint8)) == pytest.approx(2.0)


def test_gaussian_blur_matches_scipy_and_keeps_constants(rng):
    from scipy.ndimage import gaussian_filter

    x = rng.uniform(size=(2, 12, 15, 3)).astype(np.float32)
    for sigma in (0.5, 1.0, 2.3):
        ref = gaussian_filter(x, (0, sigma, sigma, 0), mode="reflect", truncate=3.0)
        np.testing.assert_allclose(F.gaussian_blur(x, sigma), ref, atol=1e-5)
    const = np.full((8, 8, 3), 0.25, np.float32)
    np.testing.assert_allclose(F.gaussian_blur(const, 1.5), const, atol=1e-6)
    assert F.gaussian_blur(x[0], 1.0).shape == (12, 15, 3)  # a single image keeps its rank


def test_random_transform_is_reproducible_and_matches_closed_forms(rng):
    x = rng.uniform(size=(16, 16, 3)).astype(np.float32)
    kw = dict(jitter=3, scale=(0.8, 1.2), rotate=20)
    a = F.random_transform(x, seed=4, step=7, **kw)
    np.testing.assert_array_equal(a, F.random_transform(x, seed=4, step=7, **kw))
    assert not np.array_equal(a, F.random_transform(x, seed=4, step=8, **kw))
    assert not np.array_equal(a, F.random_transform(x, seed=5, step=7, **kw))
    # jitter alone is a circular roll by at most `jitter` pixels
    j = F.random_transform(x, seed=1, step=2, jitter=3)
    rolls = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
             if np.array_equal(j, np.roll(x, (dy, dx), axis=(0, 1)))]
    assert len(rolls) == 1
    # no jitter, unit zoom, no rotation: the identity
    np.testing.assert_array_equal(F.random_transform(x, jitter=0, scale=(1, 1)), x)
    # a zoom by exactly 2 about the centre maps a linear ramp I = x / 15 to (7.5 + (x - 7.5) / 2) / 15
    ramp = np.tile(np.arange(16, dtype=np.float32) / 15, (16, 1))[..., None].repeat(3, -1)
    z = F.random_transform(ramp, scale=(2.0, 2.0))
    want = (7.5 + (np.arange(16) - 7.5) / 2) / 15
    np.testing.assert_allclose(z[8, :, 0], want, atol=1e-5)
    # a centred radial image is unchanged by rotations, up to interpolation
    yy, xx = np.mgrid[0:33, 0:33] - 16.0
    blob = np.exp(-(yy ** 2 + xx ** 2) / 50.0).astype(np.float32)[..., None].repeat(3, -1)
    np.testing.assert_allclose(F.random_transform(blob, seed=3, rotate=90), blob, atol=0.02)


def test_octave_sizes_are_as_documented():
    assert F.octave_sizes(64) == [(64, 64)]
    assert F.octave_sizes(64, 3, 2.0) == [(16, 16), (32, 32), (64, 64)]
    assert F.octave_sizes((64, 48), 2, 1.5) == [(43, 32), (64, 48)]
    for k, (h, w) in enumerate(F.octave_sizes((90, 70), 4, 1.3)):
        f = 1.3 ** (3 - k)
        assert (h, w) == (int(np.floor(90 / f + 0.5)), int(np.floor(70 / f + 0.5)))
    with pytest.raises(ValueError, match="`octaves`=6 .* at least 4 px"):
        F.octave_sizes(64, 6, 2.0)
    with pytest.raises(ValueError, match="`octave_scale` must be > 1"):
        F.octave_sizes(64, 2, 1.0)


def test_spectral_precondition_scales_each_frequency_by_its_closed_form():
    yy, xx = np.mgrid[0:32, 0:24]
    for ky, kx in [(0, 0), (0, 1), (2, 3), (5, 0), (16, 12)]:
        wave = np.cos(2 * np.pi * (ky * yy / 32 + kx * xx / 24)).astype(np.float32)
        g = np.stack([wave, 2 * wave], -1)  # (32, 24, 2)
        f = max(np.hypot(ky / 32, kx / 24), 1 / 32)
        for d in (0.5, 1.0):
            np.testing.assert_allclose(F.spectral_precondition(g, d), g * f ** (-2 * d),
                                       rtol=1e-4, atol=1e-3 * f ** (-2 * d))
    g = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(F.spectral_precondition(g, 0.0), g)
    with pytest.raises(ValueError, match="`decay_power` must be >= 0"):
        F.spectral_precondition(g, -1.0)
    with pytest.raises(ValueError, match="`gradient` must be"):
        F.spectral_precondition(g[0, 0], 1.0)
