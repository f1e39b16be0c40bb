"""Studies: accuracy results that scripts write for the report (build/studies/*.json).

An error study (scripts/lmul_error.py, scripts/mlp_digits.py) writes its paragraphs, tables
and chart data here with `write_study`; `fpga.report` appends every study that is about a
unit of the design set to the area and timing report, and draws each of its charts as
accuracy (or error) against area. The study scripts import this module only, not the report
writer.

A study is a JSON object: ``name``, ``title``, ``paragraphs`` (Markdown), ``tables``
(``caption`` in Markdown, ``headers``, ``rows``), and optionally

- ``about``: the unit names the study is about (e.g. ``["lmul"]``); a report includes the
  study only if its design set has one of them (a study without ``about``: every report);
- ``charts``: accuracy figures to draw against the area of the hardware that computes them,
  each ``{"title", "metric" (axis label), "log" (bool), "better" ("higher" or "lower"),
  "front" (bool: mark the Pareto front of each panel), "points": [{"label", "select",
  "value"}]}``; ``select`` picks report rows as a
  ``[[compare]]`` side does (``{"unit": "lmul", "params": {"fmt": "bf16"}}``; a parameter
  given as null must be absent or null, one left out may have any value).
"""

import json
from pathlib import Path

__all__ = ["write_study", "load_studies", "study_markdown", "md_table", "STUDIES_DIR"]

STUDIES_DIR = Path(__file__).resolve().parent.parent / "build" / "studies"


def _escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers, rows, align=None):
    """A Markdown table; `align` is an optional string of ``l``/``r`` per column."""
    marks = {"l": ":---", "r": "---:"}
    seps = [marks.get((align or "")[i:i + 1], "---") for i in range(len(headers))]
    lines = ["| " + " | ".join(_escape(h) for h in headers) + " |",
             "|" + "|".join(seps) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_study(name, title, paragraphs, tables, studies_dir=STUDIES_DIR, *, about=(),
                charts=()):
    """Write one study (``<studies_dir>/<name>.json``) for the report to include.

    `paragraphs` is a list of str (Markdown inline: `code`, **bold**); `tables` a list of
    dicts with ``caption`` (str), ``headers`` (list of str) and ``rows`` (list of lists);
    `about` and `charts` as in the module docstring. Returns the path written.
    """
    studies_dir = Path(studies_dir)
    studies_dir.mkdir(parents=True, exist_ok=True)
    path = studies_dir / f"{name}.json"
    study = {"name": name, "title": title, "paragraphs": list(paragraphs),
             "tables": [dict(table) for table in tables]}
    if about:
        study["about"] = list(about)
    if charts:
        study["charts"] = [dict(chart) for chart in charts]
    path.write_text(json.dumps(study, indent=1, default=str) + "\n")
    return path


def load_studies(studies_dir=STUDIES_DIR):
    """The studies found in `studies_dir`, sorted by name (an empty list if none)."""
    studies_dir = Path(studies_dir)
    if not studies_dir.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(studies_dir.glob("*.json"))]


def study_markdown(study, level=2, figures=()):
    """Markdown for one study: a heading, its paragraphs, `figures` (Markdown lines, e.g.
    the report's accuracy-against-area images) and its tables."""
    md = [f"{'#' * level} {study['title']}", ""]
    for line in study["paragraphs"]:
        md += [line, ""]
    for line in figures:
        md += [line, ""]
    for table in study["tables"]:
        if table.get("caption"):
            md += [table["caption"], ""]
        md += [md_table(table["headers"], [[str(c) for c in r] for r in table["rows"]]), ""]
    return "\n".join(md).rstrip() + "\n"
