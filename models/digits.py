"""The digits data set and the small MLP trained on it: the real layer of the accuracy study.

Used by scripts/mlp_digits.py (the accuracy table), tb/test_mlp_digits.py (the first layer
through the RTL dot unit) and tests/test_mlp_golden.py. scikit-learn lives here, not in
golden/ (which imports only NumPy).

- Data: scikit-learn's bundled digits (1,797 8×8 images, 10 classes; no download), pixel
  values 0..16 scaled to [0, 1] by x / 16 (exact in float64).
- Split: ``train_test_split(test_size=0.3, random_state=SETTINGS["split_seed"],
  stratify=y)``: 1,257 training and 540 test samples.
- Model: ``MLPClassifier(hidden_layer_sizes=(32,), activation="relu", solver="adam",
  alpha=1e-4, max_iter=1000, random_state=SETTINGS["train_seed"])``, 64-32-10, trained in
  float64 with one BLAS thread (the summation order, hence the weights, then do not depend
  on the machine's core count). It converges (stops on ``tol``) before ``max_iter``.

`model()` trains once and caches the weights in ``build/mlp_digits/`` under a key that
covers the settings and the scikit-learn and NumPy versions, so the script and the bench
reuse one trained model (written atomically: concurrent pytest-xdist workers are safe).
"""

import dataclasses
import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path

import numpy as np

__all__ = ["SETTINGS", "LANES", "CACHE_DIR", "Model", "load_split", "train", "model",
           "settings_key"]

# Training settings (every one is part of the cache key).
SETTINGS = {"hidden": (32,), "test_size": 0.3, "split_seed": 0, "train_seed": 0,
            "alpha": 1e-4, "max_iter": 1000}

# Lanes of the dot unit in the study: the golden forward pass accumulates in this order, and
# the RTL bench runs a dot unit of this many lanes (4: the same units tb/test_dot.py builds).
LANES = 4

CACHE_DIR = Path(__file__).resolve().parent.parent / "build" / "mlp_digits"


@dataclasses.dataclass(frozen=True)
class Model:
    """A trained MLP and its test split.

    Members
    -------
    weights : list of numpy.ndarray of float64
        Layer weights, shape (inputs, outputs) each (scikit-learn's ``coefs_``).
    biases : list of numpy.ndarray of float64
        Layer biases (``intercepts_``).
    x_test : numpy.ndarray of float64, shape (samples, 64)
        Test inputs in [0, 1].
    y_test : numpy.ndarray of int, shape (samples,)
        Test labels.
    key : str
        The cache key (settings and library versions).
    iterations : int
        Training epochs run (scikit-learn's ``n_iter_``).
    """

    weights: list
    biases: list
    x_test: np.ndarray
    y_test: np.ndarray
    key: str
    iterations: int


def load_split(settings=SETTINGS):
    """(x_train, y_train, x_test, y_test): the digits scaled by 1/16, split per `settings`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=settings["test_size"], random_state=settings["split_seed"],
        stratify=digits.target)
    return x_train, y_train, x_test, y_test


def train(settings=SETTINGS):
    """Train the MLP (no cache): (weights, biases, iterations), float64 arrays.

    Deterministic: fixed seeds, one BLAS thread. Raises RuntimeError if training stops at
    ``max_iter`` without converging.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits
    x_train, y_train, _, _ = load_split(settings)
    clf = MLPClassifier(hidden_layer_sizes=tuple(settings["hidden"]), activation="relu",
                        solver="adam", alpha=settings["alpha"], max_iter=settings["max_iter"],
                        random_state=settings["train_seed"])
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            clf.fit(x_train, y_train)
        except ConvergenceWarning as exc:
            raise RuntimeError(f"the digits MLP did not converge: {exc}") from None
    return ([np.array(w, dtype=np.float64) for w in clf.coefs_],
            [np.array(b, dtype=np.float64) for b in clf.intercepts_], int(clf.n_iter_))


def settings_key(settings=SETTINGS):
    """Cache key: a hash of the settings and the scikit-learn and NumPy versions."""
    import sklearn
    text = json.dumps([settings, sklearn.__version__, np.__version__], sort_keys=True,
                      default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model(settings=SETTINGS, cache_dir=CACHE_DIR):
    """The trained `Model`, from the cache in `cache_dir` or trained now (and cached)."""
    key = settings_key(settings)
    path = Path(cache_dir) / f"mlp-{key}.npz"
    if not path.exists():
        weights, biases, iterations = train(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w{i}": w for i, w in enumerate(weights)}
        arrays.update({f"b{i}": b for i, b in enumerate(biases)})
        tmp = path.with_name(f".{uuid.uuid4().hex}.npz")
        np.savez(tmp, iterations=iterations, **arrays)
        os.replace(tmp, path)
    with np.load(path) as saved:
        layers = len([name for name in saved.files if name.startswith("w")])
        weights = [saved[f"w{i}"] for i in range(layers)]
        biases = [saved[f"b{i}"] for i in range(layers)]
        iterations = int(saved["iterations"])
    _, _, x_test, y_test = load_split(settings)
    return Model(weights, biases, x_test, y_test, key, iterations)
