"""Accuracy of L-Mul on a real layer: a 64-32-10 MLP on scikit-learn's digits, per product
arithmetic.

Trains (or loads from build/mlp_digits/) the MLP of models/digits.py, runs the test split
through golden/mlp.py in every products mode (FP32, exact BF16/FP8_E4M3/FP8_E5M2, L-Mul
BF16/FP8_E4M3/FP8_E5M2; inputs and weights rounded into the format, accumulation in FP32
as the hardware dot unit does it) and prints a table: test accuracy, its change against
FP32, agreement of the predicted class with FP32, the logit error against the FP32 logits
(mean and max absolute) and the relative RMS error against the float64 logits.

Always writes the study for the FPGA report (build/studies/mlp_digits.json, appended by
scripts/report.py to reports of design sets with L-Mul units, with a chart of test accuracy
against the LUTs of the `lmul` and `fpmul` units of each format); README.md only with
--readme (the same Markdown between the `mlp_digits` markers). Progress goes to stderr.

    .venv/bin/python scripts/mlp_digits.py [--readme]
"""

import sys
import time

import numpy as np

import _common
from golden import formats, mlp
from models import digits

NAME = "mlp_digits"
TITLE = "Accuracy on a real layer: 64-32-10 MLP on the digits data set"

_LABELS = {"float64": "float64 reference", "fp32": "FP32", "bf16": "BF16 exact",
           "fp8_e4m3": "FP8_E4M3 exact", "fp8_e5m2": "FP8_E5M2 exact",
           "lmul-bf16": "BF16 L-Mul", "lmul-fp8_e4m3": "FP8_E4M3 L-Mul",
           "lmul-fp8_e5m2": "FP8_E5M2 L-Mul"}


def log(text):
    print(text, file=sys.stderr, flush=True)


def evaluate(model, lanes=digits.LANES):
    """One dict per products mode (and one for float64): accuracy and logit errors."""
    ref = mlp.forward_float64(model.x_test, model.weights, model.biases)
    rows = [{"mode": "float64", "logits": ref, "seconds": 0.0}]
    for index, products in enumerate(mlp.PRODUCTS, 1):
        log(f"[{index}/{len(mlp.PRODUCTS)}] {products}: {model.x_test.shape[0]} samples ...")
        start = time.monotonic()
        codes = mlp.forward(model.x_test, model.weights, model.biases, products, lanes=lanes)
        rows.append({"mode": products, "logits": formats.FP32.decode(codes),
                     "seconds": time.monotonic() - start})
    fp32 = next(r["logits"] for r in rows if r["mode"] == "fp32")
    fp32_pred = mlp.predict(fp32)
    fp32_acc = float(np.mean(fp32_pred == model.y_test))
    for row in rows:
        logits = row["logits"]
        pred = mlp.predict(logits)
        error = np.abs(logits - fp32)
        row.update(accuracy=float(np.mean(pred == model.y_test)),
                   agree=float(np.mean(pred == fp32_pred)),
                   mean_err=float(error.mean()), max_err=float(error.max()),
                   rel_rms=_rel_rms(logits, ref))
        # The least-squares scale c of logits ≈ c × float64 logits, and the error left.
        row["scale"] = float(np.sum(logits * ref) / np.sum(ref * ref))
        row["rel_rms_scaled"] = _rel_rms(logits, row["scale"] * ref)
        row["delta_pp"] = 100 * (row["accuracy"] - fp32_acc)
    return rows


def _rel_rms(logits, ref):
    return float(np.sqrt(np.sum((logits - ref) ** 2) / np.sum(ref ** 2)))


def _product_bias(model, products):
    """Mean ratio of L-Mul to exact products over the first layer's nonzero products."""
    from golden import lmul, ops
    fmt, _ = mlp.product_mode(products)
    a, b = mlp.layer_operands(mlp.quantize(model.x_test, products),
                              mlp.quantize(model.weights[0], products))
    approx = formats.FP32.decode(lmul.lmul(a, b, fmt, out_fmt=formats.FP32))
    exact = formats.FP32.decode(ops.mul(a, b, fmt, formats.FP32))
    both = (approx != 0) & (exact != 0)
    return float(np.mean(approx[both] / exact[both]))


def _weight_note(model):
    """A sentence on the first-layer weights that the formats cannot hold as normals."""
    x_train = digits.load_split()[0]
    blank = x_train.max(axis=0) == 0                  # pixels blank in every training image
    w = np.abs(model.weights[0][~blank])
    tiny = float(np.abs(model.weights[0][blank]).max()) if blank.any() else 0.0
    shares = []
    for fmt in (formats.BF16, formats.FP8_E4M3, formats.FP8_E5M2):
        min_normal = float(fmt.decode(np.array([1 << fmt.man_bits], dtype=np.uint64))[0])
        shares.append(f"{fmt} {100 * float(np.mean(w < min_normal)):.1f}% "
                      f"(below 2^{int(np.log2(min_normal))})")
    return (f"The weights of the {int(blank.sum())} pixels that are blank in every training "
            f"image decay under the L2 penalty (to at most {tiny:.0e}, negligible). Of "
            f"the other first-layer weights, these are below the format's smallest normal "
            f"(subnormal or zero in the format; L-Mul flushes subnormal operands to zero): "
            f"{', '.join(shares)}.")


def study(model, rows):
    headers = ["products", "test accuracy", "Δ vs FP32 (pp)", "argmax = FP32",
               "mean abs. logit error vs FP32", "max abs. logit error vs FP32",
               "rel. RMS error vs float64", "logit scale vs float64",
               "rel. RMS error vs scaled float64"]
    table_rows = [[
        f"{_LABELS[row['mode']]}" + (f" (`{row['mode']}`)" if row["mode"] != "float64" else ""),
        f"{100 * row['accuracy']:.2f}%", f"{row['delta_pp']:+.2f}", f"{100 * row['agree']:.2f}%",
        f"{row['mean_err']:.3g}", f"{row['max_err']:.3g}", f"{row['rel_rms']:.3g}",
        f"{row['scale']:.4f}", f"{row['rel_rms_scaled']:.3g}"] for row in rows]
    samples = model.x_test.shape[0]
    s = digits.SETTINGS
    from tb import test_mlp_digits
    rtl = ", ".join(f"`{products}`" for _, products in test_mlp_digits.CASES)
    float64_acc = rows[0]["accuracy"]
    bias = ", ".join(f"{mlp.product_mode(p)[0]} {_product_bias(model, p):.3f}"
                     for p in mlp.PRODUCTS if p.startswith("lmul-"))
    paragraphs = [
        f"`scripts/mlp_digits.py`: a 64-{'-'.join(str(h) for h in s['hidden'])}-10 ReLU MLP "
        f"trained with scikit-learn's `MLPClassifier` (adam, alpha {s['alpha']}, seed "
        f"{s['train_seed']}, {model.iterations} epochs, float64; `models/digits.py`) on its "
        f"bundled digits data set (8×8 images, pixels scaled by 1/16 to [0, 1]), evaluated "
        f"on a fixed stratified test split of {samples} samples (seed {s['split_seed']}) "
        f"through `golden/mlp.py`. Float64 test accuracy: {100 * float64_acc:.2f}%.",
        "Each mode rounds the inputs and weights once (RNE) into its format, forms every "
        "product as an FP32 code (the exact product, or L-Mul with the paper's offset, "
        "integer carry and subnormal operands flushed to zero), and sums with "
        f"`golden.dot.dot` (`acc=\"fp32\"`, {digits.LANES} lanes: an adder tree per beat, "
        "then an FP32 accumulator, every add RNE); the bias is added in FP32, then ReLU, "
        "and the hidden activations are rounded into the format again. No scaling of "
        "weights or activations is applied.",
        "Logit errors are against the FP32 mode's logits. The relative RMS error is "
        "‖logits − float64 logits‖₂ / ‖float64 logits‖₂ over all test logits; the logit "
        "scale is the least-squares c in logits ≈ c × float64 logits, and the last column "
        "is the relative RMS error against c × float64 logits. L-Mul with the paper's "
        "offset overestimates these products on average (mean ratio of L-Mul to exact "
        f"product over the first layer's nonzero products: {bias}), so its logits come out "
        "larger by a common factor, which changes few predictions.",
        _weight_note(model),
        f"RTL: `tb/test_mlp_digits.py` streams the first layer for the whole test split "
        f"({samples} × {model.weights[0].shape[1]} dot products of "
        f"{model.weights[0].shape[0]} terms) through `hdl/dot.py` ({digits.LANES} L-Mul "
        f"lanes, random stalls on both sides) for {rtl}, checks every pre-activation "
        "bit for bit against `golden.mlp.dense` (`golden.dot.dot`), then finishes the pass "
        "from the RTL's results and checks that the logits and the accuracy are the ones "
        "in this table.",
    ]
    table = {"caption": f"Test accuracy and logit error per product arithmetic "
                        f"({samples} test samples: one sample is {100 / samples:.2f} pp).",
             "headers": headers, "rows": table_rows}
    return {"name": NAME, "title": TITLE, "paragraphs": paragraphs, "tables": [table]}


def charts(rows):
    """The study's chart for the FPGA report: test accuracy per products mode, to draw
    against the area of the unit that forms those products (L-Mul: `lmul`; exact:
    `fpmul`; float64 has no unit)."""
    points = []
    for row in rows:
        if row["mode"] == "float64":
            continue
        fmt, mul = mlp.product_mode(row["mode"])
        if mul == "lmul":
            select = {"unit": "lmul", "params": {"fmt": str(fmt), "out_fmt": None,
                                                 "special_values": True}}
        else:
            select = {"unit": "fpmul", "params": {"fmt": str(fmt), "out_fmt": None}}
        points.append({"label": _LABELS[row["mode"]], "select": select,
                       "value": 100 * row["accuracy"]})
    return [{"title": "digits MLP, test split", "metric": "test accuracy (%)", "log": False,
             "better": "higher", "points": points}]


def main(argv=None):
    _common.digits_study(
        argv, name=NAME, description=__doc__.split("\n\n")[0].replace("\n", " "),
        evaluate=evaluate, study=study, about=("lmul",), charts=charts,
        timings=lambda rows: ", ".join(f"{r['mode']} {r['seconds']:.1f} s"
                                       for r in rows[1:]))


if __name__ == "__main__":
    main()
