"""golden/mac.py against plain Python integer arithmetic, step by step."""

import numpy as np
import pytest

from golden import formats, mac

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
