"""The tb harness: compare messages, packing, simulator checks (no simulator needed); and the
fast path (`tb.fastpath`), with small designs built by Verilator: it must fail when a
golden model is one ulp off, when a unit breaks the stream protocol, and when its build fails."""

import re

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


# --- the fast path (tb/fastpath.py): these build small designs with Verilator ---------------

def test_fast_path_words_round_trip_narrow_and_wide_payloads():
    from tb import fastpath
    narrow = np.array([0, 5, (1 << 40) + 3], dtype=np.uint64)
    words = fastpath.items_to_words(narrow, 41)
    assert words.shape == (3, 2) and words[2].tolist() == [3, 1 << 8]
    assert fastpath.words_to_items(words.reshape(-1), 41, 3).tolist() == narrow.tolist()
    wide = [0, (1 << 99) | 7, (1 << 64) - 1]
    words = fastpath.items_to_words(wide, 100)
    assert words.shape == (3, 4)
    assert fastpath.words_to_items(words.reshape(-1), 100, 3) == wide
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        fastpath.items_to_words([256], 8)


def _toy(width=4, *, fault=None, throttle=False):
    """A one-register stream unit: o = a ^ b, with one more output bit that is set (and
    sticks) when the driver changed or withdrew an item the unit had not taken yet.

    `throttle`: the unit itself drops i.ready every other cycle (input-side stalls).
    `fault`: ``"payload"`` (the output changes while stalled), ``"valid"`` (it drops valid
    while stalled), ``"early"`` (an output leaves before its input), ``"hang"`` (never
    ready).
    """
    from amaranth.hdl import Module, Signal
    from amaranth.lib import stream as amaranth_stream
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Toy(wiring.Component):
        latency = 1

        def __init__(self):
            layout = data.StructLayout({"a": width, "b": width})
            super().__init__({"i": In(amaranth_stream.Signature(layout)),
                              "o": Out(amaranth_stream.Signature(width + 1))})

        def elaborate(self, platform):
            m = Module()
            i, o = self.i, self.o
            toggle, violated = Signal(), Signal()
            waiting, last = Signal(), Signal.like(i.payload.as_value())
            m.d.sync += toggle.eq(~toggle)
            take = (o.ready | ~o.valid) & (toggle if throttle else 1)
            if fault != "hang":
                m.d.comb += i.ready.eq(take)
            # The driver: an item offered and not taken stays offered, unchanged.
            m.d.sync += [waiting.eq(i.valid & ~i.ready), last.eq(i.payload.as_value())]
            with m.If(waiting & (~i.valid | (i.payload.as_value() != last))):
                m.d.sync += violated.eq(1)
            with m.If(i.valid & i.ready):
                m.d.sync += [o.valid.eq(1), o.payload.eq(
                    (i.payload.a ^ i.payload.b) | (violated << width))]
            with m.Elif(o.ready & (fault != "early")):
                m.d.sync += o.valid.eq(0)
            with m.Elif(o.valid & ~o.ready):
                if fault == "payload":
                    m.d.sync += o.payload.eq(o.payload + 1)
                elif fault == "valid":
                    m.d.sync += o.valid.eq(0)
            return m

    return Toy()


def _toy_items(width, count, rng):
    a = rng.integers(0, 1 << width, size=count, dtype=np.uint64)
    b = rng.integers(0, 1 << width, size=count, dtype=np.uint64)
    layout = data.StructLayout({"a": width, "b": width})
    return a, b, stream.pack(layout, a=a, b=b)


@pytest.mark.parametrize("width, throttle", [(4, True), (40, False)])
def test_fast_path_streams_in_order_and_the_driver_holds_offered_items(width, throttle):
    rng = np.random.default_rng(3)
    a, b, items = _toy_items(width, 3000, rng)
    result = harness.stream_fast(_toy(width, throttle=throttle), items, seed=11, stall=0.3,
                                 label=f"toy{width}")
    # The top output bit would be set had the driver changed or withdrawn an item.
    assert result["outputs"].tolist() == (a ^ b).tolist()
    assert result["cycles"] > 3000 and result["stream_seconds"] > 0
    again = harness.stream_fast(_toy(width, throttle=throttle), items, seed=11, stall=0.3,
                                label=f"toy{width}")
    assert again["cycles"] == result["cycles"] and again["build_seconds"] == 0.0


def test_fast_path_counts_cycles():
    _, _, items = _toy_items(4, 500, np.random.default_rng(1))
    result = harness.stream_fast(_toy(), items, seed=1, stall=0, label="toy")
    assert result["cycles"] == 500 + 1          # one item a cycle, then the latency


@pytest.mark.parametrize("fault, message", [
    ("payload", r"output #\d+ changed while stalled \(valid high, ready low\) at cycle \d+: "
                r"0x[0-9a-f]+, then 0x[0-9a-f]+"),
    ("valid", r"output #\d+ dropped valid while stalled"),
    ("early", r"output #\d+ left at cycle \d+ before its input was accepted"),
    ("hang", r"stream stalled: 0 of 300 outputs after 1001 cycles, 0 inputs accepted"),
])
def test_fast_path_catches_protocol_faults(fault, message):
    _, _, items = _toy_items(4, 300, np.random.default_rng(2))
    with pytest.raises(harness.BenchFailure) as info:
        harness.stream_fast(_toy(fault=fault), items, seed=99, label=f"toy-{fault}")
    text = str(info.value)
    assert f"toy-{fault} broke the stream protocol (seed 99; replay with " \
           "COCOTB_RANDOM_SEED=99" in text
    assert re.search(message, text), text


def test_fast_path_catches_extra_outputs():
    # A unit that keeps offering its last output: one more than the inputs, after the last.
    _, _, items = _toy_items(4, 1, np.random.default_rng(2))
    with pytest.raises(harness.BenchFailure, match=r"outputs more than the 1 expected"):
        harness.stream_fast(_toy(fault="early"), items, seed=5, stall=0, label="toy")


def test_fast_path_fails_on_a_golden_model_one_ulp_off(monkeypatch):
    from golden import ops
    fmt = formats.FP4_E2M1
    index = 77

    def off_by_one_ulp(a, b):
        codes = ops.mul(a, b, fmt)
        codes[index] ^= 1          # the neighbouring code: one ulp
        return codes

    monkeypatch.setenv("COCOTB_RANDOM_SEED", "4321")   # the seed comes from the environment
    with pytest.raises(harness.BenchFailure) as info:
        harness.run_fast("fpmul", {"fmt": fmt, "stages": 1}, "exhaustive",
                         golden=off_by_one_ulp)
    text = str(info.value)
    assert "fast path failed for fpmul(fmt=fp4_e2m1, stages=1) (log: " in text
    assert "1 of 256 products differ (seed 4321; replay with COCOTB_RANDOM_SEED=4321)" in text
    a, b = vectors.exhaustive_pairs(4)
    expected = int(ops.mul(a, b, fmt)[index])
    assert (f"#{index}: a={compare.describe(a[index], fmt)}, b={compare.describe(b[index], fmt)}"
            f" -> expected {compare.describe(expected ^ 1, fmt)}, "
            f"got {compare.describe(expected, fmt)}") in text
    # The same bench with the true model passes, and reports its figures.
    result = harness.run_fast("fpmul", {"fmt": fmt, "stages": 1}, "exhaustive")
    assert result["seed"] == 4321 and result["stats"]["vectors"] == 256


def test_fast_path_build_failure_names_tool_unit_and_log(tmp_path, monkeypatch):
    from tb import fastpath
    broken = tmp_path / "fastpath_main.cpp"
    broken.write_text('#error "a broken testbench"\n')
    monkeypatch.setattr(fastpath, "TESTBENCH", broken)
    _, _, items = _toy_items(4, 4, np.random.default_rng(0))
    with pytest.raises(RuntimeError) as info:
        harness.stream_fast(_toy(), items, seed=1, label="toy(width=4)", sim_dir=tmp_path)
    text = str(info.value)
    assert text.startswith("verilator: building toy(width=4) with the fast-path testbench")
    log = re.search(r"see (\S+build\.log)$", text).group(1)
    assert "a broken testbench" in open(log).read()


def test_fast_path_rejects_bad_seeds_and_stalls():
    with pytest.raises(TypeError, match="seed must be an integer, not 1.5"):
        harness.bench_seed(1.5)
    assert harness.bench_seed("12") == 12
    import gc
    import warnings
    from amaranth.hdl import UnusedElaboratable
    with warnings.catch_warnings():     # the toy is never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=r"stall must be in \[0, 1\), not 1"):
            harness.stream_fast(_toy(), [0], seed=1, stall=1)
        gc.collect()


def test_fast_path_runs_its_cocotb_counterpart_under_other_simulators(monkeypatch):
    calls = []
    monkeypatch.setenv("SIM", "icarus")
    monkeypatch.setattr(harness, "run_bench", lambda *args, **kwargs: calls.append(
        (args, kwargs)) or {"tests": 1})
    harness.run_fast("fpmul", {"fmt": "bf16"}, "random:10", seed=3, stall=0.1,
                     cocotb_module="tb.test_fpmul")
    (args, kwargs), = calls
    assert args == ("fpmul", {"fmt": "bf16"}, "tb.test_fpmul") and kwargs["seed"] == 3
    assert kwargs["extra_env"] == {"NNRTL_VECTORS": "random:10", "NNRTL_STALL": "0.1"}
    with pytest.raises(harness.SimulatorMissing, match="the fast path needs Verilator"):
        harness.run_fast("fpmul", {"fmt": "bf16"})
