"""SIGINT and SIGTERM stop a real sweep (scripts/sweep.py on the real yowasp tools, a tiny
unit) within 5 s: exit status 130 / 143, one line "interrupted: N of M done; run again to
resume", no traceback, no process left behind; every result on disk is complete, and the
next run reuses them. An interrupted `--force` sweep keeps every result, old or new.

The measured signal-to-exit times are printed (``pytest -s`` shows them).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fpga import cache as cache_mod

psutil = pytest.importorskip("psutil")      # installed with dask[distributed]

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "scripts" / "sweep.py"

# The smallest real unit (an FP4 multiplier between the wrapper's registers): ~2-3 s a run.
DESIGNS = """
title = "tiny"
[defaults]
targets = ["ecp5-25f"]
variants = ["nodsp"]
seeds = {seeds}
[[design]]
unit = "fpmul"
params = {{ fmt = "fp4_e2m1", stages = 0 }}
"""

MESSAGE = re.compile(r"interrupted: (\d+) of (\d+) done; run again to resume")


def _design_set(tmp_path, seeds):
    path = tmp_path / "tiny.toml"
    path.write_text(DESIGNS.format(seeds=seeds))
    return path


def _results(cache_dir):
    """{key: (bytes, parsed)} of every result file; asserts each is complete."""
    out = {}
    for path in sorted((cache_dir / "results").glob("*.json")):
        data = path.read_bytes()
        result = json.loads(data)                        # complete JSON, or this raises
        assert result["key"] == path.stem and result["schema"] == cache_mod.SCHEMA
        assert result["status"] == "ok" and result["lut4"] > 0 and result["fmax_mhz"] > 0
        for log in result["logs"].values():              # its run directory is its own
            assert Path(log).is_file(), log
        out[path.stem] = (data, result)
    assert not list(cache_dir.rglob("*.tmp")), "a half-written result file was left"
    return out


def _sweep(args, tmp_path, name):
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, str(SWEEP), *args], stdout=stdout,
                                stderr=stderr, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return proc, out, err


def _interrupt(args, tmp_path, cache_dir, sig, name, *, after_results):
    """Start a sweep, send `sig` once `after_results` result files exist and a tool is
    running; return (exit status, stderr, seconds from the signal to the exit)."""
    proc, _, err = _sweep(args, tmp_path, name)
    seen = {}                       # every descendant ever seen: pid -> create time
    tool_running = False
    deadline = time.monotonic() + 120
    try:
        parent = psutil.Process(proc.pid)
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the sweep ended before the signal: {err.read_text()}"
            try:
                children = parent.children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            tool_running = False
            for child in children:
                try:
                    seen.setdefault(child.pid, child.create_time())
                    tool_running |= "yowasp" in " ".join(child.cmdline())
                except psutil.NoSuchProcess:
                    pass
            done = len(list((cache_dir / "results").glob("*.json")))
            if tool_running and done >= after_results:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no tool ran in time")
        start = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.2)
    survivors = []
    for pid, created in seen.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                survivors.append((pid, process.cmdline()))
        except psutil.NoSuchProcess:
            pass
    for other in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):   # tools run in
        if other.info["cwd"] and other.info["cwd"].startswith(str(tmp_path)) \
                and other.pid != os.getpid() and other.info["status"] != psutil.STATUS_ZOMBIE:
            survivors.append((other.pid, other.info["cmdline"]))         # the cache
    assert not survivors, f"processes left behind: {survivors}"
    return code, err.read_text(), seconds


def _check_message(stderr, total):
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    match = MESSAGE.fullmatch(last)
    assert match, f"last line: {last!r}"
    assert int(match[2]) == total
    return int(match[1])


def _cached_count(stderr):
    return int(re.search(r"(\d+) run\(s\): (\d+) cached", stderr)[2])


def test_sigint_and_sigterm_stop_a_sweep_and_the_rerun_resumes(tmp_path):
    cache_dir = tmp_path / "cache"
    args = [str(_design_set(tmp_path, 6)), "--jobs", "2", "--cache", str(cache_dir)]

    code, stderr, t_int = _interrupt(args, tmp_path, cache_dir, signal.SIGINT, "int",
                                     after_results=1)
    assert code == 130
    done = _check_message(stderr, 6)
    first = _results(cache_dir)
    assert 1 <= done == len(first) < 6                  # counted from the cache

    code, stderr, t_term = _interrupt(args, tmp_path, cache_dir, signal.SIGTERM, "term",
                                      after_results=len(first) + 1)
    assert code == 143
    assert _cached_count(stderr) == len(first)          # the first run's results reused
    done = _check_message(stderr, 6)
    second = _results(cache_dir)
    assert done == len(second) < 6
    assert all(second[key] == first[key] for key in first)   # untouched

    proc, out, err = _sweep([*args, "--json", str(tmp_path / "all.json")], tmp_path, "rest")
    assert proc.wait(timeout=300) == 0, err.read_text()
    assert _cached_count(err.read_text()) == len(second)
    final = _results(cache_dir)
    assert len(final) == 6 and all(final[key] == second[key] for key in second)
    listed = json.loads((tmp_path / "all.json").read_text())
    assert sorted(r["seed"] for r in listed) == [1, 2, 3, 4, 5, 6]
    print(f"\nsignal to exit: SIGINT {t_int:.2f} s, SIGTERM {t_term:.2f} s")
    assert t_int < 5 and t_term < 5


def test_interrupted_force_sweep_keeps_every_result(tmp_path):
    cache_dir = tmp_path / "cache"
    args = [str(_design_set(tmp_path, 3)), "--jobs", "2", "--cache", str(cache_dir)]
    proc, _, err = _sweep(args, tmp_path, "fill")
    assert proc.wait(timeout=300) == 0, err.read_text()
    before = _results(cache_dir)
    assert len(before) == 3
    stamp = max((cache_dir / "results" / f"{key}.json").stat().st_mtime_ns for key in before)

    def replaced():
        return sum((cache_dir / "results" / f"{key}.json").stat().st_mtime_ns > stamp
                   for key in before)

    # Interrupt once the forced sweep has replaced at least one result, with tools running.
    proc, _, err = _sweep([*args, "--force"], tmp_path, "force")
    deadline = time.monotonic() + 120
    while replaced() < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=30)
    seconds = time.monotonic() - start
    stderr = err.read_text()
    assert code == 130, (code, stderr)
    done = _check_message(stderr, 3)
    after = _results(cache_dir)                          # complete, each with its logs
    assert set(after) == set(before)                     # nothing lost
    new = [key for key in before if after[key][0] != before[key][0]]
    assert 1 <= len(new) < 3                             # some replaced, some still old
    assert done == len(new)
    for key in new:
        assert after[key][1]["created"] >= before[key][1]["created"]
    print(f"\nforced sweep: SIGINT to exit {seconds:.2f} s, {len(new)} of 3 replaced")
    assert seconds < 5
