"""hdl/macarray.py: parameter checks (before elaboration), derived attributes, and the
tile driver's cutting and reassembly (tb/gemmbench.py) without a simulator."""

import numpy as np
import pytest

from golden import formats, mac
from hdl import macarray, verilog
from tb import gemmbench


@pytest.mark.parametrize("params,exc,message", [
    ({"rows": 0}, ValueError, r"rows must be in 1\.\.64, not 0"),
    ({"cols": 2.0}, TypeError, r"cols must be an integer, not 2\.0"),
    ({"a_fmt": 8}, TypeError, r"a_fmt must be an IntFormat or a FloatFormat, not 8"),
    ({"a_fmt": formats.BF16, "b_fmt": formats.FP8_E4M3}, ValueError,
     r"FP PEs take b_fmt = a_fmt \(bf16\), not fp8_e4m3"),
    ({"a_fmt": formats.FP32}, ValueError,
     r"a_fmt must have at most 16 bits for FP PEs, not 32 \(fp32\)"),
    ({"a_fmt": formats.FP8_E4M3, "multiplier": "dsp"}, ValueError,
     r"multiplier='dsp': FP PEs \(fp8_e4m3\) build their multipliers in LUTs"),
    ({"a_fmt": formats.FP8_E4M3, "acc_bits": 20}, ValueError,
     r"acc_bits applies to integer PEs; an FP PE's accumulator is set by acc"),
    ({"a_fmt": formats.FP8_E4M3, "overflow": "saturate"}, ValueError,
     r"overflow applies to integer PEs, not to FP PEs \(fp8_e4m3\)"),
    ({"a_fmt": formats.FP8_E4M3, "acc": "fp16"}, ValueError,
     r"acc must be one of 'fp32', 'kulisch', not 'fp16'"),
    ({"a_fmt": formats.FP8_E4M3, "mul": "approx"}, ValueError,
     r"mul must be one of 'lmul', 'exact', not 'approx'"),
    ({"mul": "lmul"}, ValueError, r"mul and acc apply to FP PEs \(a_fmt a FloatFormat\), "
                                  r"not to int8 x int8"),
    ({"b_fmt": formats.IntFormat(20, True)}, ValueError, r"b_fmt must have 2\.\.18 bits, not 20"),
    ({"acc_bits": 15}, ValueError, r"acc_bits must be in 16\.\.64 for int8 x int8, not 15"),
    ({"k_max": 0}, ValueError, r"k_max must be in 1\.\.1048576, not 0"),
    ({"overflow": "clip"}, ValueError, r"overflow must be one of 'wrap', 'saturate'"),
    ({"multiplier": "quad"}, ValueError,
     r"multiplier must be one of 'lut', 'dsp', 'hybrid', 'packed', 'ternary', not 'quad'"),
    ({"multiplier": "ternary", "b_fmt": formats.IntFormat(4, True)}, ValueError,
     r"multiplier='ternary' takes b_fmt=int2 \(weights -1, 0, \+1\), not int4"),
    ({"rows": 20, "cols": 20, "multiplier": "dsp"}, ValueError,
     r"rows x cols = 20 x 20 = 400 outputs need 400 MULT18X18D blocks, more than the "
     r"LFE5U-85F's 156; use multiplier='hybrid' or 'lut', or fewer PEs"),
    ({"rows": 3, "cols": 3, "multiplier": "dsp", "target": "ice40"}, ValueError,
     r"9 outputs need 9 SB_MAC16 blocks, more than the iCE40UP5K's 8"),
    ({"rows": 2, "cols": 2, "multiplier": "dsp", "dsp_blocks": 3}, ValueError,
     r"4 outputs need 4 MULT18X18D blocks, more than dsp_blocks = 3"),
    ({"rows": 14, "cols": 24, "b_fmt": formats.IntFormat(4, True), "multiplier": "packed"},
     ValueError, r"14 x 24 = 336 outputs need 168 MULT18X18D blocks, more than the "
                 r"LFE5U-85F's 156"),
    ({"cols": 3, "b_fmt": formats.IntFormat(4, True), "multiplier": "packed"}, ValueError,
     r"multiplier='packed' takes an even number of cols and signed weights of 2\.\.4 bits"),
    ({"b_fmt": formats.IntFormat(8, True), "multiplier": "packed"}, ValueError,
     r"signed weights of 2\.\.4 bits \(b_fmt\), not cols=4, b_fmt=int8"),
    ({"a_fmt": formats.IntFormat(12, True), "b_fmt": formats.IntFormat(4, True),
      "multiplier": "packed"}, ValueError,
     r"int12 activations leave no room for two int4 weights in one MULT18X18D operand"),
    ({"multiplier": "hybrid", "dsp_blocks": 200}, ValueError,
     r"dsp_blocks must be in 0\.\.156 \(LFE5U-85F\), not 200"),
    ({"a_fmt": formats.IntFormat(18, False), "b_fmt": formats.IntFormat(8, True),
      "multiplier": "dsp"}, ValueError, r"uint18 x int8 needs 2 MULT18X18D blocks per PE"),
    ({"dataflow": "row"}, ValueError, r"dataflow must be one of 'output', 'weight', not 'row'"),
    ({"m_tile": 32}, ValueError, r"m_tile applies to dataflow='weight' \(the rows of A one "
                                 r"pass holds\), not to dataflow='output'"),
    ({"dataflow": "weight", "m_tile": 0}, ValueError, r"m_tile must be in 1\.\.1024, not 0"),
    ({"dataflow": "weight", "a_fmt": formats.FP8_E4M3}, ValueError,
     r"dataflow='weight' is built for integer and ternary PEs, not yet for FP PEs "
     r"\(fp8_e4m3\)"),
])
def test_bad_parameters_are_rejected_before_elaboration(params, exc, message):
    with pytest.raises(exc, match=message):
        macarray.MACArray(**params)


def test_defaults_and_derived_attributes():
    unit = verilog.build_unit("macarray", {"rows": 12, "cols": 12, "multiplier": "dsp"})
    assert unit.acc_bits == 8 + 8 + 8                    # 2w + ceil(log2 256)
    assert macarray.default_acc_bits(formats.IntFormat(4, True), formats.IntFormat(8, True),
                                     100) == 4 + 8 + 7
    assert unit.ops_per_cycle == 144 and unit.ops_per_item == 144
    # The 17 output rows limit short tiles, not 2r - 1: latency 24, row r leaves at
    # 24 + 2r and its credit counts again 2 cycles later; at a tile's last beat, period
    # P after the previous one, at most 17 - 12 = 5 of that tile's rows may still hold
    # theirs: 26 + 2r <= P for r = 0..6, so P >= 38.
    assert unit.latency == 24
    assert unit.cycles_per_tile(256) == 256 and unit.cycles_per_tile(3) == 38
    assert unit.stream_group == (38, 12)
    function, kwargs = unit.golden
    assert function is mac.gemm and kwargs["acc_bits"] == 24 and kwargs["overflow"] == "wrap"
    assert gemmbench.exact_k(unit) == 256
    assert unit.dsp_pes == 144 and unit.notes == []
    hybrid = verilog.build_unit("macarray", {"rows": 16, "cols": 16, "multiplier": "hybrid"})
    assert hybrid.dsp_pes == 156 and hybrid.latency == unit.latency + 4
    packed = verilog.build_unit("macarray", {"rows": 13, "cols": 24, "b_fmt": "int4",
                                             "multiplier": "packed"})
    assert packed.dsp_pes == 156 and packed.ops_per_cycle == 312      # W4A8 on one 85F
    assert packed.latency == 4 + 3 + 12 + 5      # (block, transport registers, sites, edges)
    assert hybrid.notes == ["hybrid: 156 PEs on MULT18X18D (rows 0.. in order), 100 PEs "
                            "with LUT multipliers"]


def test_fp_derived_attributes():
    """FP PEs: the Kulisch width from golden.dot.kulisch_range (guard bits for k_max), one
    more cycle each for the term register and the rounding; FP32 codes out."""
    unit = verilog.build_unit("macarray", {"rows": 2, "cols": 2, "a_fmt": "fp8_e4m3",
                                           "mul": "lmul", "acc": "kulisch", "k_max": 300})
    assert unit.guard_bits == 9 and gemmbench.exact_k(unit) == 512
    # L-Mul E4M3 products: 3 mantissa bits, exponents 2 * (-6) .. 2 * 8 + 2: lsb 2^-15,
    # below 2^19; 9 guard bits and a sign.
    assert unit.acc_bits == 19 + 15 + 9 + 1
    assert unit.out_fmt == formats.FP32 and unit.o.payload.shape().size == 64
    assert unit.latency == 2 + 2 + 5 + 1 and unit.ops_per_cycle == 4
    function, kwargs = unit.golden
    assert function is mac.fp_gemm and kwargs == {"fmt": formats.FP8_E4M3, "mul": "lmul",
                                                  "acc": "kulisch", "guard_bits": 9}
    fp32 = verilog.build_unit("macarray", {"rows": 3, "cols": 2, "a_fmt": "bf16"})
    assert (fp32.acc_bits, fp32.latency, gemmbench.exact_k(fp32)) == (32, 1 + 2 + 5, None)


def test_tiles_cut_and_reassemble_any_shape():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(7, 5), dtype=np.uint64)
    b = rng.integers(0, 256, size=(5, 4), dtype=np.uint64)
    a_beats, b_beats, last, tiles = gemmbench.tile_stream(a, b, 3, 3)
    assert tiles == [(0, 0), (0, 3), (3, 0), (3, 3), (6, 0), (6, 3)]
    assert a_beats.shape == (6 * 5, 3) and b_beats.shape == (6 * 5, 3)
    assert last.tolist() == ([0, 0, 0, 0, 1] * 6)
    # Tile (6, 3): A row 6 then padding; B column 3 then padding.
    t = tiles.index((6, 3))
    assert a_beats[t * 5:(t + 1) * 5, 0].tolist() == a[6].tolist()
    assert not a_beats[t * 5:(t + 1) * 5, 1:].any()
    assert b_beats[t * 5:(t + 1) * 5, 0].tolist() == b[:, 3].tolist()
    # An array that computed each tile exactly reassembles into the whole product.
    rows = []
    for t, _ in enumerate(tiles):
        ta, tb = a_beats[t * 5:(t + 1) * 5].T, b_beats[t * 5:(t + 1) * 5]
        rows.extend((ta.astype(np.int64) @ tb.astype(np.int64)).astype(np.uint64))
    got = gemmbench.assemble(np.array(rows), tiles, 7, 4, 3, 3)
    assert got.tolist() == (a.astype(np.int64) @ b.astype(np.int64)).tolist()


def test_weight_stationary_derived_attributes():
    unit = verilog.build_unit("macarray", {"rows": 4, "cols": 3, "dataflow": "weight"})
    os_unit = verilog.build_unit("macarray", {"rows": 4, "cols": 3})
    assert unit.m_tile == 64 and unit.latency == os_unit.latency + 4 - 1   # (down 4 rows)
    assert unit.stream_group == (1, 1) and unit.ops_per_item == 12
    assert unit.fifo_rows == 16 + 1 and unit.fifo_rows >= unit.latency + 3
    # A pass shorter than rows + 2 = 6 rows: the next one waits for its sums.
    assert unit.cycles_per_tile(6) == 6 and unit.cycles_per_tile(5) == 5 + 5
    # 64x256x64: 64 passes per column tile (K / rows), 22 column tiles, 64 rows each.
    assert unit.layer_cycles(64, 256, 64) == 4 + 64 * 22 * 64 - 1 + unit.latency + 1
    deep = verilog.build_unit("macarray", {"rows": 16, "cols": 16, "b_fmt": "int2",
                                           "multiplier": "ternary", "dataflow": "weight"})
    assert deep.fifo_rows == 48 + 1 and deep.fifo_rows >= deep.latency + 3


def _run_weight_beats(fields, rows, cols, m_tile):
    """The weight-stationary beat protocol (hdl.macarray's docstring), interpreted
    directly: the rows each emitting pass sends out, exact integers."""
    loaded = np.zeros((rows, cols), dtype=np.int64)       # the weights loaded
    active = np.zeros((rows, cols), dtype=np.int64)
    sums = np.zeros((m_tile, cols), dtype=np.int64)
    load_row = index = 0
    fresh = emit = False
    out = []
    for t in range(len(fields["a"])):
        a = fields["a"][t].astype(np.int64)
        start = fields["act"][t] and fields["start"][t]
        if start:
            active, load_row, index = loaded.copy(), 0, 0
            fresh, emit = bool(fields["fresh"][t]), bool(fields["emit"][t])
        if fields["load"][t]:
            loaded[load_row] = fields["b"][t].astype(np.int64)
            load_row = (load_row + 1) % rows
        if fields["act"][t]:
            sums[index] = (0 if fresh else sums[index]) + a @ active
            if emit:
                out.append(sums[index].copy())
            index = (index + 1) % m_tile
    return np.array(out)


@pytest.mark.parametrize("shape,m_tile", [((7, 10, 5), 3), ((2, 4, 3), 64), ((9, 3, 7), 4)])
def test_weight_stream_cuts_and_reassembles_any_shape(shape, m_tile):
    """tb.gemmbench.weight_stream's beats, run through the protocol as documented, give
    A @ B back through weight_assemble (K, M and N not multiples of the array)."""
    rows, cols = 3, 2
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.integers(0, 200, size=(m, k), dtype=np.uint64)
    b = rng.integers(0, 200, size=(k, n), dtype=np.uint64)
    fields, tiles = gemmbench.weight_stream(a, b, rows, cols, m_tile)
    assert sum(count for _, _, count in tiles) == m * -(-n // cols)
    out = _run_weight_beats(fields, rows, cols, m_tile)
    got = gemmbench.weight_assemble(out.astype(np.uint64), tiles, m, n, cols)
    assert got.tolist() == (a.astype(np.int64) @ b.astype(np.int64)).tolist()
