"""Shared set-up for the scripts: repository root on sys.path, design-set loading, README
sections."""

import re
import sys
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


def parse_params(text):
    """``"fmt=bf16,stages=2"`` → ``{"fmt": "bf16", "stages": 2}``; raises `ValueError`."""
    params = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        if "=" not in item:
            raise ValueError(f"parameters must look like 'name=value,name=value', "
                             f"not {item!r} in {text!r}")
        name, value = (part.strip() for part in item.split("=", 1))
        if not name.isidentifier():
            raise ValueError(f"parameter name must be an identifier, not {name!r}")
        if re.fullmatch(r"[+-]?\d+", value):
            value = int(value)
        elif re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", value):
            value = float(value)
        elif value.lower() in ("true", "false"):
            value = value.lower() == "true"
        params[name] = value
    return params
