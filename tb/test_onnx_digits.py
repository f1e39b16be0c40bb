"""The digits MLP, quantized by onnxruntime, end to end through the RTL MAC array.

onnxruntime's own quantizer makes the int8 model (`models.onnx_linear.digits_int8`:
QOperator format, per-channel int8 weights, int8 activations); nnrtl reads it from the
.onnx file and runs the whole test split (540 samples) with every layer's integer product
on a 4 x 4 INT8 `hdl.macarray.MACArray` (fast path, random stalls on both streams, each
layer's sums checked against golden), requantized by `golden.qlinear`. In ``onnx`` mode the
outputs are bit-exact with onnxruntime's; ``fixed`` mode with the same array sums is
bit-exact with its golden model.
"""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from models import digits, onnx_linear  # noqa: E402
from tb import gemmbench, harness  # noqa: E402


@pytest.fixture(scope="module")
def quantized():
    path = onnx_linear.digits_int8()
    return path, onnx_linear.read(path), digits.model().x_test.astype(np.float32)


def test_digits_int8_on_the_array_is_bit_exact_with_onnxruntime(quantized):
    path, model, x = quantized
    reference = onnx_linear.run_onnxruntime(path, x)
    seed = harness.bench_seed()
    sums = gemmbench.layer_sums_on_array(rows=4, cols=4, seed=seed)
    outputs, _ = model.forward(x, "onnx", sums=sums)
    assert [name for name, _ in sums.runs] == [layer.name for layer in model.layers]
    differ = np.argwhere(outputs.view(np.uint32) != reference.view(np.uint32))
    assert differ.size == 0, (f"seed {seed}: {len(differ)} outputs differ from "
                              f"onnxruntime's, first at {differ[:3].tolist()}")
    golden_fixed, _ = model.forward(x, "fixed", multiplier_bits=16)
    array_fixed, _ = model.forward(x, "fixed", multiplier_bits=16, sums=gemmbench.
                                   layer_sums_on_array(rows=4, cols=4, seed=seed + 10))
    assert np.array_equal(array_fixed.view(np.uint32), golden_fixed.view(np.uint32))


def test_the_bench_fails_when_a_layer_is_one_off(quantized, monkeypatch):
    """The comparison can fail: golden's first layer one unit off in one requantized
    output changes what is compared with onnxruntime."""
    path, model, x = quantized
    reference = onnx_linear.run_onnxruntime(path, x[:8])
    layer = model.layers[0]
    real = type(layer).requantize

    def off_by_one(self, acc, mode="onnx", multiplier_bits=31):
        codes = real(self, acc, mode, multiplier_bits)
        if self is layer:
            codes = codes.copy()
            codes[0, 0] = (codes[0, 0] + 1) % 256
        return codes

    monkeypatch.setattr(type(layer), "requantize", off_by_one)
    outputs, _ = model.forward(x[:8], "onnx")
    assert not np.array_equal(outputs, reference)
