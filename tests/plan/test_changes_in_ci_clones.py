"""``--changed-since`` in the clones CI makes: shallow, one branch. The command pargen says
to run when the revision or its history is missing is run here as written, and then works."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git, write_tree

TEMPLATE = (
    'source "null" "{0}" {{\n  communicator = "none"\n}}\n'
    'build {{\n  sources = ["source.null.{0}"]\n}}\n'
)


def pargen(*args: str) -> tuple[int, str, str]:
    """``pargen ARGS`` as a command, for its error lines."""
    done = subprocess.run(
        [sys.executable, "-m", "pargen", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """main with a few commits, and a branch "feature" that changes template b."""
    repo = tmp_path / "upstream"
    write_tree(repo, {"a/a.pkr.hcl": TEMPLATE.format("a"), "b/b.pkr.hcl": TEMPLATE.format("b")})
    git(repo, "init", "-q", "-b", "main")
    for number in range(3):
        (repo / "notes.txt").write_text(f"{number}\n", encoding="utf-8")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"main {number}")
    git(repo, "checkout", "-qb", "feature")
    for number in range(3):
        (repo / "b" / "b.pkr.hcl").write_text(TEMPLATE.format("b") + f"# {number}\n")
        git(repo, "commit", "-qam", f"feature {number}")
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("after the branch\n", encoding="utf-8")
    git(repo, "commit", "-qam", "main after the branch")
    return repo


def ci_clone(upstream: Path, where: Path, *depth: str) -> Path:
    """What a CI checkout of the branch is: one branch, shallow or not."""
    url = f"file://{upstream}"
    git(
        where.parent,
        "clone",
        "-q",
        *depth,
        "--single-branch",
        "--branch",
        "feature",
        url,
        str(where),
    )
    return where


def hint_of(stderr: str) -> list[str]:
    """The git command at the end of pargen's one error line."""
    line = stderr.strip()
    assert line.count(": git fetch ") == 1, stderr
    return shlex.split("git fetch " + line.split(": git fetch ", 1)[1])


@pytest.mark.parametrize("depth", [["--depth", "1"], []], ids=["shallow", "full"])
def test_the_fetch_command_pargen_gives_works_in_a_single_branch_clone(
    tmp_path: Path, upstream: Path, depth: list[str]
) -> None:
    checkout = ci_clone(upstream, tmp_path / "checkout", *depth)
    code, out, err = pargen("plan", str(checkout), "--changed-since", "origin/main")
    assert (code, out) == (2, "")
    command = hint_of(err)
    unshallow = ["--unshallow"] if depth else []
    assert command == [
        "git",
        "fetch",
        *unshallow,
        "origin",
        "+refs/heads/main:refs/remotes/origin/main",
    ]

    subprocess.run(command, cwd=checkout, check=True, capture_output=True, timeout=60)
    code, out, err = pargen("plan", str(checkout), "--changed-since", "origin/main")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "b  (1 job)  changed: b/b.pkr.hcl"


def test_a_shallow_clone_that_has_the_revision_but_not_the_merge_base(
    tmp_path: Path, upstream: Path
) -> None:
    checkout = ci_clone(upstream, tmp_path / "checkout", "--depth", "1")
    git(
        checkout,
        "fetch",
        "-q",
        "--depth",
        "1",
        "origin",
        "+refs/heads/main:refs/remotes/origin/main",
    )
    code, _, err = pargen("plan", str(checkout), "--changed-since", "origin/main")
    assert code == 2
    assert err == (
        "pargen: error: --changed-since 'origin/main': it shares no history with HEAD in this "
        "shallow clone; fetch the history: git fetch --unshallow origin "
        "+refs/heads/main:refs/remotes/origin/main\n"
    )
    subprocess.run(hint_of(err), cwd=checkout, check=True, capture_output=True, timeout=60)
    code, out, err = pargen("plan", str(checkout), "--changed-since", "origin/main")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "b  (1 job)  changed: b/b.pkr.hcl"
