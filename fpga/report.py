"""The area/timing report: Markdown, static HTML and PNG plots from result dicts.

`write_report(entries, out_dir, ...)` writes into `out_dir` (``build/report`` by default):

- ``report.md`` and ``index.html`` — the same content: the HTML is the Markdown rendered by
  the ``markdown`` library (tables, folded ``<details>``), static (no scripts, no server),
  and every link in it is relative, so the directory opens from disk;
- ``<family>-area-fmax.png`` — per unit family, LUT sites against Fmax, one panel per FPGA
  family (ECP5, iCE40), one marker per variant;
- ``compare-<n>-<title>.png`` — per ``[[compare]]``, both sides on one chart, LUT sites
  against Fmax, an arrow from each B to its A;
- ``accuracy-<study>-<n>.png`` — per accuracy chart of a study (`fpga.studies`): accuracy or
  error against LUT sites of the units that compute it;
- ``results.json`` — the aggregated rows, for other tools (field names as in the results).

Columns are named by `COLUMNS`, the one mapping from result fields to the names shown in
tables, comparisons and plots. ``lut4`` is the LUT4 cells yosys reports (LUT4 / SB_LUT4);
``lut4_equiv`` is the LUT *sites* the logic takes: LUT4 cells plus two per ECP5 CCU2C carry
cell (a CCU2C fills both LUT4 sites of a slice half), and on iCE40 the SB_LUT4 cells (an
SB_CARRY shares a logic cell with a LUT); areas, plots and throughput per area use sites.
With several placement seeds, Fmax is the median, and the best is shown next to it.
Comparison tables give the ratio A / B of chosen metrics for every pair of results that
agree on the comparison's ``match`` fields.
"""

import functools
import html
import json
import math
import os
import re
import statistics
from pathlib import Path

from . import parse
from . import studies as study_files

__all__ = ["aggregate", "pareto_front", "compare_rows", "write_report", "derived",
           "table_columns", "row_cells", "params_text", "selector_text", "render_html",
           "select_rows", "relevant_studies", "md_text", "COLUMNS", "DEFAULT_OUT"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build" / "report"

#: result field -> the name shown for it (tables, comparison headers, plot axes)
COLUMNS = {
    "lut4_equiv": "LUT sites",
    "lut4": "LUT4",
    "carry": "carry cells",
    "logic_cells": "logic cells (P&R)",
    "ff_unit": "FF (unit)",
    "ff": "FF (with I/O registers)",
    "dsp": "DSP",
    "bram": "BRAM",
    "fmax_mhz": "Fmax (MHz)",
    "throughput_mops": "throughput (Mop/s)",
    "throughput_per_klut": "throughput per 1k LUT sites (Mop/s)",
    "layer_cycles": "cycles of a 64×256×64 layer",
    "critical_path_ns": "critical path (ns)",
    "freq_target_mhz": "P&R goal (MHz)",
}

#: what a LUT site is, per FPGA family (plot axes)
_SITES = {"ecp5": "LUT sites on ECP5 (LUT4 + 2 × CCU2C)",
          "ice40": "LUT sites on iCE40 (SB_LUT4; SB_CARRY shares their cells)"}
_FAMILY_NAMES = {"ecp5": "ECP5", "ice40": "iCE40"}
_MARKERS = {"dsp": "o", "nodsp": "s", "nodsp-booth": "^"}
_COLORS = ("#1f77b4", "#d95f02", "#2ca02c", "#7570b3", "#e7298a", "#66a61e", "#a6761d")
#: one colour per unit in the accuracy charts, the same in every report
_UNIT_COLORS = {"fpmul": _COLORS[0], "lmul": _COLORS[1], "dot": _COLORS[2]}


def _unit_color(unit, units):
    if unit in _UNIT_COLORS:
        return _UNIT_COLORS[unit]
    others = [u for u in units if u not in _UNIT_COLORS]
    return _COLORS[3 + others.index(unit) % (len(_COLORS) - 3)]


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


def _params(result):
    """Every parameter of a result, defaults filled in (``params_full``; results cached
    before it existed have only the parameters as written)."""
    return result.get("params_full") or result.get("params", {})


def _field(result, name):
    if name.startswith("params."):
        return _params(result).get(name.split(".", 1)[1])
    if name == "params":
        return json.dumps(result.get("params", {}), sort_keys=True)
    return result.get(name)


def _selected(result, selector):
    for key, want in selector.items():
        if key == "params":
            params = _params(result)
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


@functools.lru_cache(maxsize=None)
def _unit_defaults(unit):
    try:
        import hdl
        from hdl import protocol
        return protocol.defaults(hdl.unit_class(unit))
    except (ImportError, TypeError, ValueError):   # unknown unit: explicit parameters only
        return {}


def _value_matches(have, want):
    if want is None:
        return have is None
    return have is not None and (have == want or str(have) == str(want))


def select_rows(rows, select):
    """The successful `rows` that `select` picks (a study chart point's ``select``).

    Like a ``[[compare]]`` side, but a parameter the row leaves out takes the unit's default
    (so ``{"special_values": true}`` also picks ``lmul(fmt=bf16)``), and null means
    "absent or null"."""
    picked = []
    for row in rows:
        if row["status"] != "ok":
            continue
        if any(key != "params" and row.get(key) != want for key, want in select.items()):
            continue
        params = row.get("params", {})
        want = select.get("params", {})
        defaults = _unit_defaults(row["unit"]) if any(k not in params for k in want) else {}
        if all(_value_matches(params[k] if k in params else defaults.get(k), v)
               for k, v in want.items()):
            picked.append(row)
    return picked


def relevant_studies(studies, rows, units=()):
    """The `studies` about a unit that `rows` contain or `units` names (the design set's
    units); studies without ``about``: all."""
    units = {row["unit"] for row in rows} | set(units)
    return [s for s in studies if not s.get("about") or units & set(s["about"])]


# --- formatting ------------------------------------------------------------------------------

def _num(value, digits=0):
    if value is None:
        return "—"
    if digits or isinstance(value, float):
        return f"{float(value):,.{digits}f}"
    return f"{value:,}"


def _value_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return "+".join(_value_text(v) for v in value)
    return str(value)


def params_text(params, keys=None):
    """``fmt=bf16, stages=4``: a parameter set as people write it (never dict text)."""
    keys = list(params) if keys is None else keys
    return ", ".join(f"{k}={_value_text(params.get(k))}" for k in keys) or "defaults"


def selector_text(selector):
    """A ``[[compare]]`` side as text: ``lmul, stages=0, special_values=true``."""
    parts = []
    if "unit" in selector:
        parts.append(str(selector["unit"]))
    parts += [f"{k}={_value_text(v)}" for k, v in selector.items() if k not in ("unit", "params")]
    if selector.get("params"):
        parts.append(params_text(selector["params"]))
    return ", ".join(parts) or "every result"


def _match_text(match):
    names = [m.split(".", 1)[1] if m.startswith("params.") else
             ("all parameters" if m == "params" else m) for m in match]
    if not names:
        return "nothing"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _params_label(result):
    if result.get("reference"):                 # not a unit of this project: name it
        return f"{result['unit']} ({params_text(result.get('params', {}))})"
    return params_text(result.get("params", {}))


def md_text(text):
    """Free text (messages, names from results) made safe for Markdown."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*\[\]])", r"\\\1", text)


def table_columns(layer=False):
    """Column headers of the per-family table; `layer`: with the MAC arrays' cycles of the
    reference layer (`fpga.flow.REFERENCE_LAYER`)."""
    return ["parameters", "target", "variant"] + [COLUMNS[f] for f in (
        "lut4_equiv", "lut4", "carry", "ff_unit", "ff", "dsp", "bram", "fmax_mhz",
        "throughput_mops", "throughput_per_klut") + ("layer_cycles",) * layer
        + ("freq_target_mhz",)] + ["status"]


def row_cells(row, layer=False):
    """The per-family table cells of one aggregated row (strings), matching
    ``table_columns(layer)``."""
    fmax = _num(row.get("fmax_mhz"), 1)
    if len(row.get("seeds", [])) > 1 and row.get("fmax_best_mhz"):
        fmax = f"{fmax} (best {row['fmax_best_mhz']:.1f}, {row['seeds_ok']} seeds)"
    ok = row["status"] == "ok"
    goal = row.get("freq_target_mhz")
    goal = "—" if not goal else f"{goal:g}" + (" (reached)" if ok and row.get("timing_met")
                                                else "")

    def count(name):
        return _num(row.get(name)) if ok else "—"

    status = row["status"]
    if row.get("reference"):
        status = f"reference: {row['reference']}"
    return [_params_label(row), row["target"], row["variant"],
            count("lut4_equiv"), count("lut4"), count("carry"), count("ff_unit"), count("ff"),
            count("dsp"), count("bram"), fmax, _num(row.get("throughput_mops"), 1),
            _num(row.get("throughput_per_klut"), 1)] + [_num(row.get("layer_cycles"))] * layer + [
            goal, md_text(status) if row.get("reference") else status]


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "family"


def _rel(path, out_dir):
    return os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())


def _varying_keys(family_rows):
    keys = list(dict.fromkeys(k for r in family_rows for k in r.get("params", {})))
    varying = [k for k in keys
               if len({json.dumps(r["params"].get(k)) for r in family_rows}) > 1]
    return varying or keys


def _varying_label(row, family_rows):
    """The parameters that differ within the family (all of them if none differ); format
    parameters by their value alone."""
    params = row.get("params", {})
    return ", ".join(_value_text(params.get(k)) if k.endswith("fmt") else
                     f"{k}={_value_text(params.get(k))}" for k in _varying_keys(family_rows))


# --- plots -----------------------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    return pyplot


def _panels(pyplot, count, title, labels=0):
    """A figure of `count` panels side by side, taller when a panel has many labels."""
    height = 5.2 + 0.16 * max(0, labels - 10)
    width = (6.4 * count if count > 1 else 8) + (1.5 if labels > 14 else 0)
    figure, axes = pyplot.subplots(1, count, figsize=(width, min(height, 11)),
                                   dpi=110, squeeze=False)
    figure.suptitle(title, fontsize=11)
    return figure, list(axes[0])


def _limits(axes, xs, ys, xlog=True, ylog=False):
    """Axis limits with room around the points for labels."""
    if not xs:
        return
    lo, hi = min(xs), max(xs)
    if xlog:
        span = max(hi / lo, 1.5)
        axes.set_xscale("log")
        _log_axis(axes.xaxis)
        axes.set_xlim(lo / span ** 0.18, hi * span ** 0.35)
    else:
        pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1
        axes.set_xlim(lo - pad, hi + 2 * pad)
    lo, hi = min(ys), max(ys)
    if ylog:
        span = max(hi / lo, 1.5)
        axes.set_yscale("log")
        _log_axis(axes.yaxis)
        axes.set_ylim(lo / span ** 0.15, hi * span ** 0.15)
    else:
        pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1
        axes.set_ylim(lo - pad, hi + pad)


def _finish(figure, axes_list, legend_handles, path):
    """Lay out panels and a legend below them, place every panel's labels, save."""
    legend = None
    if legend_handles:
        handles, labels = zip(*legend_handles)
        legend = figure.legend(handles, labels, loc="lower center", fontsize=8, frameon=False,
                               ncol=min(len(handles), 3 if len(axes_list) == 1 else 4))
    figure.canvas.draw()
    bottom = 0.04
    if legend is not None:
        renderer = figure.canvas.get_renderer()
        bottom = legend.get_window_extent(renderer).height / figure.bbox.height + 0.03
    figure.tight_layout(rect=(0, bottom, 1, 0.95))
    figure.canvas.draw()
    summary = []
    for axes in axes_list:
        boxes = _place_labels(figure, axes, getattr(axes, "_nnrtl_labels", []))
        frame = axes.get_window_extent(figure.canvas.get_renderer())
        summary.append({"title": axes.get_title(), "xlabel": axes.get_xlabel(),
                        "ylabel": axes.get_ylabel(), "frame": tuple(frame.extents),
                        "labels": [(text, tuple(box.extents)) for text, box in boxes],
                        "arrows": getattr(axes, "_nnrtl_arrows", 0)})
    figure.savefig(path)
    _pyplot().close(figure)
    return {"size": (figure.bbox.width, figure.bbox.height), "panels": summary}


def _overlap(a, b):
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


# Offsets (points) and alignments tried in turn for a label: beside the point first, then
# further out with a leader line.
_DIRECTIONS = [(1, 0.35, "left", "bottom"), (1, -0.35, "left", "top"),
               (-1, 0.35, "right", "bottom"), (-1, -0.35, "right", "top"),
               (0, 1, "center", "bottom"), (0, -1, "center", "top")]
_RADII = (5, 14, 26, 40, 58, 80)


def _place_labels(figure, axes, labels):
    """Place `labels` ((x, y, text) in data coordinates) so that none overlaps another, a
    marker, or leaves the panel: greedy, each label at the first free candidate position
    around its point (nearest first); a label moved away from its point gets a leader line;
    where no position is free, the one with the least overlap."""
    from matplotlib.transforms import Bbox
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    to_px = axes.transData.transform
    scale = figure.dpi / 72
    markers = []
    for x, y, _ in labels:
        px, py = to_px((x, y))
        markers.append(Bbox([[px - 5 * scale, py - 5 * scale], [px + 5 * scale, py + 5 * scale]]))
    placed, out = [], []
    for x, y, text in labels:
        best = None
        for radius in _RADII:
            for dx, dy, ha, va in _DIRECTIONS:
                offset = (dx * radius, dy * radius if dx == 0 else dy * radius * 0.6)
                note = axes.annotate(text, (x, y), xytext=offset, textcoords="offset points",
                                     ha=ha, va=va, fontsize=7)
                box = note.get_window_extent(renderer).padded(1.5)
                cost = sum(_overlap(box, other) for other in placed + markers)
                outside = (box.width * box.height - _overlap(box, frame))
                cost += 10 * outside
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, note, box, radius)
                else:
                    note.remove()
                if cost == 0:
                    break
            if best[0] == 0:
                break
        cost, note, box, radius = best
        if radius > _RADII[0]:
            note.remove()
            note = axes.annotate(text, (x, y), xytext=note.xyann, textcoords="offset points",
                                 ha=note.get_horizontalalignment(),
                                 va=note.get_verticalalignment(), fontsize=7,
                                 arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6,
                                             "shrinkA": 1, "shrinkB": 3})
        placed.append(box)
        out.append((text, box))
    return out


def _add_label(axes, x, y, text):
    if not hasattr(axes, "_nnrtl_labels"):
        axes._nnrtl_labels = []
    axes._nnrtl_labels.append((x, y, text))


def _merge_labels(items):
    """(x, y, text) items → one label per point: points that coincide (e.g. a unit without
    a multiplier built with and without DSP blocks) share one label; equal texts once."""
    merged = {}
    for x, y, text in items:
        key = (round(math.log10(x), 3) if x > 0 else x, round(y, 2))
        entry = merged.setdefault(key, [x, y, []])
        if text not in entry[2]:
            entry[2].append(text)
    return [(x, y, _combine(texts)) for x, y, texts in merged.values()]


def _combine(texts):
    """One label for several: ``["bf16, dsp", "bf16, nodsp"]`` → ``"bf16, dsp/nodsp"``
    (fields that differ joined by "/"), or the texts joined by " / " if their fields do not
    line up."""
    if len(texts) == 1:
        return texts[0]
    fields = [t.split(", ") for t in texts]
    if len({len(f) for f in fields}) != 1:
        return " / ".join(texts)
    return ", ".join("/".join(dict.fromkeys(column)) for column in zip(*fields))


def _log_axis(axis):
    """Plain numbers on a log axis (100, 200, 500), not 2 × 10^2."""
    from matplotlib import ticker
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _plottable(row, metric="fmax_mhz"):
    return row["status"] == "ok" and row.get(metric) and row.get("lut4_equiv")


def _fpga_families(rows):
    return list(dict.fromkeys(r.get("family") or "ecp5" for r in rows))


_PLOT_METRICS = {"fmax_mhz": ("Fmax", "Fmax (MHz, median over seeds)"),
                 "throughput_mops": ("throughput", "throughput (Mop/s = ops per cycle × "
                                                   "median Fmax)")}


def _plot(family, family_rows, path, metric="fmax_mhz"):
    """LUT sites against `metric` (Fmax or throughput), one panel per FPGA family."""
    pyplot = _pyplot()
    ok = [r for r in family_rows if _plottable(r, metric)]
    fpga = _fpga_families(ok) or ["ecp5"]
    most = max((len({(r["lut4_equiv"], r[metric]) for r in ok
                     if (r.get("family") or "ecp5") == fam}) for fam in fpga), default=0)
    what, axis = _PLOT_METRICS[metric]
    figure, axes_list = _panels(pyplot, len(fpga), f"{family}: area against {what}", most)
    handles = {}
    targets = list(dict.fromkeys(r["target"] for r in ok))
    for axes, fam in zip(axes_list, fpga):
        rows = [r for r in ok if (r.get("family") or "ecp5") == fam]
        if not rows:
            axes.text(0.5, 0.5, "no successful runs", ha="center", va="center",
                      transform=axes.transAxes)
        labels = []
        for variant in dict.fromkeys(r["variant"] for r in rows):
            for tgt in dict.fromkeys(r["target"] for r in rows):
                points = [r for r in rows if r["variant"] == variant and r["target"] == tgt]
                if not points:
                    continue
                color = _COLORS[targets.index(tgt) % len(_COLORS)]
                handle = axes.scatter([r["lut4_equiv"] for r in points],
                                      [r[metric] for r in points],
                                      marker=_MARKERS.get(variant, "x"), s=46,
                                      facecolors="none", edgecolors=color, linewidths=1.4)
                handles.setdefault(f"{variant}, {tgt}", handle)
                for r in points:
                    text = _varying_label(r, family_rows)
                    if r.get("dsp"):
                        text += f" +{r['dsp']} DSP"
                    labels.append((r["lut4_equiv"], r[metric], text))
        for label in _merge_labels(labels):
            _add_label(axes, *label)
        _limits(axes, [r["lut4_equiv"] for r in rows], [r[metric] for r in rows])
        axes.set_xlabel(f"{_SITES.get(fam, 'LUT sites')}, log scale", fontsize=9)
        axes.set_ylabel(axis, fontsize=9)
        axes.set_title(_FAMILY_NAMES.get(fam, fam), fontsize=10)
        axes.grid(True, which="both", alpha=0.3)
    return _finish(figure, axes_list, [(h, name) for name, h in handles.items()], path)


def _compare_plot(compare, pairs, path):
    """Both sides of a comparison on one chart: LUT sites against Fmax, an arrow from each
    B result to the A result it is paired with."""
    pyplot = _pyplot()
    pairs = [p for p in pairs if _plottable(p["a"]) and _plottable(p["b"])]
    fpga = _fpga_families([p["a"] for p in pairs]) or ["ecp5"]
    most = max((sum((p["a"].get("family") or "ecp5") == fam for p in pairs) for fam in fpga),
               default=0)
    figure, axes_list = _panels(pyplot, len(fpga), f"{compare.title}", most)
    handles = {}
    for axes, fam in zip(axes_list, fpga):
        mine = [p for p in pairs if (p["a"].get("family") or "ecp5") == fam]
        varying = [m for m in compare.match
                   if len({json.dumps(_field(p["a"], m)) for p in mine}) > 1]
        if not mine:
            axes.text(0.5, 0.5, "no pairs of successful results", ha="center",
                      va="center", transform=axes.transAxes)
        labels = []
        for pair in mine:
            a, b = pair["a"], pair["b"]
            axes.annotate("", (a["lut4_equiv"], a["fmax_mhz"]),
                          xytext=(b["lut4_equiv"], b["fmax_mhz"]),
                          arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 0.9,
                                      "shrinkA": 4, "shrinkB": 4})
            axes._nnrtl_arrows = getattr(axes, "_nnrtl_arrows", 0) + 1
            marker = _MARKERS.get(a["variant"], "x")
            ha = axes.scatter([a["lut4_equiv"]], [a["fmax_mhz"]], marker=marker, s=50,
                              color=_COLORS[1], zorder=3)
            hb = axes.scatter([b["lut4_equiv"]], [b["fmax_mhz"]], marker=marker, s=50,
                              facecolors="none", edgecolors=_COLORS[0], linewidths=1.4,
                              zorder=3)
            handles.setdefault("A: " + selector_text(compare.a), ha)
            handles.setdefault("B: " + selector_text(compare.b), hb)
            text = ", ".join(_value_text(_field(a, m)) for m in varying) or a["variant"]
            labels.append((a["lut4_equiv"], a["fmax_mhz"], text))
        for label in _merge_labels(labels):
            _add_label(axes, *label)
        xs = [p[s]["lut4_equiv"] for p in mine for s in "ab"]
        ys = [p[s]["fmax_mhz"] for p in mine for s in "ab"]
        _limits(axes, xs, ys)
        axes.set_xlabel(f"{_SITES.get(fam, 'LUT sites')}, log scale", fontsize=9)
        axes.set_ylabel("Fmax (MHz, median over seeds)", fontsize=9)
        axes.set_title(_FAMILY_NAMES.get(fam, fam) + "; arrows from B to A, markers: "
                       + ", ".join(f"{v} {_MARKER_NAMES.get(_MARKERS.get(v), '×')}"
                                   for v in dict.fromkeys(p["a"]["variant"] for p in mine)),
                       fontsize=9)
        axes.grid(True, which="both", alpha=0.3)
    return _finish(figure, axes_list, [(h, name) for name, h in handles.items()], path)


_MARKER_NAMES = {"o": "●", "s": "■", "^": "▲"}


def _config_text(row, select):
    """What distinguishes a row beyond its selection: unit and its other parameters."""
    params = row.get("params", {})
    keys = [k for k in params if k not in select.get("params", {})]
    return row["unit"] + (", " + params_text(params, keys) if keys else "")


def accuracy_points(chart, rows):
    """The chart's points with the rows that compute them: ``[(point, [rows])]``, points
    without a row left out."""
    out = []
    for point in chart.get("points", []):
        picked = [r for r in select_rows(rows, point["select"]) if r.get("lut4_equiv")]
        value = point.get("value")
        if picked and value is not None and not (chart.get("log") and value <= 0):
            out.append((point, picked))           # (a log axis cannot show 0)
    return out


def pareto_front(points, better="lower"):
    """The points ``(area, value)`` that no other point beats: none has at most its area
    and a better value (`better`: ``"lower"`` or ``"higher"``). Sorted by area."""
    sign = 1 if better == "lower" else -1
    front, best = [], None
    for x, y in sorted(set(points), key=lambda p: (p[0], sign * p[1])):
        if best is None or sign * y < best:
            front.append((x, y))
            best = sign * y
    return front


def _accuracy_plot(study, chart, matched, path):
    """Accuracy (or error) against LUT sites: one panel per FPGA family and variant, one
    point per study point and configuration of the hardware that computes it; points of one
    arithmetic share a colour, a configuration (unit and its other parameters) a marker."""
    pyplot = _pyplot()
    rows = [r for _, picked in matched for r in picked]
    panels = list(dict.fromkeys(((r.get("family") or "ecp5"), r["variant"]) for r in rows))
    figure, axes_list = _panels(pyplot, len(panels), f"{study['title']}: {chart['title']}",
                                len(matched))
    configs = list(dict.fromkeys(_config_text(r, p["select"]) for p, picked in matched
                                 for r in picked))
    units = list(dict.fromkeys(r["unit"] for r in rows))
    shapes = ("o", "s", "^", "D", "v", "P", "X")
    handles = {}
    for axes, (fam, variant) in zip(axes_list, panels):
        xs, ys, labels = [], [], []
        for point, picked in matched:
            mine = sorted((r for r in picked if (r.get("family") or "ecp5") == fam
                           and r["variant"] == variant), key=lambda r: r["lut4_equiv"])
            if not mine:
                continue
            color = _unit_color(mine[0]["unit"], units)
            value = point["value"]
            if len(mine) > 1:
                axes.plot([r["lut4_equiv"] for r in mine], [value] * len(mine), color=color,
                          lw=0.7, alpha=0.6)
            for r in mine:
                config = _config_text(r, point["select"])
                handle = axes.scatter([r["lut4_equiv"]], [value], color=color, s=44,
                                      marker=shapes[configs.index(config) % len(shapes)],
                                      zorder=3)
                handles.setdefault(config, handle)
                xs.append(r["lut4_equiv"])
                ys.append(value)
            labels.append((mine[0]["lut4_equiv"], value, point["label"]))
        if chart.get("front") and xs:
            front = pareto_front(list(zip(xs, ys)), chart.get("better", "lower"))
            handle, = axes.step([x for x, _ in front], [y for _, y in front], where="post",
                                color="#444", lw=1.0, ls="--", zorder=2)
            axes.scatter([x for x, _ in front], [y for _, y in front], s=130,
                         facecolors="none", edgecolors="#444", lw=1.1, zorder=4)
            handles.setdefault("Pareto front (fewest LUTs for the error)", handle)
        for label in _merge_labels(labels):
            _add_label(axes, *label)
        _limits(axes, xs, ys, ylog=bool(chart.get("log")))
        axes.set_xlabel(f"{_SITES.get(fam, 'LUT sites')}, log scale", fontsize=9)
        better = chart.get("better")
        axes.set_ylabel(chart["metric"] + (f" ({better} is better)" if better else ""),
                        fontsize=9)
        axes.set_title(f"{_FAMILY_NAMES.get(fam, fam)}, variant {variant}", fontsize=10)
        axes.grid(True, which="both", alpha=0.3)
    return _finish(figure, axes_list, [(h, name) for name, h in handles.items()], path)


# --- writers ---------------------------------------------------------------------------------

_CSS = """body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
table{border-collapse:collapse;margin:1em 0;font-size:88%;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f0f0f0}
img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 2px}
td:nth-child(2),td:nth-child(3){white-space:nowrap}
details{margin:0.5em 0 1em}summary{cursor:pointer;color:#345}
details li code{font-size:85%}"""


def render_html(markdown_text, title):
    """The static HTML page of a report's Markdown (rendered by the ``markdown`` library)."""
    try:
        import markdown
    except ImportError:
        raise RuntimeError("the HTML report needs the 'markdown' package (pyproject.toml): "
                           ".venv/bin/python -m pip install markdown==3.11.3") from None
    body = markdown.markdown(markdown_text, extensions=["tables", "md_in_html", "sane_lists"],
                             output_format="html")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def _tools(rows):
    """``{name: line}``: every tool that made the rows, nextpnr per FPGA family."""
    seen = {}
    for row in rows:
        for role, line in (row.get("tools") or {}).items():
            name = role
            if role == "nextpnr":
                match = re.search(r"nextpnr-(ecp5|ice40)", line or "")
                name = f"nextpnr-{match.group(1) if match else row.get('family', '?')}"
            version = parse.short_version(line).split(" ", 1)[-1]
            seen.setdefault(f"{name} {version}", line)
    return dict(sorted(seen.items()))


def _link(text, target):
    return f"[{text}]({target.replace(' ', '%20')})"


def write_report(entries, out_dir=DEFAULT_OUT, *, compares=(), title="nnrtl FPGA report",
                 source=None, notes=(), studies=(), units=(), references=()):
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
        Extra lines for the header (Markdown, e.g. wall time).
    studies : sequence of dict
        Studies (see `fpga.studies`); those about a unit of `entries` or of `units` are
        appended after the comparisons, each with its accuracy-against-area charts (drawn
        where at least two of a chart's points have results).
    units : sequence of str
        The unit names of the design set (so that its studies are included even before
        any of its results exist).
    references : list of (family, result dict)
        Figures from elsewhere (`fpga.designs.reference_results`): a row each in their
        family's table, marked with their source, and a side of comparisons.

    Returns
    -------
    dict with the paths written: ``markdown``, ``html``, ``json``, ``plots`` (every PNG);
    ``comparisons``, the Markdown of the comparison tables alone, without charts (for a
    README); ``tables``, the same of the per-family tables;
    ``studies``, the names of the studies included; ``figures``, per PNG name what was
    drawn (``size`` in pixels, and per panel its ``title``, ``xlabel``, ``ylabel``,
    ``frame`` and ``labels`` as (text, (x0, y0, x1, y1)) in pixels, ``arrows``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in ("*-area-fmax.png", "compare-*.png", "accuracy-*.png"):
        for old in out_dir.glob(pattern):
            old.unlink()
    rows = aggregate(list(entries) + list(references))
    families = list(dict.fromkeys(row["section"] for row in rows))
    tools = _tools(rows)
    contexts = sorted({row.get("context") for row in rows if row.get("context")})
    seeds = sorted({s for row in rows for s in row.get("seeds", [])})
    goals = sorted({row["freq_target_mhz"] for row in rows if row.get("freq_target_mhz")})

    md = [f"# {md_text(title)}", ""]
    header = []
    if source:
        header.append(f"Design set: `{source}`.")
    measured = [row for row in rows if not row.get("reference")]
    header.append(f"{len(entries)} runs, {len(measured)} configurations"
                  + (f" and {len(rows) - len(measured)} reference rows (figures from "
                     "elsewhere, marked with their source)" if len(measured) < len(rows)
                     else "") + "; tools: "
                  f"{', '.join(tools) or '—'}; placement seeds: "
                  f"{', '.join(map(str, seeds)) or '—'}.")
    header.append(
        "Method: every unit sits between input and output registers (one per port bit, so "
        "combinational units get an Fmax too); placement is "
        f"{' / '.join(contexts) or '—'} (ECP5: nextpnr `--out-of-context`; iCE40: inputs "
        "through one scan chain, outputs kept); nextpnr gets a seed and `--freq`, the "
        "frequency placement aims for (column *P&R goal*: "
        f"{', '.join(f'{g:g}' for g in goals) or '—'} MHz; *reached* where Fmax is at or "
        "above it).")
    header.append(
        "Columns: *LUT sites* = LUT4 cells + 2 per CCU2C carry cell on ECP5 (a CCU2C takes "
        "two LUT4 sites), SB_LUT4 cells on iCE40 (an SB_CARRY shares a cell with a LUT); "
        "*LUT4* = LUT4 cells alone (the `lut4` field of the results; *LUT sites* is "
        "`lut4_equiv`); *carry cells* = CCU2C (2 bits each) or SB_CARRY (1 bit); "
        "*FF (unit)* = all flip-flops minus the wrapper's I/O registers; *Fmax* = median over "
        "seeds; *throughput* = operations per cycle × Fmax.")
    header += list(notes)
    for line in header:
        md += [line, ""]

    plots, figures, tables = [], {}, []
    for family in families:
        family_rows = [r for r in rows if r["section"] == family]
        md += [f"## {md_text(family)}", ""]
        cells = []
        layer = any(r.get("layer_cycles") for r in family_rows)
        for row in family_rows:
            line = row_cells(row, layer)
            cache_root = Path(row.get("run_dir", "")).parent.parent
            result_file = cache_root / "results" / f"{row.get('key')}.json"
            if row.get("run_dir") and result_file.exists():
                line[0] = _link(line[0], _rel(result_file, out_dir))
            log = (row.get("logs") or {}).get("nextpnr")
            if log and Path(log).exists():
                line[-1] = _link(line[-1], _rel(log, out_dir))
            cells.append(line)
        table = study_files.md_table(table_columns(layer), cells,
                                     "lll" + "r" * (11 + layer) + "l")
        md += [table, ""]
        tables += [f"#### {md_text(family)}", "", table, ""]
        critical = [(row, row.get("critical_path")) for row in family_rows
                    if row.get("critical_path")]
        if critical:
            md += ['<details markdown="1">',
                   f"<summary>Critical paths ({len(critical)} configurations)</summary>", ""]
            for row, path in critical:
                md.append(f"- {md_text(_params_label(row))}, {row['target']}, "
                          f"{row['variant']}: `{path.replace('`', '')}`")
            md += ["", "</details>", ""]
        plot = out_dir / f"{_slug(family)}-area-fmax.png"
        figures[plot.name] = _plot(family, family_rows, plot)
        plots.append(plot)
        md += [f"![{md_text(family)}: area against Fmax]({plot.name})", ""]
    arrays = [r for r in rows if r.get("layer_cycles")]
    if arrays:                                  # (MAC arrays: every family side by side)
        plot = out_dir / "arrays-area-throughput.png"
        figures[plot.name] = _plot("MAC arrays", arrays, plot, metric="throughput_mops")
        plots.append(plot)
        md += ["## MAC arrays side by side", "",
               f"![MAC arrays: area against throughput]({plot.name})", ""]

    compare_start = len(md)
    for number, compare in enumerate(compares, 1):
        pairs = compare_rows(rows, compare)
        md += [f"## Comparison: {md_text(compare.title)}", ""]
        md += [f"A = {md_text(selector_text(compare.a))}; B = "
               f"{md_text(selector_text(compare.b))}; paired where "
               f"{md_text(_match_text(compare.match))} are equal; each cell is A / B.", ""]
        if not pairs:
            md += ["(no pairs of successful results)", ""]
            continue
        headers = ["A", "B"] + [f"{COLUMNS.get(m, m)} A/B" for m in compare.metrics]
        cells = []
        for pair in pairs:
            a, b = pair["a"], pair["b"]
            cells.append([f"{_params_label(a)}; {a['target']}, {a['variant']}",
                          f"{_params_label(b)}; {b['target']}, {b['variant']}"] +
                         [_ratio(pair["ratios"][m], a.get(m), b.get(m))
                          for m in compare.metrics])
        md += [study_files.md_table(headers, cells, "ll" + "r" * len(compare.metrics)), ""]
        plot = out_dir / f"compare-{number}-{_slug(compare.title)}.png"
        figures[plot.name] = _compare_plot(compare, pairs, plot)
        plots.append(plot)
        md += [f"![{md_text(compare.title)}: LUT sites against Fmax, A and B paired]"
               f"({plot.name})", ""]
    # for a README: the tables without the charts (their PNGs live in out_dir)
    comparisons = re.sub(r"\n{3,}", "\n\n", "\n".join(
        line for line in md[compare_start:] if not line.startswith("![")))

    included = relevant_studies(studies, rows, units)
    for study in included:
        figure_md = []
        for number, chart in enumerate(study.get("charts", []), 1):
            matched = accuracy_points(chart, rows)
            if len(matched) < 2:
                continue
            plot = out_dir / f"accuracy-{_slug(study['name'])}-{number}.png"
            figures[plot.name] = _accuracy_plot(study, chart, matched, plot)
            plots.append(plot)
            figure_md.append(f"![{md_text(chart['title'])}: {md_text(chart['metric'])} "
                           f"against LUT sites]({plot.name})")
        md += [study_files.study_markdown(study, level=2, figures=figure_md)]

    failures = [row for row in rows if row["status"] != "ok"]
    if failures:
        md += ["## Failed runs", ""]
        for row in failures:
            md.append(f"- **{md_text(row['status'])}** ({md_text(_params_label(row))}, "
                      f"{row['target']}, {row['variant']}): {md_text(row.get('message', ''))}")
        md.append("")
    md += ["## Tools", ""] + [f"- {name}: `{line}`" for name, line in tools.items()] + [""]

    md_path = out_dir / "report.md"
    html_path = out_dir / "index.html"
    json_path = out_dir / "results.json"
    markdown_text = "\n".join(md)
    md_path.write_text(markdown_text)
    html_path.write_text(render_html(markdown_text, title))
    json_path.write_text(json.dumps(rows, indent=1, sort_keys=True, default=str) + "\n")
    return {"markdown": md_path, "html": html_path, "json": json_path, "plots": plots,
            "comparisons": comparisons, "tables": "\n".join(tables),
            "studies": [s["name"] for s in included],
            "figures": figures}


def _ratio(ratio, a, b):
    if ratio is None:
        return "—" if a is None or b is None else f"{_num(a)} / {_num(b)}"
    return f"{ratio:.2f}× ({_num(a, 1 if isinstance(a, float) else 0)} / " \
           f"{_num(b, 1 if isinstance(b, float) else 0)})"
