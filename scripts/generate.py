"""Write Verilog: of a design set (into build/verilog/, one file per unit and parameter set),
or of one unit with chosen parameters, with a readable top module name.

    .venv/bin/python scripts/generate.py [--designs designs/default.toml]
    .venv/bin/python scripts/generate.py --unit lmul --params 'fmt=bf16,stages=2' [--out DIR]

(`make verilog`, `make verilog UNIT=lmul PARAMS='fmt=bf16,stages=2'`.) One unit goes to
``<out>/<unit>.v`` (default build/verilog/) with top module ``<unit>``; the script prints
the path, the unit's ports, latency and throughput. Exit status 2 for bad input.
"""

import argparse
import sys
from pathlib import Path

from amaranth.hdl import Value
from amaranth.lib import wiring

import _common
from hdl import verilog


def generate(designs):
    """Emit every unit of the design set; return [(unit, params, path)]."""
    written = []
    for unit, params in _common.design_units(designs):
        path, _ = verilog.emit(unit, params)
        print(f"  {verilog.params_key(unit, params):50s} -> {path}")
        written.append((unit, params, path))
    return written


def port_lines(unit):
    """One line per port of `unit`: direction, name, width (stream ports by member)."""
    lines = []
    for path, member, value in unit.signature.flatten(unit):
        name = "__".join(str(part) for part in path)
        direction = "in" if member.flow == wiring.In else "out"
        lines.append(f"  {direction:3s} {name:24s} {len(Value.cast(value))} bits")
    return lines


def generate_one(name, params, out_dir):
    """Write the Verilog of unit `name` with top module `name`; return its path."""
    unit = verilog.build_unit(name, params)
    key = verilog.params_key(name, params)
    path = Path(out_dir) / f"{name}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"// nnrtl {key}\n" + verilog.convert(verilog.build_unit(name, params), name))
    print(f"{key} -> {path} (top module {name})")
    print("\n".join(port_lines(unit)))
    print("  (and clk, rst: the sync domain)")
    print(f"  latency {unit.latency} cycles, {unit.ops_per_cycle} operation(s) per cycle")
    for note in getattr(unit, "notes", []):
        print(f"  {note}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--designs", default="designs/default.toml", help="design-set TOML")
    parser.add_argument("--unit", help="one unit (hdl.UNITS) instead of a design set")
    parser.add_argument("--params", default="", help="with --unit: e.g. 'fmt=bf16,stages=2'")
    parser.add_argument("--out", default=str(verilog.VERILOG_DIR), help="with --unit: folder")
    args = parser.parse_args(argv)
    if args.unit is None:
        print(f"Verilog of {args.designs}:")
        generate(args.designs)
        return
    try:
        generate_one(args.unit, _common.parse_params(args.params), args.out)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"error: writing the Verilog of {args.unit} into {args.out}: {exc}",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
