"""Floating-point addition and fixed-to-float conversion, combinational, rounded once.

Used by the dot-product units (adder trees, FP32 accumulators, the Kulisch accumulator's
final rounding) and by every later unit that adds floats or turns a fixed-point sum into
a float. The golden models are `golden.ops.add` and `golden.dot.dot`.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed

from . import floatcore, intcore

__all__ = ["fp_add", "fixed_to_float"]


def fp_add(m, fmt, x, y, name):
    """Combinational adder of two codes of `fmt`, rounded once (RNE): `golden.ops.add`.

    The operand of larger magnitude is aligned with three extra bits (guard, round and a
    sticky bit that collects everything shifted out), added or subtracted, normalized by
    a leading-zero count and rounded (`floatcore.round_aligned`, which also handles
    overflow). The normalizing shift stops at the smallest exponent: a subnormal sum is
    exact and comes out on the subnormal grid, so no second (denormalizing) shifter is
    needed. `fmt` must have subnormals (the accumulator format, FP32, does); raises
    `ValueError` otherwise. Returns the result code (a signal).
    """
    if not fmt.subnormals:
        raise ValueError(f"fp_add needs a format with subnormals, not {fmt}")
    bits, mb, eb = fmt.bits, fmt.man_bits, fmt.exp_bits
    x, y = intcore.wire(m, x, f"{name}_x"), intcore.wire(m, y, f"{name}_y")
    swap = intcore.wire(m, y[:bits - 1] > x[:bits - 1], f"{name}_swap")
    big = intcore.wire(m, Mux(swap, y, x), f"{name}_big")
    small = intcore.wire(m, Mux(swap, x, y), f"{name}_small")
    ub = floatcore.unpack(m, fmt, big, f"{name}_b")
    us = floatcore.unpack(m, fmt, small, f"{name}_s")
    width = mb + 4                                   # hidden bit, fraction, G, R, S
    d = intcore.wire(m, ub["exp"] - us["exp"], f"{name}_d")    # >= 0: |big| >= |small|
    dc = Signal(range(width + 1), name=f"{name}_shift")
    m.d.comb += dc.eq(Mux(d > width, width, d))
    small_ext = intcore.wire(m, Cat(Const(0, 3), us["sig"]), f"{name}_small_ext")
    # Sticky: a one among the dc bits shifted out, i.e. fewer trailing zeros than dc
    # (counted beside the shift, not after it).
    tz = intcore.leading_zeros(m, small_ext[::-1], f"{name}_tz")
    aligned = intcore.wire(m, (small_ext >> dc) | (tz < dc), f"{name}_aligned")
    big_ext = Cat(Const(0, 3), ub["sig"])
    subtract = intcore.wire(m, ub["sign"] ^ us["sign"], f"{name}_subtract")
    total = Signal(width + 1, name=f"{name}_sum")
    m.d.comb += total.eq(Mux(subtract, big_ext - aligned, big_ext + aligned))
    lz = intcore.leading_zeros(m, total, f"{name}_lz")
    # total's top bit has the exponent field of big, plus one (subnormal big: field 1).
    field_big = intcore.wire(m, Mux(ub["sig"][mb], big[mb:mb + eb], 1), f"{name}_field_big")
    # Shift at most down to the smallest exponent (field 1).
    shift = Signal(range(width + 2), name=f"{name}_norm_shift")
    m.d.comb += shift.eq(Mux(lz > field_big, field_big, lz))
    normalized = Signal(width + 1, name=f"{name}_norm")
    m.d.comb += normalized.eq(total << shift)
    # The top bit is clear only after a stopped shift: a subnormal result, field 0.
    field = Signal(eb + 1, name=f"{name}_field")
    m.d.comb += field.eq(Mux(normalized[width], field_big + 1 - shift, 0))
    zero = intcore.wire(m, total == 0, f"{name}_zero")
    sign = intcore.wire(m, Mux(zero, ub["sign"] & us["sign"], ub["sign"]), f"{name}_sign")
    aligned = floatcore.aligned_fields(m, fmt, field, normalized[4:width], normalized[3],
                                       normalized[:3] != 0, name)
    rounded = floatcore.round_aligned(m, fmt, sign, aligned, name)
    nan = ub["nan"] | us["nan"] | (ub["inf"] & us["inf"] & subtract)
    return floatcore.select_code(m, fmt, sign=sign, nan=nan if fmt.has_nan else None,
                                 inf=ub["inf"] if fmt.has_inf else None, zero=zero,
                                 rounded=rounded, name=f"{name}_r")


def fixed_to_float(m, fmt, value, lsb, name):
    """The two's complement fixed-point `value` (weight of bit 0: 2^lsb) rounded once into
    `fmt`: returns the dict of `floatcore.round_pack` and the sign and zero flags."""
    width = len(value)
    negative = value[width - 1]
    magnitude = intcore.wire(m, Mux(negative, -value, value)[:width], f"{name}_mag")
    lz = intcore.leading_zeros(m, magnitude, f"{name}_lz")
    normalized = Signal(width, name=f"{name}_norm")
    m.d.comb += normalized.eq(magnitude << lz)
    exp = Signal(signed(max(width, abs(lsb) + width).bit_length() + 2), name=f"{name}_exp")
    m.d.comb += exp.eq(lsb + width - 1 - lz)
    zero = intcore.wire(m, magnitude == 0, f"{name}_zero")
    rounded = floatcore.round_pack(m, fmt, negative, exp, normalized, name)
    return rounded, negative, zero
