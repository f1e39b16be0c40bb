"""A progress line with an ETA on stderr, with no dependency.

On a terminal it redraws one line once a second (``\\r``) and prints a line per finished
run above it; elsewhere (CI logs, `make` piped to a file) it prints only the per-run lines,
each with the count, the elapsed time and the ETA.
"""

import sys
import threading
import time

__all__ = ["Progress", "format_seconds"]


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


class Progress:
    """Progress of `total` runs executed by `workers` parallel workers.

    Use as a context manager; call `done(line)` once per finished run.
    """

    def __init__(self, total, *, workers=1, stream=None, label="runs", tty=None, width=24):
        self.total, self.workers, self.label, self.width = total, max(1, workers), label, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.finished = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def eta(self):
        """Seconds left, from the mean time per finished run and the runs still queued."""
        if self.finished == 0:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / self.finished * (self.total - self.finished)

    def status(self):
        filled = int(self.width * self.finished / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        running = min(self.workers, self.total - self.finished)
        elapsed = time.monotonic() - self.start
        return (f"[{bar}] {self.finished}/{self.total} {self.label}, {running} running, "
                f"{format_seconds(elapsed)} elapsed, ETA {format_seconds(self.eta())}")

    def _draw(self):
        self.stream.write("\r\033[K" + self.status())
        self.stream.flush()

    def _tick(self):
        while not self._stop.wait(1.0):
            with self._lock:
                self._draw()

    def __enter__(self):
        if self.tty and self.total:
            self._draw()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def done(self, line=""):
        """Count one finished run and show `line` about it."""
        with self._lock:
            self.finished += 1
            prefix = f"[{self.finished}/{self.total}]"
            if self.tty:
                self.stream.write("\r\033[K" + f"{prefix} {line}\n")
                self._draw()
            else:
                elapsed = format_seconds(time.monotonic() - self.start)
                self.stream.write(f"{prefix} {line} ({elapsed} elapsed, "
                                  f"ETA {format_seconds(self.eta())})\n")
            self.stream.flush()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.tty and self.total:
            self.stream.write("\r\033[K" + self.status() + "\n")
            self.stream.flush()
        return False
