"""Bad and edge-case inputs of cvkit.explain (issue 17): a model whose output is NaN, images too
small for the model, strings / booleans / negative seeds in numeric arguments. Every case asserts
the error type and that the message names the argument (or ``model`` when the model is the cause).
"""
import keras
import numpy as np
import pytest

from cvkit import explain
from cvkit.explain import augmented
from cvkit.explain._guards import check_scores
from cvkit.models import small_cnn


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))


@pytest.fixture(scope="module")
def nan_model():
    """The same architecture with NaN in the last Dense kernel: every logit is NaN."""
    keras.utils.set_random_seed(0)
    m = small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4))
    w = m.layers[-1].get_weights()
    w[0][:] = np.nan
    m.layers[-1].set_weights(w)
    return m


@pytest.fixture(scope="module")
def any_size_model():
    keras.utils.set_random_seed(0)
    return small_cnn(3, (None, None, 3), widths=(4, 4, 4, 4))


X = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")

NAN_CALLS = {
    "grad_cam": lambda m: explain.grad_cam(m, X),
    "grad_cam_plus_plus": lambda m: explain.grad_cam_plus_plus(m, X, class_index=1),
    "layer_cam": lambda m: explain.layer_cam(m, X),
    "cam": lambda m: explain.cam(m, X),
    "score_cam": lambda m: explain.score_cam(m, X, layer="conv3"),
    "score_cam_class_given": lambda m: explain.score_cam(m, X, class_index=0, layer="conv3"),
    "rise": lambda m: explain.rise(m, X, n_masks=8, batch_size=4),
    "rise_class_given": lambda m: explain.rise(m, X, class_index=[0, 1], n_masks=8),
    "smooth_grad_cam_plus_plus": lambda m: explain.smooth_grad_cam_plus_plus(m, X, n_samples=2),
    "augmented_grad_cam": lambda m: augmented.augmented_grad_cam(m, X[0], n_augmentations=2,
                                                                 max_shift=2, iterations=2),
    "augmented_grad_cam_class_given": lambda m: augmented.augmented_grad_cam(
        m, X[0], class_index=1, n_augmentations=2, max_shift=2, iterations=2),
}


@pytest.mark.parametrize("name", sorted(NAN_CALLS))
def test_nan_model_raises_naming_the_model(nan_model, name):
    # before: all-zero maps (score_cam, rise, augmented), NaN maps (the Grad-CAM family) or
    # "`maps` contains NaN" although the caller passed no maps
    with pytest.raises(ValueError) as err:
        NAN_CALLS[name](nan_model)
    msg = str(err.value)
    assert msg.startswith("`model` returns NaN or infinite")
    assert "`maps`" not in msg


def test_check_scores_names_the_bad_images():
    check_scores(np.zeros((3, 2)))                      # finite: no error
    with pytest.raises(ValueError, match=r"for `image` at indices \[0, 2\] \(of 3\)"):
        check_scores(np.array([[np.inf, 0.0], [1.0, 2.0], [np.nan, 1.0]]), images="image")


@pytest.mark.parametrize("call", [
    lambda m: explain.grad_cam(m, np.zeros((1, 1, 1, 3))),
    lambda m: explain.score_cam(m, np.zeros((1, 1, 1, 3))),
    lambda m: explain.rise(m, np.zeros((1, 1, 3)), n_masks=4),
    lambda m: explain.cam(m, np.zeros((1, 1, 3))),
])
def test_one_pixel_image_gets_cvkit_message(any_size_model, call):
    # before: TensorFlow's AbortedError from the first max-pool
    with pytest.raises(ValueError, match=r"`images` of 1 x 1 pixels are too small"):
        call(any_size_model)


def test_one_pixel_image_augmented(any_size_model):
    with pytest.raises(ValueError, match=r"`image` of 1 x 1 pixels are too small"):
        augmented.augmented_grad_cam(any_size_model, np.zeros((1, 1, 3)), n_augmentations=2)


def test_image_below_the_model_stride_gets_cvkit_message(any_size_model):
    # 2 x 2 passes the size check but not the model's 2 x 2 max-pools: TF's error is wrapped
    with pytest.raises(ValueError, match=r"`images` of shape \(1, 2, 2, 3\): `model` cannot run"):
        explain.grad_cam(any_size_model, np.zeros((1, 2, 2, 3)))


BAD = [
    # (call, error type, the argument the message names)
    (lambda m: explain.rise(m, X, n_masks=4, seed=-1), ValueError, "seed"),
    (lambda m: explain.rise(m, X, n_masks="4"), TypeError, "n_masks"),
    (lambda m: explain.rise(m, X, n_masks=4, p="0.5"), TypeError, "p"),
    (lambda m: explain.rise(m, X, n_masks=4, grid_size=10 ** 6), ValueError, "grid_size"),
    (lambda m: explain.smooth_grad_cam_plus_plus(m, X, seed=-3), ValueError, "seed"),
    (lambda m: explain.smooth_grad_cam_plus_plus(m, X, noise_level="0.1"), TypeError,
     "noise_level"),
    (lambda m: explain.smooth_grad_cam_plus_plus(m, X, n_samples=True), TypeError, "n_samples"),
    (lambda m: explain.grad_cam(m, X, class_index="1"), TypeError, "class_index"),
    (lambda m: explain.grad_cam(m, X, class_index=1.0), TypeError, "class_index"),
    (lambda m: explain.grad_cam(m, X, class_index=7), ValueError, "class_index"),
    (lambda m: explain.grad_cam(m, X, batch_size="2"), TypeError, "batch_size"),
    (lambda m: explain.grad_cam(m, X, normalize="no"), TypeError, "normalize"),
    (lambda m: explain.grad_cam(m, X, upsample=1), TypeError, "upsample"),
    (lambda m: explain.grad_cam(m, "image.png"), ValueError, "images"),
    (lambda m: explain.grad_cam(m, np.array([["a"] * 3] * 16 * 16).reshape(16, 16, 3)), TypeError,
     "images"),
    (lambda m: explain.cam(m, X, relu="no"), TypeError, "relu"),
    (lambda m: augmented.augmented_grad_cam(m, X[0], seed=-1), ValueError, "seed"),
    (lambda m: augmented.augmented_grad_cam(m, X[0], iterations="2"), TypeError, "iterations"),
    (lambda m: augmented.augmented_grad_cam(m, X[0], n_augmentations=True), TypeError,
     "n_augmentations"),
    (lambda m: augmented.augmented_grad_cam(m, X[0], max_shift="3"), TypeError, "max_shift"),
    (lambda m: augmented.augmented_grad_cam(m, X[0], return_info="yes"), TypeError, "return_info"),
    (lambda m: explain.rise_masks(2, (4, 4), start=5), ValueError, "start"),
    (lambda m: explain.rise_masks(2, (4, 4), start=-1), ValueError, "start"),
    (lambda m: explain.rise_masks(4, (4, 4), start=2, stop=1), ValueError, "stop"),
    (lambda m: explain.rise_masks(2, "4"), TypeError, "image_size"),
    (lambda m: explain.normalize_maps(np.zeros((0, 2, 2))), ValueError, "maps"),
    (lambda m: explain.normalize_maps(np.array([["a"]])), TypeError, "maps"),
    (lambda m: explain.normalize_maps(np.ones((2, 2)), relu="no"), TypeError, "relu"),
    (lambda m: explain.upsample_maps(np.ones((2, 2)), 4.5), TypeError, "size"),
    (lambda m: explain.bilinear_upsample(np.ones((2, 2)), "4"), TypeError, "size"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments_name_the_argument(model, case):
    call, error, arg = BAD[case]
    with pytest.raises(error) as err:
        call(model)
    assert f"`{arg}`" in str(err.value)


def test_rise_masks_slice_matches_the_full_draw():
    full = explain.rise_masks(6, (8, 8), grid_size=4, seed=3)
    np.testing.assert_array_equal(explain.rise_masks(6, (8, 8), grid_size=4, seed=3, start=2,
                                                     stop=6), full[2:])
