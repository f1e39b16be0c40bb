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


# --- the unit protocol (hdl/protocol.py) ------------------------------------------------------

from hdl import UNITS, protocol, unit_class  # noqa: E402


def _as_text(value):
    """How a design file or the command line writes a parameter value."""
    if isinstance(value, tuple):
        return "+".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_every_unit_builds_from_its_declared_defaults_and_examples(name):
    """Every declared parameter resolves from text to the value it names (a kind that does
    not match the value, e.g. a format declared as Integer, leaves the text unresolved and
    fails here), and every unit builds from its defaults and its examples and states its
    protocol members."""
    cls = unit_class(name)
    for params in [protocol.defaults(cls)] + cls.EXAMPLES:
        unit = verilog.build_unit(name, params)
        resolved = verilog.resolve_params(name, params)
        for key, value in resolved.items():
            if value is None:
                continue
            text = verilog.resolve_params(name, {key: _as_text(value)})[key]
            assert text == value, (name, key, value, text)
        assert isinstance(unit.latency, int) and unit.latency >= 0
        assert isinstance(unit.ops_per_cycle, int) and unit.ops_per_cycle >= 1
        function, kwargs = unit.golden
        assert callable(function) and isinstance(kwargs, dict)


def test_protocol_catches_a_wrong_declaration():
    class Unit:
        PARAMETERS = {"fmt": protocol.Format(), "stages": 3}

        def __init__(self, *, fmt, stages=0):
            pass

    with pytest.raises(TypeError, match=r"Unit.PARAMETERS\['stages'\] must be a parameter "
                                        r"kind .*, not 3"):
        protocol.declared_parameters(Unit)
    Unit.PARAMETERS = {"fmt": protocol.Format()}
    with pytest.raises(TypeError, match=r"Unit.PARAMETERS must declare exactly its "
                                        r"keyword-only parameters in order \(fmt, stages\)"):
        protocol.declared_parameters(Unit)
    Unit.PARAMETERS = {"fmt": protocol.Format(), "stages": protocol.Integer()}
    with pytest.raises(TypeError, match=r"PARAMETERS\['fmt'\] needs an example"):
        protocol.defaults(Unit)


def test_kinds_resolve_text():
    assert protocol.Integer().resolve("n", " 12") == 12
    assert protocol.Boolean().resolve("b", "False") is False
    assert protocol.Choice("paper", "none", integer=True).resolve("offset", "3") == 3
    assert protocol.Choice("paper", "none", integer=True).resolve("offset", "paper") == "paper"
    from golden import formats
    assert protocol.Format().resolve("fmt", "bf16") is formats.BF16
    assert protocol.FormatList().resolve("lanes", "fp8_e4m3+int8") == (
        formats.FP8_E4M3, formats.IntFormat(8, True))
    assert protocol.FormatList().resolve("lanes", ["bf16", formats.FP16]) == (
        formats.BF16, formats.FP16)


def test_generate_one_unit_with_a_readable_top_module(tmp_path):
    script = ["scripts/generate.py", "--unit", "lmul", "--params", "fmt=bf16,stages=2",
              "--out", str(tmp_path)]
    out = subprocess.run([sys.executable, *script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "lmul.v").read_text()
    assert text.startswith("// nnrtl lmul(fmt=bf16, stages=2)\n") and "module lmul(" in text
    assert "in  i__payload               32 bits" in out.stdout
    assert "latency 2 cycles, 1 operation(s) per cycle" in out.stdout
    bad = subprocess.run([sys.executable, "scripts/generate.py", "--unit", "lmul", "--params",
                          "fmt=bf16,stages=9", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "error: stages must be in 0..4, not 9\n"
