"""Operand beats, vector lengths, golden results and streaming for the dot-product unit.

Shared by tb/test_dot.py (the dot unit against golden.dot.dot) and tb/test_mlp_digits.py
(the digits MLP's first layer through the unit). Codes are NumPy uint64 arrays; a beat is a
row of `lanes` codes. `run_vectors` is the whole bench on the fast path; `stream_vectors`
streams the same beats from cocotb.
"""

import time

import numpy as np

from tb import vectors

__all__ = ["operand_beats", "vector_lengths", "golden_results", "pack_beats", "run_vectors",
           "stream_vectors", "check_results"]


def _random_codes(fmt, count, rng, special_rate=0.02):
    """Random codes: mostly finite with exponent fields from the whole range, a few
    directed special values."""
    codes = rng.integers(0, 1 << fmt.bits, size=count, dtype=np.uint64)
    _, _, _, nan, inf = fmt.decompose(codes)
    directed = vectors.float_directed(fmt)
    finite = directed[~(fmt.decompose(directed)[3] | fmt.decompose(directed)[4])]
    while (nan | inf).any():                       # resample the specials
        codes[nan | inf] = rng.integers(0, 1 << fmt.bits, size=int((nan | inf).sum()),
                                        dtype=np.uint64)
        _, _, _, nan, inf = fmt.decompose(codes)
    pick = rng.random(count)
    codes = np.where(pick < special_rate, rng.choice(directed, size=count), codes)
    codes = np.where((pick >= special_rate) & (pick < 2 * special_rate),
                     rng.choice(finite, size=count), codes)
    return codes


def operand_beats(fmt, lanes, mode, rng):
    """(a, b): code arrays of shape (beats, lanes)."""
    kind, _, count = mode.partition(":")
    if kind == "exhaustive":
        a, b = vectors.exhaustive_lanes(fmt.bits, lanes, rng)
        extra = 2000
        ra = _random_codes(fmt, extra * lanes, rng, special_rate=0).reshape(extra, lanes)
        rb = _random_codes(fmt, extra * lanes, rng, special_rate=0).reshape(extra, lanes)
        return np.concatenate([a, ra]), np.concatenate([b, rb])
    if kind == "random" and count.isdigit():
        n = int(count)
        return (_random_codes(fmt, n * lanes, rng).reshape(n, lanes),
                _random_codes(fmt, n * lanes, rng).reshape(n, lanes))
    if kind == "adder" and count.isdigit():
        n = int(count)
        a = _random_codes(fmt, n * lanes, rng).reshape(n, lanes)
        # Half the beats: lane values with nearby exponents (cancellation, carries).
        half = n // 2
        near = a[:half, :1] ^ rng.integers(0, 1 << (fmt.man_bits + 2), size=(half, lanes),
                                           dtype=np.uint64)
        near ^= rng.integers(0, 2, size=(half, lanes), dtype=np.uint64) << np.uint64(
            fmt.bits - 1)
        a[:half] = near
        # A quarter: exponent fields 0..2, so that sums are subnormal or cross the boundary.
        tiny = slice(half, half + n // 4)
        fields = rng.integers(0, 3, size=a[tiny].shape, dtype=np.uint64)
        keep = ((1 << fmt.bits) - 1) & ~(((1 << fmt.exp_bits) - 1) << fmt.man_bits)
        a[tiny] = (a[tiny] & np.uint64(keep)) | (fields << np.uint64(fmt.man_bits))
        one = int(fmt.encode(np.array([1.0]))[0])
        return a, np.full(a.shape, one, dtype=np.uint64)
    raise ValueError(f"mode must be 'exhaustive', 'random:N' or 'adder:N', not {mode!r}")


def vector_lengths(beats, rng, longest=8):
    """Beats per vector, 1..longest at random, summing to `beats`."""
    lengths = []
    while beats > 0:
        n = min(int(rng.integers(1, longest + 1)), beats)
        lengths.append(n)
        beats -= n
    return lengths


def golden_results(unit, a, b, lengths):
    """Golden result of every vector, grouping vectors of equal length."""
    function, kwargs = unit.golden
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = np.zeros(len(lengths), dtype=np.uint64)
    lengths = np.asarray(lengths)
    for n in np.unique(lengths):
        which = np.flatnonzero(lengths == n)
        rows = starts[which][:, None] + np.arange(n)[None, :]
        va = a[rows].reshape(which.size, n * unit.lanes)
        vb = b[rows].reshape(which.size, n * unit.lanes)
        out[which] = function(va, vb, **kwargs)
    return out


def pack_beats(unit, a, b, lengths):
    """The dot unit's input payloads: beats of `a`, `b` (code arrays (beats, lanes)) with
    ``last`` on the final beat of each vector of `lengths` beats."""
    from tb.stream import pack
    last = np.zeros(a.shape[0], dtype=np.uint64)
    last[np.cumsum(lengths) - 1] = 1
    bits = unit.fmt.bits
    shifts = [i * bits for i in range(unit.lanes)]
    packed_a = [sum(int(c) << s for c, s in zip(row, shifts)) for row in a.tolist()]
    packed_b = [sum(int(c) << s for c, s in zip(row, shifts)) for row in b.tolist()]
    return pack(unit.i.payload.shape(), a=packed_a, b=packed_b, last=last)


def check_results(unit, received, expected, a, b, lengths, *, seed):
    """Compare the results of vectors of `lengths` beats of `a`, `b` with `expected`
    (`tb.compare.assert_codes_equal`: AssertionError with the seed and the first
    mismatches, each with its vector's first operands and length)."""
    from tb import compare
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    compare.assert_codes_equal(
        received, expected, seed=seed, out_fmt=unit.out_fmt, what="result",
        inputs={"first a": (a[first, 0], unit.fmt), "first b": (b[first, 0], unit.fmt),
                "beats": (np.asarray(lengths), None)})


def run_vectors(unit, mode, *, seed, stall=0.2, label=None):
    """The dot bench on the fast path (`tb.harness.stream_fast`): the beats of operand set
    `mode` (`operand_beats`), cut into vectors at random (`vector_lengths`), streamed with
    random stalls of probability `stall` on both sides, every result compared with golden.

    Returns the stream_fast result with ``vectors`` and ``products`` added; raises
    `tb.harness.BenchFailure` (naming the seed and the log) on a mismatch.
    """
    from tb import harness
    rng = np.random.default_rng(seed)
    a, b = operand_beats(unit.fmt, unit.lanes, mode, rng)
    lengths = vector_lengths(a.shape[0], rng)
    expected = golden_results(unit, a, b, lengths)
    result = harness.stream_fast(unit, pack_beats(unit, a, b, lengths), seed=seed,
                                 stall=stall, out_count=len(lengths), label=label)
    try:
        check_results(unit, result["outputs"], expected, a, b, lengths, seed=seed)
    except AssertionError as exc:
        raise harness.BenchFailure(f"{result['run_dir'] / 'sim.log'}:\n{exc}") from None
    return {**result, "vectors": len(lengths), "products": int(a.size)}


async def stream_vectors(dut, unit, a, b, lengths, rng, *, stall):
    """Reset the dot unit `dut` (cocotb) and stream beats through it with random stalls.

    `a`, `b`: code arrays of shape (beats, lanes), cut into vectors of `lengths` beats
    (the last beat of each carries ``last``). Returns (result codes as received, cycles,
    seconds of simulation).
    """
    from tb import stream             # needs cocotb: imported in the simulator only
    driver = stream.StreamDriver(dut, "i", pack_beats(unit, a, b, lengths), rng, stall=stall)
    monitor = stream.StreamMonitor(dut, "o", len(lengths), rng, stall=stall)
    await stream.reset(dut)
    start = time.perf_counter()
    cycles = await stream.run_stream(dut, driver, monitor,
                                     drain_cycles=unit.latency + 4)
    return monitor.received, cycles, time.perf_counter() - start
