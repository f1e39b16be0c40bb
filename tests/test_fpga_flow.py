"""Real synthesis + place-and-route of a tiny unit, and the same sweep on Dask.

These run the pinned yowasp tools (a few seconds per run once YoWASP has compiled them).
"""

import json
from pathlib import Path

import pytest

from fpga import cache, executors, flow, sweep

# The smallest real unit: an FP4 (E2M1) multiplier, purely combinational (stages=0), so the
# register wrapper is what gives it an Fmax.
TINY = {"fmt": "fp4_e2m1", "stages": 0}

# Fields that legitimately differ between two executions of the same run.
VOLATILE = {"created", "synth_seconds", "pnr_seconds", "run_dir", "logs", "message", "cached"}


def test_end_to_end_tiny_unit(tmp_path):
    store = cache.Cache(tmp_path)
    job = flow.Job("fpmul", dict(TINY), target="ecp5-25f", variant="nodsp", seed=1)
    result = flow.run(job, cache=store)
    assert result["status"] == "ok", result["message"]
    assert result["cached"] is False
    assert result["params_key"] == "fpmul(fmt=fp4_e2m1)"      # the default stages=0 left out
    assert (result["device"], result["package"], result["speed"]) == ("LFE5U-25F", "CABGA381", 6)
    assert result["context"] == "out-of-context" and result["variant"] == "nodsp"
    assert result["dsp"] == 0 and result["lut4"] > 0 and result["lut4_equiv"] >= result["lut4"]
    # combinational unit: every flip-flop belongs to the wrapper (8 + 2 in, 4 + 2 out; the
    # unit has no reset)
    assert result["wrapper_ff"] == 16 and result["ff"] <= 16 and result["ff_unit"] == 0
    assert 10 < result["fmax_mhz"] < 1000 and result["timing_met"] is not None
    assert result["critical_path"] and result["critical_path_ns"] > 0
    assert result["ops_per_cycle"] == 1 and result["latency"] == 0
    assert result["tools"]["yosys"].startswith("Yosys 0.70")
    assert "nextpnr-0.11.1" in result["tools"]["nextpnr"]
    assert result["synth_seconds"] > 0 and result["pnr_seconds"] > 0
    for log in result["logs"].values():
        assert Path(log).exists()
        assert Path(log).parent == tmp_path.resolve() / "runs" / result["key"]
    stored = json.loads(store.result_path(result["key"]).read_text())
    assert stored["fmax_mhz"] == result["fmax_mhz"] and "cached" not in stored
    assert not list(tmp_path.rglob("*.tmp"))            # atomic writes leave nothing behind

    again = flow.run(job, cache=store)                   # nothing changed: from the cache
    assert again["cached"] is True
    assert {k: v for k, v in again.items() if k != "cached"} == stored


def _comparable(result):
    return {k: v for k, v in result.items() if k not in VOLATILE}


def test_dask_local_cluster_gives_the_same_results_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    jobs = [flow.Job("fpmul", dict(TINY), target="ecp5-25f", variant="dsp"),
            flow.Job("fpmul", dict(TINY), target="ice40-up5k", variant="nodsp")]
    local = sweep.run_jobs(jobs, cache=cache.Cache(tmp_path / "local"),
                           executor=executors.LocalExecutor(workers=1), show_progress=False)
    # One in-process worker with one thread: gentle on a 2-core machine.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep.run_jobs(jobs, cache=cache.Cache(tmp_path / "dask"),
                                executor=executors.DaskExecutor(client=client),
                                show_progress=False)
    assert [r["status"] for r in local] == ["ok", "ok"]
    assert [r["cached"] for r in local + remote] == [False] * 4     # both really ran
    assert [_comparable(r) for r in remote] == [_comparable(r) for r in local]
    assert remote[1]["context"] == "scan" and remote[1]["family"] == "ice40"
    assert (tmp_path / "dask" / "results" / f"{remote[0]['key']}.json").exists()
