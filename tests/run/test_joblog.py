"""Tests for pargen.run.joblog: GNU parallel's joblog read as parallel really writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pargen.errors import PargenError
from pargen.run.joblog import HEADER, by_job, parse_joblog, read_joblog


def joblog(*rows: str, header: bool = True) -> bytes:
    lines = ([HEADER] if header else []) + list(rows)
    return ("".join(line + "\n" for line in lines)).encode()


def row(seq: int, command: str, exitval: int = 0, signal: int = 0, host: str = ":") -> str:
    # JobRuntime is written with %10.3f: leading spaces.
    return f"{seq}\t{host}\t1795464142.134\t{3.25:10.3f}\t0\t0\t{exitval}\t{signal}\t{command}"


def test_fields_as_parallel_writes_them() -> None:
    [entry] = parse_joblog(joblog(row(7, '"$PARGEN_SELF" __job 3 2', exitval=1)))
    assert (entry.seq, entry.host, entry.start, entry.runtime) == (7, ":", 1795464142.134, 3.25)
    assert (entry.exitval, entry.signal, entry.job_number, entry.line) == (1, 0, 3, 2)
    assert entry.failed


def test_command_keeps_its_tabs_and_newlines() -> None:
    # Split with maxsplit: the command may hold tabs; parallel writes its newlines as NUL.
    [entry] = parse_joblog(joblog(row(1, "echo 'a\tb\0c' __job 4 1")))
    assert entry.command == "echo 'a\tb\nc' __job 4 1"
    assert entry.job_number == 4


def test_a_line_still_being_written_is_left_out() -> None:
    data = joblog(row(1, '"$PARGEN_SELF" __job 1 1')) + b"2\t:\t1795464142.5\t   "
    assert [e.seq for e in parse_joblog(data)] == [1]


@pytest.mark.parametrize("data", [b"", b"Seq\tHost\tStart", HEADER.encode() + b"\n"])
def test_nothing_finished_yet(data: bytes) -> None:
    assert parse_joblog(data) == []


def test_missing_file_is_an_empty_joblog(tmp_path: Path) -> None:
    assert read_joblog(tmp_path / "joblog") == []


def test_read_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "joblog").write_bytes(joblog(row(1, '"$PARGEN_SELF" __job 1 1')))
    assert [e.job_number for e in read_joblog(tmp_path / "joblog")] == [1]


def test_a_file_that_is_not_a_joblog_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    path.write_text("number\tstate\texit\n1\tsucceeded\t0\n", encoding="utf-8")
    with pytest.raises(PargenError) as err:
        read_joblog(path)
    assert str(err.value) == (
        f"{path}:1: not a GNU parallel joblog: the first line is not the header "
        "'Seq Host Starttime JobRuntime Send Receive Exitval Signal Command'; "
        "pass the joblog written with --joblog"
    )


def test_a_damaged_line_is_named() -> None:
    data = joblog(row(1, "x __job 1 1"), "2\t:\tnot-a-time\t 1.0\t0\t0\t0\t0\tx __job 2 1")
    with pytest.raises(PargenError, match=r"^joblog:3: not a joblog line: .*not-a-time"):
        parse_joblog(data)
    with pytest.raises(PargenError, match=r"^j:2: not a joblog line: 3 tab-separated fields"):
        parse_joblog(joblog("1\t:\t12"), "j")


def test_signal_alone_is_a_failure() -> None:
    # An external kill -9 of the command can log Exitval 0 with Signal 9.
    [entry] = parse_joblog(joblog(row(1, "x __job 1 1", exitval=0, signal=9)))
    assert entry.failed
    assert entry.cause == "killed by signal 9 (SIGKILL)"


def test_exit_values_with_a_meaning() -> None:
    killed, remote, local, unknown_signal = parse_joblog(
        joblog(
            row(1, "x __job 1 1", exitval=-1),
            row(2, "x __job 2 1", exitval=255, host="4/builder@10.0.0.5"),
            row(3, "x __job 3 1", exitval=255),
            row(4, "x __job 4 1", signal=99),
        )
    )
    assert killed.failed
    assert killed.cause == "killed by GNU parallel (--timeout, --memfree or --limit)"
    assert remote.cause == "exit 255 on 4/builder@10.0.0.5: the build or ssh to that host failed"
    assert local.cause is None
    assert unknown_signal.cause == "killed by signal 99"


def test_by_job_ignores_ticks_and_foreign_commands_and_keeps_the_last_attempt() -> None:
    entries = parse_joblog(
        joblog(
            row(1, '"$PARGEN_SELF" __job 2 1', exitval=1),
            row(2, '"$PARGEN_SELF" __job 0 1'),  # a tick
            row(3, "make all"),  # not pargen's
            row(4, '"$PARGEN_SELF" __job 2 2', exitval=0),  # --retries: a later attempt
        )
    )
    jobs = by_job(entries)
    assert list(jobs) == [2]
    assert jobs[2].seq == 4
    assert not jobs[2].failed


def test_appended_joblogs_restart_seq_after_another_header() -> None:
    # `--joblog +file` appends; each run restarts Seq at 1 and the last line for a job wins.
    data = joblog(row(1, "x __job 1 1", exitval=1)) + joblog(row(1, "x __job 1 1", exitval=0))
    entries = parse_joblog(data)
    assert [e.line for e in entries] == [2, 4]
    assert by_job(entries)[1].exitval == 0
