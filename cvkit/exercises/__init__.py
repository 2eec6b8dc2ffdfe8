"""Exercise tooling: checkers that tell a student what is wrong, and the student copies.

Notebook exercise cells carry the cell tag ``exercise``; the solution sits between the lines
``# BEGIN SOLUTION`` and ``# END SOLUTION``. :func:`write_student_copies` (``python -m cvkit
exercises``) writes each notebook to ``notebooks/exercises/`` with every solution replaced by a stub
that raises ``NotImplementedError`` and with the outputs of exercise cells cleared; a copy that a
student has edited is kept unless ``force=True`` (:mod:`cvkit.exercises.copies`).

Checkers live in one module per topic (``cvkit.exercises.datasets``, ...). Each one calls the
student's function or takes the student's value, compares it with the reference and either prints a
short confirmation or raises :class:`ExerciseError` whose message says what is wrong: the type, the
shape, the known mistake it matches (:func:`check_mistakes`), or the first wrong value and where it
is, with what the wrong values have in common (a constant factor, the border, a flip).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validate import to_numpy
from .copies import (BEGIN, END, STUB, copy_hash, edited_copies, strip_solutions,
                     write_student_copies)

__all__ = [
    "call_student",
    "ExerciseError",
    "check_array",
    "check_scalar",
    "check_mistakes",
    "strip_solutions",
    "write_student_copies",
    "edited_copies",
    "copy_hash",
    "BEGIN",
    "END",
    "STUB",
]


class ExerciseError(AssertionError):
    """Raised by a checker when a student's answer is wrong; the message says why.

    A subclass of ``AssertionError``, so that a failed check reads as a failed assertion in a
    notebook and in pytest.

    Examples
    --------
    >>> issubclass(ExerciseError, AssertionError)
    True
    >>> raise ExerciseError("iou: got None. Did you forget to `return` the result?")
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: iou: got None. Did you forget to `return` the result?
    """


def check_array(name, got, expected, atol=1e-5, rtol=1e-4, hint=None):
    """Compare a student's array with the reference.

    Raises :class:`ExerciseError` naming the problem (not an array, wrong shape, NaN, first wrong
    value with its index and the number of wrong entries, and what the wrong values have in common:
    a constant factor, a flipped sign, only the border of a map, a flip or a transpose); prints a
    confirmation otherwise.

    Parameters
    ----------
    name : str
        What is checked, at the start of every message.
    got : array_like or tensor
        The student's answer.
    expected : array_like
        The reference.
    atol, rtol : float
        Tolerances of ``np.isclose``.
    hint : str, optional
        Appended to the message of a wrong shape or value.

    Returns
    -------
    bool
        ``True`` when the answer is right.

    Examples
    --------
    >>> check_array("column means", [1.0, 2.0], [1.0, 2.0])
    Correct: column means
    True
    >>> check_array("column means", [1.0, 2.5], [1.0, 2.0], hint="average over axis 0")
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: column means: wrong value at index (1,): expected 2, got 2.5 (1 of 2 entries wrong). Hint: average over axis 0
    >>> check_array("column means", [1.0], [1.0, 2.0])
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: column means: wrong shape: expected (2,), got (1,).
    >>> check_array("column means", [2.0, 4.0], [1.0, 2.0])
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: column means: wrong value at index (0,): expected 1, got 2 (2 of 2 entries wrong). Off by a factor 2: every value is 2 times the expected one.
    """
    if got is None:
        raise ExerciseError(f"{name}: got None. Did you forget to `return` the result?")
    try:
        got_arr = np.asarray(to_numpy(got), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{name}: expected a numeric array, got {type(got).__name__}.") from exc
    exp_arr = np.asarray(expected, dtype=np.float64)
    tail = f" Hint: {hint}" if hint else ""
    if got_arr.shape != exp_arr.shape:
        transposed = got_arr.ndim == 2 and got_arr.shape == exp_arr.T.shape and np.allclose(
            got_arr, exp_arr.T, atol=atol, rtol=rtol)
        raise ExerciseError(f"{name}: wrong shape: expected {exp_arr.shape}, got {got_arr.shape}."
                            + (" Your result is the transpose of the expected one (rows and "
                               "columns swapped)." if transposed else "") + tail)
    if np.isnan(got_arr).any() and not np.isnan(exp_arr).any():
        raise ExerciseError(f"{name}: your result contains NaN (a division by zero?).{tail}")
    bad = ~np.isclose(got_arr, exp_arr, atol=atol, rtol=rtol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {idx}" if got_arr.ndim else ""
        pattern = _pattern(got_arr, exp_arr, bad, atol, rtol)
        raise ExerciseError(
            f"{name}: wrong value{where}: expected {exp_arr[idx] if exp_arr.ndim else exp_arr:.6g}, "
            f"got {got_arr[idx] if got_arr.ndim else got_arr:.6g} ({int(bad.sum())} of {bad.size} "
            "entries wrong)." + (f" {pattern}" if pattern else "") + tail)
    print(f"Correct: {name}")
    return True


def _clean_fraction(r):
    """``r`` as a simple fraction ('2', '1/4', '3/2', '1/100'), or None when it is not one."""
    if not np.isfinite(r) or r == 0:
        return None
    f = Fraction(float(r)).limit_denominator(1000)
    if not np.isclose(float(f), r, rtol=1e-6, atol=0):
        return None
    n, d = abs(f.numerator), f.denominator
    if n == 1 or d == 1 or (n <= 12 and d <= 12):
        return str(f)
    return None


def _factor(got, exp, atol, rtol):
    """The constant ``got / exp`` (None when the ratio varies or is 1)."""
    nz = np.abs(exp) > 1e-12
    if not nz.any():
        return None
    r = float(np.median(got[nz] / exp[nz]))
    if np.isclose(r, 1.0) or not np.allclose(got, r * exp, atol=atol, rtol=max(rtol, 1e-6)):
        return None
    return r


def _border(bad):
    """Width k of the frame that the wrong entries of a 2-D (or batched) array form, or None."""
    mask = bad.reshape(-1, *bad.shape[-2:]).any(axis=0)
    h, w = mask.shape
    for k in (1, 2, 3):
        if h <= 2 * k or w <= 2 * k:
            break
        frame = np.ones_like(mask)
        frame[k:-k, k:-k] = False
        if (mask == frame).all():
            return k
    return None


def _pattern(got, exp, bad, atol, rtol):
    """A sentence saying what the wrong values have in common, or ''."""
    r = _factor(got, exp, atol, rtol)
    frac = _clean_fraction(r) if r is not None else None
    if r is not None and np.isclose(r, -1.0):
        return "Every value has the wrong sign (a factor -1)."
    if r is not None and got.size > 1:
        text = frac if frac is not None else f"{r:.4g}"
        return f"Off by a factor {text}: every value is {text} times the expected one."
    if frac is not None and (frac.startswith("1/") or "/" not in frac):   # a scalar: n or 1/n
        return f"Off by a factor {frac}: your value is {frac} times the expected one."
    if got.ndim >= 2 and min(got.shape[-2:]) > 2:
        k = _border(bad)
        if k is not None:
            return (f"Only the border is wrong (the outer {k} row(s) and column(s)): check how "
                    "you pad the edges.")
        for axes, what in (((-2,), "upside down"), ((-1,), "left-right"),
                           ((-2, -1), "along both axes")):
            if np.allclose(got, np.flip(exp, axis=axes), atol=atol, rtol=rtol):
                return f"Your result is the expected one flipped {what}."
        if got.shape[-1] == got.shape[-2] and np.allclose(got, np.swapaxes(exp, -1, -2),
                                                           atol=atol, rtol=rtol):
            return "Your result is the transpose of the expected one (rows and columns swapped)."
    return ""


def check_mistakes(name, got, expected, mistakes, atol=1e-5, rtol=1e-4):
    """Name a known mistake: raise :class:`ExerciseError` when ``got`` differs from ``expected``
    but equals the answer that one of ``mistakes`` gives.

    Parameters
    ----------
    name : str
        What is checked, at the start of the message.
    got : array_like, tensor or None
        The student's answer (``None`` and non-numeric answers are left to :func:`check_array`).
    expected : array_like
        The reference.
    mistakes : iterable of (str, value)
        The explanation of each known mistake and the answer it gives (an array, or a function of
        no argument that computes it: evaluated only when needed; one that raises is skipped).
    atol, rtol : float
        Tolerances of ``np.allclose``.

    Returns
    -------
    None
        When ``got`` is right or matches no known mistake.

    Examples
    --------
    >>> mistakes = [("you summed; average instead.", [3.0, 7.0]),
    ...             ("you took the maximum.", lambda: [2.0, 4.0])]
    >>> check_mistakes("means", [1.5, 3.5], [1.5, 3.5], mistakes) is None
    True
    >>> check_mistakes("means", [3.0, 7.0], [1.5, 3.5], mistakes)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: means: you summed; average instead.
    """
    if got is None:
        return None
    try:
        got_arr = np.asarray(to_numpy(got), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape == exp_arr.shape and np.allclose(got_arr, exp_arr, atol=atol, rtol=rtol):
        return None
    for message, value in mistakes:
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(value() if callable(value) else value, dtype=np.float64)
        except Exception:  # a mistake that cannot be computed for this case does not apply
            continue
        if (value.shape == got_arr.shape and np.allclose(got_arr, value, atol=atol, rtol=rtol)
                and not (value.shape == exp_arr.shape
                         and np.allclose(value, exp_arr, atol=atol, rtol=rtol))):
            raise ExerciseError(f"{name}: {message}")
    return None


def call_student(fn, what, *args, hint=None):
    """Call the student's ``fn(*args)``; an error it raises becomes an :class:`ExerciseError` that
    names ``what`` (the call and the case), with ``hint`` appended, except ``NotImplementedError``
    (the untouched stub).

    Examples
    --------
    >>> call_student(lambda a, b: a + b, "add(1, 2)", 1, 2)
    3
    >>> call_student(lambda a: a[3], "first([1])", [1])
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: first([1]) raised IndexError: list index out of range
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # the student's bug: report it with the case that caused it
        raise ExerciseError(f"{what} raised {type(exc).__name__}: {exc}"
                            + (f" Hint: {hint}" if hint else "")) from exc


def check_scalar(name, got, expected, atol=1e-5, rtol=1e-4, hint=None):
    """Compare a student's scalar with the reference (see :func:`check_array`).

    ``got`` may be a Python number, a NumPy scalar, a one-element array or a tensor; anything with
    more than one element is rejected.

    Returns
    -------
    bool
        ``True`` when the answer is right.

    Examples
    --------
    >>> check_scalar("loss", 0.5, 0.5)
    Correct: loss
    True
    >>> check_scalar("loss", [0.5, 0.5], 0.5)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: loss: expected a single number, got an array of shape (2,).
    """
    if got is None:
        raise ExerciseError(f"{name}: got None. Did you forget to `return` the result?")
    arr = np.asarray(to_numpy(got))
    if arr.size != 1:
        raise ExerciseError(f"{name}: expected a single number, got an array of shape {arr.shape}.")
    return check_array(name, arr.reshape(()), np.asarray(expected).reshape(()), atol, rtol, hint)
