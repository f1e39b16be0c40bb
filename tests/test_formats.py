"""golden.formats (float, int, fixed) against independent references.

References: ml_dtypes (decode of every code; encode of float32-representable values, the only
inputs on which its float64 -> float32 -> narrow conversion is a single rounding), NumPy's
own float64 -> float32 and float64 -> float16 casts (single roundings), the bit patterns of
float64/float32 themselves, and the exact Fraction references of tests/conftest.py.
"""

import doctest
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from golden import formats
from golden.formats import FixedFormat, FloatFormat, IntFormat, PositFormat

SEED = 20240611


def assert_codes(got, expected, inputs, what, seed=SEED):
    got = np.asarray(got, dtype=np.uint64)
    expected = np.asarray(expected, dtype=np.uint64)
    assert got.shape == expected.shape
    bad = np.flatnonzero(got != expected)
    if bad.size:
        inputs = np.asarray(inputs)
        lines = [f"input {inputs.flat[i]!r}: expected {int(expected.flat[i]):#x}, "
                 f"got {int(got.flat[i]):#x}" for i in bad[:8]]
        raise AssertionError(f"{what}: {bad.size} of {got.size} codes differ (seed {seed})\n"
                             + "\n".join(lines))


# --- ml_dtypes --------------------------------------------------------------------------------

ML = [
    (formats.FP8_E4M3, ml_dtypes.float8_e4m3fn),
    (formats.FP8_E5M2, ml_dtypes.float8_e5m2),
    (formats.FP6_E3M2, ml_dtypes.float6_e3m2fn),
    (formats.FP6_E2M3, ml_dtypes.float6_e2m3fn),
    (formats.FP4_E2M1, ml_dtypes.float4_e2m1fn),
    (FloatFormat(4, 3, specials="fnuz"), ml_dtypes.float8_e4m3fnuz),
    (FloatFormat(5, 2, specials="fnuz"), ml_dtypes.float8_e5m2fnuz),
    (formats.BF16, ml_dtypes.bfloat16),
    (formats.FP16, np.float16),
]


def _ml_ids(case):
    return str(case[0]).replace(" ", "")


def _ml_decode(codes, dtype):
    storage = np.uint8 if np.dtype(dtype).itemsize == 1 else np.uint16
    with np.errstate(invalid="ignore"):               # signalling NaN codes
        return np.asarray(codes).astype(storage).view(dtype).astype(np.float64)


def _ml_encode(x32, dtype):
    storage = np.uint8 if np.dtype(dtype).itemsize == 1 else np.uint16
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x32, dtype=np.float32).astype(dtype).view(storage).astype(np.uint64)


@pytest.mark.parametrize("case", ML, ids=_ml_ids)
def test_decode_every_code_matches_ml_dtypes(case):
    fmt, dtype = case
    codes = np.arange(1 << fmt.bits, dtype=np.uint64)
    got, want = fmt.decode(codes), _ml_decode(codes, dtype)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    assert np.array_equal(got[finite], want[finite])
    assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite]))   # ±0


def _float32_inputs(fmt, dtype, rng, count):
    """float32-representable values: every value of the format, every midpoint between
    neighbours (exact ties) and their float32 neighbours, the overflow tie, values far out
    and deep in the subnormals, random float32 values over the format's exponent range,
    random float32 bit patterns, and NaN/±Inf/±0."""
    values = np.unique(np.abs(_ml_decode(np.arange(1 << fmt.bits), dtype)))
    values = values[np.isfinite(values)]
    top = values[-1]
    ulp_top = 2.0 ** (math.floor(math.log2(top)) - fmt.man_bits)
    mids = np.concatenate([(values[1:] + values[:-1]) / 2, [top + ulp_top / 2, top + ulp_top]])
    mids = mids[mids <= np.finfo(np.float32).max]     # BF16: 2^128 is not a float32
    assert np.all(mids.astype(np.float32) == mids), "midpoints must be float32 values"
    m32 = mids.astype(np.float32)
    directed = np.concatenate([
        values, mids, np.nextafter(m32, np.float32(np.inf)), np.nextafter(m32, np.float32(0)),
        [top * 2, top * 1e6, 3.4e38, np.float32(1e-45), values[1] / 2, values[1] / 4,
         values[1] * 0.75, np.inf, np.nan, 0.0],
    ])
    emin, emax = 1 - fmt.bias, math.floor(math.log2(top))
    n = count - 2 * directed.size
    exps = rng.integers(emin - fmt.man_bits - 3, emax + 3, size=n // 2)
    with np.errstate(over="ignore"):                  # BF16: up to 2^130 -> inf
        in_range = np.ldexp(rng.random(n // 2) + 1.0, exps).astype(np.float32)
    raw = rng.integers(0, 1 << 32, size=n - n // 2, dtype=np.uint64).astype(np.uint32) \
        .view(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):   # top * 2 -> inf; signalling NaNs
        x = np.concatenate([directed, -directed, in_range, raw]).astype(np.float32)
    if not fmt.has_nan:
        x = x[~np.isnan(x)]
    return x


@pytest.mark.parametrize("case", ML, ids=_ml_ids)
def test_encode_matches_ml_dtypes_on_float32_values(case):
    fmt, dtype = case
    rng = np.random.default_rng(SEED)
    x = _float32_inputs(fmt, dtype, rng, 1_000_000)
    with np.errstate(invalid="ignore"):               # signalling NaNs among the raw patterns
        x64 = x.astype(np.float64)
    got = fmt.encode(x64)
    want = _ml_encode(x, dtype)
    want_nan = np.isnan(_ml_decode(want, dtype))
    # ml_dtypes keeps the sign on NaN (-1e6 -> 0xff in E4M3); golden gives the canonical NaN.
    assert_codes(got[want_nan], np.full(int(want_nan.sum()), fmt.nan_code or 0),
                 x[want_nan], f"{fmt} NaN results")
    assert_codes(got[~want_nan], want[~want_nan], x[~want_nan], f"{fmt} vs ml_dtypes")


def test_ml_dtypes_facts_behind_the_preset_policies():
    """What ml_dtypes 0.6 does on conversion; the preset overflow policies follow it."""
    big = np.array([1e6, -1e6, np.inf], dtype=np.float32)
    assert np.isnan(big.astype(ml_dtypes.float8_e4m3fn).astype(np.float32)).all()
    assert list(big.astype(ml_dtypes.float8_e5m2).astype(np.float32)) == \
        [np.inf, -np.inf, np.inf]
    for dtype, top in ((ml_dtypes.float6_e3m2fn, 28), (ml_dtypes.float6_e2m3fn, 7.5),
                       (ml_dtypes.float4_e2m1fn, 6)):
        assert list(big.astype(dtype).astype(np.float32)) == [top, -top, top]
    assert formats.FP8_E4M3.overflow == formats.FP8_E5M2.overflow == "inf"
    assert formats.FP6_E3M2.overflow == formats.FP6_E2M3.overflow == \
        formats.FP4_E2M1.overflow == "saturate"
    # ml_dtypes turns NaN into -0 in formats without NaN; golden refuses instead.
    nan6 = np.array([np.nan], np.float32).astype(ml_dtypes.float6_e2m3fn)
    assert nan6.view(np.uint8)[0] == 0x20
    # ml_dtypes rounds float64 through float32: a double rounding.
    x = 1 + 2.0 ** -8 + 2.0 ** -40
    assert np.array([x]).astype(ml_dtypes.bfloat16).view(np.uint16)[0] == 0x3F80


def test_bf16_float64_tie_is_rounded_once():
    # 1 + 2^-8 + 2^-40 is just above the midpoint of 1 and 1 + 2^-7: the correct BF16 code
    # is 0x3F81 (ml_dtypes, rounding through float32, gives 0x3F80).
    assert formats.BF16.encode([1 + 2.0 ** -8 + 2.0 ** -40]).tolist() == [0x3F81]
    assert formats.BF16.encode([1 + 2.0 ** -8]).tolist() == [0x3F80]
    assert formats.BF16.encode([-(1 + 3 * 2.0 ** -8)]).tolist() == [0xBF82]


# --- FP32 / FP16 / binary64 against NumPy casts and bit patterns ------------------------------

def _float64_inputs(rng, count, lo, hi, grid=None):
    """Random float64 values (all 53 bits random) with exponents in lo..hi, both signs, plus
    midpoints of a grid of `grid` significant bits and their float64 neighbours."""
    x = np.ldexp(1.0 + rng.random(count), rng.integers(lo, hi, size=count))
    if grid is not None:
        k = rng.integers(1 << grid, 2 << grid, size=count // 4).astype(np.float64)
        mid = np.ldexp(2 * k + 1, rng.integers(lo, hi, size=k.size) - grid - 1)
        x = np.concatenate([x, mid, np.nextafter(mid, np.inf), np.nextafter(mid, 0)])
    return np.concatenate([x, -x, [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7e308]])


def test_fp32_encode_matches_numpy_cast_on_float64():
    # np.float64 -> np.float32 is one IEEE conversion (round to nearest even), valid for any
    # float64 input, ties of float32 included (they are float64 values).
    rng = np.random.default_rng(SEED)
    x = _float64_inputs(rng, 200_000, -160, 132, grid=23)
    with np.errstate(over="ignore"):
        want = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(x)
    want[nan] = formats.FP32.nan_code
    assert_codes(formats.FP32.encode(x), want, x, "FP32 vs numpy")


def test_fp32_decode_matches_numpy_view():
    rng = np.random.default_rng(SEED)
    codes = np.concatenate([rng.integers(0, 1 << 32, size=300_000, dtype=np.uint64),
                            np.array([0, 1, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F7FFFFF,
                                      0x00800000, 0x80000000], dtype=np.uint64)])
    with np.errstate(invalid="ignore"):               # signalling NaNs
        want = codes.astype(np.uint32).view(np.float32).astype(np.float64)
    got = formats.FP32.decode(codes)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))


def test_numpy_float16_cast_is_a_single_rounding():
    # Guards the validity of the next test: 1 + 2^-11 + 2^-40 goes to 1 + 2^-10 only if
    # float64 -> float16 is not done through float32.
    assert np.array([1 + 2.0 ** -11 + 2.0 ** -40]).astype(np.float16).view(np.uint16)[0] \
        == 0x3C01


def test_fp16_encode_matches_numpy_cast_on_float64():
    rng = np.random.default_rng(SEED)
    x = _float64_inputs(rng, 200_000, -28, 18, grid=10)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16).astype(np.uint64)
    want[np.isnan(x)] = formats.FP16.nan_code
    assert_codes(formats.FP16.encode(x), want, x, "FP16 vs numpy")


@pytest.mark.parametrize("fmt, storage, numpy_type", [
    (FloatFormat(11, 52), np.uint64, np.float64),
    (FloatFormat(8, 23), np.uint32, np.float32),
], ids=["binary64", "binary32"])
def test_ieee_widths_round_trip_their_numpy_bit_patterns(fmt, storage, numpy_type):
    rng = np.random.default_rng(SEED)
    bits = rng.integers(0, 1 << 63, size=200_000, dtype=np.uint64) \
        | (rng.integers(0, 2, size=200_000, dtype=np.uint64) << np.uint64(63))
    bits = (bits >> np.uint64(64 - fmt.bits)).astype(storage)
    with np.errstate(invalid="ignore"):               # signalling NaNs
        values = bits.view(numpy_type).astype(np.float64)
    nan = np.isnan(values)
    want = bits.astype(np.uint64)
    want[nan] = fmt.nan_code
    assert_codes(fmt.encode(values), want, values, f"{fmt} encode")
    decoded = fmt.decode(bits.astype(np.uint64))
    assert np.array_equal(decoded, values, equal_nan=True)
    assert fmt.nan_code == (0x7FF8 << 48 if fmt.bits == 64 else 0x7FC00000)


# --- exact Fraction reference: presets on float64 ties, exotic formats ------------------------

EXOTIC = [
    FloatFormat(3, 4),
    FloatFormat(3, 4, subnormals=False),
    FloatFormat(6, 1, specials="fn", overflow="saturate"),
    FloatFormat(2, 5, bias=0, specials="none", overflow="saturate"),
    FloatFormat(4, 3, specials="fnuz", subnormals=False),
    FloatFormat(5, 2, bias=13, overflow="saturate"),
    FloatFormat(2, 1, specials="fn"),
    FloatFormat(1, 2, specials="none", overflow="saturate"),
    FloatFormat(1, 3, specials="fn", subnormals=False),
    FloatFormat(4, 3, specials="fn", subnormals=False),
    FloatFormat(3, 2, specials="none", overflow="saturate", subnormals=False),
    FloatFormat(7, 8, bias=100),
    FloatFormat(5, 10, subnormals=False),
    FloatFormat(8, 7, subnormals=False, overflow="saturate"),
]
FRACTION_CASES = [fmt for fmt, _ in ML] + EXOTIC


def _ref_inputs(fmt, ref, rng, count):
    """float64 inputs that are NOT (mostly) float32 values: every tie of the format and,
    with subnormals off, the ties of the unbounded-exponent rounding below min_normal;
    each nudged by one float64 ulp and by 2^-40 relative; random 53-bit values over the
    range; overflow edges; specials."""
    t = ref.float_table(fmt)
    vals = [float(v) for v in t.vals]                 # finite values, then the next one
    mids = [(a + b) / 2 for a, b in zip(vals, vals[1:])]
    if not fmt.subnormals:
        p = fmt.man_bits + 1
        e = ref.floor_log2(t.min_normal)
        mids += [math.ldexp(2 * k + 1, e - d - p) for d in (1, 2)
                 for k in range(1 << (p - 1), 1 << p)]
    mids = np.array(mids)
    if mids.size > count // 4:
        mids = rng.choice(mids, count // 4, replace=False)
    top = float(t.max_value)
    lo, hi = ref.floor_log2(t.vals[1]) - 3, ref.floor_log2(t.max_value) + 3
    x = np.concatenate([
        mids, np.nextafter(mids, np.inf), np.nextafter(mids, 0), mids * (1 + 2.0 ** -40),
        mids * (1 - 2.0 ** -40), np.ldexp(1.0 + rng.random(count // 4), rng.integers(lo, hi,
                                                                                    count // 4)),
        [top, np.nextafter(top, np.inf), top * 4, 1e300, 5e-324, 0.0, np.inf, np.nan],
    ])
    x = np.concatenate([x, -x])
    return x if fmt.has_nan else x[~np.isnan(x)]


@pytest.mark.parametrize("fmt", FRACTION_CASES, ids=str)
def test_encode_matches_fraction_reference_on_float64(fmt, ref):
    rng = np.random.default_rng(SEED)
    x = _ref_inputs(fmt, ref, rng, 2400)
    want = [ref.float_encode(float(v), fmt) for v in x]
    assert_codes(fmt.encode(x), want, x, f"{fmt} vs Fraction reference")


@pytest.mark.parametrize("fmt", EXOTIC, ids=str)
def test_decode_every_code_matches_fraction_reference(fmt, ref):
    codes = np.arange(1 << fmt.bits, dtype=np.uint64)
    got = fmt.decode(codes)
    for code, value in zip(codes.tolist(), got.tolist()):
        sign, want = ref.float_decode(code, fmt)
        if want == "nan":
            assert math.isnan(value), hex(code)
        elif want == "inf":
            assert value == (-math.inf if sign else math.inf), hex(code)
        else:
            assert Fraction(abs(value)) == want and math.copysign(1, value) == (-1) ** sign, \
                hex(code)


@pytest.mark.parametrize("fmt", FRACTION_CASES, ids=str)
def test_derived_attributes_match_fraction_reference(fmt, ref):
    t = ref.float_table(fmt)
    assert fmt.bits == t.bits
    assert fmt.max_code == t.max_code
    assert Fraction(fmt.max_value) == t.max_value
    assert Fraction(fmt.min_normal) == t.min_normal
    assert Fraction(fmt.min_subnormal) == (t.vals[1] if fmt.subnormals else t.min_normal)
    assert fmt.nan_code == t.nan and fmt.has_nan == (t.nan is not None)
    assert fmt.inf_code == t.inf and fmt.has_inf == (t.inf is not None)
    assert fmt.emax == ref.floor_log2(t.max_value)
    assert fmt.emin == ref.floor_log2(t.min_normal) == 1 - fmt.bias


def test_preset_parameters():
    expect = {  # name: (exp, man, bias, specials, max_code, max_value, nan_code, inf_code)
        "fp32": (8, 23, 127, "ieee", 0x7F7FFFFF, float(np.finfo(np.float32).max), 0x7FC00000,
                 0x7F800000),
        "fp16": (5, 10, 15, "ieee", 0x7BFF, 65504.0, 0x7E00, 0x7C00),
        "bf16": (8, 7, 127, "ieee", 0x7F7F, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max),
                 0x7FC0, 0x7F80),
        "fp8_e4m3": (4, 3, 7, "fn", 0x7E, 448.0, 0x7F, None),
        "fp8_e5m2": (5, 2, 15, "ieee", 0x7B, 57344.0, 0x7E, 0x7C),
        "fp6_e3m2": (3, 2, 3, "none", 0x1F, 28.0, None, None),
        "fp6_e2m3": (2, 3, 1, "none", 0x1F, 7.5, None, None),
        "fp4_e2m1": (2, 1, 1, "none", 0x7, 6.0, None, None),
    }
    assert set(formats.PRESETS) == set(expect)
    for name, (eb, mb, bias, specials, max_code, max_value, nan, inf) in expect.items():
        fmt = formats.PRESETS[name]
        assert str(fmt) == name and formats.format_from_name(name.upper()) is fmt
        assert (fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.specials) == (eb, mb, bias, specials)
        assert (fmt.max_code, fmt.max_value, fmt.nan_code, fmt.inf_code) == \
            (max_code, max_value, nan, inf)
        assert fmt.subnormals
    fnuz = FloatFormat(4, 3, specials="fnuz")
    assert (fnuz.bias, fnuz.max_value, fnuz.nan_code) == (8, 240.0, 0x80)
    assert FloatFormat(5, 2, specials="fnuz").bias == 16


def test_special_inputs_follow_the_policies():
    e4m3, e5m2, fp4 = formats.FP8_E4M3, formats.FP8_E5M2, formats.FP4_E2M1
    x = [np.inf, -np.inf, np.nan, -0.0, 0.0]
    assert e5m2.encode(x).tolist() == [0x7C, 0xFC, 0x7E, 0x80, 0x00]
    assert e4m3.encode(x).tolist() == [0x7F, 0x7F, 0x7F, 0x80, 0x00]
    assert FloatFormat(4, 3, specials="fn", overflow="saturate").encode(x).tolist() == \
        [0x7E, 0xFE, 0x7F, 0x80, 0x00]
    assert FloatFormat(4, 3, specials="fnuz").encode(x).tolist() == [0x80, 0x80, 0x80, 0, 0]
    assert fp4.encode([np.inf, -np.inf, -0.0, 1e9]).tolist() == [0x7, 0xF, 0x8, 0x7]
    with pytest.raises(ValueError, match=r"fp4_e2m1 has no NaN"):
        fp4.encode([1.0, np.nan])
    # Overflow boundary: 464 is the tie of 448 (0x7E, even) and the notional 480.
    assert e4m3.encode([464.0, np.nextafter(464.0, 1e9), -464.0]).tolist() == \
        [0x7E, 0x7F, 0xFE]
    # E5M2: 61440 is the tie of 57344 (0x7B, odd) and 65536 -> Inf.
    assert e5m2.encode([61440.0, np.nextafter(61440.0, 0)]).tolist() == [0x7C, 0x7B]
    # fnuz has no -0: tiny negatives and -0 give +0.
    assert FloatFormat(5, 2, specials="fnuz").encode([-1e-30, -0.0]).tolist() == [0, 0]


def test_flush_after_rounding_without_subnormals():
    fmt = FloatFormat(4, 3, specials="fn", subnormals=False)     # min_normal 2^-6
    mn = 2.0 ** -6
    x = [mn, mn * (1 - 2.0 ** -5), mn * (1 - 2.0 ** -5) * (1 - 2.0 ** -30), mn / 2, -mn / 3]
    # The tie just below min_normal rounds (unbounded exponent) up to min_normal; anything
    # smaller rounds to a value below it and flushes, keeping its sign.
    assert fmt.encode(x).tolist() == [0x08, 0x08, 0x00, 0x00, 0x80]
    assert fmt.decode([0x01, 0x07, 0x81, 0x08]).tolist() == [0.0, 0.0, -0.0, mn]
    assert fmt.min_subnormal == fmt.min_normal == mn


def test_shapes_and_scalars():
    fmt = formats.BF16
    assert fmt.encode(1.0).shape == () and int(fmt.encode(1.0)) == 0x3F80
    grid = np.ones((3, 4))
    assert fmt.encode(grid).shape == (3, 4) and fmt.decode(fmt.encode(grid)).shape == (3, 4)
    assert fmt.encode([]).dtype == np.uint64 and fmt.decode([]).size == 0
    assert fmt.decode(np.array([0x3F80], dtype=np.int32)).tolist() == [1.0]


def test_readme_example_in_module_docstring():
    result = doctest.testmod(formats, verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_formats_are_frozen_and_hashable():
    a, b = FloatFormat(4, 3, specials="fn"), formats.FP8_E4M3
    assert a == b and hash(a) == hash(b)          # the name is a label, not a parameter
    assert FloatFormat(4, 3, specials="fnuz") == FloatFormat(4, 3, bias=8, specials="fnuz")
    assert len({IntFormat(8, True), IntFormat(8, True), FixedFormat(4, 4, True),
                PositFormat(8, 0), PositFormat(8, 0)}) == 3
    with pytest.raises(AttributeError):
        a.exp_bits = 5


def test_float_format_names():
    assert formats.format_from_name("e8m7") is formats.BF16            # presets win
    assert formats.format_from_name("E4M3_fn") is formats.FP8_E4M3
    ftz = formats.format_from_name("e8m7_ftz")
    assert ftz == FloatFormat(8, 7, subnormals=False) and str(ftz) == "e8m7_ftz"
    assert formats.format_from_name("e3m2_sat_none") == formats.FP6_E3M2
    assert formats.format_from_name("e9m7").bias == 255
    with pytest.raises(ValueError, match=r"'e4m3_fn_fnuz' repeats a suffix or names two"):
        formats.format_from_name("e4m3_fn_fnuz")
    with pytest.raises(ValueError, match=r"exp_bits must be in 2\.\.11"):
        formats.format_from_name("e1m2")
    with pytest.raises(ValueError, match=r"unknown format 'e4m3_xyz'.*eEmM\[_ftz\]"):
        formats.format_from_name("e4m3_xyz")


def test_format_from_name():
    assert formats.format_from_name("int8") == IntFormat(8, True)
    assert formats.format_from_name("UInt16") == IntFormat(16, False)
    assert formats.format_from_name("posit16_1") == PositFormat(16, 1)
    assert formats.format_from_name("posit8_0") == PositFormat(8, 0)
    with pytest.raises(ValueError, match=r"unknown format 'fp7'; known formats: fp32, .*"
                                         r"fp4_e2m1, intN, uintN"):
        formats.format_from_name("fp7")
    with pytest.raises(ValueError, match=r"es must be in 0\.\.min\(4, n - 3\) = 0 for n=3"):
        formats.format_from_name("posit3_1")


# --- integer and fixed point against Fractions ------------------------------------------------

INT_FIXED = [
    IntFormat(8, True), IntFormat(8, False), IntFormat(1, False), IntFormat(2, True),
    IntFormat(64, True), IntFormat(64, False), IntFormat(53, True),
] + [FixedFormat(4, 4, True, rounding=r, overflow=o)
     for r in ("rne", "floor", "trunc") for o in ("saturate", "wrap")] + [
    FixedFormat(0, 8, False), FixedFormat(0, 5, False, rounding="floor", overflow="wrap"),
    FixedFormat(1, 63, True, rounding="trunc"), FixedFormat(40, 24, False, rounding="floor"),
    FixedFormat(6, 58, True, overflow="wrap"), FixedFormat(12, 0, True, rounding="floor"),
]


def _params(fmt):
    if isinstance(fmt, IntFormat):
        return 0, fmt.bits, fmt.signed, "rne", "saturate"
    return fmt.frac_bits, fmt.bits, fmt.signed, fmt.rounding, fmt.overflow


@pytest.mark.parametrize("fmt", INT_FIXED, ids=str)
def test_int_fixed_encode_matches_fraction_reference(fmt, ref):
    frac, bits, signed, rounding, overflow = _params(fmt)
    lsb = 2.0 ** -frac
    lo = -(2 ** (bits - 1)) if signed else 0
    hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
    rng = np.random.default_rng(SEED)
    edges = np.array([lo, hi, lo - 1, hi + 1, 0], dtype=np.float64) * lsb
    ints = np.concatenate([edges / lsb, rng.integers(-40, 40, 200),
                           np.round(rng.uniform(lo, hi, 300))]) * lsb
    x = np.concatenate([edges, ints, ints + lsb / 2, ints - lsb / 2, ints + lsb / 4,
                        ints - lsb * 0.75, ints + lsb * (0.5 + 2.0 ** -30), [1e300, -1e300],
                        rng.standard_normal(300) * 2.0 ** (bits - frac - 2), [-0.0, 5e-324]])
    want = [ref.fixed_round(Fraction(v), frac, bits, signed, rounding, overflow) for v in x]
    assert_codes(fmt.encode(x), want, x, f"{fmt} vs Fraction reference")


@pytest.mark.parametrize("fmt", [f for f in INT_FIXED if f.bits <= 12], ids=str)
def test_int_fixed_decode_every_code(fmt, ref):
    frac, bits, signed, _, _ = _params(fmt)
    codes = np.arange(1 << bits, dtype=np.uint64)
    got = fmt.decode(codes)
    want = [float(ref.fixed_decode(c, frac, bits, signed)) for c in range(1 << bits)]
    assert got.tolist() == want


def test_int_fixed_attributes_and_specials():
    assert (IntFormat(8, True).min_value, IntFormat(8, True).max_value) == (-128, 127)
    assert (IntFormat(64, False).min_value, IntFormat(64, False).max_value) == (0, 2**64 - 1)
    q = FixedFormat(4, 4, True)
    assert (q.bits, q.lsb, q.min_value, q.max_value) == (8, 1 / 16, -8.0, 7.9375)
    assert IntFormat(8, True).encode([np.inf, -np.inf]).tolist() == [0x7F, 0x80]
    assert IntFormat(64, True).decode_int([2**63, 2**64 - 1]).tolist() == [-(2**63), -1]
    assert IntFormat(64, True).encode([2.0**63, -(2.0**63)]).tolist() == [2**63 - 1, 2**63]
    with pytest.raises(ValueError, match="cannot encode NaN"):
        IntFormat(8, True).encode([np.nan])
    with pytest.raises(ValueError, match="overflow='wrap' cannot encode ±inf"):
        FixedFormat(4, 4, True, overflow="wrap").encode([np.inf])


# --- bad parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, message", [
    (lambda: FloatFormat(0, 3, specials="fn"), ValueError,
     r"exp_bits must be in 1\.\.11, not 0"),
    (lambda: FloatFormat(0, 3), ValueError, r"exp_bits must be in 2\.\.11 with specials="),
    (lambda: FloatFormat(4, 0), ValueError, r"man_bits must be in 1\.\.52, not 0"),
    (lambda: FloatFormat(12, 3), ValueError, r"exp_bits must be in 2\.\.11 with specials="
                                             r"'ieee' \(E all ones is Inf/NaN\), not 12"),
    (lambda: FloatFormat(12, 3, specials="fn"), ValueError,
     r"exp_bits must be in 1\.\.11, not 12"),
    (lambda: FloatFormat(1, 3), ValueError, r"exp_bits must be in 2\.\.11 with specials='ieee'"),
    (lambda: FloatFormat(2.5, 3), TypeError, r"exp_bits must be an integer, not 2\.5"),
    (lambda: FloatFormat("8", 3), TypeError, r"exp_bits must be an integer, not '8'"),
    (lambda: FloatFormat(True, 3), TypeError, r"exp_bits must be an integer, not True"),
    (lambda: FloatFormat(4, 3, bias=1.0), TypeError, r"bias must be an integer, not 1\.0"),
    (lambda: FloatFormat(4, 3, bias=16), ValueError,
     r"bias must be in 0\.\.15 for exp_bits=4, man_bits=3, specials='ieee', not 16"),
    (lambda: FloatFormat(11, 52, bias=0), ValueError, r"bias must be in 1023\.\.1023"),
    (lambda: FloatFormat(4, 3, subnormals=1), TypeError, r"subnormals must be a bool, not 1"),
    (lambda: FloatFormat(4, 3, specials="foo"), ValueError,
     r"specials must be one of 'ieee', 'fn', 'fnuz', 'none', not 'foo'"),
    (lambda: FloatFormat(4, 3, overflow="clip"), ValueError,
     r"overflow must be one of 'inf', 'saturate', not 'clip'"),
    (lambda: FloatFormat(2, 1, specials="none"), ValueError,
     r"overflow='inf' needs a format with Inf or NaN"),
    (lambda: FloatFormat(11, 53, specials="fn"), ValueError, r"man_bits must be in 1\.\.52"),
    (lambda: IntFormat(0, False), ValueError, r"bits must be in 1\.\.64, not 0"),
    (lambda: IntFormat(1, True), ValueError, r"bits must be in 2\.\.64 for a signed "
                                             r"IntFormat, not 1"),
    (lambda: IntFormat(65, False), ValueError, r"bits must be in 1\.\.64, not 65"),
    (lambda: IntFormat(8, 1), TypeError, r"signed must be a bool, not 1"),
    (lambda: IntFormat(8.0, True), TypeError, r"bits must be an integer, not 8\.0"),
    (lambda: FixedFormat(0, 4, True), ValueError, r"int_bits must be in 1\.\.64 for a signed "
                                                  r"FixedFormat \(the sign bit counts\), not 0"),
    (lambda: FixedFormat(0, 0, False), ValueError, r"int_bits \+ frac_bits must be in 1\.\.64, "
                                                   r"not 0"),
    (lambda: FixedFormat(40, 30, True), ValueError, r"int_bits \+ frac_bits must be in "
                                                    r"1\.\.64, not 70"),
    (lambda: FixedFormat(4, -1, True), ValueError, r"frac_bits must be in 0\.\.64, not -1"),
    (lambda: FixedFormat(4, 4, True, rounding="ceil"), ValueError,
     r"rounding must be one of 'rne', 'floor', 'trunc', not 'ceil'"),
    (lambda: FixedFormat(4, 4, True, overflow="inf"), ValueError,
     r"overflow must be one of 'saturate', 'wrap', not 'inf'"),
    (lambda: FixedFormat(4, 4, "yes"), TypeError, r"signed must be a bool, not 'yes'"),
    (lambda: formats.format_from_name(8), TypeError, r"name must be a string, not 8"),
], ids=lambda v: None if callable(v) or isinstance(v, type) else v[:40])
def test_bad_parameters_are_named_with_their_range(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


@pytest.mark.parametrize("fmt", [formats.FP8_E4M3, formats.FP4_E2M1, IntFormat(8, True),
                                 FixedFormat(4, 4, False), formats.FP32], ids=str)
def test_decode_rejects_out_of_range_codes(fmt):
    top = (1 << fmt.bits) - 1
    with pytest.raises(ValueError, match=rf"codes must be in 0\.\.{top} for .*, not {top + 1}"):
        fmt.decode([0, top + 1])
    with pytest.raises(ValueError, match=rf"codes must be in 0\.\.{top} for .*, not -1"):
        fmt.decode(np.array([-1, 0]))
    with pytest.raises(TypeError, match=r"codes must be an array of integers"):
        fmt.decode([1.0])
    assert fmt.decode([top]).shape == (1,)


# --- names: format_from_name(str(fmt)) == fmt for every family ------------------------------

def _generated_formats():
    for bits in range(1, 65):
        yield formats.IntFormat(bits, False)
        if bits >= 2:
            yield formats.IntFormat(bits, True)
    for signed in (False, True):
        for int_bits in range(1 if signed else 0, 9):
            for frac_bits in range(0, 9):
                if int_bits + frac_bits == 0:
                    continue
                for rounding in ("rne", "floor", "trunc"):
                    for overflow in ("saturate", "wrap"):
                        yield formats.FixedFormat(int_bits, frac_bits, signed,
                                                  rounding=rounding, overflow=overflow)
    for exp_bits in range(1, 9):
        for man_bits in range(1, 11):
            for specials in ("ieee", "fn", "fnuz", "none"):
                for subnormals in (True, False):
                    for overflow in ("inf", "saturate"):
                        for bias in (None, 0, (1 << exp_bits) - 1):
                            try:
                                yield formats.FloatFormat(exp_bits, man_bits, bias=bias,
                                                          subnormals=subnormals,
                                                          specials=specials,
                                                          overflow=overflow)
                            except ValueError:
                                continue      # not a valid combination
    for n in range(3, 33):
        for es in range(0, min(4, n - 3) + 1):
            yield formats.PositFormat(n, es)


def test_every_format_name_reads_back():
    generated = list(_generated_formats()) + list(formats.PRESETS.values())
    assert len(generated) > 1000
    wrong = [(fmt, str(fmt)) for fmt in generated
             if formats.format_from_name(str(fmt)) != fmt]
    assert not wrong, wrong[:5]
    # Names are canonical: two different formats never print alike.
    names = {}
    for fmt in generated:
        assert names.setdefault(str(fmt), fmt) == fmt, (str(fmt), fmt, names[str(fmt)])


def test_format_names_examples():
    assert str(formats.FixedFormat(4, 12, True)) == "sq4_12"
    assert str(formats.FixedFormat(0, 8, False, rounding="trunc", overflow="wrap")) == \
        "uq0_8_trunc_wrap"
    assert str(formats.FloatFormat(5, 2, bias=3)) == "e5m2_b3"
    assert str(formats.FloatFormat(3, 2, specials="none", overflow="saturate")) == "fp6_e3m2"
    assert str(formats.FloatFormat(4, 3, specials="fn", name="mine")) == "fp8_e4m3"
    assert formats.format_from_name("UQ0_8_WRAP_TRUNC") == formats.FixedFormat(
        0, 8, False, rounding="trunc", overflow="wrap")         # any order, any case
    assert formats.format_from_name("e5m2_sat_b3") == formats.FloatFormat(
        5, 2, bias=3, overflow="saturate")


# --- names: per-family grids, canonical order, name=, bad names -------------------------------

def _fixed_grid(max_bits=12):
    """Every valid FixedFormat of at most `max_bits` bits, with every policy."""
    for signed in (False, True):
        for int_bits in range(1 if signed else 0, max_bits + 1):
            for frac_bits in range(0, max_bits + 1 - int_bits):
                if int_bits + frac_bits:
                    for rounding in ("rne", "floor", "trunc"):
                        for overflow in ("saturate", "wrap"):
                            yield FixedFormat(int_bits, frac_bits, signed, rounding=rounding,
                                              overflow=overflow)


def _float_grid():
    """Every valid FloatFormat with exp_bits 1..8, man_bits 1..10 and every policy, with the
    default bias and a few others (lowest, highest, default ± 1)."""
    for eb in range(1, 9):
        for mb in range(1, 11):
            for specials in ("ieee", "fn", "fnuz", "none"):
                default = (1 << (eb - 1)) - (0 if specials == "fnuz" else 1)
                for bias in sorted({None, 0, 1, default - 1, default + 1, (1 << eb) - 1},
                                   key=lambda b: -1 if b is None else b):
                    for subnormals in (True, False):
                        for overflow in ("inf", "saturate"):
                            try:
                                yield FloatFormat(eb, mb, bias=bias, subnormals=subnormals,
                                                  specials=specials, overflow=overflow)
                            except ValueError:
                                pass          # exp_bits 1 with IEEE specials, or 'none' + inf


FAMILY_GRIDS = {
    "int": [IntFormat(b, s) for b in range(1, 65) for s in (False, True) if b >= 1 + s],
    "fixed": list(_fixed_grid()),
    "float": list(_float_grid()),
    "posit": [PositFormat(n, es) for n in range(3, 33) for es in range(0, min(4, n - 3) + 1)],
    "preset": list(formats.PRESETS.values()),
}


@pytest.mark.parametrize("family", FAMILY_GRIDS)
def test_names_read_back_per_family(family):
    grid = FAMILY_GRIDS[family]
    assert len(grid) >= {"int": 127, "fixed": 1000, "float": 1000, "posit": 100,
                         "preset": 8}[family]
    for fmt in grid:
        name = str(fmt)
        back = formats.format_from_name(name)
        assert back == fmt and type(back) is type(fmt), (name, fmt, back)
        assert str(back) == name                               # canonical, stable
        assert formats.format_from_name(name.upper()) == fmt   # case-insensitive
    assert len({str(f) for f in grid}) == len(set(grid))       # distinct formats, names


def test_presets_by_every_spelling():
    for key, preset in formats.PRESETS.items():
        assert str(preset) == key == preset.name
        assert formats.format_from_name(key) is preset
        eem = f"e{preset.exp_bits}m{preset.man_bits}" + \
            ("" if preset.specials == "ieee" else f"_{preset.specials}") + \
            ("_sat" if preset.overflow == "saturate" else "")
        assert formats.format_from_name(eem) is preset                     # presets win
        assert formats.format_from_name(f" {eem}_b{preset.bias} ") is preset


def test_float_suffixes_any_order_canonical_output():
    import itertools
    fmt = FloatFormat(4, 3, bias=3, subnormals=False, specials="fnuz", overflow="saturate")
    assert str(fmt) == "e4m3_ftz_fnuz_sat_b3"
    for order in itertools.permutations(["ftz", "fnuz", "sat", "b3"]):
        got = formats.format_from_name("e4m3_" + "_".join(order))
        assert got == fmt and str(got) == "e4m3_ftz_fnuz_sat_b3" and got.name == str(got)
    for order in itertools.permutations(["floor", "wrap"]):
        got = formats.format_from_name("sq4_3_" + "_".join(order))
        assert got == FixedFormat(4, 3, True, rounding="floor", overflow="wrap")
        assert str(got) == "sq4_3_floor_wrap"


def test_bias_suffix_only_when_not_the_default():
    assert str(FloatFormat(4, 3, bias=7)) == "e4m3"
    assert str(formats.format_from_name("e4m3_b7")) == "e4m3"
    assert str(FloatFormat(4, 3, specials="fnuz")) == "e4m3_fnuz"          # default bias 8
    assert str(FloatFormat(4, 3, specials="fnuz", bias=7)) == "e4m3_fnuz_b7"
    assert formats.format_from_name("e4m3_fnuz_b7").bias == 7
    assert formats.format_from_name("e5m2_b0").bias == 0
    assert str(FloatFormat(5, 2, bias=3)) == "e5m2_b3"


def test_the_name_argument_prints_only_if_it_reads_back():
    assert str(FloatFormat(8, 23, name="fp32")) == "fp32"
    assert str(FloatFormat(8, 23, name="single")) == "fp32"          # the preset's name
    assert str(FloatFormat(6, 3, name="wide")) == "e6m3"             # canonical form
    assert str(FloatFormat(6, 3, name="bf16")) == "e6m3"             # a preset, not this one
    assert str(FloatFormat(6, 3, name="e6m3_b31")) == "e6m3_b31"     # reads back: kept
    assert str(FloatFormat(6, 3, name="e6m3_x")) == "e6m3"           # unknown suffix
    assert str(FloatFormat(6, 3, name="posit8_0")) == "e6m3"         # another family
    for fmt in (FloatFormat(8, 23, name="single"), FloatFormat(6, 3, name="wide")):
        assert formats.format_from_name(str(fmt)) == fmt
    # The name is a label: equality and hash ignore it; parsed formats carry their name.
    assert FloatFormat(6, 3, name="wide") == FloatFormat(6, 3)
    assert hash(FloatFormat(6, 3, name="wide")) == hash(FloatFormat(6, 3))
    assert formats.format_from_name("E6M3_SAT").name == "e6m3_sat"
    with pytest.raises(TypeError, match=r"name must be a string or None, not 3"):
        FloatFormat(6, 3, name=3)


@pytest.mark.parametrize("name, message", [
    ("", r"unknown format ''; known formats"),
    ("int", r"unknown format 'int';"),
    ("uint0", r"bits must be in 1\.\.64, not 0"),
    ("uint65", r"bits must be in 1\.\.64, not 65"),
    ("int1", r"bits must be in 2\.\.64 for a signed IntFormat, not 1"),
    ("posit8", r"unknown format 'posit8';"),
    ("posit2_0", r"n must be in 3\.\.32, not 2"),
    ("posit8_0_x", r"unknown format 'posit8_0_x';"),
    ("sq4", r"unknown format 'sq4';"),
    ("sq4_", r"unknown format 'sq4_';"),
    ("uq0_0", r"int_bits \+ frac_bits must be in 1\.\.64, not 0"),
    ("sq40_30", r"int_bits \+ frac_bits must be in 1\.\.64, not 70"),
    ("sq4_3_rne", r"unknown format 'sq4_3_rne' \(unknown suffix 'rne'\)"),
    ("sq4_3_sat", r"unknown format 'sq4_3_sat' \(unknown suffix 'sat'\)"),
    ("sq4_3_trunc_trunc", r"'sq4_3_trunc_trunc' repeats a suffix or names two roundings"),
    ("e4m", r"unknown format 'e4m';"),
    ("e4m3_b", r"unknown format 'e4m3_b' \(unknown suffix 'b'\)"),
    ("e4m3_b-1", r"unknown format 'e4m3_b-1';"),
    ("e4m3_b16", r"bias must be in 0\.\.15 for exp_bits=4, man_bits=3, specials='ieee', "
                 r"not 16"),
    ("e4m3_ftz_ftz", r"repeats a suffix"),
    ("e4m3_sat_sat", r"repeats a suffix"),
    ("e4m3_fn_fn", r"repeats a suffix"),
    ("e4m3_none", r"overflow='inf' needs a format with Inf or NaN"),
    ("e4m3_ieee", r"unknown suffix 'ieee'"),
    ("fp8", r"unknown format 'fp8'; known formats: fp32, fp16, bf16, fp8_e4m3"),
    ("FixedFormat(4, 3, True)", r"unknown format 'FixedFormat\(4, 3, True\)';"),
    ("FloatFormat(5, 2, bias=3)", r"unknown format 'FloatFormat\(5, 2, bias=3\)';"),
    ("sq4_3_up", r"unknown format 'sq4_3_up' \(unknown suffix 'up'\); known formats: "),
    ("sq4_3_floor_trunc", r"names two roundings"),
    ("sq4_3_wrap_wrap", r"repeats a suffix"),
    ("e5m2_b3_b4", r"repeats a suffix"),
    ("e5m2_fn_none", r"repeats a suffix or names two kinds of specials"),
    ("e5m2_x", r"unknown format 'e5m2_x' \(unknown suffix 'x'\)"),
    ("q4_3", r"unknown format 'q4_3'; known formats: .*sqI_F"),
    ("sq0_3", r"int_bits must be in 1\.\.64 for a signed FixedFormat"),
])
def test_bad_names_raise_value_error_with_the_reason(name, message):
    with pytest.raises(ValueError, match=message):
        formats.format_from_name(name)


def test_unknown_name_lists_every_family_syntax():
    with pytest.raises(ValueError) as info:
        formats.format_from_name("q7")
    text = str(info.value)
    for fragment in [*formats.PRESETS, "intN", "uintN", "sqI_F", "uqI_F[_floor|_trunc][_wrap]",
                     "positN_ES", "eEmM[_ftz][_fn|_fnuz|_none][_sat][_bB]"]:
        assert fragment in text, fragment


# --- package layout ---------------------------------------------------------------------------

def test_public_api_and_helpers_are_importable():
    for name in formats.__all__:
        assert getattr(formats, name) is not None
    from golden.formats import fixed, floating, integer, numeric, posit, registry
    assert formats.FixedFormat is fixed.FixedFormat and formats.IntFormat is integer.IntFormat
    assert formats.FloatFormat is floating.FloatFormat and formats.PositFormat is posit.PositFormat
    assert formats.PRESETS is registry.PRESETS and formats.FP32 is floating.FP32
    assert numeric.bit_length([0, 1, 255, 2**64 - 1]).tolist() == [0, 1, 8, 64]
    assert numeric.as_codes([3], 2, "fmt").dtype == np.uint64


def _golden_sources():
    from pathlib import Path
    root = Path(formats.__file__).resolve().parent.parent
    return sorted(root.rglob("*.py")), root


def test_golden_reads_no_private_name_of_another_module():
    import ast
    paths, root = _golden_sources()
    bad = []
    for path in paths:
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                bad += [f"{path.name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_")]
                modules |= {a.asname or a.name for a in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                bad.append(f"{path.relative_to(root)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, bad


def test_golden_imports_only_numpy_and_the_standard_library():
    import ast
    import sys
    paths, root = _golden_sources()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                assert top in sys.stdlib_module_names or top in ("numpy", "golden"), \
                    f"{path.relative_to(root)} imports {top}"
