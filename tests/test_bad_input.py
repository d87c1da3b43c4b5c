"""Bad input never crashes pargen: exit 2, one ``pargen: error:`` line per problem, each naming
the file (and line:col when the problem is inside one), and nothing run.

Each case runs ``python -m pargen`` as a subprocess from inside its tree (ROOT is ``.``), so
the paths in messages are the paths a person would open. The cases of the module run
concurrently in a fixture (each one is a whole Python process) and each test checks one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pargen.cli import cli
from tests.helpers import write_tree

SRC = 'source "null" "a" {\n  communicator = "none"\n}\n'  # lines 1-3
BUILD = 'build {\n  sources = ["source.null.a"]\n}\n'  # lines 4-6 after SRC
GOOD = SRC + BUILD
# A build that leaves ran-marker in ROOT if Packer ever runs it.
RUNNABLE = (
    SRC + 'build {\n  sources = ["source.null.a"]\n'
    '  provisioner "shell-local" {\n    inline = ["touch ran-marker"]\n  }\n}\n'
)
VARIABLE = 'variable "v" {\n  default = "x"\n}\n'  # lines 1-3
NUMBER_VARIABLE = 'variable "n" {\n  type = number\n  default = 1\n}\n'  # lines 1-4
MARKER = "ran-marker"


@dataclass(frozen=True)
class Case:
    id: str
    files: Mapping[str, str | bytes]
    where: tuple[str, ...]
    """One entry per expected line, in the order printed: ``path:line:col`` (``*`` for any
    number), ``path`` for a problem without a line, ``--option``, or ``~text`` when only
    some text of the line is known."""
    args: tuple[str, ...] = ("plan", ".")
    setup: Callable[[Path], None] | None = None
    path: Callable[[Path], str] | None = None
    """PATH for the run (default: the test's own)."""
    needs: str = ""
    """A pargen command the case needs (skipped while it does not exist)."""
    hint: str = ""
    """Text the first line must hold (the fix, or the name of the thing)."""
    exact: tuple[str, ...] = field(default=())
    """The whole lines after ``pargen: error: ``, when pinned."""
    stdout: str = ""
    """What a case that is no error prints."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the run."""


def line_pattern(where: str) -> re.Pattern[str]:
    prefix = "pargen: error: "
    if where.startswith("~"):
        return re.compile(re.escape(prefix) + r".*" + re.escape(where[1:]))
    path, *numbers = where.split(":")
    pattern = re.escape(path)
    for number in numbers:
        pattern += ":" + (r"\d+" if number == "*" else re.escape(number))
    return re.compile(re.escape(prefix) + pattern + r": \S")


# -- setups for what a dict of files cannot hold ---------------------------------------------


def broken_link(root: Path) -> None:
    (root / "img").mkdir()
    (root / "img" / "main.pkr.hcl").write_text(GOOD, encoding="utf-8")
    (root / "img" / "variables.pkr.hcl").symlink_to("../shared/gone.pkr.hcl")


def loop(root: Path) -> None:
    (root / "img").mkdir()
    (root / "img" / "main.pkr.hcl").write_text(GOOD, encoding="utf-8")
    (root / "img" / "up").symlink_to("..")


def read_error(root: Path) -> None:
    # Reading /proc/self/mem at offset 0 fails with EIO, even for root.
    (root / "c.pkr.hcl").symlink_to("/proc/self/mem")


def fifo(root: Path) -> None:
    os.mkfifo(root / "pipe.pkr.hcl")


def link_to_dev_zero(root: Path) -> None:
    (root / "zero.pkr.hcl").symlink_to("/dev/zero")


# A path whose stat is refused even to root where pargen's sandboxes run (/proc/1/cwd).
UNSTATABLE = "/proc/1/cwd/x"


def _stat_refused(path: str) -> bool:
    try:
        Path(path).stat()
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def unstatable_link(root: Path) -> None:
    (root / "notes").symlink_to(UNSTATABLE)


def pargen_run_dir(root: Path) -> None:
    (root / "not-a-run").mkdir()


def bin_dir(root: Path, *programs: str) -> Path:
    """A directory holding only ``programs`` (links to the real ones)."""
    directory = root.parent / f"{root.name}-bin"
    directory.mkdir(exist_ok=True)
    for program in programs:
        real = shutil.which(program)
        assert real is not None, f"{program} not installed"
        (directory / program).symlink_to(real)
    return directory


def without_parallel(root: Path) -> str:
    return str(bin_dir(root, "bash", "packer", "perl"))


def without_packer(root: Path) -> str:
    return str(bin_dir(root, "bash", "parallel", "perl"))


def fake_parallel(root: Path) -> str:
    fake = bin_dir(root)
    (fake / "parallel").write_text(
        "#!/bin/sh\n"
        # moreutils' parallel has no --version: it takes it for a command.
        f'case "$*" in *--version*) ;; *) touch "{root}/fake-parallel-ran" ;; esac\n'
        'echo "parallel [OPTIONS] command -- arguments"\n'
        "exit 1\n",
        encoding="utf-8",
    )
    (fake / "parallel").chmod(0o755)
    return f"{fake}{os.pathsep}{os.environ['PATH']}"


def unusable(root: Path) -> str:
    # Programs are checked before anything runs, so this PATH must never be searched.
    return str(bin_dir(root, "bash"))


CASES = [
    # -- HCL syntax ------------------------------------------------------------------------
    Case(
        "hcl-unclosed-brace",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.a"]\n'},
        ("b.pkr.hcl:*:*",),
    ),
    Case(
        "hcl-attribute-without-value",
        {"b.pkr.hcl": SRC + "build {\n  sources = \n}\n"},
        ("b.pkr.hcl:5:*",),
    ),
    Case(
        "hcl-attribute-without-equals",
        {"b.pkr.hcl": SRC + 'build {\n  sources ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:*",),
    ),
    Case("hcl-stray-closing-brace", {"b.pkr.hcl": SRC + "}\n" + BUILD}, ("b.pkr.hcl:4:1",)),
    Case(
        "hcl-stray-character",
        {"b.pkr.hcl": SRC + "@\n" + BUILD},
        ("b.pkr.hcl:4:1", "b.pkr.hcl:4:1"),
        hint="Argument or block definition required",
    ),
    Case(
        "hcl-block-without-brace", {"b.pkr.hcl": 'source "null" "a"\n' + BUILD}, ("b.pkr.hcl:*:*",)
    ),
    Case(
        "hcl-unterminated-string",
        {"b.pkr.hcl": SRC + 'build {\n  name = "abc\n  sources = ["source.null.a"]\n}\n'},
        # HCL reports each line the open string swallows, as Packer does.
        ("b.pkr.hcl:5:14", "b.pkr.hcl:5:14", "b.pkr.hcl:6:30", "b.pkr.hcl:7:2"),
        hint="Invalid multi-line string",
    ),
    Case(
        "hcl-heredoc-never-closed",
        {"b.pkr.hcl": SRC + "locals {\n  x = <<EOT\nhello\n"},
        ("b.pkr.hcl:*:*",),
    ),
    Case(
        "hcl-invalid-escape",
        {"b.pkr.hcl": SRC + 'build {\n  name = "a\\qb"\n  sources = ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:*",),
    ),
    Case("hcl-unsupported-block", {"b.pkr.hcl": SRC + "foo {\n}\n" + BUILD}, ("b.pkr.hcl:4:1",)),
    Case(
        "hcl-source-with-one-label",
        {"b.pkr.hcl": 'source "null" {\n  communicator = "none"\n}\n'},
        ("b.pkr.hcl:1:1",),
    ),
    Case(
        "hcl-binary-garbage",
        {"b.pkr.hcl": b"\x00\xff\xfe\x01garbage\x89PNG\r\n"},
        ("b.pkr.hcl",),
        hint="UTF-8",
    ),
    Case(
        "hcl-read-error", {"b.pkr.hcl": GOOD}, ("c.pkr.hcl",), setup=read_error, hint="cannot read"
    ),
    # -- HCL in JSON -----------------------------------------------------------------------
    Case("json-broken", {"b.pkr.json": '{"source": {\n  "null": \n}\n'}, ("b.pkr.json:3:1",)),
    Case(
        "json-trailing-comma",
        {"b.pkr.json": '{"source": {"null": {"a": {"communicator": "none"}}},}\n'},
        ("b.pkr.json:1:*",),
    ),
    Case("json-not-an-object", {"b.pkr.json": "[1, 2]\n"}, ("b.pkr.json:1:*",)),
    Case("json-empty", {"b.pkr.json": ""}, ("b.pkr.json:1:1",)),
    # -- sources and builds ----------------------------------------------------------------
    Case(
        "unknown-source",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.zzz"]\n}\n'},
        ("b.pkr.hcl:5:14",),
        hint='declare source "null" "zzz"',
    ),
    Case(
        "unknown-nested-source",
        {"b.pkr.hcl": SRC + 'build {\n  source "source.null.zzz" {\n    name = "x"\n  }\n}\n'},
        ("b.pkr.hcl:5:3",),
    ),
    Case(
        "duplicate-source-hcl-and-json",
        {
            "b.pkr.hcl": GOOD,
            "c.pkr.json": '{"source": {"null": {"a": {"communicator": "none"}}}}\n',
        },
        ("c.pkr.json:1:*",),
        hint="b.pkr.hcl:1",
    ),
    Case("duplicate-source-one-file", {"b.pkr.hcl": SRC + SRC + BUILD}, ("b.pkr.hcl:4:1",)),
    Case(
        "source-reference-with-one-part",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["a"]\n}\n'},
        ("b.pkr.hcl:5:14",),
    ),
    Case(
        "source-reference-not-identifier",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.a b"]\n}\n'},
        ("b.pkr.hcl:5:14",),
    ),
    Case(
        "sources-not-a-list",
        {"b.pkr.hcl": SRC + 'build {\n  sources = "source.null.a"\n}\n'},
        ("b.pkr.hcl:5:*",),
    ),
    Case(
        "build-name-not-a-string",
        {"b.pkr.hcl": SRC + 'build {\n  name = ["x"]\n  sources = ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:10",),
    ),
    Case(
        "comma-in-name-selects-another-build",
        {
            "b.pkr.hcl": 'source "null" "x-y" {\n  communicator = "none"\n}\n'
            'build {\n  sources = ["source.null.x-y"]\n'
            '  source "source.null.x-y" {\n    name = "x,y"\n  }\n}\n'
        },
        ("b.pkr.hcl:6:*",),
        hint="rename one of them",
    ),
    # -- variables and expressions ---------------------------------------------------------
    Case(
        "variable-without-value-in-name",
        {
            "b.pkr.hcl": 'variable "v" {\n  type = string\n}\n'
            + SRC
            + 'build {\n  name = var.v\n  sources = ["source.null.a"]\n}\n'
        },
        # Packer's "Unset variable", at the declaration.
        ("b.pkr.hcl:1:1",),
        hint="--var v=",
    ),
    Case(
        "undeclared-variable-in-name",
        {"b.pkr.hcl": SRC + 'build {\n  name = var.nope\n  sources = ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:10",),
    ),
    Case(
        "undefined-local-in-name",
        {"b.pkr.hcl": SRC + 'build {\n  name = local.nope\n  sources = ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:10",),
    ),
    Case("duplicate-variable", {"b.pkr.hcl": VARIABLE + VARIABLE + GOOD}, ("b.pkr.hcl:4:1",)),
    Case(
        "variable-default-of-the-wrong-type",
        {
            "b.pkr.hcl": 'variable "v" {\n  type = number\n  default = "x"\n}\n'
            + SRC
            + 'build {\n  name = var.v\n  sources = ["source.null.a"]\n}\n'
        },
        ("b.pkr.hcl:*:*",),
    ),
    Case(
        "for-each-over-a-data-source",
        {
            "b.pkr.hcl": SRC + 'data "amazon-ami" "x" {\n}\nbuild {\n  dynamic "source" {\n'
            '    for_each = data.amazon-ami.x.id\n    labels = ["null.a"]\n'
            "    content {\n      name = source.value\n    }\n  }\n}\n"
        },
        ("b.pkr.hcl:8:16",),
        hint="data source",
    ),
    Case(
        "for-each-over-a-string",
        {
            "b.pkr.hcl": SRC + 'build {\n  dynamic "source" {\n    for_each = "abc"\n'
            '    labels = ["null.a"]\n    content {\n      name = source.value\n    }\n  }\n}\n'
        },
        ("b.pkr.hcl:6:16",),
    ),
    Case(
        "unsupported-function-in-name",
        {"b.pkr.hcl": SRC + 'build {\n  name = timestamp()\n  sources = ["source.null.a"]\n}\n'},
        ("b.pkr.hcl:5:10",),
        hint="timestamp",
    ),
    Case(
        "variable-in-nested-source-name",
        {
            "b.pkr.hcl": VARIABLE
            + SRC
            + 'build {\n  source "source.null.a" {\n    name = var.v\n  }\n}\n'
        },
        ("b.pkr.hcl:9:12",),
    ),
    Case(
        "auto-var-file-broken",
        {
            "b.pkr.hcl": VARIABLE
            + SRC
            + 'build {\n  name = var.v\n  sources = ["source.null.a"]\n}\n',
            "x.auto.pkrvars.hcl": "v = \n",
        },
        ("x.auto.pkrvars.hcl:1:*",),
    ),
    Case(
        "auto-var-file-broken-though-unused",
        {"b.pkr.hcl": GOOD, "x.auto.pkrvars.hcl": "v = \n"},
        ("x.auto.pkrvars.hcl:1:*",),
    ),
    Case(
        "var-file-broken",
        {
            "b.pkr.hcl": VARIABLE
            + SRC
            + 'build {\n  name = var.v\n  sources = ["source.null.a"]\n}\n',
            "vars.pkrvars.hcl": 'v = "unclosed\n',
        },
        ("vars.pkrvars.hcl:1:*", "vars.pkrvars.hcl:1:*"),
        args=("plan", ".", "--var-file", "vars.pkrvars.hcl"),
    ),
    # -- legacy JSON -----------------------------------------------------------------------
    Case(
        "legacy-invalid-json",
        {"t.json": '{"builders": [\n  {"type": "null",}\n]}\n'},
        ("t.json:2:*",),
    ),
    Case(
        "legacy-duplicate-builder-names",
        {
            "t.json": '{"builders": [\n  {"type": "null", "communicator": "none"},\n'
            '  {"type": "null", "communicator": "none"}\n]}\n'
        },
        ("t.json:3:3",),
        hint='"name"',
    ),
    Case("legacy-builder-not-an-object", {"t.json": '{"builders": [1]}\n'}, ("t.json:1:*",)),
    Case(
        "legacy-builder-without-type",
        {"t.json": '{"builders": [{"name": "x"}]}\n'},
        ("t.json:1:*",),
        hint='"type"',
    ),
    Case("legacy-without-builders", {"t.json": '{"builders": []}\n'}, ("t.json:1:*",)),
    # -- files on disk ---------------------------------------------------------------------
    Case(
        "broken-symlink",
        {},
        ("img/variables.pkr.hcl",),
        setup=broken_link,
        exact=(
            "img/variables.pkr.hcl: broken symlink (points to '../shared/gone.pkr.hcl'); "
            "fix or remove the link",
        ),
    ),
    Case("symlink-loop", {}, ("img/up",), setup=loop, hint="symlink loop"),
    # -- limits on the command line --------------------------------------------------------
    Case("jobs-zero", {"b.pkr.hcl": GOOD}, ("--jobs",), args=("render", ".", "--jobs", "0")),
    Case("jobs-not-a-number", {"b.pkr.hcl": GOOD}, ("--jobs",), args=("render", ".", "-j", "abc")),
    Case(
        "load-not-a-number", {"b.pkr.hcl": GOOD}, ("--load",), args=("render", ".", "--load", "x")
    ),
    Case(
        "memfree-bad-unit",
        {"b.pkr.hcl": GOOD},
        ("--memfree",),
        args=("render", ".", "--memfree", "1Q"),
    ),
    Case("delay-negative", {"b.pkr.hcl": GOOD}, ("--delay",), args=("render", ".", "--delay=-1")),
    Case(
        "timeout-not-a-duration",
        {"b.pkr.hcl": GOOD},
        ("--timeout",),
        args=("render", ".", "--timeout", "soon"),
    ),
    Case(
        "retries-negative",
        {"b.pkr.hcl": GOOD},
        ("--retries",),
        args=("render", ".", "--retries=-1"),
    ),
    Case(
        "halt-unknown",
        {"b.pkr.hcl": GOOD},
        ("--halt",),
        args=("render", ".", "--halt", "sometimes"),
    ),
    Case(
        "grace-not-a-duration",
        {"b.pkr.hcl": GOOD},
        ("--grace",),
        args=("render", ".", "--grace", "x"),
    ),
    Case(
        "pipeline-id-with-a-space",
        {"b.pkr.hcl": GOOD},
        ("--pipeline-id",),
        args=("render", ".", "--pipeline-id", "a b"),
    ),
    Case(
        "on-overlap-unknown",
        {"b.pkr.hcl": GOOD},
        ("~--on-overlap",),
        args=("render", ".", "--on-overlap", "maybe"),
    ),
    Case(
        "group-limit-zero",
        {"b.pkr.hcl": GOOD},
        ("--group-limit",),
        args=("render", ".", "--group-limit", "0"),
    ),
    Case(
        "max-jobs-zero", {"b.pkr.hcl": GOOD}, ("--max-jobs",), args=("plan", ".", "--max-jobs", "0")
    ),
    Case(
        "max-jobs-exceeded",
        {
            "b.pkr.hcl": SRC
            + 'source "null" "b" {\n  communicator = "none"\n}\n'
            + 'build {\n  sources = ["source.null.a", "source.null.b"]\n}\n'
        },
        ("~more than --max-jobs 1",),
        args=("plan", ".", "--max-jobs", "1"),
    ),
    Case(
        "var-without-value",
        {"b.pkr.hcl": GOOD},
        ("~novalue",),
        args=("plan", ".", "--var", "novalue"),
    ),
    Case(
        "var-file-missing",
        {"b.pkr.hcl": GOOD},
        ("--var-file",),
        args=("plan", ".", "--var-file", "missing.pkrvars.hcl"),
        hint="missing.pkrvars.hcl",
    ),
    Case(
        "several-bad-limits",
        {"b.pkr.hcl": GOOD},
        ("--delay", "--jobs", "--retries"),
        args=("render", ".", "--jobs", "0", "--delay", "x", "--retries", "y"),
    ),
    # -- pargen.hcl ------------------------------------------------------------------------
    Case(
        "config-syntax-error",
        {"b.pkr.hcl": GOOD, "pargen.hcl": "jobs = 2\ngroup {\n"},
        ("pargen.hcl:*:*",),
        args=("render", "."),
    ),
    Case(
        "config-unknown-setting",
        {"b.pkr.hcl": GOOD, "pargen.hcl": "jobz = 4\n"},
        ("pargen.hcl:1:1",),
        args=("render", "."),
        hint="jobs",
    ),
    Case(
        "config-jobs-not-a-number",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'jobs = "abc"\n'},
        ("pargen.hcl:1:1",),
        args=("render", "."),
    ),
    Case(
        "config-flat-a-number", {"b.pkr.hcl": GOOD, "pargen.hcl": "flat = 3\n"}, ("pargen.hcl:1:1",)
    ),
    Case(
        "config-exclude-not-a-list",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'exclude = "a"\n'},
        ("pargen.hcl:1:1",),
    ),
    Case(
        "config-group-limit-zero",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'group "g" {\n  limit = 0\n  types = ["null"]\n}\n'},
        ("pargen.hcl:1:1",),
        args=("render", "."),
    ),
    Case(
        "config-group-without-label",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'group {\n  limit = 1\n  types = ["null"]\n}\n'},
        ("pargen.hcl:1:1",),
        args=("render", "."),
    ),
    Case(
        "config-group-as-a-setting",
        {"b.pkr.hcl": GOOD, "pargen.hcl": "group = 3\n"},
        ("pargen.hcl:1:1",),
        args=("render", "."),
    ),
    Case(
        "config-setting-twice",
        {"b.pkr.hcl": GOOD, "pargen.hcl": "jobs = 2\njobs = 3\n"},
        ("pargen.hcl:2:1",),
        args=("render", "."),
    ),
    Case(
        "config-missing-var-file",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'var_files = ["nope.pkrvars.hcl"]\n'},
        ("pargen.hcl:1:1",),
        hint="nope.pkrvars.hcl",
    ),
    Case("config-not-utf8", {"b.pkr.hcl": GOOD, "pargen.hcl": b"jobs = \xff\n"}, ("pargen.hcl",)),
    # -- ROOT and runs ---------------------------------------------------------------------
    Case(
        "root-missing",
        {},
        ("missing",),
        args=("plan", "missing"),
        exact=("missing: not a directory: give the root of a template tree",),
    ),
    Case("root-is-a-file", {"b.pkr.hcl": GOOD}, ("~b.pkr.hcl",), args=("plan", "b.pkr.hcl")),
    Case("render-root-missing", {}, ("missing",), args=("render", "missing")),
    Case(
        "status-of-a-directory-that-is-no-run",
        {},
        ("~not-a-run",),
        args=("status", "not-a-run"),
        setup=pargen_run_dir,
        needs="status",
    ),
    Case(
        "status-without-runs",
        {"b.pkr.hcl": GOOD},
        ("~no runs under .",),
        args=("status",),
        needs="status",
    ),
    Case("failed-of-a-missing-run", {}, ("~nope",), args=("failed", "nope"), needs="failed"),
    # -- render and exec -------------------------------------------------------------------
    Case(
        "render-bad-template",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.zzz"]\n}\n'},
        ("b.pkr.hcl:5:14",),
        args=("render", "."),
    ),
    Case(
        "exec-bad-template",
        {"b.pkr.hcl": RUNNABLE, "c/b.pkr.hcl": SRC + 'build {\n  sources = ["null.zzz"]\n}\n'},
        ("c/b.pkr.hcl:5:14",),
        args=("exec", "."),
    ),
    Case("exec-bad-limit", {"b.pkr.hcl": RUNNABLE}, ("--jobs",), args=("exec", ".", "-j", "0")),
    Case(
        "exec-bad-config",
        {"b.pkr.hcl": RUNNABLE, "pargen.hcl": 'halt = "x"\n'},
        ("pargen.hcl:1:1",),
        args=("exec", "."),
    ),
    Case(
        "exec-var-file-missing",
        {"b.pkr.hcl": RUNNABLE},
        ("--var-file",),
        args=("exec", ".", "--var-file", "nope.pkrvars.hcl"),
    ),
    Case(
        "exec-without-gnu-parallel",
        {"b.pkr.hcl": RUNNABLE},
        ("~parallel not found on PATH",),
        args=("exec", "."),
        path=without_parallel,
        exact=("parallel not found on PATH: install the 'parallel' package",),
    ),
    Case(
        "exec-without-packer",
        {"b.pkr.hcl": RUNNABLE},
        ("~packer not found on PATH",),
        args=("exec", "."),
        path=without_packer,
        exact=("packer not found on PATH: install the 'packer' package",),
    ),
    Case(
        "exec-with-another-parallel",
        {"b.pkr.hcl": RUNNABLE},
        ("~is not GNU parallel",),
        args=("exec", "."),
        path=fake_parallel,
        hint="install the 'parallel' package",
    ),
    Case(
        "exec-bad-template-checked-before-programs",
        {"b.pkr.hcl": SRC + 'build {\n  sources = ["null.zzz"]\n}\n'},
        ("b.pkr.hcl:5:14",),
        args=("exec", "."),
        path=unusable,
    ),
    # -- what Packer rejects before building -------------------------------------------------
    Case(
        "hcl-missing-comma-in-a-provisioner",
        {
            "b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.a"]\n'
            '  provisioner "shell-local" {\n    inline = ["a"\n      "b"]\n  }\n}\n'
        },
        ("b.pkr.hcl:8:7",),
        exact=(
            "b.pkr.hcl:8:7: Missing item separator; Expected a comma to mark the beginning of "
            "the next item.",
        ),
    ),
    Case(
        "hcl-one-line-block-going-on",
        {"b.pkr.hcl": SRC + 'build { sources = ["source.null.a"]\n  name = "x"\n}\n'},
        ("b.pkr.hcl:4:36",),
        hint="Invalid single-argument block definition",
    ),
    Case(
        "hcl-interpolation-in-a-nested-source-label",
        {"b.pkr.hcl": VARIABLE + SRC + 'build {\n  source "source.null.${var.v}" {\n  }\n}\n'},
        ("b.pkr.hcl:8:23",),
        hint="Invalid string literal",
    ),
    Case(
        "unset-variable",
        {"b.pkr.hcl": 'variable "owner" {\n  type = string\n}\n' + GOOD},
        ("b.pkr.hcl:1:1",),
        exact=(
            'b.pkr.hcl:1:1: variable "owner" is not set: it has no default and nothing gives '
            'it a value (Packer: "Unset variable"); set it with --var owner=..., a var file or '
            "PKR_VAR_owner, or give it a default",
        ),
    ),
    Case(
        "var-of-the-wrong-type",
        {"b.pkr.hcl": NUMBER_VARIABLE + GOOD},
        ("b.pkr.hcl:1:1",),
        args=("plan", ".", "--var", "n=two"),
        exact=(
            'b.pkr.hcl:1:1: the value of variable "n" from -var does not fit its type: a number '
            "is required, got string",
        ),
    ),
    Case(
        "pkr-var-of-the-wrong-type",
        {"b.pkr.hcl": NUMBER_VARIABLE + GOOD},
        ("b.pkr.hcl:1:1",),
        env={"PKR_VAR_n": "two"},
        hint="PKR_VAR_n",
    ),
    Case(
        "var-no-template-takes",
        {"b.pkr.hcl": VARIABLE + GOOD},
        ("--var",),
        args=("plan", ".", "--var", "w=1"),
        exact=(
            '--var: no template declares variable "w", and Packer refuses an undeclared -var '
            '("Undefined -var variable"); fix the name or drop the --var',
        ),
    ),
    Case(
        "env-in-a-default-that-decides-a-name",
        {
            "b.pkr.hcl": 'variable "r" {\n  default = env("HOME")\n}\n'
            + SRC
            + 'build {\n  name = var.r\n  sources = ["source.null.a"]\n}\n'
        },
        ("b.pkr.hcl:2:13",),
        hint="pin today's value",
    ),
    Case(
        "range-over-1024-values",
        {
            "b.pkr.hcl": SRC + 'build {\n  dynamic "source" {\n    for_each = range(2000)\n'
            '    labels = ["null.a"]\n    content {\n      name = source.value\n    }\n  }\n}\n'
        },
        ("b.pkr.hcl:6:16",),
        hint="more than 1024 values were generated",
    ),
    Case(
        "max-jobs-stops-a-large-dynamic-block",
        {
            "b.pkr.hcl": SRC + 'build {\n  dynamic "source" {\n'
            "    for_each = flatten([for i in range(1024) : range(1024)])\n"
            '    labels = ["null.a"]\n    content {\n      name = source.key\n    }\n  }\n}\n'
        },
        ("b.pkr.hcl:5:3",),
        args=("plan", ".", "--max-jobs", "10"),
        exact=(
            "b.pkr.hcl:5:3: this template makes more than 10 builds, more than --max-jobs 10; "
            "narrow this for_each or raise the limit",
        ),
    ),
    Case(
        "pkr-hcl-that-is-a-fifo",
        {"b.pkr.hcl": GOOD},
        ("pipe.pkr.hcl",),
        setup=fifo,
        hint="a FIFO",
    ),
    Case(
        "pkr-hcl-linked-to-dev-zero",
        {"b.pkr.hcl": GOOD},
        ("zero.pkr.hcl",),
        setup=link_to_dev_zero,
        exact=(
            "zero.pkr.hcl: not a regular file but a character device, which Packer would read "
            "as a template (a FIFO or a device hangs it); make it a file or remove it",
        ),
    ),
    *(
        [
            Case(
                "link-pargen-cannot-stat",
                {"b.pkr.hcl": GOOD},
                ("notes",),
                setup=unstatable_link,
                exact=(
                    "notes: cannot tell what this is (Permission denied); make it readable, "
                    "or add it to exclude",
                ),
            )
        ]
        if _stat_refused(UNSTATABLE)
        else []
    ),
    Case(
        "root-in-proc",
        {},
        ("/proc",),
        args=("plan", "/proc"),
        exact=("/proc: a kernel filesystem holds no templates; give another root",),
    ),
    Case(
        "legacy-builders-an-object",
        {"t.json": '{\n  "builders": {"type": "null"}\n}\n'},
        ("t.json:2:3",),
        exact=(
            't.json:2:3: "builders" must be a list of builders, got an object; write it as '
            "[{...}], or add the file to exclude if it is no Packer template",
        ),
    ),
    Case(
        "legacy-json-nested-too-deeply",
        {"t.json": '{"builders": ' + "[" * 50_000 + "]" * 50_000 + "}\n"},
        ("t.json",),
        hint="nests too deeply",
    ),
    Case(
        "legacy-required-variable-not-set",
        {"t.json": '{"variables": {"v": null},\n "builders": [{"type": "null"}]}\n'},
        ("t.json:1:21",),
        hint="--var v=",
    ),
    Case(
        "pkr-json-invalid-says-what-to-do",
        {"b.pkr.json": '{"source": {\n  "null": \n}\n'},
        ("b.pkr.json:3:1",),
        hint="; fix the JSON",
    ),
    Case(
        "var-file-is-a-directory",
        {"b.pkr.hcl": GOOD, "vars/x.pkrvars.hcl": ""},
        ("--var-file",),
        args=("plan", ".", "--var-file", "vars"),
        exact=("--var-file: var file 'vars' is a directory; give the path of a file in it",),
    ),
    Case(
        "config-missing-comma",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'exclude = ["a" "b"]\n'},
        ("pargen.hcl:1:16",),
        exact=(
            "pargen.hcl:1:16: Missing item separator; Expected a comma to mark the beginning "
            "of the next item.",
        ),
    ),
    # -- several problems in one tree ------------------------------------------------------
    Case(
        "several-problems-in-one-tree",
        {
            "a/b.pkr.hcl": SRC + 'build {\n  sources = ["source.null.zzz"]\n}\n',
            "b/b.pkr.hcl": "build {\n",
            "c/t.json": '{"builders": [\n',
            "d/b.pkr.json": "[1, 2]\n",
            "e/b.pkr.hcl": VARIABLE + VARIABLE + GOOD,
            "f/b.pkr.hcl": GOOD,
        },
        (
            "a/b.pkr.hcl:5:14",
            "b/b.pkr.hcl:*:*",
            "c/t.json:*:*",
            "d/b.pkr.json:1:*",
            "e/b.pkr.hcl:4:1",
        ),
    ),
    Case(
        "several-problems-in-one-file",
        {"b.pkr.hcl": SRC + SRC + 'build {\n  sources = ["source.null.zzz", "x"]\n}\n'},
        ("b.pkr.hcl:4:1", "b.pkr.hcl:8:14", "b.pkr.hcl:8:*"),
    ),
    Case(
        "several-problems-in-one-pargen-hcl",
        {"b.pkr.hcl": GOOD, "pargen.hcl": 'jobs = 0\nretries = "x"\nfoo = 1\n'},
        ("pargen.hcl:1:1", "pargen.hcl:2:1", "pargen.hcl:3:1"),
        args=("render", "."),
    ),
]


def _env(case: Case, root: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PARALLEL", "PARGEN_"))
    }
    env["CHECKPOINT_DISABLE"] = "1"
    env["PARGEN_STATE_DIR"] = str(root.parent / f"{root.name}-state")
    if case.path is not None:
        env["PATH"] = case.path(root)
    env.update(case.env)
    return env


@dataclass(frozen=True)
class Outcome:
    root: Path
    code: int
    stdout: str
    stderr: str


def run_case(case: Case, root: Path) -> Outcome:
    root.mkdir()
    write_tree(root, case.files)
    if case.setup is not None:
        case.setup(root)
    done = subprocess.run(
        [sys.executable, "-m", "pargen", *case.args],
        cwd=root,
        env=_env(case, root),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return Outcome(root, done.returncode, done.stdout, done.stderr)


Outcomes = Callable[[Case], Outcome]


@pytest.fixture(scope="module")
def outcome_of(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcomes]:
    """Each case's outcome. Every selected case of this module starts at once and each test
    waits for its own; under pytest-xdist, where a worker runs only some of them, each case
    runs when its test asks."""
    selected: set[str] = set()
    if "PYTEST_XDIST_WORKER" not in os.environ:
        for item in request.session.items:
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("case") if callspec is not None else None
            if isinstance(case, Case):
                selected.add(case.id)

    def start(case: Case) -> Future[Outcome]:
        return pool.submit(run_case, case, tmp_path_factory.mktemp(case.id) / "tree")

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        started = {
            case.id: start(case)
            for case in [*CASES, *ACCEPTED, *NO_TEMPLATE]
            if case.id in selected
        }
        yield lambda case: (started.get(case.id) or start(case)).result()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_one_line_per_problem(case: Case, outcome_of: Outcomes) -> None:
    if case.needs and case.needs not in cli.commands:
        pytest.skip(f"pargen has no {case.needs} command yet")
    outcome = outcome_of(case)
    shown = f"exit {outcome.code}\nstdout:\n{outcome.stdout}\nstderr:\n{outcome.stderr}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, shown
    assert outcome.code == 2, shown
    assert outcome.stdout == "", shown
    lines = outcome.stderr.splitlines()
    assert len(lines) == len(case.where), shown
    for line, where in zip(lines, case.where, strict=True):
        assert line_pattern(where).match(line), f"expected {where!r} in\n{shown}"
    if case.hint:
        assert case.hint in lines[0], shown
    if case.exact:
        assert lines == [f"pargen: error: {text}" for text in case.exact], shown
    if case.args[0] == "exec":
        # Nothing ran: no run directory, no build, not even the wrong parallel.
        assert not (outcome.root / ".pargen" / "runs").exists(), shown
        assert not (outcome.root / MARKER).exists(), shown
        assert not (outcome.root / "fake-parallel-ran").exists(), shown


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 50
    every = [case.id for case in [*CASES, *ACCEPTED, *NO_TEMPLATE]]
    assert len(set(every)) == len(every)


# -- cases that need special set-up ----------------------------------------------------------


def pargen(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pargen", *args],
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_an_unreadable_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"b.pkr.hcl": GOOD, "c.pkr.hcl": GOOD})
    locked = tmp_path / "c.pkr.hcl"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip(
                "running as root: chmod 000 does not stop reading "
                "(hcl-read-error covers a file that cannot be read)"
            )
        done = pargen(tmp_path, "plan", ".")
    finally:
        locked.chmod(0o644)
    assert done.returncode == 2
    assert done.stderr == (
        "pargen: error: c.pkr.hcl: cannot read file: Permission denied; make it readable\n"
    )


# -- what Packer accepts is not an error -----------------------------------------------------

NOTHING = "no jobs planned under .\n"
NO_BUILDS = NOTHING + ".  (no builds)\n"
ONE_JOB = (
    ".  (1 job)\n  .:null.a\n1 job in 1 template(s)\n"
    "limits: jobs 100%, retries 0, halt never, grace 900s\n"
)
ACCEPTED = [
    Case("empty-pkr-hcl", {"b.pkr.hcl": ""}, (), stdout=NO_BUILDS),
    Case("empty-beside-a-template", {"b.pkr.hcl": "", "c.pkr.hcl": GOOD}, (), stdout=ONE_JOB),
    Case("only-a-comment", {"b.pkr.hcl": "# only a comment\n"}, (), stdout=NO_BUILDS),
    Case("utf8-byte-order-mark", {"b.pkr.hcl": "\ufeff" + GOOD}, (), stdout=ONE_JOB),
    Case("empty-json-object", {"b.pkr.json": "{}\n"}, (), stdout=NO_BUILDS),
    Case("empty-json-list", {"b.pkr.json": "[]\n"}, (), stdout=NO_BUILDS),
    # Files Packer ignores do not make a template: with no other, ROOT holds none (below).
    Case(
        "ignored-beside-a-template",
        {"x/main.tf": "garbage {{{\n", "c.pkr.hcl": GOOD},
        (),
        stdout=ONE_JOB,
    ),
    Case(
        "env-in-a-default-no-name-needs",
        {"b.pkr.hcl": 'variable "u" {\n  default = env("USER")\n}\n' + GOOD},
        (),
        stdout=ONE_JOB,
    ),
    Case(
        "interpolation-in-the-sources-list",
        {
            "b.pkr.hcl": VARIABLE.replace('"x"', '"a"') + SRC + "build {\n  sources = "
            '["source.null.${var.v}"]\n}\n'
        },
        (),
        stdout=ONE_JOB,
    ),
    Case(
        "legacy-takes-an-undeclared-var",
        {"t.json": '{"builders": [{"type": "null", "name": "{{user `r`}}"}]}\n'},
        (),
        args=("plan", ".", "--var", "r=eu"),
        stdout="t.json  (1 job)\n  t.json:eu\n1 job in 1 template(s)\n"
        "limits: jobs 100%, retries 0, halt never, grace 900s\n",
    ),
    Case(
        "a-directory-named-like-a-template",
        {"b.pkr.hcl": GOOD, "d.pkr.hcl/readme": "x\n"},
        (),
        stdout=ONE_JOB,
    ),
]
# Packer loads none of these: ROOT has no template at all, which is bad input, and none of
# them is parsed (a parse error would be reported instead).
NO_TEMPLATE = [
    Case("terraform-and-plain-hcl", {"x/main.tf": "garbage {{{\n", "x/y.hcl": "}}}\n"}, ()),
    Case("packer-cache", {"packer_cache/b.pkr.hcl": "garbage {{{\n"}, ()),
    Case("output-directory", {"output-null/b.pkr.hcl": "garbage {{{\n"}, ()),
    Case("hidden-directory", {".git/b.pkr.hcl": "garbage {{{\n"}, ()),
    Case("var-file-not-given", {"x.pkrvars.hcl": "garbage {{{\n"}, ()),
    Case("json-that-is-no-template", {"package.json": '{"name": "x"\n'}, ()),
]
NO_TEMPLATE_LINE = (
    "pargen: error: no Packer template under .: no *.pkr.hcl or *.pkr.json file, and no "
    'legacy JSON template (a *.json file with a "builders" list), in it or below it; give '
    "the directory that holds the templates\n"
)


@pytest.mark.parametrize("case", NO_TEMPLATE, ids=[case.id for case in NO_TEMPLATE])
def test_a_root_without_templates_exits_2_naming_what_was_looked_for(
    case: Case, outcome_of: Outcomes
) -> None:
    outcome = outcome_of(case)
    assert (outcome.code, outcome.stderr, outcome.stdout) == (2, NO_TEMPLATE_LINE, "")


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_what_packer_accepts_is_not_an_error(case: Case, outcome_of: Outcomes) -> None:
    outcome = outcome_of(case)
    assert (outcome.code, outcome.stderr, outcome.stdout) == (0, "", case.stdout)
