"""Tests for pargen.packer.parse: the full build names Packer gives each template's builds.

Unit tests check each naming rule and each bad input (exact problem text). The real-Packer
tests at the end run ``packer build -only=<pattern>`` for every computed name and check
from a marker file that exactly that build ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pargen.errors import ProblemsError
from pargen.packer.native_text import skim
from pargen.packer.parse import (
    ParsedTemplate,
    TemplateSource,
    VarInputs,
    discover,
    only_pattern,
    parse_template,
)
from tests.helpers import write_tree

# HCL's own messages, as Packer prints them.
INVALID_EXPRESSION = (
    "Invalid expression; Expected the start of an expression, but found an invalid "
    "expression token."
)
MULTI_LINE_STRING = (
    "Invalid multi-line string; Quoted strings may not be split over multiple lines. To "
    "produce a multi-line string, either use the \\n escape to represent a newline character "
    'or use the "heredoc" multi-line template syntax.'
)

SOURCES = """
source "null" "a" {
  communicator = "none"
}
source "null" "b" {
  communicator = "none"
}
"""


def parse(
    root: Path, files: Mapping[str, str | bytes], inputs: VarInputs | None = None
) -> ParsedTemplate:
    write_tree(root, files)
    (template,), found = discover(root)
    assert found == []
    return parse_template(template, root, inputs or VarInputs())


def names(
    root: Path, files: Mapping[str, str | bytes], inputs: VarInputs | None = None
) -> list[str]:
    return [build.name for build in parse(root, files, inputs).builds]


def problems(
    root: Path, files: Mapping[str, str | bytes], inputs: VarInputs | None = None
) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        parse(root, files, inputs)
    return caught.value.lines


def hcl(body: str) -> dict[str, str | bytes]:
    """One .pkr.hcl file: the two null sources (lines 1-6), then ``body`` from line 7."""
    return {"build.pkr.hcl": SOURCES.lstrip("\n") + body.strip("\n") + "\n"}


# -- naming rules ------------------------------------------------------------------------


def test_unnamed_build_names_are_type_dot_name(tmp_path: Path) -> None:
    assert names(tmp_path, hcl('build {\n  sources = ["source.null.a"]\n}')) == ["null.a"]


def test_named_build_prefixes_its_name(tmp_path: Path) -> None:
    files = hcl('build {\n  name = "web"\n  sources = ["source.null.a", "null.b"]\n}')
    assert names(tmp_path, files) == ["web.null.a", "web.null.b"]


def test_sources_list_drops_the_first_of_three_parts_whatever_it_is(tmp_path: Path) -> None:
    files = hcl(
        'build {\n  sources = ["source.null.a", "sources.null.b", "null.a", "foo.null.b",'
        ' "x.null.a.ignored.too"]\n}'
    )
    assert names(tmp_path, files) == ["null.a", "null.b", "null.a", "null.b", "null.a"]


def test_nested_source_uses_its_name_else_the_label(tmp_path: Path) -> None:
    files = hcl(
        """
build {
  name = "n"
  source "source.null.a" {
    name = "first"
  }
  source "null.a" {}
  source "null.b" {
    name = ""
  }
  source "a.null.b.ignored" {
    name = "x y.z"
  }
}
"""
    )
    assert names(tmp_path, files) == ["n.null.first", "n.null.a", "n.null.b", "n.null.x y.z"]


def test_sources_list_comes_before_nested_blocks_and_lines_point_at_references(
    tmp_path: Path,
) -> None:
    files = hcl(
        """
build {
  source "null.b" {}
  sources = [
    "null.a",
  ]
}
"""
    )
    parsed = parse(tmp_path, files)
    assert [(b.name, b.source_type, b.path, b.line) for b in parsed.builds] == [
        ("null.a", "null", "build.pkr.hcl", 10),
        ("null.b", "null", "build.pkr.hcl", 8),
    ]


def test_dynamic_source_over_literals(tmp_path: Path) -> None:
    files = hcl(
        """
build {
  name = "d"
  dynamic "source" {
    for_each = ["l1", "l2"]
    labels   = ["source.null.a"]
    content {
      name = source.value
    }
  }
  dynamic "source" {
    for_each = { k2 = "v2", k1 = "v1", k2 = "last" }
    labels   = ["null.b"]
    content {
      name = "${source.key}-${source.value}"
    }
  }
  dynamic "source" {
    for_each = toset(["s2", "s1", "s2"])
    iterator = it
    labels   = ["null.${it.value == "s1" ? "a" : "b"}"]
    content {
      name = it.key
    }
  }
  dynamic "source" {
    for_each = ["x"]
    labels   = ["null.a"]
    content {
      name = "idx${source.key}"
    }
  }
  dynamic "source" {
    for_each = []
    labels   = ["null.a"]
    content {}
  }
}
"""
    )
    assert names(tmp_path, files) == [
        "d.null.l1",
        "d.null.l2",
        "d.null.k1-v1",
        "d.null.k2-last",
        "d.null.s1",
        "d.null.s2",
        "d.null.idx0",
    ]


def test_dynamic_source_without_name_uses_the_label(tmp_path: Path) -> None:
    files = hcl(
        'build {\n  dynamic "source" {\n    for_each = [1, 2]\n    labels = ["null.a"]\n'
        "    content {}\n  }\n}"
    )
    assert names(tmp_path, files) == ["null.a", "null.a"]


def test_build_name_from_variables_locals_and_functions(tmp_path: Path) -> None:
    files = hcl(
        """
variable "env" {
  type    = string
  default = "Prod"
}
variables {
  region = "eu"
}
locals {
  base = "${lower(var.env)}-${var.region}"
}
local "full" {
  expression = format("%s-%02d", local.base, length(["a", "b"]))
}
build {
  name    = local.full
  sources = ["null.a"]
}
build {
  name    = join("+", [upper(var.region), replace("a.b", ".", "_")])
  sources = ["null.b"]
}
"""
    )
    parsed = parse(tmp_path, files)
    assert [b.name for b in parsed.builds] == ["prod-eu-02.null.a", "EU+a_b.null.b"]
    assert parsed.variables == frozenset({"env", "region"})


SOURCES_USED = 'build {\n  sources = ["null.b"]\n}\n'
DYNAMIC_FROM_VARS = """
variable "names" {
  type    = list(string)
  default = ["default"]
}
build {
  dynamic "source" {
    for_each = var.names
    labels   = ["null.a"]
    content {
      name = source.value
    }
  }
}
"""


@pytest.mark.parametrize(
    ("extra", "inputs", "expected"),
    [
        ({}, VarInputs(), ["null.default"]),
        ({}, VarInputs(env={"PKR_VAR_names": '["env"]'}), ["null.env"]),
        (
            {
                "x.auto.pkrvars.hcl": 'names = ["auto-x"]',
                "y.auto.pkrvars.json": '{"names": ["auto-y"]}',
            },
            VarInputs(env={"PKR_VAR_names": '["env"]'}),
            ["null.auto-y"],
        ),
        (
            {"x.auto.pkrvars.hcl": 'names = ["auto"]', "f1.pkrvars.hcl": 'names = ["f1"]'},
            VarInputs(var_files=("f1.pkrvars.hcl",)),
            ["null.f1"],
        ),
        (
            {"f1.pkrvars.hcl": 'names = ["f1"]', "f2.pkrvars.json": '{"names": ["f2"]}'},
            VarInputs(var_files=("f1.pkrvars.hcl", "f2.pkrvars.json")),
            ["null.f2"],
        ),
        (
            {"f1.pkrvars.hcl": 'names = ["f1"]'},
            VarInputs(
                var_files=("f1.pkrvars.hcl",),
                vars=(("names", '["cli1"]'), ("names", '["cli2", "cli3"]'), ("other", "x")),
            ),
            ["null.cli2", "null.cli3"],
        ),
    ],
    ids=["default", "env", "auto-files-beat-env", "var-file-beats-auto", "later-var-file", "var"],
)
def test_variable_precedence(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, str | bytes],
    inputs: VarInputs,
    expected: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # -var-file paths are relative to the working directory
    files = hcl(SOURCES_USED + DYNAMIC_FROM_VARS) | extra
    assert names(tmp_path, files, inputs)[1:] == expected


def test_values_that_do_not_decide_names_are_never_evaluated(tmp_path: Path) -> None:
    files = hcl(
        """
variable "unset" {
  type    = string
  default = ""
  validation {
    condition     = length(var.unset) > 100
    error_message = "Too short."
  }
}
locals {
  ami  = data.amazon-ami.base.id
  name = "fixed"
}
build {
  name    = local.name
  sources = ["null.a"]
  provisioner "shell-local" {
    inline = ["echo ${var.unset} ${local.ami} ${templatefile("x", {})}"]
  }
}
"""
    )
    assert names(tmp_path, files) == ["fixed.null.a"]


def test_top_level_dynamic_source_declares_sources(tmp_path: Path) -> None:
    # Packer 1.7+ expands top-level dynamic blocks (1.6.6 rejects them).
    files = hcl(
        """
variable "extra" {
  default = { p = "x", q = "y" }
}
dynamic "source" {
  for_each = var.extra
  labels   = ["null", source.key]
  content {
    communicator = "none"
  }
}
build {
  sources = ["null.a", "null.q"]
  source "null.p" {
    name = "pp"
  }
}
"""
    )
    parsed = parse(tmp_path, files)
    assert [b.name for b in parsed.builds] == ["null.a", "null.q", "null.pp"]
    assert [w.message for w in parsed.unused_sources] == [
        'source "null" "b" is not used by any build; add it to a build or remove it'
    ]


def test_string_variable_takes_cli_text_literally(tmp_path: Path) -> None:
    files = hcl(
        'variable "n" {\n  type = string\n}\nvariable "m" {\n  default = 1\n}\n'
        'build {\n  name = "${var.n}-${var.m}"\n  sources = ["null.a"]\n}'
    )
    inputs = VarInputs(vars=(("n", '["not", "a list"]'), ("m", "2")))
    assert names(tmp_path, files, inputs) == ['["not", "a list"]-2.null.a']


def test_names_keep_glob_characters_commas_and_spaces(tmp_path: Path) -> None:
    files = hcl('build {\n  name = "b *?[]{},"\n  source "null.a" {\n    name = "x,y {z}"\n  }\n}')
    assert names(tmp_path, files) == ["b *?[]{},.null.x,y {z}"]


def test_heredoc_with_blanks_after_closing_marker_is_read(tmp_path: Path) -> None:
    # python-hcl2 8.1 rejects this valid template unless pargen works around it.
    files = hcl(
        'locals {\n  script = <<EOF\necho }\nEOF   \n  n = "after"\n}\n'
        'build {\n  name = local.n\n  sources = ["null.b"]\n}'
    )
    parsed = parse(tmp_path, files)
    assert [(b.name, b.line) for b in parsed.builds] == [("after.null.b", 15)]


SKIPPED_BODIES = r"""
build {
  sources = ["null.a"]
  provisioner "shell-local" {
    inline = ["echo }", "${lower("}{")}", "$${x}", "%{ if true }{%{ endif }"]
    script = <<-EOT
      } " { EOT-not-yet
      EOT
    # } a comment {
    /* { */
    nested "x" {
      deeper = { a = [1, { b = "}" }] }
    }
  }
  dynamic "provisioner" {
    for_each = ["}"]
    labels   = ["shell-local"]
    content {
      inline = ["{"]
    }
  }
  post-processors {
    post-processor "manifest" {}
  }
  post-processor "manifest" { output = "x" }
}
build {
  name = "later"
  sources = ["null.b"]
}
"""


def test_bodies_that_never_decide_names_are_skipped_without_confusion(tmp_path: Path) -> None:
    files = hcl(SKIPPED_BODIES)
    parsed = parse(tmp_path, files)
    assert [(b.name, b.line) for b in parsed.builds] == [("null.a", 8), ("later.null.b", 34)]
    text = str(files["build.pkr.hcl"])
    skimmed = skim(text)
    assert skimmed.count("\n") == text.count("\n")
    assert "EOT" not in skimmed
    assert "deeper" not in skimmed
    assert "manifest" in skimmed


def test_syntax_error_after_skipped_bodies_keeps_its_place(tmp_path: Path) -> None:
    files = hcl(SKIPPED_BODIES.replace('name = "later"', "name = ]"))
    assert problems(tmp_path, files) == ["build.pkr.hcl:33:10: " + INVALID_EXPRESSION]


def test_syntax_error_inside_a_provisioner_is_reported(tmp_path: Path) -> None:
    # pargen never evaluates the body, but Packer rejects the whole template at parse time.
    files = hcl('build {\n  sources = ["null.a"]\n  provisioner "x" {\n    a = = 1\n  }\n}')
    assert problems(tmp_path, files) == ["build.pkr.hcl:10:9: " + INVALID_EXPRESSION]


def test_interpolation_strip_markers_are_read(tmp_path: Path) -> None:
    files = hcl('build {\n  name = "${~ "s" ~}"\n  sources = ["null.a"]\n}')
    assert names(tmp_path, files) == ["s.null.a"]


def test_required_plugins_and_warnings_for_unused_sources(tmp_path: Path) -> None:
    files = hcl(
        'packer {\n  required_plugins {\n    x = {\n      source = "github.com/a/x"\n'
        '    }\n  }\n}\nbuild {\n  sources = ["null.a"]\n}'
    )
    parsed = parse(tmp_path, files)
    assert parsed.required_plugins is True
    assert [str(w) for w in parsed.unused_sources] == [
        'build.pkr.hcl:4:1: source "null" "b" is not used by any build; '
        "add it to a build or remove it"
    ]
    assert parsed.warnings == ()


def test_template_without_build_has_no_builds(tmp_path: Path) -> None:
    parsed = parse(tmp_path, hcl(""))
    assert parsed.builds == ()
    assert parsed.required_plugins is False
    assert len(parsed.unused_sources) == 2


def test_sources_and_builds_span_the_files_of_a_directory(tmp_path: Path) -> None:
    files = {
        "a.pkr.hcl": 'build {\n  sources = ["null.j"]\n}\n',
        "b.pkr.json": '{"source": {"null": {"j": {"communicator": "none"}}}}',
    }
    assert names(tmp_path, files) == ["null.j"]


def test_hcl_json_structures(tmp_path: Path) -> None:
    files = {
        "a.pkr.json": """
{
  "//": "comment",
  "packer": {"required_plugins": {"x": {"source": "github.com/a/x"}}},
  "variable": {"names": {"type": "list(string)", "default": ["p", "q"]}},
  "source": {"null": {"a": {"communicator": "none"}, "b": [{"communicator": "none"}]}},
  "build": [
    {
      "name": "${lower(\\"JB\\")}",
      "sources": ["source.null.a"],
      "source": {"null.b": [{"name": "${var.names[0]}"}, {"name": "two"}]},
      "dynamic": {"source": {"for_each": "${var.names}", "labels": ["null.a"],
                             "content": {"name": "d-${source.value}"}}}
    },
    {"sources": ["null.b"]}
  ],
  "build": {"name": "third", "source": {"null.a": {}}}
}
"""
    }
    parsed = parse(tmp_path, files)
    assert [(b.name, b.line) for b in parsed.builds] == [
        ("jb.null.a", 9),
        # Packer reads a nested source's name without a context: "${...}" stays verbatim.
        ("jb.null.${var.names[0]}", 10),
        ("jb.null.two", 10),
        ("jb.null.d-p", 11),
        ("jb.null.d-q", 11),
        ("null.b", 14),
        ("third.null.a", 16),
    ]
    assert parsed.variables == frozenset({"names"})
    assert parsed.required_plugins is True


def test_legacy_names(tmp_path: Path) -> None:
    files = {
        "t.json": """
{
  "variables": {"v": "user", "w": "default"},
  "builders": [
    {"type": "null", "communicator": "none"},
    {"type": "null", "name": "named one.x", "communicator": "none"},
    {"type": "null", "name": "{{user `v`}}-{{ user \\"w\\" }}", "communicator": "none"},
    {"type": "docker", "name": ""}
  ]
}
"""
    }
    inputs = VarInputs(vars=(("w", "cli"),))
    parsed = parse(tmp_path, files, inputs)
    assert [(b.name, b.source_type, b.path, b.line) for b in parsed.builds] == [
        ("null", "null", "t.json", 4),
        ("named one.x", "null", "t.json", 5),
        ("user-cli", "null", "t.json", 6),
        ("docker", "docker", "t.json", 7),
    ]
    assert parsed.variables == frozenset({"v", "w"})
    assert parsed.required_plugins is False


# -- bad input ---------------------------------------------------------------------------


def test_hcl_syntax_error(tmp_path: Path) -> None:
    assert problems(tmp_path, hcl("build {\n  sources = [\n}")) == [
        "build.pkr.hcl:9:1: " + INVALID_EXPRESSION
    ]


def test_invalid_json(tmp_path: Path) -> None:
    files = {"a.pkr.json": '{"source": {"null": {"a": {}}},\n "build": [}\n'}
    assert problems(tmp_path, files) == [
        "a.pkr.json:2:12: invalid JSON: expecting a value; fix the JSON"
    ]


def test_invalid_legacy_json(tmp_path: Path) -> None:
    # Discovery reports this too; the reader must not crash when handed such a file.
    write_tree(tmp_path, {"t.json": '{"builders": [\n  {"type": "null"},\n]}\n'})
    source = TemplateSource(
        rel="t.json", kind="legacy", directory=tmp_path, files=(tmp_path / "t.json",)
    )
    with pytest.raises(ProblemsError) as caught:
        parse_template(source, tmp_path, VarInputs())
    assert caught.value.lines == ["t.json:3:1: invalid JSON: expecting a value; fix the JSON"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    files: Mapping[str, str | bytes] = {"a.pkr.hcl": b'source "null" "a" {\n  x = "\xff"\n}\n'}
    assert problems(tmp_path, files) == [
        "a.pkr.hcl: cannot read file: not UTF-8 text; save it as UTF-8"
    ]


def test_file_gone_after_discovery(tmp_path: Path) -> None:
    source = TemplateSource(
        rel=".", kind="hcl", directory=tmp_path, files=(tmp_path / "gone.pkr.hcl",)
    )
    with pytest.raises(ProblemsError) as caught:
        parse_template(source, tmp_path, VarInputs())
    assert caught.value.lines == [
        "gone.pkr.hcl: cannot read file: No such file or directory; make it readable"
    ]


def test_duplicate_source_across_hcl_and_json(tmp_path: Path) -> None:
    files = hcl('build {\n  sources = ["null.a"]\n}') | {
        "z.pkr.json": '{"source": {"null": {"a": {"communicator": "none"}}}}'
    }
    assert problems(tmp_path, files) == [
        'z.pkr.json:1:22: duplicate source block "null" "a", first declared at '
        "build.pkr.hcl:1; keep only one"
    ]


def test_unknown_and_invalid_source_references_all_reported(tmp_path: Path) -> None:
    files = hcl(
        """
build {
  sources = ["null.a", "null.zz", "a", "null.x y", "null.1x", 3]
  source "null.c" {}
  source "nullc" {}
  source "null" "a" {}
}
"""
    )
    rule = "; type and name must start with a letter or _ and hold only letters, digits, _ and -"
    assert problems(tmp_path, files) == [
        'build.pkr.hcl:8:24: unknown source "null.zz": declare source "null" "zz" { ... } '
        "or fix the reference",
        f'build.pkr.hcl:8:35: invalid source reference "a": write it as source.<type>.<name>{rule}',
        'build.pkr.hcl:8:40: invalid source reference "null.x y": write it as '
        f"source.<type>.<name>{rule}",
        'build.pkr.hcl:8:52: invalid source reference "null.1x": write it as '
        f"source.<type>.<name>{rule}",
        "build.pkr.hcl:8:63: sources must hold strings, got number",
        'build.pkr.hcl:9:3: unknown source "null.c": declare source "null" "c" { ... } '
        "or fix the reference",
        'build.pkr.hcl:10:3: invalid source reference "nullc": write it as source.<type>.<name>',
        "build.pkr.hcl:11:3: a source block here takes 1 label(s), got 2; "
        'write it as source "<type>.<name>" { ... }',
    ]


def test_variable_without_value(tmp_path: Path) -> None:
    files = hcl(
        'variable "n" {\n  type = string\n}\nlocals {\n  l = "${var.n}-x"\n}\n'
        'build {\n  name = local.l\n  sources = ["null.a"]\n}'
    )
    # Packer refuses the whole template ("Unset variable"), whether a name needs it or not.
    unset = (
        'build.pkr.hcl:7:1: variable "n" is not set: it has no default and nothing gives it a '
        'value (Packer: "Unset variable"); set it with --var n=..., a var file or PKR_VAR_n, or '
        "give it a default"
    )
    assert problems(tmp_path, files) == [unset]
    files = hcl('variable "n" {\n  type = string\n}\nbuild {\n  sources = ["null.a"]\n}')
    assert problems(tmp_path / "unused", files) == [unset]
    assert names(tmp_path / "unused", files, VarInputs(env={"PKR_VAR_n": "x"})) == ["null.a"]


def test_interpolation_in_the_sources_list_is_evaluated(tmp_path: Path) -> None:
    # Packer 1.7.9 and later decode name and sources with var and local in scope (1.6.6
    # refuses variables in both); a reference label of a nested source block can never
    # interpolate (HCL: "Invalid string literal", tests/packer/test_hcl_check.py).
    files = hcl(
        'variable "n" {\n  default = "b"\n}\n'
        'build {\n  sources = ["source.null.${var.n}", "null.${"a"}"]\n}'
    )
    assert names(tmp_path, files) == ["null.b", "null.a"]
    assert names(tmp_path, files, VarInputs(env={"PKR_VAR_n": "a"})) == ["null.a", "null.a"]


def test_env_in_a_default_that_decides_a_name_is_refused(tmp_path: Path) -> None:
    # Packer would read its own environment at build time; the rendered script runs in
    # another one than the plan, so pargen refuses rather than pin today's value.
    files = hcl(
        'variable "region" {\n  default = env("AWS_REGION")\n}\n'
        'build {\n  name = var.region\n  sources = ["null.a"]\n}'
    )
    assert problems(tmp_path, files) == [
        'build.pkr.hcl:8:13: cannot evaluate `env("AWS_REGION")`: it reads the environment, '
        "and it decides a build name: pargen plans before the build's environment exists, so "
        "the rendered script would pin today's value; set this variable with --var, a var "
        "file or PKR_VAR_<name> (which replace its default), or give it a literal default "
        "(needed for the build name at build.pkr.hcl:11)"
    ]
    # A value from outside replaces the default, which is then never read.
    assert names(tmp_path, files, VarInputs(env={"PKR_VAR_region": "eu"})) == ["eu.null.a"]
    # The default still gives the type: a string, so the text is taken as it is.
    assert names(tmp_path, files, VarInputs(vars=(("region", "[a]"),))) == ["[a].null.a"]
    # A default no name needs is never evaluated.
    files = hcl('variable "region" {\n  default = env("X")\n}\nbuild {\n  sources = ["null.a"]\n}')
    assert names(tmp_path / "unused", files) == ["null.a"]


def test_for_each_over_a_data_source(tmp_path: Path) -> None:
    files = hcl(
        'build {\n  dynamic "source" {\n    for_each = data.amazon-ami.x.names\n'
        '    labels = ["null.a"]\n    content {}\n  }\n}'
    )
    assert problems(tmp_path, files) == [
        "build.pkr.hcl:9:16: cannot evaluate `data.amazon-ami.x.names`: data sources are "
        "only known while Packer runs, but pargen needs this value before, to name the "
        "builds; use a variable or a literal instead"
    ]


def test_unsupported_function(tmp_path: Path) -> None:
    files = hcl('build {\n  name = templatefile("x.tpl", {})\n  sources = ["null.a"]\n}')
    assert problems(tmp_path, files) == [
        'build.pkr.hcl:8:10: cannot evaluate `templatefile("x.tpl", {})`: pargen does not '
        'support the function "templatefile" in values that decide build names; '
        "use a literal or a simpler expression"
    ]


def test_names_packer_reads_without_variables_or_functions(tmp_path: Path) -> None:
    files = hcl(
        """
variable "p" {
  default = "x"
}
build {
  source "null.a" {
    name = "${var.p}-1"
  }
  source "null.a" {
    name = upper("x")
  }
  dynamic "source" {
    for_each = ["a"]
    labels   = ["null.b"]
    content {
      name = "${var.p}-${source.value}"
    }
  }
}
"""
    )
    nested = "in the name of a source block inside a build (it must be a literal)"
    dynamic = (
        "in the name of a dynamic source (Packer gives it only the iterator, like source.value)"
    )
    assert problems(tmp_path, files) == [
        f"build.pkr.hcl:12:15: cannot evaluate `var.p`: Packer does not allow variables {nested};"
        " use a literal value",
        f'build.pkr.hcl:15:12: cannot evaluate `upper("x")`: Packer does not allow function '
        f"calls {nested}",
        f"build.pkr.hcl:21:17: cannot evaluate `var.p`: Packer does not allow variables {dynamic};"
        " use a literal value",
    ]


def test_local_cycle_and_undeclared_variable(tmp_path: Path) -> None:
    files = hcl(
        "locals {\n  a = local.b\n  b = local.a\n}\nbuild {\n  name = local.a\n"
        '  sources = ["null.a"]\n}\nbuild {\n  name = var.nope\n  sources = ["null.b"]\n}'
    )
    assert problems(tmp_path, files) == [
        'build.pkr.hcl:8:3: local "a" depends on itself; break the cycle '
        "(needed for the build name at build.pkr.hcl:12)",
        'build.pkr.hcl:16:10: there is no variable "nope"; declare it with a variable "nope" block',
    ]


def test_build_without_source_and_incomplete_dynamic(tmp_path: Path) -> None:
    files = hcl(
        'build {\n  name = "x"\n}\nbuild {\n  dynamic "source" {\n    for_each = ["a"]\n'
        "    content {}\n  }\n}"
    )
    assert problems(tmp_path, files) == [
        "build.pkr.hcl:7:1: this build has no source: add sources = [...] or a source block "
        "(Packer refuses a build without one)",
        'build.pkr.hcl:11:3: a dynamic "source" block needs for_each, labels and one content '
        "block; add the missing ones",
    ]


def test_bad_variable_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = hcl(
        'variable "l" {\n  type = list(string)\n}\nvariable "n" {\n  type = number\n}\n'
        'build {\n  name = "${var.l[0]}${var.n}"\n  sources = ["null.a"]\n}'
    ) | {"v.pkrvars.hcl": "n = \n"}
    # Each value given from outside is checked, whether a name needs it or not.
    assert problems(tmp_path, files, VarInputs(vars=(("l", "[a b"), ("n", "1")))) == [
        'build.pkr.hcl:7:1: cannot use the value of variable "l" from -var: invalid '
        "expression `[a b`: unexpected 'b'"
    ]
    assert problems(tmp_path, files, VarInputs(vars=(("l", '["a"]'), ("n", "two")))) == [
        'build.pkr.hcl:10:1: the value of variable "n" from -var does not fit its type: '
        "a number is required, got string"
    ]
    # A PKR_VAR_ value too, even when a -var replaces it.
    inputs = VarInputs(vars=(("l", '["a"]'), ("n", "1")), env={"PKR_VAR_n": "two"})
    assert problems(tmp_path, files, inputs) == [
        'build.pkr.hcl:10:1: the value of variable "n" from PKR_VAR_n does not fit its type: '
        "a number is required, got string"
    ]
    # A broken var file is reported whether or not a name needs it, and ends the reading.
    assert problems(tmp_path, files, VarInputs(var_files=("v.pkrvars.hcl",))) == [
        "v.pkrvars.hcl:1:5: " + INVALID_EXPRESSION
    ]


def test_list_default_fixes_the_length_when_no_type_is_declared(tmp_path: Path) -> None:
    # Packer takes the type of an untyped variable from its default: a tuple of that length.
    files = hcl(
        'variable "l" {\n  default = ["a"]\n}\nbuild {\n  dynamic "source" {\n'
        '    for_each = var.l\n    labels = ["null.a"]\n    content {}\n  }\n}'
    )
    assert problems(tmp_path, files, VarInputs(vars=(("l", '["x", "y"]'),))) == [
        'build.pkr.hcl:7:1: the value of variable "l" from -var does not fit its type: a list '
        "of 1 element(s) is required, got a list of 2 (the type comes from the default: "
        "declare a type like list(string) to allow others)"
    ]
    assert names(tmp_path, files, VarInputs(vars=(("l", '["x"]'),))) == ["null.a"]


def test_legacy_problems(tmp_path: Path) -> None:
    files = {
        "l.json": """
{
  "variables": {"x": "ux", "z": "{{env `Z`}}"},
  "builders": [
    {"type": "null"},
    {"type": "null"},
    {"type": "null", "name": "{{user `z`}}"},
    {"type": "null", "name": "{{timestamp}}"},
    {"type": "null", "name": "a,b"},
    {"name": "q"},
    {"type": "null", "name": "{{user `nope`}}"}
  ]
}
"""
    }
    assert problems(tmp_path, files) == [
        'l.json:5:5: duplicate builder name "null", first at line 4; give each builder a '
        'unique "name"',
        'l.json:6:5: user variable "z" = "{{env `Z`}}" reads the environment, and it decides '
        "a builder name: pargen plans before the build's environment exists, so the rendered "
        "script would pin today's value; set the variable with --var or a var file, or give "
        "it a literal default",
        'l.json:7:5: cannot compute the builder name "{{timestamp}}": pargen only knows '
        "{{user `x`}} in names; use a literal name",
        'l.json:8:5: builder name "a,b" has a comma, which Packer\'s -only cannot select in '
        "a legacy template; rename it",
        'l.json:9:5: builder 6 has no "type"; add one',
    ]


def test_legacy_variables_packer_refuses_before_building(tmp_path: Path) -> None:
    # Packer checks every variable first: "required variable not set", and a user
    # variable that uses one nobody defines ("Failed to interpolate").
    files = {
        "l.json": '{\n  "variables": {\n    "y": null,\n    "x": "{{user `nope`}}-{{user `y`}}"\n'
        '  },\n  "builders": [{"type": "null"}]\n}\n'
    }
    assert problems(tmp_path, files) == [
        'l.json:3:10: required variable "y" is not set (its default is null); set it with '
        "--var y=... or a var file",
        'l.json:4:10: user variable "x" uses "nope", which is neither declared nor given; '
        "declare it or set it with --var nope=...",
    ]
    assert names(tmp_path, files, VarInputs(vars=(("y", "1"), ("nope", "2")))) == ["null"]


def test_legacy_names_take_undeclared_and_nested_user_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every -var and -var-file value is a user variable, declared or not, and a value may
    # use other user variables (Packer renders them until none is left).
    monkeypatch.chdir(tmp_path)
    files = {
        "l.json": """
{
  "variables": {"box": "{{user `os`}}-2204", "os": "ubuntu", "deep": "{{user `box`}}.x"},
  "builders": [
    {"type": "null", "name": "{{user `box`}}"},
    {"type": "null", "name": "{{user `region`}}"},
    {"type": "null", "name": "{{ user `deep` }}"}
  ]
}
""",
        "v.json": '{"region": "eu-{{user `os`}}"}\n',
    }
    assert names(tmp_path, files, VarInputs(var_files=("v.json",))) == [
        "ubuntu-2204",
        "eu-ubuntu",
        "ubuntu-2204.x",
    ]
    inputs = VarInputs(var_files=("v.json",), vars=(("os", "debian"), ("region", "us")))
    assert names(tmp_path, files, inputs) == ["debian-2204", "us", "debian-2204.x"]


def test_legacy_user_variables_in_a_loop_are_a_problem(tmp_path: Path) -> None:
    files = {
        "l.json": '{"variables": {"a": "{{user `b`}}", "b": "x{{user `a`}}"},\n'
        ' "builders": [{"type": "null", "name": "{{user `a`}}"}]}\n'
    }
    assert problems(tmp_path, files) == [
        "l.json:2:15: user variables use each other in a loop (a -> b -> a); break it"
    ]


def test_unclosed_string_is_reported_as_packer_does(tmp_path: Path) -> None:
    # HCL reports the end of the line, and every line the string then swallows (Packer 1.6.6
    # prints these four errors too).
    files = hcl('build {\n  name = "abc\n  sources = ["null.a"]\n}')
    assert problems(tmp_path, files) == [
        "build.pkr.hcl:8:14: " + MULTI_LINE_STRING,
        "build.pkr.hcl:8:14: Unterminated template string; No closing marker was found for "
        "the string.",
        "build.pkr.hcl:9:23: " + MULTI_LINE_STRING,
        "build.pkr.hcl:10:2: " + MULTI_LINE_STRING,
    ]
    # An earlier syntax error comes first.
    files = hcl('locals {\n  a = = 1\n  b = "abc\n}')
    assert problems(tmp_path, files) == [
        "build.pkr.hcl:8:7: " + INVALID_EXPRESSION,
        "build.pkr.hcl:9:11: " + MULTI_LINE_STRING,
        "build.pkr.hcl:10:2: " + MULTI_LINE_STRING,
    ]


def test_invalid_escapes_are_reported_wherever_packer_reads_them(tmp_path: Path) -> None:
    # Packer rejects them in every quoted string, skipped bodies and nested strings included.
    files = {
        "b.pkr.hcl": 'source "null" "a" {\n  communicator = "C:\\Temp"\n}\n'
        'build {\n  name = "${lower("a\\u12")}"\n  sources = ["null.a"]\n'
        '  provisioner "shell-local" {\n    inline = ["x\\U0001F6"]\n  }\n}\n'
    }
    assert problems(tmp_path, files) == [
        'b.pkr.hcl:2:21: Invalid escape sequence; The symbol "T" is not a valid escape '
        "sequence selector.",
        "b.pkr.hcl:5:21: Invalid escape sequence; The \\u escape sequence must be followed by "
        "four hexadecimal digits.",
        "b.pkr.hcl:8:17: Invalid escape sequence; The \\U escape sequence must be followed by "
        "eight hexadecimal digits.",
    ]


def test_valid_escapes_heredocs_and_comments_keep_their_backslashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = hcl(
        "locals {\n  script = <<EOT\nC:\\Temp \\q\nEOT\n  # C:\\Temp in a comment\n}\n"
        'build {\n  name = "\\u00e9\\U0001F600\\t\\"\\\\ $${x} %%{y} ${"\\\\"}"\n'
        '  sources = ["null.a"]\n}'
    )
    assert names(tmp_path, files) == ['é😀\t"\\ ${x} %{y} \\.null.a']
    monkeypatch.chdir(tmp_path)
    files = hcl(
        'variable "l" {\n  type = list(string)\n}\n'
        'build {\n  name = var.l[0]\n  sources = ["null.a"]\n}'
    )
    assert problems(tmp_path, files, VarInputs(vars=(("l", '["a\\q"]'),))) == [
        'build.pkr.hcl:7:1: cannot use the value of variable "l" from -var: invalid expression '
        '`["a\\q"]`: invalid escape sequence "\\q" in a string: write \\\\ for a backslash; '
        'a quoted string knows \\n \\r \\t \\" \\\\ \\uNNNN and \\UNNNNNNNN'
    ]


def test_unsupported_top_level_blocks_and_arguments(tmp_path: Path) -> None:
    files = hcl(
        'foo {\n}\nvariabel "x" {\n}\nname = "x"\ndynamic "bar" {\n  for_each = []\n'
        '  labels = ["x"]\n  content {}\n}\nbuild {\n  sources = ["null.a", "null.b"]\n}'
    ) | {"j.pkr.json": '{"//": "comment",\n "sources": {}}'}
    assert problems(tmp_path, files) == [
        'build.pkr.hcl:7:1: unsupported block type "foo" at the top level; use packer, '
        "variable, variables, locals, local, data, source or build, or remove it",
        'build.pkr.hcl:9:1: unsupported block type "variabel" at the top level; did you mean '
        '"variable"?',
        'build.pkr.hcl:11:1: unexpected argument "name" at the top level, where only blocks '
        "belong; move it into a block (a value goes in locals { ... }) or remove it",
        'build.pkr.hcl:12:1: unsupported block type "bar" at the top level; use packer, '
        "variable, variables, locals, local, data, source or build, or remove it",
        'j.pkr.json:2:2: unsupported property "sources" at the top level; did you mean "source"?',
    ]


def test_every_top_level_block_of_some_packer_version_is_accepted(tmp_path: Path) -> None:
    files = hcl(
        'packer {\n}\nvariables {\n}\nlocals {\n}\nlocal "l" {\n  expression = 1\n}\n'
        'data "null" "d" {\n}\ncommunicator "ssh" "c" {\n}\nhcp_packer_registry {\n}\n'
        'build {\n  sources = ["null.a", "null.b"]\n}'
    )
    assert names(tmp_path, files) == ["null.a", "null.b"]


def test_broken_auto_var_file_is_reported_even_when_no_name_needs_it(tmp_path: Path) -> None:
    files = hcl('build {\n  sources = ["null.a", "null.b"]\n}') | {
        "a.auto.pkrvars.hcl": 'x = "a\\qb"\ny = "\\q"\n',
        "b.auto.pkrvars.hcl": "v = \n",
        "c.auto.pkrvars.json": '{"v": 1,}',
    }
    assert problems(tmp_path, files) == [
        'a.auto.pkrvars.hcl:1:7: Invalid escape sequence; The symbol "q" is not a valid '
        "escape sequence selector.",
        'a.auto.pkrvars.hcl:2:6: Invalid escape sequence; The symbol "q" is not a valid '
        "escape sequence selector.",
        "b.auto.pkrvars.hcl:1:5: " + INVALID_EXPRESSION,
        "c.auto.pkrvars.json:1:9: invalid JSON: expecting a property name in double quotes; "
        "fix the JSON",
    ]


def test_legacy_template_needs_a_builder(tmp_path: Path) -> None:
    assert problems(tmp_path, {"t.json": '{\n  "builders": []\n}\n'}) == [
        't.json:2:15: the "builders" list is empty; Packer needs at least one builder'
    ]


def test_byte_order_mark_is_skipped_in_native_syntax_only(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "a.pkr.hcl": '\ufeffsource "null" "a" { communicator = "none" }\n'
        'build { sources = ["null.a", "null.zz"] }\n',
        "v.auto.pkrvars.hcl": '\ufeffv = "x"\n',
    }
    assert problems(tmp_path, files) == [
        'a.pkr.hcl:2:30: unknown source "null.zz": declare source "null" "zz" { ... } or fix '
        "the reference"
    ]
    bom_json = "\ufeff" + '{"source": {"null": {"j": {"communicator": "none"}}}}'
    assert problems(tmp_path / "json", {"b.pkr.json": bom_json}) == [
        "b.pkr.json:1:1: invalid JSON: the file starts with a byte order mark (BOM), which "
        "Packer rejects in JSON; save it as UTF-8 without BOM"
    ]


def test_builds_carry_the_line_and_column_of_their_reference(tmp_path: Path) -> None:
    files = hcl('build {\n  sources = ["null.a",\n    "null.b"]\n  source "null.a" {}\n}')
    assert [(b.line, b.col) for b in parse(tmp_path, files).builds] == [(8, 14), (9, 5), (10, 3)]


ODD_INPUTS: list[dict[str, str | bytes]] = [
    {"a.pkr.json": "[1]"},
    {"a.pkr.json": '{"build": 3}'},
    {"a.pkr.json": '{"source": {"null": 3}}'},
    {"a.pkr.json": '{"source": []}'},
    {"a.pkr.json": '{"source": {"null": {"a": {}}}, "build": [{"sources": "null.a"}]}'},
    {"a.pkr.json": '{"build": {"source": {"null.a": {"name": 3}}}}'},
    {"a.pkr.json": '{"build": {"dynamic": {"source": {"for_each": 3}}}}'},
    {"a.pkr.json": "[" * 5000 + "]" * 5000},
    {"a.pkr.json": '{"variable": {"v": {"type": "foo(string)"}}, "build": {"name": "${var.v}"}}'},
    {"a.pkr.json": '{"build": {"name": "${", "sources": ["null.a"]}}'},
    {"a.pkr.json": '{"build": {"name": "%{ if true }x%{ endif }", "sources": ["null.a"]}}'},
    hcl('build {\n  sources = "null.a"\n}'),
    hcl('build {\n  name = ["a"]\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = null\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = "a"\n  name = "b"\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = 1 / 0\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = ["a"][3]\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = {a = 1}.b\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = "${[for x in 3 : x]}"\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = provider::x::y(1)\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = format("%z", 1)\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = lookup({}, "k")\n  sources = ["null.a"]\n}'),
    hcl('build {\n  name = "${true ? [] : 1}"\n  sources = ["null.a"]\n}'),
    hcl(
        'build {\n  dynamic "source" {\n    for_each = null\n    labels = ["null.a"]\n'
        "    content {}\n  }\n}"
    ),
    hcl(
        'build {\n  dynamic "source" {\n    for_each = 3\n    labels = "null.a"\n'
        "    content {}\n  }\n}"
    ),
    hcl(
        'build {\n  dynamic "source" {\n    for_each = [1]\n    iterator = a.b\n'
        '    labels = ["null.a"]\n    content {}\n    content {}\n  }\n}'
    ),
    hcl(
        'variable "v" {\n  type = foo(string)\n}\nbuild {\n  name = var.v\n'
        '  sources = ["null.a"]\n}'
    ),
    hcl('variable "v" {\n  default = var.w\n}\nbuild {\n  name = var.v\n  sources = ["null.a"]\n}'),
    hcl('local "x" {\n}\nsource "null" {\n}\nbuild "named" {\n  sources = ["null.a"]\n}'),
    hcl('dynamic "build" {\n  for_each = []\n  content {}\n}'),
    hcl('build {\n  name = "\\u00e9\\U0001F600\\q"\n  sources = ["null.a"]\n}'),
    {"x.pkr.hcl": b"\xef\xbb\xbfbuild {\n}\n"},
    {"t.json": '{"builders": [3, {"type": 1}, {"type": "null", "name": 2}]}'},
    {"t.json": '{"builders": [{"type": "null", "name": "{{user `x`}}"}], "variables": 1}'},
]


@pytest.mark.parametrize("files", ODD_INPUTS, ids=range(len(ODD_INPUTS)))
def test_odd_inputs_give_problems_never_crashes(
    tmp_path: Path, files: Mapping[str, str | bytes]
) -> None:
    try:
        parse(tmp_path, files)
    except ProblemsError as err:
        assert err.lines
        assert not any("pargen failed to read" in line for line in err.lines), err.lines


# -- real Packer ---------------------------------------------------------------------------

PACKER = shutil.which("packer")
needs_packer = pytest.mark.skipif(PACKER is None, reason="packer is not installed")

MARK_HCL = """
  provisioner "shell-local" {
    inline = ["echo '${build.name}|${source.type}|${source.name}' >> \\"$MARKER\\""]
  }
"""


def packer_build(
    template: TemplateSource, inputs: VarInputs, marker: Path, only: str | None
) -> list[str]:
    """Run a real ``packer build``; return the full names of the builds that ran."""
    assert PACKER is not None
    command = [PACKER, "build", "-color=false"]
    if only is not None:
        command.append(f"-only={only}")
    command += [f"-var-file={path}" for path in inputs.var_files]
    command += [f"-var={name}={value}" for name, value in inputs.vars]
    command.append(template.target)
    env = {**os.environ, **inputs.env, "MARKER": str(marker), "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(
        command, cwd=template.directory, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = marker.read_text().splitlines() if marker.exists() else []
    if template.kind == "legacy":
        return sorted(lines)
    full: list[str] = []
    for line in lines:
        build_name, source_type, source_name = line.split("|")
        local = f"{source_type}.{source_name}"
        full.append(f"{build_name}.{local}" if build_name else local)
    return sorted(full)


def assert_packer_agrees(root: Path, inputs: VarInputs, expected: list[str]) -> None:
    """pargen's names are Packer's, and -only=only_pattern(name) runs exactly those builds."""
    (template,), _ = discover(root)
    computed = [build.name for build in parse_template(template, root, inputs).builds]
    assert computed == expected
    counts = Counter(computed)
    markers = root.parent / f"{root.name}-markers"
    markers.mkdir()

    def run(job: tuple[int, str | None]) -> tuple[str | None, list[str]]:
        index, only = job
        return only, packer_build(template, inputs, markers / str(index), only)

    jobs: list[tuple[int, str | None]] = [(0, None)]
    jobs += [(i, only_pattern(name)) for i, name in enumerate(counts, start=1)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, jobs))
    assert results[None] == sorted(computed)
    for name, count in counts.items():
        assert results[only_pattern(name)] == [name] * count, name


@needs_packer
def test_packer_agrees_on_hcl_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "hcl"
    monkeypatch.chdir(tmp_path)
    write_tree(
        root,
        {
            "sources.pkr.hcl": """
source "null" "a" {
  communicator = "none"
}
source "null" "b-1" {
  communicator = "none"
}
source "null" "c_2" {
  communicator = "none"
}
source "null" "x y" {
  communicator = "none"
}
source "null" "_u" {
  communicator = "none"
}
""",
            "vars.pkr.hcl": """
variable "from_default" {
  type    = list(string)
  default = ["default1"]
}
variable "from_auto" {
  type    = list(string)
  default = ["wrong"]
}
variable "from_file" {
  type    = list(string)
  default = ["wrong"]
}
variable "from_cli" {
  default = ["wrong"]
}
variable "from_env" {
  type    = list(string)
  default = ["wrong"]
}
variable "a_set" {
  type    = set(string)
  default = ["s2", "s1", "s2"]
}
locals {
  pair = [for s in var.from_default : "${s}-local"]
}
""",
            "builds.pkr.hcl": f"""
build {{
  sources = ["source.null.a", "sources.null.b-1", "null.c_2", "foo.null.a", "null._u"]
{MARK_HCL}
}}
build {{
  name = "named build"
  source "source.null.a" {{}}
  source "null.x y" {{}}
  source "null.b-1" {{
    name = "spaces and.dots"
  }}
  source "null.b-1" {{
    name = "glob*?[x]{{y}}"
  }}
  source "null.c_2" {{
    name = "comma,name"
  }}
  source "q.null.c_2" {{
    name = ""
  }}
{MARK_HCL}
}}
build {{
  name = "dyn"
  dynamic "source" {{
    for_each = ["l1", "l2"]
    labels   = ["source.null.a"]
    content {{
      name = source.value
    }}
  }}
  dynamic "source" {{
    for_each = {{ k2 = "v2", k1 = "v1", k2 = "last" }}
    labels   = ["null.b-1"]
    content {{
      name = "${{source.key}}-${{source.value}}"
    }}
  }}
  dynamic "source" {{
    for_each = var.a_set
    iterator = it
    labels   = ["null.c_2"]
    content {{
      name = it.value
    }}
  }}
  dynamic "source" {{
    for_each = concat(var.from_default, var.from_auto, var.from_file, var.from_cli,
                      var.from_env, local.pair)
    labels   = ["null.a"]
    content {{
      name = source.value
    }}
  }}
{MARK_HCL}
}}
""",
            "x.auto.pkrvars.hcl": 'from_auto = ["auto1"]\nfrom_file = ["wrong-auto"]\n',
            "extra.pkrvars.hcl": 'from_file = ["file1"]\nfrom_cli = ["wrong-file"]\n',
        },
    )
    inputs = VarInputs(
        var_files=(str(root / "extra.pkrvars.hcl"),),
        vars=(("from_cli", '["cli1"]'),),
        env={"PKR_VAR_from_env": '["env1"]', "PKR_VAR_from_auto": '["wrong-env"]'},
    )
    assert_packer_agrees(
        root,
        inputs,
        [
            "null.a",
            "null.b-1",
            "null.c_2",
            "null.a",
            "null._u",
            "named build.null.a",
            "named build.null.x y",
            "named build.null.spaces and.dots",
            "named build.null.glob*?[x]{y}",
            "named build.null.comma,name",
            "named build.null.c_2",
            "dyn.null.l1",
            "dyn.null.l2",
            "dyn.null.k1-v1",
            "dyn.null.k2-last",
            "dyn.null.s1",
            "dyn.null.s2",
            "dyn.null.default1",
            "dyn.null.auto1",
            "dyn.null.file1",
            "dyn.null.cli1",
            "dyn.null.env1",
            "dyn.null.default1-local",
        ],
    )


@needs_packer
def test_packer_agrees_on_hcl_json_names(tmp_path: Path) -> None:
    root = tmp_path / "json"
    provisioner = (
        '{"shell-local": {"inline": '
        '["echo \'${build.name}|${source.type}|${source.name}\' >> \\"$MARKER\\""]}}'
    )
    write_tree(
        root,
        {
            "sources.pkr.hcl": 'source "null" "h" {\n  communicator = "none"\n}\n',
            "a.pkr.json": f"""
{{
  "variable": {{"names": {{"default": ["p", "q"]}}}},
  "source": {{"null": {{"a": {{"communicator": "none"}}, "b": [{{"communicator": "none"}}]}}}},
  "build": [
    {{
      "name": "jb",
      "sources": ["source.null.a", "null.h"],
      "source": {{"null.b": [{{"name": "${{var.names[0]}}"}}, {{"name": "two*"}}]}},
      "dynamic": {{"source": {{"for_each": "${{var.names}}", "labels": ["null.a"],
                              "content": {{"name": "d-${{source.value}}"}}}}}},
      "provisioner": {provisioner}
    }},
    {{"sources": ["null.b"], "provisioner": [{provisioner}]}}
  ]
}}
""",
        },
    )
    assert_packer_agrees(
        root,
        VarInputs(),
        [
            "jb.null.a",
            "jb.null.h",
            "jb.null.${var.names[0]}",
            "jb.null.two*",
            "jb.null.d-p",
            "jb.null.d-q",
            "null.b",
        ],
    )


@needs_packer
def test_packer_agrees_on_legacy_names(tmp_path: Path) -> None:
    root = tmp_path / "legacy"
    write_tree(
        root,
        {
            "t.json": """
{
  "variables": {"v": "user", "w": "default"},
  "builders": [
    {"type": "null", "communicator": "none"},
    {"type": "null", "name": "named one.x", "communicator": "none"},
    {"type": "null", "name": "{{user `v`}}-{{user `w`}}", "communicator": "none"}
  ],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo '{{build_name}}' >> \\"$MARKER\\""]}
  ]
}
"""
        },
    )
    assert_packer_agrees(root, VarInputs(vars=(("w", "cli"),)), ["null", "named one.x", "user-cli"])


@needs_packer
def test_packer_also_rejects_a_duplicate_source(tmp_path: Path) -> None:
    files = hcl('build {\n  sources = ["null.a"]\n}') | {
        "z.pkr.json": '{"source": {"null": {"a": {"communicator": "none"}}}}'
    }
    assert len(problems(tmp_path, files)) == 1
    assert PACKER is not None
    result = subprocess.run(
        [PACKER, "validate", "."], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "Duplicate source block" in result.stdout + result.stderr
