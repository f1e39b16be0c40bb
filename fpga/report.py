"""The area/timing report: Markdown, static HTML and PNG plots from result dicts.

`write_report(entries, out_dir, ...)` writes into `out_dir` (``build/report`` by default):

- ``report.md`` and ``index.html`` — the same content; the HTML is static (no scripts, no
  server) and every link in it is relative, so the directory opens from disk;
- ``<family>-area-fmax.png`` — per unit family, LUT4 against Fmax, one marker per variant;
- ``results.json`` — the aggregated rows, for other tools.

Per unit family (a ``family`` of the design set, by default the unit name) a table lists the
parameters, target, variant, LUT4 (LUT4 sites: LUT4 cells plus two per ECP5 CCU2C carry
cell), FF (the unit's own, and the total with the wrapper's I/O registers), carry cells,
DSP blocks, block RAM, Fmax, throughput (operations per cycle × Fmax, in Mop/s) and
throughput per kLUT. With several placement seeds, Fmax is the median, and the best is shown
next to it. Comparison tables (``[[compare]]`` in the design set) give the ratio A / B of
chosen metrics for every pair of results that agree on the comparison's ``match`` fields.
"""

import html
import json
import os
import re
import statistics
from pathlib import Path

from . import parse
from . import studies as study_files

__all__ = ["aggregate", "compare_rows", "write_report", "derived", "table_columns",
           "row_cells", "DEFAULT_OUT"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build" / "report"

_MARKERS = {"dsp": "o", "nodsp": "s", "nodsp-booth": "^"}


def derived(result):
    """`result` plus ``throughput_mops`` and ``throughput_per_klut`` (None where undefined)."""
    out = dict(result)
    fmax = result.get("fmax_mhz")
    ops = result.get("ops_per_cycle") or 1
    out["throughput_mops"] = ops * fmax if fmax else None
    luts = result.get("lut4_equiv")
    out["throughput_per_klut"] = (out["throughput_mops"] / (luts / 1000)
                                  if out["throughput_mops"] and luts else None)
    return out


def _identity(result):
    return (result["unit"], result["params_key"], result["target"], result["variant"])


def aggregate(entries):
    """Group ``(family, result)`` pairs over seeds; return rows in first-seen order.

    A row is the first successful seed's result (area does not depend on the seed) with
    ``fmax_mhz`` replaced by the median over successful seeds, plus ``fmax_best_mhz``,
    ``seeds`` (all seeds), ``seeds_ok``, ``section`` (the unit family the row is reported
    under; ``family`` stays the FPGA family) and the derived throughput fields.
    """
    groups = {}
    for family, result in entries:
        groups.setdefault((family, *_identity(result)), []).append(result)
    rows = []
    for (family, *_), results in groups.items():
        ok = [r for r in results if r["status"] == "ok"]
        base = dict(ok[0] if ok else results[0])
        fmaxes = [r["fmax_mhz"] for r in ok if r.get("fmax_mhz")]
        base["section"] = family
        base["seeds"] = sorted(r["seed"] for r in results)
        base["seeds_ok"] = len(ok)
        base["fmax_mhz"] = statistics.median(fmaxes) if fmaxes else None
        base["fmax_best_mhz"] = max(fmaxes) if fmaxes else None
        if ok and len(ok) < len(results):
            bad = [r for r in results if r["status"] != "ok"]
            base["message"] = "; ".join(filter(None, [base.get("message")] +
                                               [f"seed {r['seed']}: {r['status']}" for r in bad]))
        rows.append(derived(base))
    return rows


def _field(result, name):
    if name.startswith("params."):
        return result.get("params", {}).get(name.split(".", 1)[1])
    if name == "params":
        return json.dumps(result.get("params", {}), sort_keys=True)
    return result.get(name)


def _selected(result, selector):
    for key, want in selector.items():
        if key == "params":
            params = result.get("params", {})
            if any(params.get(k) != v for k, v in want.items()):
                return False
        elif result.get(key) != want:
            return False
    return True


def compare_rows(rows, compare):
    """Pairs of aggregated `rows` for one `fpga.designs.Compare`: a list of dicts with
    ``a``, ``b`` (the rows) and ``ratios`` (``{metric: a/b or None}``)."""
    a_rows = [r for r in rows if r["status"] == "ok" and _selected(r, compare.a)]
    b_rows = [r for r in rows if r["status"] == "ok" and _selected(r, compare.b)]
    pairs = []
    for a in a_rows:
        for b in b_rows:
            if a is b or any(_field(a, f) != _field(b, f) for f in compare.match):
                continue
            ratios = {}
            for metric in compare.metrics:
                va, vb = a.get(metric), b.get(metric)
                ratios[metric] = (va / vb) if isinstance(va, (int, float)) and \
                    isinstance(vb, (int, float)) and vb else None
            pairs.append({"a": a, "b": b, "ratios": ratios})
    return pairs


# --- formatting ------------------------------------------------------------------------------

def _num(value, digits=0):
    if value is None:
        return "—"
    if digits or isinstance(value, float):
        return f"{float(value):,.{digits}f}"
    return f"{value:,}"


def _params_label(result):
    text = result["params_key"]
    return text[text.index("(") + 1:-1] if "(" in text else text


def table_columns():
    """Column headers of the per-family table."""
    return ["parameters", "target", "variant", "LUT4", "FF unit", "FF total", "carry", "DSP",
            "BRAM", "Fmax MHz", "Mop/s", "Mop/s per kLUT", "status"]


def row_cells(row):
    """The per-family table cells of one aggregated row (strings)."""
    fmax = _num(row.get("fmax_mhz"), 1)
    if len(row.get("seeds", [])) > 1 and row.get("fmax_best_mhz"):
        fmax = f"{fmax} (best {row['fmax_best_mhz']:.1f}, {row['seeds_ok']} seeds)"
    ok = row["status"] == "ok"
    status = "ok" if ok and row.get("timing_met") is not False else row["status"]
    if ok and row.get("timing_met") is False:
        status = f"ok (< {row['freq_target_mhz']:g} MHz target)"
    return [_params_label(row), row["target"], row["variant"],
            _num(row.get("lut4_equiv")) if ok else "—", _num(row.get("ff_unit")) if ok else "—",
            _num(row.get("ff")) if ok else "—", _num(row.get("carry")) if ok else "—",
            _num(row.get("dsp")) if ok else "—", _num(row.get("bram")) if ok else "—",
            fmax, _num(row.get("throughput_mops"), 1), _num(row.get("throughput_per_klut"), 1),
            status]


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "family"


def _rel(path, out_dir):
    return os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())


def _varying_label(row, family_rows):
    """The parameters that differ within the family (all of them if none differ)."""
    keys = sorted({k for r in family_rows for k in r.get("params", {})})
    varying = [k for k in keys if len({json.dumps(r["params"].get(k)) for r in family_rows}) > 1]
    chosen = varying or keys
    params = row["params"]
    return ", ".join(str(params.get(k)) if k.endswith("fmt") else f"{k}={params.get(k)}"
                     for k in chosen)


def _plot(family, family_rows, path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=110)
    plotted = False
    for variant in dict.fromkeys(r["variant"] for r in family_rows):
        for tgt in dict.fromkeys(r["target"] for r in family_rows):
            points = [r for r in family_rows if r["variant"] == variant and r["target"] == tgt
                      and r["status"] == "ok" and r.get("fmax_mhz") and r.get("lut4_equiv")]
            if not points:
                continue
            plotted = True
            axes.scatter([r["lut4_equiv"] for r in points], [r["fmax_mhz"] for r in points],
                         marker=_MARKERS.get(variant, "x"), s=40, label=f"{variant}, {tgt}")
            for r in points:
                text = _varying_label(r, family_rows)
                if r.get("dsp"):
                    text += f" +{r['dsp']} DSP"
                below = variant != "dsp"          # labels of the two variants apart
                axes.annotate(text, (r["lut4_equiv"], r["fmax_mhz"]), fontsize=7,
                              xytext=(4, -9 if below else 4), textcoords="offset points")
    if plotted:
        axes.set_xscale("log")
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no successful runs", ha="center", va="center",
                  transform=axes.transAxes)
    axes.set_xlabel("LUT4 (LUT4 cells + 2 × CCU2C on ECP5), log scale")
    axes.set_ylabel("Fmax (MHz, median over seeds)")
    axes.set_title(f"{family}: area against Fmax")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


# --- writers ---------------------------------------------------------------------------------

def _inline(text):
    """HTML of a Markdown-ish line: escaped, with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_table(headers, rows, links=None):
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"]
    for index, row in enumerate(rows):
        cells = []
        for column, cell in enumerate(row):
            text = html.escape(str(cell))
            link = (links or {}).get((index, column))
            if link:
                text = f'<a href="{html.escape(link)}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


# --- studies: accuracy and error results written by scripts, shown in the report ------------

def _study_html(study):
    body = [f"<h2>{html.escape(study['title'])}</h2>"]
    body += [f"<p>{_inline(line)}</p>" for line in study["paragraphs"]]
    for table in study["tables"]:
        if table.get("caption"):
            body.append(f"<p>{_inline(table['caption'])}</p>")
        body.append(_html_table(table["headers"], [[str(c) for c in r] for r in table["rows"]]))
    return "\n".join(body)


_CSS = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0}td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}
img{max-width:100%;border:1px solid #eee}code{background:#f6f6f6}
.fail{color:#a00}"""


def write_report(entries, out_dir=DEFAULT_OUT, *, compares=(), title="nnrtl FPGA report",
                 source=None, notes=(), studies=()):
    """Write report.md, index.html, the plots and results.json into `out_dir`.

    Parameters
    ----------
    entries : list of (family, result dict)
        The runs to report (several seeds of one configuration are aggregated).
    out_dir : path
    compares : sequence of fpga.designs.Compare
    title : str
    source : str or None
        The design-set file the report was made from (shown in the header).
    notes : sequence of str
        Extra lines for the header (e.g. wall time).
    studies : sequence of dict
        Studies (see `fpga.studies`) appended after the comparisons.

    Returns
    -------
    dict with the paths written: ``markdown``, ``html``, ``json``, ``plots``; and
    ``comparisons``, the Markdown of the comparison tables alone (for a README).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*-area-fmax.png"):
        old.unlink()
    rows = aggregate(entries)
    families = list(dict.fromkeys(row["section"] for row in rows))
    tools_seen = {}
    for row in rows:
        for role, line in (row.get("tools") or {}).items():
            tools_seen.setdefault(parse.short_version(line), line)
    contexts = sorted({row.get("context") for row in rows if row.get("context")})
    seeds = sorted({s for row in rows for s in row.get("seeds", [])})

    md = [f"# {title}", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    header = []
    if source:
        header.append(f"Design set: `{source}`.")
    header.append(f"{len(entries)} runs, {len(rows)} configurations; tools: "
                  f"{', '.join(tools_seen) or '—'}; placement seeds: "
                  f"{', '.join(map(str, seeds)) or '—'}.")
    header.append("Method: every unit sits between input and output registers (one per port "
                  "bit, so combinational units get an Fmax too); placement is "
                  f"{' / '.join(contexts) or '—'} (ECP5: nextpnr `--out-of-context`; iCE40: "
                  "inputs through one scan chain, outputs kept), nextpnr gets `--freq` and a "
                  "seed. LUT4 counts LUT4 sites (LUT4 cells + 2 per ECP5 CCU2C carry cell); "
                  "'FF unit' is the total minus the wrapper's I/O registers; Fmax is the "
                  "median over seeds; Mop/s = operations per cycle × Fmax.")
    header += list(notes)
    for line in header:
        md += [line, ""]
        body.append(f"<p>{_inline(line)}</p>")

    plots = []
    for family in families:
        family_rows = [r for r in rows if r["section"] == family]
        md += [f"## {family}", ""]
        body.append(f"<h2>{html.escape(family)}</h2>")
        cells, links = [], {}
        for index, row in enumerate(family_rows):
            cells.append(row_cells(row))
            log = (row.get("logs") or {}).get("nextpnr")
            cache_root = Path(row.get("run_dir", "")).parent.parent
            result_file = cache_root / "results" / f"{row['key']}.json"
            if result_file.exists():
                links[(index, 0)] = _rel(result_file, out_dir)
            if log and Path(log).exists():
                links[(index, len(cells[-1]) - 1)] = _rel(log, out_dir)
        md.append(study_files.md_table(table_columns(), cells))
        md.append("")
        body.append(_html_table(table_columns(), cells, links))
        critical = [(row, row.get("critical_path")) for row in family_rows
                    if row.get("critical_path")]
        if critical:
            md += ["Critical paths:", ""]
            body.append("<p>Critical paths:</p><ul>")
            for row, path in critical:
                line = f"{_params_label(row)}, {row['target']}, {row['variant']}: {path}"
                md.append(f"- {line}")
                body.append(f"<li><code>{html.escape(line)}</code></li>")
            md.append("")
            body.append("</ul>")
        plot = out_dir / f"{_slug(family)}-area-fmax.png"
        _plot(family, family_rows, plot)
        plots.append(plot)
        md += [f"![{family}: area against Fmax]({plot.name})", ""]
        body.append(f'<p><img src="{html.escape(plot.name)}" '
                    f'alt="{html.escape(family)}: area against Fmax"></p>')

    compare_start = len(md)
    for compare in compares:
        pairs = compare_rows(rows, compare)
        md += [f"## Comparison: {compare.title}", ""]
        body.append(f"<h2>Comparison: {html.escape(compare.title)}</h2>")
        explain = (f"A = {compare.a}, B = {compare.b}; paired on "
                   f"{', '.join(compare.match) or 'nothing'}; each cell is A / B.")
        md += [explain, ""]
        body.append(f"<p>{html.escape(explain)}</p>")
        if not pairs:
            md += ["(no pairs of successful results)", ""]
            body.append("<p>(no pairs of successful results)</p>")
            continue
        headers = ["A", "B"] + [f"{m} A/B" for m in compare.metrics]
        cells = []
        for pair in pairs:
            a, b = pair["a"], pair["b"]
            cells.append([f"{_params_label(a)} {a['target']} {a['variant']}",
                          f"{_params_label(b)} {b['target']} {b['variant']}"] +
                         [_ratio(pair["ratios"][m], pair["a"].get(m), pair["b"].get(m))
                          for m in compare.metrics])
        md += [study_files.md_table(headers, cells), ""]
        body.append(_html_table(headers, cells))

    comparisons = "\n".join(md[compare_start:])
    for study in studies:
        md += [study_files.study_markdown(study)]
        body.append(_study_html(study))

    failures = [row for row in rows if row["status"] != "ok"]
    if failures:
        md += ["## Failed runs", ""]
        body.append("<h2>Failed runs</h2><ul>")
        for row in failures:
            md.append(f"- **{row['status']}**: {row['message']}")
            body.append(f'<li class="fail"><b>{html.escape(row["status"])}</b>: '
                        f'{html.escape(row["message"])}</li>')
        md.append("")
        body.append("</ul>")
    md += ["## Tools", ""] + [f"- {line}" for line in tools_seen.values()] + [""]
    body.append("<h2>Tools</h2><ul>" + "".join(f"<li><code>{html.escape(line)}</code></li>"
                                               for line in tools_seen.values()) + "</ul>")

    md_path = out_dir / "report.md"
    html_path = out_dir / "index.html"
    json_path = out_dir / "results.json"
    md_path.write_text("\n".join(md))
    html_path.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                         f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
                         "<body>\n" + "\n".join(body) + "\n</body></html>\n")
    json_path.write_text(json.dumps(rows, indent=1, sort_keys=True, default=str) + "\n")
    return {"markdown": md_path, "html": html_path, "json": json_path, "plots": plots,
            "comparisons": comparisons}


def _ratio(ratio, a, b):
    if ratio is None:
        return "—" if a is None or b is None else f"{_num(a)} / {_num(b)}"
    return f"{ratio:.2f}× ({_num(a, 1 if isinstance(a, float) else 0)} / " \
           f"{_num(b, 1 if isinstance(b, float) else 0)})"
