"""golden.ops.mul against independent references.

Which reference is valid where:
- Formats of <= 8 bits: every pair, against the exact Fraction product rounded by the
  reference of tests/conftest.py (one rounding, by definition).
- FP32: the product of two float32 values is exact in float64 (24 + 24 <= 53 bits, and its
  exponent stays in float64's normal range), and NumPy's float64 -> float32 cast is one
  IEEE rounding: np.float32(a64 * b64) is the correctly rounded product.
- FP16: likewise, the float64 product is exact and NumPy's float64 -> float16 cast is a single
  rounding (checked in test_formats.py).
- BF16: the float64 product is exact, but ml_dtypes converts float64 through float32 (a double
  rounding), so it is used only where the product is a float32 value (then the first rounding
  is exact) or overflows; the other products (below float32's subnormal grid) go to the
  Fraction reference.
- posit(8,0) and posit(16,1): softposit's p8_mul / p16_mul; other posits: Fraction reference.
- Integers and fixed point: Python integers / Fractions.
"""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import softposit

from conftest import assert_pair_codes
from golden import formats, ops
from golden.formats import FixedFormat, FloatFormat, IntFormat, PositFormat

SEED = 99173


def assert_codes(got, expected, a, b, what, seed=SEED):
    assert_pair_codes(got, expected, a, b, what, seed, noun="products", op=" * ")


def all_pairs(bits):
    codes = np.arange(1 << bits, dtype=np.uint64)
    return np.repeat(codes, codes.size), np.tile(codes, codes.size)


# --- floats: exhaustive against Fractions -----------------------------------------------------

def float_mul_reference(a, b, fmt, out_fmt, ref):
    """Expected codes of every product, from the exact operand values (special cases by
    the table in ops.mul's docstring); None where out_fmt cannot hold the NaN."""
    decoded = [ref.float_decode(c, fmt) for c in range(1 << fmt.bits)]
    cache = {}
    out = []
    for ca, cb in zip(a.tolist(), b.tolist()):
        (sa, va), (sb, vb) = decoded[ca], decoded[cb]
        sign = sa ^ sb
        if "nan" in (va, vb) or (va == "inf" and vb == 0) or (va == 0 and vb == "inf"):
            out.append(ref.float_special(out_fmt, "nan"))
        elif "inf" in (va, vb):
            out.append(ref.float_special(out_fmt, "inf", sign))
        else:
            key = (sign, va, vb)
            if key not in cache:
                cache[key] = ref.float_round(sign, va * vb, out_fmt)
            out.append(cache[key])
    return out


FLOAT_EXHAUSTIVE = [
    (formats.FP8_E4M3, None),
    (formats.FP8_E5M2, None),
    (formats.FP6_E3M2, None),
    (formats.FP6_E2M3, None),
    (formats.FP4_E2M1, None),
    (FloatFormat(4, 3, specials="fn", subnormals=False), None),
    (FloatFormat(3, 4, subnormals=False), None),
    (FloatFormat(4, 3, specials="fnuz"), None),
    (FloatFormat(5, 2, overflow="saturate"), None),
    (formats.FP8_E4M3, formats.BF16),                 # wider: exact
    (formats.FP8_E5M2, formats.FP8_E4M3),             # narrower: rounding, overflow to NaN
    (formats.FP8_E5M2, FloatFormat(4, 3, specials="fn", overflow="saturate")),
    (formats.FP8_E4M3, FloatFormat(5, 2, subnormals=False)),
    (formats.FP6_E2M3, formats.FP4_E2M1),             # no NaN anywhere, saturating
    (formats.FP4_E2M1, formats.FP6_E3M2),
]


@pytest.mark.parametrize("case", FLOAT_EXHAUSTIVE,
                         ids=lambda c: f"{c[0]}->{c[1] or 'same'}".replace(" ", ""))
def test_float_mul_every_pair_matches_fraction_reference(case, ref):
    fmt, out_fmt = case
    a, b = all_pairs(fmt.bits)
    want = float_mul_reference(a, b, fmt, out_fmt or fmt, ref)
    assert None not in want
    assert_codes(ops.mul(a, b, fmt, out_fmt), want, a, b, f"{fmt} -> {out_fmt}")


def test_float_mul_special_cases():
    e5m2, e4m3 = formats.FP8_E5M2, formats.FP8_E4M3
    inf, ninf, nan, one, mone, zero, nzero = 0x7C, 0xFC, 0x7E, 0x3C, 0xBC, 0x00, 0x80
    a = [inf, inf, inf, nan, zero, nzero, nzero, ninf, 0x7B]
    b = [zero, mone, ninf, one, mone, nzero, one, ninf, 0x7B]
    assert ops.mul(a, b, e5m2).tolist() == \
        [0x7E, 0xFC, 0xFC, 0x7E, 0x80, 0x00, 0x80, 0x7C, 0x7C]
    # Inf into formats without Inf: NaN (overflow="inf") or max (saturate).
    assert ops.mul([inf, ninf], [one, one], e5m2, e4m3).tolist() == [0x7F, 0x7F]
    sat = FloatFormat(4, 3, specials="fn", overflow="saturate")
    assert ops.mul([inf, ninf], [one, one], e5m2, sat).tolist() == [0x7E, 0xFE]
    # fnuz has no -0.
    fnuz = FloatFormat(4, 3, specials="fnuz")
    assert ops.mul([0x00, 0x01], [0xC0, 0x81], fnuz).tolist() == [0x00, 0x00]
    # Flushed subnormal inputs act as signed zeros.
    ftz = FloatFormat(4, 3, specials="fn", subnormals=False)
    assert ops.mul([0x01, 0x81], [0x38, 0x38], ftz).tolist() == [0x00, 0x80]


def _steered_pairs(fmt, count, rng):
    """Half uniform codes (specials included), half with exponent fields chosen so that the
    product lands near overflow or deep in the subnormals."""
    a = rng.integers(0, 1 << fmt.bits, size=count, dtype=np.uint64)
    b = rng.integers(0, 1 << fmt.bits, size=count, dtype=np.uint64)
    half = count // 2
    mb, emask = np.uint64(fmt.man_bits), (1 << fmt.exp_bits) - 1
    ea = ((a[half:] >> mb) & np.uint64(emask)).astype(np.int64)
    target = np.where(rng.random(count - half) < 0.5, fmt.emax + 2 * fmt.bias,
                      fmt.emin - fmt.man_bits + 2 * fmt.bias - 1)
    eb = np.clip(target + rng.integers(-3, 4, size=count - half) - ea, 0, emask)
    b[half:] = (b[half:] & ~(np.uint64(emask) << mb)) | (eb.astype(np.uint64) << mb)
    return a, b


@pytest.mark.parametrize("fmt, numpy_type, storage", [
    (formats.FP32, np.float32, np.uint32), (formats.FP16, np.float16, np.uint16)],
    ids=["fp32", "fp16"])
def test_float_mul_random_pairs_match_numpy(fmt, numpy_type, storage):
    rng = np.random.default_rng(SEED)
    a, b = _steered_pairs(fmt, 100_000, rng)
    with np.errstate(invalid="ignore", over="ignore"):
        va = a.astype(storage).view(numpy_type).astype(np.float64)
        vb = b.astype(storage).view(numpy_type).astype(np.float64)
        want = (va * vb).astype(numpy_type).view(storage).astype(np.uint64)
        nan = np.isnan(va * vb)
    want[nan] = fmt.nan_code
    got = ops.mul(a, b, fmt)
    assert_codes(got, want, a, b, f"{fmt} vs numpy")
    finite = fmt.decode(got)
    finite = np.abs(finite[np.isfinite(finite)])
    assert np.isinf(fmt.decode(got)).sum() > 1000                # the steering worked
    assert ((finite > 0) & (finite < fmt.min_normal)).sum() > 1000


def test_bf16_mul_random_pairs(ref):
    fmt = formats.BF16
    rng = np.random.default_rng(SEED)
    a, b = _steered_pairs(fmt, 100_000, rng)
    with np.errstate(invalid="ignore", over="ignore"):
        va = a.astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)
        vb = b.astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)
        exact = va * vb
        as32 = exact.astype(np.float32)
        want = as32.astype(ml_dtypes.bfloat16).view(np.uint16).astype(np.uint64)
    want[np.isnan(exact)] = fmt.nan_code
    # ml_dtypes is a single rounding only where float64 -> float32 was exact (or overflowed).
    valid = (as32 == exact) | np.isinf(as32) | np.isnan(exact)
    assert valid.sum() > 60_000
    for i in np.flatnonzero(~valid):
        want[i] = ref.float_round(int(exact[i] < 0), abs(Fraction(float(exact[i]))), fmt)
    assert_codes(ops.mul(a, b, fmt), want, a, b, "BF16")


# --- posits -----------------------------------------------------------------------------------

def test_posit8_mul_every_pair_matches_softposit():
    fmt = PositFormat(8, 0)
    a, b = all_pairs(8)
    ps = [softposit.posit8(bits=c) for c in range(256)]
    want = [(ps[x] * ps[y]).v.v for x, y in zip(a.tolist(), b.tolist())]
    assert_codes(ops.mul(a, b, fmt), want, a, b, "posit8 vs softposit")


def test_posit16_mul_random_pairs_match_softposit():
    fmt = PositFormat(16, 1)
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, 1 << 16, size=100_000, dtype=np.uint64)
    b = rng.integers(0, 1 << 16, size=100_000, dtype=np.uint64)
    a[:4], b[:4] = [0, 0x8000, 0x7FFF, 0x0001], [0x1234, 0x4000, 0x7FFF, 0x0001]
    mul = softposit.p16_mul
    want = [mul(softposit.posit16(bits=x).v, softposit.posit16(bits=y).v).v
            for x, y in zip(a.tolist(), b.tolist())]
    assert_codes(ops.mul(a, b, fmt), want, a, b, "posit16 vs softposit")


@pytest.mark.parametrize("fmt, out_fmt", [
    (PositFormat(4, 1), None), (PositFormat(6, 1), None), (PositFormat(5, 2), None),
    (PositFormat(8, 0), PositFormat(16, 1)), (PositFormat(8, 2), PositFormat(6, 0)),
], ids=lambda f: str(f))
def test_posit_mul_every_pair_matches_fraction_reference(fmt, out_fmt, ref):
    out = out_fmt or fmt
    a, b = all_pairs(fmt.n)
    values = [ref.posit_decode(c, fmt.n, fmt.es) for c in range(1 << fmt.n)]
    cache, want = {}, []
    for x, y in zip(a.tolist(), b.tolist()):
        va, vb = values[x], values[y]
        if va is None or vb is None:
            want.append(out.nar_code)
            continue
        p = va * vb
        if p not in cache:
            cache[p] = ref.posit_round(p, out.n, out.es)
        want.append(cache[p])
    assert_codes(ops.mul(a, b, fmt, out_fmt), want, a, b, f"{fmt} -> {out}")


# --- integers and fixed point -----------------------------------------------------------------

@pytest.mark.parametrize("fmt, out_fmt", [
    (IntFormat(8, True), None), (IntFormat(8, False), None),
    (IntFormat(8, True), IntFormat(8, True)), (IntFormat(8, False), IntFormat(8, False)),
    (IntFormat(8, True), IntFormat(12, False)), (IntFormat(8, False), IntFormat(10, True)),
], ids=str)
def test_int_mul_every_pair(fmt, out_fmt, ref):
    out = out_fmt or IntFormat(2 * fmt.bits, fmt.signed)
    a, b = all_pairs(fmt.bits)
    va = [ref.fixed_decode(c, 0, fmt.bits, fmt.signed) for c in range(1 << fmt.bits)]
    want = [ref.fixed_round(va[x] * va[y], 0, out.bits, out.signed)
            for x, y in zip(a.tolist(), b.tolist())]
    assert_codes(ops.mul(a, b, fmt, out_fmt), want, a, b, f"{fmt} -> {out}")


@pytest.mark.parametrize("fmt", [IntFormat(32, True), IntFormat(32, False)], ids=str)
def test_int32_mul_random_pairs_exact(fmt):
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, 1 << 32, size=20000, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, size=20000, dtype=np.uint64)
    a[:3], b[:3] = [0x80000000, 0xFFFFFFFF, 0x7FFFFFFF], [0x80000000, 0xFFFFFFFF, 0x80000000]
    half = 1 << 31

    def value(c):
        return c - (1 << 32) if fmt.signed and c >= half else c

    want = [(value(x) * value(y)) % (1 << 64) for x, y in zip(a.tolist(), b.tolist())]
    assert_codes(ops.mul(a, b, fmt), want, a, b, f"{fmt}")


@pytest.mark.parametrize("out_fmt", [None] + [
    FixedFormat(3, 3, True, rounding=r, overflow=o)
    for r in ("rne", "floor", "trunc") for o in ("saturate", "wrap")
] + [FixedFormat(2, 2, False, rounding="floor")], ids=str)
def test_fixed_mul_every_pair(out_fmt, ref):
    fmt = FixedFormat(3, 3, True)
    out = out_fmt or FixedFormat(6, 6, True)
    a, b = all_pairs(6)
    va = [ref.fixed_decode(c, 3, 6, True) for c in range(64)]
    want = [ref.fixed_round(va[x] * va[y], out.frac_bits, out.bits, out.signed, out.rounding,
                            out.overflow) for x, y in zip(a.tolist(), b.tolist())]
    assert_codes(ops.mul(a, b, fmt, out_fmt), want, a, b, f"{fmt} -> {out}")


# --- broadcasting and errors ------------------------------------------------------------------

def test_mul_broadcasts():
    codes = np.arange(16, dtype=np.uint64)
    table = ops.mul(codes[:, None], codes[None, :], formats.FP4_E2M1)
    assert table.shape == (16, 16) and table.dtype == np.uint64
    assert np.array_equal(table, table.T)
    assert int(ops.mul(0x3F80, 0x4000, formats.BF16)) == 0x4000


@pytest.mark.parametrize("call, exc, message", [
    (lambda: ops.mul([1], [1], formats.BF16, PositFormat(16, 1)), ValueError,
     r"mul needs fmt and out_fmt of the same family, not FloatFormat \(bf16\) and "
     r"PositFormat \(posit16_1\)"),
    (lambda: ops.mul([1], [1], IntFormat(8, True), FixedFormat(8, 0, True)), ValueError,
     r"same family"),
    (lambda: ops.mul([1], [1], "bf16"), TypeError, r"fmt must be a FloatFormat, PositFormat"),
    (lambda: ops.mul([1], [1], FloatFormat(8, 32)), ValueError,
     r"needs a 66-bit significand product; at most 64 bits"),
    (lambda: ops.mul([0x7E], [0x3C], formats.FP8_E5M2, formats.FP4_E2M1), ValueError,
     r"out_fmt fp4_e2m1 has no NaN for 1 NaN product\(s\)"),
    (lambda: ops.mul([0x7C], [0x00], formats.FP8_E5M2, formats.FP6_E2M3), ValueError,
     r"has no NaN .*0 × Inf"),
    (lambda: ops.mul([256], [1], formats.FP8_E4M3), ValueError,
     r"codes must be in 0\.\.255 for fp8_e4m3, not 256"),
    (lambda: ops.mul([1], [1], IntFormat(33, True)), ValueError,
     r"the exact product of int33 needs 66 bits \(at most 64\): give a narrower out_fmt"),
    (lambda: ops.mul([1], [1], IntFormat(33, True), IntFormat(8, True)), ValueError,
     r"mul of int33 needs a 66-bit product; at most 64 bits"),
])
def test_mul_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_mul_into_format_without_nan_is_fine_without_nan_operands():
    # E5M2 has NaN/Inf codes, but finite operands give finite (saturated) FP4 results.
    got = ops.mul([0x3C, 0x7B, 0x80], [0x40, 0x7B, 0x3C], formats.FP8_E5M2, formats.FP4_E2M1)
    assert got.tolist() == [0x4, 0x7, 0x8]
