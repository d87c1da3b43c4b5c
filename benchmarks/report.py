"""The machine the benchmarks ran on, and BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import REPO, Section, Settings


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    kernel: str
    versions: dict[str, str]
    load: str
    """The load averages when the benchmarks started: other work skews every figure."""

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("CPU", f"{self.cpu}, {self.cores} cores (nproc)"),
            ("memory", f"{self.memory_gib:.1f} GiB"),
            ("kernel", self.kernel),
            *self.versions.items(),
            ("load average at start", self.load),
        ]


def describe_machine(settings: Settings) -> Machine:
    return Machine(
        cpu=_cpuinfo_model(),
        cores=len(os.sched_getaffinity(0)),
        memory_gib=_mem_total_kib() / 1024**2,
        kernel=platform.release(),
        versions={
            "GNU parallel": _version(settings, [settings.parallel, "--version"]),
            "Packer": _version(settings, [settings.packer, "version"]),
            "Python": platform.python_version(),
            "pargen": _version(settings, [settings.pargen, "--version"]) + _git_state(),
        },
        load=load_average(),
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def _cpuinfo_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _version(settings: Settings, command: Sequence[str]) -> str:
    """The first version-like word the command prints ("Packer v1.6.6" gives 1.6.6)."""
    done = subprocess.run(
        command, env=dict(settings.env), capture_output=True, text=True, check=False
    )
    found = re.search(r"\bv?(\d+(?:\.\d+)*)\b", done.stdout or done.stderr)
    return found.group(1) if found else "unknown"


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return ""
    changed = git("status", "--porcelain", "--", "pargen", "templates")
    dirty = " with uncommitted changes" if changed else ""
    return f" (git {commit}{dirty})"


def markdown(
    sections: Sequence[Section],
    machine: Machine,
    settings: Settings,
    date: str,
    took: float,
    end_load: str,
) -> str:
    figures = [f for s in sections for f in s.figures]
    passed = sum(1 for f in figures if f.passed)
    judged = sum(1 for f in figures if f.passed is not None)
    mode = "quick run (`scripts/bench --quick`)" if settings.quick else "full run (`scripts/bench`)"
    out = [
        "# pargen benchmarks",
        "",
        f"Written by `scripts/bench` on {date}: a {mode}, {took / 60:.1f} minutes. Each figure "
        f"is the median of {settings.reps} repetitions. {passed} of {judged} targets met. "
        "Every build is a real Packer build of a `null` source on this machine; ratios compare "
        "runs made one after another in the same session, so other work on the machine (see "
        "the load averages) slows both sides, though not always equally.",
        "",
        "Trees are generated into a scratch directory and named in the commands by their "
        "directory name there. Every command runs with `CHECKPOINT_DISABLE=1`, "
        "`PARGEN_STATE_DIR` in the scratch directory and Python's bytecode cache there too "
        "(`PYTHONPYCACHEPREFIX`, with `PYTHONDONTWRITEBYTECODE` unset), as an installed "
        "pargen would start.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {key} | {_cell(value)} |" for key, value in machine.rows()),
        f"| load average at the end | {end_load} |",
    ]
    for section in sections:
        out += ["", f"## {section.title}", ""]
        out += ["Trees, written by:", "", *(f"- `{tree}`" for tree in section.trees), ""]
        out += [f"{note}\n" for note in section.notes]
        out += [
            "| figure | value | target | result | measured | command |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| {_cell(f.name)} | {f.shown()} | {_cell(f.target_text)} | {f.verdict} | "
            f"{_cell(f.detail)} | `{_cell(f.command)}` |"
            for f in section.figures
        ]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
