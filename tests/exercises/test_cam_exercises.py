import numpy as np
import pytest
import tensorflow as tf

from cvkit.exercises import ExerciseError
from cvkit.exercises import cam as ex


def test_checkers_accept_the_reference():
    assert ex.check_cam_by_hand(lambda f, w, c: f @ w[:, c])
    assert ex.check_alpha_weights(lambda g: g.mean(axis=(1, 2)))
    assert ex.check_bilinear(lambda L, H, W: tf.compat.v1.image.resize(
        L[None, ..., None], (H, W), align_corners=True).numpy()[0, ..., 0])
    assert ex.check_rise_average(lambda m, s, p: np.tensordot(s, m, 1) / (len(s) * p))


def test_checkers_explain_the_usual_mistakes():
    with pytest.raises(ExerciseError, match="averaged over the channels"):
        ex.check_cam_by_hand(lambda f, w, c: f @ w[:, c] / f.shape[-1])
    with pytest.raises(ExerciseError, match="divide by Z"):
        ex.check_alpha_weights(lambda g: g.sum(axis=(1, 2)))
    with pytest.raises(ExerciseError, match="spatial"):
        ex.check_alpha_weights(lambda g: g.mean(axis=-1))
    with pytest.raises(ExerciseError, match="half-pixel"):
        ex.check_bilinear(lambda L, H, W: tf.image.resize(L[None, ..., None], (H, W)).numpy()[0, ..., 0])
    with pytest.raises(ExerciseError, match="N \\* p"):
        ex.check_rise_average(lambda m, s, p: np.tensordot(s, m, 1) / len(s))
    with pytest.raises(ExerciseError, match="None"):
        ex.check_alpha_weights(lambda g: None)
    with pytest.raises(ExerciseError, match="raised"):
        ex.check_rise_average(lambda m, s, p: 1 / 0)
