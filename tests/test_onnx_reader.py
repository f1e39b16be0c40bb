"""models/onnx_linear.py: reading quantized ONNX models, and its one-line errors.

The digits model (made by onnxruntime's quantizer) is read into two layers whose golden
outputs are bit-exact with onnxruntime's on the test split (the RTL run of the same model
is tb/test_onnx_digits.py). Models it cannot map fail with the node and the reason, also
through scripts/onnx_linear.py as one ``error:`` line.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from models import digits, onnx_linear  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits_path():
    return onnx_linear.digits_int8()


def test_digits_model_reads_into_its_layers_and_matches_onnxruntime(digits_path):
    model = onnx_linear.read(digits_path)
    assert [layer.shape for layer in model.layers] == [(64, 32), (32, 10)]
    assert all(str(layer.w_fmt) == "int8" and np.all(layer.w_zp == 0)
               for layer in model.layers)
    assert np.unique(model.layers[0].w_scale).size > 1          # per-channel weights
    x = digits.model().x_test.astype(np.float32)
    reference = onnx_linear.run_onnxruntime(digits_path, x)
    outputs, _ = model.forward(x, "onnx")
    assert np.array_equal(outputs.view(np.uint32), reference.view(np.uint32))


def _save(tmp_path, nodes, inits, in_type=TensorProto.FLOAT, out_type=TensorProto.FLOAT):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", in_type, [1, 4])],
        [helper.make_tensor_value_info(nodes[-1].output[0], out_type, [1, 4])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


QUANT = {"s": np.float32(0.1), "z": np.int8(0)}
QGEMM_INITS = {**QUANT, "w": np.ones((4, 4), np.int8), "ws": np.float32(0.1),
               "wz": np.int8(0), "b": np.zeros(4, np.int32)}


def _qgemm(name, src, dst, weights="w"):
    return helper.make_node("QGemm", [src, "s", "z", weights, "ws", "wz", "b", "s", "z"],
                            [dst], name=name, domain="com.microsoft")


CASES = [
    ("float", lambda: ([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc")],
                       {"w": np.ones((4, 4), np.float32), "b": np.zeros(4, np.float32)}),
     r"node 'fc' \(Gemm\): the model must start with a QuantizeLinear"),
    ("unsupported-op", lambda: ([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"],
                                                  name="quant"),
                                 helper.make_node("QLinearAdd", ["q", "s", "z", "q", "s", "z",
                                                                 "s", "z"], ["y"],
                                                  name="add", domain="com.microsoft")],
                                QUANT),
     r"node 'add' \(QLinearAdd\): not supported: nnrtl maps QuantizeLinear, QGemm"),
    ("weights-not-constant", lambda: ([helper.make_node("QuantizeLinear", ["x", "s", "z"],
                                                        ["q"], name="quant"),
                                       _qgemm("fc", "q", "y", weights="q")], QGEMM_INITS),
     r"node 'fc' \(QGemm\): weights 'q' is not a constant"),
    ("no-dequantize", lambda: ([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"],
                                                 name="quant"),
                                _qgemm("fc", "q", "y")], QGEMM_INITS),
     r"the model does not end with a DequantizeLinear"),
    ("float-inside", lambda: ([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"],
                                                name="quant"),
                               _qgemm("fc", "q", "h"),
                               helper.make_node("MatMul", ["h", "w"], ["y"], name="mm")],
                              QGEMM_INITS),
     r"node 'mm' \(MatMul\): not supported: .* \(a float op: quantize the model in "
     r"QOperator format\)"),
]


@pytest.mark.parametrize("make,message", [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_unmappable_models_name_the_node_and_the_reason(tmp_path, make, message):
    nodes, inits = make()
    path = _save(tmp_path, nodes, inits)
    with pytest.raises(onnx_linear.UnsupportedModel, match=message):
        onnx_linear.read(path)


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(onnx_linear.UnsupportedModel, match=r"junk.onnx: cannot read it as "
                                                           r"ONNX"):
        onnx_linear.read(path)


def test_script_gives_one_error_line_for_an_unmappable_model(tmp_path):
    nodes, inits = CASES[1][1]()
    path = _save(tmp_path, nodes, inits)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((3, 4), dtype=np.float32))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "onnx_linear.py"), str(path),
                          "--inputs", str(inputs)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith("error: node 'add' (QLinearAdd): not supported")
