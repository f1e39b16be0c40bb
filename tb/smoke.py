"""Smoke simulations: a short random run of each unit's own bench.

Every unit family `<unit>` has its cocotb bench in ``tb/test_<unit>.py``; a smoke run
streams ``random:N`` operands (with stalls) through it and compares with the golden model.
"""

import time

from hdl import verilog
from tb import harness

__all__ = ["bench_module", "smoke"]


def bench_module(unit):
    """Dotted name of the cocotb bench module of `unit`."""
    return f"tb.test_{unit}"


def smoke(instances, *, vectors=2000, log=print):
    """Run a short bench for each (unit, params); return a list of result dicts.

    Raises `harness.BenchFailure` on the first failing unit (its message has the seed and
    the first mismatches).
    """
    results = []
    for index, (unit, params) in enumerate(instances, 1):
        key = verilog.params_key(unit, params)
        start = time.monotonic()
        log(f"  [{index}/{len(instances)}] {key}: simulating {vectors} random vectors ...")
        result = harness.run_bench(unit, params, bench_module(unit),
                                   extra_env={"NNRTL_VECTORS": f"random:{vectors}"})
        checked = result["stats"].get("vectors", 0)
        log(f"      ok: {checked} outputs match golden, {time.monotonic() - start:.1f} s "
            f"(build {result['build_seconds']:.1f} s) in {result['run_dir']}")
        results.append(result)
    return results
