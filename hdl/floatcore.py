"""Floating-point datapath pieces shared by the float units: unpack, normalize, round, pack.

Every function takes a `golden.formats.FloatFormat` and builds combinational logic in the
given module, so the hardware reads the same format descriptor as the golden model:
field widths, bias, subnormal policy, special-value encoding and overflow policy.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed

from . import intcore

__all__ = ["unpack", "align", "aligned_fields", "round_aligned", "round_pack",
           "select_code", "special_codes"]


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
    exp_zero, exp_ones = exponent_extremes(m, exp_field, name)
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
    return {"sign": sign, "exp": exp, "sig": Cat(man, hidden), "exp_zero": exp_zero,
            "zero": zero & ~nan, "inf": inf, "nan": nan}


def exponent_extremes(m, field, name):
    """(all zeros, all ones) of an exponent field, as two 1-bit signals.

    Up to 5 bits each test is one LUT. A wider field is cut into chunks of up to 4 bits,
    and both tests share one "all bits of the chunk are equal" LUT4 per chunk (a kept
    signal: synthesis would split it back into the two trees), then the chunks' top bits
    must all equal the field's top bit, which says which extreme it is. On ECP5 this took a
    BF16 L-Mul unit from 120 to 116 LUT4 sites (and FP32 from 359 to 345).
    """
    width = len(field)
    if width <= 5:
        return (intcore.wire(m, field == 0, f"{name}_exp_zero"),
                intcore.wire(m, field.all(), f"{name}_exp_ones"))
    chunks = -(-width // 4)
    same = Const(1, 1)
    for index in range(chunks):
        chunk = field[index * width // chunks:(index + 1) * width // chunks]
        equal = Signal(name=f"{name}_exp_same{index}", attrs={"keep": 1})
        m.d.comb += equal.eq((chunk ^ chunk[-1].replicate(len(chunk))) == 0)
        same = same & equal
        if index < chunks - 1:
            same = same & (chunk[-1] == field[-1])
    same = intcore.wire(m, same, f"{name}_exp_same")
    return (intcore.wire(m, same & ~field[-1], f"{name}_exp_zero"),
            intcore.wire(m, same & field[-1], f"{name}_exp_ones"))


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


def align(m, out_fmt, biased, sig, name):
    """First half of rounding `sig` × 2^(biased − out_fmt.bias − (len(sig) − 1)) into
    `out_fmt`.

    `sig` must be normalized (top bit set), or zero handled elsewhere; `biased` is the
    signed exponent of its top bit plus `out_fmt.bias` (units add the bias early, off the
    critical path). The significand is cut to the result's precision
    (denormalized first for subnormal results when `out_fmt` has subnormals), and the
    exponent field and the kept fraction form one integer ``pre`` (so a rounding carry
    moves into the exponent). Returns a dict of small signals that `round_aligned`
    finishes: ``pre``, ``guard``, ``sticky``, ``lsb`` and the comparisons of ``pre`` with
    the overflow and underflow thresholds; a unit may register them between the halves.
    """
    m_out = out_fmt.man_bits
    keep = m_out + 1                                  # significand bits kept, hidden included
    width = max(len(sig), keep) + 2                   # room for guard and sticky bits
    sig_ext = Cat(Const(0, width - len(sig)), sig)

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
        field = Mux(biased >= 1, biased, 0)      # a denormalized result has field 0
    else:
        full = Cat(Const(0, keep + 2), sig_ext)
        field = biased                           # may be < 1: flushed after rounding
    total = len(full)
    kept = full[total - keep:]
    # The kept bits' top (hidden) bit is 1 exactly when the field is nonzero, so exponent
    # field and fraction join by concatenation; no adder is needed.
    return aligned_fields(m, out_fmt, field, kept[:m_out], full[total - keep - 1],
                          full[:total - keep - 1] != 0, name)


def aligned_fields(m, out_fmt, field, fraction, guard, sticky, name):
    """The dict of `align` from a result already on `out_fmt`'s grid: its exponent field
    (signed; 0 for a subnormal result, below 1 only for a result to flush), the
    `out_fmt.man_bits` fraction bits kept, the guard bit and the sticky bit."""
    m_out = out_fmt.man_bits
    pre = Signal(signed(len(field) + m_out + 1), name=f"{name}_pre")
    m.d.comb += pre.eq(Cat(fraction, field).as_signed())
    # Thresholds on `pre`, so that only an increment is left after rounding:
    # overflow iff pre + up > max_code; underflow iff pre + up == 0 (subnormals) or
    # pre + up < 2^m_out (flush after rounding).
    low = 0 if out_fmt.subnormals else (1 << m_out) - 1
    return {"pre": pre, "guard": guard, "sticky": sticky, "lsb": fraction[0],
            "above_max": pre > out_fmt.max_code, "at_max": pre == out_fmt.max_code,
            "below_low": pre < low, "at_low": pre == low}


def round_aligned(m, out_fmt, sign, aligned, name):
    """Second half of rounding: round to nearest, ties to even, and flag the result.

    Returns a dict: ``code`` (the full code, sign included, for finite results),
    ``overflow`` (the rounded magnitude exceeds the largest finite value),
    ``underflow_zero`` (the result rounded, or was flushed, to zero).
    """
    up = aligned["guard"] & (aligned["sticky"] | aligned["lsb"])
    magnitude = Signal(len(aligned["pre"]), name=f"{name}_magnitude")
    m.d.comb += magnitude.eq(aligned["pre"] + up)
    overflow = aligned["above_max"] | (aligned["at_max"] & up)
    underflow_zero = aligned["below_low"] | (aligned["at_low"] & ~up)
    code = Cat(magnitude[:out_fmt.bits - 1], sign)
    return {"code": code, "overflow": overflow, "underflow_zero": underflow_zero}


def round_pack(m, out_fmt, sign, exp, sig, name):
    """Round the exact value (−1)^sign × sig × 2^(exp − (len(sig) − 1)) into `out_fmt`:
    `align` then `round_aligned` with no register between them.

    Rounds once, to nearest, ties to even. With subnormals on, results below the normal
    range are denormalized before rounding; with subnormals off they are rounded with an
    unbounded exponent and then flushed to zero if still below the smallest normal.
    """
    biased = Signal(signed(len(exp) + 2), name=f"{name}_biased")
    m.d.comb += biased.eq(exp + out_fmt.bias)
    return round_aligned(m, out_fmt, sign, align(m, out_fmt, biased, sig, name), name)


def select_code(m, out_fmt, *, sign, nan, inf, zero, rounded, name):
    """The output code, by priority: NaN, ±Inf result, exact zero or rounded to zero,
    overflow, else the rounded finite code.

    `nan`, `inf` and `zero` flag results known before rounding (None where the case cannot
    occur); `rounded` is the dict of `round_aligned` (``code``, ``overflow``,
    ``underflow_zero``). Overflow and the signs of zeros follow `out_fmt`'s policies (a
    format without −0 gives +0; NaN is canonical, without the result's sign). Written as
    an AND-OR of one-hot class flags with the constant codes, which maps to fewer LUTs
    than a chain of multiplexers. Raises `ValueError` if a flag is given that `out_fmt`
    cannot represent (units check this in their constructors).
    """
    nan_code, inf_code, overflow_code = special_codes(out_fmt)
    sign_bit = 1 << (out_fmt.bits - 1)
    # (flag, constant code, whether it takes the result's sign).
    classes = []
    if nan is not None:
        classes.append((nan, _need(nan_code, out_fmt, "NaN"), False))
    if inf is not None:
        code = _need(inf_code, out_fmt, "infinite")
        classes.append((inf, code, code != nan_code))
    classes.append((zero | rounded["underflow_zero"], 0, out_fmt.specials != "fnuz"))
    code = _need(overflow_code, out_fmt, "overflowing")
    classes.append((rounded["overflow"], code, code != nan_code))
    taken = Const(0, 1)
    forced = Const(0, out_fmt.bits)
    signed_class = Const(0, 1)
    for index, (flag, code, takes_sign) in enumerate(classes):
        flag = intcore.wire(m, flag, f"{name}_flag{index}")
        selected = intcore.wire(m, flag & ~taken, f"{name}_class{index}")
        taken = intcore.wire(m, taken | flag, f"{name}_taken{index}")
        forced = forced | Mux(selected, code, 0)
        if takes_sign:
            signed_class = signed_class | selected
    out = Signal(out_fmt.bits, name=f"{name}_code")
    m.d.comb += out.eq((rounded["code"] & (~taken).replicate(out_fmt.bits)) | forced
                       | Mux(signed_class & sign, sign_bit, 0))
    return out


def _need(code, out_fmt, what):
    if code is None:
        raise ValueError(f"out_fmt {out_fmt} cannot represent a {what} result")
    return code
