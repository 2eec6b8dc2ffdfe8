"""The WSOL exercise checkers accept a right answer and explain a wrong one."""
import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.wsol import box_acc_cases, check_box_acc_at_threshold, check_inclusive_iou
from cvkit.wsol import box_iou, boxes_from_cam


def good_iou(a, b):
    iw = max(min(a[2], b[2]) - max(a[0], b[0]) + 1, 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]) + 1, 0)
    inter = iw * ih
    area = lambda x: (x[2] - x[0] + 1) * (x[3] - x[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def exclusive_iou(a, b):  # the usual mistake: no +1
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = iw * ih
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    u = area(a) + area(b) - inter
    return inter / u if u else 0.0


def good_box_acc(cams, gt_boxes, tau, iou_threshold):
    hits = [box_iou(boxes_from_cam(c, tau), g).max() >= iou_threshold for c, g in zip(cams, gt_boxes)]
    return 100.0 * np.mean(hits)


def test_iou_checker():
    assert check_inclusive_iou(good_iou)
    with pytest.raises(ExerciseError, match="x1 - x0 \\+ 1"):
        check_inclusive_iou(exclusive_iou)
    with pytest.raises(ExerciseError, match="your function itself"):
        check_inclusive_iou(0.5)


def test_box_acc_checker():
    assert check_box_acc_at_threshold(good_box_acc)

    def fraction(cams, gt_boxes, tau, iou_threshold):
        return good_box_acc(cams, gt_boxes, tau, iou_threshold) / 100

    with pytest.raises(ExerciseError, match="percentage"):
        check_box_acc_at_threshold(fraction)

    def first_box_only(cams, gt_boxes, tau, iou_threshold):
        hits = [box_iou(boxes_from_cam(c, tau), g[:1]).max() >= iou_threshold
                for c, g in zip(cams, gt_boxes)]
        return 100.0 * np.mean(hits)

    with pytest.raises(ExerciseError, match="several true boxes"):
        check_box_acc_at_threshold(first_box_only)

    def crash(cams, gt_boxes, tau, iou_threshold):
        raise KeyError("x")

    with pytest.raises(ExerciseError, match="raised KeyError"):
        check_box_acc_at_threshold(crash)
    assert len(box_acc_cases()) >= 8
