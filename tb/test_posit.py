"""hdl/posit.py against golden.ops: PositMul and PositAdd on every operand pair for n in
{4, 5, 6, 8} and every es from 0 to 2 (es <= n - 3), and on 200,000 random pairs plus every
pair of directed values (tb.vectors.posit_directed: 0, NaR, ±minpos, ±maxpos, ±1, the
codes next to them and at every regime boundary) for posit(16,1), posit(16,2) and
posit(32,2); random pairs are steered to cancellation, equal scales and long regimes
(tb.vectors.random_posit_pairs).

The operand sets run on the fast path (`tb.harness.run_fast`: random stalls on both sides,
compared with golden on whole arrays). `test_posit_cocotb` runs one unit through the cocotb
bench below so that the path stays tested; under ``SIM=icarus`` every case runs there.
"""

import cocotb
import pytest

from golden import ops
from tb import harness, stream

EXHAUSTIVE = [(n, es) for n in (4, 5, 6, 8) for es in range(3) if es <= n - 3]
RANDOM = [(16, 1), (16, 2), (32, 2)]
# Pipeline registers per case: every cut point is used somewhere.
STAGES = {"positmul": [0, 1, 2, 3], "positadd": [0, 2, 3, 4]}


def _cases():
    cases = []
    for unit in ("positmul", "positadd"):
        choices = STAGES[unit]
        for index, (n, es) in enumerate(EXHAUSTIVE):
            cases.append((unit, n, es, choices[index % len(choices)], "exhaustive"))
        for index, (n, es) in enumerate(RANDOM):
            cases.append((unit, n, es, choices[(index + 1) % len(choices)], "random:200000"))
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[0]}-p{c[1]}_{c[2]}-s{c[3]}")
def test_posit_unit(case):
    unit, n, es, stages, mode = case
    harness.run_fast(unit, {"n": n, "es": es, "stages": stages}, mode,
                     what="sum" if unit == "positadd" else "product",
                     cocotb_module="tb.test_posit")


def test_posit_cocotb():
    """One unit through the cocotb bench (its driver also drops valid while an item waits)."""
    harness.run_bench("positadd", {"n": 5, "es": 1, "stages": 2}, "tb.test_posit",
                      extra_env={"NNRTL_VECTORS": "exhaustive"})


@pytest.mark.parametrize("params, exc, message", [
    ({"n": 2, "es": 0}, ValueError, r"n must be in 3\.\.32, not 2"),
    ({"n": 33, "es": 0}, ValueError, r"n must be in 3\.\.32, not 33"),
    ({"n": 6, "es": 4}, ValueError, r"es must be in 0\.\.min\(4, n - 3\) = 3 for n=6, not 4"),
    ({"n": 8.0, "es": 0}, TypeError, r"n must be an integer, not 8\.0"),
    ({"n": 8, "es": 1, "stages": 5}, ValueError, r"stages must be in 0\.\.4, not 5"),
])
def test_bad_parameters_are_rejected_before_elaboration(params, exc, message):
    unit = "positadd"
    with pytest.raises(exc, match=message):
        harness.run_fast(unit, params)


@cocotb.test()
async def posit_stream(dut):
    """Stream the operand set through the DUT with random stalls; compare every code."""
    unit = harness.bench_unit()
    function = ops.add if type(unit).__name__ == "PositAdd" else ops.mul
    await stream.check_pairs(dut, unit, lambda a, b: function(a, b, unit.fmt))
