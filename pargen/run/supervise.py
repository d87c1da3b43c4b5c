"""Follow a running script: progress from its events, a stall watchdog, signals passed on."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

import sh

from pargen.errors import ExitCode
from pargen.plan.jobs import Plan
from pargen.run.rundir import RunDir
from pargen.tools import require

FINAL_STATES = frozenset({"succeeded", "failed", "skipped", "interrupted", "not-run", "lost"})


_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


class Console(Protocol):
    """Where the supervisor's output goes (the CLI provides it)."""

    def job_line(self, line: str) -> None: ...

    def script_line(self, line: str) -> None: ...

    def progress(self, text: str, changed: bool) -> None: ...

    def notice(self, text: str) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Progress:
    """What the events said so far."""

    total: int
    states: dict[int, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)

    def apply(self, kind: str, number: int) -> bool:
        """Take one event; True when it changed what progress shows."""
        if kind in ("start", "waiting"):
            self.states[number] = "running" if kind == "start" else "waiting"
        elif kind in FINAL_STATES:
            self.states[number] = kind
        else:
            return False
        self.last_activity = time.monotonic()
        return True

    def count(self, state: str) -> int:
        return sum(1 for s in self.states.values() if s == state)

    def running(self) -> list[int]:
        return sorted(n for n, s in self.states.items() if s == "running")


def estimate_remaining(
    plan: Plan, progress: Progress, history: Mapping[str, float], slots: int
) -> float | None:
    """Seconds left: the longer of the remaining critical path and remaining work per slot."""
    if not history:
        return None
    numbers = {job.id: n for n, job in enumerate(plan.jobs, start=1)}
    elapsed_now = time.monotonic()
    path: dict[str, float] = {}
    work = 0.0
    for job in plan.jobs:  # parents come first
        state = progress.states.get(numbers[job.id], "waiting")
        if state in FINAL_STATES:
            path[job.id] = 0.0
            continue
        duration = history.get(job.id)
        if duration is None:
            return None
        if state == "running":
            duration = max(0.0, duration - (elapsed_now - progress.last_activity))
        work += duration
        path[job.id] = duration + max((path.get(a, 0.0) for a in job.after), default=0.0)
    critical = max(path.values(), default=0.0)
    return max(critical, work / max(1, slots))


def slot_count(jobs: str) -> int:
    """The number of slots the script computes from --jobs on this machine."""
    cores = os.cpu_count() or 1
    if jobs.endswith("%"):
        slots = cores * int(jobs[:-1]) // 100
    elif jobs.startswith(("+", "-")):
        slots = cores + int(jobs)
    else:
        slots = int(jobs)
    return max(1, slots)


def format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Supervisor:
    """Runs the script of a run directory and follows it until it ends."""

    def __init__(
        self,
        run: RunDir,
        plan: Plan,
        console: Console,
        *,
        stall_timeout: float | None = None,
        history: Mapping[str, float] | None = None,
        slots: int = 1,
        heartbeat: float = 2.0,
    ) -> None:
        self.run = run
        self.plan = plan
        self.console = console
        self.stall_timeout = stall_timeout
        self.history = dict(history or {})
        self.slots = slots
        self.heartbeat = heartbeat
        self.progress = Progress(total=len(plan.jobs))
        self.ids = {n: job.id for n, job in enumerate(plan.jobs, start=1)}
        self.stalled = False
        self.signals = 0
        self._events_offset = 0
        self._lock = threading.Lock()
        self._process: Any = None
        self._early_signal: int | None = None

    def execute(self) -> int:
        """The script's exit code, or 1 when the watchdog stopped a stalled run."""
        # Taken before the script starts, so that a stop in between reaches it too.
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start()
            if self._early_signal is not None:
                self._process.signal(self._early_signal)
            self._follow()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        self._read_events()
        code = int(self._process.exit_code)
        if -code in _STOP_SIGNALS:
            # The script stops gracefully itself once anything runs: before, it just ends.
            self.console.notice("the run was stopped before any build started")
            code = int(ExitCode.INTERRUPTED)
        elif code < 0:
            self.console.notice(f"the run's script was killed by signal {-code}")
        if self.stalled and code in (int(ExitCode.INTERRUPTED), 0):
            return int(ExitCode.JOBS_FAILED)
        return code if code in {int(c) for c in ExitCode} else int(ExitCode.INTERNAL)

    def _start(self) -> None:
        self._process = sh.Command(require("bash"))(
            str(self.run.script),
            "--run-dir",
            str(self.run.path),
            _bg=True,
            _bg_exc=False,
            # Its own session: a Ctrl-C reaches the script once, passed on by pargen.
            _new_session=True,
            _out=self._on_out,
            _err=self._on_err,
            _in=os.devnull,
            # Negative: killed by that signal; the caller turns it into an exit code.
            _ok_code=list(range(-64, 256)),
        )

    def _follow(self) -> None:
        """Wake on the heartbeat to refresh progress and watch for stalls; no busy polling."""
        while True:
            try:
                self._process.wait(timeout=self.heartbeat)
                return
            except sh.TimeoutException:
                pass
            self._read_events()
            self._show(changed=False)
            self._watchdog()

    def _watchdog(self) -> None:
        if self.stall_timeout is None or self.stalled or self.signals:
            return
        idle = time.monotonic() - self.progress.last_activity
        if idle >= self.stall_timeout:
            self.stalled = True
            running = ", ".join(self.ids[n] for n in self.progress.running()) or "no job"
            self.console.notice(
                f"nothing started or ended for {format_seconds(idle)} (--stall-timeout); "
                f"stopping the run; running: {running}"
            )
            self._process.signal(signal.SIGTERM)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        if self._process is None:  # not started yet: execute passes it on once it is
            self._early_signal = signum
            return
        if self.signals > 1:
            running = ", ".join(self.ids[n] for n in self.progress.running()) or "nothing"
            self.console.notice(f"still stopping gracefully; waiting for: {running}")
        self._process.signal(signum)

    def _on_out(self, line: str) -> None:
        self.console.job_line(line.rstrip("\n"))

    def _on_err(self, line: str) -> None:
        self.console.script_line(line.rstrip("\n"))
        self._read_events()

    def _read_events(self) -> None:
        """Take the new complete lines of events.log (the script appends, never rewrites)."""
        with self._lock:
            try:
                with (self.run.path / "events.log").open("rb") as handle:
                    handle.seek(self._events_offset)
                    data = handle.read()
            except OSError:
                return
            end = data.rfind(b"\n") + 1
            self._events_offset += end
            changed = False
            for raw in data[:end].splitlines():
                fields = raw.decode(errors="replace").split()
                if len(fields) >= 3 and fields[2].isdigit():
                    # An attempt that could not reach its host: the job waits for a slot again.
                    kind = (
                        "waiting"
                        if fields[1:2] + fields[-1:] == ["end", "unreachable"]
                        else fields[1]
                    )
                    changed |= self.progress.apply(kind, int(fields[2]))
        if changed:
            self._show(changed=True)

    def _show(self, changed: bool) -> None:
        p = self.progress
        finished = sum(1 for s in p.states.values() if s in FINAL_STATES)
        parts = [
            f"{p.count('running')} running",
            f"{p.count('succeeded')} succeeded",
            f"{p.count('failed')} failed",
            f"{p.count('skipped')} skipped",
            f"{p.total - len(p.states)} waiting",
            f"{format_seconds(time.monotonic() - p.started_at)} elapsed",
        ]
        eta = estimate_remaining(self.plan, p, self.history, self.slots)
        if eta is not None:
            parts.append(f"ETA {format_seconds(eta)}")
        self.console.progress(f"[{finished}/{p.total}] " + ", ".join(parts), changed)
