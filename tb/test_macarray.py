"""hdl/macarray.py against golden.mac.gemm, whole layers through the fast path.

Every bench streams through `tb.gemmbench.run_layer`: random stalls on valid and ready,
stalled outputs checked to hold still, the result compared element for element:

- whole layers, M=64 K=256 N=64 and 37x100x29 (not multiples of the array), for each PE
  kind: INT8, INT4 weights x INT8 activations, unsigned, INT16, LUT and DSP multipliers
  (the MULT18X18D and SB_MAC16 simulation models of tb/primitives.py), ternary weights
  (every int2 code, -2 included);
- every operand pair of each <= 8-bit kind: A is every code as a column, B every code as a
  row (K = 1), so C is the table of all products, tile by tile at the fastest tile rate;
- a BitLinear layer (golden.qlinear) with its integer product on the ternary array;
- the accumulator at its limits: K = k_max of extreme operands with the default width
  (exact), and one bit too narrow in both overflow modes (wrap, saturate);
- FP PEs (golden.mac.fp_gemm): FP8 E4M3, FP8 E5M2 and BF16, exact and L-Mul products, FP32
  and Kulisch accumulation (every mul x acc pair on E4M3), the same two layer shapes
  with layer-like operands (normal values over a 2^12 range, 1% codes of any exponent,
  a few special values), and every FP8 operand pair;
- weight-stationary arrays (dataflow="weight"): every integer layer above, one with row
  tiles shorter than a pass may be, the operand pairs of four PE kinds, and the
  accumulator at its limits.

The generic bench (tb/test_protocol.py) checks latency and throughput.
"""

import functools

import numpy as np
import pytest

from golden import formats
from hdl import verilog
from tb import gemmbench, harness, vectors
from tb.primitives import model_sources

INT8, UINT8, INT4, INT16 = (formats.IntFormat(8, True), formats.IntFormat(8, False),
                            formats.IntFormat(4, True), formats.IntFormat(16, True))


def _unit(params):
    """The unit of `params`, built once per process (so is its Verilog: tb.harness)."""
    return _units(tuple(sorted(params.items())))


@functools.cache
def _units(items):
    return verilog.build_unit("macarray", dict(items))


def _random(fmt, shape, rng):
    return rng.integers(0, 1 << fmt.bits, size=shape, dtype=np.uint64)


def _models(params):
    """The simulation models a DSP or hybrid array needs."""
    if params.get("multiplier") in ("dsp", "hybrid", "packed"):
        return model_sources({params.get("target", "ecp5")})
    return []


def _label(params):
    return verilog.params_key("macarray", params)


LAYERS = [
    ({"rows": 4, "cols": 4}, (64, 256, 64)),
    ({"rows": 4, "cols": 4}, (37, 100, 29)),
    ({"rows": 3, "cols": 5, "a_fmt": "int8", "b_fmt": "int4"}, (37, 100, 29)),
    ({"rows": 2, "cols": 3, "a_fmt": "uint8", "b_fmt": "uint8", "overflow": "saturate",
      "acc_bits": 20}, (9, 300, 7)),
    ({"rows": 2, "cols": 2, "a_fmt": "int16", "k_max": 64}, (5, 64, 6)),
    ({"rows": 3, "cols": 3, "multiplier": "dsp", "target": "ecp5"}, (37, 100, 29)),
    ({"rows": 2, "cols": 2, "a_fmt": "uint8", "b_fmt": "int8", "multiplier": "dsp",
      "target": "ice40"}, (11, 60, 5)),
    ({"rows": 3, "cols": 4, "multiplier": "hybrid", "dsp_blocks": 5}, (37, 100, 29)),
    ({"rows": 4, "cols": 4, "b_fmt": "int4", "multiplier": "packed"}, (64, 256, 64)),
    ({"rows": 3, "cols": 6, "b_fmt": "int4", "multiplier": "packed"}, (37, 100, 29)),
    ({"rows": 2, "cols": 2, "a_fmt": "uint8", "b_fmt": "int4", "multiplier": "packed",
      "overflow": "saturate", "acc_bits": 16}, (5, 300, 6)),
    ({"rows": 4, "cols": 4, "b_fmt": "int2", "multiplier": "ternary"}, (64, 256, 64)),
    ({"rows": 3, "cols": 2, "b_fmt": "int2", "multiplier": "ternary", "acc_bits": 12,
      "overflow": "saturate"}, (7, 200, 5)),
]


# Every integer PE kind weight-stationary too; one with row tiles of 16 (the last one
# shorter than a pass must be: the edge waits before the next pass).
WS_LAYERS = ([({**params, "dataflow": "weight"}, shape) for params, shape in LAYERS]
             + [({"rows": 4, "cols": 4, "dataflow": "weight", "m_tile": 16}, (37, 100, 29))])


@pytest.mark.parametrize("params,shape", LAYERS + WS_LAYERS,
                         ids=[f"{_label(p)}-{'x'.join(map(str, s))}"
                              for p, s in LAYERS + WS_LAYERS])
def test_layer(params, shape):
    unit = _unit(params)
    m, k, n = shape
    seed = harness.bench_seed()
    rng = np.random.default_rng(seed)
    a, b = _random(unit.a_fmt, (m, k), rng), _random(unit.b_fmt, (k, n), rng)
    gemmbench.run_layer(unit, a, b, seed=seed, label=_label(params),
                        allow_overflow="acc_bits" in params,      # (sums that saturate)
                        extra_sources=_models(params))


PAIRS = [{"rows": 2, "cols": 2}, {"rows": 3, "cols": 2, "a_fmt": "uint8", "b_fmt": "int4"},
         {"rows": 2, "cols": 3, "b_fmt": "int2", "multiplier": "ternary"},
         {"rows": 2, "cols": 2, "a_fmt": "uint8", "b_fmt": "int2", "multiplier": "ternary"},
         {"rows": 2, "cols": 2, "multiplier": "dsp", "target": "ecp5"},
         {"rows": 2, "cols": 4, "b_fmt": "int4", "multiplier": "packed"},
         {"rows": 2, "cols": 2, "a_fmt": "uint8", "b_fmt": "int4", "multiplier": "packed"},
         # one row: one-beat tiles back to back, the output queues' credits at their limit
         {"rows": 1, "cols": 3, "a_fmt": "int4", "b_fmt": "int4"}]
# (weight-stationary: arrays the layer benches build)
PAIRS += [{**params, "dataflow": "weight"} for params, _ in LAYERS
          if params in ({"rows": 3, "cols": 5, "a_fmt": "int8", "b_fmt": "int4"},
                        {"rows": 3, "cols": 3, "multiplier": "dsp", "target": "ecp5"},
                        {"rows": 3, "cols": 6, "b_fmt": "int4", "multiplier": "packed"})]
PAIRS += [{"rows": 4, "cols": 4, "b_fmt": "int2", "multiplier": "ternary",
           "dataflow": "weight"}]


@pytest.mark.parametrize("params", PAIRS, ids=map(_label, PAIRS))
def test_every_operand_pair(params):
    """A: every code, as a column; B: every code, as a row (packed PEs: every pair of
    weights of two neighbouring columns), so C holds every product."""
    unit = _unit(params)
    a = np.arange(1 << unit.a_fmt.bits, dtype=np.uint64)[:, None]      # (codes, 1)
    codes = np.arange(1 << unit.b_fmt.bits, dtype=np.uint64)
    if unit.multiplier == "packed":
        codes = np.stack(np.meshgrid(codes, codes, indexing="ij"), axis=-1).reshape(-1)
    b = codes[None, :]                                                  # (1, codes)
    gemmbench.run_layer(unit, a, b, seed=harness.bench_seed(), label=_label(params),
                        extra_sources=_models(params))


def test_bitlinear_layer_on_the_ternary_array():
    """A BitLinear layer (golden.qlinear.bitlinear: per-token int8 activations, ternary
    weights) of 64 x 256 x 64, its integer product on the ternary array: the float32
    outputs are bit-exact with golden's."""
    from golden import qlinear
    unit = _unit({"rows": 4, "cols": 4, "b_fmt": "int2", "multiplier": "ternary"})
    seed = harness.bench_seed()
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(3, size=(64, 256)) * 0.7).astype(np.float32)
    w = (rng.normal(size=(256, 64)) * 0.05).astype(np.float32)

    def on_array(x_codes, w_codes):
        _, got = gemmbench.stream_gemm(unit, x_codes, w_codes, seed=seed)
        return unit.out_fmt.decode_int(got)

    expected = qlinear.bitlinear(x, w)
    got = qlinear.bitlinear(x, w, sums=on_array)
    differ = np.argwhere(got.view(np.uint32) != expected.view(np.uint32))
    assert differ.size == 0, f"seed {seed}: {len(differ)} outputs differ, first {differ[:3]}"
    assert np.unique(qlinear.bitlinear_weights(w)[0]).size == 3      # -1, 0 and +1 occur


# (a_fmt, mul, acc) of the FP PE kinds benched.
FP_KINDS = [("fp8_e4m3", "lmul", "kulisch"), ("fp8_e4m3", "exact", "fp32"),
            ("fp8_e4m3", "exact", "kulisch"), ("fp8_e4m3", "lmul", "fp32"),
            ("fp8_e5m2", "exact", "kulisch"), ("fp8_e5m2", "lmul", "fp32"),
            ("bf16", "exact", "fp32"), ("bf16", "lmul", "kulisch")]


def _fp_params(kind):
    """2 x 2 arrays (each FP PE is a multiplier and an FP32 adder or a wide Kulisch
    register: build time; 37 and 29 still leave partial edge tiles)."""
    fmt, mul, acc = kind
    return {"rows": 2, "cols": 2, "a_fmt": fmt, "mul": mul, "acc": acc}


def _fp_operands(fmt, shape, rng):
    """Layer-like codes: normal values times 2^-6..2^6 (subnormals among them), 1% random
    finite codes of any exponent (products that overflow or underflow), and 0.02% directed
    special values (zeros, extremes, Inf, NaN)."""
    values = rng.standard_normal(shape) * np.exp2(rng.integers(-6, 7, size=shape))
    codes = fmt.encode(np.clip(values, -fmt.max_value, fmt.max_value))
    wild = rng.integers(0, 1 << fmt.bits, size=shape, dtype=np.uint64)
    _, _, _, nan, inf = fmt.decompose(wild)
    wild = np.where(nan | inf, codes, wild)
    pick = rng.random(shape)
    codes = np.where(pick < 0.01, wild, codes)
    return np.where(pick < 0.0002, rng.choice(vectors.float_directed(fmt), size=shape), codes)


FP_LAYERS = [(kind, shape) for kind in FP_KINDS for shape in ((64, 256, 64), (37, 100, 29))]


@pytest.mark.parametrize("kind,shape", FP_LAYERS,
                         ids=[f"{'-'.join(k)}-{'x'.join(map(str, s))}" for k, s in FP_LAYERS])
def test_fp_layer(kind, shape):
    params = _fp_params(kind)
    unit = _unit(params)
    m, k, n = shape
    seed = harness.bench_seed()
    rng = np.random.default_rng(seed)
    a, b = _fp_operands(unit.a_fmt, (m, k), rng), _fp_operands(unit.a_fmt, (k, n), rng)
    gemmbench.run_layer(unit, a, b, seed=seed, label=_label(params))


@pytest.mark.parametrize("kind", [k for k in FP_KINDS if k[0] != "bf16"],
                         ids=["-".join(k) for k in FP_KINDS if k[0] != "bf16"])
def test_fp_every_operand_pair(kind):
    """Every pair of FP8 codes (65,536), specials included, as the products table (K = 1)."""
    params = _fp_params(kind)
    unit = _unit(params)
    codes = np.arange(1 << unit.a_fmt.bits, dtype=np.uint64)
    gemmbench.run_layer(unit, codes[:, None], codes[None, :], seed=harness.bench_seed(),
                        label=_label(params))


def _extremes(fmt, shape, rng):
    """Codes of fmt's min and max values, at random."""
    values = rng.choice([fmt.min_value, fmt.max_value], size=shape)
    return fmt.encode(values.astype(np.float64))


@pytest.mark.parametrize("dataflow", ["output", "weight"])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("narrow", [False, True], ids=["default-width", "one-bit-narrow"])
def test_accumulator_at_k_max(overflow, narrow, dataflow):
    """K = k_max products of extreme operands: exact with the default width; one bit
    narrower, the sums wrap around or saturate (and the two modes differ)."""
    params = {"rows": 2, "cols": 3, "k_max": 128, "overflow": overflow, "dataflow": dataflow}
    if narrow:
        params["acc_bits"] = 16 + 7 - 1
    unit = _unit(params)
    seed = harness.bench_seed()
    rng = np.random.default_rng(seed)
    a = _extremes(INT8, (6, 128), rng)
    b = _extremes(INT8, (128, 6), rng)
    a[0], b[:, 0] = INT8.encode(np.full(128, -128.0)), INT8.encode(np.full(128, -128.0))
    a[1], b[:, 1] = INT8.encode(np.full(128, 127.0)), INT8.encode(np.full(128, -128.0))
    gemmbench.run_layer(unit, a, b, seed=seed, label=_label(params), allow_overflow=narrow)
    function, kwargs = unit.golden
    sums = function(a, b, **kwargs)
    exact = function(a, b, **{**kwargs, "acc_bits": 64})
    # (-128)^2 * 128 = 2^21 fits 23 bits signed exactly, not 22: the narrow case overflows.
    assert (sums[0, 0] == exact[0, 0] % (1 << unit.acc_bits)) == (overflow == "wrap" or not narrow)


@pytest.mark.parametrize("params,shape", [
    ({"rows": 4, "cols": 4}, (64, 256, 64)), ({"rows": 4, "cols": 4}, (9, 3, 5)),
    ({"rows": 3, "cols": 2, "multiplier": "dsp"}, (7, 20, 5)),
    ({"rows": 2, "cols": 3, "a_fmt": "fp8_e4m3", "acc": "kulisch"}, (5, 2, 7)),
    ({"rows": 1, "cols": 3}, (4, 1, 4)),
    ({"rows": 4, "cols": 4, "dataflow": "weight"}, (64, 256, 64)),
    ({"rows": 4, "cols": 4, "dataflow": "weight", "m_tile": 16}, (37, 100, 29)),
    ({"rows": 4, "cols": 4, "dataflow": "weight", "m_tile": 16}, (2, 9, 5)),
    ({"rows": 3, "cols": 3, "multiplier": "dsp", "dataflow": "weight"}, (7, 20, 5))],
    ids=lambda x: str(x))
def test_layer_cycles_are_what_the_array_takes(params, shape):
    """`layer_cycles` (the FPGA report's cycles of a layer) against the fast path's count
    with no stalls: from the end of reset, the flush, then the layer (long and short
    tiles, DSP and FP PEs, one row; weight-stationary: long passes, and passes too short
    for the next to start at once)."""
    unit = _unit(params)
    m, k, n = shape
    a, b = np.zeros((m, k), dtype=np.uint64), np.zeros((k, n), dtype=np.uint64)
    result, _ = gemmbench.stream_gemm(unit, a, b, seed=1, stall=0.0,
                                      extra_sources=_models(params))
    assert result["cycles"] == unit.flush_cycles + unit.layer_cycles(m, k, n)


def test_driver_refuses_a_reduction_beyond_the_exact_range():
    unit = _unit({"rows": 2, "cols": 2, "k_max": 16})
    a = np.zeros((2, 17), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"K = 17 exceeds the accumulator's exact range: "
                                         r"20 bits hold sums of at most 16 products"):
        gemmbench.run_layer(unit, a, a.T, seed=1)


@pytest.mark.parametrize("params", [{"rows": 2, "cols": 2}, _fp_params(FP_KINDS[0]),
                                    {"rows": 2, "cols": 3, "k_max": 128,
                                     "overflow": "wrap", "dataflow": "weight"}],
                         ids=["int8", "-".join(FP_KINDS[0]), "int8-weight-stationary"])
def test_a_bench_fails_when_golden_is_one_off(monkeypatch, params):
    """The layer bench can fail: golden's sum one ulp (one code) off in one element."""
    unit = _unit(params)
    function, kwargs = unit.golden

    def off_by_one(a, b, **kw):
        out = function(a, b, **kw)
        out[1, 2] = (out[1, 2] + 1) % (1 << unit.out_fmt.bits)
        return out

    monkeypatch.setattr(type(unit), "golden", property(lambda self: (off_by_one, kwargs)))
    rng = np.random.default_rng(5)
    shapes = (3, 9), (9, 4)
    if unit.fp:
        a, b = (_fp_operands(unit.a_fmt, shape, rng) for shape in shapes)
    else:
        a, b = (_random(INT8, shape, rng) for shape in shapes)
    with pytest.raises(harness.BenchFailure, match=r"seed 7"):
        gemmbench.run_layer(unit, a, b, seed=7)
