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


def check_readme_section(name, readme=None):
    """Return (path, content, begin, end) of README.md's section `name`; SystemExit naming
    the markers if it lacks them (call it before long work that ends in a write)."""
    readme = Path(readme) if readme else ROOT / "README.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    if begin not in content or end not in content:
        raise SystemExit(f"{readme} lacks the markers {begin} ... {end}")
    return readme, content, begin, end


def write_readme_section(name, text, readme=None):
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in
    README.md with `text`; SystemExit naming the markers if README.md lacks them."""
    readme, content, begin, end = check_readme_section(name, readme)
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text.rstrip()}\n{end}{tail}")
    print(f"wrote the {name} figures into {readme}")
