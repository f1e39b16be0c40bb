"""Shared set-up for the scripts: repository root on sys.path, design-set loading, README
sections."""

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


def write_readme_section(name, text, readme=None):
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in
    README.md with `text`; SystemExit naming the markers if README.md lacks them."""
    readme = Path(readme) if readme else ROOT / "README.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    if begin not in content or end not in content:
        raise SystemExit(f"{readme} lacks the markers {begin} ... {end}")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text.rstrip()}\n{end}{tail}")
    print(f"wrote the {name} figures into {readme}")
