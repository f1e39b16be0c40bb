"""Design sets: TOML files naming units, parameter grids, targets, variants and comparisons.

Example (``designs/default.toml`` is the set `make` builds)::

    title = "nnrtl default design set"

    [defaults]                    # apply to every [[design]] unless it overrides them
    targets = ["ecp5-85f"]        # fpga.targets names
    variants = ["dsp", "nodsp"]   # "dsp", "nodsp", "nodsp-booth"
    seeds = [1]                   # placement seeds; an integer N means seeds 1..N
    # freq_mhz = 200              # nextpnr --freq; default: the target's
    # timeout_s = 1800            # per run

    [[design]]
    unit = "fpmul"
    family = "Exact FP multipliers"          # report section; default: the unit name
    params = { fmt = ["fp8_e4m3", "bf16"], stages = 2 }   # lists are grid axes
    # params = [{ fmt = "bf16", stages = [0, 2] }, { fmt = "fp32", stages = 5 }]  # grids' union

    [[reference]]                 # figures measured by hand (another project's unit run
    name = "pacogen-positmul"     #   through this flow): a row of its family's table, and
    family = "Exact FP multipliers"   # a side of a [[compare]] (unit = the name)
    params = { n = 8, es = 1, stages = 0 }
    target = "ecp5-85f"
    variant = "nodsp"
    lut4 = 275                    # any of the result fields of METRICS
    fmax_mhz = 34.0
    source = "PACoGen, measured in this flow (its code is not in the project)"

    [[compare]]                   # ratio tables: results matching `a` against `b`
    title = "DSP blocks vs LUT-only"
    a = { variant = "dsp" }
    b = { variant = "nodsp" }
    # match = ["unit", "params", "target", "seed"]   # what must be equal to pair two results;
    #   default: unit, params, target, variant, seed, minus the keys `a` and `b` set.
    #   "params.fmt" matches a single parameter (e.g. L-Mul against the exact multiplier:
    #   a = { unit = "lmul" }, b = { unit = "fpmul" }, match = ["params.fmt", "target", ...]).
    metrics = ["lut4_equiv", "ff", "dsp", "fmax_mhz"]

A grid expands to the Cartesian product of its list-valued parameters (first key outermost).
`load` validates the whole file — keys, types, targets, variants, and every parameter
combination by constructing the unit — and raises `DesignError` (a `ValueError`) with one
line naming the file, the design and the bad value, before any tool runs.
"""

import dataclasses
import itertools
import operator
import tomllib
from pathlib import Path

from . import flow, targets

__all__ = ["DesignError", "Design", "Compare", "Reference", "DesignSet", "load", "parse",
           "unit_instances", "jobs", "reference_results", "METRICS", "MATCH_FIELDS"]

#: result fields a comparison may take ratios of
METRICS = ("lut4", "lut4_equiv", "logic_cells", "ff", "ff_unit", "carry", "dsp", "bram",
           "fmax_mhz", "throughput_mops", "throughput_per_klut", "critical_path_ns")
#: result fields that identify a run (a comparison pairs results equal in its `match` fields)
MATCH_FIELDS = ("unit", "params", "target", "variant", "seed")

_TOP_KEYS = {"title", "defaults", "design", "compare", "reference"}
_SETTINGS = {"targets", "variants", "seeds", "freq_mhz", "timeout_s"}
_DESIGN_KEYS = {"unit", "family", "params"} | _SETTINGS
_COMPARE_KEYS = {"title", "a", "b", "match", "metrics"}
_SELECTOR_KEYS = {"unit", "family", "target", "variant", "seed", "params"}
_REFERENCE_KEYS = {"name", "family", "params", "target", "variant", "source"} | set(METRICS)


class DesignError(ValueError):
    """A design-set file is invalid (the message names the file and the bad value)."""


@dataclasses.dataclass(frozen=True)
class Design:
    """One ``[[design]]`` entry, validated and expanded."""

    unit: str
    family: str
    instances: tuple        # (params dict, ...) in grid order
    targets: tuple
    variants: tuple
    seeds: tuple
    freq_mhz: object
    timeout_s: float


@dataclasses.dataclass(frozen=True)
class Compare:
    """One ``[[compare]]`` entry: ratio of results selected by `a` to those selected by `b`."""

    title: str
    a: dict
    b: dict
    match: tuple
    metrics: tuple


@dataclasses.dataclass(frozen=True)
class Reference:
    """One ``[[reference]]`` entry: figures of a unit that is not in this project (measured
    by hand in this flow, or quoted), reported beside the results of its family."""

    name: str
    family: str
    params: dict
    target: str
    variant: str
    source: str
    figures: dict           # METRICS field -> number


@dataclasses.dataclass(frozen=True)
class DesignSet:
    """A loaded design-set file."""

    path: str
    title: str
    designs: tuple
    compares: tuple
    references: tuple = ()


def _as_list(value):
    return list(value) if isinstance(value, list) else [value]


def _settings(raw, where, base):
    out = dict(base)
    if "targets" in raw:
        names = _as_list(raw["targets"])
        if not names:
            raise DesignError(f"{where}: targets must not be empty")
        try:
            out["targets"] = tuple(targets.target(name).name for name in names)
        except (TypeError, ValueError) as exc:
            raise DesignError(f"{where}: {exc}") from None
    if "variants" in raw:
        variants = _as_list(raw["variants"])
        bad = [v for v in variants if v not in targets.VARIANTS]
        if bad or not variants:
            raise DesignError(f"{where}: variants must be a list of {', '.join(targets.VARIANTS)}"
                              f", not {raw['variants']!r}")
        out["variants"] = tuple(variants)
    if "seeds" in raw:
        seeds = raw["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise DesignError(f"{where}: seeds must be a positive count or a list of "
                                  f"seeds, not {seeds!r}")
            seeds = list(range(1, seeds + 1))
        if not isinstance(seeds, list) or not seeds or any(
                isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2 ** 31
                for s in seeds):
            raise DesignError(f"{where}: seeds must be a list of integers in 0..2**31-1 or a "
                              f"count, not {raw['seeds']!r}")
        out["seeds"] = tuple(seeds)
    for name in ("freq_mhz", "timeout_s"):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise DesignError(f"{where}: {name} must be a positive number, not {value!r}")
            out[name] = float(value)
    return out


def _grid(params, where):
    if isinstance(params, list) and params:          # an array of tables: their grids, in turn
        return [p for index, table in enumerate(params)
                for p in _grid(table, f"{where}: params[{index}]")]
    if not isinstance(params, dict):
        raise DesignError(f"{where}: params must be a table or a non-empty array of tables, "
                          f"not {params!r}")
    axes = []
    for name, value in params.items():
        values = _as_list(value)
        if not values:
            raise DesignError(f"{where}: params.{name} is an empty list")
        axes.append([(name, v) for v in values])
    return [dict(combination) for combination in itertools.product(*axes)]


def _check_instance(unit, params, where):
    try:
        flow.build_unit(unit, params)
    except (TypeError, ValueError) as exc:
        raise DesignError(f"{where}: {exc}") from None


def _check_keys(raw, allowed, where):
    """DesignError naming the keys of table `raw` that are not in `allowed`."""
    unknown = set(raw) - allowed
    if unknown:
        raise DesignError(f"{where}: unknown keys {sorted(unknown)}; allowed: "
                          f"{', '.join(sorted(allowed))}")


def _selector(raw, where):
    if not isinstance(raw, dict):
        raise DesignError(f"{where}: must be a table such as {{ variant = \"dsp\" }}, "
                          f"not {raw!r}")
    _check_keys(raw, _SELECTOR_KEYS, where)
    if "params" in raw and not isinstance(raw["params"], dict):
        raise DesignError(f"{where}: params must be a table")
    return dict(raw)


def _compare(raw, where):
    if not isinstance(raw, dict):
        raise DesignError(f"{where}: must be a table")
    _check_keys(raw, _COMPARE_KEYS, where)
    for side in ("a", "b"):
        if side not in raw:
            raise DesignError(f"{where}: needs selectors 'a' and 'b'")
    a, b = _selector(raw["a"], f"{where}.a"), _selector(raw["b"], f"{where}.b")
    if "match" in raw:
        match = _as_list(raw["match"])
        for field in match:
            if not isinstance(field, str) or not (field in MATCH_FIELDS or
                                                  field.startswith("params.")):
                raise DesignError(f"{where}: match entries must be among "
                                  f"{', '.join(MATCH_FIELDS)} or 'params.<name>', "
                                  f"not {field!r}")
    else:
        chosen = set(a) | set(b)
        match = [f for f in MATCH_FIELDS if f not in chosen]
        if "params" in chosen:
            match = [f for f in match if f != "params"]
    metrics = _as_list(raw.get("metrics", ["lut4_equiv", "ff", "dsp", "fmax_mhz"]))
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise DesignError(f"{where}: metrics must be among {', '.join(METRICS)}, not {bad}")
    title = raw.get("title", f"{a} vs {b}")
    return Compare(title=str(title), a=a, b=b, match=tuple(match), metrics=tuple(metrics))


def _reference(raw, where):
    if not isinstance(raw, dict):
        raise DesignError(f"{where}: must be a table")
    _check_keys(raw, _REFERENCE_KEYS, where)
    for key in ("name", "family", "source", "target", "variant"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise DesignError(f"{where}: needs {key} = \"<text>\"")
    import hdl
    if raw["name"] in hdl.UNITS:
        raise DesignError(f"{where}: name {raw['name']!r} is a unit of this project; a "
                          f"reference names a unit from elsewhere")
    try:
        target = targets.target(raw["target"])
        targets.check_variant(raw["variant"], target)
    except (TypeError, ValueError) as exc:
        raise DesignError(f"{where}: {exc}") from None
    params = raw.get("params", {})
    if not isinstance(params, dict) or any(isinstance(v, (dict, list)) for v in params.values()):
        raise DesignError(f"{where}: params must be a table of single values")
    figures = {key: raw[key] for key in METRICS if key in raw}
    bad = [key for key, value in figures.items()
           if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0]
    if bad or not figures:
        raise DesignError(f"{where}: needs at least one figure among {', '.join(METRICS)}, "
                          f"each a non-negative number" + (f" (not {bad[0]} = "
                                                           f"{raw[bad[0]]!r})" if bad else ""))
    return Reference(name=raw["name"], family=raw["family"], params=dict(params),
                     target=target.name, variant=raw["variant"], source=raw["source"],
                     figures=figures)


def reference_results(design_set):
    """The `design_set`'s references as ``(family, result)`` pairs shaped like results
    (``status`` "ok", ``seed`` 0, ``reference`` = the source), for `fpga.report`."""
    out = []
    for ref in design_set.references:
        result = {"unit": ref.name, "params": dict(ref.params),
                  "params_key": f"{ref.name}:" + ",".join(f"{k}={v}" for k, v in
                                                          sorted(ref.params.items())),
                  "target": ref.target, "variant": ref.variant, "seed": 0, "status": "ok",
                  "reference": ref.source, **ref.figures}
        out.append((ref.family, result))
    return out


def parse(data, path="<design set>"):
    """Validate the parsed TOML `data` of a design set; return a `DesignSet`."""
    if not isinstance(data, dict):
        raise DesignError(f"{path}: not a TOML table")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise DesignError(f"{path}: unknown top-level keys {sorted(unknown)}; allowed: "
                          f"{', '.join(sorted(_TOP_KEYS))}")
    defaults_raw = data.get("defaults", {})
    if not isinstance(defaults_raw, dict) or set(defaults_raw) - _SETTINGS:
        raise DesignError(f"{path}: [defaults] takes only {', '.join(sorted(_SETTINGS))}")
    base = {"targets": (targets.DEFAULT_TARGET,), "variants": (targets.DEFAULT_VARIANT,),
            "seeds": (1,), "freq_mhz": None, "timeout_s": flow.DEFAULT_TIMEOUT_S}
    defaults = _settings(defaults_raw, f"{path}: [defaults]", base)
    raw_designs = data.get("design", [])
    if not isinstance(raw_designs, list) or not raw_designs:
        raise DesignError(f"{path}: needs at least one [[design]] table")
    designs = []
    for index, raw in enumerate(raw_designs, 1):
        where = f"{path}: design {index}"
        if not isinstance(raw, dict):
            raise DesignError(f"{where}: must be a table")
        _check_keys(raw, _DESIGN_KEYS, where)
        unit = raw.get("unit")
        if not isinstance(unit, str):
            raise DesignError(f"{where}: needs unit = \"<name>\"")
        where = f"{where} ({unit})"
        settings = _settings(raw, where, defaults)
        instances = _grid(raw.get("params", {}), where)
        for params in instances:
            _check_instance(unit, params, where)
        for tgt in settings["targets"]:
            for variant in settings["variants"]:
                try:
                    targets.check_variant(variant, targets.target(tgt))
                except ValueError as exc:
                    raise DesignError(f"{where}: {exc}") from None
        designs.append(Design(unit=unit, family=str(raw.get("family", unit)),
                              instances=tuple(instances), **settings))
    raw_compares = data.get("compare", [])
    if not isinstance(raw_compares, list):
        raise DesignError(f"{path}: compare must be an array of tables ([[compare]])")
    compares = tuple(_compare(raw, f"{path}: compare {i}")
                     for i, raw in enumerate(raw_compares, 1))
    raw_references = data.get("reference", [])
    if not isinstance(raw_references, list):
        raise DesignError(f"{path}: reference must be an array of tables ([[reference]])")
    references = tuple(_reference(raw, f"{path}: reference {i}")
                       for i, raw in enumerate(raw_references, 1))
    return DesignSet(path=str(path), title=str(data.get("title", Path(str(path)).stem)),
                     designs=tuple(designs), compares=compares, references=references)


def load(path):
    """Read and validate the design-set file at `path`; return a `DesignSet`."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise DesignError(f"{path}: cannot read the design set ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DesignError(f"{path}: invalid TOML: {exc}") from None
    return parse(data, path)


def unit_instances(design_set):
    """The distinct ``(unit, params)`` pairs of `design_set`, in file order (two spellings
    of one parameter set, defaults written out or not, are one: `verilog.params_key`)."""
    from hdl import verilog
    seen, out = set(), []
    for design in design_set.designs:
        for params in design.instances:
            marker = verilog.params_key(design.unit, params)
            if marker not in seen:
                seen.add(marker)
                out.append((design.unit, dict(params)))
    return out


def jobs(design_set):
    """Every `flow.Job` of `design_set`: designs × grid × targets × variants × seeds.

    Returns a list of ``(family, job)`` pairs (the family names the report section).
    """
    out = []
    for design in design_set.designs:
        for params in design.instances:
            for tgt in design.targets:
                for variant in design.variants:
                    for seed in design.seeds:
                        job = flow.Job(unit=design.unit, params=dict(params), target=tgt,
                                       variant=variant, seed=operator.index(seed),
                                       freq_mhz=design.freq_mhz, timeout_s=design.timeout_s)
                        out.append((design.family, job))
    return out
