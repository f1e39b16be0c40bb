"""Number formats: integer, fixed point, floating point (IEEE 754, OCP FP8/MX) and posit.

Every format is a frozen, hashable descriptor. ``.bits`` is the code width, ``.encode(x)``
turns float64 values into codes (``np.uint64``), rounding to nearest, ties to even (fixed
point: per its ``rounding``), and ``.decode(codes)`` turns codes into float64 (NaN for NaN
and NaR codes). The hardware generators read their parameters from these same objects.

Each format family has one rounding routine, ``round_exact(sign, sig, exp)``, which rounds
the exact value ``(-1)**sign * sig * 2**exp`` (``sig`` an unsigned integer below 2**64)
into a code; ``encode`` splits float64 exactly into (sign, sig, exp) and calls it, and
`golden.ops` calls it with exact products. ``decompose(codes)`` is the exact inverse split.

``str(fmt)`` is a name, and ``format_from_name(str(fmt)) == fmt`` for every format.

One module per family: `integer` (IntFormat), `fixed` (FixedFormat), `floating`
(FloatFormat and the presets), `posit` (PositFormat); `registry` (PRESETS,
format_from_name); `numeric` holds the vectorized integer helpers they share and `names`
the name parsing.

Example
-------
>>> import numpy as np
>>> from golden import formats
>>> codes = formats.FP8_E4M3.encode(np.array([1.0, 0.3, 500.0, -1e-9]))
>>> print([hex(c) for c in codes], formats.FP8_E4M3.decode(codes))
['0x38', '0x2a', '0x7f', '0x80'] [ 1.      0.3125     nan -0.    ]
>>> print(formats.FixedFormat(4, 12, True), formats.format_from_name("E5M2_B13").bias)
sq4_12 13
"""

from .fixed import FixedFormat
from .floating import (BF16, FP4_E2M1, FP6_E2M3, FP6_E3M2, FP8_E4M3, FP8_E5M2, FP16, FP32,
                       FloatFormat)
from .integer import IntFormat
from .posit import PositFormat
from .registry import PRESETS, format_from_name

__all__ = [
    "IntFormat", "FixedFormat", "FloatFormat", "PositFormat",
    "FP32", "FP16", "BF16", "FP8_E4M3", "FP8_E5M2", "FP6_E3M2", "FP6_E2M3", "FP4_E2M1",
    "PRESETS", "format_from_name",
]
