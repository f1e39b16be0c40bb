"""MACArray after a reset in the middle of traffic (Amaranth's simulator): only the edge
control has a reset, so the flush must keep everything from before it out of `o`.

For every reset cycle across a whole stale layer (in flight, draining, and queued in
the FIFOs), a fresh layer streamed after the reset comes out exactly as golden says,
with nothing before or after it.
"""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Shape
from amaranth.sim import Simulator

from hdl import verilog
from tb import gemmbench


def _payloads(unit, fields):
    """Input beats as payload integers: each field of `fields` (per beat: lane codes or a
    flag) at its place in the unit's input layout."""
    layout = unit.i.payload.shape()
    beats = len(next(iter(fields.values())))
    words = [0] * beats
    for name, values in fields.items():
        offset = layout[name].offset
        lanes = values.reshape(beats, -1)
        width = Shape.cast(layout[name].shape).width // lanes.shape[1]
        for t in range(beats):
            for lane, code in enumerate(lanes[t].tolist()):
                words[t] |= int(code) << (offset + lane * width)
    return words


def _layer(unit, rng, m, k, n):
    """(payloads, expected output rows, (a, b), assemble): one random layer's beats."""
    a = rng.integers(0, 1 << unit.a_fmt.bits, size=(m, k), dtype=np.uint64)
    b = rng.integers(0, 1 << unit.b_fmt.bits, size=(k, n), dtype=np.uint64)
    if unit.dataflow == "output":
        a_beats, b_beats, last, tiles = gemmbench.tile_stream(a, b, unit.rows, unit.cols)
        fields = {"a": a_beats, "b": b_beats, "last": last}
        rows = len(tiles) * unit.rows

        def assemble(out):
            return gemmbench.assemble(out, tiles, m, n, unit.rows, unit.cols)
    else:
        fields, tiles = gemmbench.weight_stream(a, b, unit.rows, unit.cols, unit.m_tile)
        rows = sum(count for _, _, count in tiles)

        def assemble(out):
            return gemmbench.weight_assemble(out, tiles, m, n, unit.cols)
    function, kwargs = unit.golden
    return _payloads(unit, fields), rows, function(a, b, **kwargs), assemble


def _run(unit, stale, fresh, reset_at, drain):
    """Stream `stale` payloads (`o` always ready) for `reset_at` cycles, reset for one
    cycle, then stream `fresh`; returns the output payloads after the reset."""
    i, o = unit.i, unit.o
    top = Module()
    top.domains.sync = sync = ClockDomain("sync")
    top.submodules.unit = unit
    out = []

    async def bench(ctx):
        idle = 0
        ctx.set(o.ready, 1)
        for phase, items, cycles in (("stale", stale, reset_at), ("fresh", fresh, None)):
            sent = cycle = 0
            while cycles is None or cycle < cycles:
                have = sent < len(items)
                ctx.set(i.valid, have)
                if have:
                    ctx.set(i.payload.as_value(), items[sent])
                fired = have and ctx.get(i.ready)
                if phase == "fresh" and ctx.get(o.valid):
                    out.append(ctx.get(o.payload.as_value()))
                await ctx.tick()
                sent += fired
                cycle += 1
                idle += cycles is None and not have
                if idle == drain:
                    break
            if phase == "stale":
                ctx.set(i.valid, 0)
                ctx.set(sync.rst, 1)
                await ctx.tick()
                ctx.set(sync.rst, 0)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("params,shape", [
    ({"rows": 2, "cols": 3, "a_fmt": "int8", "multiplier": "lut"}, (3, 5, 4)),
    ({"rows": 1, "cols": 7, "a_fmt": "uint4", "multiplier": "lut"}, (2, 3, 7)),
    ({"rows": 3, "cols": 2, "a_fmt": "int8", "dataflow": "weight", "m_tile": 4}, (5, 4, 3)),
    ({"rows": 2, "cols": 4, "b_fmt": "int2", "multiplier": "ternary", "dataflow": "weight",
      "m_tile": 8}, (3, 5, 4)),
], ids=["os-2x3", "os-1x7", "ws-3x2", "ws-ternary-2x4"])
def test_reset_mid_stream_leaves_nothing_behind(params, shape):
    unit = verilog.build_unit("macarray", params)
    rng = np.random.default_rng(7)
    stale, _, _, _ = _layer(unit, rng, *shape)
    fresh, rows, expected, assemble = _layer(unit, rng, *shape)
    # Long enough after the fresh layer's last beat for anything stray to show.
    drain = unit.flush_cycles + unit.latency + 2 * unit.rows + 10
    span = unit.flush_cycles + len(stale) + unit.latency + 2 * unit.rows + 4
    bits = unit.out_fmt.bits
    for reset_at in range(0, span, 3):
        out = _run(unit, stale, fresh, reset_at, drain)
        assert len(out) == rows, (reset_at, len(out), rows)
        got = assemble(np.array([[(word >> (c * bits)) & ((1 << bits) - 1)
                                  for c in range(unit.cols)] for word in out],
                                dtype=np.uint64))
        assert got.tolist() == expected.tolist(), reset_at
