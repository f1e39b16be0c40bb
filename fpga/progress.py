"""A progress line with an ETA on stderr, with no dependency.

On a terminal it redraws one line once a second (``\\r``) and prints a line per finished
run above it; elsewhere (CI logs, `make` piped to a file) it prints exactly one line per
finished run, with the count, the elapsed time and the ETA.

The ETA is not the mean time per run so far times the runs left: runs differ by two orders
of magnitude (an FP4 multiplier in seconds, an FP32 one without DSPs in minutes). Each run
comes with its *expected* duration (from earlier results of similar runs, see
`fpga.sweep`); the ETA schedules the runs still queued onto the workers as they free up,
in the order they start, with the running ones' expected time left, all scaled by how much
longer or shorter than expected the runs finished so far took (a busy machine).
"""

import heapq
import os
import statistics
import sys
import threading
import time

__all__ = ["Progress", "format_seconds", "estimate_finish"]

# Writes to the stream happen under this lock; it is also held across fork() (a run's
# process is forked while the ticker thread may be drawing), so that a child never inherits
# a half-taken lock of the stream.
_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_LOCK.acquire, after_in_parent=_LOCK.release,
                        after_in_child=_LOCK.release)


def format_seconds(seconds):
    """``75`` → ``"1m15s"``; ``None`` → ``"?"``."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def estimate_finish(running_left, queued, workers):
    """Seconds until the last run ends: `running_left` (seconds left of each running run)
    occupy workers, then each of `queued` (expected seconds, in start order) starts on the
    first worker to free up (list scheduling)."""
    free = sorted(max(left, 0.0) for left in running_left)
    free += [0.0] * max(workers - len(free), 0)
    heapq.heapify(free)
    end = max(free, default=0.0)
    for seconds in queued:
        start = heapq.heappop(free)
        heapq.heappush(free, start + seconds)
        end = max(end, start + seconds)
    return end


class Progress:
    """Progress of `total` runs executed by `workers` parallel workers.

    Parameters
    ----------
    total : int
    workers : int
    expected : list of float or None, optional
        Expected seconds of each run in the order the runs start (None where unknown: the
        mean of the runs finished so far is used, or of the known ones).
    stream, label, tty, width
        Where and how to draw (`tty` defaults to ``stream.isatty()``).
    clock : callable
        Seconds, monotonic (tests pass their own).

    Use as a context manager; call `done(index, line)` once per finished run (`index`
    into `expected`).
    """

    def __init__(self, total, *, workers=1, expected=None, stream=None, label="runs",
                 tty=None, width=24, clock=time.monotonic):
        self.total, self.workers, self.label, self.width = total, max(1, workers), label, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.expected = list(expected) if expected is not None else [None] * total
        if len(self.expected) != total:
            raise ValueError(f"expected must have {total} entries, not {len(self.expected)}")
        self.finished = 0
        self.clock = clock
        self.start = clock()
        # Runs start in order as workers free up (what the executors do): the first
        # `workers` now, the next one whenever one finishes.
        self._started = {i: self.start for i in range(min(self.workers, total))}
        self._next = len(self._started)
        self._done = set()
        self._ratios = []           # actual / expected of finished runs
        self._actual = []
        self._stop = threading.Event()
        self._thread = None

    def _guess(self, index):
        value = self.expected[index]
        if value is not None:
            return value
        if self._actual:
            return statistics.mean(self._actual)
        known = [v for v in self.expected if v is not None]
        return statistics.mean(known) if known else None

    def eta(self):
        """Seconds left (None when nothing is known yet)."""
        if self.finished >= self.total:
            return 0.0
        now = self.clock()
        # how much slower (a loaded machine) or faster than expected runs are now; bounded,
        # so that one odd run does not swing the whole estimate
        scale = min(max(statistics.median(self._ratios), 0.25), 4.0) if self._ratios else 1.0
        running, queued = [], []
        for index, started in self._started.items():
            if index in self._done:
                continue
            guess = self._guess(index)
            if guess is None:
                return None
            running.append(guess * scale - (now - started))
        for index in range(self._next, self.total):
            guess = self._guess(index)
            if guess is None:
                return None
            queued.append(guess * scale)
        return estimate_finish(running, queued, self.workers)

    def running(self):
        return len(self._started) - len(self._done)

    def status(self):
        filled = int(self.width * self.finished / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = self.clock() - self.start
        return (f"[{bar}] {self.finished}/{self.total} {self.label}, {self.running()} running, "
                f"{format_seconds(elapsed)} elapsed, ETA {format_seconds(self.eta())}")

    def _draw(self):
        self.stream.write("\r\033[K" + self.status())
        self.stream.flush()

    def _tick(self):
        while not self._stop.wait(1.0):
            with _LOCK:
                self._draw()

    def __enter__(self):
        if self.tty and self.total:
            self._draw()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def done(self, index=None, line=""):
        """Count run `index` as finished and show `line` about it (one line)."""
        if isinstance(index, str):          # done(line): the run is the oldest running one
            index, line = None, index
        now = self.clock()
        with _LOCK:
            if index is None:
                index = min((i for i in self._started if i not in self._done), default=0)
            if index in self._started and index not in self._done:
                actual = now - self._started[index]
                self._actual.append(actual)
                guess = self.expected[index]
                if guess:
                    self._ratios.append(actual / guess)
            self._done.add(index)
            self.finished += 1
            if self._next < self.total:
                self._started[self._next] = now
                self._next += 1
            prefix = f"[{self.finished}/{self.total}]"
            if self.tty:
                self.stream.write("\r\033[K" + f"{prefix} {line}\n")
                if self.finished < self.total:
                    self._draw()
            else:
                elapsed = format_seconds(now - self.start)
                self.stream.write(f"{prefix} {line} ({elapsed} elapsed, "
                                  f"ETA {format_seconds(self.eta())})\n")
            self.stream.flush()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.tty and self.total and exc[0] is None:
            with _LOCK:
                self.stream.write("\r\033[K" + self.status() + "\n")
                self.stream.flush()
        elif self.tty and self.total:
            with _LOCK:
                self.stream.write("\r\033[K")           # an interrupt: clear the bar
                self.stream.flush()
        return False
