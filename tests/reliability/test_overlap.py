"""Overlap: many ``pargen exec`` started at once on one pipeline id, for each --on-overlap policy.

Every run's builds wait for a gate, which opens only once every run has either taken the
lock (its builds running), queued for it, or given up. From then on each run finishes in
turn. Whatever the policy, no two runs ever ran at once: the spans of their joblogs (and of
the builds' own records, clean-up included) never overlap. ``fail`` runs exit 4 naming the
holder; ``cancel`` stops the older run gracefully before the newer one starts.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.reliability.common import (
    Exec,
    gated,
    job_states,
    joblog_span,
    kill_processes,
    log_of,
    processes_by_token,
    real_engines,
    record,
    report,
    run_env,
    start_exec,
    trials,
)
from tests.trees import Interval, max_concurrency, wait_for, write_tree

pytestmark = real_engines()

OVERLAP_RUNS = trials("PARGEN_OVERLAP_RUNS", 10)
"""Runs started at once per policy (the issue's 10)."""
PIPELINE = "reliability-overlap"
JOBS = ("a", "b")


def settled(runs: list[Exec]) -> bool:
    """Every run has exited, waits for the lock (its flock runs), or holds it with its builds
    running: no run will touch the lock again before the gate opens."""
    processes = processes_by_token(run.token for run in runs)
    for run in runs:
        if run.process.poll() is not None:
            continue
        commands = [entry.split(": ", 1)[1].split() for entry in processes[run.token]]
        if ["flock", "9"] in commands:
            continue
        if not builds_running(run):
            return False
    return True


def builds_running(run: Exec) -> bool:
    return set(JOBS) <= set(run.marks)


def build_span(run: Exec) -> Interval | None:
    """From the first build's start to the last build's end or clean-up, as they recorded."""
    intervals = [i for runs in run.marks.values() for i in runs]
    if not intervals:
        return None
    assert all(i.end is not None for i in intervals), run.marks
    return Interval(min(i.start for i in intervals), max(i.ended for i in intervals))


@pytest.mark.parametrize(
    ("policy", "start"),
    [("wait", "together"), ("fail", "together"), ("cancel", "together"), ("cancel", "in turn")],
)
def test_runs_of_one_pipeline_never_overlap(
    tmp_path: Path,
    script_env: dict[str, str],
    policy: str,
    start: str,
    request: pytest.FixtureRequest,
) -> None:
    """``together``: every run starts at once. ``in turn``: each starts once the one before
    has its builds running, so that each newer run cancels an older one mid-build."""
    gate = tmp_path / "gate"
    root = write_tree(tmp_path / "tree", {".": {job: gated(job, gate) for job in JOBS}})
    options = ("--pipeline-id", PIPELINE, "--on-overlap", policy, "--jobs", "2", "--grace", "60")
    runs: list[Exec] = []
    try:
        for number in range(OVERLAP_RUNS):
            home = tmp_path / f"run{number}"
            env = run_env(script_env, home)
            runs.append(start_exec(root, env, home, *options, "--run-dir", str(home / "run")))
            if start == "in turn":
                wait_for(partial(builds_running, runs[-1]), f"run{number}'s builds", 120)
        wait_for(lambda: settled(runs), "every run to hold, queue for or give up the lock", 180)
        gate.touch()
        codes = [run.wait(timeout=180) for run in runs]
    finally:
        gate.touch()
        kill_processes(run.token for run in runs)

    holder = None
    if policy == "fail" and 0 in codes:
        holder = (runs[codes.index(0)].output / "run" / "state" / "pid").read_text().strip()
    problems, failed = [], set()
    for n, run in enumerate(runs):
        for problem in check(policy, run, codes[n], holder):
            problems.append(f"run{n}: {problem}")
            failed.add(n)
    spans = [(n, joblog_span(run.output / "run")) for n, run in enumerate(runs)]
    ran = [(n, span) for n, span in spans if span is not None]
    for n, span in ran:
        for m, other in ran:
            if n < m and span.overlaps(other):
                problems.append(f"run{n} and run{m} overlap in their joblogs: {span}, {other}")
                failed |= {n, m}
    # What only the whole round shows fails every run of it.
    round_problems = []
    builds = [span for span in map(build_span, runs) if span is not None]
    if max_concurrency(builds) > 1:
        round_problems.append(f"the builds of two runs overlapped: {sorted(builds, key=str)}")
    expected = {
        ("wait", "together"): [0] * OVERLAP_RUNS,
        ("fail", "together"): [0] + [4] * (OVERLAP_RUNS - 1),
        # Each run but the last is cancelled by the next one, with its builds running.
        ("cancel", "in turn"): [130] * (OVERLAP_RUNS - 1) + [0],
    }.get((policy, start))
    in_order = codes if start == "in turn" else sorted(codes)
    if expected is not None and in_order != expected:
        round_problems.append(f"{policy}: expected exit codes {expected}, got {codes}")
    if policy == "cancel" and not (0 in codes and 130 in codes):
        round_problems.append(f"cancel: expected runs cancelled (130) and one built (0): {codes}")
    if policy == "wait":
        waited = sum(1 for run in runs if "; waiting for it (--on-overlap wait)" in run.stderr)
        if waited != OVERLAP_RUNS - 1:
            round_problems.append(f"wait: {waited} runs waited, not {OVERLAP_RUNS - 1}")
    if round_problems:
        failed = set(range(OVERLAP_RUNS))
    problems += round_problems

    record(
        f"Overlap: --on-overlap {policy}, runs started {start}",
        request.node.nodeid,
        OVERLAP_RUNS,
        OVERLAP_RUNS - len(failed),
        codes=sorted(codes),
    )
    assert not problems, "\n".join(problems)


def check(policy: str, run: Exec, code: int, holder: str | None) -> list[str]:
    """What is wrong with one run, given the policy, its exit code and, under ``fail``, the
    pid of the script that held the lock."""
    run_dir = run.output / "run"
    stderr = run.stderr
    if code == 0:
        states = job_states(report(run_dir))
        if set(states.values()) != {"succeeded"}:
            return [f"exit 0 but {states}"]
        return []
    if policy == "fail" and code == 4:
        named = f"pargen: error: pipeline '{PIPELINE}' is busy: pid={holder} "
        if named not in stderr:
            return [f"exit 4 without naming the holder:\n{stderr}"]
        if run.marks:
            return [f"exit 4 after building: {run.marks}"]
        return []
    if policy == "cancel" and code == 130:
        # Cancelled by a newer run: its builds, if they started, were stopped gracefully.
        if not run.marks:
            return []
        document = report(run_dir)
        problems = []
        for job in JOBS:
            intervals = run.marks.get(job, [])
            if not (intervals and intervals[0].cleaned):
                problems.append(f"{job} was not stopped gracefully: {intervals}")
            elif job_states(document)[f".:null.{job}"] != "interrupted":
                problems.append(f"{job} is {job_states(document)} after a cancel")
            elif "Cancelling build after receiving terminated" not in log_of(
                run_dir, document, f".:null.{job}"
            ):
                problems.append(f"{job}: Packer did not get its SIGTERM")
        return problems
    return [f"exit {code} under --on-overlap {policy}:\n{stderr}"]
