"""Many runs: validate all, look up the cache, execute the rest in parallel, collect results.

`run_jobs` is the one entry point (`scripts/sweep.py`, `scripts/report.py` and the main job
call it):

1. every job is validated and prepared first (`fpga.flow.prepare`): a bad target, variant,
   unit or parameter raises before any tool runs; so does an unwritable cache or Verilog
   directory (`fpga.cache.WriteError`, one line naming the path);
2. the tool versions are asked once per family — they are part of every cache key (the
   first call of a YoWASP tool compiles its WebAssembly, about a minute, once per machine:
   said only when it is about to happen);
3. cached results are taken as they are; the rest go to the executor
   (`fpga.executors`), each run under a per-key file lock, and are stored atomically as
   they finish, so an interrupted sweep keeps every finished run. ``force`` reruns cached
   results without deleting them first: each is replaced when its successor is written
   (and a rerun that fails for a transient reason — timeout, tool error — keeps the
   earlier good result);
4. a failing run is a result with its status and message; it never stops the sweep.

Parameter sets are canonical: parameters equal to their declared default are left out of
``params_key`` and the Verilog (`hdl.verilog.canonical_params`), so ``fmt=bf16`` and
``fmt=bf16,stages=0`` are one run, one cache entry and one report row. A result's
``params`` are the job's parameters as the design set wrote them; ``params_full`` lists
every parameter, defaults filled in (`hdl.verilog.full_params`), so that a comparison can
select on any of them whether or not it was written out.

Interrupts: within `handle_signals` (which `run_jobs` enters), SIGINT and SIGTERM raise
`Interrupted` in the main thread; `run_jobs` then starts no new run, ends the running ones
and their tools (`fpga.executors`), and re-raises it with the count of runs done. The
scripts print its one line (``interrupted: 3 of 14 done; run again to resume``) and exit
with 130 (SIGINT) or 143 (SIGTERM).
"""

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import cache as cache_mod
from . import executors, flow, parse, progress, targets, tools

__all__ = ["run_jobs", "execute_and_store", "row_text", "summary", "Interrupted",
           "handle_signals", "expected_seconds"]


Interrupted = executors.Interrupted
handle_signals = executors.handle_signals


def _rebase(value, old, new):
    """`value` (a result's str / dict / list fields) with `old` replaced by `new` in text."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rebase(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v, old, new) for v in value]
    return value


@contextlib.contextmanager
def _temporary_files_in(directory):
    """Point the tools' temporary files (YoWASP makes a directory per call, which a killed
    tool leaves behind) into the run directory, which the next run of the key clears."""
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(directory)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old


def execute_and_store(item):
    """Executor task: run one prepared spec unless another process already did; store it.

    `item` is ``(spec, cache root or None, force)``. The run happens in
    ``runs/<key>.partial/``, which replaces ``runs/<key>/`` only when the run is over, and
    the result file is replaced atomically after that: an interrupted run leaves the
    earlier result and its logs as they were. With root None (remote workers) the run
    happens in a temporary directory and nothing is stored here.
    """
    spec, root, force = item
    if root is None:
        run_dir = Path(tempfile.gettempdir()) / "nnrtl-runs" / spec["key"]
        shutil.rmtree(run_dir, ignore_errors=True)
        result = flow.execute({**spec, "run_dir": str(run_dir)})
        return {**result, "verilog_bytes": len(spec["unit_text"]),
                "params_full": spec.get("params_full"), "cached": False}
    cache = cache_mod.Cache(root)
    with cache.lock(spec["key"]):
        old = cache.load(spec["key"])
        if old is not None and not force:
            return {**old, "cached": True}
        final = Path(spec["run_dir"])
        partial = final.with_name(final.name + ".partial")
        with cache_mod.writing(partial, f"the run directory of {spec['params_key']}"):
            shutil.rmtree(partial, ignore_errors=True)
            (partial / "tmp").mkdir(parents=True)
        with _temporary_files_in(partial / "tmp"):
            result = flow.execute({**spec, "run_dir": str(partial)})
        shutil.rmtree(partial / "tmp", ignore_errors=True)
        result.update(verilog_bytes=len(spec["unit_text"]), params_full=spec.get("params_full"))
        if old is not None and result["status"] not in cache_mod.CACHED_STATUSES:
            result["message"] += (f" (rerun with --force; the earlier {old['status']} result "
                                  f"is kept)")
            return {**result, "cached": False}
        result = _rebase(result, partial.name, final.name)
        with cache_mod.writing(final, f"the run directory of {spec['params_key']}"):
            if final.exists():
                stale = final.with_name(final.name + ".old")
                shutil.rmtree(stale, ignore_errors=True)
                final.rename(stale)
                partial.rename(final)
                shutil.rmtree(stale, ignore_errors=True)
            elif partial.exists():
                partial.rename(final)
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
    return (f"{head}: {result['lut4_equiv']} LUT sites, {result['ff']} FF, {result['dsp']} DSP, "
            f"{fmax}{cached}")


def summary(results):
    """``{status: count}`` and the failure messages of `results`."""
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    failures = [r["message"] for r in results if r["status"] != "ok"]
    return counts, failures


# --- expected durations (for the ETA) ---------------------------------------------------------

def _seconds(result):
    if result.get("status") not in cache_mod.CACHED_STATUSES:
        return None
    total = (result.get("synth_seconds") or 0) + (result.get("pnr_seconds") or 0)
    return total or None


def _verilog_bytes(result):
    if result.get("verilog_bytes"):
        return result["verilog_bytes"]
    try:
        return os.path.getsize(result["verilog"])
    except (KeyError, TypeError, OSError):
        return None


def _fmt(params):
    return str((params or {}).get("fmt"))


def expected_seconds(specs, history):
    """Expected tool seconds of each spec, from `history` (earlier results): the median
    of the same unit, parameters, target and variant (other seeds); else of the same unit,
    format, target and variant; else the unit's Verilog size times the median seconds per
    byte on the same FPGA family; else None."""
    exact, similar, per_byte = {}, {}, {}
    for result in history:
        seconds = _seconds(result)
        if seconds is None or "unit" not in result:
            continue
        where = (result.get("target"), result.get("variant"))
        exact.setdefault((result["unit"], result.get("params_key"), *where), []).append(seconds)
        similar.setdefault((result["unit"], _fmt(result.get("params")), *where),
                           []).append(seconds)
        size = _verilog_bytes(result)
        if size:
            per_byte.setdefault(result.get("family"), []).append(seconds / size)
    out = []
    for spec in specs:
        where = (spec["target"], spec["variant"])
        for table, key in ((exact, (spec["unit"], spec["params_key"], *where)),
                           (similar, (spec["unit"], _fmt(spec["params"]), *where))):
            if key in table:
                out.append(statistics.median(table[key]))
                break
        else:
            rates = per_byte.get(spec["family"])
            out.append(statistics.median(rates) * len(spec["unit_text"]) if rates else None)
    return out


# --- the sweep --------------------------------------------------------------------------------

def _jsonable(value):
    if isinstance(value, tuple):
        return "+".join(str(_jsonable(v)) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "decode"):                 # a number format: by its name
        return getattr(value, "name", None) or str(value)
    return repr(value)


def _full_params(job):
    from hdl import verilog
    return {k: _jsonable(v) for k, v in verilog.full_params(job.unit, job.params).items()}


def _crash_result(spec, message):
    result = {field: spec[field] for field in flow._RESULT_FIELDS}
    result.update(params_full=spec.get("params_full"), schema=cache_mod.SCHEMA, status="error",
                  logs={}, synth_seconds=None, pnr_seconds=None, fmax_mhz=None, timing_met=None,
                  message=f"run of {spec['params_key']} on {spec['target']} "
                          f"({spec['variant']}, seed {spec['seed']}) lost: {message}")
    return result


def _check_tools(family, say):
    """The family's tool versions; says so first if a YoWASP compile is about to happen."""
    names = ("yosys", f"nextpnr-{family}")
    compiling = [name for name in names if tools.needs_compile(name)]
    if compiling:
        say(f"compiling YoWASP's WebAssembly for {', '.join(compiling)} (first use on this "
            f"machine, about a minute) ...")
    start = time.monotonic()
    found = flow.tool_versions(family)
    shown = ", ".join(parse.short_version(v) if not v.startswith("missing") else v
                      for v in found.values())
    say(f"{family} tools: {shown} ({time.monotonic() - start:.0f} s)")
    return found


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
        Rerun even cached results (each replaced only when its new result is written).
    show_progress : bool
        Progress line and per-run lines on `stream` (default stderr).

    Raises `ValueError` / `TypeError` for invalid jobs and `fpga.cache.WriteError` for an
    unwritable cache or Verilog directory, before any tool runs; `Interrupted` (with the
    count of runs done) on SIGINT / SIGTERM, after stopping every run.
    """
    counts = {"done": 0, "unreported": (), "since": time.time()}
    cache = cache or cache_mod.Cache()
    with handle_signals():
        try:
            return _run_jobs(jobs, cache, executor, force, show_progress, stream, counts)
        except Interrupted as exc:
            # The runs are stopped by now; a run may have stored its result without having
            # reported it yet: count those from the cache too.
            extra = 0
            for key, indices in counts["unreported"]:
                path = cache.result_path(key)
                try:
                    fresh = not force or path.stat().st_mtime >= counts["since"]
                except OSError:
                    continue
                if fresh and cache.load(key) is not None:
                    extra += len(indices)
            raise Interrupted(exc.signum, counts["done"] + extra, len(jobs)) from None


def _run_jobs(jobs, cache, executor, force, show_progress, stream, counts):
    stream = stream or sys.stderr
    cache = cache or cache_mod.Cache()
    executor = executor or executors.LocalExecutor()
    checked = [flow.check_job(job) for job in jobs]      # cheap checks first, all of them

    def say(text):
        if show_progress:
            stream.write(text + "\n")
            stream.flush()

    cache.check_writable()
    versions = {}
    for family in dict.fromkeys(targets.target(job.target).family for job in checked):
        versions[family] = _check_tools(family, say)
    specs = []
    for job in checked:
        with cache_mod.writing(flow.VERILOG_DIR, f"the Verilog of unit {job.unit}"):
            spec = flow.prepare(job, cache=cache,
                                versions=versions[targets.target(job.target).family])
        spec["params_full"] = _full_params(job)
        specs.append(spec)

    results = [None] * len(specs)
    pending = {}          # key -> [indices]
    for index, spec in enumerate(specs):
        hit = None if force else cache.load(spec["key"])
        if hit is not None:
            # This job's own (canonical) names: a result stored under an equivalent
            # spelling of the parameters reads as this one.
            results[index] = {**hit, "params": spec["params"],
                              "params_full": spec["params_full"],
                              "params_key": spec["params_key"], "cached": True}
        else:
            pending.setdefault(spec["key"], []).append(index)
    cached = sum(result is not None for result in results)
    counts["done"] = cached
    todo = [specs[indices[0]] for indices in pending.values()]
    workers = min(executor.workers, max(len(todo), 1))
    say(f"{len(specs)} run(s): {cached} cached, {len(todo)} to run on {workers} "
        f"{executor.name} worker(s)")
    if not todo:
        return results
    prepare = getattr(executor, "prepare", None)
    if prepare is not None:          # Dask: ship the code, check every worker's tools
        say(f"preparing the {executor.name} workers ...")
        prepare(versions)
        workers = min(executor.workers, len(todo))
    expected = expected_seconds(todo, cache.results())
    root = str(cache.root) if executor.stores_results else None
    items = [(spec, root, force) for spec in todo]
    unreported = dict(pending)
    counts["unreported"] = unreported.items()
    bar = progress.Progress(len(todo), workers=workers, expected=expected,
                            stream=stream if show_progress else _Null())
    finished = executor.map_unordered(execute_and_store, items)   # workers start here
    try:
        with bar:
            for task, result in finished:
                spec = todo[task]
                if isinstance(result, executors.Crashed):
                    result = _crash_result(spec, result.message)
                    cache.store(result)
                elif not executor.stores_results and not result.get("cached"):
                    cache.store({k: v for k, v in result.items() if k != "cached"})
                unreported.pop(spec["key"], None)
                for index in pending[spec["key"]]:
                    results[index] = {**result, "params": specs[index]["params"],
                                      "params_full": specs[index]["params_full"],
                                      "params_key": specs[index]["params_key"]}
                    counts["done"] += 1
                bar.done(task, row_text(result))
    finally:
        close = getattr(finished, "close", None)
        if close is not None:
            close()                  # stops whatever still runs (an interrupt, an error)
    return results


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
