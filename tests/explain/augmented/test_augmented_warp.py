"""Augmented Grad-CAM, the augmentations: drawing, applying (against scikit-image and TensorFlow), inverting."""
import numpy as np
import pytest
import tensorflow as tf
from augmented_cases import H, PARAMS, W
from skimage import transform

from cvkit.explain import augmented as A

def _skimage_warp(img, angle, dx, dy):
    """Reference: skimage.transform.warp with the forward affine map written out."""
    h, w = img.shape[:2]
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = c - rot @ c + [dx, dy]
    tform = transform.AffineTransform(matrix=m)
    return transform.warp(img.astype(np.float64), tform.inverse, order=1, mode="constant",
                          cval=0.0)


def test_random_augmentations_identity_first_range_and_seed():
    p = A.random_augmentations(50, max_angle=0.4, max_shift=10, seed=3)
    assert p.shape == (50, 3) and p.dtype == np.float32
    np.testing.assert_array_equal(p[0], 0.0)
    assert np.abs(p[:, 0]).max() <= 0.4 and np.abs(p[:, 1:]).max() <= 10
    assert np.abs(p[1:, 0]).max() > 0.2          # really drawn over the range
    np.testing.assert_array_equal(p, A.random_augmentations(50, 0.4, 10, seed=3))
    assert not np.array_equal(p, A.random_augmentations(50, 0.4, 10, seed=4))


@pytest.mark.parametrize("kw, exc, word", [
    (dict(n=0), ValueError, "`n`"),
    (dict(n=2.5), TypeError, "`n`"),
    (dict(n=3, max_angle=-0.1), ValueError, "`max_angle`"),
    (dict(n=3, max_shift=-1), ValueError, "`max_shift`"),
])
def test_random_augmentations_bad_input(kw, exc, word):
    with pytest.raises(exc, match=word):
        A.random_augmentations(**kw)


@pytest.mark.parametrize("k", range(len(PARAMS)))
def test_augment_matches_skimage_warp(image, k):
    out = A.augment(image, PARAMS)
    assert out.shape == (len(PARAMS), H, W, 3)
    ref = _skimage_warp(image, *PARAMS[k])
    np.testing.assert_allclose(out[k], ref, atol=2e-5)


def test_augment_rotation_is_skimage_rotate_counter_clockwise(image):
    ref = transform.rotate(image, np.degrees(0.3), order=1, mode="constant", cval=0.0)
    np.testing.assert_allclose(A.augment(image, [0.3, 0.0, 0.0]), ref, atol=2e-5)


def test_augment_matches_tensorflow_projective_transform(image):
    rows = []
    c = ((W - 1) / 2, (H - 1) / 2)
    for a, dx, dy in PARAMS.astype(np.float64):
        co, si = np.cos(a), np.sin(a)
        rows.append([co, -si, -co * (c[0] + dx) + si * (c[1] + dy) + c[0],
                     si, co, -si * (c[0] + dx) - co * (c[1] + dy) + c[1], 0, 0])
    ref = tf.raw_ops.ImageProjectiveTransformV3(
        images=np.repeat(image[None], len(PARAMS), 0), transforms=np.float32(rows),
        output_shape=[H, W], fill_value=0.0, interpolation="BILINEAR",
        fill_mode="CONSTANT").numpy()
    np.testing.assert_allclose(A.augment(image, PARAMS), ref, atol=2e-5)


def test_augment_batch_one_row_per_image_and_uint8(image):
    batch = np.stack([image, image[::-1]])
    out = A.augment(batch, PARAMS[1:3])
    np.testing.assert_allclose(out[1], A.augment(image[::-1], PARAMS[2]), atol=1e-5)
    u8 = (image * 255).round().astype(np.uint8)
    np.testing.assert_allclose(A.augment(u8, PARAMS[1]), A.augment(u8 / 255.0, PARAMS[1]),
                               atol=1e-5)


@pytest.mark.parametrize("params, word", [
    (np.zeros((3, 2)), "`params`"),
    (np.zeros((0, 3)), "`params`"),
    (np.zeros((2, 3, 1)), "`params`"),
])
def test_augment_bad_params(image, params, word):
    with pytest.raises(ValueError, match=word):
        A.augment(image, params)


def test_augment_bad_batch_and_images(image):
    with pytest.raises(ValueError, match="one row per image"):
        A.augment(np.stack([image] * 3), PARAMS[:2])
    with pytest.raises(ValueError, match="`images`"):
        A.augment(image * 3.0, PARAMS)


def test_inverse_augmentation_undoes_warp_on_a_linear_ramp():
    # bilinear interpolation is exact on a linear function, so warp then un-warp gives the ramp
    # back wherever both warps read inside the image
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ramp = 0.3 * xx + 0.7 * yy
    p = PARAMS[1:3]
    there = A.warp_maps(ramp, p)
    back = A.warp_maps(there, A.invert_augmentations(p))
    inside = A.warp_maps(A.warp_maps(np.ones((H, W)), p), A.invert_augmentations(p)) > 1 - 1e-6
    assert inside.sum() > 0.3 * H * W
    np.testing.assert_allclose(back[inside], np.broadcast_to(ramp, back.shape)[inside], atol=1e-3)
