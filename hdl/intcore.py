"""Integer and fixed-point datapath pieces shared by every unit.

Each function builds combinational logic in the given module `m` and returns a value (a
named signal where the value is used more than once). The fixed-point pieces read their
rounding and overflow policies from `golden.formats.FixedFormat`, so hardware and golden
model agree on what a format means: `convert_fixed` is bit-exact with
``dst.round_exact(*src.decompose(codes))``.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

from golden import checks, formats

__all__ = ["wire", "leading_zeros", "at_least", "add_constant", "shift_right_round",
           "rounding_bias", "shift_right_biased", "fit_fixed", "convert_fixed",
           "shift_add_product", "ROUNDINGS"]

ROUNDINGS = ("rne", "floor", "trunc")


def wire(m, value, name):
    """`value` as a named signal: an expression used more than once must be a signal, or
    Amaranth writes it out (in Verilog and in simulation) once per use."""
    signal = Signal(value.shape(), name=name)
    m.d.comb += signal.eq(value)
    return signal


def leading_zeros(m, value, name):
    """Number of leading zero bits of `value` (its width when `value` is 0).

    A tree of log2(width) levels: each node takes the count of its upper half unless that
    half is all zeros, then half plus the count of its lower half (a priority chain of
    `width` levels would set the critical path of every adder and normalizer).
    """
    width = len(value)
    size = 1 << max(width - 1, 1).bit_length()               # a power of two >= width
    padded = Cat(Const(0, size - width), value)               # zeros below: same count

    def count(bits, path):
        """(all bits zero, leading zeros of bits when not all zero: log2(len) bits), as
        signals (each is used twice)."""
        half = len(bits) // 2
        zero = Signal(name=f"{name}_zero{path}")
        lz = Signal(max(half.bit_length(), 1), name=f"{name}_lz{path}")
        if len(bits) == 2:
            m.d.comb += [zero.eq(~bits[1] & ~bits[0]), lz.eq(~bits[1])]
        else:
            low_zero, low = count(bits[:half], path + "l")
            high_zero, high = count(bits[half:], path + "h")
            m.d.comb += [zero.eq(high_zero & low_zero),
                         lz.eq(Cat(Mux(high_zero, low, high), high_zero))]
        return zero, lz

    zero, lz = count(padded, "")
    result = Signal(range(width + 1), name=name)
    m.d.comb += result.eq(Mux(zero, width, lz))
    return result


def at_least(m, value, const, name):
    """``value >= const`` for a constant, as logic on runs of the constant's bits.

    Yosys maps a comparison operator to a carry chain as long as `value`; against a
    constant, a run of ones in the constant only needs an AND of those bits of `value`, and
    a run of zeros an OR, which ABC packs into a few LUTs. Signed values compare as two's
    complement.
    """
    width = len(value)
    if value.shape().signed:            # offset binary: flip the sign bit, shift the range
        return at_least(m, Cat(value[:width - 1], ~value[width - 1]),
                         const + (1 << (width - 1)), name)
    if const <= 0:
        return Const(1, 1)
    if const >= 1 << width:
        return Const(0, 1)
    value = wire(m, value, f"{name}_value")
    # From the top down, over runs of equal constant bits: gt = value > const on the bits
    # seen so far, eq = equal on them (each a signal: both are used twice).
    gt, eq = Const(0, 1), Const(1, 1)
    top, step = width, 0
    while top > 0:
        bit = (const >> (top - 1)) & 1
        low = top - 1
        while low > 0 and (const >> (low - 1)) & 1 == bit:
            low -= 1
        run = value[low:top]
        if bit:
            eq = wire(m, eq & run.all(), f"{name}_eq{step}")
        else:
            nonzero = wire(m, run.any(), f"{name}_any{step}")
            gt = wire(m, gt | (eq & nonzero), f"{name}_gt{step}")
            eq = wire(m, eq & ~nonzero, f"{name}_eq{step}")
        top, step = low, step + 1
    return wire(m, gt | eq, name)


def add_constant(m, value, constant, width, name):
    """``value + constant`` modulo 2^width, as its own carry chain (a kept signal).

    a + b + constant in one expression becomes one carry chain plus as many LUTs again
    (yosys merges the adds); adding the constant to one operand first, into a signal yosys
    must keep, gives two plain chains, and the chain starts at the constant's lowest one.
    Callers read the result modulo 2^width (it is unsigned; sign-extended `value`).
    """
    extended = Signal(width, name=f"{name}_in")
    m.d.comb += extended.eq(value)
    constant %= 1 << width
    if constant == 0:
        return extended
    low = (constant & -constant).bit_length() - 1       # trailing zeros of the constant
    result = Signal(width, name=name, attrs={"keep": 1})
    m.d.comb += result.eq(Cat(extended[:low], extended[low:] + (constant >> low)))
    return result


def shift_right_round(m, value, amount, rounding, name, stage=None):
    """``value / 2**amount`` rounded to an integer, and the sticky bit.

    Parameters
    ----------
    value : Value
        Signed (two's complement) or unsigned.
    amount : int or Value
        The shift, a non-negative constant or an unsigned signal (any size: shifts beyond
        the width give the rounded value of a number below one half in magnitude).
    rounding : str
        ``"rne"`` (to nearest, ties to even), ``"floor"`` (toward −inf: the plain
        arithmetic shift) or ``"trunc"`` (toward zero).

    stage : callable or None
        For a variable `amount`, pipeline registers inside: ``stage(point, **values)``
        returns `values` registered (as `hdl.pipeline.Pipeline.stage`) and is called at
        point ``"coarse"`` (after the shift by the amount's upper bits, a multiple of 4)
        and ``"fine"`` (after the rest of the shift and the rounding decision, before the
        rounding add). None: all in one cycle.

    Returns ``(rounded, sticky)``: `rounded` has the shape of `value` (the rounded value
    always fits: a shift of one or more halves the range); `sticky` is 1 when any bit
    shifted out was set (the result is inexact). The same rounding as golden's
    FixedFormat.
    """
    checks.choice("rounding", rounding, ROUNDINGS)
    shape = value.shape()
    width = len(value)
    if isinstance(amount, int):
        checks.integer("amount", amount, lo=0)
        amount = Const(min(amount, width + 1), range(width + 2))
    elif (1 << len(amount)) - 1 > width + 1:
        # Beyond width + 1 the result no longer changes: clamp (keeps the shifter small).
        clamped = Signal(range(width + 2), name=f"{name}_amount")
        m.d.comb += clamped.eq(Mux(amount > width + 1, width + 1, amount))
        amount = clamped
    # The value above width + 1 zero bits: after the (arithmetic) shift, the top is the
    # floor of the quotient and the bottom holds every bit shifted out, the first of them
    # (the guard bit) on top.
    extended = Cat(Const(0, width + 1), value)
    if shape.signed:
        extended = extended.as_signed()
    staged = stage is not None and not isinstance(amount, Const)
    if staged:
        # Two steps: nothing is lost in between (the shift never exceeds the zeros below).
        coarse = wire(m, extended >> Cat(Const(0, 2), amount[2:]), f"{name}_coarse")
        v = stage("coarse", shifted=coarse, low=amount[:2])
        shifted = wire(m, v["shifted"] >> v["low"], f"{name}_shifted")
    else:
        shifted = wire(m, extended >> amount, f"{name}_shifted")
    floor = shifted[width + 1:]
    if shape.signed:
        floor = floor.as_signed()
    dropped = shifted[:width + 1]
    sticky = wire(m, dropped != 0, f"{name}_sticky")
    if rounding == "floor":
        up = Const(0, 1)
    elif rounding == "trunc":                  # (the top bit of `shifted`: the sign)
        up = sticky & (shifted[-1] if shape.signed else Const(0, 1))
    else:
        up = dropped[width] & ((dropped[:width] != 0) | floor[0])
    if staged:                                 # the rounding add in a cycle of its own
        v = stage("fine", floor=floor, up=up, sticky=sticky)
        floor, up, sticky = v["floor"], v["up"], v["sticky"]
    rounded = Signal(shape, name=name)
    m.d.comb += rounded.eq(floor + up)
    return rounded, sticky


def rounding_bias(amount, rounding):
    """The constant to add to a value before a plain right shift by `amount` that gives
    the `shift_right_round` result (with the fix-up of `shift_right_biased`): half of the
    dropped weight for ``"rne"``, 0 for ``"floor"``; None for ``"trunc"`` (its bias
    depends on the sign). Folded into an earlier add, it takes the rounding adder off the
    path after that add."""
    checks.choice("rounding", rounding, ROUNDINGS)
    if amount <= 0 or rounding == "floor":
        return 0
    return 1 << (amount - 1) if rounding == "rne" else None


def shift_right_biased(m, biased, amount, rounding, name):
    """``value / 2**amount`` rounded, from ``biased = value + rounding_bias(amount,
    rounding)`` (``"rne"`` or ``"floor"``): the shifted value, its lowest bit cleared on an
    exact tie for ``"rne"`` (the dropped bits of `biased` all zero). Equals
    `shift_right_round` ``(value, amount, rounding)[0]``; no adder. Constant `amount`."""
    if rounding not in ("rne", "floor"):
        raise ValueError(f"rounding must be 'rne' or 'floor' for a biased shift, not "
                         f"{rounding!r}")
    if amount <= 0:
        return biased
    shape = biased.shape()
    floor = biased[amount:]
    floor = floor.as_signed() if shape.signed else floor
    result = Signal(shape, name=name)
    if rounding == "floor":
        m.d.comb += result.eq(floor)
        return result
    tie = wire(m, biased[:amount] == 0, f"{name}_tie")
    m.d.comb += result.eq(Cat(floor[0] & ~tie, floor[1:]))
    if shape.signed:                       # sign-extend the shifted value
        m.d.comb += result[len(floor):].eq(floor[-1].replicate(len(result) - len(floor)))
    return result


def fit_fixed(m, value, fmt, name):
    """The code of integer `value` (already on `fmt`'s grid) in `fmt`, per its overflow
    policy: clamped to the range (``"saturate"``) or its low `fmt.bits` bits (``"wrap"``).

    `value` is signed or unsigned, of any width. Returns `fmt.bits` bits (a two's
    complement code when `fmt` is signed).
    """
    if not isinstance(fmt, formats.FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, not {fmt!r}")
    bits = fmt.bits
    code = Signal(bits, name=name)
    if fmt.overflow == "wrap":
        m.d.comb += code.eq(value[:bits] if len(value) >= bits else value)
        return code
    lo = -(1 << (bits - 1)) if fmt.signed else 0
    hi = (1 << (bits - 1)) - 1 if fmt.signed else (1 << bits) - 1
    above = at_least(m, value, hi + 1, f"{name}_above")
    below = ~at_least(m, value, lo, f"{name}_below_n")
    m.d.comb += code.eq(Mux(above, hi % (1 << bits), Mux(below, lo % (1 << bits), value)))
    return code


def convert_fixed(m, code, src, dst, name):
    """A `src` code converted to `dst`: rounded per ``dst.rounding`` when `dst` has fewer
    fraction bits, then saturated or wrapped per ``dst.overflow``.

    Bit-exact with ``dst.round_exact(*src.decompose(codes))``. Returns `dst.bits` bits.
    """
    for key, fmt in (("src", src), ("dst", dst)):
        if not isinstance(fmt, formats.FixedFormat):
            raise TypeError(f"{key} must be a FixedFormat, not {fmt!r}")
    value = code[:src.bits]
    value = value.as_signed() if src.signed else value.as_unsigned()
    drop = src.frac_bits - dst.frac_bits
    if drop > 0:
        value, _ = shift_right_round(m, value, drop, dst.rounding, f"{name}_rounded")
    elif drop < 0:
        shape = (signed if src.signed else unsigned)(src.bits - drop)
        shifted = Signal(shape, name=f"{name}_shifted")
        m.d.comb += shifted.eq(value << -drop)
        value = shifted
    return fit_fixed(m, value, dst, name)


def shift_add_product(m, a, b, name, *, stages=0, register=None):
    """``a * b`` written out as partial products: `a` gated by each bit of `b` and shifted
    by its place (the top bit weighs -2^(n-1) when `b` is signed), summed pairwise, so
    that synthesis builds it from LUTs and carry chains even where it maps a ``*`` to a
    DSP block. Exact: len(a) + len(b) bits, signed when either operand is.

    Pipelined: a register level (``register(value, name)`` returns `value` registered)
    after each of the first `stages` levels of the adder tree (ceil(log2 len(b)) levels).
    Returns (the product, the stages left over, for the caller to place after it)."""
    width = len(a) + len(b)
    shape = signed(width) if a.shape().signed or b.shape().signed else unsigned(width)
    terms = []
    for i in range(len(b)):
        term = Mux(b[i], a, 0) << i
        terms.append(-term if b.shape().signed and i == len(b) - 1 else term)
    level = 0
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
        level += 1
        if level <= stages:
            terms = [register(term, f"{name}_l{level}_{i}") for i, term in enumerate(terms)]
    product = terms[0][:width]
    return (wire(m, product.as_signed() if shape.signed else product, name),
            max(stages - level, 0))
