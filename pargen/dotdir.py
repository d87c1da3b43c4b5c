"""``.pargen/`` under ROOT: run directories, caches and build records of this machine.

Whatever creates it also writes a ``.gitignore`` in it that ignores everything there, so
that none of it ends up in git by accident, whatever the repository's own ignores say.
"""

from __future__ import annotations

from pathlib import Path

NAME = ".pargen"
GITIGNORE = "# Written by pargen: runs, caches and build records of this machine; not for git.\n*\n"


def make_dirs(path: Path) -> None:
    """``mkdir -p path``; the ``.pargen`` directory that holds it, if any, gets its
    ``.gitignore`` (the rendered script writes the same one)."""
    path.mkdir(parents=True, exist_ok=True)
    for directory in (path, *path.parents):
        if directory.name == NAME:
            ignore = directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text(GITIGNORE, encoding="utf-8")
            return
