"""A picture of a run: which build ran when, on which slot and host, and what held it up.

``build_timeline`` turns a run's report and events into plain data: one bar per attempt on
its slot, the waits for group semaphores and for the pipeline lock, the critical path, and the
lower bound no schedule can beat, max(critical path, work / slots). ``timeline_html`` draws it
as one self-contained page (inline SVG and CSS: no script, no network), ``timeline.html`` in
the run directory.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pargen.run.report import Event, JobReport, RunReport
from pargen.run.report_text import seconds

# Outcomes of one attempt, in the legend's order.
OUTCOMES = ("succeeded", "failed", "retried", "interrupted", "lost", "unreachable", "running")
_FINAL_PROBLEMS = frozenset({"failed", "interrupted", "lost"})
THIS_MACHINE = ":"


@dataclass(frozen=True)
class Attempt:
    """One attempt of one job: a bar on the slot it ran in."""

    job_id: str
    attempt: int
    host: str
    """The sshlogin it ran on; ':' is this machine."""
    slot: int
    start_us: int
    end_us: int
    outcome: str
    """One of OUTCOMES; ``retried``: it failed and the job ran again."""


@dataclass(frozen=True)
class GroupWait:
    """A job waiting for a slot of its group's machine-wide semaphore (outside every slot)."""

    job_id: str
    group: str
    start_us: int
    end_us: int


@dataclass(frozen=True)
class Timeline:
    run_id: str
    outcome: str
    attempts: tuple[Attempt, ...]
    waits: tuple[GroupWait, ...]
    lock_wait: tuple[int, int] | None
    """From the script's start to the moment it held the pipeline lock, when it had to wait."""
    critical: tuple[str, ...]
    """Job ids of the critical path, first to last."""
    critical_s: float
    """The critical path's length: the longest chain of jobs that wait for each other."""
    work_s: float
    """Every attempt's duration added up."""
    slots: int
    makespan_s: float
    """From the first start of a build to the last end."""
    unstarted: tuple[JobReport, ...]
    """Jobs with no attempt: skipped, not run, or still waiting."""

    @property
    def bound_s(self) -> float:
        """No schedule on these slots finishes sooner (durations as they were)."""
        return max(self.critical_s, self.work_s / max(1, self.slots))

    @property
    def job_ids(self) -> tuple[str, ...]:
        """Every job the picture shows, as a bar or in the list of jobs that did not run."""
        drawn = dict.fromkeys(a.job_id for a in self.attempts)
        return (*drawn, *(j.id for j in self.unstarted if j.id not in drawn))


def build_timeline(report: RunReport, events: Sequence[Event]) -> Timeline:
    """The picture's data from a run's report and its events.log (pure)."""
    ids = {job.number: job.id for job in report.jobs}
    states = {job.id: job.state for job in report.jobs}
    end_of_run = report.ended_us or max((e.time_us for e in events), default=0)
    attempts = _attempts(events, ids, states, end_of_run)
    waits = _group_waits(events, ids, end_of_run)
    started = {a.job_id for a in attempts}
    durations = {job.id: job.duration for job in report.jobs if job.duration is not None}
    critical, critical_s = critical_path(report.jobs, durations)
    work_s = sum((a.end_us - a.start_us) / 1e6 for a in attempts if a.outcome != "unreachable")
    lanes = {(a.host, a.slot) for a in attempts}
    slots = _slots(events) or max(1, len(lanes))
    first = min((a.start_us for a in attempts), default=0)
    last = max((a.end_us for a in attempts), default=first)
    return Timeline(
        run_id=report.run_id,
        outcome=report.outcome,
        attempts=tuple(attempts),
        waits=tuple(waits),
        lock_wait=_lock_wait(events),
        critical=critical,
        critical_s=critical_s,
        work_s=work_s,
        slots=slots,
        makespan_s=(last - first) / 1e6,
        unstarted=tuple(job for job in report.jobs if job.id not in started),
    )


def critical_path(
    jobs: Sequence[JobReport], durations: Mapping[str, float]
) -> tuple[tuple[str, ...], float]:
    """The longest chain of jobs, each waiting for the one before it, by ``durations``.

    ``jobs`` come parents first (plan order); a job without a duration counts as zero.
    """
    length: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    for job in jobs:
        parents = [a for a in job.after if a in length]
        best = max(parents, key=lambda a: length[a], default=None)
        previous[job.id] = best
        length[job.id] = durations.get(job.id, 0.0) + (length[best] if best else 0.0)
    if not length:
        return (), 0.0
    end = max(length, key=lambda i: (length[i], i in durations))
    chain: list[str] = []
    node: str | None = end
    while node is not None:
        chain.append(node)
        node = previous[node]
    return tuple(reversed(chain)), length[end]


def _attempts(
    events: Iterable[Event], ids: Mapping[int, str], states: Mapping[str, str], end_of_run: int
) -> list[Attempt]:
    open_: dict[int, tuple[int, int, str, int]] = {}
    done: list[tuple[int, Attempt]] = []
    for event in events:
        if event.number not in ids:
            continue
        if event.kind == "start" and len(event.fields) >= 2:
            attempt, slot = _int(event.fields[0]), _int(event.fields[1])
            host = event.fields[3] if len(event.fields) > 3 else THIS_MACHINE
            open_[event.number] = (event.time_us, attempt or 1, host, slot or 0)
        elif event.kind == "end" and event.number in open_:
            start, attempt, host, slot = open_.pop(event.number)
            rc = _int(event.fields[0]) if event.fields else None
            how = event.fields[2] if len(event.fields) > 2 else "done"
            attempt_record = Attempt(
                ids[event.number], attempt, host, slot, start, event.time_us, _outcome(rc, how)
            )
            done.append((event.number, attempt_record))
    for number, (start, attempt, host, slot) in open_.items():
        state = states.get(ids[number], "lost")
        outcome = "running" if state == "running" else "lost"
        done.append((number, Attempt(ids[number], attempt, host, slot, start, end_of_run, outcome)))
    done.sort(key=lambda item: (item[1].start_us, item[0]))
    # A failed attempt followed by another of the same job was retried; the last one carries
    # the job's final state as the report has it.
    last: dict[str, int] = {}
    for index, (_, attempt_record) in enumerate(done):
        if attempt_record.outcome != "unreachable":
            last[attempt_record.job_id] = index
    attempts: list[Attempt] = []
    for index, (_, a) in enumerate(done):
        outcome = a.outcome
        if outcome in _FINAL_PROBLEMS and last.get(a.job_id) != index:
            outcome = "retried"
        elif last.get(a.job_id) == index and states.get(a.job_id) in _FINAL_PROBLEMS:
            outcome = states[a.job_id]
        attempts.append(_with_outcome(a, outcome))
    return attempts


def _outcome(rc: int | None, how: str) -> str:
    if how == "unreachable":
        return "unreachable"
    if rc == 0:
        return "succeeded"
    if how == "stopped":
        return "interrupted"
    if how == "lost":
        return "lost"
    return "failed"


def _with_outcome(attempt: Attempt, outcome: str) -> Attempt:
    if outcome == attempt.outcome:
        return attempt
    return Attempt(
        attempt.job_id,
        attempt.attempt,
        attempt.host,
        attempt.slot,
        attempt.start_us,
        attempt.end_us,
        outcome,
    )


def _group_waits(
    events: Iterable[Event], ids: Mapping[int, str], end_of_run: int
) -> list[GroupWait]:
    asked: dict[int, tuple[int, str]] = {}
    waits: list[GroupWait] = []
    for event in events:
        if event.number not in ids:
            continue
        if event.kind == "acquiring" and event.fields:
            asked[event.number] = (event.time_us, event.fields[0])
        elif event.number in asked and event.kind in ("acquired", "not-run", "interrupted"):
            start, group = asked.pop(event.number)
            waits.append(GroupWait(ids[event.number], group, start, event.time_us))
    waits += [
        GroupWait(ids[number], group, start, end_of_run) for number, (start, group) in asked.items()
    ]
    return sorted(waits, key=lambda w: (w.group, w.start_us))


def _lock_wait(events: Iterable[Event]) -> tuple[int, int] | None:
    begun = waiting = None
    for event in events:
        if event.number != 0:
            continue
        if event.kind == "run":
            begun = event.time_us
        elif event.kind == "lock-wait":
            waiting = event.time_us
        elif event.kind == "locked" and waiting is not None:
            return (begun or waiting, event.time_us)
    return None


def _slots(events: Iterable[Event]) -> int | None:
    for event in events:
        if event.kind == "slots" and event.number == 0 and event.fields:
            return _int(event.fields[0])
    return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# --- The Mermaid chart (GitHub step summaries) -------------------------------------------

GANTT_MAX_JOBS = 200
"""More bars than this make a chart nobody reads (and GitHub renders slowly): the first
ones by start are drawn, and the chart says so."""
# A task line is "<text> :<tags>, <id>, <start>, <end>": its text cannot hold a colon, and
# "#", ";" and "%" start entities, separators and comments.
_GANTT_UNSAFE = str.maketrans({":": " ", "#": " ", ";": " ", "%": " "})
_GANTT_TAGS = {"succeeded": "done, ", "running": "active, "}


def mermaid_gantt(report: RunReport) -> str:
    """A Mermaid Gantt chart of the jobs that ran: one section per template, one bar per job
    from its first start to its end, failures marked critical."""
    ran = sorted(
        (j for j in report.jobs if j.start_us is not None and j.end_us is not None),
        key=lambda j: (j.start_us or 0, j.number),
    )
    if not ran:
        return ""
    shown = ran[:GANTT_MAX_JOBS]
    lines = [
        "```mermaid",
        "gantt",
        f"  title {_gantt_text(f'pargen run {report.run_id}')}",
        "  dateFormat x",
        "  axisFormat %H:%M:%S",
    ]
    sections: dict[str, list[JobReport]] = {}
    for job in shown:
        sections.setdefault(job.template, []).append(job)
    for template, jobs in sections.items():
        lines.append(f"  section {_gantt_text(template)}")
        for job in jobs:
            start_ms = (job.start_us or 0) // 1000
            end_ms = max(start_ms + 1, (job.end_us or 0) // 1000)
            tags = _GANTT_TAGS.get(job.state, "crit, ")
            lines.append(f"  {_gantt_text(job.name)} :{tags}j{job.number}, {start_ms}, {end_ms}")
    lines.append("```")
    if len(ran) > len(shown):
        lines.append(f"(the first {len(shown)} of {len(ran)} jobs that ran, by start)")
    return "\n".join(lines) + "\n"


def _gantt_text(text: str) -> str:
    return (
        " ".join(
            "".join(c if c.isprintable() else " " for c in text).translate(_GANTT_UNSAFE).split()
        )
        or "-"
    )


# --- The page ----------------------------------------------------------------------------------

_LABEL_W = 250
_CHART_W = 900
_ROW_H = 22
_BAR_H = 16
_TOP = 34
_LOCK_BAND_W = 70
"""The width of the pipeline lock's wait when it is too long to draw to scale."""

_COLOURS = {
    "succeeded": "#2f9e44",
    "failed": "#d9362b",
    "retried": "#f2a097",
    "interrupted": "#e8870e",
    "lost": "#7d4fc1",
    "unreachable": "#a3a3a3",
    "running": "#3b82f6",
}
_WAIT_COLOUR = "#f4cf57"
_LOCK_COLOUR = "#c9ccd1"


@dataclass(frozen=True)
class _Scale:
    """Maps times to x: the lock's wait first (to scale, or squeezed into a band)."""

    origin_us: int
    """The time at x = _LABEL_W + offset."""
    offset: float
    per_us: float

    def x(self, time_us: int) -> float:
        return _LABEL_W + self.offset + (time_us - self.origin_us) * self.per_us


def timeline_html(timeline: Timeline) -> str:
    """One self-contained HTML page (inline SVG and CSS)."""
    scale, lock_band = _scale(timeline)
    lanes = sorted({(a.host, a.slot) for a in timeline.attempts}, key=_lane_key)
    lane_row = {lane: i for i, lane in enumerate(lanes)}
    rows: list[str] = []
    body: list[str] = []
    y = _TOP
    if timeline.lock_wait is not None:
        start, end = timeline.lock_wait
        x0 = _LABEL_W if lock_band else scale.x(start)
        x1 = _LABEL_W + _LOCK_BAND_W if lock_band else scale.x(end)
        rows.append(_row_label(y, "pipeline lock"))
        tip = f"waited {seconds((end - start) / 1e6)} for the pipeline lock"
        body.append(
            f'<rect class="lock-wait" x="{x0:.1f}" y="{y + 3}" width="{max(1.0, x1 - x0):.1f}" '
            f'height="{_BAR_H}"><title>{_e(tip)}</title></rect>'
        )
        y += _ROW_H
    lanes_top = y
    for host, slot in lanes:
        rows.append(_row_label(y, _lane_name(host, slot, len({h for h, _ in lanes}) > 1)))
        y += _ROW_H
    critical = set(timeline.critical)
    critical_bars: dict[str, tuple[float, float, float]] = {}
    first_bar = len(body)
    for attempt in timeline.attempts:
        row_y = lanes_top + lane_row[(attempt.host, attempt.slot)] * _ROW_H
        x0, x1 = scale.x(attempt.start_us), scale.x(attempt.end_us)
        width = max(1.5, x1 - x0)
        on_path = attempt.job_id in critical and attempt.outcome != "retried"
        classes = f"bar {attempt.outcome}" + (" critical" if on_path else "")
        tip = (
            f"{attempt.job_id}: {attempt.outcome}, attempt {attempt.attempt}, "
            f"{seconds((attempt.end_us - attempt.start_us) / 1e6)}, slot {attempt.slot} on "
            f"{'this machine' if attempt.host == THIS_MACHINE else attempt.host}"
        )
        body.append(
            f'<g class="{classes}" data-job="{_e(attempt.job_id)}" '
            f'data-attempt="{attempt.attempt}">'
            f'<rect x="{x0:.1f}" y="{row_y + 3}" width="{width:.1f}" height="{_BAR_H}" rx="2"/>'
            f"<title>{_e(tip)}</title>"
        )
        if width > 40:
            body.append(
                f'<text x="{x0 + 4:.1f}" y="{row_y + 15}">'
                f"{_e(_fit(attempt.job_id, width - 8))}</text>"
            )
        body.append("</g>")
        if on_path:
            critical_bars[attempt.job_id] = (x0, x1, row_y + 3 + _BAR_H / 2)
    # The links go under the bars, so that no label is crossed out.
    body[first_bar:first_bar] = _critical_links(timeline.critical, critical_bars)
    for group, stacked in _stack_waits(timeline.waits):
        rows.append(_row_label(y, f"waiting for group {group}"))
        for level, wait in stacked:
            x0, x1 = scale.x(wait.start_us), scale.x(wait.end_us)
            waited = seconds((wait.end_us - wait.start_us) / 1e6)
            tip = f"{wait.job_id} waited {waited} for group {group}"
            body.append(
                f'<rect class="group-wait" data-job="{_e(wait.job_id)}" x="{x0:.1f}" '
                f'y="{y + level * 8 + 4}" width="{max(1.5, x1 - x0):.1f}" height="6">'
                f"<title>{_e(tip)}</title></rect>"
            )
        y += max(_ROW_H, len({level for level, _ in stacked}) * 8 + 8)
    height = y + 30
    axis = _axis(scale, timeline, lanes_top - (_ROW_H if timeline.lock_wait else 0), y, lock_band)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LABEL_W + _CHART_W + 20}" '
        f'height="{height}" role="img" aria-label="timeline of run {_e(timeline.run_id)}">'
        + "".join(axis + rows + body)
        + "</svg>"
    )
    return _page(timeline, svg)


def _scale(timeline: Timeline) -> tuple[_Scale, bool]:
    starts = [a.start_us for a in timeline.attempts] + [w.start_us for w in timeline.waits]
    ends = [a.end_us for a in timeline.attempts] + [w.end_us for w in timeline.waits]
    first = min(starts, default=0)
    last = max(ends, default=first)
    if timeline.lock_wait is None:
        return _Scale(first, 0.0, _CHART_W / max(1, last - first)), False
    begun, locked = timeline.lock_wait
    first = min(first, locked) if starts else locked
    last = max(last, locked)
    if locked - begun <= (last - first) / 4:
        return _Scale(begun, 0.0, _CHART_W / max(1, last - begun)), False
    # A long wait would squeeze the builds into a sliver: it gets a band of its own instead.
    return _Scale(
        first, float(_LOCK_BAND_W), (_CHART_W - _LOCK_BAND_W) / max(1, last - first)
    ), True


def _axis(scale: _Scale, timeline: Timeline, top: int, bottom: int, lock_band: bool) -> list[str]:
    # 0 is when the run could start building: the lock held, or the script's start.
    origin = scale.origin_us
    if timeline.lock_wait is not None and not lock_band:
        origin = timeline.lock_wait[1]
    right_us = scale.origin_us + (_CHART_W - scale.offset) / scale.per_us
    span_s = max(0.001, (right_us - origin) / 1e6)
    step = _tick_step(span_s)
    parts = [
        f'<line class="axis" x1="{_LABEL_W}" y1="{bottom + 2}" x2="{_LABEL_W + _CHART_W}" '
        f'y2="{bottom + 2}"/>'
    ]
    tick = 0.0
    while tick <= span_s + 1e-9:
        x = scale.x(origin + round(tick * 1e6))
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom + 6}"/>'
            f'<text class="tick" x="{x:.1f}" y="{bottom + 18}">{_e(_clock(tick, step))}</text>'
        )
        tick += step
    if lock_band and timeline.lock_wait is not None:
        waited = (timeline.lock_wait[1] - timeline.lock_wait[0]) / 1e6
        parts.append(
            f'<text class="tick" x="{_LABEL_W + _LOCK_BAND_W / 2:.1f}" y="{bottom + 18}">'
            f"{_e(f'≈ {seconds(waited)}')}</text>"
        )
    return parts


def _tick_step(span_s: float) -> float:
    """A round step that gives 5 to 12 ticks."""
    raw = span_s / 8
    magnitude = 10 ** math.floor(math.log10(raw))
    for nice in (1, 2, 5, 10):
        if raw <= nice * magnitude:
            step = nice * magnitude
            break
    for minute_step in (60, 120, 300, 600, 900, 1800, 3600):
        if step > 30 and step <= minute_step:
            return float(minute_step)
    return float(step)


def _clock(offset_s: float, step: float) -> str:
    if step < 1:
        return f"{offset_s:.3g}s" if offset_s else "0s"
    whole = round(offset_s)
    if step < 60 and whole < 600:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _critical_links(
    chain: Sequence[str], bars: Mapping[str, tuple[float, float, float]]
) -> list[str]:
    links = []
    for parent, child in itertools.pairwise(chain):
        if parent in bars and child in bars:
            _, x_end, y_parent = bars[parent]
            x_start, _, y_child = bars[child]
            links.append(
                f'<path class="critical-link" d="M{x_end:.1f},{y_parent:.1f} '
                f'L{x_start:.1f},{y_child:.1f}"/>'
            )
    return links


def _stack_waits(waits: Sequence[GroupWait]) -> list[tuple[str, list[tuple[int, GroupWait]]]]:
    """Per group, each wait on the lowest level where it overlaps no other."""
    groups: dict[str, list[tuple[int, GroupWait]]] = {}
    for wait in waits:
        stacked = groups.setdefault(wait.group, [])
        ends: dict[int, int] = {}
        for level, other in stacked:
            ends[level] = max(ends.get(level, 0), other.end_us)
        level = next((lv for lv in sorted(ends) if ends[lv] <= wait.start_us), len(ends))
        stacked.append((level, wait))
    return sorted(groups.items())


def _lane_key(lane: tuple[str, int]) -> tuple[int, str, int]:
    host, slot = lane
    return (0 if host == THIS_MACHINE else 1, host, slot)


def _lane_name(host: str, slot: int, several_hosts: bool) -> str:
    if not several_hosts:
        return f"slot {slot}"
    return f"{'this machine' if host == THIS_MACHINE else host} · slot {slot}"


def _row_label(y: int, text: str) -> str:
    return f'<text class="lane" x="{_LABEL_W - 8}" y="{y + 15}">{_e(text)}</text>'


def _fit(text: str, width: float) -> str:
    """As much of ``text`` as fits in ``width`` pixels of the bar font (about 6.2 px a char)."""
    chars = max(1, int(width / 6.2))
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 24px; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 8px 0 6px; }
p.summary { margin: 4px 0 14px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
            vertical-align: -1px; margin-right: 4px; }
svg { display: block; margin: 10px 0 18px; }
svg text { font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; fill: #1f2328; }
svg text.lane { text-anchor: end; font: 12px system-ui, sans-serif; fill: #57606a; }
svg text.tick { text-anchor: middle; fill: #57606a; }
svg .bar text { fill: #fff; pointer-events: none; }
svg .bar.retried text, svg .bar.unreachable text { fill: #1f2328; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .critical rect { stroke: #1f2328; stroke-width: 2.5; }
svg .critical-link { stroke: #1f2328; stroke-width: 1.5; stroke-dasharray: 3 2; fill: none; }
svg .group-wait { fill: WAIT; }
svg .lock-wait { fill: LOCK; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eaeef2; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
"""


def _page(timeline: Timeline, svg: str) -> str:
    colours = "".join(
        f"svg .bar.{name} rect {{ fill: {colour}; }}\n" for name, colour in _COLOURS.items()
    )
    css = _CSS.replace("WAIT", _WAIT_COLOUR).replace("LOCK", _LOCK_COLOUR) + colours
    used = {a.outcome for a in timeline.attempts}
    legend = [
        f'<span><i style="background:{_COLOURS[name]}"></i>{name}</span>'
        for name in OUTCOMES
        if name in used
    ]
    if timeline.critical:
        legend.append(
            '<span><i style="background:#fff;border:2.5px solid #1f2328;width:8px;height:8px">'
            "</i>critical path</span>"
        )
    if timeline.waits:
        legend.append(f'<span><i style="background:{_WAIT_COLOUR}"></i>waiting for a group</span>')
    if timeline.lock_wait:
        legend.append(
            f'<span><i style="background:{_LOCK_COLOUR}"></i>waiting for the pipeline lock</span>'
        )
    ratio = timeline.makespan_s / timeline.bound_s if timeline.bound_s > 0 else None
    summary = (
        f"makespan {seconds(timeline.makespan_s)}; lower bound {seconds(timeline.bound_s)} = "
        f"max(critical path {seconds(timeline.critical_s)}, work {seconds(timeline.work_s)} / "
        f"{timeline.slots} slot{'s' if timeline.slots != 1 else ''} = "
        f"{seconds(timeline.work_s / max(1, timeline.slots))})"
        + (f"; {ratio:.2f} times the bound" if ratio is not None else "")
    )
    if timeline.lock_wait is not None:
        waited = (timeline.lock_wait[1] - timeline.lock_wait[0]) / 1e6
        summary += f"; waited {seconds(waited)} for the pipeline lock first"
    path = " → ".join(timeline.critical) if timeline.critical else "none"
    unstarted = ""
    if timeline.unstarted:
        rows = "".join(
            f'<tr data-job="{_e(job.id)}"><td class="id">{_e(job.id)}</td><td>{_e(job.state)}</td>'
            f"<td>{_e(job.reason or '')}</td></tr>"
            for job in timeline.unstarted
        )
        unstarted = (
            f"<h2>Jobs that did not run ({len(timeline.unstarted)})</h2>"
            f"<table><tr><th>job</th><th>state</th><th>why</th></tr>{rows}</table>"
        )
    title = f"pargen run {timeline.run_id}: {timeline.outcome}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n"
        f'<p class="summary">{_e(summary)}<br>critical path (the longest chain of jobs that '
        f"wait for each other): {_e(path)}</p>\n"
        f'<div class="legend">{"".join(legend)}</div>\n'
        f"{svg}\n{unstarted}\n</body>\n</html>\n"
    )
