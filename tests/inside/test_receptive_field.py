"""Tests for cvkit.inside.receptive_field: the closed-form recursion against measured gradients."""
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from inside_models import positive_weights  # noqa: E402

from cvkit import inside as F  # noqa: E402

L = keras.layers


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
