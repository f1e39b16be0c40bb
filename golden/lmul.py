"""L-Mul: floating-point multiplication approximated by one integer addition, bit-exact.

"Addition is All You Need for Energy-efficient Language Models" (Luo & Sun, 2024) replaces
the product of normal x = (-1)**sx * (1 + xm) * 2**xe and y = (-1)**sy * (1 + ym) * 2**ye
(m mantissa bits) by

    L-Mul(x, y) = (-1)**(sx ^ sy) * (1 + xm + ym + 2**-l(m)) * 2**(xe + ye),
    l(m) = m for m <= 3, l(4) = 3, l(m) = 4 for m > 4,

and emulates it on GPUs by adding the two codes, sign bits removed, as one integer and
subtracting the constant (bias << m) - 2**(m - l(m)) (55 for E4M3, 0x3F78 for BF16,
0x3F780000 for FP32), so that a carry out of the mantissa rolls into the exponent.

`lmul` defines both readings exactly, as an integer triple (sign, sig, exp) whose value
(-1)**sign * sig * 2**exp is then rounded once by ``out_fmt.round_exact``: L-Mul shares
the one rounding, overflow and underflow implementation of `golden.formats`. The
hardware (hdl/lmul.py) is checked bit for bit against this model.

Example
-------
>>> from golden import formats, lmul
>>> e4m3 = formats.FP8_E4M3
>>> codes = e4m3.encode([1.5, 1.25, -3.0])
>>> [hex(c) for c in lmul.lmul(codes, codes, e4m3)]   # 1.25 * 1.25 = 1.5625 -> 1.625
['0x41', '0x3d', '0x51']
>>> e4m3.decode(lmul.lmul(codes, codes, e4m3, carry="formula")).tolist()
[2.0, 1.625, 8.0]
"""

import numpy as np

from . import checks, formats
from .formats import numeric

__all__ = ["lmul", "l_of_m", "offset_ulps", "check_params", "paper_constant", "CARRY_MODES",
           "SUBNORMAL_INPUTS"]

CARRY_MODES = ("integer", "formula")
SUBNORMAL_INPUTS = ("flush", "normalize")

_U0 = np.uint64(0)
_U1 = np.uint64(1)


def l_of_m(m):
    """The paper's l(m): m for m <= 3, 3 for m = 4, 4 for m > 4."""
    return m if m <= 3 else (3 if m == 4 else 4)


def offset_ulps(man_bits, offset):
    """The offset added to the mantissa sum, in ulps (units of 2**-man_bits).

    ``"paper"``: 2**(man_bits - l(man_bits)); ``"none"``: 0 (Mitchell's approximation);
    an integer: itself, which must lie in 0..2**man_bits - 1 (an offset below 1.0, i.e. one
    that fits the mantissa field).
    """
    if isinstance(offset, str):
        if offset == "paper":
            return 1 << (man_bits - l_of_m(man_bits))
        if offset == "none":
            return 0
        raise ValueError(f"offset must be 'paper', 'none' or an integer number of ulps, "
                         f"not {offset!r}")
    if isinstance(offset, bool) or not hasattr(type(offset), "__index__"):
        raise TypeError(f"offset must be 'paper', 'none' or an integer number of ulps, "
                        f"not {offset!r}")
    return checks.integer("offset", offset, lo=0, hi=(1 << man_bits) - 1,
                          extra=f" ulps for a {man_bits}-bit mantissa (an offset below 1.0, "
                                f"no larger than the mantissa)")


def paper_constant(fmt):
    """The paper's GPU-emulation constant for `fmt`: (bias << m) - 2**(m - l(m))."""
    return (fmt.bias << fmt.man_bits) - offset_ulps(fmt.man_bits, "paper")


def check_params(fmt, *, carry="integer", offset="paper", out_fmt=None,
                 subnormal_inputs="flush", special_values=True):
    """Validate L-Mul parameters; return ``(out_fmt, offset in ulps)``.

    Shared by `lmul` and hdl/lmul.py so that both reject the same combinations with the
    same messages: `TypeError` for a wrong type, `ValueError` naming the parameter for a
    bad value or an unsupported combination.
    """
    if not isinstance(fmt, formats.FloatFormat):
        raise TypeError(f"fmt must be a FloatFormat, not {fmt!r}")
    if out_fmt is None:
        out_fmt = fmt
    if not isinstance(out_fmt, formats.FloatFormat):
        raise TypeError(f"out_fmt must be a FloatFormat or None, not {out_fmt!r}")
    checks.choice("carry", carry, CARRY_MODES)
    ulps = offset_ulps(fmt.man_bits, offset)
    checks.choice("subnormal_inputs", subnormal_inputs, SUBNORMAL_INPUTS)
    checks.boolean("special_values", special_values)
    if out_fmt.man_bits < fmt.man_bits or out_fmt.exp_bits < fmt.exp_bits:
        raise ValueError(f"out_fmt {out_fmt} (E{out_fmt.exp_bits}M{out_fmt.man_bits}) is "
                         f"narrower than fmt {fmt} (E{fmt.exp_bits}M{fmt.man_bits}): out_fmt "
                         f"needs at least as many exponent and mantissa bits")
    if special_values:
        if (fmt.has_nan or fmt.has_inf) and not out_fmt.has_nan:
            raise ValueError(f"out_fmt {out_fmt} has no NaN, but L-Mul products of {fmt} can "
                             f"be NaN; choose an out_fmt with NaN")
    else:
        if subnormal_inputs != "flush":
            raise ValueError("subnormal_inputs must be 'flush' (the default) with "
                             "special_values=False: no input is decoded as subnormal then")
        if out_fmt.emax <= out_fmt.emin:
            raise ValueError(f"out_fmt {out_fmt} has a single normal binade; "
                             f"special_values=False needs two")
    return out_fmt, ulps


def _normalized(fmt, codes, flush):
    """(sign, fraction F < 2**m, unbiased exponent, zero, nan, inf): a nonzero finite code
    is exactly (1 + F / 2**m) * 2**exponent; subnormals are normalized, or zero if flushed."""
    m = fmt.man_bits
    sign, sig, exp, nan, inf = fmt.decompose(codes)
    if flush:
        sig = np.where(sig < (_U1 << np.uint64(m)), _U0, sig)     # subnormal -> zero
    zero = (sig == 0) & ~nan & ~inf
    length = numeric.bit_length(sig)
    shift = np.where(zero | nan | inf, 0, m + 1 - length).astype(np.uint64)
    frac = np.where(zero | nan | inf, _U0, (sig << shift) - (_U1 << np.uint64(m)))
    return sign, frac, exp + m - shift.astype(np.int64), zero, nan, inf


def _raw_fields(fmt, codes):
    """(sign, fraction F, exponent field E) of codes, nothing decoded as special."""
    c = numeric.as_codes(codes, fmt.bits, fmt)
    m = np.uint64(fmt.man_bits)
    sign = (c >> np.uint64(fmt.bits - 1)) == _U1
    efield = ((c >> m) & np.uint64((1 << fmt.exp_bits) - 1)).astype(np.int64)
    return sign, c & ((_U1 << m) - _U1), efield


def lmul(a, b, fmt, *, carry="integer", offset="paper", out_fmt=None,
         subnormal_inputs="flush", special_values=True):
    """L-Mul of code arrays `a` and `b` (broadcast) of format `fmt`; codes of `out_fmt`.

    Nonzero finite operands are read as x = (1 + F_x / 2**m) * 2**e_x (m = fmt.man_bits,
    F_x an m-bit integer), and with S = F_a + F_b + offset (offset in ulps of 2**-m):

    - ``carry="integer"`` (the paper's GPU emulation: the integer sum of the codes, read as
      a code): the mantissa sum's carries roll into the exponent, k = S >> m of them (0, 1
      or 2: S < 3 * 2**m), so the value is exactly
      (1 + (S mod 2**m) / 2**m) * 2**(e_a + e_b + k), i.e.
      ``sig = 2**m + (S mod 2**m)``, ``exp = e_a + e_b + k - m``.
    - ``carry="formula"``: the paper's formula evaluated exactly,
      (1 + (F_a + F_b + offset) / 2**m) * 2**(e_a + e_b), i.e. ``sig = 2**m + S``,
      ``exp = e_a + e_b - m``; sig has up to m + 2 bits (value in [1, 4)), so the
      renormalization by one place is a rounding, done once with the rest.

    The triple (sign, sig, exp), sign = s_a ^ s_b, is rounded once by
    ``out_fmt.round_exact``: round to nearest, ties to even (in integer mode the value has
    m + 1 significant bits and is exact in out_fmt unless it overflows or underflows), then
    out_fmt's overflow and underflow policies.

    Special values (``special_values=True``, the default):

    =================================  ===================================================
    operands                           result (codes of out_fmt)
    =================================  ===================================================
    NaN × anything                     canonical NaN (``out_fmt.nan_code``)
    ±Inf × ±0                          canonical NaN (a flushed subnormal counts as ±0)
    ±Inf × nonzero finite, ±Inf × ±Inf  ±Inf, sign s_a ^ s_b, then out_fmt's policy: Inf,
                                       else ±max if out_fmt saturates, else NaN
    ±0 × finite                        zero with sign s_a ^ s_b (+0 if out_fmt is fnuz)
    subnormal, ``subnormal_inputs=``   ``"flush"`` (default): a zero of the subnormal's sign
                                       (DAZ); ``"normalize"``: its exact value written as
                                       (1 + F / 2**m) * 2**e with e < emin, then L-Mul as
                                       for normals. (fmt without subnormals: E = 0 codes
                                       are zeros by the format's definition, either way.)
    normal × normal                    the L-Mul value above, rounded once (RNE)
    L-Mul value > out_fmt max          after rounding: ±Inf (``overflow="inf"``), canonical
                                       NaN (format with NaN but no Inf, e.g. E4M3), or
                                       ±max (``overflow="saturate"``)
    L-Mul value < out_fmt min normal   out_fmt with subnormals: rounded once to the
                                       subnormal grid (RNE; may give ±0 or ±min normal);
                                       without: rounded to m_out + 1 bits with an unbounded
                                       exponent, then ±0 if below min normal
    result rounds to zero              zero with sign s_a ^ s_b (+0 if out_fmt is fnuz)
    =================================  ===================================================

    ``special_values=False`` (unsafe for real data; measures what the special-value logic
    costs): every code is read as a normal number, (1 + F / 2**m) * 2**(E - bias) with its
    exponent field E as it is (E = 0 and E all ones included); the L-Mul value is formed and
    rounded as above with an unbounded exponent range, and the result code is the biased
    exponent and fraction as one integer, modulo 2**(out_fmt.bits - 1) (the exponent field
    wraps), with the sign bit s_a ^ s_b. Zeros, subnormals, NaN and Inf operands and
    overflowing or underflowing results give meaningless codes. With out_fmt = fmt and
    ``carry="integer"`` this is exactly the paper's emulation:
    ``sign | ((a & M) + (b & M) - paper_constant(fmt)) mod 2**(bits - 1)``, M the
    magnitude mask.

    Parameters
    ----------
    a, b : array-like of int
        Codes of `fmt` (ValueError if out of range).
    fmt : FloatFormat
        Operand format (any exponent and mantissa widths).
    carry : str
        ``"integer"`` (default) or ``"formula"``.
    offset : str or int
        ``"paper"`` (2**-l(m), default), ``"none"`` (Mitchell's approximation) or an
        integer number of ulps (2**-m) in 0..2**m - 1.
    out_fmt : FloatFormat or None
        Result format, default `fmt`; at least as many exponent and mantissa bits as `fmt`
        (e.g. one more exponent bit, so that products never overflow an accumulator). It
        needs a NaN if `fmt` has NaN or Inf (with special values on).
    subnormal_inputs : str
        ``"flush"`` (default) or ``"normalize"``, see the table.
    special_values : bool
        True (default), or False for the raw datapath described above.

    Returns
    -------
    numpy.ndarray of uint64
        Codes of `out_fmt`, the broadcast shape of `a` and `b`.

    Raises
    ------
    TypeError, ValueError
        Bad parameters (see `check_params`), or codes out of range.
    """
    out_fmt, ulps = check_params(fmt, carry=carry, offset=offset, out_fmt=out_fmt,
                                 subnormal_inputs=subnormal_inputs,
                                 special_values=special_values)
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    shape = a.shape
    a, b = a.ravel(), b.ravel()
    m = fmt.man_bits
    one = _U1 << np.uint64(m)

    if special_values:
        flush = subnormal_inputs == "flush"
        sa, fa, ea, zero_a, nan_a, inf_a = _normalized(fmt, a, flush)
        sb, fb, eb, zero_b, nan_b, inf_b = _normalized(fmt, b, flush)
    else:
        sa, fa, ea = _raw_fields(fmt, a)
        sb, fb, eb = _raw_fields(fmt, b)
        ea, eb = ea - fmt.bias, eb - fmt.bias
    sign = sa ^ sb
    s = fa + fb + np.uint64(ulps)                      # < 3 * 2**m
    if carry == "integer":
        sig = one + (s & (one - _U1))
        exp = ea + eb + (s >> np.uint64(m)).astype(np.int64) - m
    else:
        sig = one + s
        exp = ea + eb - m

    if not special_values:
        return _wrapped(out_fmt, sign, sig, exp).reshape(shape)

    zero = zero_a | zero_b
    code = out_fmt.round_exact(sign, np.where(zero, _U0, sig), exp)
    nan = nan_a | nan_b | (inf_a & zero_b) | (zero_a & inf_b)
    inf = (inf_a | inf_b) & ~nan
    code = np.where(inf, out_fmt._inf_result(sign), code)
    if nan.any():
        code = np.where(nan, np.uint64(out_fmt.nan_code), code)   # out_fmt has NaN: checked
    return code.reshape(shape)


def _wrapped(out_fmt, sign, sig, exp):
    """Codes for special_values=False: (-1)**sign * sig * 2**exp rounded with an unbounded
    exponent, its biased exponent and fraction taken modulo 2**(bits - 1).

    The rounding is out_fmt.round_exact's, applied to the value moved into out_fmt's lowest
    normal binade (no overflow, underflow or subnormal effects there); the binade offset is
    added back to the pattern as an integer.
    """
    mo = out_fmt.man_bits
    length = numeric.bit_length(sig)
    top = exp + length - 1                             # unbiased exponent of the leading one
    moved = out_fmt.round_exact(np.zeros(sig.shape, bool), sig, out_fmt.emin - (length - 1))
    # `moved` has biased exponent 1 (or 2 after a rounding carry); the true one is
    # top + bias, so add (top + bias - 1) << mo, modulo 2**(bits - 1).
    # Modulo 2**64 (uint64 wraps, a negative shift included), then modulo 2**(bits - 1).
    shift = (top + out_fmt.bias - 1).astype(np.uint64)
    pattern = (moved + (shift << np.uint64(mo))) & np.uint64((1 << (out_fmt.bits - 1)) - 1)
    return np.where(sign, np.uint64(1 << (out_fmt.bits - 1)), _U0) | pattern
