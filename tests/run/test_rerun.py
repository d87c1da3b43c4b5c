"""Tests for pargen.run.rerun: which jobs to run again, and the command line that does it."""

from __future__ import annotations

import fnmatch
import os
import shlex
from pathlib import Path

import pytest

from pargen.errors import PargenError
from pargen.plan.jobs import Job, _select
from pargen.run.report import JobReport, RunReport
from pargen.run.rerun import only_command, only_value, select, select_for_rerun
from tests.run.test_report import BASE, CHILD, GRAND, SIB, T0, make_run


def job(
    job_id: str, state: str, after: tuple[str, ...] = (), blocked_by: str | None = None
) -> JobReport:
    return JobReport(
        number=0,
        id=job_id,
        template=job_id.partition(":")[0],
        name=job_id.partition(":")[2],
        after=after,
        state=state,
        exit_code=None,
        signal=None,
        start_us=None,
        end_us=None,
        host=None,
        log=None,
        attempts=0,
        blocked_by=blocked_by,
        reason=None,
    )


def report(*jobs: JobReport) -> RunReport:
    return RunReport("r", Path("r"), ".", False, tuple(jobs), None, None, {})


HALTED = report(
    job("a:1", "succeeded"),
    job("b:1", "failed", ("a:1",)),
    job("b/c:1", "skipped", ("b:1",), blocked_by="b:1"),
    job("b/c/d:1", "skipped", ("b/c:1",), blocked_by="b:1"),
    job("e:1", "interrupted", ("a:1",)),
    job("e/f:1", "not-run", ("e:1",)),  # never started, and waits for an interrupted job
    job("g:1", "lost"),
    job("h:1", "not-run"),  # the halt stopped it; nothing it waits for failed
    job("i:1", "succeeded", ("a:1",)),
)


def test_failed_selects_problems_and_what_they_held_back() -> None:
    assert select(HALTED, "failed") == ["b:1", "b/c:1", "b/c/d:1", "e:1", "e/f:1", "g:1"]


def test_resume_selects_everything_not_succeeded() -> None:
    assert select(HALTED, "resume") == ["b:1", "b/c:1", "b/c/d:1", "e:1", "e/f:1", "g:1", "h:1"]


def test_nothing_to_rerun() -> None:
    done = report(job("a:1", "succeeded"))
    assert select(done, "failed") == select(done, "resume") == []


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown rerun mode 'all'"):
        select(HALTED, "all")


IDS = [
    "plain:null.a",
    "glob:*",
    "glob:a*",
    "glob:ab",
    "q:it's [a*b]?",
    "q:it's [a*b]x",
    "tab:\tand\nnewline",
    'dollar:$(touch pwned) `x` "y" \\z',
    "range:[!a-z]",
    "-dash:x",
]


@pytest.mark.parametrize("job_id", IDS)
def test_only_value_matches_exactly_its_id(job_id: str) -> None:
    pattern = only_value(job_id)
    assert [i for i in IDS if fnmatch.fnmatchcase(i, pattern)] == [job_id]


def test_only_command_reruns_exactly_those_jobs_through_the_shell() -> None:
    chosen = ["glob:*", "q:it's [a*b]?", "tab:\tand\nnewline", 'dollar:$(touch pwned) `x` "y" \\z']
    words = shlex.split(only_command(chosen))
    assert words[:2] == ["pargen", "exec"]
    assert words[2::2] == ["--only"] * len(chosen)
    # The plan keeps a job whose id or name matches a --only glob.
    jobs = [Job(i, "t", i, i, (), "null", "t", ".", False, ()) for i in IDS]
    kept = _select(jobs, tuple(words[3::2]), ())
    assert [j.id for j in kept] == chosen


def test_only_command_names_the_tree() -> None:
    assert only_command(["a:b"]) == "pargen exec --only a:b"
    assert only_command(["a:b"], "images dir") == "pargen exec --only a:b 'images dir'"
    assert only_command(["a:b"], "-odd") == "pargen exec --only a:b -- -odd"


def test_select_for_rerun_reads_the_run(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "r",
        results=[
            f"1\tsucceeded\t0\t1\t\t{T0}\t{T0 + 1}",
            f"2\tfailed\t1\t1\t\t{T0}\t{T0 + 1}",
            "3\tskipped\t\t0\t2\t\t",
            "4\tnot-run\t\t0\t\t\t",
        ],
    )
    assert select_for_rerun(run, "failed") == [CHILD, GRAND]
    assert select_for_rerun(run, "resume") == [CHILD, GRAND, SIB]
    assert BASE not in select_for_rerun(run, "resume")


def test_select_for_rerun_refuses_a_run_still_going(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", pid=os.getpid(), events=["0 start 1 1 1 100"])
    with pytest.raises(PargenError, match=r"^run r is still running \("):
        select_for_rerun(run, "failed")
