"""Tests for pargen.plan.var_check: a --var no template takes is refused, one only templates
left out of the plan take is a warning.

The real-Packer test shows the refusal is Packer's: an HCL2 template given an undeclared
-var fails before building ("Undefined -var variable").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pargen.errors import ProblemsError
from pargen.plan.jobs import Plan
from tests.helpers import packer_validate
from tests.plan.test_jobs import hcl, plan_of


def refused(root: Path, files: dict[str, str], **options: object) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        plan_of(root, files, **options)
    return caught.value.lines


def test_a_var_no_template_declares_is_refused(tmp_path: Path) -> None:
    files = {"main.pkr.hcl": hcl("a", variables={"region": "eu"})}
    assert refused(tmp_path, files, vars=(("regoin", "us"), ("region", "us"))) == [
        '--var: no template declares variable "regoin", and Packer refuses an undeclared -var '
        '("Undefined -var variable"); fix the name or drop the --var'
    ]


def test_a_var_declared_only_outside_the_plan_is_a_warning_saying_where(tmp_path: Path) -> None:
    # A pipeline that always passes --var size=... and plans --changed-since must not fail
    # whenever b is unchanged.
    files = {
        "a/main.pkr.hcl": hcl("a"),
        "b/main.pkr.hcl": hcl("b", variables={"size": "s"}),
    }
    narrowed = plan_of(tmp_path, files, vars=(("size", "l"),), only=("a:*",))
    assert [str(w) for w in narrowed.warnings] == [
        '--var: variable "size" is declared only in b, which this plan does not build; no job '
        "gets --var size"
    ]
    assert {job.id: job.vars for job in narrowed.jobs} == {"a:null.a": ()}
    plan: Plan = plan_of(tmp_path, files, vars=(("size", "l"),))
    assert plan.warnings == ()
    assert {job.id: job.vars for job in plan.jobs} == {
        "a:null.a": (),
        "b:null.b": (("size", "l"),),
    }


def test_a_planned_legacy_template_takes_any_var(tmp_path: Path) -> None:
    files = {
        "main.pkr.hcl": hcl("a"),
        "app.json": json.dumps({"builders": [{"type": "null", "name": "l"}]}),
    }
    plan = plan_of(tmp_path, files, vars=(("anything", "1"),))
    assert {job.id: job.vars for job in plan.jobs} == {
        ".:null.a": (),
        "app.json:l": (("anything", "1"),),
    }
    # Left out of the plan, it takes nothing: said, not refused.
    narrowed = plan_of(tmp_path, files, vars=(("anything", "1"),), except_=("app.json:*",))
    assert [str(w) for w in narrowed.warnings] == [
        "--var: only app.json, which this plan does not build; no job gets --var anything"
    ]


def test_a_plan_with_no_jobs_refuses_nothing(tmp_path: Path) -> None:
    files = {"main.pkr.hcl": hcl("a")}
    assert plan_of(tmp_path, files, vars=(("x", "1"),), only=("nothing",)).jobs == ()


def test_packer_refuses_an_undeclared_var_too(tmp_path: Path) -> None:
    (tmp_path / "main.pkr.hcl").write_text(hcl("a"), encoding="utf-8")
    done = packer_validate(tmp_path, "-var", "regoin=us")
    assert done.returncode == 1
    assert "Undefined -var variable" in done.stdout + done.stderr
