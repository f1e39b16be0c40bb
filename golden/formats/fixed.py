"""Fixed point (`FixedFormat`) and the rounding it shares with `IntFormat`."""

import dataclasses

import numpy as np

from .. import checks
from . import names
from .numeric import U0, U1, as_codes, bit_length, flat, float_inputs, rshift_round, set_frozen

__all__ = ["FixedFormat", "round_fixed", "encode_fixed", "signed_ints", "decode_int",
           "parse_name", "NAME_SYNTAX"]

ROUNDINGS = ("rne", "floor", "trunc")
OVERFLOWS = ("saturate", "wrap")

NAME_SYNTAX = ("sqI_F, uqI_F[_floor|_trunc][_wrap] (fixed point, I integer bits with the "
               "sign, F fraction bits, e.g. sq4_12)")


def round_fixed(fmt, sign, sig, exp, frac_bits):
    """Round (-1)**sign * sig * 2**exp to a multiple of 2**-frac_bits; codes per `fmt`.

    `fmt` gives ``bits``, ``signed``, ``rounding`` and ``overflow`` (an IntFormat or a
    FixedFormat).
    """
    shape, sign, sig, exp = flat(sign, sig, exp)
    k = exp + frac_bits                                     # value * 2**frac = sig * 2**k
    big = (sig != 0) & (bit_length(sig) + k > 64)           # the magnitude needs > 64 bits
    left = np.clip(k, 0, 63).astype(np.uint64)
    shifted = np.where(k >= 64, U0, sig << left)            # modulo 2**64
    mag = np.where(k >= 0, shifted, rshift_round(sig, np.maximum(-k, 0), sign, fmt.rounding))
    bits = fmt.bits
    mask = np.uint64((1 << bits) - 1)
    if fmt.signed:
        pos_lim, neg_lim = np.uint64((1 << (bits - 1)) - 1), np.uint64(1 << (bits - 1))
        min_code, max_code = np.uint64(1 << (bits - 1)), pos_lim
    else:
        pos_lim, neg_lim = mask, U0
        min_code, max_code = U0, mask
    over = big | np.where(sign, mag > neg_lim, mag > pos_lim)
    code = np.where(sign, (U0 - mag) & mask, mag & mask)
    if fmt.overflow == "saturate":
        code = np.where(over, np.where(sign, min_code, max_code), code)
    return code.reshape(shape)


def encode_fixed(fmt, x, frac_bits):
    """float64 values -> codes of `fmt` (NaN raises; ±inf saturates, raises with wrap)."""
    x, sign, sig, exp, nan, inf = float_inputs(x)
    if nan.any():
        raise ValueError(f"{fmt} cannot encode NaN ({int(nan.sum())} NaN input(s))")
    if inf.any() and fmt.overflow == "wrap":
        raise ValueError(f"{fmt} with overflow='wrap' cannot encode ±inf")
    code = round_fixed(fmt, sign, sig, exp, frac_bits)
    if inf.any():
        top = (1 << (fmt.bits - 1)) if fmt.signed else 0
        maxc = ((1 << (fmt.bits - 1)) - 1) if fmt.signed else (1 << fmt.bits) - 1
        code = np.where(inf, np.where(sign, np.uint64(top), np.uint64(maxc)), code)
    return code


def signed_ints(fmt, codes):
    """Two's complement integer values of codes: (sign, magnitude uint64)."""
    c = as_codes(codes, fmt.bits, fmt)
    if not fmt.signed:
        return np.zeros(c.shape, dtype=bool), c
    shape, c = c.shape, c.ravel()
    sign = (c >> np.uint64(fmt.bits - 1)) == U1
    mask = np.uint64((1 << fmt.bits) - 1)
    return sign.reshape(shape), np.where(sign, (U0 - c) & mask, c).reshape(shape)


def decode_int(fmt, codes):
    """The codes as exact integers (the fixed-point value × 2**frac_bits): int64 if signed,
    else uint64."""
    sign, mag = signed_ints(fmt, codes)
    if not fmt.signed:
        return mag
    return np.where(sign, -(mag.astype(np.int64)), mag.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class FixedFormat:
    """Fixed-point format: value = code × 2**-frac_bits, code two's complement when signed.

    For signed formats ``int_bits`` includes the sign bit (like Amaranth's ``SQ``), so
    ``bits = int_bits + frac_bits`` in both cases. ``encode`` is exact for every finite
    float64 (no 2**53 limit): it rounds per ``rounding`` and then handles values outside
    the range per ``overflow``; NaN raises ValueError, ±inf saturates (ValueError with
    ``overflow="wrap"``). ``decode`` is exact for bits <= 53.

    ``str`` gives the name that `format_from_name` reads back: ``sq<int_bits>_<frac_bits>``
    (signed) or ``uq…``, then ``_floor``/``_trunc`` and ``_wrap`` when not the defaults,
    e.g. ``sq4_12``, ``uq0_8_trunc_wrap``.

    Parameters
    ----------
    int_bits : int
        Integer bits, sign included when signed (>= 1 then, >= 0 otherwise).
    frac_bits : int
        Fraction bits, >= 0; ``int_bits + frac_bits`` must be in 1..64.
    signed : bool
    rounding : str
        ``"rne"`` (nearest, ties to even), ``"floor"`` (toward -inf), ``"trunc"``
        (toward zero).
    overflow : str
        ``"saturate"`` (clamp to the range) or ``"wrap"`` (two's complement modulo 2**bits).

    Attributes
    ----------
    bits : int
        ``int_bits + frac_bits``.
    int_bits, frac_bits, signed, rounding, overflow : as given.
    lsb : float
        ``2.0 ** -frac_bits``.
    min_value, max_value : float
        The range of values.
    """

    int_bits: int
    frac_bits: int
    signed: bool
    rounding: str = dataclasses.field(default="rne", kw_only=True)
    overflow: str = dataclasses.field(default="saturate", kw_only=True)

    def __post_init__(self):
        signed = checks.boolean("signed", self.signed)
        int_bits = checks.integer("int_bits", self.int_bits, lo=1 if signed else 0, hi=64,
                                  extra=" for a signed FixedFormat (the sign bit counts)"
                                  if signed else "")
        frac_bits = checks.integer("frac_bits", self.frac_bits, lo=0, hi=64)
        bits = int_bits + frac_bits
        if not 1 <= bits <= 64:
            raise ValueError(f"int_bits + frac_bits must be in 1..64, not {bits}")
        checks.choice("rounding", self.rounding, ROUNDINGS)
        checks.choice("overflow", self.overflow, OVERFLOWS)
        lo = -(1 << (bits - 1)) if signed else 0
        hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        set_frozen(self, int_bits=int_bits, frac_bits=frac_bits, bits=bits,
                   lsb=2.0 ** -frac_bits,
                   min_value=float(np.ldexp(float(lo), -frac_bits)),
                   max_value=float(np.ldexp(float(hi), -frac_bits)))

    def __str__(self):
        name = f"{'s' if self.signed else 'u'}q{self.int_bits}_{self.frac_bits}"
        if self.rounding != "rne":
            name += f"_{self.rounding}"
        if self.overflow != "saturate":
            name += f"_{self.overflow}"
        return name

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded and overflowed per the format."""
        return round_fixed(self, sign, sig, exp, self.frac_bits)

    def encode(self, x):
        """float64 values -> codes, exact rounding per ``rounding`` and ``overflow``."""
        return encode_fixed(self, x, self.frac_bits)

    def decompose(self, codes):
        """(sign bool, magnitude uint64, exp int64 = -frac_bits) of each code, exactly."""
        sign, mag = signed_ints(self, codes)
        return sign, mag, np.full(mag.shape, -self.frac_bits, dtype=np.int64)

    decode_int = decode_int

    def decode(self, codes):
        """Codes -> float64 values (exact for bits <= 53)."""
        sign, mag = signed_ints(self, codes)
        value = np.ldexp(mag.astype(np.float64), -self.frac_bits)
        return np.where(sign, -value, value)


def parse_name(key):
    """The FixedFormat named `key` (lower case, see `FixedFormat`), or None if `key` is not
    a fixed-point name.

    Raises
    ------
    names.UnknownSuffix
        A fixed-point name with an unknown suffix.
    ValueError
        A repeated suffix or two roundings; parameters out of range.
    """
    parts = names.split(key, r"([su])q(\d+)_(\d+)", r"floor|trunc|wrap")
    if parts is None:
        return None
    match, suffixes = parts
    rounding = [s for s in suffixes if s in ROUNDINGS]
    if len(set(suffixes)) != len(suffixes) or len(rounding) > 1:
        raise ValueError(f"format {key!r} repeats a suffix or names two roundings")
    return FixedFormat(int(match.group(2)), int(match.group(3)), match.group(1) == "s",
                       rounding=rounding[0] if rounding else "rne",
                       overflow="wrap" if "wrap" in suffixes else "saturate")
