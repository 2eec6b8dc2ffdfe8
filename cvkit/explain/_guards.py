"""Guards around a model's run: its class scores must be finite, and an error TensorFlow raises
while the model runs on the images becomes a message that names the images and the cause.

Every method of :mod:`cvkit.explain` calls the model through :mod:`cvkit.explain._core`, which uses
these two functions, so a model that outputs NaN never yields NaN (or silently all-zero) maps.
"""
from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["check_scores", "model_errors"]


def check_scores(scores, what="class scores", images="images"):
    """Raise a ValueError naming ``model`` when its class scores hold NaN or infinity.

    A model that outputs NaN (diverged weights, a layer that divides by zero) would otherwise give
    NaN maps, or all-zero maps after a normalisation that treats NaN as "no signal": the error says
    that the model's output, not an argument the caller passed, is the cause.

    Parameters
    ----------
    scores : array-like, (N, ...)
        The model's output for N inputs (logits, probabilities or a weighted sum of them).
    what : str
        What the scores are, for the message (e.g. ``"class scores of the masked copies"``).
    images : str
        The images argument's name, for the message.

    Examples
    --------
    >>> check_scores(np.array([[0.5, 1.0]]))
    >>> check_scores(np.array([[0.5, 1.0], [np.nan, 0.0]]))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `model` returns NaN or infinite class scores for `images` at indices [1] (of 2): ...
    """
    s = np.asarray(scores)
    s = s.reshape(len(s), -1) if s.ndim else s.reshape(1, 1)
    bad = np.flatnonzero(~np.all(np.isfinite(s), axis=1))
    if bad.size:
        more = "..." if bad.size > 5 else ""
        raise ValueError(f"`model` returns NaN or infinite {what} for `{images}` at "
                         f"indices {bad[:5].tolist()}{more} (of {len(s)}): the model's output, not the "
                         "images, is the cause (diverged weights or a layer that overflows?). "
                         "Check model.predict on these images; no map can be computed from them.")


@contextlib.contextmanager
def model_errors(req):
    """Turn an error TensorFlow raises while the model runs on the request's images into a
    ValueError that names the images, their shape and the likely cause.

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> from cvkit.explain._core import prepare
    >>> req = prepare(small_cnn(2, (None, None, 3), widths=(4, 4, 4, 4)), np.zeros((1, 2, 2, 3)))
    >>> with model_errors(req):                          # doctest: +ELLIPSIS
    ...     _ = req.probe.predict(req.x, req.class_index)
    Traceback (most recent call last):
    ...
    ValueError: `images` of shape (1, 2, 2, 3): `model` cannot run on them ...
    """
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as exc:
        lines = [ln.strip() for ln in str(exc.message).splitlines() if ln.strip()]
        raise ValueError(f"`{req.name}` of shape {req.x.shape}: `model` cannot run on them "
                         f"({type(exc).__name__}: {lines[-1][:160] if lines else ''}). Images "
                         "smaller than the model's total stride or pooling window do not pass "
                         "through it: resize them to the size the model was trained on.") from None
