"""Run a quantized ONNX model of linear layers through nnrtl: golden, and the RTL MAC array.

    .venv/bin/python scripts/onnx_linear.py [MODEL.onnx --inputs X.npy [--labels Y.npy]]
                                            [--rtl ROWSxCOLS] [--readme]

Without a model, the digits MLP quantized by onnxruntime's own quantizer
(`models.onnx_linear.digits_int8`: QOperator, per-channel int8 weights, int8 activations)
on its test split. The model is read from the .onnx file (`models.onnx_linear.read`; a node
it cannot map is one ``error:`` line naming it) and run by onnxruntime (CPU) and by
`golden.qlinear` in ``onnx`` mode (bit-exact with onnxruntime is the claim, checked here
output by output) and in ``fixed`` mode with 31-, 16- and 8-bit multipliers (agreement of
the predicted class with onnxruntime's, and the largest difference in output codes).
``--rtl RxC`` also runs every layer's integer product on an R x C INT8 MAC array
(`hdl.macarray`, Verilator fast path, random stalls), checked against golden, and reports
its cycles. With labels (the digits' are known), a table of test accuracy: float, the
onnxruntime int8 model, nnrtl golden, nnrtl on the array. ``--readme`` (digits only)
writes that table into README.md between the ``onnx_digits`` markers.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import _common

NAME = "onnx_digits"


def log(text):
    print(text, file=sys.stderr, flush=True)


def _load(path, what):
    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {what} {path}: {exc}") from None


def _agreement(name, outputs, reference, last, labels):
    codes_out = np.rint(outputs / last.y_scale)
    codes_ref = np.rint(reference / last.y_scale)
    row = {"name": name, "exact": int(np.sum(np.all(outputs.view(np.uint32)
                                                    == reference.view(np.uint32), axis=1))),
           "argmax": float(np.mean(outputs.argmax(1) == reference.argmax(1))),
           "max_codes": int(np.max(np.abs(codes_out - codes_ref)))}
    if labels is not None:
        row["accuracy"] = float(np.mean(outputs.argmax(1) == labels))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("model", nargs="?", help="a quantized ONNX model (default: the "
                        "digits MLP quantized by onnxruntime)")
    parser.add_argument("--inputs", help="float inputs, one sample per row (.npy)")
    parser.add_argument("--labels", help="integer labels of the inputs (.npy), for accuracy")
    parser.add_argument("--rtl", metavar="ROWSxCOLS",
                        help="also run each layer's product on this INT8 MAC array")
    parser.add_argument("--seed", type=int, default=1, help="stall seed of the RTL run")
    parser.add_argument("--readme", action="store_true",
                        help="write the accuracy table into README.md (digits model only)")
    args = parser.parse_args(argv)
    from golden import mlp
    from models import digits, onnx_linear

    if args.model and not args.inputs:
        parser.error("a model needs --inputs")
    if args.readme and args.model:
        parser.error("--readme is for the digits model only")
    if args.readme:
        _common.check_readme_section(NAME)
    rows = cols = None
    if args.rtl:
        try:
            rows, cols = (int(v) for v in args.rtl.lower().split("x"))
        except ValueError:
            parser.error(f"--rtl must be ROWSxCOLS such as 4x4, not {args.rtl!r}")
    float_logits = None
    if args.model:
        path = Path(args.model)
        if not path.is_file():
            raise SystemExit(f"error: no model file {path}")
        x = _load(args.inputs, "inputs").astype(np.float32)
        labels = _load(args.labels, "labels") if args.labels else None
    else:
        log("the digits MLP: trained (or loaded), quantized by onnxruntime (or loaded) ...")
        trained = digits.model()
        path = onnx_linear.digits_int8()
        x, labels = trained.x_test.astype(np.float32), trained.y_test
        float_logits = mlp.forward_float64(trained.x_test, trained.weights, trained.biases)
    try:
        model = onnx_linear.read(path)
    except onnx_linear.UnsupportedModel as exc:
        raise SystemExit(f"error: {exc}") from None
    if x.ndim != 2 or x.shape[1] != model.layers[0].shape[0]:
        raise SystemExit(f"error: inputs of shape {x.shape}; the model takes "
                         f"(samples, {model.layers[0].shape[0]})")
    print(f"{path}: {len(model.layers)} linear layers, {x.shape[0]} samples")
    for layer in model.layers:
        k, n = layer.shape
        print(f"  {layer.name}: {k} -> {n}, {layer.a_fmt} x {layer.w_fmt}"
              f"{' (per-channel weights)' if np.unique(layer.w_scale).size > 1 else ''}, "
              f"requantized to {layer.y_fmt}{', ReLU' if layer.act == 'relu' else ''}")
    reference = onnx_linear.run_onnxruntime(path, x)
    last = model.layers[-1]
    results = [{"name": "float (float64 NumPy)", "accuracy": float(np.mean(
        float_logits.argmax(1) == labels))}] if float_logits is not None else []
    results.append({"name": "onnxruntime int8 (the reference)", "reference": True,
                    **({"accuracy": float(np.mean(reference.argmax(1) == labels))}
                       if labels is not None else {})})
    golden_out, _ = model.forward(x, "onnx")
    results.append(_agreement("nnrtl golden, onnx mode", golden_out, reference, last, labels))
    for bits in (31, 16, 8):
        out, _ = model.forward(x, "fixed", multiplier_bits=bits)
        results.append(_agreement(f"nnrtl golden, fixed mode, {bits}-bit multipliers", out,
                                  reference, last, labels))
    if rows:
        from tb import gemmbench
        start = time.monotonic()
        sums = gemmbench.layer_sums_on_array(rows=rows, cols=cols, seed=args.seed, log=log)
        out, _ = model.forward(x, "onnx", sums=sums)
        cycles = sum(result["cycles"] for _, result in sums.runs)
        row = _agreement(f"nnrtl on a {rows}x{cols} INT8 MAC array (RTL), onnx mode", out,
                         reference, last, labels)
        row["cycles"] = cycles
        results.append(row)
        log(f"RTL: {cycles} cycles in all, {time.monotonic() - start:.1f} s")
    text = table(results, x.shape[0], labels is not None)
    print(text)
    if args.readme:
        _common.write_readme_section(NAME, text)
    return 0


def table(results, samples, with_accuracy):
    """The Markdown table of `results` (rows of main)."""
    lines = ["| model | " + ("test accuracy | " if with_accuracy else "")
             + "outputs bit-exact with onnxruntime | class agrees with onnxruntime | "
               "largest difference (output codes) |",
             "|---|" + ("---|" if with_accuracy else "") + "---|---|---|"]
    for row in results:
        cells = [row["name"] + (f" ({row['cycles']:,} cycles)" if "cycles" in row else "")]
        if with_accuracy:
            cells.append(f"{100 * row['accuracy']:.2f} %")
        if "exact" in row:
            cells += [f"{row['exact']} of {samples}", f"{100 * row['argmax']:.2f} %",
                      str(row["max_codes"])]
        elif row.get("reference"):
            cells += ["(reference)"] * 3
        else:
            cells += ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_common.run_script(main))
