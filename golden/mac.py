"""Integer multiply-accumulate: the sums of `hdl.dsp.MAC` (and of integer MAC arrays).

Products are exact (`golden.ops.mul` into an IntFormat twice as wide); the sum of each row
wraps around modulo 2^acc_bits in two's complement, as an acc_bits-bit register does.
"""

import numpy as np

from . import checks, formats, ops

__all__ = ["mac_sums"]


def mac_sums(a, b, fmt, *, acc_bits=32):
    """``sum(a[v, k] * b[v, k] for k) mod 2^acc_bits`` per row v, as acc_bits-bit codes.

    Parameters
    ----------
    a, b : array_like
        Code arrays of IntFormat `fmt`, of the same shape (vectors, K).
    fmt : IntFormat
        Operand format, signed or unsigned.
    acc_bits : int
        Accumulator width, 1..64.

    Returns
    -------
    numpy.ndarray of uint64, shape (vectors,)
    """
    if not isinstance(fmt, formats.IntFormat):
        raise TypeError(f"fmt must be an IntFormat, not {fmt!r}")
    acc_bits = checks.integer("acc_bits", acc_bits, lo=1, hi=64)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be code arrays of the same shape (vectors, K), not "
                         f"{a.shape} and {b.shape}")
    product_fmt = formats.IntFormat(2 * fmt.bits, fmt.signed)
    products = product_fmt.decode_int(ops.mul(a, b, fmt, product_fmt)).astype(object)
    sums = products.sum(axis=1) if a.shape[1] else np.zeros(a.shape[0], dtype=object)
    return np.array([int(s) & ((1 << acc_bits) - 1) for s in sums], dtype=np.uint64)
