"""Technology multipliers: ECP5 MULT18X18D, iCE40 SB_MAC16, or fabric, with the same ports.

`Multiplier` is the one multiplier primitive of nnrtl. Yosys maps an inferred ``*`` to a
DSP block but leaves it combinational (no register is ever packed into MULT18X18D, see
DESIGN.md); a `Multiplier` instantiates the DSP blocks itself with their internal
registers, so a pipelined multiplier runs at the DSP's speed instead of the fabric's.
`MAC` is the smallest unit built on it: an integer multiply-accumulate stream.

Simulation: the instances are simulated as themselves, parameters included: iCE40 through
yosys' own SB_MAC16 model (``share/ice40/cells_sim.v``), ECP5 through the behavioural
model ``tb/models/mult18x18d.v`` (yosys only ships a black box of MULT18X18D); see
tb/test_dsp.py. Amaranth's own simulator runs the ``"fabric"`` target only.
"""


from amaranth.hdl import (Cat, ClockSignal, Const, Instance, Module, ResetSignal, Shape,
                          Signal, signed, unsigned)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import checks, formats, mac
from . import intcore, protocol
from .pipeline import Pipeline

__all__ = ["Multiplier", "MAC", "TARGETS", "DSP_BLOCKS"]

TARGETS = ("fabric", "lut", "ecp5", "ice40")
_FABRIC = ("fabric", "lut")

# Per target: (primitive, operand width of one block, blocks on the largest device we
# measure). LFE5U-85F: 156 MULT18X18D; iCE40UP5K: 8 SB_MAC16.
DSP_BLOCKS = {"ecp5": ("MULT18X18D", 18, 156, "LFE5U-85F"),
              "ice40": ("SB_MAC16", 16, 8, "iCE40UP5K")}

# Operand slices per operand (so at most 4 blocks per multiplier).
_MAX_SLICES = 2


def _check_shape(name, shape):
    if isinstance(shape, bool):
        raise TypeError(f"{name} must be an Amaranth shape (e.g. signed(8)), not {shape!r}")
    try:
        shape = Shape.cast(shape)
    except TypeError:
        raise TypeError(f"{name} must be an Amaranth shape (e.g. signed(8)), "
                        f"not {shape!r}") from None
    if shape.width < 1:
        raise ValueError(f"{name} must be at least 1 bit wide, not {shape!r}")
    return shape


def _check_pipeline(pipeline):
    return checks.integer("pipeline", pipeline, lo=0, hi=3,
                          extra=" (DSP register levels: input, output, pipeline)")


# Devices of the families above without DSP blocks, by the names fpga.targets gives them.
_NO_DSP = {"ice40-hx8k": "the iCE40 HX8K", "ice40-hx1k": "the iCE40 HX1K",
           "ice40-lp8k": "the iCE40 LP8K", "ice40-lp1k": "the iCE40 LP1K"}


def _check_target(target):
    if not isinstance(target, str):
        raise TypeError(f"target must be one of {', '.join(map(repr, TARGETS))}, "
                        f"not {target!r}")
    if target in _NO_DSP:
        raise ValueError(f"target {target!r}: {_NO_DSP[target]} has no DSP blocks "
                         f"(SB_MAC16 exists on the iCE40 UP5K only); use target='fabric'")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}, "
                         f"not {target!r}")
    return target


def _slices(shape, block, any_signed, name, target):
    """The operand's slices ``[(offset, width, signed)]`` for blocks `block` bits wide.

    No block multiplies a signed slice by an unsigned one: when either operand is signed,
    every block runs signed × signed and an unsigned slice is at most ``block - 1`` bits
    (zero-extended, it stays non-negative). The low slice of a two-slice operand is
    unsigned; the top slice has the operand's signedness.
    """
    width, is_signed = shape.width, shape.signed
    unsigned_max = block - 1 if any_signed else block
    whole_max = block if is_signed else unsigned_max
    if width <= whole_max:
        return [(0, width, is_signed)]
    low = unsigned_max
    limit = low + whole_max
    if width > limit:
        primitive, _, budget, device = DSP_BLOCKS[target]
        kind = "a signed" if is_signed else "an unsigned"
        raise ValueError(
            f"{name} {shape!r} is too wide for target {target!r}: {kind} operand may "
            f"have at most {limit} bits here ({_MAX_SLICES} {primitive} slices of "
            f"{low} + {whole_max} bits; at most {_MAX_SLICES ** 2} of the {device}'s "
            f"{budget} blocks per multiplier)")
    return [(0, low, False), (low, width - low, is_signed)]


class Multiplier(wiring.Component):
    """A full-width multiplier on DSP blocks (or in fabric), with the DSPs' own registers.

    ``p = a * b`` exactly (two's complement when either operand is signed), ``latency``
    cycles after `a` and `b` were presented, counting only the cycles in which `en` is
    high: every register of the multiplier, inside the DSP blocks and in fabric, loads
    only when `en` is high and holds otherwise. So a stall-together pipeline drives `en`
    from its ``Pipeline.advance`` and sees the product `latency` advancing cycles later.
    The registers have no reset (the DSPs' RST inputs are tied low, GSR disabled), so `p`
    is arbitrary until the first operands have passed.

    Parameters
    ----------
    a_shape, b_shape : Shape-castable
        Operand shapes, signed or unsigned, at least 1 bit each.
    target : str
        ``"ecp5"``: MULT18X18D blocks (18 × 18; CLK0 is the domain's clock, CE0 is `en`).
        ``"ice40"``: SB_MAC16 blocks in 16 × 16 multiply mode (CLK, CE = `en`), output
        taken from the multiplier (``*OUTPUT_SELECT = 3``), accumulator unused. (yosys'
        ``synth_ice40 -dsp`` may pack neighbouring adders and registers into instantiated
        SB_MAC16 blocks too: its ``ice40_dsp`` pass takes them as candidates.)
        ``"fabric"``: a plain ``*`` with registers at the same places, the operand widths
        and the `latency` that ``"ecp5"`` would have, so a design can swap the two
        (synthesis may still map the ``*`` to DSP blocks). ``"lut"``: as ``"fabric"``,
        the product written out as partial products (`intcore.shift_add_product`), so
        that it stays in LUTs whatever the synthesis flow, and the registers after the
        input registers placed in its adder tree (then after it).
        A device name without DSP blocks (``"ice40-hx8k"``) is refused.
    pipeline : int
        DSP register levels, 0..3, enabled in this order: 1 = input registers
        (MULT18X18D ``REG_INPUTA_CLK``/``REG_INPUTB_CLK``; SB_MAC16 ``A_REG``/``B_REG``);
        2 = also the output register (``REG_OUTPUT_CLK``; ``PIPELINE_16x16_MULT_REG2``);
        3 = also the pipeline register in the multiplier (``REG_PIPELINE_CLK``;
        ``TOP_8x8_MULT_REG``, ``BOT_8x8_MULT_REG``, ``PIPELINE_16x16_MULT_REG1``).
        Each level is one cycle. (nextpnr's ECP5 timing model gives the input and output
        registers their timing; it does not model the pipeline register, which only
        helps the real device.) Fabric: input registers, then one register after ``*``
        per further level.
    fabric_register : bool
        With ``pipeline >= 1``, a register in fabric after the product even when it
        comes from one block (default False). The route from a DSP block's outputs into
        the fabric is long; with this register nothing else shares its cycle. Several
        blocks always have it (after the partial-product adds).
    domain : str
        The clock domain of every register (default ``"sync"``).

    Operands wider than one block are cut into at most two slices each: a low slice,
    unsigned, and a top slice with the operand's sign. Each pair of slices is one block
    (a 24 × 24 unsigned FP32 significand product: 4 MULT18X18D). No block mixes a signed
    and an unsigned operand: when either operand is signed, every block runs signed ×
    signed and unsigned slices are at most 17 bits (ECP5) or 15 bits (iCE40). Supported
    widths: ECP5 up to 36 bits per operand (both unsigned), 35 signed, 34 for an unsigned
    operand of a signed multiplier; iCE40 32 / 31 / 30. The partial products are summed
    in fabric: the products of the low and of the top slices are concatenated (they do
    not overlap) and the cross products added to the upper part, in one carry chain per
    cross product. With ``pipeline >= 1`` a register follows the adds (one more cycle);
    with ``pipeline = 0`` the whole multiplier is combinational.

    Members
    -------
    a : In(a_shape)
    b : In(b_shape)
    en : In(1, init=1)
        Clock enable of every register (high when left unconnected).
    p : Out(signed or unsigned(len(a) + len(b)))
        The product; signed when either operand is signed.
    latency : int
        Cycles (with `en` high) from operands to product: `pipeline`, plus 1 for the
        fabric register when ``pipeline >= 1`` and there are several blocks (for
        ``"fabric"``: when ``"ecp5"`` would have several) or `fabric_register` is set.
    blocks : int
        DSP blocks used (0 for ``"fabric"`` and ``"lut"``).

    Raises `TypeError` for a wrong type and `ValueError` for an out-of-range value or an
    operand too wide for the target, before anything is elaborated.
    """

    def __init__(self, a_shape, b_shape, *, target, pipeline=3, fabric_register=False,
                 domain="sync"):
        # A constructor that raises leaves nothing to elaborate: no "never used" warning.
        self._MustUse__silence = True
        a_shape = _check_shape("a_shape", a_shape)
        b_shape = _check_shape("b_shape", b_shape)
        self.target = _check_target(target)
        self.pipeline = _check_pipeline(pipeline)
        self.fabric_register = checks.boolean("fabric_register", fabric_register)
        if not isinstance(domain, str):
            raise TypeError(f"domain must be a clock domain name (str), not {domain!r}")
        self.domain = domain
        self.a_shape, self.b_shape = a_shape, b_shape
        self.signed = a_shape.signed or b_shape.signed
        width = a_shape.width + b_shape.width
        self.p_shape = (signed if self.signed else unsigned)(width)
        # The slicing that decides the latency: the target's own, or ECP5's for fabric.
        family = "ecp5" if target in _FABRIC else target
        block = DSP_BLOCKS[family][1]
        self._a_slices = _slices(a_shape, block, self.signed, "a_shape", family)
        self._b_slices = _slices(b_shape, block, self.signed, "b_shape", family)
        self._block = block
        super().__init__({"a": In(a_shape), "b": In(b_shape), "en": In(1, init=1),
                          "p": Out(self.p_shape)})
        self._MustUse__silence = False

    @property
    def slices(self):
        """Operand slice pairs: DSP blocks of the target (of ECP5 for ``"fabric"``)."""
        return len(self._a_slices) * len(self._b_slices)

    @property
    def blocks(self):
        return 0 if self.target in _FABRIC else self.slices

    @property
    def _sum_register(self):
        return self.pipeline >= 1 and (self.slices > 1 or self.fabric_register)

    @property
    def latency(self):
        return self.pipeline + (1 if self._sum_register else 0)

    def _register(self, m, value, name):
        reg = Signal(value.shape(), name=name, reset_less=True)
        with m.If(self.en):
            m.d[self.domain] += reg.eq(value)
        return reg

    def elaborate(self, platform):
        m = Module()
        if self.target in _FABRIC:
            a, b = self.a, self.b
            if self.pipeline >= 1:
                a, b = self._register(m, a, "a_q"), self._register(m, b, "b_q")
            # (lut: the registers after the input registers go into the adder tree first)
            after = max(self.pipeline - 1, 0)
            if self.target == "fabric":
                product = intcore.wire(m, a * b, "product")
            else:
                product, after = intcore.shift_add_product(
                    m, a, b, "product", stages=after,
                    register=lambda value, name: self._register(m, value, name))
            for level in range(self.pipeline + 1 - after, self.pipeline + 1):
                product = self._register(m, product, f"product_q{level}")
            if self._sum_register:
                product = self._register(m, product, "sum_q")
            m.d.comb += self.p.eq(product)
            return m

        # Partial products, one block per pair of slices: (offset, value).
        partial = {}
        for i, (a_off, a_width, a_signed) in enumerate(self._a_slices):
            for j, (b_off, b_width, b_signed) in enumerate(self._b_slices):
                a_part = self.a[a_off:a_off + a_width]
                b_part = self.b[b_off:b_off + b_width]
                a_part = a_part.as_signed() if a_signed else a_part
                b_part = b_part.as_signed() if b_signed else b_part
                out = self._block_product(m, a_part, b_part, f"block{i}{j}")
                value = out[:a_width + b_width]
                partial[i, j] = (a_off + b_off,
                                 value.as_signed() if a_signed or b_signed else value)
        width = self.p_shape.width
        if len(partial) == 1:
            total = partial[0, 0][1]
        else:
            # The low × low and top × top products tile the product: concatenate them
            # (the first one alone when an operand has one slice), add the cross
            # products above the lowest cross offset, all extended by their signs, modulo
            # 2^width.
            low_product = partial[0, 0][1]
            if (1, 1) in partial:
                low_product = Cat(low_product, partial[1, 1][1])
            # Extended (by its sign, when signed) to the product's width: a low x low
            # product alone is signed when the single-slice operand is.
            base = Signal(width, name="base")
            m.d.comb += base.eq(low_product)
            cross = [partial[key] for key in ((0, 1), (1, 0)) if key in partial]
            low = min(offset for offset, _ in cross)
            upper = base[low:width]
            for offset, value in cross:
                upper = upper + (value << (offset - low))
            upper_sum = Signal(width - low, name="upper_sum")
            m.d.comb += upper_sum.eq(upper)
            total = Cat(base[:low], upper_sum)
        total = intcore.wire(m, total, "partial_sum")
        if self._sum_register:
            total = self._register(m, total, "sum_q")
        m.d.comb += self.p.eq(total[:width])
        return m

    def _block_product(self, m, a_part, b_part, name):
        """Instantiate one DSP block for ``a_part * b_part``; return its raw output."""
        block = self._block
        is_signed = self.signed
        a_ext = Signal(block, name=f"{name}_a")
        b_ext = Signal(block, name=f"{name}_b")
        m.d.comb += [a_ext.eq(a_part), b_ext.eq(b_part)]   # sign- or zero-extended
        levels = self.pipeline
        clock = ClockSignal(self.domain)
        if self.target == "ecp5":
            out = Signal(36, name=f"{name}_p")
            on = lambda level: "CLK0" if levels >= level else "NONE"   # noqa: E731
            params = {"p_REG_INPUTA_CLK": on(1), "p_REG_INPUTB_CLK": on(1),
                      "p_REG_OUTPUT_CLK": on(2), "p_REG_PIPELINE_CLK": on(3),
                      "p_REG_INPUTC_CLK": "NONE", "p_GSR": "DISABLED",
                      "p_RESETMODE": "SYNC"}
            for reg in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT"):
                params[f"p_REG_{reg}_CE"] = "CE0"
                params[f"p_REG_{reg}_RST"] = "RST0"
            # Connected as yosys' own MULT18X18D mapping does (A, B, C = 0, SIGNEDx,
            # SOURCEx = 0), plus CLK0, CE0 and RST0 = 0. The other clock, enable, reset
            # and shift inputs stay unconnected: tied to a constant, nextpnr fails to
            # route them ("Failed to find a route for ... $PACKER_GND_NET").
            ports = {"i_SIGNEDA": Const(int(is_signed), 1),
                     "i_SIGNEDB": Const(int(is_signed), 1),
                     "i_SOURCEA": Const(0, 1), "i_SOURCEB": Const(0, 1),
                     "i_CLK0": clock, "i_CE0": self.en, "i_RST0": Const(0, 1)}
            for k in range(18):
                ports.update({f"i_A{k}": a_ext[k], f"i_B{k}": b_ext[k], f"i_C{k}": Const(0, 1)})
            for k in range(36):
                ports[f"o_P{k}"] = out[k]
            m.submodules[name] = Instance("MULT18X18D", **params, **ports)
            return out
        # iCE40 SB_MAC16, 16 x 16 multiply, output straight from the multiplier (H).
        out = Signal(32, name=f"{name}_o")
        flag = lambda level: Const(int(levels >= level), 1)          # noqa: E731
        params = {"p_A_REG": flag(1), "p_B_REG": flag(1), "p_C_REG": Const(0, 1),
                  "p_D_REG": Const(0, 1),
                  "p_PIPELINE_16x16_MULT_REG2": flag(2),
                  "p_TOP_8x8_MULT_REG": flag(3), "p_BOT_8x8_MULT_REG": flag(3),
                  "p_PIPELINE_16x16_MULT_REG1": flag(3),
                  "p_TOPOUTPUT_SELECT": Const(3, 2), "p_BOTOUTPUT_SELECT": Const(3, 2),
                  "p_TOPADDSUB_LOWERINPUT": Const(0, 2), "p_TOPADDSUB_UPPERINPUT": Const(0, 1),
                  "p_TOPADDSUB_CARRYSELECT": Const(0, 2),
                  "p_BOTADDSUB_LOWERINPUT": Const(0, 2), "p_BOTADDSUB_UPPERINPUT": Const(0, 1),
                  "p_BOTADDSUB_CARRYSELECT": Const(0, 2),
                  "p_MODE_8x8": Const(0, 1), "p_NEG_TRIGGER": Const(0, 1),
                  "p_A_SIGNED": Const(int(is_signed), 1),
                  "p_B_SIGNED": Const(int(is_signed), 1)}
        low = Const(0, 1)
        ports = {"i_CLK": clock, "i_CE": self.en, "i_A": a_ext, "i_B": b_ext,
                 "i_C": Const(0, 16), "i_D": Const(0, 16),
                 "i_AHOLD": low, "i_BHOLD": low, "i_CHOLD": low, "i_DHOLD": low,
                 "i_IRSTTOP": low, "i_IRSTBOT": low, "i_ORSTTOP": low, "i_ORSTBOT": low,
                 "i_OLOADTOP": low, "i_OLOADBOT": low, "i_ADDSUBTOP": low,
                 "i_ADDSUBBOT": low, "i_OHOLDTOP": low, "i_OHOLDBOT": low,
                 "i_CI": low, "i_ACCUMCI": low, "i_SIGNEXTIN": low, "o_O": out}
        m.submodules[name] = Instance("SB_MAC16", **params, **ports)
        return out


class MAC(wiring.Component):
    """Integer multiply-accumulate on one `Multiplier`: the dot product of a stream.

    Each input beat carries one operand pair and a ``last`` flag; the products are
    accumulated in an `acc_bits`-bit two's complement register (wrapping around modulo
    2^acc_bits), and the beat with ``last`` set ends the vector: its sum leaves on `o` and
    the next beat starts a new one. Bit-exact with ``golden.mac.mac_sums(a, b, fmt, acc_bits=)``.

    Structure: the multiplier (with its fabric register after the DSP block); the
    accumulator in two halves, each a carry chain in a one-cycle loop, the low half's
    carry registered and added into the high half one cycle later, cleared by a
    synchronous clear (so nothing but half a carry chain sits in the loop); then a
    register holding a vector's sum in those parts, and the output register with the
    carry resolved. Stall-together: the multiplier's clock enable is the pipeline's
    advance signal, and back-pressure from `o` stops the whole unit.

    Parameters
    ----------
    fmt : IntFormat
        Operand format (signed or unsigned) that fits one DSP block: up to 18 bits for
        ECP5 and fabric, 16 for iCE40.
    acc_bits : int
        Accumulator width, 2 × fmt.bits .. 64.
    target : str
        ``"fabric"``, ``"ecp5"`` or ``"ice40"`` (see `Multiplier`).
    pipeline : int
        The multiplier's register levels, 0..3 (see `Multiplier`).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": fmt.bits, "b": fmt.bits, "last": 1})))
    o : Out(stream.Signature(acc_bits))
        One sum per vector, in order.
    latency : int
        Cycles from accepting a vector's last beat to its sum on `o`: the multiplier's
        latency + 2 (the accumulator, then the output register); 6 with ``pipeline=3``.
    ops_per_cycle : int
        Multiply-adds per cycle (1).
    """

    PARAMETERS = {"fmt": protocol.Format(formats.IntFormat, example="int8"),
                  "acc_bits": protocol.Integer(),
                  "target": protocol.Choice(*TARGETS),
                  "pipeline": protocol.Integer()}
    EXAMPLES = [{"fmt": "int8", "target": "fabric", "pipeline": 3},
                {"fmt": "uint8", "acc_bits": 20, "target": "fabric", "pipeline": 0}]
    ops_per_cycle = 1

    def __init__(self, *, fmt, acc_bits=32, target="fabric", pipeline=3):
        if not isinstance(fmt, formats.IntFormat):
            raise TypeError(f"fmt must be an IntFormat, not {fmt!r}")
        acc_bits = checks.integer("acc_bits", acc_bits, lo=2 * fmt.bits, hi=64,
                                  extra=f" for {fmt}")
        shape = (signed if fmt.signed else unsigned)(fmt.bits)
        multiplier = Multiplier(shape, shape, target=target, pipeline=pipeline,
                                fabric_register=True)
        multiplier._MustUse__silence = True    # built for its checks; `elaborate` builds one
        if multiplier.slices > 1:
            raise ValueError(f"fmt {fmt} needs {multiplier.slices} DSP blocks per product; "
                             f"MAC takes operands that fit one block")
        self.fmt, self.acc_bits = fmt, acc_bits
        self.target, self.pipeline = target, multiplier.pipeline
        self._latency = multiplier.latency + 2
        self._shape = shape
        beat = data.StructLayout({"a": fmt.bits, "b": fmt.bits, "last": 1})
        super().__init__({"i": In(stream.Signature(beat)),
                          "o": Out(stream.Signature(acc_bits))})

    @property
    def latency(self):
        return self._latency

    @property
    def golden(self):
        """``(golden.mac.mac_sums, kwargs)``: ``mac_sums(a, b, **kwargs)`` gives each row's
        sum."""
        return mac.mac_sums, {"fmt": self.fmt, "acc_bits": self.acc_bits}

    def elaborate(self, platform):
        m = Module()
        m.submodules.multiplier = mult = Multiplier(self._shape, self._shape,
                                                    target=self.target, pipeline=self.pipeline,
                                                    fabric_register=True)
        cuts = [f"product{k}" for k in range(mult.latency)]
        pipe = Pipeline(m, self.i, None, cuts)
        payload = self.i.payload
        a, b = payload.a, payload.b
        if self.fmt.signed:
            a, b = a.as_signed(), b.as_signed()
        m.d.comb += [mult.a.eq(a), mult.b.eq(b), mult.en.eq(pipe.advance)]
        v = {"last": payload.last}
        for cut in cuts:
            v = pipe.stage(cut, **v)

        # Accumulator: two halves, each its own carry chain in a one-cycle loop; the
        # carry out of the low half is registered and enters the high half one cycle
        # later (the sum is high * 2^h + low + carry * 2^h), so the loop holds half the
        # chain. It is cleared when it hands a vector's sum on, and by the unit's reset:
        # one synchronous clear (the flip-flops' LSR), so no logic enters the loop.
        bits = self.acc_bits
        h = (bits + 1) // 2
        product = Signal(bits, name="product_ext")         # sign- or zero-extended
        m.d.comb += product.eq(mult.p)
        low = Signal(h, name="acc_low", reset_less=True)
        high = Signal(bits - h, name="acc_high", reset_less=True)
        carry = Signal(name="acc_carry", reset_less=True)
        low_next = Signal(h + 1, name="acc_low_next")
        high_next = Signal(bits - h, name="acc_high_next")  # modulo 2^(bits - h)
        # high + product's upper part + carry as one 2-operand add one bit wider, the
        # carry entering below (carry + 1 in the new bit 0 carries exactly the carry).
        high_sum = Signal(bits - h + 1, name="acc_high_sum")
        m.d.comb += [low_next.eq(low + product[:h]),
                     high_sum.eq(Cat(carry, high) + Cat(Const(1, 1), product[h:])),
                     high_next.eq(high_sum[1:])]
        take = intcore.wire(m, pipe.valid & pipe.ready, "take")
        clear = intcore.wire(m, ResetSignal() | (take & v["last"]), "acc_clear")
        with m.If(clear):
            m.d.sync += [low.eq(0), high.eq(0), carry.eq(0)]
        with m.Elif(take):
            m.d.sync += [low.eq(low_next[:h]), high.eq(high_next), carry.eq(low_next[h])]

        # Output: a vector's sum in two registers: as the halves and the low carry,
        # then resolved (the high half plus that carry, a chain of its own).
        held = Signal(bits + 1, name="sum_parts", reset_less=True)
        held_valid = Signal(name="sum_parts_valid")
        out_sum = Signal(bits, name="out_sum", reset_less=True)
        out_valid = Signal(name="out_valid")
        out_free = intcore.wire(m, ~out_valid | self.o.ready, "out_free")
        held_free = intcore.wire(m, ~held_valid | out_free, "sum_parts_free")
        m.d.comb += pipe.ready.eq(held_free)
        with m.If(held_free):
            m.d.sync += [held.eq(Cat(low_next[:h], high_next, low_next[h])),
                         held_valid.eq(take & v["last"])]
        with m.If(out_free):
            resolved = Cat(held[:h], held[h:bits] + held[bits])
            m.d.sync += [out_sum.eq(resolved), out_valid.eq(held_valid)]
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out_sum)]
        pipe.finish()
        return m
