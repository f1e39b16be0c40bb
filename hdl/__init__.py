"""Amaranth generators for nnrtl units, one module per unit family.

`UNITS` maps a unit's public name (used in design TOML files, on the command line and in
file names) to its module and class. Units are imported lazily so that listing them costs
nothing.
"""

import importlib

__all__ = ["UNITS", "unit_class"]

UNITS = {
    "fpmul": ("hdl.fpmul", "FPMul"),
    "lmul": ("hdl.lmul", "LMul"),
    "dot": ("hdl.dot", "Dot"),
    "mac": ("hdl.dsp", "MAC"),
    "macarray": ("hdl.macarray", "MACArray"),
    "positmul": ("hdl.posit", "PositMul"),
    "positadd": ("hdl.posit", "PositAdd"),
    "positdot": ("hdl.posit", "PositDot"),
    "sigmoid": ("hdl.nonlinear", "Sigmoid"),
    "silu": ("hdl.nonlinear", "SiLU"),
    "exp": ("hdl.nonlinear", "Exp"),
    "rsqrt": ("hdl.nonlinear", "RSqrt"),
}


def unit_class(name):
    """Return the `wiring.Component` class of the unit called `name`."""
    if not isinstance(name, str) or name not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(sorted(UNITS))}, not {name!r}")
    module_name, class_name = UNITS[name]
    return getattr(importlib.import_module(module_name), class_name)
