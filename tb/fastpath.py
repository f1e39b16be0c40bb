"""The fast simulation path of stateless stream operators: a C++ testbench, no Python per cycle.

cocotb costs about 30 µs of Python per simulated cycle; a unit with one result per input
item (fpmul, lmul) needs nothing from Python while it runs, so `tb/fastpath_main.cpp` runs
the clock in C++ instead: it reads the packed input items from a file, streams them
through the unit with seeded random stalls on both valid and ready, checks the handshake
(a stalled output holds its valid and payload; no output before its input, none after the
last, no hang) and writes the outputs, in order, to a file. Python writes the items,
reads the outputs and compares them with the golden model on whole arrays, as the cocotb
benches do (`tb.harness.run_fast`, which also owns the build cache).

This module is the testbench's interface: the Verilator command that builds it with a
unit's Verilog, the file format (per item, ceil(width / 32) little-endian 32-bit words,
least significant first, so payloads of any width), and running the binary. The
model's top module is ``dut`` with the unit's own ports (``clk``, ``rst``, ``i__valid``,
``i__ready``, ``i__payload``, ``o__valid``, ``o__ready``, ``o__payload``), as
`tb.stream.Probed` writes them (its probes go unused here).
"""

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["TESTBENCH", "PREFIX", "BINARY", "RUNTIME_OBJECTS", "PCH_HEADER", "PCH_TEXT",
           "PCH_MAKEFILE", "StreamViolation",
           "testbench_digest", "verilator_command", "items_to_words", "words_to_items",
           "run"]

TESTBENCH = Path(__file__).resolve().with_name("fastpath_main.cpp")
PREFIX = "Vdut"                  # the model's C++ class, included by the testbench
BINARY = "Vdut_fast"
# Verilator's runtime library objects that this testbench links (no VPI, no DPI calls):
# compiled once per cache, as for the cocotb builds (`tb.harness`).
RUNTIME_OBJECTS = ("verilated", "verilated_threads")
# A precompiled header of Verilator's runtime headers (and the standard headers the
# testbench uses): parsing them is most of the time to compile the testbench and the model,
# each a translation unit of its own. `PCH_MAKEFILE` compiles it with the flags that
# verilated.mk gives the model's own files (the compiler rejects a header precompiled with
# other flags, and then reads the text: slower, never wrong; -Winvalid-pch says so in the
# build log).
PCH_HEADER = "fastpath_pch.h"
PCH_TEXT = """// nnrtl fast path: precompiled with tb/fastpath.py's PCH_MAKEFILE
#include "verilated.h"
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
"""
PCH_MAKEFILE = f"""# {PCH_HEADER}, compiled as verilated.mk compiles a model's files (no trace).
VM_PREFIX = Vpch
VM_MODPREFIX = Vpch
VM_SC = 0
VM_SP_OR_SC = 0
VM_PCLI = 1
VM_COVERAGE = 0
VM_TIMING = 0
VM_TRACE = 0
VM_TRACE_FST = 0
VM_TRACE_VCD = 0
VM_TRACE_SAIF = 0
include $(VERILATOR_ROOT)/include/verilated.mk
{PCH_HEADER}.gch: {PCH_HEADER}
\t$(CXX) $(OPT_FAST) $(CXXFLAGS) $(CPPFLAGS) $(CFG_CXXFLAGS_PCH) $< -o $@
"""
_REPORT = re.compile(r"^fastpath: cycles=(\d+) inputs=(\d+) outputs=(\d+) seconds=([0-9.]+)$",
                     re.M)


class StreamViolation(AssertionError):
    """The testbench saw the unit break the stream protocol: a stalled output that changed
    or dropped valid, an output before its input or after the last one, or a hang."""


def testbench_digest():
    """Hash of the testbench source (part of the build hash)."""
    return hashlib.sha256(TESTBENCH.read_bytes()).hexdigest()


def verilator_command(sources, build_dir, build_args):
    """``verilator --cc --exe --build`` of the Verilog files `sources` (top module ``dut``)
    with the testbench, into `build_dir`; the binary is ``build_dir / BINARY``."""
    return ["verilator", "--cc", "--exe", "--build", "--build-jobs", "1",
            *build_args, "--top-module", "dut", "--prefix", PREFIX,
            "--Mdir", str(build_dir), "-o", BINARY, *map(str, sources), str(TESTBENCH)]


def _words(width):
    return (int(width) + 31) // 32


def items_to_words(items, width):
    """Payloads (ints or a uint64 array, each < 2**width) as a (count, words) uint32 array."""
    words = _words(width)
    if width <= 64:
        values = np.asarray(items, dtype=np.uint64).reshape(-1)
        if values.size and int(values.max()) >> width:
            raise ValueError(f"an item does not fit {width} bits")
        pairs = np.stack([values & np.uint64(0xFFFFFFFF), values >> np.uint64(32)], axis=1)
        return np.ascontiguousarray(pairs[:, :words].astype(np.uint32))
    out = np.zeros((len(items), words), dtype=np.uint32)
    for row, value in enumerate(items):
        value = int(value)
        if value < 0 or value >> width:
            raise ValueError(f"item #{row} does not fit {width} bits")
        for column in range(words):
            out[row, column] = (value >> (32 * column)) & 0xFFFFFFFF
    return out


def words_to_items(raw, width, count):
    """Inverse of `items_to_words` from a flat uint32 array: a uint64 array up to 64 bits,
    a list of ints beyond."""
    words = _words(width)
    table = np.asarray(raw, dtype=np.uint32).reshape(count, words)
    if width <= 64:
        values = table[:, 0].astype(np.uint64)
        if words > 1:
            values |= table[:, 1].astype(np.uint64) << np.uint64(32)
        return values
    return [sum(int(w) << (32 * i) for i, w in enumerate(row)) for row in table.tolist()]


def run(binary, items, *, in_width, out_width, seed, stall, idle_limit, drain, run_dir,
        out_count=None, env=None, reset=2, timeout=600):
    """Run the testbench `binary` on `items` (payloads of `in_width` bits); `out_count`
    outputs are expected (default one per item, in which case no output may leave before
    its item was accepted).

    Returns a dict: ``outputs`` (as `words_to_items` gives them, in order), ``cycles``
    (from the end of reset to the last output), ``seconds`` (the testbench's own clock
    over those cycles and the drain), ``inputs``. Raises `StreamViolation` with the
    testbench's message when the unit breaks the protocol, `RuntimeError` when the
    testbench cannot run.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    count = len(items)
    in_file, out_file = run_dir / "items.bin", run_dir / "outputs.bin"
    items_to_words(items, in_width).tofile(in_file)
    command = [str(binary), "--in", str(in_file), "--out", str(out_file),
               "--count", str(count), "--in-width", str(in_width),
               "--out-width", str(out_width), "--seed", str(int(seed)),
               "--stall", repr(float(stall)), "--idle-limit", str(int(idle_limit)),
               "--drain", str(int(drain)), "--reset", str(int(reset))]
    if out_count is not None:
        command += ["--out-count", str(int(out_count))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    (run_dir / "sim.log").write_text(" ".join(command) + "\n" + done.stdout + done.stderr)
    if done.returncode == 1 and "fastpath: FAIL " in done.stderr:
        message = done.stderr.split("fastpath: FAIL ", 1)[1].strip()
        raise StreamViolation(message)
    report = _REPORT.search(done.stdout)
    if done.returncode != 0 or report is None:
        raise RuntimeError(f"{binary} exited with status {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()}")
    cycles, inputs, outputs, seconds = report.groups()
    raw = np.fromfile(out_file, dtype=np.uint32)
    return {"outputs": words_to_items(raw, out_width, count if out_count is None
                                      else int(out_count)), "cycles": int(cycles),
            "inputs": int(inputs), "seconds": float(seconds)}
