"""Tests for pargen.plan.jobs and pargen.plan.formats: jobs, ids, order, selection, formats."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from pargen.config import PlanOptions
from pargen.errors import PargenError, ProblemsError
from pargen.plan.formats import as_dot, as_json, as_table, plan_dict
from pargen.plan.jobs import Job, Plan, make_plan
from tests.helpers import write_tree


def hcl(*names: str, build: str | None = None, variables: Mapping[str, str] = {}) -> str:
    """``null`` sources ``names`` pulled by one build (named ``build`` when given)."""
    out = [f'variable "{k}" {{\n  default = "{v}"\n}}\n' for k, v in variables.items()]
    out += [f'source "null" "{n}" {{\n  communicator = "none"\n}}\n' for n in names]
    refs = ", ".join(f'"source.null.{n}"' for n in names)
    name = f'  name = "{build}"\n' if build else ""
    out.append(f"build {{\n{name}  sources = [{refs}]\n}}\n")
    return "".join(out)


def legacy(*names: str) -> str:
    builders = [{"type": "null", "name": n, "communicator": "none"} for n in names]
    return json.dumps({"builders": builders}, indent=2) + "\n"


def plan_of(
    root: Path, files: Mapping[str, str], env: Mapping[str, str] | None = None, **options: object
) -> Plan:
    write_tree(root, files)
    return make_plan(str(root), PlanOptions(**options), env or {})  # type: ignore[arg-type]


def ids(plan: Plan) -> list[str]:
    return [job.id for job in plan.jobs]


def edges(plan: Plan) -> dict[str, list[str]]:
    return {job.id: list(job.after) for job in plan.jobs}


def assert_ordered(jobs: tuple[Job, ...]) -> None:
    """The contract: every job comes after every job in its ``after``."""
    seen: set[str] = set()
    for job in jobs:
        assert set(job.after) <= seen, f"{job.id} listed before {set(job.after) - seen}"
        seen.add(job.id)


# -- jobs and ids ---------------------------------------------------------------------------


def test_one_job_per_template_and_full_name(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {
            "main.pkr.hcl": hcl("a", "b"),
            "web/main.pkr.hcl": hcl("a", build="web"),
            "app.json": legacy("one", "two"),
        },
    )
    assert ids(plan) == [
        ".:null.a",
        ".:null.b",
        "app.json:one",
        "app.json:two",
        "web:web.null.a",
    ]
    job = plan.jobs[4]
    assert (job.template, job.name, job.only, job.source_type) == (
        "web",
        "web.null.a",
        "web.null.a",
        "null",
    )
    assert (job.workdir, job.target) == ("web", ".")
    legacy_job = plan.jobs[2]
    assert (legacy_job.template, legacy_job.name, legacy_job.workdir, legacy_job.target) == (
        "app.json",
        "one",
        ".",
        "app.json",
    )


def test_builds_sharing_a_full_name_are_one_job(tmp_path: Path) -> None:
    text = hcl("a", "b") + 'build {\n  sources = ["source.null.a"]\n}\n'
    assert ids(plan_of(tmp_path, {"main.pkr.hcl": text})) == [".:null.a", ".:null.b"]


def test_the_same_name_in_two_templates_is_two_jobs(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, {"x/main.pkr.hcl": hcl("a"), "y/main.pkr.hcl": hcl("a")})
    assert ids(plan) == ["x:null.a", "y:null.a"]


def test_only_escapes_glob_characters_of_the_name(tmp_path: Path) -> None:
    text = (
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  source "source.null.base" {\n    name = "w*[1]"\n  }\n}\n'
    )
    (job,) = plan_of(tmp_path, {"main.pkr.hcl": text}).jobs
    assert (job.id, job.name, job.only) == (".:null.w*[1]", "null.w*[1]", "null.w\\*\\[1\\]")


def test_a_tree_without_templates_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PargenError, match=r"^no Packer template under .*; give the directory"):
        plan_of(tmp_path, {"README.md": "nothing here\n"})


def test_templates_without_builds_plan_nothing(tmp_path: Path) -> None:
    assert plan_of(tmp_path, {"v.pkr.hcl": 'variable "v" {\n  default = 1\n}\n'}).jobs == ()


def test_a_tree_whose_templates_are_all_excluded_plans_nothing(tmp_path: Path) -> None:
    files = {"a/main.pkr.hcl": hcl("a")}
    write_tree(tmp_path, files)
    assert make_plan(str(tmp_path), PlanOptions(exclude=("a",)), {}).jobs == ()


def test_ids_are_stable_across_runs(tmp_path: Path) -> None:
    files = {"main.pkr.hcl": hcl("a", "b"), "c/main.pkr.hcl": hcl("c")}
    first = plan_of(tmp_path, files)
    # The second plan reads the parse cache the first one wrote.
    assert (tmp_path / ".pargen" / "cache" / "parse.json").is_file()
    assert plan_of(tmp_path, files) == first


# -- order and edges ------------------------------------------------------------------------


def test_children_wait_for_every_job_of_their_parent(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {
            "main.pkr.hcl": hcl("a", "b"),
            "web/main.pkr.hcl": hcl("w"),
            "web/nginx/main.pkr.hcl": hcl("n"),
            "db/main.pkr.hcl": hcl("d"),
        },
    )
    assert edges(plan) == {
        ".:null.a": [],
        ".:null.b": [],
        "db:null.d": [".:null.a", ".:null.b"],
        "web:null.w": [".:null.a", ".:null.b"],
        "web/nginx:null.n": ["web:null.w"],
    }
    assert_ordered(plan.jobs)


def test_directories_without_templates_are_skipped_over(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {"images/base/main.pkr.hcl": hcl("b"), "images/base/x/y/z/main.pkr.hcl": hcl("z")},
    )
    assert edges(plan) == {
        "images/base:null.b": [],
        "images/base/x/y/z:null.z": ["images/base:null.b"],
    }


def test_templates_without_an_ancestor_wait_for_nothing(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, {"a/main.pkr.hcl": hcl("a"), "b/c/main.pkr.hcl": hcl("c")})
    assert edges(plan) == {"a:null.a": [], "b/c:null.c": []}


def test_a_legacy_template_is_a_sibling_of_the_template_of_its_directory(
    tmp_path: Path,
) -> None:
    # In real repositories such pairs are one image written twice, not parent and child.
    plan = plan_of(
        tmp_path,
        {
            "main.pkr.hcl": hcl("root"),
            "web/main.pkr.hcl": hcl("w"),
            "web/app.json": legacy("app"),
            "web/x/deep.json": legacy("deep"),
            "top.json": legacy("top"),
        },
    )
    assert edges(plan) == {
        ".:null.root": [],
        "top.json:top": [],
        "web:null.w": [".:null.root"],
        "web/app.json:app": [".:null.root"],
        "web/x/deep.json:deep": ["web:null.w"],
    }
    assert_ordered(plan.jobs)


def test_a_legacy_template_is_never_a_parent(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {
            "main.pkr.hcl": hcl("root"),
            "web/app.json": legacy("app"),
            "web/x/main.pkr.hcl": hcl("x"),
        },
    )
    assert edges(plan)["web/x:null.x"] == [".:null.root"]


def test_flat_drops_every_edge(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        {"main.pkr.hcl": hcl("a"), "web/main.pkr.hcl": hcl("w"), "web/app.json": legacy("l")},
        flat=True,
    )
    assert edges(plan) == {".:null.a": [], "web:null.w": [], "web/app.json:l": []}


# -- selection ------------------------------------------------------------------------------

TREE = {
    "main.pkr.hcl": hcl("a", "b"),
    "web/main.pkr.hcl": hcl("a", "b", build="web"),
    "web/nginx/main.pkr.hcl": hcl("a"),
}


@pytest.mark.parametrize(
    ("only", "except_", "expected"),
    [
        ((), (), [".:null.a", ".:null.b", "web:web.null.a", "web:web.null.b", "web/nginx:null.a"]),
        (("null.a",), (), [".:null.a", "web/nginx:null.a"]),
        (("*.a",), (), [".:null.a", "web:web.null.a", "web/nginx:null.a"]),
        (("web:*",), (), ["web:web.null.a", "web:web.null.b"]),
        (("web*",), (), ["web:web.null.a", "web:web.null.b", "web/nginx:null.a"]),
        (("web:*", "null.b"), (), [".:null.b", "web:web.null.a", "web:web.null.b"]),
        ((), ("web*",), [".:null.a", ".:null.b"]),
        ((), ("*.b",), [".:null.a", "web:web.null.a", "web/nginx:null.a"]),
        (("web*",), ("*nginx*",), ["web:web.null.a", "web:web.null.b"]),
        (("NULL.A",), (), []),
        (("nothing",), (), []),
    ],
    ids=[
        "all",
        "name",
        "name-glob-crosses-dots",
        "id-glob",
        "id-and-path-prefix",
        "several",
        "except",
        "except-name",
        "only-and-except",
        "case-sensitive",
        "no-match",
    ],
)
def test_only_and_except_select_by_id_or_name(
    tmp_path: Path, only: tuple[str, ...], except_: tuple[str, ...], expected: list[str]
) -> None:
    assert ids(plan_of(tmp_path, TREE, only=only, except_=except_)) == expected


def test_a_child_selected_without_its_parent_waits_for_nothing(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, TREE, only=("web:*",))
    assert edges(plan) == {"web:web.null.a": [], "web:web.null.b": []}


def test_a_child_waits_only_for_the_selected_jobs_of_its_parent(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, TREE, except_=("web:web.null.b",))
    assert edges(plan)["web/nginx:null.a"] == ["web:web.null.a"]
    every_id = set(ids(plan))
    assert all(set(job.after) <= every_id for job in plan.jobs)


# -- limits and variables -------------------------------------------------------------------


def test_max_jobs_refuses_a_larger_plan(tmp_path: Path) -> None:
    # Without a selection, planning stops at the first job too many.
    with pytest.raises(PargenError) as caught:
        plan_of(tmp_path, TREE, max_jobs=4)
    assert caught.value.lines == [
        "planning stopped at 5 jobs, more than --max-jobs 4; "
        "narrow it with --only/--except or raise the limit"
    ]
    assert caught.value.code == 2
    # A selection counts the jobs it keeps.
    with pytest.raises(PargenError) as caught:
        plan_of(tmp_path, TREE, max_jobs=4, only=("*",))
    assert caught.value.lines == [
        "the plan has 5 jobs, more than --max-jobs 4; "
        "narrow it with --only/--except or raise the limit"
    ]


def test_max_jobs_counts_the_selected_jobs(tmp_path: Path) -> None:
    assert len(plan_of(tmp_path, TREE, max_jobs=5).jobs) == 5
    assert len(plan_of(tmp_path, TREE, max_jobs=2, only=("web:*",)).jobs) == 2


def test_max_jobs_exits_2_from_the_command_line(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    done = subprocess.run(
        [sys.executable, "-m", "pargen", "plan", str(tmp_path), "--max-jobs", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pargen: error: planning stopped at 4 jobs, more than --max-jobs 3; "
        "narrow it with --only/--except or raise the limit\n"
    )


def test_vars_go_to_hcl2_templates_that_declare_them_and_to_every_legacy_one(
    tmp_path: Path,
) -> None:
    plan = plan_of(
        tmp_path,
        {
            "main.pkr.hcl": hcl("a", variables={"region": "eu", "size": "s"}),
            "web/main.pkr.hcl": hcl("w", variables={"size": "m"}),
            "other/main.pkr.hcl": hcl("o"),
            "app.json": json.dumps(
                {"variables": {"region": "x"}, "builders": [{"type": "null", "name": "l"}]}
            ),
        },
        vars=(("region", "us"), ("size", "l"), ("undeclared", "1")),
    )
    assert {job.id: job.vars for job in plan.jobs} == {
        ".:null.a": (("region", "us"), ("size", "l")),
        "app.json:l": (("region", "us"), ("size", "l"), ("undeclared", "1")),
        "other:null.o": (),
        "web:null.w": (("size", "l"),),
    }


def test_variables_decide_names(tmp_path: Path) -> None:
    files = {"main.pkr.hcl": hcl("a", build="${var.env}-img", variables={"env": "dev"})}
    assert ids(plan_of(tmp_path, files)) == [".:dev-img.null.a"]
    assert ids(plan_of(tmp_path, files, env={"PKR_VAR_env": "qa"})) == [".:qa-img.null.a"]
    assert ids(plan_of(tmp_path, files, vars=(("env", "prod"),))) == [".:prod-img.null.a"]


def test_var_files_are_kept_in_the_plan(tmp_path: Path) -> None:
    var_file = tmp_path / "prod.pkrvars.hcl"
    var_file.write_text('env = "prod"\n', encoding="utf-8")
    files = {"tree/main.pkr.hcl": hcl("a", build="${var.env}", variables={"env": "dev"})}
    write_tree(tmp_path, files)
    plan = make_plan(str(tmp_path / "tree"), PlanOptions(var_files=(str(var_file),)), {})
    assert ids(plan) == [".:prod.null.a"]
    assert plan.var_files == (str(var_file),)


def test_a_comma_that_would_select_another_build_too_is_a_problem(tmp_path: Path) -> None:
    text = (
        'source "null" "x-y" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["source.null.x-y"]\n'
        '  source "source.null.x-y" {\n    name = "x,y"\n  }\n}\n'
    )
    with pytest.raises(ProblemsError) as caught:
        plan_of(tmp_path, {"main.pkr.hcl": text})
    (line,) = caught.value.lines
    # Problems name files under ROOT as given, so they open from the current directory.
    assert line.startswith(f"{tmp_path}/main.pkr.hcl:6:")
    assert line.endswith(
        ": cannot select build 'null.x,y' alone: a comma in its name is matched by any "
        "character, so 'null.x-y' would be built too; rename one of them"
    )


def test_a_comma_without_a_clash_is_fine(tmp_path: Path) -> None:
    text = (
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  source "source.null.base" {\n    name = "x,y"\n  }\n}\n'
    )
    (job,) = plan_of(tmp_path, {"main.pkr.hcl": text}).jobs
    assert (job.name, job.only) == ("null.x,y", "null.x?y")


def test_problems_of_every_template_are_raised_together(tmp_path: Path) -> None:
    files = {
        "a/main.pkr.hcl": 'build {\n  sources = ["source.null.nope"]\n}\n',
        "b/main.pkr.hcl": "build {\n",
        "c/app.json": '{"builders": [\n',
        "d/main.pkr.hcl": hcl("fine"),
    }
    with pytest.raises(ProblemsError) as caught:
        plan_of(tmp_path, files)
    assert [line.split(":")[0] for line in caught.value.lines] == [
        f"{tmp_path}/a/main.pkr.hcl",
        f"{tmp_path}/b/main.pkr.hcl",
        f"{tmp_path}/c/app.json",
    ]


# -- formats --------------------------------------------------------------------------------

SMALL = {
    "main.pkr.hcl": hcl("a", "b"),
    "web/main.pkr.hcl": hcl("x", build="web"),
    "web/app.json": legacy("app"),
}


def test_json_shape_is_the_contract(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree", SMALL)
    plan = make_plan(str(tmp_path / "tree"), PlanOptions(), {})
    document = json.loads(as_json(plan))
    assert document == plan_dict(plan)
    assert document["root"] == str(tmp_path / "tree")
    contract_keys = ("id", "template", "name", "only", "after")
    assert [{k: job[k] for k in contract_keys} for job in document["jobs"]] == [
        {"id": ".:null.a", "template": ".", "name": "null.a", "only": "null.a", "after": []},
        {"id": ".:null.b", "template": ".", "name": "null.b", "only": "null.b", "after": []},
        {
            "id": "web:web.null.x",
            "template": "web",
            "name": "web.null.x",
            "only": "web.null.x",
            "after": [".:null.a", ".:null.b"],
        },
        {
            "id": "web/app.json:app",
            "template": "web/app.json",
            "name": "app",
            "only": "app",
            "after": [".:null.a", ".:null.b"],
        },
    ]


def test_json_root_is_the_root_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "tree", SMALL)
    monkeypatch.chdir(tmp_path)
    for given in ("tree", "./tree", "tree/", str(tmp_path / "tree")):
        assert json.loads(as_json(make_plan(given, PlanOptions(), {})))["root"] == given


def test_json_keeps_names_exact(tmp_path: Path) -> None:
    text = (
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  source "source.null.base" {\n    name = "é \\"q\\" *"\n  }\n}\n'
    )
    write_tree(tmp_path, {"main.pkr.hcl": text})
    (job,) = json.loads(as_json(make_plan(str(tmp_path), PlanOptions(), {})))["jobs"]
    assert (job["name"], job["only"]) == ('null.é "q" *', 'null.é "q" \\*')
    assert "é" in as_json(make_plan(str(tmp_path), PlanOptions(), {}))


def test_table(tmp_path: Path) -> None:
    write_tree(tmp_path, SMALL)
    plan = make_plan(str(tmp_path), PlanOptions(), {})
    assert as_table(plan) == (
        ".  (2 jobs)\n"
        "  .:null.a\n"
        "  .:null.b\n"
        "web  (1 job, after . (nested directory))\n"
        "  web:web.null.x\n"
        "web/app.json  (1 job, after . (nested directory))\n"
        "  web/app.json:app\n"
        "4 jobs in 3 template(s)\n"
    )


def test_table_shows_only_values_that_differ_from_the_name(tmp_path: Path) -> None:
    text = (
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["source.null.base"]\n'
        '  source "source.null.base" {\n    name = "w*"\n  }\n}\n'
    )
    write_tree(tmp_path, {"main.pkr.hcl": text})
    assert as_table(make_plan(str(tmp_path), PlanOptions(), {})) == (
        ".  (2 jobs)\n  .:null.base\n  .:null.w*    -only=null.w\\*\n2 jobs in 1 template(s)\n"
    )


def test_table_of_an_empty_plan(tmp_path: Path) -> None:
    write_tree(tmp_path, {"v.pkr.hcl": 'variable "v" {\n  default = 1\n}\n'})
    plan = make_plan(str(tmp_path), PlanOptions(), {})
    assert as_table(plan) == f"no jobs planned under {tmp_path}\n.  (no builds)\n"


def test_dot(tmp_path: Path) -> None:
    write_tree(tmp_path, SMALL)
    plan = make_plan(str(tmp_path), PlanOptions(), {})
    assert as_dot(plan) == (
        "digraph pargen {\n"
        "  rankdir=LR;\n"
        "  node [shape=box];\n"
        "  subgraph cluster_0 {\n"
        '    label=".";\n'
        '    ".:null.a" [label="null.a"];\n'
        '    ".:null.b" [label="null.b"];\n'
        "  }\n"
        "  subgraph cluster_1 {\n"
        '    label="web";\n'
        '    "web:web.null.x" [label="web.null.x"];\n'
        "  }\n"
        "  subgraph cluster_2 {\n"
        '    label="web/app.json";\n'
        '    "web/app.json:app" [label="app"];\n'
        "  }\n"
        '  ".:null.a" -> "web:web.null.x";\n'
        '  ".:null.b" -> "web:web.null.x";\n'
        '  ".:null.a" -> "web/app.json:app";\n'
        '  ".:null.b" -> "web/app.json:app";\n'
        "}\n"
    )


def test_dot_quotes_names(tmp_path: Path) -> None:
    text = (
        'source "null" "base" {\n  communicator = "none"\n}\n'
        'build {\n  source "source.null.base" {\n    name = "say \\"hi\\""\n  }\n}\n'
    )
    write_tree(tmp_path, {"main.pkr.hcl": text})
    dot = as_dot(make_plan(str(tmp_path), PlanOptions(), {}))
    assert '    ".:null.say \\"hi\\"" [label="null.say \\"hi\\""];\n' in dot
