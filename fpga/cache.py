"""Result files and their cache keys, under ``build/fpga/`` by default.

Layout of a cache root::

    results/<key>.json    one result per run (written atomically: temporary file, then
                          os.replace, so an interrupted run leaves no half-written result)
    runs/<key>/           that run's files: unit.v, wrapper.v, synth.ys, yosys.log,
                          stat.json, nextpnr.log, report.json
    locks/<key>.lock      held while the run executes (two sweeps never run one key twice)

The key is a hash of everything that can change a result: the unit's Verilog, the wrapper's
Verilog, the target, the synthesis script, the nextpnr arguments (device, frequency, seed),
the tool versions and the result schema. Same inputs, same key: a rerun costs nothing.

Which results are kept: ``ok`` (timing met or not), ``no-fit`` and ``no-route`` are facts
about the design and are cached; ``timeout``, ``tool-missing``, ``tool-error`` and ``error``
may be transient and are recorded in the result file but rerun next time.
"""

import hashlib
import json
import os
import uuid
from pathlib import Path

import filelock

__all__ = ["SCHEMA", "CACHED_STATUSES", "DEFAULT_ROOT", "make_key", "Cache"]

SCHEMA = 2
CACHED_STATUSES = ("ok", "no-fit", "no-route")
DEFAULT_ROOT = Path("build") / "fpga"


def make_key(parts):
    """A 20-hex-digit key for the JSON-serializable dict `parts` (order-independent)."""
    blob = json.dumps({"schema": SCHEMA, **parts}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def write_json_atomic(path, data):
    """Write `data` as JSON to `path` via a temporary file and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class Cache:
    """A result cache rooted at `root` (``build/fpga`` by default)."""

    def __init__(self, root=DEFAULT_ROOT):
        self.root = Path(root).resolve()

    def result_path(self, key):
        return self.root / "results" / f"{key}.json"

    def run_dir(self, key):
        return self.root / "runs" / key

    def lock(self, key):
        """A file lock for `key` (use as a context manager)."""
        path = self.root / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(path))

    def load(self, key, *, only_cached_statuses=True):
        """The stored result for `key`, or None (missing, unreadable, or not cacheable)."""
        try:
            result = json.loads(self.result_path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(result, dict) or result.get("schema") != SCHEMA:
            return None
        if only_cached_statuses and result.get("status") not in CACHED_STATUSES:
            return None
        return result

    def store(self, result):
        """Write `result` (which carries its ``key``) atomically; return the path."""
        return write_json_atomic(self.result_path(result["key"]), result)

    def results(self):
        """Every readable result file under this root."""
        out = []
        for path in sorted((self.root / "results").glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out
