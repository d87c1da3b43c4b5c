"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.trees import MARKS_ENV, TOKEN_ENV


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running rendered scripts: isolated GNU parallel semaphores and pipeline
    locks, no Packer checkpoint calls, a marks file, and a token that tags every process."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PARALLEL", "PARGEN_"))
    }
    env["CHECKPOINT_DISABLE"] = "1"
    env["PARGEN_STATE_DIR"] = str(tmp_path / "state")
    env[MARKS_ENV] = str(tmp_path / "marks")
    env[TOKEN_ENV] = uuid.uuid4().hex
    return env
