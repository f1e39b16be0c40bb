"""Exact floating-point multipliers: one correctly rounded product per cycle.

The golden model is `golden.ops.mul`; the bench is tb/test_fpmul.py.
"""


from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import formats, ops
from . import floatcore, intcore, protocol
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

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": fmt.bits, "b": fmt.bits})))
        Operand pairs.
    o : Out(stream.Signature(out_fmt.bits))
        Product codes, in order, `latency` cycles after their operands when not stalled.
    latency : int
        Cycles from an accepted input to its output (equals `stages`).
    ops_per_cycle : int
        Multiplications per cycle at full throughput (1).
    """

    CUT_POINTS = ("product", "output", "aligned", "normalized", "decoded")
    PARAMETERS = {"fmt": protocol.Format(formats.FloatFormat, example="bf16"),
                  "out_fmt": protocol.Format(formats.FloatFormat, optional=True),
                  "stages": protocol.Integer()}
    EXAMPLES = [{"fmt": "fp8_e4m3", "stages": 0}, {"fmt": "fp8_e5m2", "stages": 3},
                {"fmt": "bf16", "stages": 5}]
    ops_per_cycle = 1

    def __init__(self, *, fmt, out_fmt=None, stages=0):
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
        self.fmt, self.out_fmt, self.stages = fmt, out_fmt, stages
        operands = data.StructLayout({"a": fmt.bits, "b": fmt.bits})
        super().__init__({"i": In(stream.Signature(operands)),
                          "o": Out(stream.Signature(out_fmt.bits))})

    @property
    def latency(self):
        return self.stages

    @property
    def golden(self):
        """``(golden.ops.mul, kwargs)``: the model of this unit's products."""
        return ops.mul, {"fmt": self.fmt, "out_fmt": self.out_fmt}

    def elaborate(self, platform):
        m = Module()
        fmt, out_fmt = self.fmt, self.out_fmt
        pipe = Pipeline(m, self.i, self.o, self.CUT_POINTS[:self.stages])

        a = floatcore.unpack(m, fmt, self.i.payload.a, "a")
        b = floatcore.unpack(m, fmt, self.i.payload.b, "b")
        # `biased`: the exponent of the product's top bit, plus out_fmt's bias.
        v = pipe.stage("decoded", sign=a["sign"] ^ b["sign"],
                       biased=a["exp"] + b["exp"] + (1 + out_fmt.bias),
                       sig_a=a["sig"], sig_b=b["sig"],
                       nan=a["nan"] | b["nan"] | (a["inf"] & b["zero"]) | (a["zero"] & b["inf"]),
                       inf=a["inf"] | b["inf"], zero=a["zero"] | b["zero"])

        # The significand product has its binary point two bits below the top, so its
        # top bit has exponent exp_a + exp_b + 1.
        v = pipe.stage("product", product=v["sig_a"] * v["sig_b"],
                       **{k: v[k] for k in ("sign", "biased", "nan", "inf", "zero")})

        product = v["product"]
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
        rounded = floatcore.round_aligned(m, out_fmt, v["sign"], v, "r")
        code = floatcore.select_code(
            m, out_fmt, sign=v["sign"], rounded=rounded, name="r",
            nan=v["nan"] if fmt.has_nan or fmt.has_inf else None,
            inf=v["inf"] if fmt.has_inf else None, zero=v["zero"])
        v = pipe.stage("output", code=code)
        pipe.finish(v["code"])
        return m
