"""What ``pargen exec`` shows while it runs: a live status line in a terminal, plain lines in CI."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

# The script's routine per-job lines; progress already says the same.
_ROUTINE = ("pargen: succeeded ", "pargen: retrying ")


class Console:
    """Job output on stdout; pargen's own lines and progress on stderr.

    In a terminal the progress is one status line redrawn in place; elsewhere (CI logs) it
    is a plain line written when the state changed, at most every ``plain_interval`` seconds.
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: bool = False,
        stream_jobs: bool = True,
        out: TextIO | None = None,
        err: TextIO | None = None,
        plain_interval: float = 10.0,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        self.stream_jobs = stream_jobs and not quiet
        self.live = self.err.isatty()
        self.plain_interval = plain_interval
        self._status = ""
        self._last_plain = 0.0
        self._pending_plain = ""
        self._lock = threading.Lock()

    def job_line(self, line: str) -> None:
        if not self.stream_jobs:
            return
        with self._lock:
            self._clear()
            self.out.write(line + "\n")
            self.out.flush()
            self._redraw()

    def script_line(self, line: str) -> None:
        if not self.verbose and (
            line.startswith(_ROUTINE) or (self.quiet and "FAILED" not in line)
        ):
            return
        self.notice(line.removeprefix("pargen: "))

    def notice(self, text: str) -> None:
        with self._lock:
            self._clear()
            self.err.write(f"pargen: {text}\n")
            self.err.flush()
            self._redraw()

    def progress(self, text: str, changed: bool) -> None:
        with self._lock:
            if self.live:
                self._status = text
                self._clear()
                self._redraw()
                return
            if changed:
                self._pending_plain = text
            now = time.monotonic()
            if self._pending_plain and now - self._last_plain >= self.plain_interval:
                if not self.quiet:
                    self.err.write(f"pargen: {self._pending_plain}\n")
                    self.err.flush()
                self._pending_plain = ""
                self._last_plain = now

    def finish(self) -> None:
        with self._lock:
            self._clear()
            self._status = ""

    def _clear(self) -> None:
        if self.live and self._status:
            self.err.write("\r\033[K")

    def _redraw(self) -> None:
        if self.live and self._status:
            self.err.write(self._status[:200])
            self.err.flush()
