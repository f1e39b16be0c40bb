"""The cache never loses work: canonical parameter sets (defaults written out or left out
are one run, one key, one report row), and `--force` keeps a good result when its rerun
fails. (An interrupted forced sweep: tests/test_sweep_interrupts.py.)"""

import json
import stat
from pathlib import Path

import pytest

from fpga import cache, designs, executors, flow, report, sweep
from hdl import verilog

TINY = {"fmt": "fp4_e2m1", "stages": 0}


@pytest.mark.parametrize("unit,short,long", [
    ("fpmul", {"fmt": "bf16"}, {"fmt": "bf16", "stages": 0}),
    ("fpmul", {"fmt": "bf16"}, {"fmt": "bf16", "stages": "0", "out_fmt": None,
                                "multiplier": "inferred"}),
    ("lmul", {"fmt": "fp8_e4m3"}, {"fmt": "fp8_e4m3", "special_values": True, "stages": 0,
                                   "carry": "integer", "offset": "paper"}),
    ("lmul", {"fmt": "bf16", "stages": 4}, {"stages": 4, "fmt": "bf16",
                                            "subnormal_inputs": "flush"}),
])
def test_defaults_written_out_or_left_out_are_one_parameter_set(unit, short, long):
    assert verilog.params_key(unit, short) == verilog.params_key(unit, long)
    assert verilog.canonical_params(unit, long) == verilog.canonical_params(unit, short)
    assert verilog.full_params(unit, long) == verilog.full_params(unit, short)


def test_canonical_form_leaves_out_exactly_the_defaults():
    assert verilog.params_key("fpmul", {"fmt": "bf16", "stages": 0}) == "fpmul(fmt=bf16)"
    assert verilog.params_key("fpmul", {"fmt": "bf16", "stages": 2}) == \
        "fpmul(fmt=bf16, stages=2)"
    assert verilog.params_key("lmul", {"fmt": "bf16", "special_values": False}) == \
        "lmul(fmt=bf16, special_values=False)"
    # Not the default's type: kept, so that the unit still rejects it by name.
    assert verilog.canonical_params("fpmul", {"fmt": "bf16", "stages": 0.0})["stages"] == 0.0
    assert verilog.canonical_params("lmul", {"fmt": "bf16", "special_values": 1}) == \
        {"fmt": verilog.resolve_params("lmul", {"fmt": "bf16"})["fmt"], "special_values": 1}
    with pytest.raises(ValueError, match=r"unit 'fpmul' has no parameter 'stage'"):
        verilog.canonical_params("fpmul", {"fmt": "bf16", "stage": 0})
    full = verilog.full_params("fpmul", {"fmt": "bf16"})
    assert set(full) == {"fmt", "out_fmt", "stages", "multiplier"}
    assert (full["stages"], full["multiplier"], full["out_fmt"]) == (0, "inferred", None)


def test_both_spellings_write_one_verilog_file(tmp_path):
    a = verilog.emit("fpmul", {"fmt": "fp4_e2m1"}, tmp_path)
    b = verilog.emit("fpmul", {"fmt": "fp4_e2m1", "stages": 0, "multiplier": "inferred"},
                     tmp_path)
    assert a == b and len(list(tmp_path.glob("*.v"))) == 1
    assert a[1].startswith("fpmul_")


SET = """
[defaults]
targets = ["ecp5-25f"]
variants = ["nodsp"]
[[design]]
unit = "fpmul"
params = [{ fmt = "fp4_e2m1" }, { fmt = "fp4_e2m1", stages = 0, multiplier = "inferred" }]
"""


def test_one_run_one_cache_entry_one_report_row(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text(SET)
    design_jobs = designs.jobs(designs.load(path))
    assert len(design_jobs) == 2
    store = cache.Cache(tmp_path / "cache")
    results = sweep.run_jobs([job for _, job in design_jobs], cache=store,
                             executor=executors.InlineExecutor(), show_progress=False)
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["key"] == results[1]["key"]                 # the same hardware
    assert len(list((store.root / "results").glob("*.json"))) == 1   # built once
    assert {r["params_key"] for r in results} == {"fpmul(fmt=fp4_e2m1)"}
    # `params` as each job wrote them; `params_full` every parameter, defaults filled in
    # (a comparison may select on any), the same for both
    assert results[0]["params"] == {"fmt": "fp4_e2m1"}
    assert results[1]["params"] == {"fmt": "fp4_e2m1", "stages": 0, "multiplier": "inferred"}
    assert results[0]["params_full"] == {"fmt": "fp4_e2m1", "out_fmt": None, "stages": 0,
                                         "multiplier": "inferred"} == results[1]["params_full"]
    stored = json.loads(store.result_path(results[0]["key"]).read_text())
    assert stored["params_full"] == results[0]["params_full"]
    rows = report.aggregate([("fpmul", r) for r in results])
    assert len(rows) == 1
    # A result cached under one spelling is found, and named, by the other.
    again = sweep.run_jobs([design_jobs[1][1]], cache=store, show_progress=False)
    assert again[0]["cached"] is True and again[0]["params"]["multiplier"] == "inferred"
    assert again[0]["params_full"] == results[0]["params_full"]


def test_forced_rerun_that_fails_keeps_the_good_result(tmp_path, monkeypatch):
    # A yosys that is the real one until a marker file exists, then fails like a crash:
    # the same tool (same version line, same cache key) for both runs.
    real = " ".join(flow.tools.command("yosys", environ={}))
    marker = tmp_path / "fail-now"
    fake = tmp_path / "yosys"
    fake.write_text(f"#!/bin/sh\nif [ -e '{marker}' ] && [ \"$1\" != -V ]; then\n"
                    f"  echo 'ERROR: simulated crash'; exit 3\nfi\nexec {real} \"$@\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("YOSYS", str(fake))
    store = cache.Cache(tmp_path / "cache")
    job = flow.Job("fpmul", dict(TINY), target="ecp5-25f", variant="nodsp")
    [good] = sweep.run_jobs([job], cache=store, executor=executors.InlineExecutor(),
                            show_progress=False)
    assert good["status"] == "ok"
    stored = store.result_path(good["key"]).read_bytes()
    marker.touch()
    [rerun] = sweep.run_jobs([job], cache=store, executor=executors.InlineExecutor(),
                             force=True, show_progress=False)
    assert rerun["key"] == good["key"] and rerun["status"] == "tool-error"
    assert "the earlier ok result is kept" in rerun["message"]
    assert store.result_path(good["key"]).read_bytes() == stored
    kept = json.loads(stored)
    assert all(Path(log).is_file() for log in kept["logs"].values())
    # and a forced rerun that succeeds replaces it
    marker.unlink()
    [fresh] = sweep.run_jobs([job], cache=store, executor=executors.InlineExecutor(),
                             force=True, show_progress=False)
    assert fresh["status"] == "ok" and fresh["cached"] is False
    assert store.result_path(good["key"]).read_bytes() != stored
    assert json.loads(store.result_path(good["key"]).read_text())["run_dir"] == \
        str(store.run_dir(good["key"]))
    assert not list((store.root / "runs").glob("*.partial"))       # moved into place
