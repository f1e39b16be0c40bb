"""valid/ready stream driver and monitor for cocotb, with seeded random stalls.

A unit's `stream.Signature` port named ``i`` appears in its Verilog as ``i__valid``,
``i__ready`` and ``i__payload``. `StreamDriver` feeds a sequence of payloads into such a
port, dropping ``valid`` at random; `StreamMonitor` collects the payloads that leave an
output port, dropping ``ready`` at random. Payloads are Python ints; `pack` and `unpack`
convert between NumPy field arrays and packed `data.StructLayout` values.

The benches simulate `Probed(unit)`, not the bare unit: it adds one register per stream
port, ``probe_<port>_fire``, that holds ``valid & ready`` as it was at the last rising
edge, and for an output port ``probe_<port>_payload``, the payload it carried then. So
`run_stream` needs one simulator callback per cycle, at the falling edge:

    falling edge -> each side reads its probe (did a transfer happen at the last rising
                    edge?), then drives its values for the next one (valid/payload, ready)

Reading the ready/valid nets themselves needs a second callback per cycle (they depend
combinationally on what was just driven): the benches ran about 1.4× slower that way. A
transfer is recorded exactly when ``valid & ready`` is high at a rising edge, and the stall
pattern is a pure function of the seed.
"""

import os
import time

import numpy as np

import cocotb
from amaranth.hdl import Module
from amaranth.lib import stream as amaranth_stream
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

__all__ = ["Probed", "StreamDriver", "StreamMonitor", "run_stream", "reset", "pack",
           "unpack", "check_pairs"]


class Probed(wiring.Component):
    """`unit` (a `wiring.Component`) with the same ports, plus transfer probes.

    For every stream port ``p`` of the unit: ``probe_p_fire``, a register that holds
    ``p.valid & p.ready`` at the last rising edge of ``clk``, and for an output stream
    ``probe_p_payload``, a register with ``p.payload`` at that edge. The probes are in the
    ``sync`` domain, so a purely combinational unit gets a ``clk`` and ``rst`` too.
    """

    def __init__(self, unit):
        self._unit = unit
        members = dict(unit.signature.members.items())
        self._streams = [name for name, member in members.items()
                         if member.is_signature
                         and isinstance(member.signature, amaranth_stream.Signature)]
        if not self._streams:
            raise TypeError(f"{type(unit).__name__} has no stream port to probe")
        for name in self._streams:
            members[f"probe_{name}_fire"] = Out(1)
            if members[name].flow == Out:
                members[f"probe_{name}_payload"] = Out(
                    members[name].signature.members["payload"].shape)
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._unit
        for name, member in unit.signature.members.items():
            outer, inner = getattr(self, name), getattr(unit, name)
            if member.is_signature:
                wiring.connect(m, wiring.flipped(outer), inner)
            elif member.flow == In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        for name in self._streams:
            port = getattr(unit, name)
            m.d.sync += getattr(self, f"probe_{name}_fire").eq(port.valid & port.ready)
            if unit.signature.members[name].flow == Out:
                m.d.sync += getattr(self, f"probe_{name}_payload").eq(port.payload)
        return m


def pack(layout, **fields):
    """Pack equal-length integer arrays into a list of ints laid out as `layout`.

    `layout` is an Amaranth `data.StructLayout`; every field must be given, and every value
    must fit its field (a `ValueError` names the field otherwise: nothing is truncated).
    """
    names = {name for name, _ in layout}
    if set(fields) != names:
        raise ValueError(f"pack needs exactly the fields {sorted(names)}, not {sorted(fields)}")
    packed = None
    for name, field in layout:
        values = np.asarray(fields[name], dtype=object)
        width = field.width
        if np.any(values < 0) or np.any(values >= (1 << width)):
            raise ValueError(f"field {name!r} holds values outside 0..{(1 << width) - 1}")
        shifted = values << field.offset
        packed = shifted if packed is None else packed | shifted
    return [int(v) for v in packed]


def unpack(layout, values):
    """Inverse of `pack`: a dict of field name -> uint64 array (fields up to 64 bits)."""
    values = [int(v) for v in values]
    return {name: np.array([(v >> field.offset) & ((1 << field.width) - 1) for v in values],
                           dtype=np.uint64)
            for name, field in layout}


class _StreamSide:
    """One side of a stream port: the handshake signal it drives (``valid`` or ``ready``,
    low from time 0), the port's transfer probe and a seeded stall pattern."""

    def __init__(self, dut, name, handshake, count, rng, stall):
        if not 0 <= stall < 1:
            raise ValueError(f"stall must be in [0, 1), not {stall}")
        self._handshake = getattr(dut, f"{name}__{handshake}")
        self._handshake.value = self._driven = 0    # defined from time 0 (4-state simulators)
        self._fire = getattr(dut, f"probe_{name}_fire")
        self._stalls = (rng.random(count * 4 + 64) < stall).tolist()
        self._cycle = 0

    def _drive_handshake(self, value):
        """Write `value` (0/1) to the handshake signal unless it holds it already (each
        write is a call into the simulator)."""
        if value != self._driven:
            self._handshake.value = value
            self._driven = value

    def _stall(self):
        """Whether this side stalls in the current cycle (advances the pattern)."""
        stall = self._stalls[self._cycle % len(self._stalls)]
        self._cycle += 1
        return stall


class StreamDriver(_StreamSide):
    """Drive payloads into a DUT's stream input port `name`, with random valid stalls.

    Parameters
    ----------
    dut : cocotb handle
    name : str
        Port name prefix (``"i"`` for ``i__valid``/``i__ready``/``i__payload``).
    payloads : sequence of int
        Values to send, in order.
    rng : numpy.random.Generator
        Source of the stall pattern.
    stall : float
        Probability, per cycle, of holding ``valid`` low while data is pending (0 <= stall < 1).
    """

    def __init__(self, dut, name, payloads, rng, *, stall=0.25):
        self._items = list(payloads)
        super().__init__(dut, name, "valid", len(self._items), rng, stall)
        self.sent = 0
        self._payload = getattr(dut, f"{name}__payload")
        self._payload.value = 0

    @property
    def done(self):
        return self.sent == len(self._items)

    def sample(self):
        """At a falling edge: count a transfer at the last rising edge."""
        if self._fire.value:
            self.sent += 1

    def drive(self):
        """At a falling edge, after `sample`: present the next payload or a bubble."""
        offer = not self.done and not self._stall()
        self._drive_handshake(int(offer))
        if offer:
            self._payload.value = self._items[self.sent]


class StreamMonitor(_StreamSide):
    """Collect payloads leaving a DUT's stream output port `name`, with random ready stalls.

    Parameters are as for `StreamDriver`; `count` is the number of payloads expected.
    """

    def __init__(self, dut, name, count, rng, *, stall=0.25):
        super().__init__(dut, name, "ready", count, rng, stall)
        self.count = count
        self.received = []
        self._payload = getattr(dut, f"probe_{name}_payload")

    @property
    def done(self):
        return len(self.received) >= self.count

    def sample(self):
        """At a falling edge: record a transfer at the last rising edge."""
        if self._fire.value:
            self.received.append(int(self._payload.value))

    def drive(self):
        """At a falling edge, after `sample`: raise or drop ready."""
        self._drive_handshake(int(not self._stall()))


async def reset(dut, *, period_ns=10, cycles=2):
    """Start the clock on ``clk`` and hold the synchronous ``rst`` high for `cycles`."""
    Clock(dut.clk, period_ns, unit="ns").start()
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def run_stream(dut, driver, monitor, *, idle_limit=1000, drain_cycles=8):
    """Clock `driver` and `monitor` until the monitor has all its payloads.

    `dut` is a `Probed` unit, after `reset`. Returns the number of cycles taken. Raises
    `AssertionError` if the monitor sees nothing for `idle_limit` cycles in a row (a hung
    pipeline), or if any output appears during `drain_cycles` cycles afterwards (more
    outputs than inputs); give at least the unit's latency.
    """
    falling = FallingEdge(dut.clk)
    await falling
    driver.drive()
    monitor.drive()
    cycles = idle = 0
    while not monitor.done:
        await falling
        before = len(monitor.received)
        driver.sample()
        monitor.sample()
        driver.drive()
        monitor.drive()
        cycles += 1
        idle = 0 if len(monitor.received) != before else idle + 1
        if idle > idle_limit:
            raise AssertionError(
                f"stream stalled: {len(monitor.received)} of {monitor.count} outputs after "
                f"{cycles} cycles, {driver.sent} inputs accepted")
    monitor.count += drain_cycles        # keep accepting: anything more is an error
    for _ in range(drain_cycles):
        await falling
        monitor.sample()
        monitor.drive()
    extra = len(monitor.received) - (monitor.count - drain_cycles)
    monitor.count -= drain_cycles
    if extra:
        raise AssertionError(f"{extra} outputs more than the {monitor.count} inputs")
    return cycles


async def check_pairs(dut, unit, golden, *, what="product"):
    """The bench of a two-operand unit: stream its operand set with random stalls and
    compare every output with ``golden(a, b)`` (codes), raising with the seed on mismatch.

    NNRTL_VECTORS selects the operand set ("exhaustive" or "random:N"), NNRTL_STALL the
    stall probability on both sides; the figures go to stats.json (`harness.record_stats`).
    `harness.run_fast` runs the same bench (operand set from the same seed, same report)
    in a C++ testbench, with no Python per cycle.
    """
    from tb import compare, harness, vectors
    seed = cocotb.RANDOM_SEED
    rng = np.random.default_rng(seed)
    stall = float(os.environ.get("NNRTL_STALL", "0.2"))
    a, b = vectors.operand_pairs(unit.fmt, os.environ.get("NNRTL_VECTORS", "random:2000"), rng)
    expected = golden(a, b)
    driver = StreamDriver(dut, "i", pack(unit.i.payload.shape(), a=a, b=b), rng, stall=stall)
    monitor = StreamMonitor(dut, "o", a.size, rng, stall=stall)
    await reset(dut)
    start = time.perf_counter()
    cycles = await run_stream(dut, driver, monitor, drain_cycles=unit.latency + 4)
    seconds = time.perf_counter() - start
    dut._log.info(f"{a.size} {what}s in {cycles} cycles, {cycles / seconds:,.0f} cycles/s "
                  f"(seed {seed})")
    harness.record_stats(vectors=a.size, cycles=cycles, stream_seconds=seconds)
    compare.assert_codes_equal(monitor.received, expected, seed=seed, what=what,
                               inputs={"a": (a, unit.fmt), "b": (b, unit.fmt)},
                               out_fmt=unit.out_fmt)
