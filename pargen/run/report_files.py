"""A run's report as files: report.json, junit.xml and the GitHub step summary.

report.json (``format`` 1; keys are only ever added within a format):

- ``format``: 1. ``run_id``: the run directory's name. ``root``: ROOT as given to exec.
- ``outcome``: ``running``, ``succeeded``, ``failed`` (a job failed, was lost, or was
  skipped because of one) or ``interrupted``. ``live``: the script or a build still runs.
- ``started``, ``ended``: ISO 8601 UTC times of the first start and the last end (now for
  a live run), or null. ``wall_seconds``: between the two, or null.
- ``totals``: ``jobs`` and a count for every state: ``succeeded``, ``failed``, ``skipped``,
  ``interrupted``, ``not-run``, ``lost``, ``running``, ``waiting``.
- ``slowest``: up to 5 ``{"id", "duration"}``, longest first.
- ``jobs``: every planned job in plan order: ``number`` (the script's job number), ``id``,
  ``template``, ``name``, ``state``, ``exit_code`` (null if none), ``signal`` (from the
  joblog, null without a joblog line), ``start``, ``end`` (ISO times or null), ``duration``
  (seconds, all attempts, or null), ``host`` (the joblog's Host column, ':' is this machine),
  ``log`` (path relative to the run directory, null if none was written), ``attempts``,
  ``blocked_by`` (id of the failed job it waited for, or null), ``reason`` (why it did not
  succeed, in words, or null).
"""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pargen.errors import PargenError
from pargen.run.report import PROBLEM_STATES, JobReport, RunReport, read_events
from pargen.run.report_text import problem_line, seconds
from pargen.run.timeline import build_timeline, mermaid_gantt, timeline_html

REPORT_FORMAT = 1
"""report.json's ``format``: raised only when a key changes meaning or goes away."""
LOG_TAIL_LINES = 30


def report_dict(report: RunReport) -> dict[str, Any]:
    """The report.json document (keys in this module's docstring)."""
    return {
        "format": REPORT_FORMAT,
        "run_id": report.run_id,
        "root": report.root,
        "outcome": report.outcome,
        "live": report.live,
        "started": report.started,
        "ended": report.ended,
        "wall_seconds": report.wall_seconds,
        "totals": {"jobs": len(report.jobs), **report.totals},
        "slowest": [{"id": j.id, "duration": j.duration} for j in report.slowest],
        "jobs": [job_dict(job) for job in report.jobs],
    }


def job_dict(job: JobReport) -> dict[str, Any]:
    return {
        "number": job.number,
        "id": job.id,
        "template": job.template,
        "name": job.name,
        "state": job.state,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "start": job.start,
        "end": job.end,
        "duration": job.duration,
        "host": job.host,
        "log": job.log,
        "attempts": job.attempts,
        "blocked_by": job.blocked_by,
        "reason": job.reason,
    }


def report_json(report: RunReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def failed_json(report: RunReport, jobs: Sequence[JobReport], rerun: str | None) -> str:
    """``pargen failed --format json``: the jobs (as in report.json) and the command to rerun."""
    document = {
        "run_id": report.run_id,
        "outcome": report.outcome,
        "jobs": [job_dict(job) for job in jobs],
        "rerun": rerun,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def junit_xml(report: RunReport, tails: Mapping[str, str]) -> str:
    """One testcase per job (classname: template, name: build name), for GitLab and Jenkins.

    ``tails`` holds the last lines of the logs of the jobs that did not succeed, by job id.
    """
    problems = [j for j in report.jobs if j.state in PROBLEM_STATES]
    counts = {
        "tests": str(len(report.jobs)),
        "failures": str(sum(1 for j in problems if j.state == "failed")),
        "errors": str(sum(1 for j in problems if j.state != "failed")),
        "skipped": str(
            sum(1 for j in report.jobs if j.state not in PROBLEM_STATES | {"succeeded"})
        ),
        "time": f"{report.wall_seconds or 0:.3f}",
    }
    suites = ET.Element("testsuites", {"name": "pargen", **counts})
    suite_attributes = {"name": _xml_text(f"pargen {report.run_id}"), **counts}
    if report.started_us is not None:
        # JUnit's timestamp: local-less ISO time to the second (Jenkins parses no more).
        suite_attributes["timestamp"] = (report.started or "")[:19]
    suite = ET.SubElement(suites, "testsuite", suite_attributes)
    for job in report.jobs:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _xml_text(job.template),
                "name": _xml_text(job.name),
                "time": f"{job.duration or 0:.3f}",
            },
        )
        if job.state in PROBLEM_STATES:
            tag = "failure" if job.state == "failed" else "error"
            element = ET.SubElement(
                case, tag, {"message": _xml_text(problem_line(job)), "type": job.state}
            )
            body = [f"job {job.id}", problem_line(job)]
            if job.log:
                body.append(f"log: {job.log} (in the run directory)")
            tail = tails.get(job.id)
            if tail:
                body += [f"--- last {LOG_TAIL_LINES} lines ---", tail]
            element.text = _xml_text("\n".join(body) + "\n")
        elif job.state != "succeeded":
            message = job.reason or job.state
            ET.SubElement(case, "skipped", {"message": _xml_text(f"{job.state}: {message}")})
    ET.indent(suites)
    text = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def step_summary(report: RunReport, tails: Mapping[str, str]) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: what went wrong first, then the counts."""
    lines = [f"### pargen run {_md(report.run_id)}: {report.outcome}", ""]
    problems = [j for j in report.jobs if j.state in PROBLEM_STATES]
    others = [j for j in report.jobs if j.state not in PROBLEM_STATES | {"succeeded"}]
    if problems or others:
        lines += ["| job | state | exit | time | why |", "| --- | --- | --- | --- | --- |"]
        for job in problems + others:
            exit_code = "" if job.exit_code is None else str(job.exit_code)
            duration = "" if job.duration is None else seconds(job.duration)
            lines.append(
                f"| {_md(job.id)} | {job.state} | {exit_code} | {duration} | "
                f"{_md(job.reason or '')} |"
            )
        lines.append("")
    counts = ", ".join(f"{n} {s}" for s, n in report.totals.items() if n)
    wall = f" in {seconds(report.wall_seconds)}" if report.wall_seconds is not None else ""
    lines += [f"**{len(report.jobs)} jobs**{wall}: {counts or 'nothing planned'}", ""]
    gantt = mermaid_gantt(report)
    if gantt:
        lines += [gantt, ""]
    for job in problems:
        tail = tails.get(job.id)
        if not tail:
            continue
        fence = "`" * max(3, _longest_backtick_run(tail) + 1)
        lines += [
            f"<details><summary>{html.escape(job.id)}: last lines of {html.escape(job.log or '')}"
            "</summary>",
            "",
            f"{fence}text",
            tail,
            fence,
            "</details>",
            "",
        ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text for a Markdown table cell: one line, no HTML, no emphasis, no column breaks."""
    text = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def read_log_tails(report: RunReport, lines: int = LOG_TAIL_LINES) -> dict[str, str]:
    """The last ``lines`` lines of each log of a job that did not succeed, colours removed."""
    tails: dict[str, str] = {}
    for job in report.jobs:
        if job.state not in PROBLEM_STATES or job.log is None:
            continue
        try:
            with (report.path / job.log).open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 200 * lines * 10))
                data = handle.read()
        except OSError:
            continue
        text = _ANSI.sub("", data.decode("utf-8", errors="replace"))
        tails[job.id] = "\n".join(text.rstrip("\n").split("\n")[-lines:])
    return tails


def write_report_files(report: RunReport) -> None:
    """report.json, junit.xml and timeline.html in the run directory, each replaced in one step."""
    tails = read_log_tails(report)
    _replace(report.path / "report.json", report_json(report))
    _replace(report.path / "junit.xml", junit_xml(report, tails))
    timeline = build_timeline(report, read_events(report.path))
    _replace(report.path / "timeline.html", timeline_html(timeline))


def append_step_summary(report: RunReport, env: Mapping[str, str]) -> bool:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set; True if written."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(step_summary(report, read_log_tails(report)))
    except OSError as err:
        raise PargenError(f"cannot append to GITHUB_STEP_SUMMARY {target}: {err.strerror}") from err
    return True


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise PargenError(f"cannot write {path}: {err.strerror}; check the run directory") from err
