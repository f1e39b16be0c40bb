"""golden/mlp.py against independent computations, on the trained digits MLP (models/digits.py).

The references never call golden/: NumPy float32 arithmetic (IEEE single precision, round
to nearest even, with subnormals) in the summation order that golden.dot.dot defines;
ml_dtypes for rounding into BF16/FP8; exact `fractions.Fraction` arithmetic for L-Mul
(with the exact format reference of tests/conftest.py).
"""

import doctest
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from golden import formats, mlp
from models import digits

LANES = digits.LANES
SAMPLES = 60                     # test samples per golden run here (the script runs all)


@pytest.fixture(scope="module")
def model():
    return digits.model()


def _f32_codes(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)


def _sum_products_f32(products, lanes):
    """Sum float32 products over the last axis as golden.dot.dot specifies: per beat of
    `lanes` terms an adder tree (pairs level by level, an odd last value passed up), then
    acc = acc + tree, acc from +0; every add a float32 add (RNE)."""
    acc = np.zeros(products.shape[:-1], dtype=np.float32)
    for start in range(0, products.shape[-1], lanes):
        level = [products[..., start + i] for i in range(lanes)]
        while len(level) > 1:
            nxt = [level[2 * j] + level[2 * j + 1] for j in range(len(level) // 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        acc = acc + level[0]
    return acc


def _ordered_dot_f32(act, w, lanes):
    """float32 dot products of act (samples, K) and w (K, outputs): float32 products
    (RNE each), summed in golden.dot.dot's order."""
    return _sum_products_f32(act[:, None, :] * w.T[None, :, :], lanes)


def _forward_f32(x, weights, biases, to_format):
    """NumPy float32 forward pass in golden.dot.dot's order; `to_format` rounds a float32
    array into the operand format and back (identity for FP32)."""
    act = to_format(x.astype(np.float32))
    for index, (w, b) in enumerate(zip(weights, biases)):
        z = _ordered_dot_f32(act, to_format(w.astype(np.float32)), LANES) + b.astype(np.float32)
        if index == len(weights) - 1:
            return z
        act = to_format(np.where(z > 0, z, np.float32(0)))       # ReLU: -0 and < 0 -> +0


def test_fp32_mode_is_bit_identical_to_numpy_float32_in_the_same_order(model):
    """Exact relation: the fp32 mode's logits equal, bit for bit, a NumPy float32 forward
    pass that multiplies in float32 and adds in golden.dot.dot's order."""
    x = model.x_test[:SAMPLES]
    got = mlp.forward(x, model.weights, model.biases, "fp32", lanes=LANES)
    want = _forward_f32(x, model.weights, model.biases, lambda v: v)
    np.testing.assert_array_equal(got, _f32_codes(want))


def test_fp32_first_layer_within_the_error_bound_of_exact_arithmetic(model):
    """|fp32 pre-activation - exact value of the FP32-rounded operands| <= gamma_n *
    (sum |x_i w_i| + |b|), n = 1 (product) + log2(lanes) (tree) + K / lanes
    (accumulator) + 1 (bias) roundings on the longest path, gamma_n = n u / (1 - n u),
    u = 2**-24. The float64 reference (exact products, float64 sums) adds < 2**-45 of the
    sum. And the predictions equal the float64 reference's."""
    x, w, b = model.x_test, model.weights[0], model.biases[0]
    x32, w32, b32 = (v.astype(np.float32).astype(np.float64) for v in (x, w, b))
    codes = mlp.dense(mlp.quantize(x[:SAMPLES], "fp32"), mlp.quantize(w, "fp32"), "fp32",
                      lanes=LANES)
    z = formats.FP32.decode(codes) + b32        # the bias add, compared separately below
    exact = x32[:SAMPLES] @ w32 + b32
    scale = np.abs(x32[:SAMPLES]) @ np.abs(w32) + np.abs(b32)
    n = 1 + int(math.log2(LANES)) + w.shape[0] // LANES + 1
    u = 2.0 ** -24
    bound = (n * u / (1 - n * u) + 2.0 ** -45) * scale
    assert np.all(np.abs(z - exact) <= bound)
    logits = mlp.forward(x[:SAMPLES], model.weights, model.biases, "fp32", lanes=LANES)
    reference = mlp.forward_float64(x[:SAMPLES], model.weights, model.biases)
    np.testing.assert_array_equal(mlp.predict(formats.FP32.decode(logits)),
                                  mlp.predict(reference))


_ML_DTYPES = {"bf16": ml_dtypes.bfloat16, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
              "fp8_e5m2": ml_dtypes.float8_e5m2}


@pytest.mark.parametrize("products", list(_ML_DTYPES))
def test_exact_modes_match_ml_dtypes(model, products):
    """Exact-product modes: logits bit-identical to a float32 pass whose operands are
    rounded by ml_dtypes, whose products are float32 products (checked exact: at most 16
    significant bits) and whose sums follow golden.dot.dot's order.

    ml_dtypes converts float64 through float32 (two roundings), so the weights are first
    made float32 values here; golden rounds those once, as ml_dtypes then does."""
    dtype = _ML_DTYPES[products]
    weights = [w.astype(np.float32).astype(np.float64) for w in model.weights]
    x = model.x_test[:SAMPLES]

    def to_format(v):
        return v.astype(dtype).astype(np.float32)

    act, w0 = to_format(x.astype(np.float32)), to_format(weights[0].astype(np.float32))
    p32 = act[:, None, :] * w0.T[None, :, :]
    p64 = act.astype(np.float64)[:, None, :] * w0.T.astype(np.float64)[None, :, :]
    assert np.array_equal(p32.astype(np.float64), p64), "products must be exact in FP32"
    got = mlp.forward(x, weights, model.biases, products, lanes=LANES)
    want = _forward_f32(x, weights, model.biases, to_format)
    np.testing.assert_array_equal(got, _f32_codes(want))


_L = {"bf16": 4, "fp8_e4m3": 3, "fp8_e5m2": 2}     # the paper's l(m): m = 7, 3, 2


def _lmul_fraction(x, y, fmt, l):
    """L-Mul of Fractions x, y (values of `fmt`) in the paper's integer-carry reading:
    x = (1 + fx) 2**ex, y = (1 + fy) 2**ey, S = fx + fy + 2**-l, k = floor(S) carries:
    (1 + S - k) * 2**(ex + ey + k), sign xor; a zero or subnormal operand gives 0."""
    min_normal = Fraction(2) ** (1 - fmt.bias)
    if abs(x) < min_normal or abs(y) < min_normal:
        return Fraction(0)

    def split(v):
        e = math.floor(math.log2(abs(v)))
        while Fraction(2) ** e > abs(v):
            e -= 1
        while Fraction(2) ** (e + 1) <= abs(v):
            e += 1
        return e, abs(v) / Fraction(2) ** e - 1

    (ex, fx), (ey, fy) = split(x), split(y)
    s = fx + fy + Fraction(1, 2 ** l)
    k = math.floor(s)
    value = (1 + s - k) * Fraction(2) ** (ex + ey + k)
    return -value if (x < 0) != (y < 0) else value


@pytest.mark.parametrize("products", ["lmul-bf16", "lmul-fp8_e4m3", "lmul-fp8_e5m2"])
def test_lmul_modes_match_exact_fraction_evaluation(model, products, ref):
    """L-Mul modes, whole network for a few samples: operands rounded by the exact
    reference (tests/conftest.py), each L-Mul value formed in Fractions (exact in float32:
    at most 9 significant bits), float32 sums in golden.dot.dot's order; logits
    bit-identical."""
    fmt, _ = mlp.product_mode(products)
    l = _L[products.removeprefix("lmul-")]
    samples = [0, 1, 7]
    x = model.x_test[samples]

    def to_values(v):                 # float64 -> Fractions of fmt (the exact reference)
        return [[ref.float_decode(ref.float_encode(float(e), fmt), fmt) for e in row]
                for row in np.atleast_2d(v)]

    def signed(pair):
        sign, value = pair
        return -value if sign else value

    act = [[signed(v) for v in row] for row in to_values(x)]
    for index, (w, b) in enumerate(zip(model.weights, model.biases)):
        wv = [[signed(v) for v in row] for row in to_values(w)]
        products_f32 = np.empty((len(act), w.shape[1], w.shape[0]), dtype=np.float32)
        for s, row in enumerate(act):
            for j in range(w.shape[1]):
                for i in range(w.shape[0]):
                    p = _lmul_fraction(row[i], wv[i][j], fmt, l)
                    products_f32[s, j, i] = np.float32(p)
                    assert Fraction(float(products_f32[s, j, i])) == p, "L-Mul value inexact"
        z = _sum_products_f32(products_f32, LANES) + b.astype(np.float32)
        if index == len(model.weights) - 1:
            break
        relu = np.where(z > 0, z, np.float32(0))
        act = [[signed(v) for v in row] for row in to_values(relu.astype(np.float64))]
    got = mlp.forward(x, model.weights, model.biases, products, lanes=LANES)
    np.testing.assert_array_equal(got, _f32_codes(z))


def test_first_dots_replace_the_first_layer(model):
    x = model.x_test[:8]
    products = "lmul-fp8_e4m3"
    dots = mlp.dense(mlp.quantize(x, products), mlp.quantize(model.weights[0], products),
                     products, lanes=LANES)
    whole = mlp.forward(x, model.weights, model.biases, products, lanes=LANES)
    given = mlp.forward(x, model.weights, model.biases, products, lanes=LANES,
                        first_dots=dots)
    np.testing.assert_array_equal(whole, given)
    with pytest.raises(ValueError, match=r"first_dots must have shape \(8, 32\), not \(8, 31\)"):
        mlp.forward(x, model.weights, model.biases, products, first_dots=dots[:, :31])


def test_relu_on_fp32_codes():
    codes = formats.FP32.encode(np.array([-2.0, -0.0, 0.0, 3.5, np.nan, -np.inf, np.inf]))
    got = formats.FP32.decode(mlp.relu(codes))
    np.testing.assert_array_equal(got[:4], [0.0, 0.0, 0.0, 3.5])
    assert not np.signbit(got[1]) and np.isnan(got[4]) and got[5] == 0 and got[6] == np.inf


@pytest.mark.parametrize("products", ["fp16", "lmul", "FP32", None, 3])
def test_bad_products_mode_is_rejected(model, products):
    message = (r"products must be one of 'fp32', 'bf16', 'fp8_e4m3', 'fp8_e5m2', "
               r"'lmul-bf16', 'lmul-fp8_e4m3', 'lmul-fp8_e5m2', not ")
    with pytest.raises(ValueError, match=message):
        mlp.forward(model.x_test[:2], model.weights, model.biases, products)


def test_mismatched_layers_are_rejected(model):
    with pytest.raises(ValueError, match=r"layer 1: weights \(31, 10\)"):
        mlp.forward(model.x_test[:2], [model.weights[0], model.weights[1][:31]],
                    model.biases, "fp32")


def test_float64_reference_is_the_trained_model(model):
    """forward_float64 is the float64 network: equal (to 1e-12) to a Python-float
    evaluation for a few samples; above 95% test accuracy."""
    logits = mlp.forward_float64(model.x_test, model.weights, model.biases)
    for s in (0, 100, 539):
        h = [max(0.0, sum(model.x_test[s, i] * model.weights[0][i, j] for i in range(64))
                 + model.biases[0][j]) for j in range(32)]
        out = [sum(h[j] * model.weights[1][j, c] for j in range(32)) + model.biases[1][c]
               for c in range(10)]
        np.testing.assert_allclose(logits[s], out, rtol=1e-12, atol=1e-12)
    assert np.mean(mlp.predict(logits) == model.y_test) > 0.95


def test_training_is_deterministic(model):
    """A fresh training run gives the weights of the cached model bit for bit (trained by
    an earlier process, or by this one's fixture if the cache was empty)."""
    weights, biases, iterations = digits.train()
    assert iterations == model.iterations
    for a, b in zip(weights + biases, model.weights + model.biases):
        assert np.array_equal(a, b)


def test_docstring_example():
    assert doctest.testmod(mlp, verbose=False).failed == 0
