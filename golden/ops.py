"""Operators on codes, bit-exact: each result is the exact result rounded once.

Operands and results are NumPy arrays of unsigned codes of a `golden.formats` format:
`mul` (every family), `add` (floats and posits), and the posit quire's fused dot product
`quire_dot` (exact sum of products, rounded once), with its register size `quire_range`.
"""

import numpy as np

from . import checks, formats

__all__ = ["mul", "add", "round_ints", "quire_range", "quire_dot"]


def _family(fmt):
    for cls in (formats.FloatFormat, formats.PositFormat, formats.IntFormat,
                formats.FixedFormat):
        if isinstance(fmt, cls):
            return cls
    raise TypeError(f"fmt must be a FloatFormat, PositFormat, IntFormat or FixedFormat, "
                    f"not {fmt!r}")


def mul(a, b, fmt, out_fmt=None):
    """Correctly rounded product of code arrays `a` and `b` (broadcast) of format `fmt`.

    The exact product is rounded once into `out_fmt` (default `fmt`), with `out_fmt`'s
    rounding, subnormal, special-value and overflow policies (see `golden.formats`).

    ============  ====================================  ===================================
    family        operands                              result
    ============  ====================================  ===================================
    FloatFormat   NaN × anything, ±Inf × ±0             canonical NaN of out_fmt
                                                        (ValueError if out_fmt has no NaN)
    FloatFormat   ±Inf × nonzero finite, ±Inf × ±Inf    ±Inf, then out_fmt's policy: Inf,
                                                        else ±max if saturating, else NaN
    FloatFormat   ±0 × finite (incl. flushed            zero, sign = xor of signs
                  subnormals when subnormals=False)     (+0 in fnuz)
    FloatFormat   finite × finite                       exact product rounded once (RNE),
                                                        then overflow/underflow policies
    PositFormat   NaR × anything                        NaR
    PositFormat   0 × non-NaR                           0
    PositFormat   nonzero × nonzero                     exact product rounded once on the
                                                        pattern; never 0 or NaR
    IntFormat     any                                   exact product, saturated into
                                                        out_fmt (default IntFormat(2 ×
                                                        bits, signed): exact)
    FixedFormat   any                                   exact product, rounded/overflowed
                                                        per out_fmt (default FixedFormat(2
                                                        × int_bits, 2 × frac_bits): exact)
    ============  ====================================  ===================================

    Parameters
    ----------
    a, b : array-like of int
        Codes of `fmt` (ValueError if out of range).
    fmt : FloatFormat, PositFormat, IntFormat or FixedFormat
    out_fmt : same family as `fmt`, optional

    Returns
    -------
    numpy.ndarray of uint64
        Codes of `out_fmt`.

    Raises
    ------
    ValueError
        Mixed families; a FloatFormat whose significand product needs more than 64 bits
        (2 × (man_bits + 1) > 64), an integer/fixed product wider than 64 bits; a NaN
        result in an out_fmt without NaN.
    """
    family = _family(fmt)
    if out_fmt is None:
        if family is formats.IntFormat:
            if 2 * fmt.bits > 64:
                raise ValueError(f"the exact product of {fmt} needs {2 * fmt.bits} bits "
                                 f"(at most 64): give a narrower out_fmt")
            out_fmt = formats.IntFormat(2 * fmt.bits, fmt.signed)
        elif family is formats.FixedFormat:
            if 2 * fmt.bits > 64:
                raise ValueError(f"the exact product of {fmt} needs {2 * fmt.bits} bits "
                                 f"(at most 64): give a narrower out_fmt")
            out_fmt = formats.FixedFormat(2 * fmt.int_bits, 2 * fmt.frac_bits, fmt.signed)
        else:
            out_fmt = fmt
    elif not isinstance(out_fmt, family):
        raise ValueError(f"mul needs fmt and out_fmt of the same family, not "
                         f"{type(fmt).__name__} ({fmt}) and {type(out_fmt).__name__} "
                         f"({out_fmt})")
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))

    if family is formats.FloatFormat:
        if 2 * (fmt.man_bits + 1) > 64:
            raise ValueError(f"mul of {fmt} needs a {2 * (fmt.man_bits + 1)}-bit significand "
                             f"product; at most 64 bits are supported (man_bits <= 31)")
        sa, ma, ea, nan_a, inf_a = fmt.decompose(a)
        sb, mb, eb, nan_b, inf_b = fmt.decompose(b)
        sign = sa ^ sb
        zero_a, zero_b = (ma == 0) & ~nan_a & ~inf_a, (mb == 0) & ~nan_b & ~inf_b
        nan = nan_a | nan_b | (inf_a & zero_b) | (zero_a & inf_b)
        inf = (inf_a | inf_b) & ~nan
        # zero operands give ±0
        return out_fmt.round_specials(sign, ma * mb, ea + eb, nan=nan, inf=inf,
                                      what="product(s) (NaN operand or 0 × Inf)",
                                      label="out_fmt ")

    if family is formats.PositFormat:
        sa, ma, ea, nar_a = fmt.decompose(a)
        sb, mb, eb, nar_b = fmt.decompose(b)
        code = out_fmt.round_exact(sa ^ sb, ma * mb, ea + eb)  # zero operands -> 0
        return np.where(nar_a | nar_b, np.uint64(out_fmt.nar_code), code)

    # IntFormat / FixedFormat: the magnitude product must fit in 64 bits.
    if fmt.bits > 32:
        raise ValueError(f"mul of {fmt} needs a {2 * fmt.bits}-bit product; at most 64 bits "
                         f"are supported (bits <= 32)")
    sa, ma, ea = fmt.decompose(a)
    sb, mb, eb = fmt.decompose(b)
    return out_fmt.round_exact(sa ^ sb, ma * mb, ea + eb)


# --- exactly rounded addition -----------------------------------------------------------------

def round_ints(fmt, sign, mag, exp):
    """Codes of (-1)**sign * mag * 2**exp for exact Python-int magnitudes (object arrays),
    rounded once into `fmt` (a FloatFormat or PositFormat): magnitudes wider than 62 bits
    are cut to 62 bits with a sticky bit (exact for rounding to at most 53 bits), then
    `fmt.round_exact` rounds."""
    sig = np.empty(mag.shape, dtype=np.uint64)
    e = np.empty(mag.shape, dtype=np.int64)
    for index, (value, power) in enumerate(zip(mag.tolist(), exp.tolist())):
        cut = max(value.bit_length() - 62, 0)
        kept = value >> cut
        if cut and value & ((1 << cut) - 1):
            kept |= 1                                   # sticky: below every rounding bit
        sig[index] = kept
        e[index] = power + cut
    return fmt.round_exact(sign, sig, e)


def _exact_sum(sx, mx, ex, sy, my, ey):
    """The exact sum of two split values, (-1)**s * m * 2**e each (flat arrays): (negative,
    magnitude as Python ints (object array), exponent of its unit, zero)."""
    low = np.minimum(ex, ey)
    vx = np.array([int(m) << int(s) for m, s in zip(mx, ex - low)] or [], dtype=object)
    vy = np.array([int(m) << int(s) for m, s in zip(my, ey - low)] or [], dtype=object)
    total = np.where(sx, -vx, vx) + np.where(sy, -vy, vy) if vx.size else vx
    negative = np.array([t < 0 for t in total.tolist()], dtype=bool)
    mag = np.array([abs(t) for t in total.tolist()], dtype=object)
    zero = np.array([t == 0 for t in total.tolist()], dtype=bool)
    return negative, mag, low, zero


def add(x, y, fmt):
    """Sum of code arrays `x` and `y` (broadcast) of `fmt`, rounded once.

    FloatFormat (RNE): NaN + anything and +Inf + -Inf give the canonical NaN; ±Inf + finite
    gives ±Inf (per fmt's policy); an exact zero sum is +0, except (-0) + (-0) = -0 (IEEE
    754, round to nearest); otherwise the exact sum rounded once with fmt's subnormal and
    overflow policies.

    PositFormat: NaR + anything is NaR; an exact zero sum is 0; otherwise the exact sum
    rounded once on the bit pattern (`PositFormat.round_exact`: never 0, never NaR,
    saturating at ±maxpos).
    """
    if not isinstance(fmt, (formats.FloatFormat, formats.PositFormat)):
        raise TypeError(f"fmt must be a FloatFormat or PositFormat, not {fmt!r}")
    x, y = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    shape = x.shape
    if isinstance(fmt, formats.PositFormat):
        sx, mx, ex, nar_x = (a.ravel() for a in fmt.decompose(x.ravel()))
        sy, my, ey, nar_y = (a.ravel() for a in fmt.decompose(y.ravel()))
        negative, mag, low, zero = _exact_sum(sx, mx, ex, sy, my, ey)
        code = round_ints(fmt, negative, mag, low) if mag.size else np.zeros(0, np.uint64)
        code = np.where(zero, np.uint64(0), code)
        return np.where(nar_x | nar_y, np.uint64(fmt.nar_code), code).reshape(shape)
    sx, mx, ex, nan_x, inf_x = (a.ravel() for a in fmt.decompose(x.ravel()))
    sy, my, ey, nan_y, inf_y = (a.ravel() for a in fmt.decompose(y.ravel()))
    negative, mag, low, zero = _exact_sum(sx, mx, ex, sy, my, ey)
    code = round_ints(fmt, negative, mag, low) if mag.size else np.zeros(0, np.uint64)
    both_negative_zeros = zero & sx & sy & (mx == 0) & (my == 0)
    code = np.where(zero, fmt._zero(both_negative_zeros), code)
    inf = inf_x | inf_y
    code = np.where(inf, fmt._inf_result(np.where(inf_x, sx, sy)), code)
    nan = nan_x | nan_y | (inf_x & inf_y & (sx != sy))
    if nan.any():
        if not fmt.has_nan:
            raise ValueError(f"{fmt} has no NaN for {int(nan.sum())} NaN sum(s)")
        code = np.where(nan, np.uint64(fmt.nan_code), code)
    return code.reshape(shape)


# --- the quire --------------------------------------------------------------------------------

def _check_posit(name, fmt):
    if not isinstance(fmt, formats.PositFormat):
        raise TypeError(f"{name} must be a PositFormat, not {fmt!r}")


def quire_range(fmt, guard_bits=None):
    """(lsb, width, guard_bits) of the quire of PositFormat `fmt`: a two's complement
    fixed-point register whose least significant bit weighs minpos**2 = 2**lsb and whose
    `width` bits hold the sum of 2**guard_bits products of any two posits exactly (every
    product is a multiple of minpos**2 and at most maxpos**2):
    ``width = 4 * 2**es * (n - 2) + 2 + guard_bits``. The default ``guard_bits = n - 2``
    gives the sizes of the Posit Standard's quire (512 bits for posit32_2) and of
    softposit's quire8 and quire16 (32 and 128 bits)."""
    _check_posit("fmt", fmt)
    if guard_bits is None:
        guard_bits = fmt.n - 2
    guard_bits = checks.integer("guard_bits", guard_bits, lo=1, hi=32)
    span = (1 << fmt.es) * (fmt.n - 2)              # maxpos = 2**span, minpos = 2**-span
    return -2 * span, 4 * span + 2 + guard_bits, guard_bits


def quire_dot(a, b, fmt, *, guard_bits=None, out_fmt=None):
    """Fused dot products of the rows of `a` and `b` (code arrays of shape (vectors, K))
    of PositFormat `fmt`, with a quire: every product is exact, their sum is exact, and it
    is rounded once into `out_fmt` (a PositFormat, default `fmt`) on the bit pattern, as
    `PositFormat.round_exact`. A NaR operand makes the row's result NaR; an exact zero sum
    is 0. The order of the terms does not matter.

    ValueError if K exceeds the quire's 2**guard_bits terms (`quire_range`)."""
    _check_posit("fmt", fmt)
    out_fmt = fmt if out_fmt is None else out_fmt
    _check_posit("out_fmt", out_fmt)
    lsb, _, guard_bits = quire_range(fmt, guard_bits)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be code arrays of the same shape (vectors, K), not "
                         f"{a.shape} and {b.shape}")
    vectors, terms = a.shape
    if terms > 1 << guard_bits:
        raise ValueError(f"K = {terms} terms exceed the quire's 2**guard_bits = "
                         f"{1 << guard_bits}: raise guard_bits")
    sa, ma, ea, nar_a = fmt.decompose(a)
    sb, mb, eb, nar_b = fmt.decompose(b)
    sign, sig, exp = sa ^ sb, ma * mb, ea + eb
    total = np.array([sum((-1 if s else 1) * (int(g) << int(e - lsb))
                          for s, g, e in zip(*row) if g)
                      for row in zip(sign.tolist(), sig.tolist(), exp.tolist())],
                     dtype=object).reshape(vectors)
    negative = np.array([t < 0 for t in total.tolist()], dtype=bool)
    mag = np.array([abs(t) for t in total.tolist()], dtype=object)
    code = round_ints(out_fmt, negative, mag, np.full(vectors, lsb, dtype=np.int64))
    zero = np.array([t == 0 for t in total.tolist()], dtype=bool)
    code = np.where(zero, np.uint64(0), code)
    return np.where((nar_a | nar_b).any(axis=1), np.uint64(out_fmt.nar_code), code)
