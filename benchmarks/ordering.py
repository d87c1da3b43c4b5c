"""What ordering ready jobs by history gains: makespan of a run without and with durations.

A tree built for it: one branch of many short builds, which comes first in plan order, and one
of a long build with a long child. Counted in jobs both branches are two deep, so without
history the short builds start first and the long chain starts late; with the durations of an
earlier run the long chain starts at once.

Run: ``python -m benchmarks.ordering [--repeat N]`` (prints the medians and their ratio).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.measure import BenchError, Figure, Section, Settings
from benchmarks.runs import makespan, read_joblog

SHORT, LONG, FAN = 0.3, 3.0, 6


def _template(directory: Path, sources: dict[str, float]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    blocks = [f'source "null" "{name}" {{\n  communicator = "none"\n}}\n' for name in sources]
    listed = ", ".join(f'"source.null.{name}"' for name in sources)
    steps = [
        f'  provisioner "shell-local" {{\n    only = ["null.{name}"]\n'
        f'    inline = ["sleep {seconds}"]\n  }}\n'
        for name, seconds in sources.items()
    ]
    build = f"build {{\n  sources = [{listed}]\n{''.join(steps)}}}\n"
    (directory / "t.pkr.hcl").write_text("".join(blocks) + build, encoding="utf-8")


def write_tree(root: Path) -> None:
    _template(root / "a-many", {f"s{i}": SHORT for i in range(FAN)})
    _template(root / "a-many" / "child", {f"c{i}": SHORT for i in range(FAN)})
    _template(root / "b-long", {"long1": LONG})
    _template(root / "b-long" / "child", {"long2": LONG})


def _exec(root: Path, env: Mapping[str, str], pargen: Sequence[str]) -> float:
    command = [*pargen, "exec", str(root), "--jobs", "2", "--quiet"]
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{' '.join(command)} exited {done.returncode}: {last}")
    jobs = read_joblog(root / ".pargen" / "runs" / "latest" / "joblog")
    return makespan(j for j in jobs if " __job 0 " not in f"{j.command} ")  # not the ticks


def measure(
    root: Path, env: Mapping[str, str], pargen: Sequence[str], repeat: int
) -> tuple[float, float]:
    """Median makespans without and with the durations of an earlier run."""
    write_tree(root)
    without, with_history = [], []
    for _ in range(repeat):
        shutil.rmtree(root / ".pargen", ignore_errors=True)
        without.append(_exec(root, env, pargen))  # no history: ranks counted in jobs
        with_history.append(_exec(root, env, pargen))  # durations of the run just made
    return statistics.median(without), statistics.median(with_history)


def benchmark(settings: Settings) -> Section:
    first, second = measure(
        settings.work / "ordering", settings.env, [settings.pargen], settings.reps
    )
    return Section(
        title="Start order from history (2 slots)",
        notes=[
            "A branch of six 0.3 s builds with six 0.3 s children comes first in plan order; "
            "a branch of a 3 s build with a 3 s child second. Counted in jobs both are two "
            "deep, so without history the short builds start first; with the durations of "
            "the run before, the long chain starts at once. The issue sets no target."
        ],
        figures=[
            Figure(
                name="makespan with history / without",
                value=second / first,
                target=None,
                goal="at most",
                unit="ratio",
                detail=f"{second:.2f} s with history vs {first:.2f} s without",
                command="pargen exec ordering --jobs 2 (after rm -rf ordering/.pargen, twice)",
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pargen-ordering-") as scratch:
        env = dict(os.environ, CHECKPOINT_DISABLE="1", PARGEN_STATE_DIR=str(Path(scratch) / "s"))
        pargen = [sys.executable, "-m", "pargen"]
        first, second = measure(Path(scratch) / "tree", env, pargen, args.repeat)
    print(
        f"history ordering: makespan {second:.2f} s with history vs {first:.2f} s without "
        f"(median of {args.repeat}): {second / first:.2f}x  "
        f"[python -m benchmarks.ordering --repeat {args.repeat}]"
    )


if __name__ == "__main__":
    main()
