"""Tests for pargen.cli: commands, their output and exit codes, and the single error handler.

Output is checked in-process with click's CliRunner on the ``cli`` group; exit codes and the
error handler through ``python -m pargen`` in a subprocess, as people and CI run it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

import pargen.cli as cli_module
from pargen import __version__
from pargen.cli import cli
from pargen.errors import ExitCode, PargenError
from tests.helpers import write_tree

SOURCES = (
    'source "null" "a" {\n  communicator = "none"\n}\n'
    'source "null" "b" {\n  communicator = "none"\n}\n'
)
TREE = {
    "main.pkr.hcl": SOURCES + 'build {\n  sources = ["source.null.a", "source.null.b"]\n}\n',
    "web/main.pkr.hcl": (
        'source "null" "a" {\n  communicator = "none"\n}\n'
        'build {\n  name = "web"\n  sources = ["source.null.a"]\n}\n'
    ),
}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_pargen(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pargen", *args],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line the handler printed; fails when there are several."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def main_in(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``pargen.cli.main()`` in this process, from ``cwd``: what a subprocess would show, faster."""

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        code = run_main(monkeypatch, *args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


# -- plan ------------------------------------------------------------------------------------


def test_plan_prints_a_table_by_default(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    assert invoke("plan", str(tmp_path)) == (
        0,
        ".  (2 jobs)\n"
        "  .:null.a\n"
        "  .:null.b\n"
        "web  (1 job, after . (nested directory))\n"
        "  web:web.null.a\n"
        "3 jobs in 2 template(s)\n"
        "limits: jobs 100%, retries 0, halt never, grace 900s\n",
        "",
    )


def test_plan_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, TREE)
    monkeypatch.chdir(tmp_path / "web")
    code, out, _ = invoke("plan", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["root"] == "."
    assert [job["id"] for job in document["jobs"]] == [".:web.null.a"]


def test_plan_json(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    code, out, err = invoke("plan", str(tmp_path), "--format", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["root"] == str(tmp_path)
    assert [
        (j["id"], j["template"], j["name"], j["only"], j["after"]) for j in document["jobs"]
    ] == [
        (".:null.a", ".", "null.a", "null.a", []),
        (".:null.b", ".", "null.b", "null.b", []),
        ("web:web.null.a", "web", "web.null.a", "web.null.a", [".:null.a", ".:null.b"]),
    ]


def test_plan_dot(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.pkr.hcl": TREE["main.pkr.hcl"]})
    assert invoke("plan", str(tmp_path), "--format", "dot") == (
        0,
        "digraph pargen {\n"
        "  rankdir=LR;\n"
        "  node [shape=box];\n"
        "  subgraph cluster_0 {\n"
        '    label=".";\n'
        '    ".:null.a" [label="null.a"];\n'
        '    ".:null.b" [label="null.b"];\n'
        "  }\n"
        "}\n",
        "",
    )


def test_plan_options(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    code, out, _ = invoke(
        "plan", str(tmp_path), "--format", "json", "--flat", "--only", "*.a", "--exclude", "nope"
    )
    assert code == 0
    assert [(j["id"], j["after"]) for j in json.loads(out)["jobs"]] == [
        (".:null.a", []),
        ("web:web.null.a", []),
    ]


NO_TEMPLATE = (
    "no *.pkr.hcl or *.pkr.json file, and no legacy JSON template "
    '(a *.json file with a "builders" list), in it or below it; '
    "give the directory that holds the templates"
)


@pytest.mark.parametrize("command", ["plan", "render", "check", "exec"])
def test_a_root_without_templates_is_bad_input(
    tmp_path: Path, main_in: Runner, command: str
) -> None:
    write_tree(tmp_path, {"docs/README.md": "no templates here\n", "pargen.sh": "#!/bin/sh\n"})
    args = ["docs", "pargen.sh"] if command == "check" else ["docs"]
    done = main_in(tmp_path, command, *args)
    assert (done.returncode, done.stdout) == (2, "")
    assert error_line(done) == f"pargen: error: no Packer template under docs: {NO_TEMPLATE}"
    assert not (tmp_path / "docs" / ".pargen" / "runs").exists()


def test_plan_of_templates_without_builds(tmp_path: Path) -> None:
    write_tree(tmp_path, {"variables.pkr.hcl": 'variable "v" {\n  default = "x"\n}\n'})
    expected = f"no jobs planned under {tmp_path}\n.  (no builds)\n"
    assert invoke("plan", str(tmp_path)) == (0, expected, "")


def test_plan_exit_codes_through_main(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    done = run_pargen("plan", ".", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.endswith(
        "3 jobs in 2 template(s)\nlimits: jobs 100%, retries 0, halt never, grace 900s\n"
    )


# -- version and usage -----------------------------------------------------------------------


def test_version() -> None:
    assert invoke("--version") == (0, f"pargen, version {__version__}\n", "")
    done = run_pargen("--version")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"pargen, version {__version__}\n",
        "",
    )


def test_help_exits_0(tmp_path: Path, main_in: Runner) -> None:
    done = main_in(tmp_path, "--help")
    assert done.returncode == 0
    for command in ("plan", "render", "check", "exec"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["frobnicate"], "frobnicate"),
        (["plan", "--frobnicate"], "--frobnicate"),
        (["plan", "--format", "yaml"], "yaml"),
        (["plan", "a", "b"], "b"),
        (["check"], "FILE"),
        (["check", "a", "b", "c"], "ROOT"),
        (["render", "--var", "novalue"], "NAME=VALUE"),
        (["exec", "--stall-timeout", "0"], "--stall-timeout"),
        (["render", "--on-overlap", "maybe"], "maybe"),
    ],
    ids=[
        "unknown-command",
        "unknown-option",
        "bad-choice",
        "extra-argument",
        "missing-file",
        "too-many-paths",
        "var-without-value",
        "stall-timeout-range",
        "overlap-choice",
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, main_in: Runner, args: list[str], mentions: str
) -> None:
    done = main_in(tmp_path, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    line = error_line(done)
    assert line.startswith("pargen: error: ")
    assert mentions in line


def test_root_that_is_a_file(tmp_path: Path, main_in: Runner) -> None:
    write_tree(tmp_path, {"main.pkr.hcl": TREE["main.pkr.hcl"]})
    done = main_in(tmp_path, "plan", "main.pkr.hcl")
    assert done.returncode == 2
    line = error_line(done)
    assert line.startswith("pargen: error: ")
    assert "main.pkr.hcl" in line


def test_root_that_does_not_exist(tmp_path: Path, main_in: Runner) -> None:
    done = main_in(tmp_path, "plan", "missing")
    assert (done.returncode, done.stdout) == (2, "")
    assert error_line(done) == (
        "pargen: error: missing: not a directory: give the root of a template tree"
    )


def test_template_problems_exit_2_one_line_each(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/main.pkr.hcl": 'build {\n  sources = ["source.null.nope"]\n}\n',
            "b/main.pkr.hcl": 'build {\n  sources = ["nope"]\n}\n',
        },
    )
    done = run_pargen("plan", ".", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        'pargen: error: a/main.pkr.hcl:2:14: unknown source "null.nope": declare source "null" '
        '"nope" { ... } or fix the reference',
        'pargen: error: b/main.pkr.hcl:2:14: invalid source reference "nope": write it as '
        "source.<type>.<name>; type and name must start with a letter or _ and hold only "
        "letters, digits, _ and -",
    ]


# -- render and check ------------------------------------------------------------------------


def test_render_writes_the_script_to_stdout(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    code, out, err = invoke("render", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.startswith("#!")
    assert "web.null.a" in out
    assert not (tmp_path / "pargen.sh").exists()


def test_render_o_writes_an_executable_file(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    script = tmp_path / "out" / "build.sh"
    script.parent.mkdir()
    assert invoke("render", str(tmp_path), "-o", str(script)) == (0, "", "")
    assert script.stat().st_mode & 0o111 == 0o111
    assert script.read_text(encoding="utf-8").startswith("#!")
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_render_o_to_an_unwritable_place(tmp_path: Path, main_in: Runner) -> None:
    write_tree(tmp_path, TREE)
    done = main_in(tmp_path, "render", ".", "-o", "no/such/dir/x.sh")
    assert done.returncode == 2
    assert error_line(done) == (
        "pargen: error: cannot write no/such/dir/x.sh: No such file or directory; check the path"
    )


def test_render_is_stable(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    first = invoke("render", str(tmp_path), "--jobs", "2")
    assert first == invoke("render", str(tmp_path), "--jobs", "2")


def test_check_passes_on_a_fresh_script(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    script = tmp_path / "pargen.sh"
    assert invoke("render", str(tmp_path), "-o", str(script), "--jobs", "3")[0] == 0
    assert invoke("check", str(tmp_path), str(script), "--jobs", "3") == (0, "", "")
    done = run_pargen("check", ".", "pargen.sh", "--jobs", "3", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_check_with_the_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, TREE)
    monkeypatch.chdir(tmp_path)
    assert invoke("render", "-o", "pargen.sh")[0] == 0
    assert invoke("check", "pargen.sh") == (0, "", "")


def test_check_fails_with_a_diff_when_the_tree_changed(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    assert invoke("render", str(tmp_path), "-o", str(tmp_path / "pargen.sh"))[0] == 0
    write_tree(
        tmp_path, {"db/main.pkr.hcl": SOURCES + 'build {\n  sources = ["null.a", "null.b"]\n}\n'}
    )
    done = run_pargen("check", ".", "pargen.sh", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("--- pargen.sh (committed)\n+++ pargen.sh (pargen render)\n")
    assert re.search(r"^\+.*db:null\.b", done.stdout, re.MULTILINE), done.stdout
    assert done.stderr == (
        "pargen: pargen.sh is stale; regenerate it with: pargen render . -o pargen.sh\n"
    )


def test_check_fails_when_an_option_changed(tmp_path: Path, main_in: Runner) -> None:
    write_tree(tmp_path, TREE)
    script = str(tmp_path / "pargen.sh")
    assert invoke("render", str(tmp_path), "-o", script, "--jobs", "3")[0] == 0
    done = main_in(tmp_path, "check", str(tmp_path), script, "--jobs", "4")
    assert done.returncode == 1
    assert done.stdout


def test_check_of_a_missing_file(tmp_path: Path, main_in: Runner) -> None:
    write_tree(tmp_path, TREE)
    done = main_in(tmp_path, "check", ".", "nope.sh")
    assert (done.returncode, done.stdout) == (2, "")
    line = error_line(done)
    assert line.startswith("pargen: error: nope.sh: cannot read it (")
    assert line.endswith("); render it with pargen render -o")


# -- exec ------------------------------------------------------------------------------------


def test_exec_of_a_selection_that_leaves_nothing_exits_0(tmp_path: Path, main_in: Runner) -> None:
    write_tree(tmp_path, TREE)
    done = main_in(tmp_path, "exec", ".", "--only", "nothing-is-called-this")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "pargen: nothing to build under .: no job matches --only/--except\n"
    assert not (tmp_path / ".pargen" / "runs").exists()


def test_exec_builds_and_leaves_a_run_directory(tmp_path: Path, script_env: dict[str, str]) -> None:
    root = write_tree(tmp_path / "tree", {"main.pkr.hcl": TREE["main.pkr.hcl"]})
    done = run_pargen("exec", ".", "--quiet", cwd=root, env=script_env)
    assert done.returncode == 0, done.stdout + done.stderr
    latest = root / ".pargen" / "runs" / "latest"
    assert latest.is_symlink()
    run = latest.resolve()
    assert run.parent == root / ".pargen" / "runs"
    plan = json.loads((run / "plan.json").read_text(encoding="utf-8"))
    assert [job["id"] for job in plan["jobs"]] == [".:null.a", ".:null.b"]
    for name in ("joblog", "report.json", "junit.xml"):
        assert (run / name).is_file(), f"{name} missing from the run directory"
    assert len(list((run / "logs").iterdir())) == 2


# -- the error handler -----------------------------------------------------------------------


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["pargen", *args])
    with pytest.raises(SystemExit) as caught:
        cli_module.main()
    code = caught.value.code
    assert isinstance(code, int)
    return code


def test_an_unexpected_exception_exits_3_with_the_traceback_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_module, "make_plan", boom)
    assert run_main(monkeypatch, "plan", str(tmp_path)) == 3
    out, err = capsys.readouterr()
    assert out == ""
    match = re.fullmatch(
        r"pargen: internal error: RuntimeError: boom; traceback saved to (\S+); "
        r"please report it with that file\n",
        err,
    )
    assert match, err
    saved = Path(match.group(1))
    try:
        text = saved.read_text(encoding="utf-8")
        assert text.startswith("Traceback (most recent call last):")
        assert "RuntimeError: boom" in text
        assert "in boom" in text
    finally:
        saved.unlink()


def test_a_pargen_error_exits_with_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def locked(*_args: object, **_kwargs: object) -> None:
        raise PargenError("pipeline 'x' is busy; wait or use --on-overlap", ExitCode.LOCKED)

    monkeypatch.setattr(cli_module, "make_plan", locked)
    assert run_main(monkeypatch, "plan", str(tmp_path)) == 4
    assert capsys.readouterr() == (
        "",
        "pargen: error: pipeline 'x' is busy; wait or use --on-overlap\n",
    )


def test_an_interrupt_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "make_plan", interrupted)
    assert run_main(monkeypatch, "plan", str(tmp_path)) == 130
    out, err = capsys.readouterr()
    # click ends the ^C line first, so the message starts on a line of its own.
    assert (out, err.lstrip("\n")) == ("", "pargen: interrupted\n")


def test_success_through_main_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, TREE)
    assert run_main(monkeypatch, "plan", str(tmp_path), "--only", "none") == 0
    assert capsys.readouterr() == (f"no jobs planned under {tmp_path}\n", "")


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "pargen"
    assert script.is_file()
    done = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": str(script.parent) + os.pathsep + os.environ["PATH"]},
    )
    assert (done.returncode, done.stdout) == (0, f"pargen, version {__version__}\n")
