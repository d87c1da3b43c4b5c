"""Tests for pargen.run.report, report_files and report_text: a run, fully accounted for, and
its reports.

Unit tests write run directories by hand (plan.json, events.log, results.tsv, joblog) for the
cases a real run rarely shows on demand: kill -9 of the script, a truncated events line,
retries, orphaned builds. The end-to-end test at the end runs a real tree with pargen exec.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from pargen.cli import cli, main
from pargen.errors import PargenError
from pargen.plan.jobs import Job
from pargen.render import log_names
from pargen.run.finish import finish_run
from pargen.run.joblog import HEADER
from pargen.run.report import RunReport, load_report, parse_events, read_run
from pargen.run.report_files import (
    append_step_summary,
    junit_xml,
    read_log_tails,
    report_json,
    step_summary,
    write_report_files,
)
from pargen.run.report_text import jobs_table

BASE, CHILD, GRAND, SIB = ".:null.a", "child:null.b", "child/grand:null.c", "sib:null.d"
TREE: dict[str, list[str]] = {BASE: [], CHILD: [BASE], GRAND: [CHILD], SIB: [BASE]}
T0 = 1_795_464_142_000_000  # events' microseconds


def plan_document(tree: Mapping[str, Sequence[str]]) -> dict[str, object]:
    jobs = []
    for job_id, after in tree.items():
        template, _, name = job_id.partition(":")
        jobs.append(
            {
                "id": job_id,
                "template": template,
                "name": name,
                "only": name,
                "after": list(after),
                "source_type": "null",
                "workdir": template,
                "target": ".",
            }
        )
    return {"root": ".", "jobs": jobs}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def make_run(
    path: Path,
    tree: Mapping[str, Sequence[str]] = TREE,
    *,
    events: Sequence[str] = (),
    results: Sequence[str] | None = None,
    joblog: Sequence[str] | None = None,
    pid: int | None = None,
    logs: Mapping[str, str] | None = None,
) -> Path:
    """A run directory as the script leaves it; events are "<+ms> <kind> <n> <fields>"."""
    (path / "logs").mkdir(parents=True)
    (path / "state").mkdir()
    (path / "plan.json").write_text(json.dumps(plan_document(tree)), encoding="utf-8")
    (path / "state" / "pid").write_text(f"{pid if pid is not None else dead_pid()}\n")
    lines = []
    for event in events:
        offset, rest = event.split(" ", 1)
        lines.append(f"{T0 + int(offset) * 1000} {rest}\n")
    (path / "events.log").write_text("".join(lines), encoding="utf-8")
    if results is not None:
        header = "number\tstate\texit\tattempts\tblocked_by\tstart_us\tend_us"
        rows = [header, *results]
        (path / "results.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    if joblog is not None:
        (path / "joblog").write_text("\n".join([HEADER, *joblog]) + "\n", encoding="utf-8")
    names = log_names_of(tree)
    for job_id, text in (logs or {}).items():
        (path / "logs" / names.get(job_id, job_id)).write_text(text, encoding="utf-8")
    return path


def log_names_of(tree: Mapping[str, Sequence[str]]) -> dict[str, str]:
    jobs = [
        Job(i, i.partition(":")[0], i.partition(":")[2], "", (), "null", ".", ".", False, ())
        for i in tree
    ]
    return log_names(jobs)


def jl(seq: int, number: int, exitval: int = 0, signal: int = 0, runtime: float = 1.5) -> str:
    return f"{seq}\t:\t{T0 / 1e6:.3f}\t{runtime:10.3f}\t0\t0\t{exitval}\t{signal}\t" + (
        f'"$PARGEN_SELF" __job {number} 1'
    )


def states(report: RunReport) -> dict[str, str]:
    return {job.id: job.state for job in report.jobs}


# A finished run: base succeeded, child failed, grandchild skipped because of it, sib succeeded.
FINISHED_EVENTS = [
    "0 start 1 1 1 100",
    "200 end 1 0 1 done",
    "201 succeeded 1 0",
    "210 start 2 1 1 200",
    "215 start 4 1 2 300",
    "700 end 4 0 1 done",
    "701 succeeded 4 0",
    "1210 end 2 3 1 done",
    "1211 failed 2 3",
    "1212 skipped 3 ",
]
FINISHED_RESULTS = [
    f"1\tsucceeded\t0\t1\t\t{T0 + 1000}\t{T0 + 201_000}",
    f"2\tfailed\t3\t1\t\t{T0 + 211_000}\t{T0 + 1_211_000}",
    f"3\tskipped\t\t0\t2\t\t{T0 + 1_212_000}",
    f"4\tsucceeded\t0\t1\t\t{T0 + 216_000}\t{T0 + 701_000}",
]
FINISHED_JOBLOG = [jl(1, 1), jl(2, 4), jl(3, 0), jl(4, 2, exitval=3), jl(5, 0)]


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    log = "".join(f"line {i}\n" for i in range(1, 101))
    return make_run(
        tmp_path / "run1",
        events=FINISHED_EVENTS,
        results=FINISHED_RESULTS,
        joblog=FINISHED_JOBLOG,
        logs={BASE: "ok\n", CHILD: log, SIB: "ok\n"},
    )


def test_finished_run(finished: Path) -> None:
    report = load_report(finished)
    assert states(report) == {
        BASE: "succeeded",
        CHILD: "failed",
        GRAND: "skipped",
        SIB: "succeeded",
    }
    assert (report.live, report.outcome, report.exit_code) == (False, "failed", 1)
    child = report.by_id()[CHILD]
    assert (child.exit_code, child.signal, child.attempts, child.host) == (3, 0, 1, ":")
    assert child.start == "2026-11-23T20:02:22.210Z"
    assert child.duration == 1.0
    assert child.log == "logs/child_null.b-" + log_names_of(TREE)[CHILD].split("-")[-1]
    assert child.reason == "exit 3"
    grand = report.by_id()[GRAND]
    assert (grand.blocked_by, grand.start, grand.duration, grand.log) == (CHILD, None, None, None)
    assert grand.reason == f"waits for {CHILD}, which failed"
    assert report.wall_seconds == 1.21
    assert [j.id for j in report.slowest] == [CHILD, SIB, BASE]
    assert report.totals["succeeded"] == 2
    assert sum(report.totals.values()) == 4


def test_report_json_keys(finished: Path) -> None:
    document = json.loads(report_json(load_report(finished)))
    assert list(document) == [
        "format",
        "run_id",
        "root",
        "outcome",
        "live",
        "started",
        "ended",
        "wall_seconds",
        "totals",
        "slowest",
        "jobs",
    ]
    assert document["totals"] == {
        "jobs": 4,
        "succeeded": 2,
        "failed": 1,
        "skipped": 1,
        "interrupted": 0,
        "not-run": 0,
        "lost": 0,
        "running": 0,
        "waiting": 0,
    }
    assert list(document["jobs"][1]) == [
        "number",
        "id",
        "template",
        "name",
        "state",
        "exit_code",
        "signal",
        "start",
        "end",
        "duration",
        "host",
        "log",
        "attempts",
        "blocked_by",
        "reason",
    ]
    assert document["slowest"][0] == {"id": CHILD, "duration": 1.0}


def test_junit(finished: Path) -> None:
    report = load_report(finished)
    suites = ET.fromstring(junit_xml(report, read_log_tails(report)))
    suite = suites.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
    }
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["null.b"].get("classname") == "child"
    assert cases["null.b"].get("time") == "1.000"
    failure = cases["null.b"].find("failure")
    assert failure is not None
    assert failure.get("message") == "failed, exit 3"
    text = failure.text or ""
    assert "line 71\n" in text and "line 100\n" in text and "line 70\n" not in text
    skipped = cases["null.c"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == f"skipped: waits for {CHILD}, which failed"
    assert list(cases["null.a"]) == []


def test_step_summary_shows_failures_first(finished: Path, tmp_path: Path) -> None:
    report = load_report(finished)
    summary_file = tmp_path / "summary.md"
    summary_file.write_text("earlier step\n", encoding="utf-8")
    assert append_step_summary(report, {"GITHUB_STEP_SUMMARY": str(summary_file)})
    assert not append_step_summary(report, {})
    text = summary_file.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### pargen run run1: failed\n")
    table = text.index("| child:null.b | failed | 3 | 1.0s | exit 3 |")
    assert table < text.index(f"| child/grand:null.c | skipped |  |  | waits for {CHILD}")
    assert table < text.index("**4 jobs** in 1.2s: 2 succeeded, 1 failed, 1 skipped")
    assert "```text\nline 71\n" in text


def test_write_report_files(finished: Path) -> None:
    write_report_files(load_report(finished))
    assert json.loads((finished / "report.json").read_text())["outcome"] == "failed"
    ET.parse(finished / "junit.xml")
    assert sorted(p.name for p in finished.iterdir() if p.name.startswith(".")) == []


def test_every_planned_job_is_accounted_for_without_a_result_row(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", events=FINISHED_EVENTS, results=FINISHED_RESULTS[:2])
    report = load_report(run)
    assert states(report) == {
        BASE: "succeeded",
        CHILD: "failed",
        GRAND: "skipped",
        SIB: "succeeded",
    }
    assert report.by_id()[GRAND].blocked_by == CHILD


def test_init_failure(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        {CHILD: []},
        events=["0 failed 1 1"],
        results=["1\tfailed\t1\t0\tinit\t\t"],
    )
    (run / "logs" / "init-child.log").write_text("no plugin\n", encoding="utf-8")
    [job] = load_report(run).jobs
    assert (job.state, job.exit_code, job.blocked_by) == ("failed", 1, None)
    assert (job.reason, job.log) == ("packer init failed in child", "logs/init-child.log")


def test_script_killed_9(tmp_path: Path) -> None:
    """No results.tsv and no script: final states from events, the rest lost or not run."""
    run = make_run(
        tmp_path / "r",
        {**TREE, "other:null.e": [], "late:null.f": []},
        events=[
            "0 start 1 1 1 100",
            "200 end 1 0 1 done",
            "201 succeeded 1 0",
            "210 start 2 1 1 999999",  # its process group is gone: lost
            "215 start 4 1 2 300",
            "300 end 4 1 1 done",  # ended, no result written: failed
            "300 start 5 1 2 301",
            "400 end 5 0 1 done",  # ended, no result written: succeeded
            "400 fail",  # not an event
            "500 skipped 3",  # cut short below: not skipped yet
        ],
        joblog=[jl(1, 1), jl(2, 4, exitval=1), jl(3, 5)],
    )
    with (run / "events.log").open("ab") as handle:
        handle.seek(0, os.SEEK_END)
        handle.truncate(handle.tell() - 1)  # the last line loses its newline
    report = load_report(run)
    assert states(report) == {
        BASE: "succeeded",
        CHILD: "lost",
        GRAND: "not-run",
        SIB: "failed",
        "other:null.e": "succeeded",
        "late:null.f": "not-run",
    }
    assert (report.live, report.outcome, report.exit_code) == (False, "failed", 1)
    sib = report.by_id()[SIB]
    assert (sib.exit_code, sib.reason) == (1, "the script ended before recording the result")
    child = report.by_id()[CHILD]
    assert child.reason == "ended without reporting: killed, or the script died"
    assert child.duration is None


def test_kill_9_of_a_build_shows_in_the_joblog(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        {BASE: []},
        events=["0 start 1 1 1 100", "900 lost 1"],
        joblog=[jl(1, 1, exitval=0, signal=9)],
    )
    [job] = load_report(run).jobs
    assert (job.state, job.exit_code, job.signal) == ("lost", 0, 9)
    assert job.reason == "killed by signal 9 (SIGKILL)"


def test_skip_recorded_before_the_script_died_names_its_blocker(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        events=[
            "0 start 1 1 1 100",
            "10 end 1 0 1 done",
            "11 succeeded 1 0",
            "12 start 2 1 1 101",
            "20 end 2 1 1 done",
            "21 failed 2 1",
            "22 skipped 3 ",
        ],
    )
    grand = load_report(run).by_id()[GRAND]
    assert (grand.state, grand.blocked_by) == ("skipped", CHILD)


@pytest.fixture
def orphan() -> Iterator[int]:
    """A live process group, as a build left running by a dead script."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_build_still_running_after_the_script_died(tmp_path: Path, orphan: int) -> None:
    run = make_run(tmp_path / "r", {BASE: []}, events=[f"0 start 1 1 1 {orphan}"])
    report = load_report(run)
    [job] = report.jobs
    assert (job.state, report.live, report.outcome, report.exit_code) == (
        "running",
        True,
        "running",
        None,
    )
    assert job.reason == (f"the script is gone but the build still runs (process group {orphan})")
    assert job.duration is not None and job.duration > 0


def test_live_run(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        pid=os.getpid(),
        events=[
            "0 start 1 1 1 100",
            "200 end 1 0 1 done",
            "201 succeeded 1 0",
            "210 start 2 1 1 999999",
            "215 start 4 1 2 300",
            "300 end 4 1 1 done",  # a retry may follow: still running
        ],
    )
    report = load_report(run)
    assert states(report) == {
        BASE: "succeeded",
        CHILD: "running",
        GRAND: "waiting",
        SIB: "running",
    }
    assert (report.live, report.outcome, report.exit_code) == (True, "running", None)
    assert report.ended_us is not None and report.ended_us > T0


def test_results_left_by_an_earlier_run_in_the_same_directory_are_ignored(
    tmp_path: Path,
) -> None:
    run = make_run(
        tmp_path / "r",
        {BASE: []},
        results=["1\tfailed\t1\t1\t\t1\t2"],
        joblog=[jl(1, 1, exitval=1)],
    )
    os.utime(run / "results.tsv", (1, 1))
    os.utime(run / "joblog", (1, 1))
    [job] = load_report(run).jobs
    assert (job.state, job.host) == ("not-run", None)


def test_retries(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        {BASE: []},
        events=[
            "0 start 1 1 1 100",
            "1000 end 1 1 1 done",
            "1001 start 1 2 1 101",
            "3000 end 1 0 2 done",
            "3001 succeeded 1 0",
        ],
        results=[f"1\tsucceeded\t0\t2\t\t{T0}\t{T0 + 3_001_000}"],
        joblog=[jl(1, 1, runtime=2.0)],  # parallel logs only the last attempt
    )
    [job] = load_report(run).jobs
    assert (job.state, job.attempts, job.duration) == ("succeeded", 2, 3.0)


def test_interrupted_and_not_run(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        {BASE: [], SIB: []},
        events=[
            "0 start 1 1 1 100",
            "50 not-run 2 ",
            "900 end 1 143 1 stopped",
            "901 interrupted 1 143",
        ],
        results=[f"1\tinterrupted\t143\t1\t\t{T0}\t{T0 + 901_000}", "2\tnot-run\t\t0\t\t\t"],
    )
    report = load_report(run)
    assert states(report) == {BASE: "interrupted", SIB: "not-run"}
    assert (report.outcome, report.exit_code) == ("interrupted", 130)
    assert report.by_id()[SIB].reason == "never started: the run stopped first"


def test_parse_events_skips_what_is_not_an_event() -> None:
    data = b"1 start 1 1 1 5\nnoise\n2 end x\n3 succeeded 1 0\n4 end 2 0 1 do"
    assert [(e.kind, e.number) for e in parse_events(data)] == [("start", 1), ("succeeded", 1)]


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(PargenError, match=r"does not exist \(no plan\.json\)"):
        read_run(tmp_path / "missing")
    with pytest.raises(PargenError, match=r"is not a pargen run directory"):
        read_run(tmp_path)
    (tmp_path / "plan.json").write_text('{"jobs": 3}', encoding="utf-8")
    with pytest.raises(PargenError, match=r"plan.json: not a pargen plan \(KeyError"):
        read_run(tmp_path)


def test_damaged_results_are_named(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", {BASE: []}, results=["1\tdone\t0\t1\t\t\t"])
    with pytest.raises(PargenError, match=r"results.tsv:2: not a pargen results line: unknown"):
        load_report(run)


HOSTILE = "odd\t\"name\" <&> 'q' |x| `y` \x01\x1b[31m\n*?[z]"


def test_hostile_ids_in_every_report(tmp_path: Path) -> None:
    job_id = f"t:{HOSTILE}"
    run = make_run(
        tmp_path / "r",
        {job_id: []},
        events=["0 start 1 1 1 100", "10 end 1 2 1 done", "11 failed 1 2"],
        results=[f"1\tfailed\t2\t1\t\t{T0}\t{T0 + 11_000}"],
        logs={
            job_id: "\x1b[31mred\x1b[0m \x00 <tag> & ]]> \ud800\n".encode(
                "utf-8", "surrogatepass"
            ).decode("utf-8", "replace")
        },
    )
    report = load_report(run)
    assert json.loads(report_json(report))["jobs"][0]["id"] == job_id
    tails = read_log_tails(report)
    assert tails[job_id].startswith("red ")  # colours removed
    suites = ET.fromstring(junit_xml(report, tails))
    case = suites.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == HOSTILE.replace("\x01", "").replace("\x1b", "")
    failure = case.find("failure")
    assert failure is not None and "<tag> & ]]>" in (failure.text or "")
    summary = step_summary(report, tails)
    row = next(line for line in summary.splitlines() if line.startswith("| t:"))
    assert row.count(" | ") == 4  # the id's own "|" are escaped
    assert "&lt;&amp;&gt;" in row and "\\|x\\|" in row and "\\`y\\`" in row
    table = jobs_table(report.jobs, run).splitlines()
    assert len(table) == 2
    assert table[1].startswith("t:odd\\t\"name\" <&> 'q' |x| `y` \\x01\\x1b[31m\\n*?[z]  failed")


# --- Command line ------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """pargen as the console script runs it: the one-line errors and exit codes of main()."""
    monkeypatch.setattr(sys, "argv", ["pargen", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return code if isinstance(code, int) else 0, out, err


def latest(root: Path, run: Path) -> None:
    (root / ".pargen" / "runs").mkdir(parents=True, exist_ok=True)
    (root / ".pargen" / "runs" / "latest").symlink_to(run.name)


def test_status_and_failed_of_the_latest_run(tmp_path: Path) -> None:
    runs = tmp_path / ".pargen" / "runs"
    run = make_run(
        runs / "r1",
        events=FINISHED_EVENTS,
        results=FINISHED_RESULTS,
        logs={CHILD: "boom\n"},
    )
    latest(tmp_path, run)
    code, out, _ = invoke("status", "--root", str(tmp_path))
    assert code == 1  # the run's own exit code
    lines = out.splitlines()
    assert lines[0] == "run r1: failed after 1.2s; 2 succeeded, 1 failed, 1 skipped"
    assert lines[1].split() == ["JOB", "STATE", "EXIT", "TIME", "NOTE"]
    assert lines[3].split()[:5] == [CHILD, "failed", "3", "1.0s", "exit"]
    assert lines[3].endswith(f"log: {run.resolve()}/logs/{log_names_of(TREE)[CHILD]}")
    code, out, _ = invoke("failed", "--root", str(tmp_path), "--format", "only")
    assert (code, out) == (0, f"pargen exec --only {CHILD} --only {GRAND} {tmp_path}\n")
    code, out, _ = invoke("failed", str(run), "--format", "json")
    document = json.loads(out)
    assert [j["id"] for j in document["jobs"]] == [CHILD, GRAND]
    assert document["rerun"] == f"pargen exec --only {CHILD} --only {GRAND} {tmp_path}"
    code, out, _ = invoke("status", "r1", "--root", str(tmp_path), "--format", "json")
    assert json.loads(out)["run_id"] == "r1"


def test_failed_when_nothing_failed(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", {BASE: []}, results=["1\tsucceeded\t0\t1\t\t1\t2"])
    assert invoke("failed", str(run)) == (0, "", "pargen: no failed jobs in run r (succeeded)\n")
    assert invoke("failed", str(run), "--format", "only")[:2] == (0, "")
    assert json.loads(invoke("failed", str(run), "--format", "json")[1])["jobs"] == []


def test_failed_of_a_run_still_going(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        {BASE: [], SIB: []},
        pid=os.getpid(),
        events=["0 start 1 1 1 100", "5 end 1 2 1 done", "6 failed 1 2", "7 start 2 1 1 999999"],
    )
    code, out, err = invoke("failed", str(run), "--format", "only")
    assert (code, out) == (0, f"pargen exec --only {BASE}\n")
    assert err == "pargen: run r is still running: failures so far\n"


def test_run_that_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_main(monkeypatch, capsys, "status") == (
        2,
        "",
        "pargen: error: no runs under .: .pargen/runs/latest does not exist; run pargen exec "
        "or the rendered script there first, or name the tree that has runs (RUN, or --root "
        "TREE)\n",
    )
    assert run_main(monkeypatch, capsys, "failed", "nope") == (
        2,
        "",
        "pargen: error: nope is not a run: no such directory, and no run nope under "
        ".pargen/runs; give a run directory, a run id (with --root TREE for another tree) or "
        "a tree that has runs\n",
    )
    assert run_main(monkeypatch, capsys, "failed", str(tmp_path))[0] == 2


# --- End to end: a real tree, real GNU parallel, real Packer -----------------------------------


def null_template(name: str, command: str) -> str:
    return (
        f'source "null" "{name}" {{\n  communicator = "none"\n}}\n'
        f'build {{\n  sources = ["source.null.{name}"]\n'
        f'  provisioner "shell-local" {{\n    inline = [{json.dumps(command)}]\n  }}\n}}\n'
    )


def pargen_exec(root: Path, args: Sequence[str], env: Mapping[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pargen", *args],
        cwd=root,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode


def test_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    files = {
        ".": null_template("a", "echo base"),
        "child": null_template("b", "echo child; test -e ok || exit 3"),
        "child/grand": null_template("c", "echo grand"),
        "sib": null_template("d", "echo sib"),
    }
    for rel, text in files.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        (root / rel / "build.pkr.hcl").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PARALLEL"))}
    env = {k: v for k, v in env.items() if not k.startswith("PARGEN_")}
    env |= {"CHECKPOINT_DISABLE": "1", "PARGEN_STATE_DIR": str(tmp_path / "state")}

    assert pargen_exec(root, ["exec"], env) == 1
    run = (root / ".pargen" / "runs" / "latest").resolve()
    summary = tmp_path / "summary.md"
    report = finish_run(run, {"GITHUB_STEP_SUMMARY": str(summary)}).report
    assert states(report) == {
        BASE: "succeeded",
        CHILD: "failed",
        GRAND: "skipped",
        SIB: "succeeded",
    }

    document = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert document["outcome"] == "failed"
    child = next(j for j in document["jobs"] if j["id"] == CHILD)
    assert (child["exit_code"], child["signal"], child["host"], child["attempts"]) == (1, 0, ":", 1)
    assert child["duration"] > 0 and child["start"].endswith("Z")
    cases = {c.get("name"): c for c in ET.parse(run / "junit.xml").iter("testcase")}
    failure = cases["null.b"].find("failure")
    assert failure is not None
    assert "Script exited with non-zero exit status: 3" in (failure.text or "")
    assert cases["null.c"].find("skipped") is not None
    assert "| child:null.b | failed | 1 |" in summary.read_text(encoding="utf-8")

    code, out, _ = invoke("failed", "--root", str(root), "--format", "only")
    assert code == 0
    command = shlex.split(out)
    assert command[:2] == ["pargen", "exec"]
    assert command[2:] == ["--only", CHILD, "--only", GRAND, str(root)]
    code, out, _ = invoke("status", "--root", str(root))
    assert out.splitlines()[0].startswith(f"run {run.name}: failed after ")

    # Rerun exactly what failed, by id, once the cause is fixed.
    (root / "child" / "ok").touch()
    assert pargen_exec(root, command[1:], env) == 0
    rerun = load_report((root / ".pargen" / "runs" / "latest").resolve())
    assert states(rerun) == {CHILD: "succeeded", GRAND: "succeeded"}
