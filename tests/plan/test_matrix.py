"""Tests for build matrices (one template planned once per var file) and for jobs that would
write one output directory (pargen.plan.outputs), through make_plan and the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from pargen.config import resolve
from pargen.errors import ProblemsError
from pargen.plan.formats import as_json, as_table
from pargen.plan.jobs import Plan, make_plan
from pargen.run.rerun import only_value
from tests.helpers import write_tree
from tests.plan.test_changes import commit_all, git

# Variables choose the sources and the build name, as in chef/bento.
TEMPLATE = """
variable "os" {
  type = string
}
variable "enabled" {
  type    = list(string)
  default = ["source.null.a", "source.null.b"]
}
source "null" "a" {
  communicator = "none"
}
source "null" "b" {
  communicator = "none"
}
build {
  name    = var.os
  sources = var.enabled
}
"""
FILES = {
    "tpl/main.pkr.hcl": TEMPLATE,
    "os/debian.pkrvars.hcl": 'os = "debian"\nenabled = ["source.null.b"]\n',
    "os/ubuntu.pkrvars.hcl": 'os = "ubuntu"\n',
}
MATRIX = ["os/*.pkrvars.hcl"]


def plan_of(root: Path, files: Mapping[str, str], **cli_values: object) -> Plan:
    write_tree(root, files)
    config = resolve(root, cli_values)
    return make_plan(str(root), config.plan, {})


def ids(plan: Plan) -> list[str]:
    return [job.id for job in plan.jobs]


def test_a_template_is_planned_once_per_var_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_of(tmp_path, FILES, matrix_var_files=MATRIX)
    assert ids(plan) == [
        "tpl@os/debian.pkrvars.hcl:debian.null.b",
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.a",
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.b",
    ]
    job = plan.jobs[0]
    assert (job.template, job.var_file, job.workdir, job.target) == (
        "tpl",
        "os/debian.pkrvars.hcl",
        "tpl",
        ".",
    )
    document = json.loads(as_json(plan))
    assert document["jobs"][0]["var_file"] == "os/debian.pkrvars.hcl"
    assert [t["var_file"] for t in document["templates"]] == [
        "os/debian.pkrvars.hcl",
        "os/ubuntu.pkrvars.hcl",
    ]
    assert as_table(plan).splitlines()[-1] == (
        "3 jobs in 1 template(s), 2 with their matrix var files"
    )


def test_pargen_hcl_sets_a_matrix_per_template_relative_to_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path.parent)
    files = {
        **FILES,
        "other/main.pkr.hcl": 'source "null" "o" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["null.o"]\n}\n',
        "pargen.hcl": 'template "tpl" {\n  matrix_var_files = ["os/u*.pkrvars.hcl"]\n}\n',
    }
    assert ids(plan_of(tmp_path, files)) == [
        "other:null.o",
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.a",
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.b",
    ]


def test_the_command_line_matrix_wins_over_pargen_hcl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {
        **FILES,
        "pargen.hcl": 'template "tpl" {\n  matrix_var_files = ["os/u*.pkrvars.hcl"]\n}\n',
    }
    plan = plan_of(tmp_path, files, matrix_var_files=["os/d*.pkrvars.hcl"])
    assert ids(plan) == ["tpl@os/debian.pkrvars.hcl:debian.null.b"]


def test_only_selects_by_var_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_of(tmp_path, FILES, matrix_var_files=MATRIX, only=["tpl@os/ubuntu*"])
    assert ids(plan) == [
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.a",
        "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.b",
    ]


def test_a_changed_var_file_selects_only_its_own_jobs(tmp_path: Path) -> None:
    write_tree(tmp_path, FILES)
    git(tmp_path, "init", "-q")
    commit_all(tmp_path)
    with (tmp_path / "os/debian.pkrvars.hcl").open("a") as handle:
        handle.write("# changed\n")
    matrix = [str(tmp_path / "os/*.pkrvars.hcl")]
    plan = plan_of(tmp_path, {}, matrix_var_files=matrix, changed_since="HEAD")
    assert plan.selected_because == {
        "tpl@os/debian.pkrvars.hcl:debian.null.b": "changed: os/debian.pkrvars.hcl"
    }


def test_each_var_file_counts_in_the_input_hash_of_its_own_jobs(tmp_path: Path) -> None:
    matrix = [str(tmp_path / "os/*.pkrvars.hcl")]
    write_tree(tmp_path, FILES)
    config = resolve(tmp_path, {"matrix_var_files": matrix})
    before = make_plan(str(tmp_path), config.plan, {}, hash_inputs=True).inputs
    with (tmp_path / "os/debian.pkrvars.hcl").open("a") as handle:
        handle.write("# changed\n")
    after = make_plan(str(tmp_path), config.plan, {}, hash_inputs=True).inputs
    assert before is not None and after is not None
    changed = {k for k in before.hashes if before.hashes[k] != after.hashes[k]}
    assert changed == {"tpl@os/debian.pkrvars.hcl:debian.null.b"}


def test_the_children_of_a_matrix_template_wait_for_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {
        **FILES,
        "tpl/child/main.pkr.hcl": 'source "null" "c" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["null.c"]\n}\n',
        "pargen.hcl": 'template "tpl" {\n  matrix_var_files = ["os/*.pkrvars.hcl"]\n}\n',
    }
    plan = plan_of(tmp_path, files)
    assert plan.jobs[-1].id == "tpl/child:null.c"
    assert plan.jobs[-1].after == tuple(ids(plan)[:3])


# -- output directories -------------------------------------------------------------------------

QEMU = """
variable "os" {
  type = string
}
source "qemu" "vm" {
  headless = true
}
build {
  sources = ["source.qemu.vm"]
}
"""


def test_matrix_builds_writing_one_default_output_directory_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {**FILES, "tpl/main.pkr.hcl": QEMU}
    with pytest.raises(ProblemsError) as caught:
        plan_of(tmp_path, files, matrix_var_files=MATRIX)
    assert caught.value.lines == [
        f"{tmp_path}/tpl/main.pkr.hcl:8:14: jobs tpl@os/debian.pkrvars.hcl:qemu.vm and "
        "tpl@os/ubuntu.pkrvars.hcl:qemu.vm would all write tpl/output-vm at once (its qemu "
        "builder's output directory); set output_directory in the source to a path that "
        'differs per var file, such as output_directory = "output-${var.name}"'
    ]


def test_an_output_directory_from_the_var_file_keeps_them_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = QEMU.replace("headless = true", 'output_directory = "out/${var.os}"')
    plan = plan_of(tmp_path, {**FILES, "tpl/main.pkr.hcl": text}, matrix_var_files=MATRIX)
    assert [j.output_dir for j in plan.jobs] == ["tpl/out/debian", "tpl/out/ubuntu"]


def test_selecting_one_var_file_has_no_collision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {**FILES, "tpl/main.pkr.hcl": QEMU}
    plan = plan_of(tmp_path, files, matrix_var_files=MATRIX, only=["*debian*"])
    assert ids(plan) == ["tpl@os/debian.pkrvars.hcl:qemu.vm"]


def test_builds_of_one_template_may_share_a_directory(tmp_path: Path) -> None:
    # Packer's own packer build runs them together too: the template's users pick with -only.
    text = QEMU + 'build {\n  name = "again"\n  sources = ["source.qemu.vm"]\n}\n'
    text = text.replace('variable "os" {\n  type = string\n}\n', "")
    plan = plan_of(tmp_path, {"tpl/main.pkr.hcl": text})
    assert ids(plan) == ["tpl:qemu.vm", "tpl:again.qemu.vm"]


def test_files_built_alone_writing_one_directory_are_refused(tmp_path: Path) -> None:
    one = 'variable "v" {\n  default = 1\n}\n' + QEMU.replace('variable "os"', 'variable "o1"')
    two = 'variable "v" {\n  default = 1\n}\n' + QEMU.replace('variable "os"', 'variable "o2"')
    one = one.replace("type = string", 'default = ""')
    two = two.replace("type = string", 'default = ""')
    with pytest.raises(ProblemsError) as caught:
        plan_of(tmp_path, {"img/a.pkr.hcl": one, "img/b.pkr.hcl": two})
    assert caught.value.lines == [
        f"{tmp_path}/img/b.pkr.hcl:12:14: jobs img/a.pkr.hcl:qemu.vm and img/b.pkr.hcl:qemu.vm "
        "would all write img/output-vm at once (its qemu builder's output directory); give "
        "each build its own output_directory, or build them in separate runs (--only)"
    ]


def test_a_rerun_selects_exactly_one_matrix_job_by_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pargen failed --format only and --retry-failed pass ids through only_value.
    monkeypatch.chdir(tmp_path)
    wanted = "tpl@os/ubuntu.pkrvars.hcl:ubuntu.null.b"
    plan = plan_of(tmp_path, FILES, matrix_var_files=MATRIX, only=[only_value(wanted)])
    assert ids(plan) == [wanted]


def test_a_changed_file_built_alone_selects_only_its_template(tmp_path: Path) -> None:
    def alone(name: str) -> str:
        return (
            'variable "v" {\n  default = 1\n}\n'
            f'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
            f'build {{\n  sources = ["null.{name}"]\n}}\n'
        )

    write_tree(tmp_path, {"img/a.pkr.hcl": alone("a"), "img/b.pkr.hcl": alone("b")})
    git(tmp_path, "init", "-q")
    commit_all(tmp_path)
    with (tmp_path / "img/b.pkr.hcl").open("a") as handle:
        handle.write("# changed\n")
    (tmp_path / "img/c.pkr.hcl").write_text(alone("c"))
    plan = plan_of(tmp_path, {}, changed_since="HEAD")
    assert plan.selected_because == {
        "img/b.pkr.hcl:null.b": "changed: img/b.pkr.hcl",
        "img/c.pkr.hcl:null.c": "changed: img/c.pkr.hcl",
    }
