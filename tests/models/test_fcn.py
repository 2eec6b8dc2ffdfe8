import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit.models.fcn import (FCN_SKIPS, bilinear_kernel, build_fcn, fcn8s, fcn16s, fcn32s,
                              mask_head, pixel_mean_iou, tiny_backbone, transposed_conv2d)


def test_transposed_conv_notes_example():
    out = transposed_conv2d([[0, 1], [2, 3]], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 4, 6], [4, 12, 9]])
    # the notes' four partial products, placed at their offsets and summed
    parts = np.zeros((3, 3))
    x = np.array([[0, 1], [2, 3]])
    k = np.array([[0, 1], [2, 3]])
    for i in range(2):
        for j in range(2):
            parts[i:i + 2, j:j + 2] += x[i, j] * k
    np.testing.assert_array_equal(out, parts)


@pytest.mark.parametrize("h,w,cin,cout,k,s,pad", [
    (2, 2, 1, 1, 2, 1, "valid"), (5, 4, 3, 2, 3, 2, "valid"), (5, 4, 3, 2, 4, 2, "same"),
    (5, 4, 3, 2, 3, 2, "same"), (3, 3, 2, 2, 2, 3, "valid"), (3, 3, 2, 2, 64, 32, "same"),
    (4, 5, 2, 3, 5, 1, "same"), (4, 5, 2, 3, 1, 3, "same")])
def test_transposed_conv_equals_keras(h, w, cin, cout, k, s, pad):
    x = np.random.default_rng(0).random((1, h, w, cin)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(cout, k, strides=s, padding=pad, use_bias=False)
    ref = layer(x).numpy()[0]
    got = transposed_conv2d(x[0], layer.kernel.numpy(), s, pad)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_transposed_conv_bad_input():
    with pytest.raises(ValueError, match="C_in"):
        transposed_conv2d(np.zeros((2, 2, 3)), np.zeros((2, 2, 1, 2)))
    with pytest.raises(ValueError, match="stride"):
        transposed_conv2d(np.zeros((2, 2)), np.zeros((2, 2)), stride=0)
    with pytest.raises(ValueError, match="empty"):
        transposed_conv2d(np.zeros((2, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="padding"):
        transposed_conv2d(np.zeros((2, 2)), np.zeros((2, 2)), padding="full")


def test_bilinear_kernel_is_bilinear_upsampling():
    x = np.random.default_rng(1).random((1, 5, 5, 2)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=keras.initializers.Constant(
                                             bilinear_kernel(4, 2)))
    up = layer(x).numpy()[0]
    ref = tf.image.resize(x, (10, 10), "bilinear").numpy()[0]
    np.testing.assert_allclose(up[1:-1, 1:-1], ref[1:-1, 1:-1], atol=1e-6)  # borders differ


@pytest.fixture(scope="module")
def models():
    return {"32s": fcn32s(3, (64, 64, 3)), "8s": fcn8s(3, (64, 64, 3), backbone="tiny")}


def test_fcn_shapes_and_skip_layers(models):
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    for v, m in models.items():
        assert m.output.shape[1:] == (64, 64, 3)
        assert m(x).shape == (2, 64, 64, 3)
    names = {v: {l.name for l in m.layers} for v, m in models.items()}
    assert "score_16" not in names["32s"]
    assert {"fuse_16", "fuse_8", "upsample_8x"} <= names["8s"]
    # the skip fusion is an addition of same-shaped maps
    fuse = models["8s"].get_layer("fuse_8")
    assert isinstance(fuse, keras.layers.Add)
    assert fuse.output.shape[1:3] == (8, 8)


def test_fcn_untrained_skips_start_as_fcn32s(models):
    # the skip score layers start at zero, so FCN-8s = up8(up2(up2(score32))) at init
    m = models["8s"]
    x = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32)
    score = keras.Model(m.input, m.get_layer("score_32").output)(x)
    up = m.get_layer("upsample_32_to_16")(score)
    up = m.get_layer("upsample_16_to_8")(up)
    up = m.get_layer("upsample_8x")(up)
    np.testing.assert_allclose(m(x).numpy(), up.numpy(), atol=1e-4)


def test_fcn16s_and_bad_input(models):
    assert models["32s"].name.startswith("fcn32s") and models["8s"].name.startswith("fcn8s")
    m = fcn16s(2, (32, 32, 3))
    names = {l.name for l in m.layers}
    assert {"score_16", "fuse_16", "upsample_16x"} <= names and "score_8" not in names
    assert m.output.shape[1:] == (32, 32, 2)
    with pytest.raises(ValueError, match="input_shape"):
        build_fcn(2, (60, 64, 3))
    with pytest.raises(ValueError, match="variant"):
        build_fcn(2, (64, 64, 3), variant="4s")
    with pytest.raises(ValueError, match="num_classes"):
        build_fcn(0, (64, 64, 3))


def test_mask_head():
    head = mask_head((14, 14, 8), num_classes=2, filters=16)
    assert head.output.shape[1:] == (28, 28, 2)
    with pytest.raises(ValueError, match="input_shape"):
        mask_head((14, 14))


def test_pixel_mean_iou_equals_keras():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, (3, 10, 10))
    p = rng.integers(0, 4, (3, 10, 10))
    m = keras.metrics.MeanIoU(4)
    m.update_state(t, p)
    assert np.isclose(pixel_mean_iou(t, p, 4), float(m.result()))
    assert pixel_mean_iou(t, t, 4) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        pixel_mean_iou(t, p[0], 4)
    with pytest.raises(ValueError, match="y_pred"):
        pixel_mean_iou(t, p + 4, 4)


def test_tiny_backbone_strides():
    base = tiny_backbone((64, 96, 3), width=4)
    for stride, name in FCN_SKIPS["tiny"].items():
        assert base.get_layer(name).output.shape[1:3] == (64 // stride, 96 // stride)
    with pytest.raises(ValueError, match="weights"):
        build_fcn(2, (64, 64, 3), backbone="tiny", weights="imagenet")
    with pytest.raises(ValueError, match="backbone"):
        build_fcn(2, (64, 64, 3), backbone="vgg16")


@pytest.mark.slow
def test_fcn8s_learns_shapes_masks():
    from cvkit.datasets import shapes

    ds = shapes(256, image_size=64, seed=0, scale=(0.35, 0.7), distractors=(0, 2),
                min_contrast=0.4)
    train, test = ds.subset(slice(0, 192)), ds.subset(slice(192, None))
    keras.utils.set_random_seed(0)
    model = fcn8s(2, (64, 64, 3), backbone="tiny")
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train.images, train.masks.astype("int32"),
              sample_weight=np.where(train.masks, 3.0, 1.0).astype("float32"), batch_size=16,
              epochs=20, verbose=0)
    pred = model.predict(test.images, verbose=0).argmax(-1)
    miou = pixel_mean_iou(test.masks.astype(int), pred, 2)
    background_only = pixel_mean_iou(test.masks.astype(int), np.zeros_like(pred), 2)
    assert miou > 0.6 and miou > background_only + 0.1
