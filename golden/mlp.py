"""Inference of a dense ReLU MLP with the products of a chosen number format, bit-exact.

Every layer is a set of dot products computed by `golden.dot.dot` with ``acc="fp32"`` —
the model of the hardware dot unit (hdl/dot.py) — so a layer's pre-activations are by
construction what that unit computes for the same operand codes and `lanes`.

What is rounded where (``products`` names the mode, see `PRODUCTS`):

1. Inputs ``x`` (float64) are rounded once, RNE, into the operand format ``fmt`` of the
   mode (FP32, BF16, FP8_E4M3 or FP8_E5M2) with the format's subnormal and overflow
   policies (`FloatFormat.encode`). So are the weights ``W[l]`` (float64, shape
   (inputs, outputs)).
2. Biases ``b[l]`` (float64) are rounded once, RNE, into FP32.
3. A layer's dot product of an activation row and a weight column (K terms, K a multiple
   of `lanes`) is ``golden.dot.dot(act, W, fmt, lanes=lanes, mul=mul, acc="fp32")``:
   each product is an FP32 code, then adder tree per beat and FP32 accumulator, every add
   rounded once (RNE) in the order that docstring defines.

   - ``"fp32"``: ``mul="exact"``, the exact product of two FP32 operands rounded once
     into FP32 (`golden.ops.mul`), i.e. IEEE single-precision multiplication;
   - ``"bf16"``, ``"fp8_e4m3"``, ``"fp8_e5m2"``: ``mul="exact"``, the exact product
     (`golden.ops.mul` into FP32): it has at most 2 × 8 significant bits and lies within
     FP32's normal range, so the conversion to FP32 is exact — no rounding;
   - ``"lmul-bf16"``, ``"lmul-fp8_e4m3"``, ``"lmul-fp8_e5m2"``: ``mul="lmul"``,
     `golden.lmul.lmul` with its defaults (``carry="integer"``, ``offset="paper"``,
     ``subnormal_inputs="flush"``: a subnormal operand counts as zero) and
     ``out_fmt=FP32``: the L-Mul value has m + 1 significant bits, exact in FP32.
4. Pre-activation ``z = dot + b`` in FP32: `golden.ops.add`, rounded once (RNE).
5. Hidden layers: ReLU on the FP32 code (any code with the sign bit set, -0 included,
   becomes +0; NaN passes), then the FP32 value is rounded once, RNE, into ``fmt`` to be
   the next layer's operand (exact for ``"fp32"``).
6. The last layer has no ReLU: its FP32 pre-activations are the logits.

`forward_float64` is the reference: the same network in float64 (NumPy matmul), no format
rounding at all.

`forward_format` is the number-format study's network (posits against floats): every
value lives in one format ``fmt`` (a PositFormat or FloatFormat), and a layer either sums
exactly (``acc="exact"``: the posit quire, or a Kulisch accumulator for floats) or rounds
after every operation (``acc="rounded"``); see its docstring.

Example
-------
>>> import numpy as np
>>> from golden import formats, mlp
>>> w = [np.array([[0.5, -1.0], [0.25, 2.0]]), np.array([[1.0], [1.0]])]
>>> b = [np.array([0.0, 0.5]), np.array([-0.125])]
>>> x = np.array([[1.0, 2.0]])
>>> formats.FP32.decode(mlp.forward(x, w, b, "lmul-fp8_e4m3", lanes=2)).tolist()
[[5.625]]
>>> mlp.forward_float64(x, w, b).tolist()
[[4.375]]

(In E4M3, L-Mul gives 1 × 0.5 -> 0.5625, 2 × 0.25 -> 0.5625, 1 × -1 -> -1.125,
2 × 2 -> 4.5; the hidden value 3.875 rounds to 4.0 in E4M3; 1.125 × 1 -> 1.25,
4 × 1 -> 4.5.)
"""

import numpy as np

from . import dot as dot_mod, formats, ops

__all__ = ["PRODUCTS", "product_mode", "quantize", "relu", "layer_operands", "dense",
           "forward", "forward_float64", "predict", "ACCUMULATIONS", "forward_format"]

ACCUMULATIONS = ("exact", "rounded")

# products mode -> (operand format, multiplier of golden.dot.dot)
_MODES = {
    "fp32": (formats.FP32, "exact"),
    "bf16": (formats.BF16, "exact"),
    "fp8_e4m3": (formats.FP8_E4M3, "exact"),
    "fp8_e5m2": (formats.FP8_E5M2, "exact"),
    "lmul-bf16": (formats.BF16, "lmul"),
    "lmul-fp8_e4m3": (formats.FP8_E4M3, "lmul"),
    "lmul-fp8_e5m2": (formats.FP8_E5M2, "lmul"),
}
PRODUCTS = tuple(_MODES)

_FP32 = formats.FP32
_SIGN32 = np.uint64(1 << 31)


def product_mode(products):
    """(fmt, mul) of a products mode: the operand FloatFormat and ``"exact"`` or ``"lmul"``.

    ValueError naming `products` and the allowed values for anything else.
    """
    if not isinstance(products, str) or products not in _MODES:
        allowed = ", ".join(repr(p) for p in PRODUCTS)
        raise ValueError(f"products must be one of {allowed}, not {products!r}")
    return _MODES[products]


def quantize(values, products):
    """float64 values rounded once (RNE) into the operand format of `products`: codes."""
    fmt, _ = product_mode(products)
    return fmt.encode(np.asarray(values, dtype=np.float64))


def relu(codes):
    """ReLU on FP32 codes: sign bit set (negative, -0) -> +0; NaN and the rest unchanged."""
    codes = np.asarray(codes, dtype=np.uint64)
    _, _, _, nan, _ = _FP32.decompose(codes)
    return np.where(((codes & _SIGN32) != 0) & ~nan, np.uint64(0), codes)


def layer_operands(act, w):
    """The dot unit's operand vectors of a dense layer.

    `act` (samples, K) and `w` (K, outputs) are codes; returns (a, b) of shape
    (samples × outputs, K): row ``s * outputs + j`` is activation row s and weight column j.
    """
    act, w = np.asarray(act, dtype=np.uint64), np.asarray(w, dtype=np.uint64)
    if act.ndim != 2 or w.ndim != 2 or act.shape[1] != w.shape[0]:
        raise ValueError(f"act (samples, K) and w (K, outputs) do not match: {act.shape} "
                         f"and {w.shape}")
    samples, outputs = act.shape[0], w.shape[1]
    a = np.repeat(act, outputs, axis=0)
    b = np.tile(w.T, (samples, 1))
    return a, b


def dense(act, w, products, *, lanes=4):
    """Dot products of a dense layer (no bias): FP32 codes of shape (samples, outputs).

    `act` (samples, K) and `w` (K, outputs) are codes of the operand format of `products`;
    each entry is ``golden.dot.dot`` of an activation row and a weight column (item 3 of
    the module docstring).
    """
    fmt, mul = product_mode(products)
    a, b = layer_operands(act, w)
    out = dot_mod.dot(a, b, fmt, lanes=lanes, mul=mul, acc="fp32")
    return out.reshape(np.asarray(act).shape[0], np.asarray(w).shape[1])


def _check_network(x, weights, biases):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (samples, inputs), not {x.shape}")
    if len(weights) != len(biases) or not weights:
        raise ValueError(f"weights and biases must be non-empty lists of equal length, not "
                         f"{len(weights)} and {len(biases)}")
    width = x.shape[1]
    for index, (w, b) in enumerate(zip(weights, biases)):
        w, b = np.asarray(w), np.asarray(b)
        if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
            raise ValueError(f"layer {index}: weights {w.shape} and bias {b.shape} do not "
                             f"take {width} inputs")
        width = w.shape[1]
    return x


def forward(x, weights, biases, products, *, lanes=4, first_dots=None):
    """Logits of the MLP with the arithmetic of `products` (see the module docstring).

    Parameters
    ----------
    x : array-like of float, shape (samples, inputs)
    weights : list of array-like of float, shape (inputs, outputs) per layer
    biases : list of array-like of float, shape (outputs,) per layer
    products : str
        One of `PRODUCTS`.
    lanes : int
        Lanes of the dot unit: sets the summation order (every layer's K must be a
        multiple of it).
    first_dots : array-like of int, shape (samples, outputs of layer 0), or None
        FP32 codes to use as the first layer's dot products (before the bias) instead of
        computing them, e.g. the RTL dot unit's results; None computes them with `dense`.

    Returns
    -------
    numpy.ndarray of uint64, shape (samples, classes)
        FP32 codes of the logits.
    """
    x = _check_network(x, weights, biases)
    fmt, _ = product_mode(products)
    act = quantize(x, products)
    for index, (w, b) in enumerate(zip(weights, biases)):
        wq = quantize(w, products)
        if index == 0 and first_dots is not None:
            dots = np.asarray(first_dots, dtype=np.uint64)
            if dots.shape != (x.shape[0], wq.shape[1]):
                raise ValueError(f"first_dots must have shape {(x.shape[0], wq.shape[1])}, "
                                 f"not {dots.shape}")
        else:
            dots = dense(act, wq, products, lanes=lanes)
        z = ops.add(dots, _FP32.encode(np.asarray(b, dtype=np.float64))[None, :], _FP32)
        if index == len(weights) - 1:
            return z
        act = fmt.encode(_FP32.decode(relu(z)))


def _exact_layer(a, b, fmt):
    """Rows of (a, b) summed exactly and rounded once into `fmt`."""
    guard_bits = max(int(a.shape[1] - 1).bit_length(), 1)
    if isinstance(fmt, formats.PositFormat):
        return ops.quire_dot(a, b, fmt, guard_bits=max(guard_bits, fmt.n - 2))
    return dot_mod.dot(a, b, fmt, lanes=1, mul="exact", acc="kulisch",
                       guard_bits=guard_bits, out_fmt=fmt)


def forward_format(x, weights, biases, fmt, *, acc):
    """Logits (codes of `fmt`) of the MLP with every value in number format `fmt`.

    Inputs, weights and biases (float64) are rounded once into `fmt` (RNE; posits on the
    bit pattern). Each output of a layer is ``z = sum_k act[k] * w[k] + b``:

    - ``acc="exact"``: the products and their sum with the bias are exact, and z is
      rounded once into `fmt`: the posit quire (`golden.ops.quire_dot`, the bias as a
      term ``b * 1``), or for floats a Kulisch accumulator (`golden.dot.dot` with
      ``mul="exact"``, ``acc="kulisch"``, ``out_fmt=fmt``);
    - ``acc="rounded"``: every product is rounded into `fmt` (`golden.ops.mul`) and added
      to the running sum in k order, every sum rounded into `fmt` (`golden.ops.add`),
      the bias last.

    Hidden layers apply ReLU (a negative value becomes 0; NaN and NaR stay), and their
    codes are the next layer's operands. Returns the last layer's codes, shape
    (samples, classes).
    """
    if not isinstance(fmt, (formats.PositFormat, formats.FloatFormat)):
        raise TypeError(f"fmt must be a PositFormat or FloatFormat, not {fmt!r}")
    if acc not in ACCUMULATIONS:
        raise ValueError(f"acc must be one of {', '.join(map(repr, ACCUMULATIONS))}, "
                         f"not {acc!r}")
    x = _check_network(x, weights, biases)
    act = fmt.encode(x)
    one = fmt.encode(np.array([1.0]))
    for index, (w, b) in enumerate(zip(weights, biases)):
        wq = fmt.encode(np.asarray(w, dtype=np.float64))
        bq = fmt.encode(np.asarray(b, dtype=np.float64))
        samples, outputs = act.shape[0], wq.shape[1]
        a, bb = layer_operands(act, wq)
        if acc == "exact":
            a = np.concatenate([a, np.tile(bq, samples)[:, None]], axis=1)
            bb = np.concatenate([bb, np.full((a.shape[0], 1), one[0], dtype=np.uint64)],
                                axis=1)
            z = _exact_layer(a, bb, fmt)
        else:
            z = ops.mul(a[:, 0], bb[:, 0], fmt)
            for k in range(1, a.shape[1]):
                z = ops.add(z, ops.mul(a[:, k], bb[:, k], fmt), fmt)
            z = ops.add(z, np.tile(bq, samples), fmt)
        z = z.reshape(samples, outputs)
        if index == len(weights) - 1:
            return z
        values = fmt.decode(z)
        act = np.where(values < 0, fmt.encode(np.array([0.0]))[0], z)


def forward_float64(x, weights, biases):
    """Reference logits in float64: ``relu(x @ W + b)`` per hidden layer, no rounding to
    any format (NumPy matmul order)."""
    act = _check_network(x, weights, biases)
    for index, (w, b) in enumerate(zip(weights, biases)):
        act = act @ np.asarray(w, dtype=np.float64) + np.asarray(b, dtype=np.float64)
        if index < len(weights) - 1:
            act = np.maximum(act, 0.0)
    return act


def predict(logits):
    """Predicted classes: the index of the largest logit per row (float64 values; the
    first one on ties, NaN counts as largest as in `numpy.argmax`)."""
    return np.argmax(np.asarray(logits, dtype=np.float64), axis=1)
