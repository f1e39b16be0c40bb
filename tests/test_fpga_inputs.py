"""Bad input is reported in one clear line before any tool runs; tool failures name the
tool, the unit and the log, and do not stop a sweep. Fake tools (shell scripts selected by
$YOSYS / $NEXTPNR_ECP5) stand in where a failure is needed; only the last test runs real
tools, on a tiny unit."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fpga import cache, designs, executors, flow, sweep, targets, tools, wrapper

ROOT = Path(__file__).resolve().parent.parent
TINY = {"fmt": "fp4_e2m1", "stages": 0}


def test_targets():
    assert targets.target("ecp5-85f").nextpnr_args == ("--85k", "--package", "CABGA381",
                                                      "--speed", "6")
    assert targets.target("ECP5-45F-8").speed == 8
    assert targets.target("ice40-up5k").synth_command == "synth_ice40 -device u"
    with pytest.raises(ValueError, match=r"target must be one of ecp5-25f, .*not 'ecp5-12f'"):
        targets.target("ecp5-12f")
    with pytest.raises(TypeError, match=r"target must be a target name \(str\), not 85"):
        targets.target(85)
    with pytest.raises(ValueError, match=r"variant 'dsp' needs DSP blocks, and target "
                                         r"'ice40-hx8k' \(iCE40HX8K\) has none"):
        targets.check_variant("dsp", targets.target("ice40-hx8k"))
    with pytest.raises(ValueError, match=r"variant must be one of dsp, nodsp, nodsp-booth, "
                                         r"not 'lut'"):
        targets.check_variant("lut", targets.target("ecp5-85f"))


@pytest.mark.parametrize("changes,error,message", [
    ({"seed": -1}, ValueError, r"seed must be in 0\.\.2147483647, not -1"),
    ({"seed": 1.5}, TypeError, r"seed must be an integer, not 1\.5"),
    ({"seed": True}, TypeError, r"seed must be an integer, not True"),
    ({"freq_mhz": 0}, ValueError, r"freq_mhz must be a positive number, not 0"),
    ({"timeout_s": "1"}, TypeError, r"timeout_s must be a positive number, not '1'"),
    ({"unit": "fpadd"}, ValueError, r"fpadd\(fmt='fp4_e2m1', stages=0\): unit must be one of"),
    ({"params": {"fmt": "fp4_e2m1", "stages": 7}}, ValueError,
     r"fpmul\(fmt='fp4_e2m1', stages=7\): stages must be in 0\.\.5, not 7"),
    ({"target": "ice40-lp1k"}, ValueError, r"target must be one of"),
])
def test_bad_jobs(changes, error, message):
    job = flow.Job(**{"unit": "fpmul", "params": dict(TINY), **changes})
    with pytest.raises(error, match=message):
        flow.check_job(job)


def _design_set(text, tmp_path):
    path = tmp_path / "set.toml"
    path.write_text(text)
    return path


GOOD = """
[defaults]
targets = ["ecp5-25f"]
variants = ["dsp", "nodsp"]
[[design]]
unit = "fpmul"
params = { fmt = ["fp4_e2m1", "fp8_e4m3"], stages = [0, 2] }
[[compare]]
a = { variant = "dsp" }
b = { variant = "nodsp" }
"""


def test_design_set_expands(tmp_path):
    design_set = designs.load(_design_set(GOOD, tmp_path))
    jobs = designs.jobs(design_set)
    assert len(jobs) == 2 * 2 * 2
    assert [job.params for _, job in jobs[:3]] == [{"fmt": "fp4_e2m1", "stages": 0}] * 2 + \
        [{"fmt": "fp4_e2m1", "stages": 2}]
    assert designs.unit_instances(design_set)[1] == ("fpmul", {"fmt": "fp4_e2m1", "stages": 2})
    assert design_set.compares[0].match == ("unit", "params", "target", "seed")


def test_params_array_is_the_union_of_its_grids(tmp_path):
    text = GOOD.replace('params = { fmt = ["fp4_e2m1", "fp8_e4m3"], stages = [0, 2] }',
                        'params = [{ fmt = "bf16", stages = [0, 2] }, { fmt = "fp32" }]')
    instances = designs.unit_instances(designs.load(_design_set(text, tmp_path)))
    assert [p for _, p in instances] == [{"fmt": "bf16", "stages": 0},
                                         {"fmt": "bf16", "stages": 2}, {"fmt": "fp32"}]
    with pytest.raises(designs.DesignError, match=r"params\[1\]: params must be a table or a "
                                                  r"non-empty array of tables, not 3"):
        designs.load(_design_set(text.replace('{ fmt = "fp32" }', "3"), tmp_path))


@pytest.mark.parametrize("old,new,message", [
    ("stages = [0, 2]", "stages = [0, 9]",
     r"set\.toml: design 1 \(fpmul\): fpmul\(fmt='fp4_e2m1', stages=9\): "
     r"stages must be in 0\.\.5, not 9"),
    ('"fp8_e4m3"', '"fp9"', r"design 1 \(fpmul\): fpmul\(fmt='fp9', stages=0\): unknown format"),
    ('unit = "fpmul"', 'unit = "fpmull"', r"unit must be one of .*not 'fpmull'"),
    ('"ecp5-25f"', '"ecp5-26f"', r"\[defaults\]: target must be one of"),
    ('"nodsp"]', '"lut"]', r"variants must be a list of dsp, nodsp, nodsp-booth"),
    ('"ecp5-25f"', '"ice40-hx8k"', r"variant 'dsp' needs DSP blocks"),
    ("stages = [0, 2]", "stages = []", r"params\.stages is an empty list"),
    ("[[compare]]", "[[compare]]\nmetrics = [\"area\"]", r"metrics must be among"),
    ("params =", "parms =", r"unknown keys \['parms'\]"),
])
def test_design_set_errors(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(designs.DesignError, match=message):
        designs.load(_design_set(GOOD.replace(old, new), tmp_path))


def test_design_set_unreadable(tmp_path):
    with pytest.raises(designs.DesignError, match=r"nope\.toml: cannot read"):
        designs.load(tmp_path / "nope.toml")
    with pytest.raises(designs.DesignError, match=r"invalid TOML"):
        designs.load(_design_set("[[design]\n", tmp_path))


def test_default_design_set_covers_the_issue():
    design_set = designs.load(ROOT / "designs" / "default.toml")
    runs = {(job.params["fmt"], job.target, job.variant) for _, job in designs.jobs(design_set)}
    for fmt in ("fp8_e4m3", "bf16", "fp16", "fp32"):
        for variant in ("dsp", "nodsp"):
            assert (fmt, "ecp5-85f", variant) in runs
    designs.load(ROOT / "designs" / "full.toml")


def test_lmul_design_set_covers_the_issue():
    design_set = designs.load(ROOT / "designs" / "lmul.toml")
    runs = {(job.unit, job.params["fmt"], job.variant, job.params.get("stages"))
            for _, job in designs.jobs(design_set)}
    for fmt in ("fp8_e4m3", "fp8_e5m2", "bf16", "fp16", "fp32"):
        for variant in ("dsp", "nodsp"):
            for unit in ("lmul", "fpmul"):
                assert (unit, fmt, variant, 0) in runs
        assert ("lmul", fmt, "nodsp", 0) in runs
    lanes = {(job.params["lanes"], job.params["mul"]) for _, job in designs.jobs(design_set)
             if job.unit == "dot"}
    assert lanes == {(n, mul) for n in (4, 8, 16) for mul in ("lmul", "exact")}


def test_posit_design_set_covers_the_issue():
    design_set = designs.load(ROOT / "designs" / "posit.toml")
    runs = {(job.unit, job.params.get("n"), job.params.get("es"), job.params.get("fmt"),
             job.params["stages"], job.params.get("multiplier"), job.target, job.variant)
            for _, job in designs.jobs(design_set)}
    for n, es in ((8, 0), (8, 1), (16, 1), (16, 2), (32, 2)):
        for variant in ("dsp", "nodsp"):
            assert ("positmul", n, es, None, 0, None, "ecp5-85f", variant) in runs
        assert ("positmul", n, es, None, 6, "ecp5", "ecp5-85f", "dsp") in runs
        assert ("positmul", n, es, None, 6, "lut", "ecp5-85f", "nodsp") in runs
        for stages in (0, 7):
            assert ("positadd", n, es, None, stages, None, "ecp5-85f", "nodsp") in runs
    for fmt in ("fp8_e4m3", "bf16", "fp16", "fp32"):
        for stages in (0, 5):
            assert ("fpmul", None, None, fmt, stages, None, "ecp5-85f", "dsp") in runs
        assert ("lmul", None, None, fmt, 0, None, "ecp5-85f", "nodsp") in runs
    for es in (0, 1):
        assert ("positmul", 8, es, None, 0, None, "ice40-up5k", "dsp") in runs
        assert ("positmul", 8, es, None, 6, "ice40", "ice40-up5k", "dsp") in runs
        assert ("positadd", 8, es, None, 7, None, "ice40-up5k", "nodsp") in runs
    assert {(r.params["n"], r.params["es"]) for r in design_set.references} == {(8, 1), (16, 1)}


def _script(*args, env=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("args,message", [
    (["--unit", "fpadd", "--params", "fmt=bf16"], "error: fpadd(fmt='bf16'): unit must be one"),
    (["--unit", "fpmul", "--params", "fmt=bf16,stages=6"], "stages must be in 0..5, not 6"),
    (["--unit", "fpmul", "--params", "fmt"], "parameters must look like 'name=value"),
    (["--unit", "fpmul", "--target", "xc7a35t"], "target must be one of"),
])
def test_synth_script_rejects_bad_input_before_tools(args, message):
    # A tool that cannot exist: if anything tried to run a tool, the message would say so.
    out = _script("scripts/synth.py", *args, env={"YOSYS": "/nonexistent/yosys"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]      # one line
    assert out.stderr.startswith("error: ") and message in out.stderr
    assert "checking" not in out.stderr


def test_sweep_script_rejects_bad_config(tmp_path):
    path = _design_set(GOOD.replace('"fp8_e4m3"', '"fp8_e9m9"'), tmp_path)
    out = _script("scripts/sweep.py", str(path), env={"YOSYS": "/nonexistent/yosys"})
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "design 1 (fpmul): fpmul(fmt='fp8_e9m9', stages=0): unknown format" in out.stderr


def test_tool_resolution(monkeypatch):
    monkeypatch.setenv("YOSYS", "/nonexistent/yosys -q")
    with pytest.raises(tools.ToolMissing, match=r"yosys: \$YOSYS='/nonexistent/yosys -q' is "
                                                r"not an executable program"):
        tools.command("yosys")
    monkeypatch.setenv("YOSYS", "true --flag")
    assert tools.command("yosys")[1:] == ["--flag"]
    monkeypatch.delenv("YOSYS")
    assert "yowasp" in " ".join(tools.command("yosys"))
    with pytest.raises(ValueError, match=r"tool must be one of yosys, nextpnr-ecp5, "
                                         r"nextpnr-ice40, not 'vivado'"):
        tools.command("vivado")


def test_missing_tool_names_tool_unit_and_log(monkeypatch, tmp_path):
    monkeypatch.setenv("YOSYS", "/nonexistent/yosys")
    result = flow.run(flow.Job("fpmul", dict(TINY), target="ecp5-25f"),
                      cache=cache.Cache(tmp_path))
    assert result["status"] == "tool-missing"
    log = Path(result["logs"]["yosys"])
    assert log.exists() and "/nonexistent/yosys" in log.read_text()
    assert "yosys" in result["message"] and "fpmul(fmt=fp4_e2m1)" in result["message"]
    assert str(log.name) in result["message"]
    # a missing tool is not cached: the next run tries again
    assert cache.Cache(tmp_path).load(result["key"]) is None


def _fake_tool(tmp_path, body):
    path = tmp_path / "fake-yosys"
    path.write_text("#!/bin/sh\nif [ \"$1\" = \"-V\" ]; then echo 'Yosys 0.0 (fake)'; exit 0; fi\n"
                    + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_failing_tool_names_tool_unit_and_log(monkeypatch, tmp_path):
    monkeypatch.setenv("YOSYS", _fake_tool(tmp_path, "echo 'ERROR: fake synthesis failure'\n"
                                                     "exit 3\n"))
    result = flow.run(flow.Job("fpmul", dict(TINY), target="ecp5-25f"),
                      cache=cache.Cache(tmp_path / "cache"))
    assert result["status"] == "tool-error"
    assert result["message"].startswith("yosys failed (exit 3) on fpmul(fmt=fp4_e2m1) "
                                        "on ecp5-25f (dsp, seed 1): ERROR: fake synthesis failure")
    assert result["message"].endswith("yosys.log")
    assert "fake synthesis failure" in Path(result["logs"]["yosys"]).read_text()
    assert result["tools"]["yosys"] == "Yosys 0.0 (fake)"


def test_timeout_is_a_result(monkeypatch, tmp_path):
    monkeypatch.setenv("YOSYS", _fake_tool(tmp_path, "sleep 30\n"))
    result = flow.run(flow.Job("fpmul", dict(TINY), target="ecp5-25f", timeout_s=1),
                      cache=cache.Cache(tmp_path / "cache"))
    assert result["status"] == "timeout"
    assert "yosys timed out (1 s limit for the run) on fpmul(fmt=fp4_e2m1" in result["message"]


def test_wrapper_matches_the_signature():
    from hdl import verilog
    unit = verilog.build_unit("fpmul", {"fmt": "bf16", "stages": 2})
    text = verilog.convert(unit, "u")
    wrapped = wrapper.wrap(unit, text, "u", context="out-of-context")
    # 2 × 16 operand bits + valid + ready in, 16 result bits + valid + ready out, + reset
    assert (wrapped.input_bits, wrapped.output_bits, wrapped.wrapper_ff) == (34, 18, 53)
    assert "u unit (" in wrapped.text and ".rst(rst_q)" in wrapped.text
    scan = wrapper.wrap(unit, text, "u", context="scan")
    assert scan.pins == 3 and "(* keep" in scan.text
    comb = verilog.build_unit("fpmul", {"fmt": "bf16", "stages": 0})
    wrapped = wrapper.wrap(comb, verilog.convert(comb, "c"), "c", context="out-of-context")
    assert wrapped.wrapper_ff == 52 and ".rst(" not in wrapped.text
    narrow = verilog.build_unit("fpmul", {"fmt": "fp8_e4m3", "stages": 2})
    with pytest.raises(ValueError, match=r"does not match the unit's signature"):
        wrapper.wrap(unit, verilog.convert(narrow, "u"), "u", context="scan")
    with pytest.raises(ValueError, match=r"context must be one of out-of-context, scan"):
        wrapper.wrap(unit, text, "u", context="pins")


def test_failing_run_is_recorded_and_the_sweep_goes_on(monkeypatch, tmp_path):
    # A stand-in nextpnr-ecp5 that fails the way the real one does when a design does not
    # fit (it writes the recorded log); yosys and the iCE40 run are real.
    recorded = ROOT / "tests" / "fixtures" / "fpga" / "nextpnr-0.11.1-nofit-ecp5.log"
    fake = tmp_path / "fake-nextpnr-ecp5"
    fake.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = \"--version\" ]; then echo '\"fake\" -- (Version nextpnr-0.0)'; exit 0; fi\n"
        "while [ $# -gt 0 ]; do [ \"$1\" = \"-l\" ] && log=\"$2\"; shift; done\n"
        f"cat '{recorded}' > \"$log\"\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("NEXTPNR_ECP5", str(fake))
    store = cache.Cache(tmp_path / "cache")
    jobs = [flow.Job("fpmul", dict(TINY), target="ecp5-25f"),
            flow.Job("fpmul", dict(TINY), target="ice40-up5k", variant="nodsp")]
    failed, fine = sweep.run_jobs(jobs, cache=store, executor=executors.InlineExecutor(),
                                  show_progress=False)
    assert failed["status"] == "no-fit"
    assert failed["message"].startswith("nextpnr-ecp5 failed (exit 1) on fpmul(fmt=fp4_e2m1) "
                                        "on ecp5-25f (dsp, seed 1): does not fit the "
                                        "device: MULT18X18D 36/28; log: ")
    assert failed["message"].endswith("nextpnr.log") and failed["lut4"] is not None
    assert fine["status"] == "ok" and fine["fmax_mhz"] > 0
    assert store.load(failed["key"])["status"] == "no-fit"     # a fact about the design: kept
