"""The shared core: layer search (nested too), the compiled pass, logits, inputs, bad input."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit import explain
from cvkit.explain import _core
from explain_models import N_CLASSES, flat_gap, images, nested_gap


@pytest.fixture(scope="module")
def flat():
    return flat_gap()


@pytest.fixture(scope="module")
def nested():
    return nested_gap()


def test_find_layer_auto_name_path_object(flat, nested):
    assert explain.find_layer(flat).name == "c2"
    assert explain.find_layer(nested).name == "backbone/c2"
    assert explain.find_layer(nested, "c1").name == "backbone/c1"
    assert explain.find_layer(nested, "backbone/c1").layer is nested.get_layer("backbone").get_layer("c1")
    obj = nested.get_layer("backbone").get_layer("c2")
    assert explain.find_layer(nested, obj).layer is obj
    assert explain.conv_layer_candidates(nested) == ["backbone/c1", "backbone/pool1", "backbone/c2"]


def test_auto_layer_skips_1x1_maps():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    y = keras.layers.Conv2D(4, 16, name="one_by_one")(x)           # 1 x 1 output
    out = keras.layers.Dense(3)(keras.layers.Flatten()(y))
    m = keras.Model(inp, out)
    assert explain.find_layer(m).name == "conv"
    with pytest.raises(ValueError, match="1 x 1"):
        explain.find_layer(m, "one_by_one")


def _logit_model(flat):
    lin = flat_gap(activation=None)
    lin.set_weights(flat.get_weights())
    return lin


def test_grad_cam_matches_hand_computation_on_logits(flat):
    x = images(4)
    lin = _logit_model(flat)
    feat = keras.Model(lin.input, [lin.get_layer("c2").output, lin.output])
    cls = np.array([0, 1, 2, 3])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        a, logits = feat(xt)
        score = tf.gather(logits, cls, batch_dims=1)
    g = tape.gradient(score, a).numpy()
    alpha = g.mean(axis=(1, 2))
    ref = np.maximum(np.einsum("nk,nhwk->nhw", alpha, a.numpy()), 0)
    ours = explain.grad_cam(flat, x, class_index=cls, upsample=False, normalize=False)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)
    # the caller's model is untouched: still softmax
    assert flat.get_layer("fc").activation.__name__ == "softmax"
    np.testing.assert_allclose(flat.predict(x, verbose=0).sum(1), 1, atol=1e-5)


def test_activations_and_gradients_logits_are_pre_softmax(flat):
    x = images(3)
    res = explain.activations_and_gradients(flat, x)
    lin = _logit_model(flat)
    np.testing.assert_allclose(res.logits, lin.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(res.class_index, res.logits.argmax(1))
    assert res.activations.shape == res.gradients.shape == (3, 16, 16, 16)


def test_one_trace_per_model_and_layer(flat):
    _core.clear_cache()
    for n in (3, 5, 1, 8):
        explain.grad_cam(flat, images(n, seed=n), class_index=n % N_CLASSES, batch_size=4)
    explain.grad_cam(flat, images(2), class_index=[1, 2])
    probe = _core.get_probe(flat, None)
    assert probe.traces == 1


def test_chunks_single_image_and_dataset_agree(flat):
    x = images(5)
    whole = explain.grad_cam(flat, x, batch_size=32)
    np.testing.assert_allclose(explain.grad_cam(flat, x, batch_size=2), whole, atol=1e-6)
    np.testing.assert_allclose(explain.grad_cam(flat, x[2]), whole[2], atol=1e-6)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(5))).batch(2)
    np.testing.assert_allclose(explain.grad_cam(flat, ds), whole, atol=1e-6)
    ds1 = tf.data.Dataset.from_tensor_slices(x)
    np.testing.assert_allclose(explain.grad_cam(flat, ds1), whole, atol=1e-6)
    u8 = (x * 255).round().astype(np.uint8)
    assert explain.grad_cam(flat, u8).shape == (5, 32, 32)


def test_nested_and_flat_give_same_maps(flat, nested):
    nested.set_weights(flat.get_weights())
    x = images(4)
    for fn in (explain.grad_cam, explain.cam, explain.layer_cam):
        np.testing.assert_allclose(fn(nested, x, normalize=False, upsample=False),
                                   fn(flat, x, normalize=False, upsample=False), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(explain.grad_cam(nested, x, layer="c1"),
                               explain.grad_cam(flat, x, layer="c1"), atol=1e-5)


def test_sequential_model_and_output_selection():
    keras.utils.set_random_seed(1)
    seq = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    x = images(2, 16)
    g = explain.grad_cam(seq, x, upsample=False, normalize=False)
    c = explain.cam(seq, x, upsample=False, normalize=False)
    np.testing.assert_allclose(g, np.maximum(c, 0) / (14 * 14), rtol=1e-4, atol=1e-9)
    inp = keras.Input((16, 16, 3))
    f = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    p = keras.layers.GlobalAveragePooling2D()(f)
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(p)
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(p)
    two = keras.Model(inp, [cls, box])
    with pytest.raises(ValueError, match="`output`.*2 outputs"):
        explain.grad_cam(two, x)
    a = explain.grad_cam(two, x, output="cls")
    b = explain.grad_cam(two, x, output=0)
    np.testing.assert_allclose(a, b)


# ---- bad input ---------------------------------------------------------------------------------

def test_unknown_layer_lists_nested_candidates(nested):
    with pytest.raises(ValueError, match=r"no layer named 'Conv_9'.*'backbone/c1'.*'backbone/c2'"):
        explain.grad_cam(nested, images(1), layer="Conv_9")


def test_non_4d_layer_and_wrong_layer_type(flat):
    with pytest.raises(ValueError, match="not a 4-D"):
        explain.grad_cam(flat, images(1), layer="fc")
    with pytest.raises(TypeError, match="`layer`"):
        explain.grad_cam(flat, images(1), layer=3)
    other = keras.layers.Conv2D(2, 3)
    with pytest.raises(ValueError, match="not part of model"):
        explain.grad_cam(flat, images(1), layer=other)


def test_class_index_out_of_range(flat):
    with pytest.raises(ValueError, match=r"`class_index` must be in \[0, 4\].*got 7"):
        explain.grad_cam(flat, images(2), class_index=7)
    with pytest.raises(ValueError, match="class_index"):
        explain.cam(flat, images(2), class_index=[0, -1])
    with pytest.raises(ValueError, match="one class per image"):
        explain.grad_cam(flat, images(2), class_index=[0, 1, 2])
    with pytest.raises(TypeError, match="class_index"):
        explain.grad_cam(flat, images(2), class_index=1.5)


def test_bad_images(flat):
    with pytest.raises(ValueError, match="images"):
        explain.grad_cam(flat, np.zeros((32, 32)))
    with pytest.raises(ValueError, match="channels"):
        explain.grad_cam(flat, np.zeros((2, 32, 32, 4), np.float32))
    with pytest.raises(ValueError, match="model input"):
        explain.grad_cam(flat, np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="model input"):
        explain.grad_cam(flat, np.zeros((2, 24, 24, 3), np.float32))
    bad = images(2)
    bad[0, 3, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        explain.grad_cam(flat, bad)


def test_bad_options(flat):
    x = images(1)
    with pytest.raises(ValueError, match="batch_size"):
        explain.grad_cam(flat, x, batch_size=0)
    with pytest.raises(ValueError, match="upsample"):
        explain.grad_cam(flat, x, upsample="cubic-ish")
    with pytest.raises(TypeError, match="normalize"):
        explain.grad_cam(flat, x, normalize="yes")
    with pytest.raises(ValueError, match="output"):
        explain.grad_cam(flat, x, output=3)


def test_bad_models():
    with pytest.raises(TypeError, match="`model`"):
        explain.grad_cam(lambda t: t, images(1))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    sub = Sub()
    sub(images(1))
    with pytest.raises((TypeError, ValueError), match="`model`"):
        explain.grad_cam(sub, images(1))
