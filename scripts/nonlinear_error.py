"""Error against cost of the nonlinear function units: every design of designs/nonlinear.toml.

Without --results: computes each design's maximum and mean absolute error against float64
over every input code (`golden.nonlinear.errors`) and writes the study
build/studies/nonlinear.json: one table per family, and one chart per family of the error
against the LUT sites of the runs that compute it, with the Pareto front marked (the report
of the design set draws it). With --results (the results.json of that report): joins the
errors with the FPGA rows and prints one table per family (error, LUT sites, DSP, block
RAM, Fmax for variants dsp and nodsp; ★ on the Pareto front of each variant, ☆ on the front
of the designs without block RAM), then checks both fronts against the 200 MHz target; --readme writes them into README.md (between the
`nonlinear` markers). Progress on stderr.

    .venv/bin/python scripts/nonlinear_error.py [--designs designs/nonlinear.toml]
    .venv/bin/python scripts/nonlinear_error.py --results build/report-nonlinear/results.json
                                                [--readme]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import _common
from fpga import designs, report, studies
from golden import nonlinear
from hdl import unit_class

NAME = "nonlinear"
TITLE = "Nonlinear function units: error against float64 and cost"
# Parameters that change the hardware but not the numbers.
HARDWARE_ONLY = ("stages", "multiplier", "table")
TARGET_MHZ = 200.0
VARIANTS = ("dsp", "nodsp")


def log(text):
    print(text, file=sys.stderr, flush=True)


def numeric(params):
    """The parameters that decide a unit's numbers (its golden spec)."""
    return {k: v for k, v in params.items() if k not in HARDWARE_ONLY}


def key(unit, params):
    return unit, json.dumps(numeric(params), sort_keys=True)


def label(unit, params):
    """``pwl, 16 segments``-style text for a design (its numeric parameters but formats)."""
    p = numeric(params)
    if unit in ("sigmoid", "silu"):
        text = p.get("method", "pwl")
        if p.get("segments"):
            text += f", {p['segments']} segments"
        return text
    if unit == "exp":
        base = "2^x" if str(p.get("base", "2")) == "2" else "e^x"
        return f"{base}, order {p.get('order', 1)}, {p.get('segments', 1)} segments"
    return f"{p.get('seed_bits', 4)}-bit seed, {p.get('steps', 1)} Newton steps"


def formats_text(params):
    return f"{params['in_fmt']} → {params['out_fmt']}"


def design_errors(design_set):
    """{key: (family, unit, params, errors)} for every distinct numeric design, in file
    order."""
    out = {}
    families = {}
    for design in design_set.designs:
        for params in design.instances:
            families.setdefault(key(design.unit, params), design.family)
    instances = designs.unit_instances(design_set)
    todo = [(u, p) for u, p in instances]
    for index, (unit, params) in enumerate(todo, 1):
        k = key(unit, params)
        if k in out:
            continue
        start = time.monotonic()
        built = unit_class(unit)(**_resolved(unit, params))
        built._MustUse__silence = True              # built for its spec, never elaborated
        spec = built.spec
        errors = nonlinear.errors(spec)
        out[k] = (families[k], unit, params, errors)
        log(f"[{index}/{len(todo)}] {unit} {label(unit, params)} ({formats_text(params)}): "
            f"max {errors['max']:.3g}, mean {errors['mean']:.3g} "
            f"({time.monotonic() - start:.1f} s)")
    return out


def _resolved(unit, params):
    from hdl import protocol
    return protocol.resolve(unit_class(unit), unit, params)


def write_study(errors):
    by_family = {}
    for family, unit, params, err in errors.values():
        by_family.setdefault(family, []).append((unit, params, err))
    tables, charts = [], []
    for family, items in by_family.items():
        tables.append({"caption": f"{family}: error against float64 over every input code",
                       "headers": ["unit", "design", "formats", "max error", "mean error"],
                       "rows": [[u, label(u, p), formats_text(p), f"{e['max']:.3g}",
                                 f"{e['mean']:.3g}"] for u, p, e in items]})
        charts.append({"title": family, "metric": "max abs error against float64",
                       "log": True, "better": "lower", "front": True,
                       "points": [{"label": label(u, p),
                                   "select": {"unit": u, "params": numeric(p)},
                                   "value": e["max"]} for u, p, e in items]})
    paragraphs = [
        "`scripts/nonlinear_error.py`: the maximum and mean absolute error of each design of "
        "`designs/nonlinear.toml` against float64 (`golden.nonlinear.errors`, every input "
        "code; exp over x ≤ 0, 1/√x over x > 0), bit-exact with the RTL (tb/test_nonlinear.py)."
        " The charts put each design's maximum error against the LUT sites of its runs; the "
        "dashed line joins the Pareto front (no design has fewer LUTs and a smaller error)."]
    path = studies.write_study(NAME, TITLE, paragraphs, tables,
                               about=["sigmoid", "silu", "exp", "rsqrt"], charts=charts)
    log(f"wrote {path}")


def _cost(row):
    if row is None:
        return ["—"] * 4
    bram = row.get("bram") or 0
    return [f"{row['lut4_equiv']:,}", str(row.get("dsp") or 0), str(bram),
            f"{row['fmax_mhz']:.0f}" if row.get("fmax_mhz") else "—"]


def study_families(errors):
    """The families in the order of the study's charts (chart n is the report's
    ``accuracy-nonlinear-<n>.png``)."""
    return list(dict.fromkeys(family for family, *_ in errors.values()))


def results_tables(errors, rows, figures=None):
    """(markdown text, summary lines): one table per family, error and cost per variant,
    each followed by its figure from `figures` (family -> image path) if given."""
    by_config = {}            # (family, key, table style) -> {variant: row}
    for row in rows:
        if row.get("status") != "ok" or row["unit"] not in ("sigmoid", "silu", "exp", "rsqrt"):
            continue
        k = key(row["unit"], row.get("params", {}))
        if k not in errors:
            continue
        style = row.get("params", {}).get("table", "auto")
        by_config.setdefault((errors[k][0], k, style), {})[row["variant"]] = row
    fronts = {}
    for (family, k, style), variants in by_config.items():
        for variant, row in variants.items():
            fronts.setdefault((family, variant), []).append(
                ((row["lut4_equiv"], errors[k][3]["max"]), row))
    on_front, on_lut_front = set(), set()
    summary = []
    for (family, variant), points in fronts.items():
        for marks, pool, what in (
                (on_front, points, "on the front"),
                (on_lut_front, [(p, r) for p, r in points if not r.get("bram")],
                 "on the front of the designs without block RAM")):
            front = set(report.pareto_front([p for p, _ in pool]))
            picked = [row for p, row in pool if p in front]
            marks.update(id(r) for r in picked)
            slow = [r for r in picked if (r.get("fmax_mhz") or 0) < TARGET_MHZ]
            summary.append(
                f"{family}, {variant}: {len(picked)} design{'' if len(picked) == 1 else 's'}"
                f" {what}, {len(picked) - len(slow)} at ≥ {TARGET_MHZ:.0f} MHz"
                + (" (below: " + "; ".join(
                    f"{label(r['unit'], r['params'])}"
                    f"{' (ROM in LUTs)' if r['params'].get('table') == 'logic' else ''}"
                    f" {r['fmax_mhz']:.0f} MHz" for r in slow) + ")" if slow else ""))
    md = []
    families = list(dict.fromkeys(f for f, _, _ in by_config))
    headers = ["design", "formats", "max error", "mean error"] + [
        f"{name} ({v})" for v in VARIANTS for name in ("LUT sites", "DSP", "BRAM", "MHz")]
    for family in families:
        lines = []
        for (fam, k, style), variants in by_config.items():
            if fam != family:
                continue
            _, unit, params, err = errors[k]
            cells = [label(unit, params) + (" (ROM in LUTs)" if style == "logic" else ""),
                     formats_text(params), f"{err['max']:.3g}", f"{err['mean']:.3g}"]
            for v in VARIANTS:
                row = variants.get(v)
                cost = _cost(row)
                if row is not None and id(row) in on_front:
                    cost[0] = "★ " + cost[0]
                elif row is not None and id(row) in on_lut_front:
                    cost[0] = "☆ " + cost[0]
                cells += cost
            lines.append(cells)
        md += [f"#### {family}", "", studies.md_table(headers, lines, "llrr" + "r" * 8), ""]
        if figures and family in figures:
            md += [f"![{family}: maximum error against LUT sites, Pareto front dashed]"
                   f"({figures[family]})", ""]
    return "\n".join(md), summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="designs/nonlinear.toml")
    parser.add_argument("--results", help="the report's results.json: join and tabulate")
    parser.add_argument("--readme", action="store_true", help="with --results: write the "
                        "tables into README.md between the nonlinear markers")
    args = parser.parse_args(argv)
    if args.readme and not args.results:
        parser.error("--readme needs --results")
    if args.readme:
        _common.check_readme_section(NAME)
    errors = design_errors(designs.load(args.designs))
    if not args.results:
        write_study(errors)
        return 0
    path = Path(args.results)
    if not path.exists():
        raise SystemExit(f"no results file {path}: run `make nonlinear-report` (or "
                         f"scripts/report.py --designs {args.designs}) first")
    figures = {}
    for number, family in enumerate(study_families(errors), 1):
        plot = path.parent / f"accuracy-{NAME}-{number}.png"
        if plot.exists():
            figures[family] = plot.resolve().relative_to(_common.ROOT).as_posix() \
                if plot.resolve().is_relative_to(_common.ROOT) else plot.as_posix()
    text, summary = results_tables(errors, json.loads(path.read_text()), figures)
    print(text)
    print("\n".join(summary))
    if args.readme:
        _common.write_readme_section(
            NAME, f"From `{args.designs}` ({time.strftime('%Y-%m-%d')}), ECP5-85F; MHz is "
            f"the median over the placement seeds each design runs with (see the design "
            f"set); ★: on the Pareto front of its variant (no design with fewer LUT sites "
            f"has a smaller maximum error); ☆: on the front of the designs without block "
            f"RAM only. The figures are the report's (build/report-nonlinear/, written by `make "
            f"nonlinear-report`).\n\n" + text + "\n" + "\n".join(f"- {s}" for s in summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
