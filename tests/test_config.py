"""Tests for pargen.config: settings from ROOT/pargen.hcl and the command line, which wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pargen.cli import cli
from pargen.config import Config, Group, PlanOptions, RunSettings, parse_duration, resolve
from pargen.errors import ProblemsError
from tests.helpers import write_tree

EXPECTED = {
    "jobs": "a number of slots (4), a share of the cores (50%), or cores plus/minus N (+1, -1)",
    "load": "a number of running threads (4) or a share (80%)",
    "memfree": "a size such as 2G or 512M",
    "delay": "a duration such as 5, 2.5s or 1m",
    "timeout": "a duration such as 90m or 2h",
    "retries": "a whole number of retries, 0 or more",
    "halt": "never, soon,fail=N, now,fail=N, or a percentage such as soon,fail=20%",
    "grace": "a duration such as 15m",
    "pipeline_id": "letters, digits, '.', '_' and '-', starting with a letter or digit",
    "on_overlap": "one of wait, fail, cancel",
    "group_limit": "a whole number, 1 or more",
    "max_jobs": "a whole number, 1 or more",
    "flat": "true or false",
}
KNOWN = (
    "delay, except, exclude, flat, grace, group, group_limit, halt, jobs, load, max_jobs, "
    "memfree, on_overlap, only, pipeline_id, retries, ssh, sshlogin, sshloginfile, template, "
    "timeout, var_files"
)


def config(root: Path, text: str | None = None, /, **cli_values: Any) -> Config:
    if text is not None:
        write_tree(root, {"pargen.hcl": text})
    return resolve(root, cli_values)


def problems(root: Path, text: str | None = None, /, **cli_values: Any) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        config(root, text, **cli_values)
    # pargen.hcl is named as the user reaches it: under ROOT as given.
    return [line.removeprefix(f"{root}/") for line in caught.value.lines]


def setting(result: Config, key: str) -> Any:
    plan_keys = {"max_jobs": "max_jobs", "flat": "flat", "exclude": "exclude", "only": "only"}
    if key == "except":
        return result.plan.except_
    if key in plan_keys:
        return getattr(result.plan, plan_keys[key])
    return getattr(result.run, key)


def test_no_file_and_no_options_give_the_defaults(tmp_path: Path) -> None:
    assert config(tmp_path) == Config(plan=PlanOptions(), run=RunSettings())
    assert RunSettings().jobs == "100%"
    assert RunSettings().grace == 900.0


# -- every setting, from the file and from the command line ----------------------------------

# key, value as written in pargen.hcl, its typed value, value on the command line, its typed value
SETTINGS = [
    ("jobs", "4", "4", "+1", "+1"),
    ("jobs", '"50%"', "50%", "-1", "-1"),
    ("load", '"80%"', "80%", "4", "4"),
    ("load", "2.5", "2.5", "90%", "90%"),
    ("memfree", '"2G"', "2G", "512M", "512M"),
    ("delay", "5", 5.0, "1m", 60.0),
    ("delay", '"2.5s"', 2.5, "0", 0.0),
    ("timeout", '"2h"', 7200.0, "90m", 5400.0),
    ("retries", "3", 3, "0", 0),
    ("halt", '"soon,fail=20%"', "soon,fail=20%", "now,fail=1", "now,fail=1"),
    ("halt", '"never"', "never", "soon,fail=3", "soon,fail=3"),
    ("grace", '"10m"', 600.0, "1h30m", 5400.0),
    ("pipeline_id", '"ci-main"', "ci-main", "other.id_2", "other.id_2"),
    ("on_overlap", '"fail"', "fail", "cancel", "cancel"),
    ("group_limit", "2", 2, "5", 5),
    ("max_jobs", "10", 10, "200", 200),
    ("flat", "true", True, "false", False),
    ("flat", "false", False, "true", True),
]


@pytest.mark.parametrize(
    ("key", "written", "value", "given", "given_value"),
    SETTINGS,
    ids=[f"{s[0]}={s[1]}" for s in SETTINGS],
)
def test_each_setting_from_the_file_and_the_command_line(
    tmp_path: Path, key: str, written: str, value: object, given: str, given_value: object
) -> None:
    assert setting(config(tmp_path, f"{key} = {written}\n"), key) == value
    assert setting(config(tmp_path, **{key: given}), key) == given_value
    # Both: the command line wins.
    assert setting(config(tmp_path, f"{key} = {written}\n", **{key: given}), key) == given_value


@pytest.mark.parametrize("key", ["exclude", "only", "except"])
def test_list_settings_from_the_file_and_the_command_line(tmp_path: Path, key: str) -> None:
    assert setting(config(tmp_path, f'{key} = ["a", "b/*"]\n'), key) == ("a", "b/*")
    assert setting(config(tmp_path, **{key: ("c",)}), key) == ("c",)
    # The command line replaces the file's list; it does not add to it.
    assert setting(config(tmp_path, f'{key} = ["a"]\n', **{key: ("c", "d")}), key) == ("c", "d")


def test_a_whole_file(tmp_path: Path) -> None:
    text = """
        # Settings for this tree.
        pipeline_id = "images"
        jobs        = 3
        grace       = "10m"
        exclude     = ["scratch", "old/*"]

        group "aws" {
          names = ["*aws-*"]
          limit = 2
        }
        group "gcp.v2" {
          types = ["googlecompute"]
          names = ["*gcp*"]
          limit = 1
        }
    """
    result = config(tmp_path, text)
    assert result.run == RunSettings(
        jobs="3",
        grace=600.0,
        pipeline_id="images",
        groups=(
            Group("aws", 2, names=("*aws-*",)),
            Group("gcp.v2", 1, types=("googlecompute",), names=("*gcp*",)),
        ),
    )
    assert result.plan == PlanOptions(exclude=("scratch", "old/*"))


def test_vars_come_from_the_command_line_in_order(tmp_path: Path) -> None:
    result = config(tmp_path, vars=(("a", "1"), ("b", "x=y"), ("a", "2")))
    assert result.plan.vars == (("a", "1"), ("b", "x=y"), ("a", "2"))


def test_the_file_is_read_from_root_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {"pargen.hcl": "jobs = 2\n", "tree/pargen.hcl": "jobs = 7\n"})
    monkeypatch.chdir(tmp_path)
    assert config(tmp_path / "tree").run.jobs == "7"
    assert config(tmp_path / "elsewhere").run.jobs == "100%"


# -- invalid values --------------------------------------------------------------------------

BAD_FILE_VALUES = [
    ("jobs", '"abc"', "'abc'"),
    ("jobs", "0", "0"),
    ("jobs", '"0%"', "'0%'"),
    ("jobs", "[1]", "[1]"),
    ("jobs", "true", "True"),
    ("load", '"x"', "'x'"),
    ("memfree", '"1Q"', "'1Q'"),
    ("delay", '"-1"', "'-1'"),
    ("timeout", '"soon"', "'soon'"),
    ("retries", "-1", "-1"),
    ("retries", '"x"', "'x'"),
    ("retries", "1.5", "1.5"),
    ("halt", '"sometimes"', "'sometimes'"),
    ("halt", '"now,fail=0"', "'now,fail=0'"),
    ("halt", '"soon,fail=101%"', "'soon,fail=101%'"),
    ("grace", '"x"', "'x'"),
    ("pipeline_id", '"a b"', "'a b'"),
    ("pipeline_id", '"-a"', "'-a'"),
    ("on_overlap", '"maybe"', "'maybe'"),
    ("group_limit", "0", "0"),
    ("max_jobs", "0", "0"),
    ("flat", "3", "3"),
    ("flat", '"yes"', "'yes'"),
]


@pytest.mark.parametrize(
    ("key", "written", "shown"), BAD_FILE_VALUES, ids=[f"{k}={w}" for k, w, _ in BAD_FILE_VALUES]
)
def test_an_invalid_value_in_the_file_names_line_and_column(
    tmp_path: Path, key: str, written: str, shown: str
) -> None:
    text = f"# limits\n\n  {key} = {written}\n"
    assert problems(tmp_path, text) == [
        f"pargen.hcl:3:3: {key} = {shown} is not valid; expected {EXPECTED[key]}"
    ]


BAD_OPTIONS = [
    ("jobs", "0"),
    ("jobs", "abc"),
    ("load", "x"),
    ("memfree", "1Q"),
    ("delay", "-1"),
    ("timeout", "soon"),
    ("retries", "-1"),
    ("halt", "sometimes"),
    ("grace", "x"),
    ("pipeline_id", "a b"),
    ("on_overlap", "maybe"),
    ("group_limit", "0"),
    ("max_jobs", "0"),
]


@pytest.mark.parametrize(("key", "given"), BAD_OPTIONS, ids=[f"{k}={v}" for k, v in BAD_OPTIONS])
def test_an_invalid_option_names_the_option(tmp_path: Path, key: str, given: str) -> None:
    option = "--" + key.replace("_", "-")
    assert problems(tmp_path, **{key: given}) == [
        f"{option}: {key} = {given!r} is not valid; expected {EXPECTED[key]}"
    ]


def test_a_valid_option_hides_an_invalid_file_value(tmp_path: Path) -> None:
    assert config(tmp_path, 'jobs = "abc"\n', jobs="2").run.jobs == "2"


def test_every_invalid_value_is_reported_at_once(tmp_path: Path) -> None:
    text = 'jobs = "abc"\nretries = -1\nexclude = "a"\n'
    assert problems(tmp_path, text, halt="x") == [
        f"--halt: halt = 'x' is not valid; expected {EXPECTED['halt']}",
        f"pargen.hcl:1:1: jobs = 'abc' is not valid; expected {EXPECTED['jobs']}",
        f"pargen.hcl:2:1: retries = -1 is not valid; expected {EXPECTED['retries']}",
        "pargen.hcl:3:1: exclude must be a list of strings",
    ]


@pytest.mark.parametrize("key", ["exclude", "only", "except", "var_files"])
def test_a_list_setting_must_be_a_list_of_strings(tmp_path: Path, key: str) -> None:
    assert problems(tmp_path, f"{key} = [1]\n") == [
        f"pargen.hcl:1:1: {key} must be a list of strings"
    ]


def test_an_unknown_setting(tmp_path: Path) -> None:
    assert problems(tmp_path, "jobs = 2\njobz = 4\n") == [
        f"pargen.hcl:2:1: unknown setting 'jobz'; known settings: {KNOWN}"
    ]


def test_a_setting_given_twice(tmp_path: Path) -> None:
    # HCL itself rejects a repeated attribute; taking either value silently hides a mistake.
    (line,) = problems(tmp_path, "jobs = 4\njobs = 5\n")
    assert line.startswith("pargen.hcl:2:1: ")
    assert "jobs" in line


def test_invalid_hcl(tmp_path: Path) -> None:
    # A sentence from HashiCorp's parser, at the place it names, not the reader's raw token.
    assert problems(tmp_path, "jobs = 4\ngroup {\n") == [
        "pargen.hcl:2:7: Unclosed configuration block; There is no closing brace for this "
        "block before the end of the file. This may be caused by incorrect brace nesting "
        "elsewhere in this file."
    ]
    assert problems(tmp_path, 'jobs = 4\ngroup "g" {\n  types = ["a" "b"]\n}\n') == [
        "pargen.hcl:3:16: Missing item separator; Expected a comma to mark the beginning of "
        "the next item."
    ]


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pargen.hcl": b"jobs = \xff\n"})
    (line,) = problems(tmp_path)
    assert line.startswith("pargen.hcl: cannot read it (")
    assert line.endswith("; fix its permissions or encoding")


def test_a_directory_named_pargen_hcl_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "pargen.hcl").mkdir()
    assert config(tmp_path) == Config(plan=PlanOptions(), run=RunSettings())


# -- group blocks ----------------------------------------------------------------------------


def test_group_blocks(tmp_path: Path) -> None:
    text = """
        group "aws" {
          types = ["amazon-*"]
          limit = 4
        }
        group "fast_1" {
          names = ["base:*", "*.small"]
          limit = 1
        }
    """
    assert config(tmp_path, text).run.groups == (
        Group("aws", 4, types=("amazon-*",)),
        Group("fast_1", 1, names=("base:*", "*.small")),
    )


BAD_GROUPS = [
    (
        'group "g" {\n  limit = 0\n  types = ["a"]\n}\n',
        "group 'g': set limit to a whole number >= 1",
    ),
    (
        'group "g" {\n  limit = 1.5\n  types = ["a"]\n}\n',
        "group 'g': set limit to a whole number >= 1",
    ),
    (
        'group "g" {\n  limit = "2"\n  types = ["a"]\n}\n',
        "group 'g': set limit to a whole number >= 1",
    ),
    (
        'group "g" {\n  limit = true\n  types = ["a"]\n}\n',
        "group 'g': set limit to a whole number >= 1",
    ),
    ('group "g" {\n  types = ["a"]\n}\n', "group 'g': set limit to a whole number >= 1"),
    ('group "g" {\n  limit = 2\n}\n', "group 'g': give types and/or names as lists of globs"),
    (
        'group "g" {\n  limit = 2\n  types = []\n}\n',
        "group 'g': give types and/or names as lists of globs",
    ),
    (
        'group "g" {\n  limit = 2\n  types = "a"\n}\n',
        "group 'g': give types and/or names as lists of globs",
    ),
    (
        'group "g" {\n  limit = 2\n  names = [1]\n}\n',
        "group 'g': give types and/or names as lists of globs",
    ),
    (
        'group "g" {\n  limit = 2\n  colour = ["a"]\n}\n',
        "group 'g': unknown key 'colour'; use limit, types, names",
    ),
    (
        'group "a b" {\n  limit = 2\n  types = ["a"]\n}\n',
        "group 'a b': name it with letters, digits, '.', '_', '-'",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    BAD_GROUPS,
    ids=[
        "limit-0",
        "limit-float",
        "limit-string",
        "limit-bool",
        "no-limit",
        "no-globs",
        "empty-globs",
        "types-not-a-list",
        "names-not-strings",
        "unknown-key",
        "bad-name",
    ],
)
def test_an_invalid_group(tmp_path: Path, text: str, message: str) -> None:
    assert problems(tmp_path, text) == [f"pargen.hcl:1:1: {message}"]


def test_each_invalid_group_is_reported_where_it_starts(tmp_path: Path) -> None:
    text = (
        'jobs = 2\ngroup "ok" {\n  limit = 1\n  types = ["a"]\n}\n'
        'group "bad" {\n  limit = 0\n  types = ["a"]\n}\n'
        'group "worse" {\n  limit = 1\n}\n'
    )
    assert problems(tmp_path, text) == [
        "pargen.hcl:6:1: group 'bad': set limit to a whole number >= 1",
        "pargen.hcl:10:1: group 'worse': give types and/or names as lists of globs",
    ]


def test_a_group_without_a_label(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, 'group {\n  limit = 1\n  types = ["a"]\n}\n')
    assert line.startswith("pargen.hcl:1:1: ")
    assert "group" in line


def test_a_group_with_two_labels(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, 'group "a" "b" {\n  limit = 1\n  types = ["a"]\n}\n')
    assert line.startswith("pargen.hcl:1:1: group ")
    assert "unknown key" not in line


def test_group_as_an_attribute(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, "group = 3\n")
    assert line.startswith("pargen.hcl:1:1: ")
    assert "group" in line


def test_two_groups_with_one_name(tmp_path: Path) -> None:
    text = (
        'group "a" {\n  limit = 1\n  types = ["x"]\n}\n'
        'group "a" {\n  limit = 2\n  types = ["y"]\n}\n'
    )
    (line,) = problems(tmp_path, text)
    assert line.startswith("pargen.hcl:5:1: group 'a'")


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("2.5m", 150.0),
        (" 10m ", 600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", " ", "soon", "-1", "1x", "m", "1h 30m", "1e3", ".5", "1.", "5 min", "1,5", "inf", "nan"],
)
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


# -- var files -------------------------------------------------------------------------------


def test_var_files_in_the_file_are_relative_to_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    write_tree(root, {"vars/prod.pkrvars.hcl": 'a = "1"\n'})
    monkeypatch.chdir(tmp_path)
    result = config(root, 'var_files = ["vars/prod.pkrvars.hcl"]\n')
    assert result.plan.var_files == (str(root / "vars" / "prod.pkrvars.hcl"),)


def test_var_files_on_the_command_line_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    write_tree(tmp_path, {"mine.pkrvars.hcl": 'a = "1"\n', "tree/mine.pkrvars.hcl": 'a = "2"\n'})
    monkeypatch.chdir(tmp_path)
    result = config(root, 'var_files = ["mine.pkrvars.hcl"]\n', var_files=("mine.pkrvars.hcl",))
    assert result.plan.var_files == (str(tmp_path / "mine.pkrvars.hcl"),)


def test_absolute_var_files_stay_as_they_are(tmp_path: Path) -> None:
    write_tree(tmp_path, {"abs.pkrvars.hcl": 'a = "1"\n'})
    path = str(tmp_path / "abs.pkrvars.hcl")
    assert config(tmp_path / "x", var_files=(path,)).plan.var_files == (path,)


def test_a_missing_var_file_in_the_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"ok.pkrvars.hcl": 'a = "1"\n'})
    assert problems(tmp_path, 'var_files = ["ok.pkrvars.hcl", "nope.pkrvars.hcl"]\n') == [
        "pargen.hcl:1:1: var file 'nope.pkrvars.hcl' does not exist; fix the path"
    ]


def test_a_missing_var_file_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It exists under ROOT, but a command-line path is relative to the working directory.
    write_tree(tmp_path, {"tree/prod.pkrvars.hcl": 'a = "1"\n'})
    monkeypatch.chdir(tmp_path)
    assert problems(tmp_path / "tree", var_files=("prod.pkrvars.hcl",)) == [
        "--var-file: var file 'prod.pkrvars.hcl' does not exist; fix the path"
    ]


def test_a_directory_is_not_a_var_file(tmp_path: Path) -> None:
    (tmp_path / "vars").mkdir()
    assert problems(tmp_path, 'var_files = ["vars"]\n') == [
        "pargen.hcl:1:1: var file 'vars' is a directory; give the path of a file in it"
    ]


# -- through the command line ----------------------------------------------------------------

TREE = {
    "main.pkr.hcl": (
        'source "null" "a" {\n  communicator = "none"\n}\n'
        'source "null" "b" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["source.null.a", "source.null.b"]\n}\n'
    ),
    "child/main.pkr.hcl": (
        'source "null" "c" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["source.null.c"]\n}\n'
    ),
}


def plan_lines(root: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["plan", str(root), "--format", "json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code != 0:
        return result.exit_code, []
    return 0, [f"{j['id']} after {j['after']}" for j in json.loads(result.stdout)["jobs"]]


def test_plan_settings_from_the_file_and_the_command_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, "pargen.hcl": 'only = ["*.a", "child:*"]\nflat = true\n'})
    assert plan_lines(tmp_path) == (0, [".:null.a after []", "child:null.c after []"])
    assert plan_lines(tmp_path, "--only", "*.b") == (0, [".:null.b after []"])
    assert plan_lines(tmp_path, "--except", "*.a") == (0, ["child:null.c after []"])


def test_flat_in_the_file_can_be_turned_off_on_the_command_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, "pargen.hcl": "flat = true\n"})
    code, lines = plan_lines(tmp_path, "--no-flat")
    assert code == 0
    assert lines[-1] == "child:null.c after ['.:null.a', '.:null.b']"


def test_max_jobs_on_the_command_line_wins(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, "pargen.hcl": "max_jobs = 1\n"})
    assert plan_lines(tmp_path, "--max-jobs", "3")[0] == 0


def test_exclude_from_the_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, "pargen.hcl": 'exclude = ["child"]\n'})
    assert plan_lines(tmp_path) == (0, [".:null.a after []", ".:null.b after []"])
