"""Every template under examples/ passes real ``packer validate``, so a broken example fails CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _hcl_dirs() -> list[Path]:
    dirs = {path.parent for path in EXAMPLES.rglob("*.pkr.hcl")}
    dirs |= {path.parent for path in EXAMPLES.rglob("*.pkr.json")}
    return sorted(dirs)


def _legacy_files() -> list[Path]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.json")):
        if path.name.endswith((".pkr.json", ".pkrvars.json")):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("builders"), list):
            found.append(path)
    return found


def _rel(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix()


def _packer_env() -> dict[str, str]:
    # Variables set in the caller's environment must not change what the examples mean.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKR_VAR_")}
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def _validate(workdir: Path, target: str) -> None:
    packer = shutil.which("packer")
    assert packer is not None, "packer not found on PATH: run scripts/setup"
    result = subprocess.run(
        [packer, "validate", target],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        env=_packer_env(),
    )
    assert result.returncode == 0, (
        f"packer validate {target} in examples/{_rel(workdir)} failed:\n"
        f"{result.stdout}{result.stderr}"
    )


def test_examples_hold_the_expected_templates() -> None:
    assert [_rel(d) for d in _hcl_dirs()] == ["base", "base/db", "base/web", "base/web/nginx"]
    assert [_rel(f) for f in _legacy_files()] == ["legacy/app.json"]


@pytest.mark.parametrize("directory", _hcl_dirs(), ids=_rel)
def test_hcl_template_validates(directory: Path) -> None:
    _validate(directory, ".")


@pytest.mark.parametrize("template", _legacy_files(), ids=_rel)
def test_legacy_template_validates(template: Path) -> None:
    _validate(template.parent, template.name)


def test_shared_variables_are_relative_symlinks() -> None:
    links = sorted(EXAMPLES.rglob("variables.pkr.hcl"))
    assert links, "no variables.pkr.hcl links under examples/"
    for link in links:
        assert link.is_symlink(), f"examples/{_rel(link)} should be a symlink"
        target = link.readlink()
        assert not target.is_absolute(), f"examples/{_rel(link)} -> {target} is not relative"
        assert link.resolve() == EXAMPLES / "shared" / "variables.hcl"
