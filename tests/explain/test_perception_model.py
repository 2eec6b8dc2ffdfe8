"""The latent decoder of Perception Visualization: architecture, losses, training, saving."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit.explain.perception import (FrozenEncoder, PerceptionModel, build_perception,
                                      perception_decoder, reconstruct)
from cvkit.models import small_cnn
from explain_models import images, nested_gap

SIZE = 16


def _classifier(seed=0):
    keras.utils.set_random_seed(seed)
    return small_cnn(3, (SIZE, SIZE, 3), widths=(4, 4, 8, 8))


def _data(n=16, seed=0):
    """Images that a tiny decoder can learn: a bright square on a dark background."""
    rng = np.random.default_rng(seed)
    x = np.full((n, SIZE, SIZE, 3), 0.1, np.float32)
    for i, (r, c) in enumerate(rng.integers(0, SIZE - 6, (n, 2))):
        x[i, r:r + 6, c:c + 6] = rng.random(3) * 0.5 + 0.5
    return x


def test_decoder_shapes_and_no_skip():
    dec = perception_decoder((2, 2, 8), (SIZE, SIZE), channels=(32, 16, 8))
    assert tuple(dec.output.shape) == (None, SIZE, SIZE, 3)
    assert len(dec.inputs) == 1                      # only the features: no encoder skip
    names = [layer.name for layer in dec.layers]
    assert names.count("decoder_up1") == 1 and "decoder_up4" not in names   # 2 -> 16: 3 steps
    out = dec(np.random.default_rng(0).normal(size=(2, 2, 2, 8)).astype("float32")).numpy()
    assert out.min() >= 0 and out.max() <= 1        # sigmoid


def test_decoder_bad_input():
    with pytest.raises(ValueError, match="`channels` needs 3 entries"):
        perception_decoder((2, 2, 8), (SIZE, SIZE), channels=(8, 8))
    with pytest.raises(ValueError, match="`feature_shape`"):
        perception_decoder((2, 8), (SIZE, SIZE))


def test_build_default_layer_is_gradcam_layer():
    from cvkit.explain import find_layer

    clf = _classifier()
    model = build_perception(clf)
    assert model.layer_name == find_layer(clf).name == "relu4"
    shallow = build_perception(clf, layer="relu2")
    assert tuple(shallow.outputs[1].shape) == (None, 8, 8, 4)


def test_build_nested_classifier():
    clf = nested_gap(size=SIZE)
    model = build_perception(clf, layer="c2")
    x = images(2, SIZE)
    inner = keras.Model(clf.inputs, clf.get_layer("backbone")(clf.inputs[0]))
    np.testing.assert_allclose(model.predict(x, verbose=0)[1], inner.predict(x, verbose=0),
                               atol=1e-5)


def test_build_bad_input():
    clf = _classifier()
    with pytest.raises(ValueError, match="no_such_layer"):
        build_perception(clf, layer="no_such_layer")
    with pytest.raises(ValueError, match="not a 4-D"):
        build_perception(clf, layer="probs")
    with pytest.raises(TypeError, match="`model` must be a Keras model"):
        build_perception("classifier.keras")
    other = perception_decoder((4, 4, 4), (SIZE, SIZE))       # built for layer relu2 (4 x 4 x 4?)
    with pytest.raises(ValueError, match="another classifier or layer"):
        build_perception(clf, layer="relu4", decoder=other)
    with pytest.raises(TypeError, match="`decoder` must be a keras.Model"):
        build_perception(clf, decoder="decoder.keras")


def test_losses_against_hand_computation():
    clf = _classifier()
    model = build_perception(clf)
    model.compile(pixel_loss="l2", pixel_weight=0.5, feature_weight=2.0)
    x = images(3, SIZE)
    total, parts = model.perception_losses(tf.constant(x))
    tap = keras.Model(clf.inputs, clf.get_layer("relu4").output)
    x_hat = model.predict(x, verbose=0)[0]
    a, a_hat = tap.predict(x, verbose=0), tap.predict(x_hat, verbose=0)
    pixel = np.mean((x_hat - x) ** 2)
    feature = np.mean((a_hat - a) ** 2) / (np.mean(a ** 2) + 1e-6)
    np.testing.assert_allclose(float(parts["pixel"]), pixel, rtol=1e-4)
    np.testing.assert_allclose(float(parts["feature"]), feature, rtol=1e-3)
    np.testing.assert_allclose(float(total), 0.5 * pixel + 2.0 * feature, rtol=1e-3)
    same = np.mean(clf.predict(x, verbose=0).argmax(1) == clf.predict(x_hat, verbose=0).argmax(1))
    assert float(parts["consistency"]) == pytest.approx(same)


def test_class_term_is_the_cross_entropy_of_the_two_predictions():
    clf = _classifier()
    model = build_perception(clf)
    model.compile(pixel_weight=1.0, feature_weight=0.0, class_weight=3.0)
    x = images(3, SIZE)
    total, parts = model.perception_losses(tf.constant(x))
    x_hat = model.predict(x, verbose=0)[0]
    p, p_hat = clf.predict(x, verbose=0), clf.predict(x_hat, verbose=0)      # softmax outputs
    ce = np.mean(np.sum(-p * np.log(p_hat + 1e-6), axis=1))
    np.testing.assert_allclose(float(parts["class"]), ce, rtol=1e-4)
    np.testing.assert_allclose(float(total), np.mean(np.abs(x_hat - x)) + 3.0 * ce, rtol=1e-4)
    # scores that are logits (a classifier without a softmax) get the softmax; probabilities stay
    from cvkit.explain.perception.model import _probabilities
    z = tf.constant([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(_probabilities(z).numpy(), tf.nn.softmax(z).numpy(), rtol=1e-6)
    q = tf.constant([[0.2, 0.3, 0.5]])
    np.testing.assert_allclose(_probabilities(q).numpy(), q.numpy())


def test_compile_bad_input():
    model = build_perception(_classifier())
    with pytest.raises(ValueError, match="`class_weight`"):
        model.compile(class_weight=-0.5)
    with pytest.raises(ValueError, match="`pixel_loss`"):
        model.compile(pixel_loss="l3")
    with pytest.raises(ValueError, match="both 0"):
        model.compile(pixel_weight=0.0, feature_weight=0.0)
    with pytest.raises(ValueError, match="`feature_weight`"):
        model.compile(feature_weight=-1.0)


def test_fit_leaves_classifier_untouched_and_learns():
    clf = _classifier()
    x = _data(32)
    before = [w.copy() for w in clf.get_weights()]       # BN statistics included
    preds = clf.predict(x, verbose=0)
    model = build_perception(clf)
    model.compile(keras.optimizers.Adam(1e-2), feature_weight=0.1)
    dec_before = [w.copy() for w in model.get_layer("decoder").get_weights()]
    hist = model.fit(x, np.zeros(len(x)), batch_size=8, epochs=25, verbose=0)
    for w0, w1 in zip(before, clf.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    np.testing.assert_array_equal(preds, clf.predict(x, verbose=0))
    assert not all(np.array_equal(a, b) for a, b in
                   zip(dec_before, model.get_layer("decoder").get_weights()))
    pixel = hist.history["pixel"]
    assert pixel[-1] < 0.5 * pixel[0]                  # it learns to reconstruct
    assert sorted(hist.history) == ["class", "consistency", "feature", "loss", "pixel"]


def test_fit_needs_compile():
    model = build_perception(_classifier())
    with pytest.raises(ValueError, match="compile"):
        model.fit(images(2, SIZE), verbose=0)


def test_keras_round_trip(tmp_path):
    model = build_perception(_classifier())
    model.compile(pixel_loss="l2", feature_weight=0.25)
    x = _data(8)
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "pv.keras"
    model.save(path)
    back = keras.models.load_model(path)
    assert isinstance(back, PerceptionModel)
    assert isinstance(back.get_layer("encoder"), FrozenEncoder)
    assert back.pv_config == model.pv_config and back.layer_name == model.layer_name
    for a, b in zip(model.predict(x, verbose=0), back.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    back.fit(x, batch_size=4, epochs=1, verbose=0)      # training resumes


def test_reconstruct_matches_model_and_classifier():
    clf = _classifier()
    model = build_perception(clf)
    x = _data(5)
    x_hat, s, s_hat = reconstruct(model, x, batch_size=2)
    np.testing.assert_allclose(x_hat, model.predict(x, verbose=0)[0], atol=1e-5)
    np.testing.assert_allclose(s, clf.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(s_hat, clf.predict(x_hat, verbose=0), atol=1e-5)
    single, _, _ = reconstruct(model, x[0])
    assert single.shape == (SIZE, SIZE, 3)


def test_reconstruct_bad_input():
    model = build_perception(_classifier())
    with pytest.raises(ValueError, match="do not fit the classifier input"):
        reconstruct(model, np.zeros((2, 8, 8, 3)))
    with pytest.raises(TypeError, match="PerceptionModel"):
        reconstruct(_classifier(), np.zeros((2, SIZE, SIZE, 3)))
    with pytest.raises(ValueError, match="batch_size"):
        reconstruct(model, np.zeros((2, SIZE, SIZE, 3)), batch_size=0)


def test_recalibrate_batchnorm_sets_the_batch_statistics():
    from cvkit.explain.perception import recalibrate_batchnorm

    model = build_perception(_classifier())
    x = _data(12)
    dec = model.get_layer("decoder")
    feats = model.predict(x, verbose=0)[1]
    stem = dec.get_layer("decoder_stem")(feats).numpy()
    bn = dec.get_layer("decoder_stem_bn")
    # two batches of 6: the moving statistics become the average of the two batch statistics
    assert recalibrate_batchnorm(model, x, batch_size=6) == 2
    want_mean = (stem[:6].mean((0, 1, 2)) + stem[6:].mean((0, 1, 2))) / 2
    want_var = (stem[:6].var((0, 1, 2)) + stem[6:].var((0, 1, 2))) / 2
    np.testing.assert_allclose(bn.moving_mean.numpy(), want_mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), want_var, rtol=1e-3, atol=1e-6)
    assert bn.momentum == 0.99                           # restored
    with pytest.raises(ValueError, match="max_batches"):
        recalibrate_batchnorm(model, x, max_batches=0)
    with pytest.raises(ValueError, match="do not fit the classifier input"):
        recalibrate_batchnorm(model, np.zeros((2, 8, 8, 3)))
