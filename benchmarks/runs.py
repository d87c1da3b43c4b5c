"""Reading what a run left: GNU parallel's joblog and pargen's run directory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import BenchError


@dataclass(frozen=True)
class JobTime:
    command: str
    start: float
    """Epoch seconds."""
    runtime: float

    @property
    def end(self) -> float:
        return self.start + self.runtime


def read_joblog(path: Path) -> list[JobTime]:
    """The finished jobs of a joblog; a failed one is an error (the benchmark is void)."""
    jobs = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t", 8)
        if len(fields) != 9:
            raise BenchError(f"{path}: unexpected joblog line {line!r}")
        if fields[6] != "0" or fields[7] != "0":
            raise BenchError(f"{path}: job failed: {line!r}")
        jobs.append(JobTime(command=fields[8], start=float(fields[2]), runtime=float(fields[3])))
    return jobs


def makespan(jobs: Iterable[JobTime]) -> float:
    """First start to last end."""
    items = list(jobs)
    if not items:
        raise BenchError("no jobs in the joblog")
    return max(j.end for j in items) - min(j.start for j in items)


@dataclass(frozen=True)
class PargenRun:
    jobs: dict[str, JobTime]
    """Each planned job's line of the joblog, by job id."""
    after: dict[str, tuple[str, ...]]
    """Each job id's prerequisites, parents first."""


def read_run(run_dir: Path) -> PargenRun:
    """The joblog of a pargen run, keyed by job id (its ticks, job number 0, left out)."""
    plan: list[dict[str, Any]] = json.loads((run_dir / "plan.json").read_text())["jobs"]
    ids = {n: job["id"] for n, job in enumerate(plan, start=1)}
    jobs = {}
    for job in read_joblog(run_dir / "joblog"):
        # The command is '"$PARGEN_SELF" __job NUMBER SLOT'.
        words = job.command.split()
        number = int(words[words.index("__job") + 1])
        if number:
            jobs[ids[number]] = job
    if len(jobs) != len(ids):
        raise BenchError(f"{run_dir}: {len(ids)} jobs planned, {len(jobs)} in the joblog")
    return PargenRun(jobs=jobs, after={job["id"]: tuple(job["after"]) for job in plan})


def critical_path(runtimes: Mapping[str, float], after: Mapping[str, Sequence[str]]) -> float:
    """The longest chain of runtimes along prerequisites (``after`` lists parents first)."""
    path: dict[str, float] = {}
    for job, parents in after.items():
        path[job] = runtimes[job] + max((path[p] for p in parents), default=0.0)
    return max(path.values(), default=0.0)


def release_bound(
    runtimes: Mapping[str, float], after: Mapping[str, Sequence[str]], slots: int
) -> float:
    """A lower bound on the makespan at least as tight as max(critical path, work / slots).

    No job starts before its earliest start r (its longest chain of prerequisites), so the
    jobs whose earliest start is r or later need at least their work / slots after r.
    """
    earliest: dict[str, float] = {}
    for job, parents in after.items():
        earliest[job] = max((earliest[p] + runtimes[p] for p in parents), default=0.0)
    bound = critical_path(runtimes, after)
    for r in set(earliest.values()):
        work = sum(runtimes[j] for j, start in earliest.items() if start >= r)
        bound = max(bound, r + work / slots)
    return bound


def levels(after: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each job's depth: 0 without prerequisites, else one more than its deepest one."""
    depth: dict[str, int] = {}
    for job, parents in after.items():
        depth[job] = 1 + max((depth[p] for p in parents), default=-1)
    return depth
