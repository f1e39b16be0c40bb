"""hdl/fpmul.py against golden.ops.mul: exhaustive for formats of 8 bits or fewer, 200,000
random pairs plus every pair of directed special values for BF16, FP16 and FP32.

The operand sets run on the fast path (`tb.harness.run_fast`: a C++ testbench streams them
with random stalls on both sides, no Python per cycle) and are compared with golden on
whole arrays. `test_fpmul_cocotb` runs one unit through the cocotb bench `fpmul_stream`
below (`tb.stream.check_pairs`), so that path stays tested too; under ``SIM=icarus``
every case runs there. NNRTL_STALL sets the stall probability on both sides.
"""

import cocotb
import pytest

from golden import formats, ops
from tb import harness, stream

# (fmt, out_fmt, stages, operand set)
CASES = [
    ("fp8_e4m3", None, 2, "exhaustive"),
    ("fp8_e5m2", None, 2, "exhaustive"),
    ("fp4_e2m1", None, 5, "exhaustive"),
    ("fp4_e2m1", None, 0, "exhaustive"),
    ("fp6_e3m2", None, 1, "exhaustive"),
    ("fp6_e2m3", None, 3, "exhaustive"),     # cuts: product, output, aligned
    ("fp8_e4m3", "bf16", 2, "exhaustive"),       # a wider result: exact, no rounding
    ("fp8_e5m2", "fp8_e4m3", 1, "exhaustive"),   # a narrower result: rounding, overflow
    ("bf16", None, 2, "random:200000"),
    ("fp16", None, 2, "random:200000"),
    ("fp32", None, 5, "random:200000"),
    # Flush-to-zero results, and one more exponent bit (the designs/lmul.toml comparison).
    ("bf16", "e8m7_ftz", 0, "random:50000"),
    ("bf16", "e9m7", 0, "random:50000"),
]

# Formats off the presets: no subnormals (inputs flushed, results flushed after rounding),
# saturation instead of Inf, fnuz specials.
CUSTOM = [
    (formats.FloatFormat(4, 3, subnormals=False, specials="fn"), None, 4),
    (formats.FloatFormat(5, 2, overflow="saturate"), None, 1),
    (formats.FloatFormat(4, 3, specials="fnuz"), None, 2),
    (formats.FloatFormat(3, 4, subnormals=False, specials="ieee"), None, 0),
]


def _id(case):
    fmt, out_fmt, stages = case[:3]
    return f"{fmt}-{out_fmt or 'same'}-s{stages}"


def _bench(params, mode):
    harness.run_fast("fpmul", params, mode, cocotb_module="tb.test_fpmul")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fpmul(case):
    fmt, out_fmt, stages, mode = case
    params = {"fmt": fmt, "stages": stages}
    if out_fmt:
        params["out_fmt"] = out_fmt
    _bench(params, mode)


@pytest.mark.parametrize("case", CUSTOM, ids=_id)
def test_fpmul_custom_formats(case):
    fmt, out_fmt, stages = case
    _bench({"fmt": fmt, "out_fmt": out_fmt, "stages": stages}, "exhaustive")


def test_fpmul_cocotb():
    """One unit through the cocotb bench (its driver also drops valid while an item waits)."""
    harness.run_bench("fpmul", {"fmt": "fp6_e2m3", "stages": 3}, "tb.test_fpmul",
                      extra_env={"NNRTL_VECTORS": "exhaustive"})


def test_bad_parameters_are_rejected_before_elaboration():
    with pytest.raises(ValueError, match=r"stages must be in 0\.\.5, not 6"):
        harness.run_bench("fpmul", {"fmt": "bf16", "stages": 6}, "tb.test_fpmul")
    with pytest.raises(TypeError, match=r"stages must be an integer, not 1\.5"):
        harness.run_bench("fpmul", {"fmt": "bf16", "stages": 1.5}, "tb.test_fpmul")
    with pytest.raises(TypeError, match=r"fmt must be a FloatFormat"):
        harness.run_bench("fpmul", {"fmt": formats.IntFormat(8, True)}, "tb.test_fpmul")
    with pytest.raises(ValueError, match=r"out_fmt .* has no NaN"):
        harness.run_bench("fpmul", {"fmt": "fp8_e5m2", "out_fmt": "fp4_e2m1"}, "tb.test_fpmul")
    with pytest.raises(ValueError, match=r"has no parameter 'width'"):
        harness.run_bench("fpmul", {"fmt": "bf16", "width": 3}, "tb.test_fpmul")
    with pytest.raises(ValueError, match=r"stages must be in 0\.\.5, not 6"):
        harness.run_fast("fpmul", {"fmt": "bf16", "stages": 6})


@cocotb.test()
async def fpmul_stream(dut):
    """Stream the operand set through the DUT with random stalls; compare every code."""
    unit = harness.bench_unit()
    await stream.check_pairs(dut, unit, lambda a, b: ops.mul(a, b, unit.fmt, unit.out_fmt))
