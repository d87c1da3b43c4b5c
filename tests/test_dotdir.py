"""``.pargen/`` never ends up in git by accident: whatever creates it writes a .gitignore."""

from __future__ import annotations

from pathlib import Path

from pargen.dotdir import GITIGNORE, make_dirs
from tests.helpers import git, write_tree
from tests.trees import pargen

TEMPLATE = 'source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  sources = ["null.a"]\n}\n'


def test_planning_writes_the_gitignore_and_git_ignores_the_cache(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/a.pkr.hcl": TEMPLATE})
    git(tmp_path, "init", "-q")
    assert pargen("plan", str(tmp_path))[0] == 0
    assert (tmp_path / ".pargen" / "cache" / "parse.json").is_file()
    assert (tmp_path / ".pargen" / ".gitignore").read_text(encoding="utf-8") == GITIGNORE
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == "?? a/a.pkr.hcl"


def test_an_existing_gitignore_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".pargen").mkdir()
    (tmp_path / ".pargen" / ".gitignore").write_text("runs/\n", encoding="utf-8")
    make_dirs(tmp_path / ".pargen" / "runs" / "x")
    assert (tmp_path / ".pargen" / ".gitignore").read_text(encoding="utf-8") == "runs/\n"


def test_directories_outside_pargen_get_none(tmp_path: Path) -> None:
    make_dirs(tmp_path / "elsewhere" / "run")
    assert list(tmp_path.rglob(".gitignore")) == []
