"""Each method against a reference: closed forms, hand computations, tf-keras-vis."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit import explain
from explain_models import N_CLASSES, flat_gap, images

SIZE = 128  # MobileNetV2 input: 4 x 4 maps at Conv_1


@pytest.fixture(scope="module")
def flat():
    return flat_gap()


@pytest.fixture(scope="module")
def mobilenets():
    """The same MobileNetV2 (alpha 0.35, random weights) + GAP + Dense, flat and nested."""
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, weights=None,
                                          include_top=False)
    inp = keras.Input((SIZE, SIZE, 3))
    g = keras.layers.GlobalAveragePooling2D()(base(inp))
    nested = keras.Model(inp, keras.layers.Dense(N_CLASSES, activation="softmax")(g))
    base2 = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, weights=None,
                                           include_top=False)
    g2 = keras.layers.GlobalAveragePooling2D()(base2.output)
    flat = keras.Model(base2.input, keras.layers.Dense(N_CLASSES, activation="softmax")(g2))
    flat.set_weights(nested.get_weights())
    return nested, flat, base.name


def _feature_pass(model, layer_name, x, cls):
    """Independent reference: a feature model on a linear copy of the head."""
    a_model = keras.Model(model.input, model.get_layer(layer_name).output)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        a = a_model(xt)
        tape.watch(a)
        pooled = tf.reduce_mean(a, axis=(1, 2))
        fc = model.get_layer("fc")
        logits = pooled @ fc.kernel + fc.bias
        score = tf.gather(logits, cls, batch_dims=1)
    return a.numpy().astype(np.float64), tape.gradient(score, a).numpy().astype(np.float64)


def test_grad_cam_is_relu_cam_over_z(flat):
    x = images(6)
    cls = np.arange(6) % N_CLASSES
    g = explain.grad_cam(flat, x, class_index=cls, upsample=False, normalize=False)
    c = explain.cam(flat, x, class_index=cls, upsample=False, normalize=False)
    np.testing.assert_allclose(g, np.maximum(c, 0) / (16 * 16), rtol=1e-4, atol=1e-9)
    # the weights themselves: alpha = w / Z
    res = explain.activations_and_gradients(flat, x, class_index=cls)
    w = flat.get_layer("fc").kernel.numpy()[:, cls].T
    np.testing.assert_allclose(explain.grad_cam_weights(res.activations, res.gradients),
                               w / 256, rtol=1e-4, atol=1e-9)


def test_cam_hand_formula(flat):
    x = images(3)
    feat = keras.Model(flat.input, flat.get_layer("c2").output).predict(x, verbose=0)
    pred = flat.predict(x, verbose=0).argmax(1)
    w = flat.get_layer("fc").kernel.numpy()
    ref = np.stack([feat[i] @ w[:, pred[i]] for i in range(3)])
    np.testing.assert_allclose(explain.cam(flat, x, upsample=False, normalize=False), ref,
                               rtol=1e-4, atol=1e-6)
    up = explain.cam(flat, x)
    assert up.shape == (3, 32, 32) and up.min() == 0 and np.allclose(up.max(axis=(1, 2)), 1)


def test_family_hand_formulas(flat):
    x = images(4)
    cls = np.array([1, 2, 3, 4])
    a, g = _feature_pass(flat, "c2", x, cls)
    relu = lambda t: np.maximum(t, 0)  # noqa: E731
    # Layer-CAM
    np.testing.assert_allclose(
        explain.layer_cam(flat, x, class_index=cls, upsample=False, normalize=False),
        relu((relu(g) * a).sum(-1)), rtol=1e-4, atol=1e-9)
    # XGrad-CAM
    share = a / np.where(a.sum((1, 2), keepdims=True) == 0, 1, a.sum((1, 2), keepdims=True))
    w = (share * g).sum((1, 2))
    np.testing.assert_allclose(
        explain.xgrad_cam(flat, x, class_index=cls, upsample=False, normalize=False),
        relu(np.einsum("nk,nhwk->nhw", w, a)), rtol=1e-4, atol=1e-9)
    # Grad-CAM++ on a GAP -> Dense net: g is constant over (i, j), so a_ij = 1/Z for every
    # channel with a nonzero gradient and w_k = ReLU(g_k): Grad-CAM++ = ReLU(sum_k ReLU(w_k^c) A^k).
    wk = relu(flat.get_layer("fc").kernel.numpy()[:, cls].T / 256)
    np.testing.assert_allclose(
        explain.grad_cam_plus_plus(flat, x, class_index=cls, upsample=False, normalize=False),
        relu(np.einsum("nk,nhwk->nhw", wk, a)), rtol=1e-4, atol=1e-9)


def test_smooth_grad_cam_pp(flat):
    x = images(3)
    plain = explain.grad_cam_plus_plus(flat, x, class_index=2)
    np.testing.assert_allclose(
        explain.smooth_grad_cam_plus_plus(flat, x, class_index=2, n_samples=1, noise_level=0.0),
        plain, atol=1e-5)
    a = explain.smooth_grad_cam_plus_plus(flat, x, n_samples=4, seed=3, batch_size=5)
    b = explain.smooth_grad_cam_plus_plus(flat, x, n_samples=4, seed=3, batch_size=16)
    c = explain.smooth_grad_cam_plus_plus(flat, x, n_samples=4, seed=4)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="n_samples"):
        explain.smooth_grad_cam_plus_plus(flat, x, n_samples=0)
    with pytest.raises(ValueError, match="noise_level"):
        explain.smooth_grad_cam_plus_plus(flat, x, noise_level=-1.0)


def test_rise_is_the_weighted_average_of_masks(flat):
    x = images(2)
    n = 96
    masks = explain.rise_masks(n, (32, 32), grid_size=4, p=0.5, seed=7)
    assert masks.shape == (n, 32, 32) and 0 <= masks.min() and masks.max() <= 1
    lin = flat_gap(activation=None)
    lin.set_weights(flat.get_weights())
    cls = flat.predict(x, verbose=0).argmax(1)
    ref = []
    for i in range(2):
        probs = tf.nn.softmax(lin.predict(x[i] * masks[..., None], verbose=0)).numpy()[:, cls[i]]
        ref.append(np.tensordot(probs, masks, 1) / (n * 0.5))
    ours = explain.rise(flat, x, n_masks=n, grid_size=4, seed=7, batch_size=40, normalize=False)
    np.testing.assert_allclose(ours, np.stack(ref), rtol=1e-4, atol=1e-6)
    # batch size only changes memory, not the result; the seed changes the masks
    np.testing.assert_allclose(explain.rise(flat, x, n_masks=n, grid_size=4, seed=7, batch_size=7,
                                            normalize=False), ours, rtol=1e-5, atol=1e-7)
    assert not np.allclose(explain.rise(flat, x, n_masks=n, grid_size=4, seed=8, normalize=False), ours)
    with pytest.raises(ValueError, match="n_masks"):
        explain.rise(flat, x, n_masks=0)
    with pytest.raises(ValueError, match="`p`"):
        explain.rise(flat, x, p=0.0)
    with pytest.raises(ValueError, match="`layer`.*black-box"):
        explain.rise(flat, x, layer="c2")


def test_score_cam_hand_computation(flat):
    x = images(2)
    lin = flat_gap(activation=None)
    lin.set_weights(flat.get_weights())
    a = keras.Model(lin.input, lin.get_layer("c2").output).predict(x, verbose=0)
    cls = lin.predict(x, verbose=0).argmax(1)
    ref = []
    for i in range(2):
        up = tf.image.resize(np.moveaxis(a[i], -1, 0)[..., None], (32, 32)).numpy()[..., 0]
        lo, hi = up.min((1, 2), keepdims=True), up.max((1, 2), keepdims=True)
        m = np.where(hi > lo, (up - lo) / np.where(hi > lo, hi - lo, 1), 0)
        p = tf.nn.softmax(lin.predict(x[i] * m[..., None], verbose=0)).numpy()[:, cls[i]]
        ref.append(np.maximum(np.einsum("k,hwk->hw", p, a[i]), 0))
    for bs in (5, 64):
        np.testing.assert_allclose(explain.score_cam(flat, x, upsample=False, normalize=False,
                                                     batch_size=bs), np.stack(ref), rtol=1e-4, atol=1e-7)


def test_cam_needs_gap_dense():
    inp = keras.Input((16, 16, 3))
    f = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(f))
    m = keras.Model(inp, out)
    with pytest.raises(ValueError, match="GlobalAveragePooling2D.*grad_cam"):
        explain.cam(m, images(1, 16))
    assert explain.grad_cam(m, images(1, 16)[0]).shape == (16, 16)


def test_cam_layer_must_be_the_pooled_one(flat):
    with pytest.raises(ValueError, match="grad_cam"):
        explain.cam(flat, images(1), layer="c1")
    np.testing.assert_allclose(explain.cam(flat, images(1), layer="c2"), explain.cam(flat, images(1)))


@pytest.mark.slow
def test_mobilenet_nested_equals_flat_and_course_layer_object(mobilenets):
    nested, flat, base_name = mobilenets
    x = images(3, SIZE)
    np.testing.assert_allclose(nested.predict(x, verbose=0), flat.predict(x, verbose=0), atol=1e-5)
    assert explain.find_layer(nested).name == f"{base_name}/out_relu"
    conv1 = nested.get_layer(base_name).get_layer("Conv_1")       # the course's access pattern
    for fn in (explain.grad_cam, explain.cam, explain.grad_cam_plus_plus):
        kw = {} if fn is explain.cam else {"layer": conv1}
        a = fn(nested, x, class_index=[0, 1, 2], normalize=False, upsample=False, **kw)
        b = fn(flat, x, class_index=[0, 1, 2], normalize=False, upsample=False,
               **({} if fn is explain.cam else {"layer": "Conv_1"}))
        scale = np.abs(b).max()
        np.testing.assert_allclose(a / scale, b / scale, atol=1e-4)


@pytest.mark.slow
def test_mobilenet_with_own_pooling_is_a_cam_model():
    keras.utils.set_random_seed(2)
    base = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None,
                                          include_top=False, pooling="avg")
    inp = keras.Input((64, 64, 3))
    m = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(base(inp)))
    pool, dense = explain.find_cam_head(m)
    assert pool.name.endswith("/" + pool.layer.name) and dense is m.layers[-1]
    x = images(2, 64)
    c = explain.cam(m, x, upsample=False, normalize=False)
    g = explain.grad_cam(m, x, upsample=False, normalize=False)
    np.testing.assert_allclose(g, np.maximum(c, 0) / 4, rtol=1e-3, atol=1e-12)


# ---- tf-keras-vis --------------------------------------------------------------------------------

def _corr(a, b):
    """Pearson correlation; two all-zero maps (all-negative before the ReLU) count as equal."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return np.corrcoef(a, b)[0, 1]


@pytest.mark.slow
def test_equal_to_tf_keras_vis_on_random_mobilenet(mobilenets):
    pytest.importorskip("tf_keras_vis")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    _, flat, _ = mobilenets           # tf-keras-vis cannot reach into the nested model
    x = images(4, SIZE, seed=5)
    cls = [0, 1, 2, 3]
    pairs = [(Gradcam, explain.grad_cam), (GradcamPlusPlus, explain.grad_cam_plus_plus),
             (Layercam, explain.layer_cam)]
    for peer_cls, ours_fn in pairs:
        peer = peer_cls(flat, model_modifier=ReplaceToLinear(), clone=True)
        ref = np.asarray(peer(CategoricalScore(cls), x, penultimate_layer="Conv_1",
                              expand_cam=False, normalize_cam=False))
        ours = ours_fn(flat, x, class_index=cls, layer="Conv_1", upsample=False, normalize=False)
        for a, b in zip(ours, ref):
            assert _corr(a, b) >= 0.999, peer_cls.__name__
        assert (ours.max(axis=(1, 2)) > 0).sum() >= 2      # most maps are not trivially zero


# ---- bad input for every public method ----------------------------------------------------------

ALL_METHODS = [explain.cam, explain.grad_cam, explain.grad_cam_plus_plus,
               explain.smooth_grad_cam_plus_plus, explain.layer_cam, explain.xgrad_cam,
               explain.score_cam, explain.rise, explain.activations_and_gradients]


@pytest.mark.parametrize("fn", ALL_METHODS, ids=lambda f: f.__name__)
def test_every_method_rejects_bad_input(flat, fn):
    with pytest.raises(ValueError, match="class_index"):
        fn(flat, images(2), class_index=N_CLASSES)
    with pytest.raises(ValueError, match="images"):
        fn(flat, np.zeros((2, 32, 32, 3, 1), np.float32))
    bad = images(1)
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        fn(flat, bad)
    with pytest.raises(ValueError, match="batch_size"):
        fn(flat, images(1), batch_size=0)


def test_weight_functions_and_masks_bad_input():
    g = np.zeros((1, 3, 3, 2))
    with pytest.raises(ValueError, match="grads"):
        explain.grad_cam_weights(None, np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        explain.grad_cam_plus_plus_weights(np.zeros((1, 3, 3, 3)), g)
    with pytest.raises(ValueError, match="same shape"):
        explain.xgrad_cam_weights(np.zeros((1, 2, 3, 2)), g)
    with pytest.raises(ValueError, match="grid_size"):
        explain.rise_masks(4, 16, grid_size=0)
    with pytest.raises(ValueError, match="image_size"):
        explain.rise_masks(4, (16, 0))
    with pytest.raises(TypeError, match="model"):
        explain.conv_layer_candidates("mobilenet")
    with pytest.raises(TypeError, match="model"):
        explain.find_cam_head(None)
    assert explain.rise_masks(4, 16, seed=1).shape == (4, 16, 16)
    np.testing.assert_array_equal(explain.rise_masks(6, 16, seed=1)[2:4],
                                  explain.rise_masks(6, 16, seed=1, start=2, stop=4))
