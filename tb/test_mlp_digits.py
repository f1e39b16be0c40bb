"""The first layer of the digits MLP through the RTL L-Mul dot unit (hdl/dot.py), bit-exact.

For each case, the whole test split (540 samples) × 32 neurons = 17,280 dot products of 64
terms stream through a dot unit with L-Mul lanes and an FP32 adder tree and accumulator
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

The expected values come from the golden model only. The units are the ones tb/test_dot.py
builds (same parameters, one Verilator build for both benches).
"""

import os

import numpy as np
import pytest

from golden import formats, mlp
from models import digits
from tb import compare, dotbench, harness

# (dot unit params, products mode of golden/mlp.py). One case keeps `make test` short: a
# BF16 case is ({"fmt": "bf16", "lanes": digits.LANES, "stages": 2}, "lmul-bf16"), about a
# minute; the BF16 L-Mul dot unit itself is checked by tb/test_dot.py.
CASES = [
    ({"fmt": "fp8_e4m3", "lanes": digits.LANES, "stages": 1}, "lmul-fp8_e4m3"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_mlp_first_layer_on_rtl(case):
    params, products = case
    digits.model()                  # train (or load) once, before the simulation starts
    harness.run_bench("dot", params, "tb.test_mlp_digits",
                      extra_env={"NNRTL_PRODUCTS": products})


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


try:
    import cocotb
except ImportError:          # pytest collection without cocotb: only the runner above
    cocotb = None

if cocotb is not None:
    @cocotb.test()
    async def first_layer(dut):
        """Stream the first layer for the whole test split; compare, then finish the pass."""
        unit = harness.bench_unit()
        products = products_of(unit)
        wanted = os.environ.get("NNRTL_PRODUCTS")
        assert wanted is not None, "NNRTL_PRODUCTS is unset: run this bench through pytest"
        assert products == wanted, (f"the unit computes {products!r} products, the case "
                                    f"asks for {wanted!r}")
        seed = cocotb.RANDOM_SEED
        rng = np.random.default_rng(seed)
        stall = float(os.environ.get("NNRTL_STALL", "0.05"))
        model = digits.model()
        act = mlp.quantize(model.x_test, products)
        w = mlp.quantize(model.weights[0], products)
        a, b = mlp.layer_operands(act, w)                 # (samples × neurons, K)
        vectors, terms = a.shape
        beats = terms // unit.lanes
        a_beats, b_beats = a.reshape(-1, unit.lanes), b.reshape(-1, unit.lanes)
        lengths = [beats] * vectors
        # The golden MLP's first layer: golden.dot.dot of the same operands (row s × 32 + j
        # is sample s, neuron j), with the unit's format, lanes and multiplier.
        expected = mlp.dense(act, w, products, lanes=unit.lanes).ravel()

        received, cycles, seconds = await dotbench.stream_vectors(dut, unit, a_beats, b_beats,
                                                         lengths, rng, stall=stall)
        dut._log.info(f"{products}: {vectors} dot products of {terms} terms in {cycles} "
                      f"cycles, {cycles / seconds:,.0f} cycles/s (seed {seed})")
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
        golden_acc = float(np.mean(mlp.predict(formats.FP32.decode(golden_logits))
                                   == model.y_test))
        rtl_acc = float(np.mean(mlp.predict(formats.FP32.decode(rtl_logits)) == model.y_test))
        dut._log.info(f"{products}: test accuracy {rtl_acc:.4f} from the RTL's first layer, "
                      f"{golden_acc:.4f} golden")
        harness.record_stats(vectors=vectors, products=int(a.size), cycles=cycles,
                             stream_seconds=seconds, accuracy=rtl_acc,
                             golden_accuracy=golden_acc)
        assert rtl_acc == golden_acc, (
            f"accuracy from the RTL's first layer {rtl_acc} != golden {golden_acc} "
            f"(seed {seed})")
        compare.assert_codes_equal(
            rtl_logits.ravel(), golden_logits.ravel(), seed=seed, out_fmt=formats.FP32,
            what="logit", inputs={"sample": (np.repeat(np.arange(samples),
                                                       golden_logits.shape[1]), None)})
