"""The course's backpropagation worked example, by hand and by GradientTape, and vanishing
gradients through a deep sigmoid stack with and without skip connections."""
import numpy as np
import pytest

from cvkit.inside import backprop as B


def test_forward_reproduces_the_notes():
    c = B.forward()
    assert c["net_h1"] == pytest.approx(0.3775, abs=1e-12)  # notes: 0.3775
    assert round(c["out_h1"], 4) == 0.5933 and c["out_h1"] == pytest.approx(0.593269992, abs=1e-9)
    assert round(c["out_h2"], 4) == 0.5969  # notes: 0.5968 (truncated 0.596884)
    assert round(c["net_o1"], 4) == 1.1059  # notes: 1.1059
    assert round(c["out_o1"], 4) == 0.7514 and c["out_o1"] == pytest.approx(0.75136507, abs=1e-8)
    assert round(c["out_o2"], 4) == 0.7729  # notes: 0.7729


def test_error_terms():
    e1, e2, total = B.total_error(B.forward())
    # The notes print "E_total = 0.2748": that is E_o1; the sum over both outputs is 0.2984.
    assert round(e1, 4) == 0.2748
    assert total == pytest.approx(0.298371109, abs=1e-9)
    assert total == pytest.approx(e1 + e2)


def test_backward_by_hand_matches_notes_and_tape():
    g = B.backward()
    assert g["w1"] == pytest.approx(0.000438568, abs=1e-9)  # notes: 0.00043
    assert round(g["w1"], 5) == 0.00044 and int(g["w1"] * 1e5) == 43
    assert g["w5"] == pytest.approx(0.082167041, abs=1e-9)
    e, tg = B.tape_gradients()
    assert e == pytest.approx(0.298371109, abs=1e-9)
    for k in g:
        assert tg[k] == pytest.approx(g[k], rel=1e-10, abs=1e-14), k


def test_backward_matches_finite_differences_on_random_params():
    rng = np.random.default_rng(0)
    p = {k: float(v) for k, v in zip(B.EXAMPLE_PARAMS, rng.normal(size=10))}
    x, t = (0.3, -0.7), (0.2, 0.6)
    g = B.backward(p, x, t)
    for k in p:
        hi, lo = dict(p), dict(p)
        hi[k] += 1e-6
        lo[k] -= 1e-6
        num = (B.total_error(B.forward(hi, x), t)[2] - B.total_error(B.forward(lo, x), t)[2]) / 2e-6
        assert g[k] == pytest.approx(num, abs=1e-8), k


def test_update_of_w1():
    new, e = B.backprop_step(eta=0.5)
    assert new["w1"] == pytest.approx(0.15 - 0.5 * 0.000438568, abs=1e-9)
    assert new["w1"] == pytest.approx(0.1497, abs=1e-4)  # notes: 0.1497
    assert new["b1"] == 0.35 and new["b2"] == 0.60  # biases fixed, as in the example
    assert e == pytest.approx(0.298371109, abs=1e-9)
    # the error goes down after the step
    assert B.total_error(B.forward(new))[2] < e
    both = B.sgd_step(B.EXAMPLE_PARAMS, B.backward(), eta=0.5, update_biases=True)
    assert both["b1"] == pytest.approx(0.35 - 0.5 * B.backward()["b1"])


def test_bad_input():
    with pytest.raises(ValueError, match="`params` is missing"):
        B.forward({"w1": 0.1})
    with pytest.raises(TypeError, match="`params` must be a dict"):
        B.forward([0.1] * 10)
    with pytest.raises(ValueError, match="`inputs` must be two numbers"):
        B.forward(None, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="`eta` must be > 0"):
        B.sgd_step(B.EXAMPLE_PARAMS, B.backward(), eta=0.0)
    with pytest.raises(ValueError, match="`depth` must be >= 1"):
        B.sigmoid_stack(depth=0)
    import keras

    with pytest.raises(ValueError, match="hidden_"):
        B.gradient_norms(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                         np.zeros((1, 2)), np.zeros(1))


def test_gradient_norms_match_finite_differences():
    model = B.sigmoid_stack(depth=3, width=4, input_dim=4, seed=1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.normal(size=8).astype(np.float32)
    norms = B.gradient_norms(model, x, y)
    k = model.get_layer("hidden_1").kernel
    w0 = k.numpy().astype(np.float64)
    num = np.zeros_like(w0)

    def loss():
        return float(np.mean((model(x).numpy()[:, 0] - y) ** 2))

    for idx in np.ndindex(w0.shape):
        for sgn in (1, -1):
            w = w0.copy()
            w[idx] += sgn * 1e-2
            k.assign(w.astype(np.float32))
            num[idx] += sgn * loss() / 2e-2
    k.assign(w0.astype(np.float32))
    assert norms[1] == pytest.approx(np.linalg.norm(num), rel=2e-2)


def test_vanishing_gradients_plain_vs_residual():
    r = B.vanishing_gradients(depth=20, width=16, n=32, seed=0)
    plain, res = r["plain"], r["residual"]
    assert plain.shape == res.shape == (20,)
    assert plain[0] / plain[-1] < 1e-6  # vanishes towards the input
    assert res[0] / res[-1] > 1e-2 and res.min() / res.max() > 1e-2


def test_exercise_checker_accepts_reference_and_explains_a_sign_error():
    from cvkit.exercises import ExerciseError
    from cvkit.exercises.inside import check_backprop_step

    def good(params, inputs, targets, eta):
        return B.sgd_step(params, B.backward(params, inputs, targets), eta)

    def wrong_sign(params, inputs, targets, eta):
        g = B.backward(params, inputs, targets)
        return {k: v + eta * g[k] if k.startswith("w") else v for k, v in params.items()}

    assert check_backprop_step(good)
    with pytest.raises(ExerciseError, match="check the sign"):
        check_backprop_step(wrong_sign)


def test_chain_rule_w1_factors_multiply_and_the_notes_sums_do_not():
    c = B.chain_rule_w1()
    f = B.forward()
    assert c["dEo1_dout_o1"] == pytest.approx(f["out_o1"] - 0.01, abs=1e-15)
    assert c["dout_o1_dnet_o1"] == pytest.approx(f["out_o1"] * (1 - f["out_o1"]), abs=1e-15)
    assert c["dEo1_dnet_o1"] == pytest.approx(0.138498562, abs=1e-9)  # Mazur's delta_o1
    assert c["dEo1_dout_h1"] == pytest.approx(0.055399425, abs=1e-9)
    assert c["dEo2_dout_h1"] == pytest.approx(-0.019049119, abs=1e-9)
    assert c["dE_dout_h1"] == pytest.approx(0.036350306, abs=1e-9)
    assert c["dE_dw1"] == pytest.approx(B.backward()["w1"], rel=1e-12)
    # the notes' "+" between the factors of one path: (0.741365 + 0.186816 + 0.40)
    # + (-0.217072 + 0.175510 + 0.50), times out_h1 (1 - out_h1) and i1
    assert c["dE_dw1_with_sums"] == pytest.approx(1.786619190 * 0.241300709 * 0.05, rel=1e-8)
    # on random parameters the product chain is still backward()'s gradient
    rng = np.random.default_rng(3)
    p = {k: float(v) for k, v in zip(B.EXAMPLE_PARAMS, rng.normal(size=10))}
    assert B.chain_rule_w1(p, (0.3, -0.2), (0.1, 0.8))["dE_dw1"] == pytest.approx(
        B.backward(p, (0.3, -0.2), (0.1, 0.8))["w1"], rel=1e-12)


def test_deep_stack_init_scale_and_sigmoid_stack_unchanged():
    import keras

    m = B.deep_stack(depth=3, width=64, activation="relu", gain=2.0, input_dim=64, seed=1)
    k = m.get_layer("hidden_1").kernel.numpy()
    assert k.std() == pytest.approx(2.0 * np.sqrt(2.0 / 64), rel=0.05)  # gain * He std
    lin = B.deep_stack(depth=2, width=64, activation="linear", gain=0.5, input_dim=64, seed=1)
    assert lin.get_layer("hidden_0").kernel.numpy().std() == pytest.approx(0.5 / 8, rel=0.05)
    a, b = B.sigmoid_stack(depth=3, width=4, seed=2), B.deep_stack(depth=3, width=4, seed=2)
    for la, lb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(la.numpy(), lb.numpy())
    res = B.deep_stack(depth=2, width=4, residual=True, activation="tanh", gain=1.0)
    x = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    proj = res.get_layer("proj")(x)
    h0 = proj + res.get_layer("hidden_0")(proj)
    h1 = h0 + res.get_layer("hidden_1")(h0)
    np.testing.assert_allclose(res(x).numpy(), res.get_layer("head")(h1).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="`activation` must be a Keras activation"):
        B.deep_stack(activation="nope")
    with pytest.raises(ValueError, match="`gain` must be > 0"):
        B.deep_stack(gain=0.0)
    with pytest.raises(TypeError, match="`residual` must be True or False"):
        B.deep_stack(residual=1)
    assert isinstance(m, keras.Model)


def test_gradient_norms_of_the_bias_are_the_summed_backward_signal():
    model = B.sigmoid_stack(depth=3, width=4, input_dim=4, seed=1)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.normal(size=8).astype(np.float32)
    b = model.get_layer("hidden_2").bias
    b0 = b.numpy().astype(np.float64)
    num = np.zeros_like(b0)
    for i in range(len(b0)):
        for sgn in (1, -1):
            v = b0.copy()
            v[i] += sgn * 1e-2
            b.assign(v.astype(np.float32))
            num[i] += sgn * float(np.mean((model(x).numpy()[:, 0] - y) ** 2)) / 2e-2
    b.assign(b0.astype(np.float32))
    assert B.gradient_norms(model, x, y, param="bias")[2] == pytest.approx(np.linalg.norm(num),
                                                                           rel=2e-2)
    with pytest.raises(ValueError, match="`param` must be one of"):
        B.gradient_norms(model, x, y, param="gamma")


def test_exploding_gradients_plain_and_residual():
    r = B.exploding_gradients(depth=20, width=16, gain=2.0, n=32, seed=0)
    plain, res = r["plain"], r["residual"]
    assert plain.shape == res.shape == (20,)
    assert plain[0] / plain[-1] > 1e3  # grows towards the input
    assert res[0] / res[-1] > plain[0] / plain[-1]  # the identity path does not stop it
    he = B.exploding_gradients(depth=20, width=16, gain=1.0, n=32, seed=0)["plain"]
    assert 1e-2 < he[0] / he[-1] < 1e2  # at the He scale the plain stack keeps its scale
    v = B.vanishing_gradients(depth=20, width=16, n=32, seed=0, param="bias")
    assert v["plain"][0] / v["plain"][-1] < 1e-6 and v["residual"][0] / v["residual"][-1] > 1e-2
