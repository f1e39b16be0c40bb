"""golden/mac.py against plain Python integer arithmetic, step by step; its FP matrix
product against float32 arithmetic on ml_dtypes' decoding and exact Fraction sums."""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from golden import dot, formats, mac

INT4, INT8, UINT8, INT16 = (formats.IntFormat(4, True), formats.IntFormat(8, True),
                            formats.IntFormat(8, False), formats.IntFormat(16, True))


def _value(code, fmt):
    code = int(code)
    return code - (1 << fmt.bits) if fmt.signed and code >> (fmt.bits - 1) else code


def _reference(xs, ws, a_fmt, b_fmt, acc_bits, overflow):
    """The register, one product at a time (k ascending)."""
    signed = a_fmt.signed or b_fmt.signed
    lo, hi = mac.accumulator_range(acc_bits, signed)
    acc = 0
    for x, w in zip(xs, ws):
        acc += _value(x, a_fmt) * _value(w, b_fmt)
        if overflow == "saturate":
            acc = min(max(acc, lo), hi)
    return acc % (1 << acc_bits)


@pytest.mark.parametrize("a_fmt,b_fmt,acc_bits", [
    (INT8, INT8, 20), (INT4, INT8, 14), (UINT8, UINT8, 17), (UINT8, INT8, 18),
    (INT16, INT16, 40), (INT8, INT8, 64), (formats.IntFormat(32, False), UINT8, 64)])
@pytest.mark.parametrize("overflow", mac.OVERFLOWS)
def test_gemm_matches_python_integers(a_fmt, b_fmt, acc_bits, overflow):
    rng = np.random.default_rng(acc_bits)
    m, k, n = 5, 300, 4
    a = rng.integers(0, 1 << a_fmt.bits, size=(m, k), dtype=np.uint64)
    b = rng.integers(0, 1 << b_fmt.bits, size=(k, n), dtype=np.uint64)
    # Rows and columns of extreme codes, so that both overflow modes are reached.
    a[0] = a_fmt.encode(np.full(k, a_fmt.max_value))
    b[:, 0] = b_fmt.encode(np.full(k, b_fmt.max_value))
    if a_fmt.signed:
        a[1] = a_fmt.encode(np.full(k, a_fmt.min_value))
    got = mac.gemm(a, b, a_fmt, b_fmt, acc_bits=acc_bits, overflow=overflow)
    assert got.shape == (m, n) and got.dtype == np.uint64
    for i in range(m):
        for j in range(n):
            assert int(got[i, j]) == _reference(a[i], b[:, j], a_fmt, b_fmt, acc_bits,
                                                overflow), (i, j)
    columns = np.arange(m) % n           # mac_sums: row i of a with column i % n of b
    rows = mac.mac_sums(a, b.T[columns], a_fmt, b_fmt=b_fmt, acc_bits=acc_bits,
                        overflow=overflow)
    for i, j in enumerate(columns):
        assert int(rows[i]) == _reference(a[i], b[:, j], a_fmt, b_fmt, acc_bits, overflow)


def test_saturation_is_applied_at_every_step():
    """+127*1 ... into an 8-bit register: saturates at 127, then -1 gives 126 (wrapping
    would give a different value)."""
    a = INT8.encode(np.array([[127, 1, -1]], dtype=np.float64))
    b = INT8.encode(np.array([[1], [1], [1]], dtype=np.float64))
    sat = mac.gemm(a, b, INT8, acc_bits=8, overflow="saturate")
    wrap = mac.gemm(a, b, INT8, acc_bits=8, overflow="wrap")
    assert int(sat[0, 0]) == 126
    assert int(wrap[0, 0]) == 127


def test_empty_reduction_is_zero():
    assert mac.gemm(np.zeros((2, 0), np.uint64), np.zeros((0, 3), np.uint64), INT8,
                    acc_bits=16).tolist() == [[0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("kwargs,exc,message", [
    ({"acc_bits": 0}, ValueError, r"acc_bits must be in 1\.\.64, not 0"),
    ({"acc_bits": 16, "overflow": "clip"}, ValueError,
     r"overflow must be one of 'wrap', 'saturate', not 'clip'"),
    ({"acc_bits": 16, "b_fmt": formats.BF16}, TypeError, r"b_fmt must be an IntFormat"),
])
def test_bad_parameters(kwargs, exc, message):
    a = np.zeros((2, 3), np.uint64)
    with pytest.raises(exc, match=message):
        mac.gemm(a, a.T, INT8, **kwargs)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(M, K\) and \(K, N\)"):
        mac.gemm(np.zeros((2, 3), np.uint64), np.zeros((2, 3), np.uint64), INT8, acc_bits=16)


# --- fp_gemm ----------------------------------------------------------------------------------

ML_DTYPES = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
             "bf16": ml_dtypes.bfloat16}


def _finite_codes(fmt, shape, rng):
    """Random finite codes of `fmt` (any exponent, zeros and subnormals included)."""
    codes = rng.integers(0, 1 << fmt.bits, size=shape, dtype=np.uint64)
    _, _, _, nan, inf = fmt.decompose(codes)
    return np.where(nan | inf, np.uint64(0), codes)


def _values(codes, fmt):
    """float32 values of `fmt` codes, decoded by ml_dtypes (not by golden)."""
    storage = np.uint8 if fmt.bits == 8 else np.uint16
    return codes.astype(storage).view(ML_DTYPES[str(fmt)]).astype(np.float32)


@pytest.mark.parametrize("fmt", [formats.FP8_E4M3, formats.FP8_E5M2, formats.BF16], ids=str)
def test_fp_gemm_exact_fp32_is_float32_arithmetic(fmt):
    """Exact products (exact in float32 for these formats) added in float32, k ascending,
    from +0."""
    rng = np.random.default_rng(11)
    a, b = _finite_codes(fmt, (7, 40), rng), _finite_codes(fmt, (40, 5), rng)
    if fmt == formats.BF16:                   # (keep most sums finite)
        a &= np.uint64(0xC7FF)
        b &= np.uint64(0xC7FF)
    got = mac.fp_gemm(a, b, fmt, mul="exact", acc="fp32")
    x, w = _values(a, fmt), _values(b, fmt)
    acc = np.zeros((7, 5), dtype=np.float32)
    for k in range(40):
        acc = acc + x[:, k:k + 1] * w[k:k + 1, :]
    assert got.tolist() == acc.view(np.uint32).astype(np.uint64).tolist()


def test_fp_gemm_exact_kulisch_is_the_exact_sum_rounded_once():
    """E4M3, K = 16: the exact sum (Fractions) spans fewer than 53 bits, so float64 holds it
    and float32 rounds it once; cancellations give +0."""
    fmt = formats.FP8_E4M3
    rng = np.random.default_rng(12)
    a, b = _finite_codes(fmt, (6, 16), rng), _finite_codes(fmt, (16, 4), rng)
    a[0, 8:], b[8:, 0] = a[0, :8], b[:8, 0] ^ np.uint64(0x80)          # sum 0
    got = mac.fp_gemm(a, b, fmt, mul="exact", acc="kulisch", guard_bits=4)
    x, w = _values(a, fmt).astype(np.float64), _values(b, fmt).astype(np.float64)
    want = np.zeros((6, 4), dtype=np.float32)
    for m in range(6):
        for n in range(4):
            total = sum((Fraction(float(x[m, k])) * Fraction(float(w[k, n]))
                         for k in range(16)), Fraction(0))
            want[m, n] = np.float32(float(total))
    assert got.tolist() == want.view(np.uint32).astype(np.uint64).tolist()
    assert got[0, 0] == 0


@pytest.mark.parametrize("acc", ["fp32", "kulisch"])
def test_fp_gemm_lmul_is_the_dot_product_of_rows_and_columns(acc):
    fmt = formats.FP8_E5M2
    rng = np.random.default_rng(13)
    a = rng.integers(0, 256, size=(3, 9), dtype=np.uint64)
    b = rng.integers(0, 256, size=(9, 4), dtype=np.uint64)
    got = mac.fp_gemm(a, b, fmt, mul="lmul", acc=acc, guard_bits=4)
    for m in range(3):
        for n in range(4):
            one = dot.dot(a[m:m + 1], b[:, n][None, :], fmt, lanes=1, mul="lmul", acc=acc,
                          guard_bits=4)
            assert got[m, n] == one[0]


def test_fp_gemm_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(M, K\) and \(K, N\)"):
        mac.fp_gemm(np.zeros((2, 3), np.uint64), np.zeros((2, 3), np.uint64),
                    formats.FP8_E4M3)
