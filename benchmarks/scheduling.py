"""Scheduling: pargen's makespan against its lower bound and against level-by-level runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import Figure, Section, Settings, median, run, seconds
from benchmarks.runs import (
    critical_path,
    levels,
    makespan,
    read_joblog,
    read_run,
    release_bound,
)
from benchmarks.trees import BARE_JOB, Tree, bare_parallel, job_table, make_tree, plan_jobs

SLOTS = 3


@dataclass(frozen=True)
class Measured:
    makespan: float
    critical_path: float
    work: float
    release_bound: float
    wall: float

    @property
    def lower_bound(self) -> float:
        return max(self.critical_path, self.work / SLOTS)


def benchmark(settings: Settings) -> Section:
    shapes = ["skewed"] if settings.quick else ["skewed", "wide", "chain-fan"]
    section = Section(f"Scheduling makespan ({SLOTS} slots)")
    section.notes += [
        "Makespan is first start to last end in the joblog; the lower bound is "
        "max(critical path, total work / slots) over each job's runtime measured in the same "
        "pargen run. For a fan wider than the slots below a chain that bound is loose; the "
        "detail column also gives the ratio to a tighter bound: the largest, over every job's "
        "earliest possible start r, of r + (work of the jobs that cannot start before r) / "
        "slots.",
        "Each tree is first run once unmeasured, so pargen knows its jobs' durations from an "
        "earlier run (.pargen/history.json), as on every run after the first.",
        "Level by level: GNU parallel runs every job of depth 0, then of depth 1, and so on, "
        f"each job as `{BARE_JOB}`; its makespan is taken from its joblogs the same way.",
    ]
    for shape in shapes:
        tree = make_tree(settings, f"sched-{shape}", f"--shape={shape}", "--seed=1")
        section.trees.append(tree.command)
        section.figures += _shape(settings, shape, tree)
    return section


def _exec_command(settings: Settings, tree: Tree) -> list[str]:
    return [settings.pargen, "exec", str(tree.path), "--jobs", str(SLOTS)]


def _shape(settings: Settings, shape: str, tree: Tree) -> list[Figure]:
    jobs = plan_jobs(settings, tree)
    depth = levels({j["id"]: j["after"] for j in jobs})
    waves = [[j for j in jobs if depth[j["id"]] == d] for d in range(max(depth.values()) + 1)]
    ours: list[Measured] = []
    theirs: list[float] = []
    theirs_wall: list[float] = []
    run(settings, _exec_command(settings, tree))
    for _ in range(settings.reps):
        ours.append(_pargen(settings, tree))
        span, wall = _waves(settings, tree, waves)
        theirs.append(span)
        theirs_wall.append(wall)
    exec_shown = settings.show(_exec_command(settings, tree), tree.names)
    ms = median(m.makespan for m in ours)
    return [
        Figure(
            name=f"{shape}: pargen makespan / lower bound",
            value=median(m.makespan / m.lower_bound for m in ours),
            target=1.10,
            goal="at most",
            unit="ratio",
            detail=f"{len(jobs)} jobs; makespan {seconds(ms)}, lower bound "
            f"{seconds(median(m.lower_bound for m in ours))} (critical path "
            f"{seconds(median(m.critical_path for m in ours))}, work "
            f"{seconds(median(m.work for m in ours))} / {SLOTS}); against the tighter "
            f"bound that also counts the work that cannot start before each earliest start "
            f"({seconds(median(m.release_bound for m in ours))}): "
            f"{median(m.makespan / m.release_bound for m in ours):.2f}",
            command=exec_shown,
        ),
        Figure(
            name=f"{shape}: pargen / level-by-level parallel makespan",
            value=median(m.makespan / t for m, t in zip(ours, theirs, strict=True)),
            target=0.85,
            goal="at most",
            unit="ratio",
            detail=f"makespan {seconds(ms)} vs {seconds(median(theirs))}; whole commands "
            f"{seconds(median(m.wall for m in ours))} vs {seconds(median(theirs_wall))}",
            command=f"{exec_shown}  vs  for each depth: parallel --jobs {SLOTS} "
            f"--colsep '\\t' '{BARE_JOB}' :::: <jobs of that depth>",
        ),
    ]


def _pargen(settings: Settings, tree: Tree) -> Measured:
    wall = run(settings, _exec_command(settings, tree)).wall
    result = read_run((tree.path / ".pargen" / "runs" / "latest").resolve())
    runtimes = {job_id: job.runtime for job_id, job in result.jobs.items()}
    return Measured(
        makespan=makespan(result.jobs.values()),
        critical_path=critical_path(runtimes, result.after),
        work=sum(runtimes.values()),
        release_bound=release_bound(runtimes, result.after, SLOTS),
        wall=wall,
    )


def _waves(
    settings: Settings, tree: Tree, waves: list[list[dict[str, Any]]]
) -> tuple[float, float]:
    """Makespan from the joblogs, and wall time, of the level-by-level run."""
    scratch = settings.work / f"{tree.name}-waves"
    scratch.mkdir(exist_ok=True)
    joblogs: list[Path] = []
    wall = 0.0
    for depth, wave in enumerate(waves):
        table = scratch / f"depth-{depth}.tsv"
        table.write_text(job_table(wave), encoding="utf-8")
        joblog = scratch / f"depth-{depth}.joblog"
        joblog.unlink(missing_ok=True)
        joblogs.append(joblog)
        command = bare_parallel(settings.parallel, SLOTS, table, "--joblog", str(joblog))
        wall += run(settings, command, cwd=tree.path).wall
    return makespan(j for log in joblogs for j in read_joblog(log)), wall
