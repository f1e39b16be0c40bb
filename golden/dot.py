"""Dot products with L-Mul or exact products, bit-exact: the model of hdl/dot.py.

A vector of K = beats × lanes terms streams through `lanes` multipliers, one beat at a
time; each beat's products are reduced by an adder tree and added to an accumulator:

- ``acc="fp32"``: every product is a code of FP32 (L-Mul or the exact product, rounded
  once into FP32 with its policies); the tree adds pairs of FP32 values, each sum rounded
  once (RNE): level by level, ``s[j] = s[2j] + s[2j + 1]``, an odd last value passing to the
  next level unchanged; then ``acc = acc + tree`` (RNE), acc starting at +0 for each vector.
  The result is acc after the vector's last beat (FP32). The order of additions is part of
  the definition.
- ``acc="kulisch"``: every product is exact (an L-Mul value is exact by definition: it is
  never rounded), and so is the sum: a fixed-point accumulator wide enough for every
  product of the format and 2**guard_bits terms. The exact sum is rounded once into
  `out_fmt` (default FP32) at the end of the vector.

Special values: a NaN product, or +Inf and -Inf products in one vector, make the result
NaN; otherwise an Inf product makes it ±Inf (in FP32 arithmetic this is what the adds do;
in the Kulisch accumulator flags carry them). An exact zero sum is +0 in the Kulisch
accumulator; in FP32 it follows the adds (+0 unless every add gives -0: never, as acc
starts at +0).

`golden.ops.add` is the exactly rounded addition of two float codes that the FP32 tree
uses.
"""

import numpy as np

from . import checks, formats, lmul as lmul_mod, ops

__all__ = ["dot", "product_format", "product_codes", "kulisch_range", "tree_sum",
           "check_params", "MULS", "ACCS"]

MULS = ("lmul", "exact")
ACCS = ("fp32", "kulisch")

_U0 = np.uint64(0)


def tree_sum(values, fmt):
    """Adder-tree reduction of the last axis of `values` (codes of `fmt`): pairs are added
    level by level, s[j] = s[2j] + s[2j + 1]; an odd last value passes to the next level."""
    values = np.asarray(values, dtype=np.uint64)
    while values.shape[-1] > 1:
        pairs = values.shape[-1] // 2
        summed = ops.add(values[..., 0:2 * pairs:2], values[..., 1:2 * pairs:2], fmt)
        if values.shape[-1] % 2:
            summed = np.concatenate([summed, values[..., -1:]], axis=-1)
        values = summed
    return values[..., 0]


# --- products ---------------------------------------------------------------------------------

def _lowest_exponent(fmt, mul, subnormal_inputs):
    """Exponent of the leading bit of the smallest nonzero operand that reaches the product."""
    if fmt.subnormals and (mul == "exact" or subnormal_inputs == "normalize"):
        return fmt.emin - fmt.man_bits
    return fmt.emin


def product_format(fmt, *, mul="lmul", carry="integer", subnormal_inputs="flush"):
    """A FloatFormat (IEEE specials) in which every product of two `fmt` operands is exact:
    no rounding, no overflow, no subnormal. Mantissa: m (L-Mul, integer carry), m + 1
    (L-Mul, formula) or 2m + 1 (exact); exponent bits: the fewest that hold the range."""
    m = fmt.man_bits
    man = {"integer": m, "formula": m + 1}[carry] if mul == "lmul" else 2 * m + 1
    low = 2 * _lowest_exponent(fmt, mul, subnormal_inputs)
    high = 2 * fmt.emax + 2             # products are below 2**(2 emax + 3) (two carries)
    for exp_bits in range(fmt.exp_bits + 1, 12):
        bias = (1 << (exp_bits - 1)) - 1
        if 1 - bias <= low and (1 << exp_bits) - 2 - bias >= high and 1 + exp_bits + man <= 64:
            return formats.FloatFormat(exp_bits, man, name=None)
    raise ValueError(f"the products of {fmt} need more than 11 exponent bits")


def product_codes(a, b, fmt, *, mul="lmul", out_fmt, carry="integer", offset="paper",
                  subnormal_inputs="flush"):
    """Product codes of `out_fmt`: golden.lmul.lmul or golden.ops.mul (exact, rounded once
    into out_fmt)."""
    if mul == "lmul":
        return lmul_mod.lmul(a, b, fmt, carry=carry, offset=offset, out_fmt=out_fmt,
                             subnormal_inputs=subnormal_inputs)
    return ops.mul(a, b, fmt, out_fmt)


def kulisch_range(fmt, *, mul="lmul", carry="integer", subnormal_inputs="flush",
                  guard_bits=16):
    """(lsb, width): the accumulator's least significant bit weighs 2**lsb, and `width`
    bits (two's complement) hold the sum of 2**guard_bits products of any value."""
    pf = product_format(fmt, mul=mul, carry=carry, subnormal_inputs=subnormal_inputs)
    lsb = 2 * _lowest_exponent(fmt, mul, subnormal_inputs) - pf.man_bits
    top = 2 * fmt.emax + 3              # every product is below 2**top
    return lsb, top - lsb + guard_bits + 1


# --- the dot product --------------------------------------------------------------------------

def check_params(fmt, lanes, mul, acc, guard_bits, out_fmt, lmul_params):
    """Validate dot parameters; return (lanes, guard_bits, out_fmt). Shared with hdl/dot.py:
    `TypeError` for a wrong type, `ValueError` naming the parameter for a bad value."""
    if not isinstance(fmt, formats.FloatFormat):
        raise TypeError(f"fmt must be a FloatFormat, not {fmt!r}")
    if isinstance(lanes, bool) or not hasattr(type(lanes), "__index__"):
        # Not checks.integer's wording: tests/test_dot_golden.py and tb/test_dot.py match it.
        raise TypeError(f"lanes must be a positive integer, not {lanes!r}")
    lanes = checks.integer("lanes", lanes, lo=1, hi=64)
    checks.choice("mul", mul, MULS)
    checks.choice("acc", acc, ACCS)
    guard_bits = checks.integer("guard_bits", guard_bits, lo=1, hi=32)
    if out_fmt is None:
        out_fmt = formats.FP32
    if not isinstance(out_fmt, formats.FloatFormat):
        raise TypeError(f"out_fmt must be a FloatFormat or None, not {out_fmt!r}")
    if acc == "fp32" and out_fmt != formats.FP32:
        raise ValueError(f"out_fmt must be fp32 (the accumulator's format) with acc='fp32', "
                         f"not {out_fmt}")
    if not out_fmt.has_nan:
        raise ValueError(f"out_fmt {out_fmt} has no NaN")
    if mul == "lmul":
        lmul_mod.check_params(fmt, **lmul_params)
    elif lmul_params != {"carry": "integer", "offset": "paper", "subnormal_inputs": "flush"}:
        raise ValueError("carry, offset and subnormal_inputs apply to mul='lmul' only")
    if acc == "fp32" and (fmt.exp_bits > 8 or fmt.man_bits > 23):
        raise ValueError(f"acc='fp32' needs products of {fmt} to be FP32 codes: fmt must "
                         f"have at most 8 exponent and 23 mantissa bits")
    return lanes, guard_bits, out_fmt


def dot(a, b, fmt, *, lanes=4, mul="lmul", acc="fp32", guard_bits=16, out_fmt=None,
        carry="integer", offset="paper", subnormal_inputs="flush"):
    """Dot products of the rows of `a` and `b` (code arrays of shape (vectors, K)).

    K must be a multiple of `lanes`: beat j holds terms j*lanes .. j*lanes + lanes - 1, term
    i of a beat goes to lane i. See the module docstring for the arithmetic.

    Parameters
    ----------
    a, b : array-like of int, shape (vectors, K)
        Codes of `fmt`.
    fmt : FloatFormat
        Operand format (acc="fp32": at most 8 exponent and 23 mantissa bits).
    lanes : int
        Multipliers per beat, 1..64.
    mul : str
        ``"lmul"`` (golden.lmul.lmul with `carry`, `offset`, `subnormal_inputs`) or
        ``"exact"`` (golden.ops.mul).
    acc : str
        ``"fp32"`` or ``"kulisch"``.
    guard_bits : int
        Kulisch accumulator: exact for vectors of up to 2**guard_bits terms (1..32).
    out_fmt : FloatFormat or None
        Result format: FP32 (the only choice with acc="fp32"); with acc="kulisch" any
        FloatFormat with NaN (default FP32).

    Returns
    -------
    numpy.ndarray of uint64, shape (vectors,)
        Result codes.
    """
    lanes, guard_bits, out_fmt = check_params(
        fmt, lanes, mul, acc, guard_bits, out_fmt,
        {"carry": carry, "offset": offset, "subnormal_inputs": subnormal_inputs})
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be code arrays of the same shape (vectors, K), not "
                         f"{a.shape} and {b.shape}")
    vectors, terms = a.shape
    if terms == 0 or terms % lanes:
        raise ValueError(f"K = {terms} terms must be a positive multiple of lanes = {lanes}")
    kw = {"mul": mul, "carry": carry, "offset": offset, "subnormal_inputs": subnormal_inputs}

    if acc == "fp32":
        products = product_codes(a, b, fmt, out_fmt=formats.FP32, **kw)
        beats = products.reshape(vectors, terms // lanes, lanes)
        total = np.zeros(vectors, dtype=np.uint64)                     # +0
        for beat in range(beats.shape[1]):
            total = ops.add(total, tree_sum(beats[:, beat, :], formats.FP32), formats.FP32)
        return total

    if terms > 1 << guard_bits:
        raise ValueError(f"K = {terms} terms exceed the Kulisch accumulator's 2**guard_bits "
                         f"= {1 << guard_bits}: raise guard_bits")
    pf = product_format(fmt, mul=mul, carry=carry, subnormal_inputs=subnormal_inputs)
    lsb, _ = kulisch_range(fmt, mul=mul, carry=carry, subnormal_inputs=subnormal_inputs,
                           guard_bits=guard_bits)
    products = product_codes(a, b, fmt, out_fmt=pf, **kw)
    sign, sig, exp, nan, inf = pf.decompose(products)
    values = [[(-1 if s else 1) * (int(g) << int(e - lsb)) if g else 0 for s, g, e in zip(*row)]
              for row in zip(sign.tolist(), sig.tolist(), exp.tolist())]
    total = np.array([sum(row) for row in values], dtype=object)
    negative = np.array([t < 0 for t in total.tolist()], dtype=bool)
    mag = np.array([abs(t) for t in total.tolist()], dtype=object)
    code = ops.round_ints(out_fmt, negative, mag, np.full(vectors, lsb, dtype=np.int64))
    pos_inf = (inf & ~sign).any(axis=1)
    neg_inf = (inf & sign).any(axis=1)
    code = np.where(pos_inf | neg_inf, out_fmt._inf_result(neg_inf), code)
    bad = nan.any(axis=1) | (pos_inf & neg_inf)
    return np.where(bad, np.uint64(out_fmt.nan_code), code)
