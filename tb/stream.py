"""valid/ready stream driver and monitor for cocotb, with seeded random stalls.

A unit's `stream.Signature` port named ``i`` appears in its Verilog as ``i__valid``,
``i__ready`` and ``i__payload``. `StreamDriver` feeds a sequence of payloads into such a
port, dropping ``valid`` at random; `StreamMonitor` collects the payloads that leave an
output port, dropping ``ready`` at random. `run_stream` clocks them together, one loop
iteration per cycle:

    rising edge  -> each side drives its next values (valid/payload, ready)
    falling edge -> each side samples whether a transfer happens at the next rising edge

so a transfer is recorded exactly when ``valid & ready`` is high at a rising edge, and the
stall pattern is a pure function of the seed. Payloads are Python ints; `pack` and
`unpack` convert between NumPy field arrays and packed `data.StructLayout` values.
"""

import os
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

__all__ = ["StreamDriver", "StreamMonitor", "run_stream", "reset", "pack", "unpack",
           "check_pairs"]


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
    """Handles of one stream port and its seeded stall pattern."""

    def __init__(self, dut, name, count, rng, stall):
        if not 0 <= stall < 1:
            raise ValueError(f"stall must be in [0, 1), not {stall}")
        self._valid = getattr(dut, f"{name}__valid")
        self._ready = getattr(dut, f"{name}__ready")
        self._payload = getattr(dut, f"{name}__payload")
        self._stalls = (rng.random(count * 4 + 64) < stall).tolist()
        self._cycle = 0
        self._driven = None

    def _drive_handshake(self, handle, value):
        """Write `value` (0/1) to this side's valid or ready unless it holds it already
        (each write is a call into the simulator)."""
        if value != self._driven:
            handle.value = value
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
        super().__init__(dut, name, len(self._items), rng, stall)
        self.sent = 0
        self._offered = False
        self._valid.value = self._driven = 0    # defined from time 0 (4-state simulators)
        self._payload.value = 0

    @property
    def done(self):
        return self.sent == len(self._items)

    def drive(self):
        """Called just after a rising edge: present the next payload or a bubble."""
        self._offered = not self.done and not self._stall()
        self._drive_handshake(self._valid, int(self._offered))
        if self._offered:
            self._payload.value = self._items[self.sent]

    def sample(self):
        """Called at the falling edge: count a transfer at the coming rising edge."""
        if self._offered and self._ready.value:
            self.sent += 1


class StreamMonitor(_StreamSide):
    """Collect payloads leaving a DUT's stream output port `name`, with random ready stalls.

    Parameters are as for `StreamDriver`; `count` is the number of payloads expected.
    """

    def __init__(self, dut, name, count, rng, *, stall=0.25):
        super().__init__(dut, name, count, rng, stall)
        self.count = count
        self.received = []
        self._accepting = False
        self._ready.value = self._driven = 0

    @property
    def done(self):
        return len(self.received) >= self.count

    def drive(self):
        """Called just after a rising edge: raise or drop ready."""
        self._accepting = not self._stall()
        self._drive_handshake(self._ready, int(self._accepting))

    def sample(self):
        """Called at the falling edge: record a transfer at the coming rising edge."""
        if self._accepting and self._valid.value:
            self.received.append(int(self._payload.value))


def _edges(dut, period_ns=10):
    """(rising, falling) triggers of the DUT clock; a purely combinational unit has no
    ``clk`` port, so two half-period timers stand in for its edges."""
    if hasattr(dut, "clk"):
        return RisingEdge(dut.clk), FallingEdge(dut.clk)
    return Timer(period_ns / 2, unit="ns"), Timer(period_ns / 2, unit="ns")


async def reset(dut, *, period_ns=10, cycles=2):
    """Start the clock on ``clk`` and hold the synchronous ``rst`` high for `cycles`
    (nothing to do for a purely combinational unit)."""
    if not hasattr(dut, "clk"):
        return
    Clock(dut.clk, period_ns, unit="ns").start()
    if hasattr(dut, "rst"):
        dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(dut.clk)
        dut.rst.value = 0


async def run_stream(dut, driver, monitor, *, idle_limit=1000, drain_cycles=8):
    """Clock `driver` and `monitor` until the monitor has all its payloads.

    Returns the number of cycles taken. Raises `AssertionError` if the monitor sees nothing
    for `idle_limit` cycles in a row (a hung pipeline), or if any output appears during
    `drain_cycles` cycles afterwards (more outputs than inputs); give at least the unit's
    latency.
    """
    rising, falling = _edges(dut)
    cycles = idle = 0
    while not monitor.done:
        await rising
        driver.drive()
        monitor.drive()
        await falling
        before = len(monitor.received)
        driver.sample()
        monitor.sample()
        cycles += 1
        idle = 0 if len(monitor.received) != before else idle + 1
        if idle > idle_limit:
            raise AssertionError(
                f"stream stalled: {len(monitor.received)} of {monitor.count} outputs after "
                f"{cycles} cycles, {driver.sent} inputs accepted")
    monitor.count += drain_cycles        # keep accepting: anything more is an error
    for _ in range(drain_cycles):
        await rising
        driver.drive()
        monitor.drive()
        await falling
        monitor.sample()
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
