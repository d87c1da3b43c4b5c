"""A run of the committed script, as a team runs it in CI or on a build host, is read,
reported and rerun exactly as a ``pargen exec`` run: status, failed, report, --retry-failed,
--resume, history and --skip-unchanged. Real GNU parallel and Packer ``null`` builds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from pargen.plan.ids import joblog_label
from tests.helpers import git
from tests.trees import (
    NEEDS_ENGINES,
    read_joblog,
    read_marks,
    render,
    step,
    wait_for,
    write_tree,
)

pytestmark = NEEDS_ENGINES

TREE = {
    ".": {"base": step("base")},
    "web": {"web": "test -e ../fixed || exit 1; " + step("web")},
    "web/nginx": {"nginx": step("nginx")},
    "db": {"db": step("db")},
}
BASE, WEB, NGINX, DB = ".:null.base", "web:null.web", "web/nginx:null.nginx", "db:null.db"


def run(command: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def pargen(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The pargen command, as a CI step runs it."""
    return run([sys.executable, "-m", "pargen", *args], env, cwd)


def run_committed(script: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The script run by hand, from another directory, with no option at all."""
    return run([str(script)], env, Path("/"))


def latest(root: Path) -> Path:
    return (root / ".pargen" / "runs" / "latest").resolve()


def committed_tree(tmp_path: Path, tree: Mapping[str, Mapping[str, str]] = TREE) -> Path:
    root = write_tree(tmp_path / "images", tree)
    render(root, root / "pargen.sh", "--jobs", "2")
    return root


def test_a_script_run_is_read_reported_and_retried_like_an_exec_run(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = committed_tree(tmp_path)
    ran = run_committed(root / "pargen.sh", script_env)
    assert ran.returncode == 1, ran.stderr
    run = latest(root)

    # Its plan, in the form pargen exec writes: plan --format json's, ROOT absolute.
    planned = json.loads(pargen(script_env, root, "plan", "--format", "json", ".").stdout)
    record = json.loads((run / "plan.json").read_text(encoding="utf-8"))
    assert record["root"] == str(root)
    assert record["jobs"] == planned["jobs"]
    assert (record["var_files"], record["planned_with"]) == ([], ["--jobs", "2"])
    assert (run / "run.sh").read_bytes() == (root / "pargen.sh").read_bytes()

    status = pargen(script_env, tmp_path, "status", "images")
    assert status.returncode == 1, status.stderr  # the run's own exit code
    assert re.fullmatch(
        rf"run {run.name}: failed after \d+\.\ds; 2 succeeded, 1 failed, 1 skipped",
        status.stdout.splitlines()[0],
    )
    failed = pargen(script_env, root, "failed", "--format", "json")
    assert (failed.returncode, failed.stderr) == (0, "")
    document = json.loads(failed.stdout)
    assert [(j["id"], j["state"]) for j in document["jobs"]] == [
        (WEB, "failed"),
        (NGINX, "skipped"),
    ]
    assert document["rerun"] == f"pargen exec --only {WEB} --only {NGINX}"

    summary = tmp_path / "summary.md"
    reported = pargen(script_env | {"GITHUB_STEP_SUMMARY": str(summary)}, root, "report")
    assert reported.returncode == 0, reported.stderr
    assert reported.stderr.splitlines()[-1] == (
        f"pargen: wrote {run}/report.json, {run}/junit.xml and {run}/timeline.html and "
        "appended the step summary to GITHUB_STEP_SUMMARY"
    )
    assert f"FAILED {WEB}: failed, exit 1" in reported.stderr
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert (report["outcome"], report["root"]) == ("failed", str(root))
    cases = {case.get("name"): case for case in ET.parse(run / "junit.xml").iter("testcase")}
    assert cases["null.web"].find("failure") is not None
    assert f"| {WEB} | failed | 1 |" in summary.read_text(encoding="utf-8")

    (root / "fixed").touch()
    retried = pargen(script_env, root, "exec", "--retry-failed", "--from-run", str(run), "-q")
    assert retried.returncode == 0, retried.stderr
    again = json.loads((latest(root) / "report.json").read_text(encoding="utf-8"))
    assert {j["id"]: j["state"] for j in again["jobs"]} == {WEB: "succeeded", NGINX: "succeeded"}


def test_the_joblog_names_each_job_and_pargen_dir_is_ignored_by_git(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = committed_tree(tmp_path)
    (root / "fixed").touch()  # every job runs
    git(root, "init", "-q")
    run_committed(root / "pargen.sh", script_env)

    commands = {
        line.command for line in read_joblog(latest(root)) if " __job 0 " not in line.command
    }
    numbers = {job["id"]: n for n, job in enumerate(plan_jobs(latest(root)), start=1)}
    for job_id, number in numbers.items():
        started = [c for c in commands if re.search(rf" __job {number} \d+ ", c)]
        assert started, (job_id, commands)
        # GNU parallel may quote the label, which holds nothing a shell would expand.
        assert {c.rsplit(" ", 1)[1].strip("'") for c in started} == {joblog_label(job_id)}
    assert (root / ".pargen" / ".gitignore").read_text(encoding="utf-8") == (
        "# Written by pargen: runs, caches and build records of this machine; not for git.\n*\n"
    )
    untracked = git(root, "status", "--porcelain", "--untracked-files=all")
    assert ".pargen" not in untracked
    assert "pargen.sh" in untracked  # git does see the tree itself


def plan_jobs(run: Path) -> list[dict[str, object]]:
    jobs = json.loads((run / "plan.json").read_text(encoding="utf-8"))["jobs"]
    assert isinstance(jobs, list)
    return jobs


def test_report_records_history_and_input_hashes_once(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = committed_tree(tmp_path, {".": {"base": step("base")}, "db": {"db": step("db")}})
    assert run_committed(root / "pargen.sh", script_env).returncode == 0
    assert pargen(script_env, root, "report").returncode == 0
    history = json.loads((root / ".pargen" / "history.json").read_text(encoding="utf-8"))
    assert set(history) == {BASE, DB}
    skipped = pargen(script_env, root, "plan", "--skip-unchanged", "--format", "json")
    assert [u["id"] for u in json.loads(skipped.stdout)["unchanged"]] == [BASE, DB]
    # A second report counts nothing twice.
    assert pargen(script_env, root, "report").returncode == 0
    assert json.loads((root / ".pargen" / "history.json").read_text()) == history

    # Built again, then a template edited before the report: what the run built is no longer
    # what the tree holds, so nothing is recorded for it.
    (root / ".pargen" / "built.json").unlink()
    assert run_committed(root / "pargen.sh", script_env).returncode == 0
    with (root / "db" / "build.pkr.hcl").open("a", encoding="utf-8") as handle:
        handle.write("# edited after the run\n")
    reported = pargen(script_env, root, "report")
    assert reported.returncode == 0
    assert reported.stderr.splitlines()[-2] == (
        "pargen: not recording input hashes for --skip-unchanged: db/build.pkr.hcl changed "
        "since the run started; the next --skip-unchanged builds these jobs again"
    )
    assert not (root / ".pargen" / "built.json").exists()


def test_input_hashes_are_not_recorded_when_pkr_var_differs(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = committed_tree(tmp_path, {".": {"base": step("base")}})
    assert run_committed(root / "pargen.sh", script_env | {"PKR_VAR_x": "1"}).returncode == 0
    reported = pargen(script_env, root, "report")
    assert "the PKR_VAR_* environment differs from the run's" in reported.stderr
    assert not (root / ".pargen" / "built.json").exists()
    assert pargen(script_env | {"PKR_VAR_x": "1"}, root, "report").returncode == 0
    assert not (root / ".pargen" / "built.json").exists()  # recorded once: by the first


def test_a_running_script_run_says_so_and_an_interrupted_one_resumes(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    gate = tmp_path / "gate"
    tree = {
        ".": {"first": step("first"), "hang": f"until test -e {gate}; do sleep 0.05; done"},
        "child": {"child": step("child")},
    }
    root = committed_tree(tmp_path, tree)
    script = subprocess.Popen(
        [str(root / "pargen.sh")],
        env=script_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "first" in read_marks(Path(script_env["PARGEN_TEST_MARKS"])), "first")
        status = pargen(script_env, root, "status")
        assert status.returncode == 75
        assert status.stderr == f"pargen: run {latest(root).name} is still running (exit 75)\n"
        reported = pargen(script_env, root, "report")
        assert reported.returncode == 2
        assert reported.stderr.startswith(
            f"pargen: error: run {latest(root).name} is still running ("
        )
        script.send_signal(signal.SIGTERM)
        assert script.wait(timeout=60) == 130
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
    run = latest(root)
    assert pargen(script_env, root, "status").returncode == 130
    gate.touch()
    resumed = pargen(script_env, root, "exec", "--resume", "--from-run", str(run), "-q")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((latest(root) / "report.json").read_text(encoding="utf-8"))
    assert sorted(j["id"] for j in report["jobs"]) == [".:null.hang", "child:null.child"]


def test_status_and_failed_take_the_tree_as_other_commands_do(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = committed_tree(tmp_path, {".": {"base": step("base")}})
    (tmp_path / "docs").mkdir()
    missing = pargen(script_env, tmp_path, "status", "--root", "images")
    assert (missing.returncode, missing.stderr) == (
        2,
        "pargen: error: no runs under images: images/.pargen/runs/latest does not exist; run "
        "pargen exec or the rendered script there first, or name the tree that has runs (RUN, "
        "or --root TREE)\n",
    )
    assert run_committed(root / "pargen.sh", script_env).returncode == 0
    for args in (["images"], ["--root", "images"], [latest(root).name, "--root", "images"]):
        shown = pargen(script_env, tmp_path, "status", *args)
        assert shown.returncode == 0, (args, shown.stderr)
        listed = pargen(script_env, tmp_path, "failed", *args)
        assert (listed.returncode, listed.stdout) == (0, ""), args
    elsewhere = pargen(script_env, tmp_path, "failed", "docs")
    assert (elsewhere.returncode, elsewhere.stderr) == (
        2,
        "pargen: error: docs is not a run: no plan.json in it, and no .pargen/runs under it, "
        "and no run docs under .pargen/runs; give a run directory, a run id (with --root TREE "
        "for another tree) or a tree that has runs\n",
    )


def test_failed_exits_0_when_jobs_failed(tmp_path: Path, script_env: dict[str, str]) -> None:
    root = committed_tree(tmp_path, {".": {"bad": step("bad", fail=True)}})
    assert run_committed(root / "pargen.sh", script_env).returncode == 1
    for fmt in ("table", "json", "only"):
        listed = pargen(script_env, root, "failed", "--format", fmt)
        assert (listed.returncode, listed.stderr) == (0, ""), fmt
    assert pargen(script_env, root, "failed", "--format", "only").stdout == (
        "pargen exec --only .:null.bad\n"
    )


def test_a_job_waiting_in_parallel_is_named_in_the_joblog_only_by_its_label(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    name = "n $(touch pwned) `touch pwned` 'q' \"d\"; * ? [a] ,c"
    root = committed_tree(tmp_path, {"$(touch pwned) it's": {name: step("h")}})
    assert run_committed(root / "pargen.sh", script_env).returncode == 0
    [line] = [line for line in read_joblog(latest(root)) if " __job 1 " in line.command]
    label = joblog_label(f"$(touch pwned) it's:null.{name}")
    assert re.fullmatch(r"[A-Za-z0-9._:/@+%-]+", label)
    assert line.command == f"\"$PARGEN_SELF\" __job 1 1 '{label}'"
    assert not list(tmp_path.rglob("pwned")) and not Path("/pwned").exists()
