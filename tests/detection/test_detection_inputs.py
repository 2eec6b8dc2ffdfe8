"""Bad input across cvkit.detection (anchors, RPN, ROI, masks): each case raises the expected type
and names the argument; tables sized by an argument are bounded."""
import numpy as np
import pytest

import cvkit.detection as det
from cvkit.detection.anchors import MAX_ANCHORS
from cvkit.detection.roi import MAX_OUTPUT_SIZE

FMAP = np.random.default_rng(0).random((8, 8, 3))
ROI = np.array([[0.0, 0.0, 4.0, 4.0]])
ANCH = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30.0]])
GT = np.array([[0, 0, 10, 10.0]])

BAD = [
    (det.anchors, dict(feature_size="16", stride=16), "feature_size", TypeError),
    (det.anchors, dict(feature_size=(4.5, 4), stride=16), "feature_size", TypeError),
    (det.anchors, dict(feature_size=(10 ** 5, 10 ** 5), stride=16), "feature_size", ValueError),
    (det.anchors, dict(feature_size=4, stride="16"), "stride", TypeError),
    (det.anchors, dict(feature_size=4, stride=16, scales=["128"]), "scales", TypeError),
    (det.anchors, dict(feature_size=4, stride=16, ratios=[True]), "ratios", TypeError),
    (det.anchors, dict(feature_size=4, stride=16, ratios=[0.0]), "ratios", ValueError),
    (det.label_anchors, dict(anchor_boxes=ANCH, gt_boxes=[["a", 0, 1, 1]]), "gt_boxes", TypeError),
    (det.label_anchors, dict(anchor_boxes=ANCH, gt_boxes=GT, positive_iou="0.7"), "positive_iou",
     TypeError),
    (det.label_anchors, dict(anchor_boxes=ANCH, gt_boxes=GT, image_size=(40, 40),
                             ignore_cross_boundary="no"), "ignore_cross_boundary", TypeError),
    (det.sample_anchors, dict(labels=np.array([1, 0, 300])), "labels", ValueError),
    (det.sample_anchors, dict(labels=np.array([1, 0, 0.5])), "labels", ValueError),
    (det.sample_anchors, dict(labels=np.array(["1", "0"])), "labels", TypeError),
    (det.sample_anchors, dict(labels=np.array([1, 0]), seed=-1), "seed", ValueError),
    (det.sample_anchors, dict(labels=np.array([1, 0]), batch_size=True), "batch_size", TypeError),
    (det.smooth_l1, dict(x=["a"]), "x", TypeError),
    (det.smooth_l1, dict(x=[1.0], beta=0), "beta", ValueError),
    (det.rpn_loss, dict(objectness_logits=[0.0], deltas=np.zeros((1, 4)), labels=[2],
                        targets=np.zeros((1, 4))), "labels", ValueError),
    (det.rpn_loss, dict(objectness_logits=["a"], deltas=np.zeros((1, 4)), labels=[1],
                        targets=np.zeros((1, 4))), "objectness_logits", TypeError),
    (det.roi_pool, dict(feature_map=FMAP, rois=ROI, output_size=10 ** 6), "output_size",
     ValueError),
    (det.roi_pool, dict(feature_map=FMAP.astype(complex), rois=ROI), "feature_map", TypeError),
    (det.roi_align, dict(feature_map=FMAP, rois=ROI, sampling_ratio=10 ** 6), "sampling_ratio",
     ValueError),
    (det.roi_align, dict(feature_map=FMAP, rois=ROI, output_size=(7, 7.5)), "output_size",
     TypeError),
    (det.roi_align, dict(feature_map=FMAP, rois=[[0, 0, 4, 4j]]), "rois", TypeError),
    (det.roi_align_tf, dict(feature_map=FMAP, rois=ROI, sampling_ratio=0), "sampling_ratio",
     ValueError),
    (det.quantize_roi, dict(roi=[0, 0, 4, 4], spatial_scale="1"), "spatial_scale", TypeError),
    (det.mask_targets, dict(masks=np.array([[["a"]]]), boxes=[[0, 0, 1, 1]]), "masks", TypeError),
    (det.mask_targets, dict(masks=np.ones((1, 4, 4)), boxes=[[0, 0, 4, 4]], size=10 ** 6), "size",
     ValueError),
    (det.mask_targets, dict(masks=np.ones((1, 4, 4)) * np.nan, boxes=[[0, 0, 4, 4]]), "masks",
     ValueError),
]


@pytest.mark.parametrize("fn,kwargs,arg,exc", BAD, ids=[f"{b[0].__name__}-{b[2]}-{i}"
                                                        for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(fn, kwargs, arg, exc):
    with pytest.raises(exc, match=f"`{arg}"):
        fn(**kwargs)


def test_limits_are_stated_and_usual_sizes_pass():
    assert MAX_ANCHORS >= 50 * 38 * 9 and MAX_OUTPUT_SIZE >= 28
    assert det.anchors((50, 38), 16).shape == (50 * 38 * 9, 4)
    assert det.mask_targets(np.ones((1, 4, 4), bool), [[0, 0, 4, 4]], size=28).shape == (1, 28, 28)


def test_sample_anchors_keeps_labels_exactly():
    lab = np.array([1, 1, 0, 0, 0, -1])
    out = det.sample_anchors(lab, batch_size=4, positive_fraction=0.5, seed=0)
    assert out.dtype == np.int8 and (out == 1).sum() == 2 and (out == 0).sum() == 2
    assert out[5] == -1


def test_smooth_l1_closed_form_any_rank():
    np.testing.assert_allclose(det.smooth_l1([0.5, -2.0, 3.0]).numpy(), [0.125, 1.5, 2.5])
    np.testing.assert_allclose(det.smooth_l1(np.full((2, 3), 0.5)).numpy(), np.full((2, 3), 0.125))
    np.testing.assert_allclose(float(det.smooth_l1(2.0)), 1.5)
