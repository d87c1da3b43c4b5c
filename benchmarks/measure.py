"""What every benchmark shares: settings, figures, and running a timed child process."""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """A benchmark could not measure: a command failed or its output made no sense."""


@dataclass(frozen=True)
class Settings:
    quick: bool
    work: Path
    """Scratch directory for trees and logs, removed at the end."""
    env: Mapping[str, str]
    pargen: str
    parallel: str
    packer: str

    @property
    def reps(self) -> int:
        return 3 if self.quick else 5

    @property
    def log(self) -> Path:
        return self.work / "commands.log"

    def show(self, command: Sequence[str], names: Mapping[str, str] | None = None) -> str:
        """The command as a person would type it: tools by name, scratch paths shortened."""
        tools = {self.pargen: "pargen", self.parallel: "parallel", self.packer: "packer"}
        return show(command, tools | dict(names or {}))


def make_settings(quick: bool, work: Path) -> Settings:
    # $PARALLEL injects options; without bytecode files every pargen start would compile
    # pargen again, which no installed copy does.
    dropped = {"PARALLEL", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {
        "CHECKPOINT_DISABLE": "1",  # Packer's version check would reach for the network
        "PARGEN_STATE_DIR": str(work / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),  # bytecode outside the repository
    }
    beside_python = Path(sys.executable).parent / "pargen"
    return Settings(
        quick=quick,
        work=work,
        env=env,
        pargen=str(beside_python) if beside_python.exists() else require("pargen"),
        parallel=require("parallel"),
        packer=require("packer"),
    )


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BenchError(f"{tool} not found on PATH: run scripts/bench, which sets it up")
    return path


# --- Figures -------------------------------------------------------------------------------

Goal = Literal["at least", "at most"]


@dataclass(frozen=True)
class Figure:
    """One reported number: the median over repetitions, judged against its target."""

    name: str
    value: float
    target: float | None
    goal: Goal
    unit: Literal["x faster", "ratio", "MB", "%"]
    detail: str
    """The absolute numbers behind the value."""
    command: str

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.goal == "at least" else self.value <= self.target

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "miss", None: "info"}[self.passed]

    def shown(self, value: float | None = None) -> str:
        number = self.value if value is None else value
        digits, suffix = _LOOKS[self.unit]
        # A value that rounds to its target gets one more digit: a "miss" never reads 1.15.
        target = self.target
        if value is None and target is not None and number != target:
            digits += round(number, digits) == round(target, digits)
        return f"{number:.{digits}f}{suffix}"

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "none"
        sign = ">=" if self.goal == "at least" else "<="
        if self.unit == "x faster":
            return f"{sign} {self.target:g}x"
        return f"{sign} {self.shown(self.target)}"

    def line(self) -> str:
        return (
            f"{self.name}: {self.shown()} (target {self.target_text}) {self.verdict}  "
            f"({self.detail})  [{self.command}]"
        )


# Decimal digits and suffix of each unit.
_LOOKS = {"x faster": (1, "x faster"), "ratio": (2, ""), "MB": (0, " MB"), "%": (2, "%")}


@dataclass
class Section:
    """One benchmark's figures, with how its trees were made and what to know when reading."""

    title: str
    trees: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def median(values: Iterable[float]) -> float:
    items = list(values)
    if not items:
        raise BenchError("no repetition produced a value")
    return statistics.median(items)


def seconds(value: float) -> str:
    return f"{value:.2f} s"


# --- Running commands ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    wall: float
    """Seconds from start to exit."""
    max_rss_mb: float
    """Largest resident set of the process or any child it waited for (like time -v)."""
    tree_peak_mb: float
    """Largest sum of resident sets of the process and its descendants seen at once
    (sampled; 0 unless asked for)."""


def show(command: Sequence[str], names: Mapping[str, str] | None = None) -> str:
    """The command as a person would type it, scratch paths replaced by short names."""
    text = shlex.join(command)
    for path, name in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)
    return text


def run(
    settings: Settings,
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    sample_memory: bool = False,
    keep_stdout: bool = True,
) -> Result:
    """Run ``command`` with its output appended to the log; raise BenchError when it fails.

    ``keep_stdout=False`` throws standard output away (a plan of 40,000 jobs, say).
    """
    with settings.log.open("ab") as log:
        log.write(f"\n$ {shlex.join(command)}\n".encode())
        log.flush()
        start = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(settings.env),
            stdin=subprocess.DEVNULL,
            stdout=log if keep_stdout else subprocess.DEVNULL,
            stderr=log,
        )
        sampler = _TreeSampler(process.pid) if sample_memory else None
        # wait4 rather than Popen.wait: it gives the child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = sampler.stop() if sampler else 0.0
        log.write(f"# exit {process.returncode} after {wall:.2f} s\n".encode())
    if process.returncode != 0:
        raise BenchError(
            f"{shlex.join(command)} exited with {process.returncode}; "
            f"its output is at the end of {settings.log}:\n{_tail(settings.log)}"
        )
    return Result(wall=wall, max_rss_mb=usage.ru_maxrss / 1024, tree_peak_mb=peak)


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


class _TreeSampler:
    """Samples the summed RSS of a process and its descendants from /proc every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kb / 1024

    def _loop(self) -> None:
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _descendants(self.pid)))
            self._done.wait(0.05)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: split after its last ')'.
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
