"""Number formats: integer, fixed point, floating point (IEEE 754, OCP FP8/MX) and posit.

Every format is a frozen, hashable descriptor. ``.bits`` is the code width, ``.encode(x)``
turns float64 values into codes (``np.uint64``), rounding to nearest, ties to even (fixed
point: per its ``rounding``), and ``.decode(codes)`` turns codes into float64 (NaN for NaN
and NaR codes). The hardware generators read their parameters from these same objects.

Each format family has one rounding routine, ``round_exact(sign, sig, exp)``, which rounds
the exact value ``(-1)**sign * sig * 2**exp`` (``sig`` an unsigned integer below 2**64)
into a code; ``encode`` splits float64 exactly into (sign, sig, exp) and calls it, and
`golden.ops` calls it with exact products. ``decompose(codes)`` is the exact inverse split.

Example
-------
>>> import numpy as np
>>> from golden import formats
>>> codes = formats.FP8_E4M3.encode(np.array([1.0, 0.3, 500.0, -1e-9]))
>>> print([hex(c) for c in codes], formats.FP8_E4M3.decode(codes))
['0x38', '0x2a', '0x7f', '0x80'] [ 1.      0.3125     nan -0.    ]
"""

import dataclasses
import operator
import re

import numpy as np

__all__ = [
    "IntFormat", "FixedFormat", "FloatFormat", "PositFormat",
    "FP32", "FP16", "BF16", "FP8_E4M3", "FP8_E5M2", "FP6_E3M2", "FP6_E2M3", "FP4_E2M1",
    "PRESETS", "format_from_name",
]

_U0 = np.uint64(0)
_U1 = np.uint64(1)


# --- parameter checks (amaranth lib conventions) ---------------------------------------------

def _check_int(name, value, lo, hi, extra=""):
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = operator.index(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}{extra}, not {value}")
    return value


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return value


def _check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, not {value!r}")
    return value


def _set(obj, **attrs):
    for key, value in attrs.items():
        object.__setattr__(obj, key, value)


# --- vectorized integer helpers ---------------------------------------------------------------

def _flat(sign, sig, exp):
    """Broadcast (sign, sig, exp) and flatten them (1-D: no NumPy scalar arithmetic)."""
    sign = np.asarray(sign).astype(bool)
    sig = np.asarray(sig, dtype=np.uint64)
    exp = np.asarray(exp, dtype=np.int64)
    sign, sig, exp = np.broadcast_arrays(sign, sig, exp)
    return sign.shape, sign.ravel(), sig.ravel(), exp.ravel()


def _bit_length(x):
    """Bit length of each element of a uint64 array (0 for 0)."""
    x = np.array(x, dtype=np.uint64)
    n = np.zeros(x.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = x >= (_U1 << np.uint64(s))
        x = np.where(big, x >> np.uint64(s), x)
        n += np.where(big, s, 0)
    return n + (x > 0)


def _rshift_round(sig, shift, negative, mode):
    """Round sig / 2**shift to an integer magnitude (uint64); shift >= 0 (int64 array).

    mode: "rne" (nearest, ties to even), "trunc" (toward zero), "floor" (toward -inf, with
    `negative` telling the sign of the value whose magnitude `sig` is).
    """
    sig = np.asarray(sig, dtype=np.uint64)
    shift = np.asarray(shift, dtype=np.int64)
    small = shift < 64
    sh = np.where(small, shift, 0).astype(np.uint64)
    q = np.where(small, sig >> sh, _U0)
    rem = np.where(small, sig & ((_U1 << sh) - _U1), sig)        # every bit dropped if >= 64
    if mode == "rne":
        half = np.where((shift >= 1) & (shift <= 64),
                        _U1 << (np.clip(shift, 1, 64) - 1).astype(np.uint64), _U0)
        tie_up = (rem == half) & ((q & _U1) == _U1)
        up = (shift >= 1) & (shift <= 64) & ((rem > half) | tie_up)
    elif mode == "floor":
        up = (rem != 0) & np.asarray(negative, dtype=bool)
    else:                                                          # trunc
        up = np.zeros(q.shape, dtype=bool)
    return q + up.astype(np.uint64)


def _as_codes(codes, bits, fmt):
    """Codes as a uint64 array; ValueError naming `fmt` if any is outside 0..2**bits - 1."""
    arr = np.asarray(codes)
    if arr.dtype.kind == "O":
        flat = arr.ravel().tolist()
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in flat):
            raise TypeError(f"codes must be integers, not {arr.dtype}")
        bad = [c for c in flat if not 0 <= c < (1 << bits)]
        if bad:
            raise ValueError(f"codes must be in 0..{(1 << bits) - 1} for {fmt}, not {bad[0]}")
        return np.array(flat, dtype=np.uint64).reshape(arr.shape)
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


def _split_float64(x):
    """Exact split of finite float64 values: |x| = sig * 2**exp, sig < 2**53 (0 for 0)."""
    mant, exp = np.frexp(np.abs(x))
    sig = np.ldexp(mant, 53).astype(np.uint64)
    return sig, exp.astype(np.int64) - 53


def _float_inputs(x):
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    inf = np.isinf(x)
    sign = np.signbit(x)
    sig, exp = _split_float64(np.where(nan | inf, 0.0, x))
    return x, sign, sig, exp, nan, inf


# --- integer and fixed point ------------------------------------------------------------------

def _round_fixed(fmt, sign, sig, exp, frac_bits):
    """Round (-1)**sign * sig * 2**exp to a multiple of 2**-frac_bits; codes per `fmt`."""
    shape, sign, sig, exp = _flat(sign, sig, exp)
    k = exp + frac_bits                                     # value * 2**frac = sig * 2**k
    big = (sig != 0) & (_bit_length(sig) + k > 64)          # the magnitude needs > 64 bits
    left = np.clip(k, 0, 63).astype(np.uint64)
    shifted = np.where(k >= 64, _U0, sig << left)           # modulo 2**64
    mag = np.where(k >= 0, shifted, _rshift_round(sig, np.maximum(-k, 0), sign, fmt.rounding))
    bits = fmt.bits
    mask = np.uint64((1 << bits) - 1)
    if fmt.signed:
        pos_lim, neg_lim = np.uint64((1 << (bits - 1)) - 1), np.uint64(1 << (bits - 1))
        min_code, max_code = np.uint64(1 << (bits - 1)), pos_lim
    else:
        pos_lim, neg_lim = mask, _U0
        min_code, max_code = _U0, mask
    over = big | np.where(sign, mag > neg_lim, mag > pos_lim)
    code = np.where(sign, (_U0 - mag) & mask, mag & mask)
    if fmt.overflow == "saturate":
        code = np.where(over, np.where(sign, min_code, max_code), code)
    return code.reshape(shape)


def _encode_fixed(fmt, x, frac_bits):
    x, sign, sig, exp, nan, inf = _float_inputs(x)
    if nan.any():
        raise ValueError(f"{fmt} cannot encode NaN ({int(nan.sum())} NaN input(s))")
    if inf.any() and fmt.overflow == "wrap":
        raise ValueError(f"{fmt} with overflow='wrap' cannot encode ±inf")
    code = _round_fixed(fmt, sign, sig, exp, frac_bits)
    if inf.any():
        top = (1 << (fmt.bits - 1)) if fmt.signed else 0
        maxc = ((1 << (fmt.bits - 1)) - 1) if fmt.signed else (1 << fmt.bits) - 1
        code = np.where(inf, np.where(sign, np.uint64(top), np.uint64(maxc)), code)
    return code


def _signed_ints(fmt, codes):
    """Two's complement integer values of codes: (sign, magnitude uint64)."""
    c = _as_codes(codes, fmt.bits, fmt)
    if not fmt.signed:
        return np.zeros(c.shape, dtype=bool), c
    shape, c = c.shape, c.ravel()
    sign = (c >> np.uint64(fmt.bits - 1)) == _U1
    mask = np.uint64((1 << fmt.bits) - 1)
    return sign.reshape(shape), np.where(sign, (_U0 - c) & mask, c).reshape(shape)


def _decode_int(fmt, codes):
    """The codes as exact integers (the fixed-point value × 2**frac_bits): int64 if signed,
    else uint64."""
    sign, mag = _signed_ints(fmt, codes)
    if not fmt.signed:
        return mag
    return np.where(sign, -(mag.astype(np.int64)), mag.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class IntFormat:
    """Integer format: two's complement codes when signed.

    ``encode`` rounds to nearest, ties to even, and saturates to ``min_value..max_value``
    (±inf saturate); NaN raises ValueError. ``decode`` gives float64 (exact for bits <= 53);
    ``decode_int`` gives exact int64 (signed) or uint64 (unsigned) values.

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
        signed = _check_bool("signed", self.signed)
        bits = _check_int("bits", self.bits, 2 if signed else 1, 64,
                          " for a signed IntFormat" if signed else "")
        _set(self, bits=bits,
             min_value=-(1 << (bits - 1)) if signed else 0,
             max_value=(1 << (bits - 1)) - 1 if signed else (1 << bits) - 1)

    def __str__(self):
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded to nearest even, saturated."""
        return _round_fixed(self, sign, sig, exp, 0)

    def encode(self, x):
        """float64 values -> codes (round half to even, saturate)."""
        return _encode_fixed(self, x, 0)

    def decompose(self, codes):
        """(sign bool, magnitude uint64, exp int64 = 0) of each code, exactly."""
        sign, mag = _signed_ints(self, codes)
        return sign, mag, np.zeros(mag.shape, dtype=np.int64)

    decode_int = _decode_int

    def decode(self, codes):
        """Codes -> float64 values (rounded to nearest for |value| > 2**53)."""
        sign, mag = _signed_ints(self, codes)
        value = mag.astype(np.float64)
        return np.where(sign, -value, value)


@dataclasses.dataclass(frozen=True)
class FixedFormat:
    """Fixed-point format: value = code × 2**-frac_bits, code two's complement when signed.

    For signed formats ``int_bits`` includes the sign bit (like Amaranth's ``SQ``), so
    ``bits = int_bits + frac_bits`` in both cases. ``encode`` is exact for every finite
    float64 (no 2**53 limit): it rounds per ``rounding`` and then handles values outside
    the range per ``overflow``; NaN raises ValueError, ±inf saturates (ValueError with
    ``overflow="wrap"``). ``decode`` is exact for bits <= 53.

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
        signed = _check_bool("signed", self.signed)
        int_bits = _check_int("int_bits", self.int_bits, 1 if signed else 0, 64,
                              " for a signed FixedFormat (the sign bit counts)" if signed
                              else "")
        frac_bits = _check_int("frac_bits", self.frac_bits, 0, 64)
        bits = int_bits + frac_bits
        if not 1 <= bits <= 64:
            raise ValueError(f"int_bits + frac_bits must be in 1..64, not {bits}")
        _check_choice("rounding", self.rounding, ("rne", "floor", "trunc"))
        _check_choice("overflow", self.overflow, ("saturate", "wrap"))
        lo = -(1 << (bits - 1)) if signed else 0
        hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        _set(self, int_bits=int_bits, frac_bits=frac_bits, bits=bits,
             lsb=2.0 ** -frac_bits,
             min_value=float(np.ldexp(float(lo), -frac_bits)),
             max_value=float(np.ldexp(float(hi), -frac_bits)))

    def __str__(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, d in
                        (("rounding", "rne"), ("overflow", "saturate")) if getattr(self, k) != d)
        return f"FixedFormat({self.int_bits}, {self.frac_bits}, {self.signed}{extra})"

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded and overflowed per the format."""
        return _round_fixed(self, sign, sig, exp, self.frac_bits)

    def encode(self, x):
        """float64 values -> codes, exact rounding per ``rounding`` and ``overflow``."""
        return _encode_fixed(self, x, self.frac_bits)

    def decompose(self, codes):
        """(sign bool, magnitude uint64, exp int64 = -frac_bits) of each code, exactly."""
        sign, mag = _signed_ints(self, codes)
        return sign, mag, np.full(mag.shape, -self.frac_bits, dtype=np.int64)

    decode_int = _decode_int

    def decode(self, codes):
        """Codes -> float64 values (exact for bits <= 53)."""
        sign, mag = _signed_ints(self, codes)
        value = np.ldexp(mag.astype(np.float64), -self.frac_bits)
        return np.where(sign, -value, value)


# --- floating point ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FloatFormat:
    """Binary floating-point format: sign, ``exp_bits`` exponent field, ``man_bits`` fraction.

    A code is ``S | E | M``. E = 0 holds zeros and subnormals (value ±M × 2**(emin −
    man_bits)); otherwise the value is ±(2**man_bits + M) × 2**(E − bias − man_bits),
    unless the code is special per ``specials``.

    Rounding is to nearest, ties to even, once, from the exact value.

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
        Printed name (presets); not part of equality.

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
        specials = _check_choice("specials", self.specials, ("ieee", "fn", "fnuz", "none"))
        if specials == "ieee":
            eb = _check_int("exp_bits", self.exp_bits, 2, 11,
                            " with specials='ieee' (E all ones is Inf/NaN)")
        else:
            eb = _check_int("exp_bits", self.exp_bits, 1, 11)
        mb = _check_int("man_bits", self.man_bits, 1, 52)
        if 1 + eb + mb > 64:
            raise ValueError(f"1 + exp_bits + man_bits must be at most 64, not {1 + eb + mb}")
        subnormals = _check_bool("subnormals", self.subnormals)
        overflow = _check_choice("overflow", self.overflow, ("inf", "saturate"))
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
            bias = (1 << (eb - 1)) - (0 if specials == "fnuz" else 1)
        bias = _check_int("bias", bias, lo, hi,
                          f" for exp_bits={eb}, man_bits={mb}, specials={specials!r}")
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
        _set(self, exp_bits=eb, man_bits=mb, bias=bias, bits=bits,
             has_inf=inf_code is not None, has_nan=nan_code is not None,
             nan_code=nan_code, inf_code=inf_code, max_code=max_code, emin=emin, emax=emax,
             max_value=float(np.ldexp(float((max_code & mfull) | (1 << mb)), emax - mb)),
             min_normal=float(np.ldexp(1.0, emin)),
             min_subnormal=float(np.ldexp(1.0, emin - mb if subnormals else emin)))

    def __str__(self):
        if self.name is not None:
            return self.name
        extra = ""
        default_bias = (1 << (self.exp_bits - 1)) - (0 if self.specials == "fnuz" else 1)
        if self.bias != default_bias:
            extra += f", bias={self.bias}"
        for key, default in (("subnormals", True), ("specials", "ieee"), ("overflow", "inf")):
            if getattr(self, key) != default:
                extra += f", {key}={getattr(self, key)!r}"
        return f"FloatFormat({self.exp_bits}, {self.man_bits}{extra})"

    # Codes for results known before rounding.
    def _inf_result(self, sign):
        """Codes for ±Inf results: Inf, else ±max (saturate), else NaN."""
        sbit = np.uint64(1 << (self.bits - 1))
        if self.has_inf:
            return np.where(sign, sbit, _U0) | np.uint64(self.inf_code)
        if self.overflow == "saturate":
            return np.where(sign, sbit, _U0) | np.uint64(self.max_code)
        return np.full(np.shape(sign), self.nan_code, dtype=np.uint64)

    def _zero(self, sign):
        if self.specials == "fnuz":
            return np.zeros(np.shape(sign), dtype=np.uint64)
        return np.where(sign, np.uint64(1 << (self.bits - 1)), _U0)

    def round_exact(self, sign, sig, exp):
        """Codes of the exact values (-1)**sign * sig * 2**exp, rounded once (RNE).

        Parameters
        ----------
        sign : array of bool or 0/1
        sig : array of uint64
            Integer significands (any width up to 64 bits; 0 gives a signed zero).
        exp : array of int64
        """
        shape, sign, sig, exp = _flat(sign, sig, exp)
        mb, emin, emax = self.man_bits, self.emin, self.emax
        length = _bit_length(sig)
        top = exp + length - 1                         # exponent of the leading one
        quantum = (np.maximum(top, emin) if self.subnormals else top) - mb
        shift = quantum - exp
        left = np.clip(-shift, 0, 63).astype(np.uint64)
        m = np.where(shift <= 0, sig << left,
                     _rshift_round(sig, np.maximum(shift, 0), sign, "rne"))
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
        code = np.where(sign, np.uint64(1 << (self.bits - 1)), _U0) | mag
        if self.overflow == "saturate":
            over_code = np.where(sign, np.uint64(1 << (self.bits - 1)), _U0) \
                | np.uint64(self.max_code)
        else:
            over_code = self._inf_result(sign)
        code = np.where(over, over_code, code)
        return np.where((sig == 0) | under, self._zero(sign), code).reshape(shape)

    def encode(self, x):
        """float64 values -> codes (RNE, with this format's policies)."""
        x, sign, sig, exp, nan, inf = _float_inputs(x)
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
        c = _as_codes(codes, self.bits, self)
        shape, c = c.shape, c.ravel()
        mb = np.uint64(self.man_bits)
        sign = (c >> np.uint64(self.bits - 1)) == _U1
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
        sig = np.where(sub, man if self.subnormals else _U0, man | (_U1 << mb))
        sig = np.where(nan | inf, _U0, sig)
        exp = np.where(sub, self.emin, efield - self.bias) - self.man_bits
        return tuple(a.reshape(shape) for a in (sign, sig, exp, nan, inf))

    def decode(self, codes):
        """Codes -> float64 values (NaN codes -> NaN, exact otherwise)."""
        sign, sig, exp, nan, inf = self.decompose(codes)
        mag = np.where(inf, np.inf, np.ldexp(sig.astype(np.float64), exp))
        return np.where(nan, np.nan, np.where(sign, -mag, mag))


# --- posit ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PositFormat:
    """Posit format (Posit Standard 2022 semantics, generalised to any ``es``).

    Codes are two's complement: 0 is zero, 10…0 is NaR (decoded as NaN). ``encode`` and
    ``round_exact`` round on the bit pattern: the exact value's infinite posit bit string
    is cut to n bits and rounded to nearest, ties to the even pattern. A nonzero value
    never rounds to 0 (it becomes ±minpos) nor to NaR (±maxpos); NaN and ±inf give NaR.

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
        n = _check_int("n", self.n, 3, 32)
        if isinstance(self.es, bool) or not hasattr(type(self.es), "__index__"):
            raise TypeError(f"es must be an integer, not {self.es!r}")
        es = operator.index(self.es)
        hi = min(4, n - 3)
        if not 0 <= es <= hi:
            raise ValueError(f"es must be in 0..min(4, n - 3) = {hi} for n={n}, not {es}")
        useed_log = 1 << es
        _set(self, n=n, es=es, bits=n, nar_code=1 << (n - 1),
             useed=float(2.0 ** useed_log),
             maxpos=float(np.ldexp(1.0, useed_log * (n - 2))),
             minpos=float(np.ldexp(1.0, -useed_log * (n - 2))))

    def __str__(self):
        return f"posit{self.n}_{self.es}"

    def round_exact(self, sign, sig, exp):
        """Codes of (-1)**sign * sig * 2**exp, rounded on the bit pattern (sig 0 -> 0)."""
        n, es = self.n, self.es
        shape, sign, sig, exp = _flat(sign, sig, exp)
        zero = sig == 0
        # Keep at most 40 significant bits, the rest as a sticky bit: at most
        # n - 3 - es + 1 <= 30 fraction bits reach the pattern or its guard bit.
        length = _bit_length(sig)
        drop = np.maximum(length - 40, 0)
        dropu = drop.astype(np.uint64)
        sticky = (sig & ((_U1 << dropu) - _U1)) != 0
        sig = (sig >> dropu) | sticky.astype(np.uint64)
        exp = exp + drop
        length = np.maximum(np.minimum(length, 40), 1)
        scale = exp + length - 1
        regime = scale >> es                            # floor division by 2**es
        e = (scale - (regime << es)).astype(np.uint64)
        rc = np.clip(regime, -(n - 2), n - 3)
        frac = sig & ((_U1 << (length - 1).astype(np.uint64)) - _U1)
        # Regime bits: R >= 0 -> R + 1 ones then a zero; R < 0 -> -R zeros then a one.
        rbits = np.where(rc >= 0, ((_U1 << (rc + 1).clip(0).astype(np.uint64)) - _U1) << _U1,
                         _U1)
        rlen = np.where(rc >= 0, rc + 2, 1 - rc)
        avail = (n - 1) - rlen                          # >= 0 bits left for exponent/fraction
        body = (e << (length - 1).astype(np.uint64)) | frac
        blen = es + length - 1
        d = blen - avail
        dpos = np.clip(d, 0, 63).astype(np.uint64)
        dneg = np.clip(-d, 0, 63).astype(np.uint64)
        pattern = (rbits << avail.astype(np.uint64)) | np.where(d > 0, body >> dpos, body << dneg)
        gpos = np.clip(d - 1, 0, 63).astype(np.uint64)
        guard = np.where(d > 0, (body >> gpos) & _U1, _U0)
        below = np.where(d > 1, body & ((_U1 << gpos) - _U1), _U0)
        up = (guard == _U1) & ((below != 0) | ((pattern & _U1) == _U1))
        pattern = pattern + up.astype(np.uint64)
        # Beyond the regimes that fit: maxpos and minpos. Inside them the truncated pattern
        # holds a regime 1 bit and a 0 bit, so 1 <= pattern <= maxpos after rounding.
        maxpat = np.uint64((1 << (n - 1)) - 1)
        pattern = np.where(regime > n - 3, maxpat, pattern)
        pattern = np.where(regime < -(n - 2), _U1, pattern)
        mask = np.uint64((1 << n) - 1)
        code = np.where(sign, (_U0 - pattern) & mask, pattern)
        return np.where(zero, _U0, code).reshape(shape)

    def encode(self, x):
        """float64 values -> codes (pattern RNE; NaN/±inf -> NaR)."""
        x, sign, sig, exp, nan, inf = _float_inputs(x)
        code = self.round_exact(sign, sig, exp)
        return np.where(nan | inf, np.uint64(self.nar_code), code)

    def decompose(self, codes):
        """Exact split of codes: (sign, sig, exp, nar); value = (-1)**sign * sig * 2**exp.

        sig (uint64) is 0 for zero and NaR.
        """
        n, es = self.n, self.es
        c = _as_codes(codes, n, self)
        shape, c = c.shape, c.ravel()
        nar = c == np.uint64(self.nar_code)
        zero = c == 0
        sign = (c >> np.uint64(n - 1)) == _U1
        mask = np.uint64((1 << n) - 1)
        body_mask = np.uint64((1 << (n - 1)) - 1)
        x = np.where(sign, (_U0 - c) & mask, c) & body_mask
        first = ((x >> np.uint64(n - 2)) & _U1) == _U1
        run = (n - 1) - _bit_length(np.where(first, ~x & body_mask, x))
        regime = np.where(first, run - 1, -run)
        rest = np.maximum(n - 2 - run, 0)             # bits after the terminating bit
        tail = x & ((_U1 << rest.astype(np.uint64)) - _U1)
        fbits = np.maximum(rest - es, 0)
        e = np.where(rest >= es, tail >> fbits.astype(np.uint64),
                     tail << np.maximum(es - rest, 0).astype(np.uint64))
        frac = tail & ((_U1 << fbits.astype(np.uint64)) - _U1)
        sig = np.where(zero | nar, _U0, (_U1 << fbits.astype(np.uint64)) | frac)
        exp = (regime << es) + e.astype(np.int64) - fbits
        return tuple(a.reshape(shape) for a in (sign, sig, exp, nar))

    def decode(self, codes):
        """Codes -> float64 values (NaR -> NaN, exact otherwise)."""
        sign, sig, exp, nar = self.decompose(codes)
        mag = np.ldexp(sig.astype(np.float64), exp)
        return np.where(nar, np.nan, np.where(sign, -mag, mag))


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

PRESETS = {f.name: f for f in (FP32, FP16, BF16, FP8_E4M3, FP8_E5M2, FP6_E3M2, FP6_E2M3,
                               FP4_E2M1)}


def format_from_name(name):
    """The format called `name` (case-insensitive).

    Accepts the preset names (``PRESETS``), ``intN``/``uintN`` (IntFormat),
    ``positN_ES`` (PositFormat(N, ES)) and ``eEmM`` with optional suffixes: FloatFormat(E, M)
    with IEEE specials, or with ``_ftz`` no subnormals, ``_fn``/``_fnuz``/``_none`` those
    specials, ``_sat`` saturating overflow (e.g. ``e8m7_ftz``: bfloat16 flushing to zero;
    ``e9m7``: one more exponent bit). A name that spells a preset returns the preset.
    Raises ValueError for anything else.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, not {name!r}")
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    match = re.fullmatch(r"(u?)int(\d+)", key)
    if match:
        return IntFormat(int(match.group(2)), match.group(1) == "")
    match = re.fullmatch(r"posit(\d+)_(\d+)", key)
    if match:
        return PositFormat(int(match.group(1)), int(match.group(2)))
    match = re.fullmatch(r"e(\d+)m(\d+)((?:_(?:ftz|fn|fnuz|none|sat))*)", key)
    if match:
        suffixes = match.group(3).split("_")[1:]
        specials = [x for x in suffixes if x in ("fn", "fnuz", "none")]
        if len(set(suffixes)) != len(suffixes) or len(specials) > 1:
            raise ValueError(f"format {name!r} repeats a suffix or names two kinds of "
                             f"specials")
        fmt = FloatFormat(int(match.group(1)), int(match.group(2)),
                          subnormals="ftz" not in suffixes,
                          specials=specials[0] if specials else "ieee",
                          overflow="saturate" if "sat" in suffixes else "inf", name=key)
        for preset in PRESETS.values():
            if preset == fmt:
                return preset
        return fmt
    raise ValueError(f"unknown format {name!r}; known formats: {', '.join(PRESETS)}, "
                     f"intN, uintN (N in 1..64), positN_ES (e.g. posit8_0, posit16_1), "
                     f"eEmM[_ftz][_fn|_fnuz|_none][_sat] (e.g. e8m7_ftz)")
