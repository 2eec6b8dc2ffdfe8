"""From-scratch batch norm against keras.layers.BatchNormalization; folding into convolutions."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cvkit.inside import batchnorm as BN  # noqa: E402

L = keras.layers


@pytest.mark.parametrize("shape", [(16, 5), (6, 7, 5, 4)])
def test_forward_equals_keras_in_training_and_inference(shape):
    rng = np.random.default_rng(0)
    c = shape[-1]
    layer = L.BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(shape)
    layer.gamma.assign(rng.uniform(0.5, 2, c))
    layer.beta.assign(rng.normal(size=c))
    mine = BN.BatchNorm.from_keras(layer)
    for step in range(4):
        x = rng.normal(3.0, 2.0, shape).astype(np.float32)
        np.testing.assert_allclose(mine(x, training=True), layer(x, training=True).numpy(),
                                   atol=2e-5)
        np.testing.assert_allclose(mine.moving_mean, layer.moving_mean.numpy(), atol=1e-5)
        np.testing.assert_allclose(mine.moving_var, layer.moving_variance.numpy(), atol=1e-5)
    x = rng.normal(3.0, 2.0, shape).astype(np.float32)
    np.testing.assert_allclose(mine(x, training=False), layer(x, training=False).numpy(),
                               atol=2e-5)
    for a, b in zip(mine.weights(), layer.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_forward_closed_form_and_train_inference_difference():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 13.0]])
    y, mm, mv = BN.batchnorm_forward(x, epsilon=1e-8, momentum=0.5)
    # column 0: mean 3, biased variance 8/3
    np.testing.assert_allclose(y[:, 0], (x[:, 0] - 3) / np.sqrt(8 / 3), rtol=1e-7)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(0), 1, rtol=1e-6)
    np.testing.assert_allclose(mm, [1.5, 5.5])
    np.testing.assert_allclose(mv, [0.5 + 0.5 * 8 / 3, 0.5 + 0.5 * 2.0])
    # inference: fresh running averages (0, 1) leave the input almost unchanged
    y_inf, mm2, mv2 = BN.batchnorm_forward(x, training=False, epsilon=1e-8)
    np.testing.assert_allclose(y_inf, x, rtol=1e-7)
    assert np.array_equal(mm2, np.zeros(2)) and np.array_equal(mv2, np.ones(2))


def test_small_batches_are_noisy():
    rng = np.random.default_rng(0)
    noise = BN.small_batch_noise(rng.normal(size=(400, 6)), batch_sizes=(2, 8, 32, 128))
    assert np.all(np.diff(noise) < 0)
    assert noise[0] > 3 * noise[-1]


def _randomise_bn(model, rng):
    for lay in model.layers:
        if isinstance(lay, L.BatchNormalization):
            c = lay.moving_mean.shape[0]
            lay.set_weights([rng.uniform(0.5, 2, c), rng.normal(size=c), rng.normal(size=c),
                             rng.uniform(0.5, 2, c)])


def test_fold_layer_conv_depthwise_dense():
    rng = np.random.default_rng(1)
    for conv, shape in ((L.Conv2D(6, 3, padding="same"), (2, 9, 9, 4)),
                        (L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (2, 9, 9, 4)),
                        (L.Dense(5), (3, 7))):
        bn = L.BatchNormalization()
        x = rng.uniform(size=shape).astype(np.float32)
        ref_model = keras.Sequential([keras.Input(shape[1:]), conv, bn])
        _randomise_bn(ref_model, rng)
        folded = BN.folded_layer(conv, bn)
        np.testing.assert_allclose(folded(x).numpy(), ref_model(x, training=False).numpy(),
                                   atol=1e-5)


def test_fold_model_after_training_identical_outputs():
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3))
    h = L.Conv2D(8, 3, padding="same")(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.DepthwiseConv2D(3, use_bias=False)(h)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(3)(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(64, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    folded, n = BN.fold_batchnorm_model(model)
    assert n == 2
    assert not any(isinstance(lay, L.BatchNormalization) for lay in folded.layers)
    np.testing.assert_allclose(folded(x).numpy(), model(x, training=False).numpy(), atol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="`gamma` must have one value per channel"):
        BN.batchnorm_forward(np.zeros((4, 3)), gamma=np.ones(2))
    with pytest.raises(ValueError, match="`epsilon` must be > 0"):
        BN.batchnorm_forward(np.zeros((4, 3)), epsilon=0)
    with pytest.raises(ValueError, match="`x` must be"):
        BN.batchnorm_forward(np.zeros(4))
    with pytest.raises(TypeError, match="`training` must be True or False"):
        BN.batchnorm_forward(np.zeros((4, 3)), training="yes")
    with pytest.raises(ValueError, match="`momentum` must be <= 1"):
        BN.batchnorm_forward(np.zeros((4, 3)), momentum=1.5)
    conv = L.Conv2D(2, 3, activation="relu")
    bn = L.BatchNormalization()
    keras.Sequential([keras.Input((5, 5, 1)), conv, bn])
    with pytest.raises(ValueError, match="applies 'relu'"):
        BN.fold_batchnorm(conv, bn)
    with pytest.raises(TypeError, match="`conv` must be"):
        BN.fold_batchnorm(bn, bn)
    linear = L.Conv2D(2, 3)
    keras.Sequential([keras.Input((5, 5, 1)), linear])
    with pytest.raises(TypeError, match="`bn` must be"):
        BN.fold_batchnorm(linear, conv)
    with pytest.raises(ValueError, match="`conv` is not built"):
        BN.fold_batchnorm(L.Conv2D(2, 3), bn)
    with pytest.raises(ValueError, match="`batch_sizes` must be <= 10"):
        BN.small_batch_noise(np.zeros((10, 2)), batch_sizes=(20,))


def test_exercise_checker():
    from cvkit.exercises import ExerciseError
    from cvkit.exercises.inside import check_batchnorm_forward

    def good(x, gamma, beta, eps):
        return BN.batchnorm_forward(x, gamma, beta, epsilon=eps)[0]

    def per_position(x, gamma, beta, eps):
        return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta

    assert check_batchnorm_forward(good)
    with pytest.raises(ExerciseError, match="AND the positions"):
        check_batchnorm_forward(per_position)
