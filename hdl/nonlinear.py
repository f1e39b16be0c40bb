"""Fixed-point nonlinear function units: `Sigmoid`, `SiLU`, `Exp` (2^x, e^x) and `RSqrt`.

Each unit is built from a `golden.nonlinear` spec (the same parameters make the same
spec) and reads its coefficients and widths from it, so the hardware and the model cannot
disagree; every unit is bit-exact with ``spec.evaluate``. One input code per cycle on a
valid/ready stream, one output code per input, in order; `stages` registers are placed at
the unit's cut points (`hdl.pipeline.Pipeline`), and `latency` equals `stages` (plus 3
for each product on a fully registered `hdl.dsp.Multiplier`, the `multiplier`
parameter). A table (ROM) is read combinationally when its cut point is not selected, and
through a registered read port (a block-RAM candidate) when it is. The benches are tb/test_nonlinear.py; the
error of each configuration against float64 is `golden.nonlinear.errors`, and
`make nonlinear-report` measures error against area and Fmax.
"""

import math

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import formats, nonlinear
from . import dsp, intcore, protocol
from .pipeline import Pipeline, check_stages

__all__ = ["Sigmoid", "SiLU", "Exp", "RSqrt"]


def _shape_of(values):
    """The smallest shape (signed if any value is negative) that holds every value."""
    lo, hi = min(values), max(values)
    if lo < 0:
        return signed(max(hi.bit_length(), (-lo - 1).bit_length()) + 1)
    return unsigned(max(hi.bit_length(), 1))


def _floor_bits(value, bits):
    """``value // 2**bits`` (an arithmetic shift: the low bits dropped)."""
    if bits <= 0:
        return value
    low = value[bits:]
    return low.as_signed() if value.shape().signed else low


def _check_table(table):
    if not isinstance(table, str) or table not in ("auto", "logic"):
        kind = ValueError if isinstance(table, str) else TypeError
        raise kind(f"table must be 'auto' or 'logic', not {table!r}")
    return table


def _check_input_bits(in_fmt, limit):
    """ValueError for an input format wider than `limit` bits (before any table is fitted:
    that takes time proportional to the number of input codes)."""
    fmt = formats.format_from_name(in_fmt) if isinstance(in_fmt, str) else in_fmt
    bits = getattr(fmt, "bits", None)
    if bits is not None and bits > limit:
        raise ValueError(f"in_fmt must have at most {limit} bits, not {fmt} ({bits})")


class _Rom:
    """A table of one or more integer columns, indexed by `index`: a `memory.Memory` read
    through a comb port, or a sync port enabled by the pipeline's `advance` when the
    unit registers its ``table`` cut point (the read is that register). A one-entry table
    is constants. `style` ``"auto"``: LUTs below BLOCK_RAM_DEPTH entries, else synthesis
    chooses (yosys puts a registered table of that size into block RAM, whose read
    without an output register, the only kind yosys infers on ECP5, limits Fmax to about
    150 MHz); ``"logic"``: LUTs at any size (``rom_style = "logic"``)."""

    BLOCK_RAM_DEPTH = 256

    def __init__(self, m, pipe, columns, index, registered, name, style="auto"):
        self.shapes = [_shape_of(col) for col in columns]
        widths = [s.width for s in self.shapes]
        depth = len(columns[0])
        if depth == 1:
            self.values = [Const(col[0], shape) for col, shape in zip(columns, self.shapes)]
            return
        words = []
        for row in zip(*columns):
            word, offset = 0, 0
            for value, width in zip(row, widths):
                word |= (value % (1 << width)) << offset
                offset += width
            words.append(word)
        logic = style == "logic" or depth < self.BLOCK_RAM_DEPTH
        rom = memory.Memory(shape=unsigned(sum(widths)), depth=depth, init=words,
                            attrs={"rom_style": "logic"} if logic else None)
        m.submodules[name] = rom
        port = rom.read_port(domain="sync" if registered else "comb")
        m.d.comb += port.addr.eq(index)
        if registered:
            m.d.comb += port.en.eq(pipe.advance)
        self.values, offset = [], 0
        for shape, width in zip(self.shapes, widths):
            field = port.data[offset:offset + width]
            self.values.append(field.as_signed() if shape.signed else field)
            offset += width


class _FunctionUnit(wiring.Component):
    """The ports and protocol members shared by the function units (a spec in
    ``self.spec``)."""

    ops_per_cycle = 1
    ops_per_item = 1

    MULTIPLIERS = ("inferred", *dsp.TARGETS)

    def _ports(self, stages, multiplier="inferred", products=None):
        """Ports, `stages`, and the multipliers: `products` maps each cut point that
        registers a product to its operand shapes."""
        self.fmt, self.out_fmt = self.spec.in_fmt, self.spec.out_fmt
        self.stages = check_stages(stages, self.CUT_POINTS)
        if not isinstance(multiplier, str) or multiplier not in self.MULTIPLIERS:
            kind = ValueError if isinstance(multiplier, str) else TypeError
            raise kind(f"multiplier must be one of "
                       f"{', '.join(map(repr, self.MULTIPLIERS))}, not {multiplier!r}")
        self.multiplier = multiplier
        # The product at a selected cut point goes on an `hdl.dsp.Multiplier` (fully
        # registered: its registers replace the cut's); at other cut points, a plain `*`.
        self._multipliers = {}
        if multiplier != "inferred":
            for cut, (a_shape, b_shape) in (products or {}).items():
                if cut not in self.CUT_POINTS[:self.stages]:
                    continue
                try:
                    mul = dsp.Multiplier(a_shape, b_shape, target=multiplier, pipeline=3,
                                         fabric_register=True)
                except ValueError as exc:
                    raise ValueError(f"multiplier={multiplier!r} cannot build the {cut} "
                                     f"product: {exc}") from None
                mul._MustUse__silence = True        # for its checks and latency only
                self._multipliers[cut] = mul
        super().__init__({"i": In(stream.Signature(self.fmt.bits)),
                          "o": Out(stream.Signature(self.out_fmt.bits))})

    @property
    def latency(self):
        return self.stages + sum(mul.latency - 1 for mul in self._multipliers.values())

    def _pipeline(self, m):
        """The unit's `Pipeline`: its selected cut points, a multiplier's cut replaced by
        one per multiplier register."""
        cuts = []
        for cut in self.CUT_POINTS[:self.stages]:
            mul = self._multipliers.get(cut)
            cuts += [cut] if mul is None else [f"{cut}_{k}" for k in range(mul.latency)]
        return Pipeline(m, self.i, self.o, cuts)

    def _multiply(self, m, pipe, cut, operands, name, **side):
        """``a * b`` of ``operands = (a, b)`` at cut point `cut`: `side` values and the
        product (key ``product``) after the cut (registered or not), as `Pipeline.stage`
        returns them."""
        a, b = operands
        mul = self._multipliers.get(cut)
        if mul is None:
            return pipe.stage(cut, product=intcore.wire(m, a * b, name), **side)
        mul = m.submodules[f"{name}_multiplier"] = dsp.Multiplier(
            mul.a_shape, mul.b_shape, target=self.multiplier, pipeline=3,
            fabric_register=True)
        m.d.comb += [mul.a.eq(a), mul.b.eq(b), mul.en.eq(pipe.advance)]
        for k in range(mul.latency):
            side = pipe.stage(f"{cut}_{k}", **side)
        return {**side, "product": mul.p}

    @property
    def golden(self):
        """``(golden.nonlinear.evaluate, {"spec": spec})``: output codes of input codes."""
        return nonlinear.evaluate, {"spec": self.spec}

    def _round(self, m, pipe, value, frac, name, biased=False):
        """The output code of the signed integer `value` at `frac` fraction bits: rounded
        per the output's rounding, cut point ``rounded``, then saturated or wrapped (as
        `intcore.convert_fixed`, with a register between the two). `biased`: `value`
        already holds `intcore.rounding_bias`."""
        drop = frac - self.out_fmt.frac_bits
        if drop > 0 and biased:
            value = intcore.shift_right_biased(m, value, drop, self.out_fmt.rounding,
                                               f"{name}_rounded")
        elif drop > 0:
            value, _ = intcore.shift_right_round(m, value, drop, self.out_fmt.rounding,
                                                 f"{name}_rounded")
        elif drop < 0:
            value = intcore.wire(m, value << -drop, f"{name}_shifted")
        v = pipe.stage("rounded", value=value)
        return intcore.fit_fixed(m, v["value"], self.out_fmt, name)


class Sigmoid(_FunctionUnit):
    """Logistic sigmoid of a signed fixed-point input, bit-exact with
    ``golden.nonlinear.Activation("sigmoid", method, in_fmt, out_fmt, segments=…,
    guard_bits=…)``: the methods, coefficients and numeric behaviour are documented there
    (uniform piecewise-linear ``pwl``, power-of-two slopes ``pow2``, lookup table ``lut``,
    hard sigmoid ``hard``, ``plan``). The datapath takes a = |x| (clamped below the table's
    range), evaluates the positive side and applies σ(−a) = 1 − σ(a) before the one
    rounding into `out_fmt`.

    Error against float64 over every input code (`tests/test_nonlinear_golden.py`
    recomputes this table from the golden model):

    ======  =======  =======  ========  ========  ========
    method  in_fmt   out_fmt  segments  max       mean
    ======  =======  =======  ========  ========  ========
    pwl     sq4_4    uq0_8    16        3.55e-03  1.19e-03
    pwl     sq5_7    uq0_12   16        5.77e-03  6.49e-04
    pwl     sq5_11   uq0_16   16        5.82e-03  6.05e-04
    pwl     sq5_11   uq0_16   64        3.80e-04  4.00e-05
    pow2    sq5_11   uq0_16   16        1.36e-02  1.45e-03
    lut     sq4_4    uq0_8    128       3.55e-03  1.16e-03
    lut     sq5_11   uq0_16   64        3.10e-02  1.96e-03
    hard    sq5_11   uq0_16   -         1.19e-01  1.21e-02
    plan    sq5_11   uq0_16   -         1.89e-02  2.96e-03
    ======  =======  =======  ========  ========  ========

    Parameters
    ----------
    in_fmt : FixedFormat
        Signed input format (its name allowed), up to 24 bits.
    out_fmt : FixedFormat
        Output format, holding [0, 1 − lsb].
    method : str
        ``"pwl"`` (default), ``"pow2"``, ``"lut"``, ``"hard"``, ``"plan"`` (sigmoid).
    segments : int or None
        Table entries over |x| (a power of two); None: 16 (``lut``: one per code).
    guard_bits : int
        Intercept bits beyond the output's (``pwl``, ``pow2``), 0..8.
    stages : int
        Pipeline registers, 0..5, in this order: the table read (``table``), after the
        slope product or shift (``product``), after |x| (``magnitude``), before the final
        rounding (``value``), between the rounding and the saturation (``rounded``).
    multiplier : str
        The slope product (``pwl``; SiLU ``hard``: a × hard sigmoid): ``"inferred"``
        (default, a plain ``*``) or an `hdl.dsp.Multiplier` target (``"ecp5"``,
        ``"ice40"``, ``"fabric"``, ``"lut"``), fully registered: with the ``product`` cut
        selected its three register levels and a fabric register replace that cut.
    table : str
        The ROM: ``"auto"`` (default: LUTs below 256 entries, else synthesis chooses; a
        registered table of 256 or more entries goes to block RAM) or ``"logic"`` (LUTs).

    Members
    -------
    i : In(stream.Signature(in_fmt.bits))
    o : Out(stream.Signature(out_fmt.bits))
    spec : golden.nonlinear.Activation
    latency : int
        `stages`, plus 3 for a multiplier that replaces a cut.
    ops_per_cycle : int
        1.
    """

    FUNCTION = "sigmoid"
    CUT_POINTS = ("table", "product", "magnitude", "value", "rounded")
    PARAMETERS = {"in_fmt": protocol.Format(formats.FixedFormat, example="sq5_11"),
                  "out_fmt": protocol.Format(formats.FixedFormat, example="uq0_16"),
                  "method": protocol.Choice(*nonlinear.ACTIVATION_METHODS["sigmoid"]),
                  "segments": protocol.Integer(),
                  "guard_bits": protocol.Integer(),
                  "stages": protocol.Integer(),
                  "multiplier": protocol.Choice(*_FunctionUnit.MULTIPLIERS),
                  "table": protocol.Choice("auto", "logic")}
    EXAMPLES = [{"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "pwl", "stages": 0},
                {"in_fmt": "sq5_11", "out_fmt": "uq0_16", "method": "pwl", "stages": 5,
                 "multiplier": "lut"},
                {"in_fmt": "sq5_11", "out_fmt": "uq0_16", "method": "pwl", "stages": 4},
                {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "lut", "stages": 1},
                {"in_fmt": "sq5_7", "out_fmt": "uq0_12", "method": "plan", "stages": 2}]
    MAX_INPUT_BITS = 24

    def __init__(self, *, in_fmt, out_fmt, method="pwl", segments=None, guard_bits=2,
                 stages=0, multiplier="inferred", table="auto"):
        _check_input_bits(in_fmt, self.MAX_INPUT_BITS)
        self.spec = spec = nonlinear.Activation(self.FUNCTION, method, in_fmt, out_fmt,
                                                segments=segments, guard_bits=guard_bits)
        self.method = spec.method
        self.table = _check_table(table)
        n, f = spec.in_fmt.bits, spec.in_fmt.frac_bits
        products = {}
        if spec.method == "pwl" and spec.offset_bits:    # (T = 0: the product is zero)
            products["product"] = (_shape_of(spec.slopes), unsigned(spec.offset_bits))
        elif spec.method == "hard" and self.FUNCTION == "silu":
            products["product"] = (unsigned(n), unsigned(f + 3))
        self._ports(stages, multiplier, products)
        # The rounding's bias is folded into the bases (rne, floor; None: trunc), so the
        # value's add is the last carry chain before the shift.
        self._bias = intcore.rounding_bias(spec.frac - spec.out_fmt.frac_bits,
                                           spec.out_fmt.rounding)
        # Input codes at the edges for the random benches: integer boundaries, PLAN's
        # breakpoints (multiples of 1/8), hard sigmoid's ±2, segment boundaries.
        steps = {1 << f, 1 << max(f - 3, 0), 1 << (f + 1)}
        if spec.offset_bits is not None:
            steps.add(1 << spec.offset_bits)
        self.edge_steps = tuple(sorted(steps))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        n, f, P = spec.in_fmt.bits, spec.in_fmt.frac_bits, spec.frac
        cuts = self.CUT_POINTS[:self.stages]
        pipe = self._pipeline(m)
        x = self.i.payload.as_signed()
        negative = x[n - 1]
        a = Signal(n, name="a")
        m.d.comb += a.eq(Mux(negative, -x, x))
        if spec.segments:                  # the table covers magnitudes below 2^(n-1)
            clamped = Signal(n - 1, name="a_clamped")
            m.d.comb += clamped.eq(Mux(a[n - 1], (1 << (n - 1)) - 1, a[:n - 1]))
            a = clamped
        v = pipe.stage("magnitude", a=a, negative=negative)
        v = self._positive(m, pipe, v, "table" in cuts)
        # value(a) = base + product; value(−a) = other_base ∓ product, with other_base
        # computed beside the product (each side one carry chain after the product).
        if "other" not in v:
            v["other"] = self._other_base(m, v["base"], v["a"])
        product = v["product"]
        value = Signal(signed(spec.value_bits + 1), name="value")
        positive = Signal.like(value, name="positive")
        other = Signal.like(value, name="other")
        m.d.comb += [positive.eq(v["base"] + product),
                     other.eq(v["other"] - product if self.FUNCTION == "sigmoid"
                              else v["other"] + product)]
        m.d.comb += value.eq(Mux(v["negative"], other, positive))
        v = pipe.stage("value", value=value)
        pipe.finish(self._round(m, pipe, v["value"], P, "result",
                                biased=self._bias is not None))
        return m

    def _base(self, m, value, name):
        """`value` plus the rounding bias (`_bias`: 0 when it is not folded)."""
        return intcore.wire(m, value + (self._bias or 0), name)

    def _other_base(self, m, base, a):
        """The value at −a of a value at a: 1 − value (sigmoid), value − a (SiLU), for a
        `base` that holds the rounding bias (and so does the result)."""
        spec = self.spec
        if self.FUNCTION == "sigmoid":
            return intcore.wire(m, (1 << spec.frac) + 2 * (self._bias or 0) - base,
                                "other_base")
        return intcore.wire(m, base - (a << (spec.frac - spec.in_fmt.frac_bits)),
                            "other_base")

    def _positive(self, m, pipe, v, registered_table):
        """The function at v["a"] >= 0 as ``base + product`` at `frac` fraction bits:
        the values after the ``table`` and ``product`` cuts, with keys ``base``,
        ``product``, ``a``, ``negative`` and (table methods) ``other``, the base of the
        value at −a (`_other_base`), computed beside the product."""
        spec = self.spec
        f, P = spec.in_fmt.frac_bits, spec.frac
        a = v["a"]
        if spec.method == "hard":
            h = Signal(f + 3, name="hard")                  # x/4 + 1/2 clamped to 1, f+2 bits
            m.d.comb += h.eq(Mux(intcore.at_least(m, a, (1 << (f + 1)), "a_ge_2"),
                                 1 << (f + 2), a + (1 << (f + 1))))
            v = pipe.stage("table", h=h, **v)
            if self.FUNCTION == "sigmoid":
                v = pipe.stage("product", h=v["h"], a=v["a"], negative=v["negative"])
                return {**v, "base": self._base(m, v.pop("h") << (P - f - 2), "base"),
                        "product": Const(0, 1)}
            v = self._multiply(m, pipe, "product", (v["a"], v["h"]), "hard_product",
                               a=v["a"], negative=v["negative"])
            return {**v, "base": self._base(m, v.pop("product") << (P - 2 * f - 2), "base"),
                    "product": Const(0, 1)}
        if spec.method == "plan":
            # From the bottom segment up, each overriding the ones below at its breakpoint.
            term = None
            for step, (point, shift, c32) in enumerate(reversed(nonlinear.PLAN)):
                here = (0 if shift is None else a << (5 - shift)) + (c32 << f)
                term = here if term is None else Mux(
                    intcore.at_least(m, a, math.ceil(point * 2 ** f), f"plan{step}"),
                    here, term)
            v = pipe.stage("table", term=intcore.wire(m, term, "plan_value"), **v)
            v = pipe.stage("product", **v)
            return {**v, "base": self._base(m, v.pop("term") << (P - f - 5), "base"),
                    "product": Const(0, 1)}
        T = spec.offset_bits
        W = spec.coef_frac[0]
        index, t = a[T:], a[:T]
        # The ROM holds the bases themselves (the intercept on P bits with the rounding
        # bias, and for sigmoid the base at −a too), so no adder follows the read; their
        # common trailing zeros are not stored.
        bias = self._bias or 0
        bases = [[(c << (P - W)) + bias for c in spec.intercepts]]
        if self.FUNCTION == "sigmoid":
            bases.append([(1 << P) + 2 * bias - b for b in bases[0]])
        zeros = min(((b & -b).bit_length() - 1 for col in bases for b in col if b),
                    default=0)
        columns = [[b >> zeros for b in col] for col in bases]
        if spec.method == "pow2":
            shifts = [0 if b == 0 else abs(b).bit_length() - 1 for b in spec.slopes]
            columns += [shifts, [int(b < 0) for b in spec.slopes],
                        [int(b == 0) for b in spec.slopes]]
        elif spec.method == "pwl":
            columns += [list(spec.slopes)]
        rom = _Rom(m, pipe, columns, index, registered_table, "coefficients", self.table)
        side = pipe.stage("table", **({"t": t} if T else {}), **v)   # (no zero-width reg)
        values = rom.values
        base = intcore.wire(m, values.pop(0) << zeros, "base")
        t = side["t"] if T else Const(0, 1)
        side = {"base": base, "a": side["a"], "negative": side["negative"]}
        if self.FUNCTION == "sigmoid":
            side["other"] = intcore.wire(m, values.pop(0) << zeros, "other_base")
        elif spec.method != "lut":         # (lut: after the product cut, which has no add)
            side["other"] = self._other_base(m, base, side["a"])
        if spec.method == "pwl":
            v = self._multiply(m, pipe, "product", (values[0], t), "product", **side)
        else:
            if spec.method == "pow2":
                # t·2^e, as wide as its largest value (not t's width + 2^len(e) - 1).
                magnitude = Signal(spec.offset_bits + max(shifts), name="shifted")
                m.d.comb += magnitude.eq(t << values[0])
                product = intcore.wire(m, Mux(values[2], 0, Mux(values[1], -magnitude,
                                                                 magnitude)), "product")
            else:
                product = Const(0, 1)
            v = pipe.stage("product", product=product, **side)
        drop = -spec.shifts[1]                  # the product floored to P fraction bits
        if drop > 0:
            product = v["product"][drop:]
            v["product"] = product.as_signed() if v["product"].shape().signed else product
        return v


class SiLU(Sigmoid):
    """SiLU, x·σ(x), of a signed fixed-point input, bit-exact with
    ``golden.nonlinear.Activation("silu", …)``: methods ``pwl``, ``pow2``, ``lut`` and
    ``hard`` (x · hard sigmoid, one product); SiLU(−a) = SiLU(a) − a. Ports, parameters
    and cut points as `Sigmoid`; `out_fmt` must be signed with as many integer bits as
    `in_fmt`.

    Error against float64 over every input code (recomputed by
    `tests/test_nonlinear_golden.py`):

    ======  =======  =======  ========  ========  ========
    method  in_fmt   out_fmt  segments  max       mean
    ======  =======  =======  ========  ========  ========
    pwl     sq4_4    sq4_4    16        4.25e-02  1.49e-02
    pwl     sq5_7    sq5_7    16        3.05e-02  2.40e-03
    pwl     sq5_11   sq5_11   16        2.74e-02  1.69e-03
    pwl     sq5_11   sq5_11   64        2.20e-03  1.77e-04
    pow2    sq5_11   sq5_11   16        1.15e-01  9.01e-03
    lut     sq5_11   sq5_11   64        1.37e-01  6.25e-02
    hard    sq5_11   sq5_11   -         2.38e-01  3.06e-02
    ======  =======  =======  ========  ========  ========
    """

    FUNCTION = "silu"
    PARAMETERS = {**Sigmoid.PARAMETERS,
                  "out_fmt": protocol.Format(formats.FixedFormat, example="sq5_11"),
                  "method": protocol.Choice(*nonlinear.ACTIVATION_METHODS["silu"])}
    EXAMPLES = [{"in_fmt": "sq4_4", "out_fmt": "sq4_4", "method": "pwl", "stages": 3},
                {"in_fmt": "sq5_11", "out_fmt": "sq5_11", "method": "hard", "stages": 4},
                {"in_fmt": "sq5_7", "out_fmt": "sq5_7", "method": "pow2", "stages": 1}]


class Exp(_FunctionUnit):
    """2^x or e^x of a non-positive signed fixed-point input (positive inputs give 1),
    bit-exact with ``golden.nonlinear.Exp(in_fmt, out_fmt, base=…, order=…, segments=…,
    guard_bits=…)``: (x·log2 e for e^x, one constant product) = −m + u; 2^u by a
    polynomial of order 1 or 2 (Horner, each product floored) on uniform segments of u,
    coefficients from a ROM; then a right shift by m with the one rounding into
    `out_fmt`.

    Error against float64 over every input code x <= 0 (recomputed by
    `tests/test_nonlinear_golden.py`):

    ====  =====  ========  =======  =======  ========  ========
    base  order  segments  in_fmt   out_fmt  max       mean
    ====  =====  ========  =======  =======  ========  ========
    2     1      1         sq5_11   uq1_15   4.39e-02  2.03e-03
    2     1      16        sq5_11   uq1_15   1.26e-04  1.20e-05
    2     2      4         sq5_11   uq1_15   5.09e-05  8.12e-06
    e     1      16        sq5_11   uq1_15   1.27e-04  9.37e-06
    e     2      4         sq5_11   uq1_15   4.83e-05  6.61e-06
    ====  =====  ========  =======  =======  ========  ========

    Parameters
    ----------
    in_fmt, out_fmt : FixedFormat
        Signed input (at most 24 bits); output holding 1.0.
    base : str
        ``"2"`` (default) or ``"e"``.
    order : int
        1 (default) or 2.
    segments : int
        Segments of u, a power of two (default 1).
    guard_bits : int
        Coefficient bits beyond the output's, 0..8 (default 2).
    stages : int
        Pipeline registers, 0..7 (order 2: 0..8), in this order: the table read
        (``table``), after the first product (``product``), after x·log2 e and the clamp
        (``scaled``), after the polynomial (``value``; order 2: after its second product),
        after the final right shift (``fine``: before its rounding add), after the
        rounding (``shifted``), between the shift's two steps (``coarse``), and for order
        2 after the last add (``sum``).
    multiplier : str
        The products: ``"inferred"`` (default, plain ``*``) or an `hdl.dsp.Multiplier`
        target, fully registered, replacing the cut after each when selected: ``product``,
        for order 2 ``value``, and for e^x the x·log2 e product at ``scaled``.

    Members
    -------
    i : In(stream.Signature(in_fmt.bits))
    o : Out(stream.Signature(out_fmt.bits))
    spec : golden.nonlinear.Exp
    latency : int
        `stages`, plus 3 per multiplier that replaces a cut.
    ops_per_cycle : int
        1.
    """

    PARAMETERS = {"in_fmt": protocol.Format(formats.FixedFormat, example="sq5_11"),
                  "out_fmt": protocol.Format(formats.FixedFormat, example="uq1_15"),
                  "base": protocol.Choice("2", "e"),
                  "order": protocol.Integer(),
                  "segments": protocol.Integer(),
                  "guard_bits": protocol.Integer(),
                  "stages": protocol.Integer(),
                  "multiplier": protocol.Choice(*_FunctionUnit.MULTIPLIERS)}
    EXAMPLES = [{"in_fmt": "sq4_4", "out_fmt": "uq1_7", "stages": 0},
                {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "order": 2, "segments": 4,
                 "stages": 8, "multiplier": "lut"},
                {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "base": "e", "order": 2,
                 "segments": 4, "stages": 6},
                {"in_fmt": "sq5_7", "out_fmt": "uq1_11", "segments": 8, "stages": 2}]
    MAX_INPUT_BITS = 24

    def __init__(self, *, in_fmt, out_fmt, base="2", order=1, segments=1, guard_bits=2,
                 stages=0, multiplier="inferred"):
        _check_input_bits(in_fmt, self.MAX_INPUT_BITS)
        self.spec = spec = nonlinear.Exp(in_fmt, out_fmt, base=base, order=order,
                                         segments=segments, guard_bits=guard_bits)
        self.CUT_POINTS = ("table", "product", "scaled", "value", "fine", "shifted",
                           "coarse") + (("sum",) if spec.order == 2 else ())
        T = spec.offset_bits
        products = {}
        if T:                                   # (T = 0: the products are of zero width)
            top = _shape_of(spec.coefs[-1])
            products["product"] = (top, unsigned(T))
            if spec.order == 2:
                inner = Signal(_shape_of(spec.coefs[1])) + \
                    _floor_bits(Signal(top) * Signal(T), T)
                products["value"] = (inner.shape(), unsigned(T))
        if spec.base == "e":
            products["scaled"] = (signed(spec.in_fmt.bits), unsigned(spec.log2e.bit_length()))
        self._ports(stages, multiplier, products)
        # Edges for the random benches: integer boundaries of x, segment boundaries of u.
        self.edge_steps = (1 << self.fmt.frac_bits,
                           1 << max(self.fmt.frac_bits - self.spec.segment_bits, 0))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        n, f, U, T, P = (spec.in_fmt.bits, spec.in_fmt.frac_bits, spec.u_bits,
                         spec.offset_bits, spec.frac)
        cuts = self.CUT_POINTS[:self.stages]
        pipe = self._pipeline(m)
        x = self.i.payload.as_signed()
        clamped = Signal(signed(n), name="clamped")
        m.d.comb += clamped.eq(Mux(x[n - 1], x, 0))
        if spec.base == "e":
            v = self._multiply(m, pipe, "scaled", (clamped, Const(spec.log2e)),
                               "scaled_product")
            z = intcore.wire(m, v["product"] >> (f + spec.log2e_frac - U), "z")
        else:
            z = pipe.stage("scaled", z=clamped)["z"]
        # The final right shift, m + (P − out.frac) with m = −floor(z / 2^U), clamped
        # here to value_bits + 1 (where the result stops changing), off the path of the
        # shifter: one add, ~floor + (drop + 1), beside one compare of the floor.
        drop, top = P - self.out_fmt.frac_bits, spec.value_bits + 1
        whole = intcore.wire(m, z >> U, "whole")                       # −m, <= 0
        large = ~intcore.at_least(m, whole, drop - top, "m_small")     # m > top − drop
        width = max(len(whole), top.bit_length()) + 1
        shifted = intcore.add_constant(m, ~whole, drop + 1, width, "m_plus")
        shift = Signal(range(top + 1), name="amount")
        m.d.comb += shift.eq(Mux(large, top, shifted))
        u = z[:U]
        rom = _Rom(m, pipe, [list(c) for c in spec.coefs], u[T:], "table" in cuts,
                   "coefficients")
        v = pipe.stage("table", **({"t": u[:T]} if T else {}), shift=shift)
        t, coefs = v.get("t", Const(0, 1)), rom.values
        # Horner's rule, each product floored to its sum's grid (drop its T low bits).
        if spec.order == 1:
            v = self._multiply(m, pipe, "product", (coefs[1], t), "product", c0=coefs[0],
                               shift=v["shift"])
            poly = intcore.wire(m, v["c0"] + _floor_bits(v["product"], T), "poly")
            v = pipe.stage("value", value=poly, shift=v["shift"])
        else:
            v = self._multiply(m, pipe, "product", (coefs[2], t), "product", c0=coefs[0],
                               c1=coefs[1], t=t, shift=v["shift"])
            inner = intcore.wire(m, v["c1"] + _floor_bits(v["product"], T), "inner")
            v = self._multiply(m, pipe, "value", (inner, v["t"]), "second", c0=v["c0"],
                               shift=v["shift"])
            poly = intcore.wire(m, v["c0"] + _floor_bits(v["product"], T), "poly")
            v = pipe.stage("sum", value=poly, shift=v["shift"])
        value = Signal(signed(spec.value_bits), name="value")
        m.d.comb += value.eq(v["value"])
        rounded, _ = intcore.shift_right_round(m, value, v["shift"], self.out_fmt.rounding,
                                               "shift", stage=pipe.stage)
        v = pipe.stage("shifted", rounded=rounded)
        pipe.finish(intcore.fit_fixed(m, v["rounded"], self.out_fmt, "result"))
        return m


class RSqrt(_FunctionUnit):
    """1/√x of an unsigned fixed-point input, bit-exact with ``golden.nonlinear.RSqrt(in_fmt,
    out_fmt, seed_bits=…, steps=…, guard_bits=…)``: a leading-zero count normalises x to
    m·4^e with m ∈ [1, 4); a ROM of 2^seed_bits seeds indexed by m's leading bits; `steps`
    Newton steps y ← y·(3 − m·y²)/2 on G = out_fmt.frac_bits + guard_bits fraction bits
    (three products per step, each floored); then a shift by e and the one rounding into
    `out_fmt`. x = 0 gives the largest output code.

    Error against float64 over every input code x > 0 (recomputed by
    `tests/test_nonlinear_golden.py`):

    ======  =======  =========  =====  ========  ========
    in_fmt  out_fmt  seed_bits  steps  max       mean
    ======  =======  =========  =====  ========  ========
    uq8_8   uq5_11   4          0      4.58e-01  1.40e-03
    uq8_8   uq5_11   4          1      1.95e-02  1.31e-04
    uq8_8   uq5_11   4          2      4.88e-04  1.22e-04
    uq4_12  uq7_9    6          1      7.81e-03  4.92e-04
    ======  =======  =========  =====  ========  ========

    Parameters
    ----------
    in_fmt, out_fmt : FixedFormat
        Unsigned input (at most 24 bits); output holding 2^(F/2) (F: the input's fraction
        bits).
    seed_bits : int
        1..8 (default 4).
    steps : int
        Newton steps, 0..3 (default 1).
    guard_bits : int
        0..8 (default 4).
    stages : int
        Pipeline registers, 0..7 + 3·steps, in this order: the seed read (``table``),
        after normalisation (``normalized``), after the final shift's rounding
        (``shifted``), before that rounding add (``fine``), between the shift's two steps
        (``coarse``), after the leading-zero count (``counted``), between the two steps of
        the normalising shift (``prenormalized``), then per step k after y²
        (``square{k}``), after m·y² (``scaled{k}``) and after the step (``step{k}``).
    multiplier : str
        The Newton steps' products: ``"inferred"`` (default, plain ``*``) or an
        `hdl.dsp.Multiplier` target, fully registered, replacing each selected product
        cut.

    Members
    -------
    i : In(stream.Signature(in_fmt.bits))
    o : Out(stream.Signature(out_fmt.bits))
    spec : golden.nonlinear.RSqrt
    latency : int
        `stages`, plus 3 per multiplier that replaces a cut.
    ops_per_cycle : int
        1.
    """

    PARAMETERS = {"in_fmt": protocol.Format(formats.FixedFormat, example="uq8_8"),
                  "out_fmt": protocol.Format(formats.FixedFormat, example="uq5_11"),
                  "seed_bits": protocol.Integer(),
                  "steps": protocol.Integer(),
                  "guard_bits": protocol.Integer(),
                  "stages": protocol.Integer(),
                  "multiplier": protocol.Choice(*_FunctionUnit.MULTIPLIERS)}
    EXAMPLES = [{"in_fmt": "uq8_8", "out_fmt": "uq5_11", "stages": 0},
                {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "stages": 10, "multiplier": "lut"},
                {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "steps": 2, "stages": 13},
                {"in_fmt": "uq4_12", "out_fmt": "uq7_9", "seed_bits": 6, "stages": 2}]
    MAX_INPUT_BITS = 24

    def __init__(self, *, in_fmt, out_fmt, seed_bits=4, steps=1, guard_bits=4, stages=0,
                 multiplier="inferred"):
        _check_input_bits(in_fmt, self.MAX_INPUT_BITS)
        self.spec = nonlinear.RSqrt(in_fmt, out_fmt, seed_bits=seed_bits, steps=steps,
                                    guard_bits=guard_bits)
        self.CUT_POINTS = ("table", "normalized", "shifted", "fine", "coarse", "counted",
                           "prenormalized") + tuple(
            f"{name}{k}" for k in range(self.spec.steps)
            for name in ("square", "scaled", "step"))
        G = self.spec.work_bits
        products = {}
        for k in range(self.spec.steps):
            products.update({f"square{k}": (unsigned(G + 1), unsigned(G + 1)),
                             f"scaled{k}": (unsigned(G + 2), unsigned(G + 1)),
                             f"step{k}": (unsigned(G + 1), unsigned(G + 2))})
        self._ports(stages, multiplier, products)
        self.edge_steps = (1 << self.fmt.frac_bits, 1 << max(self.fmt.frac_bits - 2, 0))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        n, f, G, sb = spec.in_fmt.bits, spec.in_fmt.frac_bits, spec.work_bits, spec.seed_bits
        pipe = self._pipeline(m)
        x = self.i.payload
        zero = intcore.wire(m, x == 0, "zero")
        v = pipe.stage("counted", x=x, zero=zero, lz=intcore.leading_zeros(m, x, "lz"))
        x, lz = v["x"], v["lz"]
        # x << lz in two steps (by lz's upper bits, then its two low bits), a register
        # between them (cut point ``prenormalized``).
        coarse = intcore.wire(m, (x << Cat(Const(0, 2), lz[2:]))[:n], "x_coarse")
        w = pipe.stage("prenormalized", x=coarse, lz=lz, zero=v["zero"])
        lz, v = w["lz"], w
        x_norm = intcore.wire(m, (w["x"] << lz[:2])[:n], "x_norm")  # leading one at n - 1
        # From the leading zeros alone (a small table, no adders): the leading one's
        # position lead = n − 1 − lz; odd, when m = x·2^(G − lead + odd) is in [2, 4); and
        # the final right shift of y by G + e − out.frac, e = (lead − odd − f) / 2, made
        # non-negative by a constant left shift of y (`lift`).
        lift = max(0, self.out_fmt.frac_bits - G - (-f - 1) // 2)     # e >= (-f - 1) // 2
        odds, amounts = [], []
        for zeros in range(n + 1):                  # (n: x = 0, whose result is a constant)
            lead = n - 1 - zeros
            odd_bit = (lead - f) & 1
            odds.append(odd_bit)
            amounts.append(max(((lead - odd_bit - f) >> 1) + G + lift - self.out_fmt.frac_bits,
                               0))
        pad = (1 << len(lz)) - len(odds)            # every value of lz has an entry
        odds, amounts = odds + [0] * pad, amounts + [0] * pad
        odd = intcore.wire(m, Array(Const(o, 1) for o in odds)[lz], "odd")  # m in [2, 4)
        amount = Signal(range(max(amounts) + 1), name="amount")
        m.d.comb += amount.eq(Array(Const(a, len(amount)) for a in amounts)[lz])
        doubled = Mux(odd, Cat(Const(0, 1), x_norm), x_norm)        # n + 1 bits
        shift = G - n + 1                                           # m = doubled · 2^shift
        mant = Signal(G + 2, name="m")
        m.d.comb += mant.eq(doubled << shift if shift >= 0 else doubled >> -shift)
        index = Mux(odd, mant[G + 2 - sb:G + 1], mant[G + 1 - sb:G]) if sb > 1 else Const(0, 0)
        index = Cat(index, odd)
        v = pipe.stage("normalized", zero=v["zero"], mant=mant, amount=amount, index=index)
        rom = _Rom(m, pipe, [list(spec.seeds)], v["index"],
                   "table" in self.CUT_POINTS[:self.stages], "seeds")
        side = pipe.stage("table", zero=v["zero"], mant=v["mant"], amount=v["amount"])
        y = Signal(G + 1, name="y0")
        m.d.comb += y.eq(rom.values[0])
        for k in range(spec.steps):
            # The signals are as wide as the values get: y <= 2^G (Newton's step never
            # overshoots 1/sqrt(m) <= 1), y2 <= 2^G, my2 <= 2^(G+1) (m·y² <= 2: each seed
            # is the middle of its cell's range), factor in [2^G, 3·2^G].
            w = self._multiply(m, pipe, f"square{k}", (y, y), f"square{k}", y=y, **side)
            y2 = Signal(G + 1, name=f"y2_{k}")
            m.d.comb += y2.eq(w.pop("product") >> G)
            w = self._multiply(m, pipe, f"scaled{k}", (w["mant"], y2), f"scaled{k}", **w)
            my2 = Signal(G + 2, name=f"my2_{k}")
            m.d.comb += my2.eq(w.pop("product") >> G)
            factor = Signal(G + 2, name=f"factor{k}")
            m.d.comb += factor.eq((3 << G) - my2)
            w = self._multiply(m, pipe, f"step{k}", (w.pop("y"), factor), f"step{k}", **w)
            y = Signal(G + 1, name=f"y{k + 1}")
            m.d.comb += y.eq(w.pop("product") >> (G + 1))
            side = w
        lifted = Signal(len(y) + lift, name="lifted")
        m.d.comb += lifted.eq(y << lift)
        carried = {"zero": side["zero"]}

        def stage(point, **values):          # the shift's registers, with `zero` beside
            out = pipe.stage(point, **values, **carried)
            carried.update((key, out.pop(key)) for key in list(carried))
            return out
        rounded, _ = intcore.shift_right_round(m, lifted, side["amount"],
                                               self.out_fmt.rounding, "shift", stage=stage)
        side["zero"] = carried["zero"]
        v = pipe.stage("shifted", rounded=rounded, zero=side["zero"])
        code = intcore.fit_fixed(m, v["rounded"], self.out_fmt, "fitted")
        top = (1 << (self.out_fmt.bits - 1)) - 1 if self.out_fmt.signed else \
            (1 << self.out_fmt.bits) - 1
        result = Signal(self.out_fmt.bits, name="result")
        m.d.comb += result.eq(Mux(v["zero"], top, code))
        pipe.finish(result)
        return m
