"""Tests for pargen.packer.discover: which files and directories Packer would load as templates.

Trees are written into tmp_path from dicts of file contents; symlinks are made on top.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pargen.errors import Problem, ProblemsError
from pargen.packer.parse import TemplateSource, discover
from tests.helpers import write_tree

HCL = """
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
"""
LEGACY = json.dumps({"builders": [{"type": "null", "communicator": "none"}]}) + "\n"


def found(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """The template paths discovered under ``root``; fails on any problem."""
    templates, problems = discover(root, exclude)
    assert problems == []
    return [t.rel for t in templates]


def only_template(root: Path) -> TemplateSource:
    templates, problems = discover(root)
    assert problems == []
    (template,) = templates
    return template


def names(paths: tuple[Path, ...]) -> list[str]:
    return [p.name for p in paths]


def discover_within(root: Path, seconds: float = 10) -> tuple[list[TemplateSource], list[Problem]]:
    """discover() in a daemon thread, so a walk that never ends fails the test instead of
    hanging the run."""
    result: list[tuple[list[TemplateSource], list[Problem]]] = []
    thread = threading.Thread(target=lambda: result.append(discover(root)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"discover() did not finish within {seconds} s"
    assert result, "discover() raised"
    return result[0]


def problem_lines(problems: list[Problem]) -> list[str]:
    return [str(p) for p in sorted(problems)]


# -- Packer's loading rule ------------------------------------------------------------------


def test_a_directory_with_pkr_files_is_one_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"b.pkr.hcl": HCL, "a.pkr.json": "{}\n", "c.pkr.hcl": HCL})
    template = only_template(tmp_path)
    assert template.rel == "."
    assert template.kind == "hcl"
    assert template.directory == tmp_path
    # Packer's load order: every .pkr.hcl first, then every .pkr.json, each sorted.
    assert names(template.files) == ["b.pkr.hcl", "c.pkr.hcl", "a.pkr.json"]
    assert template.target == "."
    assert template.workdir == "."


def test_a_directory_of_only_pkr_json_is_a_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"images/build.pkr.json": "{}\n"})
    assert found(tmp_path) == ["images"]


def test_hidden_files_count(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/.hidden.pkr.hcl": HCL, "img/main.pkr.hcl": HCL})
    assert names(only_template(tmp_path).files) == [".hidden.pkr.hcl", "main.pkr.hcl"]


def test_a_hidden_file_alone_makes_a_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/.only.pkr.hcl": HCL})
    assert found(tmp_path) == ["img"]


def test_each_directory_is_its_own_template_subdirectories_are_not_read(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {"a.pkr.hcl": HCL, "child/b.pkr.hcl": HCL, "child/deeper/c.pkr.hcl": HCL})
    templates, _ = discover(tmp_path)
    assert [(t.rel, names(t.files)) for t in templates] == [
        (".", ["a.pkr.hcl"]),
        ("child", ["b.pkr.hcl"]),
        ("child/deeper", ["c.pkr.hcl"]),
    ]


def test_templates_are_sorted_by_path_components(tmp_path: Path) -> None:
    # "a-b" sorts before "a/..." as a string ('-' < '/') but after "a" as a path.
    write_tree(tmp_path, {"a-b/x.pkr.hcl": HCL, "a/c/x.pkr.hcl": HCL, "a/x.pkr.hcl": HCL})
    assert found(tmp_path) == ["a", "a/c", "a-b"]


def test_auto_var_files_are_recorded_hcl_first_then_json(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "main.pkr.hcl": HCL,
            "z.auto.pkrvars.hcl": 'a = "1"\n',
            "a.auto.pkrvars.json": '{"a": "2"}\n',
            "b.auto.pkrvars.hcl": 'a = "3"\n',
            "plain.pkrvars.hcl": 'a = "4"\n',
            "plain.pkrvars.json": '{"a": "5"}\n',
        },
    )
    template = only_template(tmp_path)
    assert names(template.files) == ["main.pkr.hcl"]
    assert names(template.auto_var_files) == [
        "b.auto.pkrvars.hcl",
        "z.auto.pkrvars.hcl",
        "a.auto.pkrvars.json",
    ]


def test_auto_var_files_alone_do_not_make_a_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"vars/x.auto.pkrvars.hcl": 'a = "1"\n'})
    assert found(tmp_path) == []


def test_plain_hcl_and_tf_files_are_ignored(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"terraform/main.tf": HCL, "terraform/main.hcl": HCL, "terraform/x.pkr.hcl.bak": HCL},
    )
    assert found(tmp_path) == []


def test_plain_hcl_beside_a_template_is_not_one_of_its_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.pkr.hcl": HCL, "shared.hcl": HCL, "main.tf": HCL})
    assert names(only_template(tmp_path).files) == ["main.pkr.hcl"]


def test_legacy_json_with_a_builders_list_is_a_file_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"legacy/app.json": LEGACY})
    template = only_template(tmp_path)
    assert template.rel == "legacy/app.json"
    assert template.kind == "legacy"
    assert template.directory == tmp_path / "legacy"
    assert names(template.files) == ["app.json"]
    # Packer runs from the file's directory and is given the file itself.
    assert template.target == "app.json"
    assert template.workdir == "legacy"
    assert template.auto_var_files == ()


def test_legacy_json_at_root(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app.json": LEGACY})
    template = only_template(tmp_path)
    assert (template.rel, template.workdir, template.target) == ("app.json", ".", "app.json")


def test_legacy_json_beside_an_hcl_template_is_a_second_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL, "img/old.json": LEGACY})
    templates, problems = discover(tmp_path)
    assert problems == []
    assert [(t.rel, t.kind) for t in templates] == [("img", "hcl"), ("img/old.json", "legacy")]
    assert names(templates[0].files) == ["main.pkr.hcl"]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "my-package", "version": "1.0.0"}\n',
        '[{"builders": []}]\n',
        "not json at all\n",
    ],
    ids=["no-builders", "top-level-list", "not-json"],
)
def test_a_json_file_that_is_no_legacy_template_is_ignored(tmp_path: Path, content: str) -> None:
    write_tree(tmp_path, {"conf/thing.json": content})
    assert found(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ('{\n  "builders": {"type": "null"}\n}\n', "an object"),
        ('{\n  "builders": "none"\n}\n', "a string"),
        ('{\n  "builders": null\n}\n', "null"),
    ],
)
def test_builders_that_are_not_a_list_are_a_problem(
    tmp_path: Path, content: str, kind: str
) -> None:
    # Packer fails on such a file ("'builders': source data must be an array or slice").
    write_tree(tmp_path, {"t.json": content})
    templates, problems = discover(tmp_path)
    assert templates == []
    assert problem_lines(problems) == [
        f't.json:2:3: "builders" must be a list of builders, got {kind}; write it as [{{...}}], '
        "or add the file to exclude if it is no Packer template"
    ]


def test_a_deeply_nested_json_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write_tree(tmp_path, {"deep.json": '{"builders": ' + "[" * 100_000 + "]" * 100_000 + "}"})
    templates, problems = discover(tmp_path)
    assert templates == []
    assert problem_lines(problems) == [
        "deep.json: this JSON nests too deeply to read; if it is no Packer template, add it "
        "to exclude"
    ]


@pytest.mark.parametrize("suffix", [".pkr.hcl", ".pkr.json", ".auto.pkrvars.hcl"])
def test_a_packer_file_that_is_a_fifo_is_a_problem(tmp_path: Path, suffix: str) -> None:
    # Packer would read it and wait forever for a writer.
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    os.mkfifo(tmp_path / "img" / f"pipe{suffix}")
    templates, problems = discover(tmp_path)
    assert [names(t.files) for t in templates] == [["main.pkr.hcl"]]
    assert problem_lines(problems) == [
        f"img/pipe{suffix}: not a regular file but a FIFO, which Packer would read as a "
        "template (a FIFO or a device hangs it); make it a file or remove it"
    ]


def test_a_link_to_a_device_is_a_problem_and_a_directory_is_skipped(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL, "img/dir.pkr.hcl/x": ""})
    (tmp_path / "img" / "zero.pkr.hcl").symlink_to("/dev/zero")
    templates, problems = discover(tmp_path)
    assert [names(t.files) for t in templates] == [["main.pkr.hcl"]]
    assert problem_lines(problems) == [
        "img/zero.pkr.hcl: not a regular file but a character device, which Packer would read "
        "as a template (a FIFO or a device hangs it); make it a file or remove it"
    ]


def _permission_denied_target() -> str:
    """A path whose stat fails with EACCES even for root (here: /proc/1/cwd in a sandbox)."""
    target = "/proc/1/cwd/x"
    try:
        Path(target).stat()
    except PermissionError:
        return target
    except OSError:
        pass
    pytest.skip("no path here whose stat is refused to root (/proc/1/cwd is readable)")


def test_a_link_that_cannot_be_followed_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    target = _permission_denied_target()
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    (tmp_path / "img" / "README").symlink_to(target)
    (tmp_path / "skipped").symlink_to(target)
    templates, problems = discover(tmp_path, exclude=["skipped"])
    assert [t.rel for t in templates] == ["img"]
    assert problem_lines(problems) == [
        "img/README: cannot tell what this is (Permission denied); make it readable, or add "
        "it to exclude"
    ]


def test_kernel_filesystems_are_not_walked(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    (tmp_path / "proc").symlink_to("/proc")
    (tmp_path / "sys").symlink_to("/sys")
    templates, problems = discover(tmp_path)
    assert ([t.rel for t in templates], problems) == (["img"], [])
    with pytest.raises(ProblemsError) as caught:
        discover(Path("/proc"))
    assert caught.value.lines == [
        "/proc: a kernel filesystem holds no templates; give another root"
    ]


def test_var_files_in_json_are_not_legacy_templates(tmp_path: Path) -> None:
    write_tree(tmp_path, {"v.pkrvars.json": '{"builders": []}\n'})
    assert found(tmp_path) == []


def test_invalid_json_mentioning_builders_is_a_problem_with_line_and_column(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {"legacy/app.json": '{\n  "builders": [\n    {"type": "null",}\n  ]\n}\n'})
    templates, problems = discover(tmp_path)
    assert templates == []
    assert problem_lines(problems) == [
        "legacy/app.json:3:21: invalid JSON in legacy template: "
        "Expecting property name enclosed in double quotes; fix it, or add the file to "
        "exclude if it is no Packer template"
    ]


def test_not_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        discover(tmp_path / "missing")
    assert caught.value.lines == [
        f"{tmp_path / 'missing'}: not a directory: give the root of a template tree"
    ]


# -- symlinks -------------------------------------------------------------------------------


def test_symlinked_template_files_are_followed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"shared/variables.hcl": 'variable "v" {\n  default = "x"\n}\n'})
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    (tmp_path / "img" / "variables.pkr.hcl").symlink_to("../shared/variables.hcl")
    (template,) = [t for t in discover(tmp_path)[0] if t.rel == "img"]
    assert names(template.files) == ["main.pkr.hcl", "variables.pkr.hcl"]
    assert template.files[1] == tmp_path / "img" / "variables.pkr.hcl"


def test_a_symlinked_legacy_template_is_followed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"store/app.txt": LEGACY, "img/placeholder": ""})
    (tmp_path / "img" / "app.json").symlink_to("../store/app.txt")
    assert found(tmp_path) == ["img/app.json"]


def test_a_symlinked_directory_is_followed(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"main.pkr.hcl": HCL, "deeper/x.pkr.hcl": HCL})
    root = tmp_path / "root"
    write_tree(root, {"a.pkr.hcl": HCL})
    (root / "linked").symlink_to(outside)
    templates, problems = discover(root)
    assert problems == []
    assert [t.rel for t in templates] == [".", "linked", "linked/deeper"]
    # Packer runs inside the directory as the tree names it.
    assert templates[1].directory == root / "linked"


def test_a_directory_reached_twice_is_found_once_under_its_real_path(tmp_path: Path) -> None:
    # "alias" sorts before "real": the real path must still name the template, so job ids do
    # not change when somebody adds a link.
    write_tree(tmp_path, {"real/main.pkr.hcl": HCL})
    (tmp_path / "alias").symlink_to("real")
    assert found(tmp_path) == ["real"]


def test_a_symlink_loop_is_reported_not_followed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.pkr.hcl": HCL, "child/b.pkr.hcl": HCL})
    (tmp_path / "child" / "up").symlink_to("..")
    templates, problems = discover_within(tmp_path)
    assert [t.rel for t in templates] == [".", "child"]
    assert problem_lines(problems) == [
        "child/up: symlink loop: this directory links back to one of its parents; "
        "remove the link or add it to exclude"
    ]


def test_a_loop_through_two_directories_ends(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "b/y.pkr.hcl": HCL})
    (tmp_path / "a" / "to_b").symlink_to("../b")
    (tmp_path / "b" / "to_a").symlink_to("../a")
    templates, problems = discover_within(tmp_path)
    assert [t.rel for t in templates] == ["a", "b"]
    assert len(problems) <= 2


def test_a_symlink_to_itself_ends(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    (tmp_path / "img" / "self").symlink_to("self")
    templates, problems = discover_within(tmp_path)
    assert [t.rel for t in templates] == ["img"]
    assert problem_lines(problems) == [
        "img/self: broken symlink (points to 'self'); fix or remove the link"
    ]


def test_a_loop_can_be_excluded(tmp_path: Path) -> None:
    write_tree(tmp_path, {"child/b.pkr.hcl": HCL})
    (tmp_path / "child" / "up").symlink_to("..")
    assert found(tmp_path, exclude=("child/up",)) == ["child"]


def test_a_broken_symlink_in_a_template_directory_is_a_problem_naming_it(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {"img/main.pkr.hcl": HCL})
    (tmp_path / "img" / "variables.pkr.hcl").symlink_to("../shared/gone.hcl")
    templates, problems = discover(tmp_path)
    assert [t.rel for t in templates] == ["img"]
    assert problem_lines(problems) == [
        "img/variables.pkr.hcl: broken symlink (points to '../shared/gone.hcl'); "
        "fix or remove the link"
    ]


def test_a_broken_packer_file_link_alone_is_a_problem(tmp_path: Path) -> None:
    write_tree(tmp_path, {"img/readme.txt": ""})
    (tmp_path / "img" / "main.pkr.hcl").symlink_to("nowhere.pkr.hcl")
    _, problems = discover(tmp_path)
    assert problem_lines(problems) == [
        "img/main.pkr.hcl: broken symlink (points to 'nowhere.pkr.hcl'); fix or remove the link"
    ]


def test_a_broken_unrelated_link_outside_templates_is_ignored(tmp_path: Path) -> None:
    write_tree(tmp_path, {"docs/readme.txt": ""})
    (tmp_path / "docs" / "latest").symlink_to("nowhere")
    assert found(tmp_path) == []


# -- skipped directories --------------------------------------------------------------------


@pytest.mark.parametrize(
    "skipped",
    [".git", ".hidden", "packer_cache", "output-null", "output-", ".pargen", "a/packer_cache"],
)
def test_tool_and_output_directories_are_skipped(tmp_path: Path, skipped: str) -> None:
    write_tree(tmp_path, {"a/main.pkr.hcl": HCL, f"{skipped}/x.pkr.hcl": HCL})
    write_tree(tmp_path, {f"{skipped}/deeper/y.pkr.hcl": HCL, f"{skipped}/app.json": LEGACY})
    assert found(tmp_path) == ["a"]


def test_output_is_only_skipped_as_a_prefix(tmp_path: Path) -> None:
    write_tree(tmp_path, {"my-output-x/main.pkr.hcl": HCL, "outputs/main.pkr.hcl": HCL})
    assert found(tmp_path) == ["my-output-x", "outputs"]


def test_exclude_by_relative_path(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "a/b/x.pkr.hcl": HCL, "c/b/x.pkr.hcl": HCL})
    assert found(tmp_path, exclude=("a/b",)) == ["a", "c/b"]


def test_exclude_by_name_anywhere(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "a/tmp-1/x.pkr.hcl": HCL, "tmp-2/x.pkr.hcl": HCL})
    assert found(tmp_path, exclude=("tmp-*",)) == ["a"]


def test_exclude_skips_everything_below(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "a/b/x.pkr.hcl": HCL, "a/b/app.json": LEGACY})
    assert found(tmp_path, exclude=("a",)) == []


def test_exclude_glob_over_paths_crosses_slashes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "a/b/c/x.pkr.hcl": HCL, "d/x.pkr.hcl": HCL})
    assert found(tmp_path, exclude=("a/*",)) == ["a", "d"]


def test_exclude_applies_to_legacy_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/app.json": LEGACY, "a/other.json": LEGACY, "b/app.json": LEGACY})
    assert found(tmp_path, exclude=("a/app.json",)) == ["a/other.json", "b/app.json"]
    assert found(tmp_path, exclude=("app.json",)) == ["a/other.json"]


def test_an_excluded_directory_hides_its_problems(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "broken/app.json": '{"builders": [\n'})
    assert found(tmp_path, exclude=("broken",)) == ["a"]


def test_an_unreadable_directory_is_a_problem(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/x.pkr.hcl": HCL, "locked/x.pkr.hcl": HCL})
    locked = tmp_path / "locked"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: a directory with mode 000 stays readable")
        templates, problems = discover(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [t.rel for t in templates] == ["a"]
    assert problem_lines(problems) == [
        "locked: cannot read directory: Permission denied; give pargen read access to it or "
        "add it to exclude"
    ]
