"""Stop: Ctrl-C (SIGINT to ``pargen exec``'s process group) and SIGTERM to its pid, many times.

Each trial stops a run while two builds hang and a third has already succeeded, then checks
that every stopped Packer got its SIGTERM and finished its clean-up, that no process of the
run is left, the exit code (130), report.json and ``pargen status``, and that
``pargen exec --resume`` builds exactly what was not built, and nothing else. More trials
send SIGTERM just as the run's script starts, before it has started anything.

Trials run two at a time, each with a state directory of its own.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.reliability.common import (
    HANG_ENV,
    hangs_when_told,
    job_numbers,
    job_states,
    kill_processes,
    log_of,
    pargen,
    processes_by_token,
    real_engines,
    recorded_states,
    report,
    run_env,
    run_trials,
    start_exec,
    status,
    trials,
)
from tests.trees import TOKEN_ENV, leftover_processes, read_marks, step, wait_for, write_tree

pytestmark = real_engines()

STOP_TRIALS = trials("PARGEN_STOP_TRIALS", 20)
"""Trials per signal (the issue's 20)."""
EARLY_STOP_TRIALS = trials("PARGEN_EARLY_STOP_TRIALS", 5)
"""Trials per moment of a stop before any build (scripts/reliability runs 20)."""

# r1 and r2 hang until stopped; quick succeeds before the stop; child waits for r1 and r2.
TREE = {
    "a": {"r1": hangs_when_told("r1"), "r2": hangs_when_told("r2")},
    "a/child": {"child": step("child")},
    "b": {"quick": step("quick")},
}
STOPPED = {
    "a:null.r1": "interrupted",
    "a:null.r2": "interrupted",
    "a/child:null.child": "not-run",
    "b:null.quick": "succeeded",
}


def stop_trial(base_env: dict[str, str], home: Path, how: str) -> None:
    root = write_tree(home / "tree", TREE)
    # A state directory of its own: trials run side by side, and every tree is "tree".
    own = {"PARGEN_STATE_DIR": str(home / "state")}
    env = run_env(base_env, home, **own, **{HANG_ENV: "1"})
    resume_env = run_env(base_env, home, **own)
    try:
        run = start_exec(root, env, home / "first", "--jobs", "3", "--grace", "60")
        latest = root / ".pargen" / "runs" / "latest"

        def ready() -> bool:
            if not {"r1", "r2"} <= set(run.marks) or not (latest / "plan.json").exists():
                return False
            return recorded_states(latest).get(job_numbers(latest)["b:null.quick"]) == "succeeded"

        wait_for(ready, "r1 and r2 to run and quick to succeed", timeout=60)
        run_dir = latest.resolve()
        if how == "SIGINT to the process group":
            os.killpg(run.process.pid, signal.SIGINT)
        else:
            run.process.send_signal(signal.SIGTERM)
        code = run.wait(timeout=90)

        assert code == 130, run.stderr
        marks = run.marks
        assert set(marks) == {"r1", "r2", "quick"}, marks  # nothing started after the signal
        assert marks["r1"][0].cleaned and marks["r2"][0].cleaned, marks
        assert leftover_processes(env[TOKEN_ENV]) == []
        document = report(run_dir)
        assert document["outcome"] == "interrupted"
        assert job_states(document) == STOPPED
        for job_id in ("a:null.r1", "a:null.r2"):
            assert "Cancelling build after receiving terminated" in log_of(
                run_dir, document, job_id
            )
        shown = status(env, run_dir)
        assert (shown["live"], job_states(shown)) == (False, STOPPED)

        resumed = pargen(resume_env, "exec", str(root), "--resume", "--jobs", "3")
        assert resumed.returncode == 0, resumed.stderr
        again = report(latest.resolve())
        assert job_states(again) == {
            "a:null.r1": "succeeded",
            "a:null.r2": "succeeded",
            "a/child:null.child": "succeeded",
        }
        counts = {label: len(runs) for label, runs in read_marks(home / "marks").items()}
        assert counts == {"r1": 2, "r2": 2, "quick": 1, "child": 1}
        assert leftover_processes(resume_env[TOKEN_ENV]) == []
    finally:
        kill_processes([env[TOKEN_ENV], resume_env[TOKEN_ENV]])


@pytest.mark.parametrize("how", ["SIGINT to the process group", "SIGTERM to the pid"])
def test_stop_is_graceful_complete_and_resumable(
    tmp_path: Path, script_env: dict[str, str], how: str, request: pytest.FixtureRequest
) -> None:
    run_trials(
        f"Stop: {how}",
        request.node.nodeid,
        STOP_TRIALS,
        lambda number: stop_trial(script_env, tmp_path / f"trial{number}", how),
        workers=2,
    )


def early_stop_trial(base_env: dict[str, str], home: Path, moment: str) -> None:
    root = write_tree(home / "tree", {".": {"a": hangs_when_told("a")}})
    env = run_env(base_env, home, PARGEN_STATE_DIR=str(home / "state"), **{HANG_ENV: "1"})
    run_dir = home / "run"

    def script_runs() -> bool:
        processes = processes_by_token([env[TOKEN_ENV]])[env[TOKEN_ENV]]
        return any("run.sh --run-dir" in process for process in processes)

    try:
        run = start_exec(root, env, home / "out", "--grace", "60", "--run-dir", str(run_dir))
        if moment == "as the script starts":
            wait_for(script_runs, "the script to start", 60)
        else:
            wait_for((run_dir / "state" / "pid").exists, "the script to write its pid", 60)
        run.process.send_signal(signal.SIGTERM)
        code = run.wait(timeout=90)

        assert code == 130, run.stderr
        assert leftover_processes(env[TOKEN_ENV]) == []
        (state,) = job_states(status(env, run_dir)).values()
        assert state in ("not-run", "interrupted"), state
        assert all(runs[0].cleaned for runs in run.marks.values()), run.marks
    finally:
        kill_processes([env[TOKEN_ENV]])


@pytest.mark.parametrize("moment", ["as the script starts", "as it takes the lock"])
def test_a_stop_before_any_build_exits_130(
    tmp_path: Path, script_env: dict[str, str], moment: str, request: pytest.FixtureRequest
) -> None:
    """SIGTERM to pargen exec before its script has started anything: as soon as the
    script's process exists, or as it writes its pid and takes the pipeline lock. Still a
    clean stop with exit 130, nothing left running."""
    run_trials(
        f"Stop: SIGTERM to the pid {moment}",
        request.node.nodeid,
        EARLY_STOP_TRIALS,
        lambda number: early_stop_trial(script_env, tmp_path / f"trial{number}", moment),
        workers=2,
    )
