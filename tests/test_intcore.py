"""Integer and fixed-point pieces of hdl/intcore.py, simulated with Amaranth's simulator."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl import intcore


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 9, 24, 28, 51, 64])
def test_leading_zeros_counts_like_bit_length(width):
    m = Module()
    value = Signal(width)
    count = intcore.leading_zeros(m, value, "lz")
    rng = random.Random(width)
    if width <= 9:
        values = range(1 << width)
    else:        # every position of the leading one, with random bits below it
        values = [0] + [(1 << k) | rng.getrandbits(k) if k else 1 for k in range(width)
                        for _ in range(4)]
    seen = []

    async def bench(ctx):
        for x in values:
            ctx.set(value, x)
            seen.append((x, ctx.get(count)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    wrong = [(x, got) for x, got in seen if got != width - x.bit_length()]
    assert len(seen) == len(values) and not wrong, wrong[:5]
