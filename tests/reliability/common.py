"""What the reliability tests share: trial counts, ``pargen exec`` runs in sessions of their
own, builds that wait for a gate, and readers for what a run leaves behind.

Each looping test runs every trial, records how many ran and passed in the file named by
``$PARGEN_RELIABILITY_RECORD`` (for RELIABILITY.md), then fails with every failed trial.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.trees import MARKS_ENV, TOKEN_ENV, Interval, read_joblog, read_marks, step

PARGEN = str(Path(sys.executable).parent / "pargen")
RECORD_ENV = "PARGEN_RELIABILITY_RECORD"


def real_engines(*also: str) -> list[pytest.MarkDecorator]:
    """The marks of a reliability module: slow, and skipped without GNU parallel, Packer and
    the other programs ``also`` names."""
    programs = ("parallel", "packer", *also)
    return [
        pytest.mark.skipif(
            not all(shutil.which(p) for p in programs), reason=f"needs {', '.join(programs)}"
        ),
        pytest.mark.slow,
    ]


HANG_ENV = "PARGEN_TEST_HANG"
"""Set for a run whose :func:`hangs_when_told` builds must hang until stopped."""


def trials(variable: str, default: int) -> int:
    """The trial count ``$variable`` asks for (at least 1), or ``default``."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{variable}={text!r}: give a whole number of trials, 1 or more")
    return int(text)


def record(claim: str, test: str, ran: int, passed: int, **detail: Any) -> None:
    """One line of figures for RELIABILITY.md, when scripts/reliability asks for them."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    line = {"claim": claim, "test": test, "trials": ran, "passed": passed, **detail}
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def run_trials(
    claim: str,
    test: str,
    count: int,
    trial: Callable[[int], None],
    *,
    workers: int = 1,
    **detail: Any,
) -> None:
    """Run ``trial(0..count-1)``, ``workers`` at a time; record; fail with every failure."""

    def outcome(number: int) -> str | None:
        try:
            trial(number)
        except Exception as err:
            return f"trial {number}: {type(err).__name__}: {err}"
        return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        failures = [f for f in pool.map(outcome, range(count)) if f is not None]
    record(claim, test, count, count - len(failures), **detail)
    assert not failures, f"{len(failures)} of {count} trials failed:\n" + "\n\n".join(failures)


# --- Builds ------------------------------------------------------------------------------------


def _mark(label: str, kind: str) -> str:
    return f'echo "{label} {kind} $(date +%s.%N)" >>"${MARKS_ENV}"'


def gated(label: str, gate: Path, cleanup: float = 0.2) -> str:
    """A step (see ``trees.step``) that runs until the file ``gate`` exists; SIGTERM makes it
    spend ``cleanup`` seconds cleaning up, record "cleaned" and exit 1, as Packer would."""
    return "; ".join(
        [
            f"trap 'sleep {cleanup}; {_mark(label, 'cleaned')}; exit 1' TERM",
            _mark(label, "start"),
            # In the background, so that the shell runs its trap as soon as SIGTERM comes.
            f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.05; done & wait",
            _mark(label, "end"),
        ]
    )


def hangs_when_told(label: str, cleanup: float = 0.2) -> str:
    """A step that hangs until stopped when ``$PARGEN_TEST_HANG`` is set, and is quick
    otherwise: the same tree serves the run that is stopped and the run that resumes it."""
    hang = step(label, hang=True, cleanup=cleanup)
    return f'if [ -n "${{{HANG_ENV}:-}}" ]; then {hang}; else {step(label)}; fi'


# --- Runs --------------------------------------------------------------------------------------


@dataclass
class Exec:
    """A ``pargen exec`` in a session of its own, its output in files (never a full pipe)."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    output: Path

    @property
    def token(self) -> str:
        return self.env[TOKEN_ENV]

    @property
    def marks(self) -> dict[str, list[Interval]]:
        return read_marks(Path(self.env[MARKS_ENV]))

    @property
    def stdout(self) -> str:
        return (self.output / "stdout").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.output / "stderr").read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = 120) -> int:
        return self.process.wait(timeout=timeout)


def run_env(base: Mapping[str, str], home: Path, **extra: str) -> dict[str, str]:
    """``base`` (the ``script_env`` fixture) with a token and a marks file of its own."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**base, TOKEN_ENV: uuid.uuid4().hex, MARKS_ENV: str(home / "marks"), **extra}
    return env


def start_exec(root: Path, env: dict[str, str], output: Path, *options: str) -> Exec:
    output.mkdir(parents=True, exist_ok=True)
    with (output / "stdout").open("wb") as out, (output / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [PARGEN, "exec", str(root), *options],
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Exec(process, env, output)


def pargen(
    env: Mapping[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """The pargen command, as a user runs it."""
    return subprocess.run(
        [PARGEN, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def kill_processes(tokens: Iterable[str]) -> None:
    """SIGKILL every process a failed trial left behind (each one this test started)."""
    for entries in processes_by_token(tokens).values():
        for entry in entries:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.split(":", 1)[0]), signal.SIGKILL)


def processes_by_token(tokens: Iterable[str]) -> dict[str, list[str]]:
    """Token -> the live processes whose environment holds it ("pid: command line" each),
    in one pass over /proc."""
    wanted = {token: token.encode() for token in tokens}
    found: dict[str, list[str]] = {token: [] for token in wanted}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            holders = [t for t, needle in wanted.items() if needle in environ]
            if not holders:
                continue
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for token in holders:
            found[token].append(f"{proc.name}: {cmdline}")
    return found


# --- What a run leaves -------------------------------------------------------------------------


def job_numbers(run_dir: Path) -> dict[str, int]:
    """Job id -> the script's job number, from the run's plan.json."""
    plan = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))
    return {job["id"]: number for number, job in enumerate(plan["jobs"], start=1)}


def recorded_states(run_dir: Path) -> dict[int, str]:
    """Job number -> the final state events.log holds for it so far."""
    finals = {"succeeded", "failed", "skipped", "interrupted", "not-run", "lost"}
    states: dict[int, str] = {}
    try:
        text = (run_dir / "events.log").read_text(encoding="utf-8")
    except FileNotFoundError:
        return states
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] in finals and fields[2].isdigit():
            states[int(fields[2])] = fields[1]
    return states


def report(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return data


def status(env: Mapping[str, str], run_dir: Path) -> dict[str, Any]:
    """``pargen status RUN --format json``, which works from the run directory alone."""
    done = pargen(env, "status", str(run_dir), "--format", "json")
    data: dict[str, Any] = json.loads(done.stdout)
    # It exits with the run's own code: 75 while it runs.
    assert done.returncode == STATUS_CODES[data["outcome"]], done.stderr
    return data


STATUS_CODES = {"succeeded": 0, "failed": 1, "interrupted": 130, "running": 75}


def job_states(document: Mapping[str, Any]) -> dict[str, str]:
    """Job id -> state, from report.json or ``pargen status --format json``."""
    return {job["id"]: job["state"] for job in document["jobs"]}


def joblog_span(run_dir: Path) -> Interval | None:
    """From the first start to the last end of the builds in the run's joblog (ticks left
    out), or None when it ran none."""
    if not (run_dir / "joblog").exists():
        return None
    builds = [line for line in read_joblog(run_dir) if " __job 0 " not in line.command]
    if not builds:
        return None
    return Interval(
        min(line.start for line in builds), max(line.start + line.runtime for line in builds)
    )


def log_of(run_dir: Path, document: Mapping[str, Any], job_id: str) -> str:
    """The log of ``job_id``, as report.json or ``pargen status`` names it."""
    (job,) = [job for job in document["jobs"] if job["id"] == job_id]
    assert job["log"], f"{job_id} has no log"
    return (run_dir / job["log"]).read_text(encoding="utf-8", errors="replace")
