r"""Checker for the exercise of ``notebooks/11_perception_visualization.ipynb``.

:func:`check_class_consistency` checks ``consistency(scores, scores_reconstructed, labels)``: the
fraction of images whose reconstruction the classifier assigns to the same class as the original,

.. math::
    \frac1N \sum_n \big[\arg\max_c y_c(\hat x_n) = \arg\max_c y_c(x_n)\big].

The labels are passed too, because the point of the exercise is that consistency does **not** use
them: a PV must reproduce what the network perceived, its mistakes included. The reference is
:func:`cvkit.explain.class_consistency`.
"""
from __future__ import annotations

import numpy as np

from . import ExerciseError, call_student, check_mistakes, check_scalar

__all__ = ["check_class_consistency", "consistency_cases"]


def consistency_cases():
    """The cases: ``(scores, scores_reconstructed, labels, description)``.

    Every case has more images than classes (an arg-max over the wrong axis gives another
    answer), images the classifier gets wrong whose reconstruction keeps the wrong class (the
    accuracy differs from the consistency), and scores that are not probabilities in the second.

    Examples
    --------
    >>> [(s.shape, what) for s, _, _, what in consistency_cases()]   # doctest: +NORMALIZE_WHITESPACE
    [((6, 3), 'six images, two misclassified, one reconstruction changes class'),
     ((9, 4), 'logits of nine images, three misclassified'),
     ((5, 2), 'every reconstruction keeps its class')]
    """
    rng = np.random.default_rng(11)

    def scores(classes, n_classes, scale=1.0):
        s = rng.random((len(classes), n_classes))
        s[np.arange(len(classes)), classes] += 1.5
        return scale * s

    cases = []
    for pred, pred_hat, labels, n_classes, scale, what in (
            ([0, 1, 2, 2, 0, 1], [0, 1, 2, 2, 1, 1], [0, 1, 2, 0, 0, 2], 3, 1.0,
             "six images, two misclassified, one reconstruction changes class"),
            ([3, 0, 1, 2, 3, 3, 0, 1, 2], [3, 0, 1, 1, 3, 0, 0, 1, 2], [3, 1, 1, 2, 3, 2, 0, 0, 2],
             4, -4.0, "logits of nine images, three misclassified"),
            ([1, 0, 1, 1, 0], [1, 0, 1, 1, 0], [1, 0, 0, 1, 1], 2, 1.0,
             "every reconstruction keeps its class")):
        s, t = scores(pred, n_classes), scores(pred_hat, n_classes)
        if scale < 0:       # logits: negative and of another scale, same arg-max
            s, t = 4.0 * s - 9.0, 4.0 * t - 9.0
        cases.append((s, t, np.asarray(labels), what))
    return cases


def _mistakes(s, t, y):
    return [
        ("you compared the reconstruction's class with the TRUE LABEL: that is the accuracy on "
         "the reconstructions. Consistency compares it with the class the classifier gives the "
         "ORIGINAL (its mistakes included); do not use the labels.",
         lambda: np.mean(t.argmax(1) == y)),
        ("you compared the original's class with the true label: that is the classifier's "
         "accuracy. Compare the classes of the original and of the reconstruction.",
         lambda: np.mean(s.argmax(1) == y)),
        ("the arg-max ran over axis 0 (the images); the classes are on axis 1 (argmax(axis=1)).",
         lambda: np.mean(s.argmax(0) == t.argmax(0))),
        ("you returned the NUMBER of consistent images; divide by the number of images to get "
         "the fraction.", lambda: np.sum(s.argmax(1) == t.argmax(1))),
        ("you counted the images whose class CHANGES; consistency is the fraction that keeps it.",
         lambda: np.mean(s.argmax(1) != t.argmax(1))),
    ]


def check_class_consistency(consistency_fn):
    r"""Check ``consistency_fn(scores, scores_reconstructed, labels) -> float``.

    Parameters
    ----------
    consistency_fn : callable
        The student's function; ``scores`` and ``scores_reconstructed`` are (N, classes) arrays
        of class scores (probabilities or logits) of the originals and of their
        reconstructions, ``labels`` (N,) the true classes.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that names the
        mistake (the labels used, the wrong axis, a count instead of a fraction).

    Examples
    --------
    >>> def consistency(scores, scores_reconstructed, labels):
    ...     return np.mean(scores.argmax(1) == scores_reconstructed.argmax(1))
    >>> check_class_consistency(consistency)   # doctest: +ELLIPSIS
    Correct: consistency on six images, two misclassified, one reconstruction changes class
    ...
    True
    >>> def accuracy(scores, scores_reconstructed, labels):
    ...     return np.mean(scores_reconstructed.argmax(1) == labels)
    >>> check_class_consistency(accuracy)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: consistency on six images, ...: you compared the reconstruction's class with the TRUE LABEL...
    """
    if not callable(consistency_fn):
        raise ExerciseError(f"pass your function itself (consistency, not consistency(...)); got "
                            f"{type(consistency_fn).__name__}.")
    for s, t, y, what in consistency_cases():
        name = f"consistency on {what}"
        got = call_student(consistency_fn, name, s.copy(), t.copy(), y.copy())
        expected = float(np.mean(s.argmax(1) == t.argmax(1)))
        if got is not None and np.size(got) == 1:
            check_mistakes(name, np.asarray(got, dtype=float).reshape(()), expected,
                           _mistakes(s, t, y))
        check_scalar(name, got, expected,
                     hint="the mean over the images of [argmax(scores) == argmax(scores_rec)].")
    print("Class consistency is right.")
    return True
