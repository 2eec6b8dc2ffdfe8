"""cvkit.models.backbone: layouts, preprocessing against keras.applications, weights loading."""
import keras
import numpy as np
import pytest

from cvkit.models import ImagePreprocess, backbone, feature_layer_name


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)


def test_flat_backbone_layers_reachable_by_name(images):
    fe = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35)
    assert fe.output.shape == (None, 2, 2, 1280)
    assert fe.get_layer("Conv_1").output.shape[-1] == 1280
    assert fe.get_layer("preprocess").mode == "tf"
    assert fe.get_layer(feature_layer_name("mobilenetv2")) is fe.layers[-1]
    assert fe(images).shape == (2, 2, 2, 1280)


def test_nested_backbone_matches_course_layout_and_flat_outputs(images, tmp_path):
    nested = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, nested=True)
    assert [layer.name for layer in nested.layers] == ["image", "preprocess", "mobilenetv2_0.35_64"]
    inner = nested.get_layer("mobilenetv2_0.35_64")
    assert inner.get_layer("Conv_1").output.shape[-1] == 1280
    # the same weights in the flat layout give the same features
    path = tmp_path / "w.weights.h5"
    inner.save_weights(path)
    flat = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, weights=path)
    np.testing.assert_allclose(flat.predict(images, verbose=0), nested.predict(images, verbose=0),
                               atol=1e-5)


def test_weights_path_equals_keras_application_with_its_preprocessing(images, tmp_path):
    """backbone(weights=path)(x) == MobileNetV2(x preprocessed by keras' preprocess_input)."""
    app = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(64, 64, 3),
                                         alpha=0.5)
    path = tmp_path / "mnv2.weights.h5"
    app.save_weights(path)
    fe = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.5, weights=str(path))
    ref = app.predict(keras.applications.mobilenet_v2.preprocess_input(images * 255.0), verbose=0)
    np.testing.assert_allclose(fe.predict(images, verbose=0), ref, atol=1e-5)


@pytest.mark.parametrize("mode, ref", [
    ("tf", lambda x: keras.applications.mobilenet_v2.preprocess_input(x * 255.0)),
    ("caffe", lambda x: keras.applications.resnet50.preprocess_input(x * 255.0)),
    ("raw255", lambda x: x * 255.0),
    ("none", lambda x: x),
])
def test_preprocess_matches_keras_preprocess_input(images, mode, ref):
    out = keras.ops.convert_to_numpy(ImagePreprocess(mode)(images))
    np.testing.assert_allclose(out, ref(images.copy()), rtol=1e-5, atol=1e-3)


def test_efficientnet_family_and_frozen_backbone(images):
    fe = backbone("efficientnetb0", input_shape=(64, 64, 3), trainable=False)
    assert fe.output.shape == (None, 2, 2, 1280)
    assert fe.get_layer("top_activation") is not None
    assert len(fe.trainable_weights) == 0 and len(fe.non_trainable_weights) > 0
    assert np.all(np.isfinite(fe.predict(images, verbose=0)))


@pytest.mark.slow
def test_resnet50_family(images):
    fe = backbone("resnet50", input_shape=(64, 64, 3))
    assert fe.output.shape == (None, 2, 2, 2048)
    assert fe.get_layer("conv5_block3_out") is fe.layers[-1]
    assert fe.get_layer("preprocess").mode == "caffe"


def test_miniresnet_and_bn_momentum(images):
    fe = backbone("miniresnet", input_shape=(64, 64, 3), alpha=0.5)
    assert fe.output.shape == (None, 2, 2, 64)  # width 8: 8 * (2, 4, 8, 8)
    assert fe.get_layer("block4_out") is fe.layers[-1]
    bns = [la for la in fe.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert bns and all(la.momentum == 0.9 for la in bns)  # 'auto' with weights=None
    kept = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, bn_momentum=None)
    assert kept.get_layer("bn_Conv1").momentum == 0.999
    with pytest.raises(ValueError, match="`weights` must be None for 'miniresnet'"):
        backbone("miniresnet", input_shape=(64, 64, 3), weights="imagenet")
    with pytest.raises(ValueError, match="`bn_momentum`"):
        backbone("miniresnet", input_shape=(64, 64, 3), bn_momentum=1.5)


def test_imagenet_offline_asks_for_a_local_file(monkeypatch, tmp_path):
    """weights='imagenet' must never hang on a download: offline it says to pass a path."""
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure (simulated: no internet)")

    monkeypatch.setattr(file_utils, "get_file", no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="weights='/path/to/file.h5'"):
        backbone("mobilenetv2", input_shape=(96, 96, 3), alpha=0.35, weights="imagenet")


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown backbone 'vgg99'"):
        backbone("vgg99")
    with pytest.raises(TypeError, match="backbone"):
        backbone(3)
    with pytest.raises(ValueError, match="too small.*at least 32.*got 16x16"):
        backbone(input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="3 channels"):
        backbone(input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match="height, width, channels"):
        backbone(input_shape=(64, 64))
    with pytest.raises(ValueError, match="`alpha`.*MobileNetV2 and miniresnet only"):
        backbone("resnet50", input_shape=(64, 64, 3), alpha=0.5)
    with pytest.raises(ValueError, match="`alpha` must be > 0"):
        backbone(input_shape=(64, 64, 3), alpha=0.0)
    with pytest.raises(ValueError, match="does not exist"):
        backbone(input_shape=(64, 64, 3), weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="ImageNet weights of MobileNetV2"):
        backbone(input_shape=(64, 64, 3), alpha=0.6, weights="imagenet")
    with pytest.raises(TypeError, match="`trainable`"):
        backbone(input_shape=(64, 64, 3), trainable="yes")
    with pytest.raises(ValueError, match="`mode`"):
        ImagePreprocess("torch")


@pytest.mark.parametrize("stride", [32, 16, 8])
def test_output_stride_map_sizes(stride):
    fe = backbone("mobilenetv2", input_shape=(96, 80, 3), alpha=0.35, output_stride=stride)
    assert fe.output.shape == (None, -(-96 // stride), -(-80 // stride), 1280)


def _trained_like(fe, seed=0):
    """Random weights with BN statistics that keep activations alive (not the ~0 outputs of a
    fresh MobileNetV2), so that the equality below is not 0 == 0."""
    rng = np.random.default_rng(seed)
    for layer in fe.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.uniform(0, 0.5, b.shape),
                               rng.normal(0, 0.1, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    return fe


@pytest.mark.parametrize("name, alpha, offsets", [
    ("mobilenetv2", 0.35, {16: 1, 8: 3}),
    pytest.param("resnet50", 1.0, {16: 0, 8: 0}, marks=pytest.mark.slow),
])
def test_dilated_maps_sub_sample_to_the_original(images, tmp_path, name, alpha, offsets):
    """A trous: the stride-32 map is every (32/s)-th cell of the stride-s map, exactly, with the
    same weights loaded from one file (MobileNetV2 pads bottom/right: offset 2^k - 1)."""
    ref = _trained_like(backbone(name, input_shape=(64, 64, 3), alpha=alpha))
    path = tmp_path / "w.weights.h5"
    ref.save_weights(path)
    f32 = ref.predict(images, verbose=0)
    assert np.abs(f32).max() > 0.1
    for stride, off in offsets.items():
        fe = backbone(name, input_shape=(64, 64, 3), alpha=alpha, output_stride=stride)
        fe.load_weights(path)
        step = 32 // stride
        np.testing.assert_allclose(fe.predict(images, verbose=0)[:, off::step, off::step], f32,
                                   rtol=1e-4, atol=1e-4)


def test_dilated_backbone_takes_keras_application_weights_file(images, tmp_path):
    app = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(64, 64, 3),
                                         alpha=0.35)
    path = tmp_path / "mnv2.weights.h5"
    app.save_weights(path)
    for stride in (16, 8):
        for nested in (False, True):
            fe = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, weights=str(path),
                          output_stride=stride, nested=nested)
            inner = fe.get_layer("mobilenetv2_0.35_64") if nested else fe
            dw = inner.get_layer("block_14_depthwise")
            assert dw.dilation_rate == (32 // stride,) * 2 and dw.strides == (1, 1)
            np.testing.assert_array_equal(dw.get_weights()[0],
                                          app.get_layer("block_14_depthwise").get_weights()[0])


def test_output_stride_bad_values():
    with pytest.raises(ValueError, match="`output_stride` must be one of \\(32, 16, 8\\)"):
        backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, output_stride=4)
    with pytest.raises(ValueError, match="`output_stride` must be one of \\(32,\\) for backbone "
                                         "'efficientnetb0'"):
        backbone("efficientnetb0", input_shape=(64, 64, 3), output_stride=16)
    with pytest.raises(ValueError, match="`output_stride`"):
        backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, output_stride="8")
    from cvkit.models import cam_classifier, dilate
    with pytest.raises(ValueError, match="`output_stride` and `output_layer` apply to a backbone "
                                         "given by name"):
        cam_classifier(4, backbone=backbone("miniresnet", input_shape=(64, 64, 3)),
                       output_stride=8)
    with pytest.raises(ValueError, match="`output_stride`"):
        dilate(backbone("miniresnet", input_shape=(64, 64, 3)), 12)


def test_output_layer_cuts_the_network(images):
    cut = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, output_layer="block_5_add")
    full = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35)
    assert cut.output.shape == (None, 8, 8, 16) and cut.layers[-1].name == "block_5_add"
    full.set_weights(_trained_like(full).get_weights())
    cut.set_weights(full.get_weights()[:len(cut.get_weights())])
    ref = keras.Model(full.input, full.get_layer("block_5_add").output).predict(images, verbose=0)
    np.testing.assert_allclose(cut.predict(images, verbose=0), ref, atol=1e-5)
    nested = backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, nested=True,
                      output_layer="block_5_add")
    assert nested.output.shape == (None, 8, 8, 16)
    with pytest.raises(ValueError, match="`output_layer` must name a layer of the backbone"):
        backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, output_layer="block_99_add")
    with pytest.raises(TypeError, match="`output_layer` must be a layer name"):
        backbone("mobilenetv2", input_shape=(64, 64, 3), alpha=0.35, output_layer=5)
