"""Posits (`PositFormat`, Posit Standard 2022 semantics generalised to any ``es``)."""

import dataclasses
import re

import numpy as np

from .. import checks
from .numeric import U0, U1, as_codes, bit_length, flat, float_inputs, set_frozen

__all__ = ["PositFormat", "parse_name", "NAME_SYNTAX"]

NAME_SYNTAX = "positN_ES (e.g. posit8_0, posit16_1)"


@dataclasses.dataclass(frozen=True)
class PositFormat:
    """Posit format (Posit Standard 2022 semantics, generalised to any ``es``).

    Codes are two's complement: 0 is zero, 10…0 is NaR (decoded as NaN). ``encode`` and
    ``round_exact`` round on the bit pattern: the exact value's infinite posit bit string
    is cut to n bits and rounded to nearest, ties to the even pattern. A nonzero value
    never rounds to 0 (it becomes ±minpos) nor to NaR (±maxpos); NaN and ±inf give NaR.
    ``str`` gives ``posit<n>_<es>``.

    Parameters
    ----------
    n : int
        Code width, 3..32.
    es : int
        Exponent bits, 0..min(4, n - 3).

    Attributes
    ----------
    bits, n, es : int
        ``bits == n``.
    nar_code : int
        ``1 << (n - 1)``.
    useed, maxpos, minpos : float
        ``2**(2**es)``, ``useed**(n - 2)``, ``useed**-(n - 2)``.
    """

    n: int
    es: int

    def __post_init__(self):
        n = checks.integer("n", self.n, lo=3, hi=32)
        es = checks.integer("es", self.es)
        hi = min(4, n - 3)
        if not 0 <= es <= hi:            # the bound's formula in the message: checks can't
            raise ValueError(f"es must be in 0..min(4, n - 3) = {hi} for n={n}, not {es}")
        useed_log = 1 << es
        set_frozen(self, n=n, es=es, bits=n, nar_code=1 << (n - 1),
                   useed=float(2.0 ** useed_log),
                   maxpos=float(np.ldexp(1.0, useed_log * (n - 2))),
                   minpos=float(np.ldexp(1.0, -useed_log * (n - 2))))

    def __str__(self):
        return f"posit{self.n}_{self.es}"

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded on the bit pattern (sig 0 -> 0)."""
        n, es = self.n, self.es
        shape, sign, sig, exp = flat(sign, sig, exp)
        zero = sig == 0
        # Keep at most 40 significant bits, the rest as a sticky bit: at most
        # n - 3 - es + 1 <= 30 fraction bits reach the pattern or its guard bit.
        length = bit_length(sig)
        drop = np.maximum(length - 40, 0)
        dropu = drop.astype(np.uint64)
        sticky = (sig & ((U1 << dropu) - U1)) != 0
        sig = (sig >> dropu) | sticky.astype(np.uint64)
        exp = exp + drop
        length = np.maximum(np.minimum(length, 40), 1)
        scale = exp + length - 1
        regime = scale >> es                            # floor division by 2**es
        e = (scale - (regime << es)).astype(np.uint64)
        rc = np.clip(regime, -(n - 2), n - 3)
        frac = sig & ((U1 << (length - 1).astype(np.uint64)) - U1)
        # Regime bits: R >= 0 -> R + 1 ones then a zero; R < 0 -> -R zeros then a one.
        rbits = np.where(rc >= 0, ((U1 << (rc + 1).clip(0).astype(np.uint64)) - U1) << U1,
                         U1)
        rlen = np.where(rc >= 0, rc + 2, 1 - rc)
        avail = (n - 1) - rlen                          # >= 0 bits left for exponent/fraction
        body = (e << (length - 1).astype(np.uint64)) | frac
        blen = es + length - 1
        d = blen - avail
        dpos = np.clip(d, 0, 63).astype(np.uint64)
        dneg = np.clip(-d, 0, 63).astype(np.uint64)
        pattern = (rbits << avail.astype(np.uint64)) | np.where(d > 0, body >> dpos, body << dneg)
        gpos = np.clip(d - 1, 0, 63).astype(np.uint64)
        guard = np.where(d > 0, (body >> gpos) & U1, U0)
        below = np.where(d > 1, body & ((U1 << gpos) - U1), U0)
        up = (guard == U1) & ((below != 0) | ((pattern & U1) == U1))
        pattern = pattern + up.astype(np.uint64)
        # Beyond the regimes that fit: maxpos and minpos. Inside them the truncated pattern
        # holds a regime 1 bit and a 0 bit, so 1 <= pattern <= maxpos after rounding.
        maxpat = np.uint64((1 << (n - 1)) - 1)
        pattern = np.where(regime > n - 3, maxpat, pattern)
        pattern = np.where(regime < -(n - 2), U1, pattern)
        mask = np.uint64((1 << n) - 1)
        code = np.where(sign, (U0 - pattern) & mask, pattern)
        return np.where(zero, U0, code).reshape(shape)

    def encode(self, x):
        """float64 values -> codes (pattern RNE; NaN/±inf -> NaR)."""
        x, sign, sig, exp, nan, inf = float_inputs(x)
        code = self.round_exact(sign, sig, exp)
        return np.where(nan | inf, np.uint64(self.nar_code), code)

    def decompose(self, codes):
        """Exact split of codes: (sign, sig, exp, nar); value = (-1)**sign * sig * 2**exp.

        sig (uint64) is 0 for zero and NaR.
        """
        n, es = self.n, self.es
        c = as_codes(codes, n, self)
        shape, c = c.shape, c.ravel()
        nar = c == np.uint64(self.nar_code)
        zero = c == 0
        sign = (c >> np.uint64(n - 1)) == U1
        mask = np.uint64((1 << n) - 1)
        body_mask = np.uint64((1 << (n - 1)) - 1)
        x = np.where(sign, (U0 - c) & mask, c) & body_mask
        first = ((x >> np.uint64(n - 2)) & U1) == U1
        run = (n - 1) - bit_length(np.where(first, ~x & body_mask, x))
        regime = np.where(first, run - 1, -run)
        rest = np.maximum(n - 2 - run, 0)             # bits after the terminating bit
        tail = x & ((U1 << rest.astype(np.uint64)) - U1)
        fbits = np.maximum(rest - es, 0)
        e = np.where(rest >= es, tail >> fbits.astype(np.uint64),
                     tail << np.maximum(es - rest, 0).astype(np.uint64))
        frac = tail & ((U1 << fbits.astype(np.uint64)) - U1)
        sig = np.where(zero | nar, U0, (U1 << fbits.astype(np.uint64)) | frac)
        exp = (regime << es) + e.astype(np.int64) - fbits
        return tuple(a.reshape(shape) for a in (sign, sig, exp, nar))

    def decode(self, codes):
        """Codes -> float64 values (NaR -> NaN, exact otherwise)."""
        sign, sig, exp, nar = self.decompose(codes)
        mag = np.ldexp(sig.astype(np.float64), exp)
        return np.where(nar, np.nan, np.where(sign, -mag, mag))


def parse_name(key):
    """The PositFormat named `key` (``posit16_1``; lower case), or None if `key` is not a
    posit name. Raises ValueError for parameters out of range."""
    match = re.fullmatch(r"posit(\d+)_(\d+)", key)
    if not match:
        return None
    return PositFormat(int(match.group(1)), int(match.group(2)))
