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
DATAFLOWS = ("output", "weight")
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
    """Systolic array for integer or floating-point matrix products: output-stationary
    (integer, ternary and FP PEs) or weight-stationary (integer and ternary PEs).

    Output-stationary (``dataflow="output"``, the default).

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
    column, written from registers, each with its own two-entry output buffer and read
    control (`fifo_rows` rows, LUT RAM), so no enable fans out across the array or the
    output, and `o.ready` drives only each column's buffer occupancy and read pointer.
    Back-pressure stays at the edges: the input accepts a tile's last beat only when the
    FIFOs have room for that tile's rows (counted with credits) and at least
    `min_tile_cycles` (at least ``2 * rows - 1``) after the previous tile's last beat
    (so that two tiles' results never meet in a column). Only the edge control has a
    reset: after it, the edge sends "clear" tags for `flush_cycles` and accepts nothing,
    and the FIFOs take nothing, so nothing from before the reset survives.

    Weight-stationary (``dataflow="weight"``). PE (r, c) holds a weight ``B[k0 + r, c]``;
    a pass streams activation rows ``A[m, k0:k0 + rows]`` (beats with ``act``), one per
    cycle: A values move right, partial sums move down the columns, and the bottom of
    column c gives ``sum_r A[m, k0 + r] B[k0 + r, c]`` added to the stored sum of row m.
    Beat fields besides ``a`` (rows values) and ``b`` (cols values):
    ``load``: `b` is a weight row for the next pass; the i-th load since the last pass
    start goes to PE row i (mod rows); rows not loaded keep their weights, so a pass may
    reuse them. ``act``: `a` is an activation row of the current pass; ``start`` (with
    act): the first row of a pass: the weights loaded since the previous start take
    over, from this row on (loads in the same beat are for the next pass); ``fresh``
    (with start): the pass's sums start from 0, else from the sums stored by the previous
    pass for the same row index (0, 1, ... within a pass); ``emit`` (with start): the
    pass's sums also leave on `o`, one row of `cols` sums per activation row, in order.
    Each column keeps the sums of up to `m_tile` rows (LUT RAM; a pass longer than
    `m_tile` wraps around its index). Numerics as output-stationary: the sums of a row
    over consecutive passes add the products in k order (the driver loads zero weights
    past K), so they are bit-exact with ``golden.mac.gemm``, wrap or saturation included.
    Weights travel down each column (one PE per cycle, skewed by the column) with a tag
    naming their row, and are caught in each PE's second weight register; a pass's start
    travels with its first A values (skewed by the row) and moves them into the weight
    register at the cycle those A values reach the PE, so loads for the next pass run
    during the current one. Both tags are XORed with their own data, as above. The edge
    holds a pass's start until the previous pass's sums are written back (its rows, or
    idle cycles after it, reach ``rows + 2``), and an emitting row until the output FIFOs
    have room (credits, as above; `fifo_rows` covers every row in flight, so `o` ready
    keeps the full rate). Stalls are bubbles, as above; no enable fans out.

    Parameters
    ----------
    rows, cols : int
        Array size R x C, 1..64 each.
    a_fmt, b_fmt : IntFormat or FloatFormat
        Operand formats (b_fmt default a_fmt). Integers: signed or unsigned, 2..18 bits;
        e.g. INT4 weights x INT8 activations. Floats: at most 16 bits, b_fmt = a_fmt.
    k_max : int
        The longest reduction the default accumulator holds exactly (1..2^20).
    dataflow : "output" or "weight"
        Output-stationary or weight-stationary (integer and ternary PEs).
    m_tile : int or None
        Weight-stationary: rows of A whose sums each column keeps (1..1024, default 64).
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
        ``"lut"``: a LUT multiplier (partial products written out: no DSP block is
        inferred) and a product register per PE. ``"dsp"``: one DSP
        block per PE (`hdl.dsp.Multiplier` with all its registers and a fabric register
        after it, on `target`); rows x cols must fit the target's DSP blocks.
        ``"hybrid"``: DSP PEs up to `dsp_blocks` (row by row), LUT PEs for the rest, their
        multipliers pipelined (`hdl.dsp.Multiplier` target "lut", 3 levels) and delayed
        to the DSP PEs' latency; `notes` states the split.
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
        (weight-stationary: "act", "load", "start", "fresh", "emit" instead of "last")
    o : Out(stream.Signature(ArrayLayout(out_fmt.bits, cols)))
        `rows` beats per tile: the codes of one row of sums each (weight-stationary: one
        per activation row of an emitting pass).
    out_fmt : IntFormat or FloatFormat
        The sums' format: the acc_bits-bit integer (integer PEs) or FP32.
    latency : int
        Cycles from accepting a tile's last beat to its row 0 on `o` (idle array, `o`
        ready); row r follows 2r cycles after row 0. Weight-stationary: from accepting an
        emitting activation row to its sums on `o`.
    ops_per_cycle : int
        Multiply-adds per cycle while beats stream in: rows x cols.
    cycles_per_tile(beats) : int
        Input cycles a tile of `beats` beats occupies at full rate: max(beats,
        min_tile_cycles); weight-stationary, a pass of `beats` activation rows: beats, or
        beats + rows + 1 below rows + 2.
    layer_cycles(m, k, n) : int
        Cycles of a whole M x K x N product at full rate (the FPGA report's "cycles of a
        64x256x64 layer").
    ops_per_item, stream_group : int, (int, int)
        rows x cols multiply-adds per beat; the shortest full-rate tile,
        (min_tile_cycles) beats, and its rows output beats (`hdl.protocol`);
        weight-stationary (1, 1).
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
                  "acc": protocol.Choice(*golden_dot.ACCS),
                  "dataflow": protocol.Choice(*DATAFLOWS),
                  "m_tile": protocol.Integer()}
    EXAMPLES = [{"rows": 2, "cols": 3, "a_fmt": "int8"},
                {"rows": 3, "cols": 2, "a_fmt": "int4", "b_fmt": "uint8",
                 "overflow": "saturate", "acc_bits": 14},
                {"rows": 1, "cols": 1, "a_fmt": "uint8", "k_max": 16},
                {"rows": 2, "cols": 2, "a_fmt": "fp8_e4m3", "mul": "lmul", "acc": "kulisch"},
                {"rows": 1, "cols": 2, "a_fmt": "bf16"},
                {"rows": 2, "cols": 3, "a_fmt": "int8", "dataflow": "weight", "m_tile": 8},
                {"rows": 3, "cols": 4, "b_fmt": "int2", "multiplier": "ternary",
                 "dataflow": "weight"}]

    def __init__(self, *, rows=4, cols=4, a_fmt=formats.IntFormat(8, True), b_fmt=None,
                 k_max=256, acc_bits=None, overflow="wrap", multiplier="lut",
                 target="ecp5", dsp_blocks=None, mul="exact", acc="fp32",
                 dataflow="output", m_tile=None):
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
        self.dataflow = checks.choice("dataflow", dataflow, DATAFLOWS)
        self.fp = isinstance(a_fmt, formats.FloatFormat)
        if self.fp:
            self._init_fp(a_fmt, b_fmt, acc_bits, overflow)
        else:
            self._init_int(a_fmt, b_fmt, acc_bits, overflow, dsp_blocks)
        fields = {"a": data.ArrayLayout(self.a_fmt.bits, self.rows),
                  "b": data.ArrayLayout(self.b_fmt.bits, self.cols)}
        if self.dataflow == "output":
            if m_tile is not None:
                raise ValueError(f"m_tile applies to dataflow='weight' (the rows of A one "
                                 f"pass holds), not to dataflow='output': leave it None, "
                                 f"not {m_tile!r}")
            self.m_tile = None
            fields["last"] = 1
        else:
            if self.fp:
                raise ValueError(f"dataflow='weight' is built for integer and ternary PEs, "
                                 f"not yet for FP PEs ({a_fmt}): use dataflow='output'")
            self.m_tile = checks.integer("m_tile", 64 if m_tile is None else m_tile,
                                         lo=1, hi=1024)
            fields.update(act=1, load=1, start=1, fresh=1, emit=1)
        beat = data.StructLayout(fields)
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

    def _add(self, m, x, addend, carry, bits, name):
        """An integer PE's add: `x` + `addend` + `carry` (None: none), fitted to the
        bits-bit accumulator format (wrap or saturate)."""
        if carry is None:
            total = x + addend
        else:       # (signed operands): 2x + c plus 2y + c is 2 (x + y + c)
            total = (Cat(carry, x).as_signed()
                     + Cat(carry, addend).as_signed())[1:].as_signed()
        total = intcore.wire(m, total, f"{name}_total")
        acc_fmt = formats.FixedFormat(bits, 0, signed=self.signed, overflow=self.overflow)
        return intcore.fit_fixed(m, total, acc_fmt, f"{name}_sum")

    def _accumulate(self, m, tag, addend, carry, bits, name):
        """One accumulator: (capture, the sum with this product) of its output."""
        acc = Signal(self._acc_shape(bits), name=f"{name}_acc", reset_less=True)
        code = self._add(m, acc, addend, carry, bits, name)
        # The clear is the flip-flops' synchronous reset: no logic in the loop.
        with m.If(tag.last):
            m.d.sync += acc.eq(0)
        with m.Elif(tag.valid):
            m.d.sync += acc.eq(code)
        return tag.valid & tag.last, code

    def _acc_shape(self, bits):
        return (signed if self.signed else unsigned)(bits)

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
        # LUT PEs stay in LUTs where synthesis would map a "*" to DSP blocks; a hybrid
        # array's are pipelined within the DSP PEs' latency.
        pipeline = min(self._mul_latency - 1, 3) if self.multiplier == "hybrid" else 0
        return dsp.Multiplier(self._a_shape, self._b_shape, target="lut", pipeline=pipeline)

    # Input register, skew, PE operand register, multiplier, accumulate (result register),
    # then the column's de-skew, (FP Kulisch: the rounding,) the FIFO's write and its
    # buffered read.
    @property
    def latency(self):
        latency = self._mul_latency + self._sites + 5 + self._round_latency
        # (weight-stationary: a row's sum leaves from the bottom of its column)
        return latency if self.dataflow == "output" else latency + self.rows - 1

    @property
    def _reuse_distance(self):
        """Weight-stationary: fewest cycles between two activation rows with the same index
        in consecutive passes (the first's sum is written back at the bottom before the
        second reads it at the top)."""
        return self.rows + 2

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

    def cycles_per_tile(self, beats):
        """Input cycles at full rate of a tile of `beats` beats (its K), or,
        weight-stationary, of a pass of `beats` activation rows followed by another pass
        (which must wait for its sums when the pass has fewer than rows + 2 rows)."""
        beats = checks.integer("beats", beats, lo=1)
        if self.dataflow == "weight":
            return beats if beats >= self._reuse_distance else beats + self.rows + 1
        return max(beats, self.min_tile_cycles)

    def layer_cycles(self, m, k, n):
        """Cycles of an M x K x N matrix product at full rate (`o` ready), as
        `tb.gemmbench` streams it, from the cycle the first beat is accepted to the cycle
        the last result row leaves, both counted. Output-stationary: ceil(M / rows) x
        ceil(N / cols) tiles of K beats. Weight-stationary: for each of ceil(N / cols)
        column tiles and each of ceil(M / m_tile) row tiles, ceil(K / rows) passes (`rows`
        weight rows loaded first, each pass's loads riding on the previous pass's
        beats)."""
        m, k, n = (checks.integer(name, value, lo=1) for name, value in
                   (("m", m), ("k", k), ("n", n)))
        if self.dataflow == "output":
            tiles = -(-m // self.rows) * -(-n // self.cols)
            last_beat = k - 1 + (tiles - 1) * self.cycles_per_tile(k)
            return last_beat + self.latency + 2 * (self.rows - 1) + 1
        lengths = [min(self.m_tile, m - m0) for m0 in range(0, m, self.m_tile)]
        passes = [mt for _ in range(-(-n // self.cols)) for mt in lengths
                  for _ in range(-(-k // self.rows))]
        # After the first weights' loads (rows beats), every pass but the last at its
        # full-rate length (the next pass's loads ride on its rows: rows <= that length).
        last_beat = self.rows + sum(map(self.cycles_per_tile, passes[:-1])) + passes[-1] - 1
        return last_beat + self.latency + 1

    @property
    def ops_per_item(self):
        """Multiply-adds per input beat: rows x cols."""
        return self.rows * self.cols

    @property
    def stream_group(self):
        """(beats, output beats) of the shortest tile at full rate: the generic bench's
        group (`hdl.protocol`). Weight-stationary: (1, 1), one row out per activation row
        of a pass that emits."""
        if self.dataflow == "weight":
            return 1, 1
        return self.min_tile_cycles, self.rows

    def bench_items(self, count, rng, *, lone=False):
        """Weight-stationary: `count` well-formed random input payloads for the generic
        bench (tb/test_protocol.py; output-stationary: None, random bits do): activation
        rows of passes that start fresh and emit, each pass `_reuse_distance` rows (the
        shortest at full rate; `lone`: one row each), every beat also loading a random
        weight row."""
        if self.dataflow == "output":
            return None
        layout = self.i.payload.shape()
        pass_rows = 1 if lone else self._reuse_distance
        items = []
        for index in range(count):
            bits = int.from_bytes(rng.bytes((layout.size + 7) // 8), "little")
            payload = bits & ((1 << layout["act"].offset) - 1)       # a and b
            first = index % pass_rows == 0
            for name, value in (("act", 1), ("load", 1), ("start", first),
                                ("fresh", 1), ("emit", 1)):
                payload |= int(value) << layout[name].offset
            items.append(payload)
        return items

    @property
    def fifo_rows(self):
        """Rows the output holds: a FIFO of a multiple of 16 (LUT RAM's depth) and the
        output register. Output-stationary: 16 per 16 rows of the array; weight-stationary:
        enough for every row in flight at full rate (each holds its credit from its
        activation row's beat until the cycle after it leaves)."""
        if self.dataflow == "weight":
            return 16 * -(-(self.latency + 3) // 16) + 1
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
        survives (the array itself has no reset), and `cols` more, in which the FIFOs'
        gates open one column after the other."""
        return (2 * (self.rows + self.cols) + self._mul_latency + 5 + self._round_latency
                + self.cols)

    def _column_queue(self, m, w_data, w_en, name):
        """A column's output queue of ``fifo_rows - 1`` entries: asynchronous-read memory
        (LUT RAM) written whenever `w_en` (a register: the credits guarantee room, so
        there is no full check between it and the memory). "Not empty" is a register,
        computed for the next cycle (the read side keeps its pointer one entry ahead as a
        register too), so the read decision does not wait for a pointer comparison.
        Returns (r_rdy, r_data, r_en)."""
        depth = self.fifo_rows - 1
        m.submodules[f"{name}_mem"] = mem = memory.Memory(shape=len(w_data), depth=depth,
                                                          init=[])
        write, read = mem.write_port(), mem.read_port(domain="comb")
        r_en = Signal(name=f"{name}_r_en")

        def advance(pointer):
            """The pointer (index, lap: the lap toggles at each wrap) after one entry."""
            index, lap = pointer[:-1], pointer[-1]
            wraps = index == depth - 1
            return Cat(Mux(wraps, 0, index + 1)[:len(index)], lap ^ wraps)

        w_now = Signal((depth - 1).bit_length() + 1, name=f"{name}_w_ptr")
        r_now = Signal((depth - 1).bit_length() + 1, name=f"{name}_r_ptr")
        r_ahead = Signal((depth - 1).bit_length() + 1, init=1, name=f"{name}_r_ptr_ahead")
        with m.If(w_en):
            m.d.sync += w_now.eq(advance(w_now))
        with m.If(r_en):
            m.d.sync += [r_now.eq(r_ahead), r_ahead.eq(advance(r_ahead))]
        # Not empty after this cycle: a write now, or (no write) the read pointer after
        # this cycle differs from the write pointer; both comparisons are of registers.
        r_rdy = Signal(name=f"{name}_r_rdy")
        m.d.sync += r_rdy.eq(w_en | Mux(r_en, w_now != r_ahead, w_now != r_now))
        m.d.comb += [write.addr.eq(w_now[:-1]), write.data.eq(w_data), write.en.eq(w_en),
                     read.addr.eq(r_now[:-1])]
        return r_rdy, read.data, r_en

    def elaborate(self, platform):
        m = Module()
        # Bits of a sum as it drains (Kulisch: the exact sum and its flags), and as it
        # leaves.
        bits = self.acc_bits + (kulisch.FLAGS if self.fp and self.acc == "kulisch" else 0)

        # --- Edge control (the only registers with a reset) ---------------------------------
        flush = Signal(range(self.flush_cycles + 1), init=self.flush_cycles, name="flush")
        flushing = Signal(init=1, name="flushing")
        with m.If(flushing):
            m.d.sync += [flush.eq(flush - 1), flushing.eq(flush != 1)]
        # The FIFOs' write gate: it ends `cols` cycles before `flushing` (when what enters
        # the FIFOs no longer comes from before the reset), then travels along the columns
        # (see `_outputs`), so column c's gate ends c + 1 cycles later, still before the
        # edge accepts a beat.
        fifo_gate = Signal(init=1, name="fifo_gate")
        m.d.sync += fifo_gate.eq(flush > self.cols + 2)
        if self.dataflow == "output":
            tops = self._output_stationary(m, bits, flushing)
        else:
            tops = self._weight_stationary(m, bits, flushing)
        self._outputs(m, tops, fifo_gate)
        return m

    def _credits(self, m, take, ends, name):
        """The output credits: `fifo_rows`, `take` of them taken the cycle after `ends`
        (from a register, so that the accept decision and the count do not form one loop
        of logic), one returned the cycle after each row leaves `o`. Returns ("`take`
        credits are free" (while the last ones taken are still counted), the count's
        updates: the caller adds them to the sync domain). Both checks are registers. The
        next count is ``credits - ended·take + returned``; rather than compute it and then
        compare, each check compares the count register with the four constants that the
        two one-bit terms can shift the threshold to, and `ended` and `returned` select one
        of them, so no adder lies on the path."""
        credits = Signal(range(self.fifo_rows + 1), init=self.fifo_rows, name="credits")
        ended = Signal(name=f"{name}_ended")
        # A row's credit returns the cycle after it leaves, from a register beside `o`: the
        # way from `o.ready` to the count crosses the array.
        returned = Signal(name="credit_returned")
        following = (credits - Mux(ended, take, 0) + returned)[:len(credits)]
        free = {n: Signal(init=self.fifo_rows >= n * take, name=f"credits_ok{n}")
                for n in (1, 2)}
        updates = [returned.eq(self.o.valid & self.o.ready), ended.eq(ends),
                   credits.eq(following)]
        def check(n, end, ret):
            """credits - end·take + ret >= n·take, as a comparison of the register."""
            return intcore.at_least(m, credits, n * take + end * take - ret,
                                    f"credits_ok{n}_e{end}r{ret}")

        for n in free:
            updates.append(free[n].eq(Mux(ended, Mux(returned, check(n, 1, 1), check(n, 1, 0)),
                                          Mux(returned, check(n, 0, 1), check(n, 0, 0)))))
        return Mux(ended, free[2], free[1]), updates

    def _output_stationary(self, m, bits, flushing):
        """The edge control, the PEs and the drain of the output-stationary array: per
        output column, its (value, valid) as it leaves the array."""
        rows, cols = self.rows, self.cols
        beat = self.i.payload
        gap_max = max(self.min_tile_cycles - 1, 0)
        gap = Signal(range(gap_max + 1), init=gap_max, name="tile_gap")
        ends = Signal(name="tile_end")
        credits_ok, credit_updates = self._credits(m, rows, ends, "tile")
        # "The gap is long enough" as a register: the gap after this cycle reaches gap_max
        # unless a tile ends now.
        gap_ok = Signal(init=1, name="gap_ok")
        if gap_max:
            m.d.sync += gap_ok.eq(~ends & intcore.at_least(m, gap, gap_max - 1, "gap_near"))
        tile_ok = intcore.wire(m, gap_ok & credits_ok, "tile_ok")
        m.d.comb += self.i.ready.eq(~flushing & (~beat.last | tile_ok))
        fire = intcore.wire(m, self.i.valid & self.i.ready, "in_fire")
        m.d.comb += ends.eq(fire & beat.last)
        with m.If(ends):
            m.d.sync += gap.eq(0)
        with m.Elif(gap != gap_max):
            m.d.sync += gap.eq(gap + 1)
        m.d.sync += credit_updates

        # Input register. The tag of a beat: valid (add the product) and last (then clear
        # the accumulator; with valid also hand the sum on). While flushing: "clear".
        a_in = Signal(beat.a.shape(), name="a_in", reset_less=True)
        b_in = Signal(beat.b.shape(), name="b_in", reset_less=True)
        tag_layout = data.StructLayout({"valid": 1, "last": 1})
        tag_in = Signal(tag_layout, name="tag_in", init={"last": 1})
        m.d.sync += [a_in.eq(beat.a), b_in.eq(beat.b),
                     tag_in.eq(Cat(fire, (fire & beat.last) | flushing))]

        # --- Skew at the edges, and the tags' encoding ----------------------------------------
        lanes, sites, a_edge, b_edge = self._skewed_operands(m, a_in, b_in)
        # Every row's tags are the same bits, a cycle apart per PE; as plain registers
        # synthesis would merge those of each anti-diagonal into one and fan it out across
        # the array. So a tag travels XORed with the low bits of its own beat's A value
        # (row-specific data), and each PE decodes it with the A value beside it.
        tag_edge = [Signal(2, name=f"tag_skew{r}") for r in range(rows)]
        for r in range(rows):
            m.d.comb += tag_edge[r].eq(Value.cast(_delayed(m, tag_in, r, f"tag_skew{r}"))
                                       ^ Value.cast(a_edge[r])[:2])

        # --- Processing elements ----------------------------------------------------------
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
                tag = _delayed(m, tag, self._mul_latency, f"{name}_tag")
                if self.fp:
                    results[r][j] = self._fp_pe(m, tag, a_reg, b_reg, name)
                    continue
                products = self._product(m, a_reg, b_reg, name, self._pe_kind(r, j))
                for lane, (addend, carry) in enumerate(products):
                    c = j * lanes + lane
                    results[r][c] = self._accumulate(m, tag, addend, carry, bits,
                                                     f"{name}_{lane}")

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
            tops.append(self._deskew(m, above_value, above_valid, sites - 1 - c // lanes,
                                     f"top{c}"))
        return tops

    def _weight_stationary(self, m, bits, flushing):
        """The edge control, the PEs and the accumulator memories of the weight-stationary
        array: per output column, its (value, valid) as it leaves the array."""
        rows, cols = self.rows, self.cols
        beat = self.i.payload
        reuse = self._reuse_distance

        # --- Edge control ---------------------------------------------------------------------
        fire = intcore.wire(m, self.i.valid & self.i.ready, "in_fire")
        act = intcore.wire(m, fire & beat.act, "act_fire")
        starts = intcore.wire(m, act & beat.start, "pass_start")
        # The pass's flags, from its start beat on.
        fresh_q = Signal(name="pass_fresh")
        emit_q = Signal(name="pass_emit")
        fresh = intcore.wire(m, Mux(beat.start, beat.fresh, fresh_q), "beat_fresh")
        emit = intcore.wire(m, Mux(beat.start, beat.emit, emit_q), "beat_emit")
        with m.If(starts):
            m.d.sync += [fresh_q.eq(beat.fresh), emit_q.eq(beat.emit)]
        # A pass may start once every sum the previous pass wrote back can be read: when
        # it had `reuse` activation rows, or `reuse` - 1 idle cycles have passed since its
        # last one.
        beats = Signal(range(reuse + 1), name="pass_beats")
        idle = Signal(range(reuse + 1), init=reuse, name="idle_cycles")
        with m.If(act):
            m.d.sync += [beats.eq(Mux(beat.start, 1, Mux(beats == reuse, reuse, beats + 1))),
                         idle.eq(0)]
        with m.Elif(idle != reuse):
            m.d.sync += idle.eq(idle + 1)
        # "A pass may start" as a register, from the counts after this cycle: an
        # activation row leaves `beats` at reuse (or sets it to 1) and `idle` at 0 (below
        # reuse - 1: reuse >= 3); an idle cycle adds one to `idle`.
        start_ok = Signal(init=1, name="start_ok")
        m.d.sync += start_ok.eq(Mux(
            act, ~beat.start & intcore.at_least(m, beats, reuse - 1, "beats_near"),
            (beats == reuse) | intcore.at_least(m, idle, reuse - 2, "idle_near")))
        # Emitted rows take an output credit each.
        emits = Signal(name="row_emit")
        credits_ok, credit_updates = self._credits(m, 1, emits, "row")
        m.d.sync += credit_updates
        m.d.comb += [
            emits.eq(act & emit),
            self.i.ready.eq(~flushing & (~beat.act | ((~beat.start | start_ok)
                                                      & (~emit | credits_ok)))),
        ]
        # The row of each weight row loaded, and of each activation row in its pass.
        load_row = Signal(range(rows), name="load_row")
        # (from the beat's fields, not from `fire`: it matters only when the beat fires)
        row_here = intcore.wire(m, Mux(beat.act & beat.start, 0, load_row), "load_row_here")
        with m.If(fire & beat.load):
            m.d.sync += load_row.eq(Mux(row_here == rows - 1, 0, row_here + 1))
        with m.Elif(starts):
            m.d.sync += load_row.eq(0)
        index = Signal(range(self.m_tile), name="pass_index")
        index_here = intcore.wire(m, Mux(beat.start, 0, index), "pass_index_here")
        with m.If(act):
            m.d.sync += index.eq(Mux(index_here == self.m_tile - 1, 0, index_here + 1))

        # Input registers (while flushing: no activation, no swap, no load).
        a_in = Signal(beat.a.shape(), name="a_in", reset_less=True)
        b_in = Signal(beat.b.shape(), name="b_in", reset_less=True)
        swap_in = Signal(name="swap_in", reset_less=True)
        row_bits = max((rows - 1).bit_length(), 1)
        load_layout = data.StructLayout({"valid": 1, "row": row_bits})
        load_in = Signal(load_layout, name="load_in", reset_less=True)
        control = data.StructLayout({"valid": 1, "fresh": 1, "emit": 1,
                                     "index": range(self.m_tile)})
        control_in = Signal(control, name="control_in", reset_less=True)
        live = ~flushing
        m.d.sync += [a_in.eq(beat.a), b_in.eq(beat.b), swap_in.eq(starts & live),
                     load_in.eq(Cat(fire & beat.load & live, row_here)),
                     control_in.eq(Cat(act & live, fresh, emit, index_here))]

        # --- Skew, and the tags' encoding -----------------------------------------------------
        lanes, sites, a_edge, b_edge = self._skewed_operands(m, a_in, b_in)
        # Row r's swap tag travels with its A values, column j's load tag with its weights,
        # each XORed with bits of its own data (as the output-stationary tags are), so
        # that synthesis cannot merge the equal tag registers of an anti-diagonal.
        def key(value, width):
            value = Value.cast(value)
            return Cat(*(value[i % len(value)] for i in range(width)))

        swap_from = [intcore.wire(m, _delayed(m, swap_in, r, f"swap_skew{r}")
                                  ^ key(a_edge[r], 1), f"swap_skew{r}")
                     for r in range(rows)]
        load_from = [intcore.wire(m, Value.cast(_delayed(m, load_in, j, f"load_skew{j}"))
                                  ^ key(b_edge[j], load_layout.size), f"load_skew{j}")
                     for j in range(sites)]

        # --- Processing elements: partial sums flow down the columns --------------------------
        # psums[r][c]: the sum entering row r of column c (row 0: the column's top register,
        # 0 or the stored sum, read from the column's memory); at the end, psums[rows - 1]
        # holds the bottom row's sums.
        a_from, b_from = list(a_edge), list(b_edge)
        psums = [[None] * cols for _ in range(rows)]
        top_controls = [_delayed(m, control_in, j + self._mul_latency, f"top{j}_control")
                        for j in range(sites)]
        memories = []
        for c in range(cols):
            j = c // lanes
            m.submodules[f"sums{c}_mem"] = mem = memory.Memory(
                shape=self._acc_shape(bits), depth=self.m_tile, init=[])
            read, write = mem.read_port(domain="comb"), mem.write_port()
            top = Signal(self._acc_shape(bits), name=f"top{c}_sum", reset_less=True)
            ctl = top_controls[j]
            m.d.comb += read.addr.eq(ctl.index)
            m.d.sync += top.eq(Mux(ctl.fresh, 0, read.data))
            psums[0][c] = top
            memories.append(write)
        for r in range(rows):
            for j in range(sites):
                name = f"pe{r}_{j}"
                a_reg = Signal(self._a_shape, name=f"{name}_a", reset_less=True)
                weight = Signal.like(b_from[j], name=f"{name}_w", reset_less=True)
                shadow = Signal.like(b_from[j], name=f"{name}_w_next", reset_less=True)
                # The weight arriving from above, and its tag.
                load = Signal(load_layout, name=f"{name}_load")
                m.d.comb += load.eq(load_from[j] ^ key(b_from[j], load_layout.size))
                with m.If(load.valid & (load.row == r)):
                    m.d.sync += shadow.eq(b_from[j])
                # The pass's first activation row swaps in the weights loaded.
                swap = intcore.wire(m, swap_from[r] ^ key(a_from[r], 1), f"{name}_swap")
                with m.If(swap):
                    m.d.sync += weight.eq(shadow)
                m.d.sync += a_reg.eq(a_from[r])
                if r < rows - 1:                   # the weights and their tags go on down
                    w_down = Signal.like(b_from[j], name=f"{name}_w_down", reset_less=True)
                    load_down = Signal(load_layout.size, name=f"{name}_load_down",
                                       reset_less=True)
                    m.d.sync += [w_down.eq(b_from[j]), load_down.eq(load_from[j])]
                    b_from[j], load_from[j] = w_down, load_down
                swap_code = Signal(name=f"{name}_swap_code", reset_less=True)
                m.d.sync += swap_code.eq(swap_from[r])
                a_from[r], swap_from[r] = a_reg, swap_code
                products = self._product(m, a_reg, weight, name, self._pe_kind(r, j))
                for lane, (addend, carry) in enumerate(products):
                    c = j * lanes + lane
                    psum = Signal(self._acc_shape(bits), name=f"{name}_{lane}_psum",
                                  reset_less=True)
                    m.d.sync += psum.eq(self._add(m, psums[r][c], addend, carry, bits,
                                                  f"{name}_{lane}"))
                    if r + 1 < rows:
                        psums[r + 1][c] = psum
                    else:
                        psums[r][c] = psum

        # --- Bottom: write back, and the emitted rows leave ----------------------------------
        tops = []
        for c in range(cols):
            j = c // lanes
            ctl = _delayed(m, top_controls[j], rows + 1, f"bottom{c}_control")
            bottom = psums[rows - 1][c]
            write = memories[c]
            m.d.comb += [write.addr.eq(ctl.index), write.data.eq(bottom),
                         write.en.eq(ctl.valid)]
            tops.append(self._deskew(m, bottom, ctl.valid & ctl.emit, sites - 1 - j,
                                     f"bottom{c}"))
        return tops

    def _skewed_operands(self, m, a_in, b_in):
        """(lanes per site, sites, row r's A delayed by r, site j's B delayed by j)."""
        rows, cols = self.rows, self.cols
        # PE columns ("sites"): one per B column, or one per pair of them (packed).
        lanes = 2 if self.multiplier == "packed" else 1
        sites = cols // lanes
        a_edge = [_delayed(m, a_in[r], r, f"a_skew{r}") for r in range(rows)]
        b_sources = [b_in[c] for c in range(cols)]
        if lanes == 2:
            b_sources = [self._pack_weights(m, b_in[2 * j], b_in[2 * j + 1], f"b_packed{j}")
                         for j in range(sites)]
        b_edge = [_delayed(m, b_sources[j], j, f"b_skew{j}") for j in range(sites)]
        return lanes, sites, a_edge, b_edge

    def _deskew(self, m, value, valid, skew, name):
        """A column's (value, valid) delayed by `skew` (site j leaves j cycles after site
        0), then (Kulisch) rounded once into FP32."""
        value = _delayed(m, value, skew, name)
        valid = _delayed(m, valid, skew, f"{name}_valid")
        if self._round_latency:             # Kulisch: rounded once into FP32
            rounded = kulisch.to_float(m, formats.FP32, value[:self.acc_bits],
                                       value[self.acc_bits:], self._lsb, f"{name}_fp32")
            value = _delayed(m, rounded, 1, f"{name}_rounded")
            valid = _delayed(m, valid, 1, f"{name}_rounded_valid")
        return value, valid

    def _outputs(self, m, tops, fifo_gate):
        """`o` from the columns' (value, valid): per column a FIFO written from registers
        (data, and the column's valid gated by its own copy of `fifo_gate`: a chain of
        registers, one per column, so that no net spans the columns), then a two-entry
        output buffer. The buffer's entries are written only from the FIFO side (a read
        while it is not full), and `o.payload` is the entry at its read pointer, so
        `o.ready` drives only each column's occupancy and read pointer (a few registers
        per column), never the enables of the data registers. No enable fans out across
        the array or the output: the columns see the same writes and reads, so they move
        in step, and column 0's "not empty" is `o.valid`. The FIFOs are
        asynchronous-read memory (LUT RAM: a block RAM's read is too slow here without
        its output register, which yosys does not use)."""
        out_bits = self.out_fmt.bits
        out_data, out_valid = [], []
        gate = fifo_gate
        for c, (value, valid) in enumerate(tops):
            gate = _delayed(m, gate, 1, f"fifo{c}_flushing", reset=True)
            w_data = Signal(out_bits, name=f"fifo{c}_w_data", reset_less=True)
            w_en = Signal(name=f"fifo{c}_w_en")
            m.d.sync += [w_data.eq(value), w_en.eq(valid & ~gate)]
            r_rdy, r_data, r_en = self._column_queue(m, w_data, w_en, f"fifo{c}")
            entries = [Signal(out_bits, name=f"out{c}_entry{e}", reset_less=True)
                       for e in range(2)]
            w_ptr = Signal(name=f"out{c}_w_ptr")
            r_ptr = Signal(name=f"out{c}_r_ptr")
            nonempty = Signal(name=f"out{c}_valid")
            full = Signal(name=f"out{c}_full")
            pop = nonempty & self.o.ready
            m.d.comb += r_en.eq(r_rdy & ~full)
            for e, entry in enumerate(entries):
                with m.If(r_en & (w_ptr == e)):
                    m.d.sync += entry.eq(r_data)
            with m.If(r_en):
                m.d.sync += w_ptr.eq(~w_ptr)
            with m.If(pop):
                m.d.sync += r_ptr.eq(~r_ptr)
            # Occupancy after this cycle: one more for a read from the FIFO, one less for
            # a transfer on `o`.
            m.d.sync += [nonempty.eq(r_en | (nonempty & ~(pop & ~full))),
                         full.eq(Mux(full, ~pop | r_en, nonempty & r_en & ~pop))]
            out_data.append(Mux(r_ptr, entries[1], entries[0]))
            out_valid.append(nonempty)
        m.d.comb += [self.o.payload.eq(Cat(out_data)), self.o.valid.eq(out_valid[0])]


def _delayed(m, value, cycles, name, *, reset=False):
    """`value` through `cycles` registers named ``{name}_d1``, ... (without a reset, unless
    `reset`: then each resets to `value`'s init)."""
    for step in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{step + 1}", reset_less=not reset)
        m.d.sync += reg.eq(value)
        value = reg
    return value
