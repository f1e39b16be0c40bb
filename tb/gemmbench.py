"""The host side of a MAC array: tile a matrix product onto it, stream it, reassemble.

Output-stationary (`hdl.macarray.MACArray`, dataflow="output"): `tile_stream(a, b, rows,
cols)` cuts ``C = A @ B`` (A: M x K, B: K x N codes) into tiles of `rows` x `cols` outputs
(the edges padded with zero codes), each one tile of K beats (column k of the tile's A
rows, row k of its B columns, ``last`` on beat K - 1), in row-major tile order;
`assemble` puts the array's output rows back into the M x N result.

Weight-stationary (dataflow="weight"): `weight_stream(a, b, rows, cols, m_tile)` gives the
beats of each column tile of `cols` outputs and each row tile of up to `m_tile` rows of A:
ceil(K / rows) passes, pass p holding the weights ``B[p rows:(p + 1) rows, tile]``
(zero rows past K) and streaming the tile's A rows; `weight_assemble` puts the emitted
rows back.

`stream_gemm` does either around the fast path (`tb.harness.stream_fast`), and
`run_layer` compares its result with golden.
"""

import numpy as np


__all__ = ["tile_stream", "assemble", "weight_stream", "weight_assemble", "exact_k",
           "stream_gemm", "run_layer", "layer_sums_on_array"]


def tile_stream(a, b, rows, cols):
    """Beats for ``A @ B`` on a rows x cols array: (a_beats (T*K, rows), b_beats
    (T*K, cols), last (T*K,), tiles [(m0, n0)]), uint64 codes, zero-padded."""
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    (m, k), n = a.shape, b.shape[1]
    if b.shape[0] != k or k < 1:
        raise ValueError(f"A and B must be (M, K) and (K, N) with K >= 1, not {a.shape} "
                         f"and {b.shape}")
    tiles = [(m0, n0) for m0 in range(0, m, rows) for n0 in range(0, n, cols)]
    a_beats = np.zeros((len(tiles), k, rows), dtype=np.uint64)
    b_beats = np.zeros((len(tiles), k, cols), dtype=np.uint64)
    for t, (m0, n0) in enumerate(tiles):
        block_a = a[m0:m0 + rows].T                  # (K, rows here)
        block_b = b[:, n0:n0 + cols]
        a_beats[t, :, :block_a.shape[1]] = block_a
        b_beats[t, :, :block_b.shape[1]] = block_b
    last = np.zeros((len(tiles), k), dtype=np.uint64)
    last[:, -1] = 1
    return (a_beats.reshape(-1, rows), b_beats.reshape(-1, cols), last.reshape(-1), tiles)


def assemble(out_rows, tiles, m, n, rows, cols):
    """The M x N result from the array's output beats (`rows` per tile, each `cols`
    codes), in the order of `tiles`."""
    out_rows = np.asarray(out_rows, dtype=np.uint64).reshape(len(tiles), rows, cols)
    result = np.zeros((m, n), dtype=np.uint64)
    for t, (m0, n0) in enumerate(tiles):
        block = out_rows[t, :min(rows, m - m0), :min(cols, n - n0)]
        result[m0:m0 + block.shape[0], n0:n0 + block.shape[1]] = block
    return result


def weight_stream(a, b, rows, cols, m_tile):
    """Beats for ``A @ B`` on a weight-stationary rows x cols array holding up to `m_tile`
    rows of A per pass: (fields, tiles), where fields maps each beat field of
    `hdl.macarray.MACArray` (``a`` (beats, rows) and ``b`` (beats, cols) codes, ``act``,
    ``load``, ``start``, ``fresh``, ``emit``) to a uint64 array, and tiles lists the
    (m0, n0, row count) of each emitting pass, in output order.

    The first pass's `rows` weight rows come first, on beats of their own; each later
    pass's ride on the previous pass's activation rows (row i on its beat i, extra beats
    after it when it has fewer than `rows`)."""
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    (m, k), n = a.shape, b.shape[1]
    if b.shape[0] != k or k < 1:
        raise ValueError(f"A and B must be (M, K) and (K, N) with K >= 1, not {a.shape} "
                         f"and {b.shape}")
    k_padded = -(-k // rows) * rows
    a_pad = np.zeros((m, k_padded), dtype=np.uint64)
    a_pad[:, :k] = a
    passes = []          # (m0, n0, row count, k0) in stream order
    tiles = []
    for n0 in range(0, n, cols):
        for m0 in range(0, m, m_tile):
            count = min(m_tile, m - m0)
            for k0 in range(0, k, rows):
                passes.append((m0, n0, count, k0))
            tiles.append((m0, n0, count))

    def weights(n0, k0):
        block = np.zeros((rows, cols), dtype=np.uint64)
        part = b[k0:k0 + rows, n0:n0 + cols]
        block[:part.shape[0], :part.shape[1]] = part
        return block

    beats = []           # (a row, b row, act, load, start, fresh, emit)
    zero_a, zero_b = np.zeros(rows, dtype=np.uint64), np.zeros(cols, dtype=np.uint64)
    for row in weights(passes[0][1], passes[0][3]):
        beats.append((zero_a, row, 0, 1, 0, 0, 0))
    for number, (m0, n0, count, k0) in enumerate(passes):
        loads = (weights(passes[number + 1][1], passes[number + 1][3])
                 if number + 1 < len(passes) else np.zeros((0, cols), dtype=np.uint64))
        for i in range(max(count, len(loads))):
            act = i < count
            load = i < len(loads)
            beats.append((a_pad[m0 + i, k0:k0 + rows] if act else zero_a,
                          loads[i] if load else zero_b, int(act), int(load),
                          int(i == 0), int(k0 == 0), int(k0 + rows >= k)))
    fields = {"a": np.array([beat[0] for beat in beats], dtype=np.uint64),
              "b": np.array([beat[1] for beat in beats], dtype=np.uint64)}
    for index, name in enumerate(("act", "load", "start", "fresh", "emit"), start=2):
        fields[name] = np.array([beat[index] for beat in beats], dtype=np.uint64)
    return fields, tiles


def weight_assemble(out_rows, tiles, m, n, cols):
    """The M x N result from a weight-stationary array's output rows (each `cols`
    codes), in the order of `tiles` (`weight_stream`)."""
    out_rows = np.asarray(out_rows, dtype=np.uint64).reshape(-1, cols)
    result = np.zeros((m, n), dtype=np.uint64)
    row = 0
    for m0, n0, count in tiles:
        width = min(cols, n - n0)
        result[m0:m0 + count, n0:n0 + width] = out_rows[row:row + count, :width]
        row += count
    return result


def _pack_lanes(values, bits):
    """Rows of lane codes -> one int per row, lane 0 in the low bits."""
    return [sum(int(v) << (i * bits) for i, v in enumerate(row)) for row in values.tolist()]


def _unpack_lanes(words, bits, lanes):
    mask = (1 << bits) - 1
    return np.array([[(int(w) >> (i * bits)) & mask for i in range(lanes)] for w in words],
                    dtype=np.uint64)


def exact_k(unit):
    """The longest reduction whose every sum the array's accumulator holds exactly:
    integer PEs, 2^(acc_bits - a_bits - b_bits) products (at least `k_max` with the
    default width); Kulisch FP PEs, 2^guard_bits; None for FP32 accumulation (every add
    rounds: there is no exact range to exceed)."""
    if unit.fp:
        return 1 << unit.guard_bits if unit.acc == "kulisch" else None
    return 1 << (unit.acc_bits - unit.a_fmt.bits - unit.b_fmt.bits)


def stream_gemm(unit, a, b, *, seed, stall=0.2, label=None, extra_sources=(),
                allow_overflow=False):
    """Stream ``A @ B`` through MAC-array `unit` on the fast path (random stalls on both
    sides, stalled outputs checked to hold) and reassemble it.

    A reduction longer than `exact_k` is refused (`ValueError` naming K and the limit)
    unless `allow_overflow` (the benches of wrap-around and saturation).

    Returns (the stream_fast result (cycles, seconds, run_dir, ...), C as (M, N) uint64
    codes of ``unit.out_fmt``).
    """
    from tb import harness, stream
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    (m, k), n = a.shape, b.shape[1]
    limit = exact_k(unit)
    if limit is not None and k > limit and not allow_overflow:
        raise ValueError(f"K = {k} exceeds the accumulator's exact range: {unit.acc_bits} "
                         f"bits hold sums of at most {limit} products of "
                         f"{unit.a_fmt} x {unit.b_fmt}; widen acc_bits (or raise k_max)")
    rows, cols = unit.rows, unit.cols
    layout = unit.i.payload.shape()
    if unit.dataflow == "weight":
        fields, tiles = weight_stream(a, b, rows, cols, unit.m_tile)
        out_count = sum(count for _, _, count in tiles)
        # (no output while a tile's first passes run)
        quiet = -(-k // rows) * max(unit.m_tile, rows + 2)
    else:
        a_beats, b_beats, last, tiles = tile_stream(a, b, rows, cols)
        fields = {"a": a_beats, "b": b_beats, "last": last}
        out_count = len(tiles) * rows
        quiet = 4 * rows
    fields["a"] = _pack_lanes(fields["a"], unit.a_fmt.bits)
    fields["b"] = _pack_lanes(fields["b"], unit.b_fmt.bits)
    result = harness.stream_fast(unit, stream.pack(layout, **fields), seed=seed,
                                 stall=stall, out_count=out_count,
                                 drain_cycles=unit.latency + 2 * rows + 4,
                                 label=label or f"macarray {rows}x{cols}",
                                 extra_sources=extra_sources,
                                 idle_limit=unit.latency + 4 * quiet + 1000)
    outputs = result["outputs"]
    words = outputs.tolist() if hasattr(outputs, "tolist") else outputs
    out_rows = _unpack_lanes(words, unit.out_fmt.bits, cols)
    if unit.dataflow == "weight":
        return result, weight_assemble(out_rows, tiles, m, n, cols)
    return result, assemble(out_rows, tiles, m, n, rows, cols)


def run_layer(unit, a, b, *, seed, stall=0.2, label=None, extra_sources=(),
              allow_overflow=False):
    """`stream_gemm`, then compare C with ``unit.golden``.

    Returns the stream_fast result. Raises `tb.harness.BenchFailure` with the seed and the
    first mismatching elements.
    """
    from tb import compare, harness
    result, got = stream_gemm(unit, a, b, seed=seed, stall=stall, label=label,
                              extra_sources=extra_sources, allow_overflow=allow_overflow)
    (m, k), n = np.shape(a), np.shape(b)[1]
    function, kwargs = unit.golden
    expected = function(a, b, **kwargs)
    index_m, index_n = np.indices((m, n))
    try:
        compare.assert_codes_equal(got.reshape(-1), expected.reshape(-1), seed=seed,
                                   inputs={"m": (index_m.reshape(-1), None),
                                           "n": (index_n.reshape(-1), None)},
                                   out_fmt=unit.out_fmt,
                                   what=f"C[m, n] of a {m}x{k}x{n} layer")
    except AssertionError as exc:
        raise harness.BenchFailure(f"{result['run_dir'] / 'sim.log'}:\n{exc}") from None
    return result


def layer_sums_on_array(*, rows, cols, seed, stall=0.2, log=None):
    """A ``sums(index, layer, codes)`` callback for `golden.qlinear.QModel.forward`: each
    layer's ``X (W - w_zp)`` computed by an R x C MAC array (built for the layer's input
    and weight formats, k_max its K) on the fast path, checked element for element
    against the layer's golden `array_sums` (`tb.harness.BenchFailure` on a mismatch).

    `log(text)` is told each layer's shape, cycles and time. The callback's ``runs``
    attribute lists (layer name, stream_fast result).
    """
    from hdl import verilog
    from tb import harness

    def sums(index, layer, codes):
        w_codes, w_fmt = layer.array_operands()
        k = w_codes.shape[0]
        unit = verilog.build_unit("macarray", {"rows": rows, "cols": cols,
                                               "a_fmt": str(layer.a_fmt), "b_fmt": str(w_fmt),
                                               "k_max": max(k, 256)})
        result, got = stream_gemm(unit, codes, w_codes, seed=seed + index, stall=stall,
                                  label=f"{layer.name} on macarray {rows}x{cols}")
        values = unit.out_fmt.decode_int(got).astype(np.int64)
        expected = layer.array_sums(codes)
        if not np.array_equal(values, expected):
            bad = np.argwhere(values != expected)[:4]
            raise harness.BenchFailure(
                f"{result['run_dir'] / 'sim.log'}: {layer.name}: the array's sums differ "
                f"from golden in {int(np.sum(values != expected))} elements (seed "
                f"{seed + index}), first at [m, n] = {bad.tolist()}: "
                f"{[int(values[tuple(i)]) for i in bad]} != "
                f"{[int(expected[tuple(i)]) for i in bad]}")
        sums.runs.append((layer.name, result))
        if log:
            m, n = values.shape
            log(f"{layer.name}: {m}x{k}x{n} on macarray {rows}x{cols}, "
                f"{result['cycles']} cycles, {result['stream_seconds']:.1f} s")
        return values

    sums.runs = []
    return sums
