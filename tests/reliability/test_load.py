"""Load: a tree of 500 real Packer builds at ``--jobs 8`` on a small machine completes, with
every job accounted for once everywhere a run records it, the slot limit held and the
image hierarchy respected (from the recorded timestamps)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.common import (
    job_numbers,
    job_states,
    pargen,
    real_engines,
    record,
    report,
    run_env,
    trials,
)
from tests.trees import (
    TOKEN_ENV,
    event_intervals,
    leftover_processes,
    max_concurrency,
    read_events,
    read_joblog,
    read_marks,
    step,
    write_tree,
)

pytestmark = real_engines()

LOAD_JOBS = trials("PARGEN_LOAD_JOBS", 500)
SLOTS = 8
PER_TEMPLATE = 10
TOP = 10
"""Templates at the top; every other one is nested in one of them (two levels)."""


def load_tree(jobs: int) -> dict[str, dict[str, str]]:
    tree: dict[str, dict[str, str]] = {}
    for t in range((jobs + PER_TEMPLATE - 1) // PER_TEMPLATE):
        path = f"t{t}" if t < TOP else f"t{t % TOP}/s{t}"
        count = min(PER_TEMPLATE, jobs - t * PER_TEMPLATE)
        tree[path] = {f"j{t}_{k}": step(f"j{t}_{k}") for k in range(count)}
    return tree


def test_a_large_tree_completes_with_every_job_accounted_for(
    tmp_path: Path, script_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    tree = load_tree(LOAD_JOBS)
    root = write_tree(tmp_path / "tree", tree)
    env = run_env(script_env, tmp_path)
    run_dir = tmp_path / "run"
    done = pargen(
        env, "exec", str(root), "--jobs", str(SLOTS), "--quiet", "--run-dir", str(run_dir),
        timeout=900,
    )  # fmt: skip
    problems = []
    if done.returncode != 0:
        problems.append(f"exit {done.returncode}:\n{done.stderr[-3000:]}")
    else:
        problems += accounting_problems(tree, run_dir, tmp_path / "marks")
    if leftover_processes(env[TOKEN_ENV]):
        problems.append(f"processes left: {leftover_processes(env[TOKEN_ENV])}")
    record(
        f"Load: {LOAD_JOBS} jobs at --jobs {SLOTS}",
        request.node.nodeid,
        1,
        0 if problems else 1,
        jobs=LOAD_JOBS,
        cores=os.cpu_count(),
    )
    assert not problems, "\n".join(problems)


def accounting_problems(
    tree: dict[str, dict[str, str]], run_dir: Path, marks_file: Path
) -> list[str]:
    problems = []
    ids = {f"{path}:null.{name}" for path, builds in tree.items() for name in builds}
    document = report(run_dir)
    if job_states(document) != dict.fromkeys(ids, "succeeded"):
        problems.append(f"report.json: {document['totals']}")
    numbers = set(job_numbers(run_dir).values())
    logged = [int(line.command.split()[2]) for line in read_joblog(run_dir)]
    builds = [n for n in logged if n]  # 0 is a tick
    if sorted(builds) != sorted(numbers):
        problems.append(f"joblog: {len(builds)} build lines for {len(numbers)} jobs")
    events = read_events(run_dir)
    for kind in ("start", "end", "succeeded"):
        seen = sorted(e.number for e in events if e.kind == kind)
        if seen != sorted(numbers):
            problems.append(f"events.log: {len(seen)} '{kind}' events for {len(numbers)} jobs")
    marks = read_marks(marks_file)
    if {label: len(runs) for label, runs in marks.items()} != {
        name: 1 for builds in tree.values() for name in builds
    }:
        problems.append("a build did not run exactly once")
        return problems
    peak = max_concurrency(i for attempts in event_intervals(run_dir).values() for i in attempts)
    if peak > SLOTS:
        problems.append(f"{peak} jobs ran at once with --jobs {SLOTS}")
    for path, builds in tree.items():
        if "/" not in path:
            continue
        parent = path.split("/")[0]
        last_parent_end = max(marks[name][0].ended for name in tree[parent])
        first_start = min(marks[name][0].start for name in builds)
        if first_start <= last_parent_end:
            problems.append(f"{path} started before {parent} had finished")
    return problems
