"""hdl/lmul.py against golden.lmul.lmul, bit for bit.

- FP8_E4M3 and FP8_E5M2: every one of the 65,536 pairs, in every carry mode ("integer",
  "formula") and every offset mode ("paper", "none", and an integer number of ulps: the
  largest, 2^m - 1, whose mantissa sums carry twice in integer mode). Twelve builds; each
  also varies one other option, so that stages 0..3, both subnormal-input modes and wider
  output formats are all covered without more builds; two more are the fully pipelined
  (stages=4) units that designs/lmul.toml synthesizes.
- The bare adder (special_values=False, the paper's emulation) and a custom format
  (fnuz, saturating), exhaustively.
- BF16 (both carry modes), FP16 and FP32: 200,000 random pairs (half steered to overflow
  and underflow) plus every pair of directed special values.

The operand sets run on the fast path (`tb.harness.run_fast`: a C++ testbench streams them
with random stalls on both sides, no Python per cycle) and are compared with golden on
whole arrays. `test_lmul_cocotb` runs one unit through the cocotb bench `lmul_stream`
below (`tb.stream.check_pairs`), so that path stays tested too; under ``SIM=icarus``
every case runs there. NNRTL_STALL sets the stall probability on both sides.
"""

import cocotb
import pytest

from golden import formats, lmul
from tb import harness, stream

E5M3 = formats.FloatFormat(5, 3)          # fp8_e4m3 with one more exponent bit
E6M2 = formats.FloatFormat(6, 2)          # fp8_e5m2 with one more exponent bit
E6M3 = formats.FloatFormat(6, 3)

# (fmt, carry, offset, stages, subnormal_inputs, out_fmt)
FP8_MODES = [
    ("fp8_e4m3", "integer", "paper", 1, "flush", None),
    ("fp8_e4m3", "integer", "none", 0, "normalize", None),
    ("fp8_e4m3", "integer", 7, 2, "flush", E5M3),
    ("fp8_e4m3", "formula", "paper", 3, "normalize", None),
    ("fp8_e4m3", "formula", "none", 0, "flush", "bf16"),   # cannot overflow or underflow
    ("fp8_e4m3", "formula", 7, 1, "normalize", E5M3),
    ("fp8_e5m2", "integer", "paper", 2, "normalize", None),
    ("fp8_e5m2", "integer", "none", 1, "flush", "fp16"),
    ("fp8_e5m2", "integer", 3, 0, "normalize", E6M2),
    ("fp8_e5m2", "formula", "paper", 0, "flush", None),
    ("fp8_e5m2", "formula", "none", 3, "normalize", E6M3),
    ("fp8_e5m2", "formula", 3, 2, "flush", None),
    ("fp8_e4m3", "integer", "paper", 4, "flush", None),    # fully pipelined, as synthesized
    ("fp8_e5m2", "integer", "paper", 4, "flush", None),
]

OTHER = [
    # The paper's emulation as it is: no special values (unsafe for real data).
    ({"fmt": "fp8_e4m3", "special_values": False, "stages": 0}, "exhaustive"),
    # fnuz operands (one NaN, no -0), a saturating result with one more exponent bit.
    ({"fmt": formats.FloatFormat(4, 3, specials="fnuz"), "carry": "formula",
      "subnormal_inputs": "normalize", "stages": 1,
      "out_fmt": formats.FloatFormat(5, 3, specials="fnuz")}, "exhaustive"),
    ({"fmt": "bf16", "stages": 1}, "random:200000"),
    ({"fmt": "bf16", "carry": "formula", "subnormal_inputs": "normalize", "stages": 2,
      "out_fmt": formats.FloatFormat(9, 7)}, "random:200000"),
    ({"fmt": "fp16", "carry": "formula", "offset": 100, "stages": 3}, "random:200000"),
    ({"fmt": "fp32", "subnormal_inputs": "normalize", "stages": 2}, "random:200000"),
    # The configurations designs/lmul.toml synthesizes beyond those above (fewer random
    # pairs: the datapath is the one tested above, pipelined or with another out_fmt).
    # Fully pipelined.
    ({"fmt": "bf16", "stages": 4}, "random:50000"),
    ({"fmt": "fp16", "stages": 4}, "random:50000"),
    ({"fmt": "fp32", "stages": 4}, "random:50000"),
    # Flush-to-zero results, and one more exponent bit (the designs/lmul.toml comparison).
    ({"fmt": "fp8_e5m2", "out_fmt": "e5m2_ftz", "stages": 1}, "exhaustive"),
    ({"fmt": "bf16", "out_fmt": "e8m7_ftz", "stages": 0}, "random:50000"),
    ({"fmt": "bf16", "out_fmt": "e9m7", "stages": 0}, "random:50000"),
]


def _bench(params, mode):
    harness.run_fast("lmul", params, mode, cocotb_module="tb.test_lmul")


def _mode_id(case):
    fmt, carry, offset, stages, sub, out_fmt = case
    return f"{fmt}-{carry}-{offset}-s{stages}-{sub}" + (f"-{out_fmt}" if out_fmt else "")


@pytest.mark.parametrize("case", FP8_MODES, ids=[_mode_id(c).replace(" ", "")
                                                 for c in FP8_MODES])
def test_lmul_fp8_exhaustive(case):
    fmt, carry, offset, stages, sub, out_fmt = case
    params = {"fmt": fmt, "carry": carry, "offset": offset, "stages": stages,
              "subnormal_inputs": sub}
    if out_fmt:
        params["out_fmt"] = out_fmt
    _bench(params, "exhaustive")


@pytest.mark.parametrize("params,mode", OTHER,
                         ids=[f"{p['fmt']}-{mode}-s{p['stages']}".replace(" ", "")
                              + ("-raw" if p.get("special_values") is False else "")
                              + (f"-{p['carry']}" if "carry" in p else "")
                              + (f"-to-{p['out_fmt']}".replace(" ", "") if "out_fmt" in p
                                 else "")
                              for p, mode in OTHER])
def test_lmul_other(params, mode):
    _bench(params, mode)


def test_lmul_cocotb():
    """One unit through the cocotb bench (its driver also drops valid while an item waits)."""
    harness.run_bench("lmul", {"fmt": "bf16", "carry": "formula", "stages": 2},
                      "tb.test_lmul", extra_env={"NNRTL_VECTORS": "random:4000"})


@pytest.mark.parametrize("params, exc, message", [
    ({"fmt": "bf16", "stages": 5}, ValueError, r"stages must be in 0\.\.4, not 5"),
    ({"fmt": "bf16", "stages": 1.5}, TypeError, r"stages must be an integer, not 1\.5"),
    ({"fmt": formats.IntFormat(8, True)}, TypeError, r"fmt must be a FloatFormat"),
    ({"fmt": "fp8_e4m3", "carry": "exact"}, ValueError,
     r"carry must be one of 'integer', 'formula', not 'exact'"),
    ({"fmt": "fp8_e4m3", "offset": "half"}, ValueError,
     r"offset must be 'paper', 'none' or an integer"),
    ({"fmt": "fp8_e4m3", "offset": 8}, ValueError,
     r"offset must be in 0\.\.7 ulps for a 3-bit mantissa .*no larger than the mantissa"),
    ({"fmt": "fp8_e5m2", "offset": -1}, ValueError, r"offset must be in 0\.\.3 ulps"),
    ({"fmt": "fp8_e5m2", "offset": 0.5}, TypeError, r"offset must be 'paper', 'none' or an"),
    ({"fmt": "fp8_e5m2", "out_fmt": "fp8_e4m3"}, ValueError,
     r"out_fmt fp8_e4m3 \(E4M3\) is narrower than fmt fp8_e5m2 \(E5M2\)"),
    ({"fmt": "bf16", "out_fmt": "fp16"}, ValueError, r"out_fmt fp16 .* is narrower"),
    ({"fmt": "fp8_e5m2", "out_fmt": formats.FloatFormat(5, 3, specials="none",
                                                        overflow="saturate")},
     ValueError, r"out_fmt .* has no NaN"),
    ({"fmt": "bf16", "subnormal_inputs": "keep"}, ValueError,
     r"subnormal_inputs must be one of 'flush', 'normalize', not 'keep'"),
    ({"fmt": "bf16", "special_values": "no"}, TypeError, r"special_values must be a bool"),
    ({"fmt": "bf16", "special_values": False, "subnormal_inputs": "normalize"}, ValueError,
     r"subnormal_inputs must be 'flush' \(the default\) with special_values=False"),
    ({"fmt": "bf16", "rounding": "rne"}, ValueError, r"has no parameter 'rounding'"),
])
def test_bad_parameters_are_rejected_before_elaboration(params, exc, message):
    with pytest.raises(exc, match=message):
        harness.run_bench("lmul", params, "tb.test_lmul")
    with pytest.raises(exc, match=message):
        harness.run_fast("lmul", params)


def test_unit_reports_its_parameters():
    from hdl import verilog
    unit = verilog.build_unit("lmul", {"fmt": "bf16", "stages": 2, "out_fmt": "fp32"})
    assert (unit.latency, unit.ops_per_cycle, unit.offset_ulps) == (2, 1, 8)
    assert unit.out_fmt is formats.FP32 and unit.o.payload.shape().width == 32
    assert verilog.build_unit("lmul", {"fmt": "fp8_e4m3"}).offset_ulps == 1


@cocotb.test()
async def lmul_stream(dut):
    """Stream the operand set through the DUT with random stalls; compare every code."""
    unit = harness.bench_unit()
    await stream.check_pairs(dut, unit, lambda a, b: lmul.lmul(
        a, b, unit.fmt, carry=unit.carry, offset=unit.offset, out_fmt=unit.out_fmt,
        subnormal_inputs=unit.subnormal_inputs, special_values=unit.special_values))
