"""golden.ops posit arithmetic (add, mul, quire_dot) against independent references.

- softposit (the Posit Standard's reference library) for posit8 = posit(8,0), posit16 =
  posit(16,1) and posit32 = posit(32,2): every posit8 pair; 10^5 random pairs plus every
  pair of directed values (tb.vectors.posit_directed) for the others; its quires
  (quire8/16/32, fused multiply-add `qma`) for the dot product.
- The exact Fraction reference of tests/conftest.py (exact sum or product, rounded once on
  the bit pattern) for other (n, es): every pair where n <= 8, random pairs above.
"""

from fractions import Fraction

import numpy as np
import pytest
import softposit

from conftest import assert_pair_codes
from golden import ops
from golden.formats import PositFormat
from tb import vectors

SEED = 40213

SOFTPOSIT = {8: (softposit.posit8, softposit.quire8, softposit.p8_add, softposit.p8_mul),
             16: (softposit.posit16, softposit.quire16, softposit.p16_add, softposit.p16_mul),
             32: (softposit.posit32, softposit.quire32, softposit.p32_add, softposit.p32_mul)}
STANDARD = {8: PositFormat(8, 0), 16: PositFormat(16, 1), 32: PositFormat(32, 2)}


def assert_codes(got, expected, a, b, what, seed=SEED):
    assert_pair_codes(got, expected, a, b, what, seed, noun="results", op=", ")


def softposit_pairs(n):
    """Operand pairs for posit`n` against softposit: every pair for n = 8; else 10^5 random
    pairs plus every pair of directed values."""
    if n == 8:
        return vectors.exhaustive_pairs(8)
    return vectors.operand_pairs(STANDARD[n], "random:100000", np.random.default_rng(SEED))


def softposit_results(n, op, a, b):
    cls, _, add, mul = SOFTPOSIT[n]
    function = add if op == "add" else mul
    return [function(cls(bits=x).v, cls(bits=y).v).v for x, y in zip(a.tolist(), b.tolist())]


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("n", [8, 16, 32])
def test_matches_softposit(n, op, ref):
    """Bit-exact with softposit, except where softposit itself is wrong: its p32_mul
    rounds results in the second-largest regime of posit32 (where the pattern holds no
    exponent bit, so the exponent bits are the guard and sticky bits) as if the sticky
    bit were 0. There (and only there) golden must equal the exact Fraction reference and
    softposit must not."""
    fmt = STANDARD[n]
    a, b = softposit_pairs(n)
    got = (ops.add if op == "add" else ops.mul)(a, b, fmt)
    want = np.array(softposit_results(n, op, a, b), dtype=np.uint64)
    differ = np.flatnonzero(got != want)
    if n == 32 and op == "mul" and differ.size:
        exact = fraction_results(fmt, op, a[differ], b[differ], ref)
        assert got[differ].tolist() == exact, "golden differs from the Fraction reference"
        values = np.abs(fmt.decode(want[differ]))
        assert ((values >= 2.0 ** 116) | (values <= 2.0 ** -116)).all(), values
        assert differ.size <= 16, differ.size
        want[differ] = got[differ]
    assert_codes(got, want, a, b, f"{fmt} {op} vs softposit")


def fraction_results(fmt, op, a, b, ref):
    values, cache, want = {}, {}, []
    for x, y in zip(a.tolist(), b.tolist()):
        for c in (x, y):
            if c not in values:
                values[c] = ref.posit_decode(c, fmt.n, fmt.es)
        va, vb = values[x], values[y]
        if va is None or vb is None:
            want.append(fmt.nar_code)
            continue
        exact = va + vb if op == "add" else va * vb
        if exact not in cache:
            cache[exact] = ref.posit_round(exact, fmt.n, fmt.es)
        want.append(cache[exact])
    return want


EXHAUSTIVE = [PositFormat(n, es) for n in (4, 5, 6, 8) for es in range(3) if es <= n - 3]


@pytest.mark.parametrize("fmt", EXHAUSTIVE, ids=str)
def test_add_every_pair_matches_fraction_reference(fmt, ref):
    a, b = vectors.exhaustive_pairs(fmt.n)
    assert_codes(ops.add(a, b, fmt), fraction_results(fmt, "add", a, b, ref), a, b, str(fmt))


@pytest.mark.parametrize("fmt", [PositFormat(3, 0), PositFormat(12, 4), PositFormat(16, 2),
                                 PositFormat(20, 3), PositFormat(32, 4), PositFormat(32, 0)],
                         ids=str)
@pytest.mark.parametrize("op", ["add", "mul"])
def test_random_pairs_match_fraction_reference(fmt, op, ref):
    if fmt.n <= 6:
        a, b = vectors.exhaustive_pairs(fmt.n)
    else:
        rng = np.random.default_rng(SEED)
        a, b = vectors.random_posit_pairs(fmt, 20000, rng)
        d = vectors.posit_directed(fmt)
        a, b = np.concatenate([a, np.repeat(d, d.size)]), np.concatenate([b, np.tile(d, d.size)])
    got = (ops.add if op == "add" else ops.mul)(a, b, fmt)
    assert_codes(got, fraction_results(fmt, op, a, b, ref), a, b, f"{fmt} {op}")


def test_add_specials():
    fmt = PositFormat(8, 1)
    nar, maxpos, minpos = 0x80, 0x7F, 0x01
    a = [nar, 0, nar, 0x40, maxpos, minpos, 0x40, 0xC0, (-minpos) & 0xFF]
    b = [0x40, 0, nar, 0xC0, maxpos, (-minpos) & 0xFF, 0, 0xC0, (-minpos) & 0xFF]
    # NaR; 0 + 0; NaR; 1 - 1 = 0; saturation; exact cancellation; 1 + 0; -1 - 1 = -2;
    # -minpos - minpos = -2 minpos, which rounds to -minpos (never to 0).
    want = [nar, 0, nar, 0, maxpos, 0, 0x40, (-0x50) & 0xFF, 0xFE]
    assert ops.add(a, b, fmt).tolist() == want


# --- the quire --------------------------------------------------------------------------------

def test_quire_range_matches_the_standard_sizes():
    # softposit's quire8 / quire16 and the standard's 512-bit quire for posit32_2.
    assert ops.quire_range(PositFormat(8, 0)) == (-12, 32, 6)
    assert ops.quire_range(PositFormat(16, 1)) == (-56, 128, 14)
    assert ops.quire_range(PositFormat(32, 2)) == (-240, 512, 30)
    assert ops.quire_range(PositFormat(8, 0), 3) == (-12, 29, 3)


def softposit_quire(n, a, b):
    cls, quire, _, _ = SOFTPOSIT[n]
    out = []
    for row_a, row_b in zip(a.tolist(), b.tolist()):
        q = quire()
        for x, y in zip(row_a, row_b):
            q.qma(cls(bits=x), cls(bits=y))
        out.append(q.toPosit().v.v)
    return out


def random_vectors(fmt, rng, vectors_count, length):
    codes = rng.integers(0, 1 << fmt.n, size=(vectors_count, length), dtype=np.uint64)
    nar = codes == np.uint64(fmt.nar_code)
    codes[nar] = 0                                  # NaR rows get their own test
    return codes


@pytest.mark.parametrize("n", [8, 16, 32])
def test_quire_dot_matches_softposit(n):
    fmt = STANDARD[n]
    rng = np.random.default_rng(SEED + n)
    a = random_vectors(fmt, rng, 300, 40)
    b = random_vectors(fmt, rng, 300, 40)
    # Cancelling vectors: the second half of each row is the first half negated, in a
    # shuffled order, so that the exact sum is 0 (and then rows with one term more).
    half = a[:50, :20]
    a[:50, 20:] = (np.uint64(0) - half) & np.uint64((1 << n) - 1)
    b[:50, 20:] = b[:50, :20]
    a[50:60, 20:] = a[50:60, :20]
    b[50:60, 20:] = (np.uint64(0) - b[50:60, :20]) & np.uint64((1 << n) - 1)
    # Wide dynamic range: maxpos² and minpos² in one vector.
    a[60:70, :4] = [(1 << (n - 1)) - 1, 1, (1 << (n - 1)) - 1, 1]
    b[60:70, :4] = [(1 << (n - 1)) - 1, 1, (-((1 << (n - 1)) - 1)) & ((1 << n) - 1), 1]
    got = ops.quire_dot(a, b, fmt)
    assert_codes(got, softposit_quire(n, a, b), a[:, 0], b[:, 0], f"{fmt} quire vs softposit")
    assert not got[:60].any()                       # the cancelling rows are exactly 0


@pytest.mark.parametrize("fmt", [PositFormat(4, 1), PositFormat(6, 2), PositFormat(8, 1),
                                 PositFormat(12, 3), PositFormat(32, 4)], ids=str)
def test_quire_dot_matches_fraction_reference(fmt, ref):
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(1, 30, size=120)
    for length in np.unique(lengths):
        rows = int((lengths == length).sum())
        a = random_vectors(fmt, rng, rows, int(length))
        b = random_vectors(fmt, rng, rows, int(length))
        want = []
        for row_a, row_b in zip(a.tolist(), b.tolist()):
            exact = sum((ref.posit_decode(x, fmt.n, fmt.es) * ref.posit_decode(y, fmt.n, fmt.es)
                         for x, y in zip(row_a, row_b)), Fraction(0))
            want.append(ref.posit_round(exact, fmt.n, fmt.es))
        assert_codes(ops.quire_dot(a, b, fmt, guard_bits=5), want, a[:, 0], b[:, 0],
                     f"{fmt} quire")


def test_quire_dot_is_exact_where_rounded_sums_are_not():
    # maxpos * maxpos + minpos * minpos - maxpos * maxpos: the quire gives minpos² rounded
    # (minpos, as a posit never rounds a nonzero to 0); any rounded accumulation gives 0.
    fmt = PositFormat(8, 0)
    a = np.array([[0x7F, 0x01, 0x7F]], dtype=np.uint64)
    b = np.array([[0x7F, 0x01, 0x81]], dtype=np.uint64)
    assert ops.quire_dot(a, b, fmt).tolist() == [0x01]
    rounded = 0
    for x, y in zip(a[0], b[0]):
        rounded = ops.add(rounded, ops.mul(x, y, fmt), fmt)
    assert int(rounded) == 0


def test_quire_dot_nar_and_errors():
    fmt = PositFormat(8, 0)
    a = np.array([[0x40, 0x80], [0x40, 0x40]], dtype=np.uint64)
    b = np.array([[0x40, 0x00], [0x40, 0xC0]], dtype=np.uint64)
    assert ops.quire_dot(a, b, fmt).tolist() == [0x80, 0x00]   # NaR * 0 is NaR
    with pytest.raises(ValueError, match=r"K = 9 terms exceed the quire's 2\*\*guard_bits = 8"):
        ops.quire_dot(np.zeros((1, 9), np.uint64), np.zeros((1, 9), np.uint64), fmt,
                      guard_bits=3)
    with pytest.raises(TypeError, match=r"fmt must be a PositFormat, not 'posit8_0'"):
        ops.quire_dot(a, b, "posit8_0")
    with pytest.raises(ValueError, match=r"guard_bits must be in 1\.\.32, not 0"):
        ops.quire_range(fmt, 0)
    with pytest.raises(TypeError, match=r"fmt must be a FloatFormat or PositFormat"):
        ops.add([1], [2], 8)
