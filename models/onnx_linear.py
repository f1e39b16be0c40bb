"""Quantized ONNX models of linear layers: read them into `golden.qlinear`, and make them.

`read(path)` reads a QOperator-format model (what onnxruntime's ``quantize_static`` writes
with ``quant_format=QuantFormat.QOperator``): a QuantizeLinear, then a chain of QGemm
(com.microsoft) or QLinearMatMul nodes (a Relu between them is allowed, on the quantized
tensor), then a DequantizeLinear. Weights, biases, scales and zero points must be
initializers. The result is a `golden.qlinear.QModel`. Anything else raises
`UnsupportedModel`, one line naming the node and the reason.

`session(model)` is an onnxruntime CPU session (all graph optimizations off, one thread:
the kernels the golden model follows). `digits_int8()` makes the digits MLP's quantized
model with onnxruntime's own quantizer (per-channel int8 weights, int8 activations,
calibrated on the training split) and caches it in ``build/onnx_digits/``.
"""

import dataclasses
import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

from golden import formats, qlinear

__all__ = ["UnsupportedModel", "read", "session", "run_onnxruntime", "float_mlp",
           "quantize_model", "digits_int8", "CACHE_DIR"]

CACHE_DIR = Path(__file__).resolve().parent.parent / "build" / "onnx_digits"
_INT_TYPES = {2: formats.IntFormat(8, False), 3: formats.IntFormat(8, True)}  # TensorProto


class UnsupportedModel(ValueError):
    """A model (or node) that nnrtl cannot map onto its linear layers."""


def _node_label(node):
    return f"node {node.name or '(unnamed)'!r} ({node.op_type})"


class _Graph:
    """Initializers by name, and a node's constant inputs with clear errors."""

    def __init__(self, model):
        from onnx import numpy_helper
        self.values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.types = {t.name: t.data_type for t in model.graph.initializer}
        for node in model.graph.node:             # Constant nodes count as initializers
            if node.op_type == "Constant":
                self.values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
                self.types[node.output[0]] = node.attribute[0].t.data_type

    def const(self, node, index, what):
        if index >= len(node.input) or node.input[index] == "":
            raise UnsupportedModel(f"{_node_label(node)}: no {what} (input {index})")
        name = node.input[index]
        if name not in self.values:
            raise UnsupportedModel(f"{_node_label(node)}: {what} {name!r} is not a constant "
                                   f"(initializer)")
        return self.values[name]

    def int_fmt(self, node, index, what):
        self.const(node, index, what)
        fmt = _INT_TYPES.get(self.types[node.input[index]])
        if fmt is None:
            raise UnsupportedModel(f"{_node_label(node)}: {what} is not int8 or uint8")
        return fmt


def _attributes(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _scalar(node, value, what):
    value = np.asarray(value)
    if value.size != 1:
        raise UnsupportedModel(f"{_node_label(node)}: {what} must be one value (per tensor), "
                               f"not shape {value.shape}")
    return value.reshape(())


def _layer(graph, node, a):
    """A QLinear from a QGemm or QLinearMatMul node whose input parameters are `a`."""
    attrs = _attributes(node)
    weights = graph.const(node, 3, "weights")
    w_fmt = graph.int_fmt(node, 3, "weights")
    w_scale, w_zp = graph.const(node, 4, "weight scale"), graph.const(node, 5,
                                                                      "weight zero point")
    if node.op_type == "QGemm":
        if attrs.get("transA", 0) or float(attrs.get("alpha", 1.0)) != 1.0:
            raise UnsupportedModel(f"{_node_label(node)}: transA=1 or alpha != 1 is not "
                                   f"supported")
        if attrs.get("transB", 0):
            weights = weights.T
        n = weights.shape[1]
        bias = (graph.const(node, 6, "bias") if len(node.input) > 6 and node.input[6]
                else np.zeros(n, dtype=np.int32))
        if len(node.input) < 9 or not node.input[7]:
            raise UnsupportedModel(f"{_node_label(node)}: a float output (no y_scale) is not "
                                   f"a quantized linear layer")
        y_scale, y_index = graph.const(node, 7, "output scale"), 8
        bias = np.asarray(bias)
        if bias.size not in (1, n) or bias.ndim > 1 and bias.shape[0] != 1:
            raise UnsupportedModel(f"{_node_label(node)}: bias of shape {bias.shape} is "
                                   f"not per output channel")
        bias = bias.reshape(-1)
    else:                                           # QLinearMatMul
        n, bias = weights.shape[-1], np.zeros(weights.shape[-1], dtype=np.int32)
        y_scale, y_index = graph.const(node, 6, "output scale"), 7
    if np.asarray(weights).ndim != 2:
        raise UnsupportedModel(f"{_node_label(node)}: weights of shape "
                               f"{np.asarray(weights).shape} are not a matrix")
    y_zp = graph.const(node, y_index, "output zero point")
    y_fmt = graph.int_fmt(node, y_index, "output zero point")
    w_scale, w_zp = np.asarray(w_scale).reshape(-1), np.asarray(w_zp).reshape(-1)
    if w_scale.size not in (1, n) or w_zp.size != w_scale.size:
        raise UnsupportedModel(f"{_node_label(node)}: weight scales/zero points of "
                               f"{w_scale.size}/{w_zp.size} values for {n} channels")
    return qlinear.QLinear(
        weights=w_fmt.encode(np.asarray(weights, dtype=np.float64)), w_fmt=w_fmt,
        w_scale=w_scale.astype(np.float32), w_zp=w_zp.astype(np.int64),
        bias=np.asarray(bias, dtype=np.int64), a_fmt=a[0], a_scale=a[1], a_zp=a[2],
        y_fmt=y_fmt, y_scale=np.float32(_scalar(node, y_scale, "output scale")),
        y_zp=int(_scalar(node, y_zp, "output zero point")), name=_node_label(node))


def read(path):
    """The `golden.qlinear.QModel` of the quantized ONNX model at `path` (module
    docstring). Raises `UnsupportedModel` naming the node and the reason."""
    import onnx
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:                        # (OSError, protobuf's DecodeError)
        raise UnsupportedModel(f"{path}: cannot read it as ONNX ({exc})") from None
    graph = _Graph(model)
    nodes = [node for node in model.graph.node if node.op_type != "Constant"]
    if len(model.graph.input) - sum(i.name in graph.values for i in model.graph.input) != 1:
        raise UnsupportedModel(f"{path}: the model must have exactly one (non-constant) "
                               f"input")
    if not nodes or nodes[0].op_type != "QuantizeLinear":
        first = _node_label(nodes[0]) if nodes else "no node"
        raise UnsupportedModel(f"{path}: {first}: the model must start with a "
                               f"QuantizeLinear of its float input (QOperator format)")
    quant = nodes[0]
    in_fmt = graph.int_fmt(quant, 2, "zero point")
    in_params = (in_fmt, np.float32(_scalar(quant, graph.const(quant, 1, "scale"), "scale")),
                 int(_scalar(quant, graph.const(quant, 2, "zero point"), "zero point")))
    tensor, params, layers = quant.output[0], in_params, []
    for node in nodes[1:]:
        if tensor not in node.input[:1]:
            raise UnsupportedModel(f"{_node_label(node)}: not on the chain of linear layers "
                                   f"(its first input is {node.input[0]!r}, the chain is at "
                                   f"{tensor!r})")
        if node.op_type in ("QGemm", "QLinearMatMul"):
            if node.op_type == "QGemm" and node.domain != "com.microsoft":
                raise UnsupportedModel(f"{_node_label(node)}: domain {node.domain!r}, "
                                       f"expected 'com.microsoft'")
            a_scale = _scalar(node, graph.const(node, 1, "input scale"), "input scale")
            a_zp = _scalar(node, graph.const(node, 2, "input zero point"), "input zero point")
            given = (graph.int_fmt(node, 2, "input zero point"), np.float32(a_scale),
                     int(a_zp))
            if given != params:
                raise UnsupportedModel(f"{_node_label(node)}: its input quantization "
                                       f"{given} differs from the tensor's {params}")
            layer = _layer(graph, node, params)
            layers.append(layer)
            params = (layer.y_fmt, np.float32(layer.y_scale), layer.y_zp)
        elif node.op_type == "Relu" and layers and layers[-1].act == "none":
            layers[-1] = dataclasses.replace(layers[-1], act="relu")
        elif node.op_type == "DequantizeLinear":
            scale = np.float32(_scalar(node, graph.const(node, 1, "scale"), "scale"))
            zp = int(_scalar(node, graph.const(node, 2, "zero point"), "zero point"))
            if not layers or (scale, zp) != params[1:]:
                raise UnsupportedModel(f"{_node_label(node)}: dequantizes with parameters "
                                       f"other than the last layer's output")
            if node is not nodes[-1]:
                raise UnsupportedModel(f"{_node_label(nodes[nodes.index(node) + 1])}: "
                                       f"nodes after the DequantizeLinear are not supported")
            return qlinear.QModel(layers=tuple(layers), in_scale=in_params[1],
                                  in_zp=in_params[2], in_fmt=in_fmt)
        else:
            hint = (" (a float op: quantize the model in QOperator format)"
                    if node.op_type in ("Gemm", "MatMul", "Add", "Conv") else "")
            raise UnsupportedModel(f"{_node_label(node)}: not supported: nnrtl maps "
                                   f"QuantizeLinear, QGemm, QLinearMatMul, Relu and "
                                   f"DequantizeLinear{hint}")
        tensor = node.output[0]
    raise UnsupportedModel(f"{path}: the model does not end with a DequantizeLinear")


def session(model):
    """An onnxruntime CPU session for `model` (ModelProto, bytes or path): graph
    optimizations off, one thread."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif not isinstance(model, bytes):
        model = str(model)
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_onnxruntime(model, x):
    """onnxruntime's outputs for the single input `x` (float32)."""
    runner = session(model)
    name = runner.get_inputs()[0].name
    return runner.run(None, {name: np.asarray(x, dtype=np.float32)})[0]


def float_mlp(weights, biases):
    """A float32 ONNX model of a dense ReLU MLP: Gemm (+ Relu) per layer, the last without
    Relu; `weights[l]` of shape (inputs, outputs)."""
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits, tensor = [], [], "x"
    for index, (w, b) in enumerate(zip(weights, biases)):
        w_name, b_name = f"fc{index}.weight", f"fc{index}.bias"
        inits += [numpy_helper.from_array(np.asarray(w, dtype=np.float32), w_name),
                  numpy_helper.from_array(np.asarray(b, dtype=np.float32), b_name)]
        out = f"fc{index}"
        nodes.append(helper.make_node("Gemm", [tensor, w_name, b_name], [out],
                                      name=f"fc{index}"))
        tensor = out
        if index < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [tensor], [f"relu{index}"],
                                          name=f"relu{index}"))
            tensor = f"relu{index}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", weights[0].shape[0]])],
        [helper.make_tensor_value_info(tensor, TensorProto.FLOAT,
                                       ["batch", weights[-1].shape[1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def quantize_model(float_path, out_path, calibration):
    """onnxruntime's static quantizer on `float_path` -> `out_path`: QOperator format,
    per-channel symmetric int8 weights, int8 activations, MinMax calibration over the
    rows of `calibration` (float32, one sample per row)."""
    import logging

    from onnxruntime import quantization

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.rows = iter(np.asarray(calibration, dtype=np.float32)[:, None, :])

        def get_next(self):
            row = next(self.rows, None)
            return None if row is None else {"x": row}

    logging.getLogger().setLevel(logging.ERROR)      # its "consider pre-processing" advice
    quantization.quantize_static(
        str(float_path), str(out_path), Reader(), quant_format=quantization.QuantFormat.QOperator,
        per_channel=True, activation_type=quantization.QuantType.QInt8,
        weight_type=quantization.QuantType.QInt8,
        calibrate_method=quantization.CalibrationMethod.MinMax)


def digits_int8():
    """Path of the digits MLP quantized by onnxruntime (made once, cached under a key of
    the trained model and the onnx/onnxruntime versions; written atomically)."""
    import onnx
    import onnxruntime

    from models import digits
    trained = digits.model()
    key = hashlib.sha256(f"{trained.key}|{onnx.__version__}|{onnxruntime.__version__}"
                         .encode()).hexdigest()[:16]
    path = CACHE_DIR / f"digits-int8-{key}.onnx"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = CACHE_DIR / f".{uuid.uuid4().hex}"
    tmp.mkdir()
    float_path = tmp / "digits-float.onnx"
    onnx.save(float_mlp(trained.weights, trained.biases), str(float_path))
    x_train, _ = digits.load_split()[:2]
    quantize_model(float_path, tmp / "digits-int8.onnx", x_train)
    os.replace(tmp / "digits-int8.onnx", path)
    for leftover in tmp.iterdir():
        leftover.unlink()
    tmp.rmdir()
    return path
