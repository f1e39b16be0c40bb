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

Writes never lose a result: a result file is replaced only by its complete successor
(`Cache.store` is atomic), ``--force`` reruns without deleting anything first, and a
failure to write (read-only directory, disk full) raises `WriteError`, whose text names the
path, what was being written and why: ``cannot write build/fpga/results (the result
cache): Read-only file system``.

Which results are kept: ``ok`` (timing met or not), ``no-fit`` and ``no-route`` are facts
about the design and are cached; ``timeout``, ``tool-missing``, ``tool-error`` and ``error``
may be transient and are recorded in the result file but rerun next time.
"""

import contextlib
import errno
import hashlib
import json
import os
import uuid
from pathlib import Path

import filelock

__all__ = ["SCHEMA", "CACHED_STATUSES", "DEFAULT_ROOT", "make_key", "Cache", "WriteError",
           "writing", "check_writable", "write_json_atomic", "WRITE_ERRNOS"]

SCHEMA = 2
CACHED_STATUSES = ("ok", "no-fit", "no-route")
DEFAULT_ROOT = Path("build") / "fpga"


def make_key(parts):
    """A 20-hex-digit key for the JSON-serializable dict `parts` (order-independent)."""
    blob = json.dumps({"schema": SCHEMA, **parts}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class WriteError(Exception):
    """A file or directory could not be written; ``str()`` is the one line to show."""

    def __init__(self, path, what, reason):
        super().__init__(path, what, reason)         # picklable (crosses process pools)
        self.path, self.what, self.reason = str(path), what, reason

    def __str__(self):
        return f"cannot write {self.path} ({self.what}): {self.reason}"


def _reason(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


#: errors that mean "this cannot be written here" (others, e.g. a program not found, pass)
WRITE_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EROFS", "EACCES", "EPERM", "ENOSPC", "EDQUOT", "ENOTDIR", "EISDIR", "EEXIST", "EFBIG",
    "ENAMETOOLONG", "EMLINK", "ELOOP") if hasattr(errno, name))


@contextlib.contextmanager
def writing(path, what):
    """Turn an `OSError` raised in the block by a failed write (`WRITE_ERRNOS`; or one with
    no errno) into a `WriteError` naming `what` and the path (the failing file's own name
    when the error carries one, else `path`)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        if exc.errno is not None and exc.errno not in WRITE_ERRNOS:
            raise
        raise WriteError(exc.filename or path, what, _reason(exc)) from None


def check_writable(directory, what):
    """Create `directory` (and parents) and write and remove a probe file in it; raise
    `WriteError` naming it and `what` if that fails. Called before a long run, so that an
    unwritable output is reported at once, not after the work."""
    directory = Path(directory)
    with writing(directory, what):
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
        finally:
            probe.unlink(missing_ok=True)


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
        with writing(path.parent, "the result cache's lock files"):
            path.parent.mkdir(parents=True, exist_ok=True)
        return _Lock(str(path))

    def check_writable(self):
        """`WriteError` unless results, run directories and locks can be written."""
        for sub, what in (("results", "the result cache"), ("runs", "the run directories"),
                          ("locks", "the result cache's lock files")):
            check_writable(self.root / sub, what)

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
        """Write `result` (which carries its ``key``) atomically; return the path.
        Raises `WriteError` (read-only cache, disk full, ...)."""
        path = self.result_path(result["key"])
        with writing(path, f"the result of {result.get('params_key', result['key'])}"):
            return write_json_atomic(path, result)

    def results(self):
        """Every readable result file under this root."""
        out = []
        for path in sorted((self.root / "results").glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out


class _Lock(filelock.FileLock):
    """A `filelock.FileLock` whose failure to create its file is a `WriteError`."""

    def acquire(self, *args, **kwargs):
        with writing(self.lock_file, "the result cache's lock files"):
            return super().acquire(*args, **kwargs)
