"""Augmented Grad-CAM, the known-answer problem: the observations are the operator applied to the
truth, the seed fixes everything, the noise has the requested size."""
import numpy as np
import pytest

from cvkit.explain import augmented as A


def test_synthetic_problem_observes_the_truth_through_the_operator():
    h, g, p = A.synthetic_superresolution_problem(32, 4, n_augmentations=5, seed=2)
    assert h.shape == (32, 32) and g.shape == (5, 4, 4) and p.shape == (5, 3)
    assert h.dtype == g.dtype == p.dtype == np.float32
    assert h.min() >= 0.0 and h.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(p, A.random_augmentations(5, 0.5, 30.0 * 32 / 224, seed=2))
    np.testing.assert_allclose(g, A.AugmentationOperator(p, 32, 4)(h), atol=1e-6)


def test_synthetic_problem_seed_and_noise():
    a = A.synthetic_superresolution_problem(32, 4, n_augmentations=3, seed=1)
    b = A.synthetic_superresolution_problem(32, 4, n_augmentations=3, seed=1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], A.synthetic_superresolution_problem(32, 4, 3, seed=2)[0])
    h, noisy, _ = A.synthetic_superresolution_problem(32, 4, n_augmentations=3, noise=0.1, seed=1)
    np.testing.assert_array_equal(h, a[0])
    assert 0.05 < np.std(noisy - a[1]) < 0.2


@pytest.mark.parametrize("kw, exc, word", [
    (dict(output_size=4), ValueError, "`output_size`"),
    (dict(output_size=32, map_size=32), ValueError, "`map_size`"),
    (dict(noise=-0.1), ValueError, "`noise`"),
    (dict(seed=1.5), TypeError, "`seed`"),
])
def test_synthetic_problem_bad_input(kw, exc, word):
    with pytest.raises(exc, match=word):
        A.synthetic_superresolution_problem(**{"n_augmentations": 2, **kw})
