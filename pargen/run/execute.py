"""``pargen exec`` after planning: lay out the run, run and follow it, report, remember."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pargen.config import RunSettings
from pargen.errors import PargenError
from pargen.plan.jobs import Plan
from pargen.run.finish import finish_run
from pargen.run.history import HISTORY_FILE, read_history
from pargen.run.report import RunReport
from pargen.run.rundir import prepare_run
from pargen.run.supervise import Console, Supervisor, slot_count
from pargen.tools import require, require_gnu_parallel


@dataclass(frozen=True)
class Outcome:
    code: int
    """The exit code of the contract."""
    report: RunReport | None
    """None when the report could not be written (the console was told why)."""


def run_plan(
    plan: Plan,
    settings: RunSettings,
    console: Console,
    *,
    run_dir: Path | None,
    stall_timeout: float | None,
    command_args: Sequence[str],
) -> Outcome:
    """Run ``plan`` in a new run directory and write its reports; a report failure never
    hides the run's exit code."""
    # Missing tools are bad input: said after the templates, before anything is written.
    require_gnu_parallel()
    require("packer")
    require("bash")
    history_file = Path(plan.root) / HISTORY_FILE
    history = read_history(history_file)
    run = prepare_run(plan, settings, run_dir, list(command_args), history)
    supervisor = Supervisor(
        run,
        plan,
        console,
        stall_timeout=stall_timeout,
        history=history,
        slots=slot_count(settings.jobs),
    )
    code = supervisor.execute()
    console.finish()
    try:
        finished = finish_run(run.path, os.environ, inputs=plan.inputs, live_ok=True)
    except PargenError as err:
        console.notice(f"could not write the reports: {err}")
        return Outcome(code, None)
    return Outcome(code, finished.report)
