"""Shared set-up for the scripts: repository root on sys.path, design-set loading."""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def design_units(path):
    """The distinct (unit, params) pairs of a design-set TOML file, in file order."""
    from fpga import designs
    return designs.unit_instances(designs.load(path))
