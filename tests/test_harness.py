"""The tb harness pieces that need no simulator: compare messages, packing, simulator checks."""

import numpy as np
import pytest
from amaranth.lib import data

from golden import formats
from tb import compare, harness, stream, vectors


def test_mismatch_report_shows_seed_hex_and_decoded_values():
    fmt = formats.BF16
    one, two = 0x3F80, 0x4000
    with pytest.raises(AssertionError) as info:
        compare.assert_codes_equal([one, two], [one, one], seed=1234, out_fmt=fmt,
                                   inputs={"a": (np.array([one, one]), fmt),
                                           "b": (np.array([one, two]), fmt)})
    message = str(info.value)
    assert "1 of 2 outputs differ (seed 1234; replay with COCOTB_RANDOM_SEED=1234)" in message
    assert "#1: a=0x3f80 (1.0), b=0x4000 (2.0) -> expected 0x3f80 (1.0), got 0x4000 (2.0)" \
        in message


def test_compare_refuses_to_pass_on_nothing():
    with pytest.raises(AssertionError, match="no vectors were compared"):
        compare.assert_codes_equal([], [], inputs={})


def test_compare_counts_length_mismatch():
    with pytest.raises(AssertionError, match="got 1 outputs, expected 2"):
        compare.assert_codes_equal([1], [1, 2], inputs={})


def test_compare_returns_count_when_equal():
    assert compare.assert_codes_equal([5, 6, 7], [5, 6, 7], inputs={}) == 3


def test_pack_and_unpack_round_trip_and_reject_overflowing_fields():
    layout = data.StructLayout({"a": 8, "b": 8})
    packed = stream.pack(layout, a=np.array([1, 255]), b=np.array([2, 0]))
    assert packed == [0x0201, 0x00FF]
    fields = stream.unpack(layout, packed)
    assert fields["a"].tolist() == [1, 255] and fields["b"].tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"field 'a' holds values outside 0\.\.255"):
        stream.pack(layout, a=np.array([256]), b=np.array([0]))
    with pytest.raises(ValueError, match="exactly the fields"):
        stream.pack(layout, a=np.array([1]))


def test_missing_icarus_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    with pytest.raises(harness.SimulatorMissing) as info:
        harness.sim_environment("icarus")
    message = str(info.value)
    assert "\n" not in message and "iverilog" in message and "make" in message


def test_unknown_simulator_is_rejected():
    with pytest.raises(ValueError, match="SIM must be 'verilator' or 'icarus', not 'xsim'"):
        harness.sim_environment("xsim")


def test_exhaustive_pairs_cover_every_pair_once():
    a, b = vectors.exhaustive_pairs(4)
    assert len({(int(x), int(y)) for x, y in zip(a, b)}) == 256 == a.size


def test_directed_values_include_the_format_edges():
    fmt = formats.FP8_E5M2
    codes = set(vectors.float_directed(fmt).tolist())
    for code in (0x00, 0x80, 0x01, 0x04, 0x3C, fmt.max_code, fmt.inf_code, fmt.nan_code,
                 0x80 | fmt.inf_code):
        assert code in codes


def test_random_pairs_reach_overflow_and_underflow():
    fmt = formats.BF16
    a, b = vectors.random_float_pairs(fmt, 20000, np.random.default_rng(1))
    from golden import ops
    products = fmt.decode(ops.mul(a, b, fmt))
    finite = np.abs(products[np.isfinite(products)])
    assert np.any(np.isinf(products))
    assert np.any((finite > 0) & (finite < fmt.min_normal))


def test_probed_unit_registers_each_transfer_and_its_payload():
    from amaranth.sim import Simulator
    from hdl import verilog
    fmt = formats.FP8_E4M3
    unit = verilog.build_unit("fpmul", {"fmt": fmt, "stages": 0})   # combinational
    dut = stream.Probed(unit)
    members = dict(dut.signature.members.items())
    assert set(members) == {"i", "o", "probe_i_fire", "probe_o_fire", "probe_o_payload"}
    one, two = (int(fmt.encode(np.array([v]))[0]) for v in (1.0, 2.0))
    seen = []

    async def bench(ctx):
        ctx.set(dut.i.payload, {"a": two, "b": two})
        for valid, ready in [(1, 1), (1, 0), (0, 1), (1, 1)]:
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.o.ready, ready)
            await ctx.tick()
            seen.append((ctx.get(dut.probe_i_fire), ctx.get(dut.probe_o_fire),
                         ctx.get(dut.probe_o_payload)))
            ctx.set(dut.i.payload, {"a": one, "b": two})

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    four = int(fmt.encode(np.array([4.0]))[0])
    assert [s[:2] for s in seen] == [(1, 1), (0, 0), (0, 0), (1, 1)]
    assert seen[0][2] == four and seen[3][2] == two


def test_probed_refuses_a_unit_without_streams():
    import gc
    import warnings
    from amaranth.hdl import UnusedElaboratable
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    plain = wiring.Signature({"a": In(4), "y": Out(4)}).create()
    with warnings.catch_warnings():     # the half-built wrapper is never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(TypeError, match="PureInterface has no stream port to probe"):
            stream.Probed(plain)
        gc.collect()
