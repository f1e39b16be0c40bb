# amaranth: UnusedElaboratable=no
"""Integer and fixed-point pieces of hdl/intcore.py, simulated with Amaranth's simulator."""

import random

import amaranth.hdl
import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from golden import formats
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


def _simulate(m, inputs, outputs, cases):
    """Drive `inputs` (signals) with each tuple of `cases`; collect the `outputs` values."""
    seen = []

    async def bench(ctx):
        for case in cases:
            for signal, value in zip(inputs, case):
                ctx.set(signal, value)
            seen.append(tuple(ctx.get(out) for out in outputs))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _as_int(code, bits, signed):
    return code - (1 << bits) if signed and code >> (bits - 1) else code


@pytest.mark.parametrize("rounding", intcore.ROUNDINGS)
@pytest.mark.parametrize("width,signed", [(1, False), (2, False), (3, False), (5, False),
                                          (8, False), (2, True), (3, True), (5, True),
                                          (8, True)])
def test_shift_right_round_matches_golden_fixed_rounding(width, signed, rounding):
    """Every value and every shift 0..width + 3 (a variable shift), against golden's
    FixedFormat rounding of value / 2**shift; the sticky bit against the remainder."""
    m = Module()
    value = Signal(amaranth.hdl.signed(width) if signed else width)
    amount = Signal(range(width + 4))
    rounded, sticky = intcore.shift_right_round(m, value, amount, rounding, "r")
    codes = np.arange(1 << width, dtype=np.uint64)
    src = formats.FixedFormat(width, 0, signed)
    for shift in range(width + 4):
        dst = formats.FixedFormat(width, 0, signed, rounding=rounding, overflow="wrap")
        sign, magnitude, exp = src.decompose(codes)
        expected = dst.round_exact(sign, magnitude, exp - shift)
        got = _simulate(m, [value, amount], [rounded, sticky],
                        [(_as_int(int(c), width, signed), shift) for c in codes])
        values = src.decode_int(codes)
        for code, value_int, want, (have, inexact) in zip(codes, values, expected, got):
            assert have % (1 << width) == want, (int(code), shift, have, int(want))
            assert inexact == (int(value_int) % (1 << shift) != 0), (int(code), shift)


@pytest.mark.parametrize("rounding", ["rne", "floor"])
@pytest.mark.parametrize("width,signed", [(3, False), (6, False), (3, True), (6, True)])
def test_shift_right_biased_matches_the_rounding_shift(width, signed, rounding):
    """value + rounding_bias, shifted by shift_right_biased, for every value and every
    constant shift 0..width: the same as shift_right_round of the value (the bias added
    in a wider signal, as a unit folds it into an earlier add)."""
    for shift in range(width + 1):
        m = Module()
        shape = amaranth.hdl.signed(width) if signed else amaranth.hdl.unsigned(width)
        value = Signal(shape)
        bias = intcore.rounding_bias(shift, rounding)
        biased = Signal(amaranth.hdl.signed(width + 2) if signed else width + 1)
        m.d.comb += biased.eq(value + bias)
        got = intcore.shift_right_biased(m, biased, shift, rounding, "b")
        want, _ = intcore.shift_right_round(m, value, shift, rounding, "r")
        lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
        pairs = _simulate(m, [value], [got, want], [(v,) for v in range(lo, hi)])
        for v, (have, expected) in zip(range(lo, hi), pairs):
            assert have == expected, (v, shift, have, expected)


def test_rounding_bias():
    assert [intcore.rounding_bias(3, r) for r in intcore.ROUNDINGS] == [4, 0, None]
    assert intcore.rounding_bias(0, "rne") == 0
    with pytest.raises(ValueError, match="rounding must be 'rne' or 'floor' for a biased"):
        intcore.shift_right_biased(Module(), Signal(4), 1, "trunc", "b")


def _fixed_formats(max_bits):
    for signed in (False, True):
        for int_bits in range(1 if signed else 0, max_bits + 1):
            for frac_bits in range(0, max_bits + 1 - int_bits):
                if int_bits + frac_bits == 0:
                    continue
                for rounding in intcore.ROUNDINGS:
                    for overflow in ("saturate", "wrap"):
                        yield formats.FixedFormat(int_bits, frac_bits, signed,
                                                  rounding=rounding, overflow=overflow)


_CONVERSIONS = [
    (formats.FixedFormat(4, 4, True), formats.FixedFormat(3, 2, True)),
    (formats.FixedFormat(4, 4, True), formats.FixedFormat(3, 2, True, rounding="floor")),
    (formats.FixedFormat(4, 4, True), formats.FixedFormat(2, 1, True, rounding="trunc",
                                                          overflow="wrap")),
    (formats.FixedFormat(5, 3, True), formats.FixedFormat(4, 0, False)),
    (formats.FixedFormat(5, 3, True), formats.FixedFormat(4, 0, False, overflow="wrap")),
    (formats.FixedFormat(8, 0, False), formats.FixedFormat(4, 2, True)),
    (formats.FixedFormat(3, 5, False), formats.FixedFormat(1, 6, False, rounding="trunc")),
    (formats.FixedFormat(2, 2, True), formats.FixedFormat(4, 5, True)),
    (formats.FixedFormat(2, 2, True), formats.FixedFormat(3, 4, True, overflow="wrap")),
    (formats.FixedFormat(1, 7, True), formats.FixedFormat(1, 3, True)),
    (formats.FixedFormat(8, 0, True), formats.FixedFormat(8, 0, True)),
]


@pytest.mark.parametrize("src,dst", _CONVERSIONS, ids=[f"{s}-to-{d}" for s, d in _CONVERSIONS])
def test_convert_fixed_matches_golden(src, dst):
    """Every code of `src` (at most 8 bits) against ``dst.round_exact(*src.decompose())``."""
    m = Module()
    code = Signal(src.bits)
    out = intcore.convert_fixed(m, code, src, dst, "c")
    codes = np.arange(1 << src.bits, dtype=np.uint64)
    expected = dst.round_exact(*src.decompose(codes))
    got = [value for value, in _simulate(m, [code], [out], [(int(c),) for c in codes])]
    wrong = [(int(c), g, int(e)) for c, g, e in zip(codes, got, expected) if g != e]
    assert not wrong, wrong[:5]


def test_convert_fixed_every_pair_of_small_formats():
    """Every pair of FixedFormats of up to 3 bits, every policy, every code."""
    small = list(_fixed_formats(3))
    for src in small:
        if src.rounding != "rne" or src.overflow != "saturate":
            continue            # the source's policies do not affect its codes' values
        m = Module()
        code = Signal(src.bits)
        outs = [intcore.convert_fixed(m, code, src, dst, f"c{index}")
                for index, dst in enumerate(small)]
        codes = np.arange(1 << src.bits, dtype=np.uint64)
        got = _simulate(m, [code], outs, [(int(c),) for c in codes])
        for index, dst in enumerate(small):
            expected = dst.round_exact(*src.decompose(codes))
            column = [row[index] for row in got]
            assert column == [int(e) for e in expected], (str(src), str(dst))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("width", [2, 3, 5])
def test_at_least_every_constant(width, signed):
    m = Module()
    value = Signal(amaranth.hdl.signed(width) if signed else width)
    lo = -(1 << (width - 1)) - 1 if signed else -1
    hi = (1 << (width - 1)) + 1 if signed else (1 << width) + 1
    constants = list(range(lo, hi + 1))
    outs = [intcore.at_least(m, value, c, f"ge{index}") for index, c in enumerate(constants)]
    values = range(-(1 << (width - 1)), 1 << (width - 1)) if signed else range(1 << width)
    got = _simulate(m, [value], outs, [(v,) for v in values])
    for v, row in zip(values, got):
        assert list(row) == [int(v >= c) for c in constants], v


@pytest.mark.parametrize("constant", [0, 1, 6, -3, 255, 256])
def test_add_constant_wraps_modulo_width(constant):
    m = Module()
    value = Signal(8)
    out = intcore.add_constant(m, value, constant, 8, "k")
    got = _simulate(m, [value], [out], [(v,) for v in range(256)])
    assert [g for g, in got] == [(v + constant) % 256 for v in range(256)]


def test_bad_arguments_are_named():
    m = Module()
    with pytest.raises(ValueError, match=r"rounding must be one of 'rne', 'floor', "
                                         r"'trunc', not 'up'"):
        intcore.shift_right_round(m, Signal(4), 1, "up", "r")
    with pytest.raises(ValueError, match=r"amount must be a non-negative integer, not -1"):
        intcore.shift_right_round(m, Signal(4), -1, "rne", "r")
    with pytest.raises(TypeError, match=r"dst must be a FixedFormat, not IntFormat"):
        intcore.convert_fixed(m, Signal(4), formats.FixedFormat(2, 2, True),
                              formats.IntFormat(4, True), "c")
