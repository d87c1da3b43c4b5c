"""The external programs pargen runs, found once, each run through ``sh``."""

from __future__ import annotations

import shutil
from pathlib import Path

import sh

from pargen.errors import PargenError

INSTALL_HINTS = {
    "parallel": "install the 'parallel' package",
    "packer": "install the 'packer' package",
    "bash": "install the 'bash' package",
    "git": "install the 'git' package",
    "shellcheck": "install the 'shellcheck' package",
}


def require(program: str) -> str:
    """Absolute path of ``program`` on PATH, or an error saying how to install it."""
    path = shutil.which(program)
    if path is None:
        hint = INSTALL_HINTS.get(program, f"install {program}")
        raise PargenError(f"{program} not found on PATH: {hint}")
    return path


def require_gnu_parallel() -> str:
    path = require("parallel")
    try:
        version = str(sh.Command(path)("--plain", "--version", _in=""))
    except sh.ErrorReturnCode as err:
        version = str(err.stdout, errors="replace")
    if not version.startswith("GNU parallel"):
        raise PargenError(
            f"{path} is not GNU parallel (moreutils ships another 'parallel'): "
            "install the 'parallel' package and put it first on PATH"
        )
    return path


def git(args: list[str], cwd: Path) -> str | None:
    """Output of a git command, or None when git or the repository is not there."""
    path = shutil.which("git")
    if path is None:
        return None
    try:
        return str(sh.Command(path)(*args, _cwd=str(cwd), _err_to_out=False)).strip()
    except (sh.ErrorReturnCode, OSError):
        return None
