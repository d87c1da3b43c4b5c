"""Tests for pargen.packer.layout: a directory read whole or one template per file, and each
template read once per var file of its build matrix (through pargen.packer.parse)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from pargen.errors import ProblemsError
from pargen.packer.parse import ParsedTree, Reading, VarInputs, discover, parse_all
from tests.helpers import write_tree


def complete(name: str, variable: str = "region") -> str:
    """A template complete on its own: a variable, a null source and a build of it."""
    return (
        f'variable "{variable}" {{\n  default = "eu"\n}}\n'
        f'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
        f'build {{\n  sources = ["source.null.{name}"]\n}}\n'
    )


def read(
    root: Path,
    files: Mapping[str, str],
    how: Reading | None = None,
    inputs: VarInputs | None = None,
    exclude: tuple[str, ...] = (),
) -> ParsedTree:
    write_tree(root, files)
    sources, problems = discover(root, exclude)
    assert problems == []
    readings = {source.rel: how for source in sources} if how is not None else {}
    return parse_all(sources, root, inputs or VarInputs(), readings)


def problem_lines(root: Path, files: Mapping[str, str], how: Reading | None = None) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        read(root, files, how)
    return caught.value.lines


def templates(tree: ParsedTree) -> list[tuple[str, str, list[str]]]:
    """(path, target, build names) of each template read."""
    return [(t.source.rel, t.source.target, [b.name for b in t.builds]) for t in tree.templates]


SIDE_BY_SIDE = {"a.pkr.hcl": complete("a"), "b.pkr.hcl": complete("b")}


def test_files_that_repeat_declarations_and_are_complete_are_templates_each(
    tmp_path: Path,
) -> None:
    tree = read(tmp_path, SIDE_BY_SIDE)
    assert templates(tree) == [
        ("a.pkr.hcl", "a.pkr.hcl", ["null.a"]),
        ("b.pkr.hcl", "b.pkr.hcl", ["null.b"]),
    ]
    assert [t.source.workdir for t in tree.templates] == [".", "."]
    assert [str(n) for n in tree.notes] == [
        ".: read as 2 templates, one per file with a build (packer build FILE), since its "
        'files cannot be loaded together (b.pkr.hcl:1: duplicate variable "region", first '
        'declared at a.pkr.hcl:1); to choose, set read in pargen.hcl: template "." '
        '{ read = "whole" }'
    ]


def test_a_repeated_source_makes_files_templates_too(tmp_path: Path) -> None:
    files = {
        "a.pkr.hcl": complete("x", variable="one"),
        "b.pkr.hcl": complete("x", variable="two"),
    }
    tree = read(tmp_path / "images", {f"w/{k}": v for k, v in files.items()})
    assert [t.source.rel for t in tree.templates] == ["w/a.pkr.hcl", "w/b.pkr.hcl"]
    assert "duplicate source block" in tree.notes[0].message


def test_a_file_read_alone_gets_no_auto_var_files(tmp_path: Path) -> None:
    # Packer given a file loads no *.auto.pkrvars.*: the default names the build.
    files = {
        "a.pkr.hcl": complete("a") + 'build {\n  name = var.region\n  sources = ["null.a"]\n}\n',
        "b.pkr.hcl": complete("b"),
        "x.auto.pkrvars.hcl": 'region = "us"\n',
    }
    tree = read(tmp_path, files)
    assert templates(tree)[0] == ("a.pkr.hcl", "a.pkr.hcl", ["null.a", "eu.null.a"])
    assert tree.templates[0].source.auto_var_files == ()
    assert "without its auto var files" in tree.notes[0].message


def test_a_file_without_a_build_is_not_a_template(tmp_path: Path) -> None:
    files = {**SIDE_BY_SIDE, "c.pkr.hcl": 'variable "region" {\n  default = "x"\n}\n'}
    tree = read(tmp_path, files)
    assert [t.source.rel for t in tree.templates] == ["a.pkr.hcl", "b.pkr.hcl"]
    assert "; not built: c.pkr.hcl (no build);" in tree.notes[0].message


def test_files_not_complete_alone_keep_the_errors_and_name_both_ways_out(tmp_path: Path) -> None:
    files = {
        "a.pkr.hcl": complete("a"),
        "b.pkr.hcl": complete("b") + 'build {\n  sources = ["source.null.a"]\n}\n',
    }
    assert problem_lines(tmp_path, files) == [
        ".: its files cannot be loaded together (duplicate declarations), nor built one by one "
        '(b.pkr.hcl:11:14: unknown source "null.a": declare source "null" "a" { ... } or fix '
        "the reference); keep one of each declaration, or make every file with a build "
        "complete on its own",
        'b.pkr.hcl:1:1: duplicate variable "region", first declared at a.pkr.hcl:1; keep only one',
    ]


def test_one_file_with_a_build_and_a_stray_duplicate_is_a_broken_whole(tmp_path: Path) -> None:
    files = {"a.pkr.hcl": complete("a"), "v.pkr.hcl": 'variable "region" {\n  default = "x"\n}\n'}
    assert problem_lines(tmp_path, files) == [
        'v.pkr.hcl:1:1: duplicate variable "region", first declared at a.pkr.hcl:1; keep only one'
    ]


def test_a_declaration_repeated_in_one_file_is_an_error_either_way(tmp_path: Path) -> None:
    files = {"a.pkr.hcl": complete("a") + complete("z"), "b.pkr.hcl": complete("b", "other")}
    assert problem_lines(tmp_path, files) == [
        'a.pkr.hcl:10:1: duplicate variable "region", first declared at a.pkr.hcl:1; keep only one'
    ]


def test_read_per_file_when_pargen_hcl_says_so(tmp_path: Path) -> None:
    files = {
        "a.pkr.hcl": complete("a"),
        "b.pkr.hcl": complete("b", "other"),
        "c.pkr.hcl": 'variable "more" {\n  default = "x"\n}\n',
    }
    assert [t.source.rel for t in read(tmp_path, files).templates] == ["."]
    tree = read(tmp_path, files, Reading(read="per-file"))
    assert [t.source.rel for t in tree.templates] == ["a.pkr.hcl", "b.pkr.hcl"]
    assert tree.notes == []


def test_read_whole_when_pargen_hcl_says_so(tmp_path: Path) -> None:
    assert problem_lines(tmp_path, SIDE_BY_SIDE, Reading(read="whole")) == [
        'b.pkr.hcl:1:1: duplicate variable "region", first declared at a.pkr.hcl:1; keep only one'
    ]


def test_exclude_leaves_out_a_file_built_alone(tmp_path: Path) -> None:
    tree = read(tmp_path, {**SIDE_BY_SIDE, "c.pkr.hcl": complete("c")}, exclude=("b.pkr.hcl",))
    assert [t.source.rel for t in tree.templates] == ["a.pkr.hcl", "c.pkr.hcl"]


def test_exclude_cannot_leave_out_a_file_of_a_directory_read_whole(tmp_path: Path) -> None:
    files = {"a.pkr.hcl": complete("a"), "b.pkr.hcl": 'build {\n  sources = ["null.a"]\n}\n'}
    tree = read(tmp_path, files, exclude=("b.pkr.hcl",))
    assert templates(tree) == [(".", ".", ["null.a", "null.a"])]


def test_a_matrix_reads_a_template_once_per_var_file(tmp_path: Path) -> None:
    text = (
        'variable "regions" {\n  type = list(string)\n}\n'
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  dynamic "source" {\n    for_each = var.regions\n'
        '    labels = ["source.null.base"]\n    content {\n      name = source.value\n'
        "    }\n  }\n}\n"
    )
    files = {
        "t/main.pkr.hcl": text,
        "vars/one.pkrvars.hcl": 'regions = ["a"]\n',
        "vars/two.pkrvars.hcl": 'regions = ["a", "b"]\n',
        "common.pkrvars.hcl": 'regions = ["common"]\n',
    }
    var_files = [str(tmp_path / "vars" / f) for f in ("one.pkrvars.hcl", "two.pkrvars.hcl")]
    how = Reading(matrix={"t": tuple(var_files)})
    # The matrix var file comes after the common ones, so it wins.
    inputs = VarInputs(var_files=(str(tmp_path / "common.pkrvars.hcl"),))
    tree = read(tmp_path, files, how, inputs)
    assert [(t.var_file, [b.name for b in t.builds]) for t in tree.templates] == [
        (var_files[0], ["null.a"]),
        (var_files[1], ["null.a", "null.b"]),
    ]


def test_a_matrix_applies_to_the_files_of_a_directory_read_per_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"v.pkrvars.hcl": 'region = "x"\n'})
    var_file = str(tmp_path / "v.pkrvars.hcl")
    how = Reading(matrix={"a.pkr.hcl": (var_file,)})
    tree = read(tmp_path, SIDE_BY_SIDE, how)
    assert [(t.source.rel, t.var_file) for t in tree.templates] == [
        ("a.pkr.hcl", var_file),
        ("b.pkr.hcl", None),
    ]


def test_a_broken_matrix_var_file_is_a_problem(tmp_path: Path) -> None:
    files = {"t/main.pkr.hcl": complete("a"), "bad.pkrvars.hcl": "region = \n"}
    how = Reading(matrix={"t": (str(tmp_path / "bad.pkrvars.hcl"),)})
    with pytest.raises(ProblemsError) as caught:
        read(tmp_path, files, how)
    assert [line.split(":")[0] for line in caught.value.lines] == ["bad.pkrvars.hcl"]


def test_the_cache_gives_back_the_same_templates(tmp_path: Path) -> None:
    files = {**SIDE_BY_SIDE, "v.pkrvars.hcl": 'region = "x"\n'}
    how = Reading(matrix={"a.pkr.hcl": (str(tmp_path / "v.pkrvars.hcl"),)})
    cold = read(tmp_path, files, how)
    assert (tmp_path / ".pargen" / "cache" / "parse.json").is_file()
    warm = read(tmp_path, files, how)
    assert warm == cold
    assert [t.source.as_file for t in warm.templates] == [True, True]
