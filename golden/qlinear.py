"""Quantized linear layers: integer layers with requantization, and BitLinear (ternary).

Integer layer ``Y = act(requant(X W + b))`` (`QLinear`, a chain of them `QModel`):

- ``X``: activation codes of `a_fmt` (int8 or uint8) with zero point ``a_zp``; ``W``: weight
  codes (K, N) of `w_fmt` with per-output-channel zero points ``w_zp`` (0 when symmetric);
  ``b``: int32 bias, in units of ``a_scale * w_scale[n]``.
- Accumulator: ``acc[m, n] = b[n] + sum_k (X[m, k] - a_zp) (W[k, n] - w_zp[n])``, exact,
  then wrapped to int32 (as onnxruntime's int32 accumulator). A MAC array computes the
  part ``sum_k X[m, k] (W[k, n] - w_zp[n])`` (`array_operands`); the rest is a constant per
  column, `folded_bias` = ``b[n] - a_zp sum_k (W[k, n] - w_zp[n])``.
- Requantization (`REQUANT_MODES`), per output channel n, into `y_fmt` with zero point
  ``y_zp``:

  - ``"onnx"``: what onnxruntime (1.32, CPU, QGemm / QLinearMatMul) computes: the scale
    ``s[n] = a_scale * w_scale[n] / y_scale`` in float32 (two roundings, in that order),
    ``float32(acc) * s[n]`` rounded once into float32, clamped to the output range less
    the zero point, rounded to an integer (half to even), plus ``y_zp``;
  - ``"fixed"``: integer only, as integer accelerators and TFLite's single-rounding
    reference kernels do: ``s[n]`` as ``m[n] 2^-shift[n]`` with an unsigned
    `multiplier_bits`-bit m (`quantize_multiplier`), then
    ``(acc m + 2^(shift - 1)) >> shift`` (round half up), plus ``y_zp``, saturated.
- ``act="relu"``: ``max(y, y_zp)``, the quantized ReLU (exactly ReLU on the dequantized
  value, since ``y_zp`` codes 0.0).

`quantize` and `dequantize` are ONNX QuantizeLinear / DequantizeLinear as onnxruntime
computes them: ``x / scale`` in float32, rounded half to even, plus the zero point,
saturated; ``float32(q - zp) * scale``.

The integer arithmetic is exact. onnxruntime's is too for int8 activations, and for uint8
activations with 7-bit weights (its quantizer's ``reduce_range``): on x86 without VNNI its
uint8 x int8 kernel adds pairs of products in 16 bits with saturation (measured here, AVX2:
93 of 200 random uint8 layers with full-range int8 weights differ, none with 7-bit ones),
which this model does not reproduce.

BitLinear (`bitlinear`), as in the MatMul-free LM (and BitNet b1.58), in float32:

- weights ternary with one per-tensor scale: ``w_scale = 1 / max(mean|w|, 1e-5)``,
  ``w_q = clip(rint(w * w_scale), -1, 1)``; ``mean|w|`` is the exactly rounded sum
  (``math.fsum``) divided by the count in float64, then rounded to float32;
- activations int8 with one scale per row (token): ``x_scale = 127 / max(max|x|, 1e-5)``,
  ``x_q = clip(rint(x * x_scale), -128, 127)``;
- output ``float32(x_q w_q) / (x_scale * w_scale)``.

Each float32 operation is rounded once (half to even) in the order written; the integer
product is exact (the ternary MAC array computes it).
"""

import dataclasses
import math

import numpy as np

from . import checks, formats

__all__ = ["REQUANT_MODES", "quantize", "dequantize", "output_scale", "quantize_multiplier",
           "requantize", "QLinear", "QModel", "bitlinear_weights", "bitlinear_activations",
           "bitlinear"]

REQUANT_MODES = ("onnx", "fixed")
ACTIVATIONS = ("none", "relu")
_INT32 = 1 << 32


def _int_fmt(name, fmt):
    if not isinstance(fmt, formats.IntFormat):
        raise TypeError(f"{name} must be an IntFormat, not {fmt!r}")
    return fmt


def _f32(name, value):
    value = np.asarray(value, dtype=np.float32)
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise ValueError(f"{name} must be finite and positive, not {value!r}")
    return value


def quantize(x, scale, zero_point, fmt):
    """ONNX QuantizeLinear (onnxruntime, CPU): codes of `fmt` for float32 `x`.

    ``rint(float32(x) / float32(scale)) + zero_point``, saturated to `fmt` (rint: half to
    even). `scale` is a scalar or broadcasts against `x`. NaN raises ValueError.
    """
    fmt = _int_fmt("fmt", fmt)
    x = np.asarray(x, dtype=np.float32)
    if np.any(np.isnan(x)):
        raise ValueError("x has NaN values; QuantizeLinear has no code for NaN")
    with np.errstate(over="ignore"):
        q = np.rint(x / _f32("scale", scale))
    return fmt.encode(q.astype(np.float64) + np.asarray(zero_point, dtype=np.float64))


def dequantize(codes, scale, zero_point, fmt):
    """ONNX DequantizeLinear (onnxruntime, CPU): ``float32(q - zero_point) * scale``."""
    values = _int_fmt("fmt", fmt).decode_int(np.asarray(codes)).astype(np.int64)
    diff = (values - np.asarray(zero_point, dtype=np.int64)).astype(np.float32)
    return diff * _f32("scale", scale)


def output_scale(a_scale, w_scale, y_scale):
    """onnxruntime's requantization scale per channel: ``a_scale * w_scale / y_scale`` in
    float32, the product rounded first (float32 array)."""
    product = _f32("a_scale", a_scale) * _f32("w_scale", w_scale)
    return product / _f32("y_scale", y_scale)


def quantize_multiplier(scale, bits=31):
    """Integer form (m, shift) of each positive float `scale`: ``scale ~ m / 2^shift`` with
    m an unsigned `bits`-bit integer in [2^(bits-1), 2^bits) (round half to even; a float32
    scale is exact with bits >= 24) and shift 1..62.

    Returns (m, shift), int64 arrays of the shape of `scale`.
    """
    bits = checks.integer("bits", bits, lo=2, hi=31)
    scale = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(f"scale must be finite and positive, not {scale!r}")
    mantissa, exponent = np.frexp(scale)               # scale = mantissa 2^exponent, [0.5, 1)
    m = np.rint(mantissa * float(1 << bits)).astype(np.int64)
    carry = m == (1 << bits)
    m, exponent = np.where(carry, m >> 1, m), np.where(carry, exponent + 1, exponent)
    shift = bits - exponent.astype(np.int64)
    bad = (shift < 1) | (shift > 62)
    if np.any(bad):
        raise ValueError(f"scale {float(scale[bad].flat[0])!r} needs a shift outside 1..62 "
                         f"with a {bits}-bit multiplier")
    return m, shift


def requantize(acc, *, scale, y_zp, y_fmt, mode="onnx", multiplier_bits=31, act="none"):
    """Codes of `y_fmt` from int32 accumulators `acc` (..., N), per channel n (last axis).

    `scale`: the float32 scale per channel (`output_scale`); `mode` "onnx" or "fixed" and
    `multiplier_bits` (fixed only) as in the module docstring; `act` "none" or "relu".
    """
    y_fmt = _int_fmt("y_fmt", y_fmt)
    checks.choice("mode", mode, REQUANT_MODES)
    checks.choice("act", act, ACTIVATIONS)
    acc = np.asarray(acc, dtype=np.int64)
    lo, hi = y_fmt.min_value - int(y_zp), y_fmt.max_value - int(y_zp)
    if mode == "onnx":
        value = acc.astype(np.float32) * _f32("scale", scale)
        q = np.rint(np.clip(value, np.float32(lo), np.float32(hi))).astype(np.int64)
    else:
        m, shift = quantize_multiplier(np.broadcast_to(_f32("scale", scale), acc.shape[-1:]),
                                       multiplier_bits)
        # |acc| < 2^31 and m < 2^31: the product fits int64 exactly.
        q = np.clip((acc * m + (np.int64(1) << (shift - 1))) >> shift, lo, hi)
    y = q + int(y_zp)
    if act == "relu":
        y = np.maximum(y, int(y_zp))
    return y_fmt.encode(y.astype(np.float64))


def _wrap_int32(values):
    return (values + (1 << 31)) % _INT32 - (1 << 31)


@dataclasses.dataclass(frozen=True)
class QLinear:
    """One integer linear layer ``Y = act(requant(X W + b))`` (module docstring).

    Members
    -------
    weights : numpy.ndarray (K, N)
        Codes of `w_fmt`.
    w_fmt, a_fmt, y_fmt : IntFormat
        Weight, input and output formats.
    w_scale, w_zp : numpy.ndarray (N,)
        Per-channel weight scales (float32) and zero points (ints).
    bias : numpy.ndarray (N,)
        int32 bias values (in units of ``a_scale * w_scale``).
    a_scale, a_zp, y_scale, y_zp : float, int
    act : "none" or "relu"
    name : str
        Where the layer came from (e.g. the ONNX node), for messages.
    """

    weights: np.ndarray
    w_fmt: formats.IntFormat
    w_scale: np.ndarray
    w_zp: np.ndarray
    bias: np.ndarray
    a_fmt: formats.IntFormat
    a_scale: float
    a_zp: int
    y_fmt: formats.IntFormat
    y_scale: float
    y_zp: int
    act: str = "none"
    name: str = "layer"

    def __post_init__(self):
        for field in ("w_fmt", "a_fmt", "y_fmt"):
            _int_fmt(field, getattr(self, field))
        checks.choice("act", self.act, ACTIVATIONS)
        weights = np.asarray(self.weights)
        if weights.ndim != 2:
            raise ValueError(f"{self.name}: weights must be (K, N) codes, not shape "
                             f"{weights.shape}")
        n = weights.shape[1]
        for field in ("w_scale", "w_zp", "bias"):
            value = np.broadcast_to(np.asarray(getattr(self, field)), (n,))
            object.__setattr__(self, field, value)
        object.__setattr__(self, "weights", weights)

    @property
    def shape(self):
        """(K, N)."""
        return self.weights.shape

    def array_operands(self):
        """(codes, fmt): the weights less their zero points, ``W[k, n] - w_zp[n]``, as codes
        of the narrowest IntFormat that holds them (`w_fmt` when every zero point is 0)."""
        values = self.w_fmt.decode_int(self.weights).astype(np.int64) - self.w_zp.astype(
            np.int64)
        fmt = self.w_fmt
        if not np.all(self.w_zp == 0):
            fmt = formats.IntFormat(self.w_fmt.bits + 1, True)
        return fmt.encode(values.astype(np.float64)), fmt

    def folded_bias(self):
        """``b[n] - a_zp sum_k (W[k, n] - w_zp[n])`` (int64): what the accumulator adds to
        the array's sums."""
        codes, fmt = self.array_operands()
        return self.bias.astype(np.int64) - int(self.a_zp) * fmt.decode_int(codes).astype(
            np.int64).sum(axis=0)

    def array_sums(self, x):
        """``sum_k X[m, k] (W[k, n] - w_zp[n])`` (int64, exact): the MAC array's part."""
        codes, fmt = self.array_operands()
        return self.a_fmt.decode_int(np.asarray(x)).astype(np.int64) @ fmt.decode_int(
            codes).astype(np.int64)

    def accumulate(self, x, sums=None):
        """The int32 accumulators for input codes `x` (M, K); `sums` replaces
        `array_sums(x)` (e.g. with the RTL array's)."""
        sums = self.array_sums(x) if sums is None else np.asarray(sums, dtype=np.int64)
        return _wrap_int32(sums + self.folded_bias())

    def scale(self):
        """The float32 requantization scale per channel (`output_scale`)."""
        return output_scale(self.a_scale, self.w_scale, self.y_scale)

    def requantize(self, acc, mode="onnx", multiplier_bits=31):
        return requantize(acc, scale=self.scale(), y_zp=self.y_zp, y_fmt=self.y_fmt,
                          mode=mode, multiplier_bits=multiplier_bits, act=self.act)

    def forward(self, x, mode="onnx", sums=None, multiplier_bits=31):
        """Output codes (M, N) of `y_fmt` for input codes `x` (M, K)."""
        return self.requantize(self.accumulate(x, sums), mode, multiplier_bits)


@dataclasses.dataclass(frozen=True)
class QModel:
    """A chain of `QLinear` layers between a QuantizeLinear and a DequantizeLinear.

    Members
    -------
    layers : tuple of QLinear
        Each layer's input parameters are the previous one's output parameters.
    in_scale, in_zp, in_fmt : the input quantization.
    """

    layers: tuple
    in_scale: float
    in_zp: int
    in_fmt: formats.IntFormat

    def __post_init__(self):
        if not self.layers:
            raise ValueError("a QModel needs at least one layer")
        previous = (self.in_fmt, np.float32(self.in_scale), int(self.in_zp), "the input")
        for layer in self.layers:
            given = (layer.a_fmt, np.float32(layer.a_scale), int(layer.a_zp))
            if given != previous[:3]:
                raise ValueError(f"{layer.name}: input quantization {given} differs from "
                                 f"{previous[3]}'s output {previous[:3]}")
            previous = (layer.y_fmt, np.float32(layer.y_scale), int(layer.y_zp), layer.name)

    def forward(self, x, mode="onnx", sums=None, multiplier_bits=31):
        """Float32 outputs for float inputs `x` (M, K0): quantize, every layer, dequantize.

        `sums(index, layer, codes)` may replace each layer's `array_sums` (the RTL
        array's). Returns (outputs float32, [output codes per layer]).
        """
        codes = quantize(x, self.in_scale, self.in_zp, self.in_fmt)
        per_layer = []
        for index, layer in enumerate(self.layers):
            layer_sums = None if sums is None else sums(index, layer, codes)
            codes = layer.forward(codes, mode, layer_sums, multiplier_bits)
            per_layer.append(codes)
        last = self.layers[-1]
        return dequantize(codes, last.y_scale, last.y_zp, last.y_fmt), per_layer


TERNARY = formats.IntFormat(2, True)
INT8 = formats.IntFormat(8, True)
_EPS = np.float32(1e-5)


def bitlinear_weights(w):
    """Ternary weights: (codes of int2 (K, N), w_scale float32) with ``w_scale = 1 /
    max(mean|w|, 1e-5)`` and ``codes = clip(rint(w * w_scale), -1, 1)``."""
    w = np.asarray(w, dtype=np.float32)
    mean = np.float32(math.fsum(np.abs(w).astype(np.float64).ravel().tolist()) / max(w.size, 1))
    w_scale = np.float32(1) / np.maximum(mean, _EPS)
    return TERNARY.encode(np.clip(np.rint(w * w_scale), -1, 1).astype(np.float64)), w_scale


def bitlinear_activations(x):
    """int8 activations per row: (codes (M, K), x_scale float32 (M, 1)) with ``x_scale =
    127 / max(max|x|, 1e-5)`` and ``codes = clip(rint(x * x_scale), -128, 127)``."""
    x = np.asarray(x, dtype=np.float32)
    x_scale = np.float32(127) / np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), _EPS)
    return INT8.encode(np.rint(x * x_scale).astype(np.float64)), x_scale


def bitlinear(x, w, sums=None):
    """BitLinear outputs (M, N) float32 for float inputs `x` (M, K) and weights `w` (K, N).

    `sums(x_codes, w_codes)` may replace the exact integer product ``x_q w_q`` (int64)
    with the ternary array's.
    """
    x_codes, x_scale = bitlinear_activations(x)
    w_codes, w_scale = bitlinear_weights(w)
    if sums is None:
        acc = INT8.decode_int(x_codes).astype(np.int64) @ TERNARY.decode_int(
            w_codes).astype(np.int64)
    else:
        acc = np.asarray(sums(x_codes, w_codes), dtype=np.int64)
    return acc.astype(np.float32) / (x_scale * w_scale)
