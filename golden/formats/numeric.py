"""Vectorized integer helpers shared by the format families and the operators.

Everything works on NumPy arrays of ``uint64`` magnitudes and ``int64`` exponents, exactly
(no float arithmetic except the exact float64 split).
"""

import numpy as np

__all__ = ["U0", "U1", "flat", "bit_length", "rshift_round", "as_codes", "split_float64",
           "float_inputs", "set_frozen"]

U0 = np.uint64(0)
U1 = np.uint64(1)


def set_frozen(obj, **attrs):
    """Set attributes of a frozen dataclass instance (derived attributes, in __post_init__)."""
    for key, value in attrs.items():
        object.__setattr__(obj, key, value)


def flat(sign, sig, exp):
    """Broadcast (sign, sig, exp) and flatten them (1-D: no NumPy scalar arithmetic).

    Returns
    -------
    tuple
        ``(shape, sign bool, sig uint64, exp int64)``, the arrays 1-D.
    """
    sign = np.asarray(sign).astype(bool)
    sig = np.asarray(sig, dtype=np.uint64)
    exp = np.asarray(exp, dtype=np.int64)
    sign, sig, exp = np.broadcast_arrays(sign, sig, exp)
    return sign.shape, sign.ravel(), sig.ravel(), exp.ravel()


def bit_length(x):
    """Bit length of each element of a uint64 array (0 for 0), as int64."""
    x = np.array(x, dtype=np.uint64)
    n = np.zeros(x.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = x >= (U1 << np.uint64(s))
        x = np.where(big, x >> np.uint64(s), x)
        n += np.where(big, s, 0)
    return n + (x > 0)


def rshift_round(sig, shift, negative, mode):
    """Round sig / 2**shift to an integer magnitude (uint64); shift >= 0 (int64 array).

    Parameters
    ----------
    sig : array of uint64
    shift : array of int64
        Any size (>= 64 drops every bit).
    negative : array of bool
        The sign of the value whose magnitude `sig` is (used by ``"floor"`` only).
    mode : str
        ``"rne"`` (nearest, ties to even), ``"trunc"`` (toward zero) or ``"floor"``
        (toward -inf).
    """
    sig = np.asarray(sig, dtype=np.uint64)
    shift = np.asarray(shift, dtype=np.int64)
    small = shift < 64
    sh = np.where(small, shift, 0).astype(np.uint64)
    q = np.where(small, sig >> sh, U0)
    rem = np.where(small, sig & ((U1 << sh) - U1), sig)          # every bit dropped if >= 64
    if mode == "rne":
        half = np.where((shift >= 1) & (shift <= 64),
                        U1 << (np.clip(shift, 1, 64) - 1).astype(np.uint64), U0)
        tie_up = (rem == half) & ((q & U1) == U1)
        up = (shift >= 1) & (shift <= 64) & ((rem > half) | tie_up)
    elif mode == "floor":
        up = (rem != 0) & np.asarray(negative, dtype=bool)
    else:                                                          # trunc
        up = np.zeros(q.shape, dtype=bool)
    return q + up.astype(np.uint64)


def as_codes(codes, bits, fmt):
    """Codes as a uint64 array.

    Raises
    ------
    TypeError
        Codes that are not integers.
    ValueError
        Naming `fmt`, if any code is outside 0..2**bits - 1.
    """
    arr = np.asarray(codes)
    if arr.dtype.kind == "O":
        items = arr.ravel().tolist()
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise TypeError(f"codes must be integers, not {arr.dtype}")
        bad = [c for c in items if not 0 <= c < (1 << bits)]
        if bad:
            raise ValueError(f"codes must be in 0..{(1 << bits) - 1} for {fmt}, not {bad[0]}")
        return np.array(items, dtype=np.uint64).reshape(arr.shape)
    if arr.size == 0:
        return arr.astype(np.uint64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"codes must be an array of integers, not {arr.dtype}")
    if arr.size:
        if arr.dtype.kind == "i" and arr.min() < 0:
            raise ValueError(f"codes must be in 0..{(1 << bits) - 1} for {fmt}, not {arr.min()}")
        top = arr.max()
        if int(top) >= (1 << bits):
            raise ValueError(f"codes must be in 0..{(1 << bits) - 1} for {fmt}, not {top}")
    return arr.astype(np.uint64)


def split_float64(x):
    """Exact split of finite float64 values: |x| = sig * 2**exp, sig < 2**53 (0 for 0)."""
    mant, exp = np.frexp(np.abs(x))
    sig = np.ldexp(mant, 53).astype(np.uint64)
    return sig, exp.astype(np.int64) - 53


def float_inputs(x):
    """float64 inputs split for encoding: ``(x, sign, sig, exp, nan, inf)``.

    ``(-1)**sign * sig * 2**exp`` is x exactly where x is finite (sig 0 for NaN and ±inf).
    """
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    inf = np.isinf(x)
    sign = np.signbit(x)
    sig, exp = split_float64(np.where(nan | inf, 0.0, x))
    return x, sign, sig, exp, nan, inf
