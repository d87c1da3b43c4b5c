"""Tests for --changed-since (pargen.plan.changes) and --skip-unchanged (pargen.plan.inputs).

Real git repositories in tmp_path; real Packer ``null`` builds for what exec records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

import pargen.cli as cli_module
from pargen.cli import cli
from pargen.config import PlanOptions
from pargen.plan.inputs import BUILT_FILE, InputHashes, read_built, record_built
from pargen.plan.jobs import make_plan
from tests.helpers import write_tree


def hcl(*names: str, variables: Mapping[str, str] = {}, marks: bool = False) -> str:
    """``null`` sources ``names``; with ``marks`` each build appends its name to $MARKS."""
    out = [f'variable "{k}" {{\n  default = "{v}"\n}}\n' for k, v in variables.items()]
    out += [f'source "null" "{n}" {{\n  communicator = "none"\n}}\n' for n in names]
    refs = ", ".join(f'"source.null.{n}"' for n in names)
    out.append(f"build {{\n  sources = [{refs}]\n")
    for name in names if marks else ():
        fail = "; exit 1" if name.startswith("fail") else ""
        out.append(
            '  provisioner "shell-local" {\n'
            f'    only   = ["null.{name}"]\n'
            f'    inline = ["echo {name} >> \\"$MARKS\\"{fail}"]\n'
            "  }\n"
        )
    out.append("}\n")
    return "".join(out)


LEGACY = json.dumps({"builders": [{"type": "null", "name": "app", "communicator": "none"}]})

TREE = {
    "shared/variables.hcl": 'variable "owner" {\n  default = "me"\n}\n',
    "base/base.pkr.hcl": hcl("b"),
    "base/web/web.pkr.hcl": hcl("w"),
    "base/web/locals.pkr.hcl": "locals {\n  x = 1\n}\n",
    "base/web/nginx/nginx.pkr.hcl": hcl("n", variables={"region": "eu"}),
    "base/web/nginx/regions.auto.pkrvars.hcl": 'region = "us"\n',
    "solo/solo.pkr.hcl": hcl("s"),
    "legacy/app.json": LEGACY,
    # JSON: legacy templates take only JSON var files.
    "common.pkrvars.json": '{"owner": "you"}\n',
    ".gitignore": "ignored.auto.pkrvars.hcl\n.pargen/\n",
}
LINKS = {
    "base/variables.pkr.hcl": "../shared/variables.hcl",
    "solo/vars.pkr.hcl": "../shared/variables.hcl",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return done.stdout


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_repo(repo: Path, files: Mapping[str, str], links: Mapping[str, str]) -> Path:
    write_tree(repo, files)
    for link, target in links.items():
        (repo / link).symlink_to(target)
    git(repo, "init", "-q")
    commit_all(repo, "init")
    git(repo, "checkout", "-q", "-b", "feat")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The tree committed on main, checked out on branch feat."""
    return make_repo(tmp_path / "repo", TREE, LINKS)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def selected(root: Path, *options: str, ref: str = "main") -> dict[str, str]:
    """Job id -> selected_because, from ``plan --format json --changed-since ref``."""
    code, out, err = invoke("plan", str(root), "--format", "json", "--changed-since", ref, *options)
    assert code == 0, err
    return {job["id"]: job["selected_because"] for job in json.loads(out)["jobs"]}


def append(path: Path, text: str = "# edited\n") -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


# --- --changed-since: what counts as a change ---------------------------------------------------


def test_nothing_changed_plans_nothing(repo: Path) -> None:
    assert selected(repo) == {}
    code, out, _ = invoke("plan", str(repo), "--changed-since", "main")
    assert (code, out) == (0, f"no jobs planned under {repo}: no template changed since main\n")


def test_a_committed_change_selects_its_template(repo: Path) -> None:
    append(repo / "solo/solo.pkr.hcl")
    commit_all(repo)
    assert selected(repo) == {"solo:null.s": "changed: solo/solo.pkr.hcl"}


def test_uncommitted_and_staged_changes_count(repo: Path) -> None:
    append(repo / "solo/solo.pkr.hcl")  # unstaged
    append(repo / "legacy/app.json", "\n")
    git(repo, "add", "legacy/app.json")  # staged
    assert selected(repo) == {
        "legacy/app.json:app": "changed: legacy/app.json",
        "solo:null.s": "changed: solo/solo.pkr.hcl",
    }


def test_an_untracked_file_counts_unless_git_ignores_it(repo: Path) -> None:
    (repo / "solo/ignored.auto.pkrvars.hcl").write_text('owner = "x"\n', encoding="utf-8")
    assert selected(repo) == {}
    (repo / "solo/extra.pkr.hcl").write_text("locals {\n  y = 2\n}\n", encoding="utf-8")
    assert selected(repo) == {"solo:null.s": "changed: solo/extra.pkr.hcl"}


def test_a_file_packer_does_not_read_is_no_change(repo: Path) -> None:
    (repo / "solo/README.md").write_text("notes\n", encoding="utf-8")
    append(repo / "base/web/nginx/notes.hcl")
    commit_all(repo)
    assert selected(repo) == {}


def test_a_changed_symlink_target_changes_every_template_linking_to_it(repo: Path) -> None:
    append(repo / "shared/variables.hcl")
    assert selected(repo) == {
        "base:null.b": "changed: shared/variables.hcl",
        "base/web:null.w": "below changed base",
        "base/web/nginx:null.n": "below changed base",
        "solo:null.s": "changed: shared/variables.hcl",
    }


def test_a_retargeted_symlink_is_a_change(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    (repo / "shared/other.hcl").write_text(
        (repo / "shared/variables.hcl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "relink")
    (repo / "solo/vars.pkr.hcl").unlink()
    (repo / "solo/vars.pkr.hcl").symlink_to("../shared/other.hcl")
    assert selected(repo) == {"solo:null.s": "changed: solo/vars.pkr.hcl"}


def test_a_changed_auto_var_file_selects_its_template(repo: Path) -> None:
    append(repo / "base/web/nginx/regions.auto.pkrvars.hcl")
    assert selected(repo) == {
        "base/web/nginx:null.n": "changed: base/web/nginx/regions.auto.pkrvars.hcl"
    }


def test_a_deleted_file_changes_the_template_that_held_it(repo: Path) -> None:
    (repo / "base/web/locals.pkr.hcl").unlink()
    assert selected(repo) == {
        "base/web:null.w": "changed: base/web/locals.pkr.hcl",
        "base/web/nginx:null.n": "below changed base/web",
    }
    commit_all(repo)  # deleted in a commit: the same
    assert selected(repo)["base/web:null.w"] == "changed: base/web/locals.pkr.hcl"


def test_a_renamed_file_is_a_deletion_and_an_addition(repo: Path) -> None:
    git(repo, "mv", "base/web/nginx/nginx.pkr.hcl", "solo/nginx.pkr.hcl")
    (repo / "solo/solo.pkr.hcl").unlink()  # one build per directory: keep solo valid
    commit_all(repo)
    assert selected(repo) == {
        "solo:null.n": "changed: solo/nginx.pkr.hcl, solo/solo.pkr.hcl",
    }


def test_a_changed_var_file_changes_every_template(repo: Path) -> None:
    append(repo / "common.pkrvars.json", "\n")
    chosen = selected(repo, "--var-file", str(repo / "common.pkrvars.json"))
    assert set(chosen.values()) == {"changed: common.pkrvars.json"}
    assert len(chosen) == 5
    # Unchanged, it changes nothing.
    git(repo, "checkout", "common.pkrvars.json")
    assert selected(repo, "--var-file", str(repo / "common.pkrvars.json")) == {}


def test_the_merge_base_not_the_tip_of_ref(repo: Path) -> None:
    """Files changed only on REF's side since branching are not changes of this branch."""
    git(repo, "checkout", "-q", "main")
    append(repo / "solo/solo.pkr.hcl")
    commit_all(repo, "main moves on")
    git(repo, "checkout", "-q", "feat")
    append(repo / "legacy/app.json", "\n")
    commit_all(repo, "feat")
    assert selected(repo) == {"legacy/app.json:app": "changed: legacy/app.json"}
    # A commit or tag works as REF too.
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert selected(repo, ref=first) == {"legacy/app.json:app": "changed: legacy/app.json"}


def test_root_in_a_subdirectory_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "common/vars.hcl": 'variable "v" {\n  default = "1"\n}\n',
            "images/a/a.pkr.hcl": hcl("a"),
            "images/a/b/b.pkr.hcl": hcl("b"),
            "images/c/c.pkr.hcl": hcl("c"),
            "elsewhere/x.pkr.hcl": hcl("x"),
        },
        {"images/c/vars.pkr.hcl": "../../common/vars.hcl"},
    )
    append(repo / "elsewhere/x.pkr.hcl")
    monkeypatch.chdir(tmp_path)
    assert selected(Path("repo/images")) == {}
    append(repo / "common/vars.hcl")
    append(repo / "images/a/a.pkr.hcl")
    assert selected(Path("repo/images")) == {
        "a:null.a": "changed: a/a.pkr.hcl",
        "a/b:null.b": "below changed a",
        "c:null.c": "changed: ../common/vars.hcl",
    }
    monkeypatch.chdir(repo / "images" / "a")
    assert selected(Path()) == {".:null.a": "changed: a.pkr.hcl", "b:null.b": "below changed ."}


# --- --changed-since: what is planned ------------------------------------------------------------


def jobs_of(root: Path, *options: str) -> dict[str, list[str]]:
    code, out, err = invoke("plan", str(root), "--format", "json", *options)
    assert code == 0, err
    return {job["id"]: job["after"] for job in json.loads(out)["jobs"]}


def test_children_of_unselected_parents_do_not_wait_for_them(repo: Path) -> None:
    append(repo / "base/web/nginx/nginx.pkr.hcl")
    append(repo / "solo/solo.pkr.hcl")
    assert jobs_of(repo, "--changed-since", "main") == {
        "base/web/nginx:null.n": [],
        "solo:null.s": [],
    }
    append(repo / "base/web/web.pkr.hcl")
    assert jobs_of(repo, "--changed-since", "main") == {
        "base/web:null.w": [],
        "base/web/nginx:null.n": ["base/web:null.w"],
        "solo:null.s": [],
    }


def test_descendants_follow_the_image_hierarchy_even_when_flat_or_excluded(repo: Path) -> None:
    append(repo / "base/base.pkr.hcl")
    below = {
        "base/web:null.w": "below changed base",
        "base/web/nginx:null.n": "below changed base",
    }
    assert selected(repo, "--flat") == {"base:null.b": "changed: base/base.pkr.hcl", **below}
    assert selected(repo, "--except", "base:*") == below
    assert jobs_of(repo, "--changed-since", "main", "--except", "base:*") == {
        "base/web:null.w": [],
        "base/web/nginx:null.n": ["base/web:null.w"],
    }


def test_the_table_says_why_each_template_is_planned(repo: Path) -> None:
    append(repo / "base/web/web.pkr.hcl")
    code, out, _ = invoke("plan", str(repo), "--changed-since", "main")
    assert code == 0
    assert out == (
        "base/web  (1 job)  changed: base/web/web.pkr.hcl\n"
        "  base/web:null.w\n"
        "base/web/nginx  (1 job, after base/web (nested directory))  below changed base/web\n"
        "  base/web/nginx:null.n\n"
        "2 jobs in 2 template(s)\n"
        "limits: jobs 100%, retries 0, halt never, grace 900s\n"
    )


def test_without_the_options_the_json_has_no_new_keys(repo: Path) -> None:
    code, out, _ = invoke("plan", str(repo), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"root", "jobs", "templates"}
    assert all("selected_because" not in job for job in document["jobs"])


@pytest.mark.parametrize("command", ["plan", "render", "check", "exec"])
def test_every_planning_command_takes_changed_since(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "--changed-since" in out
    assert ("--skip-unchanged" in out) == (command in ("plan", "exec"))


def test_render_with_changed_since_repeats_it_in_the_header(repo: Path) -> None:
    append(repo / "solo/solo.pkr.hcl")
    code, out, err = invoke("render", str(repo), "--changed-since", "main")
    assert code == 0, err
    assert "--changed-since main" in out
    assert "solo:null.s" in out
    assert "base:null.b" not in out


# --- --changed-since: errors, one line each, exit 2 -----------------------------------------------


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["pargen", *args])
    with pytest.raises(SystemExit) as caught:
        cli_module.main()
    out, err = capsys.readouterr()
    assert out == ""
    code = caught.value.code
    assert isinstance(code, int)
    return code, err


def test_an_unknown_ref_is_one_line_exit_2(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(monkeypatch, capsys, "exec", str(repo), "--changed-since", "nope")
    assert (code, err) == (
        2,
        f"pargen: error: --changed-since 'nope': no such commit in {repo}; check the name, "
        "or fetch it first: git fetch origin +refs/heads/nope:refs/heads/nope\n",
    )


def test_a_ref_that_looks_like_an_option_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(monkeypatch, capsys, "plan", str(repo), "--changed-since=--all")
    assert (code, err) == (
        2,
        "pargen: error: --changed-since '--all' is not a git revision; "
        "give a branch, tag or commit\n",
    )


def test_outside_a_git_repository_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, {"a/a.pkr.hcl": hcl("a")})
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    code, err = run_main(monkeypatch, capsys, "plan", str(tmp_path), "--changed-since", "main")
    assert (code, err) == (
        2,
        f"pargen: error: --changed-since 'main': {tmp_path} is not in a git repository; "
        "run pargen in a git checkout or drop --changed-since\n",
    )


def test_without_git_is_one_line_exit_2(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, err = run_main(monkeypatch, capsys, "plan", str(repo), "--changed-since", "main")
    assert (code, err) == (2, "pargen: error: git not found on PATH: install the 'git' package\n")


def test_a_repository_without_commits_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, {"a/a.pkr.hcl": hcl("a")})
    git(tmp_path, "init", "-q")
    code, err = run_main(monkeypatch, capsys, "plan", str(tmp_path), "--changed-since", "HEAD")
    assert (code, err) == (
        2,
        f"pargen: error: --changed-since 'HEAD': {tmp_path} has no commit yet; commit first\n",
    )


def test_unrelated_history_is_one_line_exit_2(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    commit_all(repo, "unrelated")
    code, err = run_main(monkeypatch, capsys, "plan", str(repo), "--changed-since", "main")
    assert (code, err) == (
        2,
        "pargen: error: --changed-since 'main': it shares no history with HEAD; "
        "pick another revision\n",
    )


# --- --skip-unchanged: input hashes ------------------------------------------------------------


def hashes(root: Path, env: Mapping[str, str] | None = None, **options: object) -> dict[str, str]:
    plan = make_plan(str(root), PlanOptions(**options), env or {}, hash_inputs=True)  # type: ignore[arg-type]
    assert plan.inputs is not None
    return dict(plan.inputs.hashes)


def changed_ids(before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    assert set(before) == set(after)
    return {job for job in before if before[job] != after[job]}


def test_input_hashes_follow_content_not_mtimes(repo: Path) -> None:
    before = hashes(repo)
    for path in repo.rglob("*"):
        os.utime(path, follow_symlinks=False)
    assert hashes(repo) == before
    append(repo / "base/web/web.pkr.hcl")
    assert changed_ids(before, hashes(repo)) == {"base/web:null.w", "base/web/nginx:null.n"}


def test_input_hashes_cover_symlink_targets_auto_var_files_and_var_files(repo: Path) -> None:
    before = hashes(repo)
    append(repo / "shared/variables.hcl")
    linked = hashes(repo)
    assert changed_ids(before, linked) == {
        "base:null.b",
        "base/web:null.w",
        "base/web/nginx:null.n",
        "solo:null.s",
    }
    append(repo / "base/web/nginx/regions.auto.pkrvars.hcl")
    assert changed_ids(linked, hashes(repo)) == {"base/web/nginx:null.n"}
    var_file = str(repo / "common.pkrvars.json")
    with_file = hashes(repo, var_files=(var_file,))
    append(repo / "common.pkrvars.json", "\n")
    assert changed_ids(with_file, hashes(repo, var_files=(var_file,))) == set(with_file)


def test_input_hashes_cover_the_variables_each_template_takes(repo: Path) -> None:
    before = hashes(repo)
    assert hashes(repo, env={"PKR_VAR_undeclared": "1"}) == before
    # (A --var no template declares is refused: tests/plan/test_var_check.py.)
    assert changed_ids(before, hashes(repo, env={"PKR_VAR_region": "ap"})) == {
        "base/web/nginx:null.n"
    }
    # A legacy template takes every --var (Packer makes each one a user variable).
    assert changed_ids(before, hashes(repo, vars=(("owner", "x"),))) == {
        "base:null.b",
        "base/web:null.w",
        "base/web/nginx:null.n",
        "solo:null.s",
        "legacy/app.json:app",
    }


def test_a_job_is_recorded_only_when_its_parents_are_built_from_their_current_inputs(
    tmp_path: Path,
) -> None:
    inputs = InputHashes(
        hashes={"p": "p2", "c": "c2", "g": "g2"}, parents={"p": (), "c": ("p",), "g": ("c",)}
    )
    record_built(tmp_path, inputs, {"p": 1_000_000}, [])
    # p was built from p2 earlier, c now: recorded. g did not run: nothing to record.
    record_built(tmp_path, inputs, {"c": 2_000_000}, [])
    assert {k: v.inputs for k, v in read_built(tmp_path).items()} == {"p": "p2", "c": "c2"}
    record_built(tmp_path, inputs, {}, ["c"])
    assert set(read_built(tmp_path)) == {"p"}
    # A parent with other inputs than recorded (built elsewhere, or left out): not recorded.
    stale = InputHashes(hashes={"p": "p3", "c": "c3"}, parents={"p": (), "c": ("p",)})
    record_built(tmp_path, stale, {"c": 3_000_000}, [])
    assert {k: v.inputs for k, v in read_built(tmp_path).items()} == {"p": "p2"}
    assert read_built(tmp_path)["p"].at == "1970-01-01T00:00:01Z"


def test_a_bad_record_counts_as_nothing_built(tmp_path: Path) -> None:
    (tmp_path / BUILT_FILE).parent.mkdir(parents=True)
    (tmp_path / BUILT_FILE).write_text("{not json", encoding="utf-8")
    assert read_built(tmp_path) == {}


# --- --skip-unchanged: real runs ----------------------------------------------------------------

BUILD_TREE = {
    "base/base.pkr.hcl": hcl("b1", "b2", marks=True),
    "base/child/child.pkr.hcl": hcl("c", marks=True),
    "sib/sib.pkr.hcl": hcl("s", marks=True),
}


@pytest.fixture
def exec_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PARALLEL", "PARGEN_"))
    }
    env["CHECKPOINT_DISABLE"] = "1"
    env["PARGEN_STATE_DIR"] = str(tmp_path / "state")
    env["MARKS"] = str(tmp_path / "marks")
    return env


def pargen_exec(
    root: Path, env: Mapping[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pargen",
            "exec",
            str(root),
            "--quiet",
            "--skip-unchanged",
            *options,
        ],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def built_since(env: Mapping[str, str], start: int) -> list[str]:
    marks = Path(env["MARKS"])
    lines = marks.read_text(encoding="utf-8").split() if marks.exists() else []
    return sorted(lines[start:])


def marks_count(env: Mapping[str, str]) -> int:
    return len(built_since(env, 0))


def test_skip_unchanged_builds_only_what_changed_since_its_last_build(
    tmp_path: Path, exec_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", BUILD_TREE)
    first = pargen_exec(root, exec_env)
    assert first.returncode == 0, first.stderr
    assert built_since(exec_env, 0) == ["b1", "b2", "c", "s"]
    assert set(read_built(root)) == {
        "base:null.b1",
        "base:null.b2",
        "base/child:null.c",
        "sib:null.s",
    }

    second = pargen_exec(root, exec_env)
    assert second.returncode == 0, second.stderr
    assert second.stderr == (
        f"pargen: nothing to build under {root}: "
        "all 4 selected job(s) unchanged since their last build here\n"
    )
    assert marks_count(exec_env) == 4
    runs = [p for p in (root / ".pargen/runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1, "nothing to build, yet a run directory"

    # Touched: the same content, nothing to build.
    os.utime(root / "base/base.pkr.hcl")
    assert pargen_exec(root, exec_env).returncode == 0
    assert marks_count(exec_env) == 4

    append(root / "base/base.pkr.hcl")
    code, out, _ = invoke("plan", str(root), "--skip-unchanged")
    assert code == 0
    at = read_built(root)["sib:null.s"].at
    assert out.splitlines()[-2:] == [
        "not planned, unchanged (1):",
        f"  sib:null.s  unchanged since {at}",
    ]
    third = pargen_exec(root, exec_env)
    assert third.returncode == 0, third.stderr
    assert built_since(exec_env, 4) == ["b1", "b2", "c"]
    assert pargen_exec(root, exec_env).returncode == 0
    assert marks_count(exec_env) == 7


def test_a_child_rebuilt_alone_does_not_wait_for_its_skipped_parent(
    tmp_path: Path, exec_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", BUILD_TREE)
    assert pargen_exec(root, exec_env).returncode == 0
    append(root / "base/child/child.pkr.hcl")
    code, out, _ = invoke("plan", str(root), "--skip-unchanged", "--format", "json")
    assert code == 0
    document = json.loads(out)
    (job,) = document["jobs"]
    assert (job["id"], job["after"]) == ("base/child:null.c", [])
    assert job["selected_because"].startswith("inputs changed since ")
    assert [u["id"] for u in document["unchanged"]] == [
        "base:null.b1",
        "base:null.b2",
        "sib:null.s",
    ]
    assert pargen_exec(root, exec_env).returncode == 0
    assert built_since(exec_env, 4) == ["c"]


def test_a_failed_job_is_not_recorded(tmp_path: Path, exec_env: dict[str, str]) -> None:
    tree = {**BUILD_TREE, "base/base.pkr.hcl": hcl("b1", "fail", marks=True)}
    root = write_tree(tmp_path / "tree", tree)
    assert pargen_exec(root, exec_env).returncode == 1
    assert built_since(exec_env, 0) == ["b1", "fail", "s"]  # c was skipped: its parent failed
    assert set(read_built(root)) == {"base:null.b1", "sib:null.s"}
    code, out, _ = invoke("plan", str(root), "--skip-unchanged", "--format", "json")
    assert code == 0
    planned = {job["id"]: job["selected_because"] for job in json.loads(out)["jobs"]}
    assert planned == {
        "base:null.fail": "never built here",
        "base/child:null.c": "never built here",
    }


def test_changed_since_and_skip_unchanged_together(repo: Path) -> None:
    append(repo / "base/web/web.pkr.hcl")
    code, out, _ = invoke(
        "plan", str(repo), "--format", "json", "--changed-since", "main", "--skip-unchanged"
    )
    assert code == 0
    assert {job["id"]: job["selected_because"] for job in json.loads(out)["jobs"]} == {
        "base/web:null.w": "changed: base/web/web.pkr.hcl; never built here",
        "base/web/nginx:null.n": "below changed base/web; never built here",
    }
