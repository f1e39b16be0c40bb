"""golden.checks: every message, every type rule, and golden's use of them."""

import doctest
import re

import numpy as np
import pytest

from golden import checks, dot, formats, lmul


# --- integer ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, kwargs, want", [
    (5, {}, 5),
    (-7, {}, -7),
    (np.int64(3), {"lo": 1}, 3),
    (np.uint8(255), {"lo": 0, "hi": 255}, 255),
    (1, {"lo": 1}, 1),
    (0, {"lo": 0}, 0),
    (64, {"lo": 1, "hi": 64}, 64),
    (-3, {"hi": -3}, -3),
    (2, {"lo": 2}, 2),
])
def test_integer_accepts_and_returns_python_ints(value, kwargs, want):
    got = checks.integer("x", value, **kwargs)
    assert got == want and type(got) is int


@pytest.mark.parametrize("value, message", [
    (True, r"^lanes must be an integer, not True$"),
    (False, r"^lanes must be an integer, not False$"),
    (np.True_, r"^lanes must be an integer, not np\.True_$"),
    (1.0, r"^lanes must be an integer, not 1\.0$"),
    ("4", r"^lanes must be an integer, not '4'$"),
    (None, r"^lanes must be an integer, not None$"),
    (np.float64(2.0), r"^lanes must be an integer, not np\.float64\(2\.0\)$"),
])
def test_integer_type_errors(value, message):
    with pytest.raises(TypeError, match=message):
        checks.integer("lanes", value, lo=1, hi=64)


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {"lo": 1}, r"^n must be a positive integer, not 0$"),
    (-5, {"lo": 1}, r"^n must be a positive integer, not -5$"),
    (-1, {"lo": 0}, r"^n must be a non-negative integer, not -1$"),
    (0, {"lo": 1, "hi": 64}, r"^n must be in 1\.\.64, not 0$"),
    (65, {"lo": 1, "hi": 64}, r"^n must be in 1\.\.64, not 65$"),
    (9, {"lo": 0, "hi": 7, "extra": " ulps for a 3-bit mantissa"},
     r"^n must be in 0\.\.7 ulps for a 3-bit mantissa, not 9$"),
    (33, {"hi": 32}, r"^n must be at most 32, not 33$"),
    (33, {"hi": 32, "extra": " (one DSP)"}, r"^n must be at most 32 \(one DSP\), not 33$"),
    (1, {"lo": 2}, r"^n must be at least 2, not 1$"),
    (-3, {"lo": -2}, r"^n must be at least -2, not -3$"),
    (1, {"lo": 2, "extra": " for a signed format"},
     r"^n must be at least 2 for a signed format, not 1$"),
    (np.int32(70), {"lo": 1, "hi": 64}, r"^n must be in 1\.\.64, not 70$"),
])
def test_integer_range_errors(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        checks.integer("n", value, **kwargs)


def test_integer_without_bounds_checks_the_type_only():
    assert checks.integer("es", -(10 ** 30)) == -(10 ** 30)
    with pytest.raises(TypeError, match=r"^es must be an integer, not 0\.5$"):
        checks.integer("es", 0.5)


# --- choice and boolean -----------------------------------------------------------------------

def test_choice():
    assert checks.choice("mul", "lmul", ("lmul", "exact")) == "lmul"
    assert checks.choice("mul", np.str_("exact"), ("lmul", "exact")) == "exact"
    with pytest.raises(ValueError, match=r"^mul must be one of 'lmul', 'exact', not 'approx'$"):
        checks.choice("mul", "approx", ("lmul", "exact"))
    with pytest.raises(ValueError, match=r"^acc must be one of 'fp32', not 1$"):
        checks.choice("acc", 1, ("fp32",))
    with pytest.raises(ValueError, match=r"^acc must be one of 'fp32', not \['fp32'\]$"):
        checks.choice("acc", ["fp32"], ("fp32",))         # unhashable, not a choice
    with pytest.raises(ValueError, match=r"^mode must be one of 1, 2, not '1'$"):
        checks.choice("mode", "1", (1, 2))                 # same type only


@pytest.mark.parametrize("value", [0, 1, None, "true", np.True_])
def test_boolean_rejects_non_bools(value):
    message = re.escape(f"signed must be a bool, not {value!r}")
    with pytest.raises(TypeError, match=rf"^{message}$"):
        checks.boolean("signed", value)


def test_boolean_accepts_bools():
    assert checks.boolean("signed", True) is True and checks.boolean("signed", False) is False


def test_module_docstring_example():
    result = doctest.testmod(checks, verbose=False)
    assert result.attempted >= 2 and result.failed == 0


# --- golden uses them -------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, message", [
    (lambda: formats.IntFormat(True, True), TypeError, r"^bits must be an integer, not True$"),
    (lambda: formats.IntFormat(65, True), ValueError,
     r"^bits must be in 2\.\.64 for a signed IntFormat, not 65$"),
    (lambda: formats.FixedFormat(4, 4, 1), TypeError, r"^signed must be a bool, not 1$"),
    (lambda: formats.FixedFormat(4, 4, True, rounding=None), ValueError,
     r"^rounding must be one of 'rne', 'floor', 'trunc', not None$"),
    (lambda: formats.FloatFormat(4, 3, specials="FN"), ValueError,
     r"^specials must be one of 'ieee', 'fn', 'fnuz', 'none', not 'FN'$"),
    (lambda: formats.PositFormat(8, 1.0), TypeError, r"^es must be an integer, not 1\.0$"),
    (lambda: formats.PositFormat(np.int64(40), 0), ValueError, r"^n must be in 3\.\.32, not 40$"),
    (lambda: lmul.check_params(formats.BF16, carry=None), ValueError,
     r"^carry must be one of 'integer', 'formula', not None$"),
    (lambda: lmul.check_params(formats.BF16, special_values=np.False_), TypeError,
     r"^special_values must be a bool, not np\.False_$"),
    (lambda: lmul.offset_ulps(3, 8), ValueError,
     r"^offset must be in 0\.\.7 ulps for a 3-bit mantissa \(an offset below 1\.0, no larger "
     r"than the mantissa\), not 8$"),
    (lambda: dot.check_params(formats.BF16, 4, "lmul", "fp32", 1.5, None, {}), TypeError,
     r"^guard_bits must be an integer, not 1\.5$"),
    (lambda: dot.check_params(formats.BF16, 65, "lmul", "fp32", 16, None, {}), ValueError,
     r"^lanes must be in 1\.\.64, not 65$"),
    (lambda: dot.check_params(formats.BF16, 4, "lmul", "int", 16, None, {}), ValueError,
     r"^acc must be one of 'fp32', 'kulisch', not 'int'$"),
])
def test_golden_parameters_use_the_uniform_messages(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_numpy_integers_are_accepted_and_normalized():
    fmt = formats.FloatFormat(np.int64(4), np.uint8(3), specials="fn")
    assert fmt == formats.FP8_E4M3 and type(fmt.exp_bits) is int
    assert lmul.offset_ulps(3, np.int16(2)) == 2
