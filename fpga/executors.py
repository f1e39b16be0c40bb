"""The swappable piece of a sweep: where runs execute.

An executor has one method, ``map_unordered(function, items)``, which submits every item at
once and returns an iterator of ``(index, function(items[index]))`` as runs finish, in any
order. The functions it is given
are plain module-level functions taking and returning picklable dicts (`fpga.flow` specs
and results), so any pool can run them:

`InlineExecutor`
    runs in the calling process, one after the other (``--jobs 1``; handy for debugging).
`LocalExecutor`
    a `concurrent.futures.ProcessPoolExecutor` over the local cores (the default).
`DaskExecutor`
    a `dask.distributed.Client` connected to a scheduler address (``--executor dask
    --scheduler tcp://host:8786``), or given an existing client (tests use a
    ``LocalCluster``). Every worker needs this repository importable (same checkout on
    ``PYTHONPATH``) and the tools installed (``pip install`` the project: the yowasp
    tools come from PyPI); run directories are written where the worker runs, results come
    back through Dask and are stored by the caller.
"""

import concurrent.futures
import multiprocessing
import os

__all__ = ["InlineExecutor", "LocalExecutor", "DaskExecutor", "make_executor", "EXECUTORS"]

EXECUTORS = ("local", "dask")


class InlineExecutor:
    """Run every item in this process, in order."""

    workers = 1
    name = "inline"

    def map_unordered(self, function, items):
        for index, item in enumerate(items):
            yield index, function(item)


class LocalExecutor:
    """A process pool of `workers` processes (default: the number of cores)."""

    name = "local"

    def __init__(self, workers=None):
        self.workers = workers or os.cpu_count() or 1

    def map_unordered(self, function, items):
        items = list(items)
        if not items:
            return iter(())
        # fork: workers need no importable __main__ (so `python -c` and notebooks work); the
        # caller starts no threads before the pool (the progress ticker starts after it).
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=min(self.workers, len(items)),
                                                      mp_context=context)
        try:
            futures = {pool.submit(function, item): index for index, item in enumerate(items)}
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return self._collect(pool, futures)

    @staticmethod
    def _collect(pool, futures):
        try:
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Hand runs to a Dask cluster: connect to `scheduler`, or use `client` as given."""

    name = "dask"

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

    def map_unordered(self, function, items):
        futures = {self.client.submit(function, item, pure=False): index
                   for index, item in enumerate(items)}
        return self._collect(futures)

    def _collect(self, futures):
        try:
            for future in self._distributed.as_completed(list(futures)):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def make_executor(name="local", *, workers=None, scheduler=None):
    """An executor by name: ``"local"`` (``workers=1`` gives `InlineExecutor`) or ``"dask"``."""
    if name == "local":
        if workers is not None and workers < 1:
            raise ValueError(f"jobs must be a positive integer, not {workers!r}")
        return InlineExecutor() if workers == 1 else LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {name!r}")
