"""The report's content without a browser: column names, parameter text, rendered Markdown,
status, tools, plot panels and labels, comparison and accuracy charts, study data.

Written from recorded results (tests/fixtures/report/lmul-mini-results.json: 16 runs of
tests/fixtures/report/lmul-mini.toml on ECP5-85F and iCE40 UP5K, yowasp yosys 0.70 /
nextpnr 0.11.1) and recorded studies (tests/fixtures/report/studies/: scripts/mlp_digits.py,
and scripts/lmul_error.py --quick).
"""

import copy
import html.parser
import json
import re
import sys
from pathlib import Path

import pytest

from fpga import designs, report, studies

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "report"
sys.path.insert(0, str(ROOT / "scripts"))
import lmul_error  # noqa: E402  (scripts/ is not a package)
import mlp_digits  # noqa: E402


def _fixture_rows():
    return json.loads((FIXTURES / "lmul-mini-results.json").read_text())


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rows = _fixture_rows()
    design_set = designs.load(FIXTURES / "lmul-mini.toml")
    out = tmp_path_factory.mktemp("report")
    paths = report.write_report([(row["section"], row) for row in rows], out,
                                compares=design_set.compares, title="small report",
                                source="tests/fixtures/report/lmul-mini.toml",
                                studies=studies.load_studies(FIXTURES / "studies"))
    paths["md_text"] = Path(paths["markdown"]).read_text()
    paths["html_text"] = Path(paths["html"]).read_text()
    return paths


class _Text(html.parser.HTMLParser):
    """The text of a page as a reader sees it, and the tags used."""

    def __init__(self):
        super().__init__()
        self.text, self.tags, self.summaries = [], [], []
        self._summary = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._summary = tag == "summary"

    def handle_endtag(self, tag):
        self._summary = False if tag == "summary" else self._summary

    def handle_data(self, data):
        self.text.append(data)
        if self._summary:
            self.summaries.append(data)


def _page(html_text):
    parser = _Text()
    parser.feed(html_text)
    return parser


def test_columns_show_the_fields_they_name():
    rows = report.aggregate([(r["section"], r) for r in _fixture_rows()])
    columns = report.table_columns()
    differ = 0
    for row in rows:
        cells = dict(zip(columns, report.row_cells(row)))
        assert cells[report.COLUMNS["lut4"]] == f"{row['lut4']:,}"
        assert cells[report.COLUMNS["lut4_equiv"]] == f"{row['lut4_equiv']:,}"
        assert cells[report.COLUMNS["carry"]] == f"{row['carry']:,}"
        assert cells[report.COLUMNS["ff_unit"]] == f"{row['ff_unit']:,}"
        assert cells[report.COLUMNS["ff"]] == f"{row['ff']:,}"
        differ += row["lut4"] != row["lut4_equiv"]
    assert differ >= 6                         # ECP5 rows with CCU2C: the two differ
    assert report.COLUMNS["lut4"] == "LUT4" and "LUT4" not in (
        v for k, v in report.COLUMNS.items() if k != "lut4")
    assert not any("_" in name for name in columns)          # no internal field names


def test_parameter_sets_are_written_as_people_write_them(written):
    assert report.params_text({"fmt": "bf16", "stages": 4}) == "fmt=bf16, stages=4"
    assert report.params_text({"special_values": False, "out_fmt": None}) == \
        "special_values=false, out_fmt=none"
    assert report.selector_text({"variant": "dsp"}) == "variant=dsp"
    assert report.selector_text({"unit": "lmul", "params": {"stages": 0,
                                                            "special_values": True}}) == \
        "lmul, stages=0, special_values=true"
    md, page = written["md_text"], "".join(_page(written["html_text"]).text)
    assert ("A = lmul, stages=0, special_values=true; B = fpmul, stages=0; paired where "
            "fmt, target and variant are equal; each cell is A / B.") in md
    for text in (md, page):
        assert "{'" not in text and "':" not in text and "params." not in text
        assert "lmul(fmt=" not in text and "='" not in text      # no params_key text
    assert "| fmt=bf16, special_values=true, stages=0 | ice40-up5k | dsp |" in md
    assert "LUT sites A/B" in md and "lut4_equiv A/B" not in md


def test_html_is_the_markdown_rendered(written):
    page = _page(written["html_text"])
    text = "".join(page.text)
    assert "**" not in text and "`" not in text
    assert "e8m<m>" in text                    # markup-like text in a study stays text
    assert page.tags.count("table") == written["md_text"].count("\n|:---|") + \
        written["md_text"].count("\n|---|")
    assert page.tags.count("table") >= 7
    assert "strong" in page.tags and "code" in page.tags and "em" in page.tags
    assert page.tags.count("details") == 2     # critical paths, one per unit family
    assert [s for s in page.summaries if s.startswith("Critical paths")] == \
        ["Critical paths (8 configurations)"] * 2
    details = written["html_text"].split("<details>")[1].split("</details>")[0]
    assert details.count("<li>") == 8 and "<code>" in details
    assert 'markdown="1"' not in written["html_text"]
    assert "<script" not in written["html_text"]


def test_status_goal_and_tools(written):
    md = written["md_text"]
    rows = report.aggregate([(r["section"], r) for r in _fixture_rows()])
    assert all(r["timing_met"] is False for r in rows)            # none reached 200 / 50
    statuses = {report.row_cells(r)[-1] for r in rows}
    assert statuses == {"ok"}
    assert "target)" not in md and "ok (<" not in md
    goals = {report.row_cells(r)[report.table_columns().index(report.COLUMNS[
        "freq_target_mhz"])] for r in rows}
    assert goals == {"200", "50"}
    reached = dict(rows[0], timing_met=True)
    assert report.row_cells(reached)[-2] == "200 (reached)"
    tools = md.split("## Tools")[1]
    for name in ("yosys 0.70", "nextpnr-ecp5 0.11.1", "nextpnr-ice40 0.11.1"):
        assert f"- {name}: `" in tools


def _boxes_overlap(a, b):
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def test_plots_have_a_panel_per_fpga_family_and_labels_that_do_not_collide(written):
    figures = written["figures"]
    assert len(figures) == len(written["plots"]) == 5
    for name, figure in figures.items():
        width, height = figure["size"]
        for panel in figure["panels"]:
            frame = panel["frame"]
            assert 0 <= frame[0] and frame[2] <= width and 0 <= frame[1] and frame[3] <= height
            labels = panel["labels"]
            texts = [text for text, _ in labels]
            assert len(texts) == len(set(texts)), (name, texts)           # no duplicates
            for index, (text, box) in enumerate(labels):
                assert frame[0] <= box[0] and box[2] <= frame[2], (name, text)   # not cut off
                assert frame[1] <= box[1] and box[3] <= frame[3], (name, text)
                for other_text, other in labels[index + 1:]:
                    assert not _boxes_overlap(box, other), (name, text, other_text)
            if panel["title"].startswith("ECP5"):
                assert "CCU2C" in panel["xlabel"] and "iCE40" not in panel["xlabel"]
            else:
                assert panel["title"].startswith("iCE40")
                assert "SB_LUT4" in panel["xlabel"] and "ECP5" not in panel["xlabel"]
    lmul = figures["lmul-l-mul-multipliers-area-fmax.png"]["panels"]
    assert [p["title"] for p in lmul] == ["ECP5", "iCE40"]
    # six ECP5 runs, dsp and nodsp on the same spot for each format: one label per format
    assert sorted(t for t, _ in lmul[0]["labels"]) == ["bf16", "fp8_e4m3", "fp8_e5m2"]


def test_one_comparison_chart_per_compare_with_pairs_linked(written):
    (name,) = [n for n in written["figures"] if n.startswith("compare-")]
    panels = written["figures"][name]["panels"]
    assert [p["title"].split(";")[0] for p in panels] == ["ECP5", "iCE40"]
    assert [p["arrows"] for p in panels] == [6, 2]                # one per A/B pair
    assert f"]({name})" in written["md_text"]
    assert "![" not in written["comparisons"] and "LUT sites A/B" in written["comparisons"]
    ecp5 = sorted(t for t, _ in panels[0]["labels"])
    assert ecp5 == ["bf16, dsp/nodsp", "fp8_e4m3, dsp/nodsp", "fp8_e5m2, dsp/nodsp"]


def test_accuracy_against_area_where_a_study_is_about_the_set(written, tmp_path):
    assert written["studies"] == ["lmul_error", "mlp_digits"]
    charts = {n: f for n, f in written["figures"].items() if n.startswith("accuracy-")}
    assert sorted(charts) == ["accuracy-lmul-error-1.png", "accuracy-mlp-digits-1.png"]
    mlp = charts["accuracy-mlp-digits-1.png"]["panels"]
    assert [p["title"] for p in mlp] == ["ECP5, variant dsp", "ECP5, variant nodsp",
                                         "iCE40, variant dsp"]
    assert all(p["ylabel"].startswith("test accuracy (%)") for p in mlp)
    assert sorted(t for t, _ in mlp[0]["labels"]) == sorted(
        ["BF16 exact", "FP8_E4M3 exact", "FP8_E5M2 exact", "BF16 L-Mul", "FP8_E4M3 L-Mul",
         "FP8_E5M2 L-Mul"])                    # FP32: no fp32 unit in this set
    md = written["md_text"]
    study = md.split("## Accuracy on a real layer")[1]
    assert study.index("](accuracy-mlp-digits-1.png)") < study.index("| products |")
    # A set without the unit a study is about gets neither the study nor its chart.
    exact_only = [(r["section"], r) for r in _fixture_rows() if r["unit"] == "fpmul"]
    paths = report.write_report(exact_only, tmp_path / "r",
                                studies=studies.load_studies(FIXTURES / "studies"))
    assert paths["studies"] == []
    assert not any(n.startswith("accuracy-") for n in paths["figures"])
    assert "L-Mul error study" not in Path(paths["markdown"]).read_text()
    # ... unless the design set has that unit (its L-Mul results not made yet): the charts
    # show the points that have results
    paths = report.write_report(exact_only, tmp_path / "s", units=["fpmul", "lmul"],
                                studies=studies.load_studies(FIXTURES / "studies"))
    assert paths["studies"] == ["lmul_error", "mlp_digits"]
    labels = [text for name, figure in paths["figures"].items() if name.startswith("accuracy-")
              for panel in figure["panels"] for text, _ in panel["labels"]]
    assert labels and all(text.lower().endswith("exact") for text in labels)


def test_select_rows_fills_defaults_and_null_means_absent():
    rows = report.aggregate([(r["section"], r) for r in _fixture_rows()])
    lmul_bf16 = next(r for r in rows if r["unit"] == "lmul" and r["params"]["fmt"] == "bf16")
    implicit = copy.deepcopy(lmul_bf16)
    del implicit["params"]["special_values"]                    # the default, left out
    other = copy.deepcopy(lmul_bf16)
    other["params"]["out_fmt"] = "e8m7_ftz"
    select = {"unit": "lmul", "params": {"fmt": "bf16", "out_fmt": None,
                                          "special_values": True}}
    picked = report.select_rows([lmul_bf16, implicit, other], select)
    assert picked == [lmul_bf16, implicit]
    assert report.select_rows([lmul_bf16], {"unit": "lmul", "params": {
        "special_values": False}}) == []


def test_study_scripts_give_chart_data():
    rows = [{"mode": "float64", "accuracy": 1.0}, {"mode": "lmul-bf16", "accuracy": 0.9},
            {"mode": "bf16", "accuracy": 0.95}]
    (chart,) = mlp_digits.charts(rows)
    assert chart["better"] == "higher" and chart["metric"] == "test accuracy (%)"
    assert [p["label"] for p in chart["points"]] == ["BF16 L-Mul", "BF16 exact"]
    assert [p["value"] for p in chart["points"]] == [90.0, 95.0]
    assert chart["points"][0]["select"] == {"unit": "lmul", "params": {
        "fmt": "bf16", "out_fmt": None, "special_values": True}}
    assert chart["points"][1]["select"]["unit"] == "fpmul"
    dots = lmul_error.dot_products(2, 1, ks=(64,))
    (chart,) = lmul_error.charts(dots, ks=(64,))
    assert chart["log"] and chart["better"] == "lower"
    points = {p["label"]: p for p in chart["points"]}
    assert sorted(points) == sorted(f"{f} {m}" for f in ("fp8_e4m3", "fp8_e5m2", "bf16")
                                    for m in ("L-Mul", "exact"))
    assert points["bf16 exact"]["value"] == dots[("bf16", "exact", 64)]["real"]["median"]
    assert points["fp8_e5m2 L-Mul"]["select"]["unit"] == "lmul"


def test_a_study_run_without_readme_leaves_the_readme_alone(tmp_path, capsys):
    readme = tmp_path / "README.md"
    original = "# x\n\n<!-- lmul_error:begin -->\nold\n<!-- lmul_error:end -->\n"
    readme.write_text(original)
    lmul_error.main(["--quick", "--samples", "300", "--vectors", "2"], readme=readme,
                    studies_dir=tmp_path)
    assert readme.read_text() == original
    saved = json.loads((tmp_path / "lmul_error.json").read_text())
    assert saved["about"] == ["lmul"] and len(saved["charts"][0]["points"]) == 6
    capsys.readouterr()


def test_free_text_cannot_become_markup(tmp_path):
    row = _fixture_rows()[0]
    failed = dict(row, status="no-fit", message="needs 2 `DSP` *cells* <of 1> [x](y)",
                  fmax_mhz=None, section="a_family_")
    paths = report.write_report([("a_family_", failed)], tmp_path)
    text = "".join(_page(Path(paths["html"]).read_text()).text)
    assert "needs 2 `DSP` *cells* <of 1> [x](y)" in text
    assert re.search(r"no-fit", text)
