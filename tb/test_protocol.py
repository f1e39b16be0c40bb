"""The generic bench of the unit protocol: every unit in `hdl.UNITS`, measured in the RTL.

For each unit and each of its ``EXAMPLES`` parameter sets (`hdl.protocol`), under
Verilator:

- latency: one item into an idle unit (output ready) must come out exactly
  ``unit.latency`` cycles after the cycle it was accepted, three times with idle gaps;
- throughput: with valid and ready held high, 1,200 items must be accepted one per cycle
  and leave one per cycle, so that the unit sustains ``unit.ops_per_cycle`` operations per
  cycle, where an item holds as many operations as its ``a`` operand has elements.

Payloads are random bits; a payload field named ``last`` (end of a group, e.g. a dot
product's vector) is set in every item, so that every item gives an output. Either figure
wrong fails the bench. A new unit registered in `hdl.UNITS` gets this bench for free.
"""

import numpy as np
import pytest

from hdl import UNITS, unit_class
from tb import harness

ITEMS = 1200
CASES = [(name, params) for name in UNITS for params in unit_class(name).EXAMPLES]


@pytest.mark.parametrize("unit,params", CASES,
                         ids=[f"{u}-" + "-".join(f"{k}={v}" for k, v in p.items())
                              for u, p in CASES])
def test_latency_and_throughput(unit, params):
    harness.run_bench(unit, params, "tb.test_protocol")


def random_items(unit, count, rng):
    """`count` random payloads of `unit`'s input stream, with any ``last`` field set."""
    layout = unit.i.payload.shape()
    width = layout.size
    items = [int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)
             for _ in range(count)]
    members = dict(layout.members) if hasattr(layout, "members") else {}
    if "last" in members:
        items = [item | (1 << layout["last"].offset) for item in items]
    return items


def ops_per_item(unit):
    """Operations per input item: the number of elements of the ``a`` operand."""
    layout = unit.i.payload.shape()
    shape = layout["a"].shape
    return getattr(shape, "length", 1)


try:
    import cocotb
    from cocotb.triggers import FallingEdge
except ImportError:          # pytest collection without cocotb: only the runners above
    cocotb = None

if cocotb is not None:
    from tb import stream

    async def _lone_item(dut, payload, limit):
        """Offer one item to the idle unit; return (cycle accepted, cycle output left),
        counted in falling edges, each reading the transfers at the rising edge before."""
        falling = FallingEdge(dut.clk)
        dut.i__payload.value = payload
        dut.i__valid.value = 1
        accepted = left = None
        cycle = 0
        while left is None:
            await falling
            cycle += 1
            if dut.probe_i_fire.value:
                if accepted is not None:
                    raise AssertionError("the unit accepted the lone item twice")
                accepted = cycle
                dut.i__valid.value = 0
            if dut.probe_o_fire.value:
                if accepted is None:
                    raise AssertionError("an output left before any input was accepted")
                left = cycle
            if cycle > limit:
                raise AssertionError(f"no output {limit} cycles after offering one item "
                                     f"(accepted: {accepted is not None})")
        return accepted, left

    @cocotb.test()
    async def latency_and_throughput(dut):
        unit = harness.bench_unit()
        rng = np.random.default_rng(cocotb.RANDOM_SEED)
        items = random_items(unit, ITEMS + 3, rng)
        await stream.reset(dut)
        falling = FallingEdge(dut.clk)
        dut.o__ready.value = 1
        dut.i__valid.value = 0
        await falling
        for index in range(3):                     # lone items into the idle unit
            for _ in range(unit.latency + 3):      # idle: everything has drained
                await falling
                if dut.probe_o_fire.value:
                    raise AssertionError("an output left an idle unit")
            accepted, left = await _lone_item(dut, items[index], unit.latency + 50)
            assert left - accepted == unit.latency, (
                f"item {index}: out {left - accepted} cycles after it was accepted; the "
                f"unit declares latency {unit.latency}")
        for _ in range(unit.latency + 3):
            await falling

        # Throughput: valid and ready high for ITEMS items.
        stream_items = items[3:]
        sent = received = 0
        first_in = last_in = first_out = last_out = None
        cycle = 0
        dut.i__payload.value = stream_items[0]
        dut.i__valid.value = 1
        while received < ITEMS:
            await falling
            cycle += 1
            if dut.probe_i_fire.value:
                sent += 1
                first_in = cycle if first_in is None else first_in
                last_in = cycle
                if sent < ITEMS:
                    dut.i__payload.value = stream_items[sent]
                else:
                    dut.i__valid.value = 0
            if dut.probe_o_fire.value:
                received += 1
                first_out = cycle if first_out is None else first_out
                last_out = cycle
            if cycle > ITEMS * 4 + unit.latency + 50:
                raise AssertionError(f"{sent} items accepted and {received} left after "
                                     f"{cycle} cycles")
        in_cycles = last_in - first_in + 1
        out_cycles = last_out - first_out + 1
        measured = ITEMS * ops_per_item(unit) / in_cycles
        dut._log.info(f"latency {unit.latency}; {ITEMS} items in {in_cycles} cycles, out in "
                      f"{out_cycles} cycles: {measured:g} ops/cycle")
        assert in_cycles == ITEMS and out_cycles == ITEMS, (
            f"{ITEMS} items took {in_cycles} cycles to enter and {out_cycles} to leave; "
            f"one per cycle expected")
        assert measured == unit.ops_per_cycle, (
            f"measured {measured:g} ops/cycle, the unit declares {unit.ops_per_cycle}")
        assert first_out - first_in == unit.latency, (
            f"the first streamed item left {first_out - first_in} cycles after it entered; "
            f"latency {unit.latency}")
