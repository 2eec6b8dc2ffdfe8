"""Bad input across the model-free functions of cvkit.inside: each case raises the expected type
and names the argument; nothing allocates by an argument without a bound."""
import numpy as np
import pytest

import cvkit.inside as ins

IMG = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)

BAD = [
    (ins.octave_sizes, dict(size="64"), "size", TypeError),
    (ins.octave_sizes, dict(size=64, octaves=10 ** 12, octave_scale=2.0), "octaves", ValueError),
    (ins.octave_sizes, dict(size=64, octave_scale=1.0), "octave_scale", ValueError),
    (ins.total_variation, dict(images=np.full((2, 2, 3), "a")), "images", TypeError),
    (ins.gaussian_blur, dict(images=IMG, sigma="1"), "sigma", TypeError),
    (ins.spectral_precondition, dict(gradient=np.full((2, 2, 3), "a")), "gradient", TypeError),
    (ins.spectral_precondition, dict(gradient=np.zeros((4, 4))), "gradient", ValueError),
    (ins.spectral_precondition, dict(gradient=IMG, decay_power=1e12), "decay_power", ValueError),
    (ins.spectral_precondition, dict(gradient=IMG * np.nan), "gradient", ValueError),
    (ins.random_transform, dict(images=IMG, seed=-1), "seed", ValueError),
    (ins.random_transform, dict(images=IMG, seed=0, step=-2), "step", ValueError),
    (ins.random_transform, dict(images=IMG, jitter=10 ** 12), "jitter", ValueError),
    (ins.random_transform, dict(images=IMG, rotate="5"), "rotate", TypeError),
    (ins.sigmoid, dict(x=["a"]), "x", TypeError),
    (ins.sigmoid, dict(x=[np.nan]), "x", ValueError),
    (ins.batchnorm_forward, dict(x=IMG, training="no"), "training", TypeError),
    (ins.batchnorm_forward, dict(x=np.array([["a"]])), "x", TypeError),
    (ins.small_batch_noise, dict(features=IMG.reshape(-1, 3), seed=-1), "seed", ValueError),
    (ins.small_batch_noise, dict(features=IMG.reshape(-1, 3), n_draws=10 ** 9), "n_draws",
     ValueError),
    (ins.deep_stack, dict(depth=2, seed=-1), "seed", ValueError),
    (ins.deep_stack, dict(depth=2, residual="no"), "residual", TypeError),
    (ins.forward, dict(params={**ins.EXAMPLE_PARAMS, "w1": "0.15"}), "params", TypeError),
]


@pytest.mark.parametrize("fn,kwargs,arg,exc", BAD, ids=[f"{b[0].__name__}-{b[2]}-{i}"
                                                        for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(fn, kwargs, arg, exc):
    with pytest.raises(exc, match=f"`{arg}"):
        fn(**kwargs)


def test_sigmoid_saturates_without_nan():
    np.testing.assert_allclose(ins.sigmoid([-1000.0, 0.0, 1000.0]), [0.0, 0.5, 1.0])


def test_octave_sizes_at_the_limit():
    assert ins.octave_sizes(28, 3, 2.0) == [(7, 7), (14, 14), (28, 28)]
    assert ins.octave_sizes(64, 5, 2.0)[0] == (4, 4)
    with pytest.raises(ValueError, match="`octaves`"):
        ins.octave_sizes(64, 6, 2.0)


def test_spectral_precondition_matches_a_numpy_fft():
    g = np.random.default_rng(1).normal(size=(1, 6, 8, 1)).astype(np.float32)
    out = ins.spectral_precondition(g, decay_power=1.0)
    ky = np.minimum(np.arange(6), 6 - np.arange(6)) / 6
    kx = np.arange(5) / 8
    f = np.maximum(np.hypot(ky[:, None], kx[None, :]), 1 / 8)
    ref = np.fft.irfft2(np.fft.rfft2(g[0, ..., 0]) * f ** -2.0, s=(6, 8))
    np.testing.assert_allclose(out[0, ..., 0], ref, rtol=1e-4, atol=1e-4)
