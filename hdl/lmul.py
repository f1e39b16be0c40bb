"""L-Mul: floating-point multiplication approximated by one integer addition.

The golden model is `golden.lmul.lmul`; the bench is tb/test_lmul.py.
"""


from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import formats, lmul as golden_lmul
from . import floatcore, intcore, protocol
from .pipeline import Pipeline, check_stages

__all__ = ["LMul"]


class LMul(wiring.Component):
    """L-Mul unit (Luo & Sun, 2024): a floating-point product approximated by one addition.

    Bit-exact with ``golden.lmul.lmul(a, b, fmt, carry=, offset=, out_fmt=,
    subnormal_inputs=, special_values=)``, whose docstring has the exact definition and the
    table of special cases. In short, with F the m-bit fractions and S = F_a + F_b + offset:

    - ``carry="integer"`` (the paper's GPU emulation): the sign-stripped codes are added as
      one integer and a constant is subtracted, so mantissa carries (one or two) roll into
      the exponent. The sum is already the result code: no normalization, no rounding.
    - ``carry="formula"``: 1 + F_a/2^m + F_b/2^m + offset is formed and renormalized by at
      most one place; the bit shifted out is kept (wider out_fmt mantissa) or rounded to
      nearest even (same mantissa width), once.

    Then, with ``special_values=True``: NaN in, or Inf × 0, gives the canonical NaN of
    `out_fmt`; Inf × nonzero gives ±Inf (or ±max / NaN per `out_fmt`); a zero operand (and
    a subnormal one when ``subnormal_inputs="flush"``) gives a zero with the xor of the
    signs (+0 in fnuz); a result above `out_fmt`'s max becomes ±Inf, NaN or ±max per its
    overflow policy; a result below its min normal becomes a subnormal (rounded to nearest
    even, once) or a zero. ``subnormal_inputs="normalize"`` takes subnormal operands at
    their exact value (a leading-zero count and shift per operand).

    ``special_values=False`` is the bare adder, **unsafe for real data**: codes are taken
    as normal numbers whatever their exponent field, nothing is detected, and an exponent
    out of range wraps around. It exists to measure what the special-value logic costs.

    Datapath: the common path is the integer add of the sign-stripped codes (integer mode;
    two adds in formula mode) plus comparisons of the sum with constants for overflow and
    underflow; no normalizing shifter and no rounding adder sit in the integer-mode path.
    A small denormalizing shifter exists only when `out_fmt` has subnormals, for results
    below its normal range. Logic for cases that the formats rule out is not built: with
    one more exponent bit in `out_fmt` (or BF16/FP32 results of FP8 operands) there is no
    underflow logic, and no overflow logic when the products cannot overflow.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format.
    carry : str
        ``"integer"`` (default) or ``"formula"``.
    offset : str or int
        ``"paper"`` (2^-l(m), default), ``"none"`` or an integer number of ulps in
        0..2^m - 1.
    out_fmt : FloatFormat or None
        Result format, default `fmt`; at least as many exponent and mantissa bits as `fmt`
        (for example one more exponent bit, to feed an accumulator without overflow).
    subnormal_inputs : str
        ``"flush"`` (default: subnormal operands are zeros of their sign) or
        ``"normalize"``.
    special_values : bool
        True (default); False for the bare adder (unsafe, see above).
    stages : int
        Pipeline registers, 0..4. They are placed, in this order, after the sum, at the
        output, after operand decoding, and after the result's classification (overflow,
        underflow, the subnormal shift) before the final code selection.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": fmt.bits, "b": fmt.bits})))
        Operand pairs.
    o : Out(stream.Signature(out_fmt.bits))
        Result codes, in order, `latency` cycles after their operands when not stalled.
    latency : int
        Cycles from an accepted input to its output (equals `stages`).
    ops_per_cycle : int
        Multiplications per cycle at full throughput (1).
    offset_ulps : int
        The offset in ulps of 2^-m.
    """

    CUT_POINTS = ("sum", "output", "decoded", "classified")
    PARAMETERS = {"fmt": protocol.Format(formats.FloatFormat, example="bf16"),
                  "carry": protocol.Choice("integer", "formula"),
                  "offset": protocol.Choice("paper", "none", integer=True),
                  "out_fmt": protocol.Format(formats.FloatFormat, optional=True),
                  "subnormal_inputs": protocol.Choice("flush", "normalize"),
                  "special_values": protocol.Boolean(),
                  "stages": protocol.Integer()}
    EXAMPLES = [{"fmt": "fp8_e4m3", "stages": 4},
                {"fmt": "fp8_e5m2", "carry": "formula", "subnormal_inputs": "normalize",
                 "stages": 2}]
    ops_per_cycle = 1

    def __init__(self, *, fmt, carry="integer", offset="paper", out_fmt=None,
                 subnormal_inputs="flush", special_values=True, stages=0):
        stages = check_stages(stages, self.CUT_POINTS)
        out_fmt, ulps = golden_lmul.check_params(
            fmt, carry=carry, offset=offset, out_fmt=out_fmt,
            subnormal_inputs=subnormal_inputs, special_values=special_values)
        self.fmt, self.out_fmt, self.stages = fmt, out_fmt, stages
        self.carry, self.offset, self.offset_ulps = carry, offset, ulps
        self.subnormal_inputs, self.special_values = subnormal_inputs, special_values
        operands = data.StructLayout({"a": fmt.bits, "b": fmt.bits})
        super().__init__({"i": In(stream.Signature(operands)),
                          "o": Out(stream.Signature(out_fmt.bits))})

    @property
    def latency(self):
        return self.stages

    @property
    def golden(self):
        """``(golden.lmul.lmul, kwargs)``: the model of this unit's products."""
        return golden_lmul.lmul, {
            "fmt": self.fmt, "carry": self.carry, "offset": self.offset,
            "out_fmt": self.out_fmt, "subnormal_inputs": self.subnormal_inputs,
            "special_values": self.special_values}

    def _operand(self, m, code, name):
        """Fields of one operand: exponent field (signed if normalized), fraction, flags."""
        fmt = self.fmt
        mb, eb = fmt.man_bits, fmt.exp_bits
        frac, efield = code[:mb], code[mb:mb + eb]
        out = {"sign": code[mb + eb], "exp": efield, "frac": frac}
        if not self.special_values:
            return out
        flags = floatcore.unpack(m, fmt, code, name)        # NaN / Inf per fmt.specials
        nan = intcore.wire(m, flags["nan"], f"{name}_nan")
        exp_zero = flags["exp_zero"]
        normalize = self.subnormal_inputs == "normalize" and fmt.subnormals
        zero = (exp_zero & (frac == 0)) if normalize else exp_zero
        out.update(nan=nan, inf=flags["inf"], zero=zero & ~nan)
        if normalize:
            # A subnormal F * 2^(emin - m), F != 0 with lz leading zeros, is exactly
            # (1 + F' / 2^m) * 2^(emin - 1 - lz): exponent field -lz, F' = F << (lz + 1).
            lz = intcore.leading_zeros(m, frac, f"{name}_lz")
            sub = intcore.wire(m, exp_zero & (frac != 0), f"{name}_subnormal")
            exp = Signal(signed(max(eb, mb.bit_length()) + 1), name=f"{name}_exp")
            shifted = Signal(mb, name=f"{name}_frac")
            m.d.comb += [exp.eq(Mux(sub, -lz, efield)),
                         shifted.eq(Mux(sub, (frac << 1) << lz, frac))]
            out.update(exp=exp, frac=shifted)
        return out

    def elaborate(self, platform):
        m = Module()
        fmt, out_fmt = self.fmt, self.out_fmt
        mb, mo = fmt.man_bits, out_fmt.man_bits
        k = 2 * fmt.bias - out_fmt.bias             # exponent-field constant
        pipe = Pipeline(m, self.i, self.o, self.CUT_POINTS[:self.stages])

        a = self._operand(m, self.i.payload.a, "a")
        b = self._operand(m, self.i.payload.b, "b")
        keys = ("sign", "exp", "frac", "nan", "inf", "zero")
        v = pipe.stage("decoded", **{f"{x}_{key}": op[key] for x, op in (("a", a), ("b", b))
                                     for key in keys if key in op})
        sign = v["a_sign"] ^ v["b_sign"]
        flags = {}
        if self.special_values:
            a_zero = intcore.wire(m, v["a_zero"], "a_is_zero")
            b_zero = intcore.wire(m, v["b_zero"], "b_is_zero")
            a_inf = intcore.wire(m, v["a_inf"], "a_is_inf")
            b_inf = intcore.wire(m, v["b_inf"], "b_is_inf")
            flags = dict(nan=v["a_nan"] | v["b_nan"] | (a_inf & b_zero) | (a_zero & b_inf),
                         inf=a_inf | b_inf, zero=a_zero | b_zero)

        # Static bounds of the result's exponent field for nonzero finite operands (the
        # others are flagged): logic for a case that cannot happen is left out, e.g. the
        # overflow and underflow logic with a wide enough out_fmt.
        normalize = self.subnormal_inputs == "normalize" and fmt.subnormals
        exp_lo = -(mb - 1) if normalize else 1          # exponent fields of the operands
        exp_hi = fmt.max_code >> mb
        carries = 2           # integer: up to two; formula: one, plus a rounding carry
        lift = 0              # the sum's exponent field is E_out + lift (integer mode)
        if self.carry == "integer":
            # The paper's emulation: the codes (exponent field and fraction as one integer)
            # plus the offset, minus k << m. Carries out of the fraction roll into the
            # exponent. total = (E_out + lift) * 2^m + F_out exactly (E_out the biased out
            # exponent, any integer; lift, below, is often 0): the result code, shifted left
            # by mo - m, when it is in range.
            code_a = Cat(v["a_frac"], v["a_exp"])
            code_b = Cat(v["b_frac"], v["b_exp"])
            if v["a_exp"].shape().signed:                # normalized subnormals: E <= 0
                code_a, code_b = code_a.as_signed(), code_b.as_signed()
            constant = self.offset_ulps - (k << mb)
            # Room for the sum of two codes, the constant and a sign bit.
            width = max(len(code_a) + 1, abs(constant).bit_length()) + 2
            shape = signed(width)
            lo, hi = 2 * exp_lo - k, 2 * exp_hi - k + carries     # E of finite products
            if self.special_values and lo < 0:
                # Lifted by 2^j, the sum is unsigned, no wider than its range needs (flagged
                # operands wrap around), and the code is the lifted one with a single bit
                # flipped: 2^j is the top exponent bit of out_fmt (or above the code).
                j = max((-lo - 1).bit_length(), out_fmt.exp_bits - 1)
                lift = 1 << j
                constant += lift << mb
                width = shape = mb + (hi + lift).bit_length()
            total = Signal(shape, name="total")
            b_biased = intcore.add_constant(m, code_b, constant, width, "b_biased")
            m.d.comb += total.eq(code_a + b_biased)
            v = pipe.stage("sum", sign=sign, total=total, **flags)
            frac_bits = mb
            rounded = exact = v["total"]
        else:
            # 1 + S / 2^m with S = F_a + F_b + offset < 3 * 2^m: renormalize by one place
            # when S >= 2^m. guarded = the fraction with one more bit (the one shifted out).
            s = Signal(mb + 2, name="mantissa_sum")
            m.d.comb += s.eq(v["a_frac"] + v["b_frac"] + self.offset_ulps)
            carry = intcore.wire(m, s[mb] | s[mb + 1], "mantissa_carry")
            guarded = Signal(mb + 1, name="guarded")
            m.d.comb += guarded.eq(Mux(carry, Cat(s[:mb], s[mb + 1]), Cat(Const(0, 1), s[:mb])))
            width = max(len(v["a_exp"]) + 1, abs(k).bit_length()) + 3
            exp = Signal(signed(width), name="exp_sum")
            b_biased = intcore.add_constant(m, v["b_exp"], -k, width, "b_biased")
            m.d.comb += exp.eq(v["a_exp"] + b_biased + carry)                 # carry: the chain's carry-in
            exact = intcore.wire(m, Cat(guarded, exp).as_signed(), "exact")  # m + 1 fraction bits
            if mo > mb:
                rounded = exact
                frac_bits = mb + 1
            else:                                     # round the guard bit, ties to even
                rounded = Signal(signed(len(exact) + 1), name="rounded")
                m.d.comb += rounded.eq(Cat(guarded[1:], exp).as_signed()
                                       + (guarded[0] & guarded[1]))
                frac_bits = mb
            v = pipe.stage("sum", sign=sign, exact=exact, rounded=rounded, **flags)
            rounded, exact = v["rounded"], v["exact"]

        pad = mo - frac_bits                         # rounded * 2^pad is in out_fmt's layout
        sign = intcore.wire(m, v["sign"], "sign")
        normal = Cat(Const(0, pad), rounded ^ (lift << frac_bits))[:out_fmt.bits - 1]
        if not self.special_values:
            v = pipe.stage("classified", code=Cat(normal, sign))
            v = pipe.stage("output", code=v["code"])
            pipe.finish(v["code"])
            return m

        can_underflow = 2 * exp_lo - k <= 0
        can_overflow = (2 * exp_hi - k + carries + 1) << frac_bits > out_fmt.max_code >> pad
        overflow = Const(0, 1)
        if can_overflow:
            overflow = intcore.at_least(
                m, rounded, (out_fmt.max_code >> pad) + 1 + (lift << frac_bits), "overflow")
        # The subnormal path's rounding increment comes after the "classified" cut point;
        # whether the result rounds to zero is known before it.
        tiny, kept, guard, tie = Const(0, 1), Const(0, 1), Const(0, 1), Const(0, 1)
        if not can_underflow:
            underflow_zero = Const(0, 1)
        elif out_fmt.subnormals:
            exact_frac = mb if self.carry == "integer" else mb + 1
            tiny, vanishes, kept, guard, tie = self._denormalize(m, exact, exact_frac, lift)
            # A result too small for the shifter is a zero of the result's sign (the
            # class of exact zeros); one that rounds to zero on the subnormal grid already
            # is, and only a format without -0 (fnuz) must force it to +0.
            underflow_zero = vanishes
            if out_fmt.specials == "fnuz":
                underflow_zero = vanishes | (tiny & (kept == 0) & (~guard | tie))
        else:
            underflow_zero = ~intcore.at_least(m, rounded, (1 + lift) << frac_bits,
                                               "normal")                          # flush
        v = pipe.stage("classified", sign=sign, normal=normal, tiny=tiny, kept=kept,
                       guard=guard, tie=tie, overflow=overflow, underflow_zero=underflow_zero,
                       nan=v["nan"], inf=v["inf"], zero=v["zero"])
        # Round half up (the guard bit as the increment), then a tie to even: the sum is
        # odd exactly when kept is even, and clearing its last bit gives kept back.
        subnormal = intcore.wire(m, v["kept"] + v["guard"], "sub_rounded")
        subnormal = Cat(subnormal[0] & ~v["tie"], subnormal[1:])
        magnitude = Mux(v["tiny"], subnormal, v["normal"])
        v["code"] = Cat(magnitude[:out_fmt.bits - 1], v["sign"])
        code = floatcore.select_code(
            m, out_fmt, sign=v["sign"], rounded=v, name="r",
            nan=v["nan"] if fmt.has_nan or fmt.has_inf else None,
            inf=v["inf"] if fmt.has_inf else None, zero=v["zero"])
        v = pipe.stage("output", code=code)
        pipe.finish(v["code"])
        return m

    def _denormalize(self, m, exact, frac_bits, lift):
        """Results below out_fmt's normal range, rounded once onto its subnormal grid.

        `exact` = (E + lift) * 2^frac_bits + F (signed, or unsigned when lifted), the exact
        value (2^frac_bits + F) * 2^(E - bias_out - frac_bits). Returns ``(tiny, vanishes,
        kept, guard, tie)``: E <= 0; E below the shifter's range (the value is under half
        the smallest subnormal: it rounds to zero, and kept, guard and tie are then
        meaningless); and, for E in range, the subnormal magnitude code truncated, the
        first bit below it and whether the bits below are exactly one half ulp. The rounded
        magnitude is kept + guard with its last bit cleared on a tie (round to nearest
        even); 2^mo, the min normal, is reached by rounding up.
        """
        mo = self.out_fmt.man_bits
        exp = exact[frac_bits:]                      # E + lift
        if exact.shape().signed:
            exp = exp.as_signed()
        pad = max(0, mo - frac_bits)                 # so that the right shift is >= 1
        sig = intcore.wire(m, Cat(Const(0, pad), exact[:frac_bits], Const(1, 1)), "sub_sig")
        width = len(sig)                             # frac_bits + pad + 1
        # magnitude = RNE(sig / 2^r), r = 1 - E + (width - 1) - mo >= 1 for E <= 0. Below
        # E = lowest (r > width), sig / 2^r < 1/2 rounds to 0. The shift for the mo + 1
        # exponents in between is a case table on E's low bits (no subtractor on the
        # path); out of range, the result is a zero (`vanishes`) whatever the shift.
        base = width - mo - 1                        # r - 1 = base - E
        lowest = base - width + 1
        nbits = (-lowest).bit_length() + 1
        r1 = Signal(range(width), name="sub_shift")
        with m.Switch(exp[:nbits]):
            for e in range(lowest, 1):
                with m.Case((e + lift) % (1 << nbits)):
                    m.d.comb += r1.eq(base - e)
            with m.Default():                        # any shift (the widest maps smallest)
                m.d.comb += r1.eq(width - 1)
        above = intcore.wire(m, sig >> r1, "sub_above")     # the guard bit, then the kept bits
        kept, guard = above[1:], above[0]
        # A tie: the guard bit set and no one among the r1 bits below it (as many trailing
        # zeros as r1; the sticky bit is the opposite).
        tz = intcore.leading_zeros(m, sig[::-1], "sub_tz")     # trailing zeros
        tie = intcore.wire(m, guard & ~(tz < r1), "sub_tie")
        vanishes = ~intcore.at_least(m, exp, lowest + lift, "sub_in_range")
        tiny = ~intcore.at_least(m, exp, 1 + lift, "not_tiny")
        return (intcore.wire(m, tiny, "tiny"), intcore.wire(m, vanishes, "vanishes"),
                kept, guard, tie)
