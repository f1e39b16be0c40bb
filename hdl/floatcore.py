"""Floating-point datapath pieces shared by the float units: unpack, normalize, round, pack.

Every function takes a `golden.formats.FloatFormat` and builds combinational logic in the
given module, so the hardware reads the same format descriptor as the golden model:
field widths, bias, subnormal policy, special-value encoding and overflow policy.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed

__all__ = ["unpack", "leading_zeros", "round_pack", "select_code", "special_codes"]


def unpack(m, fmt, code, name):
    """Split `code` into sign, unbiased exponent, significand and class flags.

    Returns a dict: ``sign``; ``exp`` (signed; exponent of the significand's hidden-bit
    position, so value = sig × 2^(exp − man_bits)); ``sig`` (man_bits + 1 bits, hidden bit
    on top, 0 for subnormals); ``zero`` (±0, and every exponent-0 code when the format
    flushes subnormals); ``inf``; ``nan``.
    """
    e_bits, m_bits = fmt.exp_bits, fmt.man_bits
    man = code[:m_bits]
    exp_field = code[m_bits:m_bits + e_bits]
    sign = code[m_bits + e_bits]
    exp_ones = exp_field == (1 << e_bits) - 1
    exp_zero = exp_field == 0
    if fmt.specials == "ieee":
        nan, inf = exp_ones & (man != 0), exp_ones & (man == 0)
    elif fmt.specials == "fn":
        nan, inf = exp_ones & (man == (1 << m_bits) - 1), Const(0)
    elif fmt.specials == "fnuz":
        nan, inf = code == (1 << (fmt.bits - 1)), Const(0)
    else:
        nan, inf = Const(0), Const(0)
    zero = (exp_zero & (man == 0)) if fmt.subnormals else exp_zero
    hidden = ~exp_zero if fmt.subnormals else Const(1)
    exp = Signal(signed(e_bits + 2), name=f"{name}_exp")
    m.d.comb += exp.eq(Mux(exp_zero, 1, exp_field) - fmt.bias)
    return {"sign": sign, "exp": exp, "sig": Cat(man, hidden),
            "zero": zero & ~nan, "inf": inf, "nan": nan}


def leading_zeros(m, value, name):
    """Number of leading zero bits of `value` (its width when `value` is 0)."""
    width = len(value)
    count = Signal(range(width + 1), name=name)
    m.d.comb += count.eq(width)
    for index in range(width):           # later (higher) bits take priority
        with m.If(value[index]):
            m.d.comb += count.eq(width - 1 - index)
    return count


def special_codes(out_fmt):
    """(NaN code, code for ±Inf results, code for overflowing finite results), unsigned.

    Magnitude codes without the sign; None where the format cannot represent the case.
    Infinite results become Inf, else (saturating formats) max finite, else NaN; finite
    overflow becomes max finite when saturating, else Inf, else NaN.
    """
    nan = out_fmt.nan_code
    if out_fmt.has_inf:
        inf_result = out_fmt.inf_code
    elif out_fmt.overflow == "saturate":
        inf_result = out_fmt.max_code
    else:
        inf_result = nan
    if out_fmt.overflow == "saturate":
        overflow = out_fmt.max_code
    else:
        overflow = out_fmt.inf_code if out_fmt.has_inf else nan
    return nan, inf_result, overflow


def round_pack(m, out_fmt, sign, exp, sig, name):
    """Round the exact value (−1)^sign × sig × 2^(exp − (len(sig) − 1)) into `out_fmt`.

    `sig` must be normalized (top bit set) or zero handled elsewhere; `exp` is the signed
    exponent of its top bit. Rounds to nearest, ties to even, once. With subnormals on,
    results below the normal range are denormalized before rounding; with subnormals off
    they are rounded with an unbounded exponent and then flushed to zero if still below
    the smallest normal. Returns a dict: ``code`` (the full code, sign included, for
    finite results), ``overflow`` (the rounded magnitude exceeds the largest finite value),
    ``underflow_zero`` (the result rounded or flushed to zero).
    """
    m_out = out_fmt.man_bits
    keep = m_out + 1                                  # significand bits kept, hidden included
    width = max(len(sig), keep) + 2                   # room for guard and sticky bits
    sig_ext = Cat(Const(0, width - len(sig)), sig)

    biased = Signal(signed(len(exp) + 2), name=f"{name}_biased")
    m.d.comb += biased.eq(exp + out_fmt.bias)
    if out_fmt.subnormals:
        # Denormalize by 1 − biased (at most keep + 1: beyond that all bits are sticky).
        shift = Signal(range(keep + 2), name=f"{name}_shift")
        with m.If(biased >= 1):
            m.d.comb += shift.eq(0)
        with m.Elif(biased <= -keep):
            m.d.comb += shift.eq(keep + 1)
        with m.Else():
            m.d.comb += shift.eq(1 - biased)
        full = Cat(Const(0, keep + 2), sig_ext) >> shift
        base = Mux(biased >= 1, biased - 1, 0)
    else:
        full = Cat(Const(0, keep + 2), sig_ext)
        base = biased - 1
    total = len(full)
    kept = full[total - keep:]
    guard = full[total - keep - 1]
    sticky = full[:total - keep - 1] != 0
    round_up = guard & (sticky | kept[0])
    rounded = Signal(keep + 1, name=f"{name}_rounded")
    m.d.comb += rounded.eq(kept + round_up)

    # Exponent field and fraction as one integer: a rounding carry moves into the exponent.
    magnitude = Signal(signed(len(biased) + keep + 2), name=f"{name}_magnitude")
    m.d.comb += magnitude.eq((base << m_out) + rounded)
    overflow = magnitude > out_fmt.max_code
    if out_fmt.subnormals:
        underflow_zero = magnitude == 0
    else:
        underflow_zero = magnitude < (1 << m_out)
    mag_bits = out_fmt.bits - 1
    code = Cat(magnitude[:mag_bits], sign)
    return {"code": code, "overflow": overflow, "underflow_zero": underflow_zero}


def select_code(m, out_fmt, *, sign, nan, inf, zero, rounded, name):
    """The output code, by priority: NaN, ±Inf result, exact zero, rounded finite result.

    `nan`, `inf` and `zero` flag results known before rounding (None where the case cannot
    occur); `rounded` is the dict from `round_pack`. Overflow and the signs of zeros follow
    `out_fmt`'s policies (a format without −0 gives +0). Raises `ValueError` if a flag is
    given that `out_fmt` cannot represent (units check this in their constructors).
    """
    nan_code, inf_code, overflow_code = special_codes(out_fmt)
    sign_bit = 1 << (out_fmt.bits - 1)

    def with_sign(magnitude):         # NaN is canonical: it never takes the result's sign
        if magnitude == nan_code:
            return nan_code
        return Mux(sign, sign_bit, 0) | magnitude

    signed_zero = with_sign(0) if out_fmt.specials != "fnuz" else 0
    cases = [
        (nan, _need(nan_code, out_fmt, "NaN", nan)),
        (inf, with_sign(_need(inf_code, out_fmt, "infinite", inf))),
        (zero, signed_zero),
        (rounded["underflow_zero"], signed_zero),
        (rounded["overflow"], with_sign(_need(overflow_code, out_fmt, "overflowing", True))),
    ]
    code = Signal(out_fmt.bits, name=f"{name}_code")
    m.d.comb += code.eq(rounded["code"])
    for flag, value in reversed([case for case in cases if case[0] is not None]):
        with m.If(flag):                 # later statements win: first case has priority
            m.d.comb += code.eq(value)
    return code


def _need(code, out_fmt, what, flag):
    if flag is None:
        return 0
    if code is None:
        raise ValueError(f"out_fmt {out_fmt} cannot represent a {what} result")
    return code
