"""golden.nonlinear against independent references.

- The integer evaluation of every method against a scalar `fractions.Fraction`
  transcription of its formula (the spec's coefficients, exact rational arithmetic and a
  rounding written here), on random and edge codes, for each rounding and overflow.
- The error figures stated in the hdl unit docstrings, recomputed from the golden model
  against float64 (so a docstring cannot drift from the code).
- Figures from outside: PLAN's published maximum error (0.0189); a full lookup table is
  correctly rounded; the 16-segment piecewise-linear sigmoid within 10 % of the best float
  PWL error for the same segments (12- and 16-bit outputs).
"""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from golden import formats, nonlinear as nl
from hdl import nonlinear as hdl_nonlinear


def fmt(name):
    return formats.format_from_name(name)


def round_code(value, out):
    """The code of the rational `value` in FixedFormat `out` (its rounding and overflow),
    written without golden's rounding."""
    scaled = value * (1 << out.frac_bits)
    floor = math.floor(scaled)
    rest = scaled - floor
    if out.rounding == "floor":
        q = floor
    elif out.rounding == "trunc":
        q = floor if scaled >= 0 else math.ceil(scaled)
    else:
        q = floor + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2)
                     else 0)
    bits = out.bits
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if out.signed else (0, (1 << bits) - 1)
    if out.overflow == "saturate":
        q = min(max(q, lo), hi)
    return q % (1 << bits)


def signed_value(code, in_fmt):
    code = int(code)
    if in_fmt.signed and code >> (in_fmt.bits - 1):
        code -= 1 << in_fmt.bits
    return Fraction(code, 1 << in_fmt.frac_bits)


def activation_reference(spec, code):
    """The exact value of `spec`'s formula at one input code, as a Fraction."""
    x = signed_value(code, spec.in_fmt)
    a = abs(x)
    lsb = Fraction(1, 1 << spec.in_fmt.frac_bits)
    if spec.method == "hard":
        h = min(a / 4 + Fraction(1, 2), Fraction(1))
        pos = h if spec.function == "sigmoid" else a * h
    elif spec.method == "plan":
        for point, shift, c32 in nl.PLAN:
            if a >= Fraction(point):
                pos = (0 if shift is None else a / (1 << shift)) + Fraction(c32, 32)
                break
    else:
        a = min(a, Fraction(1 << (spec.in_fmt.bits - 1), 1 << spec.in_fmt.frac_bits) - lsb)
        steps = int(a / lsb)
        j, t = steps >> spec.offset_bits, steps & ((1 << spec.offset_bits) - 1)
        W, Sb = spec.coef_frac
        product = Fraction(spec.slopes[j], 1 << Sb) * t * lsb        # floored to P bits
        pos = Fraction(spec.intercepts[j], 1 << W) + \
            Fraction(math.floor(product * (1 << spec.frac)), 1 << spec.frac)
    if x >= 0:
        return pos
    return 1 - pos if spec.function == "sigmoid" else pos - a


def exp_reference(spec, code):
    x = min(signed_value(code, spec.in_fmt), Fraction(0))
    if spec.base == "e":
        z = x * Fraction(spec.log2e, 1 << spec.log2e_frac)
        z = Fraction(math.floor(z * (1 << spec.u_bits)), 1 << spec.u_bits)
    else:
        z = x
    m = -math.floor(z)
    u = z + m
    steps = int(u * (1 << spec.u_bits))
    j, t = steps >> spec.offset_bits, steps & ((1 << spec.offset_bits) - 1)
    s = Fraction(t, 1 << spec.u_bits)
    # Horner's rule, each product floored to the grid of the coefficient it is added to.
    acc = Fraction(spec.coefs[spec.order][j], 1 << spec.coef_frac[spec.order])
    for i in reversed(range(spec.order)):
        grid = 1 << spec.coef_frac[i]
        acc = Fraction(spec.coefs[i][j], grid) + Fraction(math.floor(acc * s * grid), grid)
    return acc / (1 << m)


def rsqrt_reference(spec, code):
    """1/sqrt by the spec's integer recipe, in exact rationals: m and 4^e from the code,
    the seed table, floored Newton steps on the 2^-G grid."""
    x = Fraction(int(code), 1 << spec.in_fmt.frac_bits)
    if x == 0:
        return None
    e = 0
    while x >= 4:
        x, e = x / 4, e + 1
    while x < 1:
        x, e = x * 4, e - 1
    G = spec.work_bits
    grid = Fraction(1, 1 << G)
    m = math.floor(x / grid) * grid                 # the normalised input, floored to G bits
    half = 1 << (spec.seed_bits - 1)
    cell = int((m - 1) * half) if m < 2 else half + int((m - 2) * half / 2)
    y = Fraction(spec.seeds[cell], 1 << G)

    def floor(value):
        return math.floor(value / grid) * grid
    for _ in range(spec.steps):
        y2 = floor(y * y)
        my2 = floor(m * y2)
        y = math.floor(y * (3 - my2) / 2 / grid) * grid
    return y / Fraction(2) ** e


@pytest.mark.parametrize("in_name,out_name,seed_bits,steps", [
    ("uq8_8", "uq5_11", 4, 1), ("uq8_8", "uq5_11_floor", 3, 2), ("uq4_12", "uq7_9", 6, 0),
    ("uq12_12", "uq7_17", 5, 2), ("uq1_7", "uq4_8_trunc", 2, 3)])
def test_rsqrt_matches_exact_arithmetic(in_name, out_name, seed_bits, steps):
    spec = nl.RSqrt(in_name, out_name, seed_bits=seed_bits, steps=steps)
    codes = _codes(spec.in_fmt, 400, np.random.default_rng(9))
    got = spec.evaluate(codes)
    top = (1 << spec.out_fmt.bits) - 1 if not spec.out_fmt.signed else \
        (1 << (spec.out_fmt.bits - 1)) - 1
    want = [top if (r := rsqrt_reference(spec, c)) is None else round_code(r, spec.out_fmt)
            for c in codes]
    assert [int(g) for g in got] == want


def _codes(in_fmt, count, rng):
    edges = [0, 1, (1 << in_fmt.bits) - 1, 1 << (in_fmt.bits - 1),
             (1 << (in_fmt.bits - 1)) - 1, (1 << (in_fmt.bits - 1)) + 1]
    return np.concatenate([np.array(edges, dtype=np.uint64),
                           rng.integers(0, 1 << in_fmt.bits, count, dtype=np.uint64)])


ACTIVATIONS = [
    ("sigmoid", "pwl", "sq5_11", "uq0_16", 16), ("sigmoid", "pwl", "sq4_4", "uq0_8_floor", 64),
    ("sigmoid", "pow2", "sq5_7", "uq0_12_trunc", 16), ("sigmoid", "lut", "sq5_7", "uq0_12", 32),
    ("sigmoid", "hard", "sq4_4", "uq0_8", None), ("sigmoid", "plan", "sq5_11", "sq1_15", None),
    ("sigmoid", "pwl", "sq5_7", "uq0_8_wrap", 8), ("sigmoid", "plan", "sq3_1", "uq0_6", None),
    ("silu", "pwl", "sq5_11", "sq5_11", 16), ("silu", "pow2", "sq4_4", "sq4_4_floor", 8),
    ("silu", "lut", "sq5_7", "sq5_7", None), ("silu", "hard", "sq5_7", "sq6_6", None),
    ("silu", "pwl", "sq6_18", "sq6_18", 32),
]


@pytest.mark.parametrize("function,method,in_name,out_name,segments", ACTIVATIONS)
def test_activation_matches_exact_arithmetic(function, method, in_name, out_name, segments):
    spec = nl.Activation(function, method, in_name, out_name, segments=segments)
    codes = _codes(spec.in_fmt, 400, np.random.default_rng(7))
    got = spec.evaluate(codes)
    want = [round_code(activation_reference(spec, c), spec.out_fmt) for c in codes]
    assert [int(g) for g in got] == want


EXPS = [("sq5_11", "uq1_15", "2", 1, 1), ("sq5_11", "uq1_15", "e", 2, 4),
        ("sq4_4", "uq2_6_floor", "e", 1, 2), ("sq5_7", "sq2_10", "2", 2, 8),
        ("sq8_16", "uq1_19", "e", 2, 16)]


@pytest.mark.parametrize("in_name,out_name,base,order,segments", EXPS)
def test_exp_matches_exact_arithmetic(in_name, out_name, base, order, segments):
    spec = nl.Exp(in_name, out_name, base=base, order=order, segments=segments)
    codes = _codes(spec.in_fmt, 400, np.random.default_rng(8))
    got = spec.evaluate(codes)
    want = [round_code(exp_reference(spec, c), spec.out_fmt) for c in codes]
    assert [int(g) for g in got] == want


@pytest.mark.parametrize("out_name", ["uq0_8", "uq0_8_floor", "sq2_6_trunc", "sq3_5_wrap",
                                      "uq1_7_wrap"])
def test_fast_rounding_of_the_coefficient_search_matches_the_format(out_name):
    out = fmt(out_name)
    rng = np.random.default_rng(3)
    v = rng.integers(-1 << 14, 1 << 14, 5000)
    for frac in (out.frac_bits, out.frac_bits + 1, out.frac_bits + 6):
        slow = out.decode(nl._round_out(out, v, frac))
        assert np.array_equal(nl._rounded_values(out, v, frac), slow)


def _docstring_rows(cls):
    """The error table of a unit's docstring: (cells, max, mean) per row."""
    lines = cls.__doc__.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*=+(\s+=+)+\s*", line)]
    assert len(rules) == 3, f"{cls.__name__}: no error table"
    header = lines[rules[0] + 1].split()
    rows = [dict(zip(header, line.split())) for line in lines[rules[1] + 1:rules[2]]]
    assert rows
    return rows


def _spec_of_row(cls, row):
    if cls is hdl_nonlinear.RSqrt:
        return nl.RSqrt(row["in_fmt"], row["out_fmt"], seed_bits=int(row["seed_bits"]),
                        steps=int(row["steps"]))
    if cls is hdl_nonlinear.Exp:
        return nl.Exp(row["in_fmt"], row["out_fmt"], base=row["base"],
                      order=int(row["order"]), segments=int(row["segments"]))
    segments = None if row["segments"] == "-" else int(row["segments"])
    return nl.Activation(cls.FUNCTION, row["method"], row["in_fmt"], row["out_fmt"],
                         segments=segments)


@pytest.mark.parametrize("cls", [hdl_nonlinear.Sigmoid, hdl_nonlinear.SiLU, hdl_nonlinear.Exp,
                                 hdl_nonlinear.RSqrt], ids=lambda c: c.__name__)
def test_docstring_error_figures_are_computed(cls):
    for row in _docstring_rows(cls):
        measured = nl.errors(_spec_of_row(cls, row))
        for key in ("max", "mean"):
            stated = float(row[key])
            assert measured[key] == pytest.approx(stated, rel=0.006), (cls.__name__, row, key)


def test_plan_has_its_published_maximum_error():
    # Amin, Curtis and Hayes-Gill (1997): maximum error 0.0189, near x = ±2.375 and ±1.
    spec = nl.Activation("sigmoid", "plan", "sq6_16", "uq0_24")
    measured = nl.errors(spec)
    assert round(measured["max"], 4) == 0.0189


@pytest.mark.parametrize("function,in_name,out_name", [
    ("sigmoid", "sq4_4", "uq0_8"), ("sigmoid", "sq5_7", "sq1_11"),
    ("silu", "sq5_7", "sq5_7"), ("silu", "sq4_4", "sq4_4_floor"),
    ("sigmoid", "sq5_11", "uq0_16")])
def test_a_full_table_is_correctly_rounded(function, in_name, out_name):
    """With round to nearest (SiLU: any rounding, a − SiLU(a) shifts by whole lsbs)."""
    spec = nl.Activation(function, "lut", in_name, out_name)
    codes = np.arange(1 << spec.in_fmt.bits, dtype=np.uint64)
    want = spec.out_fmt.encode(spec.reference(spec.in_fmt.decode(codes)))
    assert np.array_equal(spec.evaluate(codes), want)


@pytest.mark.parametrize("in_name,out_name", [("sq5_7", "uq0_12"), ("sq5_11", "uq0_16")])
def test_sixteen_segment_sigmoid_is_within_ten_percent_of_the_float_pwl(in_name, out_name):
    spec = nl.Activation("sigmoid", "pwl", in_name, out_name, segments=16)
    fixed = nl.errors(spec)["max"]
    best = nl.float_pwl_error("sigmoid", in_name, 16)
    assert best <= fixed <= 1.1 * best


def test_float_pwl_error_is_the_minimax_of_each_segment():
    # On one segment of two points any line through both is exact; on three points of a
    # parabola the minimax line's error is a quarter of the middle point's sag.
    s = np.array([0.0, 1.0, 2.0])
    b, a, err = nl._minimax_line(s, s ** 2)
    assert (b, a, err) == pytest.approx((2.0, -0.5, 0.5))


def test_exp_edges():
    spec = nl.Exp("sq5_11", "uq1_15", base="e", order=2, segments=4)
    one = spec.out_fmt.encode(np.array([1.0]))[0]
    codes = spec.in_fmt.encode(np.array([0.0, 0.5, 15.9995]))
    assert list(spec.evaluate(codes)) == [one] * 3             # x >= 0: 1
    assert spec.evaluate(spec.in_fmt.encode(np.array([-16.0])))[0] == 0   # e^-16 < lsb/2


@pytest.mark.parametrize("kwargs, message", [
    ({"function": "tanh", "method": "pwl", "in_fmt": "sq4_4", "out_fmt": "uq0_8"},
     r"function must be one of 'sigmoid', 'silu', not 'tanh'"),
    ({"function": "sigmoid", "method": "pwl", "in_fmt": "sq4_4", "out_fmt": "uq0_8",
      "fit": "remez"}, r"fit must be one of 'minimax', 'lsq', not 'remez'"),
    ({"function": "sigmoid", "method": "pwl", "in_fmt": "sq4_4", "out_fmt": "uq0_8",
      "guard_bits": 9}, r"guard_bits must be in 0\.\.8, not 9"),
    ({"function": "sigmoid", "method": "pwl", "in_fmt": "sq4_4", "out_fmt": "sq0_8"},
     r"int_bits must be in 1\.\.64 for a signed FixedFormat"),
])
def test_bad_activation_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nl.Activation(kwargs.pop("function"), kwargs.pop("method"), kwargs.pop("in_fmt"),
                      kwargs.pop("out_fmt"), **kwargs)


def test_lsq_fit_is_no_better_than_minimax_in_the_maximum():
    kwargs = {"segments": 16}
    mini = nl.errors(nl.Activation("sigmoid", "pwl", "sq5_11", "uq0_16", **kwargs))
    lsq = nl.errors(nl.Activation("sigmoid", "pwl", "sq5_11", "uq0_16", fit="lsq", **kwargs))
    assert mini["max"] < lsq["max"]
