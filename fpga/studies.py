"""Studies: accuracy results that scripts write for the report (build/studies/*.json).

An error study (scripts/lmul_error.py, scripts/mlp_digits.py) writes its paragraphs and
tables here with `write_study`; `fpga.report` appends every study it finds to the area and
timing report. The study scripts import this module only, not the report writer.
"""

import json
from pathlib import Path

__all__ = ["write_study", "load_studies", "study_markdown", "md_table", "STUDIES_DIR"]

STUDIES_DIR = Path(__file__).resolve().parent.parent / "build" / "studies"


def _escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_study(name, title, paragraphs, tables, studies_dir=STUDIES_DIR):
    """Write one study (``<studies_dir>/<name>.json``) for the report to include.

    `paragraphs` is a list of str (Markdown inline: `code`, **bold**); `tables` a list of
    dicts with ``caption`` (str), ``headers`` (list of str) and ``rows`` (list of lists).
    Returns the path written.
    """
    studies_dir = Path(studies_dir)
    studies_dir.mkdir(parents=True, exist_ok=True)
    path = studies_dir / f"{name}.json"
    study = {"name": name, "title": title, "paragraphs": list(paragraphs),
             "tables": [dict(table) for table in tables]}
    path.write_text(json.dumps(study, indent=1, default=str) + "\n")
    return path


def load_studies(studies_dir=STUDIES_DIR):
    """The studies found in `studies_dir`, sorted by name (an empty list if none)."""
    studies_dir = Path(studies_dir)
    if not studies_dir.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(studies_dir.glob("*.json"))]


def study_markdown(study, level=2):
    """Markdown for one study: a heading, its paragraphs and tables."""
    md = [f"{'#' * level} {study['title']}", ""]
    for line in study["paragraphs"]:
        md += [line, ""]
    for table in study["tables"]:
        if table.get("caption"):
            md += [table["caption"], ""]
        md += [md_table(table["headers"], [[str(c) for c in r] for r in table["rows"]]), ""]
    return "\n".join(md).rstrip() + "\n"
