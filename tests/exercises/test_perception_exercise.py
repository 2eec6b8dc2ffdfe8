"""The Perception Visualization exercise checker (cvkit.exercises.perception) accepts right answers
written in different ways, names the usual mistakes, and agrees with cvkit.explain."""
import numpy as np
import pytest

from cvkit.exercises import ExerciseError
from cvkit.exercises.perception import check_class_consistency, consistency_cases


def consistency_argmax(scores, scores_reconstructed, labels):
    return np.mean(np.argmax(scores, axis=-1) == np.argmax(scores_reconstructed, axis=-1))


def consistency_softmax_loop(scores, scores_reconstructed, labels):
    """Probabilities first (same arg-max), then a count over the images, as a Python float."""
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(scores), softmax(scores_reconstructed)
    same = sum(int(np.argmax(a) == np.argmax(b)) for a, b in zip(p, q))
    return same / len(p)


@pytest.mark.parametrize("right", [consistency_argmax, consistency_softmax_loop])
def test_checker_accepts_right_answers(right):
    assert check_class_consistency(right)


@pytest.mark.parametrize("wrong, match", [
    (lambda s, t, y: np.mean(t.argmax(1) == y), "TRUE LABEL"),
    (lambda s, t, y: np.mean(s.argmax(1) == y), "classifier's accuracy"),
    (lambda s, t, y: np.mean(s.argmax(0) == t.argmax(0)), "axis 0"),
    (lambda s, t, y: np.sum(s.argmax(1) == t.argmax(1)), "NUMBER of consistent images"),
    (lambda s, t, y: np.mean(s.argmax(1) != t.argmax(1)), "CHANGES"),
])
def test_checker_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        check_class_consistency(wrong)


def test_checker_other_failures():
    with pytest.raises(ExerciseError, match="forget to `return`"):
        check_class_consistency(lambda s, t, y: None)
    with pytest.raises(ExerciseError, match="single number"):
        check_class_consistency(lambda s, t, y: s.argmax(1) == t.argmax(1))
    with pytest.raises(ExerciseError, match="raised ValueError"):
        check_class_consistency(lambda s, t, y: float(np.mean(s == t[:2])))
    with pytest.raises(ExerciseError, match="pass your function itself"):
        check_class_consistency(0.5)
    with pytest.raises(NotImplementedError):
        check_class_consistency(lambda s, t, y: (_ for _ in ()).throw(NotImplementedError()))


def test_reference_agrees_with_the_library():
    from cvkit.explain import class_consistency

    for s, t, y, _ in consistency_cases():
        assert consistency_argmax(s, t, y) == pytest.approx(class_consistency(s, t))
