"""golden.dot against independent references.

- `golden.ops.add` (exactly rounded float addition): NumPy float32 addition (one IEEE rounding) on
  random and directed FP32 pairs; every pair of FP8_E4M3 and FP8_E5M2 against the exact
  Fraction sum rounded by tests/conftest.py's reference.
- `product_format`: every product of every FP8 pair, L-Mul (both carry modes) and exact,
  is exact in it (its value equals the paper's formula / the exact product as Fractions).
- `dot` with acc="fp32": the same sums done with NumPy float32 additions in the tree order.
- `dot` with acc="kulisch": the exact Fraction sum of the products, rounded once into FP32
  by a scalar reference; NaN/Inf rules on directed vectors.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from conftest import frac_split
from golden import dot, formats, ops
from golden.formats import FloatFormat

SEED = 1234
FP32, E4M3, E5M2, BF16 = formats.FP32, formats.FP8_E4M3, formats.FP8_E5M2, formats.BF16


def f32(codes):
    return np.asarray(codes, dtype=np.uint64).astype(np.uint32).view(np.float32)


def codes32(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)


def same_or_both_nan(got, want_float32):
    want = codes32(want_float32)
    nan = np.isnan(want_float32)
    return (got == want) | (nan & (got == FP32.nan_code))


# --- add ----------------------------------------------------------------------------------------

def test_add_fp32_matches_numpy():
    rng = np.random.default_rng(SEED)
    n = 200000
    x = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    y = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    # Half: nearby magnitudes of either sign (cancellation, carries, subnormal sums).
    half = n // 2
    y[:half] = (x[:half] ^ rng.integers(0, 1 << 22, half, dtype=np.uint64)) \
        ^ (rng.integers(0, 2, half, dtype=np.uint64) << np.uint64(31))
    y[half:half + 1000] = x[half:half + 1000] ^ np.uint64(1 << 31)       # x + (-x)
    got = ops.add(x, y, FP32)
    with np.errstate(all="ignore"):
        want = f32(x) + f32(y)
    assert same_or_both_nan(got, want).all()


def test_add_fp32_directed_pairs():
    from tb import vectors
    d = vectors.float_directed(FP32)
    x, y = np.repeat(d, d.size), np.tile(d, d.size)
    with np.errstate(all="ignore"):
        want = f32(x) + f32(y)
    assert same_or_both_nan(ops.add(x, y, FP32), want).all()


@pytest.mark.parametrize("fmt", [E4M3, E5M2, FloatFormat(4, 3, specials="fnuz"),
                                 FloatFormat(5, 2, overflow="saturate", subnormals=False)],
                         ids=lambda f: str(f).replace(" ", ""))
def test_add_every_fp8_pair_matches_fractions(fmt, ref):
    codes = np.arange(256, dtype=np.uint64)
    x, y = np.repeat(codes, 256), np.tile(codes, 256)
    decoded = [ref.float_decode(c, fmt) for c in range(256)]
    want = []
    for cx, cy in zip(x.tolist(), y.tolist()):
        (sx, vx), (sy, vy) = decoded[cx], decoded[cy]
        if "nan" in (vx, vy) or (vx == vy == "inf" and sx != sy):
            want.append(ref.float_special(fmt, "nan"))
        elif "inf" in (vx, vy):
            want.append(ref.float_special(fmt, "inf", sx if vx == "inf" else sy))
        else:
            total = (-vx if sx else vx) + (-vy if sy else vy)
            if total == 0:
                want.append(ref.float_round(sx & sy if vx == vy == 0 else 0, Fraction(0), fmt))
            else:
                want.append(ref.float_round(int(total < 0), abs(total), fmt))
    assert ops.add(x, y, fmt).tolist() == want


def test_tree_sum_order():
    rng = np.random.default_rng(SEED)
    values = codes32(rng.standard_normal((500, 7)).astype(np.float32) * 1e3)
    v = f32(values)
    level1 = [v[:, 0] + v[:, 1], v[:, 2] + v[:, 3], v[:, 4] + v[:, 5], v[:, 6]]
    level2 = [level1[0] + level1[1], level1[2] + level1[3]]
    want = level2[0] + level2[1]
    assert (dot.tree_sum(values, FP32) == codes32(want)).all()


# --- products ---------------------------------------------------------------------------------

def lmul_fraction(x, y, m, carry, offset):
    """The paper's formula (formula) or the code-sum reading (integer), in Fractions."""
    (xm, xe), (ym, ye) = frac_split(x), frac_split(y)
    l = m if m <= 3 else (3 if m == 4 else 4)
    off = {"paper": Fraction(1, 2 ** l), "none": Fraction(0)}.get(offset, None)
    off = Fraction(offset, 2 ** m) if off is None else off
    s = xm + ym + off
    if carry == "formula":
        return (1 + s) * Fraction(2) ** (xe + ye)
    k = math.floor(s)
    return (1 + s - k) * Fraction(2) ** (xe + ye + k)


@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=str)
@pytest.mark.parametrize("mul,carry,sub", [("lmul", "integer", "flush"),
                                           ("lmul", "formula", "normalize"),
                                           ("exact", "integer", "flush")])
def test_products_are_exact_in_the_product_format(fmt, mul, carry, sub, ref):
    pf = dot.product_format(fmt, mul=mul, carry=carry, subnormal_inputs=sub)
    codes = np.arange(256, dtype=np.uint64)
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    kw = {"carry": carry, "subnormal_inputs": sub} if mul == "lmul" else {}
    got = dot.product_codes(a, b, fmt, mul=mul, out_fmt=pf, **kw)
    sign, sig, exp, nan, inf = pf.decompose(got)
    lsb, width = dot.kulisch_range(fmt, mul=mul, carry=carry, subnormal_inputs=sub,
                                   guard_bits=1)
    for i in range(0, a.size, 7):                   # every 7th pair: all code classes
        (sa, va), (sb, vb) = ref.float_decode(int(a[i]), fmt), ref.float_decode(int(b[i]), fmt)
        if "nan" in (va, vb) or "inf" in (va, vb):
            assert nan[i] or inf[i]
            continue
        m = fmt.man_bits
        if mul == "lmul" and sub == "flush":
            va = va if (int(a[i]) >> m) & ((1 << fmt.exp_bits) - 1) else 0
            vb = vb if (int(b[i]) >> m) & ((1 << fmt.exp_bits) - 1) else 0
        if va == 0 or vb == 0:
            want = Fraction(0)
        elif mul == "exact":
            want = va * vb
        else:
            want = lmul_fraction(va, vb, m, carry, "paper")
        value = Fraction(int(sig[i])) * Fraction(2) ** int(exp[i])
        assert value == want, (hex(a[i]), hex(b[i]))
        if value:                                   # on the accumulator's grid, in range
            assert int(exp[i]) >= lsb and value < Fraction(2) ** (lsb + width - 2)


# --- dot ---------------------------------------------------------------------------------------

def random_codes(fmt, shape, rng):
    """Finite random codes with values of moderate range (no specials)."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-6, 6, shape))
    return fmt.encode(x)


@pytest.mark.parametrize("fmt,mul", [(E4M3, "lmul"), (E5M2, "exact"), (BF16, "lmul"),
                                     (BF16, "exact")], ids=lambda x: str(x))
@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_dot_fp32_is_float32_arithmetic_in_tree_order(fmt, mul, lanes):
    rng = np.random.default_rng(SEED)
    a, b = random_codes(fmt, (300, 4 * lanes), rng), random_codes(fmt, (300, 4 * lanes), rng)
    got = dot.dot(a, b, fmt, lanes=lanes, mul=mul)
    products = f32(dot.product_codes(a, b, fmt, mul=mul, out_fmt=FP32))
    acc = np.zeros(300, dtype=np.float32)
    for beat in range(4):
        level = [products[:, beat * lanes + i] for i in range(lanes)]
        while len(level) > 1:
            nxt = [level[j] + level[j + 1] for j in range(0, len(level) - 1, 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        acc = acc + level[0]
    assert (got == codes32(acc)).all()


def ieee_round32(total):
    """FP32 code of a Fraction: nearest, ties to even; subnormals; overflow to Inf."""
    if total == 0:
        return 0
    sign = (1 << 31) if total < 0 else 0
    v = abs(total)
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    elif Fraction(2) ** (e + 1) <= v:
        e += 1
    q = Fraction(2) ** (max(e, -126) - 23)
    n = round(v / q)
    if n * q >= Fraction(2) ** 128:
        return sign | 0x7F800000
    if n == 0:
        return sign
    r = n * q
    e = r.numerator.bit_length() - r.denominator.bit_length()
    if Fraction(2) ** e > r:
        e -= 1
    if e < -126:
        return sign | int(r / Fraction(2) ** -149)
    return sign | ((e + 127) << 23) | int((r / Fraction(2) ** e - 1) * (1 << 23))


@pytest.mark.parametrize("fmt,mul,carry", [(E4M3, "lmul", "integer"), (E5M2, "lmul", "formula"),
                                           (E4M3, "exact", "integer"), (BF16, "lmul", "integer"),
                                           (formats.FP16, "exact", "integer")],
                         ids=lambda x: str(x))
def test_dot_kulisch_is_the_exact_sum_rounded_once(fmt, mul, carry, ref):
    rng = np.random.default_rng(SEED)
    a, b = random_codes(fmt, (200, 24), rng), random_codes(fmt, (200, 24), rng)
    a[:20, 12:] = a[:20, :12]                             # exact cancellations
    b[:20, 12:] = b[:20, :12] ^ np.uint64(1 << (fmt.bits - 1))
    kw = {"carry": carry} if mul == "lmul" else {}
    got = dot.dot(a, b, fmt, lanes=4, mul=mul, acc="kulisch", **kw)
    pf = dot.product_format(fmt, mul=mul, carry=carry)
    products = dot.product_codes(a, b, fmt, mul=mul, out_fmt=pf, **kw)
    want = []
    for row in products.tolist():
        total = Fraction(0)
        for code in row:
            sign, value = ref.float_decode(code, pf)
            total += -value if sign else value
        want.append(ieee_round32(total))
    assert got.tolist() == want
    assert (got[:20] == 0).all()                          # exact zero: +0


def test_ieee_round32_matches_numpy():
    rng = np.random.default_rng(SEED)
    for v in rng.standard_normal(2000) * np.exp2(rng.integers(-160, 140, 2000)):
        with np.errstate(over="ignore"):
            want = int(codes32(np.float32(v)))
        assert ieee_round32(Fraction(float(v))) == want


def test_kulisch_special_values():
    one, inf, ninf, nan = 0x3F80, 0x7F80, 0xFF80, 0x7FC0       # BF16
    a = np.array([[one, inf, one, one], [inf, ninf, one, one], [nan, one, one, one],
                  [ninf, one, one, one], [0x8000, 0x8000, 0x8000, 0x8000]], dtype=np.uint64)
    b = np.full(a.shape, one, dtype=np.uint64)
    got = dot.dot(a, b, BF16, lanes=2, acc="kulisch", mul="exact")
    assert got.tolist() == [0x7F800000, 0x7FC00000, 0x7FC00000, 0xFF800000, 0]
    got = dot.dot(a, b, BF16, lanes=2, mul="exact")                 # fp32: the same here
    assert got.tolist() == [0x7F800000, 0x7FC00000, 0x7FC00000, 0xFF800000, 0]


def test_kulisch_range_and_formats():
    assert dot.product_format(E4M3) == FloatFormat(6, 3)
    assert dot.product_format(E4M3, mul="exact") == FloatFormat(6, 7)
    assert dot.kulisch_range(E4M3) == (-15, 51)
    assert dot.kulisch_range(BF16, guard_bits=10) == (-259, 527)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"lanes": 0}, ValueError, r"lanes must be in 1\.\.64, not 0"),
    ({"lanes": "4"}, TypeError, r"lanes must be a positive integer"),
    ({"mul": "approx"}, ValueError, r"mul must be one of 'lmul', 'exact', not 'approx'"),
    ({"acc": "int"}, ValueError, r"acc must be one of 'fp32', 'kulisch', not 'int'"),
    ({"guard_bits": 40}, ValueError, r"guard_bits must be in 1\.\.32, not 40"),
    ({"out_fmt": BF16}, ValueError, r"out_fmt must be fp32"),
    ({"acc": "kulisch", "out_fmt": formats.FP4_E2M1}, ValueError, r"has no NaN"),
    ({"carry": "x"}, ValueError, r"carry must be one of"),
    ({"mul": "exact", "offset": 2}, ValueError, r"apply to mul='lmul' only"),
    ({"acc": "kulisch", "guard_bits": 2}, ValueError, r"K = 8 terms exceed the Kulisch"),
    ({"lanes": 3}, ValueError, r"K = 8 terms must be a positive multiple of lanes = 3"),
])
def test_bad_parameters(kwargs, exc, message):
    a = np.full((2, 8), 0x38, dtype=np.uint64)
    with pytest.raises(exc, match=message):
        dot.dot(a, a, E4M3, **kwargs)
