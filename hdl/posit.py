"""Posit arithmetic: the codec (`decode`, `encode_shift` + `encode_round`) and the units
built from it, `PositMul`, `PositAdd` and `PositDot` (a fused dot product with a quire).

Every unit is bit-exact with its golden model (`golden.ops.mul`, `golden.ops.add`,
`golden.ops.quire_dot`): the exact result rounded once on the bit pattern, to nearest with
ties to the even pattern, never rounding a nonzero to 0 or NaR, saturating at ±maxpos and
±minpos. Any (n, es) that `golden.formats.PositFormat` allows (n 3..32, es 0..min(4, n-3)).
The benches are tb/test_posit_units.py.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import checks, formats, ops
from . import dsp, intcore, kulisch, protocol
from .pipeline import Pipeline, check_stages, reduce_tree

__all__ = ["decode", "decode_body", "decode_run", "decode_fields", "encode_shift",
           "encode_round", "fraction_bits", "scale_shape", "to_posit", "PositMul", "PositAdd",
           "PositDot"]


def fraction_bits(fmt):
    """The most fraction bits a posit of `fmt` holds: n - 3 - es (at least 0)."""
    return max(fmt.n - 3 - fmt.es, 0)


def scale_shape(fmt, extra=0):
    """A signed shape for scales (exponents of two) of `fmt`: |scale| <= (n - 2) * 2**es,
    plus `extra` bits of headroom (sums of scales)."""
    return signed(((fmt.n - 2) << fmt.es).bit_length() + 1 + extra)


def decode_body(m, fmt, code, name):
    """First step of `decode`: the sign, NaR and zero flags, and the magnitude's n - 1
    bits (``body``: two's complement undone; it orders magnitudes as the values do)."""
    n = fmt.n
    sign = code[n - 1]
    body = intcore.wire(m, Mux(sign, -code, code)[:n - 1], f"{name}_body")
    return {"sign": sign, "body": body,
            "nar": intcore.wire(m, sign & (body == 0), f"{name}_nar"),
            "zero": intcore.wire(m, ~sign & (body == 0), f"{name}_zero")}


def decode_run(m, fmt, fields, name):
    """Second step of `decode`, from the dict of `decode_body`: adds the body's first bit
    (``first``) and the length of the regime run (``run``, a leading-zero count)."""
    body = fields["body"]
    first = body[fmt.n - 2]
    # The regime: a run of `first`, ended by the opposite bit (or by the end).
    run = intcore.leading_zeros(m, Mux(first, ~body, body)[:fmt.n - 1], f"{name}_run")
    return {**fields, "first": first, "run": run}


def decode_fields(m, fmt, fields, name):
    """Last step of `decode`, from the dict of `decode_run`: adds ``scale`` and ``sig``."""
    n, es = fmt.n, fmt.es
    first, run = fields["first"], fields["run"]
    regime = Signal(signed(len(run) + 1), name=f"{name}_regime")
    m.d.comb += regime.eq(Mux(first, run - 1, -run))
    # The run shifted out leaves its terminating bit on top (dropped); then the exponent
    # (missing bits are 0) and the fraction, top-aligned in n - 2 bits.
    rest = intcore.wire(m, (fields["body"] << run)[:n - 2], f"{name}_rest")
    frac_bits = fraction_bits(fmt)
    exponent = rest[n - 2 - es:] if es else Const(0, 0)
    scale = Signal(scale_shape(fmt), name=f"{name}_scale")
    m.d.comb += scale.eq(Cat(exponent, regime).as_signed() if es else regime)
    sig = Cat(rest[n - 2 - es - frac_bits:n - 2 - es], Const(1, 1))
    return {**fields, "scale": scale, "sig": intcore.wire(m, sig, f"{name}_sig")}


def decode(m, fmt, code, name):
    """Split posit `code` of `fmt` into its fields (combinational): `decode_body`,
    `decode_run`, `decode_fields` (units with registers between them call all three).

    Returns a dict: ``sign``; ``nar``; ``zero``; ``scale`` (signed, `scale_shape`):
    regime * 2**es + exponent; ``sig`` (``fraction_bits(fmt) + 1`` bits, the hidden 1 on
    top, the fraction below it, padded with zeros): value = (-1)**sign * sig *
    2**(scale - fraction_bits); ``body``: the magnitude's n - 1 bits, which orders
    magnitudes as the values do; ``first`` and ``run``. For zero and NaR, scale and sig
    are meaningless: callers test the flags.
    """
    return decode_fields(m, fmt, decode_run(m, fmt, decode_body(m, fmt, code, name), name),
                         name)


def encode_shift(m, fmt, scale, sig, sticky, name):
    """First half of encoding a nonzero magnitude ``sig * 2**(scale - (len(sig) - 1))``
    (`sig`'s top bit set; `scale` signed; `sticky`: nonzero bits below `sig`): the regime,
    exponent and fraction bit string placed by one arithmetic shift, cut to n - 1 bits.

    Returns a dict for `encode_round`: ``pattern`` (n - 1 bits), ``guard``, ``sticky``,
    ``big`` and ``small`` (the regime is beyond maxpos's or minpos's: saturate).
    """
    n, es = fmt.n, fmt.es
    regime = Signal(signed(max(len(scale) - es, 2)), name=f"{name}_regime")
    m.d.comb += regime.eq(scale >> es)
    exponent = scale[:es] if es else Const(0, 0)
    big = intcore.wire(m, regime > n - 3, f"{name}_big")
    small = intcore.wire(m, regime < -(n - 2), f"{name}_small")
    fill = ~regime[-1]                            # the regime's run: ones for regime >= 0
    # The string of a regime of one bit and its terminator: fill, ~fill, exponent,
    # fraction. A run of k + 1 fill bits is that string shifted right by k (fill bits in):
    # k = regime for regime >= 0, else -regime - 1 = ~regime. Only its top n + 1 bits can
    # reach the pattern or the guard bit; the rest is sticky.
    string = Cat(sig[:-1], exponent, ~fill, fill)
    top = n + 1
    if len(string) > top:
        sticky = sticky | string[:len(string) - top].any()
        string = string[len(string) - top:]
    else:
        string = Cat(Const(0, top - len(string)), string)
    k_max = n - 3
    k = Signal(range(k_max + 1), name=f"{name}_k")
    m.d.comb += k.eq(Mux(regime[-1], ~regime, regime))      # in range unless saturating
    word = Cat(Const(0, k_max), string).as_signed()
    shifted = intcore.wire(m, (word >> k)[:len(word)], f"{name}_shifted")
    width = len(word)
    return {"pattern": shifted[width - (n - 1):],
            "guard": shifted[width - n],
            "sticky": intcore.wire(m, sticky | shifted[:width - n].any(), f"{name}_sticky"),
            "big": big, "small": small}


def encode_round(m, fmt, sign, shifted, name):
    """Second half of encoding: the pattern rounded to nearest, ties to even (a pattern
    that holds a regime terminator never carries into the sign), saturated to maxpos or
    minpos, and negated for a negative value. Returns the n-bit code (nonzero, not NaR).

    Rounding and negation are one add: ``-(p + up) = ~p + (1 - up)``, so the code is
    ``(p ^ sign) + (sign ^ up)`` over n bits."""
    n = fmt.n
    pattern, big, small = shifted["pattern"], shifted["big"], shifted["small"]
    up = shifted["guard"] & (shifted["sticky"] | pattern[0]) & ~big & ~small
    magnitude = Signal(n - 1, name=f"{name}_magnitude")
    m.d.comb += magnitude.eq(Mux(big, (1 << (n - 1)) - 1, Mux(small, 1, pattern)))
    code = Signal(n, name=name)
    m.d.comb += code.eq((Cat(magnitude, Const(0, 1)) ^ sign.replicate(n)) + (sign ^ up))
    return code


class _BinaryPositUnit(wiring.Component):
    """The ports, parameters and protocol members shared by `PositMul` and `PositAdd`."""

    PARAMETERS = {"n": protocol.Integer(example=8), "es": protocol.Integer(example=1),
                  "stages": protocol.Integer()}
    ops_per_cycle = 1

    def __init__(self, *, n, es, stages=0):
        self.fmt = self.out_fmt = formats.PositFormat(n, es)
        self.n, self.es = self.fmt.n, self.fmt.es
        self.stages = check_stages(stages, self.CUT_POINTS)
        operands = data.StructLayout({"a": n, "b": n})
        super().__init__({"i": In(stream.Signature(operands)),
                          "o": Out(stream.Signature(n))})

    @property
    def latency(self):
        return self.stages

    def _special(self, m, da, db, value):
        """The result code: NaR for a NaR operand, else `value` (the caller's choice for
        zero operands)."""
        code = Signal(self.n, name="result")
        m.d.comb += code.eq(Mux(da["nar"] | db["nar"], self.fmt.nar_code, value))
        return code


class PositMul(_BinaryPositUnit):
    """Posit multiplier, correctly rounded: bit-exact with ``golden.ops.mul(a, b, fmt)``
    for ``fmt = PositFormat(n, es)``.

    NaR × anything is NaR; 0 × non-NaR is 0; otherwise the exact product (the
    significands' product and the scales' sum) is rounded once on the bit pattern, never
    to 0 or NaR. The significand product is a plain ``*`` of (n - 2 - es)-bit
    significands (synthesis maps it to DSP blocks or LUTs).

    Parameters
    ----------
    n, es : int
        The posit format: n 3..32, es 0..min(4, n - 3).
    stages : int
        Pipeline registers, 0..6, placed in this order: after the significand product,
        after decoding, after the encoder's shift (before the rounding add), after the
        regime's leading-zero count (inside decoding), after normalization (before the
        encoder's shift), after the operands' negation (inside decoding).
    multiplier : str
        ``"inferred"`` (default): a plain ``*`` with the "product" register after it.
        ``"ecp5"``, ``"ice40"``, ``"fabric"``, ``"lut"``: an `hdl.dsp.Multiplier` of that
        target; with ``stages >= 1`` it is fully registered (its three register levels
        and a fabric register after it) in place of the "product" register (``"lut"``:
        partial products in LUTs, with those registers in its adder tree).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": n, "b": n})))
    o : Out(stream.Signature(n))
        Product codes, in order.
    latency : int
        `stages`; with an `hdl.dsp.Multiplier` and ``stages >= 1``, ``stages - 1`` + its
        latency (4).
    ops_per_cycle : int
        1.
    """

    CUT_POINTS = ("product", "decoded", "shifted", "run", "normalized", "body")
    PARAMETERS = {**_BinaryPositUnit.PARAMETERS,
                  "multiplier": protocol.Choice("inferred", *dsp.TARGETS)}
    MULTIPLIERS = ("inferred", *dsp.TARGETS)
    EXAMPLES = [{"n": 8, "es": 0, "stages": 0}, {"n": 16, "es": 1, "stages": 6},
                {"n": 5, "es": 2, "stages": 1},
                {"n": 16, "es": 1, "stages": 6, "multiplier": "lut"}]

    def __init__(self, *, n, es, stages=0, multiplier="inferred"):
        super().__init__(n=n, es=es, stages=stages)
        if not isinstance(multiplier, str) or multiplier not in self.MULTIPLIERS:
            kind = ValueError if isinstance(multiplier, str) else TypeError
            raise kind(f"multiplier must be one of "
                       f"{', '.join(map(repr, self.MULTIPLIERS))}, not {multiplier!r}")
        self.multiplier = multiplier
        self._sig_mul = None
        if multiplier != "inferred":
            sig = fraction_bits(self.fmt) + 1
            try:
                self._sig_mul = dsp.Multiplier(sig, sig, target=multiplier,
                                               pipeline=3 if self.stages else 0,
                                               fabric_register=True)
            except ValueError as exc:
                raise ValueError(f"multiplier={multiplier!r} cannot multiply the {sig}-bit "
                                 f"significands of {self.fmt}: {exc}") from None
            self._sig_mul._MustUse__silence = True   # for its checks and latency only

    @property
    def latency(self):
        if self._sig_mul is None or not self.stages:
            return self.stages
        return self.stages - 1 + self._sig_mul.latency

    @property
    def golden(self):
        """``(golden.ops.mul, {"fmt": fmt})``."""
        return ops.mul, {"fmt": self.fmt}

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        cuts = list(self.CUT_POINTS[:self.stages])
        mul = None
        if self._sig_mul is not None:
            mul = m.submodules.sig_mul = dsp.Multiplier(
                self._sig_mul.a_shape, self._sig_mul.b_shape, target=self.multiplier,
                pipeline=self._sig_mul.pipeline, fabric_register=True)
            if "product" in cuts:
                # The multiplier's own registers replace the "product" register; the
                # other values travel beside them, one register per multiplier cycle.
                cuts.remove("product")
                cuts += [f"product{k}" for k in range(mul.latency)]
        pipe = Pipeline(m, self.i, self.o, cuts)
        da, db = _decode_pair(m, pipe, fmt, self.i.payload.a, self.i.payload.b)
        v = pipe.stage("decoded", sa=da["sign"], sb=db["sign"], ma=da["sig"], mb=db["sig"],
                       ea=da["scale"], eb=db["scale"],
                       nar=da["nar"] | db["nar"], zero=da["zero"] | db["zero"])
        scale = Signal(scale_shape(fmt, 1), name="scale")
        m.d.comb += scale.eq(v["ea"] + v["eb"])
        side = {"scale": scale, "sign": v["sa"] ^ v["sb"], "nar": v["nar"], "zero": v["zero"]}
        if mul is None:
            product = intcore.wire(m, v["ma"] * v["mb"], "product")   # [1, 4), 2F fraction bits
            v = pipe.stage("product", product=product, **side)
        else:
            m.d.comb += [mul.a.eq(v["ma"]), mul.b.eq(v["mb"]), mul.en.eq(pipe.advance)]
            for k in range(mul.latency if self.stages else 0):
                side = pipe.stage(f"product{k}", **side)
            v = {**side, "product": mul.p}
            product = mul.p
        carry = v["product"][-1]
        sig = intcore.wire(m, Mux(carry, v["product"], v["product"] << 1)[:len(product)],
                           "normalized")
        normal_scale = Signal(scale_shape(fmt, 2), name="normal_scale")
        m.d.comb += normal_scale.eq(v["scale"] + carry)
        v = pipe.stage("normalized", sig=sig, scale=normal_scale, sign=v["sign"],
                       nar=v["nar"], zero=v["zero"])
        shifted = encode_shift(m, fmt, v["scale"], v["sig"], Const(0, 1), "enc")
        v = pipe.stage("shifted", sign=v["sign"], nar=v["nar"], zero=v["zero"], **shifted)
        code = encode_round(m, fmt, v["sign"], v, "enc")
        result = Signal(self.n, name="result")
        m.d.comb += result.eq(Mux(v["nar"], fmt.nar_code, Mux(v["zero"], 0, code)))
        pipe.finish(result)
        return m


class PositAdd(_BinaryPositUnit):
    """Posit adder, correctly rounded: bit-exact with ``golden.ops.add(a, b, fmt)`` for
    ``fmt = PositFormat(n, es)``.

    NaR + anything is NaR; x + 0 is x; an exact zero sum is 0; otherwise the exact sum is
    rounded once on the bit pattern, never to 0 or NaR. The operands are ordered by
    magnitude (their bodies compare as their values do); the smaller significand is
    shifted right by the scale difference with three extra bits and the bits shifted out
    jammed into the lowest, which keeps the rounding exact; the sum is normalized by a
    leading-zero count and encoded.

    Parameters
    ----------
    n, es : int
        The posit format: n 3..32, es 0..min(4, n - 3).
    stages : int
        Pipeline registers, 0..7, placed in this order: after the alignment shift, after
        decoding, after normalization, after the encoder's shift, after the regime's
        leading-zero count (inside decoding), after the add (before the leading-zero
        count), after the operands' negation (inside decoding).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": n, "b": n})))
    o : Out(stream.Signature(n))
        Sum codes, in order.
    latency : int
        `stages`.
    ops_per_cycle : int
        1.
    """

    CUT_POINTS = ("aligned", "decoded", "normalized", "shifted", "run", "summed", "body")
    EXAMPLES = [{"n": 8, "es": 0, "stages": 0}, {"n": 16, "es": 1, "stages": 7},
                {"n": 6, "es": 2, "stages": 2}]
    EXTRA = 3                                     # guard, round and jammed sticky bits

    @property
    def golden(self):
        """``(golden.ops.add, {"fmt": fmt})``."""
        return ops.add, {"fmt": self.fmt}

    def elaborate(self, platform):
        m = Module()
        fmt, n = self.fmt, self.n
        pipe = Pipeline(m, self.i, self.o, self.CUT_POINTS[:self.stages])
        a, b = self.i.payload.a, self.i.payload.b
        da, db = _decode_pair(m, pipe, fmt, a, b, a=a, b=b)
        a, b = da.pop("code_a"), da.pop("code_b")
        swap = intcore.wire(m, db["body"] > da["body"], "swap")        # |b| > |a|
        big = {key: Mux(swap, db[key], da[key]) for key in ("sign", "scale", "sig")}
        small = {key: Mux(swap, da[key], db[key]) for key in ("sign", "scale", "sig")}
        distance = Signal(range(2 * (((n - 2) << fmt.es) + 1)), name="distance")
        m.d.comb += distance.eq(big["scale"] - small["scale"])
        passed = Signal(n, name="passed")          # the result when an operand is 0 or NaR
        m.d.comb += passed.eq(Mux(da["nar"] | db["nar"], fmt.nar_code,
                                  Mux(da["zero"], b, a)))
        v = pipe.stage("decoded", big_sign=big["sign"], big_scale=big["scale"],
                       big_sig=big["sig"], small_sig=small["sig"],
                       subtract=big["sign"] ^ small["sign"], distance=distance,
                       special=da["nar"] | db["nar"] | da["zero"] | db["zero"],
                       passed=passed)
        extra = self.EXTRA
        width = len(v["big_sig"]) + extra
        # The smaller significand aligned to the larger's, bits shifted out jammed.
        small_ext = Cat(Const(0, extra), v["small_sig"])
        aligned, jam = intcore.shift_right_round(m, small_ext, v["distance"], "floor",
                                                 "aligned")
        big_ext = Cat(Const(0, extra), v["big_sig"])
        side = {key: v[key] for key in ("big_sign", "big_scale", "subtract", "special",
                                        "passed")}
        v = pipe.stage("aligned", big_ext=big_ext, aligned=aligned | jam, **side)
        total = Signal(width + 1, name="sum")
        m.d.comb += total.eq(Mux(v["subtract"], v["big_ext"] - v["aligned"],
                                 v["big_ext"] + v["aligned"]))
        side = {key: v[key] for key in ("big_sign", "big_scale", "special", "passed")}
        v = pipe.stage("summed", total=total, **side)
        total = v["total"]
        lz = intcore.leading_zeros(m, total, "sum_lz")
        normalized = intcore.wire(m, (total << lz)[:width + 1], "sum_normalized")
        scale = Signal(scale_shape(fmt, 1), name="sum_scale")
        m.d.comb += scale.eq(v["big_scale"] + 1 - lz)
        exact_zero = intcore.wire(m, total == 0, "sum_zero")
        side = {key: v[key] for key in ("big_sign", "special", "passed")}
        v = pipe.stage("normalized", sig=normalized, scale=scale, exact_zero=exact_zero,
                       **side)
        shifted = encode_shift(m, fmt, v["scale"], v["sig"], Const(0, 1), "enc")
        side = {key: v[key] for key in ("big_sign", "special", "passed", "exact_zero")}
        v = pipe.stage("shifted", **shifted, **side)
        code = encode_round(m, fmt, v["big_sign"], v, "enc")
        result = Signal(n, name="result")
        m.d.comb += result.eq(Mux(v["special"], v["passed"], Mux(v["exact_zero"], 0, code)))
        pipe.finish(result)
        return m


def to_posit(m, fmt, total, nar, lsb, name):
    """The code of `fmt` for the exact fixed-point value `total` (two's complement, in
    units of 2**lsb; a quire), rounded once on the pattern: NaR if `nar`, 0 for an exact
    zero. A leading-zero count and a shift normalize the magnitude; `encode_shift` keeps
    its top bits and folds the rest into the sticky bit."""
    width = len(total)
    negative = total[-1]
    magnitude = intcore.wire(m, Mux(negative, -total, total)[:width], f"{name}_magnitude")
    lz = intcore.leading_zeros(m, magnitude, f"{name}_lz")
    normalized = intcore.wire(m, (magnitude << lz)[:width], f"{name}_normalized")
    scale = Signal(signed(max(width.bit_length(), (abs(lsb) + width).bit_length()) + 2),
                   name=f"{name}_scale")
    m.d.comb += scale.eq(width - 1 + lsb - lz)
    shifted = encode_shift(m, fmt, scale, normalized, Const(0, 1), f"{name}_enc")
    code = encode_round(m, fmt, negative, shifted, f"{name}_enc")
    result = Signal(fmt.n, name=name)
    m.d.comb += result.eq(Mux(nar, fmt.nar_code, Mux(magnitude == 0, 0, code)))
    return result


class PositDot(wiring.Component):
    """Fused posit dot product with a quire: `lanes` exact products per beat, an adder
    tree and the exact (Kulisch) accumulator of `hdl.kulisch`, rounded once per vector.
    Bit-exact with ``golden.ops.quire_dot(a, b, fmt, guard_bits=guard_bits)``.

    Each input beat carries `lanes` operand pairs and a ``last`` flag; the beat with
    ``last`` ends the vector (pad a short last beat with zeros: 0 × x adds nothing). Each
    product (the significands' product, the scales' sum) is shifted to its place in the
    quire (``golden.ops.quire_range``: its least significant bit weighs minpos**2, and it
    holds 2**guard_bits products of any value exactly), the tree adds the terms of a
    beat, the accumulator adds the beats; a NaR operand sets a flag that makes the
    vector's result NaR. The vector's exact sum is rounded into a posit of `fmt` (`to_posit`)
    in a cycle of its own: never to 0 or NaR unless it is exactly 0 or a NaR was seen.

    Parameters
    ----------
    n, es : int
        The posit format: n 3..32, es 0..min(4, n - 3).
    lanes : int
        Products per beat, 1..64.
    guard_bits : int or None
        Quire headroom: exact for vectors of up to 2**guard_bits terms (1..32); default
        n - 2 (the Posit Standard's quire size: 512 bits for posit(32,2)).
    stages : int
        Pipeline registers before the accumulator, 0..3: after the products (before
        their shift into the quire), then after the adder tree, then (3) also between the
        tree's levels.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": ArrayLayout(n, lanes),
                                          "b": ArrayLayout(n, lanes), "last": 1})))
    o : Out(stream.Signature(n))
        One result per vector.
    quire_lsb, quire_width : int
        The quire's least significant bit (2**quire_lsb) and its width in bits.
    latency : int
        Cycles from accepting a vector's last beat to its result on ``o``: min(stages, 2)
        + (tree depth - 1 with stages=3) + 2 (the accumulator, then the rounding).
    ops_per_cycle : int
        Multiply-adds per cycle at full throughput (`lanes`).
    """

    CUT_POINTS = ("products", "tree", "levels")
    PARAMETERS = {"n": protocol.Integer(example=8), "es": protocol.Integer(example=0),
                  "lanes": protocol.Integer(), "guard_bits": protocol.Integer(),
                  "stages": protocol.Integer()}
    EXAMPLES = [{"n": 8, "es": 0, "lanes": 4, "stages": 3},
                {"n": 6, "es": 2, "lanes": 3, "stages": 1},
                {"n": 16, "es": 1, "lanes": 1, "stages": 0}]

    def __init__(self, *, n, es, lanes=4, guard_bits=None, stages=0):
        self.fmt = self.out_fmt = formats.PositFormat(n, es)
        self.n, self.es = self.fmt.n, self.fmt.es
        if isinstance(lanes, bool) or not hasattr(type(lanes), "__index__"):
            raise TypeError(f"lanes must be a positive integer, not {lanes!r}")
        self.lanes = lanes = checks.integer("lanes", lanes, lo=1, hi=64)
        self.quire_lsb, self.quire_width, self.guard_bits = ops.quire_range(self.fmt,
                                                                            guard_bits)
        self.stages = check_stages(stages, self.CUT_POINTS)
        self.ops_per_cycle = lanes
        beat = data.StructLayout({"a": data.ArrayLayout(n, lanes),
                                  "b": data.ArrayLayout(n, lanes), "last": 1})
        super().__init__({"i": In(stream.Signature(beat)),
                          "o": Out(stream.Signature(n))})

    @property
    def tree_depth(self):
        """Adder levels of the tree: ceil(log2(lanes))."""
        return (self.lanes - 1).bit_length()

    @property
    def latency(self):
        levels = max(self.tree_depth - 1, 0) if self.stages == 3 else 0
        return min(self.stages, 2) + levels + 2

    @property
    def golden(self):
        """``(golden.ops.quire_dot, kwargs)``: the result of each row of `a` and `b`."""
        return ops.quire_dot, {"fmt": self.fmt, "guard_bits": self.guard_bits}

    def _term(self, m, sign, scale, sig, drop, name):
        """The quire term of a product ``(-1)**sign * sig * 2**(scale - drop)``: shifted
        to its place (the bits below the quire's lsb are zero: every product is a
        multiple of minpos**2) and negated for a negative product."""
        width, lsb = self.quire_width, self.quire_lsb
        place = Signal(range(width), name=f"{name}_place")
        m.d.comb += place.eq(scale - lsb)                 # >= 0 for every nonzero product
        aligned = intcore.wire(m, (sig << place)[drop:drop + width], f"{name}_aligned")
        term = Signal(width, name=f"{name}_term")
        m.d.comb += term.eq(Mux(sign, -aligned, aligned))
        return term

    def elaborate(self, platform):
        m = Module()
        fmt, lanes, width = self.fmt, self.lanes, self.quire_width
        cuts = list(self.CUT_POINTS[:self.stages])
        if "levels" in cuts:
            cuts[cuts.index("levels"):] = [f"level{d}" for d in range(self.tree_depth - 1)]
        pipe = Pipeline(m, self.i, None, cuts)
        products = {}
        for lane in range(lanes):
            da = decode(m, fmt, self.i.payload.a[lane], f"a{lane}")
            db = decode(m, fmt, self.i.payload.b[lane], f"b{lane}")
            scale = Signal(scale_shape(fmt, 1), name=f"p{lane}_scale")
            m.d.comb += scale.eq(da["scale"] + db["scale"])
            products.update({
                f"sig{lane}": intcore.wire(m, da["sig"] * db["sig"], f"p{lane}_sig"),
                f"scale{lane}": scale, f"sign{lane}": da["sign"] ^ db["sign"],
                f"zero{lane}": da["zero"] | db["zero"] | da["nar"] | db["nar"],
                f"nar{lane}": da["nar"] | db["nar"]})
        v = pipe.stage("products", last=self.i.payload.last, **products)
        drop = 2 * fraction_bits(fmt)                     # the product's fraction bits
        terms = [Mux(v[f"zero{lane}"], 0,
                     self._term(m, v[f"sign{lane}"], v[f"scale{lane}"], v[f"sig{lane}"],
                                drop, f"q{lane}"))
                 for lane in range(lanes)]
        nar = intcore.wire(m, Cat(*(v[f"nar{lane}"] for lane in range(lanes))).any(),
                           "term_nar")
        total, v = reduce_tree(pipe, terms,
                               lambda x, y, name: kulisch.add(m, x, y, width, name),
                               last=v["last"], flags=nar)
        v = pipe.stage("tree", total=total, **v)
        kulisch.accumulate(m, pipe, self.o, v["total"], v["flags"], v["last"], width,
                           lambda m, final, flags: to_posit(m, fmt, final, flags[0],
                                                            self.quire_lsb, "result"))
        pipe.finish()
        return m


def _decode_pair(m, pipe, fmt, code_a, code_b, **side):
    """Both operands through `decode_body`, the cut point "body", `decode_run`, the cut
    point "run", then `decode_fields`; `side` values travel along and come back in the
    first dict as ``code_<key>``."""
    operands = ("a", "b")
    fields = {"a": decode_body(m, fmt, code_a, "a"), "b": decode_body(m, fmt, code_b, "b")}
    extra = {f"code_{key}": value for key, value in side.items()}
    for cut, step in (("body", decode_run), ("run", decode_fields)):
        v = pipe.stage(cut, **{f"{op}_{key}": value for op in operands
                               for key, value in fields[op].items()}, **extra)
        extra = {key: value for key, value in v.items() if key.startswith("code_")}
        fields = {op: step(m, fmt, {key[2:]: value for key, value in v.items()
                                    if key.startswith(f"{op}_")}, op) for op in operands}
    fields["a"].update(extra)
    return fields["a"], fields["b"]
