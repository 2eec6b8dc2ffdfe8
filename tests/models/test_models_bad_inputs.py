"""Bad inputs of the model builders, losses and metrics (issue 17): flags given as strings, sizes
as strings or floats, uint8 images scaled twice, allocations sized by a typo. Every bad-input case
asserts the error type and that the message names the argument.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cvkit import models as M
from cvkit.models.backbones import check_image_shape
from cvkit.models.metrics import predicted_classes
from cvkit.preprocessing import backbone_preprocessing

B = np.array([[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.7]], np.float32)
P = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)


def test_uint8_is_not_scaled_by_255_twice():
    white_black = np.array([[[[255, 255, 255], [0, 0, 0]]]], np.uint8)
    as_float = white_black.astype(np.float32) / 255
    # before: 255 * 255 - the MobileNetV2 input was 509 instead of 1
    pre = backbone_preprocessing("mobilenetv2")
    np.testing.assert_allclose(np.asarray(pre(white_black)), np.asarray(pre(as_float)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(pre(tf.constant(white_black))), [[[[1, 1, 1], [-1, -1, -1]]]])
    caffe = backbone_preprocessing("resnet50")
    np.testing.assert_allclose(np.asarray(caffe(white_black)), np.asarray(caffe(as_float)),
                               atol=1e-3)
    for mode in ("tf", "caffe", "raw255"):
        layer = M.ImagePreprocess(mode)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(white_black)),
                                   keras.ops.convert_to_numpy(layer(as_float)), atol=1e-4)


def test_check_image_shape_reads_ints_only():
    assert check_image_shape([32, 48, 3]) == (32, 48, 3)
    assert check_image_shape((None, None, 1), allow_none=True) == (None, None, 1)
    assert check_image_shape((np.int64(8), 8, 3)) == (8, 8, 3)


def test_classification_loss_labels_in_range():
    assert float(M.classification_loss(np.array([0, 1]), P)) == pytest.approx(
        -(np.log(0.9) + np.log(0.8)) / 2, rel=1e-6)
    with pytest.raises(ValueError, match=r"`y_true` class ids must lie in \[0, 1\]"):
        M.classification_loss(np.array([0, 2]), P)


def test_box_losses_accept_integer_targets_as_floats():
    ints = np.array([[0, 0, 1, 1]], np.int32)
    got = float(M.l2_box_loss(ints, np.array([[0.0, 0.0, 0.5, 1.0]], np.float32))[0])
    assert got == pytest.approx(0.5 ** 2 / 4)   # x_max off by 0.5: 0.25 over the 4 numbers


BAD = [
    # (call, error type, the argument the message names)
    (lambda: M.small_cnn(2, "643"), TypeError, "input_shape"),
    (lambda: M.small_cnn(2, (64.5, 64, 3)), TypeError, "input_shape"),
    (lambda: M.small_cnn(2, (64, 64)), ValueError, "input_shape"),
    (lambda: M.small_cnn(2, (0, 64, 3)), ValueError, "input_shape"),
    (lambda: M.small_cnn(2, (16, 16, 3), batchnorm="no"), TypeError, "batchnorm"),
    (lambda: M.small_cnn("2", (16, 16, 3)), TypeError, "num_classes"),
    (lambda: M.small_cnn(2, (16, 16, 3), widths=(4, 4, 4.0, 4)), TypeError, "widths"),
    (lambda: M.backbone("mobilenetv2", (32, 32, 3), preprocess="no"), TypeError, "preprocess"),
    (lambda: M.backbone("mobilenetv2", (32, 32, 3), nested="no"), TypeError, "nested"),
    (lambda: M.backbone("mobilenetv2", (32, 32, 3), trainable="no"), TypeError, "trainable"),
    (lambda: M.backbone("mobilenetv2", "224"), TypeError, "input_shape"),
    (lambda: M.backbone("mobilenetv2", (32, 32, 3), alpha="1"), TypeError, "alpha"),
    (lambda: M.cam_classifier(3, input_shape=(32, 32, 3), dropout="0.1"), TypeError, "dropout"),
    (lambda: M.localizer(3, input_shape=(32, 32, 3), nested="yes"), TypeError, "nested"),
    (lambda: M.build_fcn(2, (32, 32, 3), backbone="tiny", train_backbone="no"), TypeError,
     "train_backbone"),
    (lambda: M.build_fcn(2, (32.0, 32, 3), backbone="tiny"), TypeError, "input_shape"),
    (lambda: M.tiny_backbone("64"), TypeError, "input_shape"),
    (lambda: M.mini_resnet((32, 32, 3), width="4"), TypeError, "width"),
    (lambda: M.bilinear_kernel(10 ** 9, 1), ValueError, "size"),
    (lambda: M.bilinear_kernel(64, 10 ** 6), ValueError, "channels"),
    (lambda: M.bilinear_kernel(4.0, 1), TypeError, "size"),
    (lambda: M.l2_box_loss(B, "boxes"), TypeError, "b_pred"),
    (lambda: M.l2_box_loss(None, B), TypeError, "b_true"),
    (lambda: M.l2_box_loss(B, B[:, :2]), ValueError, "b_pred"),
    (lambda: M.l2_box_loss(B, B[:1]), ValueError, "b_true"),
    (lambda: M.l2_box_loss(B.astype(bool), B), TypeError, "b_true"),
    (lambda: M.smooth_l1_box_loss(B, B, beta="0.1"), TypeError, "beta"),
    (lambda: M.smooth_l1_box_loss(B, B, beta=0.0), ValueError, "beta"),
    (lambda: M.giou_box_loss(B, np.array([["a"] * 4] * 2)), TypeError, "b_pred"),
    (lambda: M.box_loss(B, B, kind=["l2"]), ValueError, "kind"),
    (lambda: M.box_loss(B, 0.5), ValueError, "b_pred"),
    (lambda: M.keypoint_l2_loss(np.zeros((2, 3, 2)), np.zeros((2, 3, 3))), ValueError, "k_pred"),
    (lambda: M.classification_loss(np.array([0, 1, 1]), P), ValueError, "y_true"),
    (lambda: M.classification_loss(np.array(["a", "b"]), P), TypeError, "y_true"),
    (lambda: M.classification_loss(np.array([0, 1]), P[:, :, None]), ValueError, "y_prob"),
    (lambda: M.normalize_keypoints(np.array([[["a", "b"]]]), B[:1]), TypeError, "keypoints"),
    (lambda: M.localization_scores(np.array([0.5, 1]), B, P, B), ValueError, "labels"),
    (lambda: M.localization_scores(np.array(["0", "1"]), B, P, B), TypeError, "labels"),
    (lambda: predicted_classes(P > 0.5), TypeError, "probs"),
    (lambda: predicted_classes(np.array([["a", "b"]])), TypeError, "probs"),
    (lambda: M.BoxLoss(kind=3), TypeError, "kind"),
    (lambda: M.ImagePreprocess("no"), ValueError, "mode"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments_name_the_argument(case):
    call, error, arg = BAD[case]
    with pytest.raises(error) as err:
        call()
    assert f"`{arg}`" in str(err.value)


METRIC_BAD = [
    (lambda: M.ClassAccuracy().update_state(np.array([0, 1]), np.array([["a", "b"]] * 2)),
     TypeError, "y_pred"),
    (lambda: M.ClassAccuracy().update_state(None, P), TypeError, "y_true"),
    (lambda: M.BoxMeanIoU().update_state((np.array([0, 1]), B), (P, B[:, :3])), ValueError,
     "y_pred['localizer']"),
    (lambda: M.CorrectLocalization().update_state((np.array([0, 1]), B), (P > 0.5, B)), TypeError,
     "y_pred['classifier']"),
]


@pytest.mark.parametrize("case", range(len(METRIC_BAD)))
def test_metric_updates_name_the_argument(case):
    call, error, arg = METRIC_BAD[case]
    with pytest.raises(error) as err:
        call()
    assert f"`{arg}`" in str(err.value)


def test_metrics_still_count_right_answers():
    acc = M.ClassAccuracy()
    acc.update_state(np.array([0, 0]), P)
    iou = M.BoxMeanIoU()
    iou.update_state((np.array([0, 1]), B), (P, B))
    assert float(acc.result()) == 0.5 and float(iou.result()) == pytest.approx(1.0)
