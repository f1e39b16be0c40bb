"""Run every synthesis + place-and-route job of a design-set TOML file, in parallel.

    .venv/bin/python scripts/sweep.py CONFIG.toml [--jobs N] [--force] [--json FILE]
    .venv/bin/python scripts/sweep.py CONFIG.toml --executor dask --scheduler tcp://HOST:8786

CONFIG lists units, parameter grids, targets, variants and seeds (format: fpga/designs.py).
Runs go to the local cores (a process pool; default: all cores) or to a Dask cluster;
results are cached under build/fpga/ (a rerun with nothing changed costs nothing), a
progress line with an ETA goes to stderr, and a failing run is recorded with its status and
message without stopping the sweep. Each result is listed once: as its run finishes (on
stderr) and, for cached results or when stdout goes elsewhere, in the listing on stdout.

Ctrl-C (SIGINT) or SIGTERM stops the sweep within seconds: no new run starts, running
tools are ended, finished runs stay cached; "interrupted: N of M done; run again to resume".
`--force` reruns cached results, replacing each one only when its new result is written.

Exit status: 0 if every run succeeded, 1 if some failed, 2 for bad input or a path that
cannot be written (reported in one line, before any tool runs where possible), 130 / 143
when interrupted by SIGINT / SIGTERM.
"""

import argparse
import errno
import os
import sys
from pathlib import Path

import _common  # also puts the repository root on sys.path
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
    parser.add_argument("--force", action="store_true", help="rerun cached results (each "
                        "replaced only when its new result is written)")
    parser.add_argument("--json", help="also write all results to this JSON file (each with "
                        "its design-set family as \"section\")")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        design_set = designs.load(args.config)
        design_jobs = designs.jobs(design_set)
        if args.json:
            _check_json_path(Path(args.json))                # before any tool runs
        executor = executors.make_executor(args.executor, workers=args.jobs,
                                           scheduler=args.scheduler)
        results = sweep.run_jobs([job for _, job in design_jobs],
                                 cache=cache_mod.Cache(args.cache), executor=executor,
                                 force=args.force, show_progress=not args.quiet)
    except (TypeError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The finished runs were listed on stderr as they finished; where stdout is the same
    # file or terminal, list only the others (cached) here, so each shows once.
    shown = not args.quiet and _common.same_destination(sys.stdout, sys.stderr)
    for result in results:
        if not (shown and not result.get("cached")):
            print(sweep.row_text(result))
    counts, failures = sweep.summary(results)
    print("status: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if args.json:
        with cache_mod.writing(args.json, "the --json results"):
            cache_mod.write_json_atomic(args.json, [{**result, "section": family}
                                                    for (family, _), result
                                                    in zip(design_jobs, results)])
    return 1 if failures else 0


def _check_json_path(path):
    """`WriteError` now, not after the sweep, if the --json file cannot be written."""
    with cache_mod.writing(path, "the --json results"):
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    cache_mod.check_writable(path.parent, "the --json results")


if __name__ == "__main__":
    sys.exit(_common.run_script(main))
