"""The yosys / nextpnr output parsers against outputs recorded with the pinned tools."""

import json
from pathlib import Path

import pytest

from fpga import parse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fpga"


def fixture(name):
    return (FIXTURES / name).read_text()


def test_stat_json_ecp5():
    cells = parse.cell_counts(fixture("yosys-0.70-stat-ecp5.json"))
    assert cells == {"CCU2C": 43, "L6MUX21": 1, "LUT4": 105, "MULT18X18D": 1, "PFUMX": 10,
                     "TRELLIS_FF": 95}           # $scopeinfo left out
    res = parse.resources("ecp5", cells)
    assert (res["lut4"], res["ff"], res["carry"], res["dsp"], res["bram"]) == (105, 95, 43, 1, 0)
    assert res["lut4_equiv"] == 105 + 2 * 43 and res["unmapped"] == []


def test_stat_json_ice40():
    cells = parse.cell_counts(fixture("yosys-0.70-stat-ice40.json"))
    res = parse.resources("ice40", cells)
    assert res["lut4"] == 165 and res["carry"] == 68 and res["dsp"] == 0
    assert res["ff"] == 29 + 46 + 13 + 7          # SB_DFF, SB_DFFE, SB_DFFESR, SB_DFFESS
    assert res["lut4_equiv"] == 165


def test_stat_json_hierarchy_shape_gives_the_same_counts():
    # Yosys >= 0.57 with -hierarchy: every count is {"count": "36", "area": ...} (strings).
    text = fixture("yosys-0.70-stat-hierarchy-ecp5.json")
    assert '"count": "36"' in text
    assert parse.cell_counts(text) == {"MULT18X18D": 1, "TRELLIS_FF": 36}


def test_stat_json_defensive_variants():
    plain = json.loads(fixture("yosys-0.70-stat-ecp5.json"))
    expected = parse.cell_counts(plain)
    # text printed before the JSON is ignored
    assert parse.cell_counts("-- Running command `stat -json' --\n" + json.dumps(plain)) == expected
    # no "design" section: the modules are added up
    modules_only = {"modules": plain["modules"]}
    assert parse.cell_counts(modules_only) == expected
    # "cells" as the name of the per-type table
    renamed = {"design": {"cells": plain["design"]["num_cells_by_type"]}}
    assert parse.cell_counts(renamed) == expected


@pytest.mark.parametrize("text", ["", "not json", "{\"design\": {}}", "{\"modules\": 3}"])
def test_stat_json_garbage_raises(text):
    with pytest.raises(parse.ParseError):
        parse.cell_counts(text)


def test_bad_family():
    with pytest.raises(ValueError, match=r"family must be 'ecp5' or 'ice40', not 'xc7'"):
        parse.resources("xc7", {})


def test_nextpnr_report_ecp5():
    report = parse.nextpnr_report(fixture("nextpnr-0.11.1-report-ecp5.json"))
    assert report["clock"] == "clk"
    assert report["fmax_mhz"] == pytest.approx(67.792, abs=1e-3)
    assert report["freq_target_mhz"] == 200
    assert report["utilization"]["MULT18X18D"] == {"used": 1, "available": 156}
    assert report["logic_cells"] == 233
    assert report["critical_path_ns"] == pytest.approx(1000 / 67.792, abs=0.01)
    assert report["critical_path"].startswith("14.75 ns, 32 logic levels: ")
    assert "→" in report["critical_path"] and "ns routing" in report["critical_path"]


def test_nextpnr_report_ice40():
    report = parse.nextpnr_report(fixture("nextpnr-0.11.1-report-ice40.json"))
    assert report["clock"] == "clk$SB_IO_IN_$glb_clk"
    assert report["fmax_mhz"] == pytest.approx(21.132, abs=1e-3)
    assert report["utilization"]["SB_IO"] == {"used": 3, "available": 39}
    assert report["logic_cells"] == 255


def test_nextpnr_report_without_clock_or_paths():
    report = parse.nextpnr_report({"utilisation": {"TRELLIS_COMB": {"used": 4, "available": 9}}})
    assert report["fmax_mhz"] is None and report["clock"] is None
    assert report["critical_path"] is None
    assert report["logic_cells"] == 4


@pytest.mark.parametrize("name,detail", [
    ("nextpnr-0.11.1-nofit-ecp5.log", "MULT18X18D 36/28"),
    ("nextpnr-0.11.1-nofit-ice40.log", "ICESTORM_DSP 16/8"),
])
def test_nextpnr_failure_no_fit(name, detail):
    status, message = parse.nextpnr_failure(fixture(name))
    assert status == "no-fit"
    assert message == f"does not fit the device: {detail}"


def test_nextpnr_failure_other():
    assert parse.nextpnr_failure("Info: something\n") == \
        ("tool-error", "nextpnr failed without an ERROR line")
    status, message = parse.nextpnr_failure("ERROR: Failed to route net 'x'\n")
    assert status == "no-route" and "Failed to route" in message


def test_versions():
    assert parse.short_version(fixture("yosys-0.70-version.txt")) == "yosys 0.70"
    assert parse.short_version(fixture("nextpnr-0.11.1-version.txt")) == "nextpnr 0.11.1"
    assert parse.yosys_failure("1. Executing\nERROR: Module `x' not found!\n") == \
        "ERROR: Module `x' not found!"
