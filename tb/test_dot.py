"""hdl/dot.py against golden.dot.dot, bit for bit.

Operand sets (NNRTL_VECTORS):
- ``"exhaustive"`` (8-bit formats): every one of the 65,536 operand pairs reaches every
  lane (a different random order per lane), then 2,000 beats of finite random operands;
- ``"random:N"``: N beats of random codes, mostly finite (2% from the directed special
  values), exponents spread so that sums cancel, overflow and underflow;
- ``"adder:N"``: N beats with every b = 1.0 (with exact multipliers the products are the
  a operands themselves): the FP32 adder tree and accumulator see arbitrary FP32 pairs,
  half of them with nearby exponents (cancellation) and a quarter with the smallest
  exponents (subnormal sums).

The beats are cut into vectors of 1..8 beats at random (the ``last`` flag); each result
is compared with the golden model. Random stalls on both sides (NNRTL_STALL). The operand
sets run on the fast path (`tb.dotbench.run_vectors`); one cocotb bench streams the same
beats through the cocotb driver and monitor.
"""

import os

import numpy as np
import pytest

from golden import formats
from tb import dotbench, harness

# (params, operand set); the longest first, so that pytest-xdist's workers finish together.
CASES = [
    # The wider units of designs/lmul.toml (deeper adder trees, wider Kulisch sums).
    ({"fmt": "fp8_e4m3", "lanes": 16, "stages": 3}, "random:10000"),
    ({"fmt": "fp8_e4m3", "lanes": 8, "mul": "exact", "acc": "kulisch", "stages": 3},
     "random:10000"),
    ({"fmt": "fp8_e4m3", "lanes": 4, "stages": 1}, "exhaustive"),
    ({"fmt": "fp8_e4m3", "lanes": 4, "mul": "exact", "stages": 3}, "exhaustive"),
    ({"fmt": "fp8_e4m3", "lanes": 4, "acc": "kulisch", "stages": 2}, "exhaustive"),
    ({"fmt": "fp8_e5m2", "lanes": 3, "acc": "kulisch", "carry": "formula", "offset": "none",
      "subnormal_inputs": "normalize", "stages": 1}, "exhaustive"),
    ({"fmt": "fp8_e5m2", "lanes": 2, "mul": "exact", "acc": "kulisch", "out_fmt": "bf16",
      "stages": 0}, "random:20000"),
    ({"fmt": "bf16", "lanes": 4, "stages": 2}, "random:10000"),
    ({"fmt": "bf16", "lanes": 2, "mul": "exact", "stages": 1}, "random:10000"),
    ({"fmt": "bf16", "lanes": 1, "acc": "kulisch", "stages": 1}, "random:5000"),
    ({"fmt": "fp16", "lanes": 4, "acc": "kulisch", "carry": "formula", "stages": 2},
     "random:20000"),
    ({"fmt": "fp32", "lanes": 2, "mul": "exact", "stages": 1}, "adder:30000"),
]


def _id(case):
    params, mode = case
    extra = "-".join(f"s{v}" if k == "stages" else str(v) for k, v in params.items()
                     if k not in ("fmt", "lanes"))
    return f"{params['fmt']}-x{params['lanes']}-{extra}-{mode.replace(':', '')}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_dot(case):
    from hdl import verilog
    params, mode = case
    unit = verilog.build_unit("dot", params)
    dotbench.run_vectors(unit, mode, seed=harness.bench_seed(),
                         stall=float(os.environ.get("NNRTL_STALL", "0.2")),
                         label=verilog.params_key("dot", params))


def test_dot_cocotb():
    """The cocotb driver and monitor on one operand set (the fast path runs the rest)."""
    harness.run_bench("dot", {"fmt": "fp8_e5m2", "lanes": 2, "acc": "kulisch", "stages": 1},
                      "tb.test_dot", extra_env={"NNRTL_VECTORS": "random:1000"})


def test_a_dot_bench_fails_when_golden_is_one_off(monkeypatch):
    """The fast-path bench can fail: golden's result one code off in one vector."""
    from hdl import verilog
    unit = verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 4, "stages": 1})
    function, kwargs = unit.golden

    def one_off(a, b, **kw):
        out = function(a, b, **kw)
        out[0] ^= 1
        return out

    monkeypatch.setattr(type(unit), "golden", property(lambda self: (one_off, kwargs)))
    with pytest.raises(harness.BenchFailure, match=r"seed 3"):
        dotbench.run_vectors(unit, "random:200", seed=3)


@pytest.mark.parametrize("params, exc, message", [
    ({"fmt": "fp8_e4m3", "lanes": 0}, ValueError, r"lanes must be in 1\.\.64, not 0"),
    ({"fmt": "fp8_e4m3", "lanes": 2.0}, TypeError, r"lanes must be a positive integer"),
    ({"fmt": "fp8_e4m3", "mul": "approx"}, ValueError, r"mul must be one of 'lmul', 'exact'"),
    ({"fmt": "fp8_e4m3", "acc": "fp16"}, ValueError, r"acc must be one of 'fp32', 'kulisch'"),
    ({"fmt": "fp8_e4m3", "guard_bits": 0}, ValueError, r"guard_bits must be in 1\.\.32"),
    ({"fmt": "fp8_e4m3", "out_fmt": "bf16"}, ValueError,
     r"out_fmt must be fp32 \(the accumulator's format\) with acc='fp32'"),
    ({"fmt": "fp8_e4m3", "acc": "kulisch", "out_fmt": "fp4_e2m1"}, ValueError,
     r"out_fmt fp4_e2m1 has no NaN"),
    ({"fmt": "fp8_e4m3", "offset": 9}, ValueError, r"offset must be in 0\.\.7 ulps"),
    ({"fmt": "fp8_e4m3", "mul": "exact", "carry": "formula"}, ValueError,
     r"carry, offset and subnormal_inputs apply to mul='lmul' only"),
    ({"fmt": formats.FloatFormat(11, 20)}, ValueError, r"acc='fp32' needs products"),
    ({"fmt": "fp8_e4m3", "stages": 4}, ValueError, r"stages must be in 0\.\.3, not 4"),
])
def test_bad_parameters_are_rejected_before_elaboration(params, exc, message):
    with pytest.raises(exc, match=message):
        harness.run_bench("dot", params, "tb.test_dot")


def test_unit_reports_its_parameters():
    from hdl import verilog
    unit = verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 8, "stages": 2})
    assert (unit.latency, unit.ops_per_cycle, unit.tree_depth) == (3, 8, 3)
    assert unit.o.payload.shape().width == 32
    # stages=3: registers after the products, after tree levels 1 and 2, after the tree.
    assert verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 8, "stages": 3}).latency == 5
    assert verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 5, "stages": 3}).latency == 5
    assert verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 1, "stages": 3}).latency == 3
    # Kulisch: the final rounding has a cycle of its own.
    assert verilog.build_unit("dot", {"fmt": "fp8_e4m3", "lanes": 8, "acc": "kulisch",
                                      "stages": 3}).latency == 6


try:
    import cocotb
except ImportError:          # pytest collection without cocotb: only the runners above
    cocotb = None

if cocotb is not None:
    @cocotb.test()
    async def dot_stream(dut):
        """Stream beats through the DUT with random stalls; compare every vector's result."""
        unit = harness.bench_unit()
        seed = cocotb.RANDOM_SEED
        rng = np.random.default_rng(seed)
        stall = float(os.environ.get("NNRTL_STALL", "0.2"))
        a, b = dotbench.operand_beats(unit.fmt, unit.lanes,
                             os.environ.get("NNRTL_VECTORS", "random:2000"), rng)
        lengths = dotbench.vector_lengths(a.shape[0], rng)
        expected = dotbench.golden_results(unit, a, b, lengths)
        received, cycles, seconds = await dotbench.stream_vectors(dut, unit, a, b, lengths,
                                                                  rng, stall=stall)
        dut._log.info(f"{len(lengths)} vectors, {a.size} products in {cycles} cycles, "
                      f"{cycles / seconds:,.0f} cycles/s (seed {seed})")
        harness.record_stats(vectors=len(lengths), products=int(a.size), cycles=cycles,
                             stream_seconds=seconds)
        dotbench.check_results(unit, received, expected, a, b, lengths, seed=seed)
