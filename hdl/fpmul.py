"""Exact floating-point multipliers: one correctly rounded product per cycle.

The golden model is `golden.ops.mul`; the benches are tb/test_fpmul.py and, for the DSP
multipliers, tb/test_dsp.py.
"""


from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import formats, ops
from . import dsp, floatcore, intcore, protocol
from .pipeline import Pipeline, check_stages

__all__ = ["FPMul"]


class FPMul(wiring.Component):
    """Floating-point multiplier, correctly rounded (round to nearest, ties to even).

    The exact product of two `fmt` operands is rounded once into `out_fmt`, with
    `out_fmt`'s subnormal, special-value and overflow policies: bit-exact with
    ``golden.ops.mul(a, b, fmt, out_fmt)``. NaN in, or 0 × Inf, gives the canonical NaN of
    `out_fmt`; an infinite result becomes Inf, or ±max when `out_fmt` saturates, or NaN;
    zero results carry the xor of the signs (+0 in formats without −0). Inputs are
    flushed to zero when `fmt` has no subnormals.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format.
    out_fmt : FloatFormat or None
        Result format; defaults to `fmt`. It must have a NaN if `fmt` has NaN or Inf.
    stages : int
        Pipeline registers, 0..5. They are placed, in this order, after the significand
        multiplier, at the output, between alignment and rounding, after normalization,
        and after operand decoding.
    multiplier : str
        How the significand product is built. ``"inferred"`` (default): a plain ``*``
        (synthesis maps it to DSP blocks, left combinational, or to LUTs) with the
        "product" register after it: the datapath and the Verilog of earlier versions.
        ``"ecp5"``, ``"ice40"``, ``"fabric"``, ``"lut"``: an `hdl.dsp.Multiplier` of that
        target (MULT18X18D, SB_MAC16, ``*`` with the same registers, or partial products
        written out: LUTs only), in a datapath arranged
        for the DSP's clock rate (`_elaborate_dsp`). With ``stages >= 1`` the multiplier
        is fully registered (its three DSP register levels and a fabric register after
        it) in place of the "product" register; "output" then has a second register
        before it (between the rounding and the choice of the code) and, with subnormal
        inputs, "decoded" a second one after it (after the operands' normalization).
        With ``stages=0`` everything is combinational. The codes are the same in every
        case.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": fmt.bits, "b": fmt.bits})))
        Operand pairs.
    o : Out(stream.Signature(out_fmt.bits))
        Product codes, in order, `latency` cycles after their operands when not stalled.
    latency : int
        Cycles from an accepted input to its output: `stages` with the inferred
        multiplier or ``stages=0``; else ``stages - 1`` + the multiplier's latency (4:
        three DSP register levels and the fabric register, for one block or four)
        + 1 with the "output" cut (``stages >= 2``) + 1 with the "decoded" cut and
        subnormal inputs (``stages = 5``): 10 for FP32 and BF16 at ``stages=5``.
    ops_per_cycle : int
        Multiplications per cycle at full throughput (1).
    """

    CUT_POINTS = ("product", "output", "aligned", "normalized", "decoded")
    PARAMETERS = {"fmt": protocol.Format(formats.FloatFormat, example="bf16"),
                  "out_fmt": protocol.Format(formats.FloatFormat, optional=True),
                  "stages": protocol.Integer(),
                  "multiplier": protocol.Choice("inferred", *dsp.TARGETS)}
    MULTIPLIERS = ("inferred", *dsp.TARGETS)
    EXAMPLES = [{"fmt": "fp8_e4m3", "stages": 0}, {"fmt": "fp8_e5m2", "stages": 3},
                {"fmt": "bf16", "stages": 5},
                {"fmt": "bf16", "stages": 5, "multiplier": "fabric"}]
    ops_per_cycle = 1

    def __init__(self, *, fmt, out_fmt=None, stages=0, multiplier="inferred"):
        if not isinstance(fmt, formats.FloatFormat):
            raise TypeError(f"fmt must be a FloatFormat, not {fmt!r}")
        if out_fmt is None:
            out_fmt = fmt
        if not isinstance(out_fmt, formats.FloatFormat):
            raise TypeError(f"out_fmt must be a FloatFormat or None, not {out_fmt!r}")
        stages = check_stages(stages, self.CUT_POINTS)
        if (fmt.has_nan or fmt.has_inf) and not out_fmt.has_nan:
            raise ValueError(f"out_fmt {out_fmt} has no NaN, but products of {fmt} can be "
                             "NaN; choose an out_fmt with NaN")
        if not isinstance(multiplier, str):
            raise TypeError(f"multiplier must be one of "
                            f"{', '.join(map(repr, self.MULTIPLIERS))}, not {multiplier!r}")
        if multiplier not in self.MULTIPLIERS:
            raise ValueError(f"multiplier must be one of "
                             f"{', '.join(map(repr, self.MULTIPLIERS))}, not {multiplier!r}")
        self._sig_mul = None
        if multiplier != "inferred":
            sig = unsigned(fmt.man_bits + 1)
            try:
                self._sig_mul = dsp.Multiplier(sig, sig, target=multiplier,
                                               pipeline=3 if stages else 0,
                                               fabric_register=True)
            except ValueError as exc:
                raise ValueError(f"multiplier={multiplier!r} cannot multiply the "
                                 f"{fmt.man_bits + 1}-bit significands of {fmt}: "
                                 f"{exc}") from None
            # Built here for its checks and its latency; `elaborate` builds its own.
            self._sig_mul._MustUse__silence = True
        self.fmt, self.out_fmt, self.stages = fmt, out_fmt, stages
        self.multiplier = multiplier
        operands = data.StructLayout({"a": fmt.bits, "b": fmt.bits})
        super().__init__({"i": In(stream.Signature(operands)),
                          "o": Out(stream.Signature(out_fmt.bits))})

    @property
    def latency(self):
        if self._sig_mul is None or not self.stages:
            return self.stages
        return (self.stages - 1 + self._sig_mul.latency + len(self._operand_cut)
                + len(self._rounded_cut))

    @property
    def _rounded_cut(self):
        """With a `dsp.Multiplier` and the "output" cut: a second register before
        it, between the rounding and the choice of the code."""
        if self._sig_mul is None or self.stages < 2:
            return []
        return ["rounded"]

    @property
    def _operand_cut(self):
        """With a `dsp.Multiplier`, subnormal inputs and the "decoded" cut: a second
        register after the operands' normalization, so that nothing but wire lies
        between a register and the multiplier's inputs."""
        if self._sig_mul is None or not self.fmt.subnormals or self.stages < 5:
            return []
        return ["operands"]

    @property
    def golden(self):
        """``(golden.ops.mul, kwargs)``: the model of this unit's products."""
        return ops.mul, {"fmt": self.fmt, "out_fmt": self.out_fmt}

    def elaborate(self, platform):
        m = Module()
        if self._sig_mul is None:
            self._elaborate_inferred(m)
        else:
            self._elaborate_dsp(m)
        return m

    def _decode(self, m, pipe, **extra):
        """Unpack both operands; the "decoded" cut. `biased`: the exponent of the
        significand product's top bit, plus out_fmt's bias."""
        fmt, out_fmt = self.fmt, self.out_fmt
        a = floatcore.unpack(m, fmt, self.i.payload.a, "a")
        b = floatcore.unpack(m, fmt, self.i.payload.b, "b")
        values = {key: function(a, b) for key, function in extra.items()}
        return pipe.stage("decoded", sign=a["sign"] ^ b["sign"],
                          biased=a["exp"] + b["exp"] + (1 + out_fmt.bias),
                          sig_a=a["sig"], sig_b=b["sig"],
                          nan=a["nan"] | b["nan"] | (a["inf"] & b["zero"])
                          | (a["zero"] & b["inf"]),
                          inf=a["inf"] | b["inf"], zero=a["zero"] | b["zero"], **values)

    def _finish(self, m, pipe, v):
        """Round the "aligned" values `v` into the output code; the "output" cut."""
        self._output(m, pipe, v, floatcore.round_aligned(m, self.out_fmt, v["sign"], v, "r"))

    def _output(self, m, pipe, v, rounded):
        """The code from the `rounded` magnitude and the special cases in `v`; the
        "output" cut."""
        fmt, out_fmt = self.fmt, self.out_fmt
        code = floatcore.select_code(
            m, out_fmt, sign=v["sign"], rounded=rounded, name="r",
            nan=v["nan"] if fmt.has_nan or fmt.has_inf else None,
            inf=v["inf"] if fmt.has_inf else None, zero=v["zero"])
        v = pipe.stage("output", code=code)
        pipe.finish(v["code"])

    def _elaborate_inferred(self, m):
        """The datapath around an inferred ``*``: normalize the product, then align."""
        fmt, out_fmt = self.fmt, self.out_fmt
        pipe = Pipeline(m, self.i, self.o, self.CUT_POINTS[:self.stages])
        v = self._decode(m, pipe)

        # The significand product has its binary point two bits below the top, so its
        # top bit has exponent exp_a + exp_b + 1.
        v = pipe.stage("product", product=v["sig_a"] * v["sig_b"],
                       **{k: v[k] for k in ("sign", "biased", "nan", "inf", "zero")})
        product = v["product"]
        if not isinstance(product, Signal):
            # Used by the leading-zero count, the shift and the tests below: one signal,
            # or the Verilog (and the simulation) writes the product out once per use.
            product = intcore.wire(m, product, "product")
        width = len(product)
        if fmt.subnormals:
            shift = intcore.leading_zeros(m, product, "lz")
        else:
            shift = ~product[width - 1]   # both operands normal: the product is in [1, 4)
        normalized = Signal(width, name="normalized")
        m.d.comb += normalized.eq(product << shift)
        v = pipe.stage("normalized", sig=normalized, biased=v["biased"] - shift,
                       **{k: v[k] for k in ("sign", "nan", "inf", "zero")})

        aligned = floatcore.align(m, out_fmt, v["biased"], v["sig"], "r")
        v = pipe.stage("aligned", **aligned, **{k: v[k] for k in ("sign", "nan", "inf", "zero")})
        self._finish(m, pipe, v)

    def _elaborate_dsp(self, m):
        """The datapath around a `dsp.Multiplier`, arranged so that no stage holds more
        than one wide operation or a few logic levels (the DSP blocks, fully registered,
        run at more than twice the rate of the inferred datapath's slowest stage). In
        pipeline order, with the cut (register) that ends each step:

        - "decoded": operands unpacked, raw exponent fields summed, and with subnormal
          inputs the leading zeros of each fraction counted;
        - "operands" (subnormal inputs, ``stages=5``): the operands normalized (so the
          product is in [1, 4)), registered before the multiplier's own input registers;
        - the multiplier's registers; beside them, one step per register: the exponent
          sum less the normalization shifts; then, each from its own adder or a
          comparison with a constant, both candidate alignments (for a product at or
          above 2, and below): exponent field, field + 1, subnormal shift, and the
          field's part of the overflow and underflow tests; then their choices;
        - "normalized": the candidate chosen by the product's top bit, and the first part
          of the alignment shift (by a multiple of 8) with the sticky bits it drops;
        - "aligned": the rest of the shift (0..7) and the sticky bit;
        - "rounded": round to nearest, ties to even (the increment's carries as prefix
          ANDs, a carry out of the fraction taking the ready field + 1), overflow and
          underflow from the field's and the fraction's parts of their tests;
        - "output": the code (`floatcore.select_code`).

        The kept bits, guard and sticky bit are those of `floatcore.align` and the
        rounding that of `floatcore.round_aligned`, so the codes are the inferred
        datapath's (the benches check them against golden.ops.mul).
        """
        fmt, out_fmt = self.fmt, self.out_fmt
        mul = dsp.Multiplier(self._sig_mul.a_shape, self._sig_mul.b_shape,
                             target=self.multiplier, pipeline=self._sig_mul.pipeline,
                             fabric_register=True)
        m.submodules.sig_mul = mul
        cuts = list(self.CUT_POINTS[:self.stages])
        if "product" in cuts:
            # The multiplier's own registers replace the "product" register; the other
            # values travel beside them, one register per multiplier cycle.
            cuts.remove("product")
            cuts += [f"product{k}" for k in range(mul.latency)]
        cuts += self._operand_cut + self._rounded_cut
        pipe = Pipeline(m, self.i, self.o, cuts)
        flags = ("sign", "nan", "inf", "zero")
        m_in, m_out = fmt.man_bits, out_fmt.man_bits
        keep = m_out + 1                  # result significand bits, hidden bit included

        # "decoded". The exponent fields are summed as they are; the biases join later
        # as the constant C, and an exponent field 0 counts as 1 (as unpack reads it)
        # when the normalization shifts are subtracted: the product's top bit has biased
        # exponent exp_sum - (normalization shifts) + C.
        values = {}
        for key in ("a", "b"):
            code = getattr(self.i.payload, key)
            unpacked = floatcore.unpack(m, fmt, code, key)
            field = code[m_in:m_in + fmt.exp_bits]
            values[key] = unpacked
            values[f"field_{key}"] = field
        a, b = values["a"], values["b"]
        extra = {}
        if fmt.subnormals:
            for key in ("a", "b"):
                man = values[key]["sig"][:m_in]
                extra[f"man_{key}"] = man
                extra[f"sub_{key}"] = values[key]["exp_zero"]
                extra[f"lz_{key}"] = intcore.leading_zeros(m, man, f"lz_{key}")
        else:
            extra.update(sig_a=a["sig"], sig_b=b["sig"])
        v = pipe.stage("decoded", sign=a["sign"] ^ b["sign"],
                       exp_sum=intcore.wire(m, values["field_a"] + values["field_b"],
                                            "exp_sum"),
                       nan=a["nan"] | b["nan"] | (a["inf"] & b["zero"]) | (a["zero"] & b["inf"]),
                       inf=a["inf"] | b["inf"], zero=a["zero"] | b["zero"], **extra)

        # Operand normalization, into the multiplier's input registers: a subnormal
        # fraction F (exponent field 0, read as 1) becomes F << (lz + 1) with the hidden
        # bit on top, so its exponent falls by lz + 1: by lz from the raw field 0 that
        # exp_sum holds.
        side = {key: v[key] for key in (*flags, "exp_sum")}
        if fmt.subnormals:
            operands, shifts = [], []
            for key in ("a", "b"):
                man, sub, lz = v[f"man_{key}"], v[f"sub_{key}"], v[f"lz_{key}"]
                shifted = Signal(m_in, name=f"man_{key}_shifted")
                m.d.comb += shifted.eq(man << lz)
                operand = Signal(m_in + 1, name=f"sig_{key}_normalized")
                m.d.comb += operand.eq(Mux(sub, Cat(Const(0, 1), shifted), Cat(man, Const(1, 1))))
                operands.append(operand)
                shifts.append(Mux(sub, lz, 0))
            side["exp_shift"] = intcore.wire(m, shifts[0] + shifts[1], "exp_shift")
            registered = pipe.stage("operands", sig_a=operands[0], sig_b=operands[1], **side)
            operands = [registered.pop("sig_a"), registered.pop("sig_b")]
            side = registered
        else:
            operands = [v["sig_a"], v["sig_b"]]
        m.d.comb += [mul.a.eq(operands[0]), mul.b.eq(operands[1]), mul.en.eq(pipe.advance)]

        # Beside the multiplier: one step per register (all of them in one stage when
        # there is no register).
        steps = [self._exponent_step, lambda m, side: self._exponents(m, side, keep),
                 lambda m, side: self._candidates(m, side, keep)]
        for k in range(mul.latency):
            side = pipe.stage(f"product{k}", **side)
            if k < len(steps):
                side = steps[k](m, side)
        for step in steps[mul.latency:]:
            side = step(m, side)

        # "normalized". The product P (q bits) is in [2^(q-2), 2^q) unless zero. Its
        # alignment is a right shift of Z = P above keep + 3 zero bits that puts the
        # guard bit at W = q + 1 and the kept bits above it; every bit below W is
        # sticky. floatcore.align shifts the normalized significand right by s (0, or
        # 1 - e for a subnormal result of biased exponent e < 1, at most keep + 1): that
        # is a shift of Z by s + 1 when P's top bit is set (no normalization needed, Z
        # holds P one place lower) and by s otherwise (P is normalized by one place).
        product = intcore.wire(m, mul.p, "product")
        q = len(product)
        top = product[q - 1]
        chosen = {key: intcore.wire(m, Mux(top, side[f"{key}_top"], side[f"{key}_low"]),
                                    f"align_{key}")
                  for key in self._candidate_keys}
        shift = chosen.pop("shift")
        # The shift (0..keep + 2) is split: by the multiple of 2^FINE here, the rest in
        # "aligned". Only the bits that the second part can bring into the window are
        # kept; the sticky bits below them are ORed here, one OR per coarse amount.
        fine_bits = 3
        coarse = shift[fine_bits:]
        window = q + 1
        z = Cat(Const(0, keep + 3), product)
        coarse_shifted = Signal(len(z), name="align_coarse")
        m.d.comb += coarse_shifted.eq(z >> Cat(Const(0, fine_bits), coarse))
        upper = Signal(keep + (1 << fine_bits), name="align_upper")
        m.d.comb += upper.eq(coarse_shifted[window:])
        below = Signal(name="align_sticky_coarse")
        with m.Switch(coarse):
            for step in range(1 << len(coarse)):
                end = min(window + (step << fine_bits) - (keep + 3), q)
                with m.Case(step):
                    m.d.comb += below.eq(product[:end].any() if end > 0 else 0)
        v = pipe.stage("normalized", upper=upper, fine=shift[:fine_bits], below=below,
                       **chosen, **{key: side[key] for key in flags})

        # "aligned": the rest of the shift, and the sticky bit.
        fine_shifted = Signal(keep + 1, name="aligned_bits")
        m.d.comb += fine_shifted.eq(v["upper"] >> v["fine"])
        guard, fraction = fine_shifted[0], fine_shifted[1:keep]     # (hidden bit: [keep])
        dropped = Cat(v["upper"][k] & (v["fine"] > k) for k in range((1 << fine_bits) - 1))
        sticky = intcore.wire(m, v["below"] | dropped.any(), "aligned_sticky")
        v = pipe.stage("aligned", fraction=fraction, guard=guard, sticky=sticky,
                       **{key: v[key] for key in (*flags, *self._candidate_keys) if key in v})

        # "rounded": round to nearest, ties to even: pre + up, pre = the exponent field
        # and the fraction as one integer (as floatcore.aligned_fields forms it). The
        # fraction's increment by its carries (prefix ANDs, no carry chain); a carry out
        # of the fraction takes field + 1, which is ready. The overflow and underflow
        # tests as pre >= threshold (`_thresholds`): the field's part is ready.
        up = intcore.wire(m, v["guard"] & (v["sticky"] | v["fraction"][0]), "r_up")
        carries = Signal(m_out + 1, name="r_carries")
        m.d.comb += carries.eq(Cat(Const(1, 1),
                                   *(v["fraction"][:k].all() for k in range(1, m_out + 1))))
        rounded_fraction = Signal(m_out, name="r_fraction")
        m.d.comb += rounded_fraction.eq(v["fraction"] ^ (carries[:m_out] & up.replicate(m_out)))
        field = Mux(carries[m_out] & up, v["field_inc"], v["field"])
        code = Signal(out_fmt.bits - 1, name="r_code")            # the magnitude bits
        m.d.comb += code.eq(Cat(rounded_fraction, field)[:out_fmt.bits - 1])
        pre_ge = []
        for k, const in enumerate(self._thresholds[1]):
            frac_ge = intcore.at_least(m, v["fraction"], const, f"r_frac_ge{k}")
            pre_ge.append(v[f"field_gt{k}"] | (v[f"field_eq{k}"] & frac_ge))
        # Thresholds: 0: max + 1, 1: max, 2: low + 1, 3: low.
        v = pipe.stage("rounded", code=code, overflow=Mux(up, pre_ge[1], pre_ge[0]),
                       underflow_zero=~Mux(up, pre_ge[3], pre_ge[2]),
                       **{key: v[key] for key in flags})

        # "output": the code.
        self._output(m, pipe, v, {"code": Cat(v["code"], v["sign"]),
                                  "overflow": v["overflow"],
                                  "underflow_zero": v["underflow_zero"]})

    @property
    def _thresholds(self):
        """The rounding's tests as pre >= threshold, pre = field · 2^m + fraction:
        overflow is pre + up > max (pre >= max + 1, or pre >= max when rounding up);
        underflow to zero is pre + up <= low (not pre >= low + 1, or not pre >= low),
        low = 0 with subnormals, else 2^m - 1 (below the smallest normal after
        rounding). Returns (field parts, fraction parts) of max + 1, max, low + 1, low."""
        out_fmt = self.out_fmt
        m_out = out_fmt.man_bits
        low = 0 if out_fmt.subnormals else (1 << m_out) - 1
        consts = (out_fmt.max_code + 1, out_fmt.max_code, low + 1, low)
        return [c >> m_out for c in consts], [c & ((1 << m_out) - 1) for c in consts]

    _candidate_keys = ("shift", "field", "field_inc",
                       *(f"field_{rel}{k}" for k in range(4) for rel in ("gt", "eq")))

    def _exponent_step(self, m, side):
        """exp_sum less the operands' normalization shifts."""
        side = dict(side)
        if "exp_shift" in side:
            side["exp_sum"] = intcore.wire(m, side["exp_sum"] - side.pop("exp_shift"),
                                           "exp_normalized")
        return side

    def _exponents(self, m, side, keep):
        """First half of the candidate alignments (product's top bit set, or not): the
        values computed from the exponent sum alone, each with its own adder or
        comparison (their choices follow in `_candidates`, one register later).

        With e the biased exponent of the normalized product (``e_top = exp_sum + C``
        for a product at or above 2, ``e_low = e_top - 1`` else): field e and shift 0
        when e >= 1; else field 0 and shift 1 - e, at most keep + 1 (the top case adds
        one: see `_elaborate_dsp`). In both cases the subnormal shift is
        ``2 - C - exp_sum``, and the tests e >= 1, e <= -keep and field >= bound are
        comparisons of exp_sum with constants.
        """
        fmt, out_fmt = self.fmt, self.out_fmt
        const = 1 + out_fmt.bias - 2 * fmt.bias
        exp_sum = side["exp_sum"]
        values = {key: side[key] for key in ("sign", "nan", "inf", "zero")}
        values["below"] = intcore.wire(m, (2 - const) - exp_sum, "shift_subnormal")
        for key, offset in (("top", 0), ("low", -1)):
            c = const + offset
            values[f"exponent_{key}"] = intcore.wire(m, exp_sum + c, f"exponent_{key}")
            values[f"exponent_inc_{key}"] = intcore.wire(m, exp_sum + (c + 1),
                                                         f"exponent_inc_{key}")
            if out_fmt.subnormals:
                values[f"normal_{key}"] = intcore.at_least(m, exp_sum, 1 - c, f"normal_{key}")
                values[f"tiny_{key}"] = ~intcore.at_least(m, exp_sum, 1 - keep - c,
                                                          f"tiny_{key}_n")
            for k, part in enumerate(self._thresholds[0]):
                for rel, bound in (("gt", part + 1), ("ge", part)):
                    name = f"exp_{rel}{k}_{key}"
                    values[name] = intcore.at_least(m, exp_sum, bound - c, name)
        return values

    def _candidates(self, m, side, keep):
        """Second half: both candidates' shift amount, exponent field, field + 1 and
        the field's part of the rounding tests (see `_exponents`)."""
        out_fmt = self.out_fmt
        values = {key: side[key] for key in ("sign", "nan", "inf", "zero")}
        for key, extra in (("top", 1), ("low", 0)):
            exponent, exponent_inc = side[f"exponent_{key}"], side[f"exponent_inc_{key}"]
            field = Signal(exponent.shape(), name=f"field_{key}")
            field_inc = Signal(len(exponent) + 1, name=f"field_inc_{key}")
            shift = Signal(range(keep + 3), name=f"shift_{key}")
            if out_fmt.subnormals:
                normal, tiny = side[f"normal_{key}"], side[f"tiny_{key}"]
                m.d.comb += [field.eq(Mux(normal, exponent, 0)),
                             field_inc.eq(Mux(normal, exponent_inc, 1))]
                with m.If(normal):
                    m.d.comb += shift.eq(extra)
                with m.Elif(tiny):
                    m.d.comb += shift.eq(keep + 1 + extra)
                with m.Else():
                    m.d.comb += shift.eq(side["below"])
            else:
                m.d.comb += [field.eq(exponent), field_inc.eq(exponent_inc),
                             shift.eq(extra)]
            values[f"field_{key}"] = field
            values[f"field_inc_{key}"] = field_inc
            values[f"shift_{key}"] = shift
            for k, part in enumerate(self._thresholds[0]):
                tests = {}
                for rel, bound in (("gt", part + 1), ("ge", part)):
                    test = side[f"exp_{rel}{k}_{key}"]
                    if out_fmt.subnormals:      # a subnormal result's field is 0
                        test = Mux(side[f"normal_{key}"], test, int(0 >= bound))
                    tests[rel] = test
                values[f"field_gt{k}_{key}"] = intcore.wire(m, tests["gt"], f"field_gt{k}_{key}")
                values[f"field_eq{k}_{key}"] = intcore.wire(m, tests["ge"] & ~tests["gt"],
                                                            f"field_eq{k}_{key}")
        return values
