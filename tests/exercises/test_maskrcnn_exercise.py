"""The COCO AP checker of notebook 10: two valid answers pass, the usual mistakes are named."""
import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.maskrcnn import check_coco_ap, pr_curve


def _vectorised(recall, precision):
    env = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.where(idx < len(recall), env[np.minimum(idx, len(recall) - 1)], 0).mean())


def _loop(recall, precision):
    total = 0.0
    for r in np.linspace(0, 1, 101):
        reached = precision[recall >= r]
        total += reached.max() if reached.size else 0.0
    return total / 101


def _no_envelope(recall, precision):
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.where(idx < len(recall), precision[np.minimum(idx, len(recall) - 1)], 0).mean())


def _voc11(recall, precision):
    return float(np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0
                          for r in np.linspace(0, 1, 11)]))


def _area(recall, precision):
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


@pytest.mark.parametrize("answer", [_vectorised, _loop])
def test_valid_answers_pass(answer, capsys):
    assert check_coco_ap(answer)
    assert capsys.readouterr().out.count("Correct") == 5


@pytest.mark.parametrize("answer, named", [
    (_no_envelope, "without its envelope"),
    (_voc11, "11-point AP of PASCAL VOC"),
    (_area, "area under the raw curve"),
    (lambda r, p: float(np.mean(p)), "mean of the precisions"),
])
def test_usual_mistakes_are_named(answer, named):
    with pytest.raises(ExerciseError, match=named):
        check_coco_ap(answer)


def test_other_wrong_answers_and_bad_input():
    with pytest.raises(ExerciseError, match="coco_ap"):
        check_coco_ap(lambda r, p: 0.5)
    with pytest.raises(ExerciseError, match="return"):
        check_coco_ap(lambda r, p: None)
    with pytest.raises(ExerciseError, match="function"):
        check_coco_ap(0.5)


def test_pr_curve_hand_worked():
    rc, pr = pr_curve([0, 1, 1, 0], 4)
    np.testing.assert_allclose(rc, [0, 0.25, 0.5, 0.5])
    np.testing.assert_allclose(pr, [0, 0.5, 2 / 3, 0.5])
