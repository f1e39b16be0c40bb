"""The exact (Kulisch) accumulator: terms in, one rounding out. It serves the float dot
products (`hdl.dot.Dot`, the MAC arrays' FP PEs) and, as the posit quire, `hdl.posit.PositDot`.

An exact product code (of `golden.dot.product_format`) becomes a two's complement term of
a fixed-point register whose least significant bit weighs 2**lsb and which is `width` bits
wide (`golden.dot.kulisch_range`: room for 2**guard_bits products of any value, so the
sums never wrap). NaN, +Inf and -Inf products do not enter the sum: they set
flags (``Cat(nan, pos_inf, neg_inf)``) that are ORed alongside it. At the end, the sum and
its flags are rounded once into a float format. The golden model is `golden.dot.dot` with
``acc="kulisch"``; users are the dot-product units and the MAC arrays' FP PEs.

`term`, `add` and `to_float` are combinational and add their logic to module `m`;
`accumulate` builds the accumulator's registers and its output stage.
"""

from amaranth.hdl import Cat, Mux, Signal

from . import floatcore, fpadd, intcore

__all__ = ["FLAGS", "term", "add", "to_float", "accumulate"]

FLAGS = 3          # NaN, +Inf, -Inf seen


def term(m, pf, code, lsb, width, name):
    """The accumulator term of product code `code` (FloatFormat `pf`, whose every value
    lies on the 2**lsb grid and below 2**(lsb + width - 1)): (term, flags), the
    product's value in units of 2**lsb (`width` bits, two's complement; 0 for zero, NaN
    and Inf) and its `FLAGS` flags."""
    u = floatcore.unpack(m, pf, code, name)
    # value = sig * 2^(exp - man_bits) = (sig << shift) * 2^lsb
    shift = Signal(range(width), name=f"{name}_shift")
    m.d.comb += shift.eq(u["exp"] - pf.man_bits - lsb)
    aligned = intcore.wire(m, (u["sig"] << shift)[:width], f"{name}_aligned")
    finite = ~(u["zero"] | u["inf"] | u["nan"])
    value = Signal(width, name=f"{name}_term")
    m.d.comb += value.eq(Mux(finite, Mux(u["sign"], -aligned, aligned), 0))
    flags = intcore.wire(m, Cat(u["nan"], u["inf"] & ~u["sign"], u["inf"] & u["sign"]),
                         f"{name}_flags")
    return value, flags


def add(m, x, y, width, name):
    """``x + y`` modulo 2**width (the accumulator's add; exact within its range)."""
    return intcore.wire(m, (x + y)[:width], name)


def to_float(m, out_fmt, total, flags, lsb, name):
    """The code of `out_fmt` for the exact sum `total` (two's complement, in units of
    2**lsb) with its `flags`, rounded once (RNE, out_fmt's policies): NaN if a NaN was
    seen or both infinities; else ±Inf if one was; an exact zero is +0."""
    rounded, negative, zero = fpadd.fixed_to_float(m, out_fmt, total.as_signed(), lsb,
                                                   f"{name}_round")
    nan = flags[0] | (flags[1] & flags[2])
    inf = flags[1] | flags[2]
    # An Inf result takes the sign of the Inf products.
    sign = intcore.wire(m, Mux(inf, flags[2], negative & ~zero), f"{name}_sign")
    return floatcore.select_code(m, out_fmt, sign=sign, rounded=rounded, nan=nan, inf=inf,
                                 zero=zero, name=name)


def accumulate(m, pipe, o, total, flags, last, width, result, name="acc"):
    """The accumulator of a dot-product unit whose beats leave `pipe` (a `Pipeline`
    without a stream output) as the exact sum `total` of their terms (`width` bits, two's
    complement), their `flags` and the ``last`` bit that ends a vector.

    One register and one add in a one-cycle loop, restarting after each last beat. A
    vector's sum waits in a register of its own while ``result(m, sum, flags)`` rounds it
    into the output code (the conversion has its own cycle, out of the loop), then in the
    output register, which drives stream `o`. Back-pressure from `o` stops `pipe`.
    Latency: two cycles from the last beat leaving `pipe` to `o`."""
    out_valid = Signal(name="out_valid")
    out_code = Signal(len(o.payload), name="out_code", reset_less=True)
    out_free = intcore.wire(m, ~out_valid | o.ready, "out_free")
    first = Signal(init=1, name="first")
    acc = Signal(width, name=name, reset_less=True)
    acc_flags = Signal(len(flags), name=f"{name}_flags", reset_less=True)
    acc_next = add(m, Mux(first, 0, acc), total, width, f"{name}_next")
    flags_next = intcore.wire(m, Mux(first, 0, acc_flags) | flags, "flags_next")
    final = Signal(width, name="final_sum", reset_less=True)
    final_flags = Signal(len(flags), name="final_flags", reset_less=True)
    final_valid = Signal(name="final_valid")
    final_free = intcore.wire(m, ~final_valid | out_free, "final_free")
    code = result(m, final, final_flags)
    m.d.comb += pipe.ready.eq(final_free)
    with m.If(out_free):
        m.d.sync += [out_code.eq(code), out_valid.eq(final_valid)]
    with m.If(final_free):
        m.d.sync += [final.eq(acc_next), final_flags.eq(flags_next),
                     final_valid.eq(pipe.valid & last)]
    with m.If(pipe.valid & pipe.ready):
        m.d.sync += [acc.eq(acc_next), acc_flags.eq(flags_next), first.eq(last)]
    m.d.comb += [o.valid.eq(out_valid), o.payload.eq(out_code)]
