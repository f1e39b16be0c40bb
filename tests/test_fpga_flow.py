"""Real synthesis + place-and-route of a tiny unit (tests/test_sweep_dask.py runs sweeps on
Dask workers).

These run the pinned yowasp tools (a few seconds per run once YoWASP has compiled them).
"""

import json
from pathlib import Path

from fpga import cache, flow

# The smallest real unit: an FP4 (E2M1) multiplier, purely combinational (stages=0), so the
# register wrapper is what gives it an Fmax.
TINY = {"fmt": "fp4_e2m1", "stages": 0}


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

