"""Accuracy of posits against floats of the same width on a real layer: the 64-32-10 digits
MLP with every value in posit(8,0), posit(8,1), posit(16,1), FP8 E4M3, FP8 E5M2 or BF16,
each with exact accumulation (the posit quire, a Kulisch accumulator for floats: one
rounding per output) and with rounded accumulation (every product and every sum rounded
into the format).

Loads (or trains) the MLP of models/digits.py, runs the test split through
`golden.mlp.forward_format` and prints a table: test accuracy, its change against float64,
agreement of the predicted class with float64, the logit error against the float64 logits
(mean and max absolute, relative RMS). Always writes the study for the FPGA report
(build/studies/posit_digits.json, appended to reports of design sets with posit units);
README.md only with --readme (between the `posit_digits` markers). Progress on stderr.

    .venv/bin/python scripts/posit_digits.py [--readme]
"""

import sys
import time

import numpy as np

import _common
from golden import formats, mlp
from models import digits

NAME = "posit_digits"
TITLE = "Posits against floats on a real layer: 64-32-10 MLP on the digits data set"
FORMATS = [formats.PositFormat(8, 0), formats.PositFormat(8, 1), formats.FP8_E4M3,
           formats.FP8_E5M2, formats.PositFormat(16, 1), formats.BF16]
_ACC_LABELS = {"exact": "exact (quire / Kulisch)", "rounded": "rounded every operation"}


def log(text):
    print(text, file=sys.stderr, flush=True)


def evaluate(model):
    """One dict per (format, accumulation), after the float64 reference."""
    ref = mlp.forward_float64(model.x_test, model.weights, model.biases)
    ref_pred = mlp.predict(ref)
    rows = [{"fmt": "float64", "acc": "—", "logits": ref, "seconds": 0.0}]
    runs = [(fmt, acc) for fmt in FORMATS for acc in mlp.ACCUMULATIONS]
    for index, (fmt, acc) in enumerate(runs, 1):
        log(f"[{index}/{len(runs)}] {fmt}, {acc} accumulation: {model.x_test.shape[0]} "
            f"samples ...")
        start = time.monotonic()
        codes = mlp.forward_format(model.x_test, model.weights, model.biases, fmt, acc=acc)
        rows.append({"fmt": str(fmt), "acc": acc, "logits": fmt.decode(codes),
                     "seconds": time.monotonic() - start})
    for row in rows:
        logits = row["logits"]
        pred = mlp.predict(logits)
        error = np.abs(logits - ref)
        row.update(accuracy=float(np.mean(pred == model.y_test)),
                   agree=float(np.mean(pred == ref_pred)),
                   mean_err=float(np.nanmean(error)), max_err=float(np.nanmax(error)),
                   rel_rms=float(np.sqrt(np.nansum((logits - ref) ** 2) / np.sum(ref ** 2))),
                   nan=int(np.isnan(logits).sum()))
    base = rows[0]["accuracy"]
    for row in rows:
        row["delta_pp"] = 100 * (row["accuracy"] - base)
    return rows


def study(model, rows):
    headers = ["format", "accumulation", "test accuracy", "Δ vs float64 (pp)",
               "argmax = float64", "mean abs. logit error", "max abs. logit error",
               "rel. RMS logit error"]
    table_rows = [[f"`{row['fmt']}`" if row["fmt"] != "float64" else "float64 reference",
                   _ACC_LABELS.get(row["acc"], row["acc"]),
                   f"{100 * row['accuracy']:.2f}%", f"{row['delta_pp']:+.2f}",
                   f"{100 * row['agree']:.2f}%", f"{row['mean_err']:.3g}",
                   f"{row['max_err']:.3g}", f"{row['rel_rms']:.3g}"
                   + (f" ({row['nan']} NaN/NaR)" if row["nan"] else "")] for row in rows]
    samples = model.x_test.shape[0]
    s = digits.SETTINGS
    paragraphs = [
        f"`scripts/posit_digits.py`: the 64-{'-'.join(str(h) for h in s['hidden'])}-10 ReLU "
        f"MLP of `models/digits.py` (the one of the L-Mul study above), on its fixed test "
        f"split of {samples} samples, through `golden.mlp.forward_format`: inputs, "
        "weights and biases are rounded once into the format (RNE; posits on the bit "
        "pattern), and every layer computes z = Σ act·w + b in the format. *Exact*: "
        "the products and the sum are exact and z is rounded once (the posit quire, "
        "`golden.ops.quire_dot`, as `hdl/posit.py`'s `PositDot` computes it; for floats a "
        "Kulisch accumulator, `golden.dot.dot` with `acc=\"kulisch\"`). *Rounded*: every "
        "product and every partial sum is rounded into the format, in input order, the "
        "bias last (what a chain of `PositMul`/`PositAdd`, or of float units, computes). "
        "ReLU between the layers; no scaling of weights or activations.",
        "Errors are against the float64 logits (no rounding anywhere); the relative RMS "
        "error is ‖logits − float64 logits‖₂ / ‖float64 logits‖₂ over all test logits.",
    ]
    table = {"caption": f"Test accuracy and logit error per format and accumulation "
                        f"({samples} test samples: one sample is {100 / samples:.2f} pp).",
             "headers": headers, "rows": table_rows}
    return {"name": NAME, "title": TITLE, "paragraphs": paragraphs, "tables": [table]}


def main(argv=None):
    _common.digits_study(
        argv, name=NAME, description=__doc__.split("\n\n")[0].replace("\n", " "),
        evaluate=evaluate, study=study, about=("positmul", "positadd", "positdot"))


if __name__ == "__main__":
    main()
