"""Parsers for what yosys and nextpnr write: ``stat -json``, ``--report`` JSON, and logs.

Every parser is defensive, because these formats move between releases:

- yosys ``stat -json`` changed in 0.57: per-type cell counts used to be plain integers; with
  ``-hierarchy`` (and in some releases by default) each count is an object of strings
  (``{"count": "36", "area": "0.000000", ...}``). `cell_counts` accepts both, reads the
  ``design`` section (or, failing that, sums the modules), accepts ``cells`` as an older
  name of ``num_cells_by_type``, and ignores text printed before the JSON;
- the nextpnr ``--report`` file holds ``fmax`` (per clock: ``achieved``, ``constraint``),
  ``utilization`` (per BEL type: ``used``, ``available``) and ``critical_paths``;
  `nextpnr_report` tolerates missing sections (no clock → no Fmax) and the British spelling.

The recorded outputs of the pinned tool versions are in tests/fixtures/fpga/.
"""

import json
import re

__all__ = ["ParseError", "cell_counts", "resources", "nextpnr_report", "critical_path_summary",
           "nextpnr_failure", "yosys_failure", "short_version"]


class ParseError(ValueError):
    """A tool output could not be understood."""


def _count(value):
    """A cell count from any of the shapes yosys has used: 3, "3", {"count": "3"}."""
    if isinstance(value, dict):
        value = value.get("count", value.get("local_count"))
    if isinstance(value, bool) or value is None:
        raise ParseError(f"not a cell count: {value!r}")
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ParseError(f"not a cell count: {value!r}") from None


def _load_json(text, what):
    if isinstance(text, (dict, list)):
        return text
    start = text.find("{")
    if start < 0:
        raise ParseError(f"{what}: no JSON object in the output")
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what}: invalid JSON ({exc})") from None


def _by_type(section):
    for key in ("num_cells_by_type", "cells"):
        if isinstance(section.get(key), dict):
            return {name: _count(value) for name, value in section[key].items()}
    return None


def cell_counts(stat):
    """``{cell type: count}`` of the whole design from yosys ``stat -json`` output.

    `stat` is the JSON text (or the parsed object). Yosys' own ``$scopeinfo`` bookkeeping
    cells are left out. Raises `ParseError` if no cell counts can be found.
    """
    data = _load_json(stat, "yosys stat -json")
    counts = None
    if isinstance(data.get("design"), dict):
        counts = _by_type(data["design"])
    if counts is None and isinstance(data.get("modules"), dict):
        # No design section (a single module, or an old release): add the modules up, and
        # leave out instances of the design's own modules, which are not cells.
        own = set(data["modules"]) | {name.lstrip("\\") for name in data["modules"]}
        for module in data["modules"].values():
            by_type = _by_type(module) if isinstance(module, dict) else None
            for name, value in (by_type or {}).items():
                if name not in own:
                    counts = counts or {}
                    counts[name] = counts.get(name, 0) + value
    if counts is None:
        raise ParseError("yosys stat -json: no 'num_cells_by_type' in 'design' or 'modules'")
    counts.pop("$scopeinfo", None)
    return {name: count for name, count in sorted(counts.items()) if count}


def resources(family, cells):
    """Summarize `cells` (from `cell_counts`) into the result's resource fields.

    Returns a dict with ``lut4`` (LUT4 cells), ``ff``, ``carry`` (CCU2C: two bits each, or
    SB_CARRY: one bit), ``dsp`` (MULT18X18D / SB_MAC16), ``bram`` (DP16KD + PDPW16KD /
    SB_RAM40_4K), ``lutram`` (TRELLIS_DPR16X4), ``spram`` (SB_SPRAM256KA), ``lut4_equiv``
    (LUT4 sites taken by logic: on ECP5 each CCU2C fills two LUT4 sites, on iCE40 SB_CARRY
    shares a logic cell with a LUT) and ``unmapped`` (generic ``$`` cells left by synthesis,
    which should be empty).
    """
    def total(predicate):
        return sum(count for name, count in cells.items() if predicate(name))

    if family == "ecp5":
        out = {"lut4": total(lambda n: n == "LUT4"),
               "ff": total(lambda n: n == "TRELLIS_FF" or n.startswith("FD1")),
               "carry": total(lambda n: n == "CCU2C"),
               "dsp": total(lambda n: n == "MULT18X18D"),
               "alu54": total(lambda n: n == "ALU54B"),
               "bram": total(lambda n: n in ("DP16KD", "PDPW16KD")),
               "lutram": total(lambda n: n == "TRELLIS_DPR16X4"),
               "spram": 0}
        out["lut4_equiv"] = out["lut4"] + 2 * out["carry"]
    elif family == "ice40":
        out = {"lut4": total(lambda n: n == "SB_LUT4"),
               "ff": total(lambda n: n.startswith("SB_DFF")),
               "carry": total(lambda n: n == "SB_CARRY"),
               "dsp": total(lambda n: n == "SB_MAC16"),
               "alu54": 0,
               "bram": total(lambda n: n.startswith("SB_RAM40")),
               "lutram": 0,
               "spram": total(lambda n: n == "SB_SPRAM256KA")}
        out["lut4_equiv"] = out["lut4"]
    else:
        raise ValueError(f"family must be 'ecp5' or 'ice40', not {family!r}")
    out["unmapped"] = sorted(name for name in cells if name.startswith("$"))
    return out


def _number(value):
    if isinstance(value, dict):
        value = value.get("achieved")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def nextpnr_report(report):
    """Fmax, clocks, utilization and the critical path from a nextpnr ``--report`` file.

    Returns a dict: ``fmax_mhz`` (the slowest clock's achieved frequency, None if the design
    has no clocked path), ``clock`` (its name), ``freq_target_mhz``, ``clocks`` (``{name:
    {"achieved": MHz, "constraint": MHz}}``), ``utilization`` (``{bel: {"used", "available"}}``,
    only used BEL types), ``logic_cells`` (TRELLIS_COMB / ICESTORM_LC used),
    ``critical_path`` (one-line summary) and ``critical_path_ns``.
    """
    data = _load_json(report, "nextpnr report")
    clocks = {}
    for name, entry in (data.get("fmax") or {}).items():
        achieved = _number(entry)
        if achieved is None:
            continue
        constraint = entry.get("constraint") if isinstance(entry, dict) else None
        clocks[name] = {"achieved": achieved,
                        "constraint": float(constraint) if constraint is not None else None}
    clock = min(clocks, key=lambda name: clocks[name]["achieved"]) if clocks else None
    utilization = {}
    for bel, entry in (data.get("utilization") or data.get("utilisation") or {}).items():
        if isinstance(entry, dict) and entry.get("used"):
            utilization[bel] = {"used": int(entry["used"]),
                                "available": int(entry.get("available", 0))}
    logic = None
    for bel in ("TRELLIS_COMB", "ICESTORM_LC", "TRELLIS_SLICE"):
        if bel in utilization:
            logic = utilization[bel]["used"]
            break
    path, path_ns = critical_path_summary(data.get("critical_paths") or [], clock)
    return {"fmax_mhz": clocks[clock]["achieved"] if clock else None,
            "clock": clock,
            "freq_target_mhz": clocks[clock]["constraint"] if clock else None,
            "clocks": clocks, "utilization": utilization, "logic_cells": logic,
            "critical_path": path, "critical_path_ns": path_ns}


def _endpoint(step, side):
    end = step.get(side) or {}
    cell = str(end.get("cell", "?"))
    if len(cell) > 48:
        cell = cell[:22] + "…" + cell[-25:]
    return f"{cell}.{end.get('port', '?')}"


def critical_path_summary(paths, clock=None):
    """One line describing the longest path of `paths` (nextpnr's ``critical_paths``).

    Prefers the path within `clock`; returns ``(summary, total_ns)`` or ``(None, None)``.
    Example: ``"6.57 ns, 1 logic level: a_TRELLIS_FF_Q_1.Q → o_TRELLIS_FF_Q_8.M
    (4.45 ns logic, 2.12 ns routing)"``.
    """
    best = None
    for path in paths:
        steps = path.get("path") or []
        if not steps:
            continue
        total = sum(float(step.get("delay", 0.0)) for step in steps)
        within = clock is not None and clock in str(path.get("from", "")) \
            and clock in str(path.get("to", ""))
        rank = (within, total)
        if best is None or rank > best[0]:
            best = (rank, total, steps)
    if best is None:
        return None, None
    _, total, steps = best
    logic = sum(float(s.get("delay", 0.0)) for s in steps if s.get("type") != "routing")
    routing = total - logic
    levels = sum(1 for s in steps if s.get("type") == "logic")
    plural = "" if levels == 1 else "s"
    summary = (f"{total:.2f} ns, {levels} logic level{plural}: {_endpoint(steps[0], 'from')} → "
               f"{_endpoint(steps[-1], 'to')} ({logic:.2f} ns logic, {routing:.2f} ns routing)")
    return summary, round(total, 3)


_UTIL_LINE = re.compile(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%")


def nextpnr_failure(log):
    """Classify a failed nextpnr run from its log: ``(status, message)``.

    Status ``"no-fit"`` (a BEL type over 100 % or no BEL left to place a cell),
    ``"no-route"`` (the router gave up) or ``"tool-error"`` (anything else).
    """
    over = []
    for bel, used, available, _ in _UTIL_LINE.findall(log):
        if int(used) > int(available):
            over.append(f"{bel} {used}/{available}")
    errors = [line.strip() for line in log.splitlines() if "ERROR" in line]
    first = errors[0] if errors else None
    if over or any("no BELs remaining" in e or "Unable to place" in e for e in errors):
        detail = ", ".join(dict.fromkeys(over)) or first
        return "no-fit", f"does not fit the device: {detail}"
    if any(re.search(r"(?i)route|routing", e) for e in errors):
        return "no-route", f"routing failed: {first}"
    return "tool-error", first or "nextpnr failed without an ERROR line"


def yosys_failure(log):
    """The first ERROR line of a yosys log (or a generic message)."""
    for line in log.splitlines():
        if line.startswith("ERROR") or " ERROR:" in line:
            return line.strip()
    return "yosys failed without an ERROR line"


def short_version(line):
    """``"Yosys 0.70 (git sha1 28ba3cb92, ...)"`` → ``"yosys 0.70"``; nextpnr alike."""
    if not line:
        return "?"
    match = re.search(r"Yosys ([\w.+-]+)", line)
    if match:
        return f"yosys {match.group(1)}"
    match = re.search(r"nextpnr-([\w.+-]+?)\)", line) or re.search(r"nextpnr-([\d][\w.+-]*)", line)
    if match:
        return f"nextpnr {match.group(1)}"
    return line.split()[0]
