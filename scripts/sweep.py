"""Run every synthesis + place-and-route job of a design-set TOML file, in parallel.

    .venv/bin/python scripts/sweep.py CONFIG.toml [--jobs N] [--force] [--json FILE]
    .venv/bin/python scripts/sweep.py CONFIG.toml --executor dask --scheduler tcp://HOST:8786

CONFIG lists units, parameter grids, targets, variants and seeds (format: fpga/designs.py).
Runs go to the local cores (a process pool; default: all cores) or to a Dask cluster;
results are cached under build/fpga/ (a rerun with nothing changed costs nothing), a
progress line with an ETA goes to stderr, and a failing run is recorded with its status and
message without stopping the sweep. Exit status: 0 if every run succeeded, 1 if some failed,
2 for bad input (reported in one line before any tool runs).
"""

import argparse
import json
import sys

import _common  # noqa: F401  (puts the repository root on sys.path)
from fpga import cache as cache_mod
from fpga import designs, executors, sweep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="design-set TOML file")
    parser.add_argument("--jobs", type=int, default=None,
                        help="local worker processes (default: all cores)")
    parser.add_argument("--executor", choices=executors.EXECUTORS, default="local")
    parser.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    parser.add_argument("--cache", default=str(cache_mod.DEFAULT_ROOT), help="result cache")
    parser.add_argument("--force", action="store_true", help="rerun cached results")
    parser.add_argument("--json", help="also write all results to this JSON file (each with "
                        "its design-set family as \"section\")")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        design_set = designs.load(args.config)
        design_jobs = designs.jobs(design_set)
        executor = executors.make_executor(args.executor, workers=args.jobs,
                                           scheduler=args.scheduler)
        results = sweep.run_jobs([job for _, job in design_jobs],
                                 cache=cache_mod.Cache(args.cache), executor=executor,
                                 force=args.force, show_progress=not args.quiet)
    except (TypeError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(sweep.row_text(result))
    counts, failures = sweep.summary(results)
    print("status: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([{**result, "section": family}
                       for (family, _), result in zip(design_jobs, results)],
                      handle, indent=1, sort_keys=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
