"""Integers (`IntFormat`): two's complement when signed."""

import dataclasses
import re

import numpy as np

from .. import checks
from .fixed import decode_int, encode_fixed, round_fixed, signed_ints
from .numeric import set_frozen

__all__ = ["IntFormat", "parse_name", "NAME_SYNTAX"]

NAME_SYNTAX = "intN, uintN (N in 1..64)"


@dataclasses.dataclass(frozen=True)
class IntFormat:
    """Integer format: two's complement codes when signed.

    ``encode`` rounds to nearest, ties to even, and saturates to ``min_value..max_value``
    (±inf saturate); NaN raises ValueError. ``decode`` gives float64 (exact for bits <= 53);
    ``decode_int`` gives exact int64 (signed) or uint64 (unsigned) values. ``str`` gives
    ``int<bits>`` or ``uint<bits>``.

    Parameters
    ----------
    bits : int
        Code width: 1..64 unsigned, 2..64 signed.
    signed : bool

    Attributes
    ----------
    bits, signed : as given.
    min_value, max_value : int
        The range of values.
    frac_bits, rounding, overflow : 0, "rne", "saturate"
        Class constants, so that integer and fixed point share one rounding routine.
    """

    bits: int
    signed: bool

    rounding = "rne"
    overflow = "saturate"
    frac_bits = 0

    def __post_init__(self):
        signed = checks.boolean("signed", self.signed)
        bits = checks.integer("bits", self.bits, lo=2 if signed else 1, hi=64,
                              extra=" for a signed IntFormat" if signed else "")
        set_frozen(self, bits=bits,
                   min_value=-(1 << (bits - 1)) if signed else 0,
                   max_value=(1 << (bits - 1)) - 1 if signed else (1 << bits) - 1)

    def __str__(self):
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded to nearest even, saturated."""
        return round_fixed(self, sign, sig, exp, 0)

    def encode(self, x):
        """float64 values -> codes (round half to even, saturate)."""
        return encode_fixed(self, x, 0)

    def decompose(self, codes):
        """(sign bool, magnitude uint64, exp int64 = 0) of each code, exactly."""
        sign, mag = signed_ints(self, codes)
        return sign, mag, np.zeros(mag.shape, dtype=np.int64)

    decode_int = decode_int

    def decode(self, codes):
        """Codes -> float64 values (rounded to nearest for |value| > 2**53)."""
        sign, mag = signed_ints(self, codes)
        value = mag.astype(np.float64)
        return np.where(sign, -value, value)


def parse_name(key):
    """The IntFormat named `key` (``int8``, ``uint16``; lower case), or None if `key` is
    not an integer name. Raises ValueError for a width out of range."""
    match = re.fullmatch(r"(u?)int(\d+)", key)
    if not match:
        return None
    return IntFormat(int(match.group(2)), match.group(1) == "")
