"""The nonlinear error/cost report: the Pareto front, and scripts/nonlinear_error.py's join of
golden errors with FPGA rows (fake rows here: the figures come from real runs in
`make nonlinear-report`)."""

import sys
from pathlib import Path

import pytest

from fpga import designs, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import nonlinear_error  # noqa: E402  (scripts/ is not a package)


def test_pareto_front_keeps_only_undominated_points():
    points = [(100, 0.1), (50, 0.2), (200, 0.1), (300, 0.01), (60, 0.3), (50, 0.25)]
    assert report.pareto_front(points) == [(50, 0.2), (100, 0.1), (300, 0.01)]
    assert report.pareto_front(points, "higher") == [(50, 0.25), (60, 0.3)]
    assert report.pareto_front([]) == []


def _design_set(tmp_path):
    path = tmp_path / "nl.toml"
    path.write_text('''
[[design]]
unit = "sigmoid"
family = "sigmoid, 8-bit"
params = [{ in_fmt = "sq4_4", out_fmt = "uq0_8", method = ["pwl", "hard"], stages = 5 }]
''')
    return designs.load(path)


def _row(unit, params, variant, luts, fmax):
    return {"unit": unit, "params": params, "variant": variant, "status": "ok",
            "lut4_equiv": luts, "dsp": 0, "bram": 0, "fmax_mhz": fmax}


def test_results_tables_join_errors_and_mark_the_front(tmp_path):
    errors = nonlinear_error.design_errors(_design_set(tmp_path))
    pwl = {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "pwl", "stages": 5}
    hard = {**pwl, "method": "hard"}
    assert [e[3]["max"] for e in errors.values()] == pytest.approx([3.55e-3, 0.119],
                                                                     rel=0.01)
    rows = [_row("sigmoid", {**pwl, "multiplier": "lut"}, "nodsp", 150, 190.0),
            _row("sigmoid", hard, "nodsp", 40, 260.0),
            _row("sigmoid", {**pwl, "multiplier": "ecp5"}, "dsp", 30, 230.0),
            _row("sigmoid", hard, "dsp", 40, 265.0),
            _row("fpmul", {"fmt": "bf16"}, "dsp", 10, 300.0)]
    text, summary = nonlinear_error.results_tables(errors, rows)
    lines = [line for line in text.splitlines() if line.startswith("| pwl") or
             line.startswith("| hard")]
    assert len(lines) == 2
    pwl_line, hard_line = lines
    # nodsp: both on the front (hard is smaller, pwl more accurate); dsp: pwl dominates.
    assert "★ 30" in pwl_line and "★ 150" in pwl_line
    assert "★ 40" in hard_line and "| 40 |" in hard_line
    assert "sigmoid, 8-bit, nodsp: 2 designs on the front, 1 at ≥ 200 MHz (below: pwl 190 " \
        "MHz)" in summary
    assert "sigmoid, 8-bit, dsp: 1 design on the front, 1 at ≥ 200 MHz" in summary
    assert "sigmoid, 8-bit, dsp: 1 design on the front of the designs without block RAM, " \
        "1 at ≥ 200 MHz" in summary


def test_block_ram_designs_have_their_own_front(tmp_path):
    errors = nonlinear_error.design_errors(_design_set(tmp_path))
    pwl = {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "pwl", "stages": 5}
    # pwl in block RAM dominates hard (fewer LUTs, smaller error); without block RAM, hard
    # is the front.
    rows = [{**_row("sigmoid", pwl, "nodsp", 40, 150.0), "bram": 1},
            _row("sigmoid", {**pwl, "method": "hard"}, "nodsp", 150, 210.0)]
    text, summary = nonlinear_error.results_tables(errors, rows)
    assert "★ 40" in text and "☆ 150" in text
    assert "sigmoid, 8-bit, nodsp: 1 design on the front, 0 at ≥ 200 MHz (below: pwl " \
        "150 MHz)" in summary
    assert "sigmoid, 8-bit, nodsp: 1 design on the front of the designs without block RAM, " \
        "1 at ≥ 200 MHz" in summary


def test_readme_needs_results():
    with pytest.raises(SystemExit):
        nonlinear_error.main(["--readme"])
