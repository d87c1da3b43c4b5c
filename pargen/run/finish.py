"""The end of a run, the same whoever started it: ``pargen exec`` when its script ends, and
``pargen report`` for any finished or killed run (a committed script's, say). It writes
report.json, junit.xml and timeline.html, appends the step summary with GITHUB_STEP_SUMMARY set, and
records the run once (history, and built.json for ``--skip-unchanged``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pargen.errors import PargenError
from pargen.plan.inputs import InputHashes
from pargen.run.records import changed_since_start, planned_with, record_run, recorded
from pargen.run.report import RunReport, load_report
from pargen.run.report_files import append_step_summary, write_report_files

Replan = Callable[[str, Sequence[str]], InputHashes]
"""Plans ROOT again with the given command-line options; its input hashes."""


@dataclass(frozen=True)
class Finished:
    report: RunReport
    summary: bool
    """The step summary was appended to GITHUB_STEP_SUMMARY."""
    notices: tuple[str, ...] = ()
    """What people should know: what was not recorded, and why."""


def finish_run(
    run_dir: Path,
    env: Mapping[str, str],
    *,
    inputs: InputHashes | None = None,
    replan: Replan | None = None,
    environb: Mapping[bytes, bytes] | None = None,
    live_ok: bool = False,
) -> Finished:
    """Report the run at ``run_dir`` and record it, unless it is recorded already.

    ``inputs`` are the input hashes planned just before the run (``pargen exec``). Without
    them, ``replan`` gives today's, recorded only when the tree and the PKR_VAR_* environment
    (``environb``) are what the run's script saw as it started. A run still going is refused
    unless ``live_ok`` (its script has ended, a build it left may not have).
    """
    report = load_report(run_dir)
    if report.live and not live_ok:
        raise PargenError(
            f"run {report.run_id} is still running ({run_dir}); "
            "report it once it has ended (pargen status shows how far it is)"
        )
    write_report_files(report)
    summary = append_step_summary(report, env)
    notices: list[str] = []
    if not recorded(run_dir):
        if inputs is None and replan is not None:
            inputs, why_not = _inputs_of_script_run(report, replan, environb or {})
            if why_not:
                notices.append(
                    f"not recording input hashes for --skip-unchanged: {why_not}; "
                    "the next --skip-unchanged builds these jobs again"
                )
        record_run(report, inputs)
    return Finished(report, summary, tuple(notices))


def _inputs_of_script_run(
    report: RunReport, replan: Replan, environb: Mapping[bytes, bytes]
) -> tuple[InputHashes | None, str | None]:
    if not any(job.state == "succeeded" for job in report.jobs):
        return None, None
    changed = changed_since_start(report.path, environb)
    if changed is not None:
        return None, f"{changed} since the run started"
    try:
        return replan(report.root, planned_with(report.path)), None
    except PargenError as err:
        return None, f"the tree cannot be planned again ({err})"
