"""Simulation speed benchmark: the exhaustive FP8_E4M3 multiplier bench (65,536 pairs).

Prints, per simulator and testbench (cocotb under Verilator; Verilator's fast path, the
C++ testbench of `tb.fastpath`; cocotb under Icarus where `iverilog` is on PATH): the
build time from an empty cache and for a second design once Verilator's runtime objects
are cached, the run time and simulated cycles per second (medians over --repeat runs),
and build + run totals; optionally the wall time of `make test`. With --readme, writes
the table into README.md between the `bench_sim` markers.

    .venv/bin/python scripts/bench_sim.py [--repeat 3] [--make-test] [--readme]
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

import _common
from _common import ROOT
from tb import harness

PARAMS = {"fmt": "fp8_e4m3", "stages": 2}
WARM_PARAMS = {"fmt": "fp8_e4m3", "stages": 3}


def _figures(label, version, runs, warm):
    first = runs[0]
    return {"label": label, "version": version,
            "vectors": first["stats"]["vectors"], "cycles": first["stats"]["cycles"],
            "build_s": first["build_seconds"], "warm_build_s": warm["build_seconds"],
            "run_s": statistics.median(r["run_seconds"] for r in runs),
            "cycles_per_s": statistics.median(r["stats"]["cycles"] / r["stats"]["stream_seconds"]
                                              for r in runs),
            "total_s": first["build_seconds"] + first["run_seconds"],
            "warm_total_s": warm["build_seconds"] + warm["run_seconds"]}


def bench(sim, repeat):
    """The cocotb bench (`tb.test_fpmul`) under `sim`."""
    os.environ["SIM"] = sim
    env = {"NNRTL_VECTORS": "exhaustive"}
    with tempfile.TemporaryDirectory(prefix="nnrtl-bench-") as cold:
        print(f"[{sim}] cold build (simulator runtime + design) + first run ...", flush=True)
        runs = [harness.run_bench("fpmul", PARAMS, "tb.test_fpmul", extra_env=env,
                                  sim_dir=cold, seed=1)]
        for index in range(repeat - 1):
            print(f"[{sim}] cached run {index + 2}/{repeat} ...", flush=True)
            runs.append(harness.run_bench("fpmul", PARAMS, "tb.test_fpmul", extra_env=env,
                                          sim_dir=cold, seed=index + 2))
        # Another design in the same cache: only the design is compiled (Verilator's
        # runtime objects are reused), as for every bench after the first in `make test`.
        print(f"[{sim}] build of a second design (runtime cached) + run ...", flush=True)
        warm = harness.run_bench("fpmul", WARM_PARAMS, "tb.test_fpmul", extra_env=env,
                                 sim_dir=cold, seed=1)
    return _figures("cocotb", harness.simulator_version(sim), runs, warm)


def bench_fast(repeat):
    """The same bench on Verilator's fast path (`harness.run_fast`: no Python per cycle).
    Its cold build also precompiles the runtime headers once per cache."""
    os.environ["SIM"] = "verilator"
    with tempfile.TemporaryDirectory(prefix="nnrtl-bench-fast-") as cold:
        print("[fast path] cold build (runtime + header + design) + first run ...", flush=True)
        runs = [harness.run_fast("fpmul", PARAMS, "exhaustive", sim_dir=cold, seed=1)]
        for index in range(repeat - 1):
            print(f"[fast path] cached run {index + 2}/{repeat} ...", flush=True)
            runs.append(harness.run_fast("fpmul", PARAMS, "exhaustive", sim_dir=cold,
                                         seed=index + 2))
        print("[fast path] build of a second design (runtime cached) + run ...", flush=True)
        warm = harness.run_fast("fpmul", WARM_PARAMS, "exhaustive", sim_dir=cold, seed=1)
    return _figures("fast path (C++ testbench)", harness.simulator_version("verilator"),
                    runs, warm)


def make_test_seconds():
    print("[make test] running the whole suite ...", flush=True)
    start = time.monotonic()
    subprocess.run(["make", "test"], cwd=ROOT, check=True)
    return time.monotonic() - start


def table(rows, make_test):
    lines = [f"Exhaustive FP8_E4M3 multiplier bench ({rows[0]['vectors']:,} pairs, random stalls "
             f"on both sides), {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"load average {os.getloadavg()[0]:.1f} at the end:", "",
             "| simulator | testbench | build: cold / runtime cached | run (median) | "
             "build + run: cold / runtime cached | cycles | simulated cycles/s (median) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['version']} | {r['label']} | {r['build_s']:.1f} s / "
                     f"{r['warm_build_s']:.1f} s | {r['run_s']:.2f} s | {r['total_s']:.1f} s / "
                     f"{r['warm_total_s']:.1f} s | {r['cycles']:,} | {r['cycles_per_s']:,.0f} |")
    cocotb = next((r for r in rows if r["label"] == "cocotb"), None)
    fast = next((r for r in rows if r["label"] != "cocotb"), None)
    if cocotb and fast:
        ratio = fast["cycles_per_s"] / cocotb["cycles_per_s"]
        lines += ["", f"The fast path simulated {ratio:,.0f} times as many cycles per second "
                  "as cocotb under Verilator "
                  f"({fast['cycles_per_s']:,.0f} against {cocotb['cycles_per_s']:,.0f})."]
    if make_test is not None:
        lines += ["", f"`make test` wall time: {make_test:.0f} s ({make_test / 60:.1f} min)."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per simulator (>= 1)")
    parser.add_argument("--make-test", action="store_true", help="also time `make test`")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    sims = ["verilator"] + (["icarus"] if shutil.which("iverilog") else [])
    if "icarus" not in sims:
        print("icarus: `iverilog` is not on PATH; measuring Verilator only")
    rows = [bench("verilator", args.repeat), bench_fast(args.repeat)]
    rows += [bench(sim, args.repeat) for sim in sims[1:]]
    text = table(rows, make_test_seconds() if args.make_test else None)
    print(text)
    if args.readme:
        _common.write_readme_section("bench_sim", text)


if __name__ == "__main__":
    main()
