"""Operators on codes, bit-exact: each result is the exact result rounded once.

Operands and results are NumPy arrays of unsigned codes of a `golden.formats` format.
"""

import numpy as np

from . import formats

__all__ = ["mul"]


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
