"""Tests for cvkit.visualize.features: filters, feature maps, receptive fields, patches, ascent."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cvkit.visualize import features as F  # noqa: E402

L = keras.layers


def small_cnn(size=32, n_classes=4, seed=0, softmax=True):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(12, 3, padding="valid", activation="relu", name="c2")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(n_classes, activation="softmax" if softmax else None, name="head")(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def cnn():
    return small_cnn()


@pytest.fixture(scope="module")
def nested():
    """MobileNetV2 (alpha 0.35) used as a layer inside an outer model."""
    keras.utils.set_random_seed(1)
    bb = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None,
                                        include_top=False)
    inp = keras.Input((64, 64, 3))
    x = L.Rescaling(1.0, name="scale")(inp)
    x = bb(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, activation="softmax", name="head")(x)
    return keras.Model(inp, out), bb


def positive_weights(model):
    """Every kernel a positive constant 1/fan-in, biases 0, batch norms the identity: no path
    through the network can be switched off, so the gradient reaches the whole receptive field."""
    for lay in [ref.layer for ref in F._walk_layers(model)]:
        for v in lay.weights:
            name = v.path.split("/")[-1]
            shape = tuple(v.shape)
            if name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                if type(lay).__name__ == "DepthwiseConv2D" or name == "depthwise_kernel":
                    fan = np.prod(shape[:2])
                else:
                    fan = np.prod(shape[:-1])
                v.assign(np.full(shape, 1.0 / fan, np.float32))
            elif name in ("gamma", "moving_variance"):
                v.assign(np.ones(shape, np.float32))
            else:
                v.assign(np.zeros(shape, np.float32))


# ------------------------------------------------------------------ layers, filters, maps

def test_find_layer_top_level_nested_and_by_path(nested):
    model, bb = nested
    assert F.find_layer(model, "head")[-1] is model.get_layer("head")
    path = F.find_layer(model, "block_2_add")
    assert path[0] is bb and path[-1] is bb.get_layer("block_2_add")
    assert F.find_layer(model, f"{bb.name}/Conv1")[-1] is bb.get_layer("Conv1")
    assert F.find_layer(model, bb.get_layer("Conv1"))[-1] is bb.get_layer("Conv1")


def test_find_layer_bad_input(cnn):
    with pytest.raises(ValueError, match="`layer`: no layer named 'nope'.*Its layers are: c1, p1"):
        F.find_layer(cnn, "nope")
    with pytest.raises(ValueError, match="`layers`: no layer named 'nope'"):
        F.feature_maps(cnn, np.zeros((1, 32, 32, 3), np.float32), ["c1", "nope"])
    with pytest.raises(TypeError, match="`layer` must be a layer name"):
        F.find_layer(cnn, 3)
    with pytest.raises(TypeError, match="`model` must be a Keras functional"):
        F.find_layer("not a model", "c1")


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


def test_plots_return_figures(cnn, rng):
    import matplotlib.pyplot as plt

    figs = [F.plot_filters(F.conv_filters(cnn)), F.plot_filters(F.conv_filters(cnn, "c2")),
            F.plot_feature_maps(F.feature_maps(cnn, rng.uniform(size=(32, 32, 3)), ["c1", "c2"]))]
    assert all(hasattr(f, "savefig") for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="one image"):
        F.plot_feature_maps(F.feature_maps(cnn, rng.uniform(size=(2, 32, 32, 3)), "c1"))


# ------------------------------------------------------------------ receptive fields

def test_receptive_field_closed_form_chain():
    # conv3 (valid) -> pool2/2 -> conv3 (valid) -> conv3 dilation 2 (valid): the textbook recursion
    m = keras.Sequential([keras.Input((40, 40, 3)), L.Conv2D(2, 3, name="a"),
                          L.MaxPooling2D(2, name="b"), L.Conv2D(2, 3, name="c"),
                          L.Conv2D(2, 3, dilation_rate=2, name="d")])
    got = [F.receptive_field(m, n) for n in "abcd"]
    assert [(r.size, r.stride, r.offset) for r in got] == [(3, 1, 0), (4, 2, 0), (8, 2, 0),
                                                           (16, 2, 0)]
    assert got[3].output_size == (13, 13)
    assert got[1].box(3, 5) == (6, 10, 9, 13)


def test_receptive_field_same_padding_depends_on_input_size():
    # 'same' stride 2 pads (k - 1) // 2 on the left only when the total padding is 2
    def model(n):
        return keras.Sequential([keras.Input((n, n + 1, 3)), L.Conv2D(1, 3, strides=2,
                                                                         padding="same", name="s")])
    r = F.receptive_field(model(8), "s")  # rows: total pad 1 -> left 0; cols (9): total 2 -> 1
    assert r.offset_yx == (0, -1) and r.offset == (0, -1) and r.size == 3 and r.stride == 2
    assert r.output_size == (4, 5)


def test_receptive_field_per_axis_kernels():
    m = keras.Sequential([keras.Input((20, 30, 3)), L.Conv2D(1, (3, 5), strides=(1, 2), name="a"),
                          L.ZeroPadding2D(((1, 0), (2, 2)), name="z"),
                          L.AveragePooling2D((2, 2), name="b")])
    r = F.receptive_field(m, "b")
    assert r.size == (4, 7) and r.stride == (2, 4) and r.stride_yx == (2, 4)
    assert r.offset == (-1, -4)


def _check_against_gradient(model, layer, positions):
    rf = F.receptive_field(model, layer)
    for pos, meas in zip(positions, F.receptive_field_by_gradient(model, layer, positions)):
        assert meas.box == rf.box(*pos, clip=True), (layer, pos, meas.box, rf)
        # every pixel inside the computed field has a non-zero gradient
        y0, x0, y1, x1 = rf.box(*pos, clip=True)
        assert meas.mask[y0:y1 + 1, x0:x1 + 1].all() and meas.mask.sum() == (
            (y1 - y0 + 1) * (x1 - x0 + 1))


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_receptive_field_matches_gradient_small_cnn(padding):
    keras.utils.set_random_seed(0)
    inp = keras.Input((37, 36, 3))
    x = L.Conv2D(4, 5, strides=2, padding=padding, name="a")(inp)
    x = L.AveragePooling2D(3, strides=2, padding=padding, name="b")(x)
    y = L.Conv2D(4, 3, padding="same", dilation_rate=2, name="c")(x)
    y = L.Add(name="add")([x, y])
    y = L.DepthwiseConv2D(3, strides=2, padding=padding, name="d")(y)
    y = L.SeparableConv2D(3, 3, padding=padding, name="e")(y)
    m = keras.Model(inp, y)
    positive_weights(m)
    for layer in ("a", "b", "c", "add", "d", "e"):
        h, w = F.receptive_field(m, layer).output_size
        _check_against_gradient(m, layer, [(0, 0), (h // 2, w // 2), (h - 1, w - 1)])


def test_receptive_field_matches_gradient_mobilenetv2_nested():
    keras.utils.set_random_seed(0)
    bb = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                        include_top=False)
    inp = keras.Input((96, 96, 3))
    model = keras.Model(inp, L.GlobalAveragePooling2D()(bb(L.Rescaling(1.0)(inp))))
    positive_weights(model)
    # by hand: r grows by 2 j per 3x3 window, j doubles at each stride-2 layer
    expected = {"Conv1": (3, 2, 0), "block_1_depthwise": (11, 4, -2),
                "block_2_add": (19, 4, -6), "block_6_depthwise": (75, 16, -22)}
    for layer, (size, stride, offset) in expected.items():
        rf = F.receptive_field(model, layer)
        assert (rf.size, rf.stride, rf.offset) == (size, stride, offset), (layer, rf)
        h, w = rf.output_size
        _check_against_gradient(model, layer, [(0, 0), (h // 2, w // 2), (h - 1, w - 2)])


def test_receptive_field_bad_input(cnn):
    with pytest.raises(ValueError, match="no spatial output"):
        F.receptive_field(cnn, "gap")
    with pytest.raises(ValueError, match="no spatial output"):
        F.receptive_field(cnn, "head")
    up = keras.Sequential([keras.Input((8, 8, 3)), L.UpSampling2D(name="u")])
    with pytest.raises(ValueError, match="not supported"):
        F.receptive_field(up, "u")
    free = keras.Sequential([keras.Input((None, None, 3)), L.Conv2D(1, 3, name="c")])
    with pytest.raises(ValueError, match="input_size"):
        F.receptive_field(free, "c")
    assert F.receptive_field(free, "c", input_size=10).output_size == (8, 8)
    with pytest.raises(ValueError, match="`position` must lie"):
        F.receptive_field_by_gradient(cnn, "c1", position=(40, 0))


# ------------------------------------------------------------------ maximally activating patches

def _brute_force_top(model, layer, images, channels, k):
    acts = keras.Model(model.input, model.get_layer(layer).output)(images).numpy()
    n, h, w, _ = acts.shape
    out = []
    for c in channels:
        flat = acts[..., c].ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        out.append((flat[order], order // (h * w), (order % (h * w)) // w, order % w))
    return out


def test_patches_match_brute_force_and_stream_from_tf_data(cnn, rng):
    imgs = rng.uniform(size=(23, 32, 32, 3)).astype(np.float32)
    channels = [0, 3, 7]
    res = F.max_activating_patches(cnn, imgs, "c2", channels=channels, k=5, batch_size=4)
    ref = _brute_force_top(cnn, "c2", imgs, channels, 5)
    rf = F.receptive_field(cnn, "c2")
    for i, (v, b, r, c) in enumerate(ref):
        np.testing.assert_allclose(res.values[i], v, rtol=1e-5)
        np.testing.assert_array_equal(res.image_index[i], b)
        np.testing.assert_array_equal(res.positions[i], np.stack([r, c], -1))
        for j in range(5):
            y0, x0, y1, x1 = rf.box(r[j], c[j])
            padded = np.pad(imgs[b[j]], ((20, 20), (20, 20), (0, 0)))
            np.testing.assert_array_equal(res.patches[i, j],
                                          padded[y0 + 20:y1 + 21, x0 + 20:x1 + 21])
            assert tuple(res.boxes[i, j]) == (y0, x0, y1, x1)
    assert res.n_images == 23 and res.patches.shape == (3, 5, rf.size, rf.size, 3)
    labels = np.zeros(23, np.int64)
    for ds in (tf.data.Dataset.from_tensor_slices(imgs),
               tf.data.Dataset.from_tensor_slices((imgs, labels)).batch(6)):
        other = F.max_activating_patches(cnn, ds, "c2", channels=channels, k=5, batch_size=4)
        np.testing.assert_allclose(other.values, res.values, rtol=1e-5)
        np.testing.assert_array_equal(other.image_index, res.image_index)
        np.testing.assert_array_equal(other.patches, res.patches)


def test_patches_accept_shapes_dataset(cnn, small_shapes):
    model = small_cnn(size=64)
    res = F.max_activating_patches(model, small_shapes, "c3", channels=2, k=3)
    assert res.values.shape == (1, 3) and np.all(np.diff(res.values[0]) <= 0)
    assert res.patches.shape[2:] == (F.receptive_field(model, "c3").size,) * 2 + (3,)


def test_patches_bad_input(cnn, rng):
    imgs = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="no spatial output"):
        F.max_activating_patches(cnn, imgs, "gap")
    with pytest.raises(ValueError, match=r"`channels` must be indices in \[0, 11\]"):
        F.max_activating_patches(cnn, imgs, "c2", channels=[0, 12])
    with pytest.raises(ValueError, match="`k` must be >= 1"):
        F.max_activating_patches(cnn, imgs, "c2", k=0)
    with pytest.raises(TypeError, match="`data` must be"):
        F.max_activating_patches(cnn, "images", "c2")
    with pytest.raises(ValueError, match="`data` must be float"):
        F.max_activating_patches(cnn, imgs * 300, "c2")


# ------------------------------------------------------------------ gradient ascent

def test_gradient_ascent_class_score_rises_monotonically(cnn):
    res = F.gradient_ascent(cnn, 2, steps=25, step_size=0.01, l2=0.1, tv=0.1, jitter=0, seed=3)
    assert res.image.shape == (32, 32, 3) and 0 <= res.image.min() and res.image.max() <= 1
    assert res.scores.shape == (26,)
    assert np.all(np.diff(res.scores) > 0), res.scores
    assert res.objective[-1] > res.objective[0]  # TV is not smooth: no per-step guarantee
    # the score is the logit (pre-softmax), not the probability
    x0 = (0.5 + 0.01 * np.random.default_rng(3).standard_normal((1, 32, 32, 3))).astype(
        np.float32)
    feat = keras.Model(cnn.input, cnn.get_layer("gap").output)(x0).numpy()
    head = cnn.get_layer("head")
    logit = feat @ head.kernel.numpy() + head.bias.numpy()
    np.testing.assert_allclose(res.scores[0], logit[0, 2], rtol=1e-4, atol=1e-6)


def test_gradient_ascent_channel_and_unit_and_seed(cnn):
    a = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2, seed=0)
    b = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2, seed=0)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.scores[-1] > a.scores[0]
    u = F.gradient_ascent(cnn, layer="c3", channel=0, unit=(3, 3), steps=15, jitter=0,
                          step_size=0.01)
    assert u.scores[-1] > u.scores[0]


def test_gradient_ascent_bad_input(cnn):
    with pytest.raises(ValueError, match="`l2` must be >= 0"):
        F.gradient_ascent(cnn, 0, l2=-1.0)
    with pytest.raises(ValueError, match="`tv` must be >= 0"):
        F.gradient_ascent(cnn, 0, tv=-0.1)
    with pytest.raises(ValueError, match=r"`channel` must be in \[0, 11\]"):
        F.gradient_ascent(cnn, layer="c2", channel=12)
    with pytest.raises(ValueError, match=r"`class_index` must be in \[0, 3\]"):
        F.gradient_ascent(cnn, 4)
    with pytest.raises(ValueError, match="either `class_index`"):
        F.gradient_ascent(cnn)
    with pytest.raises(ValueError, match="`step_size` must be > 0"):
        F.gradient_ascent(cnn, 0, step_size=0)


def test_receptive_field_exercise_checker_agrees_with_receptive_field():
    from cvkit.exercises import ExerciseError
    from cvkit.exercises.inside import RF_CASES, _rf_reference, check_receptive_field

    # the checker's recursion gives what receptive_field computes on the same 1-D chain
    for layers in RF_CASES:
        seq = [keras.Input((64, 64, 1))]
        for i, (k, s, p) in enumerate(layers):
            if p:
                seq.append(L.ZeroPadding2D(p))
            seq.append(L.Conv2D(1, k, strides=s, name=f"l{i}"))
        rf = F.receptive_field(keras.Sequential(seq), f"l{len(layers) - 1}")
        assert (rf.size, rf.stride, rf.offset) == _rf_reference(layers)
    assert check_receptive_field(_rf_reference)
    with pytest.raises(ExerciseError, match="wrong offset"):
        check_receptive_field(lambda layers: _rf_reference(layers)[:2] + (0,))


# ------------------------------------------------------------------ regularisers of the ascent

def test_total_variation_closed_forms():
    const = np.full((6, 5, 3), 0.3, np.float32)
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (4, 3))[..., None].repeat(3, -1)  # 4x6
    checker = (np.indices((6, 6)).sum(0) % 2).astype(np.float32)[..., None].repeat(3, -1)
    ramp = np.tile(np.linspace(0, 1, 9, dtype=np.float32), (5, 1))[..., None].repeat(3, -1)
    assert F.total_variation(const) == 0.0
    assert F.total_variation(stripes) == pytest.approx(1.0)  # |dx| = 1, dy = 0
    assert F.total_variation(checker) == pytest.approx(2.0)  # |dx| = |dy| = 1
    assert F.total_variation(ramp) == pytest.approx(1 / 8)  # steps of 1/8 along x only
    batch = F.total_variation(np.stack([stripes[:4, :4], checker[:4, :4]]))
    np.testing.assert_allclose(batch, [1.0, 2.0], rtol=1e-6)
    assert F.total_variation((checker * 255).astype(np.uint8)) == pytest.approx(2.0)


def test_gaussian_blur_matches_scipy_and_keeps_constants(rng):
    from scipy.ndimage import gaussian_filter

    x = rng.uniform(size=(2, 12, 15, 3)).astype(np.float32)
    for sigma in (0.5, 1.0, 2.3):
        ref = gaussian_filter(x, (0, sigma, sigma, 0), mode="reflect", truncate=3.0)
        np.testing.assert_allclose(F.gaussian_blur(x, sigma), ref, atol=1e-5)
    const = np.full((8, 8, 3), 0.25, np.float32)
    np.testing.assert_allclose(F.gaussian_blur(const, 1.5), const, atol=1e-6)
    assert F.gaussian_blur(x[0], 1.0).shape == (12, 15, 3)  # a single image keeps its rank


def test_random_transform_is_reproducible_and_matches_closed_forms(rng):
    x = rng.uniform(size=(16, 16, 3)).astype(np.float32)
    kw = dict(jitter=3, scale=(0.8, 1.2), rotate=20)
    a = F.random_transform(x, seed=4, step=7, **kw)
    np.testing.assert_array_equal(a, F.random_transform(x, seed=4, step=7, **kw))
    assert not np.array_equal(a, F.random_transform(x, seed=4, step=8, **kw))
    assert not np.array_equal(a, F.random_transform(x, seed=5, step=7, **kw))
    # jitter alone is a circular roll by at most `jitter` pixels
    j = F.random_transform(x, seed=1, step=2, jitter=3)
    rolls = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
             if np.array_equal(j, np.roll(x, (dy, dx), axis=(0, 1)))]
    assert len(rolls) == 1
    # no jitter, unit zoom, no rotation: the identity
    np.testing.assert_array_equal(F.random_transform(x, jitter=0, scale=(1, 1)), x)
    # a zoom by exactly 2 about the centre maps a linear ramp I = x / 15 to (7.5 + (x - 7.5) / 2) / 15
    ramp = np.tile(np.arange(16, dtype=np.float32) / 15, (16, 1))[..., None].repeat(3, -1)
    z = F.random_transform(ramp, scale=(2.0, 2.0))
    want = (7.5 + (np.arange(16) - 7.5) / 2) / 15
    np.testing.assert_allclose(z[8, :, 0], want, atol=1e-5)
    # a centred radial image is unchanged by rotations, up to interpolation
    yy, xx = np.mgrid[0:33, 0:33] - 16.0
    blob = np.exp(-(yy ** 2 + xx ** 2) / 50.0).astype(np.float32)[..., None].repeat(3, -1)
    np.testing.assert_allclose(F.random_transform(blob, seed=3, rotate=90), blob, atol=0.02)


def test_octave_sizes_are_as_documented():
    assert F.octave_sizes(64) == [(64, 64)]
    assert F.octave_sizes(64, 3, 2.0) == [(16, 16), (32, 32), (64, 64)]
    assert F.octave_sizes((64, 48), 2, 1.5) == [(43, 32), (64, 48)]
    for k, (h, w) in enumerate(F.octave_sizes((90, 70), 4, 1.3)):
        f = 1.3 ** (3 - k)
        assert (h, w) == (int(np.floor(90 / f + 0.5)), int(np.floor(70 / f + 0.5)))
    with pytest.raises(ValueError, match="`octaves`=6 .* at least 4 px"):
        F.octave_sizes(64, 6, 2.0)
    with pytest.raises(ValueError, match="`octave_scale` must be > 1"):
        F.octave_sizes(64, 2, 1.0)


def test_gradient_ascent_octaves_and_regularisers(cnn):
    res = F.gradient_ascent(cnn, 1, steps=8, octaves=3, octave_scale=2.0, scale=(0.9, 1.1),
                            rotate=10, blur_every=2, blur_sigma=0.5, seed=1)
    assert res.sizes == ((8, 8), (16, 16), (32, 32))
    assert res.image.shape == (32, 32, 3) and res.scores.shape == (25,)
    assert res.scores[-1] > res.scores[0]
    again = F.gradient_ascent(cnn, 1, steps=8, octaves=3, octave_scale=2.0, scale=(0.9, 1.1),
                              rotate=10, blur_every=2, blur_sigma=0.5, seed=1)
    np.testing.assert_array_equal(res.image, again.image)
    # blurring every step leaves a smoother image than the same ascent without it
    sharp = F.gradient_ascent(cnn, 1, steps=20, tv=0.0, seed=2)
    smooth = F.gradient_ascent(cnn, 1, steps=20, tv=0.0, seed=2, blur_every=1, blur_sigma=1.0)
    assert F.total_variation(smooth.image) < 0.5 * F.total_variation(sharp.image)


def test_gradient_ascent_batch_equals_single_runs(cnn):
    kw = dict(steps=10, octaves=2, scale=(0.9, 1.1), rotate=5, blur_every=3, seed=4)
    both = F.gradient_ascent(cnn, [0, 2], **kw)
    assert isinstance(both, list) and len(both) == 2
    for res, c in zip(both, (0, 2)):
        one = F.gradient_ascent(cnn, c, **kw)
        np.testing.assert_allclose(res.image, one.image, atol=2e-3)
        np.testing.assert_allclose(res.scores, one.scores, rtol=1e-3, atol=1e-4)
    chans = F.gradient_ascent(cnn, layer="c2", channel=range(1, 3), steps=15, jitter=2)
    one = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2)
    assert len(chans) == 2 and chans[0].scores[-1] > chans[0].scores[0]
    np.testing.assert_allclose(chans[0].image, one.image, atol=2e-3)


def test_regularisers_bad_input(cnn):
    with pytest.raises(ValueError, match=r"`scale` must be \(low, high\) with low <= high"):
        F.gradient_ascent(cnn, 0, scale=(1.2, 0.8))
    with pytest.raises(TypeError, match="`scale` must be None or a pair"):
        F.gradient_ascent(cnn, 0, scale=1.1)
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        F.gradient_ascent(cnn, 0, scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="`rotate` must be >= 0"):
        F.gradient_ascent(cnn, 0, rotate=-5)
    with pytest.raises(ValueError, match="`blur_every` must be >= 0"):
        F.gradient_ascent(cnn, 0, blur_every=-1)
    with pytest.raises(ValueError, match="`blur_sigma` must be > 0"):
        F.gradient_ascent(cnn, 0, blur_every=2, blur_sigma=0.0)
    with pytest.raises(ValueError, match="`blur_sigma`=6.0 is too large for the 16x16 px"):
        F.gradient_ascent(cnn, 0, octaves=2, octave_scale=2.0, blur_every=2, blur_sigma=6.0)
    with pytest.raises(ValueError, match="`decay_power` must be >= 0"):
        F.gradient_ascent(cnn, 0, decay_power=-1.0)
    with pytest.raises(ValueError, match="`octaves` must be >= 1"):
        F.gradient_ascent(cnn, 0, octaves=0)
    with pytest.raises(ValueError, match="`octaves`=5"):
        F.gradient_ascent(cnn, 0, octaves=5, octave_scale=2.0)
    with pytest.raises(TypeError, match="`jitter` must be an integer"):
        F.gradient_ascent(cnn, 0, jitter=1.5)
    with pytest.raises(TypeError, match="`clip` must be True or False"):
        F.gradient_ascent(cnn, 0, clip="yes")
    with pytest.raises(ValueError, match="`class_index` must hold at least one"):
        F.gradient_ascent(cnn, [])
    with pytest.raises(ValueError, match=r"`class_index` must be in \[0, 3\].*got 7"):
        F.gradient_ascent(cnn, [0, 7])
    with pytest.raises(TypeError, match="`class_index` must be an integer or a sequence"):
        F.gradient_ascent(cnn, "circle")
    with pytest.raises(TypeError, match=r"`unit` must be a \(row, col\) pair"):
        F.gradient_ascent(cnn, layer="c3", channel=0, unit=3)
    with pytest.raises(ValueError, match="`init` must be one 32x32 image"):
        F.gradient_ascent(cnn, 0, init=np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="`sigma`=5.0 has a kernel radius of 15 px"):
        F.gaussian_blur(np.zeros((8, 8, 3), np.float32), 5.0)
    with pytest.raises(ValueError, match="at least 2x2"):
        F.total_variation(np.zeros((1, 5, 3), np.float32))
    with pytest.raises(TypeError, match="`step` must be an integer"):
        F.random_transform(np.zeros((8, 8, 3), np.float32), step=0.5)


def test_spectral_precondition_scales_each_frequency_by_its_closed_form():
    yy, xx = np.mgrid[0:32, 0:24]
    for ky, kx in [(0, 0), (0, 1), (2, 3), (5, 0), (16, 12)]:
        wave = np.cos(2 * np.pi * (ky * yy / 32 + kx * xx / 24)).astype(np.float32)
        g = np.stack([wave, 2 * wave], -1)  # (32, 24, 2)
        f = max(np.hypot(ky / 32, kx / 24), 1 / 32)
        for d in (0.5, 1.0):
            np.testing.assert_allclose(F.spectral_precondition(g, d), g * f ** (-2 * d),
                                       rtol=1e-4, atol=1e-3 * f ** (-2 * d))
    g = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(F.spectral_precondition(g, 0.0), g)
    with pytest.raises(ValueError, match="`decay_power` must be >= 0"):
        F.spectral_precondition(g, -1.0)
    with pytest.raises(ValueError, match="`gradient` must be"):
        F.spectral_precondition(g[0, 0], 1.0)


def test_gradient_ascent_decay_power_smooths_the_image(cnn):
    plain = F.gradient_ascent(cnn, 3, steps=20, tv=0.0, seed=5)
    fourier = F.gradient_ascent(cnn, 3, steps=20, tv=0.0, seed=5, decay_power=1.0)
    assert fourier.scores[-1] > fourier.scores[0]
    assert F.total_variation(fourier.image) < 0.5 * F.total_variation(plain.image)


@pytest.mark.slow
def test_class_models_of_the_zoo_small_cnn_are_recognised_by_the_zoo_mobilenetv2():
    """The cross-network check of notebook 08: the regularised class-model images of the small CNN,
    resized to 128 px, are classified as their own class by a separately trained MobileNetV2 for
    at least 3 of the 4 classes (the plain recipe: at most 2). Seed 0, as in the notebook; other
    seeds give 2-4 of 4 (the report of the change lists them)."""
    from cvkit.models import pretrained
    from cvkit.tour.inside import CLASS_MODEL_RECIPE

    small, judge = pretrained("shapes_small_cnn"), pretrained("shapes_cam_mobilenetv2")

    def hits(results):
        imgs = tf.image.resize(np.stack([r.image for r in results]), (128, 128))
        return int(np.sum(judge(imgs, training=False).numpy().argmax(1) == np.arange(4)))

    legible = F.gradient_ascent(small, [0, 1, 2, 3], seed=0, **CLASS_MODEL_RECIPE)
    plain = F.gradient_ascent(small, [0, 1, 2, 3], steps=120, seed=0)
    assert all(r.sizes == ((43, 43), (64, 64)) for r in legible)
    assert hits(legible) >= 3
    assert hits(plain) <= 2
