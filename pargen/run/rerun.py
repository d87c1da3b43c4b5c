"""Which jobs of a run to run again, by stable job id (never by GNU parallel's Seq)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from pargen.errors import PargenError
from pargen.run.report import PROBLEM_STATES, RunReport, load_report

MODES = ("failed", "resume")
_GLOB_SPECIAL = re.compile(r"([*?\[])")


def select(report: RunReport, mode: str) -> list[str]:
    """Ids of the jobs to rerun, in plan order.

    ``failed``: the jobs that failed, were interrupted or were lost, and every job that did
    not succeed because it waits for one of them (directly or not). ``resume``: every job
    that did not succeed.
    """
    if mode == "resume":
        return [job.id for job in report.jobs if job.state != "succeeded"]
    if mode != "failed":
        raise ValueError(f"unknown rerun mode {mode!r}; use one of {', '.join(MODES)}")
    chosen = {job.id for job in report.jobs if job.state in PROBLEM_STATES}
    for job in report.jobs:  # parents come first in a plan
        if job.state == "succeeded":
            continue
        if job.blocked_by in chosen or any(a in chosen for a in job.after):
            chosen.add(job.id)
    return [job.id for job in report.jobs if job.id in chosen]


def select_for_rerun(run_dir: Path, mode: str) -> list[str]:
    """Ids of the jobs of the run at ``run_dir`` to run again (``pargen exec --retry-failed``
    uses mode ``failed``, ``--resume`` mode ``resume``); a run still going is refused."""
    report = load_report(run_dir)
    if report.live:
        raise PargenError(
            f"run {report.run_id} is still running ({run_dir}); wait for it to end "
            "or stop it before running its jobs again"
        )
    return select(report, mode)


def only_value(job_id: str) -> str:
    """A ``--only`` glob that matches exactly ``job_id``: ``*``, ``?`` and ``[`` bracketed."""
    return _GLOB_SPECIAL.sub(r"[\1]", job_id)


def only_command(ids: Iterable[str], root: str = ".") -> str:
    """The shell command line that runs exactly the jobs ``ids`` again."""
    words = ["pargen", "exec"]
    for job_id in ids:
        words += ["--only", only_value(job_id)]
    if root != ".":
        words += ["--", root] if root.startswith("-") else [root]
    return shlex.join(words)
