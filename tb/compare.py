"""Compare hardware output codes with golden codes on whole arrays, and explain mismatches.

`assert_codes_equal` raises `AssertionError` whose message gives the seed, the number of
mismatches, and the first few failing vectors: every input and both outputs in hex and
decoded through their number formats, so a failure can be read without a waveform.
"""

import numpy as np

__all__ = ["assert_codes_equal", "describe"]


def describe(code, fmt):
    """``0x3f80 (1.0)``: a code in hex, with its value in `fmt` if a format is given."""
    code = int(code)
    digits = max(1, (getattr(fmt, "bits", 4) + 3) // 4)
    text = f"0x{code:0{digits}x}"
    if fmt is not None and hasattr(fmt, "decode"):
        text += f" ({float(fmt.decode(np.array([code], dtype=np.uint64))[0])!r})"
    return text


def assert_codes_equal(got, expected, *, inputs, out_fmt=None, seed=None, show=8,
                       what="output"):
    """Check that `got` equals `expected` element for element.

    Parameters
    ----------
    got, expected : array-like of int
        Output codes from the hardware and from the golden model, in input order.
    inputs : dict
        Name -> (codes array, format or None), shown for failing vectors.
    out_fmt : format or None
        Format used to decode the output codes.
    seed : int or None
        The bench seed, printed so the failure can be replayed.
    show : int
        How many failing vectors to print.

    Raises `AssertionError` on any mismatch, on a length mismatch, and when nothing was
    compared (a bench never passes with zero vectors).
    """
    got = np.asarray(got, dtype=np.uint64)
    expected = np.asarray(expected, dtype=np.uint64)
    where = f" (seed {seed}; replay with COCOTB_RANDOM_SEED={seed})" if seed is not None else ""
    if expected.size == 0:
        raise AssertionError(f"no vectors were compared{where}: a bench must check something")
    if got.shape != expected.shape:
        raise AssertionError(f"got {got.size} {what}s, expected {expected.size}{where}")
    bad = np.flatnonzero(got != expected)
    if bad.size == 0:
        return expected.size
    lines = [f"{bad.size} of {expected.size} {what}s differ{where}; first {min(show, bad.size)}:"]
    for index in bad[:show]:
        operands = ", ".join(f"{name}={describe(codes[index], fmt)}"
                             for name, (codes, fmt) in inputs.items())
        lines.append(f"  #{index}: {operands} -> expected {describe(expected[index], out_fmt)}"
                     f", got {describe(got[index], out_fmt)}")
    raise AssertionError("\n".join(lines))
