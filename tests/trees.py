"""Template trees of real ``null`` builds for script tests, and readers for what a run leaves.

A tree is a dict: template directory (relative to ROOT, '.' for ROOT) -> {local build name:
shell command of its ``shell-local`` provisioner}. Commands made by :func:`step` append
"<label> start|end|cleaned <epoch seconds>" lines to the file named by ``$PARGEN_TEST_MARKS``,
so a test can check order and overlap from what the builds themselves recorded.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pargen.cli import cli

MARKS_ENV = "PARGEN_TEST_MARKS"
TOKEN_ENV = "PARGEN_TEST_TOKEN"
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

Tree = Mapping[str, Mapping[str, str]]

NEEDS_ENGINES = pytest.mark.skipif(
    not (shutil.which("parallel") and shutil.which("packer")),
    reason="needs GNU parallel and Packer",
)
"""The mark of modules that run real builds."""


# --- Writing trees -------------------------------------------------------------------------


def hcl_string(text: str) -> str:
    """``text`` as an HCL quoted string literal (no interpolation, no directives)."""
    escaped = json.dumps(text, ensure_ascii=False)
    return escaped.replace("${", "$${").replace("%{", "%%{")


def step(
    label: str,
    *,
    sleep: float = 0,
    fail: bool = False,
    hang: bool = False,
    cleanup: float | None = None,
) -> str:
    """A provisioner command that records its start and end under ``label`` (a plain word).

    ``hang`` waits until it is stopped; ``cleanup`` traps SIGTERM, spends that many seconds
    "cleaning up", records "<label> cleaned <time>" and exits 1, as Packer cleanup would.
    """
    assert re.fullmatch(r"[\w.-]+", label), label
    mark = f'>>"${MARKS_ENV}"'
    parts = []
    if cleanup is not None:
        parts.append(
            f"trap 'sleep {cleanup}; echo \"{label} cleaned $(date +%s.%N)\" {mark}; exit 1' TERM"
        )
    parts.append(f'echo "{label} start $(date +%s.%N)" {mark}')
    if sleep:
        parts.append(f"sleep {sleep}")
    if hang:
        # In the background so that the shell runs its trap as soon as SIGTERM comes; an odd
        # length so that nobody else's clean-up mistakes it for theirs.
        parts.append("sleep 7777 & wait")
    parts.append(f'echo "{label} end $(date +%s.%N)" {mark}')
    if fail:
        parts.append("exit 1")
    return "; ".join(parts)


def once_started(label: str, limit: float = 20) -> str:
    """A shell command that waits until the step ``label`` (in another build) has started, or
    ``limit`` seconds have passed: an order the scheduler should allow, without hanging a test
    when it does not."""
    rounds = round(limit / 0.05)
    return (
        f'i=0; until grep -q "^{label} start" "${MARKS_ENV}" 2>/dev/null || [ $i -ge {rounds} ]; '
        "do sleep 0.05; i=$((i + 1)); done"
    )


def null_template(
    builds: Mapping[str, str], *, build_name: str | None = None, required_plugins: bool = False
) -> str:
    """One ``build`` of ``null`` sources, one ``shell-local`` provisioner per build name.

    Names that are identifiers get a ``source`` block of their own; any other name (spaces,
    quotes, globs...) is a nested ``source`` block with ``name`` set, as Packer allows.
    """
    lines: list[str] = []
    if required_plugins:
        lines += [
            "packer {",
            "  required_plugins {",
            '    docker = { version = ">= 0.0.7", source = "github.com/hashicorp/docker" }',
            "  }",
            "}",
        ]
    listed = [name for name in builds if _IDENTIFIER.fullmatch(name)]
    nested = [name for name in builds if not _IDENTIFIER.fullmatch(name)]
    lines += [f'source "null" {hcl_string(name)} {{ communicator = "none" }}' for name in listed]
    if nested:
        lines.append('source "null" "pargen_test_base" { communicator = "none" }')
    lines.append("build {")
    if build_name is not None:
        lines.append(f"  name = {hcl_string(build_name)}")
    if listed:
        lines.append("  sources = [" + ", ".join(f'"source.null.{n}"' for n in listed) + "]")
    for name in nested:
        lines += [
            '  source "source.null.pargen_test_base" {',
            f"    name = {hcl_string(name)}",
            "  }",
        ]
    for name, command in builds.items():
        lines += [
            '  provisioner "shell-local" {',
            f"    only = [{hcl_string('null.' + name)}]",
            f"    inline = [{hcl_string(command)}]",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_tree(
    root: Path, tree: Tree, *, build_name: str | None = None, required_plugins: bool = False
) -> Path:
    """One ``build.pkr.hcl`` per directory of ``tree`` under ``root``."""
    for rel, builds in tree.items():
        directory = root / rel
        directory.mkdir(parents=True, exist_ok=True)
        text = null_template(builds, build_name=build_name, required_plugins=required_plugins)
        (directory / "build.pkr.hcl").write_text(text, encoding="utf-8")
    return root


# --- Rendering and running -------------------------------------------------------------------


def pargen(*args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def render(root: Path, script: Path, *options: str) -> Path:
    code, out, err = pargen("render", str(root), "-o", str(script), *options)
    assert code == 0, out + err
    return script


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


def run_script(
    script: Path, run_dir: Path, env: Mapping[str, str], timeout: float = 90
) -> Finished:
    done = subprocess.run(
        [str(script), "--run-dir", str(run_dir)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


def start_script(script: Path, run_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """The script in a process group of its own, as a shell would start it."""
    return subprocess.Popen(
        [str(script), "--run-dir", str(run_dir)],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def interrupt(process: subprocess.Popen[str], how: str) -> None:
    """Ctrl-C at a terminal ("group": SIGINT to the process group) or SIGTERM to the pid."""
    if how == "group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)


# --- Reading what a run leaves ---------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    start: float
    end: float | None
    """When the step ended or finished its cleanup; None while it runs."""
    cleaned: bool = False
    """It ended by its SIGTERM trap."""

    @property
    def ended(self) -> float:
        assert self.end is not None, "the step has not ended"
        return self.end

    def overlaps(self, other: Interval) -> bool:
        end = self.end if self.end is not None else float("inf")
        other_end = other.end if other.end is not None else float("inf")
        return self.start < other_end and other.start < end


def read_marks(path: Path) -> dict[str, list[Interval]]:
    """Label -> one interval per time its step ran, in start order."""
    marks: dict[str, list[Interval]] = {}
    if not path.exists():
        return marks
    for line in path.read_text(encoding="utf-8").splitlines():
        label, kind, stamp = line.split()
        runs = marks.setdefault(label, [])
        if kind == "start":
            runs.append(Interval(float(stamp), None))
        else:  # "end" or "cleaned" closes the latest run
            assert runs and runs[-1].end is None, f"{label} {kind} without a start"
            runs[-1] = Interval(runs[-1].start, float(stamp), cleaned=kind == "cleaned")
    return marks


def max_concurrency(intervals: Iterable[Interval]) -> int:
    points: list[tuple[float, int]] = []
    for interval in intervals:
        assert interval.end is not None, interval
        # At equal times an end comes first: touching intervals do not overlap.
        points += [(interval.start, 1), (interval.end, -1)]
    running = peak = 0
    for _, change in sorted(points):
        running += change
        peak = max(peak, running)
    return peak


def script_jobs(script: Path) -> dict[int, str]:
    """Job number -> job id, from the job table of a rendered script (ids may hold newlines)."""
    jobs: dict[int, str] = {}
    pending = ""
    for line in script.read_text(encoding="utf-8").splitlines(keepends=True):
        if not pending and not re.match(r"job \d+ ", line):
            continue
        pending += line
        try:
            words = shlex.split(pending)
        except ValueError:  # a quoted newline: the entry goes on
            continue
        jobs[int(words[1])] = words[2]
        pending = ""
    return jobs


@dataclass(frozen=True)
class Result:
    number: int
    state: str
    exit: str
    attempts: int
    blocked_by: str
    start_us: int | None
    end_us: int | None


def read_results(run_dir: Path, script: Path) -> dict[str, Result]:
    """Job id -> its row in results.tsv."""
    ids = script_jobs(script)
    lines = (run_dir / "results.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "number\tstate\texit\tattempts\tblocked_by\tstart_us\tend_us"
    results: dict[str, Result] = {}
    for line in lines[1:]:
        number, state, code, attempts, blocked, start, end = line.split("\t")
        results[ids[int(number)]] = Result(
            int(number),
            state,
            code,
            int(attempts),
            blocked,
            int(start) if start else None,
            int(end) if end else None,
        )
    assert len(results) == len(ids)
    return results


def states(run_dir: Path, script: Path) -> dict[str, str]:
    return {job: r.state for job, r in read_results(run_dir, script).items()}


@dataclass(frozen=True)
class Event:
    time_us: int
    kind: str
    number: int
    fields: tuple[str, ...]


def read_events(run_dir: Path) -> list[Event]:
    events = []
    for line in (run_dir / "events.log").read_text(encoding="utf-8").splitlines():
        stamp, kind, number, *fields = line.split(" ")
        events.append(Event(int(stamp), kind, int(number), tuple(fields)))
    return events


def event_intervals(run_dir: Path) -> dict[int, list[Interval]]:
    """Job number -> one interval per attempt, from the start/end events the jobs wrote."""
    intervals: dict[int, list[Interval]] = {}
    open_at: dict[int, float] = {}
    for event in read_events(run_dir):
        if event.kind == "start":
            open_at[event.number] = event.time_us / 1e6
        elif event.kind == "end" and event.number in open_at:
            start = open_at.pop(event.number)
            intervals.setdefault(event.number, []).append(Interval(start, event.time_us / 1e6))
    for number, start in open_at.items():
        intervals.setdefault(number, []).append(Interval(start, None))
    return intervals


@dataclass(frozen=True)
class JoblogLine:
    seq: int
    start: float
    runtime: float
    exitval: int
    signal: int
    command: str


def read_joblog(run_dir: Path) -> list[JoblogLine]:
    lines = (run_dir / "joblog").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:4] == ["Seq", "Host", "Starttime", "JobRuntime"]
    rows = []
    for line in lines[1:]:
        seq, _host, start, runtime, _send, _receive, exitval, sig, command = line.split("\t", 8)
        rows.append(
            JoblogLine(int(seq), float(start), float(runtime), int(exitval), int(sig), command)
        )
    return rows


def processes_with(token: str) -> list[str]:
    """Live processes whose environment holds ``token``: "pid: command line" each."""
    found = []
    needle = token.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle not in (proc / "environ").read_bytes():
                continue
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append(f"{proc.name}: {cmdline}")
    return found


def has_process(token: str, text: str) -> bool:
    """Whether a process of the run tagged ``token`` has ``text`` in its command line."""
    return any(text in process for process in processes_with(token))


def leftover_processes(token: str, settle: float = 1) -> list[str]:
    """Processes of a run still alive ``settle`` seconds after it ended (exiting ones vanish)."""
    deadline = time.monotonic() + settle
    while True:
        found = processes_with(token)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def files_named(root: Path, name: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.name == name]
