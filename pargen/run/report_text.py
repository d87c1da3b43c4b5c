"""A run's report as text for people: the summary after a run, status and failure tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pargen.run.report import PROBLEM_STATES, JobReport, RunReport


def problem_line(job: JobReport) -> str:
    parts = [job.state]
    if job.exit_code is not None:
        parts.append(f"exit {job.exit_code}")
    if job.signal:
        parts.append(f"signal {job.signal}")
    line = ", ".join(parts)
    if job.reason and job.reason != f"exit {job.exit_code}":
        line += f": {job.reason}"
    return line


def console_summary(report: RunReport, tails: Mapping[str, str], tail_lines: int = 10) -> str:
    """What people read first after a run: failures with their log, skips, slowest, totals."""
    lines: list[str] = []
    problems = [j for j in report.jobs if j.state in PROBLEM_STATES]
    for job in problems:
        lines.append(f"{job.state.upper()} {shown(job.id)}: {problem_line(job)}")
        if job.log:
            lines.append(f"  log: {report.path / job.log}")
        tail = tails.get(job.id, "").split("\n")[-tail_lines:]
        lines.extend(f"  | {shown(line)}" for line in tail if tail != [""])
    for job in report.jobs:
        if job.state == "skipped":
            blocker = f": waits for {shown(job.blocked_by)}" if job.blocked_by else ""
            lines.append(f"skipped {shown(job.id)}{blocker}")
        elif job.state == "not-run":
            lines.append(f"not run {shown(job.id)}" + (f": {job.reason}" if job.reason else ""))
    slow = [j for j in report.slowest if j.duration]
    if slow:
        lines.append(
            "slowest: " + ", ".join(f"{shown(j.id)} {seconds(j.duration or 0)}" for j in slow)
        )
    lines.append(status_header(report))
    lines.append(f"run directory: {report.path}")
    return "\n".join(lines) + "\n"


def status_header(report: RunReport) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in report.totals.items() if n)
    wall = f" after {seconds(report.wall_seconds)}" if report.wall_seconds is not None else ""
    return f"run {shown(report.run_id)}: {report.outcome}{wall}; {counts or 'no jobs'}"


def jobs_table(jobs: Sequence[JobReport], run_dir: Path) -> str:
    """One aligned line per job: id, state, exit, time, the host when a run used several, and
    why (with the log) if not OK."""
    remote = any(job.host not in (None, "", ":") for job in jobs)
    rows = [("JOB", "STATE", "EXIT", "TIME", *(("HOST",) if remote else ()), "NOTE")]
    for job in jobs:
        note = job.reason or ""
        if job.log and job.state in PROBLEM_STATES:
            note = f"{note}; log: {run_dir / job.log}" if note else f"log: {run_dir / job.log}"
        host = (shown(job.host or ""),) if remote else ()
        rows.append(
            (
                shown(job.id),
                job.state,
                "" if job.exit_code is None else str(job.exit_code),
                "" if job.duration is None else seconds(job.duration),
                *host,
                shown(note),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    right = {2, 3}  # exit code and time
    lines = [
        "  ".join(
            [
                *(
                    cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                    for i, cell in enumerate(row[:-1])
                ),
                row[-1],
            ]
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def shown(text: str) -> str:
    """Control characters made visible: an id may hold a tab or a newline."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
