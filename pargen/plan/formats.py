"""The plan as people (table), programs (json), Graphviz (dot) and Mermaid read it."""

from __future__ import annotations

import json
from typing import Any

from pargen.plan.jobs import Job, Plan, Unchanged


def plan_dict(plan: Plan) -> dict[str, Any]:
    """The ``plan --format json`` document (contract.md), also saved as ``plan.json`` of a run.

    ``selected_because`` (per job) and ``unchanged`` are there only with --changed-since or
    --skip-unchanged.
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
        if job.id in plan.selected_because:
            entry["selected_because"] = plan.selected_because[job.id]
        jobs.append(entry)
    document: dict[str, Any] = {"root": plan.root, "jobs": jobs}
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


def as_json(plan: Plan) -> str:
    return json.dumps(plan_dict(plan), indent=2, ensure_ascii=False) + "\n"


def as_table(plan: Plan) -> str:
    """One block per template: what it waits for, then its jobs with their -only values."""
    if not plan.jobs:
        why = f": {nothing_planned(plan)}" if plan.unchanged or plan.changed_since else ""
        return f"no jobs planned under {plan.root}{why}\n" + _unchanged(plan)
    templates: dict[str, list[Job]] = {}
    for job in plan.jobs:
        templates.setdefault(job.template, []).append(job)
    template_of = {job.id: job.template for job in plan.jobs}
    because = plan.selected_because
    lines: list[str] = []
    for template, jobs in templates.items():
        waits = sorted({template_of[a] for a in jobs[0].after})
        count = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
        after = f", after {', '.join(waits)}" if waits else ""
        # One reason for the template when its jobs share it, else one per job.
        reasons = {because.get(j.id, "") for j in jobs}
        shared = reasons.pop() if len(reasons) == 1 else ""
        lines.append(f"{template}  ({count}{after})  {shared}".rstrip())
        width = max(len(j.id) for j in jobs)
        for job in jobs:
            only = f"  -only={job.only}" if job.only != job.name else ""
            why = f"  {because.get(job.id, '')}" if not shared else ""
            lines.append(f"  {job.id.ljust(width)}{only}{why}".rstrip())
    total = len(plan.jobs)
    lines.append(f"{total} job{'s' if total != 1 else ''} in {len(templates)} template(s)")
    return "\n".join(lines) + "\n" + _unchanged(plan)


def _unchanged(plan: Plan) -> str:
    if not plan.unchanged:
        return ""
    width = max(len(u.id) for u in plan.unchanged)
    lines = [f"not planned, unchanged ({len(plan.unchanged)}):"]
    lines += [f"  {u.id.ljust(width)}  {unchanged_reason(u)}" for u in plan.unchanged]
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_dot(plan: Plan) -> str:
    """Jobs clustered by template; an edge from each job to the jobs waiting for it."""
    lines = ["digraph pargen {", "  rankdir=LR;", "  node [shape=box];"]
    templates: dict[str, list[Job]] = {}
    for job in plan.jobs:
        templates.setdefault(job.template, []).append(job)
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


def as_mermaid(plan: Plan) -> str:
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


FORMATTERS = {"table": as_table, "json": as_json, "dot": as_dot, "mermaid": as_mermaid}
