"""The swappable piece of a sweep: where runs execute.

An executor has one method, ``map_unordered(function, items)``, which returns an iterator of
``(index, outcome)`` as runs finish, in any order: ``outcome`` is ``function(items[index])``,
or a `Crashed` when the process running it died without an answer. The functions it is
given are plain module-level functions taking and returning picklable dicts (`fpga.flow`
specs and results), so any pool can run them. An exception that `function` raises (a
`fpga.cache.WriteError`, say) is raised by the iterator.

Closing the iterator (``.close()``, or an exception such as `fpga.sweep.Interrupted`
raised while it waits) stops the runs: no new run starts, and every running one is ended
with its tool processes (see `LocalExecutor`).

`InlineExecutor`
    runs in the calling process, one after the other (``--jobs 1``; handy for debugging).
`LocalExecutor`
    one forked process per run, at most `workers` at a time, over the local cores (the
    default).
`DaskExecutor`
    a `dask.distributed.Client` connected to a scheduler address (``--executor dask
    --scheduler tcp://host:8786``), or given an existing client (tests use a
    ``LocalCluster``). The project's code is shipped to the workers and their tools are
    checked before the first run (`DaskExecutor.prepare`); run directories are written in
    the worker's temporary directory, results come back through Dask and are stored by
    the caller.
"""

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

__all__ = ["InlineExecutor", "LocalExecutor", "DaskExecutor", "Crashed", "make_executor",
           "EXECUTORS", "STOP_GRACE_S", "Interrupted", "handle_signals", "critical"]

EXECUTORS = ("local", "dask")

#: seconds a run's process gets to end its tools after SIGTERM before it is killed
STOP_GRACE_S = 2.0


# --- interrupts -------------------------------------------------------------------------------

_REPEAT_S = 2.0
_CRITICAL = {"depth": 0, "pending": None}


@contextlib.contextmanager
def critical():
    """A section that an interrupt must not cut in two (starting a run's process: fork()
    runs hooks that would swallow the exception; the bookkeeping of a finished run): a
    signal arriving inside raises its `Interrupted` when the section ends."""
    _CRITICAL["depth"] += 1
    try:
        yield
    finally:
        _CRITICAL["depth"] -= 1
        if not _CRITICAL["depth"] and _CRITICAL["pending"] is not None:
            pending, _CRITICAL["pending"] = _CRITICAL["pending"], None
            raise pending


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``str()`` is the line to show, `exit_code` 128 + signal."""

    def __init__(self, signum, done=None, total=None):
        super().__init__(signum, done, total)
        self.signum, self.done, self.total = signum, done, total

    @property
    def exit_code(self):
        return 128 + self.signum

    def __str__(self):
        if self.total is None:
            return "interrupted; run again to resume"
        return f"interrupted: {self.done} of {self.total} done; run again to resume"


_HANDLING = threading.local()


@contextlib.contextmanager
def handle_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, the first SIGINT / SIGTERM raises `Interrupted` in the main
    thread (at the end of a `critical` section if it arrives in one); later ones are
    ignored while the sweep stops (a few seconds), unless the first seems lost (a library
    swallowed the exception) and they come more than `_REPEAT_S` seconds later.
    In a forked process that inherited the handler, a signal exits quietly. Nested use,
    and use outside the main thread, do nothing."""
    if getattr(_HANDLING, "active", False) or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    owner, fired = os.getpid(), []

    def handler(signum, frame):
        if os.getpid() != owner:
            raise SystemExit(128 + signum)
        if fired and time.monotonic() - fired[0] < _REPEAT_S:
            return                  # stopping already
        fired[:] = [time.monotonic()]
        if _CRITICAL["depth"]:
            _CRITICAL["pending"] = Interrupted(signum)      # raised when the section ends
            return
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    _HANDLING.active = True
    _CRITICAL["pending"] = None
    try:
        yield
    finally:
        _HANDLING.active = False
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclasses.dataclass
class Crashed:
    """The outcome of a run whose process died without returning (killed, out of memory)."""

    message: str


class InlineExecutor:
    """Run every item in this process, in order."""

    workers = 1
    name = "inline"
    stores_results = True       # runs write to the caller's cache directly

    def map_unordered(self, function, items):
        try:
            for index, item in enumerate(items):
                yield index, function(item)
        except BaseException:
            end_tool_sessions()          # a tool started just as the interrupt came
            raise


# --- processes: descendants and ending them ---------------------------------------------------

def _proc_stat(pid):
    """(parent pid, start time, session id) of `pid` from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()     # after "pid (comm) "
    return int(fields[1]), fields[19], int(fields[3])


def descendants(pid):
    """``{pid: start time}`` of every living descendant of `pid` (Linux /proc; psutil
    elsewhere; empty if neither is available)."""
    if os.path.isdir("/proc/self"):
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(int(entry))
                if stat is not None:
                    children.setdefault(stat[0], []).append((int(entry), stat[1]))
        found, todo = {}, [pid]
        while todo:
            for child, started in children.get(todo.pop(), ()):
                if child not in found:
                    found[child] = started
                    todo.append(child)
        return found
    try:
        import psutil
        return {p.pid: p.create_time() for p in psutil.Process(pid).children(recursive=True)}
    except Exception:
        return {}


def _alive(pid, started):
    if os.path.isdir("/proc/self"):
        stat = _proc_stat(pid)
        return stat is not None and stat[1] == started
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def stop_processes(processes, grace=STOP_GRACE_S):
    """End `processes` (multiprocessing.Process objects) and everything they started:
    SIGTERM first (a run's process then ends its tool's process group and exits), SIGKILL
    after `grace` seconds for whatever is left, tools included."""
    living = [p for p in processes if p.is_alive()]
    tree = {}
    for process in living:
        tree.update(descendants(process.pid))
    for process in living:
        _kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in living:
        process.join(max(deadline - time.monotonic(), 0))
    for process in living:
        if process.is_alive():
            tree.update(descendants(process.pid))
            _kill(process.pid, signal.SIGKILL)
    for pid, started in tree.items():               # tools orphaned by a killed process
        if _alive(pid, started):
            _kill(pid, signal.SIGKILL)
    for process in processes:
        if process.pid is not None:            # started
            process.join(1.0)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def end_tool_sessions(pid=None):
    """SIGKILL every descendant of `pid` (default: this process) that leads a session of
    its own — the tools, which `fpga.flow` starts with ``start_new_session`` — and reap
    those that are its children. The last step of a run's process, and of an inline sweep
    that was stopped: a tool being started at the moment of the signal is caught too."""
    pid = os.getpid() if pid is None else pid
    if not os.path.isdir("/proc/self"):
        return
    for child, started in descendants(pid).items():
        stat = _proc_stat(child)
        if stat is not None and stat[1] == started and stat[2] == child:
            _kill(child, signal.SIGKILL)
            if stat[0] == os.getpid():
                try:
                    os.waitpid(child, 0)
                except ChildProcessError:
                    pass


def _become_subreaper():
    # Linux: orphans of this process's tools are re-parented to it, not to init, so that
    # `end_tool_sessions` still finds them.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def _child_main(function, item, connection):
    """A run's process: ignore SIGINT (the sweep's process decides), exit on SIGTERM (the
    SystemExit unwinds through the tool call, which kills the tool's process group; any
    tool started in that very moment is ended on the way out)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    _become_subreaper()
    try:
        outcome = ("ok", function(item))
    except SystemExit:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        end_tool_sessions()
        raise
    except BaseException as exc:        # report it to the sweep, which raises it there
        outcome = ("error", exc)
    try:
        connection.send(outcome)
    except Exception:                   # an unpicklable exception: send its text
        connection.send(("error", RuntimeError(repr(outcome[1]))))
    connection.close()


class LocalExecutor:
    """At most `workers` (default: the number of cores) runs at a time, each in a process
    of its own (forked: no importable ``__main__`` needed, so ``python -c`` and notebooks
    work).

    A process per run, started by this process only when a worker slot is free, is what
    makes stopping exact: closing the iterator starts nothing more, sends SIGTERM to every
    running process (each ends its tool, which runs in a process group of its own, and
    exits), and after `STOP_GRACE_S` kills whatever is left, tools included.
    """

    name = "local"
    stores_results = True

    def __init__(self, workers=None):
        self.workers = workers or os.cpu_count() or 1

    def map_unordered(self, function, items):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        items = list(items)
        queue = list(range(len(items)))
        queue.reverse()
        running = {}                    # reader connection -> (index, process)
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    with critical():
                        index = queue.pop()
                        reader, writer = context.Pipe(duplex=False)
                        process = context.Process(target=_child_main, daemon=True,
                                                  args=(function, items[index], writer),
                                                  name=f"nnrtl-run-{index}")
                        running[reader] = (index, process)     # before start: always stopped
                        process.start()
                        writer.close()
                ready = multiprocessing.connection.wait(list(running))
                for reader in ready:
                    with critical():
                        index, process = running.pop(reader)
                        try:
                            status, payload = reader.recv()
                        except (EOFError, OSError):
                            process.join()
                            status, payload = "crashed", process.exitcode
                        reader.close()
                        process.join()
                    if status == "error":
                        raise payload
                    if status == "crashed":
                        payload = Crashed(f"the process running it died (exit code {payload})")
                    yield index, payload
        finally:
            stop_processes([process for _, process in running.values()])
            for reader in running:
                reader.close()


#: the packages a Dask worker needs to run a job (`fpga.sweep.execute_and_store` imports
#: fpga only; hdl and golden are shipped too, so that any nnrtl function can run there)
SHIPPED_PACKAGES = ("fpga", "hdl", "golden")

# Code that runs on the workers is defined from source in a module of its own name that
# workers cannot import, so that cloudpickle sends it by value: it must run before the
# shipped packages are importable there.
_REMOTE_SOURCE = r"""
import importlib
import os
import sys

from distributed.diagnostics.plugin import WorkerPlugin


def _install(directory, name, data, packages, client_pid):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as handle:
            handle.write(data)
        os.replace(path + ".tmp", path)
    if os.getpid() == client_pid:
        return path                   # a worker in the client's process: same code already
    if path not in sys.path:
        sys.path.insert(0, path)
    for module in list(sys.modules):  # code imported from elsewhere gives way to the shipped
        if module.split(".")[0] in packages:
            del sys.modules[module]
    importlib.invalidate_caches()
    return path


class ShipCode(WorkerPlugin):
    name = "nnrtl-code"

    def __init__(self, name, data, packages, client_pid):
        self.zip_name, self.data = name, data
        self.packages, self.client_pid = packages, client_pid

    def setup(self, worker):
        _install(worker.local_directory, self.zip_name, self.data, self.packages,
                 self.client_pid)


def call(module, name, item):
    # The task the scheduler sees: this function by value and plain data, so the scheduler
    # (which unpickles task graphs) needs none of nnrtl's code, only the workers.
    return getattr(importlib.import_module(module), name)(item)


def check(families, dask_worker=None):
    import fpga.flow
    return {"code": os.path.dirname(os.path.dirname(fpga.flow.__file__)),
            "versions": {family: fpga.flow.tool_versions(family) for family in families}}
"""


def _remote():
    namespace = {"__name__": "nnrtl_dask_remote"}
    exec(compile(_REMOTE_SOURCE, "<nnrtl dask worker code>", "exec"), namespace)
    return namespace


def code_zip(directory, root=None):
    """Write ``nnrtl-<digest>.zip`` of `SHIPPED_PACKAGES` (their ``.py`` files) from the
    checkout `root` into `directory`; return its path (same code, same name)."""
    import hashlib
    import zipfile
    from pathlib import Path
    root = Path(root) if root else Path(__file__).resolve().parent.parent
    files = sorted(path for package in SHIPPED_PACKAGES
                   for path in (root / package).rglob("*.py")
                   if "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    target = Path(directory) / f"nnrtl-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.writestr(zipfile.ZipInfo(str(path.relative_to(root)),
                                                 (1980, 1, 1, 0, 0, 0)), path.read_bytes())
        os.replace(tmp, target)
    return target


class DaskExecutor:
    """Hand runs to a Dask cluster: connect to `scheduler`, or use `client` as given.

    Before the first run (`prepare`), the project's code goes to every worker — a zip of
    `SHIPPED_PACKAGES` put on the worker's ``sys.path`` by a worker plugin, which workers
    that join later get too — so workers need no checkout, only Python with the
    dependencies (numpy, dask[distributed], the yowasp packages or $YOSYS etc.). Then each
    worker reports its tool versions; a worker with a tool missing, or with versions that
    differ from this machine's (they are part of every cache key), is named in one
    `RuntimeError` and nothing runs. Interrupting a Dask sweep cancels the queued runs;
    runs already started on a worker finish there (their results are not collected).
    """

    name = "dask"
    stores_results = False      # workers may be other machines: the caller stores results

    def __init__(self, scheduler=None, *, client=None):
        try:
            from dask import distributed
        except ImportError:
            raise RuntimeError("the dask executor needs dask[distributed] "
                               "(pip install 'dask[distributed]')") from None
        self._distributed = distributed
        if client is None:
            if not scheduler:
                raise ValueError("the dask executor needs a scheduler address "
                                 "(--scheduler tcp://HOST:8786)")
            try:
                client = distributed.Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise RuntimeError(f"cannot connect to the Dask scheduler at {scheduler!r}: "
                                   f"{exc}") from None
        self.client = client
        self.workers = max(1, sum(client.nthreads().values()))
        self._shipped = False

    def ship_code(self):
        """Send the project's packages to every worker (and to workers that join later)."""
        import tempfile
        remote = _remote()
        path = code_zip(tempfile.gettempdir())
        plugin = remote["ShipCode"](path.name, path.read_bytes(), SHIPPED_PACKAGES,
                                    os.getpid())
        try:
            self.client.register_plugin(plugin, name=f"nnrtl-code-{path.stem}")
        except Exception as exc:
            raise RuntimeError(f"could not install nnrtl's code on the Dask workers: "
                               f"{type(exc).__name__}: {exc}") from None
        self._shipped = True
        return path

    def check_workers(self, versions):
        """`RuntimeError` naming every worker whose tools differ from `versions`
        (``{family: {"yosys": ..., "nextpnr": ...}}``, this machine's) or are missing."""
        remote = _remote()
        try:
            answers = self.client.run(remote["check"], list(versions))
        except Exception as exc:
            raise RuntimeError(f"the Dask workers could not run nnrtl's check: "
                               f"{type(exc).__name__}: {exc}") from None
        if not answers:
            raise RuntimeError("the Dask scheduler has no workers")
        try:
            info = self.client.scheduler_info().get("workers", {})
        except Exception:
            info = {}
        problems = []
        for worker, answer in sorted(answers.items()):
            name = info.get(worker, {}).get("name")
            if name is not None and str(name) != worker:
                worker = f"{worker} ({name})"
            for family, wanted in versions.items():
                for role, version in answer["versions"].get(family, {}).items():
                    if version.startswith("missing"):
                        problems.append(f"{worker}: {version[len('missing: '):]}")
                    elif version != wanted.get(role):
                        problems.append(f"{worker}: {role} is {version!r}, here it is "
                                        f"{wanted.get(role)!r}")
        if problems:
            raise RuntimeError("Dask workers without the same tools as this machine (their "
                               "results would not match the cache): " + "; ".join(problems))
        self.workers = max(1, sum(self.client.nthreads().values()))
        return answers

    def prepare(self, versions):
        """Before the first run: ship the code, check every worker's tools."""
        if not self._shipped:
            self.ship_code()
        return self.check_workers(versions)

    def map_unordered(self, function, items):
        call = _remote()["call"]
        futures = {self.client.submit(call, function.__module__, function.__qualname__, item,
                                      pure=False): index
                   for index, item in enumerate(items)}
        return self._collect(futures)

    def _collect(self, futures):
        try:
            for future in self._distributed.as_completed(list(futures)):
                yield futures[future], future.result()
        finally:
            pending = [future for future in futures if not future.done()]
            if pending:
                try:
                    self.client.cancel(pending, force=True)
                except Exception:
                    pass


def make_executor(name="local", *, workers=None, scheduler=None):
    """An executor by name: ``"local"`` (``workers=1`` gives `InlineExecutor`) or ``"dask"``."""
    if name == "local":
        if workers is not None and workers < 1:
            raise ValueError(f"jobs must be a positive integer, not {workers!r}")
        return InlineExecutor() if workers == 1 else LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {name!r}")
