"""One implementation run: a `Job` becomes a prepared spec, the spec becomes a result.

The split matters for sweeps and for errors:

- `prepare` (in the calling process, before any tool runs) validates the job — target,
  variant, seed, frequency, unit name and parameters — builds the unit, writes its Verilog
  (``build/verilog/<unit>-<hash>.v``, the file `make verilog` writes), generates the
  register wrapper, the yosys script and the nextpnr arguments, and computes the cache key.
  Bad input raises `ValueError` / `TypeError` with one clear line.
- `execute` (anywhere: a pool process, a Dask worker) takes the plain-data spec, runs yosys
  and nextpnr in the run directory and returns a result dict. It does not raise for tool
  problems: a run that does not fit, does not route, crashes, times out or finds no tool
  becomes a result with ``status`` and ``message`` (which names the tool, the unit and the
  log file).
- `run` does both for one job, with the cache (what `scripts/synth.py` uses).

Result fields (one JSON file per run, see `fpga.cache`): ``unit``, ``params``,
``params_key``, ``ops_per_cycle``, ``latency``, ``layer_cycles`` (units with
``layer_cycles(m, k, n)``, the MAC arrays: the cycles of `REFERENCE_LAYER`; else None),
``target``, ``family``, ``device``,
``package``, ``speed``, ``variant``, ``context``, ``seed``, ``freq_target_mhz``, ``tools``
(version lines), ``yosys_script`` and ``nextpnr_args`` (exactly what ran, in ``run_dir``),
``wrapper_pins``, ``lut4``, ``lut4_equiv``, ``ff``, ``ff_unit`` (total minus the wrapper's
registers), ``wrapper_ff``, ``carry``, ``dsp``, ``bram``, ``lutram``, ``spram``,
``logic_cells`` (nextpnr: TRELLIS_COMB / ICESTORM_LC), ``cells``, ``utilization``,
``fmax_mhz``, ``timing_met``, ``clock``, ``critical_path``, ``critical_path_ns``,
``synth_seconds``, ``pnr_seconds``, ``status`` (``ok``, ``no-fit``, ``no-route``,
``timeout``, ``tool-missing``, ``tool-error``, ``error``), ``message``, ``logs``,
``run_dir``, ``verilog``, ``key``, ``schema``, ``created``.
"""

import dataclasses
import datetime
import math
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from . import cache as cache_mod
from . import parse, targets, tools, wrapper

__all__ = ["Job", "check_job", "build_unit", "tool_versions", "prepare", "execute", "run", "ROOT",
           "VERILOG_DIR", "DEFAULT_TIMEOUT_S", "STATUSES", "REFERENCE_LAYER"]

#: (M, K, N) of the matrix product whose cycles a MAC array's results record
REFERENCE_LAYER = (64, 256, 64)

ROOT = Path(__file__).resolve().parent.parent
VERILOG_DIR = ROOT / "build" / "verilog"
DEFAULT_TIMEOUT_S = 1800.0
STATUSES = ("ok", "no-fit", "no-route", "timeout", "tool-missing", "tool-error", "error")


@dataclasses.dataclass
class Job:
    """One synthesis + place-and-route run of one unit.

    Parameters
    ----------
    unit : str
        A unit name from `hdl.UNITS` (``"fpmul"``).
    params : dict
        The unit's keyword parameters; format parameters may be format names (``"bf16"``).
    target : str
        A `fpga.targets` name (``"ecp5-85f"``).
    variant : str
        ``"dsp"``, ``"nodsp"`` or ``"nodsp-booth"`` (see `fpga.targets`).
    seed : int
        nextpnr placement seed, 0 ≤ seed < 2**31.
    freq_mhz : float or None
        The ``--freq`` target; None means the target's default.
    timeout_s : float
        Wall-clock limit for yosys and nextpnr together.
    """

    unit: str
    params: dict = dataclasses.field(default_factory=dict)
    target: str = targets.DEFAULT_TARGET
    variant: str = targets.DEFAULT_VARIANT
    seed: int = 1
    freq_mhz: object = None
    timeout_s: float = DEFAULT_TIMEOUT_S


def _positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, not {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def check_job(job):
    """Validate `job`; return a normalized copy. Raises `ValueError` / `TypeError`.

    Checks the target, variant, seed, frequency and timeout, and constructs the unit (which
    validates its parameters; nothing is elaborated and no tool runs).
    """
    if not isinstance(job, Job):
        raise TypeError(f"job must be a fpga.flow.Job, not {job!r}")
    tgt = targets.target(job.target)
    targets.check_variant(job.variant, tgt)
    from golden import checks     # (as hdl, imported where used)
    seed = checks.integer("seed", job.seed, lo=0, hi=2 ** 31 - 1)
    freq = None if job.freq_mhz is None else _positive_number("freq_mhz", job.freq_mhz)
    timeout = _positive_number("timeout_s", job.timeout_s)
    if not isinstance(job.params, dict):
        raise TypeError(f"params must be a dict, not {job.params!r}")
    build_unit(job.unit, job.params)
    return dataclasses.replace(job, target=tgt.name, seed=seed, freq_mhz=freq, timeout_s=timeout)


def build_unit(unit, params):
    """Construct the unit (validating its parameters); errors name the unit and parameters."""
    from hdl import verilog       # imported here: `fpga` itself must import without hdl
    try:
        built = verilog.build_unit(unit, params)
    except (TypeError, ValueError) as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise type(exc)(f"{unit}({shown}): {exc}") from None
    # Built for its signature and checks only; `hdl.verilog.emit` elaborates its own copy.
    # Amaranth's "created but never used" warning is silenced the way Amaranth does it.
    built._MustUse__silence = True
    return built


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else repr(value)


def tool_versions(family, environ=None):
    """``{"yosys": version, "nextpnr": version}`` for `family`; a missing tool maps to
    ``"missing: <reason>"`` (the run then fails with status ``tool-missing``)."""
    out = {}
    for role, tool in (("yosys", "yosys"), ("nextpnr", f"nextpnr-{family}")):
        try:
            out[role] = tools.version(tool, environ)
        except tools.ToolMissing as exc:
            out[role] = f"missing: {exc}"
    return out


# Vendor primitives a unit may instantiate itself (`hdl.dsp`), per family, and the yosys
# cell library that declares them: read before `hierarchy -check`, which otherwise stops at
# an unknown module. Only units that instantiate one get the extra line (every other
# script, and so every cached result, stays as it was).
_PRIMITIVES = {"ecp5": (("MULT18X18D",), "+/ecp5/cells_bb.v"),
               "ice40": (("SB_MAC16",), "+/ice40/cells_sim.v")}


def _instantiated_primitives(family, unit_text):
    """The family's primitives that `unit_text` instantiates (module names, sorted)."""
    names, _ = _PRIMITIVES.get(family, ((), None))
    return sorted(name for name in names
                  if re.search(rf"^\s*{name}\s*(#\s*\(|\\?[A-Za-z_])", unit_text, re.M))


def _yosys_script(tgt, variant, top, unit_text=""):
    lines = ["read_verilog unit.v", "read_verilog wrapper.v"]
    if _instantiated_primitives(tgt.family, unit_text):
        lines.append(f"read_verilog -lib {_PRIMITIVES[tgt.family][1]}")
    lines.append(f"hierarchy -check -top {top}")
    if variant == "nodsp-booth":
        # Booth-encode every multiplier before the family script maps it to LUTs.
        lines += ["proc", "flatten", "opt_expr", "opt_clean", "wreduce", "opt_clean", "booth"]
    synth = f"{tgt.synth_command} -top {top}"
    if tgt.family == "ecp5" and variant != "dsp":
        synth += " -nodsp"
    if tgt.family == "ice40" and variant == "dsp":
        synth += " -dsp"
    lines += [f"{synth} -json netlist.json", "tee -q -o stat.json stat -json"]
    return "\n".join(lines) + "\n"


def _nextpnr_args(tgt, freq, seed):
    args = [*tgt.nextpnr_args, "--json", "netlist.json", "--freq", f"{freq:g}",
            "--seed", str(seed), "--report", "report.json", "--timing-allow-fail",
            "-l", "nextpnr.log", "-q"]
    args += ["--out-of-context"] if tgt.family == "ecp5" else ["--pcf-allow-unconstrained"]
    return args


_PREPARED = {}       # (unit, params key, Verilog directory, context) -> (path, text, Wrapped)


def prepare(job, *, cache=None, versions=None, verilog_dir=VERILOG_DIR):
    """Validate `job` and turn it into a spec (a plain, picklable dict) for `execute`.

    Parameters
    ----------
    job : Job
    cache : fpga.cache.Cache or None
        Where the run directory goes (default ``build/fpga``).
    versions : dict or None
        `tool_versions` of the target's family (queried if None).
    verilog_dir : path
        Where the unit's Verilog is written.

    Raises `ValueError` / `TypeError` (one line, naming the bad value) before any tool runs.
    """
    from hdl import verilog

    cache = cache or cache_mod.Cache()
    job = check_job(job)
    tgt = targets.target(job.target)
    unit = build_unit(job.unit, job.params)
    params_key = verilog.params_key(job.unit, job.params)
    context = "out-of-context" if tgt.family == "ecp5" else "scan"
    # Variants, seeds and targets of one unit share its Verilog and wrapper: convert once.
    memo = (job.unit, params_key, str(verilog_dir), context)
    if memo not in _PREPARED:
        path, top = verilog.emit(job.unit, job.params, verilog_dir)
        unit_text = Path(path).read_text()
        _PREPARED[memo] = (path, unit_text, wrapper.wrap(unit, unit_text, top, context=context))
    path, unit_text, wrapped = _PREPARED[memo]
    freq = job.freq_mhz or tgt.default_freq_mhz
    script = _yosys_script(tgt, job.variant, wrapper.WRAPPER_TOP, unit_text)
    nextpnr_args = _nextpnr_args(tgt, freq, job.seed)
    if versions is None:
        versions = tool_versions(tgt.family)
    key = cache_mod.make_key({"unit_verilog": unit_text, "wrapper_verilog": wrapped.text,
                              "target": dataclasses.asdict(tgt), "variant": job.variant,
                              "yosys_script": script, "nextpnr_args": nextpnr_args,
                              "seed": job.seed, "tools": versions})
    ops = getattr(unit, "ops_per_cycle", 1)
    latency = getattr(unit, "latency", None)
    layer = getattr(unit, "layer_cycles", None)           # (MAC arrays)
    return {
        "key": key, "unit": job.unit, "params": {k: _jsonable(v) for k, v in job.params.items()},
        "params_key": params_key, "ops_per_cycle": ops,
        "latency": latency if isinstance(latency, int) else None,
        "layer_cycles": layer(*REFERENCE_LAYER) if callable(layer) else None,
        "target": tgt.name, "family": tgt.family, "device": tgt.device, "package": tgt.package,
        "speed": tgt.speed, "variant": job.variant, "context": context, "seed": job.seed,
        "freq_target_mhz": freq, "timeout_s": job.timeout_s, "tools": versions,
        "wrapper_ff": wrapped.wrapper_ff, "wrapper_pins": wrapped.pins,
        "unit_text": unit_text, "wrapper_text": wrapped.text, "yosys_script": script,
        "nextpnr_args": nextpnr_args, "nextpnr_tool": tgt.nextpnr,
        "run_dir": str(cache.run_dir(key)), "verilog": str(path),
    }


def _show(path):
    """`path` relative to the working directory when below it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_tool(argv, cwd, timeout):
    """Run `argv` in its own process group; return (returncode, output) or raise Timeout."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(timeout, 0.001))
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # the tool and anything it started
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return proc.returncode, out


class _Failed(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


_RESULT_FIELDS = ("key", "unit", "params", "params_key", "ops_per_cycle", "latency",
                  "layer_cycles", "target",
                  "family", "device", "package", "speed", "variant", "context", "seed",
                  "freq_target_mhz", "tools", "wrapper_ff", "wrapper_pins", "yosys_script",
                  "nextpnr_args", "verilog", "run_dir")


def execute(spec):
    """Run yosys and nextpnr for a prepared `spec`; return the result dict (never raises
    for tool failures; see the module documentation)."""
    result = {field: spec[field] for field in _RESULT_FIELDS}
    run_dir = Path(spec["run_dir"])
    logs = {"yosys": str(run_dir / "yosys.log"), "nextpnr": str(run_dir / "nextpnr.log"),
            "report": str(run_dir / "report.json")}
    result.update(schema=cache_mod.SCHEMA, status="ok", message="", logs=logs,
                  synth_seconds=None, pnr_seconds=None, fmax_mhz=None, timing_met=None,
                  created=datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec="seconds"))
    label = (f"{spec['params_key']} on {spec['target']} ({spec['variant']}, "
             f"seed {spec['seed']})")
    deadline = time.monotonic() + spec["timeout_s"]

    def tool_step(tool, role, argv_tail, log):
        try:
            argv = tools.command(tool)
        except tools.ToolMissing as exc:
            Path(log).write_text(f"{exc}\n")
            raise _Failed("tool-missing", f"{tool} is missing ({exc}); it is needed for "
                                          f"{label}; log: {_show(log)}") from None
        if spec["tools"].get(role, "").startswith("missing:"):
            Path(log).write_text(spec["tools"][role] + "\n")
            raise _Failed("tool-missing", f"{tool} did not run when its version was asked "
                                          f"({spec['tools'][role][9:]}); needed for {label}; "
                                          f"log: {_show(log)}")
        start = time.monotonic()
        try:
            code, output = _run_tool([*argv, *argv_tail], run_dir, deadline - start)
        except subprocess.TimeoutExpired:
            raise _Failed("timeout", f"{tool} timed out ({spec['timeout_s']:g} s limit for the "
                                     f"run) on {label}; log: {_show(log)}") from None
        except OSError as exc:
            Path(log).write_text(f"{exc}\n")
            raise _Failed("tool-missing", f"{tool} could not be started ({exc}) for {label}; "
                                          f"log: {_show(log)}") from None
        seconds = round(time.monotonic() - start, 2)
        if not Path(log).exists() or Path(log).stat().st_size == 0:
            Path(log).write_text(output)       # the tool died before opening its log
        elif output.strip():
            with open(log, "a") as handle:
                handle.write("\n--- console output ---\n" + output)
        return code, seconds

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("netlist.json", "stat.json", "report.json", "yosys.log", "nextpnr.log"):
            (run_dir / stale).unlink(missing_ok=True)
        (run_dir / "unit.v").write_text(spec["unit_text"])
        (run_dir / "wrapper.v").write_text(spec["wrapper_text"])
        (run_dir / "synth.ys").write_text(spec["yosys_script"])
        (run_dir / "nextpnr.args").write_text(" ".join(spec["nextpnr_args"]) + "\n")

        code, result["synth_seconds"] = tool_step(
            "yosys", "yosys", ["-q", "-l", "yosys.log", "-s", "synth.ys"], logs["yosys"])
        if code != 0:
            error = parse.yosys_failure(Path(logs["yosys"]).read_text(errors="replace"))
            raise _Failed("tool-error", f"yosys failed (exit {code}) on {label}: {error}; "
                                        f"log: {_show(logs['yosys'])}")
        cells = parse.cell_counts((run_dir / "stat.json").read_text())
        res = parse.resources(spec["family"], cells)
        result.update({k: v for k, v in res.items() if k != "unmapped"}, cells=cells)
        result["ff_unit"] = max(res["ff"] - spec["wrapper_ff"], 0)

        code, result["pnr_seconds"] = tool_step(
            spec["nextpnr_tool"], "nextpnr", spec["nextpnr_args"], logs["nextpnr"])
        if code != 0:
            status, detail = parse.nextpnr_failure(
                Path(logs["nextpnr"]).read_text(errors="replace"))
            raise _Failed(status, f"{spec['nextpnr_tool']} failed (exit {code}) on {label}: "
                                  f"{detail}; log: {_show(logs['nextpnr'])}")
        report = parse.nextpnr_report((run_dir / "report.json").read_text())
        result.update({k: report[k] for k in ("fmax_mhz", "clock", "utilization", "logic_cells",
                                              "critical_path", "critical_path_ns")})
        if report["fmax_mhz"] is not None:
            result["timing_met"] = report["fmax_mhz"] >= spec["freq_target_mhz"]
        notes = []
        if res["unmapped"]:
            notes.append(f"unmapped cells after synthesis: {', '.join(res['unmapped'])}")
        if report["fmax_mhz"] is None:
            notes.append("no clocked path found, so no Fmax")
        result["message"] = "; ".join(notes)
        (run_dir / "netlist.json").unlink(missing_ok=True)     # large, and rebuilt in seconds
    except _Failed as failure:
        result.update(status=failure.status, message=failure.message)
    except parse.ParseError as exc:
        result.update(status="tool-error", message=f"could not read the tool output for "
                                                   f"{label}: {exc}; logs in {_show(run_dir)}")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:              # a bug here must not stop a sweep
        result.update(status="error", message=f"fpga flow error on {label}: {exc!r}; "
                                              f"run directory {_show(run_dir)}")
    return result


def run(job, *, cache=None, force=False, versions=None):
    """Prepare, execute (unless cached) and store one `job`; return its result dict.

    A cached result has ``"cached": True``. `force` reruns even when cached.
    """
    cache = cache or cache_mod.Cache()
    spec = prepare(job, cache=cache, versions=versions)
    with cache.lock(spec["key"]):
        if not force:
            hit = cache.load(spec["key"])
            if hit is not None:
                return {**hit, "cached": True}
        result = execute(spec)
        cache.store(result)
    return {**result, "cached": False}
