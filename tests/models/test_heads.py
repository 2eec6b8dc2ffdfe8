"""localizer, cam_classifier, keypoint_regressor: structure, closed-form CAM identity, bad input."""
import keras
import numpy as np
import pytest
from localization_helpers import tiny_backbone

from cvkit.models import (CAM_DENSE, LocalizationModel, cam_classifier, denormalize_keypoints,
                          keypoint_regressor, localizer, normalize_keypoints)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((3, 32, 32, 3)).astype(np.float32)


def test_localizer_heads(images):
    model = localizer(5, backbone=tiny_backbone(), dropout=0.3)
    assert isinstance(model, LocalizationModel)
    assert [o.name for o in (model.get_layer("classifier"), model.get_layer("localizer"))] == \
        ["classifier", "localizer"]
    probs, boxes = model.predict(images, verbose=0)
    assert probs.shape == (3, 5) and boxes.shape == (3, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert np.all((boxes > 0) & (boxes < 1))  # sigmoid keeps the box inside the image
    # the heads read the globally pooled features: reproduce them by hand
    feats = keras.Model(model.inputs, model.get_layer("last_conv").output).predict(images, verbose=0)
    w, b = model.get_layer("localizer").get_weights()
    ref = 1 / (1 + np.exp(-(feats.mean(axis=(1, 2)) @ w + b)))
    np.testing.assert_allclose(boxes, ref, rtol=1e-4, atol=1e-6)


def test_localizer_spatial_box_head_and_initial_box(images):
    model = localizer(2, backbone=tiny_backbone(), box_features="spatial")
    assert model.get_layer("box_reduce").output.shape[-1] == 32
    assert model.get_layer("localizer").input.shape == (None, 8 * 8 * 32)
    probs, boxes = model.predict(images, verbose=0)
    # zero-initialised heads: uniform probabilities and the centred half-size box
    np.testing.assert_allclose(probs, 0.5, atol=1e-6)
    np.testing.assert_allclose(boxes, np.tile([0.25, 0.25, 0.75, 0.75], (3, 1)), atol=1e-6)
    with pytest.raises(ValueError, match="`box_features`"):
        localizer(2, backbone=tiny_backbone(), box_features="both")


def test_localizer_box_hidden_layer(images):
    model = localizer(2, backbone=tiny_backbone(), box_features="spatial", box_hidden=16)
    hidden = model.get_layer("box_hidden")
    assert hidden.input.shape == (None, 8 * 8 * 32) and hidden.output.shape == (None, 16)
    assert model.get_layer("localizer").input.shape == (None, 16)
    _, boxes = model.predict(images, verbose=0)
    # the box is sigmoid(relu(flat @ W1 + b1) @ W2 + b2): reproduce it from the layers' weights
    flat = keras.Model(model.inputs, model.get_layer("box_flatten").output).predict(images,
                                                                                   verbose=0)
    w1, b1 = hidden.get_weights()
    w2, b2 = model.get_layer("localizer").get_weights()
    w2 = np.random.default_rng(0).normal(size=w2.shape).astype(np.float32)
    model.get_layer("localizer").set_weights([w2, b2])
    _, boxes = model.predict(images, verbose=0)
    ref = 1 / (1 + np.exp(-(np.maximum(flat @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(boxes, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="`box_hidden`"):
        localizer(2, backbone=tiny_backbone(), box_hidden=-1)


def test_localizer_binary_and_linear_variants(images):
    model = localizer(1, backbone=tiny_backbone(), box_activation="linear")
    assert model.get_layer("classifier").activation.__name__ == "sigmoid"
    assert model.get_layer("localizer").activation.__name__ == "linear"
    probs, _ = model.predict(images, verbose=0)
    assert probs.shape == (3, 1) and np.all((probs > 0) & (probs < 1))


def test_localizer_mobilenet_flat():
    model = localizer(4, input_shape=(64, 64, 3), alpha=0.35)
    assert model.get_layer("Conv_1") is not None
    assert [tuple(o.shape) for o in model.outputs] == [(None, 4), (None, 4)]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_cam_classifier_scores_are_pooled_class_maps(images, pooling):
    """S_c = pool_xy(M_c) + b_c with M_c(x, y) = sum_k w_k^c f_k(x, y): the CAM identity."""
    model = cam_classifier(3, backbone=tiny_backbone(), pooling=pooling)
    assert model.layers[-1].name == CAM_DENSE
    assert model.get_layer("gap" if pooling == "avg" else "gmp") is not None
    feats = keras.Model(model.inputs, model.get_layer("last_conv").output).predict(images, verbose=0)
    w, b = model.get_layer(CAM_DENSE).get_weights()
    if pooling == "avg":
        cams = np.einsum("nhwk,kc->nhwc", feats, w)
        logits = cams.mean(axis=(1, 2)) + b
    else:
        logits = feats.max(axis=(1, 2)) @ w + b
    ref = np.exp(logits - logits.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(images, verbose=0), ref, rtol=1e-4, atol=1e-6)


def test_cam_classifier_nested_like_the_course():
    model = cam_classifier(2, input_shape=(96, 96, 3), alpha=0.35, nested=True)
    inner = model.get_layer("mobilenetv2_0.35_96")
    assert inner.get_layer("Conv_1").output.shape[1:3] == (3, 3)
    assert model.layers[-1].name == CAM_DENSE and model.output.shape == (None, 2)


def test_keypoint_regressor(images):
    model = keypoint_regressor(4, backbone=tiny_backbone())
    out = model.predict(images, verbose=0)
    assert out.shape == (3, 4, 2) and np.all((out > 0) & (out < 1))
    assert model.layers[-1].name == "keypoints"


def test_keypoint_normalisation_hand_worked():
    kp = np.array([[[10.0, 20.0], [30.0, 60.0]]])
    box = np.array([[10.0, 20.0, 50.0, 100.0]])  # w = 40, h = 80
    norm = normalize_keypoints(kp, box)
    np.testing.assert_allclose(norm, [[[0, 0], [0.5, 0.5]]])
    np.testing.assert_allclose(denormalize_keypoints(norm, box), kp)
    with pytest.raises(ValueError, match="`keypoints`"):
        normalize_keypoints(np.zeros((1, 2, 3)), box)
    with pytest.raises(ValueError, match="`boxes`"):
        normalize_keypoints(kp, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="positive width"):
        normalize_keypoints(kp, [[0, 0, 0, 1]])


def test_bad_inputs():
    bb = tiny_backbone()
    with pytest.raises(ValueError, match="`num_classes` must be >= 1; got 0"):
        localizer(0, backbone=bb)
    with pytest.raises(TypeError, match="`num_classes`"):
        localizer(2.5, backbone=bb)
    with pytest.raises(ValueError, match="`box_activation`"):
        localizer(2, backbone=bb, box_activation="relu")
    with pytest.raises(ValueError, match="`dropout`"):
        localizer(2, backbone=bb, dropout=1.5)
    with pytest.raises(ValueError, match="`pooling`"):
        cam_classifier(2, backbone=bb, pooling="min")
    with pytest.raises(ValueError, match="`num_classes`"):
        cam_classifier(0, backbone=bb)
    with pytest.raises(ValueError, match="`num_keypoints`"):
        keypoint_regressor(0, backbone=bb)
    with pytest.raises(ValueError, match="unknown backbone"):
        localizer(2, backbone="alexnet")
    with pytest.raises(ValueError, match="too small"):
        cam_classifier(2, input_shape=(24, 24, 3))
    flat = keras.Model(bb.inputs, keras.layers.GlobalAveragePooling2D()(bb.output))
    with pytest.raises(ValueError, match="4-D output"):
        localizer(2, backbone=flat)


def test_small_cnn_with_and_without_batchnorm():
    import keras

    from cvkit.models import small_cnn

    bn = small_cnn(4, input_shape=(32, 32, 3))
    plain = small_cnn(4, input_shape=(32, 32, 3), batchnorm=False)
    kinds = lambda m: [type(la).__name__ for la in m.layers]  # noqa: E731
    assert kinds(bn).count("BatchNormalization") == 4 and "BatchNormalization" not in kinds(plain)
    assert not bn.get_layer("conv1").use_bias and plain.get_layer("conv1").use_bias
    assert bn.get_layer("relu4").output.shape == (None, 4, 4, 64)
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    p = plain.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert isinstance(bn.get_layer("scale"), keras.layers.Rescaling)


def test_small_cnn_bad_input():
    from cvkit.models import small_cnn

    with pytest.raises(ValueError, match="`num_classes`"):
        small_cnn(1)
    with pytest.raises(TypeError, match="`batchnorm` must be True or False"):
        small_cnn(4, batchnorm="yes")
    with pytest.raises(ValueError, match="`widths` must hold 4"):
        small_cnn(4, widths=(8, 8, 8))


def test_cam_classifier_cut_with_head_conv_keeps_the_cam_identity():
    """GAP after block_5 + a 3x3 conv: the class score is still the mean of the CAM plus the bias."""
    from cvkit import explain
    from cvkit.models import cam_classifier

    m = cam_classifier(3, input_shape=(64, 64, 3), alpha=0.35, output_layer="block_5_add",
                       head_conv=8)
    assert m.get_layer("gap").input.shape == (None, 8, 8, 8)
    assert m.get_layer("cam_relu").output.shape == (None, 8, 8, 8)
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    maps = explain.cam(m, x, class_index=[0, 2], upsample=False, normalize=False)
    dense = m.get_layer("predictions")
    import keras

    feats = keras.Model(m.input, m.get_layer("gap").input).predict(x, verbose=0)
    logits = feats.mean((1, 2)) @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(maps.mean((1, 2)) + dense.bias.numpy()[[0, 2]],
                               logits[[0, 1], [0, 2]], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="`head_conv`"):
        cam_classifier(3, input_shape=(64, 64, 3), alpha=0.35, head_conv=-1)
