"""The generic bench of the unit protocol: every unit in `hdl.UNITS`, measured in the RTL.

For each unit and each of its ``EXAMPLES`` parameter sets (`hdl.protocol`), under
Verilator:

- latency: one item into an idle unit (output ready) must come out exactly
  ``unit.latency`` cycles after the cycle it was accepted, three times with idle gaps;
- throughput: with valid and ready held high, 1,200 items must be accepted one per cycle
  and their outputs leave one per cycle, so that the unit sustains ``unit.ops_per_cycle``
  operations per cycle, where an item holds ``unit.ops_per_item`` operations (default: as
  many as its ``a`` operand has elements).

Payloads are random bits, or the unit's own ``bench_items(count, rng, lone=)`` when it
has one and it gives them (a unit whose input fields are not free bits: a
weight-stationary MAC array). A payload field named ``last`` ends a group (a dot product's
vector, a MAC array's tile): it is set in every item, or in every G-th item of the
throughput run for a unit that declares ``stream_group = (G, outputs)`` (a group of G
items gives `outputs` output beats; default (1, 1)); the lone items of the latency test
are groups of one. Either figure wrong fails the bench. A new unit registered in
`hdl.UNITS` gets this bench for free.
"""

import numpy as np
import pytest
from amaranth.hdl import Shape

from hdl import UNITS, unit_class
from tb import harness

ITEMS = 1200
CASES = [(name, params) for name in UNITS for params in unit_class(name).EXAMPLES]


@pytest.mark.parametrize("unit,params", CASES,
                         ids=[f"{u}-" + "-".join(f"{k}={v}" for k, v in p.items())
                              for u, p in CASES])
def test_latency_and_throughput(unit, params):
    harness.run_bench(unit, params, "tb.test_protocol")


def stream_group(unit):
    """(items per group in the throughput run, output beats per group)."""
    return getattr(unit, "stream_group", (1, 1))


def random_items(unit, count, rng, group=1, lone=False):
    """`count` random payloads of `unit`'s input stream, with any ``last`` field set in
    every `group`-th item (or the unit's ``bench_items``; `lone`: for lone items)."""
    own = getattr(unit, "bench_items", None)
    items = own(count, rng, lone=lone) if own else None
    if items is not None:
        return items
    layout = unit.i.payload.shape()
    width = Shape.cast(layout).width
    items = [int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)
             for _ in range(count)]
    members = dict(layout.members) if hasattr(layout, "members") else {}
    if "last" in members:
        bit = 1 << layout["last"].offset
        items = [item | bit if index % group == group - 1 else item & ~bit
                 for index, item in enumerate(items)]
    return items


def ops_per_item(unit):
    """Operations per input item: ``unit.ops_per_item``, else the number of elements of
    the ``a`` operand."""
    if hasattr(unit, "ops_per_item"):
        return unit.ops_per_item
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

    async def _lone_item(dut, payload, limit, outputs=1):
        """Offer one item to the idle unit; return (cycle accepted, cycle its first output
        left), counted in falling edges, each reading the transfers at the rising edge
        before, after all its `outputs` output beats have left."""
        falling = FallingEdge(dut.clk)
        dut.i__payload.value = payload
        dut.i__valid.value = 1
        accepted = left = None
        cycle = received = 0
        while received < outputs:
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
                left = cycle if left is None else left
                received += 1
            if cycle > limit:
                raise AssertionError(f"no output {limit} cycles after offering one item "
                                     f"(accepted: {accepted is not None})")
        return accepted, left

    @cocotb.test()
    async def latency_and_throughput(dut):
        unit = harness.bench_unit()
        group, group_outputs = stream_group(unit)
        count = -(-ITEMS // group) * group                 # whole groups
        rng = np.random.default_rng(cocotb.RANDOM_SEED)
        lone = random_items(unit, 3, rng, lone=True)
        stream_items = random_items(unit, count, rng, group)
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
            accepted, left = await _lone_item(dut, lone[index], unit.latency + 50
                                              + 4 * group_outputs, group_outputs)
            assert left - accepted == unit.latency, (
                f"item {index}: out {left - accepted} cycles after it was accepted; the "
                f"unit declares latency {unit.latency}")
        for _ in range(unit.latency + 3):
            await falling

        # Throughput: valid and ready high for `count` items.
        expected = count // group * group_outputs
        sent = received = 0
        first_in = last_in = first_out = last_out = None
        cycle = 0
        dut.i__payload.value = stream_items[0]
        dut.i__valid.value = 1
        while received < expected:
            await falling
            cycle += 1
            if dut.probe_i_fire.value:
                sent += 1
                first_in = cycle if first_in is None else first_in
                last_in = cycle
                if sent < count:
                    dut.i__payload.value = stream_items[sent]
                else:
                    dut.i__valid.value = 0
            if dut.probe_o_fire.value:
                received += 1
                first_out = cycle if first_out is None else first_out
                last_out = cycle
            if cycle > count * 4 + unit.latency + 50:
                raise AssertionError(f"{sent} items accepted and {received} left after "
                                     f"{cycle} cycles")
        in_cycles = last_in - first_in + 1
        out_cycles = last_out - first_out + 1
        measured = count * ops_per_item(unit) / in_cycles
        dut._log.info(f"latency {unit.latency}; {count} items in {in_cycles} cycles, "
                      f"{expected} outputs in {out_cycles} cycles: {measured:g} ops/cycle")
        assert in_cycles == count and out_cycles == count, (
            f"{count} items took {in_cycles} cycles to enter and their {expected} outputs "
            f"{out_cycles} to leave; {count} expected for both")
        assert measured == unit.ops_per_cycle, (
            f"measured {measured:g} ops/cycle, the unit declares {unit.ops_per_cycle}")
        assert first_out - first_in == unit.latency + group - 1, (
            f"the first group's output left {first_out - first_in} cycles after its first "
            f"item entered; latency {unit.latency} after its last ({group} items)")
