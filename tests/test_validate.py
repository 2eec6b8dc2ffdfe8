"""The shared validation layer: every helper refuses what it must, naming the argument."""
import numpy as np
import pytest

from cvkit._validate import (as_array, as_images, as_maps, check_bool, check_choice, check_finite,
                             check_float, check_int, check_seed, check_size, describe)


@pytest.mark.parametrize("call,exc,words", [
    # sizes: strings are not read digit by digit, floats are not truncated, bools are not ints
    (lambda: check_size("64", "image_size"), TypeError, ["`image_size`", "'64'"]),
    (lambda: check_size(64.0, "image_size"), TypeError, ["`image_size`", "not truncated"]),
    (lambda: check_size((64, 48.5), "image_size"), TypeError,
     ["`image_size`", "48.5", "not truncated"]),
    (lambda: check_size((True, 3), "image_size"), TypeError, ["`image_size`", "bool True"]),
    (lambda: check_size(("6", "4"), "image_size"), TypeError, ["`image_size`", "str '6'"]),
    (lambda: check_size((1, 2, 3), "image_size"), ValueError, ["`image_size`", "3 values"]),
    (lambda: check_size(0, "image_size"), ValueError, ["`image_size`", ">= 1"]),
    (lambda: check_size(5, "image_size", maximum=4), ValueError, ["`image_size`", "<= 4"]),
    (lambda: check_size(None, "image_size"), TypeError, ["`image_size`", "None"]),
    # booleans: 'no' / 'yes' are strings, not switches
    (lambda: check_bool("no", "whiten"), TypeError, ["`whiten`", "'no'"]),
    (lambda: check_bool("yes", "relu"), TypeError, ["`relu`", "'yes'"]),
    (lambda: check_bool(1, "relu"), TypeError, ["`relu`", "int 1"]),
    # seeds: cvkit's own message, not NumPy's
    (lambda: check_seed(-1), ValueError, ["`seed`", ">= 0", "-1"]),
    (lambda: check_seed(1.5), TypeError, ["`seed`", "integer"]),
    (lambda: check_seed("0"), TypeError, ["`seed`", "integer"]),
    (lambda: check_seed(True), TypeError, ["`seed`", "integer"]),
    (lambda: check_seed(2 ** 70), ValueError, ["`seed`", "<="]),
    (lambda: check_seed(None, allow_none=False), TypeError, ["`seed`"]),
    # numbers: bool / str / None refused with the argument's name
    (lambda: check_int(np.bool_(True), "k"), TypeError, ["`k`", "integer"]),
    (lambda: check_int("3", "k"), TypeError, ["`k`", "str '3'"]),
    (lambda: check_float("0.5", "sigma"), TypeError, ["`sigma`", "real number"]),
    (lambda: check_float(True, "sigma"), TypeError, ["`sigma`", "real number"]),
    (lambda: check_float(np.bool_(False), "sigma"), TypeError, ["`sigma`"]),
    (lambda: check_float(np.inf, "sigma"), ValueError, ["`sigma`", "finite"]),
    (lambda: check_float(2.0, "p", maximum=1.0), ValueError, ["`p`", "<= 1.0"]),
    # choices: a bool is not the choice 1, an array is not compared element-wise
    (lambda: check_choice(True, "connectivity", (1, 2)), TypeError, ["`connectivity`"]),
    (lambda: check_choice(np.array([1, 2]), "mode", ("a", "b")), ValueError, ["`mode`", "array"]),
    (lambda: check_choice("cubic", "method", ("nearest",)), ValueError, ["`method`", "'cubic'"]),
    # arrays: strings, objects and complex numbers are not numbers
    (lambda: as_array(["1", "2"], "x"), TypeError, ["`x`", "strings are not read as numbers"]),
    (lambda: as_array(np.array([1, None], object), "x"), TypeError, ["`x`", "numeric"]),
    (lambda: as_array([1j], "x"), TypeError, ["`x`", "real"]),
    (lambda: as_array([[1, 2], [3]], "x"), TypeError, ["`x`", "array-like"]),
    (lambda: as_array([1e30], "x", kind="integer"), ValueError, ["`x`", "int64"]),
    (lambda: as_array([0.5], "x", kind="integer"), ValueError, ["`x`", "integers"]),
    (lambda: as_array([2], "x", kind="bool"), ValueError, ["`x`", "0 / 1"]),
    (lambda: as_array(np.zeros((2, 2)), "x", ndim=3), ValueError, ["`x`", "3 dimensions"]),
    (lambda: as_array([np.nan], "x"), ValueError, ["`x`", "NaN"]),
    (lambda: as_array([], "x", empty_ok=False), ValueError, ["`x`", "empty"]),
    (lambda: as_images(np.array(["a"] * 12).reshape(2, 2, 3)), TypeError, ["`images`"]),
    (lambda: as_images(np.zeros((2, 2, 3), np.complex64)), TypeError, ["`images`"]),
    (lambda: as_maps(np.array([["a"]])), TypeError, ["`maps`", "numeric"]),
    (lambda: check_finite([np.inf], "maps"), ValueError, ["`maps`"]),
])
def test_helpers_refuse_naming_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_helpers_accept_what_they_should():
    assert check_size(np.array(5), "s") == (5, 5)                      # a 0-d array
    assert check_size(np.array([3, 4], np.int32), "s") == (3, 4)
    assert check_size(np.int64(7), "s") == (7, 7)
    assert check_seed(np.int64(3)) == 3 and check_seed(None) is None
    assert check_bool(np.bool_(False), "b") is False
    assert check_choice(2, "connectivity", (1, 2)) == 2
    assert check_choice(False, "flag", (True, False)) is False        # bool choices stay allowed
    assert as_array([2.0, 3.0], "x", kind="integer").tolist() == [2, 3]
    assert as_array([True, False], "m", kind="bool").dtype == bool
    assert describe("64") == "str '64'"
