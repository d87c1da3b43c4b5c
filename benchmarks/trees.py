"""Generated trees for the benchmarks, each with the command that writes it again."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import treegen
from benchmarks.measure import BenchError, Settings


@dataclass(frozen=True)
class Tree:
    name: str
    """Short name used in the commands shown (the path is a scratch directory)."""
    path: Path
    command: str
    """How to write the same tree again."""

    @property
    def names(self) -> dict[str, str]:
        return {str(self.path): self.name}


def make_tree(settings: Settings, name: str, *options: str) -> Tree:
    path = settings.work / name
    args = treegen.parser().parse_args([str(path), *options])
    treegen.write_tree(path, treegen.generate(args))
    command = shlex.join(["python", "-m", "benchmarks.treegen", name, *options])
    return Tree(name=name, path=path, command=command)


def plan_jobs(settings: Settings, tree: Tree, *options: str) -> list[dict[str, Any]]:
    """The jobs of ``pargen plan --format json``: id, template, only, after, workdir, target."""
    command = [settings.pargen, "plan", str(tree.path), "--format", "json", *options]
    done = subprocess.run(
        command, env=dict(settings.env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(command)} exited with {done.returncode}: {done.stderr}")
    jobs: list[dict[str, Any]] = json.loads(done.stdout)["jobs"]
    return jobs


def job_table(jobs: list[dict[str, Any]]) -> str:
    """Lines of "workdir TAB -only value TAB target" for GNU parallel's --colsep."""
    return "".join(f"{j['workdir']}\t{j['only']}\t{j['target']}\n" for j in jobs)


# What a person would run for each job without pargen: GNU parallel quotes {1}..{3}.
BARE_JOB = "cd {1} && packer build -color=false -only={2} {3}"


def bare_parallel(parallel: str, slots: int, table: Path, *options: str) -> list[str]:
    """GNU parallel running BARE_JOB for each row of a job table, with nothing of pargen's."""
    return [parallel, "--will-cite", "--plain", "--jobs", str(slots), "--colsep", "\\t",
            *options, BARE_JOB, "::::", str(table)]  # fmt: skip
