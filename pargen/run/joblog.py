"""GNU parallel's joblog, read defensively: the record of how each build process ended."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pargen.errors import PargenError

HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"
_FIELDS = HEADER.count("\t") + 1
# The rendered script runs each build as `"$PARGEN_SELF" __job NUMBER SLOT LABEL` (LABEL: the job
# id as a plain word, which GNU parallel may put in quotes; scripts before it had none); number
# 0 is a tick.
_JOB_COMMAND = re.compile(r"__job (\d+) (\d+)(?: \S+)?\Z")


@dataclass(frozen=True)
class JoblogEntry:
    """One finished process as GNU parallel logged it (only the last attempt of a retried job)."""

    seq: int
    host: str
    """The sshlogin that ran it; ':' is this machine."""
    start: float
    """Epoch seconds."""
    runtime: float
    """Seconds."""
    send: int
    receive: int
    exitval: int
    """-1: parallel killed it (--timeout, --memfree, --limit); 255 may mean ssh failed."""
    signal: int
    command: str
    line: int
    """Line number in the joblog, for messages."""

    @property
    def failed(self) -> bool:
        # A `kill -9` of the command alone can log Exitval 0 with Signal 9.
        return self.exitval != 0 or self.signal != 0

    @property
    def cause(self) -> str | None:
        """What the joblog alone says about a failure, in words."""
        if self.signal:
            return f"killed by {_signal_name(self.signal)}"
        if self.exitval == -1:
            return "killed by GNU parallel (--timeout, --memfree or --limit)"
        if self.exitval == 255 and self.host not in ("", ":"):
            return f"exit 255 on {self.host}: the build or ssh to that host failed"
        return None

    @property
    def job_number(self) -> int | None:
        """The pargen job number it ran; None for a foreign command."""
        match = _JOB_COMMAND.search(self.command)
        return int(match.group(1)) if match else None


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def parse_joblog(data: bytes, source: str = "joblog") -> list[JoblogEntry]:
    """Every complete line of a joblog; ``source`` names the file in errors.

    The last line is still being written when it has no newline yet: it is left out.
    """
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a line not finished yet
    entries: list[JoblogEntry] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace").removesuffix("\r")
        if text == HEADER:
            continue  # `--joblog +file` appends runs, each may start with a header
        if number == 1:
            raise PargenError(
                f"{source}:1: not a GNU parallel joblog: the first line is not the header "
                f"{HEADER.expandtabs(1)!r}; pass the joblog written with --joblog"
            )
        entries.append(_entry(text.split("\t", _FIELDS - 1), source, number))
    return entries


def _entry(fields: list[str], source: str, line: int) -> JoblogEntry:
    if len(fields) != _FIELDS:
        raise PargenError(
            f"{source}:{line}: not a joblog line: {len(fields)} tab-separated fields "
            f"instead of {_FIELDS}; the file is damaged or not a joblog"
        )
    seq, host, start, runtime, send, receive, exitval, signum, command = fields
    try:
        return JoblogEntry(
            seq=int(seq),
            host=host,
            start=float(start),
            runtime=float(runtime.strip()),
            send=int(send),
            receive=int(receive),
            exitval=int(exitval),
            signal=int(signum),
            command=command.replace("\0", "\n"),  # parallel writes newlines as NUL
            line=line,
        )
    except ValueError as err:
        raise PargenError(
            f"{source}:{line}: not a joblog line: {err}; the file is damaged or not a joblog"
        ) from err


def read_joblog(path: Path) -> list[JoblogEntry]:
    """The entries of the joblog at ``path``; none when parallel has not written it yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise PargenError(f"{path}: cannot read it: {err.strerror}") from err
    return parse_joblog(data, str(path))


def by_job(entries: Iterable[JoblogEntry]) -> dict[int, JoblogEntry]:
    """The last attempt of each pargen job number (the latest to start: an attempt that could
    not reach its host is logged only when the run ends); ticks and foreign commands left out."""
    jobs: dict[int, JoblogEntry] = {}
    for entry in entries:
        number = entry.job_number
        if number and (number not in jobs or entry.start >= jobs[number].start):
            jobs[number] = entry
    return jobs
