"""Parameter validation with uniform messages (the amaranth ``lib`` conventions).

`TypeError` for a value of the wrong type, `ValueError` for one out of range or not among
the choices; every message names the parameter and shows the value.

Example
-------
>>> from golden import checks
>>> checks.integer("lanes", 4, lo=1, hi=64)
4
>>> checks.integer("lanes", 0, lo=1, hi=64)
Traceback (most recent call last):
...
ValueError: lanes must be in 1..64, not 0
"""

import operator

__all__ = ["integer", "choice", "boolean"]


def integer(name, value, *, lo=None, hi=None, extra=""):
    """`value` as an int, checked against ``lo <= value <= hi``.

    Parameters
    ----------
    name : str
        The parameter's name, for messages.
    value : object
        Anything with ``__index__`` except a bool.
    lo, hi : int or None
        Inclusive bounds; None for no bound.
    extra : str
        Text after the range in a range message (e.g. ``" for a signed IntFormat"``).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``"{name} must be an integer, not {value!r}"`` for a bool or a non-integer.
    ValueError
        Out of range: ``"{name} must be a positive integer, not {value}"`` (lo 1, no hi),
        ``"... a non-negative integer ..."`` (lo 0, no hi), ``"... must be in lo..hi ..."``,
        ``"... must be at most hi ..."`` or ``"... must be at least lo ..."``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None
    if (lo is None or value >= lo) and (hi is None or value <= hi):
        return value
    if hi is None and lo == 1:
        raise ValueError(f"{name} must be a positive integer{extra}, not {value}")
    if hi is None and lo == 0:
        raise ValueError(f"{name} must be a non-negative integer{extra}, not {value}")
    if lo is not None and hi is not None:
        raise ValueError(f"{name} must be in {lo}..{hi}{extra}, not {value}")
    if lo is None:
        raise ValueError(f"{name} must be at most {hi}{extra}, not {value}")
    raise ValueError(f"{name} must be at least {lo}{extra}, not {value}")


def choice(name, value, choices):
    """`value` if it is one of `choices` (of the same type: ``1`` is not ``"1"``).

    Raises
    ------
    ValueError
        ``"{name} must be one of 'a', 'b', not {value!r}"`` (the choices by repr).
    """
    if not any(isinstance(value, type(c)) and value == c for c in choices):
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, not {value!r}")
    return value


def boolean(name, value):
    """`value` if it is a bool (``True``/``False``; not 0/1, not a NumPy bool).

    Raises
    ------
    TypeError
        ``"{name} must be a bool, not {value!r}"``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return value
