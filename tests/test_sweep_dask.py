"""Dask as users run it: a real scheduler and worker processes, started in another
directory without the checkout on their path; the sweep ships the project's code, checks
each worker's tools, and gives the same results as a local run. A worker without the tools
is named before anything runs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("dask.distributed")

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
SWEEP = ROOT / "scripts" / "sweep.py"
DESIGNS = """
[[design]]
unit = "fpmul"
params = { fmt = "fp4_e2m1", stages = 0 }
targets = ["ecp5-25f", "ice40-up5k"]
variants = ["nodsp"]
"""
# Fields that legitimately differ between two executions of the same run.
VOLATILE = {"created", "synth_seconds", "pnr_seconds", "run_dir", "logs", "message", "cached"}


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


def _start(args, cwd, log, **env):
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen([str(DASK), *args], cwd=cwd, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, env=_clean_env(**env))


def _wait_for_workers(client, count, timeout=60):
    deadline = time.monotonic() + timeout
    while len(client.nthreads()) < count:
        assert time.monotonic() < deadline, "the Dask workers did not start"
        time.sleep(0.2)


def _sweep(*args):
    return subprocess.run([sys.executable, str(SWEEP), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def cluster(tmp_path):
    if not DASK.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    elsewhere = tmp_path / "elsewhere"
    started = []
    scheduler_file = elsewhere / "scheduler.json"
    started.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                           "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                          elsewhere, tmp_path / "scheduler.log"))

    def worker(name, **env):
        started.append(_start(["worker", "--scheduler-file", str(scheduler_file),
                               "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                               "--name", name, "--local-directory",
                               str(elsewhere / name / "space")],
                              elsewhere / name, tmp_path / f"{name}.log", **env))

    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    try:
        yield address, worker
    finally:
        for proc in reversed(started):          # only the processes started here
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _comparable(result):
    return {k: v for k, v in result.items() if k not in VOLATILE}


def test_sweep_on_real_dask_workers_without_the_checkout(tmp_path, cluster):
    address, worker = cluster
    worker("good")
    design = tmp_path / "set.toml"
    design.write_text(DESIGNS)
    with distributed.Client(address, timeout="20s") as client:
        _wait_for_workers(client, 1)
        # the worker really cannot import the checkout on its own
        assert client.run(eval, "__import__('importlib.util').util.find_spec('fpga') is None")\
            == {addr: True for addr in client.nthreads()}

    local = _sweep(design, "--jobs", "1", "--cache", tmp_path / "local", "--json",
                   tmp_path / "local.json")
    assert local.returncode == 0, local.stderr
    remote = _sweep(design, "--executor", "dask", "--scheduler", address, "--cache",
                    tmp_path / "dask", "--json", tmp_path / "dask.json")
    assert remote.returncode == 0, remote.stderr
    assert "Traceback" not in remote.stderr and "on 1 dask worker(s)" in remote.stderr
    a = json.loads((tmp_path / "local.json").read_text())
    b = json.loads((tmp_path / "dask.json").read_text())
    assert [r["status"] for r in b] == ["ok", "ok"] and not any(r["cached"] for r in a + b)
    assert [_comparable(r) for r in b] == [_comparable(r) for r in a]
    assert [(r["family"], r["context"]) for r in b] == [("ecp5", "out-of-context"),
                                                        ("ice40", "scan")]
    for result in b:                              # stored here, by the caller
        assert (tmp_path / "dask" / "results" / f"{result['key']}.json").is_file()
        assert "elsewhere" not in result["run_dir"] and "nnrtl-runs" in result["run_dir"]

    # A worker whose tools differ (here: no yosys at all) is named, and nothing runs.
    worker("no-yosys", YOSYS="/nonexistent/yosys")
    with distributed.Client(address, timeout="20s") as client:
        _wait_for_workers(client, 2)
    bad = _sweep(design, "--executor", "dask", "--scheduler", address, "--cache",
                 tmp_path / "dask2")
    assert bad.returncode == 2, bad.stderr
    line = bad.stderr.strip().splitlines()[-1]
    assert line.startswith("error: Dask workers without the same tools as this machine")
    assert "(no-yosys): yosys: $YOSYS='/nonexistent/yosys' is not an executable" in line
    assert "(good)" not in line
    assert not (tmp_path / "dask2" / "results").exists() or \
        not list((tmp_path / "dask2" / "results").glob("*.json"))
