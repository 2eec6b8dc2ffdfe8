"""F-CAM's decoder (cvkit.wsol.fcam.decoder): the skip layers it finds on the zoo's classifiers,
its errors, the shapes, the channel rule and the resolution each skip joins at."""
import keras
import numpy as np
import pytest

from cvkit.explain import find_layer
from cvkit.models import ConvBatchNorm, cam_classifier, pretrained, small_cnn
from cvkit.wsol.fcam import SKIP_LAYERS, TwoClassSoftmax, find_skips, unet_decoder


def _cam_shape(model):
    return tuple(find_layer(model, None).layer.output.shape)


def test_find_skips_on_the_zoo_classifier():
    model = pretrained("shapes_cam_mobilenetv2_s8")
    shape = _cam_shape(model)
    assert shape[1:3] == (16, 16)                            # stride 8 at 128 px
    refs = find_skips(model, shape)
    assert [r.name for r in refs] == ["block_3_expand_relu", "block_1_expand_relu"]
    assert [tuple(r.layer.output.shape[1:3]) for r in refs] == [(32, 32), (64, 64)]   # strides 4, 2
    assert [r.name for r in refs] == [SKIP_LAYERS["mobilenetv2"][s] for s in (4, 2)]


def test_find_skips_on_a_mobilenet_cut_at_stride_8():
    model = cam_classifier(4, input_shape=(64, 64, 3), weights=None, output_layer="block_5_add")
    shape = _cam_shape(model)
    assert shape[1:3] == (8, 8)
    refs = find_skips(model, shape)
    assert [(r.name, tuple(r.layer.output.shape[1:3])) for r in refs] == [
        ("block_3_expand_relu", (16, 16)), ("block_1_expand_relu", (32, 32))]
    # the named order does not matter: deepest first
    named = find_skips(model, shape, ["block_1_expand_relu", "block_3_expand_relu"])
    assert [r.name for r in named] == ["block_3_expand_relu", "block_1_expand_relu"]


def test_find_skips_errors_list_the_candidates():
    model = cam_classifier(4, input_shape=(64, 64, 3), weights=None, output_layer="block_5_add")
    shape = _cam_shape(model)
    with pytest.raises(ValueError, match="no 4-D layer named 'block_99_add'.*Candidates.*"
                                         "'block_1_expand_relu'"):
        find_skips(model, shape, ["block_99_add"])
    with pytest.raises(ValueError, match="not between the CAM layer"):
        find_skips(model, shape, ["block_4_add"])             # at the CAM layer's resolution
    clf = small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8))
    with pytest.raises(ValueError, match="none of the known skip layers.*Candidates.*'relu2'"):
        find_skips(clf, _cam_shape(clf))
    with pytest.raises(ValueError, match="not between.*input"):
        find_skips(clf, _cam_shape(clf), ["relu1"])           # full resolution: not a skip
    assert [r.name for r in find_skips(clf, _cam_shape(clf), ["relu2", "relu3"])] == ["relu3",
                                                                                      "relu2"]


def _convs(dec):
    """The convolutions in order: plain Conv2D layers and the Conv2D inside each ConvBatchNorm
    (named after the ConvBatchNorm), as (name, filters, kernel_size, use_bias, layer)."""
    from types import SimpleNamespace

    out = []
    for layer in dec.layers:
        conv = layer.conv if isinstance(layer, ConvBatchNorm) else layer
        if isinstance(conv, keras.layers.Conv2D):
            out.append(SimpleNamespace(name=layer.name, filters=conv.filters, layer=layer,
                                       kernel_size=conv.kernel_size, use_bias=conv.use_bias))
    return out


def test_unet_decoder_shapes_softmax_and_channel_rule():
    dec = unet_decoder((16, 16, 64), [(32, 32, 24), (64, 64, 16)], (128, 128),
                       channels=(256, 128, 64, 32, 16), reduce=None, stop_stride=1)
    assert [tuple(t.shape) for t in dec.inputs] == [(None, 16, 16, 64), (None, 32, 32, 24),
                                                    (None, 64, 64, 16)]
    assert tuple(dec.output.shape) == (None, 128, 128, 2)
    convs = _convs(dec)
    # three x2 steps (16 -> 128) use the last three entries, two 3x3 convs (no bias) per block
    assert [c.filters for c in convs] == [64, 64, 32, 32, 16, 16, 2]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [c.use_bias for c in convs[:-1]] == [False] * 6 and convs[-1].use_bias
    # each 3x3 conv and its batch norm are one ConvBatchNorm (folded at inference)
    assert sum(isinstance(la, ConvBatchNorm) for la in dec.layers) == 6
    rng = np.random.default_rng(0)
    out = dec([rng.random((2,) + s[1:]).astype(np.float32) for s in
               [t.shape for t in dec.inputs]]).numpy()
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert (out >= 0).all()


def test_unet_decoder_lite_reduces_and_stops_at_stride_2():
    dec = unet_decoder((16, 16, 64), [(32, 32, 24), (64, 64, 16)], (128, 128), (32, 16),
                       reduce=32, stop_stride=2)
    convs = _convs(dec)
    # 1x1 reduction to 32, blocks at 32 and 64 px (two x2 steps), the head at 64 px
    assert [(c.filters, c.kernel_size) for c in convs] == [
        (32, (1, 1)), (32, (3, 3)), (32, (3, 3)), (16, (3, 3)), (16, (3, 3)), (2, (3, 3))]
    assert tuple(convs[-1].layer.output.shape[1:3]) == (64, 64)
    assert tuple(dec.output.shape) == (None, 128, 128, 2)
    # the 2-channel logits are up-sampled bilinearly, then the softmax: equal to resizing them
    logits = keras.Model(dec.inputs, convs[-1].layer.output)
    rng = np.random.default_rng(1)
    xs = [rng.random((2,) + tuple(t.shape[1:])).astype(np.float32) for t in dec.inputs]
    import tensorflow as tf
    want = tf.nn.softmax(tf.image.resize(logits(xs), (128, 128), "bilinear")).numpy()
    np.testing.assert_allclose(dec(xs).numpy(), want, atol=1e-5)


def test_skip_reduce_brings_each_skip_to_its_channels_before_the_concatenation():
    dec = unet_decoder((16, 16, 64), [(32, 32, 144), (64, 64, 96)], (128, 128), (32, 16),
                       reduce=32, stop_stride=2, skip_reduce=16)
    cats = [la for la in dec.layers if isinstance(la, keras.layers.Concatenate)]
    # each concatenation: the up-sampled path (32 channels) + the skip reduced to 16
    assert [tuple(la.output.shape[1:]) for la in cats] == [(32, 32, 48), (64, 64, 48)]
    reducers = [(c.name, c.filters, c.kernel_size) for c in _convs(dec) if "_skip" in c.name]
    assert reducers == [("decoder_block1_skip_conv", 16, (1, 1)),
                        ("decoder_block2_skip_conv", 16, (1, 1))]
    # the first 3x3 convolution of block 1 reads 48 channels, not 32 + 144
    assert dec.get_layer("decoder_block1_conv1").conv.kernel.shape == (3, 3, 48, 32)
    with pytest.raises(ValueError, match="`skip_reduce`"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), skip_reduce=0)
    with pytest.raises(TypeError, match="`skip_reduce`"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), skip_reduce=2.5)


def test_unet_decoder_needs_one_channel_entry_per_step():
    with pytest.raises(ValueError, match="`channels` needs 3 entries.*got 2"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), channels=(8, 4))
    with pytest.raises(ValueError, match="`channels` needs 2 entries.*got 1"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), channels=(8,), stop_stride=2)
    with pytest.raises(ValueError, match="stop_stride"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), stop_stride=4)
    with pytest.raises(ValueError, match="reduce"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), reduce=0)
    with pytest.raises(ValueError, match="`channels`"):
        unet_decoder((16, 16, 8), [(32, 32, 4)], (128, 128), channels=(8, 0, 4))


def _block_sizes(dec):
    """(block, resolution) of every concatenation and the largest map inside the decoder."""
    cats = [(la.name.split("_")[1], la.output.shape[1]) for la in dec.layers
            if isinstance(la, keras.layers.Concatenate)]
    return cats, max(la.output.shape[1] for la in dec.layers[1:] if len(la.output.shape) == 4)


def test_each_skip_joins_the_block_of_its_resolution():
    """A skip is concatenated where the decoder reaches its resolution, also when a resolution
    has no skip: never does the decoder go past the output size and come back."""
    dec = unet_decoder((4, 4, 8), [(16, 16, 4)], (32, 32), channels=(8, 8, 8), stop_stride=2)
    cats, largest = _block_sizes(dec)
    assert cats == [("block2", 16)] and largest == 32
    dec = unet_decoder((4, 4, 8), [(8, 8, 4), (32, 32, 4)], (64, 64), channels=(8, 8, 8, 8))
    assert _block_sizes(dec) == ([("block1", 8), ("block3", 32)], 64)
    # sizes that are not powers of two: 13 -> 26 meets the skip of 25 (resized), then 50, 100
    dec = unet_decoder((13, 13, 8), [(25, 25, 4), (50, 50, 4)], (100, 100), channels=(8, 8, 8))
    assert _block_sizes(dec) == ([("block1", 25), ("block2", 50)], 100)
    assert tuple(dec.output.shape) == (None, 100, 100, 2)


def test_a_skip_above_the_output_resolution_is_refused():
    with pytest.raises(ValueError, match="skip"):
        unet_decoder((4, 4, 8), [(64, 64, 4)], (32, 32), channels=(8, 8, 8))


def test_two_class_softmax_equals_the_softmax_also_when_saturated():
    import tensorflow as tf

    z = np.random.default_rng(2).normal(size=(3, 5, 7, 2)).astype(np.float32) * 30.0
    z[0, 0, 0] = [200.0, -200.0]                              # far beyond exp's range
    got = TwoClassSoftmax()(z).numpy()
    np.testing.assert_allclose(got, tf.nn.softmax(z).numpy(), atol=1e-6)
    assert np.isfinite(got).all() and got[0, 0, 0].tolist() == [1.0, 0.0]


def test_the_zoo_entries_use_the_lite_decoder_with_the_crf_warmup():
    from cvkit.models import ZOO
    from cvkit.wsol.fcam import LITE_DECODER

    for name in ("shapes_fcam_s8", "shapes_fcam_s8_gradcam"):
        assert ZOO[name].builder_kwargs == LITE_DECODER, name
        assert ZOO[name].train["crf_warmup"] == 1, name
