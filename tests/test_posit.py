"""golden.formats.PositFormat against softposit (posit8 = posit(8,0), posit16 = posit(16,1))
and against the exact Fraction bit-string reference of tests/conftest.py.

Ties are taken on the bit pattern: the tie between two adjacent n-bit posits P and P + 1 is
the (n + 1)-bit posit with pattern 2P + 1 (same es), which the Fraction reference decodes.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import softposit

from golden.formats import PositFormat

SEED = 7321

SOFTPOSIT = [(PositFormat(8, 0), softposit.posit8), (PositFormat(16, 1), softposit.posit16)]
REFERENCE = [PositFormat(4, 1), PositFormat(5, 2), PositFormat(6, 0), PositFormat(8, 2),
             PositFormat(10, 3), PositFormat(12, 4), PositFormat(8, 0), PositFormat(16, 1),
             PositFormat(32, 2)]


def assert_codes(got, expected, inputs, what, seed=SEED):
    got = np.asarray(got, dtype=np.uint64)
    expected = np.asarray(expected, dtype=np.uint64)
    bad = np.flatnonzero(got != expected)
    if bad.size:
        lines = [f"input {np.asarray(inputs).flat[i]!r}: expected "
                 f"{int(expected.flat[i]):#x}, got {int(got.flat[i]):#x}" for i in bad[:8]]
        raise AssertionError(f"{what}: {bad.size} of {got.size} codes differ (seed {seed})\n"
                             + "\n".join(lines))


def _pattern_ties(fmt, ref, rng, limit):
    """Every tie (or `limit` random ones) between adjacent positive posits of `fmt`, as
    float64 (exact: the (n+1)-bit posits below have at most 29 fraction bits)."""
    if 1 << (fmt.n - 1) <= limit:                     # positive (n+1)-bit odd patterns
        odd = np.arange(1, 1 << fmt.n, 2)
    else:
        odd = 2 * rng.integers(0, 1 << (fmt.n - 1), size=limit) + 1
    ties = np.array([float(ref.posit_decode(int(c), fmt.n + 1, fmt.es)) for c in odd])
    assert all(Fraction(t) == ref.posit_decode(int(c), fmt.n + 1, fmt.es)
               for t, c in zip(ties[:200], odd[:200]))
    return ties


def _inputs(fmt, ref, rng, limit=3000):
    ties = _pattern_ties(fmt, ref, rng, limit)
    span = (1 << fmt.es) * (fmt.n - 1)                # a binade or more beyond min/maxpos
    rand = np.ldexp(1.0 + rng.random(limit), rng.integers(-span - 3, span + 3, size=limit))
    x = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, 0), rand,
                        [fmt.maxpos, fmt.minpos, fmt.maxpos * 1.5, fmt.minpos / 1.5,
                         fmt.minpos / fmt.useed, fmt.minpos / fmt.useed / 2, 1e300, 5e-324,
                         1.0, 0.0]])
    return np.concatenate([x, -x, [np.nan, np.inf, -np.inf]])


# --- softposit --------------------------------------------------------------------------------

def _sp_value(cls, code):
    p = cls(bits=int(code))
    return math.nan if p.v.isNaR() else float(p)


@pytest.mark.parametrize("case", SOFTPOSIT, ids=lambda c: str(c[0]))
def test_decode_every_code_matches_softposit(case):
    fmt, cls = case
    codes = np.arange(1 << fmt.n, dtype=np.uint64)
    want = np.array([_sp_value(cls, c) for c in codes.tolist()])
    assert np.array_equal(fmt.decode(codes), want, equal_nan=True)


@pytest.mark.parametrize("case", SOFTPOSIT, ids=lambda c: str(c[0]))
def test_encode_matches_softposit(case, ref):
    fmt, cls = case
    rng = np.random.default_rng(SEED)
    x = _inputs(fmt, ref, rng, limit=1 << 15)          # posit16: every tie
    finite = np.isfinite(x)
    want = np.array([cls(float(v)).v.v for v in x[finite]], dtype=np.uint64)
    assert_codes(fmt.encode(x[finite]), want, x[finite], f"{fmt} vs softposit")
    assert fmt.encode([np.nan, np.inf, -np.inf]).tolist() == [fmt.nar_code] * 3


# --- exact Fraction reference -----------------------------------------------------------------

@pytest.mark.parametrize("fmt", [f for f in REFERENCE if f.n <= 16], ids=str)
def test_decode_every_code_matches_fraction_reference(fmt, ref):
    codes = range(1 << fmt.n)
    got = fmt.decode(np.arange(1 << fmt.n, dtype=np.uint64)).tolist()
    for code, value in zip(codes, got):
        want = ref.posit_decode(code, fmt.n, fmt.es)
        if want is None:
            assert math.isnan(value), hex(code)
        else:
            assert Fraction(value) == want, hex(code)


def test_posit32_decode_random_codes(ref):
    fmt = PositFormat(32, 2)
    rng = np.random.default_rng(SEED)
    codes = np.concatenate([rng.integers(0, 1 << 32, size=20000, dtype=np.uint64),
                            np.array([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001,
                                      0xFFFFFFFF, 0x40000000], dtype=np.uint64)])
    got = fmt.decode(codes).tolist()
    for code, value in zip(codes.tolist(), got):
        want = ref.posit_decode(code, 32, 2)
        assert (math.isnan(value) if want is None else Fraction(value) == want), hex(code)


@pytest.mark.parametrize("fmt", REFERENCE, ids=str)
def test_encode_matches_fraction_reference(fmt, ref):
    rng = np.random.default_rng(SEED)
    x = _inputs(fmt, ref, rng)
    want = [ref.posit_encode(float(v), fmt.n, fmt.es) for v in x]
    assert_codes(fmt.encode(x), want, x, f"{fmt} vs Fraction reference")


def test_round_exact_beyond_float64(ref):
    # Integer significands of up to 64 bits, exponents far outside float64.
    fmt = PositFormat(32, 4)
    rng = np.random.default_rng(SEED)
    sig = rng.integers(1, 1 << 63, size=3000, dtype=np.uint64) | np.uint64(1 << 63)
    sig[::3] >>= rng.integers(0, 63, size=sig[::3].size).astype(np.uint64)
    exp = rng.integers(-560, 500, size=sig.size)
    sign = rng.integers(0, 2, size=sig.size)
    got = fmt.round_exact(sign, sig, exp)
    want = [ref.posit_round((-1) ** int(s) * Fraction(int(m)) * Fraction(2) ** int(e), 32, 4)
            for s, m, e in zip(sign, sig, exp)]
    assert_codes(got, want, list(zip(sign, sig, exp)), "posit32_4 round_exact")


def test_attributes_and_never_zero_or_nar():
    p = PositFormat(8, 0)
    assert (p.bits, p.n, p.es, p.nar_code, p.useed, p.maxpos, p.minpos) == \
        (8, 8, 0, 0x80, 2.0, 64.0, 1 / 64)
    q = PositFormat(16, 1)
    assert (q.useed, q.maxpos, q.minpos) == (4.0, 4.0 ** 14, 4.0 ** -14)
    assert str(PositFormat(32, 2)) == "posit32_2"
    tiny, huge = [5e-324, -5e-324], [1e300, -1e300]
    assert p.encode(tiny).tolist() == [0x01, 0xFF] and p.encode(huge).tolist() == [0x7F, 0x81]
    assert p.encode([0.0, -0.0]).tolist() == [0, 0]
    assert p.decode([0x80, 0x00, 0x40, 0xC0]).tolist()[1:] == [0.0, 1.0, -1.0]


@pytest.mark.parametrize("args, exc, message", [
    ((2, 0), ValueError, r"n must be in 3\.\.32, not 2"),
    ((33, 2), ValueError, r"n must be in 3\.\.32, not 33"),
    ((5, 3), ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 2 for n=5, not 3"),
    ((16, 5), ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 4 for n=16, not 5"),
    ((8, -1), ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 4 for n=8, not -1"),
    ((8.0, 0), TypeError, r"n must be an integer, not 8\.0"),
    ((8, "1"), TypeError, r"es must be an integer, not '1'"),
    ((8, False), TypeError, r"es must be an integer, not False"),
])
def test_bad_parameters(args, exc, message):
    with pytest.raises(exc, match=message):
        PositFormat(*args)


def test_decode_rejects_out_of_range_codes():
    with pytest.raises(ValueError, match=r"codes must be in 0\.\.255 for posit8_0, not 256"):
        PositFormat(8, 0).decode([256])
