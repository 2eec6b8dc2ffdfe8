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


# --- every checker: three or more plausible wrong answers named, two other right answers pass ---

def _iou(a, b, side=1, area=1, clip="sides", subtract=True):
    iw = min(a[2], b[2]) - max(a[0], b[0]) + side
    ih = min(a[3], b[3]) - max(a[1], b[1]) + side
    inter = {"sides": max(iw, 0) * max(ih, 0), "product": max(iw * ih, 0), None: iw * ih}[clip]
    size = lambda x: (x[2] - x[0] + area) * (x[3] - x[1] + area)  # noqa: E731
    union = size(a) + size(b) - (inter if subtract else 0)
    return inter / union if union else 0.0


@pytest.mark.parametrize("kwargs, named", [
    (dict(clip=None), "not clipped"),                  # -1/3 and 2.25 for separated boxes
    (dict(clip="product"), "clipping the product"),
    (dict(side=0), "you added 1 to the box sides only"),
    (dict(area=0), "overlap's sides only"),
    (dict(subtract=False), "overlap twice"),
])
def test_inclusive_iou_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        check_inclusive_iou(lambda a, b: _iou(a, b, **kwargs))


def test_inclusive_iou_accepts_other_right_answers():
    def by_pixels(a, b):   # draw both boxes on a grid and count pixels
        grid = np.zeros((2, 25, 25), bool)
        for k, (x0, y0, x1, y1) in enumerate((a, b)):
            grid[k, y0:y1 + 1, x0:x1 + 1] = True
        return (grid[0] & grid[1]).sum() / (grid[0] | grid[1]).sum()

    def vectorised(a, b):   # NumPy on the arrays, np.clip for the overlap
        lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
        inter = np.prod(np.clip(hi - lo + 1, 0, None))
        size = lambda x: np.prod(x[2:] - x[:2] + 1)  # noqa: E731
        return inter / (size(a) + size(b) - inter)

    assert check_inclusive_iou(by_pixels) and check_inclusive_iou(vectorised)


def _acc(cams, gt_boxes, tau, iou_threshold, strict=False, fixed=None, average=False, mean=False):
    ious = []
    for c, g in zip(cams, gt_boxes):
        per_box = box_iou(boxes_from_cam(c, tau), g)
        ious.append(per_box.mean() if mean else per_box.max())
    if average:
        return 100.0 * np.mean(ious)
    d = iou_threshold if fixed is None else fixed
    return 100.0 * np.mean([i > d if strict else i >= d for i in ious])


@pytest.mark.parametrize("kwargs, named", [
    (dict(strict=True), "exactly at the threshold"),
    (dict(fixed=0.5), "not a fixed 0.5"),
    (dict(average=True), "averaged the IoUs"),
    (dict(mean=True), "not their mean"),
])
def test_box_acc_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        check_box_acc_at_threshold(lambda *case: _acc(*case, **kwargs))


def test_box_acc_accepts_other_right_answers():
    def loops(cams, gt_boxes, tau, iou_threshold):   # the student's own inclusive IoU, a counter
        hits = 0
        for cam, boxes in zip(cams, gt_boxes):
            box = boxes_from_cam(cam, tau)
            if any(good_iou(box, g) >= iou_threshold for g in boxes):
                hits += 1
        return 100 * hits / len(cams)

    from cvkit.wsol import max_box_acc

    def library(cams, gt_boxes, tau, iou_threshold):
        return max_box_acc(cams, gt_boxes, iou_thresholds=(iou_threshold,),
                           thresholds=[tau]).accuracy[0, 0]

    assert check_box_acc_at_threshold(loops) and check_box_acc_at_threshold(library)
