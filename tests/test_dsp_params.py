# amaranth: UnusedElaboratable=no
# (units built here are often only inspected: parameter checks, latencies, Verilog text)
"""hdl/dsp.py without a DSP model: parameter checks, latencies, the emitted instances and
their parameters, the fabric multiplier in Amaranth's simulator, `golden.mac.mac_sums`, fpmul's
``multiplier`` parameter, and the fpga flow's handling of instantiated primitives.

The instantiations themselves are simulated in tb/test_dsp.py (Verilator, with models);
this file is not called test_dsp.py because pytest imports both by their base name.
"""

import random
import re

import numpy as np
import pytest
from amaranth.back import verilog as amaranth_verilog
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator

from golden import formats, mac
from hdl import dsp, fpmul, verilog


# --- parameter checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,message", [
    ({"a_shape": True}, TypeError, r"a_shape must be an Amaranth shape \(e\.g\. signed\(8\)\), "
                                   r"not True"),
    ({"b_shape": "wide"}, TypeError, r"b_shape must be an Amaranth shape .*, not 'wide'"),
    ({"a_shape": unsigned(0)}, ValueError, r"a_shape must be at least 1 bit wide"),
    ({"target": 5}, TypeError, r"target must be one of 'fabric', 'lut', 'ecp5', 'ice40', not 5"),
    ({"target": "xc7"}, ValueError, r"target must be one of 'fabric', 'lut', 'ecp5', 'ice40', "
                                    r"not 'xc7'"),
    ({"target": "ice40-hx8k"}, ValueError, r"target 'ice40-hx8k': the iCE40 HX8K has no DSP "
                                           r"blocks .*use target='fabric'"),
    ({"pipeline": 4}, ValueError, r"pipeline must be in 0\.\.3 .*, not 4"),
    ({"pipeline": -1}, ValueError, r"pipeline must be in 0\.\.3 .*, not -1"),
    ({"pipeline": True}, TypeError, r"pipeline must be an integer, not True"),
    ({"pipeline": 1.5}, TypeError, r"pipeline must be an integer, not 1\.5"),
    ({"fabric_register": 1}, TypeError, r"fabric_register must be a bool, not 1"),
    ({"domain": 3}, TypeError, r"domain must be a clock domain name \(str\), not 3"),
    # Too wide for the blocks: the limit depends on the signedness.
    ({"a_shape": unsigned(37)}, ValueError,
     r"a_shape unsigned\(37\) is too wide for target 'ecp5': an unsigned operand may have "
     r"at most 36 bits here \(2 MULT18X18D slices of 18 \+ 18 bits; at most 4 of the "
     r"LFE5U-85F's 156 blocks per multiplier\)"),
    ({"a_shape": signed(36), "b_shape": signed(8)}, ValueError,
     r"a_shape signed\(36\) is too wide .* a signed operand may have at most 35 bits"),
    ({"a_shape": signed(8), "b_shape": unsigned(35)}, ValueError,
     r"b_shape unsigned\(35\) is too wide .* an unsigned operand may have at most 34 bits"),
    ({"a_shape": unsigned(33), "target": "ice40"}, ValueError,
     r"a_shape unsigned\(33\) is too wide for target 'ice40': .* at most 32 bits here "
     r"\(2 SB_MAC16 slices of 16 \+ 16 bits; at most 4 of the iCE40UP5K's 8 blocks"),
    ({"a_shape": unsigned(53), "b_shape": unsigned(53), "target": "fabric"}, ValueError,
     r"a_shape unsigned\(53\) is too wide for target 'ecp5'"),
])
def test_multiplier_rejects_bad_parameters(kwargs, error, message):
    args = {"a_shape": unsigned(8), "b_shape": unsigned(8), "target": "ecp5", "pipeline": 3}
    args.update(kwargs)
    a_shape, b_shape = args.pop("a_shape"), args.pop("b_shape")
    with pytest.raises(error, match=message):
        dsp.Multiplier(a_shape, b_shape, **args)


def test_mac_rejects_bad_parameters():
    with pytest.raises(TypeError, match=r"fmt must be an IntFormat, not "):
        dsp.MAC(fmt=formats.BF16)
    with pytest.raises(ValueError, match=r"acc_bits must be in 16\.\.64 for int8, not 15"):
        dsp.MAC(fmt=formats.IntFormat(8, True), acc_bits=15)
    with pytest.raises(TypeError, match=r"acc_bits must be an integer, not True"):
        dsp.MAC(fmt=formats.IntFormat(8, True), acc_bits=True)
    with pytest.raises(ValueError, match=r"fmt int24 needs 4 DSP blocks per product; MAC "
                                         r"takes operands that fit one block"):
        dsp.MAC(fmt=formats.IntFormat(24, True), acc_bits=48, target="ecp5")
    with pytest.raises(ValueError, match=r"pipeline must be in 0\.\.3"):
        verilog.build_unit("mac", {"fmt": "int8", "pipeline": 5})


def test_fpmul_multiplier_parameter_is_checked():
    with pytest.raises(ValueError, match=r"multiplier must be one of 'inferred', 'fabric', 'lut', "
                                         r"'ecp5', 'ice40', not 'dsp'"):
        fpmul.FPMul(fmt=formats.BF16, multiplier="dsp")
    with pytest.raises(TypeError, match=r"multiplier must be one of .*, not 3"):
        fpmul.FPMul(fmt=formats.BF16, multiplier=3)
    fp64 = formats.FloatFormat(11, 52)
    with pytest.raises(ValueError, match=r"multiplier='ecp5' cannot multiply the 53-bit "
                                         r"significands of e11m52: a_shape unsigned\(53\) is "
                                         r"too wide"):
        fpmul.FPMul(fmt=fp64, multiplier="ecp5")
    with pytest.raises(ValueError, match=r"unit 'fpmul' has no parameter 'mult'"):
        verilog.build_unit("fpmul", {"fmt": "bf16", "mult": "ecp5"})


# --- latencies and blocks -----------------------------------------------------------------------

@pytest.mark.parametrize("a,b,target,pipeline,fabric_register,latency,blocks", [
    (unsigned(8), unsigned(8), "ecp5", 3, False, 3, 1),
    (unsigned(8), unsigned(8), "ecp5", 0, True, 0, 1),       # no register at all
    (unsigned(8), unsigned(8), "ecp5", 2, True, 3, 1),
    (unsigned(18), unsigned(18), "ecp5", 1, False, 1, 1),
    (signed(18), unsigned(18), "ecp5", 1, False, 2, 2),     # unsigned 18 > 17: two slices
    (unsigned(24), unsigned(24), "ecp5", 3, False, 4, 4),   # FP32 significands
    (unsigned(24), unsigned(24), "ecp5", 0, False, 0, 4),
    (signed(35), signed(35), "ecp5", 2, False, 3, 4),
    (unsigned(24), unsigned(24), "fabric", 3, False, 4, 0),  # ECP5's latency
    (unsigned(17), unsigned(8), "fabric", 2, False, 2, 0),
    (unsigned(17), unsigned(8), "ice40", 2, False, 3, 2),    # 16-bit blocks
    (unsigned(32), unsigned(32), "ice40", 3, False, 4, 4),
    (signed(16), signed(16), "ice40", 1, False, 1, 1),
])
def test_multiplier_latency_and_blocks(a, b, target, pipeline, fabric_register, latency,
                                       blocks):
    unit = dsp.Multiplier(a, b, target=target, pipeline=pipeline,
                          fabric_register=fabric_register)
    assert (unit.latency, unit.blocks) == (latency, blocks)
    assert unit.p.shape() == (signed if a.signed or b.signed else unsigned)(a.width + b.width)


@pytest.mark.parametrize("fmt,stages,multiplier,latency", [
    ("bf16", 5, "inferred", 5), ("bf16", 0, "ecp5", 0),
    # stages - 1 + multiplier (3 DSP levels + fabric register) + operand register + rounding
    ("bf16", 5, "ecp5", 10), ("fp32", 5, "ecp5", 10), ("fp32", 5, "fabric", 10),
    ("bf16", 2, "ice40", 6),                  # product, output: 4 + 1 + the rounding register
    ("bf16", 1, "ecp5", 4),                   # product only
    (formats.FloatFormat(4, 3, subnormals=False, specials="fn"), 5, "ecp5", 9),  # no operand
])
def test_fpmul_latency_with_a_dsp_multiplier(fmt, stages, multiplier, latency):
    fmt = formats.format_from_name(fmt) if isinstance(fmt, str) else fmt
    assert fpmul.FPMul(fmt=fmt, stages=stages, multiplier=multiplier).latency == latency


# --- the emitted instances ----------------------------------------------------------------------

def _instances(text, cell):
    """Parameter dicts of every `cell` instance in Verilog `text`."""
    found = []
    for match in re.finditer(rf"^\s*{cell} #\((.*?)\) \S+ \(", text, re.M | re.S):
        found.append(dict(re.findall(r"\.(\w+)\(([^)]*)\)", match.group(1))))
    return found


@pytest.mark.parametrize("pipeline,expected", [
    (0, ("NONE", "NONE", "NONE")), (1, ("CLK0", "NONE", "NONE")),
    (2, ("CLK0", "NONE", "CLK0")), (3, ("CLK0", "CLK0", "CLK0")),
])
def test_mult18x18d_instances_carry_the_register_levels(pipeline, expected):
    unit = dsp.Multiplier(unsigned(24), unsigned(24), target="ecp5", pipeline=pipeline)
    text = amaranth_verilog.convert(unit, name="t", emit_src=False)
    instances = _instances(text, "MULT18X18D")
    assert len(instances) == 4
    for params in instances:
        got = (params["REG_INPUTA_CLK"], params["REG_PIPELINE_CLK"], params["REG_OUTPUT_CLK"])
        assert got == tuple(f'"{v}"' for v in expected)
        assert params["REG_INPUTB_CLK"] == params["REG_INPUTA_CLK"]
        assert params["REG_OUTPUT_CE"] == '"CE0"' and params["GSR"] == '"DISABLED"'
    # Clock enable, clock and signedness as wired.
    assert text.count(".CE0(en)") == 4 and text.count(".CLK0(clk)") == 4
    assert text.count(".SIGNEDA(1'h0)") == 4
    signed_text = amaranth_verilog.convert(
        dsp.Multiplier(signed(8), unsigned(8), target="ecp5", pipeline=1), name="t",
        emit_src=False)
    assert signed_text.count(".SIGNEDA(1'h1)") == signed_text.count(".SIGNEDB(1'h1)") == 1


@pytest.mark.parametrize("pipeline", range(4))
def test_sb_mac16_instances_carry_the_register_levels(pipeline):
    unit = dsp.Multiplier(signed(16), signed(16), target="ice40", pipeline=pipeline)
    text = amaranth_verilog.convert(unit, name="t", emit_src=False)
    (params,) = _instances(text, "SB_MAC16")
    flag = lambda level: "1'h1" if pipeline >= level else "1'h0"      # noqa: E731
    assert (params["A_REG"], params["B_REG"]) == (flag(1), flag(1))
    assert params["PIPELINE_16x16_MULT_REG2"] == flag(2)
    assert params["TOP_8x8_MULT_REG"] == params["BOT_8x8_MULT_REG"] == flag(3)
    assert params["PIPELINE_16x16_MULT_REG1"] == flag(3)
    assert params["TOPOUTPUT_SELECT"] == params["BOTOUTPUT_SELECT"] == "2'h3"
    assert params["A_SIGNED"] == params["B_SIGNED"] == "1'h1" and params["MODE_8x8"] == "1'h0"
    assert ".CE(en)" in text


def test_fabric_multiplier_instantiates_nothing():
    text = amaranth_verilog.convert(dsp.Multiplier(unsigned(24), unsigned(24),
                                                   target="fabric"), name="t", emit_src=False)
    assert "MULT18X18D" not in text and "SB_MAC16" not in text and text.count(" * ") == 1


@pytest.mark.parametrize("fmt", ["bf16", "fp32", "fp8_e4m3"])
def test_fpmul_default_is_the_inferred_datapath(fmt):
    """The default Verilog is the inferred datapath's, and at stages=0 the significand
    product is written out once (it was written once per use: 97 times for FP32)."""
    f = formats.format_from_name(fmt)
    for stages in (0, 3, 5):
        default = verilog.convert(fpmul.FPMul(fmt=f, stages=stages), "t")
        assert default == verilog.convert(fpmul.FPMul(fmt=f, stages=stages,
                                                      multiplier="inferred"), "t")
        assert default.count(" * ") == 1
        assert "MULT18X18D" not in default


def test_fpmul_on_mult18x18d_uses_the_dsp_registers():
    text = verilog.convert(fpmul.FPMul(fmt=formats.FP32, stages=5, multiplier="ecp5"), "t")
    instances = _instances(text, "MULT18X18D")
    assert len(instances) == 4
    assert all(p["REG_PIPELINE_CLK"] == '"CLK0"' == p["REG_OUTPUT_CLK"] for p in instances)
    assert " * " not in text


# --- the fabric multiplier in Amaranth's simulator ----------------------------------------------

def _check_fabric(a_shape, b_shape, pipeline, pairs, seed):
    """Drive `pairs` with a random `en` (and random operands while it is low); check
    every cycle's product against the pair accepted `latency` enables earlier."""
    unit = dsp.Multiplier(a_shape, b_shape, target="fabric", pipeline=pipeline)
    rng = random.Random(seed)
    latency = unit.latency
    errors = []

    def value(code, shape):
        return code - (1 << shape.width) if shape.signed and code >> (shape.width - 1) else code

    async def bench(ctx):
        accepted = []
        index = 0
        while index < len(pairs) or len(accepted) < len(pairs) + latency:
            en = rng.random() < 0.75
            if en and index < len(pairs):
                x, y = pairs[index]
                index += 1
            else:
                x, y = rng.getrandbits(a_shape.width), rng.getrandbits(b_shape.width)
            ctx.set(unit.a, value(x, a_shape))
            ctx.set(unit.b, value(y, b_shape))
            ctx.set(unit.en, en)
            got = ctx.get(unit.p)
            if latency == 0:
                expected = value(x, a_shape) * value(y, b_shape)
            elif len(accepted) >= latency:
                expected = accepted[-latency]
            else:
                expected = None
            if expected is not None and got != expected and len(errors) < 5:
                errors.append((x, y, got, expected))
            if en:
                accepted.append(value(x, a_shape) * value(y, b_shape))
            if latency:
                await ctx.tick()
            else:
                await ctx.delay(1e-6)

    sim = Simulator(unit)
    sim.add_clock(1e-6, if_exists=True)      # no clock domain without a register
    sim.add_testbench(bench)
    sim.run()
    assert not errors, errors


@pytest.mark.parametrize("a_shape,b_shape", [
    (unsigned(5), unsigned(5)), (signed(5), signed(5)), (signed(5), unsigned(5)),
    (unsigned(4), signed(6)),
])
@pytest.mark.parametrize("pipeline", range(4))
def test_fabric_multiplier_every_pair(a_shape, b_shape, pipeline):
    pairs = [(x, y) for x in range(1 << a_shape.width) for y in range(1 << b_shape.width)]
    _check_fabric(a_shape, b_shape, pipeline, pairs, seed=pipeline)


def test_fabric_multiplier_wide_random():
    rng = random.Random(7)
    pairs = [(rng.getrandbits(24), rng.getrandbits(24)) for _ in range(2000)]
    pairs += [(0xFFFFFF, 0xFFFFFF), (0, 0xFFFFFF), (1, 1)]
    _check_fabric(unsigned(24), unsigned(24), 3, pairs, seed=1)       # latency 4


# --- golden.mac -------------------------------------------------------------------------------

def test_mac_model_against_python_integers():
    rng = np.random.default_rng(3)
    int8 = formats.IntFormat(8, True)
    a = rng.integers(0, 256, size=(50, 700), dtype=np.uint64)
    b = rng.integers(0, 256, size=(50, 700), dtype=np.uint64)
    signed_a, signed_b = (np.where(x >= 128, x.astype(np.int64) - 256, x.astype(np.int64))
                          for x in (a, b))
    for acc_bits in (16, 20, 32):
        expected = [int(sum(int(p) for p in row)) % (1 << acc_bits)
                    for row in signed_a * signed_b]
        assert mac.mac_sums(a, b, int8, acc_bits=acc_bits).tolist() == expected
    with pytest.raises(ValueError, match=r"a and b must be code arrays of the same shape"):
        mac.mac_sums(a[0], b[0], int8)


def test_mac_golden_is_declared():
    unit = verilog.build_unit("mac", {"fmt": "uint8", "acc_bits": 20})
    function, kwargs = unit.golden
    assert function is mac.mac_sums and kwargs == {"fmt": formats.IntFormat(8, False),
                                                    "acc_bits": 20}
    assert unit.latency == 3 + 1 + 2 and unit.ops_per_cycle == 1


# --- the fpga flow with instantiated primitives -------------------------------------------------

def test_fpga_flow_reads_the_cell_library_only_for_units_with_primitives(tmp_path):
    """yosys' `hierarchy -check` stops at an unknown module: a unit that instantiates
    MULT18X18D or SB_MAC16 gets the family's cell library read first; every other unit's
    script (and so its cached results) is unchanged."""
    from fpga import cache, flow
    versions = {"yosys": "test", "nextpnr": "test"}
    scripts = {}
    for name, unit, params, target in [
            ("mac-ecp5", "mac", {"fmt": "int8", "target": "ecp5"}, "ecp5-85f"),
            ("mac-ice40", "mac", {"fmt": "int8", "target": "ice40"}, "ice40-up5k"),
            ("mac-fabric", "mac", {"fmt": "int8", "target": "fabric"}, "ecp5-85f"),
            ("fpmul", "fpmul", {"fmt": "bf16", "stages": 2}, "ecp5-85f")]:
        job = flow.Job(unit=unit, params=params, target=target)
        spec = flow.prepare(job, cache=cache.Cache(tmp_path / "cache"), versions=versions,
                            verilog_dir=tmp_path / "verilog")
        scripts[name] = spec["yosys_script"].splitlines()
    assert scripts["mac-ecp5"][2] == "read_verilog -lib +/ecp5/cells_bb.v"
    assert scripts["mac-ice40"][2] == "read_verilog -lib +/ice40/cells_sim.v"
    for name in ("mac-fabric", "fpmul"):
        assert scripts[name][:3] == ["read_verilog unit.v", "read_verilog wrapper.v",
                                     "hierarchy -check -top nnrtl_wrapper"]
