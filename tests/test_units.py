"""Unit parameters, deterministic Verilog, and lint of everything nnrtl emits."""

import subprocess
import sys

import pytest

from hdl import verilog
from tb import lint

DEFAULT_UNITS = [
    ("fpmul", {"fmt": "fp8_e4m3", "stages": 2}),
    ("fpmul", {"fmt": "bf16", "stages": 0}),
    ("fpmul", {"fmt": "fp32", "stages": 4}),
    ("fpmul", {"fmt": "fp4_e2m1", "out_fmt": "fp8_e4m3", "stages": 1}),
    ("lmul", {"fmt": "bf16", "stages": 2}),
    ("lmul", {"fmt": "fp8_e5m2", "carry": "formula", "subnormal_inputs": "normalize",
              "stages": 3}),
    ("dot", {"fmt": "fp8_e4m3", "lanes": 4, "stages": 2}),
    ("dot", {"fmt": "bf16", "lanes": 3, "mul": "exact", "acc": "kulisch", "stages": 1}),
]


def test_unknown_unit_and_parameter_are_named():
    with pytest.raises(ValueError, match=r"unit must be one of .*fpmul.*, not 'fpadd'"):
        verilog.build_unit("fpadd", {})
    with pytest.raises(ValueError, match=r"unit 'fpmul' has no parameter 'fnt'; its "
                                         r"parameters are: fmt, out_fmt, stages"):
        verilog.build_unit("fpmul", {"fnt": "bf16"})
    with pytest.raises(ValueError, match=r"unknown format"):
        verilog.build_unit("fpmul", {"fmt": "fp7"})


def test_negative_stages_rejected():
    with pytest.raises(ValueError, match=r"stages must be in 0\.\.5, not -1"):
        verilog.build_unit("fpmul", {"fmt": "bf16", "stages": -1})


_GENERATE = """
import sys
from hdl import verilog
sys.stdout.write(verilog.convert(verilog.build_unit("fpmul", {"fmt": "bf16", "stages": 2}), "t"))
"""


def test_same_parameters_give_byte_identical_verilog(tmp_path):
    texts = []
    for hash_seed in ("1", "2"):     # separate processes, different dict/set orders
        out = subprocess.run([sys.executable, "-c", _GENERATE], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": hash_seed, "PYTHONPATH": "."}, check=True)
        texts.append(out.stdout)
    assert texts[0] == texts[1] and "module t(" in texts[0]
    path_1, _ = verilog.emit("fpmul", {"fmt": "bf16", "stages": 2}, tmp_path)
    first = path_1.read_bytes()
    path_2, _ = verilog.emit("fpmul", {"stages": 2, "fmt": "bf16"}, tmp_path)
    assert path_1 == path_2 and path_2.read_bytes() == first
    other, _ = verilog.emit("fpmul", {"fmt": "bf16", "stages": 1}, tmp_path)
    assert other != path_1


@pytest.mark.parametrize("unit,params", DEFAULT_UNITS,
                         ids=[verilog.params_key(*case) for case in DEFAULT_UNITS])
def test_emitted_verilog_lints_clean(unit, params, tmp_path):
    path, top = verilog.emit(unit, params, tmp_path)
    assert lint.lint_verilog(path, top) == []


def test_lint_reports_real_findings(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input clk, output [3:0] y);\nendmodule\n")
    findings = lint.lint_verilog(bad, "bad")
    assert any("UNDRIVEN" in line for line in findings)


@pytest.mark.parametrize("context", ["out-of-context", "scan"])
def test_fpga_register_wrapper_lints_clean(context, tmp_path):
    from fpga import wrapper
    params = {"fmt": "fp8_e4m3", "stages": 2}
    path, top = verilog.emit("fpmul", params, tmp_path)
    wrapped = wrapper.wrap(verilog.build_unit("fpmul", params), path.read_text(), top,
                           context=context)
    wrapper_path = tmp_path / "wrapper.v"
    wrapper_path.write_text(wrapped.text)
    assert lint.lint_verilog_files([wrapper_path, path], wrapper.WRAPPER_TOP) == []
