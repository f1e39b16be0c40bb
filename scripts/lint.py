"""`verilator --lint-only -Wall` over the Verilog of a design set (waivers: tb/lint_waivers.vlt).

Exits 1 and prints the findings if any unit does not lint clean.

    .venv/bin/python scripts/lint.py [--designs designs/default.toml]
"""

import argparse
import sys

import _common
from hdl import verilog
from tb import lint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="designs/default.toml", help="design-set TOML")
    args = parser.parse_args(argv)
    failed = 0
    for unit, params in _common.design_units(args.designs):
        path, top = verilog.emit(unit, params)
        findings = lint.lint_verilog(path, top)
        status = "clean" if not findings else f"{len(findings)} findings"
        print(f"  {verilog.params_key(unit, params):50s} {path}: {status}")
        for line in findings:
            print(f"    {line}")
        failed += bool(findings)
    if failed:
        sys.exit(f"lint: {failed} units have findings")
    print(f"lint: clean (waivers: {lint.WAIVERS})")


if __name__ == "__main__":
    main()
