"""Perception Visualization: the blend, the maps and reconstructions of one pass, the measures."""
import keras
import numpy as np
import pytest

from cvkit import explain
from cvkit.explain.perception import (PV_METHODS, build_perception, class_consistency,
                                      perception_visualization, psnr, pv_blend, reconstruct,
                                      reconstruction_scores, ssim)
from cvkit.models import small_cnn

SIZE = 16


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_perception(small_cnn(3, (SIZE, SIZE, 3), widths=(4, 4, 8, 8)))


def _x(n=4, seed=0):
    return np.random.default_rng(seed).random((n, SIZE, SIZE, 3)).astype("float32")


def test_pv_blend_closed_form():
    rng = np.random.default_rng(1)
    x, y, m = rng.random((2, 5, 5, 3)), rng.random((2, 5, 5, 3)), rng.random((2, 5, 5))
    out = pv_blend(x, y, m, dim=0.4)
    np.testing.assert_allclose(out, m[..., None] * y + (1 - m[..., None]) * 0.4 * x, atol=1e-6)
    np.testing.assert_allclose(pv_blend(x, y, np.ones((2, 5, 5))), y, atol=1e-6)   # all salient
    assert pv_blend(x[0], y[0], m[0]).shape == (5, 5, 3)


def test_pv_blend_bad_input():
    x = np.zeros((1, 4, 4, 3))
    with pytest.raises(ValueError, match="`saliency` must be in"):
        pv_blend(x, x, np.full((1, 4, 4), 2.0))
    with pytest.raises(ValueError, match="must match"):
        pv_blend(x, x, np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="`dim`"):
        pv_blend(x, x, np.zeros((1, 4, 4)), dim=1.5)


@pytest.mark.parametrize("method", ["grad_cam", "grad_cam_plus_plus", "layer_cam"])
def test_fused_pass_matches_explain(model, method):
    x = _x()
    res = perception_visualization(model, x, method=method, classify_reconstruction=True)
    want = getattr(explain, method)(model.classifier, x, layer=model.layer_name, output=1)
    np.testing.assert_allclose(res.saliency, want, atol=1e-5)
    x_hat, s, s_hat = reconstruct(model, x)
    np.testing.assert_allclose(res.reconstruction, x_hat, atol=1e-5)
    np.testing.assert_array_equal(res.predicted, s.argmax(1))
    np.testing.assert_array_equal(res.class_index, s.argmax(1))       # None: predicted class
    np.testing.assert_array_equal(res.predicted_reconstruction, s_hat.argmax(1))
    np.testing.assert_allclose(res.pv, pv_blend(x, x_hat, want), atol=1e-5)


def test_explained_class_and_by_name_method(model):
    x = _x(3)
    res = perception_visualization(model, x, class_index=[2, 0, 1], method="cam")
    want = explain.cam(model.classifier, x, class_index=[2, 0, 1], output=1)
    np.testing.assert_allclose(res.saliency, want, atol=1e-5)
    assert res.class_index.tolist() == [2, 0, 1] and res.predicted_reconstruction is None
    other = perception_visualization(model, x, class_index=1, layer="relu3")
    want = explain.grad_cam(model.classifier, x, class_index=1, layer="relu3", output=1)
    np.testing.assert_allclose(other.saliency, want, atol=1e-5)
    one = perception_visualization(model, x[0])
    assert one.pv.shape == (SIZE, SIZE, 3) and one.saliency.shape == (SIZE, SIZE)
    assert set(PV_METHODS) <= set(dir(explain)) | {"cam"}


def test_pv_bad_input(model):
    with pytest.raises(ValueError, match="`method` must be one of"):
        perception_visualization(model, _x(), method="gradcam")
    with pytest.raises(ValueError, match="do not fit the classifier input"):
        perception_visualization(model, np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="`class_index` must be in"):
        perception_visualization(model, _x(2), class_index=3)
    with pytest.raises(ValueError, match="one class per image"):
        perception_visualization(model, _x(2), class_index=[0, 1, 2])
    with pytest.raises(TypeError, match="PerceptionModel"):
        perception_visualization(model.classifier, _x(2))
    with pytest.raises(ValueError, match="no_layer"):
        perception_visualization(model, _x(2), layer="no_layer")


def test_psnr_ssim_against_references():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    x = rng.random((3, 16, 16, 3))
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    mse = ((x.astype(np.float32) - y.astype(np.float32)) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(psnr(x, y), 10 * np.log10(1 / mse), rtol=1e-4)
    want = [structural_similarity(a.astype(np.float32), b.astype(np.float32), data_range=1.0,
                                  channel_axis=-1) for a, b in zip(x, y)]
    np.testing.assert_allclose(ssim(x, y), want, rtol=1e-6)
    assert ssim(x[0], x[0]) == pytest.approx(1.0)


def test_measures_bad_input():
    with pytest.raises(ValueError, match="`reconstructions` must have the shape"):
        psnr(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 9, 3)))
    with pytest.raises(ValueError, match="at least 7 x 7"):
        ssim(np.zeros((1, 5, 5, 3)), np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="`scores_reconstructed`"):
        class_consistency(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`scores`"):
        class_consistency(np.zeros(3), np.zeros(3))


def test_class_consistency_hand_example():
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    t = np.array([[0.6, 0.4], [0.9, 0.1], [0.4, 0.6], [0.1, 0.9]])
    assert class_consistency(s, t) == 0.5


def test_reconstruction_scores(model):
    x = _x(4)
    labels = np.array([0, 1, 2, 0])
    out = reconstruction_scores(model, x, labels, batch_size=3)
    x_hat, s, s_hat = reconstruct(model, x)
    assert out["psnr"] == pytest.approx(float(np.mean(psnr(x, x_hat))), rel=1e-5)
    assert out["ssim"] == pytest.approx(float(np.mean(ssim(x, x_hat))), rel=1e-5)
    assert out["class_consistency"] == class_consistency(s, s_hat)
    assert out["accuracy"] == pytest.approx(np.mean(s.argmax(1) == labels))
    with pytest.raises(ValueError, match="`labels` must hold one class per image"):
        reconstruction_scores(model, x, labels[:2])


def test_nested_backbone_needs_the_classifier():
    from explain_models import images, nested_gap

    clf = nested_gap(size=SIZE)
    model = build_perception(clf, layer="c2")
    x = images(2, SIZE)
    with pytest.raises(ValueError, match="pass the classifier itself"):
        perception_visualization(model, x)
    res = perception_visualization(model, x, classifier=clf)
    np.testing.assert_allclose(res.saliency, explain.grad_cam(clf, x, layer="c2"), atol=1e-5)
    np.testing.assert_allclose(res.reconstruction, reconstruct(model, x)[0], atol=1e-5)
    other = nested_gap(size=SIZE, seed=3)
    with pytest.raises(ValueError, match="scores the images differently"):
        perception_visualization(model, x, classifier=other)
