"""hdl/posit.py against golden.ops.

PositMul and PositAdd: every operand pair for n in
{4, 5, 6, 8} and every es from 0 to 2 (es <= n - 3), and on 200,000 random pairs plus every
pair of directed values (tb.vectors.posit_directed: 0, NaR, ±minpos, ±maxpos, ±1, the
codes next to them and at every regime boundary) for posit(16,1), posit(16,2) and
posit(32,2); random pairs are steered to cancellation, equal scales and long regimes
(tb.vectors.random_posit_pairs).

PositDot against golden.ops.quire_dot, vectors of 1..8 beats at random, with the
operand sets of `dot_operands`: every posit8 pair through every lane, random vectors,
vectors that cancel to exactly zero, and vectors that only a quire gets right (an FP32
accumulator rounds them differently: the bench checks that it does for most of them).

The operand sets run on the fast path (`tb.harness.run_fast`: random stalls on both sides,
compared with golden on whole arrays). `test_posit_cocotb` runs one unit through the cocotb
bench below so that the path stays tested; under ``SIM=icarus`` every case runs there.
"""

import os

import cocotb
import numpy as np
import pytest

from golden import ops
from tb import dotbench, harness, stream, vectors

EXHAUSTIVE = [(n, es) for n in (4, 5, 6, 8) for es in range(3) if es <= n - 3]
RANDOM = [(16, 1), (16, 2), (32, 2)]
# Pipeline registers per case: every cut point is used somewhere.
STAGES = {"positmul": [0, 1, 3, 6], "positadd": [0, 2, 5, 7]}


def _cases():
    cases = []
    for unit in ("positmul", "positadd"):
        choices = STAGES[unit]
        for index, (n, es) in enumerate(EXHAUSTIVE):
            cases.append((unit, n, es, choices[index % len(choices)], "exhaustive"))
        for index, (n, es) in enumerate(RANDOM):
            cases.append((unit, n, es, choices[(index + 1) % len(choices)], "random:200000"))
    # The multiplier in LUTs (partial products with registers in the adder tree); on the
    # MULT18X18D model: tb/test_dsp.py.
    cases += [("positmul", 16, 1, 6, "random:200000", "lut"),
              ("positmul", 8, 2, 2, "exhaustive", "fabric")]
    return cases


def _case_id(case):
    return f"{case[0]}-p{case[1]}_{case[2]}-s{case[3]}" + (f"-{case[5]}" if case[5:] else "")


@pytest.mark.parametrize("case", _cases(), ids=_case_id)
def test_posit_unit(case):
    unit, n, es, stages, mode, *multiplier = case
    params = {"n": n, "es": es, "stages": stages}
    if multiplier:
        params["multiplier"] = multiplier[0]
    harness.run_fast(unit, params, mode,
                     what="sum" if unit == "positadd" else "product",
                     cocotb_module="tb.test_posit_units")


def test_posit_cocotb():
    """One unit through the cocotb bench (its driver also drops valid while an item waits)."""
    harness.run_bench("positadd", {"n": 5, "es": 1, "stages": 2}, "tb.test_posit_units",
                      extra_env={"NNRTL_VECTORS": "exhaustive"})


@pytest.mark.parametrize("params, exc, message", [
    ({"n": 2, "es": 0}, ValueError, r"n must be in 3\.\.32, not 2"),
    ({"n": 33, "es": 0}, ValueError, r"n must be in 3\.\.32, not 33"),
    ({"n": 6, "es": 4}, ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 3 for n=6, not 4"),
    ({"n": 8.0, "es": 0}, TypeError, r"n must be an integer, not 8\.0"),
    ({"n": 8, "es": 1, "stages": 8}, ValueError, r"stages must be in 0\.\.7, not 8"),
])
def test_bad_parameters_are_rejected_before_elaboration(params, exc, message):
    unit = "positadd"
    with pytest.raises(exc, match=message):
        harness.run_fast(unit, params)


# --- PositDot ----------------------------------------------------------------------------------

def _random_codes(fmt, shape, rng):
    """Random codes, NaR excluded (NaR vectors are made on purpose), a few directed."""
    codes = rng.integers(0, 1 << fmt.n, size=shape, dtype=np.uint64)
    directed = vectors.posit_directed(fmt)
    directed = directed[directed != fmt.nar_code]
    codes = np.where(rng.random(shape) < 0.05, rng.choice(directed, size=shape), codes)
    return np.where(codes == fmt.nar_code, np.uint64(0), codes)


def _negate(fmt, codes):
    return (~np.asarray(codes, dtype=np.uint64) + np.uint64(1)) & np.uint64((1 << fmt.n) - 1)


def dot_operands(fmt, lanes, mode, rng, longest):
    """(a, b, lengths): beats (beats, lanes) of codes and the vector lengths in beats.

    ``"exhaustive"``: every pair of codes through every lane (a different order per
    lane), in vectors of random length; ``"random:N"``: N beats of random codes (a NaR in
    one vector in fifty); ``"cancel:N"``: vectors whose second half is the first half with
    one operand negated, in shuffled order (exact sum 0); ``"quire:N"``: vectors of big²,
    small products and -big² (`_quire_only`), whose quire result an FP32 accumulator
    does not reproduce."""
    kind, _, count = mode.partition(":")
    if kind == "exhaustive":
        a, b = vectors.exhaustive_lanes(fmt.n, lanes, rng)
        return a, b, dotbench.vector_lengths(a.shape[0], rng, longest)
    beats = int(count)
    if kind == "random":
        a, b = _random_codes(fmt, (beats, lanes), rng), _random_codes(fmt, (beats, lanes), rng)
        lengths = dotbench.vector_lengths(beats, rng, longest)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for start in starts[rng.random(len(starts)) < 0.02]:
            a[start, rng.integers(lanes)] = fmt.nar_code
        return a, b, lengths
    if kind not in ("cancel", "quire"):
        raise ValueError(f"mode must be 'exhaustive', 'random:N', 'cancel:N' or 'quire:N', "
                         f"not {mode!r}")
    rows_a, rows_b, lengths = [], [], []
    terms = 0
    while terms < beats * lanes:
        length = int(rng.integers(1, longest + 1))          # beats of this vector
        size = length * lanes
        if kind == "cancel":
            if size < 2:
                continue
            half = size // 2
            va, vb = _random_codes(fmt, half, rng), _random_codes(fmt, half, rng)
            va = np.concatenate([va, _negate(fmt, va), np.zeros(size - 2 * half, np.uint64)])
            vb = np.concatenate([vb, vb, np.zeros(size - 2 * half, np.uint64)])
        else:
            if size < 3:
                continue
            va, vb = _quire_only(fmt, size, rng)
        order = rng.permutation(size) if kind == "cancel" else np.arange(size)
        rows_a.append(va[order].reshape(length, lanes))
        rows_b.append(vb[order].reshape(length, lanes))
        lengths.append(length)
        terms += size
    return np.concatenate(rows_a), np.concatenate(rows_b), lengths


def _quire_only(fmt, size, rng):
    """One vector of `size` terms (a, b), in this order: big², positive small products,
    -big². big is the largest power of two in `fmt` whose square is a finite FP32 value,
    and every small product is at most half an FP32 ulp of big², so that an FP32
    accumulator loses each of them (a tie goes to big²'s even significand) and ends at 0,
    while the quire keeps their sum."""
    top = min((fmt.n - 2) << fmt.es, 63)
    big = fmt.encode(np.array([2.0 ** top]))
    square = float(fmt.decode(big)[0]) ** 2
    half_ulp = square * 2.0 ** -24
    if fmt.n <= 16:
        positive = np.arange(1, 1 << (fmt.n - 1), dtype=np.uint64)
    else:
        positive = rng.integers(1, 1 << (fmt.n - 1), size=1 << 16, dtype=np.uint64)
    values = fmt.decode(positive)
    small = positive[values <= np.sqrt(half_ulp)]
    x = rng.choice(small, size=size - 2)
    y = rng.choice(small, size=size - 2)
    return np.concatenate([big, x, _negate(fmt, big)]), np.concatenate([big, y, big])


def float32_dot(fmt, a, b, lengths):
    """The vectors' dot products accumulated in FP32 (each product rounded to float32,
    then added in order, rounded each time), rounded once into `fmt`: what a float
    accumulator gives."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = []
    for start, length in zip(starts, lengths):
        va = fmt.decode(a[start:start + length].ravel())
        vb = fmt.decode(b[start:start + length].ravel())
        total = np.float32(0)
        with np.errstate(over="ignore", invalid="ignore"):
            for x, y in zip(va, vb):
                total = np.float32(total + np.float32(x * y))
        out.append(int(fmt.encode(np.array([total], dtype=np.float64))[0]))
    return np.array(out, dtype=np.uint64)


DOT_CASES = [
    ((8, 0, 4, 3), "exhaustive"), ((8, 0, 3, 1), "cancel:3000"), ((8, 0, 2, 2), "quire:2000"),
    ((5, 1, 3, 2), "exhaustive"), ((6, 2, 2, 0), "random:5000"),
    ((16, 1, 2, 1), "random:20000"), ((16, 1, 3, 3), "cancel:5000"),
    ((16, 1, 2, 0), "quire:3000"), ((32, 2, 1, 2), "random:10000"),
    ((32, 2, 2, 1), "quire:2000"),
]


@pytest.mark.parametrize("case", DOT_CASES,
                         ids=[f"p{c[0][0]}_{c[0][1]}-x{c[0][2]}-s{c[0][3]}-{c[1].split(':')[0]}"
                              for c in DOT_CASES])
def test_posit_dot(case):
    from hdl import verilog
    (n, es, lanes, stages), mode = case
    params = {"n": n, "es": es, "lanes": lanes, "stages": stages}
    unit = verilog.build_unit("positdot", params)
    seed = harness.bench_seed()
    rng = np.random.default_rng(seed)
    longest = min(8, (1 << unit.guard_bits) // lanes)
    a, b, lengths = dot_operands(unit.fmt, lanes, mode, rng, longest)
    expected = dotbench.golden_results(unit, a, b, lengths)
    if mode.startswith("cancel"):
        assert not expected.any()
    if mode.startswith("quire"):                    # a float accumulator would not do
        floats = float32_dot(unit.fmt, a, b, lengths)
        assert (floats != expected).mean() > 0.5, (floats != expected).mean()
    result = harness.stream_fast(unit, dotbench.pack_beats(unit, a, b, lengths), seed=seed,
                                 stall=float(os.environ.get("NNRTL_STALL", "0.2")),
                                 out_count=len(lengths),
                                 label=verilog.params_key("positdot", params))
    try:
        dotbench.check_results(unit, result["outputs"], expected, a, b, lengths, seed=seed)
    except AssertionError as exc:
        raise harness.BenchFailure(f"{result['run_dir'] / 'sim.log'}:\n{exc}") from None


@pytest.mark.parametrize("params, exc, message", [
    ({"n": 8, "es": 0, "lanes": 0}, ValueError, r"lanes must be in 1\.\.64, not 0"),
    ({"n": 8, "es": 0, "lanes": 2.0}, TypeError, r"lanes must be a positive integer, not 2\.0"),
    ({"n": 8, "es": 0, "guard_bits": 0}, ValueError, r"guard_bits must be in 1\.\.32, not 0"),
    ({"n": 8, "es": 0, "stages": 4}, ValueError, r"stages must be in 0\.\.3, not 4"),
    ({"n": 8, "es": 6}, ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 4 for n=8, not 6"),
])
def test_posit_dot_bad_parameters(params, exc, message):
    from hdl import verilog
    with pytest.raises(exc, match=message):
        verilog.build_unit("positdot", params)


@cocotb.test()
async def posit_stream(dut):
    """Stream the operand set through the DUT with random stalls; compare every code."""
    unit = harness.bench_unit()
    function = ops.add if type(unit).__name__ == "PositAdd" else ops.mul
    await stream.check_pairs(dut, unit, lambda a, b: function(a, b, unit.fmt))
