"""Tests for cvkit.inside.filters (conv_filters, feature_maps), finding layers in nested models."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cvkit import _graph  # noqa: E402
from cvkit import inside as F  # noqa: E402

L = keras.layers


def test_find_layer_top_level_nested_and_by_path(nested):
    model, bb = nested
    assert _graph.find_layer(model, "head").chain[-1] is model.get_layer("head")
    path = _graph.find_layer(model, "block_2_add").chain
    assert path[0] is bb and path[-1] is bb.get_layer("block_2_add")
    assert _graph.find_layer(model, f"{bb.name}/Conv1").layer is bb.get_layer("Conv1")
    assert _graph.find_layer(model, bb.get_layer("Conv1")).layer is bb.get_layer("Conv1")


def test_find_layer_bad_input(cnn):
    with pytest.raises(ValueError, match="`layer`: no layer named 'nope'.*Its layers are: c1, p1"):
        _graph.find_layer(cnn, "nope")
    with pytest.raises(ValueError, match="`layers`: no layer named 'nope'"):
        F.feature_maps(cnn, np.zeros((1, 32, 32, 3), np.float32), ["c1", "nope"])
    with pytest.raises(TypeError, match="`layer` must be a layer name"):
        _graph.find_layer(cnn, 3)
    with pytest.raises(TypeError, match="`model` must be a Keras functional"):
        _graph.find_layer("not a model", "c1")


def test_conv_filters_first_layer_rgb_minmax_per_filter(cnn):
    k = cnn.get_layer("c1").kernel.numpy()  # (3, 3, 3, 8)
    got = F.conv_filters(cnn)
    assert got.shape == (8, 3, 3, 3)
    for f in range(8):
        w = k[..., f]
        np.testing.assert_allclose(got[f], (w - w.min()) / (w.max() - w.min()), atol=1e-6)


def test_conv_filters_deeper_and_depthwise(cnn, nested):
    k = cnn.get_layer("c2").kernel.numpy()  # (3, 3, 8, 12)
    got = F.conv_filters(cnn, "c2")
    assert got.shape == (12, 8, 3, 3)
    w = k[..., 5].transpose(2, 0, 1)
    np.testing.assert_allclose(got[5], (w - w.min()) / (w.max() - w.min()), atol=1e-6)
    _, bb = nested
    dk = bb.get_layer("block_1_depthwise").kernel.numpy()  # (3, 3, C, 1)
    got = F.conv_filters(nested[0], "block_1_depthwise")
    assert got.shape == (dk.shape[2], 1, 3, 3)
    w = dk[:, :, 4, 0]
    np.testing.assert_allclose(got[4, 0], (w - w.min()) / (w.max() - w.min()), atol=1e-6)


def test_conv_filters_constant_filter_gives_zeros():
    inp = keras.Input((8, 8, 3))
    m = keras.Model(inp, L.Conv2D(2, 3, kernel_initializer="ones")(inp))
    assert np.all(F.conv_filters(m) == 0)


def test_conv_filters_bad_input(cnn):
    dense = keras.Sequential([keras.Input((4,)), L.Dense(3)])
    with pytest.raises(ValueError, match="no convolution layer"):
        F.conv_filters(dense)
    with pytest.raises(ValueError, match="must be a convolution layer"):
        F.conv_filters(cnn, "p1")
    with pytest.raises(ValueError, match="3 input channels"):
        F.conv_filters(cnn, "c2", rgb=True)


def test_feature_maps_match_keras_submodels(cnn, nested, rng):
    imgs = rng.uniform(size=(5, 32, 32, 3)).astype(np.float32)
    maps = F.feature_maps(cnn, imgs, ["c1", "c3"], batch_size=2)
    for name in ("c1", "c3"):
        ref = keras.Model(cnn.input, cnn.get_layer(name).output)(imgs).numpy()
        np.testing.assert_allclose(maps[name], ref, atol=1e-5)
    model, bb = nested
    imgs = rng.uniform(size=(3, 64, 64, 3)).astype(np.float32)
    maps = F.feature_maps(model, imgs, ["block_3_expand", "scale", "head"])
    sub = keras.Model(bb.input, bb.get_layer("block_3_expand").output)
    np.testing.assert_allclose(maps[f"{bb.name}/block_3_expand"], sub(imgs).numpy(), atol=1e-4)
    np.testing.assert_allclose(maps["head"], model(imgs).numpy(), atol=1e-5)
    one = F.feature_maps(model, imgs[0], "block_3_expand")
    assert one[f"{bb.name}/block_3_expand"].shape == (16, 16, 48)


def test_feature_maps_bad_input(cnn):
    with pytest.raises(ValueError, match="`images` must have shape"):
        F.feature_maps(cnn, np.zeros((32, 32)), "c1")
    with pytest.raises(ValueError, match="`layers`"):
        F.feature_maps(cnn, np.zeros((1, 32, 32, 3)), ["c1", "zzz"])
