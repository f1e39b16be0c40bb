"""Every file-system failure is one line, ``error: cannot write PATH (WHAT): REASON``, with
a nonzero exit status and no traceback: an unwritable cache, Verilog directory or --json
path (reported before any tool runs), and a full disk while results are stored.

Tests may run as root, where a read-only mode does not stop writes: an unwritable path is
then made by putting it under a regular file (``NotADirectoryError``), and a full disk by
making the write raise ``OSError(ENOSPC)``.
"""

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fpga import cache as cache_mod
from fpga import executors, flow, sweep

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import _common  # noqa: E402
import sweep as sweep_script  # noqa: E402  (scripts/sweep.py)

TINY = {"fmt": "fp4_e2m1", "stages": 0}
SET = """
[defaults]
targets = ["ecp5-25f"]
variants = ["nodsp"]
seeds = 2
[[design]]
unit = "fpmul"
params = { fmt = "fp4_e2m1", stages = 0 }
"""
# A yosys that cannot exist: if any tool ran before the error, the output would say so.
NO_TOOLS = {"YOSYS": "/nonexistent/yosys"}


def _unwritable(tmp_path, how):
    """A directory path that cannot be written (and its expected reason)."""
    if how == "under-a-file":
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        return blocker / "dir", "Not a directory"
    if os.geteuid() == 0:
        pytest.skip("running as root: a read-only directory does not stop writes")
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return ro / "dir", "Permission denied"


def _run(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "sweep.py"), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def _one_error_line(out):
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert out.returncode == 2
    return lines[0]


@pytest.mark.parametrize("how", ["under-a-file", "read-only"])
def test_unwritable_cache_is_one_line_before_any_tool(tmp_path, how):
    path, reason = _unwritable(tmp_path, how)
    design = tmp_path / "set.toml"
    design.write_text(SET)
    out = _run(str(design), "--cache", str(path), env=NO_TOOLS)
    line = _one_error_line(out)
    assert line.startswith(f"error: cannot write {path}")
    assert line.endswith(f"(the result cache): {reason}")


@pytest.mark.parametrize("where", ["under-a-file", "a-directory"])
def test_unwritable_json_path_is_one_line_before_any_tool(tmp_path, where):
    design = tmp_path / "set.toml"
    design.write_text(SET)
    if where == "under-a-file":
        target, _ = _unwritable(tmp_path, "under-a-file")
        target = target / "results.json"
        reason = "Not a directory"
    else:
        target = tmp_path
        reason = "Is a directory"
    out = _run(str(design), "--cache", str(tmp_path / "cache"), "--json", str(target),
               env=NO_TOOLS)
    line = _one_error_line(out)
    assert line.startswith("error: cannot write ") and line.endswith(
        f"(the --json results): {reason}")
    assert str(tmp_path) in line


def test_unwritable_verilog_directory_names_it(tmp_path, monkeypatch):
    # A read-only build/: build/verilog cannot be written (the repository's own build/ is
    # shared, so the Verilog directory is pointed elsewhere for this test).
    path, reason = _unwritable(tmp_path, "under-a-file")
    monkeypatch.setitem(flow.prepare.__kwdefaults__, "verilog_dir", path)
    monkeypatch.setattr(flow, "VERILOG_DIR", path)
    monkeypatch.setenv("YOSYS", NO_TOOLS["YOSYS"])
    job = flow.Job("fpmul", dict(TINY), target="ecp5-25f")
    with pytest.raises(cache_mod.WriteError) as info:
        sweep.run_jobs([job], cache=cache_mod.Cache(tmp_path / "cache"), show_progress=False)
    assert str(info.value) == (f"cannot write {path} (the Verilog of unit fpmul): {reason}")


def _fake_failing_yosys(tmp_path):
    # Fails at once (a tool-error result, stored like any result): no real run needed.
    fake = tmp_path / "yosys"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'Yosys 0.0 (fake)'; exit 0; fi\n"
                    "echo 'ERROR: fake'; exit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake)


def _disk_full(monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(cache_mod, "write_json_atomic", full)


@pytest.mark.parametrize("executor", [executors.InlineExecutor, executors.LocalExecutor])
def test_disk_full_while_storing_stops_the_sweep_with_one_line(tmp_path, monkeypatch,
                                                               executor):
    monkeypatch.setenv("YOSYS", _fake_failing_yosys(tmp_path))
    _disk_full(monkeypatch)             # after the up-front probe, which writes no JSON
    store = cache_mod.Cache(tmp_path / "cache")
    jobs = [flow.Job("fpmul", dict(TINY), target="ecp5-25f", seed=seed) for seed in (1, 2)]
    with pytest.raises(cache_mod.WriteError) as info:
        sweep.run_jobs(jobs, cache=store, executor=executor(), show_progress=False)
    text = str(info.value)
    assert text.startswith(f"cannot write {store.root / 'results'}/")
    assert text.endswith(".json (the result of fpmul(fmt=fp4_e2m1)): No space left on device")


def test_disk_full_in_the_script_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YOSYS", _fake_failing_yosys(tmp_path))
    _disk_full(monkeypatch)
    design = tmp_path / "set.toml"
    design.write_text(SET)
    code = _common.run_script(sweep_script.main, [str(design), "--jobs", "1", "--cache",
                                                  str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: cannot write ")
    assert err[-1].endswith("No space left on device")
    assert not any("Traceback" in line for line in err)


def test_write_error_text_and_pickling():
    import pickle
    error = cache_mod.WriteError("/x/y.json", "the result of u()", "Read-only file system")
    assert str(error) == "cannot write /x/y.json (the result of u()): Read-only file system"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)       # crosses processes
    with pytest.raises(cache_mod.WriteError, match=r"cannot write /z \(what\): boom"):
        with cache_mod.writing("/z", "what"):
            raise OSError("boom")
