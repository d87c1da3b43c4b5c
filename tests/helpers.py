"""Small helpers for tests that build template trees in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> content) under ``root``; text is dedented and its
    leading newline dropped, so line 1 is the first line written."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def git(cwd: Path, *args: str) -> str:
    """A git command in ``cwd`` with a throwaway identity; its stdout, stripped. Fails the
    test when git fails."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def pargen_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line run in ``cwd``, with its one-line errors and exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "pargen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def packer_validate(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``packer validate [args] .`` in ``directory`` (the test is skipped without Packer)."""
    packer = shutil.which("packer")
    if packer is None:
        pytest.skip("packer is not installed")
    return subprocess.run(
        [packer, "validate", *args, "."],
        cwd=directory,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
