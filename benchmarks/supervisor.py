"""Supervisor CPU share: what the ``pargen exec`` process itself costs while builds run."""

from __future__ import annotations

import json
import sys

from benchmarks.measure import REPO, BenchError, Figure, Section, Settings, median, run, seconds
from benchmarks.trees import make_tree

SLOTS = 2
SLEEP = 1.0


def benchmark(settings: Settings) -> Section:
    builds = 6 if settings.quick else 20
    section = Section(f"Supervisor CPU share ({builds} builds of {SLEEP:g} s, {SLOTS} slots)")
    tree = make_tree(
        settings,
        f"supervise-{builds}",
        f"--templates={builds}",
        "--sources=1",
        "--depth=1",
        "--seed=1",
        f"--scale={SLEEP:g}",
        "--skew=0",
    )
    section.trees.append(tree.command)
    section.notes.append(
        "CPU time (user + system) of the pargen process alone, not of the script, GNU "
        "parallel or Packer below it, from getrusage(RUSAGE_SELF) inside that process "
        "(benchmarks/supervised.py runs pargen's command line in-process), as a share of one "
        "core over its wall time. Output goes to a file, as in CI."
    )
    out = settings.work / "supervised.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.supervised",
        str(out),
        "exec",
        str(tree.path),
        "--jobs",
        str(SLOTS),
    ]
    whole: list[tuple[float, float]] = []
    follow: list[tuple[float, float]] = []
    for _ in range(settings.reps):
        wall = run(settings, command, cwd=REPO).wall
        usage = json.loads(out.read_text(encoding="utf-8"))
        if "follow_cpu" not in usage:
            raise BenchError(f"{out}: no supervisor phase recorded; did Supervisor.execute move?")
        whole.append((usage["cpu"], wall))
        follow.append((usage["follow_cpu"], usage["follow_wall"]))
    shown = settings.show(command, tree.names | {sys.executable: "python", str(out): "out.json"})

    def figure(name: str, samples: list[tuple[float, float]]) -> Figure:
        return Figure(
            name=name,
            value=median(100 * cpu / wall for cpu, wall in samples),
            target=2,
            goal="at most",
            unit="%",
            detail=f"{seconds(median(c for c, _ in samples))} CPU over "
            f"{seconds(median(w for _, w in samples))}",
            command=shown,
        )

    section.figures += [
        figure("supervisor CPU while it runs and follows the script", follow),
        figure("pargen exec process CPU, start to exit (imports, plan, render included)", whole),
    ]
    return section
