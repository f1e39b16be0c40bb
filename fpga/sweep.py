"""Many runs: validate all, look up the cache, execute the rest in parallel, collect results.

`run_jobs` is the one entry point (`scripts/sweep.py`, `scripts/report.py` and the main job
call it):

1. every job is validated and prepared first (`fpga.flow.prepare`): a bad target, variant,
   unit or parameter raises before any tool runs;
2. the tool versions are asked once per family (the first call compiles YoWASP's
   WebAssembly, ~40 s, once per machine) — they are part of every cache key;
3. cached results are taken as they are; the rest go to the executor
   (`fpga.executors`), each run under a per-key file lock, and are stored atomically as
   they finish, so an interrupted sweep keeps every finished run;
4. a failing run is a result with its status and message; it never stops the sweep.
"""

import sys
import time

from . import cache as cache_mod
from . import executors, flow, parse, progress, targets

__all__ = ["run_jobs", "execute_and_store", "row_text", "summary"]


def execute_and_store(spec_and_root):
    """Executor task: run one prepared spec unless another process already did; store it."""
    spec, root = spec_and_root
    cache = cache_mod.Cache(root)
    with cache.lock(spec["key"]):
        hit = cache.load(spec["key"])
        if hit is not None:
            return {**hit, "cached": True}
        result = flow.execute(spec)
        cache.store(result)
    return {**result, "cached": False}


def row_text(result):
    """A one-line human summary of a result (used in progress lines and by `make synth`)."""
    head = f"{result['params_key']} {result['target']} {result['variant']} seed {result['seed']}"
    if result["status"] != "ok":
        return f"{head}: {result['status'].upper()}: {result['message']}"
    fmax = f"{result['fmax_mhz']:.1f} MHz" if result.get("fmax_mhz") else "no Fmax"
    seconds = (result.get("synth_seconds") or 0) + (result.get("pnr_seconds") or 0)
    cached = ", cached" if result.get("cached") else f", {seconds:.0f} s"
    return (f"{head}: {result['lut4_equiv']} LUT4, {result['ff']} FF, {result['dsp']} DSP, "
            f"{fmax}{cached}")


def summary(results):
    """``{status: count}`` and the failure messages of `results`."""
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    failures = [r["message"] for r in results if r["status"] != "ok"]
    return counts, failures


def run_jobs(jobs, *, cache=None, executor=None, force=False, show_progress=True,
             stream=None):
    """Run `jobs` (a list of `fpga.flow.Job`); return their results in the same order.

    Parameters
    ----------
    jobs : list of Job
    cache : fpga.cache.Cache or None
        Result cache (default ``build/fpga``).
    executor : an `fpga.executors` executor or None
        Default: `executors.LocalExecutor` over all cores.
    force : bool
        Rerun even cached results.
    show_progress : bool
        Progress line and per-run lines on `stream` (default stderr).

    Raises `ValueError` / `TypeError` for invalid jobs, before any tool runs.
    """
    stream = stream or sys.stderr
    cache = cache or cache_mod.Cache()
    executor = executor or executors.LocalExecutor()
    checked = [flow.check_job(job) for job in jobs]      # cheap checks first, all of them

    def say(text):
        if show_progress:
            stream.write(text + "\n")
            stream.flush()

    versions = {}
    for family in dict.fromkeys(targets.target(job.target).family for job in checked):
        start = time.monotonic()
        say(f"checking the {family} tools (their first use compiles YoWASP's WebAssembly, "
            f"about a minute) ...")
        versions[family] = flow.tool_versions(family)
        shown = ", ".join(parse.short_version(v) if not v.startswith("missing") else v
                          for v in versions[family].values())
        say(f"  {shown} ({time.monotonic() - start:.0f} s)")
    specs = [flow.prepare(job, cache=cache,
                          versions=versions[targets.target(job.target).family])
             for job in checked]

    results = [None] * len(specs)
    pending = {}          # key -> [indices]
    for index, spec in enumerate(specs):
        hit = None if force else cache.load(spec["key"])
        if hit is not None:
            results[index] = {**hit, "cached": True}
        else:
            pending.setdefault(spec["key"], []).append(index)
    cached = sum(result is not None for result in results)
    todo = [specs[indices[0]] for indices in pending.values()]
    say(f"{len(specs)} run(s): {cached} cached, {len(todo)} to run on "
        f"{min(executor.workers, max(len(todo), 1))} {executor.name} worker(s)")
    if force:
        for spec in todo:
            cache.result_path(spec["key"]).unlink(missing_ok=True)
    items = [(spec, str(cache.root)) for spec in todo]
    finished = executor.map_unordered(execute_and_store, items)   # workers start here
    bar = progress.Progress(len(todo), workers=executor.workers,
                            stream=stream if show_progress else _Null())
    with bar:
        for task, result in finished:
            if not result.get("cached"):
                cache.store({k: v for k, v in result.items() if k != "cached"})
            for index in pending[todo[task]["key"]]:
                results[index] = result
            bar.done(row_text(result))
    return results


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
