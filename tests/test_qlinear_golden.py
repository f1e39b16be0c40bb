"""golden/qlinear.py against onnxruntime itself and against exact integer arithmetic.

- ``onnx`` mode: one-node ONNX models (QGemm, QLinearMatMul, QuantizeLinear,
  DequantizeLinear) run by onnxruntime's CPU kernels, with random shapes, scales, zero
  points, biases and per-tensor or per-channel weights; outputs compared code for code.
  uint8 activations are tested with 7-bit weights (see golden.qlinear's docstring: on x86
  without VNNI onnxruntime's uint8 kernel saturates pairs of products in 16 bits).
- ``fixed`` mode and `quantize_multiplier`: Python integers and `fractions.Fraction`.
- BitLinear: its quantizers against Fraction references, its product exact.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from golden import formats, qlinear
from models import onnx_linear

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

INT8, UINT8 = formats.IntFormat(8, True), formats.IntFormat(8, False)
_NP = {INT8: np.int8, UINT8: np.uint8}
_TP = {INT8: TensorProto.INT8, UINT8: TensorProto.UINT8}


def _ort(node, inits, x, x_type, y_type, y_shape):
    """onnxruntime's output of one node with input "x" and output "y"."""
    graph = helper.make_graph(
        [node], "one", [helper.make_tensor_value_info("x", x_type, list(x.shape))],
        [helper.make_tensor_value_info("y", y_type, list(y_shape))],
        [numpy_helper.from_array(np.asarray(v), name) for name, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    runner = onnx_linear.session(model)
    return runner.run(None, {"x": x})[0]


def _random_layer(rng, a_fmt, per_channel, w_zero_points=False):
    m, k, n = (int(v) for v in (rng.integers(1, 40), rng.integers(1, 300), rng.integers(1, 40)))
    w_hi = 64 if a_fmt is UINT8 else 128           # (7-bit weights with uint8, see above)
    weights = rng.integers(-w_hi, w_hi, size=(k, n))
    w_scale = rng.uniform(1e-3, 0.1, size=n if per_channel else 1).astype(np.float32)
    w_zp = (rng.integers(-20, 21, size=w_scale.size) if w_zero_points
            else np.zeros(w_scale.size, dtype=np.int64))
    if w_zero_points:
        weights = np.clip(weights, -128 + 20, 127 - 20)
    layer = qlinear.QLinear(
        weights=INT8.encode(weights.astype(np.float64)), w_fmt=INT8, w_scale=w_scale,
        w_zp=w_zp, bias=rng.integers(-2**20, 2**20, size=n), a_fmt=a_fmt,
        a_scale=np.float32(rng.uniform(1e-3, 0.1)),
        a_zp=int(rng.integers(a_fmt.min_value, a_fmt.max_value + 1)), y_fmt=a_fmt,
        y_scale=np.float32(rng.uniform(0.01, 2.0)),
        y_zp=int(rng.integers(a_fmt.min_value, a_fmt.max_value + 1)))
    x = rng.integers(a_fmt.min_value, a_fmt.max_value + 1, size=(m, k))
    return layer, x


def _inits(layer, with_bias):
    values = {"a_scale": np.float32(layer.a_scale), "a_zp": _NP[layer.a_fmt](layer.a_zp),
              "w": INT8.decode_int(layer.weights).astype(np.int8),
              "w_scale": layer.w_scale if layer.w_scale.size > 1 else layer.w_scale[:1],
              "w_zp": layer.w_zp.astype(np.int8), "y_scale": np.float32(layer.y_scale),
              "y_zp": _NP[layer.y_fmt](layer.y_zp)}
    if with_bias:
        values["bias"] = layer.bias.astype(np.int32)
    return values


def _distinct_channels(layer, per_channel):
    """Per-tensor layers carry one scale/zero point for every channel (as ONNX does)."""
    if per_channel:
        return layer
    return qlinear.QLinear(**{**layer.__dict__, "w_scale": layer.w_scale[:1],
                              "w_zp": layer.w_zp[:1]})


@pytest.mark.parametrize("a_fmt", [INT8, UINT8], ids=["int8", "uint8"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
def test_qgemm_matches_onnxruntime(a_fmt, per_channel):
    rng = np.random.default_rng(11 + per_channel + 2 * (a_fmt is UINT8))
    for trial in range(60):
        layer, x = _random_layer(rng, a_fmt, per_channel, w_zero_points=trial % 3 == 2)
        layer = _distinct_channels(layer, per_channel)
        inits = _inits(layer, with_bias=True)
        node = helper.make_node("QGemm", ["x", "a_scale", "a_zp", "w", "w_scale", "w_zp",
                                          "bias", "y_scale", "y_zp"], ["y"],
                                domain="com.microsoft")
        got = _ort(node, inits, x.astype(_NP[a_fmt]), _TP[a_fmt], _TP[a_fmt],
                   (x.shape[0], layer.shape[1]))
        expected = a_fmt.decode_int(layer.forward(a_fmt.encode(x.astype(np.float64))))
        mismatch = np.argwhere(expected != got)
        assert mismatch.size == 0, (f"trial {trial} (K={layer.shape[0]}): "
                                    f"{len(mismatch)} outputs differ, first at "
                                    f"{mismatch[0].tolist()}")


def _qgemm_of_accumulators(acc, a_scale, w_scale, y_scale):
    """onnxruntime's QGemm outputs (int8) for accumulators `acc` (one per channel): K = 1,
    a zero input, the accumulator set by the bias."""
    n = len(acc)
    layer = qlinear.QLinear(weights=np.zeros((1, n), dtype=np.uint64), w_fmt=INT8,
                            w_scale=np.asarray(w_scale, dtype=np.float32),
                            w_zp=np.zeros(n, dtype=np.int64), bias=np.asarray(acc),
                            a_fmt=INT8, a_scale=np.float32(a_scale), a_zp=0, y_fmt=INT8,
                            y_scale=np.float32(y_scale), y_zp=0)
    node = helper.make_node("QGemm", ["x", "a_scale", "a_zp", "w", "w_scale", "w_zp", "bias",
                                      "y_scale", "y_zp"], ["y"], domain="com.microsoft")
    x = np.zeros((1, 1), dtype=np.int8)
    got = _ort(node, _inits(layer, with_bias=True), x, TensorProto.INT8, TensorProto.INT8,
               (1, n))
    return layer, got[0]


def test_qgemm_requantization_edges_match_onnxruntime():
    """Accumulators chosen where the details decide the code: the scale's order of
    operations (a_scale * w_scale first, then / y_scale), float32(acc) before the
    multiply, and ties to even. Each case is checked to tell the documented rule from
    the alternative, so the test fails if golden takes the alternative."""
    rng = np.random.default_rng(17)
    a_scale, y_scale = np.float32(0.0123), np.float32(0.731)
    w_scale, acc = [], []
    while len(w_scale) < 48:                      # scales whose two orders differ by an ulp
        w = np.float32(rng.uniform(1e-4, 5e-4))
        s1, s2 = (a_scale * w) / y_scale, a_scale * (w / y_scale)
        if s1 == s2:
            continue
        k = rng.integers(-120, 120) + 0.5         # acc s1 and acc s2 straddle k + 1/2
        a = int(np.rint(k / float(s1)))
        for candidate in range(a - 3, a + 4):
            q1 = np.rint(np.float32(candidate) * s1)
            q2 = np.rint(np.float32(candidate) * s2)
            if q1 != q2:
                w_scale.append(w), acc.append(candidate)
                break
    layer, got = _qgemm_of_accumulators(acc, a_scale, w_scale, y_scale)
    assert np.array_equal(INT8.decode_int(layer.forward(np.zeros((1, 1), np.uint64)))[0],
                          got)
    # ties: s = 0.5 exactly, odd accumulators -> half to even; float32(acc) rounding
    # 64.5 * 2^18 + 1 > 2^24 is odd: float32 rounds it to the tie 64.5 * 2^18 (even), so
    # the code is 64, not the exact 65
    acc = [1, 3, 5, 7, -1, -3, -5, 64.5 * 2**18 + 1, -(64.5 * 2**18 + 1), 66.5 * 2**18 + 1]
    acc = [int(a) for a in acc]
    scales = [0.5] * 7 + [2.0 ** -18] * 3
    while len(acc) < 30:            # float32(acc) first, not the exact acc times s
        scale = np.float32(rng.uniform(2.0 ** -19, 2.0 ** -18))
        middle = int((int(rng.integers(40, 60)) + 0.5) / float(scale))  # acc s near k + 1/2
        for candidate in range(middle - 5, middle + 6):
            by_float32 = np.rint(np.float32(candidate) * scale)
            by_exact = np.rint(np.float32(np.float64(candidate) * np.float64(scale)))
            if by_float32 != by_exact:
                acc.append(candidate), scales.append(scale)
                break
    layer, got = _qgemm_of_accumulators(acc, 1.0, scales, 1.0)
    expected = INT8.decode_int(layer.forward(np.zeros((1, 1), np.uint64)))[0]
    assert np.array_equal(expected, got)
    assert expected[:7].tolist() == [0, 2, 2, 4, 0, -2, -2]
    exact = [round(Fraction(a) * Fraction(float(s))) for a, s in zip(acc[7:], scales[7:])]
    assert expected[7:10].tolist() == [64, -64, 66] and exact[:3] == [65, -65, 67]


def test_qlinearmatmul_matches_onnxruntime():
    rng = np.random.default_rng(5)
    for trial in range(40):
        layer, x = _random_layer(rng, INT8, per_channel=trial % 2 == 0)
        layer = qlinear.QLinear(**{**layer.__dict__, "bias": np.zeros(layer.shape[1],
                                                                      dtype=np.int64)})
        layer = _distinct_channels(layer, trial % 2 == 0)
        node = helper.make_node("QLinearMatMul", ["x", "a_scale", "a_zp", "w", "w_scale",
                                                  "w_zp", "y_scale", "y_zp"], ["y"])
        got = _ort(node, _inits(layer, with_bias=False), x.astype(np.int8), TensorProto.INT8,
                   TensorProto.INT8, (x.shape[0], layer.shape[1]))
        expected = INT8.decode_int(layer.forward(INT8.encode(x.astype(np.float64))))
        assert np.array_equal(expected, got), f"trial {trial}"


@pytest.mark.parametrize("fmt", [INT8, UINT8], ids=["int8", "uint8"])
def test_quantize_and_dequantize_match_onnxruntime(fmt):
    """A million values per scale: enough to tell x / scale from x * (1 / scale), which
    differ in about 1 of 10^5 roundings."""
    rng = np.random.default_rng(2)
    x = (rng.normal(size=1_000_000) * 40).astype(np.float32)
    x[:4] = [np.inf, -np.inf, 3e38, -0.0]
    multiply_differs = False
    for scale in (0.37, 0.01, 1 / 3, 0.0123):
        scale = np.float32(scale)
        zp = -3 if fmt.signed else 120
        inits = {"s": scale, "z": _NP[fmt](zp)}
        got = _ort(helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"]), inits, x,
                   TensorProto.FLOAT, _TP[fmt], x.shape)
        codes = qlinear.quantize(x, scale, zp, fmt)
        assert np.array_equal(fmt.decode_int(codes), got), f"scale {scale}"
        with np.errstate(over="ignore"):
            by_reciprocal = np.clip(np.rint(x * (np.float32(1) / scale)) + zp,
                                    fmt.min_value, fmt.max_value)
        multiply_differs |= not np.array_equal(by_reciprocal, got)
        back = _ort(helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"]), inits,
                    got, _TP[fmt], TensorProto.FLOAT, x.shape)
        assert np.array_equal(qlinear.dequantize(codes, scale, zp, fmt).view(np.uint32),
                              back.view(np.uint32))
    assert multiply_differs, "the test cannot tell division from multiplication"


def test_quantize_rejects_nan_and_bad_scales():
    with pytest.raises(ValueError, match="NaN"):
        qlinear.quantize([np.nan], 0.5, 0, INT8)
    with pytest.raises(ValueError, match="scale must be finite and positive"):
        qlinear.quantize([1.0], 0.0, 0, INT8)
    with pytest.raises(TypeError, match="fmt must be an IntFormat"):
        qlinear.quantize([1.0], 0.5, 0, "int8")


@pytest.mark.parametrize("bits", [31, 24, 16, 8, 2])
def test_quantize_multiplier_against_fractions(bits):
    rng = np.random.default_rng(bits)
    scales = np.concatenate([rng.uniform(1e-6, 0.99, size=500),
                             [0.5, 1.0, 2.0 ** -20, 0.75]]).astype(np.float32)
    m, shift = qlinear.quantize_multiplier(scales, bits)
    for scale, mi, si in zip(scales.tolist(), m.tolist(), shift.tolist()):
        exact = Fraction(scale)
        assert (1 << (bits - 1)) <= mi < (1 << bits) or mi == 1 << (bits - 1)
        error = abs(Fraction(mi, 1 << si) - exact)
        # rounded to nearest: within half a unit of the multiplier's last bit
        assert error <= Fraction(1, 1 << (si + 1)), (scale, mi, si)
        if bits >= 24:
            assert error == 0
    with pytest.raises(ValueError, match="bits must be"):
        qlinear.quantize_multiplier(0.5, bits=32)
    with pytest.raises(ValueError, match=r"scale 1099511627776.0 needs a shift outside 1..62"):
        qlinear.quantize_multiplier(2.0 ** 40)


@pytest.mark.parametrize("bits", [31, 16, 8])
def test_fixed_requantization_against_integers(bits):
    """``(acc m + 2^(shift-1)) >> shift`` is floor(acc m / 2^shift + 1/2), then + zp,
    saturated, ReLU as max with zp: recomputed with Fractions."""
    rng = np.random.default_rng(bits)
    acc = np.concatenate([rng.integers(-2**31, 2**31, size=300),
                          rng.integers(-5000, 5000, size=300), [-2**31, 2**31 - 1, 0]])
    scale = rng.uniform(1e-4, 0.05, size=acc.size).astype(np.float32)
    # exact ties (acc m / 2^shift = k + 1/2): round half up, not down
    acc[:40], scale[:40] = 2 * np.arange(-20, 20) + 1, 0.5
    acc[40:60], scale[40:60] = 4 * np.arange(-10, 10) + 2, 0.25
    for act in ("none", "relu"):
        got = INT8.decode_int(qlinear.requantize(acc[None, :], scale=scale, y_zp=-7,
                                                 y_fmt=INT8, mode="fixed",
                                                 multiplier_bits=bits, act=act))[0]
        m, shift = qlinear.quantize_multiplier(scale, bits)
        for a, mi, si, g in zip(acc.tolist(), m.tolist(), shift.tolist(), got.tolist()):
            q = math.floor(Fraction(a * mi, 1 << si) + Fraction(1, 2)) - 7
            q = min(max(q, -128), 127)
            if act == "relu":
                q = max(q, -7)
            assert g == q, (a, mi, si, act)


def test_onnx_requantization_is_float32_then_round_half_even():
    """Ties and the float32 rounding of the product, recomputed with Fractions."""
    scale = np.float32(0.5)
    acc = np.array([[1, 3, 5, -1, -3, 2**24 + 1, 2**25 + 3]])
    got = INT8.decode_int(qlinear.requantize(acc, scale=scale, y_zp=0, y_fmt=INT8))
    assert got.tolist() == [[0, 2, 2, 0, -2, 127, 127]]
    # float32(16777217) = 16777216: the acc is rounded before the multiply
    scale = np.float32(2.0 ** -24) * np.float32(100)
    got = INT8.decode_int(qlinear.requantize(np.array([[2**24 + 1]]), scale=scale, y_zp=0,
                                             y_fmt=INT8))
    product = Fraction(float(np.float32(2**24 + 1))) * Fraction(float(scale))
    assert got[0, 0] == round(product)


def test_accumulator_wraps_to_int32_and_folds_zero_points():
    layer = qlinear.QLinear(weights=INT8.encode(np.full((2, 1), 100.0)), w_fmt=INT8,
                            w_scale=[0.1], w_zp=[3], bias=[2**31 - 10], a_fmt=UINT8,
                            a_scale=0.1, a_zp=5, y_fmt=UINT8, y_scale=1.0, y_zp=0)
    x = np.array([[7, 9]], dtype=np.uint64)
    exact = 2**31 - 10 + (7 - 5) * (100 - 3) + (9 - 5) * (100 - 3)
    assert layer.accumulate(x)[0, 0] == exact - 2**32
    codes, fmt = layer.array_operands()
    assert fmt == formats.IntFormat(9, True)       # W - w_zp needs a ninth bit in general
    assert layer.array_sums(x)[0, 0] == (7 + 9) * 97


def test_qlinear_and_qmodel_errors():
    good = dict(weights=np.zeros((3, 2), dtype=np.uint64), w_fmt=INT8, w_scale=[0.1],
                w_zp=[0], bias=[0], a_fmt=INT8, a_scale=0.5, a_zp=0, y_fmt=INT8,
                y_scale=0.25, y_zp=1, name="fc")
    with pytest.raises(ValueError, match="fc: weights must be"):
        qlinear.QLinear(**{**good, "weights": np.zeros(3)})
    with pytest.raises(ValueError, match="act must be one of"):
        qlinear.QLinear(**{**good, "act": "gelu"})
    layer = qlinear.QLinear(**good)
    with pytest.raises(ValueError, match=r"fc: input quantization .* differs from the "
                                         r"input's output"):
        qlinear.QModel(layers=(layer,), in_scale=0.25, in_zp=0, in_fmt=INT8)
    with pytest.raises(ValueError, match="mode must be one of"):
        layer.forward(np.zeros((1, 3), dtype=np.uint64), mode="float")


def _float32(value):
    return Fraction(float(np.float32(value)))


def test_bitlinear_quantizers_against_fractions():
    rng = np.random.default_rng(9)
    w = (rng.normal(size=(64, 24)) * 0.02).astype(np.float32)
    x = (rng.normal(size=(5, 64)) * 3).astype(np.float32)
    x[4] = 0.0                                        # (the 1e-5 floor)
    w_codes, w_scale = qlinear.bitlinear_weights(w)
    mean = _float32(float(sum(Fraction(float(v)) for v in np.abs(w).ravel()) / w.size))
    assert Fraction(float(w_scale)) == _float32(1 / mean)
    for v, code in zip(w.ravel().tolist(), qlinear.TERNARY.decode_int(w_codes).ravel()):
        product = _float32(Fraction(v) * Fraction(float(w_scale)))
        assert code == max(-1, min(1, round(product)))       # round(): half to even
    x_codes, x_scale = qlinear.bitlinear_activations(x)
    for row in range(5):
        peak = max(max(abs(Fraction(float(v))) for v in x[row]), _float32(1e-5))
        assert Fraction(float(x_scale[row, 0])) == _float32(127 / peak)
        for v, code in zip(x[row].tolist(), INT8.decode_int(x_codes[row]).tolist()):
            assert code == max(-128, min(127, round(_float32(Fraction(v) * Fraction(
                float(x_scale[row, 0]))))))
    out = qlinear.bitlinear(x, w)
    acc = INT8.decode_int(x_codes).astype(object) @ qlinear.TERNARY.decode_int(
        w_codes).astype(object)
    for row in range(5):
        denominator = _float32(Fraction(float(x_scale[row, 0])) * Fraction(float(w_scale)))
        for col in range(24):
            assert Fraction(float(out[row, col])) == _float32(_float32(acc[row, col])
                                                              / denominator)
