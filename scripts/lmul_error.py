"""L-Mul error study: single products and FP32-accumulated dot products, every number from golden/.

    .venv/bin/python scripts/lmul_error.py [--readme] [--samples 1000000] [--vectors 512]
                                           [--seed 1] [--quick]

L-Mul (Luo & Sun, 2024) approximates (1 + xm) * 2**xe * (1 + ym) * 2**ye by
(1 + xm + ym + 2**-l(m)) * 2**(xe + ye), l(m) = m for m <= 3, l(4) = 3, l(m) = 4 for m > 4.
The paper claims that with a 4-bit mantissa it is as precise as fp8_e4m3 multiplication and
that with a 3-bit mantissa it beats fp8_e5m2. This script measures both claims.

Method
------
Inputs are real numbers: float64 samples from a fixed seed (`--seed`). Every method first
rounds its inputs into its own format (``fmt.encode``: round to nearest, ties to even), then
multiplies:

- **L-Mul, m mantissa bits** (m = 2..7): the format e8m<m> = ``FloatFormat(8, m)`` (8 exponent
  bits, so no input range used here overflows or underflows: only the mantissa width
  matters), product ``golden.lmul.lmul(a, b, e8m<m>, carry=..., out_fmt=FP32)`` with the
  paper's offset 2**-l(m). ``carry="integer"`` is the paper's integer-addition emulation and
  the hardware default (a mantissa carry rolls into the exponent); ``carry="formula"`` is
  the formula above taken literally. FP32 holds either value exactly: nothing is rounded
  after the inputs.
- **fp8 exact**: ``golden.ops.mul(a, b, fmt)`` into the same fp8 format (fp8_e4m3 = OCP
  E4M3, or fp8_e5m2): the exact product of the rounded inputs, rounded once to fp8 (RNE).

Two relative errors are reported for each product, |result - reference| / |reference|:

- *vs real*: the reference is the exact product of the original float64 inputs (x * y plus
  its exact rounding error, from Dekker's two-product): input rounding + arithmetic.
- *vs rounded*: the reference is the exact product of the method's own rounded inputs: the
  arithmetic's own error (samples where that product is 0 are left out of this column).

Distributions: **log-uniform**: |x| = 2**u, u uniform in [-3, 3), random sign, so every
fp8_e4m3 input and product is a normal number; **Gaussian** N(0, 1): fp8_e4m3 products can
be subnormal or zero (fp8_e4m3's smallest normal is 2**-6). Gaussian figures are given for
all samples, with the share of products that end up subnormal or zero, and for the subset
where |x|, |y| and |x * y| are all >= 2**-6 (every method in its normal range).

Dot products: K = 64, 256 and 1024 terms, `--vectors` vectors each, activations and weights
both N(0, 1) (the same real vectors for every method at one K). Operands are rounded into
fp8_e4m3, fp8_e5m2 or bf16; products are L-Mul (``lmul(..., out_fmt=FP32)``) or exact
(``ops.mul`` into FP32: exact for these formats and inputs); both are accumulated in FP32 in
order, one RNE addition per term: ``golden.dot.dot(a, b, fmt, lanes=1, mul=..., acc="fp32")``.
Also L-Mul on e8m4 and e8m3 operands, for the paper's two claims. Errors: relative to the
exact dot of the rounded inputs and to the exact dot of the real inputs (two-product terms
summed by ``math.fsum``: correctly rounded); mean, median and max over the vectors.

Verdicts are computed from the figures, never written by hand. Claim A ("as precise as")
holds if L-Mul's error is at most ``COMPARABLE`` (1.10) times fp8_e4m3's, claim B ("beats")
if it is below fp8_e5m2's; errors are compared as the ratio L-Mul / fp8 of mean errors
(single products, on the same pairs) or of median errors (dot products, on the same
vectors), with a 90% interval: the ratio estimator's normal approximation for means, a
paired bootstrap of the vectors for medians. "agrees" or "disagrees" only if the whole
interval is on one side of the threshold, otherwise "inconclusive".

Output: Markdown tables on stdout (progress on stderr); the study JSON for the FPGA report
(``fpga.studies.write_study``, build/studies/lmul_error.json), always, with the chart data
the report draws against area (median dot-product error, K = 1024, of the methods that the
``lmul`` and ``fpmul`` units compute); README.md only with --readme (between the
``lmul_error`` markers).
"""

import argparse
import math
import sys
import time

import numpy as np

import _common
from fpga import studies
from golden import dot as dot_mod
from golden import checks, formats, lmul, ops

NAME = "lmul_error"
TITLE = "L-Mul error study"
MANTISSAS = tuple(range(2, 8))
CARRIES = ("integer", "formula")
LOG2_RANGE = (-3, 3)                 # log-uniform |x| in [2**-3, 2**3)
KS = (64, 256, 1024)
DEFAULTS = {"samples": 1_000_000, "vectors": 512, "seed": 1}
QUICK = {"samples": 4_000, "vectors": 8}
COMPARABLE = 1.10                    # "as precise as": L-Mul error <= 1.10 x the fp8 error
Z90 = 1.6448536269514722             # two-sided 90% normal quantile
BOOTSTRAP = 2000                     # resamples of the vectors for the dot-product intervals
E4M3, E5M2, BF16, FP32 = formats.FP8_E4M3, formats.FP8_E5M2, formats.BF16, formats.FP32
NORMAL_FLOOR = E4M3.min_normal       # 2**-6: the Gaussian "normal range" subset
DISTRIBUTIONS = ("log-uniform", "gaussian")


def lmul_format(m):
    """e8m<m> = FloatFormat(8, m): the operand format of the m-bit L-Mul (8 exponent bits,
    IEEE specials; e8m7 is bf16)."""
    return formats.format_from_name(f"e8m{m}")


def lmul_label(m, carry):
    """Table label of the m-bit L-Mul with `carry`."""
    return f"L-Mul m={m}, integer carry" if carry == "integer" else f"L-Mul m={m}, formula"


def fp8_label(name):
    """Table label of the exact product in the fp8 format called `name`."""
    return f"{name} exact (RNE)"


def single_methods():
    """The methods of the single-product tables: (label, kind, fmt, carry)."""
    methods = [(lmul_label(m, carry), "lmul", lmul_format(m), carry)
               for carry in CARRIES for m in MANTISSAS]
    methods += [(fp8_label(str(fmt)), "exact", fmt, None) for fmt in (E4M3, E5M2)]
    return methods


def dot_methods():
    """The methods of the dot-product table: (label, fmt, mul)."""
    return [("fp8_e4m3", E4M3, "lmul"), ("fp8_e4m3", E4M3, "exact"),
            ("fp8_e5m2", E5M2, "lmul"), ("fp8_e5m2", E5M2, "exact"),
            ("bf16", BF16, "lmul"), ("bf16", BF16, "exact"),
            ("e8m4", lmul_format(4), "lmul"), ("e8m3", lmul_format(3), "lmul")]


# --- option checks --------------------------------------------------------------------------

def check_count(name, value, minimum):
    """`value` as an int >= minimum: TypeError for a non-integer, ValueError (naming `name`)
    for one out of range."""
    return checks.integer(name, value, lo=minimum)


# --- exact references -------------------------------------------------------------------------

_SPLIT = 134217729.0                 # 2**27 + 1 (Veltkamp)


def two_product(x, y):
    """(p, e) with p = fl(x * y) and p + e == x * y exactly (Dekker; no overflow or
    underflow in the ranges used here)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    p = x * y
    cx, cy = _SPLIT * x, _SPLIT * y
    xh, yh = cx - (cx - x), cy - (cy - y)
    xl, yl = x - xh, y - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return p, e


def exact_dot(x, y):
    """The exact dot product of each row of float64 arrays `x`, `y`, correctly rounded to
    float64 (two-product terms summed by math.fsum)."""
    p, e = two_product(x, y)
    return np.array([math.fsum(np.concatenate([pr, er])) for pr, er in zip(p, e)])


def relative_error(approx, ref_hi, ref_lo=0.0):
    """|approx - (ref_hi + ref_lo)| / |ref_hi + ref_lo|, NaN where the reference is 0."""
    ref = np.asarray(ref_hi, np.float64) + ref_lo
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs((np.asarray(approx, np.float64) - ref_hi) - ref_lo) / np.abs(ref)
    return np.where(ref == 0, np.nan, err)


# --- single products --------------------------------------------------------------------------

def sample_inputs(distribution, samples, seed):
    """(x, y): float64 arrays of `samples` real inputs from `distribution`."""
    samples = check_count("samples", samples, 1)
    index = DISTRIBUTIONS.index(distribution)
    rng = np.random.default_rng([check_count("seed", seed, 0), 0, index])
    if distribution == "log-uniform":
        lo, hi = LOG2_RANGE
        mag = np.exp2(rng.uniform(lo, hi, size=(2, samples)))
        sign = np.where(rng.integers(0, 2, size=(2, samples)) == 1, -1.0, 1.0)
        x, y = sign * mag
    else:
        x, y = rng.standard_normal(size=(2, samples))
    return x, y


def method_products(kind, fmt, carry, x, y, _codes=None):
    """One method on real inputs x, y: a dict of float64 arrays.

    ``result`` (the method's product), ``rounded`` (exact product of the rounded inputs),
    ``err_real`` and ``err_rounded`` (relative errors, NaN where undefined), ``low`` (the
    result is subnormal or zero in its format). `_codes` caches (a, b) per format.
    """
    if _codes is not None and fmt in _codes:
        a, b = _codes[fmt]
    else:
        a, b = fmt.encode(x), fmt.encode(y)
        if _codes is not None:
            _codes[fmt] = (a, b)
    if kind == "lmul":
        out = FP32
        codes = lmul.lmul(a, b, fmt, carry=carry, offset="paper", out_fmt=out)
    else:
        out = fmt
        codes = ops.mul(a, b, fmt)
    result = out.decode(codes)
    rounded = fmt.decode(a) * fmt.decode(b)          # exact: <= 8-bit significands each
    if not np.all(np.isfinite(result)):
        raise RuntimeError(f"{kind} on {fmt} gave non-finite products: inputs out of range")
    p, e = two_product(x, y)
    return {"result": result, "rounded": rounded,
            "err_real": relative_error(result, p, e),
            "err_rounded": relative_error(result, rounded),
            "low": np.abs(result) < out.min_normal}


def _stats(r, mask):
    real, rnd = r["err_real"][mask], r["err_rounded"][mask]
    rnd = rnd[~np.isnan(rnd)]
    return {"mean_real": float(real.mean()), "max_real": float(real.max()),
            "mean_rounded": float(rnd.mean()), "max_rounded": float(rnd.max()),
            "rounded_samples": int(rnd.size), "samples": int(mask.sum()),
            "low": float(r["low"][mask].mean())}


def ratio_interval(lmul_errors, fp8_errors):
    """(ratio of the means, 90% interval low, high) for paired per-sample errors.

    The interval is the ratio estimator's normal approximation (delta method):
    se = std(l - r * f) / (sqrt(n) * mean(f)), interval r -+ 1.645 se.
    """
    valid = ~np.isnan(lmul_errors) & ~np.isnan(fp8_errors)
    l, f = lmul_errors[valid], fp8_errors[valid]
    r = l.mean() / f.mean()
    se = np.std(l - r * f, ddof=1) / (math.sqrt(l.size) * f.mean()) if l.size > 1 else math.inf
    return {"lmul": float(l.mean()), "fp8": float(f.mean()), "ratio": float(r),
            "low": float(r - Z90 * se), "high": float(r + Z90 * se)}


def single_products(samples, seed, log=None):
    """Statistics per distribution (and the Gaussian normal-range subset) and method.

    Returns ``{"log-uniform": {label: stats}, "gaussian": {...}, "gaussian-normal": {...},
    "normal_share": float, "compare": {(table, against, m, carry): ratio_interval}}``;
    stats as `_stats`; "compare" pairs L-Mul m (3 or 4) with the fp8 format of its claim,
    errors "vs real" or "vs rounded", mean over the same pairs.
    """
    out = {"compare": {}}
    fp8_of = {m: fp8 for _, _, m, fp8, _, _ in CLAIMS}
    for distribution in DISTRIBUTIONS:
        start = time.monotonic()
        x, y = sample_inputs(distribution, samples, seed)
        everything = np.ones(x.shape, bool)
        if distribution == "gaussian":
            subset = ((np.abs(x) >= NORMAL_FLOOR) & (np.abs(y) >= NORMAL_FLOOR)
                      & (np.abs(x * y) >= NORMAL_FLOOR))
            out["normal_share"] = float(subset.mean())
            out["gaussian-normal"] = {}
        out[distribution] = {}
        cache, kept = {}, {}
        keep = {lmul_label(m, c) for m in fp8_of for c in CARRIES}
        keep |= {fp8_label(name) for name in fp8_of.values()}
        for label, kind, fmt, carry in single_methods():
            r = method_products(kind, fmt, carry, x, y, _codes=cache)
            out[distribution][label] = _stats(r, everything)
            if distribution == "gaussian":
                out["gaussian-normal"][label] = _stats(r, subset)
            if label in keep:
                kept[label] = r
        tables = [(distribution, everything)]
        if distribution == "gaussian":
            tables.append(("gaussian-normal", subset))
        for table, mask in tables:
            for m, fp8 in fp8_of.items():
                for carry in CARRIES:
                    for against in ("real", "rounded"):
                        column = f"err_{against}"
                        out["compare"][(table, against, m, carry)] = ratio_interval(
                            kept[lmul_label(m, carry)][column][mask],
                            kept[fp8_label(fp8)][column][mask])
        if log:
            log(f"single products, {distribution}: {samples:,} pairs, "
                f"{len(single_methods())} methods, {time.monotonic() - start:.1f} s")
    return out


# --- dot products -----------------------------------------------------------------------------

def dot_inputs(k, vectors, seed):
    """(activations, weights): float64 arrays (vectors, k), both N(0, 1)."""
    rng = np.random.default_rng([check_count("seed", seed, 0), 1, check_count("K", k, 1)])
    return rng.standard_normal(size=(2, check_count("vectors", vectors, 1), k))


def dot_results(fmt, mul, x, w):
    """(FP32 dot results as float64, exact dots of the rounded inputs) for one method."""
    a, b = fmt.encode(x), fmt.encode(w)
    codes = dot_mod.dot(a, b, fmt, lanes=1, mul=mul, acc="fp32")
    return FP32.decode(codes), exact_dot(fmt.decode(a), fmt.decode(b))


def _dot_stats(err):
    errors = err
    err = err[~np.isnan(err)]
    return {"mean": float(err.mean()), "median": float(np.median(err)),
            "max": float(err.max()), "vectors": int(err.size), "errors": errors}


def median_ratio_interval(lmul_errors, fp8_errors, rng, resamples=BOOTSTRAP):
    """(ratio of the medians, 90% interval low, high) for paired per-vector errors: a
    paired bootstrap (the same resampled vectors for both), 5th and 95th percentiles."""
    valid = ~np.isnan(lmul_errors) & ~np.isnan(fp8_errors)
    l, f = lmul_errors[valid], fp8_errors[valid]
    index = rng.integers(0, l.size, size=(resamples, l.size))
    ratios = np.median(l[index], axis=1) / np.median(f[index], axis=1)
    low, high = np.percentile(ratios, [5, 95])
    return {"lmul": float(np.median(l)), "fp8": float(np.median(f)),
            "ratio": float(np.median(l) / np.median(f)), "low": float(low),
            "high": float(high)}


def dot_products(vectors, seed, ks=KS, log=None):
    """``{(label, mul, K): {"rounded": stats, "real": stats}}`` for every dot method, and
    ``{("compare", key, K): median_ratio_interval}`` for each claim (vs the real dot)."""
    out = {}
    for k in ks:
        start = time.monotonic()
        x, w = dot_inputs(k, vectors, seed)
        real = exact_dot(x, w)
        for label, fmt, mul in dot_methods():
            result, rounded = dot_results(fmt, mul, x, w)
            if not np.all(np.isfinite(result)):
                raise RuntimeError(f"{mul} dot on {fmt} gave non-finite results")
            out[(label, mul, k)] = {"rounded": _dot_stats(relative_error(result, rounded)),
                                    "real": _dot_stats(relative_error(result, real))}
        rng = np.random.default_rng([seed, 2, k])
        for key, _, _, fp8, dot_label, _ in CLAIMS:
            out[("compare", key, k)] = median_ratio_interval(
                out[(dot_label, "lmul", k)]["real"]["errors"],
                out[(fp8, "exact", k)]["real"]["errors"], rng)
        if log:
            log(f"dot products, K={k}: {vectors} vectors, {len(dot_methods())} methods, "
                f"{time.monotonic() - start:.1f} s")
    return out


# --- verdicts and text ------------------------------------------------------------------------

CLAIMS = (("A", "L-Mul m=4 is as precise as fp8_e4m3", 4, "fp8_e4m3", "e8m4", "as precise as"),
          ("B", "L-Mul m=3 beats fp8_e5m2", 3, "fp8_e5m2", "e8m3", "beats"))


def _holds(relation, ratio):
    if relation == "as precise as":
        return ratio <= COMPARABLE
    if relation == "beats":
        return ratio < 1
    raise ValueError(f"relation must be 'as precise as' or 'beats', not {relation!r}")


def verdict(relation, lmul_error, fp8_error, low=None, high=None):
    """The claimed `relation` (L-Mul "as precise as" or "beats" fp8), checked on the errors.

    Without an interval: "agrees" or "disagrees" from the ratio lmul_error / fp8_error.
    With the 90% interval [low, high] of that ratio: "agrees" or "disagrees" only if the
    whole interval says so, else "inconclusive" (the difference is within sampling noise).
    """
    point = _holds(relation, lmul_error / fp8_error)
    if low is None or high is None:
        return "agrees" if point else "disagrees"
    if _holds(relation, low) and _holds(relation, high):
        return "agrees"
    if not _holds(relation, low) and not _holds(relation, high):
        return "disagrees"
    return "inconclusive"


MEASURES = (("log-uniform products", "log-uniform", "real"),
            ("log-uniform products", "log-uniform", "rounded"),
            ("Gaussian products (all)", "gaussian", "real"),
            ("Gaussian products (normal range)", "gaussian-normal", "real"),
            ("Gaussian products (normal range)", "gaussian-normal", "rounded"))


def verdict_rows(single, dots, ks=KS, carry="integer"):
    """One row per (claim, measure): [claim, inputs, error, L-Mul, fp8, ratio, low, high,
    verdict, against] ("against" = "real" or "rounded", for the text)."""
    rows = []
    for key, text, m, _, _, relation in CLAIMS:
        found = [(inputs, f"mean vs {against}", against,
                  single["compare"][(table, against, m, carry)])
                 for inputs, table, against in MEASURES]
        found += [(f"dots K={k}", "median vs real", "real", dots[("compare", key, k)])
                  for k in ks]
        for inputs, error, against, c in found:
            rows.append([f"{key}: {text}", inputs, error, c["lmul"], c["fp8"], c["ratio"],
                         c["low"], c["high"],
                         verdict(relation, c["lmul"], c["fp8"], c["low"], c["high"]),
                         against])
    return rows


def _g(value):
    return f"{value:.3g}"


def _pct(value):
    return f"{100 * value:.2f}%"


def build_study(single, dots, *, samples, vectors, seed, ks=KS):
    """(paragraphs, tables) of the study, every sentence about results computed from them."""
    verdicts = verdict_rows(single, dots, ks)
    tables = []
    headers = ["method", "mean vs real", "max vs real", "mean vs rounded", "max vs rounded"]
    tables.append({
        "caption": f"**Single products, log-uniform inputs** (|x| = 2^u, u uniform in "
                   f"[{LOG2_RANGE[0]}, {LOG2_RANGE[1]}), random sign; {samples:,} pairs): "
                   f"relative errors.",
        "headers": headers,
        "rows": [[label] + [_g(s[c]) for c in ("mean_real", "max_real", "mean_rounded",
                                               "max_rounded")]
                 for label, s in single["log-uniform"].items()]})
    for table, caption in (
            ("gaussian", f"**Single products, Gaussian N(0, 1) inputs, all {samples:,} pairs**"
                         f" (\"vs rounded\" leaves out pairs whose rounded inputs multiply to 0)"),
            ("gaussian-normal", f"**Single products, Gaussian N(0, 1) inputs, normal range**: "
                                f"the {_pct(single['normal_share'])} of pairs with |x|, |y|, "
                                f"|x·y| >= 2^-6")):
        tables.append({
            "caption": caption + ". \"subnormal or 0\": share of products that are subnormal"
                       " or zero in the result format.",
            "headers": headers + ["subnormal or 0"],
            "rows": [[label] + [_g(s[c]) for c in ("mean_real", "max_real", "mean_rounded",
                                                   "max_rounded")] + [_pct(s["low"])]
                     for label, s in single[table].items()]})
    rows = []
    for k in ks:
        for label, fmt, mul in dot_methods():
            d = dots[(label, mul, k)]
            rows.append([label, k, "L-Mul" if mul == "lmul" else "exact"]
                        + [_g(d["rounded"][c]) for c in ("mean", "median", "max")]
                        + [_g(d["real"][c]) for c in ("mean", "median", "max")])
    tables.append({
        "caption": f"**Dot products** of N(0, 1) activations and N(0, 1) weights, {vectors} "
                   f"vectors per K, products accumulated in FP32 in order "
                   f"(`golden.dot.dot(lanes=1, acc=\"fp32\")`): relative error of the result "
                   f"against the exact dot of the rounded inputs and of the real inputs. "
                   f"fp8_e4m3, fp8_e5m2 and bf16 L-Mul products use m = 3, 2 and 7; e8m4 and "
                   f"e8m3 are 4- and 3-bit-mantissa operands with 8 exponent bits (claims A "
                   f"and B).",
        "headers": ["operands", "K", "products", "mean vs rounded", "median vs rounded",
                    "max vs rounded", "mean vs real", "median vs real", "max vs real"],
        "rows": rows})
    tables.append({
        "caption": f"**The paper's claims, checked** (L-Mul with the integer carry; \"as "
                   f"precise as\": L-Mul error at most {COMPARABLE:.2f}× the fp8 error; "
                   f"\"beats\": below it). 90% interval of the ratio: single products, "
                   f"normal approximation of the ratio of paired means; dot products, paired "
                   f"bootstrap of the vectors ({BOOTSTRAP} resamples). A verdict is "
                   f"\"agrees\" or \"disagrees\" only if the whole interval says so, "
                   f"otherwise \"inconclusive\".",
        "headers": ["claim", "inputs", "error", "L-Mul", "fp8", "L-Mul / fp8",
                    "90% interval", "verdict"],
        "rows": [r[:3] + [_g(r[3]), _g(r[4]), f"{r[5]:.2f}", f"{r[6]:.2f}–{r[7]:.2f}", r[8]]
                 for r in verdicts]})
    return _paragraphs(single, dots, verdicts, samples=samples, vectors=vectors, seed=seed,
                       ks=ks), tables


def _claim_summary(verdicts, key, against):
    """(what our figures do, detail) for one claim's rows against one reference."""
    rows = [r for r in verdicts if r[0].startswith(key + ":") and r[9] == against]
    counts = {v: sum(r[8] == v for r in rows) for v in ("agrees", "disagrees", "inconclusive")}
    agree, disagree = counts["agrees"], counts["disagrees"]
    if agree == len(rows):
        phrase = "agree"
    elif disagree == len(rows):
        phrase = "disagree"
    elif agree and disagree:
        phrase = "partly agree, partly disagree"
    elif agree:
        phrase = "agree where the difference exceeds the noise"
    elif disagree:
        phrase = "disagree where the difference exceeds the noise"
    else:
        phrase = "are inconclusive"
    words = {"agrees": "agree", "disagrees": "disagree", "inconclusive": "inconclusive"}
    detail = "; ".join(f"{n} {words[v]}: " + ", ".join(f"{r[1]} {r[5]:.2f}"
                                                        for r in rows if r[8] == v)
                       for v, n in counts.items() if n)
    return phrase, f"L-Mul / fp8 error ratio, {len(rows)} measures; {detail}"


def _formula_verdict(single, m, relation):
    c = single["compare"][("log-uniform", "real", m, "formula")]
    return verdict(relation, c["lmul"], c["fp8"], c["low"], c["high"])


def _paragraphs(single, dots, verdicts, *, samples, vectors, seed, ks):
    lu, ga, gn = single["log-uniform"], single["gaussian"], single["gaussian-normal"]
    p = []
    p.append(f"`scripts/lmul_error.py` (seed {seed}, {samples:,} pairs per distribution, "
             f"{vectors} vectors per K) measures L-Mul (Luo & Sun, 2024) with every number "
             f"from golden/. Each method rounds the real (float64) inputs into its own format "
             f"(RNE) and multiplies: L-Mul with m mantissa bits works on `e8m<m>` operands "
             f"(8 exponent bits, so that only the mantissa width matters), its value exact in "
             f"FP32 (`golden.lmul.lmul(..., out_fmt=FP32)`, offset 2^-l(m)); \"fp8 exact\" is "
             f"`golden.ops.mul`, the exact product of the fp8 inputs rounded once to the same "
             f"fp8 format. Errors are relative, |result − reference| / |reference|, against "
             f"the exact product of the real inputs (\"vs real\": input rounding plus "
             f"arithmetic) and against the exact product of the method's rounded inputs "
             f"(\"vs rounded\": the arithmetic alone). \"integer carry\" is the paper's "
             f"integer-addition emulation and our hardware's default; \"formula\" evaluates "
             f"(1 + xm + ym + 2^-l(m))·2^(xe+ye) literally.")
    for key, text, m, fp8, _, relation in CLAIMS:
        phrase_real, d_real = _claim_summary(verdicts, key, "real")
        phrase_rnd, d_rnd = _claim_summary(verdicts, key, "rounded")
        p.append(f"**Claim {key}, \"{text}\"**: against the real product our figures "
                 f"**{phrase_real}** ({d_real}). Against the exact product of the rounded "
                 f"inputs (the arithmetic's own error) they **{phrase_rnd}** ({d_rnd}).")
    lm4, e4 = lu[lmul_label(4, "integer")], lu[fp8_label("fp8_e4m3")]
    lm7 = lu[lmul_label(7, "integer")]
    p.append(f"The two errors tell different stories. Against the real product, L-Mul gains "
             f"from its wider mantissa: the inputs are rounded to m bits instead of 3 or 2. "
             f"Against the rounded inputs, L-Mul's own error does not shrink below the "
             f"approximation's floor (m = 7: mean {_g(lm7['mean_rounded'])}, max "
             f"{_g(lm7['max_rounded'])}; m = 4: mean {_g(lm4['mean_rounded'])}), while an "
             f"fp8 product's own error is its final rounding (fp8_e4m3: mean "
             f"{_g(e4['mean_rounded'])}, max {_g(e4['max_rounded'])}). As far as we can tell "
             f"the paper's claim is about the error against the real (higher-precision) "
             f"product: it compares an m-bit L-Mul with fp8 formats of other mantissa widths, "
             f"which only a common higher-precision reference allows. The maximum errors "
             f"differ from the means: L-Mul m=4's worst case vs real is {_g(lm4['max_real'])}, "
             f"fp8_e4m3's {_g(e4['max_real'])}. Read literally (\"formula\": a mantissa sum "
             f"of 2 or more is not carried into the exponent), L-Mul gives, log-uniform, mean "
             f"vs real: "
             + "; ".join(f"m={m} {_g(lu[lmul_label(m, 'formula')]['mean_real'])} (integer "
                         f"carry {_g(lu[lmul_label(m, 'integer')]['mean_real'])}, {fp8} "
                         f"{_g(lu[fp8_label(fp8)]['mean_real'])}: claim {key} "
                         + _formula_verdict(single, m, relation) + ")"
                         for key, _, m, fp8, _, relation in CLAIMS) + ".")
    g4, gl4 = ga[fp8_label("fp8_e4m3")], ga[lmul_label(4, "integer")]
    g5 = ga[fp8_label("fp8_e5m2")]
    p.append(f"Gaussian inputs: {_pct(g4['low'])} of the fp8_e4m3 products (and "
             f"{_pct(g5['low'])} of fp8_e5m2's) are subnormal or zero; fp8_e4m3's mean error "
             f"vs real over all pairs is {_g(g4['mean_real'])} (max {_g(g4['max_real'])}: "
             f"subnormal products keep few significant bits, and one rounded to 0 is 100% off), "
             f"against {_g(gn[fp8_label('fp8_e4m3')]['mean_real'])} in the normal range "
             f"({_pct(single['normal_share'])} of the pairs). L-Mul on "
             f"`e8m<m>` never underflows here (8 exponent bits; L-Mul m=4 over all pairs: "
             f"{_g(gl4['mean_real'])}), so the all-pairs comparison favours it by range, not "
             f"by arithmetic; the normal-range rows compare the arithmetic alone.")
    kk = ks[-1]
    parts = []
    for label in ("fp8_e4m3", "fp8_e5m2", "bf16"):
        lmd, exd = dots[(label, "lmul", kk)], dots[(label, "exact", kk)]
        parts.append(f"{label}: median {_g(lmd['rounded']['median'])} (L-Mul) vs "
                     f"{_g(exd['rounded']['median'])} (exact) against the rounded-input dot, "
                     f"{_g(lmd['real']['median'])} vs {_g(exd['real']['median'])} against the "
                     f"real dot")
    e8m4, e8m3 = dots[("e8m4", "lmul", kk)]["real"], dots[("e8m3", "lmul", kk)]["real"]
    p.append(f"Dot products (K = {kk}, FP32 accumulation): " + "; ".join(parts) + ". "
             f"L-Mul products on e8m4 operands give a median error vs the real dot of "
             f"{_g(e8m4['median'])} (fp8_e4m3 exact products: "
             f"{_g(dots[('fp8_e4m3', 'exact', kk)]['real']['median'])}), on e8m3 "
             f"{_g(e8m3['median'])} (fp8_e5m2 exact: "
             f"{_g(dots[('fp8_e5m2', 'exact', kk)]['real']['median'])}). Means and maxima of "
             f"dot errors are driven by the few vectors whose dot nearly cancels; the medians "
             f"are the stable figure.")
    p.append("Not covered: the paper's own numeric error figures (not retrieved here; we test "
             "its stated claims only), L-Mul with fewer than 8 exponent bits for m = 2..7 "
             "(the fp8 rows of the dot table are L-Mul on the fp8 formats themselves). "
             "Accuracy on a real layer: `scripts/mlp_digits.py`.")
    return p


#: the hardware that computes each dot-product method of the study (fpga.report select)
_HARDWARE = {"lmul": {"unit": "lmul", "params": {"out_fmt": None, "special_values": True}},
             "exact": {"unit": "fpmul", "params": {"out_fmt": None}}}


def charts(dots, ks=KS):
    """The study's chart for the FPGA report: the median relative error of FP32-accumulated
    dot products (vs the real dot, largest K) of every method that a unit computes
    (L-Mul: `lmul`; exact: `fpmul`), to draw against those units' area."""
    k = ks[-1]
    points = []
    for label, fmt, mul in dot_methods():
        if label not in ("fp8_e4m3", "fp8_e5m2", "bf16"):
            continue                  # e8m4, e8m3: no unit of that format in the design sets
        select = {"unit": _HARDWARE[mul]["unit"],
                  "params": {"fmt": label, **_HARDWARE[mul]["params"]}}
        points.append({"label": f"{label} {'L-Mul' if mul == 'lmul' else 'exact'}",
                       "select": select, "value": dots[(label, mul, k)]["real"]["median"]})
    return [{"title": f"dot products, K = {k}, FP32 accumulation",
             "metric": "median relative error vs real dot", "log": True, "better": "lower",
             "points": points}]


def render(paragraphs, tables, level=3):
    """The study as Markdown, exactly as the FPGA report renders it (`study_markdown`)."""
    return studies.study_markdown({"title": TITLE, "paragraphs": paragraphs, "tables": tables},
                                 level=level)


# --- command line ---------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None,
                        help=f"pairs per single-product distribution (default "
                             f"{DEFAULTS['samples']:,}; --quick {QUICK['samples']:,})")
    parser.add_argument("--vectors", type=int, default=None,
                        help=f"dot products per K (default {DEFAULTS['vectors']}; --quick "
                             f"{QUICK['vectors']})")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help=f"random seed, >= 0 (default {DEFAULTS['seed']})")
    parser.add_argument("--quick", action="store_true", help="small counts (for tests)")
    parser.add_argument("--readme", action="store_true",
                        help="also write the Markdown into README.md between the "
                             "lmul_error markers")
    args = parser.parse_args(argv)
    counts = QUICK if args.quick else DEFAULTS
    if args.samples is None:
        args.samples = counts["samples"]
    if args.vectors is None:
        args.vectors = counts["vectors"]
    for option, value, minimum in (("--samples", args.samples, 1),
                                   ("--vectors", args.vectors, 1),
                                   ("--seed", args.seed, 0)):
        try:
            check_count(option, value, minimum)
        except ValueError as error:
            parser.error(str(error))
    return args


def main(argv=None, *, readme=None, studies_dir=None):
    """Run the study; `readme` and `studies_dir` override README.md and build/studies/
    (for tests). Returns the study dict."""
    args = parse_args(argv)
    if args.readme:
        _common.check_readme_section(NAME, readme)   # before a minute of work, not after

    def log(line):
        print(line, file=sys.stderr, flush=True)

    start = time.monotonic()
    single = single_products(args.samples, args.seed, log=log)
    dots = dot_products(args.vectors, args.seed, log=log)
    paragraphs, tables = build_study(single, dots, samples=args.samples,
                                     vectors=args.vectors, seed=args.seed)
    kwargs = {} if studies_dir is None else {"studies_dir": studies_dir}
    path = studies.write_study(NAME, TITLE, paragraphs, tables, about=("lmul",),
                               charts=charts(dots), **kwargs)
    text = render(paragraphs, tables)
    print(text)
    log(f"wrote {path}; {time.monotonic() - start:.1f} s in all")
    if args.readme:
        _common.write_readme_section(NAME, text, readme=readme)
    return {"name": NAME, "title": TITLE, "paragraphs": paragraphs, "tables": tables}


if __name__ == "__main__":
    main()
