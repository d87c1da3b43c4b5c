"""Tests for pargen.plan.graph through make_plan: which templates wait for which, and why
(nested directories, HCP Packer buckets, pargen.hcl's after), cycles, and the order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from pargen.config import resolve
from pargen.errors import ProblemsError
from pargen.plan.formats import as_json, as_table
from pargen.plan.graph import Edge, Node, check_cycles
from pargen.plan.jobs import Plan, make_plan
from tests.helpers import write_tree
from tests.plan.test_changes import commit_all, git


def hcl(name: str, *, publishes: str | None = None, reads: str | None = None) -> str:
    """One ``null`` source ``name`` in one build, publishing and reading HCP buckets."""
    text = f'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
    if reads is not None:
        text += f'data "hcp-packer-version" "parent" {{\n  bucket_name = "{reads}"\n}}\n'
        text += (
            'data "hcp-packer-artifact" "image" {\n'
            "  bucket_name = data.hcp-packer-version.parent.bucket_name\n}\n"
        )
    text += f'build {{\n  sources = ["source.null.{name}"]\n'
    if publishes is not None:
        text += f'  hcp_packer_registry {{\n    bucket_name = "{publishes}"\n  }}\n'
    return text + "}\n"


LEGACY = '{"builders": [{"type": "null", "name": "app", "communicator": "none"}]}\n'


def plan_of(root: Path, files: Mapping[str, str], **cli: object) -> Plan:
    write_tree(root, files)
    config = resolve(root, cli)
    return make_plan(str(root), config.plan, {})


def waits(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """Template -> (template it waits for, why), as the plan says."""
    return {t.key: [(e.parent, e.why) for e in t.after] for t in plan.templates}


def edges(plan: Plan) -> dict[str, list[str]]:
    return {job.id: list(job.after) for job in plan.jobs}


def test_hcp_buckets_link_templates_wherever_they_are(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {
            "z-golden/main.pkr.hcl": hcl("g", publishes="golden-base"),
            "apps/a/main.pkr.hcl": hcl("a", reads="golden-base"),
            "apps/b/main.pkr.hcl": hcl("b", reads="somebody-elses-bucket"),
        },
    )
    assert [j.id for j in plan.jobs] == ["apps/b:null.b", "z-golden:null.g", "apps/a:null.a"]
    assert edges(plan)["apps/a:null.a"] == ["z-golden:null.g"]
    # Two data sources read the bucket: one edge.
    assert waits(plan)["apps/a"] == [("z-golden", 'HCP Packer bucket "golden-base"')]


def test_a_template_reading_its_own_bucket_waits_for_nothing(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, {"img/main.pkr.hcl": hcl("i", publishes="img", reads="img")})
    assert edges(plan) == {"img:null.i": []}


def test_the_table_and_json_say_why_each_template_waits(tmp_path: Path) -> None:
    files = {
        "base/main.pkr.hcl": hcl("b"),
        "base/web/main.pkr.hcl": hcl("w", reads="golden"),
        "golden/main.pkr.hcl": hcl("g", publishes="golden"),
    }
    plan = plan_of(tmp_path, files)
    assert as_table(plan).splitlines()[4] == (
        'base/web  (1 job, after base (nested directory), golden (HCP Packer bucket "golden"))'
    )
    templates = json.loads(as_json(plan))["templates"]
    assert templates[2] == {
        "template": "base/web",
        "var_file": None,
        "jobs": 1,
        "after": [
            {"template": "base", "because": "nested directory"},
            {"template": "golden", "because": 'HCP Packer bucket "golden"'},
        ],
    }


def test_after_in_pargen_hcl_adds_edges_by_glob(tmp_path: Path) -> None:
    files = {
        "pargen.hcl": 'template "apps/*" {\n  after = ["base*", "tools/x.json"]\n}\n',
        "base-linux/main.pkr.hcl": hcl("l"),
        "base-win/main.pkr.hcl": hcl("w"),
        "apps/web/main.pkr.hcl": hcl("web"),
        "tools/x.json": LEGACY,
    }
    plan = plan_of(tmp_path, files)
    assert edges(plan)["apps/web:null.web"] == [
        "base-linux:null.l",
        "base-win:null.w",
        "tools/x.json:app",
    ]
    why = f"after in {tmp_path}/pargen.hcl:1"
    assert waits(plan)["apps/web"] == [
        ("base-linux", why),
        ("base-win", why),
        ("tools/x.json", why),
    ]
    assert [j.id for j in plan.jobs][-1] == "apps/web:null.web"


def test_nesting_can_be_turned_off_below_a_directory(tmp_path: Path) -> None:
    files = {
        "pargen.hcl": 'template "vendor" {\n  nesting = false\n}\n',
        "main.pkr.hcl": hcl("root"),
        "vendor/main.pkr.hcl": hcl("v"),
        "vendor/x/main.pkr.hcl": hcl("x"),
        "vendor/app.json": LEGACY,
        "other/main.pkr.hcl": hcl("o"),
    }
    assert edges(plan_of(tmp_path, files)) == {
        ".:null.root": [],
        "other:null.o": [".:null.root"],
        "vendor:null.v": [".:null.root"],
        "vendor/app.json:app": [],
        "vendor/x:null.x": [],
    }


def test_flat_drops_nesting_and_keeps_buckets_and_after(tmp_path: Path) -> None:
    files = {
        "pargen.hcl": 'template "c" {\n  after = ["a"]\n}\n',
        "main.pkr.hcl": hcl("root"),
        "a/main.pkr.hcl": hcl("a"),
        "b/main.pkr.hcl": hcl("b", reads="root-bucket"),
        "c/main.pkr.hcl": hcl("c"),
        "z/main.pkr.hcl": hcl("z", publishes="root-bucket"),
    }
    assert edges(plan_of(tmp_path, files, flat="true")) == {
        ".:null.root": [],
        "a:null.a": [],
        "c:null.c": ["a:null.a"],
        "z:null.z": [],
        "b:null.b": ["z:null.z"],
    }


def test_a_file_template_is_never_a_parent(tmp_path: Path) -> None:
    files = {
        "main.pkr.hcl": hcl("root"),
        "win/a.pkr.hcl": 'variable "v" {\n  default = 1\n}\n' + hcl("a"),
        "win/b.pkr.hcl": 'variable "v" {\n  default = 1\n}\n' + hcl("b"),
        "win/sub/main.pkr.hcl": hcl("s"),
    }
    assert edges(plan_of(tmp_path, files)) == {
        ".:null.root": [],
        "win/a.pkr.hcl:null.a": [".:null.root"],
        "win/b.pkr.hcl:null.b": [".:null.root"],
        "win/sub:null.s": [".:null.root"],
    }


def test_a_cycle_is_an_error_that_names_it(tmp_path: Path) -> None:
    files = {
        "pargen.hcl": 'template "golden" {\n  after = ["app"]\n}\n',
        "golden/main.pkr.hcl": hcl("g", publishes="golden"),
        "app/main.pkr.hcl": hcl("a", reads="golden"),
    }
    with pytest.raises(ProblemsError) as caught:
        plan_of(tmp_path, files)
    assert caught.value.lines == [
        f"{tmp_path}/pargen.hcl:1:1: templates wait for each other in a cycle: app waits for "
        'golden (HCP Packer bucket "golden") waits for app (after in '
        f"{tmp_path}/pargen.hcl:1); remove one of these edges"
    ]


def test_a_changed_publisher_selects_the_templates_reading_its_bucket(tmp_path: Path) -> None:
    # --changed-since walks the same hierarchy: here through an HCP bucket.
    files = {
        "golden/main.pkr.hcl": hcl("g", publishes="golden"),
        "app/main.pkr.hcl": hcl("a", reads="golden"),
        "solo/main.pkr.hcl": hcl("s"),
    }
    write_tree(tmp_path, files)
    git(tmp_path, "init", "-q")
    commit_all(tmp_path)
    with (tmp_path / "golden/main.pkr.hcl").open("a") as handle:
        handle.write("# changed\n")
    plan = plan_of(tmp_path, {}, changed_since="HEAD")
    assert plan.selected_because == {
        "golden:null.g": "changed: golden/main.pkr.hcl",
        "app:null.a": "below changed golden",
    }


def test_patterns_that_name_nothing_are_warnings(tmp_path: Path) -> None:
    files = {
        "pargen.hcl": 'template "nope/*" {\n  read = "whole"\n}\n'
        'template "a" {\n  after = ["missing"]\n}\n',
        "a/main.pkr.hcl": hcl("a"),
    }
    plan = plan_of(tmp_path, files, exclude=["gone"])
    assert [str(w) for w in plan.warnings] == [
        "--exclude: 'gone' names no directory or template file; exclude patterns are paths "
        "relative to ROOT, or file and directory names",
        f"{tmp_path}/pargen.hcl:1:1: template 'nope/*' names no template (paths are "
        "relative to ROOT)",
        f"{tmp_path}/pargen.hcl:4:1: after 'missing' names no template (paths are "
        "relative to ROOT)",
    ]


def test_a_cycle_at_the_end_of_a_long_chain_is_found(tmp_path: Path) -> None:
    # Longer than Python's recursion limit: the walk must not recurse.
    count = 5000
    nodes = [Node(f"t{i}", f"t{i}", None, True, f"t{i}", True) for i in range(count)]
    found = {f"t{i}": [Edge(f"t{i + 1}", "after")] for i in range(count - 1)}
    check_cycles(nodes, found)
    found[f"t{count - 1}"] = [Edge(f"t{count - 2}", "after")]
    with pytest.raises(ProblemsError) as caught:
        check_cycles(nodes, found)
    assert caught.value.lines == [
        f"t{count - 2}: templates wait for each other in a cycle: t{count - 2} waits for "
        f"t{count - 1} (after) waits for t{count - 2} (after); remove one of these edges"
    ]
