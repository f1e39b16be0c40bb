"""One synthesis + place-and-route run of one unit; prints its report table row.

    .venv/bin/python scripts/synth.py --unit fpmul --params 'fmt=bf16,stages=2'
        [--target ecp5-85f] [--variant dsp|nodsp|nodsp-booth] [--seed 1 | --seeds 1,2,3 | --seeds 5]
        [--freq MHZ] [--timeout S] [--force]

(`make synth UNIT=fpmul PARAMS='fmt=bf16,stages=2'`.) Parameter values are read as
integers, floats or true/false where they look like one, as strings otherwise (format names).
With several seeds the row shows the median and the best Fmax. Exit status: 0 when the run
succeeded, 1 when it failed (the message names the tool, the unit and the log), 2 for bad
input or an unwritable cache / Verilog directory (one line), 130 / 143 when interrupted
by SIGINT / SIGTERM.
"""

import argparse
import statistics
import sys

import _common
from fpga import cache as cache_mod
from fpga import executors, flow, report, sweep, targets


def parse_seeds(text):
    """``"5"`` → seeds 1..5; ``"3,7"`` → [3, 7]; raises `ValueError`."""
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        count = int(text)
    except ValueError:
        raise ValueError(f"seeds must be a count or a comma-separated list, not {text!r}") \
            from None
    if count < 1:
        raise ValueError(f"seeds must be a positive count, not {count}")
    return list(range(1, count + 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", required=True, help="unit name (hdl.UNITS)")
    parser.add_argument("--params", default="", help="e.g. 'fmt=bf16,stages=2'")
    parser.add_argument("--target", default=targets.DEFAULT_TARGET,
                        help=f"one of {', '.join(targets.TARGETS)} (ECP5: optional -7/-8)")
    parser.add_argument("--variant", default=targets.DEFAULT_VARIANT,
                        help=f"one of {', '.join(targets.VARIANTS)}")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    parser.add_argument("--seeds", help="a seed sweep: a count N (seeds 1..N) or a list")
    parser.add_argument("--freq", type=float, default=None, help="nextpnr --freq (MHz)")
    parser.add_argument("--timeout", type=float, default=flow.DEFAULT_TIMEOUT_S,
                        help="seconds per run")
    parser.add_argument("--cache", default=str(cache_mod.DEFAULT_ROOT), help="result cache")
    parser.add_argument("--force", action="store_true", help="rerun even when cached")
    args = parser.parse_args(argv)
    try:
        params = _common.parse_params(args.params)
        seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
        jobs = [flow.Job(unit=args.unit, params=params, target=args.target,
                         variant=args.variant, seed=seed, freq_mhz=args.freq,
                         timeout_s=args.timeout) for seed in seeds]
        executor = executors.make_executor("local", workers=min(len(jobs), 2))
        results = sweep.run_jobs(jobs, cache=cache_mod.Cache(args.cache), executor=executor,
                                 force=args.force)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = report.aggregate([(args.unit, result) for result in results])
    layer = any(row.get("layer_cycles") for row in rows)        # (MAC arrays)
    headers = report.table_columns(layer)
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(report.row_cells(row, layer)) + " |")
    for result in results:
        if result["status"] == "ok":
            print(f"seed {result['seed']}: critical path {result['critical_path']}")
        else:
            print(f"seed {result['seed']}: {result['status']}: {result['message']}")
    first = results[0]
    print(f"result: {cache_mod.Cache(args.cache).result_path(first['key'])}")
    print(f"logs:   {first['logs']['yosys']}, {first['logs']['nextpnr']}")
    if len(results) > 1:
        fmaxes = [r["fmax_mhz"] for r in results if r["status"] == "ok" and r["fmax_mhz"]]
        if fmaxes:
            print(f"Fmax over {len(fmaxes)} seeds: median {statistics.median(fmaxes):.1f} MHz, "
                  f"best {max(fmaxes):.1f} MHz")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(_common.run_script(main))
