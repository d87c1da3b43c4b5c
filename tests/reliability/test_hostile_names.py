"""Hostile names: seeded corpora of template paths and build names full of shell and glob
metacharacters, quotes, whitespace and command substitutions, built with ``pargen exec``.

For every corpus: the script that ran is shellcheck-clean, every job is built exactly once
under the id its path and name give it, children wait for their parents, and no name was
ever run as a command (each payload would create a file named ``pwned``).
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability.common import (
    job_states,
    pargen,
    real_engines,
    report,
    run_env,
    run_trials,
    trials,
)
from tests.trees import TOKEN_ENV, files_named, leftover_processes, read_marks, step, write_tree

pytestmark = real_engines("shellcheck")

CORPORA = trials("PARGEN_HOSTILE_CORPORA", 2)
"""Corpora (seeds 0, 1, ...) to build; scripts/reliability builds 10."""
TEMPLATES = 8

PIECES = [
    "$(touch pwned)",
    "`touch pwned`",
    "$(touch${IFS}pwned)",
    ";touch pwned;",
    "|touch pwned",
    "&&touch pwned",
    "'$(touch pwned)'",
    '"$(touch pwned)"',
    "\ntouch pwned\n",
    "$((6*7))",
    "${HOME}",
    "$HOME",
    "$1",
    "~",
    "!!",
    "\\",
    "\\n",
    "*",
    "?",
    "[a-z]",
    "[!a]",
    "{a,b}",
    "{1..3}",
    "#",
    "%s%n",
    "-rf",
    "--help",
    " ",
    "\t",
    ",",
    "=",
    "@",
    ":",
    "<",
    ">",
    "(",
    ")",
    "☃",
    "é",
]


def hostile(rng: random.Random, prefix: str) -> str:
    """``prefix`` (which keeps the name unique and visible) and a few random pieces."""
    parts = [prefix]
    for _ in range(rng.randint(1, 4)):
        parts.append(rng.choice(PIECES))
        if rng.random() < 0.3:
            parts.append(rng.choice("abcxyz"))
    return "".join(parts)


def hostile_directory(rng: random.Random, prefix: str) -> str:
    """A hostile name that Packer can build in: Packer 1.6.6 exits 1 without a word for any
    template under a directory whose name ends in a backslash (build names may)."""
    name = hostile(rng, prefix)
    return name + "z" if name.endswith("\\") else name


@dataclass
class Template:
    path: str
    build_name: str | None
    builds: dict[str, str] = field(default_factory=dict)
    """Source name -> its step label."""

    def ids(self) -> dict[str, str]:
        """Job id -> step label."""
        prefix = f"{self.build_name}." if self.build_name is not None else ""
        return {f"{self.path}:{prefix}null.{name}": label for name, label in self.builds.items()}


def corpus(seed: int) -> list[Template]:
    """Template directories (some nested in others) with hostile names and build names; the
    ``d<n>``/``n<k>`` prefixes keep them from being hidden, skipped or colliding."""
    rng = random.Random(seed)
    templates: list[Template] = []
    for number in range(TEMPLATES):
        name = hostile_directory(rng, f"d{number}")
        if templates and rng.random() < 0.4:
            name = f"{rng.choice(templates).path}/{name}"
        build_name = hostile(rng, f"b{number}") if rng.random() < 0.3 else None
        template = Template(name, build_name)
        for k in range(rng.randint(1, 2)):
            template.builds[hostile(rng, f"n{k}")] = f"h{number}_{k}"
        templates.append(template)
    return templates


def pwned(tmp: Path) -> list[Path]:
    places = [Path.cwd(), Path.home(), Path("/tmp"), Path("/")]
    return files_named(tmp, "pwned") + [p / "pwned" for p in places if (p / "pwned").exists()]


def hostile_trial(base_env: dict[str, str], home: Path, seed: int) -> None:
    templates = corpus(seed)
    root = home / "tree"
    for template in templates:
        commands = {name: step(label) for name, label in template.builds.items()}
        write_tree(root, {template.path: commands}, build_name=template.build_name)
    expected = {job: label for t in templates for job, label in t.ids().items()}
    env = run_env(base_env, home, PARGEN_STATE_DIR=str(home / "state"))
    run_dir = home / "run"
    done = pargen(env, "exec", str(root), "--jobs", "2", "--run-dir", str(run_dir))

    assert done.returncode == 0, done.stderr
    assert job_states(report(run_dir)) == dict.fromkeys(expected, "succeeded")
    marks = read_marks(home / "marks")
    assert {label: len(runs) for label, runs in marks.items()} == dict.fromkeys(
        expected.values(), 1
    )
    for template in templates:  # a template nested in another waits for all of its jobs
        parents = [t for t in templates if template.path.startswith(t.path + "/")]
        if not parents:
            continue
        nearest = max(parents, key=lambda t: len(t.path))
        for label in template.builds.values():
            for parent_label in nearest.builds.values():
                assert marks[label][0].start > marks[parent_label][0].ended
    check = subprocess.run(
        ["shellcheck", str(run_dir / "run.sh")], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    assert pwned(home) == []
    assert leftover_processes(env[TOKEN_ENV]) == []


def test_generated_hostile_names_build_once_and_inject_nothing(
    tmp_path: Path, script_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    templates = [t for seed in range(CORPORA) for t in corpus(seed)]
    names = sum(len(t.builds) + (t.build_name is not None) for t in templates)
    run_trials(
        f"Hostile names: generated corpora ({len(templates)} template paths, {names} names)",
        request.node.nodeid,
        CORPORA,
        lambda seed: hostile_trial(script_env, tmp_path / f"corpus{seed}", seed),
        templates=len(templates),
        names=names,
    )
