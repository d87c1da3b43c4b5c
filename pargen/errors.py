"""The errors pargen reports to people, and the exit codes of the contract."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    OK = 0
    JOBS_FAILED = 1
    BAD_INPUT = 2
    INTERNAL = 3
    LOCKED = 4
    RUNNING = 75
    """``pargen status`` only: the run is still going (EX_TEMPFAIL: ask again later)."""
    INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong in an input file, at a place a person can open in an editor."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class PargenError(Exception):
    """An error a person can act on: printed as one line, exits with ``code``."""

    code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, code: ExitCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the exit code when the error crosses a process boundary (parse workers).
        return (type(self), (str(self), self.code))

    @property
    def lines(self) -> list[str]:
        return [str(self)]


class ProblemsError(PargenError):
    """Every problem found in one pass over the inputs; one line each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__(f"{len(self.problems)} problem(s) found")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems,))

    @property
    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]
