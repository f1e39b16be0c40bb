"""Fixed-point nonlinear functions, bit-exact: sigmoid, SiLU, exp2/exp and 1/sqrt.

Each function is a *spec* object built from its formats and method parameters. Building it
computes the method's coefficients (fitted to the float64 function on every input code of
each segment, then rounded to the coefficient grid); `evaluate` maps input codes to output
codes with exact integer arithmetic, which is the hardware's arithmetic (`hdl/nonlinear.py`
reads the same coefficients and widths from the spec); `reference` is the float64 function
and `errors` measures one against the other over the input range.

`Activation` (sigmoid, SiLU) — the input is a signed `FixedFormat` code x (bits N, fraction
bits F); the unit works on a = |x| and uses the symmetry of the function:
σ(−a) = 1 − σ(a), SiLU(−a) = SiLU(a) − a. Methods:

- ``"pwl"``: uniform piecewise-linear, `segments` = 2^k segments over a ∈ [0, 2^(N−1−F)),
  indexed by the top k bits of a; on each, intercept A and slope B from a ROM:
  value = A·2^−W + floor(B·t / 2^(Sb+F−P))·2^−P, t the low T = N−1−k bits of a, on
  P = max(W, F) fraction bits (the product floored to them).
- ``"pow2"``: the same segments with every slope a signed power of two or 0, so the
  product is a shift (shift-add, in the spirit of PLAN).
- ``"lut"``: a direct lookup table: one output value per segment (k = N − 1 gives one
  entry per input code: with round-to-nearest outputs, the correctly rounded function;
  with floor or trunc, the negative side of sigmoid is 1 − (the positive side rounded),
  within one lsb).
- ``"hard"``: hard sigmoid clamp(x/4 + 1/2, 0, 1) (slope of σ at 0, clipped at ±2), and
  for SiLU x · hard_sigmoid(x); exact, then rounded once.
- ``"plan"`` (sigmoid only): the PLAN approximation (Amin, Curtis and Hayes-Gill, 1997):
  slopes 1/4, 1/8, 1/32 and 0 with breakpoints 1, 2.375 and 5.

`Exp` — 2^x or e^x of a non-positive signed fixed-point input (positive inputs are taken
as 0): x·log2(e) for e^x (an integer product, floored to W fraction bits), split into
−m + u with u ∈ [0, 1); 2^u by a polynomial of order 1 or 2 on `segments` uniform segments
of u (Horner's rule, each product floored to W fraction bits), the first with its constant
fixed at 1 (so 2^-m is exact, and 2^0 = e^0 = 1); then shifted right by m and rounded
once.

`RSqrt` — 1/√x of an unsigned fixed-point input: normalise x to m·4^e with m ∈ [1, 4)
(a leading-zero count), seed y0 ≈ 1/√m from a table indexed by the top bits of m, `steps`
Newton steps y ← y·(3 − m·y²)/2 on a fixed-point grid (each product floored), then shifted
by e and rounded once. x = 0 gives the largest output code.

Every intermediate is an integer below 2^62 (a spec that would need more raises
ValueError), and the final rounding and overflow are the output format's own
(`FixedFormat.round_exact`).
"""

import math

import numpy as np

from . import checks, formats

__all__ = ["Activation", "Exp", "RSqrt", "sigmoid", "silu", "evaluate", "errors",
           "float_pwl_error", "ACTIVATION_METHODS"]

ACTIVATION_METHODS = {"sigmoid": ("pwl", "pow2", "lut", "hard", "plan"),
                      "silu": ("pwl", "pow2", "lut", "hard")}
FITS = ("minimax", "lsq")
MAX_BITS = 62                       # every intermediate integer stays below 2^62
EXHAUSTIVE_BITS = 20                # `errors` visits every code up to this input width

# PLAN: (breakpoint, slope exponent s, intercept · 32) per segment, from the top: for
# a >= breakpoint, σ(a) ≈ a·2^-s + intercept / 32.
PLAN = ((5.0, None, 32), (2.375, 5, 27), (1.0, 3, 20), (0.0, 2, 16))


def sigmoid(x):
    """float64 logistic function (tanh form: accurate at both ends)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def silu(x):
    """float64 SiLU, x·σ(x)."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


REFERENCES = {"sigmoid": sigmoid, "silu": silu}


def _fixed(name, fmt, *, signed=None):
    if isinstance(fmt, str):
        fmt = formats.format_from_name(fmt)
    if not isinstance(fmt, formats.FixedFormat):
        raise TypeError(f"{name} must be a FixedFormat, not {fmt!r}")
    if signed is not None and fmt.signed != signed:
        raise ValueError(f"{name} must be {'a signed (sq)' if signed else 'an unsigned (uq)'} "
                         f"FixedFormat, not {fmt}")
    return fmt


def _power_of_two(name, value, hi_bits):
    value = checks.integer(name, value, lo=1, hi=1 << hi_bits)
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two in 1..{1 << hi_bits}, not {value}")
    return value.bit_length() - 1


def _check_width(what, value_bits):
    if value_bits > MAX_BITS:
        raise ValueError(f"{what} needs {value_bits}-bit intermediates (at most {MAX_BITS}): "
                         f"use fewer guard bits or narrower formats")


def _round_out(out_fmt, v, frac):
    """Codes of out_fmt for the integers v · 2^-frac (frac scalar or array)."""
    v = np.asarray(v, dtype=np.int64)
    frac = np.broadcast_to(np.asarray(frac, dtype=np.int64), v.shape)
    return out_fmt.round_exact(v < 0, np.abs(v).astype(np.uint64), -frac)


def _rounded_values(out_fmt, v, frac):
    """The values (float64) of `_round_out(out_fmt, v, frac)` for a scalar `frac` >=
    out_fmt.frac_bits, by int64 arithmetic: the same result, faster (the coefficient
    search calls it thousands of times)."""
    d = frac - out_fmt.frac_bits
    v = np.asarray(v, dtype=np.int64)
    q = v >> d
    if d:
        rem = v - (q << d)
        if out_fmt.rounding == "rne":
            half = np.int64(1) << (d - 1)
            q = q + ((rem > half) | ((rem == half) & (q & 1 == 1)))
        elif out_fmt.rounding == "trunc":
            q = q + ((v < 0) & (rem != 0))
    bits = out_fmt.bits
    if out_fmt.overflow == "saturate":
        lo = -(1 << (bits - 1)) if out_fmt.signed else 0
        hi = (1 << (bits - 1)) - 1 if out_fmt.signed else (1 << bits) - 1
        q = np.clip(q, lo, hi)
    else:
        q = q & ((1 << bits) - 1)
        if out_fmt.signed:
            q = np.where(q >= 1 << (bits - 1), q - (1 << bits), q)
    return np.ldexp(q.astype(np.float64), -out_fmt.frac_bits)


def _input_codes(fmt, rng=None):
    """Every code of `fmt` (up to EXHAUSTIVE_BITS bits), else 2^20 random codes and the
    range ends; as uint64."""
    if fmt.bits <= EXHAUSTIVE_BITS:
        return np.arange(1 << fmt.bits, dtype=np.uint64)
    rng = rng or np.random.default_rng(0)
    codes = rng.integers(0, 1 << fmt.bits, size=1 << 20, dtype=np.uint64)
    ends = [0, 1, (1 << (fmt.bits - 1)) - 1, 1 << (fmt.bits - 1), (1 << fmt.bits) - 1]
    return np.concatenate([codes, np.array(ends, dtype=np.uint64)])


def _minimax_line(s, f, tolerance=0.0):
    """(slope, intercept, error) of the line minimising max |f − (a + b·s)| over the
    points: the error is convex in b (for the best a, half the residuals' spread), so a
    golden-section search over the secant slopes finds it, to within `tolerance` in b
    (or to float precision)."""
    if s.size < 2:
        return 0.0, float(f[0]) if f.size else 0.0, 0.0

    def spread(b):
        r = f - b * s
        return r.max() - r.min(), r
    secants = np.diff(f) / np.diff(s)
    lo, hi = float(secants.min()), float(secants.max())
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        if hi - lo <= max(tolerance, 1e-15 * max(1.0, abs(hi))):
            break
        b1, b2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if spread(b1)[0] <= spread(b2)[0]:
            hi = b2
        else:
            lo = b1
    b = (lo + hi) / 2
    width, r = spread(b)
    return b, (r.max() + r.min()) / 2, width / 2


def _candidates_pow2(b, scale):
    """Slopes (integers on the 2^-Sb grid, Sb = log2(scale)) that are 0 or ±2^e, near b."""
    out = {0}
    target = abs(b) * scale
    if target >= 0.5:
        e = int(math.floor(math.log2(target)))
        for k in (e - 1, e, e + 1):
            if k >= 0:
                out.add(int(math.copysign(1 << k, b)))
    elif target > 0:
        out.add(int(math.copysign(1, b)))
    return sorted(out)


def _shift(value, shift):
    """value · 2^shift, floored (an arithmetic shift either way)."""
    return value << shift if shift >= 0 else value >> -shift


SEARCH_POINTS = 4096     # larger segments: candidates are scored near their extremes


def _fit_segment(t, s, f, fracs, c0_shift, rest_value, fit, pow2, errors_of, lsb, c0=None):
    """Integer coefficients (c_0, c_1, …) of one segment of a piecewise polynomial whose
    integer value is ``c_0·2^c0_shift + rest_value([c_1, …])``.

    t: the segment's offsets (integers), s: the same as values, f: the target values;
    fracs: the coefficients' fraction bits; ``errors_of(v, keep)``:
    the output errors (after rounding) that the integer values v give at the points
    `keep` (an index array, or None for all); lsb: the output's lsb in units of v.
    ``"lsq"``: least squares, rounded. ``"minimax"``: the minimax line (order 1) or least
    squares (order 2), then the top coefficient searched near its rounded value (among 0
    and ±2^e for `pow2`) and the constant near the one that centres the residuals, for the
    smallest maximum error after output rounding, ties to the smaller mean. In a segment
    of more than SEARCH_POINTS points a candidate is scored on the points whose residual
    before rounding is within 2 lsb of its largest (the only ones where the maximum after
    rounding can be): the maximum is exact, the mean is over those points.
    """
    order = len(fracs) - 1
    if c0 is not None:                       # fit the rest to f - c0
        f_fit, s_fit = f - c0 * 2.0 ** -fracs[0], s
        coefs = np.linalg.lstsq(np.stack([s_fit ** i for i in range(1, order + 1)], axis=1),
                                f_fit, rcond=None)[0] if s.size > 1 else np.zeros(order)
        poly = [c0 * 2.0 ** -fracs[0]] + list(coefs)
    elif order == 1 and fit == "minimax":
        # To a quarter of the slope grid: the integer search below does the rest.
        b, a, _ = _minimax_line(s, f, tolerance=2.0 ** -(fracs[1] + 2))
        poly = [a, b]
    else:
        poly = list(np.polyfit(s, f, order)[::-1]) if s.size > order else \
            [float(f.mean())] + [0.0] * order
    rounded = [int(np.rint(c * 2.0 ** fr)) for c, fr in zip(poly, fracs)]
    if fit == "lsq" and not pow2:
        return rounded
    frac = fracs[0] + c0_shift
    target = f * 2.0 ** frac
    best = None
    top = _candidates_pow2(poly[1], 2.0 ** fracs[1]) if pow2 else \
        range(rounded[1] - 2, rounded[1] + 3)
    for c1 in top:
        rest = [c1] + rounded[2:]
        v_rest = rest_value(rest)
        r = target - v_rest
        mid = (r.max() + r.min()) / 2 / 2.0 ** c0_shift
        constants = [c0] if c0 is not None else \
            range(int(math.floor(mid)) - 1, int(math.ceil(mid)) + 2)
        for c0_try in constants:
            v = v_rest + (c0_try << c0_shift)
            keep = None
            if t.size > SEARCH_POINTS:
                res = np.abs(r - float(c0_try << c0_shift))
                keep = np.flatnonzero(res >= res.max() - 2 * lsb)
                v = v[keep]
            err = errors_of(v, keep)
            key = (err.max(), err.mean())
            if best is None or key < best[0]:
                best = (key, [c0_try] + rest)
    return best[1]


class Activation:
    """Sigmoid or SiLU on fixed point, by one of `ACTIVATION_METHODS` (module docstring).

    Parameters
    ----------
    function : str
        ``"sigmoid"`` or ``"silu"``.
    method : str
        ``"pwl"``, ``"pow2"``, ``"lut"``, ``"hard"`` or (sigmoid) ``"plan"``.
    in_fmt : FixedFormat (or its name)
        Signed input format.
    out_fmt : FixedFormat (or its name)
        Output format: for sigmoid any format that holds [0, 1 − lsb]; for SiLU a signed
        format whose integer range holds the input range (SiLU(x) ≈ x for large x).
    segments : int or None
        ``pwl``/``pow2``/``lut``: the number of segments (ROM entries) over a ∈ [0, 2^(N−1−F)),
        a power of two up to 2^(N−1); default 16 (``lut``: 2^(N−1), a full table).
        Must be None for ``hard`` and ``plan``.
    guard_bits : int
        ``pwl``/``pow2``: fraction bits of the intercepts beyond the output's, 0..8
        (W = out_fmt.frac_bits + guard_bits); slopes are on a grid that gives the product
        the same resolution at the segment's end. Default 2.
    fit : str
        ``"minimax"`` (default: the best line on each segment's input codes, then the
        integer coefficients searched near it for the smallest error after rounding) or
        ``"lsq"`` (least squares, rounded).

    Attributes
    ----------
    segment_bits, offset_bits : int
        k and T = N − 1 − k (table methods).
    frac : int
        Fraction bits P of the value before the final rounding.
    coef_frac : tuple of int
        Fraction bits of the intercept and slope (table methods).
    intercepts, slopes : tuple of int
        The ROM contents (table methods; slopes are 0 for ``lut``).
    value_bits : int
        Width of the signed value before rounding.
    """

    def __init__(self, function, method, in_fmt, out_fmt, *, segments=None, guard_bits=2,
                 fit="minimax"):
        self.function = checks.choice("function", function, tuple(ACTIVATION_METHODS))
        self.method = checks.choice("method", method, ACTIVATION_METHODS[function])
        self.in_fmt = in_fmt = _fixed("in_fmt", in_fmt, signed=True)
        self.out_fmt = out_fmt = _fixed("out_fmt", out_fmt)
        self.fit = checks.choice("fit", fit, FITS)
        self.guard_bits = checks.integer("guard_bits", guard_bits, lo=0, hi=8)
        n, f = in_fmt.bits, in_fmt.frac_bits
        if function == "sigmoid":
            if out_fmt.max_value < 1 - out_fmt.lsb or out_fmt.frac_bits < 1:
                raise ValueError(f"out_fmt {out_fmt} is too narrow for sigmoid's range "
                                 f"(0, 1): it needs a fraction bit and values up to 1 − lsb")
        else:
            if not out_fmt.signed or out_fmt.int_bits < in_fmt.int_bits:
                raise ValueError(f"out_fmt {out_fmt} is too narrow for SiLU of {in_fmt}: "
                                 f"SiLU ranges over [−0.279, {in_fmt.max_value}], so it "
                                 f"needs a signed format with at least "
                                 f"{in_fmt.int_bits} integer bits")
        table = method in ("pwl", "pow2", "lut")
        if not table:
            if segments is not None:
                raise ValueError(f"segments applies to methods pwl, pow2 and lut, not "
                                 f"{method!r} (leave it None)")
            self.segment_bits = self.offset_bits = None
            self.coef_frac = self.intercepts = self.slopes = self.shifts = None
            self.frac = f + 2 if method == "hard" and function == "sigmoid" else \
                2 * f + 2 if method == "hard" else f + 5
            self.frac = max(self.frac, f)
            self.segments = None
        else:
            if segments is None:
                segments = 1 << (n - 1) if method == "lut" else 16
            self.segment_bits = k = _power_of_two("segments", segments, n - 1)
            self.segments = segments
            self.offset_bits = T = n - 1 - k
            W = out_fmt.frac_bits + (0 if method == "lut" else self.guard_bits)
            # Value on P = max(W, F) fraction bits (F for SiLU's a); the slope on the grid
            # that makes the product's resolution at the segment's end 2^-W; the product
            # floored to P bits: A·2^(P−W) + floor(B·t / 2^(Sb + F − P)).
            P = max(W, f)
            Sb = max(W + T - f, 0)
            self.frac = P
            self.coef_frac = (W, Sb)
            self.shifts = (P - W, P - Sb - f)
            self._fit_table()
        top = max(abs(out_fmt.min_value), out_fmt.max_value, in_fmt.max_value + 1) + 2
        self.value_bits = self.frac + max(1, math.ceil(math.log2(top))) + 2
        _check_width(f"{function} {method} {in_fmt}->{out_fmt}", self.value_bits + 1)

    def __repr__(self):
        extra = f", segments={self.segments}" if self.segments else ""
        return (f"Activation({self.function!r}, {self.method!r}, {self.in_fmt}, "
                f"{self.out_fmt}{extra})")

    def _fit_table(self):
        n, f = self.in_fmt.bits, self.in_fmt.frac_bits
        k, T = self.segment_bits, self.offset_bits
        W, Sb = self.coef_frac
        ref = REFERENCES[self.function]
        t = np.arange(1 << T, dtype=np.int64)
        s = t * 2.0 ** -f
        if self.method == "lut":
            # One output code per segment: the one nearest the centre of the segment's
            # range (per the output rounding).
            values = ref(np.arange(1 << (k + T), dtype=np.int64).reshape(1 << k, -1)
                         * 2.0 ** -f)
            centre = (values.max(axis=1) + values.min(axis=1)) / 2 if self.fit == "minimax" \
                else values.mean(axis=1)
            # Encoded with one more integer bit than the output, so that the symmetric
            # side sees the unsaturated value (1 − σ(a) where σ(a) rounds to 1).
            out = self.out_fmt
            wide = formats.FixedFormat(out.int_bits + 1, out.frac_bits, out.signed,
                                       rounding=out.rounding)
            self.intercepts = tuple(int(v) for v in wide.decode_int(wide.encode(centre)))
            self.slopes = (0,) * (1 << k)
            return
        intercepts, slopes = [], []
        for j in range(1 << k):
            a = (j << T) + t
            fj = ref(a * 2.0 ** -f)
            f_neg = ref(-a * 2.0 ** -f)

            def errors_of(v, keep, a=a, fj=fj, f_neg=f_neg):   # both signs: σ(−a) from σ(a)
                out = self.out_fmt
                if keep is not None:
                    a, fj, f_neg = a[keep], fj[keep], f_neg[keep]
                pos = _rounded_values(out, v, self.frac)
                neg = _rounded_values(out, self._negative(v, a), self.frac)
                return np.concatenate([np.abs(pos - fj), np.abs(neg - f_neg)])
            c = _fit_segment(t, s, fj, (W, Sb), self.shifts[0],
                             lambda rest, t=t: self.linear(0, rest[0], t), self.fit,
                             self.method == "pow2", errors_of,
                             2.0 ** (self.frac - self.out_fmt.frac_bits))
            intercepts.append(c[0])
            slopes.append(c[1])
        self.intercepts, self.slopes = tuple(intercepts), tuple(slopes)

    def linear(self, intercept, slope, t):
        """The table methods' value A·2^(P−W) + floor(B·t / 2^(Sb+F−P)) (any shapes)."""
        return _shift(np.asarray(intercept, dtype=np.int64), self.shifts[0]) + \
            _shift(np.asarray(slope, dtype=np.int64) * t, self.shifts[1])

    def positive_value(self, a):
        """The integer value (at `frac` fraction bits) for magnitudes a (int64; below
        2^(N-1) for the table methods)."""
        f = self.in_fmt.frac_bits
        P = self.frac
        if self.method == "hard":
            half, one = 1 << (f + 1), 1 << (f + 2)          # 1/2 and 1 at f + 2 bits
            h = np.minimum(a + half, one)
            return h << (P - f - 2) if self.function == "sigmoid" else a * h << (P - 2 * f - 2)
        if self.method == "plan":
            v = np.zeros(a.shape, dtype=np.int64)
            done = np.zeros(a.shape, dtype=bool)
            for point, shift, c32 in PLAN:
                here = ~done & (a >= math.ceil(point * 2 ** f))
                slope = 0 if shift is None else a << (5 - shift)
                v = np.where(here, slope + (c32 << f), v)
                done |= here
            return v << (P - f - 5)
        T = self.offset_bits
        index = a >> T
        return self.linear(np.asarray(self.intercepts)[index], np.asarray(self.slopes)[index],
                           a & ((1 << T) - 1))

    def value(self, codes):
        """(integer values before the final rounding, their fraction bits)."""
        x = self.in_fmt.decode_int(codes).astype(np.int64)
        negative = x < 0
        a = np.abs(x)
        if self.segments:          # the table covers magnitudes below 2^(N-1-F) only
            a = np.minimum(a, (1 << (self.in_fmt.bits - 1)) - 1)
        v = self.positive_value(a)
        return np.where(negative, self._negative(v, a), v), self.frac

    def _negative(self, v, a):
        """The value at −a from the value v at a: 1 − v (sigmoid), v − a (SiLU)."""
        if self.function == "sigmoid":
            return (1 << self.frac) - v
        return v - (a << (self.frac - self.in_fmt.frac_bits))

    def evaluate(self, codes):
        """Input codes -> output codes (uint64), bit-exact with the hardware."""
        v, P = self.value(codes)
        return _round_out(self.out_fmt, v, P)

    def reference(self, x):
        """The float64 function."""
        return REFERENCES[self.function](x)

    def input_values(self, codes):
        return self.in_fmt.decode(codes)


def float_pwl_error(function, in_fmt, segments):
    """The maximum error of the best float piecewise-linear approximation with the same
    uniform segments as `Activation(function, "pwl", in_fmt, …, segments=segments)`, on
    every input code (minimax line per segment, real coefficients, no output rounding)."""
    in_fmt = _fixed("in_fmt", in_fmt, signed=True)
    n, f = in_fmt.bits, in_fmt.frac_bits
    k = _power_of_two("segments", segments, n - 1)
    T = n - 1 - k
    t = np.arange(1 << T, dtype=np.int64)
    worst = 0.0
    for j in range(1 << k):
        fj = REFERENCES[function](((j << T) + t) * 2.0 ** -f)
        worst = max(worst, _minimax_line(t * 2.0 ** -f, fj)[2])
    return worst


LOG2E = math.log2(math.e)


class Exp:
    """2^x (``base="2"``) or e^x (``base="e"``) for x ≤ 0 on fixed point (module docstring).

    Parameters
    ----------
    in_fmt : FixedFormat
        Signed input format (positive inputs give 1: the function is evaluated at min(x, 0)).
    out_fmt : FixedFormat
        Output format; it must hold 1.0.
    base : str
        ``"2"`` or ``"e"``.
    order : int
        Polynomial order for 2^u on each segment, 1 or 2.
    segments : int
        Uniform segments of u ∈ [0, 1), a power of two, 1..2^U (U the fraction bits of u).
    guard_bits : int
        Fraction bits beyond the output's for the polynomial's constant, 0..8 (W).

    Attributes
    ----------
    log2e : int or None
        For e^x: round(log2(e)·2^L), L = W + int_bits of in_fmt; x·log2e is floored to
        U = W fraction bits.
    u_bits : int
        Fraction bits U of u (F for 2^x, W for e^x).
    segment_bits, offset_bits : int
        k and T = U − k.
    frac : int
        Fraction bits W of the polynomial's value (`horner`: each product floored).
    coefs : tuple of tuple of int
        ``coefs[i][j]``: coefficient i of segment j, with W − i·k fraction bits.
    """

    def __init__(self, in_fmt, out_fmt, *, base="2", order=1, segments=1, guard_bits=2):
        self.in_fmt = in_fmt = _fixed("in_fmt", in_fmt, signed=True)
        self.out_fmt = out_fmt = _fixed("out_fmt", out_fmt)
        if out_fmt.max_value < 1:
            raise ValueError(f"out_fmt {out_fmt} is too narrow for exp's range (0, 1]: it "
                             f"must hold 1.0 (an unsigned format needs an integer bit, a "
                             f"signed one two)")
        self.base = checks.choice("base", base, ("2", "e"))
        self.order = checks.integer("order", order, lo=1, hi=2)
        self.guard_bits = checks.integer("guard_bits", guard_bits, lo=0, hi=8)
        W = out_fmt.frac_bits + self.guard_bits
        self.coef_base = W
        if self.base == "e":
            self.log2e_frac = W + in_fmt.int_bits
            self.log2e = int(round(LOG2E * 2 ** self.log2e_frac))
            self.u_bits = W
        else:
            self.log2e_frac = self.log2e = None
            self.u_bits = in_fmt.frac_bits
        U = self.u_bits
        if U == 0:
            raise ValueError(f"in_fmt {in_fmt} has no fraction bits: 2^x of an integer is "
                             f"a shift; use a format with fraction bits")
        self.segment_bits = k = _power_of_two("segments", segments, U)
        self.segments = segments
        if W - self.order * k < 0:
            raise ValueError(f"segments={segments} is too many for order={self.order} at "
                             f"{W} coefficient bits (at most 2^{W // self.order})")
        self.offset_bits = T = U - k
        self.frac = W
        self.coef_frac = tuple(W - i * k for i in range(self.order + 1))
        # Integer part of x (or x·log2e): m up to 2^(int_bits-1) (·1.45); shifts beyond
        # the value's width give 0.
        self.max_shift = math.ceil((1 << (in_fmt.int_bits - 1)) * (LOG2E if base == "e"
                                                                   else 1)) + 1
        self.value_bits = self.frac + 2
        if self.base == "e":
            _check_width(f"exp {in_fmt}", in_fmt.bits + self.log2e_frac + 3)
        _check_width(f"exp {in_fmt}->{out_fmt}", self.value_bits + 1)
        self._fit()

    def __repr__(self):
        return (f"Exp({self.in_fmt}, {self.out_fmt}, base={self.base!r}, order={self.order}, "
                f"segments={self.segments})")

    def _fit(self):
        k, T, U = self.segment_bits, self.offset_bits, self.u_bits
        t = np.arange(1 << T, dtype=np.int64)
        s = t * 2.0 ** -U
        coefs = [[] for _ in range(self.order + 1)]
        for j in range(1 << k):
            fj = np.exp2(((j << T) + t) * 2.0 ** -U)

            def errors_of(v, keep, fj=fj):              # at m = 0, where the error is largest
                fj = fj if keep is None else fj[keep]
                return np.abs(_rounded_values(self.out_fmt, v, self.frac) - fj)
            # Segment 0 starts at 2^0 = 1 exactly: 2^x is exact at every integer x.
            c = _fit_segment(t, s, fj, self.coef_frac, 0,
                             lambda rest, t=t: self.horner([0] + rest, t), "minimax", False,
                             errors_of, 2.0 ** (self.frac - self.out_fmt.frac_bits),
                             c0=(1 << self.coef_frac[0]) if j == 0 else None)
            for i in range(self.order + 1):
                coefs[i].append(c[i])
        self.coefs = tuple(tuple(c) for c in coefs)

    def horner(self, coefs, t):
        """The polynomial on W fraction bits by Horner's rule, each product floored to its
        sum's grid: c0 + floor(c1·t / 2^T) (order 1); c0 + floor((c1 + floor(c2·t / 2^T))
        · t / 2^T) (order 2). `coefs` are scalars or arrays (per point)."""
        T = self.offset_bits
        c = [np.asarray(ci, dtype=np.int64) for ci in coefs]
        acc = c[-1]
        for ci in reversed(c[:-1]):
            acc = ci + ((acc * t) >> T)
        return acc

    def split(self, codes):
        """(m, u): min(x, 0)(·log2 e) = −m + u·2^-U, m >= 0, 0 <= u < 2^U."""
        x = np.minimum(self.in_fmt.decode_int(codes).astype(np.int64), 0)
        if self.base == "e":
            z = (x * self.log2e) >> (self.in_fmt.frac_bits + self.log2e_frac - self.u_bits)
        else:
            z = x
        return -(z >> self.u_bits), z & ((1 << self.u_bits) - 1)

    def evaluate(self, codes):
        m, u = self.split(codes)
        T = self.offset_bits
        index = u >> T
        v = self.horner([np.asarray(c)[index] for c in self.coefs], u & ((1 << T) - 1))
        return _round_out(self.out_fmt, v, self.frac + m)

    def reference(self, x):
        x = np.minimum(np.asarray(x, dtype=np.float64), 0.0)
        return np.exp2(x) if self.base == "2" else np.exp(x)

    def input_values(self, codes):
        """The input values over which the error is measured (x <= 0; others NaN)."""
        x = self.in_fmt.decode(codes)
        return np.where(x <= 0, x, np.nan)


class RSqrt:
    """1/√x of an unsigned fixed-point input: table seed plus Newton steps.

    Parameters
    ----------
    in_fmt : FixedFormat
        Unsigned input format.
    out_fmt : FixedFormat
        Output format; it must hold 1/√(smallest positive input) = 2^(F/2) (x = 0 gives its
        largest code).
    seed_bits : int
        1..8: the seed table has 2^seed_bits entries, half for m ∈ [1, 2) and half for
        [2, 4), indexed by which half and m's next seed_bits − 1 bits.
    steps : int
        Newton steps, 0..3.
    guard_bits : int
        Working fraction bits beyond the output's, 0..8 (`work_bits`).

    Attributes
    ----------
    work_bits : int
        Fraction bits G = max(out_fmt.frac_bits + guard_bits, seed_bits + 2) of y, of m
        and of every product (each floored).
    seeds : tuple of int
        The seed table, y0 on G fraction bits.
    """

    def __init__(self, in_fmt, out_fmt, *, seed_bits=4, steps=1, guard_bits=4):
        self.in_fmt = in_fmt = _fixed("in_fmt", in_fmt, signed=False)
        self.out_fmt = out_fmt = _fixed("out_fmt", out_fmt)
        self.seed_bits = checks.integer("seed_bits", seed_bits, lo=1, hi=8)
        self.steps = checks.integer("steps", steps, lo=0, hi=3)
        self.guard_bits = checks.integer("guard_bits", guard_bits, lo=0, hi=8)
        f = in_fmt.frac_bits
        largest = 2.0 ** (f / 2)
        if out_fmt.max_value < largest * (1 - 2 ** -8):
            raise ValueError(f"out_fmt {out_fmt} is too narrow for 1/sqrt over {in_fmt}: "
                             f"the smallest positive input gives {largest:g} "
                             f"(it needs {math.ceil(f / 2) + 1} integer bits)")
        # m in [1, 4) with G fraction bits; y in (1/2, 1] with G fraction bits.
        self.work_bits = G = max(out_fmt.frac_bits + self.guard_bits, self.seed_bits + 2)
        _check_width(f"rsqrt {in_fmt}->{out_fmt}", 2 * G + 4)    # m·y², y·(3 − m·y²)
        # Seed: the midpoint (in y) of each cell of m's top bits; cells of [1, 4) split
        # into [1, 2) and [2, 4) halves of 2^(seed_bits-1) cells each.
        cells = 1 << self.seed_bits
        seeds = []
        for j in range(cells):
            lo, hi = self._cell(j)
            seeds.append(int(round((1 / math.sqrt(lo) + 1 / math.sqrt(hi)) / 2 * 2 ** G)))
        self.seeds = tuple(seeds)

    def _cell(self, j):
        half = 1 << (self.seed_bits - 1)
        if j < half:
            return 1 + j / half, 1 + (j + 1) / half
        j -= half
        return 2 + 2 * j / half, 2 + 2 * (j + 1) / half

    def __repr__(self):
        return (f"RSqrt({self.in_fmt}, {self.out_fmt}, seed_bits={self.seed_bits}, "
                f"steps={self.steps})")

    def normalize(self, codes):
        """(zero, m on G fraction bits in [2^G, 2^(G+2)), e) with x = m·2^-G·4^e."""
        x = self.in_fmt.decode_int(codes).astype(np.int64)
        zero = x == 0
        lead = np.zeros(x.shape, dtype=np.int64)          # bit length - 1 (0 for x = 0)
        for bit in range(1, self.in_fmt.bits):
            lead = np.where(x >> bit != 0, bit, lead)
        even = lead - ((lead - self.in_fmt.frac_bits) & 1)    # e2 = even - F is even
        G = self.work_bits
        shift = G - even
        m = np.where(shift >= 0, x << np.maximum(shift, 0), x >> np.maximum(-shift, 0))
        e = (even - self.in_fmt.frac_bits) // 2
        return zero, np.where(zero, 1 << G, m), e

    def seed(self, m):
        G, sb = self.work_bits, self.seed_bits
        high = m >= (2 << G)
        cell = np.where(high, ((m - (2 << G)) >> (G + 2 - sb)) + (1 << (sb - 1)),
                        (m - (1 << G)) >> (G + 1 - sb))
        return np.asarray(self.seeds, dtype=np.int64)[cell]

    def newton(self, m, y):
        """One step y·(3 − m·y²)/2, every product floored to G fraction bits."""
        G = self.work_bits
        y2 = (y * y) >> G
        my2 = (m * y2) >> G
        return (y * ((3 << G) - my2)) >> (G + 1)

    def evaluate(self, codes):
        zero, m, e = self.normalize(codes)
        y = self.seed(m)
        for _ in range(self.steps):
            y = self.newton(m, y)
        code = _round_out(self.out_fmt, y, self.work_bits + e)
        top = (1 << (self.out_fmt.bits - 1)) - 1 if self.out_fmt.signed else \
            (1 << self.out_fmt.bits) - 1
        return np.where(zero, np.uint64(top), code)

    def reference(self, x):
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(x)

    def input_values(self, codes):
        x = self.in_fmt.decode(codes)
        return np.where(x > 0, x, np.nan)


def evaluate(codes, *, spec):
    """``spec.evaluate(codes)``: the units' golden function (`hdl.protocol`)."""
    return spec.evaluate(codes)


def errors(spec, codes=None):
    """``{"max": …, "mean": …, "codes": …}``: absolute error of `spec.evaluate` against
    `spec.reference` (float64) over the input codes in the function's range (every code up
    to EXHAUSTIVE_BITS input bits; else 2^20 random codes and the range ends)."""
    codes = _input_codes(spec.in_fmt) if codes is None else np.asarray(codes, np.uint64)
    x = spec.input_values(codes)
    keep = ~np.isnan(x)
    got = spec.out_fmt.decode(spec.evaluate(codes[keep]))
    err = np.abs(got - spec.reference(x[keep]))
    return {"max": float(err.max()), "mean": float(err.mean()), "codes": int(keep.sum())}
