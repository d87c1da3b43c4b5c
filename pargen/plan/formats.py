"""The plan as people (table), programs (json), Graphviz (dot) and Mermaid read it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pargen.config import RunSettings
from pargen.plan.graph import Edge
from pargen.plan.groups import job_group, limits_summary
from pargen.plan.jobs import Job, Plan, PlannedTemplate, Unchanged


def plan_dict(plan: Plan, settings: RunSettings | None = None) -> dict[str, Any]:
    """The ``plan --format json`` document (contract.md), also saved as ``plan.json`` of a run.

    ``selected_because`` (per job) and ``unchanged`` are there only with --changed-since or
    --skip-unchanged; ``var_file`` only for a build matrix, ``group`` only with ``settings``
    and a group.
    """
    jobs: list[dict[str, Any]] = []
    for job in plan.jobs:
        entry: dict[str, Any] = {
            "id": job.id,
            "template": job.template,
            "name": job.name,
            "only": job.only,
            "after": list(job.after),
            "source_type": job.source_type,
            "workdir": job.workdir,
            "target": job.target,
        }
        if job.var_file is not None:
            entry["var_file"] = job.var_file
        group = job_group(job, settings) if settings is not None else None
        if group is not None:
            entry["group"] = group.name
        if job.id in plan.selected_because:
            entry["selected_because"] = plan.selected_because[job.id]
        jobs.append(entry)
    document: dict[str, Any] = {
        "root": plan.root,
        "jobs": jobs,
        "templates": [_template_dict(t) for t in plan.templates],
    }
    if plan.unchanged:
        document["unchanged"] = [
            {
                "id": u.id,
                "template": u.template,
                "name": u.name,
                "reason": unchanged_reason(u),
            }
            for u in plan.unchanged
        ]
    return document


def _template_dict(template: PlannedTemplate) -> dict[str, Any]:
    return {
        "template": template.template,
        "var_file": template.var_file,
        "jobs": template.jobs,
        "after": [{"template": e.parent, "because": e.why} for e in template.after],
    }


def unused_summary(plan: Plan) -> str:
    """One line for every source no build uses: variables often choose them."""
    count = len(plan.unused_sources)
    files = len({u.path for u in plan.unused_sources})
    blocks = "1 source block is" if count == 1 else f"{count} source blocks are"
    return (
        f"{blocks} not used by any build (in {files} file{'s' if files != 1 else ''}, with "
        "these variables); pargen plan --unused-sources lists them"
    )


def unchanged_reason(job: Unchanged) -> str:
    return f"unchanged since {job.built_at}"


def nothing_planned(plan: Plan) -> str:
    """Why the plan has no jobs, in words."""
    if plan.unchanged:
        count = len(plan.unchanged)
        return f"all {count} selected job(s) unchanged since their last build here"
    if plan.changed_since is not None:
        return f"no template changed since {plan.changed_since}"
    return "the plan has no jobs"


def as_json(plan: Plan, settings: RunSettings | None = None) -> str:
    return json.dumps(plan_dict(plan, settings), indent=2, ensure_ascii=False) + "\n"


def as_table(plan: Plan, settings: RunSettings | None = None) -> str:
    """One block per template (per var file of a build matrix): what it waits for and why,
    then its jobs with their -only values and groups; then the templates with no builds and,
    with ``settings``, the limits."""
    empty = [t for t in plan.templates if t.jobs == 0]
    if not plan.jobs:
        why = f": {nothing_planned(plan)}" if plan.unchanged or plan.changed_since else ""
        nothing = [f"no jobs planned under {plan.root}{why}", *map(_no_builds, empty)]
        return "\n".join(nothing) + "\n" + _unchanged(plan)
    templates: dict[str, list[Job]] = {}
    for job in plan.jobs:
        templates.setdefault(job.variant, []).append(job)
    planned = {t.key: t for t in plan.templates}
    because = plan.selected_because
    group_of = _groups(plan, settings)
    lines: list[str] = []
    for key, jobs in templates.items():
        count = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
        edges = planned[key].after if key in planned else ()
        after = f", after {_waits(edges)}" if edges else ""
        # One reason for the template when its jobs share it, else one per job.
        reasons = {because.get(j.id, "") for j in jobs}
        shared = reasons.pop() if len(reasons) == 1 else ""
        lines.append(f"{key}  ({count}{after})  {shared}".rstrip())
        width = max(len(j.id) for j in jobs)
        for job in jobs:
            only = f"  -only={job.only}" if job.only != job.name else ""
            group = f"  group {group_of[job.id]}" if job.id in group_of else ""
            why = f"  {because.get(job.id, '')}" if not shared else ""
            lines.append(f"  {job.id.ljust(width)}{only}{group}{why}".rstrip())
    lines += map(_no_builds, empty)
    total = len(plan.jobs)
    paths = len({t.template for t in plan.templates if t.key in templates})
    summary = f"{total} job{'s' if total != 1 else ''} in {paths} template(s)"
    if len(templates) != paths:
        summary += f", {len(templates)} with their matrix var files"
    lines.append(summary)
    if settings is not None:
        groups = {g.key: g for j in plan.jobs if (g := job_group(j, settings)) is not None}
        named = [(g.name, g.limit) for g in groups.values()]
        lines.append(f"limits: {limits_summary(settings, named)}")
    return "\n".join(lines) + "\n" + _unchanged(plan)


def _waits(edges: tuple[Edge, ...]) -> str:
    """``base (nested directory), golden (HCP Packer bucket "golden")``: each template once."""
    why: dict[str, list[str]] = {}
    for edge in edges:
        why.setdefault(edge.parent, []).append(edge.why)
    return ", ".join(f"{parent} ({'; '.join(reasons)})" for parent, reasons in why.items())


def _no_builds(template: PlannedTemplate) -> str:
    return f"{template.key}  (no builds)"


def _groups(plan: Plan, settings: RunSettings | None) -> dict[str, str]:
    if settings is None:
        return {}
    return {j.id: g.name for j in plan.jobs if (g := job_group(j, settings)) is not None}


def _unchanged(plan: Plan) -> str:
    if not plan.unchanged:
        return ""
    width = max(len(u.id) for u in plan.unchanged)
    lines = [f"not planned, unchanged ({len(plan.unchanged)}):"]
    lines += [f"  {u.id.ljust(width)}  {unchanged_reason(u)}" for u in plan.unchanged]
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_dot(plan: Plan, settings: RunSettings | None = None) -> str:
    """Jobs clustered by template (and matrix var file); an edge from each job to the jobs
    waiting for it."""
    lines = ["digraph pargen {", "  rankdir=LR;", "  node [shape=box];"]
    templates: dict[str, list[Job]] = {}
    for job in plan.jobs:
        templates.setdefault(job.variant, []).append(job)
    for index, (template, jobs) in enumerate(templates.items()):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_quote(template)};")
        lines.extend(f"    {_dot_quote(j.id)} [label={_dot_quote(j.name)}];" for j in jobs)
        lines.append("  }")
    for job in plan.jobs:
        lines.extend(f"  {_dot_quote(a)} -> {_dot_quote(job.id)};" for a in job.after)
    lines.append("}")
    return "\n".join(lines) + "\n"


# Characters a quoted Mermaid label cannot show as they are: a quote ends the label, a
# backquote starts Markdown, angle brackets are taken for HTML. (Mermaid's "#quot;" entity
# codes are not decoded by every renderer: a look-alike is safer.)
_MERMAID_LOOKALIKES = str.maketrans({'"': "'", "`": "'", "<": "\u2039", ">": "\u203a"})


def mermaid_label(text: str) -> str:
    """``text`` as a quoted Mermaid label."""
    shown = "".join(c if c.isprintable() else " " for c in text)
    return '"' + shown.translate(_MERMAID_LOOKALIKES) + '"'


def as_mermaid(plan: Plan, settings: RunSettings | None = None) -> str:
    """A Mermaid flowchart: one box per template holding its jobs, an arrow for each wait.

    When every job of a template waits for every job of another (the nesting rule), one arrow
    joins the two boxes; finer waits are drawn job to job. Ids are generated, so no name can
    break the syntax; GitHub and GitLab render it in Markdown.
    """
    lines = ["flowchart LR"]
    templates: dict[str, list[Job]] = {}
    for job in plan.jobs:
        templates.setdefault(job.template, []).append(job)
    box = {template: f"t{i}" for i, template in enumerate(templates, start=1)}
    node = {job.id: f"j{i}" for i, job in enumerate(plan.jobs, start=1)}
    template_of = {job.id: job.template for job in plan.jobs}
    for template, jobs in templates.items():
        lines.append(f"  subgraph {box[template]}[{mermaid_label(template)}]")
        lines.extend(f"    {node[j.id]}[{mermaid_label(j.name)}]" for j in jobs)
        lines.append("  end")
    waits: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for job in plan.jobs:
        for parent in job.after:
            if parent in template_of:
                pair = (template_of[parent], job.template)
                waits.setdefault(pair, set()).add((parent, job.id))
    for (parent_template, child_template), edges in waits.items():
        whole = len(templates[parent_template]) * len(templates[child_template])
        if len(edges) == whole:
            lines.append(f"  {box[parent_template]} --> {box[child_template]}")
        else:
            lines.extend(f"  {node[a]} --> {node[b]}" for a, b in sorted(edges))
    return "\n".join(lines) + "\n"


FORMATTERS: dict[str, Callable[[Plan, RunSettings | None], str]] = {
    "table": as_table,
    "json": as_json,
    "dot": as_dot,
    "mermaid": as_mermaid,
}
