"""Legacy JSON templates take variables as Packer does, proven with real builds.

``pargen exec`` runs Packer 1.6.6 on a legacy template whose builder names and provisioner
use user variables it never declares, given by ``--var`` and ``--var-file``, and a default
that uses another user variable. Each build writes what it saw; the names pargen planned
must be the builds Packer ran, each with the values Packer rendered.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_tree

pytestmark = pytest.mark.skipif(
    shutil.which("packer") is None or shutil.which("parallel") is None,
    reason="needs packer and GNU parallel",
)

TEMPLATE = {
    "variables": {"os": "ubuntu", "box": "{{user `os`}}-2204"},
    "builders": [
        {"type": "null", "name": "{{user `box`}}", "communicator": "none"},
        {"type": "null", "name": "{{user `region`}}", "communicator": "none"},
    ],
    "provisioners": [
        {
            "type": "shell-local",
            "inline": ["echo '{{build_name}} {{user `extra`}} {{user `region`}}' >> \"$MARKS\""],
        }
    ],
}


def exec_pargen(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pargen", "exec", ".", "--quiet", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_undeclared_and_nested_user_variables_reach_the_build(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(
        tmp_path / "tree",
        {"app.json": json.dumps(TEMPLATE, indent=2), "vars.json": '{"region": "eu-west-1"}\n'},
    )
    marks = tmp_path / "seen"
    env = {**script_env, "MARKS": str(marks)}
    done = exec_pargen(root, env, "--var", "extra=hello", "--var-file", "vars.json")
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads((root / ".pargen" / "runs" / "latest" / "plan.json").read_text())
    assert [job["name"] for job in plan["jobs"]] == ["ubuntu-2204", "eu-west-1"]
    assert sorted(marks.read_text().splitlines()) == [
        "eu-west-1 hello eu-west-1",
        "ubuntu-2204 hello eu-west-1",
    ]


def test_a_var_overrides_a_default_other_defaults_use(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", {"app.json": json.dumps(TEMPLATE, indent=2)})
    marks = tmp_path / "seen"
    env = {**script_env, "MARKS": str(marks)}
    done = exec_pargen(root, env, "--var", "os=debian", "--var", "region=us", "--var", "extra=x")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(marks.read_text().splitlines()) == ["debian-2204 x us", "us x us"]


def test_a_name_from_a_variable_nobody_gives_is_empty_as_packer_renders_it(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # Packer renders {{user `x`}} of an undeclared, ungiven x as "" in a builder's name and
    # builds it under that name: pargen plans the same build, and -only= selects it alone.
    template = {**TEMPLATE, "variables": {}}
    template["builders"] = [
        {"type": "null", "name": "{{user `region`}}", "communicator": "none"},
        {"type": "null", "name": "other", "communicator": "none"},
    ]
    # ({{build_name}} is not available to a build named "", in Packer itself.)
    template["provisioners"] = [
        {"type": "shell-local", "inline": ['echo "[$PACKER_BUILD_NAME]" >> "$MARKS"']}
    ]
    root = write_tree(tmp_path / "tree", {"app.json": json.dumps(template, indent=2)})
    marks = tmp_path / "seen"
    done = exec_pargen(root, {**script_env, "MARKS": str(marks)})
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads((root / ".pargen" / "runs" / "latest" / "plan.json").read_text())
    assert [(job["id"], job["only"]) for job in plan["jobs"]] == [
        ("app.json:", ""),
        ("app.json:other", "other"),
    ]
    assert sorted(marks.read_text().splitlines()) == ["[]", "[other]"]
