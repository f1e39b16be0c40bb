"""Operand sets for benches: exhaustive pairs, directed special values, random pairs.

Shared by every bench of a two-operand unit, and (`input_codes`) of the one-operand
function units. Codes are NumPy uint64 arrays.
"""

import numpy as np

__all__ = ["exhaustive_pairs", "exhaustive_lanes", "float_directed", "random_float_pairs", "posit_directed",
           "random_posit_pairs", "operand_pairs", "fixed_edges", "input_codes"]


def exhaustive_pairs(bits):
    """Every (a, b) pair of `bits`-bit codes: 4^bits pairs, `a` varying slowest."""
    if bits > 10:
        raise ValueError(f"bits must be at most 10 for an exhaustive run, not {bits}")
    codes = np.arange(1 << bits, dtype=np.uint64)
    return np.repeat(codes, codes.size), np.tile(codes, codes.size)


def exhaustive_lanes(bits, lanes, rng):
    """Every (a, b) pair of `bits`-bit codes through each of `lanes` lanes, in a different
    random order per lane: two arrays of shape (4^bits, lanes)."""
    pa, pb = exhaustive_pairs(bits)
    order = [rng.permutation(pa.size) for _ in range(lanes)]
    return (np.stack([pa[o] for o in order], axis=1),
            np.stack([pb[o] for o in order], axis=1))


def float_directed(fmt):
    """Directed codes of a FloatFormat: zeros, subnormal and normal edges, max, Inf, NaNs,
    one and its neighbours, and the all-ones mantissa at each end; both signs."""
    m_bits = fmt.man_bits
    bias_one = fmt.bias << m_bits if fmt.bias < (1 << fmt.exp_bits) else 0
    magnitudes = {
        0, 1, 2, (1 << m_bits) - 1, 1 << m_bits, (1 << m_bits) + 1,   # subnormal/normal edge
        (2 << m_bits) - 1, bias_one, bias_one + 1, bias_one - 1,       # around 1.0
        fmt.max_code, fmt.max_code - 1,
    }
    for code in (fmt.inf_code, fmt.nan_code):
        if code is not None:
            magnitudes.add(code & ((1 << (fmt.bits - 1)) - 1))
    if fmt.specials == "ieee":                                         # signalling NaN too
        magnitudes.add((((1 << fmt.exp_bits) - 1) << m_bits) | 1)
    sign = 1 << (fmt.bits - 1)
    codes = sorted({c for mag in magnitudes if 0 <= mag < sign for c in (mag, mag | sign)})
    return np.array(codes, dtype=np.uint64)


def random_float_pairs(fmt, count, rng):
    """`count` random pairs of codes: half uniform over all codes (specials included),
    half with exponent sums steered to the overflow and underflow boundaries."""
    half = count // 2
    a = rng.integers(0, 1 << fmt.bits, size=count, dtype=np.uint64)
    b = rng.integers(0, 1 << fmt.bits, size=count, dtype=np.uint64)
    # Steer the second half: pick b's exponent field so that the product exponent lands
    # within a few binades of the largest or the smallest (subnormal) exponent.
    m_bits, e_max_field = fmt.man_bits, (1 << fmt.exp_bits) - 1
    a_exp = ((a[half:] >> np.uint64(m_bits)) & np.uint64(e_max_field)).astype(np.int64)
    high = fmt.emax + fmt.bias + fmt.bias          # exp_a + exp_b + bias = emax + bias
    low = fmt.emin + fmt.bias - m_bits - 2 + fmt.bias
    target = np.where(rng.random(count - half) < 0.5, high, low)
    target = target + rng.integers(-2, 3, size=count - half)
    b_exp = np.clip(target - a_exp, 0, e_max_field).astype(np.uint64)
    keep = b[half:] & ~(np.uint64(e_max_field) << np.uint64(m_bits))
    b[half:] = keep | (b_exp << np.uint64(m_bits))
    return a, b


def posit_directed(fmt):
    """Directed codes of a PositFormat: 0, NaR, ±minpos, ±maxpos, ±1, their neighbours,
    ±useed**k (the first code of each regime run) and its neighbours, and the codes that
    hold the longest fraction (just above 1 and just below 2)."""
    n = fmt.n
    mask = (1 << n) - 1
    body = 1 << (n - 1)
    one = 1 << (n - 2)
    magnitudes = {1, 2, 3, body - 1, body - 2, body - 3, one - 1, one, one + 1,
                  one + (one >> 1) - 1, one + (one >> 1)}
    for run in range(1, n - 1):                 # regime runs of ones (>= 1) and zeros (< 1)
        ones = ((1 << run) - 1) << (n - 1 - run)
        zeros = 1 << (n - 2 - run)
        for base in (ones, zeros):
            magnitudes.update({base - 1, base, base + 1})
    codes = {c for mag in magnitudes if 0 < mag < body for c in (mag, (-mag) & mask)}
    codes |= {0, fmt.nar_code}
    return np.array(sorted(codes), dtype=np.uint64)


def random_posit_pairs(fmt, count, rng):
    """`count` random pairs of posit codes: a quarter uniform over all codes; a quarter
    with b near -a (cancelling sums, long normalization shifts), a quarter with b near a
    (equal scales: carries and ties), and a quarter of long regimes on both sides
    (products and sums at the saturation boundaries, tapered precision)."""
    n, mask = fmt.n, np.uint64((1 << fmt.n) - 1)
    a = rng.integers(0, 1 << n, size=count, dtype=np.uint64)
    b = rng.integers(0, 1 << n, size=count, dtype=np.uint64)
    q = count // 4
    noise = rng.integers(0, 1 << max(n // 3, 1), size=count, dtype=np.uint64)
    b[q:2 * q] = ((np.uint64(0) - a[q:2 * q]) ^ noise[q:2 * q]) & mask
    b[2 * q:3 * q] = (a[2 * q:3 * q] ^ noise[2 * q:3 * q]) & mask
    for operand in (a, b):                      # a run of equal bits after the sign
        run = rng.integers(n // 2, n, size=count - 3 * q).astype(np.uint64)
        ones = rng.integers(0, 2, size=run.size).astype(bool)
        rand = operand[3 * q:] & ((np.uint64(1) << (np.uint64(n - 1) - run)) - np.uint64(1))
        high = (((np.uint64(1) << run) - np.uint64(1)) << (np.uint64(n - 1) - run))
        body = np.where(ones, high | rand, rand)
        sign = rng.integers(0, 2, size=run.size).astype(bool)
        operand[3 * q:] = np.where(sign, (np.uint64(0) - body) & mask, body)
    return a, b


def operand_pairs(fmt, mode, rng):
    """Operand pairs of `fmt` (FloatFormat or PositFormat) for `mode`: ``"exhaustive"`` or
    ``"random:N"`` (N random pairs plus every pair of directed values)."""
    if mode == "exhaustive":
        return exhaustive_pairs(fmt.bits)
    kind, _, count = mode.partition(":")
    if kind != "random" or not count.isdigit():
        raise ValueError(f"mode must be 'exhaustive' or 'random:N', not {mode!r}")
    posit = hasattr(fmt, "es")
    directed = posit_directed(fmt) if posit else float_directed(fmt)
    da, db = np.repeat(directed, directed.size), np.tile(directed, directed.size)
    ra, rb = (random_posit_pairs if posit else random_float_pairs)(fmt, int(count), rng)
    return np.concatenate([da, ra]), np.concatenate([db, rb])


def fixed_edges(bits, steps):
    """Codes at the edges of a `bits`-bit fixed-point code space: 0, ±1, the range ends and
    their neighbours, and every multiple of each step in `steps` (segment and integer
    boundaries: powers of two) with its two neighbours, in both signs (modulo 2^bits);
    a step with more than 2^14 multiples is skipped (random codes cover it)."""
    mask = (1 << bits) - 1
    half = 1 << (bits - 1)
    codes = {0, 1, mask, half - 1, half, half + 1, half - 2}
    for step in steps:
        if step < 1 or (1 << bits) // step > 1 << 14:
            continue
        for base in range(0, 1 << bits, step):
            codes.update({(base - 1) & mask, base & mask, (base + 1) & mask})
    return np.array(sorted(codes), dtype=np.uint64)


def input_codes(unit, mode, rng):
    """Input codes of a one-operand unit (``unit.fmt``, a FixedFormat) for `mode`:
    ``"exhaustive"`` (every code, up to 20 bits) or ``"random:N"`` (N random codes plus
    `fixed_edges` at the unit's ``edge_steps``, default its integer boundaries)."""
    bits = unit.fmt.bits
    if mode == "exhaustive":
        if bits > 20:
            raise ValueError(f"an exhaustive run needs at most 20 input bits, not {bits}")
        return np.arange(1 << bits, dtype=np.uint64)
    kind, _, count = mode.partition(":")
    if kind != "random" or not count.isdigit():
        raise ValueError(f"mode must be 'exhaustive' or 'random:N', not {mode!r}")
    steps = getattr(unit, "edge_steps", (1 << unit.fmt.frac_bits,))
    random = rng.integers(0, 1 << bits, size=int(count), dtype=np.uint64)
    return np.concatenate([fixed_edges(bits, steps), random])
