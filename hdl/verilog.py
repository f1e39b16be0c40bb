# amaranth: UnusedElaboratable=no
# (units built here are often only inspected: parameter checks, benches reading `latency`)
"""Build units from (name, parameters) and write their Verilog, deterministically.

A parameter set is a plain dict of keyword arguments. Values are resolved by the kind each unit
declares for the parameter (`hdl.protocol`): a number format may be given by name
(``"fp8_e4m3"``, through `golden.formats.format_from_name`), so TOML files and command lines
can name formats. The same (unit, parameters) always gives byte-identical Verilog at the same path.

Parameter sets are canonical: a parameter equal to its declared default (same value and
type) is left out of `params_key`, so ``{"fmt": "bf16"}`` and ``{"fmt": "bf16", "stages":
0}`` name one unit, one Verilog file (and one FPGA cache key). Leaving defaults out, rather
than writing them all in, keeps every key unchanged when a unit gains a parameter whose
default is the old behaviour.
"""

import hashlib
import inspect
from pathlib import Path

from amaranth.back import verilog

from golden import formats
from . import protocol, unit_class

__all__ = ["resolve_params", "canonical_params", "full_params", "build_unit", "params_key",
           "convert", "emit", "VERILOG_DIR"]

VERILOG_DIR = Path("build") / "verilog"


def resolve_params(name, params):
    """Check `params` against the unit's declared parameters (`hdl.protocol`) and resolve
    each value by its kind (format names become formats).

    Raises `ValueError` naming an unknown parameter and listing the accepted ones.
    """
    return protocol.resolve(unit_class(name), name, params)


def _declared_defaults(name):
    """``{parameter: resolved default}`` for the parameters of unit `name` that have one."""
    cls = unit_class(name)
    signature = inspect.signature(cls.__init__).parameters
    given = {key: signature[key].default for key in protocol.declared_parameters(cls)
             if signature[key].default is not inspect.Parameter.empty}
    return protocol.resolve(cls, name, given)


def _same(a, b):
    # Same type as well as equal: `stages=0.0` or `special_values=1` are not the defaults
    # `0` and `True` (the unit rejects them), so they must not be dropped silently.
    return type(a) is type(b) and a == b


def canonical_params(name, params=None):
    """The canonical form of a parameter set: resolved, without the parameters equal to
    their declared default. ``{"fmt": "bf16"}`` and ``{"fmt": "bf16", "stages": 0}`` give
    the same dict, so the same `params_key`, Verilog file and FPGA cache key."""
    resolved = resolve_params(name, params or {})
    defaults = _declared_defaults(name)
    return {key: value for key, value in resolved.items()
            if not (key in defaults and _same(value, defaults[key]))}


def full_params(name, params=None):
    """`params` resolved with every declared default filled in (for selecting results by
    a parameter, whether or not the design set wrote it out)."""
    return {**_declared_defaults(name), **resolve_params(name, params or {})}


def build_unit(name, params=None):
    """Construct unit `name` with `params` (validated by the unit before elaboration)."""
    return unit_class(name)(**resolve_params(name, params or {}))


def params_key(name, params=None):
    """A canonical text for (unit, parameters): stable across runs and machines. Parameters
    equal to their default are left out (`canonical_params`)."""
    resolved = canonical_params(name, params)
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
