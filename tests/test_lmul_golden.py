"""golden.lmul against independent references.

- The paper's formula, written here as a slow scalar `fractions.Fraction` function of the
  operand *values* (decoded by tests/conftest.py's reference, rounded by its reference):
  every pair of FP8_E4M3 and FP8_E5M2, in every carry, offset and subnormal-input mode,
  plus wider and custom output formats; random pairs for BF16, FP16 and FP32.
- The paper's GPU emulation, done literally on codes in plain Python ints: add the
  sign-stripped codes and subtract (bias << m) - 2**(m - l(m)) (the paper's constants 55,
  0x3F78, 0x3F780000). With special values off, golden must equal it on every pair; with
  them on, wherever both operands are normal and the result is a normal code.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from golden import formats, lmul
from golden.formats import FloatFormat

SEED = 20240501
E4M3, E5M2, BF16, FP16, FP32 = (formats.FP8_E4M3, formats.FP8_E5M2, formats.BF16,
                                formats.FP16, formats.FP32)


def all_pairs(bits):
    codes = np.arange(1 << bits, dtype=np.uint64)
    return np.repeat(codes, codes.size), np.tile(codes, codes.size)


def assert_same(got, want, a, b, what):
    got = [int(x) for x in np.asarray(got).ravel()]
    want = [int(x) for x in want]
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert len(got) == len(want)
    if bad:
        lines = [f"{int(a[i]):#x} * {int(b[i]):#x}: expected {want[i]:#x}, got {got[i]:#x}"
                 for i in bad[:8]]
        raise AssertionError(f"{what}: {len(bad)} of {len(got)} differ (seed {SEED})\n"
                             + "\n".join(lines))


# --- the paper's formula, in exact rational arithmetic -----------------------------------------

def paper_l(m):
    """l(m) as the paper defines it."""
    if m <= 3:
        return m
    return 3 if m == 4 else 4


def offset_value(m, offset):
    """The offset as a Fraction: 2**-l(m), 0, or an integer count of 2**-m."""
    if offset == "paper":
        return Fraction(1, 2 ** paper_l(m))
    if offset == "none":
        return Fraction(0)
    return Fraction(offset, 2 ** m)


def floor_log2(v):
    """floor(log2(v)) of a positive Fraction, exactly."""
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    elif Fraction(2) ** (e + 1) <= v:
        e += 1
    return e


def split(v):
    """(xm, xe) with |v| = (1 + xm) * 2**xe, 0 <= xm < 1, for a nonzero Fraction v."""
    v = abs(v)
    e = floor_log2(v)
    return v / Fraction(2) ** e - 1, e


def lmul_value(x, y, m, carry, offset):
    """L-Mul of two nonzero finite values given as split(x), split(y) (signs ignored).

    formula: (1 + xm + ym + offset) * 2**(xe + ye).
    integer: the code sum read as a code: each unit of s = xm + ym + offset at or above 1
    is a carry into the exponent: k = floor(s), (1 + s - k) * 2**(xe + ye + k).
    """
    (xm, xe), (ym, ye) = x, y
    s = xm + ym + offset_value(m, offset)
    if carry == "formula":
        return (1 + s) * Fraction(2) ** (xe + ye)
    k = math.floor(s)
    return (1 + s - k) * Fraction(2) ** (xe + ye + k)


def reference_codes(a, b, fmt, out_fmt, carry, offset, subnormal_inputs, ref,
                    round_=None, special=None):
    """Expected codes of every pair, special cases from their definitions.

    `round_` and `special` default to tests/conftest.py's references (which enumerate the
    format: fine up to 16 bits); the wide-format tests pass scalar ones.
    """
    round_ = round_ or ref.float_round
    special = special or ref.float_special
    m = fmt.man_bits
    decoded = {}

    def operand(code):                              # (class key, value, split), cached
        if code not in decoded:
            value = ref.float_decode(code, fmt)[1]
            exp_field = (code >> m) & ((1 << fmt.exp_bits) - 1)
            if subnormal_inputs == "flush" and exp_field == 0 and value not in ("nan", "inf"):
                value = Fraction(0)                 # a zero of the subnormal's sign
            if value in ("nan", "inf") or value == 0:
                decoded[code] = (value, value, None)
            else:
                decoded[code] = (code & ~(1 << (fmt.bits - 1)), value, split(value))
        return decoded[code]

    memo, values, out = {}, {}, []
    for ca, cb in zip(a.tolist(), b.tolist()):
        sign = (ca ^ cb) >> (fmt.bits - 1)
        (ka, va, pa), (kb, vb, pb) = operand(ca), operand(cb)
        key = (sign, ka, kb)                        # the result is a function of these
        if key not in memo:
            if "nan" in (va, vb) or (va == "inf" and vb == 0) or (va == 0 and vb == "inf"):
                memo[key] = special(out_fmt, "nan")
            elif "inf" in (va, vb):
                memo[key] = special(out_fmt, "inf", sign)
            elif va == 0 or vb == 0:
                memo[key] = round_(sign, Fraction(0), out_fmt)
            else:
                if (ka, kb) not in values:          # the value does not depend on the sign
                    values[ka, kb] = lmul_value(pa, pb, m, carry, offset)
                memo[key] = round_(sign, values[ka, kb], out_fmt)
        out.append(memo[key])
    return out


def max_ulps(fmt):
    return (1 << fmt.man_bits) - 1


FP8_MODES = [(fmt, carry, offset, sub)
             for fmt in (E4M3, E5M2)
             for carry in ("integer", "formula")
             for offset in ("paper", "none", max_ulps(fmt), 2)
             for sub in ("flush", "normalize")
             if offset != 2 or sub == "flush"]


@pytest.mark.parametrize("fmt,carry,offset,sub", FP8_MODES,
                         ids=[f"{f}-{c}-{o}-{s}" for f, c, o, s in FP8_MODES])
def test_fp8_every_pair_matches_the_formula(fmt, carry, offset, sub, ref):
    a, b = all_pairs(fmt.bits)
    want = reference_codes(a, b, fmt, fmt, carry, offset, sub, ref)
    got = lmul.lmul(a, b, fmt, carry=carry, offset=offset, subnormal_inputs=sub)
    assert_same(got, want, a, b, f"{fmt} carry={carry} offset={offset} {sub}")


OTHER_FORMATS = [
    (E4M3, FloatFormat(5, 3), "integer", "paper", "normalize"),     # one more exponent bit
    (E4M3, FloatFormat(5, 3), "formula", "none", "flush"),
    (E5M2, FP16, "formula", "paper", "normalize"),                 # wider mantissa: exact
    (E5M2, FloatFormat(6, 2), "integer", 3, "flush"),
    (E4M3, BF16, "formula", "paper", "flush"),
    (FloatFormat(4, 3, specials="fnuz"), None, "integer", "paper", "normalize"),
    (FloatFormat(4, 3, specials="fnuz"), None, "formula", 5, "flush"),
    (FloatFormat(5, 2, overflow="saturate"), None, "integer", "paper", "flush"),
    (FloatFormat(5, 2, overflow="saturate"), FloatFormat(6, 3, overflow="saturate"),
     "formula", "paper", "normalize"),
    (FloatFormat(4, 3, specials="fn", subnormals=False), None, "formula", "paper", "flush"),
    (FloatFormat(4, 3, specials="fn", subnormals=False), None, "integer", 3, "normalize"),
    (FloatFormat(3, 4, subnormals=False), None, "formula", "paper", "flush"),
    (E4M3, FloatFormat(4, 3, specials="fn", subnormals=False), "formula", 1, "normalize"),
    (formats.FP6_E2M3, None, "integer", "paper", "normalize"),     # no NaN, saturating
    (formats.FP6_E3M2, None, "formula", "paper", "normalize"),
    (formats.FP4_E2M1, None, "formula", 1, "normalize"),
    (FloatFormat(2, 5, specials="none", overflow="saturate"), None, "formula", "paper",
     "normalize"),                                                 # m = 5: l(m) = 4
    (FloatFormat(3, 4), None, "integer", "paper", "normalize"),    # m = 4: l(m) = 3
    (FloatFormat(3, 4), None, "formula", "paper", "flush"),
]


@pytest.mark.parametrize("case", OTHER_FORMATS,
                         ids=[f"{c[0]}->{c[1] or 'same'}-{c[2]}-{c[3]}-{c[4]}".replace(" ", "")
                              for c in OTHER_FORMATS])
def test_other_formats_every_pair_matches_the_formula(case, ref):
    fmt, out_fmt, carry, offset, sub = case
    a, b = all_pairs(fmt.bits)
    want = reference_codes(a, b, fmt, out_fmt or fmt, carry, offset, sub, ref)
    got = lmul.lmul(a, b, fmt, carry=carry, offset=offset, out_fmt=out_fmt,
                    subnormal_inputs=sub)
    assert_same(got, want, a, b, f"{fmt}->{out_fmt} carry={carry} offset={offset} {sub}")


def steered_pairs(fmt, count, rng):
    """Half uniform codes; half with exponent sums near overflow and deep underflow."""
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


def ieee_round(sign, v, fmt):
    """Code of (-1)**sign * v (a Fraction >= 0) in an IEEE-style format (E all ones is
    Inf/NaN), straight from the definition: the nearest multiple of the quantum of v's
    binade (of the subnormal binade below 2**emin), ties to even, then overflow to Inf
    (or max when saturating) and, without subnormals, flush below 2**emin. For formats
    too wide for conftest's enumerated table (BF16, FP16, FP32)."""
    assert fmt.specials == "ieee"
    m, bias = fmt.man_bits, fmt.bias
    emin, emax = 1 - bias, (1 << fmt.exp_bits) - 2 - bias
    sbit = (1 << (fmt.bits - 1)) if sign else 0
    if v == 0:
        return sbit
    e = floor_log2(v)
    e_q = max(e, emin) if fmt.subnormals else e
    q = Fraction(2) ** (e_q - m)
    n = round(v / q)                                   # Fraction round: ties to even
    if n == 0:
        return sbit
    r = n * q
    e = floor_log2(r)
    max_value = (2 - Fraction(1, 1 << m)) * Fraction(2) ** emax
    if r > max_value:
        if fmt.overflow == "saturate":
            return sbit | (((emax + bias) << m) | ((1 << m) - 1))
        return sbit | (((1 << fmt.exp_bits) - 1) << m)
    if e < emin:
        if not fmt.subnormals:
            return sbit
        return sbit | int(r / Fraction(2) ** (emin - m))   # subnormal: E = 0
    return sbit | ((e + bias) << m) | int((r / Fraction(2) ** e - 1) * (1 << m))


def ieee_special(fmt, what, sign=0):
    e_ones = ((1 << fmt.exp_bits) - 1) << fmt.man_bits
    if what == "nan":
        return e_ones | (1 << (fmt.man_bits - 1))      # canonical quiet NaN, sign clear
    return ((1 << (fmt.bits - 1)) if sign else 0) | e_ones


WIDE = [(fmt, out_fmt, carry, offset, sub)
        for fmt, out_fmt in ((BF16, None), (FP16, None), (FP32, None), (BF16, FP32),
                             (FP16, FloatFormat(6, 10)))
        for carry, offset, sub in (("integer", "paper", "flush"),
                                   ("formula", "paper", "normalize"),
                                   ("integer", "none", "normalize"),
                                   ("formula", 77, "flush"))]


@pytest.mark.parametrize("fmt,out_fmt,carry,offset,sub", WIDE,
                         ids=[f"{w[0]}->{w[1] or 'same'}-{w[2]}-{w[3]}-{w[4]}".replace(" ", "")
                              for w in WIDE])
def test_wide_formats_random_pairs_match_the_formula(fmt, out_fmt, carry, offset, sub, ref):
    rng = np.random.default_rng(SEED)
    a, b = steered_pairs(fmt, 1500, rng)
    want = reference_codes(a, b, fmt, out_fmt or fmt, carry, offset, sub, ref,
                           round_=ieee_round, special=ieee_special)
    got = lmul.lmul(a, b, fmt, carry=carry, offset=offset, out_fmt=out_fmt,
                    subnormal_inputs=sub)
    assert_same(got, want, a, b, f"{fmt}->{out_fmt} carry={carry} offset={offset} {sub}")


def test_ieee_round_agrees_with_conftest_on_fp16(ref):
    """The wide-format rounding reference is itself checked against conftest's."""
    rng = np.random.default_rng(SEED)
    for _ in range(3000):
        v = Fraction(int(rng.integers(1, 1 << 30)), 1 << int(rng.integers(0, 60)))
        for fmt in (FP16, FloatFormat(5, 10, subnormals=False, overflow="saturate")):
            assert ieee_round(1, v, fmt) == ref.float_round(1, v, fmt), (v, fmt)
    assert ieee_special(FP16, "nan") == ref.float_special(FP16, "nan")
    assert ieee_special(FP16, "inf", 1) == ref.float_special(FP16, "inf", 1)


# --- the paper's GPU emulation, on codes ------------------------------------------------------

PAPER_CONSTANTS = {"fp8_e4m3": 55, "bf16": 0x3F78, "fp32": 0x3F780000}


def emulation(a, b, bits, constant):
    """The paper's integer emulation on codes (plain Python ints): sign-stripped sum minus
    the constant, read modulo 2**(bits - 1), with the xor of the sign bits."""
    magnitude = (1 << (bits - 1)) - 1
    sign_bit = 1 << (bits - 1)
    return [(((x & magnitude) + (y & magnitude) - constant) & magnitude) | ((x ^ y) & sign_bit)
            for x, y in zip(a, b)]


def emulation_constant(fmt, offset):
    """(bias << m) - offset in ulps, with the paper's offset 2**(m - l(m))."""
    m = fmt.man_bits
    ulps = {"paper": 1 << (m - paper_l(m)), "none": 0}.get(offset, offset)
    return (fmt.bias << m) - ulps


def test_paper_constants():
    for name, constant in PAPER_CONSTANTS.items():
        fmt = formats.format_from_name(name)
        assert emulation_constant(fmt, "paper") == constant
        assert lmul.paper_constant(fmt) == constant
    assert emulation_constant(E5M2, "paper") == 59               # (15 << 2) - 2**(2 - 2)


def normal_in_range(a, b, fmt, constant):
    """Which pairs have normal, non-special operands and an emulated sum (before the
    modulo) that is a normal code: there L-Mul with special values on must agree."""
    m, e_ones = fmt.man_bits, (1 << fmt.exp_bits) - 1
    mag = (1 << (fmt.bits - 1)) - 1
    keep = []
    for x, y in zip(a, b):
        ex, ey = (x >> m) & e_ones, (y >> m) & e_ones
        r = (x & mag) + (y & mag) - constant
        keep.append(0 < ex < e_ones and 0 < ey < e_ones and (r >> m) > 0
                    and r <= fmt.max_code)
    return keep


@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=str)
@pytest.mark.parametrize("offset", ["paper", "none", 1, 2, "max"])
def test_fp8_special_values_off_is_the_paper_emulation_on_every_pair(fmt, offset):
    offset = max_ulps(fmt) if offset == "max" else offset
    a, b = (x.tolist() for x in all_pairs(fmt.bits))
    want = emulation(a, b, fmt.bits, emulation_constant(fmt, offset))
    got = lmul.lmul(a, b, fmt, offset=offset, special_values=False)
    assert_same(got, want, a, b, f"{fmt} offset={offset} special_values=False")


@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=str)
@pytest.mark.parametrize("offset", ["paper", "none", "max"])
def test_fp8_integer_mode_is_the_paper_emulation_where_normal(fmt, offset):
    offset = max_ulps(fmt) if offset == "max" else offset
    a, b = (x.tolist() for x in all_pairs(fmt.bits))
    constant = emulation_constant(fmt, offset)
    want = emulation(a, b, fmt.bits, constant)
    keep = normal_in_range(a, b, fmt, constant)
    got = lmul.lmul(a, b, fmt, offset=offset).tolist()
    idx = [i for i, k in enumerate(keep) if k]
    assert len(idx) > 20000
    assert_same([got[i] for i in idx], [want[i] for i in idx], [a[i] for i in idx],
                [b[i] for i in idx], f"{fmt} offset={offset}")


@pytest.mark.parametrize("name", ["bf16", "fp32", "fp16"])
def test_wide_formats_match_the_paper_emulation(name):
    fmt = formats.format_from_name(name)
    constant = PAPER_CONSTANTS.get(name, emulation_constant(fmt, "paper"))
    rng = np.random.default_rng(SEED)
    a, b = (x.tolist() for x in steered_pairs(fmt, 20000, rng))
    want = emulation(a, b, fmt.bits, constant)
    assert_same(lmul.lmul(a, b, fmt, special_values=False), want, a, b, name)
    keep = normal_in_range(a, b, fmt, constant)
    got = lmul.lmul(a, b, fmt).tolist()
    idx = [i for i, k in enumerate(keep) if k]
    assert len(idx) > 5000
    assert_same([got[i] for i in idx], [want[i] for i in idx], [a[i] for i in idx],
                [b[i] for i in idx], name)


def rounded_pattern(value, fmt_out, bits_kept):
    """Biased exponent and fraction of a positive Fraction rounded to bits_kept significant
    bits (ties to even), unbounded exponent, as one integer."""
    e = floor_log2(value)
    q = Fraction(2) ** (e - bits_kept + 1)
    r = round(value / q) * q
    if r >= Fraction(2) ** (e + 1):
        e += 1
    frac = int((r / Fraction(2) ** e - 1) * (1 << fmt_out.man_bits))
    return ((e + fmt_out.bias) << fmt_out.man_bits) + frac


@pytest.mark.parametrize("fmt,out_fmt", [(E4M3, None), (E5M2, FP16)],
                         ids=lambda f: str(f).replace(" ", ""))
def test_formula_mode_special_values_off_wraps_the_rounded_pattern(fmt, out_fmt):
    out = out_fmt or fmt
    m = fmt.man_bits
    a, b = all_pairs(fmt.bits)
    want, memo = [], {}
    for x, y in zip(a.tolist(), b.tolist()):
        key = (x & ~(1 << (fmt.bits - 1)), y & ~(1 << (fmt.bits - 1)))
        if key not in memo:
            vx, vy = ((1 + Fraction(c & ((1 << m) - 1), 1 << m))
                      * Fraction(2) ** (((c >> m) & ((1 << fmt.exp_bits) - 1)) - fmt.bias)
                      for c in key)
            value = lmul_value(split(vx), split(vy), m, "formula", "paper")
            memo[key] = rounded_pattern(value, out, out.man_bits + 1) % (1 << (out.bits - 1))
        want.append(memo[key] | (((x ^ y) >> (fmt.bits - 1)) << (out.bits - 1)))
    got = lmul.lmul(a, b, fmt, carry="formula", out_fmt=out_fmt, special_values=False)
    assert_same(got, want, a, b, f"{fmt}->{out} formula special_values=False")


# --- the special-case table, directed ----------------------------------------------------------

def test_special_cases_of_the_table():
    inf, ninf, nan, one, mone, zero, nzero = 0x7C, 0xFC, 0x7E, 0x3C, 0xBC, 0x00, 0x80
    sub, nsub, big = 0x01, 0x81, 0x7B
    a = [nan, inf, inf, inf, zero, nzero, ninf, sub, nsub, big, inf]
    b = [one, zero, mone, ninf, mone, nzero, ninf, one, one, big, sub]
    got = lmul.lmul(a, b, E5M2).tolist()
    assert got == [0x7E, 0x7E, 0xFC, 0xFC, 0x80, 0x00, 0x7C, 0x00, 0x80, 0x7C, 0x7E]
    # normalize: the subnormal 2**-16 times 1.0 is 2**-16 (plus the offset 2**-2 in ulps
    # of the normalized operand: 1.25 * 2**-16 -> rounds to a subnormal of E5M2).
    assert lmul.lmul([sub], [one], E5M2, subnormal_inputs="normalize").tolist() == [0x01]
    assert lmul.lmul([0x03], [one], E5M2, subnormal_inputs="normalize",
                     offset="none").tolist() == [0x03]
    # E4M3: overflow and Inf-free; NaN is S.1111.111; max 448 * 2 overflows to NaN.
    assert lmul.lmul([0x7E, 0x7F, 0xFF], [0x40, 0x38, 0x38], E4M3).tolist() == \
        [0x7F, 0x7F, 0x7F]
    sat = FloatFormat(4, 3, specials="fn", overflow="saturate")
    assert lmul.lmul([0x7E, 0xFE], [0x40, 0x40], sat).tolist() == [0x7E, 0xFE]
    # Inf into an out_fmt without Inf: NaN; saturating: max.
    no_inf = FloatFormat(5, 2, specials="fn")
    assert lmul.lmul([0x7C, 0xFC], [one, one], E5M2, out_fmt=no_inf).tolist() == [0x7F, 0x7F]
    no_inf_sat = FloatFormat(5, 2, specials="fn", overflow="saturate")
    assert lmul.lmul([0x7C, 0xFC], [one, one], E5M2, out_fmt=no_inf_sat).tolist() == \
        [0x7E, 0xFE]
    # fnuz: no -0.
    fnuz = FloatFormat(4, 3, specials="fnuz")
    assert lmul.lmul([0x00, 0x01, 0x08], [0xC0, 0x81, 0x88], fnuz).tolist() == [0, 0, 0]
    # Underflow: E4M3 2**-6 * 2**-6 -> 0 (below half the smallest subnormal 2**-9).
    assert lmul.lmul([0x08, 0x88], [0x08, 0x08], E4M3).tolist() == [0x00, 0x80]
    # One integer carry, two integer carries (offset 7: 7 + 7 + 7 = 21 = 16 + 5).
    assert lmul.lmul([0x3C], [0x3C], E4M3).tolist() == [0x41]    # 1.5*1.5 -> 2.25
    assert lmul.lmul([0x3F], [0x3F], E4M3, offset=7).tolist() == [0x4D]   # 1.625 * 2**2
    assert lmul.lmul([0x3F], [0x3F], E4M3, offset=7, carry="formula").tolist() == [0x46]


def test_broadcast_and_dtype():
    codes = np.arange(256, dtype=np.uint64)
    table = lmul.lmul(codes[:, None], codes[None, :], E4M3)
    assert table.shape == (256, 256) and table.dtype == np.uint64
    assert np.array_equal(table, table.T)
    assert int(lmul.lmul(0x3F80, 0x4000, BF16)) == 0x4008      # 1 * 2 -> 2.125
    assert lmul.lmul([], [], BF16).shape == (0,)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"carry": "float"}, ValueError, r"carry must be one of 'integer', 'formula', not 'float'"),
    ({"offset": "half"}, ValueError, r"offset must be 'paper', 'none' or an integer"),
    ({"offset": 8}, ValueError, r"offset must be in 0\.\.7 ulps for a 3-bit mantissa"),
    ({"offset": -1}, ValueError, r"offset must be in 0\.\.7 ulps"),
    ({"offset": 1.5}, TypeError, r"offset must be 'paper', 'none' or an integer"),
    ({"offset": True}, TypeError, r"offset must be"),
    ({"out_fmt": E5M2}, ValueError, r"out_fmt fp8_e5m2 \(E5M2\) is narrower than fmt "
                                    r"fp8_e4m3 \(E4M3\)"),
    ({"out_fmt": FloatFormat(3, 4, specials="none", overflow="saturate")}, ValueError,
     r"out_fmt .* is narrower"),
    ({"out_fmt": FloatFormat(5, 3, specials="none", overflow="saturate")}, ValueError,
     r"out_fmt .* has no NaN"),
    ({"out_fmt": "bf16"}, TypeError, r"out_fmt must be a FloatFormat or None"),
    ({"subnormal_inputs": "keep"}, ValueError,
     r"subnormal_inputs must be one of 'flush', 'normalize', not 'keep'"),
    ({"special_values": 0}, TypeError, r"special_values must be a bool, not 0"),
    ({"special_values": False, "subnormal_inputs": "normalize"}, ValueError,
     r"subnormal_inputs must be 'flush'"),
])
def test_bad_parameters(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        lmul.lmul([0x38], [0x38], E4M3, **kwargs)


def test_bad_format_and_codes():
    with pytest.raises(TypeError, match=r"fmt must be a FloatFormat"):
        lmul.lmul([1], [1], formats.IntFormat(8, True))
    with pytest.raises(ValueError, match=r"codes must be in 0\.\.255 for fp8_e4m3, not 256"):
        lmul.lmul([256], [1], E4M3)
    with pytest.raises(ValueError, match=r"offset must be in 0\.\.127 ulps for a 7-bit"):
        lmul.lmul([1], [1], BF16, offset=128)
