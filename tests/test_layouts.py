"""Layouts real repositories use, built for real and as the command line shows them: files
built one by one, build matrices, edges the directory tree does not show.

The real builds are Packer 1.6.6 ``null`` builds run by the rendered script; each records
what it was given in the marks file, so the test checks Packer's own reading of the inputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from tests.helpers import pargen_in, write_tree
from tests.trees import (
    MARKS_ENV,
    NEEDS_ENGINES,
    read_marks,
    render,
    run_script,
    states,
    step,
)
from tests.trees import write_tree as write_builds


def recording(name: str, variable: str, *, declare: bool = True) -> str:
    """A template whose build ``name`` appends ``<name> <value of variable>`` to the marks."""
    declared = f'variable "{variable}" {{\n  default = "{name}-default"\n}}\n' if declare else ""
    return (
        declared + f'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
        f'build {{\n  sources = ["source.null.{name}"]\n'
        '  provisioner "shell-local" {\n'
        f'    inline = ["echo {name} ${{var.{variable}}} >> \\"${MARKS_ENV}\\""]\n'
        "  }\n}\n"
    )


def marks_text(env: Mapping[str, str]) -> list[str]:
    return sorted(Path(env[MARKS_ENV]).read_text(encoding="utf-8").splitlines())


# -- built for real ------------------------------------------------------------------------------


@NEEDS_ENGINES
def test_files_built_one_by_one_get_only_their_own_file(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # Both declare "label"; Packer given a file loads no auto var file, so the defaults win.
    root = write_tree(
        tmp_path / "tree",
        {
            "images/a.pkr.hcl": recording("a", "label"),
            "images/b.pkr.hcl": recording("b", "label"),
            "images/label.auto.pkrvars.hcl": 'label = "from-auto-file"\n',
        },
    )
    script = render(root, tmp_path / "build.sh")
    done = run_script(script, tmp_path / "run", script_env)
    assert done.code == 0, done.stdout + done.stderr
    assert states(tmp_path / "run", script) == {
        "images/a.pkr.hcl:null.a": "succeeded",
        "images/b.pkr.hcl:null.b": "succeeded",
    }
    assert marks_text(script_env) == ["a a-default", "b b-default"]


@NEEDS_ENGINES
def test_each_job_of_a_matrix_gets_its_own_var_file(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # The var file decides which sources there are (a dynamic block over a variable), and
    # what the build is given; the common --var-file comes first, the matrix one wins.
    template = (
        'variable "os" {\n  type = string\n}\n'
        'variable "regions" {\n  type = list(string)\n  default = ["eu"]\n}\n'
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  dynamic "source" {\n    for_each = var.regions\n'
        '    labels = ["source.null.base"]\n    content {\n      name = source.value\n'
        "    }\n  }\n"
        '  provisioner "shell-local" {\n'
        f'    inline = ["echo ${{var.os}} >> \\"${MARKS_ENV}\\""]\n  }}\n}}\n'
    )
    root = write_tree(
        tmp_path / "tree",
        {
            "tpl/main.pkr.hcl": template,
            "os/it's $(x).pkrvars.hcl": 'os = "debian"\n',
            "os/ubuntu.pkrvars.hcl": 'os = "ubuntu"\nregions = ["eu", "us"]\n',
            "common.pkrvars.hcl": 'os = "common"\n',
        },
    )
    options = ["--var-file", str(root / "common.pkrvars.hcl")]
    options += ["--matrix-var-files", str(root / "os" / "*.pkrvars.hcl")]
    script = render(root, tmp_path / "build.sh", *options)
    done = run_script(script, tmp_path / "run", script_env)
    assert done.code == 0, done.stdout + done.stderr
    assert states(tmp_path / "run", script) == {
        "tpl@os/it's $(x).pkrvars.hcl:null.eu": "succeeded",
        "tpl@os/ubuntu.pkrvars.hcl:null.eu": "succeeded",
        "tpl@os/ubuntu.pkrvars.hcl:null.us": "succeeded",
    }
    assert marks_text(script_env) == ["debian", "ubuntu", "ubuntu"]


@NEEDS_ENGINES
def test_after_in_pargen_hcl_orders_real_builds(tmp_path: Path, script_env: dict[str, str]) -> None:
    root = write_builds(
        tmp_path / "tree",
        {"base": {"base": step("base", sleep=0.3)}, "apps/web": {"web": step("web")}},
    )
    write_tree(root, {"pargen.hcl": 'template "apps/*" {\n  after = ["base"]\n}\n'})
    script = render(root, tmp_path / "build.sh")
    done = run_script(script, tmp_path / "run", script_env)
    assert done.code == 0, done.stdout + done.stderr
    marks = read_marks(Path(script_env[MARKS_ENV]))
    assert marks["web"][0].start >= marks["base"][0].ended


# -- what the command line says ------------------------------------------------------------------

SIDE_BY_SIDE = {
    "a.pkr.hcl": recording("a", "label"),
    "b.pkr.hcl": recording("b", "label"),
}


def test_plan_notes_a_directory_read_one_template_per_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"win/{k}": v for k, v in SIDE_BY_SIDE.items()})
    done = pargen_in(tmp_path, "plan", ".")
    assert done.returncode == 0
    assert done.stderr == (
        "pargen: note: win: read as 2 templates, one per file with a build (packer build "
        "FILE), since its files cannot be loaded together (win/b.pkr.hcl:1: duplicate variable "
        '"label", first declared at win/a.pkr.hcl:1); to choose, set read in pargen.hcl: '
        'template "win" { read = "whole" }\n'
    )
    jobs = json.loads(pargen_in(tmp_path, "plan", ".", "--format", "json").stdout)["jobs"]
    assert [(j["id"], j["template"], j["workdir"], j["target"]) for j in jobs] == [
        ("win/a.pkr.hcl:null.a", "win/a.pkr.hcl", "win", "a.pkr.hcl"),
        ("win/b.pkr.hcl:null.b", "win/b.pkr.hcl", "win", "b.pkr.hcl"),
    ]


def test_render_and_exec_say_no_note(tmp_path: Path) -> None:
    write_tree(tmp_path, SIDE_BY_SIDE)
    done = pargen_in(tmp_path, "render", ".")
    assert (done.returncode, done.stderr) == (0, "")


def test_exclude_names_one_file_and_says_when_a_pattern_names_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, SIDE_BY_SIDE)
    done = pargen_in(tmp_path, "plan", ".", "--exclude", "b.pkr.hcl", "--exclude", "nope/*")
    assert done.returncode == 0
    assert done.stdout.splitlines()[:2] == ["a.pkr.hcl  (1 job)", "  a.pkr.hcl:null.a"]
    assert done.stderr.splitlines()[0] == (
        "pargen: warning: --exclude: 'nope/*' names no directory or template file; exclude "
        "patterns are paths relative to ROOT, or file and directory names"
    )


def test_unused_sources_are_one_line_unless_listed(tmp_path: Path) -> None:
    sources = "".join(f'source "null" "{n}" {{\n  communicator = "none"\n}}\n' for n in "abc")
    write_tree(tmp_path, {"main.pkr.hcl": sources + 'build {\n  sources = ["null.a"]\n}\n'})
    done = pargen_in(tmp_path, "plan", ".")
    assert done.stderr == (
        "pargen: warning: 2 source blocks are not used by any build (in 1 file, with these "
        "variables); pargen plan --unused-sources lists them\n"
    )
    listed = pargen_in(tmp_path, "plan", ".", "--unused-sources")
    assert listed.stderr == (
        'pargen: warning: main.pkr.hcl:4:1: source "null" "b" is not used by any build; add it '
        "to a build or remove it\n"
        'pargen: warning: main.pkr.hcl:7:1: source "null" "c" is not used by any build; add it '
        "to a build or remove it\n"
    )


def test_a_template_with_no_builds_is_shown(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.pkr.hcl": recording("a", "label"),
            "vars/main.pkr.hcl": 'variable "x" {\n  default = 1\n}\n',
        },
    )
    assert pargen_in(tmp_path, "plan", ".").stdout.splitlines()[2] == "vars  (no builds)"


def test_the_table_shows_groups_and_the_limits_given(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.pkr.hcl": recording("a", "label"),
            "b/main.pkr.hcl": recording("b", "label"),
            "pargen.hcl": 'jobs = 3\ngroup "cloud" {\n  names = ["a:*"]\n  limit = 1\n}\n',
        },
    )
    done = pargen_in(tmp_path, "plan", ".", "--retries", "2", "--group-limit", "4")
    assert done.stdout == (
        "a  (1 job)\n"
        "  a:null.a  group cloud\n"
        "b  (1 job)\n"
        "  b:null.b  group null\n"
        "2 jobs in 2 template(s)\n"
        "limits: jobs 3, retries 2, halt never, grace 900s, group cloud 1, group null 4\n"
    )


def test_a_cycle_exits_2_with_one_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.pkr.hcl": recording("a", "label"),
            "b/main.pkr.hcl": recording("b", "label"),
            "pargen.hcl": (
                'template "a" {\n  after = ["b"]\n}\ntemplate "b" {\n  after = ["a"]\n}\n'
            ),
        },
    )
    done = pargen_in(tmp_path, "plan", ".")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pargen: error: pargen.hcl:1:1: templates wait for each other in a cycle: a waits for b "
        "(after in pargen.hcl:1) waits for a (after in pargen.hcl:4); remove one of these edges\n"
    )


def test_a_matrix_glob_that_names_nothing_exits_2(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/main.pkr.hcl": recording("a", "label")})
    done = pargen_in(tmp_path, "render", ".", "--matrix-var-files", "os/*.pkrvars.hcl")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pargen: error: --matrix-var-files: 'os/*.pkrvars.hcl' names no var file (it is "
        "relative to the current directory); fix the glob\n"
    )


def test_template_blocks_are_checked(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.pkr.hcl": recording("a", "label"),
            "pargen.hcl": 'template "a" {\n  read = "both"\n}\n'
            'template "b" {\n  matrix_var_files = ["none/*.hcl"]\n}\n'
            'template "c" {\n  colour = 1\n}\n',
        },
    )
    done = pargen_in(tmp_path, "plan", ".")
    assert (done.returncode, done.stderr.splitlines()) == (
        2,
        [
            "pargen: error: pargen.hcl:1:1: template 'a': read = 'both'; use \"whole\" or "
            '"per-file"',
            "pargen: error: pargen.hcl:4:1: 'none/*.hcl' names no var file (it is relative to "
            "ROOT); fix the glob",
            "pargen: error: pargen.hcl:7:1: template 'c': unknown key 'colour'; use read, "
            "matrix_var_files, after, nesting",
        ],
    )
