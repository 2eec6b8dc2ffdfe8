import numpy as np
import pytest

from cvkit.datasets import shapes
from cvkit.preprocessing import (PCA, ChannelMean, ChannelStandardizer, CorrelationSelector,
                                 MeanImage, Standardizer, ZeroCenter, backbone_preprocessing,
                                 preprocess_for_backbone)


@pytest.fixture(scope="module")
def split():
    ds = shapes(40, image_size=16, seed=9)
    return ds.images[:30], ds.images[30:]


def test_fitted_on_train_only(split):
    train, test = split
    for cls in (ZeroCenter, Standardizer, MeanImage, ChannelMean, ChannelStandardizer):
        norm = cls().fit(train)
        # the statistics are the training split's, not the test split's nor the union's
        np.testing.assert_allclose(norm.transform(train).mean(axis=0 if cls in (
            ZeroCenter, Standardizer, MeanImage) else (0, 1, 2)), 0, atol=1e-5)
        assert abs(norm.transform(test).mean()) > 1e-3


def test_channel_statistics_closed_form(split):
    train, test = split
    cs = ChannelStandardizer().fit(train)
    np.testing.assert_allclose(cs.mean_, train.reshape(-1, 3).mean(0), rtol=1e-5)
    np.testing.assert_allclose(cs.std_, train.reshape(-1, 3).std(0), rtol=1e-4)
    out = cs.transform(train).reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(cs.inverse_transform(cs.transform(test)), test, atol=1e-5)
    cm = ChannelMean().fit(train)
    np.testing.assert_allclose(cm.transform(test), test - train.reshape(-1, 3).mean(0), atol=1e-6)


def test_mean_image_and_standardizer(split):
    train, test = split
    mi = MeanImage().fit(train)
    assert mi.mean_.shape == (16, 16, 3)
    np.testing.assert_allclose(mi.transform(test), test - train.mean(0), atol=1e-6)
    st = Standardizer().fit(train)
    z = st.transform(train)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    const = np.ones((5, 4))
    np.testing.assert_array_equal(Standardizer().fit(const).transform(const), 0)  # no NaN


def test_pca_decorrelates_and_whitens():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    x = rng.normal(size=(2000, 3)) @ a + [1.0, -2.0, 0.5]
    dec = PCA().fit(x).transform(x)
    cov = np.cov(dec, rowvar=False, bias=True)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0, atol=1e-4)
    assert np.all(np.diff(np.diag(cov)) <= 1e-6)  # sorted by variance
    np.testing.assert_allclose(np.diag(cov), np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1],
                               rtol=1e-4)
    wh = PCA(whiten=True, eps=0).fit(x).transform(x)
    np.testing.assert_allclose(np.cov(wh, rowvar=False, bias=True), np.eye(3), atol=1e-4)
    zca = PCA(zca=True, eps=0).fit(x)
    zx = zca.transform(x)
    np.testing.assert_allclose(np.cov(zx, rowvar=False, bias=True), np.eye(3), atol=1e-4)
    np.testing.assert_allclose(zca.inverse_transform(zx), x, atol=1e-4)
    two = PCA(n_components=2).fit(x)
    assert two.transform(x).shape == (2000, 2)


def test_pca_on_images_matches_numpy_svd(split):
    train, _ = split
    p = PCA(n_components=5).fit(train)
    flat = train.reshape(30, -1).astype(np.float64)
    s = np.linalg.svd(flat - flat.mean(0), compute_uv=False)
    np.testing.assert_allclose(p.explained_variance_, s[:5] ** 2 / 30, rtol=1e-4)


def test_backbone_preprocessing_matches_keras():
    import keras

    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(backbone_preprocessing("mobilenetv2")(x), x * 2 - 1, atol=1e-6)
    ref = keras.applications.resnet50.preprocess_input(x * 255.0)
    np.testing.assert_allclose(preprocess_for_backbone(x, "resnet50"), ref, atol=1e-4)
    np.testing.assert_allclose(preprocess_for_backbone(x[0], "ResNet50"), ref[0], atol=1e-4)


def test_preprocessing_bad_input(split):
    train, test = split
    with pytest.raises(RuntimeError, match="not fitted"):
        ChannelMean().transform(test)
    with pytest.raises(ValueError, match="samples of shape"):
        MeanImage().fit(train).transform(test[:, :8])
    with pytest.raises(ValueError, match="channels"):
        ChannelStandardizer().fit(train).transform(test[..., :1])
    with pytest.raises(ValueError, match="at least 4"):
        ChannelMean().fit(train[0])
    with pytest.raises(ValueError, match="NaN"):
        ZeroCenter().fit(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="n_components"):
        PCA(n_components=10).fit(np.ones((5, 3)))
    with pytest.raises(ValueError, match="zca"):
        PCA(n_components=2, zca=True)
    with pytest.raises(ValueError, match="`name`"):
        backbone_preprocessing("alexnet")
    with pytest.raises(ValueError, match="eps"):
        Standardizer(eps=-1)


def test_correlation_selector_matches_corrcoef(split):
    train, test = split
    y = 3.0 * train[:, 0, 0, 0] + 0.1 * (np.arange(len(train)) % 3)   # pixel 0 drives y
    sel = CorrelationSelector(k=7).fit(train, y)
    flat = train.reshape(len(train), -1).astype(np.float64)
    ref = np.array([np.corrcoef(flat[:, j], y)[0, 1] for j in range(flat.shape[1])])
    np.testing.assert_allclose(sel.correlation_, ref, atol=1e-10)
    np.testing.assert_array_equal(sel.indices_, np.argsort(-np.abs(ref), kind="stable")[:7])
    assert sel.indices_[0] == 0   # the pixel that y was built from
    # the kept columns of any split, by the training split's choice
    np.testing.assert_array_equal(sel.transform(test), test.reshape(len(test), -1)[:, sel.indices_])
    np.testing.assert_array_equal(CorrelationSelector(k=7).fit_transform(train, y),
                                  flat.astype(np.float32)[:, sel.indices_])


def test_correlation_selector_constant_feature_and_ties():
    x = np.array([[0.0, 5.0, 0.0], [1.0, 5.0, 1.0], [2.0, 5.0, 2.0]])
    sel = CorrelationSelector(k=3).fit(x, [0, 1, 2])
    np.testing.assert_allclose(sel.correlation_, [1.0, 0.0, 1.0])   # constant: 0, not NaN
    np.testing.assert_array_equal(sel.indices_, [0, 2, 1])           # tie: lower index first
    neg = CorrelationSelector(k=1).fit(-x, [0, 1, 2])                 # |r| ranks, sign kept
    assert neg.indices_[0] == 0 and neg.correlation_[0] == pytest.approx(-1.0)


def test_correlation_selector_on_noise_is_the_leak():
    # in-sample, the selected features of pure noise look strongly related to the labels;
    # on fresh data from the same source, they are not
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 2000)), rng.permutation(np.arange(40) % 2)
    sel = CorrelationSelector(k=10).fit(x, y)
    # one noise feature alone has |r| ~ 1/sqrt(40) = 0.16; the best 10 of 2000 look far better
    assert np.abs(sel.correlation_[sel.indices_]).min() > 0.4
    xf, yf = rng.random((4000, 2000)), rng.integers(0, 2, 4000)
    fresh = CorrelationSelector(k=2000).fit(xf, yf).correlation_[sel.indices_]
    assert np.abs(fresh).max() < 0.1


def test_correlation_selector_bad_input(split):
    train, test = split
    y = np.arange(len(train)) % 2
    with pytest.raises(ValueError, match="`k` must be <="):
        CorrelationSelector(k=10 ** 6).fit(train, y)
    with pytest.raises(ValueError, match="`k`"):
        CorrelationSelector(k=0)
    with pytest.raises(ValueError, match="one label per sample"):
        CorrelationSelector(k=2).fit(train, y[:-1])
    with pytest.raises(ValueError, match="`y` is constant"):
        CorrelationSelector(k=2).fit(train, np.zeros(len(train)))
    with pytest.raises(ValueError, match="`y` contains NaN"):
        CorrelationSelector(k=2).fit(train, np.r_[np.nan, y[1:]])
    with pytest.raises(TypeError, match="`y` must hold numeric"):
        CorrelationSelector(k=2).fit(train, np.array(["a", "b"] * 15))
    with pytest.raises(RuntimeError, match="not fitted"):
        CorrelationSelector(k=2).transform(test)
    with pytest.raises(ValueError, match="samples of shape"):
        CorrelationSelector(k=2).fit(train, y).transform(test[:, :8])


# ------------------------------------------------------------------------------------------------
# issue 17: N << D without the D x D covariance, booleans that are booleans, large values
# ------------------------------------------------------------------------------------------------


def test_pca_few_samples_many_features_matches_the_covariance():
    rng = np.random.default_rng(0)
    x, test = rng.random((10, 60)), rng.random((3, 60))
    p = PCA().fit(x)
    assert p.components_.shape == (60, 10)          # min(N, D) components, not D
    xc = x - x.mean(0)
    evals, evecs = np.linalg.eigh(xc.T @ xc / 10)
    evals, evecs = evals[::-1], evecs[:, ::-1]
    np.testing.assert_allclose(p.explained_variance_[:9], evals[:9], rtol=1e-10)
    # same directions up to sign, and the same sign rule (largest entry positive)
    evecs = evecs * np.sign(evecs[np.abs(evecs).argmax(0), np.arange(60)])
    np.testing.assert_allclose(p.components_[:, :9], evecs[:, :9], atol=1e-8)
    np.testing.assert_allclose(p.transform(test)[:, :9], (test - x.mean(0)) @ evecs[:, :9],
                               atol=1e-5)


def test_pca_whiten_on_images_is_fast_and_white():
    import time

    x = np.random.default_rng(0).random((20, 64, 64, 3)).astype(np.float32)
    t0 = time.perf_counter()
    p = PCA(whiten=True).fit(x)
    assert time.perf_counter() - t0 < 20                 # the 12288 x 12288 route took minutes
    z = p.transform(x)[:, :19].astype(np.float64)        # 19 directions carry the 20 samples
    np.testing.assert_allclose(z.T @ z / 20, np.eye(19), atol=1e-3)
    zca = PCA(zca=True).fit(x)
    np.testing.assert_allclose(zca.inverse_transform(zca.transform(x)), x, atol=1e-4)


@pytest.mark.parametrize("kwargs,arg", [(dict(whiten="no"), "whiten"), (dict(zca="yes"), "zca"),
                                        (dict(whiten=1), "whiten"), (dict(n_components=2.0),
                                                                     "n_components")])
def test_pca_options_are_checked(kwargs, arg):
    with pytest.raises(TypeError, match=f"`{arg}`"):
        PCA(**kwargs)


def test_normalisers_refuse_non_numbers_and_survive_large_values():
    with pytest.raises(TypeError, match="`x`"):
        Standardizer().fit(np.ones((3, 2), complex))
    with pytest.raises(TypeError, match="`x`"):
        ZeroCenter().fit(np.array([["a", "b"]]))
    x = np.array([[1e20, 0.0], [3e20, 1.0]], np.float32)   # squares overflow float32
    st = Standardizer().fit(x)
    np.testing.assert_allclose(st.std_, [1e20, 0.5], rtol=1e-6)
    np.testing.assert_allclose(st.transform(x), [[-1, -1], [1, 1]], atol=1e-6)
    cs = ChannelStandardizer().fit(np.full((2, 1, 1, 3), 3e20, np.float32) * [[[[1, 2, 3]]]])
    assert np.all(np.isfinite(cs.std_))
