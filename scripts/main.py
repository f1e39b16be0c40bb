"""The main job of `make`: Verilog of the design set, smoke simulations, synthesis for the
design set's FPGA targets, and the area/timing report.

    .venv/bin/python scripts/main.py [--designs designs/default.toml] [--smoke-only]

Ctrl-C / SIGTERM stop it with one line (exit 130 / 143; finished FPGA runs stay cached);
a path that cannot be written is one ``error: cannot write ...`` line (exit 2).
"""

import argparse
import sys
import time

import _common
import generate
import report
from fpga import cache as cache_mod
from tb import harness, smoke


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--designs", default="designs/default.toml", help="design-set TOML")
    parser.add_argument("--smoke-only", action="store_true",
                        help="only the smoke simulations (no Verilog listing, no synthesis)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        instances = _common.design_units(args.designs)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    steps = 1 if args.smoke_only else 4
    if not args.smoke_only:
        print(f"[1/{steps}] Verilog of {len(instances)} units from {args.designs}", flush=True)
        with cache_mod.writing("build/verilog", "the units' Verilog"):
            generate.generate(args.designs)
    print(f"[{1 if args.smoke_only else 2}/{steps}] smoke simulations "
          f"({len(instances)} units)", flush=True)
    try:
        with cache_mod.writing("build/sim", "the smoke simulations"):
            smoke.smoke(instances, log=lambda line: print(line, flush=True))
    except harness.SimulatorMissing as exc:
        sys.exit(f"error: {exc}")
    except harness.BenchFailure as exc:
        sys.exit(f"error: smoke simulation failed: {exc}")
    if not args.smoke_only:
        print(f"[3/{steps}] synthesis and place-and-route, then [4/{steps}] the report",
              flush=True)
        with cache_mod.writing("build/report", "the report"):
            report.main(["--designs", args.designs])
    print(f"main job done in {time.monotonic() - start:.0f} s: Verilog in build/verilog/, "
          "simulations in build/sim/, FPGA results in build/fpga/, report in build/report/")


if __name__ == "__main__":
    sys.exit(_common.run_script(main))
