"""scripts/lmul_error.py against independent computations.

- L-Mul errors: the paper's formula in `fractions.Fraction` arithmetic on the inputs rounded
  by an exact reference (tests/conftest.py), for both carry readings and every m.
- fp8 exact errors: ml_dtypes (float8_e4m3fn, float8_e5m2) rounding of the inputs and of
  their exact product, on the study's own samples.
- Dot products: an independent L-Mul on float values (NumPy frexp) and exact products, summed
  in NumPy float32 in order; the exact-dot references against Fraction sums.
- The verdicts follow the numbers; --readme refuses a README without markers; bad options
  are rejected with messages naming the option; a quick run writes the study and the same
  Markdown into the README.
"""

import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from fpga import studies
from conftest import frac_split
from golden import formats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import lmul_error  # noqa: E402  (scripts/ is not a package)

SEED = 20241001


def paper_l(m):
    return m if m <= 3 else (3 if m == 4 else 4)


def lmul_fraction(x, y, m, carry):
    """The paper's L-Mul of two nonzero Fractions whose mantissas have m bits."""
    (xm, xe), (ym, ye) = frac_split(x), frac_split(y)
    s = xm + ym + Fraction(1, 2 ** paper_l(m))
    sign = -1 if (x < 0) != (y < 0) else 1
    if carry == "formula" or s < 1:
        return sign * (1 + s) * Fraction(2) ** (xe + ye)
    return sign * (1 + (s - 1)) * Fraction(2) ** (xe + ye + 1)   # the carry into the exponent


@pytest.mark.parametrize("distribution", lmul_error.DISTRIBUTIONS)
@pytest.mark.parametrize("carry", lmul_error.CARRIES)
def test_lmul_errors_match_fraction_formula(ref, distribution, carry):
    x, y = lmul_error.sample_inputs(distribution, 40, SEED)
    for m in lmul_error.MANTISSAS:
        fmt = lmul_error.lmul_format(m)
        r = lmul_error.method_products("lmul", fmt, carry, x, y)
        for i in range(x.size):
            # Inputs rounded by the exact reference, not by golden's encode.
            xr = ref.float_decode(ref.float_encode(float(x[i]), fmt), fmt)
            yr = ref.float_decode(ref.float_encode(float(y[i]), fmt), fmt)
            xr = -xr[1] if xr[0] else xr[1]
            yr = -yr[1] if yr[0] else yr[1]
            value = lmul_fraction(xr, yr, m, carry)
            assert Fraction(float(r["result"][i])) == value, (m, carry, x[i], y[i])
            real = Fraction(float(x[i])) * Fraction(float(y[i]))
            want_real = abs(value - real) / abs(real)
            want_rounded = abs(value - xr * yr) / abs(xr * yr)
            assert r["err_real"][i] == pytest.approx(float(want_real), rel=1e-12, abs=1e-300)
            assert r["err_rounded"][i] == pytest.approx(float(want_rounded), rel=1e-12,
                                                        abs=1e-300)


@pytest.mark.parametrize("fmt, ml_type", [(formats.FP8_E4M3, ml_dtypes.float8_e4m3fn),
                                          (formats.FP8_E5M2, ml_dtypes.float8_e5m2)])
@pytest.mark.parametrize("distribution", lmul_error.DISTRIBUTIONS)
def test_fp8_exact_errors_match_ml_dtypes(fmt, ml_type, distribution):
    x, y = lmul_error.sample_inputs(distribution, 20_000, SEED)
    # float32-representable inputs: ml_dtypes converts float64 through float32, which is a
    # single rounding only for these (the exact fp8 products are float32-representable).
    x = x.astype(np.float32).astype(np.float64)
    y = y.astype(np.float32).astype(np.float64)
    r = lmul_error.method_products("exact", fmt, None, x, y)
    xq = x.astype(np.float32).astype(ml_type).astype(np.float64)
    yq = y.astype(np.float32).astype(ml_type).astype(np.float64)
    product = (xq * yq).astype(np.float32).astype(ml_type).astype(np.float64)
    np.testing.assert_array_equal(r["result"], product)
    np.testing.assert_array_equal(r["rounded"], xq * yq)
    with np.errstate(divide="ignore", invalid="ignore"):
        rounded_err = np.where(xq * yq == 0, np.nan, np.abs(product - xq * yq) / np.abs(xq * yq))
    np.testing.assert_array_equal(r["err_rounded"], rounded_err)
    # x * y is exact in float64 here (24-bit significands), so the plain formula is exact.
    np.testing.assert_allclose(r["err_real"], np.abs(product - x * y) / np.abs(x * y),
                               rtol=1e-15, atol=0)
    assert (r["low"] == (np.abs(product) < fmt.min_normal)).all()


def test_two_product_and_exact_dot_against_fraction():
    rng = np.random.default_rng(SEED)
    x, y = rng.standard_normal((2, 5, 300)) * np.exp2(rng.integers(-20, 20, (2, 5, 300)))
    p, e = lmul_error.two_product(x, y)
    for xi, yi, pi, ei in zip(x.ravel(), y.ravel(), p.ravel(), e.ravel()):
        exact = Fraction(float(xi)) * Fraction(float(yi))
        assert Fraction(float(pi)) + Fraction(float(ei)) == exact
    got = lmul_error.exact_dot(x, y)
    for row in range(x.shape[0]):
        exact = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x[row], y[row]))
        assert got[row] == float(exact)                  # float(Fraction) rounds correctly


def lmul_float(xq, yq, m, min_normal):
    """Independent L-Mul on float values (integer carry, paper offset, subnormals flushed)."""
    xq = np.where(np.abs(xq) < min_normal, 0.0, xq)
    yq = np.where(np.abs(yq) < min_normal, 0.0, yq)
    fx, ex = np.frexp(np.abs(xq))                        # |x| = fx * 2**ex, fx in [0.5, 1)
    fy, ey = np.frexp(np.abs(yq))
    s = (2 * fx - 1) + (2 * fy - 1) + 2.0 ** -paper_l(m)
    e = ex + ey - 2
    mag = np.where(s < 1, np.ldexp(1 + s, e), np.ldexp(s, e + 1))   # carry: 1 + (s - 1)
    mag = np.where((xq == 0) | (yq == 0), 0.0, mag)
    return np.sign(xq) * np.sign(yq) * mag


@pytest.mark.parametrize("label, fmt, mul", lmul_error.dot_methods())
def test_dot_results_match_float32_sequential_sum(label, fmt, mul):
    x, w = lmul_error.dot_inputs(64, 6, SEED)
    result, rounded = lmul_error.dot_results(fmt, mul, x, w)
    ml = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
          "bf16": ml_dtypes.bfloat16}.get(label)
    if ml is not None:
        x32, w32 = x.astype(np.float32), w.astype(np.float32)
        # float64 -> float32 -> narrow is a double rounding: only trust it where it agrees
        # with golden's single rounding (it does on these samples; checked, not assumed).
        xq, wq = fmt.decode(fmt.encode(x)), fmt.decode(fmt.encode(w))
        assert (x32.astype(ml).astype(np.float64) == xq).all()
        assert (w32.astype(ml).astype(np.float64) == wq).all()
    else:
        xq, wq = fmt.decode(fmt.encode(x)), fmt.decode(fmt.encode(w))
    if mul == "lmul":
        products = lmul_float(xq, wq, fmt.man_bits, fmt.min_normal)
    else:
        products = xq * wq
    p32 = products.astype(np.float32)
    assert (p32.astype(np.float64) == products).all()    # every product is exact in FP32
    acc = np.zeros(x.shape[0], np.float32)
    for k in range(x.shape[1]):
        acc = acc + p32[:, k]                            # float32 + float32: one RNE add
    np.testing.assert_array_equal(result, acc.astype(np.float64))
    exact = [math.fsum(row) for row in xq * wq]          # products exact in float64
    np.testing.assert_array_equal(rounded, exact)


def test_verdicts_follow_the_numbers():
    assert lmul_error.verdict("beats", 0.9, 1.0) == "agrees"
    assert lmul_error.verdict("beats", 1.0, 1.0) == "disagrees"
    assert lmul_error.verdict("as precise as", 1.09, 1.0) == "agrees"
    assert lmul_error.verdict("as precise as", 1.11, 1.0) == "disagrees"
    # With an interval of the ratio, only a whole interval on one side decides.
    assert lmul_error.verdict("beats", 0.9, 1.0, 0.8, 0.99) == "agrees"
    assert lmul_error.verdict("beats", 0.9, 1.0, 0.8, 1.01) == "inconclusive"
    assert lmul_error.verdict("beats", 1.2, 1.0, 1.0, 1.3) == "disagrees"
    assert lmul_error.verdict("as precise as", 1.2, 1.0, 1.05, 1.3) == "inconclusive"
    assert lmul_error.verdict("as precise as", 1.2, 1.0, 1.11, 1.3) == "disagrees"
    with pytest.raises(ValueError, match="relation"):
        lmul_error.verdict("about", 1.0, 1.0)


def test_ratio_intervals():
    rng = np.random.default_rng(SEED)
    f = rng.exponential(1.0, 200_000)
    lo = lmul_error.ratio_interval(0.5 * f + rng.normal(0, 0.01, f.size), f)
    assert lo["ratio"] == pytest.approx(0.5, abs=1e-3) and lo["low"] < 0.5 < lo["high"]
    assert lo["high"] - lo["low"] < 0.01
    noisy = lmul_error.ratio_interval(rng.exponential(1.0, 50), rng.exponential(1.0, 50))
    assert noisy["high"] - noisy["low"] > 0.2                 # 50 samples: a wide interval
    b = lmul_error.median_ratio_interval(2 * f[:400], f[:400], np.random.default_rng(1))
    assert b["ratio"] == b["low"] == b["high"] == pytest.approx(2.0)   # paired: exactly 2


def test_claims_compare_the_right_methods():
    """Claim A pairs L-Mul m=4 with fp8_e4m3, claim B L-Mul m=3 with fp8_e5m2, on the same
    samples; dot rows pair e8m4 / e8m3 L-Mul with fp8 exact products (median vs real)."""
    n = 300
    single = lmul_error.single_products(n, SEED)
    for distribution in lmul_error.DISTRIBUTIONS:
        x, y = lmul_error.sample_inputs(distribution, n, SEED)
        subset = ((np.abs(x) >= 2.0 ** -6) & (np.abs(y) >= 2.0 ** -6)
                  & (np.abs(x * y) >= 2.0 ** -6))
        for m, fmt in ((4, formats.FP8_E4M3), (3, formats.FP8_E5M2)):
            for carry in lmul_error.CARRIES:
                lm = lmul_error.method_products("lmul", lmul_error.lmul_format(m), carry, x, y)
                ex = lmul_error.method_products("exact", fmt, None, x, y)
                tables = [(distribution, np.ones(n, bool))]
                if distribution == "gaussian":
                    tables.append(("gaussian-normal", subset))
                for table, mask in tables:
                    for against in ("real", "rounded"):
                        c = single["compare"][(table, against, m, carry)]
                        want_l = np.nanmean(lm[f"err_{against}"][mask])
                        want_f = np.nanmean(ex[f"err_{against}"][mask])
                        assert c["lmul"] == pytest.approx(want_l, rel=1e-12)
                        assert c["fp8"] == pytest.approx(want_f, rel=1e-12)
                        assert c["low"] <= c["ratio"] <= c["high"]
    dots = lmul_error.dot_products(12, SEED, ks=(64,))
    x, w = lmul_error.dot_inputs(64, 12, SEED)
    real = lmul_error.exact_dot(x, w)
    for key, fmt, lfmt in (("A", formats.FP8_E4M3, lmul_error.lmul_format(4)),
                           ("B", formats.FP8_E5M2, lmul_error.lmul_format(3))):
        got_l = lmul_error.dot_results(lfmt, "lmul", x, w)[0]
        got_f = lmul_error.dot_results(fmt, "exact", x, w)[0]
        c = dots[("compare", key, 64)]
        assert c["lmul"] == np.median(np.abs(got_l - real) / np.abs(real))
        assert c["fp8"] == np.median(np.abs(got_f - real) / np.abs(real))
    rows = lmul_error.verdict_rows(single, dots, ks=(64,))
    assert [r[0][:2] for r in rows] == ["A:"] * 6 + ["B:"] * 6
    for row in rows:
        relation = "beats" if row[0].startswith("B") else "as precise as"
        assert row[8] == lmul_error.verdict(relation, row[3], row[4], row[6], row[7])


def test_readme_without_markers_is_refused_before_the_work(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    with pytest.raises(SystemExit, match="lacks the markers <!-- lmul_error:begin -->"):
        lmul_error.main(["--quick", "--readme"], readme=readme, studies_dir=tmp_path)
    assert not (tmp_path / "lmul_error.json").exists()


@pytest.mark.parametrize("args, option", [
    (["--samples", "0"], "--samples"),
    (["--samples", "-5"], "--samples"),
    (["--samples", "many"], "--samples"),
    (["--vectors", "0"], "--vectors"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_options_are_rejected(capsys, args, option):
    with pytest.raises(SystemExit) as info:
        lmul_error.parse_args(args)
    assert info.value.code == 2
    assert option in capsys.readouterr().err


def test_functions_check_their_counts():
    with pytest.raises(ValueError, match="samples must be a positive integer, not 0"):
        lmul_error.sample_inputs("gaussian", 0, 1)
    with pytest.raises(TypeError, match="vectors must be an integer"):
        lmul_error.dot_inputs(64, 2.5, 1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        lmul_error.dot_inputs(64, 2, -1)


def test_quick_run_writes_the_study_and_the_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- lmul_error:begin -->\nstale-figures-xyz\n"
                      "<!-- lmul_error:end -->\ntail\n")
    study = lmul_error.main(["--quick", "--readme", "--samples", "500", "--vectors", "2"],
                            readme=readme, studies_dir=tmp_path)
    saved = json.loads((tmp_path / "lmul_error.json").read_text())
    assert saved["paragraphs"] == study["paragraphs"]
    text = readme.read_text()
    assert "stale-figures-xyz" not in text and text.endswith("<!-- lmul_error:end -->\ntail\n")
    assert studies.study_markdown(saved, level=3).rstrip() in text
    # Every claim row carries a computed verdict, and the text states them.
    claims = saved["tables"][-1]["rows"]
    assert len(claims) == 2 * (5 + len(lmul_error.KS))
    assert {row[-1] for row in claims} <= {"agrees", "disagrees", "inconclusive"}
    joined = " ".join(saved["paragraphs"])
    assert "Claim A" in joined and "Claim B" in joined
    assert "seed 1, 500 pairs" in joined
    assert capsys.readouterr().out.startswith("### L-Mul error study")
