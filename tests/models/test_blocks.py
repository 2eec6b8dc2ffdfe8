"""Residual and bottleneck blocks against tf.nn.conv2d and keras.applications.ResNet50."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit.models import bottleneck_block, residual_block


def _bn_inference(x, bn):
    gamma, beta, mean, var = bn.get_weights()
    return (x - mean) / np.sqrt(var + bn.epsilon) * gamma + beta


def test_residual_block_matches_hand_computation():
    rng = np.random.default_rng(0)
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, residual_block(inputs, 6, stride=2, name="b"))
    for layer in model.layers:  # random BN statistics so that BN is not the identity
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.random(6) + 0.5, rng.normal(size=6), rng.normal(size=6),
                               rng.random(6) + 0.5])
    x = rng.normal(size=(2, 8, 8, 4)).astype(np.float32)
    k1 = model.get_layer("b_1_conv").kernel.numpy()
    k2 = model.get_layer("b_2_conv").kernel.numpy()
    k0 = model.get_layer("b_0_conv").kernel.numpy()
    y = tf.nn.conv2d(x, k1, 2, "SAME").numpy()
    y = np.maximum(_bn_inference(y, model.get_layer("b_1_bn")), 0)
    y = _bn_inference(tf.nn.conv2d(y, k2, 1, "SAME").numpy(), model.get_layer("b_2_bn"))
    s = _bn_inference(tf.nn.conv2d(x, k0, 2, "SAME").numpy(), model.get_layer("b_0_bn"))
    np.testing.assert_allclose(model(x, training=False).numpy(), np.maximum(y + s, 0),
                               rtol=1e-4, atol=1e-4)
    assert model.output.shape == (None, 4, 4, 6)


def test_identity_block_with_zero_residual_is_relu():
    inputs = keras.Input((5, 5, 3))
    model = keras.Model(inputs, residual_block(inputs, 3, name="r"))
    assert all(layer.name != "r_0_conv" for layer in model.layers)  # identity shortcut
    model.get_layer("r_2_bn").gamma.assign(np.zeros(3))
    x = np.random.default_rng(1).normal(size=(1, 5, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=False).numpy(), np.maximum(x, 0), atol=1e-6)


def test_bottleneck_block_reproduces_resnet50_block():
    """With ResNet50's conventions the block takes conv2_block1's weights and gives its output."""
    resnet = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    before = keras.Model(resnet.input, resnet.get_layer("pool1_pool").output)
    after = keras.Model(resnet.input, resnet.get_layer("conv2_block1_out").output)
    inputs = keras.Input(before.output.shape[1:])
    block = keras.Model(inputs, bottleneck_block(inputs, 64, use_bias=True, bn_epsilon=1.001e-5,
                                                 name="conv2_block1"))
    for layer in block.layers:
        if layer.weights:
            layer.set_weights(resnet.get_layer(layer.name).get_weights())
    x = np.random.default_rng(2).random((2, 32, 32, 3)).astype(np.float32) * 255
    feats = before.predict(x, verbose=0)
    np.testing.assert_allclose(block.predict(feats, verbose=0), after.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-3)


def test_bottleneck_parameter_count_closed_form():
    c_in, f, e = 32, 16, 4
    inputs = keras.Input((8, 8, c_in))
    model = keras.Model(inputs, bottleneck_block(inputs, f, stride=2, expansion=e))
    convs = c_in * f + 9 * f * f + f * e * f + c_in * e * f   # no biases
    bns = 4 * (f + f + e * f + e * f)                         # gamma, beta, mean, var
    assert model.count_params() == convs + bns
    assert model.output.shape == (None, 4, 4, e * f)


def test_bad_inputs():
    inputs = keras.Input((8, 8, 4))
    with pytest.raises(ValueError, match="`filters` must be >= 1"):
        residual_block(inputs, 0)
    with pytest.raises(ValueError, match="`stride`"):
        bottleneck_block(inputs, 4, stride=0)
    with pytest.raises(ValueError, match="4-D"):
        residual_block(keras.Input((8,)), 4)
    with pytest.raises(ValueError, match="projection=False"):
        residual_block(inputs, 8, projection=False)
    with pytest.raises(ValueError, match="`expansion`"):
        bottleneck_block(inputs, 4, expansion=0)


def _conv_bn_pair(layer):
    """Keras' Conv2D + BatchNormalization with the weights of a built ConvBatchNorm."""
    conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, padding=layer.padding,
                               use_bias=False)
    bn = keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon)
    x = keras.Input((None, None, layer.conv.kernel.shape[2]))
    model = keras.Model(x, bn(conv(x)))
    conv.set_weights(layer.conv.get_weights())
    bn.set_weights(layer.bn.get_weights())
    return model, bn


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv_batchnorm_trains_as_the_two_keras_layers_and_folds_at_inference(padding):
    from cvkit.models import ConvBatchNorm

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, (4, 9, 9, 3)).astype(np.float32))
    layer = ConvBatchNorm(5, 3, padding=padding, momentum=0.8)
    layer.build(x.shape)
    # non-trivial statistics and affine parameters
    layer.bn.set_weights([rng.uniform(0.5, 2, 5), rng.normal(0, 1, 5), rng.normal(0, 1, 5),
                          rng.uniform(0.5, 3, 5)])
    ref, ref_bn = _conv_bn_pair(layer)
    # training: batch statistics, the same gradients, the same moving-average update
    with tf.GradientTape(persistent=True) as tape:
        got, want = layer(x, training=True), ref(x, training=True)
        g_loss, w_loss = tf.reduce_sum(got ** 2), tf.reduce_sum(want ** 2)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)
    for a, b in zip(tape.gradient(g_loss, layer.trainable_weights),
                    tape.gradient(w_loss, ref.trainable_weights)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3)
    for a, b in zip(layer.bn.non_trainable_weights, ref_bn.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    # inference: one convolution with the folded kernel and bias, the same numbers
    np.testing.assert_allclose(layer(x).numpy(), ref(x, training=False).numpy(),
                               rtol=1e-4, atol=1e-4)
    # a frozen layer runs the inference path also with training=True, as Keras' BN does
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True).numpy(),
                               ref(x, training=False).numpy(), rtol=1e-4, atol=1e-4)


def test_conv_batchnorm_keras_round_trip_and_bad_input(tmp_path):
    from cvkit.models import ConvBatchNorm, load_model

    x = keras.Input((8, 8, 2))
    model = keras.Model(x, ConvBatchNorm(3, 1, name="cbn")(x))
    model.get_layer("cbn").bn.moving_variance.assign([2.0, 3.0, 4.0])
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    data = np.random.default_rng(1).random((2, 8, 8, 2)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(data, verbose=0), model.predict(data, verbose=0))
    with pytest.raises(ValueError, match="`filters`"):
        ConvBatchNorm(0, 3)
    with pytest.raises(ValueError, match="`momentum`"):
        ConvBatchNorm(4, 3, momentum=1.5)
    with pytest.raises(ValueError, match="`epsilon`"):
        ConvBatchNorm(4, 3, epsilon=0.0)
