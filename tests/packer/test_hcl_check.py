"""Tests for pargen.packer.hcl_check: every syntax error Packer reports, found at plan time.

Each case plans a small tree and, where Packer is installed, runs ``packer validate`` on it:
Packer must fail with the same summary on the same line for every problem pargen reports.
The first case copies the layout of a public book repository's parent image (a missing comma
in a provisioner's list, which pargen used to skip), in templates written here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pargen.config import PlanOptions
from pargen.errors import ProblemsError
from pargen.packer.hcl_check import syntax_errors
from pargen.plan.jobs import make_plan
from tests.helpers import packer_validate, write_tree

SOURCE = 'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
COMMON = """
locals {
  applist = ["nginx", "jq"]
}
variable "USER" {
  default = env("USER")
}
"""
PARENT = (
    SOURCE.format(name="base")
    + """
build {
  sources = [
    "source.null.base"
    ]

    provisioner "shell-local" {
      inline = [
        "echo update",
        "echo install"
        "echo scan ${var.USER}"
      ]
    }
  }
"""
)
MISSING_ITEM_SEPARATOR = (
    "Missing item separator; Expected a comma to mark the beginning of the next item."
)


def child(name: str) -> str:
    return SOURCE.format(name=name) + f'build {{\n  sources = ["source.null.{name}"]\n}}\n'


def book_layout(root: Path, parent: str = PARENT) -> Path:
    """A parent image and its children sharing one common.pkr.hcl through symlinks."""
    write_tree(
        root,
        {
            "root/common/common.pkr.hcl": COMMON,
            "root/system_base/build.pkr.hcl": parent,
            "root/system_base/system_nomad/build.pkr.hcl": child("nomad"),
            "root/system_base/system_kubelet/build.pkr.hcl": child("kubelet"),
            "root/system_base/lxd_example/build.pkr.hcl": SOURCE.format(name="lxd"),
        },
    )
    base = root / "root" / "system_base"
    (base / "common").symlink_to("../common/")
    (base / "common.pkr.hcl").symlink_to("../common/common.pkr.hcl")
    for name in ("system_nomad", "system_kubelet"):
        (base / name / "common.pkr.hcl").symlink_to("../common.pkr.hcl")
    (base / "lxd_example" / "common.pkr.hcl").symlink_to("../common/common.pkr.hcl")
    return root


def problems(root: Path) -> list[str]:
    """The lines ``pargen plan .`` prints, run from ``root``."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with pytest.raises(ProblemsError) as caught:
            make_plan(".", PlanOptions(), {})
    finally:
        os.chdir(cwd)
    return caught.value.lines


def assert_packer_rejects(directory: Path, lines: list[str], *args: str) -> None:
    """``packer validate`` fails in ``directory`` with each problem's summary on its line."""
    done = packer_validate(directory, *args)
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    for line in lines:
        match = re.match(r"(?:.*/)?([^/:]+):(\d+):\d+: ([^;]+);", line)
        assert match is not None, line
        name, number, summary = match.groups()
        assert f"Error: {summary}" in said, said
        assert f"on {name} line {number}" in said, said


def test_a_missing_comma_in_a_parent_images_provisioner_is_reported(tmp_path: Path) -> None:
    root = book_layout(tmp_path / "book")
    lines = problems(root)
    assert lines == [f"root/system_base/build.pkr.hcl:14:9: {MISSING_ITEM_SEPARATOR}"]
    assert_packer_rejects(root / "root" / "system_base", lines)


def test_the_rest_of_the_book_layout_plans(tmp_path: Path) -> None:
    fixed = PARENT.replace('"echo install"\n', '"echo install",\n')
    root = book_layout(tmp_path / "book", parent=fixed)
    plan = make_plan(str(root), PlanOptions(), {})
    assert {job.id: job.after for job in plan.jobs} == {
        "root/system_base:null.base": (),
        "root/system_base/system_kubelet:null.kubelet": ("root/system_base:null.base",),
        "root/system_base/system_nomad:null.nomad": ("root/system_base:null.base",),
    }


def test_a_one_line_block_whose_body_goes_on_is_rejected(tmp_path: Path) -> None:
    # python-hcl2 reads this; HCL (and so Packer) does not.
    files = {
        "b.pkr.hcl": SOURCE.format(name="a")
        + 'build { sources = ["source.null.a"]\n  name = "x"\n}\n'
    }
    write_tree(tmp_path, files)
    lines = problems(tmp_path)
    assert lines == [
        "b.pkr.hcl:4:36: Invalid single-argument block definition; An argument definition on "
        "the same line as its containing block creates a single-line block definition, which "
        "must also be closed on the same line. Place the block's closing brace immediately "
        "after the argument definition."
    ]
    assert_packer_rejects(tmp_path, lines)


def test_interpolation_in_a_nested_source_reference_is_rejected(tmp_path: Path) -> None:
    files = {
        "b.pkr.hcl": 'variable "n" {\n  default = "a"\n}\n'
        + SOURCE.format(name="a")
        + 'build {\n  source "source.null.${var.n}" {\n  }\n}\n'
    }
    write_tree(tmp_path, files)
    lines = problems(tmp_path)
    assert lines == [
        "b.pkr.hcl:8:23: Invalid string literal; Template sequences are not allowed in this "
        'string. To include a literal "$", double it (as "$$") to escape it.'
    ]
    assert_packer_rejects(tmp_path, lines)


def test_every_syntax_error_of_every_file_in_one_pass(tmp_path: Path) -> None:
    files = {
        "a/b.pkr.hcl": SOURCE.format(name="a")
        + 'build {\n  sources = ["source.null.a"]\n  post-processor "x" {\n    k = [1 2]\n  }\n}\n',
        "a/c.pkr.hcl": 'locals {\n  x = "\\q"\n}\n',
        "d/v.auto.pkrvars.hcl": "v = \n",
        "d/b.pkr.hcl": child("d"),
    }
    write_tree(tmp_path, files)
    lines = problems(tmp_path)
    assert lines == [
        f"a/b.pkr.hcl:7:12: {MISSING_ITEM_SEPARATOR}",
        'a/c.pkr.hcl:2:8: Invalid escape sequence; The symbol "q" is not a valid escape '
        "sequence selector.",
        "d/v.auto.pkrvars.hcl:1:5: Invalid expression; Expected the start of an expression, "
        "but found an invalid expression token.",
    ]
    assert_packer_rejects(tmp_path / "a", lines[:2])
    assert_packer_rejects(tmp_path / "d", lines[2:])


def test_a_var_file_given_on_the_command_line_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {"b.pkr.hcl": child("a"), "v.pkrvars.hcl": "x = [1 2]\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProblemsError) as caught:
        make_plan(".", PlanOptions(var_files=(str(tmp_path / "v.pkrvars.hcl"),)), {})
    assert caught.value.lines == [f"v.pkrvars.hcl:1:8: {MISSING_ITEM_SEPARATOR}"]
    assert_packer_rejects(tmp_path, caught.value.lines, "-var-file=v.pkrvars.hcl")


def test_diagnostics_are_split_and_placed() -> None:
    text = 'a = [1 2]\nb = "\\q"\nc = "x\n'
    found = [(e.where.line, e.where.col, e.message) for e in syntax_errors(text, "x.hcl")]
    assert found == [
        (1, 8, MISSING_ITEM_SEPARATOR),
        (2, 6, 'Invalid escape sequence; The symbol "q" is not a valid escape sequence selector.'),
        (
            3,
            7,
            "Invalid multi-line string; Quoted strings may not be split over multiple lines. To "
            "produce a multi-line string, either use the \\n escape to represent a newline "
            'character or use the "heredoc" multi-line template syntax.',
        ),
    ]
    assert syntax_errors('a = "ok"\n', "x.hcl") == []


def test_a_nul_byte_is_reported_where_it_is() -> None:
    (error,) = syntax_errors('a = 1\nb = "x\0y"\n', "x.hcl")
    assert (error.where.line, error.where.col) == (2, 7)
    assert error.message.startswith("Invalid character; the file holds a NUL byte")


def test_valid_files_start_no_go_runtime_in_config_reading(tmp_path: Path) -> None:
    # pargen.hcl is read with python-hcl2 alone; HashiCorp's parser only explains failures,
    # so the process that forks the parse workers has no Go runtime to copy.
    write_tree(tmp_path, {"pargen.hcl": "jobs = 2\n"})
    code = (
        "import sys; from pathlib import Path; from pargen.config import read_config_file; "
        f"read_config_file(Path({str(tmp_path)!r})); print('pygohcl' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"


def test_parse_workers_start_afresh_once_a_go_runtime_runs_here(tmp_path: Path) -> None:
    # This process has run HashiCorp's parser (the cases above, or this one): a forked worker
    # would copy a Go runtime without its threads. Enough templates for the worker pool must
    # still parse, every syntax error included.
    syntax_errors("a = 1\n", "x.hcl")
    files = {f"t{i:03}/b.pkr.hcl": child(f"s{i}") for i in range(70)}
    files["t999/b.pkr.hcl"] = child("bad").replace("sources = [", "sources = [1 ")
    write_tree(tmp_path, files)
    lines = problems(tmp_path)
    assert lines == [f"t999/b.pkr.hcl:5:16: {MISSING_ITEM_SEPARATOR}"]
    del files["t999/b.pkr.hcl"]
    shutil.rmtree(tmp_path / "t999")
    assert len(make_plan(str(tmp_path), PlanOptions(), {}).jobs) == 70
