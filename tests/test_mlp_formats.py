"""golden.mlp.forward_format against a scalar Fraction reference (tests/conftest.py): a
small random network, every value rounded into the format by the reference's own rounding,
exact sums rounded once or every operation rounded, compared as exact values (so the sign
of a zero does not matter)."""

from fractions import Fraction

import numpy as np
import pytest

from golden import formats, mlp
from golden.formats import PositFormat

SEED = 5511
FORMATS = [PositFormat(8, 0), PositFormat(8, 1), PositFormat(16, 1), formats.FP8_E4M3,
           formats.FP8_E5M2, formats.BF16]


def _codec(fmt, ref):
    """(encode float64 -> code, decode code -> Fraction, round Fraction -> code)."""
    if isinstance(fmt, PositFormat):
        return (lambda x: ref.posit_encode(x, fmt.n, fmt.es),
                lambda c: ref.posit_decode(c, fmt.n, fmt.es),
                lambda v: ref.posit_round(v, fmt.n, fmt.es))

    def decode(code):
        sign, value = ref.float_decode(code, fmt)
        assert not isinstance(value, str), "the test network stays finite"
        return -value if sign else value

    return (lambda x: ref.float_encode(x, fmt), decode,
            lambda v: ref.float_round(int(v < 0), abs(v), fmt))


def reference(x, weights, biases, fmt, acc, ref):
    encode, decode, rounded = _codec(fmt, ref)
    act = [[decode(encode(float(v))) for v in row] for row in x]
    for index, (w, b) in enumerate(zip(weights, biases)):
        wv = [[decode(encode(float(v))) for v in row] for row in w]
        bv = [decode(encode(float(v))) for v in b]
        out = []
        for row in act:
            zs = []
            for j in range(len(bv)):
                if acc == "exact":
                    exact = sum((row[k] * wv[k][j] for k in range(len(row))), Fraction(0))
                    z = decode(rounded(exact + bv[j]))
                else:
                    z = decode(rounded(row[0] * wv[0][j]))
                    for k in range(1, len(row)):
                        z = decode(rounded(z + decode(rounded(row[k] * wv[k][j]))))
                    z = decode(rounded(z + bv[j]))
                zs.append(z)
            out.append(zs)
        if index < len(weights) - 1:
            out = [[max(z, Fraction(0)) for z in row] for row in out]
        act = out
    return act


@pytest.mark.parametrize("acc", mlp.ACCUMULATIONS)
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_forward_format_matches_the_fraction_reference(fmt, acc, ref):
    rng = np.random.default_rng(SEED)
    x = rng.random((6, 9))
    weights = [rng.normal(0, 0.6, (9, 5)), rng.normal(0, 0.6, (5, 3))]
    biases = [rng.normal(0, 0.2, 5), rng.normal(0, 0.2, 3)]
    got = fmt.decode(mlp.forward_format(x, weights, biases, fmt, acc=acc))
    want = reference(x, weights, biases, fmt, acc, ref)
    assert [[Fraction(float(v)) for v in row] for row in got] == want


def test_exact_and_rounded_accumulation_differ_somewhere(ref):
    rng = np.random.default_rng(SEED)
    x = rng.random((20, 16))
    weights = [rng.normal(0, 0.6, (16, 4))]
    biases = [rng.normal(0, 0.2, 4)]
    fmt = PositFormat(8, 0)
    exact = mlp.forward_format(x, weights, biases, fmt, acc="exact")
    rounded = mlp.forward_format(x, weights, biases, fmt, acc="rounded")
    assert (exact != rounded).any()


def test_forward_format_bad_arguments():
    w, b = [np.ones((2, 1))], [np.zeros(1)]
    with pytest.raises(ValueError, match=r"acc must be one of 'exact', 'rounded', not 'fp32'"):
        mlp.forward_format(np.ones((1, 2)), w, b, PositFormat(8, 0), acc="fp32")
    with pytest.raises(TypeError, match=r"fmt must be a PositFormat or FloatFormat, not 8"):
        mlp.forward_format(np.ones((1, 2)), w, b, 8, acc="exact")
