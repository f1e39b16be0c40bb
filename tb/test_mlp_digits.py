"""The first layer of the digits MLP through the RTL L-Mul dot unit (hdl/dot.py), bit-exact.

For each case, the whole test split (540 samples) × 32 neurons = 17,280 dot products of 64
terms stream, on the fast path (tb/fastpath.py: a C++ testbench, the stream checks of the
cocotb benches), through a dot unit with L-Mul lanes and an FP32 adder tree and accumulator
(``acc="fp32"``), with a few random stalls on both sides (NNRTL_STALL, default 0.05 here:
tb/test_dot.py covers the handshakes at 0.2; this bench is about the layer's numbers). The inputs
and first-layer weights are the trained model's (models/digits.py), rounded into the unit's
format as golden/mlp.py rounds them.

Checks:
1. every result code equals the golden MLP's first layer, ``golden.mlp.dense`` (that is,
   ``golden.dot.dot`` of the same operands; zero mismatches);
2. the forward pass finished from the RTL's first-layer results (``golden.mlp.forward(...,
   first_dots=)``) gives logits bit-identical to the golden run, hence the same accuracy,
   which is checked too.

The expected values come from the golden model only.
"""

import os

import numpy as np
import pytest

from golden import formats, mlp
from models import digits
from hdl import verilog
from tb import compare, dotbench, harness

# (dot unit params, products mode of golden/mlp.py).
CASES = [
    ({"fmt": "fp8_e4m3", "lanes": digits.LANES, "stages": 1}, "lmul-fp8_e4m3"),
    ({"fmt": "bf16", "lanes": digits.LANES, "stages": 2}, "lmul-bf16"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_mlp_first_layer_on_rtl(case):
    """Stream the first layer for the whole test split on the fast path (a C++ testbench,
    `tb.harness.stream_fast`); compare, then finish the pass."""
    params, wanted = case
    unit = verilog.build_unit("dot", params)
    products = products_of(unit)
    assert products == wanted, (f"the unit computes {products!r} products, the case asks "
                                f"for {wanted!r}")
    seed = harness.bench_seed()
    stall = float(os.environ.get("NNRTL_STALL", "0.05"))
    model = digits.model()
    act = mlp.quantize(model.x_test, products)
    w = mlp.quantize(model.weights[0], products)
    a, b = mlp.layer_operands(act, w)                 # (samples × neurons, K)
    vectors, terms = a.shape
    beats = terms // unit.lanes
    lengths = [beats] * vectors
    items = dotbench.pack_beats(unit, a.reshape(-1, unit.lanes), b.reshape(-1, unit.lanes),
                                lengths)
    # The golden MLP's first layer: golden.dot.dot of the same operands (row s × 32 + j is
    # sample s, neuron j), with the unit's format, lanes and multiplier.
    expected = mlp.dense(act, w, products, lanes=unit.lanes).ravel()
    result = harness.stream_fast(unit, items, seed=seed, stall=stall, out_count=vectors,
                                 label=verilog.params_key("dot", params))
    received = result["outputs"]
    samples, neurons = act.shape[0], w.shape[1]
    compare.assert_codes_equal(
        received, expected, seed=seed, out_fmt=formats.FP32, what="pre-activation",
        inputs={"sample": (np.repeat(np.arange(samples), neurons), None),
                "neuron": (np.tile(np.arange(neurons), samples), None)})

    rtl_dots = np.asarray(received, dtype=np.uint64).reshape(samples, neurons)
    # The golden run: forward() computes its first layer as `expected` (mlp.dense), so
    # passing that saves recomputing it.
    golden_logits = mlp.forward(model.x_test, model.weights, model.biases, products,
                                lanes=unit.lanes, first_dots=expected.reshape(rtl_dots.shape))
    rtl_logits = mlp.forward(model.x_test, model.weights, model.biases, products,
                             lanes=unit.lanes, first_dots=rtl_dots)
    golden_acc = float(np.mean(mlp.predict(formats.FP32.decode(golden_logits)) == model.y_test))
    rtl_acc = float(np.mean(mlp.predict(formats.FP32.decode(rtl_logits)) == model.y_test))
    assert rtl_acc == golden_acc, (
        f"accuracy from the RTL's first layer {rtl_acc} != golden {golden_acc} (seed {seed})")
    compare.assert_codes_equal(
        rtl_logits.ravel(), golden_logits.ravel(), seed=seed, out_fmt=formats.FP32,
        what="logit", inputs={"sample": (np.repeat(np.arange(samples),
                                                   golden_logits.shape[1]), None)})


def products_of(unit):
    """The golden/mlp.py products mode that `unit` computes; ValueError if it computes
    something else (the MLP's first layer is golden.dot.dot with the L-Mul defaults)."""
    name = f"{'lmul-' if unit.mul == 'lmul' else ''}{unit.fmt}"
    fmt, mul = mlp.product_mode(name)
    lmul_defaults = (unit.carry, unit.offset, unit.subnormal_inputs) == (
        "integer", "paper", "flush")
    if (fmt, mul, unit.acc) != (unit.fmt, unit.mul, "fp32") or not lmul_defaults:
        raise ValueError(f"the dot unit ({unit.fmt}, mul={unit.mul}, acc={unit.acc}) does "
                         f"not compute golden/mlp.py's {name!r} layers")
    return name
