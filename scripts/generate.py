"""Write the Verilog of a design set into build/verilog/ and print where each file went.

    .venv/bin/python scripts/generate.py [--designs designs/default.toml]
"""

import argparse

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="designs/default.toml", help="design-set TOML")
    args = parser.parse_args(argv)
    print(f"Verilog of {args.designs}:")
    generate(args.designs)


if __name__ == "__main__":
    main()
