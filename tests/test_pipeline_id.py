"""The default pipeline id is the same in every clone of one repository, however it was
cloned, so a committed script is current (``pargen check``) in each of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import git
from tests.trees import pargen, step, write_tree

REMOTES = {
    "ssh": "git@example.com:org/images.git",
    "ssh-url-with-port": "ssh://git@example.com:2222/org/images.git",
    "https": "https://example.com/org/images",
    "https-token": "https://oauth2:glpat-Zq8x@example.com/Org/images.git/",
    "ci-job-token": "https://gitlab-ci-token:64fe2b1d@example.com/org/images.git",
}


def pipeline_id(script: Path) -> str:
    match = re.search(r"^readonly PIPELINE_ID=(\S+)$", script.read_text(), re.MULTILINE)
    assert match, script
    return match.group(1)


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A bare repository holding a tree under images/ and its committed script."""
    work = tmp_path / "work"
    write_tree(work / "images", {".": {"base": step("base")}, "web": {"web": step("web")}})
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", REMOTES["ssh"])
    code, out, err = pargen("render", str(work / "images"), "-o", str(work / "images/pargen.sh"))
    assert code == 0, out + err
    git(work, "add", ".")
    git(work, "commit", "-qm", "images")
    bare = tmp_path / "srv" / "git" / "org" / "images.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def clone(source: Path | str, where: Path, origin: str | None = None) -> Path:
    git(where.parent, "clone", "-q", str(source), str(where))
    if origin is not None:
        git(where, "remote", "set-url", "origin", origin)
    return where


def check(checkout: Path) -> tuple[int, str]:
    code, out, err = pargen("check", str(checkout / "images"), str(checkout / "images/pargen.sh"))
    return code, out + err


def test_every_kind_of_remote_gives_the_committed_id(tmp_path: Path, upstream: Path) -> None:
    committed = pipeline_id(tmp_path / "work" / "images" / "pargen.sh")
    for name, url in REMOTES.items():
        checkout = clone(upstream, tmp_path / name, origin=url)
        assert check(checkout) == (0, ""), name
    # A clone of a clone: its origin is a path on this machine, followed to that repository's
    # own origin.
    nested = clone(tmp_path / "https", tmp_path / "clone-of-clone")
    assert git(nested, "config", "--get", "remote.origin.url") == str(tmp_path / "https")
    assert check(nested) == (0, "")
    assert committed.startswith("images-")  # ROOT's directory, then the hash


def test_clones_of_a_repository_on_this_machine_agree(tmp_path: Path, upstream: Path) -> None:
    ids = set()
    for name, source in [
        ("path", str(upstream)),
        ("file-url", f"file://{upstream}"),
        ("relative", "srv/git/org/images.git"),
    ]:
        checkout = clone(source, tmp_path / name)
        script = checkout / "images" / "pargen.sh"
        code, out, err = pargen("render", str(checkout / "images"), "-o", str(script))
        assert code == 0, out + err
        ids.add(pipeline_id(script))
    nested = clone(tmp_path / "path", tmp_path / "nested")
    code, out, err = pargen("render", str(nested / "images"), "-o", str(tmp_path / "n.sh"))
    assert code == 0, out + err
    ids.add(pipeline_id(tmp_path / "n.sh"))
    assert len(ids) == 1, ids
