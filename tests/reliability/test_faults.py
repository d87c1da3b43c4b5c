"""Faults: a Packer build, GNU parallel or ``pargen exec`` killed with -9, and a full disk.

After each fault every planned job is accounted for, in report.json or by ``pargen status``,
with the state its build really reached: nothing is reported built that was not, and no job
that ran is reported as never started. No process of the run is left behind, and the next
run works.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.common import (
    Exec,
    gated,
    job_numbers,
    job_states,
    kill_processes,
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
from tests.trees import TOKEN_ENV, leftover_processes, step, wait_for, write_tree

pytestmark = real_engines()

FAULT_TRIALS = trials("PARGEN_FAULT_TRIALS", 1)
"""Trials per fault (scripts/reliability runs 5)."""


def fault_trials(request: pytest.FixtureRequest, claim: str, trial: Callable[[int], None]) -> None:
    run_trials(f"Faults: {claim}", request.node.nodeid, FAULT_TRIALS, trial)


def own_env(base: dict[str, str], home: Path, **extra: str) -> dict[str, str]:
    """A run's environment with a state directory of its own."""
    return run_env(base, home, PARGEN_STATE_DIR=str(home / "state"), **extra)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def pids_of(run: Exec, text: str) -> list[int]:
    """The run's processes whose command line holds ``text``."""
    entries = processes_by_token([run.token])[run.token]
    return [int(entry.split(":", 1)[0]) for entry in entries if text in entry]


# --- A Packer build killed with -9 -------------------------------------------------------------

KILL_TREE = {"a/child": {"child": step("child")}}


@pytest.mark.parametrize("which", ["the Packer that builds", "the Packer pargen started"])
def test_a_packer_build_killed_with_9(
    tmp_path: Path, script_env: dict[str, str], which: str, request: pytest.FixtureRequest
) -> None:
    """Packer 1.6.6 runs as a wrapper process and the real Packer below it. Killed, the real
    one leaves its plugins and provisioner running (and the wrapper exits 0); the wrapper
    leaves the real one building. Either way the job fails at once, what is left of the
    build gets SIGTERM and cleans up, the jobs after it are skipped, and --retry-failed
    builds them."""

    def trial(number: int) -> None:
        home = tmp_path / f"trial{number}"
        gate = home / "gate"
        tree = {"a": {"victim": gated("victim", gate), "other": step("other")}, **KILL_TREE}
        root = write_tree(home / "tree", tree)
        env = own_env(script_env, home)
        try:
            run = start_exec(root, env, home / "out", "--jobs", "2", "--grace", "60")
            wait_for(lambda: "victim" in run.marks, "the victim's build to start", 60)
            packers = pids_of(run, "-only=null.victim")
            outer = [pid for pid in packers if parent_of(pid) not in packers]
            inner = [pid for pid in packers if parent_of(pid) in packers]
            assert len(outer) == len(inner) == 1, packers
            os.kill((inner if which == "the Packer that builds" else outer)[0], signal.SIGKILL)
            code = run.wait(timeout=90)
            gate.touch()  # from now on the victim builds at once

            assert code == 1, run.stderr
            document = report(root / ".pargen" / "runs" / "latest")
            assert job_states(document) == {
                "a:null.victim": "failed",
                "a:null.other": "succeeded",
                "a/child:null.child": "skipped",
            }
            (child,) = [job for job in document["jobs"] if job["id"] == "a/child:null.child"]
            assert child["blocked_by"] == "a:null.victim"
            assert run.marks["victim"][0].cleaned, run.marks  # the leftovers got SIGTERM
            assert "child" not in run.marks
            assert leftover_processes(env[TOKEN_ENV]) == []

            again = pargen(env, "exec", str(root), "--retry-failed")
            assert again.returncode == 0, again.stderr
            assert job_states(report(root / ".pargen" / "runs" / "latest")) == {
                "a:null.victim": "succeeded",
                "a/child:null.child": "succeeded",
            }
        finally:
            gate.touch()
            kill_processes([env[TOKEN_ENV]])

    fault_trials(request, f"Packer build killed with -9 ({which})", trial)


# --- GNU parallel killed with -9 ---------------------------------------------------------------


def test_gnu_parallel_killed_with_9(
    tmp_path: Path, script_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """Nothing can start without GNU parallel: what it was not running is not run, the
    builds it was running go on to their real end and are recorded, and --resume builds
    the rest."""

    def trial(number: int) -> None:
        home = tmp_path / f"trial{number}"
        gate = home / "gate"
        builds = ("r1", "r2", "r3")
        tree = {"a": {b: gated(b, gate) for b in builds}, "a/child": {"child": step("child")}}
        root = write_tree(home / "tree", tree)
        env = own_env(script_env, home)
        try:
            run = start_exec(root, env, home / "out", "--jobs", "2", "--grace", "60")
            wait_for(lambda: len(run.marks) == 2, "two builds to start", 60)
            running = sorted(run.marks)
            (waiting,) = set(builds) - set(running)
            (engine,) = pids_of(run, "parallel --plain --will-cite --ungroup")
            os.kill(engine, signal.SIGKILL)
            latest = root / ".pargen" / "runs" / "latest"
            number_of = job_numbers(latest)
            wait_for(
                lambda: recorded_states(latest).get(number_of[f"a:null.{waiting}"]) == "not-run",
                "the script to notice that GNU parallel is gone",
                60,
            )
            gate.touch()
            code = run.wait(timeout=90)

            assert code == 1, run.stderr
            expected = {f"a:null.{b}": "succeeded" for b in running}
            expected |= {f"a:null.{waiting}": "not-run", "a/child:null.child": "not-run"}
            assert job_states(report(latest)) == expected
            assert job_states(status(env, latest)) == expected
            assert set(run.marks) == set(running)
            assert all(not r[0].cleaned and r[0].end for r in run.marks.values()), run.marks
            assert "GNU parallel exited before every job ended" in run.stderr
            assert leftover_processes(env[TOKEN_ENV]) == []

            again = pargen(env, "exec", str(root), "--resume")
            assert again.returncode == 0, again.stderr
            assert job_states(report(latest)) == {
                f"a:null.{waiting}": "succeeded",
                "a/child:null.child": "succeeded",
            }
        finally:
            gate.touch()
            kill_processes([env[TOKEN_ENV]])

    fault_trials(request, "GNU parallel killed with -9", trial)


# --- pargen exec killed with -9 ----------------------------------------------------------------


def test_pargen_exec_killed_with_9(
    tmp_path: Path, script_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """The script runs in a session of its own and finishes the run without its supervisor;
    ``pargen status`` shows it running, then every job's result; the next run works."""

    def trial(number: int) -> None:
        home = tmp_path / f"trial{number}"
        gate = home / "gate"
        tree = {"a": {b: gated(b, gate) for b in ("r1", "r2", "r3")}, "a/child": {"c": step("c")}}
        root = write_tree(home / "tree", tree)
        env = own_env(script_env, home)
        try:
            run = start_exec(root, env, home / "out", "--jobs", "2", "--grace", "60")
            wait_for(lambda: len(run.marks) == 2, "two builds to start", 60)
            latest = (root / ".pargen" / "runs" / "latest").resolve()
            os.kill(run.process.pid, signal.SIGKILL)
            assert run.wait(timeout=30) == -signal.SIGKILL

            live = status(env, latest)
            assert live["live"] is True
            assert sorted(job_states(live).values()) == ["running", "running", "waiting", "waiting"]
            gate.touch()
            script_pid = int((latest / "state" / "pid").read_text())
            wait_for(lambda: not Path(f"/proc/{script_pid}").exists(), "the script to end", 90)

            shown = status(env, latest)
            assert (shown["live"], shown["outcome"]) == (False, "succeeded")
            assert set(job_states(shown).values()) == {"succeeded"}
            assert len(shown["jobs"]) == 4
            assert leftover_processes(env[TOKEN_ENV]) == []

            again = pargen(env, "exec", str(root))
            assert again.returncode == 0, again.stderr
        finally:
            gate.touch()
            kill_processes([env[TOKEN_ENV]])

    fault_trials(request, "pargen exec killed with -9", trial)


# --- A full disk -------------------------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Callable[[Path, str], Path]]:
    """Mounts a tmpfs of a given size at a path (root, CAP_SYS_ADMIN), unmounted afterwards."""
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {done.stderr}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte."""
    filler = directory / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(handle, b"\0" * 4096)
        with contextlib.suppress(OSError):
            while True:
                os.write(handle, b"\0")
    finally:
        os.close(handle)
    return filler


# Lines of output far beyond the small disk, when $PARGEN_TEST_NOISY is set.
NOISY = (
    'if [ -n "${PARGEN_TEST_NOISY:-}" ]; then '
    'head -c 1500000 /dev/zero | tr "\\0" x | fold -w 100; fi'
)


def test_a_full_disk_for_the_logs(
    tmp_path: Path,
    script_env: dict[str, str],
    small_disk: Callable[[Path, str], Path],
    request: pytest.FixtureRequest,
) -> None:
    """logs/ on a file system full from the start: no build can be logged, so none can be
    confirmed built; each fails saying why, the jobs after them are skipped, the report is
    complete, and once there is space again --retry-failed builds them in the same place."""

    def trial(number: int) -> None:
        home = tmp_path / f"trial{number}"
        tree = {"a": {"x": step("x"), "y": step("y")}, "a/child": {"child": step("child")}}
        root = write_tree(home / "tree", tree)
        env = own_env(script_env, home)
        run_dir = home / "run"
        filler = fill(small_disk(run_dir / "logs", "256k"))
        try:
            run = start_exec(root, env, home / "out", "--jobs", "2", "--run-dir", str(run_dir))
            code = run.wait(timeout=90)

            assert code == 1, run.stderr
            expected = {"a:null.x": "failed", "a:null.y": "failed", "a/child:null.child": "skipped"}
            assert job_states(report(run_dir)) == expected
            assert job_states(status(env, run_dir)) == expected
            assert set(run.marks) == {"x", "y"}  # both built, and both said so
            for job in ("a:null.x", "a:null.y"):
                assert f"[{job}] pargen: cannot write {run_dir}/logs/" in run.stdout
            assert leftover_processes(env[TOKEN_ENV]) == []

            filler.unlink()
            retry_in_place(env, root, run_dir)
        finally:
            kill_processes([env[TOKEN_ENV]])

    fault_trials(request, "a full disk for the logs (logs/ full from the start)", trial)


def retry_in_place(env: dict[str, str], root: Path, run_dir: Path) -> None:
    """Once the disk has room again, --retry-failed in the same run directory builds the rest."""
    again = pargen(
        env, "exec", str(root), "--retry-failed", "--from-run", str(run_dir),
        "--run-dir", str(run_dir),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert set(job_states(report(run_dir)).values()) == {"succeeded"}


def test_a_disk_that_fills_during_the_run(
    tmp_path: Path,
    script_env: dict[str, str],
    small_disk: Callable[[Path, str], Path],
    request: pytest.FixtureRequest,
) -> None:
    """The whole run directory on a small file system that one build's output fills: the
    run's record is still written (results.tsv, report.json), every job has the state its
    build reached, and after freeing the space --retry-failed builds the rest there."""

    def trial(number: int) -> None:
        home = tmp_path / f"trial{number}"
        tree = {
            "a": {"noisy": step("noisy") + "; " + NOISY, "quiet": step("quiet")},
            "a/child": {"child": step("child")},
            "b": {"b": step("b")},
        }
        root = write_tree(home / "tree", tree)
        env = own_env(script_env, home, PARGEN_TEST_NOISY="1")
        run_dir = small_disk(home / "disk", "512k") / "run"
        try:
            run = start_exec(root, env, home / "out", "--jobs", "2", "--run-dir", str(run_dir))
            code = run.wait(timeout=120)

            assert code == 1, run.stderr
            assert (run_dir / "results.tsv").exists(), run.stderr
            states = job_states(report(run_dir))
            assert job_states(status(env, run_dir)) == states
            assert states["a:null.noisy"] == "failed"
            assert states["a/child:null.child"] == "skipped"
            # Every build that started has its real end: built (and logged) or failed.
            for label, job in (("quiet", "a:null.quiet"), ("b", "b:null.b")):
                assert label in run.marks, run.marks
                assert states[job] in ("succeeded", "failed"), states
            assert "child" not in run.marks
            assert "[a:null.noisy] pargen: cannot write " in run.stdout
            assert leftover_processes(env[TOKEN_ENV]) == []

            for log in (run_dir / "logs").iterdir():
                log.unlink()
            calm = {k: v for k, v in env.items() if k != "PARGEN_TEST_NOISY"}
            retry_in_place(calm, root, run_dir)
        finally:
            kill_processes([env[TOKEN_ENV]])

    fault_trials(request, "a disk that fills during the run (the whole run directory)", trial)
