"""Slow, obviously-correct scalar references in exact `fractions.Fraction` arithmetic, and
`assert_pair_codes`, the failure report of the two-operand golden tests.

Shared by tests/test_formats.py, test_posit.py and test_ops.py through the `ref` fixture.
They read only a format's defining parameters (exp_bits, man_bits, bias, subnormals,
specials, overflow; n, es), never golden's derived attributes or routines.
"""

import bisect
import functools
import math
import types
from fractions import Fraction

import numpy as np
import pytest


def assert_pair_codes(got, expected, a, b, what, seed, *, noun="results", op=", "):
    """Assert that code arrays `got` and `expected` are equal; else AssertionError naming
    `what`, the seed, the count of differing `noun` and the first eight operand pairs
    (``a{op}b``) with both codes."""
    got = np.asarray(got, dtype=np.uint64)
    expected = np.asarray(expected, dtype=np.uint64)
    assert got.shape == expected.shape
    bad = np.flatnonzero(got != expected)
    if bad.size:
        a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        lines = [f"{int(a.flat[i]):#x}{op}{int(b.flat[i]):#x}: expected "
                 f"{int(expected.flat[i]):#x}, got {int(got.flat[i]):#x}" for i in bad[:8]]
        raise AssertionError(f"{what}: {bad.size} of {got.size} {noun} differ "
                             f"(seed {seed})\n" + "\n".join(lines))


def _floor_log2(x):
    """floor(log2(x)) of a positive Fraction, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    elif Fraction(2) ** (e + 1) <= x:
        e += 1
    return e


def frac_split(v):
    """(m, e) with |v| = (1 + m) * 2**e, 0 <= m < 1, for a nonzero Fraction (L-Mul tests)."""
    e = _floor_log2(abs(v))
    return abs(v) / Fraction(2) ** e - 1, e


# --- floating point ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _float_table(eb, mb, bias, subnormals, specials):
    """Every positive finite value of the format (with +0), enumerated from the definition."""
    e_ones, m_ones = (1 << eb) - 1, (1 << mb) - 1
    pairs = []
    for code in range(1 << (eb + mb)):               # sign bit clear
        e, m = code >> mb, code & m_ones
        if specials == "ieee" and e == e_ones:
            continue                                  # Inf / NaN
        if specials == "fn" and e == e_ones and m == m_ones:
            continue                                  # NaN
        if e == 0:
            if not subnormals and m:
                continue                              # decodes to 0: not a distinct value
            value = Fraction(m, 1 << mb) * Fraction(2) ** (1 - bias)
        else:
            value = (1 + Fraction(m, 1 << mb)) * Fraction(2) ** (e - bias)
        pairs.append((value, code))
    pairs.sort()
    vals = [v for v, _ in pairs]
    codes = [c for _, c in pairs]
    assert codes == sorted(codes), "codes must be monotonic in value"
    top = vals[-1]
    beyond = top + Fraction(2) ** (_floor_log2(top) - mb)   # the next value, unbounded range
    bits = 1 + eb + mb
    if specials == "ieee":
        nan, inf = (e_ones << mb) | (1 << (mb - 1)), e_ones << mb
    elif specials == "fn":
        nan, inf = (1 << (bits - 1)) - 1, None
    elif specials == "fnuz":
        nan, inf = 1 << (bits - 1), None
    else:
        nan, inf = None, None
    min_normal = Fraction(2) ** (1 - bias)
    return types.SimpleNamespace(vals=vals + [beyond], codes=codes + [codes[-1] + 1],
                                 max_code=codes[-1], max_value=top, min_normal=min_normal,
                                 min_normal_code=1 << mb, nan=nan, inf=inf, bits=bits,
                                 sbit=1 << (bits - 1))


def float_table(fmt):
    return _float_table(fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.subnormals, fmt.specials)


def _round_to_precision(x, p):
    """x > 0 rounded to p significant bits, unbounded exponent, ties to even."""
    q = Fraction(2) ** (_floor_log2(x) - p + 1)
    return round(x / q) * q                           # round() on a Fraction: ties to even


def float_round(sign, mag, fmt):
    """Code of (-1)**sign * mag (mag a Fraction >= 0): the nearest value, ties to the even
    code, then the format's overflow, flush and zero-sign policies."""
    t = float_table(fmt)
    sbit = t.sbit if sign else 0
    zero = 0 if fmt.specials == "fnuz" else sbit
    if mag == 0:
        return zero
    if not fmt.subnormals and mag < t.min_normal:
        rounded = _round_to_precision(mag, fmt.man_bits + 1)
        return zero if rounded < t.min_normal else sbit | t.min_normal_code
    i = bisect.bisect_left(t.vals, mag)
    if i == len(t.vals):
        i -= 1                                        # beyond the notional next value
    elif t.vals[i] != mag:
        below, above = mag - t.vals[i - 1], t.vals[i] - mag
        if below < above or (below == above and t.codes[i - 1] % 2 == 0):
            i -= 1
    code = t.codes[i]
    if code > t.max_code:                             # overflow
        if fmt.overflow == "saturate":
            return sbit | t.max_code
        return sbit | t.inf if t.inf is not None else t.nan
    return zero if code == 0 else sbit | code


def float_special(fmt, what, sign=0):
    """Code for a NaN ("nan") or ±Inf ("inf") value per the format's policies; None if the
    format cannot hold it (NaN in a format without NaN)."""
    t = float_table(fmt)
    if what == "inf":
        if t.inf is not None:
            return (t.sbit if sign else 0) | t.inf
        if fmt.overflow == "saturate":
            return (t.sbit if sign else 0) | t.max_code
    return t.nan


def float_encode(x, fmt):
    """Reference encode of one float64."""
    if math.isnan(x):
        return float_special(fmt, "nan")
    sign = int(math.copysign(1.0, x) < 0)
    if math.isinf(x):
        return float_special(fmt, "inf", sign)
    return float_round(sign, abs(Fraction(x)), fmt)


def float_decode(code, fmt):
    """(sign, value) of a code: value a Fraction, "inf" or "nan"."""
    eb, mb = fmt.exp_bits, fmt.man_bits
    bits = 1 + eb + mb
    sign = code >> (bits - 1)
    e, m = (code >> mb) & ((1 << eb) - 1), code & ((1 << mb) - 1)
    if fmt.specials == "ieee" and e == (1 << eb) - 1:
        return sign, "inf" if m == 0 else "nan"
    if fmt.specials == "fn" and e == (1 << eb) - 1 and m == (1 << mb) - 1:
        return sign, "nan"
    if fmt.specials == "fnuz" and code == 1 << (bits - 1):
        return sign, "nan"
    if e == 0:
        if not fmt.subnormals:
            return sign, Fraction(0)
        return sign, Fraction(m, 1 << mb) * Fraction(2) ** (1 - fmt.bias)
    return sign, (1 + Fraction(m, 1 << mb)) * Fraction(2) ** (e - fmt.bias)


# --- posit ------------------------------------------------------------------------------------

def posit_decode(code, n, es):
    """Fraction value of a posit code; None for NaR."""
    if code == 0:
        return Fraction(0)
    if code == 1 << (n - 1):
        return None
    negative = code >> (n - 1)
    if negative:
        code = (1 << n) - code
    s = format(code, f"0{n}b")[1:]                   # the n - 1 bits after the sign
    run = len(s) - len(s.lstrip(s[0]))
    regime = run - 1 if s[0] == "1" else -run
    rest = s[run + 1:]                               # after the terminating bit (if any)
    e = int((rest[:es] + "0" * es)[:es] or "0", 2)   # missing exponent bits are 0
    f = rest[es:]
    frac = Fraction(int(f, 2), 1 << len(f)) if f else Fraction(0)
    value = Fraction(2) ** (regime * (1 << es) + e) * (1 + frac)
    return -value if negative else value


def posit_round(x, n, es):
    """Posit code of the exact value x: its infinite bit string cut to n bits, rounded to
    nearest, ties to the even pattern; never 0 or NaR for nonzero x."""
    if x == 0:
        return 0
    a = abs(x)
    scale = _floor_log2(a)
    regime, e = divmod(scale, 1 << es)
    bits = "1" * (regime + 1) + "0" if regime >= 0 else "0" * (-regime) + "1"
    bits += format(e, f"0{es}b") if es else ""
    frac = a / Fraction(2) ** scale - 1               # in [0, 1)
    while len(bits) < n + 1:                         # n - 1 kept bits, a guard bit, spare
        frac *= 2
        bits += "1" if frac >= 1 else "0"
        frac -= 1 if frac >= 1 else 0
    kept, guard, rest = bits[:n - 1], bits[n - 1], bits[n:]
    pattern = int(kept, 2)
    if guard == "1" and ("1" in rest or frac != 0 or pattern % 2 == 1):
        pattern += 1
    pattern = min(max(pattern, 1), (1 << (n - 1)) - 1)
    return (1 << n) - pattern if x < 0 else pattern


def posit_encode(x, n, es):
    """Reference encode of one float64 (NaN/±inf -> NaR)."""
    if math.isnan(x) or math.isinf(x):
        return 1 << (n - 1)
    return posit_round(Fraction(x), n, es)


# --- integer and fixed point ------------------------------------------------------------------

def fixed_round(x, frac_bits, bits, signed, rounding="rne", overflow="saturate"):
    """Code of the Fraction x as a fixed-point number (IntFormat: frac_bits=0, rne,
    saturate)."""
    scaled = x * (1 << frac_bits)
    if rounding == "rne":
        k = round(scaled)
    elif rounding == "floor":
        k = math.floor(scaled)
    else:
        k = math.trunc(scaled)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if overflow == "saturate":
        k = min(max(k, lo), hi)
    return k % (1 << bits)


def fixed_decode(code, frac_bits, bits, signed):
    if signed and code >> (bits - 1):
        code -= 1 << bits
    return Fraction(code, 1 << frac_bits)


@pytest.fixture(scope="session")
def ref():
    """The exact references above, as a namespace."""
    return types.SimpleNamespace(
        float_table=float_table, float_round=float_round, float_special=float_special,
        float_encode=float_encode, float_decode=float_decode,
        posit_decode=posit_decode, posit_round=posit_round, posit_encode=posit_encode,
        fixed_round=fixed_round, fixed_decode=fixed_decode, floor_log2=_floor_log2)
