"""Synthesize a design set (cached runs cost nothing) and write the area/timing report.

    .venv/bin/python scripts/report.py [--designs designs/default.toml] [--out build/report]
                                       [--jobs N | --executor dask --scheduler ADDRESS]
                                       [--no-run] [--force] [--cache build/fpga]
                                       [--readme SECTION [--readme-tables]]

Studies that scripts wrote into build/studies/ (scripts/lmul_error.py, scripts/mlp_digits.py;
`make studies`) are appended when the design set has a unit they are about (L-Mul), each
with a chart of its accuracy or error against the LUTs of the units that compute it.
Writes build/report/report.md, build/report/index.html (static, opens from disk), PNG
plots (one per unit family, one per comparison, one per accuracy chart) and
build/report/results.json, then prints where the report is.
``--no-run`` reports only results already in the cache (missing runs are listed).
The main job calls ``main(["--designs", PATH])``.
"""

import argparse
import sys
import time
from pathlib import Path

import _common  # also puts the repository root on sys.path
from fpga import cache as cache_mod
from fpga import designs, executors, flow, report, studies, sweep, targets


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="designs/default.toml", help="design-set TOML")
    parser.add_argument("--out", default=str(report.DEFAULT_OUT), help="report directory")
    parser.add_argument("--cache", default=str(cache_mod.DEFAULT_ROOT), help="result cache")
    parser.add_argument("--jobs", type=int, default=None, help="local worker processes "
                        "(default: all cores)")
    parser.add_argument("--executor", choices=executors.EXECUTORS, default="local")
    parser.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    parser.add_argument("--no-run", action="store_true", help="only report cached results")
    parser.add_argument("--force", action="store_true", help="rerun cached results")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--readme", metavar="SECTION", help="also write the comparison tables "
                        "into README.md between the <!-- SECTION:begin/end --> markers")
    parser.add_argument("--readme-tables", action="store_true", help="with --readme: the "
                        "per-family tables too, before the comparisons")
    args = parser.parse_args(argv)
    if args.readme_tables and not args.readme:
        parser.error("--readme-tables needs --readme SECTION")
    return args


def cached_results(design_jobs, cache):
    """(entries, missing) for `design_jobs` from the cache only; nothing runs."""
    entries, missing = [], []
    versions = {}
    for family, job in design_jobs:
        tgt_family = targets.target(job.target).family
        if tgt_family not in versions:
            versions[tgt_family] = flow.tool_versions(tgt_family)
        spec = flow.prepare(job, cache=cache, versions=versions[tgt_family])
        hit = cache.load(spec["key"], only_cached_statuses=False)
        if hit is None:
            missing.append(f"{spec['params_key']} {job.target} {job.variant} seed {job.seed}")
        else:
            entries.append((family, hit))
    return entries, missing


def main(argv=None):
    """Run the report command; returns the dict of paths written (see fpga.report)."""
    args = _arguments(argv)
    if args.readme:
        _common.check_readme_section(args.readme)      # before any tool runs
    start = time.monotonic()
    try:
        design_set = designs.load(args.designs)
        design_jobs = designs.jobs(design_set)
        executor = executors.make_executor(args.executor, workers=args.jobs,
                                           scheduler=args.scheduler)
    except (TypeError, ValueError, RuntimeError) as exc:
        sys.exit(f"error: {exc}")
    cache_mod.check_writable(args.out, "the report")       # before any tool runs
    cache = cache_mod.Cache(args.cache)
    notes = []
    if args.no_run:
        entries, missing = cached_results(design_jobs, cache)
        if missing:
            notes.append(f'<details markdown="1">\n<summary>{len(missing)} runs not in the '
                         f"cache (not run: --no-run)</summary>\n\n"
                         + "\n".join(f"- {report.md_text(m)}" for m in missing)
                         + "\n\n</details>")
    else:
        try:
            results = sweep.run_jobs([job for _, job in design_jobs], cache=cache,
                                     executor=executor, force=args.force,
                                     show_progress=not args.quiet)
        except (TypeError, ValueError, RuntimeError) as exc:
            sys.exit(f"error: {exc}")
        entries = [(family, result) for (family, _), result in zip(design_jobs, results)]
        counts, _ = sweep.summary(results)
        notes.append("Run status: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                     + f"; report made in {time.monotonic() - start:.0f} s.")
    with cache_mod.writing(args.out, "the report"):
        paths = report.write_report(entries, args.out, compares=design_set.compares,
                                    title=f"nnrtl FPGA report: {design_set.title}",
                                    source=args.designs, notes=notes,
                                    studies=studies.load_studies(),
                                    units=[design.unit for design in design_set.designs],
                                    references=designs.reference_results(design_set))
    if args.readme:
        _common.write_readme_section(
            args.readme, f"From `{args.designs}` ({time.strftime('%Y-%m-%d')}); full report: "
            f"`make report DESIGNS={args.designs}`.\n\n"
            + (paths["tables"] + "\n" if args.readme_tables else "")
            + paths["comparisons"].replace("## Comparison: ", "#### "))
    html_path = Path(paths["html"])
    print(f"report: {html_path} (open it in a browser), {paths['markdown']}, "
          f"{len(paths['plots'])} plots")
    return paths


if __name__ == "__main__":
    sys.exit(_common.run_script(lambda argv: main(argv) and 0))
