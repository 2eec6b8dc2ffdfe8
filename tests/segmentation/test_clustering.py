import numpy as np
import pytest
from scipy.cluster.vq import kmeans2
from skimage import data

from cvkit.segmentation import (kmeans, kmeans_plus_plus, kmeans_segment, pixel_features,
                                slic_superpixels)


@pytest.fixture(scope="module")
def pixels():
    img = data.astronaut()[::8, ::8]
    return img, img.reshape(-1, 3) / 255.0


def test_kmeans_inertia_matches_scipy(pixels):
    _, X = pixels
    for k in (3, 5):
        _, labels, inertia, _ = kmeans(X, k, seed=0, n_init=3)
        ref = []
        for s in range(6):
            c, l2 = kmeans2(X, k, minit="++", seed=s, iter=100)
            ref.append(np.sum((X - c[l2]) ** 2))
        # as good as the best of six scipy runs, within 1 %
        assert inertia <= min(ref) * 1.01
        assert inertia >= 0.9 * min(ref)


def test_kmeans_fixed_point(pixels):
    _, X = pixels
    C, labels, inertia, _ = kmeans(X, 4, seed=1)
    d = ((X[:, None] - C[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d.argmin(1))  # every point at its nearest centre
    for j in range(4):
        np.testing.assert_allclose(C[j], X[labels == j].mean(0), atol=1e-6)  # centres are means
    np.testing.assert_allclose(inertia, d.min(1).sum())


def test_kmeans_seeded():
    X = np.random.default_rng(0).random((300, 2))
    a = kmeans(X, 4, seed=3)
    b = kmeans(X, 4, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(kmeans_plus_plus(X, 4, seed=5), kmeans_plus_plus(X, 4, seed=5))


def test_kmeans_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [5, 5], [0, 5]])
    X = np.concatenate([c + rng.normal(0, 0.1, (50, 2)) for c in centres])
    C, labels, _, _ = kmeans(X, 3, seed=0)
    np.testing.assert_allclose(np.sort(C, axis=0), np.sort(centres, axis=0), atol=0.1)
    assert len(set(labels[:50])) == 1 and len(set(labels)) == 3


def test_kmeans_plus_plus_spreads_out():
    # two far groups: k-means++ picks one centre from each (prob. of a second pick in the same
    # group is ~1e-6)
    X = np.concatenate([np.zeros((50, 2)), np.full((50, 2), 100.0)])
    for s in range(5):
        C = kmeans_plus_plus(X, 2, seed=s)
        assert abs(C[0, 0] - C[1, 0]) == 100


def test_kmeans_segment(pixels):
    img, _ = pixels
    seg = kmeans_segment(img, 4, seed=0)
    assert seg.labels.shape == img.shape[:2] and set(np.unique(seg.labels)) == {0, 1, 2, 3}
    np.testing.assert_allclose(seg.recolored, seg.centers[seg.labels], atol=1e-6)
    spatial = kmeans_segment(img, 4, seed=0, spatial_weight=2.0)
    assert spatial.labels.shape == img.shape[:2]
    feats = pixel_features(img, 2.0)
    assert feats.shape == (img.shape[0] * img.shape[1], 5)


def test_kmeans_bad_k(pixels):
    img, X = pixels
    with pytest.raises(ValueError, match="k"):
        kmeans_segment(img, 0)
    with pytest.raises(ValueError, match="k"):
        kmeans_segment(np.zeros((3, 3, 3)), 10)
    with pytest.raises(TypeError, match="k"):
        kmeans(X, 2.5)
    with pytest.raises(ValueError, match="X"):
        kmeans(np.zeros(5), 2)
    with pytest.raises(ValueError, match="image"):
        kmeans_segment(np.zeros((2, 4, 4, 3)), 2)


def test_kmeans_k_equal_pixels_and_duplicates():
    X = np.array([[0.0], [0.0], [1.0]])
    C, labels, inertia, _ = kmeans(X, 3, seed=0)
    assert inertia == pytest.approx(0.0)


def test_slic_wrapper(pixels):
    from skimage.segmentation import slic

    img, _ = pixels
    lab = slic_superpixels(img, 20, 10.0)
    ref = slic(img / 255.0, n_segments=20, compactness=10.0, start_label=0, channel_axis=-1)
    np.testing.assert_array_equal(lab, ref)
    with pytest.raises(ValueError, match="n_segments"):
        slic_superpixels(img, 0)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_assign_in_blocks_equals_the_brute_force_argmin(monkeypatch, k):
    """The blocked, branch-free assignment: the nearest centre of every point (ties to the first
    centre, as argmin), across block edges that do not divide N, buffers reused between calls."""
    from cvkit.segmentation import clustering

    monkeypatch.setattr(clustering, "ASSIGN_BLOCK", 7)
    rng = np.random.default_rng(k)
    X = rng.integers(0, 4, (53, 2)).astype(np.float64)          # many exact ties
    XTa = np.vstack([X.T, np.ones((1, len(X)))])
    work = {}
    for C in (X[:k] + 0.0, rng.integers(0, 4, (k, 2)).astype(np.float64)):
        labels, part = clustering._assign(XTa, C, work)
        d2 = ((X[:, None, :] - C[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(labels, d2.argmin(1))
        np.testing.assert_allclose(part + (X ** 2).sum(1), d2.min(1), atol=1e-12)
    assert work["S"].shape == (k, 7)
