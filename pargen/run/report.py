"""What happened in a run: plan.json, events.log, results.tsv and the joblog, joined per job.

``read_run`` is the only part that touches the run directory (and asks which of its
processes still live); ``build_report`` is pure. A run is always fully accounted for: every
planned job gets exactly one state, whether the script finished, still runs, or was killed
with -9 before writing results.tsv. The writers (report.json, junit.xml...) are in
``report_files`` and ``report_text``.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pargen.errors import ExitCode, PargenError
from pargen.plan.jobs import Job
from pargen.render import init_log, log_names
from pargen.run.joblog import JoblogEntry, by_job, read_joblog

FINAL_STATES = ("succeeded", "failed", "skipped", "interrupted", "not-run", "lost")
LIVE_STATES = ("running", "waiting")
STATES = FINAL_STATES + LIVE_STATES
PROBLEM_STATES = frozenset({"failed", "interrupted", "lost"})
"""States of jobs that ran and did not succeed."""

SLOWEST = 5

_RESULTS_HEADER = "number\tstate\texit\tattempts\tblocked_by\tstart_us\tend_us"
_INIT_BLOCKER = "init"


# --- What a run directory holds ----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedJob:
    number: int
    """1-based position in plan.json: the job number of the script, events and joblog."""
    id: str
    template: str
    name: str
    after: tuple[str, ...]
    workdir: str
    log: str
    """Log file name under logs/."""


@dataclass(frozen=True)
class Event:
    """One line of events.log: ``<time-us> <kind> <number> <fields...>``."""

    time_us: int
    kind: str
    number: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """One row of results.tsv, the script's final word on a job."""

    number: int
    state: str
    exit: int | None
    attempts: int
    blocked_by: str
    start_us: int | None
    end_us: int | None


@dataclass(frozen=True)
class RunFiles:
    """Everything read from a run directory, so that building the report is pure."""

    path: Path
    root: str
    jobs: tuple[PlannedJob, ...]
    events: tuple[Event, ...]
    results: Mapping[int, Result] | None
    """None while the script has not finished (or when it died)."""
    joblog: Mapping[int, JoblogEntry]
    logs: frozenset[str]
    """Names of the files under logs/."""
    script_alive: bool
    alive_groups: frozenset[int]
    """Process groups of started builds that still exist."""
    now_us: int


# --- The report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobReport:
    number: int
    id: str
    template: str
    name: str
    after: tuple[str, ...]
    state: str
    """One of STATES."""
    exit_code: int | None
    signal: int | None
    """From the joblog: the signal that ended the job's process (0: none)."""
    start_us: int | None
    end_us: int | None
    host: str | None
    """The joblog's Host column (':' is this machine)."""
    log: str | None
    """Path of the job's log relative to the run directory, when it exists."""
    attempts: int
    blocked_by: str | None
    """Id of the failed job this one waited for."""
    reason: str | None
    """Why it did not succeed (or still runs), in words."""

    @property
    def start(self) -> str | None:
        return iso_time(self.start_us)

    @property
    def end(self) -> str | None:
        return iso_time(self.end_us)

    @property
    def duration(self) -> float | None:
        if self.start_us is None or self.end_us is None:
            return None
        return round(max(0, self.end_us - self.start_us) / 1_000_000, 3)


@dataclass(frozen=True)
class RunReport:
    run_id: str
    path: Path
    root: str
    live: bool
    """The script or one of its builds still runs."""
    jobs: tuple[JobReport, ...]
    started_us: int | None
    ended_us: int | None
    """The last end, or now for a live run."""
    totals: Mapping[str, int] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """running, succeeded, failed (a failure, loss or skip) or interrupted."""
        if self.live:
            return "running"
        if any(self.totals.get(s, 0) for s in ("failed", "lost", "skipped")):
            return "failed"
        if self.totals.get("succeeded", 0) == len(self.jobs):
            return "succeeded"
        return "interrupted"

    @property
    def exit_code(self) -> int | None:
        """The contract's exit code for this outcome; None while it runs."""
        codes = {"succeeded": ExitCode.OK, "failed": ExitCode.JOBS_FAILED}
        if self.live:
            return None
        return int(codes.get(self.outcome, ExitCode.INTERRUPTED))

    @property
    def started(self) -> str | None:
        return iso_time(self.started_us)

    @property
    def ended(self) -> str | None:
        return iso_time(self.ended_us)

    @property
    def wall_seconds(self) -> float | None:
        if self.started_us is None or self.ended_us is None:
            return None
        return round(max(0, self.ended_us - self.started_us) / 1_000_000, 3)

    @property
    def slowest(self) -> list[JobReport]:
        timed = [j for j in self.jobs if j.duration is not None]
        return sorted(timed, key=lambda j: (-(j.duration or 0.0), j.number))[:SLOWEST]

    def by_id(self) -> dict[str, JobReport]:
        return {job.id: job for job in self.jobs}


def load_report(run_dir: Path) -> RunReport:
    return build_report(read_run(run_dir))


def build_report(files: RunFiles) -> RunReport:
    finished = files.results is not None
    numbers_to_ids = {job.number: job.id for job in files.jobs}
    events = _events_by_job(files.events)
    jobs: list[JobReport] = []
    for planned in files.jobs:
        result = files.results.get(planned.number) if files.results is not None else None
        jobs.append(
            _job_report(
                planned,
                events.get(planned.number, _JobEvents()),
                result,
                files.joblog.get(planned.number),
                files,
                numbers_to_ids,
                finished=finished,
            )
        )
    jobs = _with_blockers(jobs)
    live = (files.script_alive and not finished) or any(job.state == "running" for job in jobs)
    if live:
        jobs = [_running_so_far(job, files.now_us) for job in jobs]
    starts = [j.start_us for j in jobs if j.start_us is not None]
    ends = [j.end_us for j in jobs if j.end_us is not None]
    totals = {state: sum(1 for j in jobs if j.state == state) for state in STATES}
    return RunReport(
        run_id=files.path.name,
        path=files.path,
        root=files.root,
        live=live,
        jobs=tuple(jobs),
        started_us=min(starts, default=None),
        ended_us=files.now_us if live else max(ends, default=None),
        totals=totals,
    )


@dataclass
class _JobEvents:
    first_start_us: int | None = None
    starts: int = 0
    running: bool = False
    """A start with no end after it."""
    pgid: int | None = None
    end: Event | None = None
    """The last end after the last start."""
    final: Event | None = None


def _events_by_job(events: Sequence[Event]) -> dict[int, _JobEvents]:
    jobs: dict[int, _JobEvents] = {}
    for event in events:
        job = jobs.setdefault(event.number, _JobEvents())
        if event.kind == "start":
            job.first_start_us = job.first_start_us or event.time_us
            job.starts += 1
            job.running = True
            job.end = None
            job.pgid = _int(event.fields[2]) if len(event.fields) > 2 else None
        elif event.kind == "end":
            job.running = False
            job.end = event
        elif event.kind in FINAL_STATES:
            job.final = event
    return jobs


def _job_report(
    planned: PlannedJob,
    events: _JobEvents,
    result: Result | None,
    entry: JoblogEntry | None,
    files: RunFiles,
    ids: Mapping[int, str],
    *,
    finished: bool,
) -> JobReport:
    blocked_by: str | None = None
    init_failed = False
    reason: str | None = None
    if result is not None:
        state, exit_code, attempts = result.state, result.exit, result.attempts
        init_failed = result.blocked_by == _INIT_BLOCKER
        if result.blocked_by.isdigit():
            blocked_by = ids.get(int(result.blocked_by))
    else:
        state, exit_code, reason = _state_from_events(events, files, finished=finished)
        attempts = events.starts
    end_us = events.end.time_us if events.end is not None else None
    if events.final is not None:
        end_us = end_us or events.final.time_us
    start_us = events.first_start_us
    if result is not None:
        start_us = start_us or result.start_us
        end_us = end_us or result.end_us
    if entry is not None:
        start_us = start_us or round(entry.start * 1_000_000)
        end_us = end_us or round((entry.start + entry.runtime) * 1_000_000)
        if exit_code is None and state in PROBLEM_STATES:
            exit_code = entry.exitval
    if start_us is None:
        end_us = None  # never started: no duration (a skip's "end" is when it was decided)
    log = planned.log
    if init_failed:
        log = init_log(planned.template)
        reason = f"packer init failed in {planned.workdir}"
    reason = reason or _reason(state, exit_code, blocked_by, entry)
    return JobReport(
        number=planned.number,
        id=planned.id,
        template=planned.template,
        name=planned.name,
        after=planned.after,
        state=state,
        exit_code=exit_code,
        signal=entry.signal if entry is not None else None,
        start_us=start_us,
        end_us=end_us,
        host=entry.host if entry is not None else None,
        log=f"logs/{log}" if log in files.logs else None,
        attempts=attempts,
        blocked_by=blocked_by,
        reason=reason,
    )


def _state_from_events(
    events: _JobEvents, files: RunFiles, *, finished: bool
) -> tuple[str, int | None, str | None]:
    """State, exit code and reason of a job the script has not written a result for."""
    if events.final is not None:
        fields = events.final.fields
        return events.final.kind, _int(fields[0]) if fields else None, None
    alive = files.script_alive and not finished
    if events.running:
        if alive:
            return "running", None, None
        if events.pgid is not None and events.pgid in files.alive_groups:
            return (
                "running",
                None,
                (f"the script is gone but the build still runs (process group {events.pgid})"),
            )
        return "lost", None, "ended without reporting: killed, or the script died"
    if events.end is not None:
        if alive:
            return "running", None, None  # the script is deciding: retry or result
        rc = _int(events.end.fields[0]) if events.end.fields else None
        how = events.end.fields[2] if len(events.end.fields) > 2 else ""
        if rc == 0:
            return "succeeded", 0, None
        state = "interrupted" if how == "stopped" else "failed"
        return state, rc, "the script ended before recording the result"
    if alive:
        return "waiting", None, None
    return "not-run", None, "never started: the script ended first"


def _with_blockers(jobs: Sequence[JobReport]) -> list[JobReport]:
    """Skips the script did not explain (it died first) name the failed job they waited for."""
    by_id = {job.id: job for job in jobs}

    def failed_ancestor(job: JobReport) -> str | None:
        todo, seen = list(job.after), set(job.after)
        while todo:
            parent = by_id.get(todo.pop(0))
            if parent is None:
                continue
            if parent.state in PROBLEM_STATES:
                return parent.id
            todo += [a for a in parent.after if a not in seen]
            seen.update(parent.after)
        return None

    fixed = []
    for job in jobs:
        if job.state == "skipped" and job.blocked_by is None:
            blocker = failed_ancestor(job)
            if blocker is not None:
                job = replace(
                    job, blocked_by=blocker, reason=_reason("skipped", None, blocker, None)
                )
        fixed.append(job)
    return fixed


def _reason(
    state: str, exit_code: int | None, blocked_by: str | None, entry: JoblogEntry | None
) -> str | None:
    cause = entry.cause if entry is not None else None
    if state == "failed":
        return cause or (f"exit {exit_code}" if exit_code is not None else "failed")
    if state == "skipped":
        return (
            f"waits for {blocked_by}, which failed" if blocked_by else "a job it waits for failed"
        )
    if state == "interrupted":
        return cause or "stopped: the run was interrupted"
    if state == "lost":
        return cause or "ended without reporting: killed, or GNU parallel died"
    if state == "not-run":
        return "never started: the run stopped first"
    return None


def _running_so_far(job: JobReport, now_us: int) -> JobReport:
    if job.state != "running" or job.start_us is None:
        return job
    return replace(job, end_us=now_us)


def iso_time(time_us: int | None) -> str | None:
    if time_us is None:
        return None
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# --- Reading a run directory -------------------------------------------------------------------


def read_run(path: Path) -> RunFiles:
    """Everything the report needs from the run directory at ``path``."""
    plan_file = path / "plan.json"
    if not plan_file.is_file():
        what = "does not exist" if not path.exists() else "is not a pargen run directory"
        raise PargenError(
            f"{path} {what} (no plan.json); pass a run directory such as .pargen/runs/latest"
        )
    root, jobs = parse_plan(_read_bytes(plan_file), str(plan_file))
    pid_file = path / "state" / "pid"
    results_file, joblog_file = path / "results.tsv", path / "joblog"
    results = None
    if results_file.is_file() and not _older(results_file, pid_file):
        results = parse_results(_read_bytes(results_file), str(results_file))
    joblog = [] if _older(joblog_file, pid_file) else read_joblog(joblog_file)
    events = read_events(path)
    alive = results is None and _script_alive(pid_file)
    try:
        logs = frozenset(p.name for p in (path / "logs").iterdir())
    except OSError:
        logs = frozenset()
    return RunFiles(
        path=path,
        root=root,
        jobs=jobs,
        events=events,
        results=results,
        joblog=by_job(joblog),
        logs=logs,
        script_alive=alive,
        alive_groups=frozenset() if results is not None else _alive_groups(events),
        now_us=_now_us(),
    )


def read_events(path: Path) -> tuple[Event, ...]:
    """The events of the run directory at ``path`` (none when it has no events.log)."""
    return parse_events(_read_bytes(path / "events.log", missing_ok=True))


def parse_plan(data: bytes, source: str = "plan.json") -> tuple[str, tuple[PlannedJob, ...]]:
    """ROOT and the jobs of a run's plan.json, numbered as the script numbers them."""
    try:
        plan = json.loads(data)
        root = plan["root"]
        raw_jobs = plan["jobs"]
        jobs = [
            Job(
                id=str(job["id"]),
                template=str(job["template"]),
                name=str(job["name"]),
                only=str(job.get("only", job["name"])),
                after=tuple(str(a) for a in job["after"]),
                source_type=str(job.get("source_type", "")),
                workdir=str(job.get("workdir", job["template"])),
                target=str(job.get("target", ".")),
                needs_init=False,
                vars=(),
            )
            for job in raw_jobs
        ]
    except (ValueError, KeyError, TypeError) as err:
        raise PargenError(
            f"{source}: not a pargen plan ({type(err).__name__}: {err}); "
            "pass a run directory written by pargen exec"
        ) from err
    logs = log_names(jobs)
    planned = tuple(
        PlannedJob(
            number=number,
            id=job.id,
            template=job.template,
            name=job.name,
            after=job.after,
            workdir=job.workdir,
            log=logs[job.id],
        )
        for number, job in enumerate(jobs, start=1)
    )
    return str(root), planned


def parse_events(data: bytes) -> tuple[Event, ...]:
    """The complete, well-formed lines of events.log; a line cut short by a kill is left out."""
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a line not finished yet
    events: list[Event] = []
    for raw in lines:
        fields = raw.decode("utf-8", errors="replace").split()
        if len(fields) < 3 or not fields[0].isdigit() or not fields[2].isdigit():
            continue
        events.append(Event(int(fields[0]), fields[1], int(fields[2]), tuple(fields[3:])))
    return tuple(events)


def parse_results(data: bytes, source: str = "results.tsv") -> dict[int, Result]:
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines[0] != _RESULTS_HEADER:
        raise PargenError(f"{source}:1: not a pargen results file: unexpected header")
    results: dict[int, Result] = {}
    for line_number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split("\t")
        try:
            number, state, exit_code, attempts, blocked_by, start_us, end_us = fields
            if state not in FINAL_STATES:
                raise ValueError(f"unknown state {state!r}")
            results[int(number)] = Result(
                number=int(number),
                state=state,
                exit=int(exit_code) if exit_code else None,
                attempts=int(attempts or 0),
                blocked_by=blocked_by,
                start_us=int(start_us) if start_us else None,
                end_us=int(end_us) if end_us else None,
            )
        except ValueError as err:
            raise PargenError(
                f"{source}:{line_number}: not a pargen results line: {err}; the file is damaged"
            ) from err
    return results


def _read_bytes(path: Path, *, missing_ok: bool = False) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return b""
        raise PargenError(f"{path}: missing; the run directory is incomplete") from None
    except OSError as err:
        raise PargenError(f"{path}: cannot read it: {err.strerror}") from err


def _older(path: Path, than: Path) -> bool:
    """A file older than the pid file was left by an earlier run in the same directory."""
    try:
        return path.stat().st_mtime_ns < than.stat().st_mtime_ns
    except OSError:
        return False


def _script_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
        written = pid_file.stat().st_mtime
    except (OSError, ValueError):
        return False
    return _process_alive(pid, started_by=written)


def _process_alive(pid: int, started_by: float) -> bool:
    """``pid`` runs and is not a newer process that reused the number (Linux can tell)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _process_start(pid)
    if started is None:
        return True
    state, start_time = started
    # Slack for clock adjustments since boot; a number is reused only after a wrap-around.
    return state != "Z" and start_time <= started_by + 60


def _process_start(pid: int) -> tuple[str, float] | None:
    """State letter and start time (epoch seconds) of ``pid`` from /proc, when there is one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="utf-8").splitlines()
            if line.startswith("btime ")
        )
        fields = stat[stat.rindex(")") + 2 :].split()
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive_groups(events: Sequence[Event]) -> frozenset[int]:
    """Process groups of builds without an end that still exist (the script may be gone)."""
    groups = {e.pgid for e in _events_by_job(events).values() if e.running and e.pgid}
    alive = set()
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.add(pgid)
    return frozenset(alive)


def _now_us() -> int:
    return time.time_ns() // 1000
