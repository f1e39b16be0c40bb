# amaranth: UnusedElaboratable=no
# (units built here are often only inspected: parameter checks, benches reading `latency`)
"""Build units from (name, parameters) and write their Verilog, deterministically.

A parameter set is a plain dict of keyword arguments. Values are resolved by the kind each unit
declares for the parameter (`hdl.protocol`): a number format may be given by name
(``"fp8_e4m3"``, through `golden.formats.format_from_name`), so TOML files and command lines
can name formats. The same (unit, parameters) always gives byte-identical Verilog at the same path.
"""

import hashlib
from pathlib import Path

from amaranth.back import verilog

from golden import formats
from . import protocol, unit_class

__all__ = ["resolve_params", "build_unit", "params_key", "convert", "emit", "VERILOG_DIR"]

VERILOG_DIR = Path("build") / "verilog"


def resolve_params(name, params):
    """Check `params` against the unit's declared parameters (`hdl.protocol`) and resolve
    each value by its kind (format names become formats).

    Raises `ValueError` naming an unknown parameter and listing the accepted ones.
    """
    return protocol.resolve(unit_class(name), name, params)


def build_unit(name, params=None):
    """Construct unit `name` with `params` (validated by the unit before elaboration)."""
    return unit_class(name)(**resolve_params(name, params or {}))


def params_key(name, params=None):
    """A canonical text for (unit, parameters): stable across runs and machines."""
    resolved = resolve_params(name, params or {})
    items = ", ".join(f"{key}={_canonical(resolved[key])}" for key in sorted(resolved))
    return f"{name}({items})"


def _canonical(value):
    """A format by the name that parses back to it; a list of formats joined by "+"
    (as `protocol.FormatList` reads it); anything else by its repr."""
    if isinstance(value, tuple) and value and all(hasattr(v, "decode") for v in value):
        return "+".join(_canonical(item) for item in value)
    if hasattr(value, "decode") and formats.format_from_name(str(value)) == value:
        return str(value)
    return repr(value)


def convert(unit, name):
    """Verilog text of `unit` with top module `name`; no source paths, so it is reproducible."""
    return verilog.convert(unit, name=name, emit_src=False)


def emit(name, params=None, out_dir=VERILOG_DIR):
    """Write the Verilog of unit `name` with `params`; return (path, top module name).

    The file is ``<out_dir>/<name>-<hash>.v``, the hash covering the canonical parameter key,
    and its top module is ``<name>_<hash>``. An existing identical file is left untouched.
    """
    key = params_key(name, params)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    top = f"{name}_{digest}"
    text = f"// nnrtl {key}\n" + convert(build_unit(name, params), top)
    path = Path(out_dir) / f"{name}-{digest}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".tmp{id(text)}")
        tmp.write_text(text)
        tmp.replace(path)
    return path, top
