"""Augmented Grad-CAM on a model, and its baselines."""
import numpy as np
import pytest
import tensorflow as tf
from augmented_cases import H, W

from cvkit.explain import augmented as A


# ---- baselines -------------------------------------------------------------------------------

def test_upsample_baseline_is_bilinear_of_the_identity_copy(problem16):
    _, g, p = problem16
    ref = tf.image.resize(g[:1, ..., None], (64, 64), method="bilinear").numpy()[0, ..., 0]
    np.testing.assert_allclose(A.upsample_baseline(g, 64), ref, atol=1e-5)


def test_warp_back_baseline_recovers_warped_full_resolution_maps():
    yy, xx = np.mgrid[0:H, 0:W]
    bump = np.exp(-((xx - 20) ** 2 + (yy - 24) ** 2) / 60.0).astype(np.float32)
    p = A.random_augmentations(6, 0.3, 4, seed=0)
    maps = A.warp_maps(bump, p)                       # full-size maps: D is the identity
    mean = A.warp_back_baseline(maps, p, (H, W), "mean")
    mx = A.warp_back_baseline(maps, p, (H, W), "max")
    np.testing.assert_allclose(mean, bump, atol=0.02)
    assert np.all(mx >= mean - 1e-6)
    same = A.warp_back_baseline(np.repeat(maps[:1], 3, 0), np.zeros((3, 3)), (H, W), "max")
    np.testing.assert_allclose(same, maps[0], atol=1e-6)


def test_baselines_bad_input(problem16):
    _, g, p = problem16
    with pytest.raises(ValueError, match="`reduce`"):
        A.warp_back_baseline(g, p, 64, "median")
    with pytest.raises(ValueError, match="one row per map"):
        A.warp_back_baseline(g, p[:3], 64)
    with pytest.raises(TypeError, match="`output_size`"):
        A.upsample_baseline(g, "big")


# ---- the method on a model -------------------------------------------------------------------

def test_augmented_grad_cam_uses_grad_cams_of_the_copies(tiny_model, tiny_images):
    from cvkit.explain.gradcam import grad_cam
    from cvkit.explain.upsample import normalize_maps

    img = tiny_images[0]
    out, info = A.augmented_grad_cam(tiny_model, img, n_augmentations=6, max_shift=4,
                                     return_info=True, seed=2)
    assert out.shape == (32, 32) and out.min() >= 0 and out.max() == pytest.approx(1.0)
    pred = int(np.argmax(tiny_model(img[None]).numpy()))
    assert info["class_index"] == pred
    copies = A.augment(img, info["params"])
    ref = grad_cam(tiny_model, copies, class_index=pred, layer="feat", upsample=False,
                   normalize=False)
    ref = ref / ref.reshape(6, -1).max(axis=1)[:, None, None]
    np.testing.assert_allclose(info["low_res_maps"], ref, atol=1e-5)
    np.testing.assert_array_equal(info["params"], A.random_augmentations(6, 0.5, 4, seed=2))
    # the default: the paper's objective, 20 subgradient steps from h = 0 (early stopped)
    assert A.EARLY_STOP_ITERATIONS == 20
    assert info["solver"] == "subgradient" and info["iterations"] == 20
    h, _ = A.superresolve(info["low_res_maps"], info["params"], 32, solver="subgradient",
                          iterations=20)
    np.testing.assert_allclose(out, normalize_maps(h), atol=1e-4)


def test_augmented_grad_cam_other_solvers_keep_superresolve_defaults(tiny_model, tiny_images):
    from cvkit.explain.upsample import normalize_maps

    img = tiny_images[1]
    out, info = A.augmented_grad_cam(tiny_model, img, n_augmentations=5, max_shift=4,
                                     solver="fista", return_info=True, seed=3)
    h, ref = A.superresolve(info["low_res_maps"], info["params"], 32, solver="fista")
    assert info["iterations"] == ref["iterations"]          # to convergence, not stopped at 20
    np.testing.assert_allclose(out, normalize_maps(h), atol=1e-4)
    _, info = A.augmented_grad_cam(tiny_model, img, n_augmentations=5, max_shift=4,
                                   solver="subgradient", iterations=7, return_info=True, seed=3)
    assert info["iterations"] == 7


@pytest.mark.slow
def test_augmented_grad_cam_batch_equals_single_calls(tiny_model, tiny_images):
    kw = dict(n_augmentations=4, max_shift=4, iterations=10, class_index=1, seed=1)
    batch = A.augmented_grad_cam(tiny_model, tiny_images, **kw)
    assert batch.shape == (2, 32, 32)
    for i in range(2):
        np.testing.assert_allclose(batch[i], A.augmented_grad_cam(tiny_model, tiny_images[i], **kw),
                                   atol=1e-5)


def test_augmented_grad_cam_bad_input(tiny_model, tiny_images):
    with pytest.raises(ValueError, match="`n_augmentations`"):
        A.augmented_grad_cam(tiny_model, tiny_images[0], n_augmentations=0)
    with pytest.raises(ValueError, match="`solver`"):
        A.augmented_grad_cam(tiny_model, tiny_images[0], solver="lbfgs")
    with pytest.raises(ValueError, match="`class_index`"):
        A.augmented_grad_cam(tiny_model, tiny_images[0], class_index=7)
    with pytest.raises(ValueError, match="`image`"):
        A.augmented_grad_cam(tiny_model, np.zeros((16, 16, 3), np.float32))
    first = tiny_model.layers[1].name            # full-resolution conv: nothing to super-resolve
    with pytest.raises(ValueError, match="`layer`"):
        A.augmented_grad_cam(tiny_model, tiny_images[0], layer=first, n_augmentations=2)
