"""Multiply-accumulate: the sums of `hdl.dsp.MAC` and of the MAC arrays (integer and FP).

Products are exact. Each sum runs in an acc_bits-bit two's complement register (unsigned
when both operand formats are), in the order of the reduction index k = 0, 1, ...:

- ``overflow="wrap"``: modulo 2^acc_bits (the order does not matter);
- ``overflow="saturate"``: every partial sum is clamped to the register's range before the
  next product is added (so the order matters: +max, +1, -1 gives max - 1).

The result codes are the register's acc_bits bits (uint64).

`fp_gemm` is the matrix product of the arrays' floating-point PEs, defined by
`golden.dot.dot` with one lane.
"""

import numpy as np

from . import checks, dot, formats

__all__ = ["OVERFLOWS", "accumulator_range", "mac_sums", "gemm", "fp_gemm"]

OVERFLOWS = ("wrap", "saturate")


def accumulator_range(acc_bits, signed):
    """(lowest, highest) value of an acc_bits-bit register, two's complement if `signed`."""
    if signed:
        return -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    return 0, (1 << acc_bits) - 1


def _check(a_fmt, b_fmt, acc_bits, overflow):
    for name, fmt in (("a_fmt", a_fmt), ("b_fmt", b_fmt)):
        if not isinstance(fmt, formats.IntFormat):
            raise TypeError(f"{name} must be an IntFormat, not {fmt!r}")
    checks.choice("overflow", overflow, OVERFLOWS)
    return checks.integer("acc_bits", acc_bits, lo=1, hi=64)


def _products(x, w, a_fmt, b_fmt, k):
    """Exact products x * w: int64 when every partial sum of `k` of them fits, else
    Python ints (object arrays)."""
    if a_fmt.bits + b_fmt.bits + max(k, 1).bit_length() <= 62:
        return x.astype(np.int64) * w.astype(np.int64)
    return x.astype(object) * w.astype(object)


def _accumulate(products, acc_bits, signed, overflow):
    """Sum `products` (reduction along the last axis) as the register does; returns the
    acc_bits-bit codes (uint64)."""
    if overflow == "wrap":
        sums = products.sum(axis=-1, dtype=products.dtype)
    else:
        lo, hi = accumulator_range(acc_bits, signed)
        if products.dtype == np.int64:      # (partial sums stay within +-2^62 there)
            lo, hi = max(lo, -(1 << 62)), min(hi, 1 << 62)
        sums = np.zeros(products.shape[:-1], dtype=products.dtype)
        for k in range(products.shape[-1]):
            sums = np.minimum(np.maximum(sums + products[..., k], lo), hi)
    mask = (1 << acc_bits) - 1
    return np.array([int(v) & mask for v in np.ravel(sums)],
                    dtype=np.uint64).reshape(sums.shape)


def mac_sums(a, b, fmt, *, acc_bits=32, b_fmt=None, overflow="wrap"):
    """``sum(a[v, k] * b[v, k] for k)`` per row v, in the acc_bits-bit register.

    Parameters
    ----------
    a, b : array_like
        Code arrays of the same shape (vectors, K): `a` of IntFormat `fmt`, `b` of `b_fmt`
        (default `fmt`).
    acc_bits : int
        Register width, 1..64.
    overflow : "wrap" or "saturate"
        See the module docstring.

    Returns
    -------
    numpy.ndarray of uint64, shape (vectors,)
    """
    b_fmt = fmt if b_fmt is None else b_fmt
    acc_bits = _check(fmt, b_fmt, acc_bits, overflow)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be code arrays of the same shape (vectors, K), not "
                         f"{a.shape} and {b.shape}")
    products = _products(fmt.decode_int(a), b_fmt.decode_int(b), fmt, b_fmt, a.shape[1])
    return _accumulate(products, acc_bits, fmt.signed or b_fmt.signed, overflow)


def gemm(a, b, a_fmt, b_fmt=None, *, acc_bits, overflow="wrap"):
    """The integer matrix product ``C[m, n] = sum(A[m, k] * B[k, n] for k)`` in
    acc_bits-bit registers, k ascending (as `mac_sums`).

    `a`: (M, K) codes of IntFormat `a_fmt`; `b`: (K, N) codes of `b_fmt` (default `a_fmt`).
    Returns (M, N) uint64 codes.
    """
    b_fmt = a_fmt if b_fmt is None else b_fmt
    acc_bits = _check(a_fmt, b_fmt, acc_bits, overflow)
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"a and b must be code matrices (M, K) and (K, N), not {a.shape} "
                         f"and {b.shape}")
    products = _products(a_fmt.decode_int(a)[:, None, :], b_fmt.decode_int(b).T[None, :, :],
                         a_fmt, b_fmt, a.shape[1])                     # (M, N, K)
    return _accumulate(products, acc_bits, a_fmt.signed or b_fmt.signed, overflow)


def fp_gemm(a, b, fmt, *, mul="exact", acc="fp32", guard_bits=16):
    """The floating-point matrix product of an FP MAC array, ``C[m, n]`` one FP32 code:
    ``golden.dot.dot(A[m, :], B[:, n], fmt, lanes=1, mul=, acc=, guard_bits=)``. That is,
    k ascending: ``mul`` products ("exact", or "lmul" with L-Mul's defaults); with
    ``acc="fp32"`` each rounded into FP32 and added to an FP32 sum that starts at +0
    (RNE at each add); with ``acc="kulisch"`` summed exactly (at most 2**guard_bits terms)
    and rounded into FP32 once.

    `a`: (M, K) codes of FloatFormat `fmt`; `b`: (K, N) codes of `fmt`. Returns (M, N)
    uint64 codes of FP32.
    """
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"a and b must be code matrices (M, K) and (K, N), not {a.shape} "
                         f"and {b.shape}")
    (m, k), n = a.shape, b.shape[1]
    rows = np.broadcast_to(a[:, None, :], (m, n, k)).reshape(m * n, k)
    cols = np.broadcast_to(b.T[None, :, :], (m, n, k)).reshape(m * n, k)
    return dot.dot(rows, cols, fmt, lanes=1, mul=mul, acc=acc,
                   guard_bits=guard_bits).reshape(m, n)
