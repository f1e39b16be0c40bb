"""Dot-product units: lanes of L-Mul (or exact) multipliers, an adder tree, an accumulator.

The golden model is `golden.dot.dot`; the bench is tb/test_dot.py.
"""

import functools
import operator

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import dot as golden_dot, formats
from . import fpadd, intcore, kulisch as kulisch_acc, protocol
from .fpmul import FPMul
from .lmul import LMul
from .pipeline import Pipeline, check_stages, reduce_tree

__all__ = ["Dot", "multiplier_unit"]


def multiplier_unit(fmt, mul, out_fmt, *, carry="integer", offset="paper",
                    subnormal_inputs="flush"):
    """A combinational multiplier of two `fmt` codes whose products are codes of `out_fmt`:
    `hdl.lmul.LMul` (``mul="lmul"``, with the L-Mul parameters) or `hdl.fpmul.FPMul`
    (``mul="exact"``). Shared by the dot units and the MAC arrays' FP PEs."""
    if mul == "lmul":
        return LMul(fmt=fmt, carry=carry, offset=offset, out_fmt=out_fmt,
                    subnormal_inputs=subnormal_inputs)
    return FPMul(fmt=fmt, out_fmt=out_fmt)


class Dot(wiring.Component):
    """Dot-product unit: `lanes` multipliers, an adder tree and an accumulator, streaming.

    Each input beat carries `lanes` operand pairs and a ``last`` flag; the products of a
    beat are reduced by an adder tree and added to the accumulator; the beat with ``last``
    set ends the vector: its result leaves on ``o`` and the accumulator restarts at zero.
    Bit-exact with ``golden.dot.dot(a, b, fmt, lanes=, mul=, acc=, guard_bits=, out_fmt=,
    carry=, offset=, subnormal_inputs=)`` (see its docstring for the arithmetic).

    - ``mul="lmul"``: `hdl.lmul.LMul` lanes (the L-Mul parameters apply); ``mul="exact"``:
      `hdl.fpmul.FPMul` lanes, for comparison.
    - ``acc="fp32"``: FP32 products, a tree of FP32 adders (`hdl.fpadd.fp_add`, RNE each)
      and an FP32 accumulator adder in a one-cycle loop.
    - ``acc="kulisch"``: exact products (in `golden.dot.product_format`), shifted into a
      two's complement fixed-point accumulator of `golden.dot.kulisch_range` bits (exact
      for vectors of up to 2^guard_bits terms), NaN/Inf flags alongside; the sum is rounded
      once into `out_fmt` when the vector ends, in a cycle after the accumulator's.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format.
    lanes : int
        Multipliers, 1..64.
    mul : str
        ``"lmul"`` or ``"exact"``.
    acc : str
        ``"fp32"`` or ``"kulisch"``.
    guard_bits : int
        Kulisch accumulator headroom: exact for up to 2^guard_bits terms per vector.
    out_fmt : FloatFormat or None
        Result format: FP32 (default; the only choice with ``acc="fp32"``).
    carry, offset, subnormal_inputs :
        L-Mul parameters (`hdl.lmul.LMul`); only with ``mul="lmul"``.
    stages : int
        Pipeline registers before the accumulator, 0..3: after the products, then after
        the adder tree, then (3) also between the tree's levels, so that one adder (or,
        with ``acc="kulisch"``, one integer add) sits between registers.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": ArrayLayout(fmt.bits, lanes),
                                          "b": ArrayLayout(fmt.bits, lanes), "last": 1})))
        Operand beats.
    o : Out(stream.Signature(out_fmt.bits))
        One result per vector.
    latency : int
        Cycles from accepting a vector's last beat to its result on ``o``: stages + 1, or
        3 + max(tree_depth - 1, 0) with stages=3; one more with ``acc="kulisch"`` (the
        exact sum is rounded into out_fmt in a cycle of its own).
    ops_per_cycle : int
        Multiply-adds per cycle at full throughput (`lanes`).
    """

    CUT_POINTS = ("products", "tree", "levels")
    PARAMETERS = {"fmt": protocol.Format(formats.FloatFormat, example="fp8_e4m3"),
                  "lanes": protocol.Integer(),
                  "mul": protocol.Choice("lmul", "exact"),
                  "acc": protocol.Choice("fp32", "kulisch"),
                  "guard_bits": protocol.Integer(),
                  "out_fmt": protocol.Format(formats.FloatFormat, optional=True),
                  "carry": protocol.Choice("integer", "formula"),
                  "offset": protocol.Choice("paper", "none", integer=True),
                  "subnormal_inputs": protocol.Choice("flush", "normalize"),
                  "stages": protocol.Integer()}
    EXAMPLES = [{"fmt": "fp8_e4m3", "lanes": 4, "stages": 3},
                {"fmt": "fp8_e4m3", "lanes": 3, "mul": "exact", "acc": "kulisch",
                 "stages": 1},
                {"fmt": "fp8_e5m2", "lanes": 1, "acc": "kulisch", "stages": 0}]

    def __init__(self, *, fmt, lanes=4, mul="lmul", acc="fp32", guard_bits=16, out_fmt=None,
                 carry="integer", offset="paper", subnormal_inputs="flush", stages=0):
        stages = check_stages(stages, self.CUT_POINTS)
        lanes, guard_bits, out_fmt = golden_dot.check_params(
            fmt, lanes, mul, acc, guard_bits, out_fmt,
            {"carry": carry, "offset": offset, "subnormal_inputs": subnormal_inputs})
        self.fmt, self.lanes, self.mul, self.acc = fmt, lanes, mul, acc
        self.guard_bits, self.out_fmt, self.stages = guard_bits, out_fmt, stages
        self.carry, self.offset, self.subnormal_inputs = carry, offset, subnormal_inputs
        self.ops_per_cycle = lanes
        beat = data.StructLayout({"a": data.ArrayLayout(fmt.bits, lanes),
                                  "b": data.ArrayLayout(fmt.bits, lanes), "last": 1})
        super().__init__({"i": In(stream.Signature(beat)),
                          "o": Out(stream.Signature(out_fmt.bits))})

    @property
    def latency(self):
        levels = max(self.tree_depth - 1, 0) if self.stages == 3 else 0
        convert = 1 if self.acc == "kulisch" else 0      # the final rounding's own cycle
        return min(self.stages, 2) + levels + 1 + convert

    @property
    def golden(self):
        """``(golden.dot.dot, kwargs)``: ``dot(a, b, **kwargs)`` gives the result of each
        row of `a` and `b` (a vector of any multiple of `lanes` terms)."""
        kwargs = {"fmt": self.fmt, "lanes": self.lanes, "mul": self.mul, "acc": self.acc,
                  "guard_bits": self.guard_bits, "out_fmt": self.out_fmt}
        if self.mul == "lmul":
            kwargs.update(carry=self.carry, offset=self.offset,
                          subnormal_inputs=self.subnormal_inputs)
        return golden_dot.dot, kwargs

    @property
    def tree_depth(self):
        """Adder levels of the tree: ceil(log2(lanes))."""
        return (self.lanes - 1).bit_length()

    def elaborate(self, platform):
        m = Module()
        fmt, lanes = self.fmt, self.lanes
        kulisch = self.acc == "kulisch"
        if kulisch:
            pf = golden_dot.product_format(fmt, mul=self.mul, carry=self.carry,
                                           subnormal_inputs=self.subnormal_inputs)
            lsb, width = golden_dot.kulisch_range(
                fmt, mul=self.mul, carry=self.carry, subnormal_inputs=self.subnormal_inputs,
                guard_bits=self.guard_bits)
        else:
            pf = formats.FP32

        cuts = list(self.CUT_POINTS[:self.stages])
        if "levels" in cuts:
            cuts[cuts.index("levels"):] = [f"level{d}" for d in range(self.tree_depth - 1)]
        # The accumulator takes a beat when its output register is free or being read.
        pipe = Pipeline(m, self.i, None, cuts)

        products = []
        for index in range(lanes):                  # combinational multipliers
            unit = m.submodules[f"lane{index}"] = multiplier_unit(
                self.fmt, self.mul, pf, carry=self.carry, offset=self.offset,
                subnormal_inputs=self.subnormal_inputs)
            m.d.comb += [unit.i.valid.eq(1), unit.o.ready.eq(1),
                         unit.i.payload.a.eq(self.i.payload.a[index]),
                         unit.i.payload.b.eq(self.i.payload.b[index])]
            products.append(unit.o.payload)
        v = pipe.stage("products", last=self.i.payload.last,
                       **{f"p{index}": p for index, p in enumerate(products)})
        products = [v[f"p{index}"] for index in range(lanes)]

        if kulisch:
            terms, flags = zip(*(kulisch_acc.term(m, pf, code, lsb, width, f"k{index}")
                                 for index, code in enumerate(products)))
            total, v = reduce_tree(pipe, terms,
                                  lambda x, y, name: kulisch_acc.add(m, x, y, width, name),
                                  last=v["last"], flags=intcore.wire(
                                      m, functools.reduce(operator.or_, flags), "term_flags"))
        else:
            total, v = reduce_tree(pipe, products,
                                  lambda x, y, name: fpadd.fp_add(m, pf, x, y, name),
                                  last=v["last"])
        v = pipe.stage("tree", total=total, **v)

        if kulisch:
            kulisch_acc.accumulate(
                m, pipe, self.o, v["total"], v["flags"], v["last"], width,
                lambda m, final, flags: kulisch_acc.to_float(m, self.out_fmt, final, flags,
                                                             lsb, "result"))
            pipe.finish()
            return m
        # FP32 accumulator: one register, a one-cycle loop; restarts after each last beat.
        out_valid = Signal(name="out_valid")
        out_code = Signal(self.out_fmt.bits, name="out_code", reset_less=True)
        out_free = intcore.wire(m, ~out_valid | self.o.ready, "out_free")
        first = Signal(init=1, name="first")
        acc = Signal(32, name="acc", reset_less=True)
        result = fpadd.fp_add(m, formats.FP32, Mux(first, 0, acc), v["total"], "acc")
        m.d.comb += pipe.ready.eq(out_free)
        with m.If(pipe.valid & pipe.ready):
            m.d.sync += [acc.eq(result), first.eq(v["last"])]
            with m.If(v["last"]):
                m.d.sync += [out_code.eq(result), out_valid.eq(1)]
            with m.Elif(self.o.ready):
                m.d.sync += out_valid.eq(0)
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out_code)]
        pipe.finish()
        return m
