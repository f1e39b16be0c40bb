"""Binary floating point (`FloatFormat`): IEEE 754, OCP FP8 and MX FP6/FP4, and presets."""

import dataclasses

import numpy as np

from .. import checks
from . import names
from .numeric import U0, U1, as_codes, bit_length, flat, float_inputs, rshift_round, set_frozen

__all__ = ["FloatFormat", "FP32", "FP16", "BF16", "FP8_E4M3", "FP8_E5M2", "FP6_E3M2",
           "FP6_E2M3", "FP4_E2M1", "PRESET_FORMATS", "default_bias", "canonical_name",
           "parse_name", "NAME_SYNTAX"]

SPECIALS = ("ieee", "fn", "fnuz", "none")
OVERFLOWS = ("inf", "saturate")

NAME_SYNTAX = "eEmM[_ftz][_fn|_fnuz|_none][_sat][_bB] (e.g. e8m7_ftz, e5m2_b13)"


def default_bias(exp_bits, specials):
    """The default bias: ``2**(exp_bits - 1) - 1``, or ``2**(exp_bits - 1)`` for fnuz."""
    return (1 << (exp_bits - 1)) - (0 if specials == "fnuz" else 1)


@dataclasses.dataclass(frozen=True)
class FloatFormat:
    """Binary floating-point format: sign, ``exp_bits`` exponent field, ``man_bits`` fraction.

    A code is ``S | E | M``. E = 0 holds zeros and subnormals (value ±M × 2**(emin −
    man_bits)); otherwise the value is ±(2**man_bits + M) × 2**(E − bias − man_bits),
    unless the code is special per ``specials``.

    Rounding is to nearest, ties to even, once, from the exact value.

    ``str`` gives a name that `format_from_name` reads back: ``name`` if it does, else the
    preset's name if the format equals a preset, else ``e<E>m<M>`` with the suffixes
    ``_ftz`` (no subnormals), ``_fn``/``_fnuz``/``_none`` (specials), ``_sat`` (saturate)
    and ``_b<bias>`` (a bias other than the default for the specials), in that order.

    - Overflow: a result whose magnitude after rounding with an unbounded exponent exceeds
      ``max_value`` becomes ±Inf (``overflow="inf"``; canonical NaN in a format with NaN
      but no Inf) or ±max_value (``overflow="saturate"``).
    - ``subnormals=True``: gradual underflow (IEEE 754).
    - ``subnormals=False``: codes with E = 0 decode to ±0 (inputs are flushed, DAZ); encode
      first rounds to ``man_bits + 1`` significant bits with an unbounded exponent, then any
      nonzero result whose rounded magnitude is below ``min_normal`` becomes a zero of the
      same sign ("flush after rounding"). A value that rounds up to exactly ``min_normal``
      is kept.
    - Zeros keep their sign, except ``specials="fnuz"`` (no −0: every zero is +0).
    - ``encode(±inf)``: ±Inf if the format has Inf, else ±max_value if
      ``overflow="saturate"``, else NaN. ``encode(NaN)`` gives ``nan_code``, or raises
      ValueError if the format has no NaN.

    Parameters
    ----------
    exp_bits : int
        Exponent field width, 1..11 (2..11 with ``specials="ieee"``).
    man_bits : int
        Fraction field width, 1..52; ``1 + exp_bits + man_bits`` <= 64.
    bias : int or None
        Exponent bias; default ``2**(exp_bits - 1) - 1`` (``2**(exp_bits - 1)`` for fnuz,
        as ml_dtypes' ``float8_e4m3fnuz``/``float8_e5m2fnuz``). Must lie in 0..2**exp_bits − 1
        and keep every value a finite float64.
    subnormals : bool
        Gradual underflow (True) or flush to zero on input and output (False).
    specials : str
        ``"ieee"``: E all ones is ±Inf (M = 0) or NaN. ``"fn"`` (OCP E4M3): no Inf, the
        NaNs are S.1…1.1…1, the rest of E all ones is finite. ``"fnuz"``: no Inf, no −0,
        the one NaN is 10…0. ``"none"``: every code is finite (OCP MX FP6/FP4).
    overflow : str
        ``"inf"`` or ``"saturate"`` (see above); ``"inf"`` needs Inf or NaN.
    name : str or None
        Printed name (presets); not part of equality, and printed only if
        `format_from_name` reads it back as this format.

    Attributes
    ----------
    bits : int
        ``1 + exp_bits + man_bits``.
    exp_bits, man_bits, bias, subnormals, specials, overflow, name : as given (bias resolved).
    has_inf, has_nan : bool
    nan_code : int or None
        Canonical NaN: ieee 0.1…1.10…0 (quiet), fn 0.1…1.1…1, fnuz 10…0.
    inf_code : int or None
        Code of +Inf.
    max_code : int
        Code of the largest positive finite value.
    max_value, min_normal, min_subnormal : float
        ``min_subnormal == min_normal`` when subnormals are off.
    emax, emin : int
        Unbiased exponents of ``max_value`` and ``min_normal`` (``emin = 1 - bias``).
    """

    exp_bits: int
    man_bits: int
    bias: int = dataclasses.field(default=None, kw_only=True)
    subnormals: bool = dataclasses.field(default=True, kw_only=True)
    specials: str = dataclasses.field(default="ieee", kw_only=True)
    overflow: str = dataclasses.field(default="inf", kw_only=True)
    name: str = dataclasses.field(default=None, kw_only=True, compare=False)

    def __post_init__(self):
        specials = checks.choice("specials", self.specials, SPECIALS)
        if specials == "ieee":
            eb = checks.integer("exp_bits", self.exp_bits, lo=2, hi=11,
                                extra=" with specials='ieee' (E all ones is Inf/NaN)")
        else:
            eb = checks.integer("exp_bits", self.exp_bits, lo=1, hi=11)
        mb = checks.integer("man_bits", self.man_bits, lo=1, hi=52)
        if 1 + eb + mb > 64:
            raise ValueError(f"1 + exp_bits + man_bits must be at most 64, not {1 + eb + mb}")
        subnormals = checks.boolean("subnormals", self.subnormals)
        overflow = checks.choice("overflow", self.overflow, OVERFLOWS)
        if overflow == "inf" and specials == "none":
            raise ValueError("overflow='inf' needs a format with Inf or NaN; "
                             "specials='none' has neither: use overflow='saturate'")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string or None, not {self.name!r}")
        emax_field = (1 << eb) - (2 if specials == "ieee" else 1)
        # Every value must be a finite float64: emax <= 1023 and the smallest nonzero
        # value >= 2**-1074.
        lo, hi = max(0, emax_field - 1023), min((1 << eb) - 1, 1075 - mb)
        if lo > hi:
            raise ValueError(f"exp_bits={eb}, man_bits={mb} with specials={specials!r} has "
                             f"values outside float64 whatever the bias")
        bias = self.bias
        if bias is None:
            bias = default_bias(eb, specials)
        bias = checks.integer("bias", bias, lo=lo, hi=hi,
                              extra=f" for exp_bits={eb}, man_bits={mb}, specials={specials!r}")
        bits = 1 + eb + mb
        mfull = (1 << mb) - 1
        if specials == "ieee":
            max_code = (emax_field << mb) | mfull
            nan_code, inf_code = (emax_field + 1) << mb | (1 << (mb - 1)), (emax_field + 1) << mb
        elif specials == "fn":
            max_code = (emax_field << mb) | (mfull - 1)
            nan_code, inf_code = (emax_field << mb) | mfull, None
        elif specials == "fnuz":
            max_code = (1 << (bits - 1)) - 1
            nan_code, inf_code = 1 << (bits - 1), None
        else:
            max_code, nan_code, inf_code = (1 << (bits - 1)) - 1, None, None
        emin = 1 - bias
        emax = (max_code >> mb) - bias
        set_frozen(self, exp_bits=eb, man_bits=mb, bias=bias, bits=bits,
                   has_inf=inf_code is not None, has_nan=nan_code is not None,
                   nan_code=nan_code, inf_code=inf_code, max_code=max_code, emin=emin,
                   emax=emax,
                   max_value=float(np.ldexp(float((max_code & mfull) | (1 << mb)), emax - mb)),
                   min_normal=float(np.ldexp(1.0, emin)),
                   min_subnormal=float(np.ldexp(1.0, emin - mb if subnormals else emin)))

    def __str__(self):
        if self.name is not None and _names(self.name, self):
            return self.name
        return canonical_name(self)

    # Codes for results known before rounding.
    def _inf_result(self, sign):
        """Codes for ±Inf results: Inf, else ±max (saturate), else NaN."""
        sbit = np.uint64(1 << (self.bits - 1))
        if self.has_inf:
            return np.where(sign, sbit, U0) | np.uint64(self.inf_code)
        if self.overflow == "saturate":
            return np.where(sign, sbit, U0) | np.uint64(self.max_code)
        return np.full(np.shape(sign), self.nan_code, dtype=np.uint64)

    def _zero(self, sign):
        if self.specials == "fnuz":
            return np.zeros(np.shape(sign), dtype=np.uint64)
        return np.where(sign, np.uint64(1 << (self.bits - 1)), U0)

    def round_exact(self, sign, sig, exp):
        """Codes of the exact values (-1)**sign * sig * 2**exp, rounded once (RNE).

        Parameters
        ----------
        sign : array of bool or 0/1
        sig : array of uint64
            Integer significands (any width up to 64 bits; 0 gives a signed zero).
        exp : array of int64
        """
        shape, sign, sig, exp = flat(sign, sig, exp)
        mb, emin, emax = self.man_bits, self.emin, self.emax
        length = bit_length(sig)
        top = exp + length - 1                         # exponent of the leading one
        quantum = (np.maximum(top, emin) if self.subnormals else top) - mb
        shift = quantum - exp
        left = np.clip(-shift, 0, 63).astype(np.uint64)
        m = np.where(shift <= 0, sig << left,
                     rshift_round(sig, np.maximum(shift, 0), sign, "rne"))
        # Exponent field and fraction as one integer: a rounding carry moves into the
        # exponent. Modulo 2**64 (the true value is never negative where it is used).
        if self.subnormals:
            base = np.clip(top, emin, emax + 1) + self.bias - 1       # 0 for subnormals
            mag = (base.astype(np.uint64) << np.uint64(mb)) + m
            under = m == 0
        else:
            base = np.clip(top, emin - 1, emax + 1) + self.bias - 1   # may be -1
            mag = (base.astype(np.uint64) << np.uint64(mb)) + m
            under = (top < emin - 1) | (mag < np.uint64(1 << mb))
        over = (top > emax) | (mag > np.uint64(self.max_code))
        code = np.where(sign, np.uint64(1 << (self.bits - 1)), U0) | mag
        if self.overflow == "saturate":
            over_code = np.where(sign, np.uint64(1 << (self.bits - 1)), U0) \
                | np.uint64(self.max_code)
        else:
            over_code = self._inf_result(sign)
        code = np.where(over, over_code, code)
        return np.where((sig == 0) | under, self._zero(sign), code).reshape(shape)

    def encode(self, x):
        """float64 values -> codes (RNE, with this format's policies)."""
        x, sign, sig, exp, nan, inf = float_inputs(x)
        return self.round_specials(sign, sig, exp, nan=nan, inf=inf, what="input(s)")

    def round_specials(self, sign, sig, exp, *, nan, inf, what="result(s)", label=""):
        """`round_exact`, where `inf` marks ±Inf results (Inf, else ±max if saturating,
        else NaN) and `nan` marks NaN results (the canonical NaN).

        Raises ValueError, naming `label` + this format and the count of NaN `what`, if a
        NaN result occurs in a format without NaN.
        """
        code = self.round_exact(sign, sig, exp)
        if np.any(inf):
            code = np.where(inf, self._inf_result(sign), code)
        if np.any(nan):
            if not self.has_nan:
                raise ValueError(f"{label}{self} has no NaN for {int(np.sum(nan))} NaN "
                                 f"{what}")
            code = np.where(nan, np.uint64(self.nan_code), code)
        return code

    def decompose(self, codes):
        """Exact split of codes: (sign, sig, exp, nan, inf).

        value = (-1)**sign * sig * 2**exp; sig (uint64) is 0 for zeros, for E = 0 codes
        when subnormals are off, and for NaN/Inf codes.
        """
        c = as_codes(codes, self.bits, self)
        shape, c = c.shape, c.ravel()
        mb = np.uint64(self.man_bits)
        sign = (c >> np.uint64(self.bits - 1)) == U1
        efield = ((c >> mb) & np.uint64((1 << self.exp_bits) - 1)).astype(np.int64)
        man = c & np.uint64((1 << self.man_bits) - 1)
        ones = efield == (1 << self.exp_bits) - 1
        if self.specials == "ieee":
            nan, inf = ones & (man != 0), ones & (man == 0)
        elif self.specials == "fn":
            nan, inf = ones & (man == (1 << self.man_bits) - 1), np.zeros(c.shape, bool)
        elif self.specials == "fnuz":
            nan, inf = c == np.uint64(self.nan_code), np.zeros(c.shape, bool)
        else:
            nan = inf = np.zeros(c.shape, bool)
        sub = efield == 0
        sig = np.where(sub, man if self.subnormals else U0, man | (U1 << mb))
        sig = np.where(nan | inf, U0, sig)
        exp = np.where(sub, self.emin, efield - self.bias) - self.man_bits
        return tuple(a.reshape(shape) for a in (sign, sig, exp, nan, inf))

    def decode(self, codes):
        """Codes -> float64 values (NaN codes -> NaN, exact otherwise)."""
        sign, sig, exp, nan, inf = self.decompose(codes)
        mag = np.where(inf, np.inf, np.ldexp(sig.astype(np.float64), exp))
        return np.where(nan, np.nan, np.where(sign, -mag, mag))


# --- presets ----------------------------------------------------------------------------------
# Overflow policies match what ml_dtypes 0.6 does on conversion (checked in tests/):
# IEEE formats and FP8_E5M2 overflow to ±Inf; FP8_E4M3 (no Inf) overflows to NaN (ml_dtypes
# float8_e4m3fn: 1e6 -> NaN, as OFP8's non-saturating mode); the MX FP6/FP4 types have no
# Inf or NaN and saturate (ml_dtypes float6_*fn/float4_e2m1fn: 1e6 and inf -> max).

FP32 = FloatFormat(8, 23, name="fp32")                       # IEEE 754 binary32
FP16 = FloatFormat(5, 10, name="fp16")                       # IEEE 754 binary16
BF16 = FloatFormat(8, 7, name="bf16")                        # bfloat16, IEEE-style specials
FP8_E4M3 = FloatFormat(4, 3, specials="fn", name="fp8_e4m3")     # OFP8 E4M3, max 448, -> NaN
FP8_E5M2 = FloatFormat(5, 2, name="fp8_e5m2")                # OFP8 E5M2, max 57344, -> Inf
FP6_E3M2 = FloatFormat(3, 2, specials="none", overflow="saturate",
                       name="fp6_e3m2")                      # MX FP6 E3M2, bias 3, max 28
FP6_E2M3 = FloatFormat(2, 3, specials="none", overflow="saturate",
                       name="fp6_e2m3")                      # MX FP6 E2M3, bias 1, max 7.5
FP4_E2M1 = FloatFormat(2, 1, specials="none", overflow="saturate",
                       name="fp4_e2m1")                      # MX FP4 E2M1, bias 1, max 6

PRESET_FORMATS = (FP32, FP16, BF16, FP8_E4M3, FP8_E5M2, FP6_E3M2, FP6_E2M3, FP4_E2M1)


# --- names ------------------------------------------------------------------------------------

def canonical_name(fmt):
    """The name of FloatFormat `fmt` ignoring its ``name``: a preset's name if `fmt` equals
    a preset, else ``e<E>m<M>`` and the suffixes (see `FloatFormat`)."""
    for preset in PRESET_FORMATS:
        if preset == fmt:
            return preset.name
    name = f"e{fmt.exp_bits}m{fmt.man_bits}"
    if not fmt.subnormals:
        name += "_ftz"
    if fmt.specials != "ieee":
        name += f"_{fmt.specials}"
    if fmt.overflow == "saturate":
        name += "_sat"
    if fmt.bias != default_bias(fmt.exp_bits, fmt.specials):
        name += f"_b{fmt.bias}"
    return name


def _names(name, fmt):
    """Whether `format_from_name(name)` is `fmt`'s equal."""
    try:
        return parse_name(name.strip().lower()) == fmt
    except ValueError:
        return False


def parse_name(key):
    """The FloatFormat named `key` (lower case): a preset's name or ``eEmM`` with suffixes
    in any order (see `FloatFormat`); a format equal to a preset is the preset. None if
    `key` is neither.

    Raises
    ------
    names.UnknownSuffix
        An ``eEmM`` name with an unknown suffix.
    ValueError
        A repeated suffix or two kinds of specials; parameters out of range.
    """
    for preset in PRESET_FORMATS:
        if key == preset.name:
            return preset
    parts = names.split(key, r"e(\d+)m(\d+)", r"ftz|fn|fnuz|none|sat|b\d+")
    if parts is None:
        return None
    match, suffixes = parts
    kinds = ["specials" if s in SPECIALS else "bias" if s.startswith("b") else s
             for s in suffixes]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"format {key!r} repeats a suffix or names two kinds of specials")
    specials = [s for s in suffixes if s in SPECIALS]
    bias = [int(s[1:]) for s in suffixes if s.startswith("b")]
    fmt = FloatFormat(int(match.group(1)), int(match.group(2)),
                      bias=bias[0] if bias else None,
                      subnormals="ftz" not in suffixes,
                      specials=specials[0] if specials else "ieee",
                      overflow="saturate" if "sat" in suffixes else "inf")
    for preset in PRESET_FORMATS:
        if preset == fmt:
            return preset
    return dataclasses.replace(fmt, name=canonical_name(fmt))
