"""hdl/nonlinear.py against golden.nonlinear, on the fast path (random stalls on both sides).

Every input code for inputs up to 16 bits: sigmoid and SiLU at 8-, 12- and 16-bit formats
by every method (several segment counts, every cut point used somewhere, the three output
roundings and the wrapping overflow), exp2 and e^x of order 1 and 2, 1/sqrt with 0 to 3
Newton steps; the products on every kind of `hdl.dsp.Multiplier` (MULT18X18D on its
simulation model) and a table in LUTs. Above 16 bits,
200,000 random codes plus the edges (`tb.vectors.fixed_edges`: range ends, segment and
integer boundaries, PLAN's breakpoints).
"""

import pytest

from tb import harness, primitives

SIGMOID = [
    ("sq4_4", "uq0_8", "pwl", 16, 0), ("sq4_4", "uq0_8", "pwl", 64, 4),
    ("sq4_4", "uq0_8", "pow2", 8, 1), ("sq4_4", "uq0_8", "lut", None, 2),
    ("sq4_4", "uq0_8", "hard", None, 3), ("sq4_4", "uq0_8", "plan", None, 0),
    ("sq5_7", "uq0_12_floor", "pwl", 16, 2), ("sq5_7", "uq0_12", "pow2", 32, 3),
    ("sq5_7", "uq0_12_trunc", "lut", 64, 1), ("sq5_7", "uq0_12", "plan", None, 4),
    ("sq5_7", "uq0_8_wrap", "pwl", 4, 1),
    ("sq5_11", "uq0_16", "pwl", 16, 1), ("sq5_11", "uq0_16", "pwl", 256, 4),
    ("sq5_11", "uq0_16", "pow2", 16, 2), ("sq5_11", "uq0_16", "lut", None, 3),
    ("sq5_11", "uq0_16", "hard", None, 0), ("sq5_11", "sq1_15", "plan", None, 2),
    ("sq4_12", "uq0_12", "pwl", 32, 3),
]
SILU = [
    ("sq4_4", "sq4_4", "pwl", 16, 3), ("sq4_4", "sq4_4", "lut", None, 0),
    ("sq4_4", "sq5_6", "hard", None, 1), ("sq4_4", "sq4_4", "pow2", 16, 4),
    ("sq5_7", "sq5_7", "pwl", 64, 1), ("sq5_7", "sq5_7_floor", "hard", None, 2),
    ("sq5_7", "sq5_7", "pow2", 16, 0),
    ("sq5_11", "sq5_11", "pwl", 16, 2), ("sq5_11", "sq5_11", "lut", 1024, 4),
    ("sq5_11", "sq5_11", "hard", None, 3), ("sq5_11", "sq6_10", "pow2", 32, 1),
]
EXP = [  # in, out, base, order, segments, stages
    ("sq4_4", "uq1_7", "2", 1, 1, 0), ("sq4_4", "uq1_7", "e", 2, 2, 3),
    ("sq5_7", "uq1_11", "e", 1, 8, 1), ("sq5_7", "uq2_10_floor", "2", 2, 1, 4),
    ("sq5_11", "uq1_15", "2", 1, 16, 7), ("sq5_11", "uq1_15", "e", 2, 4, 8),
    ("sq5_11", "sq2_14", "e", 1, 1, 3), ("sq6_10", "uq1_15", "2", 2, 8, 1),
]
RSQRT = [  # in, out, seed_bits, steps, stages
    ("uq8_8", "uq5_11", 4, 0, 7), ("uq8_8", "uq5_11", 4, 1, 10),
    ("uq8_8", "uq5_11_floor", 3, 2, 13),
    ("uq4_12", "uq7_9", 6, 1, 2), ("uq1_7", "uq4_8_trunc", 2, 3, 4), ("uq6_2", "sq3_8", 1, 1, 0),
]
RANDOM = [
    ("sigmoid", {"in_fmt": "sq6_18", "out_fmt": "uq0_20", "method": "pwl", "segments": 64,
                 "stages": 4}),
    ("sigmoid", {"in_fmt": "sq6_18", "out_fmt": "uq0_20", "method": "plan", "stages": 1}),
    ("silu", {"in_fmt": "sq6_18", "out_fmt": "sq6_18", "method": "pwl", "segments": 32,
              "stages": 2}),
    ("silu", {"in_fmt": "sq6_18", "out_fmt": "sq6_18", "method": "hard", "stages": 3}),
    ("exp", {"in_fmt": "sq8_16", "out_fmt": "uq1_19", "base": "e", "order": 2,
             "segments": 16, "stages": 8}),
    ("rsqrt", {"in_fmt": "uq12_12", "out_fmt": "uq7_17", "seed_bits": 5, "steps": 2,
               "stages": 7}),
]


# The products on an hdl.dsp.Multiplier (MULT18X18D: on its simulation model), and a
# table forced into LUTs.
MULTIPLIER = [
    ("sigmoid", {"in_fmt": "sq5_11", "out_fmt": "uq0_16", "method": "pwl", "segments": 16,
                 "stages": 5, "multiplier": "ecp5"}),
    ("sigmoid", {"in_fmt": "sq5_7", "out_fmt": "uq0_12_floor", "method": "pwl",
                 "segments": 32, "stages": 3, "multiplier": "lut"}),
    ("sigmoid", {"in_fmt": "sq5_11", "out_fmt": "uq0_16", "method": "lut", "segments": 1024,
                 "stages": 5, "table": "logic"}),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "pwl", "segments": 128,
                 "stages": 5, "multiplier": "lut"}),                 # one code per segment
    ("silu", {"in_fmt": "sq5_7", "out_fmt": "sq5_7", "method": "hard", "stages": 5,
              "multiplier": "ecp5"}),
    ("silu", {"in_fmt": "sq5_11", "out_fmt": "sq5_11", "method": "pwl", "segments": 64,
              "stages": 2, "multiplier": "fabric"}),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "base": "e", "order": 2, "segments": 4,
             "stages": 8, "multiplier": "ecp5"}),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "order": 1, "segments": 16,
             "stages": 7, "multiplier": "lut"}),
    ("rsqrt", {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "steps": 2, "stages": 13,
               "multiplier": "ecp5"}),
    ("rsqrt", {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "steps": 1, "stages": 5,
               "multiplier": "lut"}),
]


def _activation_cases(unit, rows):
    cases = []
    for in_fmt, out_fmt, method, segments, stages in rows:
        params = {"in_fmt": in_fmt, "out_fmt": out_fmt, "method": method, "stages": stages}
        if segments is not None:
            params["segments"] = segments
        cases.append((unit, params, "exhaustive"))
    return cases


CASES = (_activation_cases("sigmoid", SIGMOID) + _activation_cases("silu", SILU)
         + [("exp", {"in_fmt": i, "out_fmt": o, "base": base, "order": order,
                     "segments": segments, "stages": stages}, "exhaustive")
            for i, o, base, order, segments, stages in EXP]
         + [("rsqrt", {"in_fmt": i, "out_fmt": o, "seed_bits": sb, "steps": steps,
                       "stages": stages}, "exhaustive") for i, o, sb, steps, stages in RSQRT]
         + [(unit, params, "random:200000") for unit, params in RANDOM]
         + [(unit, params, "exhaustive") for unit, params in MULTIPLIER])


@pytest.mark.parametrize("unit,params,mode", CASES,
                         ids=[f"{u}-" + "-".join(str(v) for v in p.values()) + f"-{m[:6]}"
                              for u, p, m in CASES])
def test_function_unit(unit, params, mode):
    models = primitives.model_sources({params.get("multiplier")})
    harness.run_fast(unit, params, mode, what="output", extra_sources=models)


@pytest.mark.parametrize("unit, params, exc, message", [
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "segments": 12}, ValueError,
     r"segments must be a power of two in 1\.\.128, not 12"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "segments": 256}, ValueError,
     r"segments must be in 1\.\.128, not 256"),
    ("sigmoid", {"in_fmt": "uq4_4", "out_fmt": "uq0_8"}, ValueError,
     r"in_fmt must be a signed \(sq\) FixedFormat, not uq4_4"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_0"}, ValueError,
     r"int_bits \+ frac_bits must be in 1\.\.64"),
    ("silu", {"in_fmt": "sq5_7", "out_fmt": "sq4_8"}, ValueError,
     r"out_fmt sq4_8 is too narrow for SiLU of sq5_7"),
    ("silu", {"in_fmt": "sq5_7", "out_fmt": "sq5_7", "method": "plan"}, ValueError,
     r"method must be one of 'pwl', 'pow2', 'lut', 'hard', not 'plan'"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "method": "hard", "segments": 4},
     ValueError, r"segments applies to methods pwl, pow2 and lut, not 'hard'"),
    ("sigmoid", {"in_fmt": "sq9_16", "out_fmt": "uq0_16"}, ValueError,
     r"in_fmt must have at most 24 bits, not sq9_16 \(25\)"),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq0_16"}, ValueError,
     r"out_fmt uq0_16 is too narrow for exp's range \(0, 1\]: it must hold 1\.0"),
    ("exp", {"in_fmt": "uq5_11", "out_fmt": "uq1_15"}, ValueError,
     r"in_fmt must be a signed \(sq\) FixedFormat, not uq5_11"),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "order": 3}, ValueError,
     r"order must be in 1\.\.2, not 3"),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "order": 2, "segments": 512},
     ValueError, r"segments=512 is too many for order=2 at 17 coefficient bits"),
    ("exp", {"in_fmt": "sq5_11", "out_fmt": "uq1_15", "stages": 8}, ValueError,
     r"stages must be in 0\.\.7, not 8"),
    ("rsqrt", {"in_fmt": "sq8_8", "out_fmt": "uq5_11"}, ValueError,
     r"in_fmt must be an unsigned \(uq\) FixedFormat, not sq8_8"),
    ("rsqrt", {"in_fmt": "uq8_8", "out_fmt": "uq3_13"}, ValueError,
     r"out_fmt uq3_13 is too narrow for 1/sqrt over uq8_8: the smallest positive input "
     r"gives 16 \(it needs 5 integer bits\)"),
    ("rsqrt", {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "steps": 2, "stages": 14}, ValueError,
     r"stages must be in 0\.\.13, not 14"),
    ("rsqrt", {"in_fmt": "uq8_8", "out_fmt": "uq5_11", "seed_bits": 0}, ValueError,
     r"seed_bits must be in 1\.\.8, not 0"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "multiplier": "dsp"}, ValueError,
     r"multiplier must be one of 'inferred', 'fabric', 'lut', 'ecp5', 'ice40', not 'dsp'"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "table": "bram"}, ValueError,
     r"table must be 'auto' or 'logic', not 'bram'"),
    ("sigmoid", {"in_fmt": "sq4_4", "out_fmt": "uq0_8", "guard_bits": 1.5}, TypeError,
     r"guard_bits must be an integer, not 1\.5"),
])
def test_bad_parameters_are_rejected_before_elaboration(unit, params, exc, message):
    with pytest.raises(exc, match=message):
        harness.run_fast(unit, params)
