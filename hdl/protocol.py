"""The unit protocol: how every unit in `hdl.UNITS` declares its parameters and its model.

A unit class declares

- ``PARAMETERS``: a dict from each keyword-only constructor parameter to its kind
  (`Integer`, `Choice`, `Boolean`, `Format`, `FormatList`), so that design files (TOML) and
  the command line are resolved by declaration (a format given by name becomes the
  format object; "3" becomes 3), never by the parameter's name;
- ``EXAMPLES``: parameter sets (besides the constructor's defaults, which must be complete
  with the ``example`` of each kind that has no default) that the generic
  latency/throughput bench (tb/test_protocol.py) builds;

and each unit object has

- ``latency``: cycles from an accepted input item to its output (for units that reduce
  several items, from the item that ends the group, the one with ``last`` set);
- ``ops_per_cycle``: operations per cycle at full throughput, one input item per cycle;
- optionally ``ops_per_item`` (operations per input item; default the elements of its
  ``a`` operand) and ``stream_group`` (``(G, outputs)``: at full rate, a group of G items
  ending with ``last`` gives `outputs` output beats; default (1, 1)), and
  ``bench_items(count, rng, lone=False)`` (well-formed random input payloads for the
  generic bench, for a unit whose input fields are not free bits; None: random bits do);
- ``golden``: ``(function, kwargs)`` such that ``function(a, b, **kwargs)`` (a
  one-operand unit, whose input payload is one code: ``function(x, **kwargs)``) gives the
  unit's output codes from its operand codes: benches and reports call it instead of
  re-mapping the unit's parameters by hand.

Kinds convert text into values of their kind; types, ranges and combinations are checked
by the unit's constructor, which raises `TypeError`/`ValueError` naming the parameter
before anything is elaborated.
"""

import inspect
import re

from golden import formats

__all__ = ["Integer", "Choice", "Boolean", "Format", "FormatList", "declared_parameters",
           "resolve", "defaults"]


class _Kind:
    example = None

    def resolve(self, name, value):
        return value


class Integer(_Kind):
    """An integer parameter (text of digits is converted)."""

    def __init__(self, *, example=None):
        self.example = example

    def resolve(self, name, value):
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        return value

    def __repr__(self):
        return "Integer()"


class Choice(_Kind):
    """One of a fixed set of strings, or (``integer=True``) else an integer."""

    def __init__(self, *choices, integer=False):
        self.choices, self.integer = choices, integer

    def resolve(self, name, value):
        if self.integer and isinstance(value, str) and value not in self.choices:
            return Integer().resolve(name, value)
        return value

    def __repr__(self):
        extra = ", integer=True" if self.integer else ""
        return f"Choice({', '.join(map(repr, self.choices))}{extra})"


class Boolean(_Kind):
    """True or False (the text "true"/"false" is converted)."""

    def resolve(self, name, value):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value

    def __repr__(self):
        return "Boolean()"


def _format(value):
    return formats.format_from_name(value) if isinstance(value, str) else value


class Format(_Kind):
    """A number format of one of `families` (classes of golden.formats), given as an
    object or by name; ``optional=True`` allows None."""

    def __init__(self, *families, optional=False, example=None):
        self.families, self.optional, self.example = families, optional, example

    def resolve(self, name, value):
        return _format(value)

    def __repr__(self):
        names = ", ".join(f.__name__ for f in self.families)
        return f"Format({names}{', optional=True' if self.optional else ''})"


class FormatList(_Kind):
    """A list of number formats (for example one per SIMD lane), objects or names; a
    single name may list them separated by "+" (``"fp8_e4m3+int8"``). Resolves to a
    tuple."""

    def __init__(self, *families, example=None):
        self.families, self.example = families, example

    def resolve(self, name, value):
        if isinstance(value, str):
            value = value.split("+")
        if isinstance(value, (list, tuple)):
            return tuple(_format(item) for item in value)
        return value

    def __repr__(self):
        return f"FormatList({', '.join(f.__name__ for f in self.families)})"


def declared_parameters(cls):
    """The keyword-only constructor parameters of unit class `cls`, checked against its
    ``PARAMETERS`` declaration (`TypeError` naming the class if they differ)."""
    accepted = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY]
    declared = getattr(cls, "PARAMETERS", None)
    if not isinstance(declared, dict) or list(declared) != accepted:
        raise TypeError(f"{cls.__name__}.PARAMETERS must declare exactly its keyword-only "
                        f"parameters in order ({', '.join(accepted)}), not "
                        f"{list(declared or {})}")
    bad = [key for key, kind in declared.items() if not isinstance(kind, _Kind)]
    if bad:
        raise TypeError(f"{cls.__name__}.PARAMETERS[{bad[0]!r}] must be a parameter kind "
                        f"(Integer, Choice, Boolean, Format, FormatList), not "
                        f"{declared[bad[0]]!r}")
    return declared


def resolve(cls, unit_name, params):
    """`params` with every value resolved by its declared kind; `ValueError` naming an
    unknown parameter and listing the accepted ones."""
    declared = declared_parameters(cls)
    resolved = {}
    for key, value in dict(params).items():
        if key not in declared:
            raise ValueError(f"unit {unit_name!r} has no parameter {key!r}; "
                             f"its parameters are: {', '.join(declared)}")
        resolved[key] = declared[key].resolve(key, value)
    return resolved


def defaults(cls):
    """The parameter set of the constructor's defaults, with each kind's ``example`` for
    a parameter without a default (`TypeError` if neither is declared)."""
    declared = declared_parameters(cls)
    signature = inspect.signature(cls.__init__).parameters
    params = {}
    for key, kind in declared.items():
        default = signature[key].default
        if default is inspect.Parameter.empty:
            if kind.example is None:
                raise TypeError(f"{cls.__name__}.PARAMETERS[{key!r}] needs an example: "
                                f"the parameter has no default")
            default = kind.example
        params[key] = default
    return params
