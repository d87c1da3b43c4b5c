"""The external programs pargen runs, found once, each run through ``sh``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Completed:
    """What a finished program left: its exit code and its raw output."""

    code: int
    stdout: bytes
    stderr: bytes

    @property
    def message(self) -> str:
        """The first line of stderr, without git's "fatal: " prefix: for one-line errors."""
        lines = os.fsdecode(self.stderr).strip().splitlines()
        return lines[0].removeprefix("fatal: ").strip() if lines else f"exit code {self.code}"


def run_git(args: Sequence[str], cwd: Path) -> Completed:
    """Run git in ``cwd`` whatever its exit code; an error saying how to install git if missing.

    Messages are in English (callers recognise some), and git takes no optional locks, so a
    ``git diff`` here never competes with the user's own git commands for the index.
    """
    path = require("git")
    env = {**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = sh.Command(path)(
            "--no-pager",
            *args,
            _cwd=str(cwd),
            _env=env,
            _in="",
            _tty_out=False,
            _ok_code=list(range(256)),
            _return_cmd=True,
        )
    except OSError as err:
        raise PargenError(f"cannot run {path}: {err.strerror}; check the git installation") from err
    return Completed(done.exit_code, done.stdout, done.stderr)
