"""Formats by name: the presets (`PRESETS`) and `format_from_name`."""

from . import fixed, floating, integer, names, posit

__all__ = ["PRESETS", "format_from_name"]

PRESETS = {f.name: f for f in floating.PRESET_FORMATS}

# Each family reads its own names (None: not this family's syntax); str(fmt) writes them.
_FAMILIES = (integer, fixed, posit, floating)


def format_from_name(name):
    """The format called `name` (case-insensitive); ``format_from_name(str(fmt)) == fmt``
    for every format.

    ======================================  ==============================================
    name                                    format
    ======================================  ==============================================
    a key of ``PRESETS`` (``fp8_e4m3``)     that preset
    ``intN``, ``uintN``                     ``IntFormat(N, signed)``, N in 1..64
    ``sqI_F``, ``uqI_F`` + ``_floor`` or    ``FixedFormat(I, F, signed, rounding=...,
    ``_trunc``, ``_wrap``                   overflow=...)``; I counts the sign bit
    ``positN_ES``                           ``PositFormat(N, ES)``
    ``eEmM`` + ``_ftz``, one of ``_fn``,    ``FloatFormat(E, M)``: no subnormals, those
    ``_fnuz``, ``_none``, ``_sat``,         specials (default IEEE), saturating overflow,
    ``_bB``                                 bias B (default per the specials)
    ======================================  ==============================================

    Suffixes may come in any order, each at most once (e.g. ``e8m7_ftz``: bfloat16 flushing
    to zero; ``e9m7``: one more exponent bit; ``uq0_8_trunc_wrap``). A name that spells a
    preset returns the preset.

    Raises
    ------
    TypeError
        `name` is not a string.
    ValueError
        An unknown name (the message lists every family's syntax), a repeated suffix, or
        parameters out of range.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, not {name!r}")
    key = name.strip().lower()
    detail = ""
    for family in _FAMILIES:
        try:
            fmt = family.parse_name(key)
        except names.UnknownSuffix as error:
            detail = f" (unknown suffix {error.suffix!r})"
            break
        if fmt is not None:
            return fmt
    syntax = ", ".join(family.NAME_SYNTAX for family in _FAMILIES)
    raise ValueError(f"unknown format {name!r}{detail}; known formats: {', '.join(PRESETS)}, "
                     f"{syntax}")
