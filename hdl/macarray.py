"""MAC arrays: systolic GEMM engines of R x C processing elements.

`MACArray` is output-stationary with integer, ternary or floating-point PEs; its golden
models are `golden.mac.gemm` and `golden.mac.fp_gemm`, its benches tb/test_macarray.py
(and the generic latency/throughput bench).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import checks, dot as golden_dot, formats, mac
from . import dot, dsp, fpadd, intcore, kulisch, protocol

__all__ = ["MACArray", "default_acc_bits"]

MULTIPLIERS = ("lut", "dsp", "hybrid", "packed", "ternary")
TERNARY = formats.IntFormat(2, True)
DSP_TARGETS = ("ecp5", "ice40")


def default_acc_bits(a_fmt, b_fmt, k_max):
    """The default accumulator width: a_bits + b_bits + ceil(log2 k_max), enough for any
    sum of k_max products to be exact (no wrap or saturation)."""
    return a_fmt.bits + b_fmt.bits + (k_max - 1).bit_length()


# Fabric registers between a DSP PE's operand registers and its block, and between the
# block and its accumulator (the longer way: the block's row can be far from the PE).
_DSP_OPERAND_TRANSPORT = 1
_DSP_PRODUCT_TRANSPORT = 2


class MACArray(wiring.Component):
    """Output-stationary systolic array for integer or floating-point matrix products.

    One input beat is one step k of the reduction: `rows` values ``A[r, k]`` and `cols`
    values ``B[k, c]``; the beat with ``last`` set ends a tile. PE (r, c) accumulates
    ``A[r, k] * B[k, c]`` over the tile's beats; the tile's R x C sums then leave on `o`,
    one row per beat (row 0 first), while the next tile is already accumulating.

    Numerics, integer PEs: bit-exact with ``golden.mac.gemm(A, B, a_fmt, b_fmt, acc_bits=,
    overflow=)`` for the tile (k ascending): products are exact; each PE's register is
    acc_bits wide, two's complement when either operand format is signed, and wraps
    around or saturates at every add (`overflow`).

    Numerics, FP PEs (a_fmt a FloatFormat, e.g. FP8 E4M3/E5M2, BF16): bit-exact with
    ``golden.mac.fp_gemm(A, B, a_fmt, mul=, acc=, guard_bits=)``, one FP32 code per output:
    ``mul="exact"`` (`hdl.fpmul.FPMul`) or ``"lmul"`` (`hdl.lmul.LMul`, its default
    parameters) products; ``acc="fp32"``: products rounded into FP32 and added in an FP32
    register (RNE at each add, from +0, k ascending: a one-cycle loop through
    `hdl.fpadd.fp_add`); ``acc="kulisch"``: exact products added into an exact fixed-point
    register (`hdl.kulisch`, acc_bits = the `golden.dot.kulisch_range` width for
    guard_bits = ceil(log2 k_max)), with NaN/Inf flags; the sum drains exact and is
    rounded once into FP32 at the top of its column.

    Structure. A values move right and B values down, one PE per cycle, skewed at the
    edges (row r's A by r cycles, column c's B by c), so PE (r, c) sees step k of the tile
    at cycle k + r + c. A valid/last tag travels along each row with the A values (XORed
    with the low bits of its beat's A value, so that synthesis cannot merge the equal tag
    registers of an anti-diagonal into one fanned-out net; each PE decodes it and delays
    it by the multiplier's latency), so a PE adds only real beats and needs no enable:
    input stalls become bubbles that travel through the array. At its tile's last beat a
    PE hands its sum to its result register and clears its accumulator (the flip-flops'
    synchronous reset, so the accumulator's loop holds only its adder). Result registers
    shift up one row per cycle in each column (a tile's row r leaves the top 2r cycles
    after its row 0), are de-skewed across the columns, and wait in output FIFOs: one per
    column, written from registers, each with its own output register and read control
    (`fifo_rows` rows, LUT RAM), so no enable fans out across the array or the output.
    Back-pressure stays at the edges: the input accepts a tile's last beat only when the
    FIFOs have room for that tile's rows (counted with credits) and at least
    `min_tile_cycles` (at least ``2 * rows - 1``) after the previous tile's last beat
    (so that two tiles' results never meet in a column). Only the edge control has a
    reset: after it, the edge sends "clear" tags for `flush_cycles` and accepts nothing,
    and the FIFOs take nothing, so nothing from before the reset survives.

    Parameters
    ----------
    rows, cols : int
        Array size R x C, 1..64 each.
    a_fmt, b_fmt : IntFormat or FloatFormat
        Operand formats (b_fmt default a_fmt). Integers: signed or unsigned, 2..18 bits;
        e.g. INT4 weights x INT8 activations. Floats: at most 16 bits, b_fmt = a_fmt.
    k_max : int
        The longest reduction the default accumulator holds exactly (1..2^20).
    acc_bits : int or None
        Integer PEs' accumulator width; default `default_acc_bits` (a_bits + b_bits +
        ceil(log2 k_max): 24 for INT8 x INT8 and k_max 256). At least a_bits + b_bits,
        at most 64. (FP PEs: set by `acc`; not a parameter.)
    overflow : "wrap" or "saturate"
        Integer PEs only.
    mul : "exact" or "lmul"
        FP PEs' products.
    acc : "fp32" or "kulisch"
        FP PEs' accumulation.
    multiplier : "lut", "dsp" or "ternary"
        ``"lut"``: a LUT multiplier and a product register per PE. ``"dsp"``: one DSP
        block per PE (`hdl.dsp.Multiplier` with all its registers and a fabric register
        after it, on `target`); rows x cols must fit the target's DSP blocks.
        ``"hybrid"``: DSP PEs up to `dsp_blocks` (row by row), LUT PEs for the rest, their
        products delayed to the DSP PEs' latency; `notes` states the split.
        ``"packed"``: two products per DSP block, a * (w0 + w1 2^k) for the weights w0, w1
        of two neighbouring columns (k = a_bits + b_bits; the low field's sign corrected
        as the high sum's carry in): signed weights of 2..4 bits, a_bits + 2 b_bits at
        most 17 (ECP5) or 15 (iCE40), e.g. INT8 activations with INT4 weights (W4A8); an
        even number of columns, rows x cols / 2 blocks.
        ``"ternary"`` (BitLinear): b_fmt int2, weights -1, 0, +1; no multiplier: the PE
        adds A, subtracts it (its complement with a carry in, in the accumulator's own
        adder) or adds nothing. (The fourth int2 code, -2, subtracts 2A, so that every code
        stays exact.) FP PEs: ``"lut"`` only (their multipliers are in LUTs).
    target : "ecp5" or "ice40"
        DSP family of ``multiplier="dsp"`` and ``"hybrid"``.
    dsp_blocks : int or None
        DSP blocks the array may use; default the whole target device's (LFE5U-85F: 156
        MULT18X18D; iCE40UP5K: 8 SB_MAC16).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": ArrayLayout(a_bits, rows),
                                          "b": ArrayLayout(b_bits, cols), "last": 1})))
    o : Out(stream.Signature(ArrayLayout(out_fmt.bits, cols)))
        `rows` beats per tile: the codes of one row of sums each.
    out_fmt : IntFormat or FloatFormat
        The sums' format: the acc_bits-bit integer (integer PEs) or FP32.
    latency : int
        Cycles from accepting a tile's last beat to its row 0 on `o` (idle array, `o`
        ready); row r follows 2r cycles after row 0.
    ops_per_cycle : int
        Multiply-adds per cycle while beats stream in: rows x cols.
    cycles_per_tile(k) : int
        Input cycles a tile of k beats occupies at full rate: max(k, min_tile_cycles).
    layer_cycles(m, k, n) : int
        Cycles of a whole M x K x N product at full rate (the FPGA report's "cycles of a
        64x256x64 layer").
    ops_per_item, stream_group : int, (int, int)
        rows x cols multiply-adds per beat; the shortest full-rate tile,
        (min_tile_cycles) beats, and its rows output beats (`hdl.protocol`).
    """

    PARAMETERS = {"rows": protocol.Integer(), "cols": protocol.Integer(),
                  "a_fmt": protocol.Format(formats.IntFormat, formats.FloatFormat),
                  "b_fmt": protocol.Format(formats.IntFormat, formats.FloatFormat,
                                           optional=True),
                  "k_max": protocol.Integer(), "acc_bits": protocol.Integer(),
                  "overflow": protocol.Choice(*mac.OVERFLOWS),
                  "multiplier": protocol.Choice(*MULTIPLIERS),
                  "target": protocol.Choice(*DSP_TARGETS),
                  "dsp_blocks": protocol.Integer(),
                  "mul": protocol.Choice(*golden_dot.MULS),
                  "acc": protocol.Choice(*golden_dot.ACCS)}
    EXAMPLES = [{"rows": 2, "cols": 3, "a_fmt": "int8"},
                {"rows": 3, "cols": 2, "a_fmt": "int4", "b_fmt": "uint8",
                 "overflow": "saturate", "acc_bits": 14},
                {"rows": 1, "cols": 1, "a_fmt": "uint8", "k_max": 16},
                {"rows": 2, "cols": 2, "a_fmt": "fp8_e4m3", "mul": "lmul", "acc": "kulisch"},
                {"rows": 1, "cols": 2, "a_fmt": "bf16"}]

    def __init__(self, *, rows=4, cols=4, a_fmt=formats.IntFormat(8, True), b_fmt=None,
                 k_max=256, acc_bits=None, overflow="wrap", multiplier="lut",
                 target="ecp5", dsp_blocks=None, mul="exact", acc="fp32"):
        # A constructor that raises leaves nothing to elaborate: no "never used" warning.
        self._MustUse__silence = True
        self.rows = checks.integer("rows", rows, lo=1, hi=64)
        self.cols = checks.integer("cols", cols, lo=1, hi=64)
        b_fmt = a_fmt if b_fmt is None else b_fmt
        self.k_max = checks.integer("k_max", k_max, lo=1, hi=1 << 20)
        self.multiplier = checks.choice("multiplier", multiplier, MULTIPLIERS)
        self.target = checks.choice("target", target, DSP_TARGETS)
        self.mul = checks.choice("mul", mul, golden_dot.MULS)
        self.acc = checks.choice("acc", acc, golden_dot.ACCS)
        self.fp = isinstance(a_fmt, formats.FloatFormat)
        if self.fp:
            self._init_fp(a_fmt, b_fmt, acc_bits, overflow)
        else:
            self._init_int(a_fmt, b_fmt, acc_bits, overflow, dsp_blocks)
        beat = data.StructLayout({"a": data.ArrayLayout(self.a_fmt.bits, self.rows),
                                  "b": data.ArrayLayout(self.b_fmt.bits, self.cols),
                                  "last": 1})
        super().__init__({"i": In(stream.Signature(beat)),
                          "o": Out(stream.Signature(data.ArrayLayout(self.out_fmt.bits,
                                                                     self.cols)))})
        self._MustUse__silence = False

    def _init_int(self, a_fmt, b_fmt, acc_bits, overflow, dsp_blocks):
        """The parameters of integer (and ternary) PEs."""
        if (self.mul, self.acc) != ("exact", "fp32"):
            raise ValueError(f"mul and acc apply to FP PEs (a_fmt a FloatFormat), not to "
                             f"{a_fmt} x {b_fmt}")
        for name, fmt in (("a_fmt", a_fmt), ("b_fmt", b_fmt)):
            if not isinstance(fmt, formats.IntFormat):
                raise TypeError(f"{name} must be an IntFormat or a FloatFormat, not {fmt!r}")
            if not 2 <= fmt.bits <= 18:
                raise ValueError(f"{name} must have 2..18 bits, not {fmt.bits} ({fmt})")
        self.a_fmt, self.b_fmt = a_fmt, b_fmt
        product_bits = a_fmt.bits + b_fmt.bits
        if acc_bits is None:
            acc_bits = default_acc_bits(a_fmt, b_fmt, self.k_max)
        self.acc_bits = checks.integer("acc_bits", acc_bits, lo=product_bits, hi=64,
                                       extra=f" for {a_fmt} x {b_fmt}")
        self.overflow = checks.choice("overflow", overflow, mac.OVERFLOWS)
        self._round_latency = 0
        if self.multiplier == "ternary" and b_fmt != TERNARY:
            raise ValueError(f"multiplier='ternary' takes b_fmt={TERNARY} (weights -1, 0, "
                             f"+1), not {b_fmt}")
        self.signed = a_fmt.signed or b_fmt.signed
        self.out_fmt = formats.IntFormat(self.acc_bits, self.signed)
        self._a_shape = (signed if a_fmt.signed else unsigned)(a_fmt.bits)
        self._b_shape = (signed if b_fmt.signed else unsigned)(b_fmt.bits)
        primitive, _, budget, device = dsp.DSP_BLOCKS[self.target]
        what = f"the {device}'s {budget}"
        if dsp_blocks is not None:
            budget = checks.integer("dsp_blocks", dsp_blocks, lo=0, hi=budget,
                                    extra=f" ({device})")
            what = f"dsp_blocks = {budget}"
        pes = self.rows * self.cols
        self._sites = self.cols
        if self.multiplier == "packed":
            if self.cols % 2 or not b_fmt.signed or b_fmt.bits > 4:
                raise ValueError(f"multiplier='packed' takes an even number of cols and "
                                 f"signed weights of 2..4 bits (b_fmt), not cols={self.cols}, "
                                 f"b_fmt={b_fmt}")
            self._field = a_fmt.bits + b_fmt.bits
            if self._field + b_fmt.bits + 1 > dsp.DSP_BLOCKS[self.target][1]:
                raise ValueError(f"multiplier='packed': {a_fmt} activations leave no room for "
                                 f"two {b_fmt} weights in one {primitive} operand "
                                 f"(a_bits + 2 b_bits must be at most "
                                 f"{dsp.DSP_BLOCKS[self.target][1] - 1})")
            self._sites = self.cols // 2
            pes = self.rows * self._sites
        self.dsp_pes = {"dsp": pes, "packed": pes,
                        "hybrid": min(pes, budget)}.get(self.multiplier, 0)
        if self.dsp_pes:
            probe = self._new_multiplier("packed" if self.multiplier == "packed" else "dsp")
            probe._MustUse__silence = True
            if probe.blocks != 1:
                raise ValueError(f"multiplier={self.multiplier!r}: {a_fmt} x {b_fmt} needs "
                                 f"{probe.blocks} {primitive} blocks per PE; a PE takes one")
            if pes > budget and self.multiplier in ("dsp", "packed"):
                raise ValueError(
                    f"multiplier={self.multiplier!r}: rows x cols = {self.rows} x {self.cols} "
                    f"= {self.rows * self.cols} outputs need {pes} {primitive} blocks, more "
                    f"than {what}; use multiplier='hybrid' or 'lut', or fewer PEs")
            # A DSP block can sit far from its PE's fabric (12x12: 3.9 ns of routing from
            # the block's fabric register to the accumulator, and still 2.1 ns with one
            # register between), so its operands cross with one more register and its
            # product with two: the placer puts them between.
            self._mul_latency = (probe.latency + _DSP_OPERAND_TRANSPORT
                                 + _DSP_PRODUCT_TRANSPORT)
        else:
            self._mul_latency = 1                    # the product register
        self.dsp_blocks = budget

    def _init_fp(self, fmt, b_fmt, acc_bits, overflow):
        """The parameters of FP PEs (a_fmt `fmt` a FloatFormat)."""
        if b_fmt != fmt:
            raise ValueError(f"FP PEs take b_fmt = a_fmt ({fmt}), not {b_fmt}")
        if fmt.bits > 16:
            raise ValueError(f"a_fmt must have at most 16 bits for FP PEs, not {fmt.bits} "
                             f"({fmt})")
        if self.multiplier != "lut":
            raise ValueError(f"multiplier={self.multiplier!r}: FP PEs ({fmt}) build their "
                             f"multipliers in LUTs: multiplier='lut'")
        if acc_bits is not None:
            raise ValueError(f"acc_bits applies to integer PEs; an FP PE's accumulator is "
                             f"set by acc ('fp32' or 'kulisch'), not acc_bits={acc_bits!r}")
        if overflow != "wrap":
            raise ValueError(f"overflow applies to integer PEs, not to FP PEs ({fmt}): "
                             f"leave it 'wrap', not {overflow!r}")
        # Kulisch: exact for k_max terms.
        self.guard_bits = max((self.k_max - 1).bit_length(), 1)
        golden_dot.check_params(fmt, 1, self.mul, self.acc, self.guard_bits, None,
                                {"carry": "integer", "offset": "paper",
                                 "subnormal_inputs": "flush"})
        self.a_fmt = self.b_fmt = fmt
        self.overflow, self.signed = overflow, False
        self.out_fmt = formats.FP32
        if self.acc == "kulisch":
            self._product_fmt = golden_dot.product_format(fmt, mul=self.mul)
            self._lsb, self.acc_bits = golden_dot.kulisch_range(fmt, mul=self.mul,
                                                                guard_bits=self.guard_bits)
        else:
            self._product_fmt, self.acc_bits = formats.FP32, 32
        self._a_shape = self._b_shape = unsigned(fmt.bits)
        # The product register; Kulisch: then the term register. Kulisch's rounding at
        # the top of each column has a cycle of its own.
        self._mul_latency = 2 if self.acc == "kulisch" else 1
        self._round_latency = 1 if self.acc == "kulisch" else 0
        self._sites, self.dsp_pes, self.dsp_blocks = self.cols, 0, 0

    @property
    def notes(self):
        """What the generator chose, in words (printed by `make verilog`)."""
        if self.multiplier != "hybrid":
            return []
        primitive = dsp.DSP_BLOCKS[self.target][0]
        lut_pes = self.rows * self.cols - self.dsp_pes
        return [f"hybrid: {self.dsp_pes} PEs on {primitive} (rows 0.. in order), "
                f"{lut_pes} PEs with LUT multipliers"]

    def _pe_kind(self, r, c):
        if self.multiplier == "hybrid":
            return "dsp" if r * self.cols + c < self.dsp_pes else "lut"
        return self.multiplier

    def _product(self, m, a, b, name, kind):
        """The products of PE operand registers `a`, `b` (a PE of `kind`), `_mul_latency`
        cycles later: one (addend, carry in or None) per lane, product = addend + carry.
        A packed PE's `b` holds two weights (`_pack_weights`) and gives two lanes."""
        if kind == "ternary":
            # code 0: 0; 1: +a; 3 (-1): -a = ~a + 1; 2 (-2): -2a = ~(2a) + 1.
            code = b.as_unsigned()
            magnitude = Mux(code == 2, a.shift_left(1), Mux(code == 0, 0, a))
            negative = code[1]
            addend = Signal(signed(len(a) + 2), name=f"{name}_addend", reset_less=True)
            carry = Signal(name=f"{name}_carry", reset_less=True)
            m.d.sync += [addend.eq(magnitude ^ negative.replicate(len(a) + 2)),
                         carry.eq(negative)]
            return [(addend, carry)]
        m.submodules[f"{name}_mul"] = mul = self._new_multiplier(kind)
        latency = mul.latency
        if kind in ("dsp", "packed"):                 # (the transport registers)
            for step in range(_DSP_OPERAND_TRANSPORT):
                a_near = Signal.like(a, name=f"{name}_a_to_dsp{step}", reset_less=True)
                b_near = Signal.like(b, name=f"{name}_b_to_dsp{step}", reset_less=True)
                m.d.sync += [a_near.eq(a), b_near.eq(b)]
                a, b = a_near, b_near
            latency += _DSP_OPERAND_TRANSPORT
        m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
        product = mul.p
        # The product's transport register (DSP PEs); a LUT product registered, then
        # delayed to the array's latency (hybrid).
        for level in range(self._mul_latency - latency):
            reg = Signal.like(mul.p, name=f"{name}_product{level}", reset_less=True)
            m.d.sync += reg.eq(product)
            product = reg
        if kind != "packed":
            return [(product, None)]
        # a * (w0 + w1 2^k) = a w0 + a w1 2^k, |a w0| < 2^(k-1): the low k bits are a w0
        # (two's complement); the bits above are a w1 - 1 when a w0 < 0, so a w1 is them
        # plus the low field's sign bit, which enters the accumulator's adder as its carry.
        k = self._field
        return [(product[:k].as_signed(), None), (product[k:].as_signed(), product[k - 1])]

    def _pack_weights(self, m, w0, w1, name):
        """The DSP operand w0 + w1 2^k of a packed PE: k + b_bits + 1 bits signed (w1 at
        its most negative and w0 negative reach below -2^(k + b_bits - 1))."""
        packed = Signal(signed(self._field + self.b_fmt.bits + 1), name=name)
        m.d.comb += packed.eq(w0.as_signed() + (w1.as_signed() << self._field))
        return packed

    def _accumulate(self, m, tag, addend, carry, acc_fmt, acc_shape, name):
        """One accumulator: (capture, the sum with this product) of its output."""
        acc = Signal(acc_shape, name=f"{name}_acc", reset_less=True)
        if carry is None:
            total = acc + addend
        else:       # (signed operands): 2x + c plus 2y + c is 2 (x + y + c)
            total = (Cat(carry, acc).as_signed()
                     + Cat(carry, addend).as_signed())[1:].as_signed()
        total = intcore.wire(m, total, f"{name}_total")
        code = intcore.fit_fixed(m, total, acc_fmt, f"{name}_sum")
        # The clear is the flip-flops' synchronous reset: no logic in the loop.
        with m.If(tag.last):
            m.d.sync += acc.eq(0)
        with m.Elif(tag.valid):
            m.d.sync += acc.eq(code)
        return tag.valid & tag.last, code

    def _fp_pe(self, m, tag, a, b, name):
        """An FP PE on operand registers `a`, `b`: (capture, the sum with this product),
        the sum an FP32 code (acc="fp32") or the exact sum with its flags above it."""
        unit = m.submodules[f"{name}_mul"] = dot.multiplier_unit(self.a_fmt, self.mul,
                                                                 self._product_fmt)
        m.d.comb += [unit.i.valid.eq(1), unit.o.ready.eq(1),
                     unit.i.payload.a.eq(a), unit.i.payload.b.eq(b)]
        product = Signal(self._product_fmt.bits, name=f"{name}_product", reset_less=True)
        m.d.sync += product.eq(unit.o.payload)
        acc = Signal(self.acc_bits, name=f"{name}_acc", reset_less=True)
        if self.acc == "fp32":
            total = fpadd.fp_add(m, formats.FP32, acc, product, f"{name}_add")
            state = [(acc, total)]
        else:
            term, term_flags = kulisch.term(m, self._product_fmt, product, self._lsb,
                                            self.acc_bits, f"{name}_k")
            term_reg = Signal(self.acc_bits, name=f"{name}_term", reset_less=True)
            flags_reg = Signal(kulisch.FLAGS, name=f"{name}_term_flags", reset_less=True)
            m.d.sync += [term_reg.eq(term), flags_reg.eq(term_flags)]
            flags = Signal(kulisch.FLAGS, name=f"{name}_flags", reset_less=True)
            sum_ = kulisch.add(m, acc, term_reg, self.acc_bits, f"{name}_sum")
            sum_flags = intcore.wire(m, flags | flags_reg, f"{name}_sum_flags")
            state = [(acc, sum_), (flags, sum_flags)]
            total = Cat(sum_, sum_flags)
        # The clear (+0, no flags) is the flip-flops' synchronous reset, as for integers.
        with m.If(tag.last):
            m.d.sync += [reg.eq(0) for reg, _ in state]
        with m.Elif(tag.valid):
            m.d.sync += [reg.eq(value) for reg, value in state]
        return tag.valid & tag.last, total

    def _new_multiplier(self, kind):
        if kind == "packed":
            return dsp.Multiplier(self._a_shape, signed(self._field + self.b_fmt.bits + 1),
                                  target=self.target, pipeline=3, fabric_register=True)
        if kind == "dsp":
            return dsp.Multiplier(self._a_shape, self._b_shape, target=self.target,
                                  pipeline=3, fabric_register=True)
        return dsp.Multiplier(self._a_shape, self._b_shape, target="fabric", pipeline=0)

    # Input register, skew, PE operand register, multiplier, accumulate (result register),
    # then the column's de-skew, (FP Kulisch: the rounding,) the FIFO's write and its
    # buffered read.
    @property
    def latency(self):
        return self._mul_latency + self._sites + 5 + self._round_latency

    @property
    def ops_per_cycle(self):
        return self.rows * self.cols

    @property
    def min_tile_cycles(self):
        """Fewest cycles between two tiles' last beats at full rate (`o` ready): at least
        2 rows - 1 (see the class docstring), and enough for the credits: a tile's rows
        hold theirs from its last beat until the cycle after they leave (row r leaves
        latency + 2r cycles later; its credit counts again one cycle after that), and a
        last beat waits for `rows` free ones."""
        rows, latency, free = self.rows, self.latency, self.fifo_rows
        period = 2 * rows - 1
        while True:
            # Steady state at this period: tile n's last beat at cycle n * period.
            tiles = 2 * free // rows + 4
            ok = True
            for n in range(tiles):
                t = n * period
                held = sum(1 for m in range(n) for r in range(rows)
                           if m * period + latency + 2 * r + 2 > t)
                if free - held < rows:
                    ok = False
                    break
            if ok:
                return period
            period += 1

    def cycles_per_tile(self, k):
        """Input cycles of a tile of `k` beats at full rate."""
        k = checks.integer("k", k, lo=1)
        return max(k, self.min_tile_cycles)

    def layer_cycles(self, m, k, n):
        """Cycles of an M x K x N matrix product at full rate (`o` ready), tiled as
        `tb.gemmbench` does (ceil(M / rows) x ceil(N / cols) tiles of K beats): from the
        cycle the first beat is accepted to the cycle the last result row leaves, both
        counted."""
        m, k, n = (checks.integer(name, value, lo=1) for name, value in
                   (("m", m), ("k", k), ("n", n)))
        tiles = -(-m // self.rows) * -(-n // self.cols)
        last_beat = k - 1 + (tiles - 1) * self.cycles_per_tile(k)
        return last_beat + self.latency + 2 * (self.rows - 1) + 1

    @property
    def ops_per_item(self):
        """Multiply-adds per input beat: rows x cols."""
        return self.rows * self.cols

    @property
    def stream_group(self):
        """(beats, output beats) of the shortest tile at full rate: the generic bench's
        group (`hdl.protocol`)."""
        return self.min_tile_cycles, self.rows

    @property
    def fifo_rows(self):
        """Rows the output holds: a FIFO of 16 (LUT RAM's depth) per 16 rows of the array,
        and the output register."""
        return 16 * -(-self.rows // 16) + 1

    @property
    def golden(self):
        """``(golden.mac.gemm, kwargs)`` (integer PEs) or ``(golden.mac.fp_gemm, kwargs)``
        (FP PEs): ``function(A, B, **kwargs)`` is a tile's sums."""
        if self.fp:
            return mac.fp_gemm, {"fmt": self.a_fmt, "mul": self.mul, "acc": self.acc,
                                 "guard_bits": self.guard_bits}
        return mac.gemm, {"a_fmt": self.a_fmt, "b_fmt": self.b_fmt,
                          "acc_bits": self.acc_bits, "overflow": self.overflow}

    @property
    def flush_cycles(self):
        """Cycles after reset in which the edge sends "clear" tags and accepts nothing:
        the depth from the edge to the FIFO, so that nothing from before the reset
        survives (the array itself has no reset)."""
        return 2 * (self.rows + self.cols) + self._mul_latency + 5 + self._round_latency

    def _column_queue(self, m, w_data, w_en, name):
        """A column's output queue of ``fifo_rows - 1`` entries: asynchronous-read memory
        (LUT RAM) written whenever `w_en` (a register: the credits guarantee room, so
        there is no full check between it and the memory). Returns (r_rdy, r_data, r_en)."""
        depth = self.fifo_rows - 1
        m.submodules[f"{name}_mem"] = mem = memory.Memory(shape=len(w_data), depth=depth,
                                                          init=[])
        write, read = mem.write_port(), mem.read_port(domain="comb")
        pointers = {}
        for side in ("w", "r"):
            index = Signal(range(depth), name=f"{name}_{side}_ptr")
            lap = Signal(name=f"{name}_{side}_lap")     # toggles at each wrap
            pointers[side] = index, lap
        r_en = Signal(name=f"{name}_r_en")
        for side, enable in (("w", w_en), ("r", r_en)):
            index, lap = pointers[side]
            with m.If(enable):
                with m.If(index == depth - 1):
                    m.d.sync += [index.eq(0), lap.eq(~lap)]
                with m.Else():
                    m.d.sync += index.eq(index + 1)
        (w_ptr, w_lap), (r_ptr, r_lap) = pointers["w"], pointers["r"]
        m.d.comb += [write.addr.eq(w_ptr), write.data.eq(w_data), write.en.eq(w_en),
                     read.addr.eq(r_ptr)]
        r_rdy = intcore.wire(m, (w_ptr != r_ptr) | (w_lap != r_lap), f"{name}_r_rdy")
        return r_rdy, read.data, r_en

    def elaborate(self, platform):
        m = Module()
        rows, cols = self.rows, self.cols
        # Bits of a sum as it drains (Kulisch: the exact sum and its flags), and as it
        # leaves.
        bits = self.acc_bits + (kulisch.FLAGS if self.fp and self.acc == "kulisch" else 0)
        out_bits = self.out_fmt.bits
        beat = self.i.payload

        # --- Edge control (the only registers with a reset) ---------------------------------
        # (`flushing` is a register: it gates the FIFOs' write enables.)
        flush = Signal(range(self.flush_cycles + 1), init=self.flush_cycles, name="flush")
        flushing = Signal(init=1, name="flushing")
        with m.If(flushing):
            m.d.sync += [flush.eq(flush - 1), flushing.eq(flush != 1)]
        gap_max = max(self.min_tile_cycles - 1, 0)
        gap = Signal(range(gap_max + 1), init=gap_max, name="tile_gap")
        credits = Signal(range(self.fifo_rows + 1), init=self.fifo_rows, name="credits")
        # (while the last tile's credits are still counted: room for both tiles)
        ended = Signal(name="tile_ended")
        credits_ok = Mux(ended, intcore.at_least(m, credits, 2 * rows, "credits_ok2"),
                         intcore.at_least(m, credits, rows, "credits_ok"))
        tile_ok = intcore.wire(m, intcore.at_least(m, gap, gap_max, "gap_ok") & credits_ok,
                               "tile_ok")
        m.d.comb += self.i.ready.eq(~flushing & (~beat.last | tile_ok))
        fire = intcore.wire(m, self.i.valid & self.i.ready, "in_fire")
        ends = intcore.wire(m, fire & beat.last, "tile_end")
        with m.If(ends):
            m.d.sync += gap.eq(0)
        with m.Elif(gap != gap_max):
            m.d.sync += gap.eq(gap + 1)
        # A row's credit returns the cycle after it leaves, from a register beside `o`: the
        # way from `o.ready` to the count crosses the array. A tile's credits are taken the
        # cycle after its last beat, from a register, so that the accept decision and the
        # credit count do not form one loop of logic.
        returned = Signal(name="credit_returned")
        m.d.sync += [returned.eq(self.o.valid & self.o.ready), ended.eq(ends),
                     credits.eq(credits - Mux(ended, rows, 0) + returned)]

        # Input register. The tag of a beat: valid (add the product) and last (then clear
        # the accumulator; with valid also hand the sum on). While flushing: "clear".
        a_in = Signal(beat.a.shape(), name="a_in", reset_less=True)
        b_in = Signal(beat.b.shape(), name="b_in", reset_less=True)
        tag_layout = data.StructLayout({"valid": 1, "last": 1})
        tag_in = Signal(tag_layout, name="tag_in", init={"last": 1})
        m.d.sync += [a_in.eq(beat.a), b_in.eq(beat.b),
                     tag_in.eq(Cat(fire, (fire & beat.last) | flushing))]

        # --- Skew at the edges, and the tags' encoding ----------------------------------------
        def delayed(value, cycles, name):
            for step in range(cycles):
                reg = Signal.like(value, name=f"{name}_d{step + 1}", reset_less=True)
                m.d.sync += reg.eq(value)
                value = reg
            return value

        # PE columns ("sites"): one per B column, or one per pair of them (packed).
        lanes = 2 if self.multiplier == "packed" else 1
        sites = cols // lanes
        a_edge = [delayed(a_in[r], r, f"a_skew{r}") for r in range(rows)]
        b_sources = [b_in[c] for c in range(cols)]
        if lanes == 2:
            b_sources = [self._pack_weights(m, b_in[2 * j], b_in[2 * j + 1], f"b_packed{j}")
                         for j in range(sites)]
        b_edge = [delayed(b_sources[j], j, f"b_skew{j}") for j in range(sites)]
        # Every row's tags are the same bits, a cycle apart per PE; as plain registers
        # synthesis would merge those of each anti-diagonal into one and fan it out across
        # the array. So a tag travels XORed with the low bits of its own beat's A value
        # (row-specific data), and each PE decodes it with the A value beside it.
        tag_edge = [Signal(2, name=f"tag_skew{r}") for r in range(rows)]
        for r in range(rows):
            m.d.comb += tag_edge[r].eq(Value.cast(delayed(tag_in, r, f"tag_skew{r}"))
                                       ^ Value.cast(a_edge[r])[:2])

        # --- Processing elements ----------------------------------------------------------
        if not self.fp:
            acc_fmt = formats.FixedFormat(bits, 0, signed=self.signed,
                                          overflow=self.overflow)
            acc_shape = (signed if self.signed else unsigned)(bits)
        results = [[None] * cols for _ in range(rows)]       # (capture, sum) per output
        a_from, tag_from = list(a_edge), list(tag_edge)       # per row, from the left
        b_from = list(b_edge)                                 # per site, from above
        for r in range(rows):
            for j in range(sites):
                name = f"pe{r}_{j}"
                a_reg = Signal(self._a_shape, name=f"{name}_a", reset_less=True)
                b_reg = Signal.like(b_from[j], name=f"{name}_b", reset_less=True)
                tag_code = Signal(2, name=f"{name}_tag_code", reset_less=True)
                m.d.sync += [a_reg.eq(a_from[r]), b_reg.eq(b_from[j]),
                             tag_code.eq(tag_from[r])]
                a_from[r], b_from[j], tag_from[r] = a_reg, b_reg, tag_code
                tag = Signal(tag_layout, name=f"{name}_tag_now")
                m.d.comb += tag.eq(tag_code ^ a_reg.as_unsigned()[:2])
                # ... delayed here to meet its product.
                tag = delayed(tag, self._mul_latency, f"{name}_tag")
                if self.fp:
                    results[r][j] = self._fp_pe(m, tag, a_reg, b_reg, name)
                    continue
                products = self._product(m, a_reg, b_reg, name, self._pe_kind(r, j))
                for lane, (addend, carry) in enumerate(products):
                    c = j * lanes + lane
                    results[r][c] = self._accumulate(m, tag, addend, carry, acc_fmt,
                                                     acc_shape, f"{name}_{lane}")

        # --- Drain: result registers shift up each column -------------------------------------
        tops = []
        for c in range(cols):
            above_value, above_valid = Const(0, bits), Const(0, 1)
            for r in reversed(range(rows)):
                capture, code = results[r][c]
                value = Signal(bits, name=f"res{r}_{c}", reset_less=True)
                valid = Signal(name=f"res{r}_{c}_valid", reset_less=True)
                m.d.sync += [value.eq(Mux(capture, code, above_value)),
                             valid.eq(capture | above_valid)]
                above_value, above_valid = value, valid
            # De-skew: site j leaves the top j cycles after site 0.
            skew = sites - 1 - c // lanes
            value = delayed(above_value, skew, f"top{c}")
            valid = delayed(above_valid, skew, f"top{c}_valid")
            if self._round_latency:             # Kulisch: rounded once into FP32
                rounded = kulisch.to_float(m, formats.FP32, value[:self.acc_bits],
                                           value[self.acc_bits:], self._lsb, f"top{c}_fp32")
                value = delayed(rounded, 1, f"top{c}_rounded")
                valid = delayed(valid, 1, f"top{c}_rounded_valid")
            tops.append((value, valid))

        # The output: per column a FIFO written from registers (data, and the column's valid
        # gated by `flushing`), then an output register with its own read control, so that
        # no enable fans out across the array or the output: the columns see the same writes
        # and reads, so they move in step, and column 0's valid is `o.valid`. The FIFOs are
        # asynchronous-read memory (LUT RAM: a block RAM's read is too slow here without
        # its output register, which yosys does not use).
        out_data, out_valid = [], []
        for c, (value, valid) in enumerate(tops):
            w_data = Signal(out_bits, name=f"fifo{c}_w_data", reset_less=True)
            w_en = Signal(name=f"fifo{c}_w_en")
            m.d.sync += [w_data.eq(value), w_en.eq(valid & ~flushing)]
            r_rdy, r_data, r_en = self._column_queue(m, w_data, w_en, f"fifo{c}")
            data_c = Signal(out_bits, name=f"out{c}_data", reset_less=True)
            valid_c = Signal(name=f"out{c}_valid")
            take = intcore.wire(m, r_rdy & (~valid_c | self.o.ready), f"out{c}_take")
            with m.If(take):
                m.d.sync += [data_c.eq(r_data), valid_c.eq(1)]
            with m.Elif(self.o.ready):
                m.d.sync += valid_c.eq(0)
            m.d.comb += r_en.eq(take)
            out_data.append(data_c)
            out_valid.append(valid_c)
        m.d.comb += [self.o.payload.eq(Cat(out_data)), self.o.valid.eq(out_valid[0])]
        return m
