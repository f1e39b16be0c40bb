"""The report writer: aggregation over seeds, comparisons, and a self-contained static HTML."""

import html.parser
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fpga import designs, progress, report, studies


def _result(tmp_path, *, unit="fpmul", fmt="bf16", variant="dsp", seed=1, fmax=100.0,
            luts=400, status="ok", key=None):
    key = key or f"{unit}-{fmt}-{variant}-{seed}"
    run_dir = tmp_path / "cache" / "runs" / key
    run_dir.mkdir(parents=True)
    (run_dir / "nextpnr.log").write_text("Info: done\n")
    results = tmp_path / "cache" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{key}.json").write_text("{}\n")
    return {
        "key": key, "unit": unit, "params": {"fmt": fmt, "stages": 2},
        "params_key": f"{unit}(fmt={fmt}, stages=2)", "ops_per_cycle": 1, "latency": 2,
        "target": "ecp5-85f", "family": "ecp5", "device": "LFE5U-85F", "package": "CABGA381",
        "speed": 6, "variant": variant, "context": "out-of-context", "seed": seed,
        "freq_target_mhz": 200.0, "tools": {"yosys": "Yosys 0.70 (git sha1 x)",
                                            "nextpnr": "(Version nextpnr-0.11.1)"},
        "lut4": luts, "lut4_equiv": luts, "ff": 100, "ff_unit": 48, "wrapper_ff": 52,
        "carry": 10, "dsp": 1 if variant == "dsp" else 0, "bram": 0,
        "fmax_mhz": fmax if status == "ok" else None, "timing_met": False,
        "critical_path": "10.00 ns, 20 logic levels: a.Q → b.D (4 ns logic, 6 ns routing)",
        "status": status, "message": "" if status == "ok" else "does not fit the device: X 2/1",
        "run_dir": str(run_dir), "logs": {"nextpnr": str(run_dir / "nextpnr.log")},
    }


def test_aggregate_takes_median_and_best_over_seeds(tmp_path):
    entries = [("fpmul", _result(tmp_path, seed=s, fmax=f))
               for s, f in ((1, 90), (2, 110), (3, 100))]
    entries.append(("fpmul", _result(tmp_path, seed=4, status="no-fit")))
    (row,) = report.aggregate(entries)
    assert row["fmax_mhz"] == 100 and row["fmax_best_mhz"] == 110
    assert row["seeds"] == [1, 2, 3, 4] and row["seeds_ok"] == 3
    assert row["throughput_mops"] == 100 and row["throughput_per_klut"] == pytest.approx(250)
    assert "seed 4: no-fit" in row["message"]
    cells = report.row_cells(row)
    fmax = report.table_columns().index(report.COLUMNS["fmax_mhz"])
    assert cells[fmax] == "100.0 (best 110.0, 3 seeds)"


def test_compare_pairs_on_chosen_fields(tmp_path):
    rows = report.aggregate([
        ("x", _result(tmp_path, unit="lmul", fmt="bf16", fmax=200, luts=100)),
        ("x", _result(tmp_path, unit="fpmul", fmt="bf16", fmax=100, luts=400)),
        ("x", _result(tmp_path, unit="fpmul", fmt="fp16", fmax=90, luts=500)),
    ])
    compare = designs.Compare(title="L-Mul vs exact", a={"unit": "lmul"}, b={"unit": "fpmul"},
                              match=("params.fmt", "target", "variant"),
                              metrics=("lut4_equiv", "fmax_mhz"))
    (pair,) = report.compare_rows(rows, compare)
    assert pair["b"]["params"]["fmt"] == "bf16"
    assert pair["ratios"] == {"lut4_equiv": 0.25, "fmax_mhz": 2.0}


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href"):
                self.refs.append(value)


def test_html_report_is_static_and_every_reference_exists(tmp_path):
    configurations = [(f, v) for f in ("fp8_e4m3", "bf16") for v in ("dsp", "nodsp")]
    entries = [("Exact multipliers",
                _result(tmp_path, fmt=f, variant=v, fmax=100.0 - i, luts=300 + i))
               for i, (f, v) in enumerate(configurations)]
    entries.append(("Exact multipliers", _result(tmp_path, fmt="fp32", status="no-fit")))
    compare = designs.Compare(title="DSP vs LUT", a={"variant": "dsp"}, b={"variant": "nodsp"},
                              match=("unit", "params", "target", "seed"),
                              metrics=("lut4_equiv", "fmax_mhz"))
    out = tmp_path / "report"
    paths = report.write_report(entries, out, compares=[compare], source="designs/x.toml")
    text = Path(paths["html"]).read_text()
    parser = _Links()
    parser.feed(text)
    assert any(ref.endswith(".png") for ref in parser.refs)
    assert any(ref.endswith("nextpnr.log") for ref in parser.refs)
    assert any(ref.endswith(".json") for ref in parser.refs)
    for ref in parser.refs:
        assert not ref.startswith(("/", "http:", "https:", "file:")), ref    # relative only
        assert (out / ref).exists(), ref
    assert "<script" not in text
    assert Path(paths["plots"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = Path(paths["markdown"]).read_text()
    assert "## Exact multipliers" in markdown and "## Comparison: DSP vs LUT" in markdown
    assert "## Failed runs" in markdown and "does not fit" in markdown
    assert "0.99× (99.0 / 98.0)" not in markdown         # paired within one format only
    assert "1.01× (100.0 / 99.0)" in markdown


def test_studies_reach_the_report_and_the_readme(tmp_path):
    folder = tmp_path / "studies"
    studies.write_study("b_study", "Second | study", ["Says `x`."],
                        [{"caption": "Errors:", "headers": ["m", "mean"],
                          "rows": [[3, 0.125], [4, "a|b"]]}], studies_dir=folder)
    studies.write_study("a_study", "First study", ["Only text."], [], studies_dir=folder)
    loaded = studies.load_studies(folder)
    assert [s["name"] for s in loaded] == ["a_study", "b_study"]        # sorted by name
    assert studies.load_studies(tmp_path / "missing") == []
    text = studies.study_markdown(loaded[1])
    assert text.splitlines()[:3] == ["## Second | study", "", "Says `x`."]
    assert "| 3 | 0.125 |" in text and "| 4 | a\\|b |" in text      # cells escaped
    paths = report.write_report([("Exact multipliers", _result(tmp_path))], tmp_path / "r",
                                studies=loaded)
    assert text in Path(paths["markdown"]).read_text()
    assert "<h2>Second | study</h2>" in Path(paths["html"]).read_text()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import _common
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- b_study:begin -->\nold\n<!-- b_study:end -->\nend\n")
    _common.write_readme_section("b_study", text, readme)
    assert readme.read_text() == f"intro\n<!-- b_study:begin -->\n{text}<!-- b_study:end -->\nend\n"
    with pytest.raises(SystemExit, match="lacks the markers <!-- other:begin -->"):
        _common.write_readme_section("other", text, readme)


def test_progress_lines_without_a_terminal():
    stream = io.StringIO()
    with progress.Progress(2, workers=2, stream=stream, tty=False) as bar:
        bar.done("first")
        bar.done("second")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] first (") and "ETA" in lines[0]
    assert lines[1].startswith("[2/2] second (") and lines[1].endswith("ETA 0s)")
    assert progress.format_seconds(75) == "1m15s" and progress.format_seconds(None) == "?"
    assert progress.format_seconds(3725) == "1h02m"


TINY_SET = """
title = "tiny"
[defaults]
targets = ["ecp5-25f"]
variants = ["nodsp"]
[[design]]
unit = "fpmul"
family = "tiny multipliers"
params = { fmt = "fp4_e2m1", stages = 0 }
"""


def test_sweep_then_report_scripts(tmp_path):
    """scripts/sweep.py runs the set (real tools, one tiny run); scripts/report.py then finds
    it in the cache and writes a report whose every reference exists."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_SET)
    root = Path(__file__).resolve().parent.parent
    common = ["--cache", str(tmp_path / "cache")]
    out = subprocess.run([sys.executable, "scripts/sweep.py", str(config), "--jobs", "1",
                          "--json", str(tmp_path / "all.json"), *common],
                         capture_output=True, text=True, cwd=root, timeout=600)
    assert out.returncode == 0, out.stderr
    # the parameter set with its default (stages=0) written out or left out
    assert re.search(r"fpmul\(fmt=fp4_e2m1(, stages=0)?\) ecp5-25f nodsp seed 1: ", out.stdout)
    assert "[1/1]" in out.stderr and "ETA" in out.stderr
    assert json.loads((tmp_path / "all.json").read_text())[0]["section"] == "tiny multipliers"
    out = subprocess.run([sys.executable, "scripts/report.py", "--designs", str(config),
                          "--out", str(tmp_path / "report"), *common],
                         capture_output=True, text=True, cwd=root, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "1 run(s): 1 cached, 0 to run" in out.stderr
    index = tmp_path / "report" / "index.html"
    assert f"report: {index}" in out.stdout
    parser = _Links()
    parser.feed(index.read_text())
    assert len(parser.refs) >= 3
    for ref in parser.refs:
        assert (index.parent / ref).exists(), ref


def test_mac_arrays_show_their_layer_cycles_and_a_throughput_plot(tmp_path):
    """Rows with ``layer_cycles`` (MAC arrays) get the column, families without it do not;
    every array lands on one area-against-throughput chart; ``tables`` is the Markdown of
    the per-family tables (README)."""
    arrays = []
    for index, (rows, fmax) in enumerate(((4, 200.0), (8, 180.0))):
        result = _result(tmp_path, unit="macarray", fmt="int8", fmax=fmax,
                         luts=1000 * (index + 1), key=f"array{rows}")
        result.update(params={"rows": rows, "cols": rows},
                      params_key=f"macarray(rows={rows}, cols={rows})",
                      ops_per_cycle=rows * rows, layer_cycles=70000 // rows)
        arrays.append(("arrays", result))
    entries = arrays + [("multipliers", _result(tmp_path))]
    paths = report.write_report(entries, tmp_path / "report")
    markdown = Path(paths["markdown"]).read_text()
    arrays_part, multipliers_part = markdown.split("## multipliers")
    column = report.COLUMNS["layer_cycles"]
    assert column in arrays_part and column not in multipliers_part.split("## MAC arrays")[0]
    assert "| 17,500 |" in arrays_part and "| 8,750 |" in arrays_part
    # 8 x 8 at 180 MHz: 11,520 Mop/s
    assert "11,520" in arrays_part or "11520" in arrays_part
    chart = paths["figures"]["arrays-area-throughput.png"]
    (panel,) = chart["panels"]
    assert panel["ylabel"].startswith("throughput") and len(panel["labels"]) == 2
    assert "#### arrays" in paths["tables"] and column in paths["tables"]
    cells = report.row_cells(report.aggregate(arrays)[0], layer=True)
    assert len(cells) == len(report.table_columns(layer=True))


REFERENCE_SET = '''
[[design]]
unit = "positmul"
family = "posit multipliers"
params = { n = 8, es = 1, stages = 0 }

[[reference]]
name = "pacogen-positmul"
family = "posit multipliers"
params = { n = 8, es = 1, stages = 0 }
target = "ecp5-85f"
variant = "nodsp"
lut4 = 275
fmax_mhz = 34.0
source = "PACoGen, measured in this flow"

[[compare]]
title = "against PACoGen"
a = { unit = "positmul" }
b = { unit = "pacogen-positmul" }
match = ["params.n", "params.es", "target", "variant"]
metrics = ["lut4", "fmax_mhz"]
'''


def test_reference_rows_are_marked_and_compared(tmp_path):
    import tomllib
    design_set = designs.parse(tomllib.loads(REFERENCE_SET))
    references = designs.reference_results(design_set)
    measured = _result(tmp_path, unit="positmul", variant="nodsp", fmax=170.0, luts=110)
    measured["params"] = {"n": 8, "es": 1, "stages": 0}
    paths = report.write_report([("posit multipliers", measured)], tmp_path / "out",
                                compares=design_set.compares, references=references)
    text = paths["markdown"].read_text()
    assert "1 runs, 1 configurations and 1 reference rows" in text
    line = next(line for line in text.splitlines() if "pacogen-positmul (n=8" in line)
    assert "| 275 |" in line and "34.0" in line and "reference: PACoGen, measured" in line
    assert "0.40× (110 / 275)" in paths["comparisons"]          # LUT4 ratio
    assert "5.00× (170.0 / 34.0)" in paths["comparisons"]       # Fmax ratio


@pytest.mark.parametrize("old, new, message", [
    ('name = "pacogen-positmul"', 'name = "positmul"', r"name 'positmul' is a unit of this"),
    ("lut4 = 275\nfmax_mhz = 34.0\n", "", r"needs at least one figure among"),
    ("lut4 = 275", "lut4 = -1", r"each a non-negative number \(not lut4 = -1\)"),
    ('source = "PACoGen, measured in this flow"', "", r"reference 1: needs source"),
    ('variant = "nodsp"', 'variant = "lut"', r"reference 1: variant must be one of"),
    ("lut4 = 275", "lut = 275", r"unknown keys \['lut'\]"),
])
def test_bad_references_are_named(old, new, message):
    import tomllib
    assert old in REFERENCE_SET
    with pytest.raises(designs.DesignError, match=message):
        designs.parse(tomllib.loads(REFERENCE_SET.replace(old, new)))
