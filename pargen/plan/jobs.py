"""Turn parsed templates into the flat, ordered job list: one job per (template, full name)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pargen.config import PlanOptions
from pargen.errors import PargenError, Problem, ProblemsError
from pargen.packer.parse import (
    ParsedTemplate,
    TemplateSource,
    VarInputs,
    discover,
    only_pattern,
    parse_all,
    posix_parent,
)
from pargen.plan.changes import changed_paths, changed_templates, select_changed
from pargen.plan.ids import job_id
from pargen.plan.inputs import Built, InputHashes, input_hashes, read_built
from pargen.plan.var_check import untaken_vars


@dataclass(frozen=True)
class Job:
    id: str
    template: str
    """Template path relative to ROOT ('.' for ROOT itself)."""
    name: str
    """Packer's full build name."""
    only: str
    """The exact ``-only`` value given to Packer."""
    after: tuple[str, ...]
    """Ids of the jobs that must succeed first."""
    source_type: str
    workdir: str
    """Directory Packer runs from, relative to ROOT."""
    target: str
    """Path argument of ``packer build`` ('.' or a legacy template's file name)."""
    needs_init: bool
    vars: tuple[tuple[str, str], ...]
    """The ``-var`` values this template takes: those it declares (HCL2 rejects others), or
    every one (a legacy template)."""


@dataclass(frozen=True)
class Unchanged:
    """A job ``--skip-unchanged`` left out: its inputs are those of its last build here."""

    id: str
    template: str
    name: str
    built_at: str
    """When that build ended (UTC, ISO 8601)."""


@dataclass(frozen=True)
class Plan:
    root: str
    """ROOT as given."""
    jobs: tuple[Job, ...]
    """Every job after the jobs in its ``after``."""
    var_files: tuple[str, ...]
    """Absolute paths of ``-var-file`` arguments, passed to every job."""
    warnings: tuple[Problem, ...] = ()
    selected_because: Mapping[str, str] = field(default_factory=dict)
    """Job id -> why it is planned, with --changed-since or --skip-unchanged; else empty."""
    unchanged: tuple[Unchanged, ...] = ()
    changed_since: str | None = None
    inputs: InputHashes | None = None
    """Input hashes of every job of the tree, when asked for (exec records them)."""


def make_plan(
    root: str, options: PlanOptions, env: Mapping[str, str], *, hash_inputs: bool = False
) -> Plan:
    """Discover, parse and order the tree at ``root``; every problem is raised in one pass.

    ``hash_inputs`` computes every job's input hash even without ``--skip-unchanged``.
    """
    root_path = Path(root)
    sources, problems = discover(root_path, options.exclude)
    inputs = VarInputs(
        var_files=options.var_files,
        vars=options.vars,
        env={k: v for k, v in env.items() if k.startswith("PKR_VAR_")},
    )
    # Without a selection every job is planned: --max-jobs can stop reading as builds are made.
    narrowed = bool(
        options.only or options.except_ or options.changed_since or options.skip_unchanged
    )
    limit = None if narrowed else options.max_jobs
    try:
        parsed = parse_all(sources, root_path, inputs, max_builds=limit)
    except ProblemsError as err:
        problems.extend(err.problems)
    if problems:
        raise ProblemsError(_from_here(root, p) for p in problems)
    try:
        jobs = _jobs(parsed, options, limit)
    except ProblemsError as err:
        raise ProblemsError(_from_here(root, p) for p in err.problems) from None
    every_job = jobs
    parent_of = _image_parents(jobs)
    reasons: dict[str, str] = {}
    if options.changed_since is not None:
        changed = changed_templates(
            root_path,
            sources,
            options.var_files,
            changed_paths(root_path, options.changed_since),
        )
        selected = select_changed(changed, list(parent_of), parent_of)
        jobs = [j for j in jobs if j.template in selected]
        reasons = {j.id: selected[j.template] for j in jobs}
    jobs = _select(jobs, options.only, options.except_)
    hashes = None
    unchanged: list[Unchanged] = []
    if options.skip_unchanged or hash_inputs:
        hashes = input_hashes(parsed, every_job, parent_of, options.var_files, env)
    if options.skip_unchanged and hashes is not None:
        jobs, unchanged = _changed_inputs(jobs, hashes, read_built(root_path), reasons)
    untaken, var_warnings = untaken_vars(
        (name for name, _ in options.vars), parsed, {j.template for j in jobs}
    )
    if jobs and untaken:
        raise ProblemsError(untaken)
    if options.max_jobs is not None and len(jobs) > options.max_jobs:
        raise _too_many(f"the plan has {len(jobs)} jobs", options.max_jobs)
    jobs = _order(jobs, flat=options.flat)
    warnings = tuple(_from_here(root, w) for template in parsed for w in template.warnings)
    if jobs:
        warnings += tuple(var_warnings)
    return Plan(
        root=root,
        jobs=tuple(jobs),
        var_files=options.var_files,
        warnings=warnings,
        selected_because={j.id: reasons[j.id] for j in jobs if j.id in reasons},
        unchanged=tuple(unchanged),
        changed_since=options.changed_since,
        inputs=hashes,
    )


def _image_parents(jobs: Iterable[Job]) -> dict[str, str | None]:
    """Template -> the template its images are built from, in path order (parents first).

    The same rule as ``after`` on the whole tree, before --flat, --only or --except.
    """
    templates = sorted({j.template for j in jobs}, key=_path_key)
    dir_templates = {j.template for j in jobs if j.target == "."}
    return {t: _nearest_ancestor(t, dir_templates) for t in templates}


def _changed_inputs(
    jobs: list[Job],
    inputs: InputHashes,
    built: Mapping[str, Built],
    reasons: dict[str, str],
) -> tuple[list[Job], list[Unchanged]]:
    """The jobs to build, with why added to ``reasons``, and those whose inputs are as built."""
    kept: list[Job] = []
    unchanged: list[Unchanged] = []
    for job in jobs:
        record = built.get(job.id)
        if record is not None and record.inputs == inputs.hashes[job.id]:
            unchanged.append(Unchanged(job.id, job.template, job.name, record.at))
            continue
        why = "never built here" if record is None else f"inputs changed since {record.at}"
        reasons[job.id] = f"{reasons[job.id]}; {why}" if job.id in reasons else why
        kept.append(job)
    return kept, unchanged


def _from_here(root: str, problem: Problem) -> Problem:
    """The problem's file as the user opens it from here: under ROOT as given."""
    if root in (".", "") or Path(problem.path).is_absolute():
        return problem
    path = os.path.normpath(Path(root) / problem.path)
    return Problem(path, problem.line, problem.col, problem.message)


def _too_many(what: str, limit: int) -> PargenError:
    return PargenError(
        f"{what}, more than --max-jobs {limit}; narrow it with --only/--except or raise the limit"
    )


def _jobs(parsed: Iterable[ParsedTemplate], options: PlanOptions, limit: int | None) -> list[Job]:
    """Every job of every template; ``limit``: stop as soon as there are more."""
    problems: list[Problem] = []
    jobs: list[Job] = []
    for template in parsed:
        source = template.source
        names: dict[str, str] = {}
        for build in template.builds:
            names.setdefault(build.name, build.source_type)
        # Only a name with a comma can select another one: compared within its length only,
        # so planning stays linear in the number of builds.
        by_length: dict[int, list[str]] = {}
        if source.kind == "hcl" and any("," in name for name in names):
            for name in names:
                by_length.setdefault(len(name), []).append(name)
        for build in template.builds:
            if names.pop(build.name, None) is None:
                continue  # several builds with one full name: -only selects them together
            clash = source.kind == "hcl" and _also_selected(
                build.name, by_length.get(len(build.name), [])
            )
            if clash:
                problems.append(
                    Problem(
                        build.path,
                        build.line,
                        build.col,
                        f"cannot select build {build.name!r} alone: a comma in its name is "
                        f"matched by any character, so {clash!r} would be built too; "
                        "rename one of them",
                    )
                )
            jobs.append(_job(source, template, build.name, build.source_type, options))
            if limit is not None and len(jobs) > limit:
                raise _too_many(f"planning stopped at {len(jobs)} jobs", limit)
    if problems:
        raise ProblemsError(problems)
    return jobs


def _also_selected(name: str, names: Iterable[str]) -> str | None:
    if "," not in name:
        return None
    for other in names:
        if (
            other != name
            and len(other) == len(name)
            and all(a in (b, ",") for a, b in zip(name, other, strict=True))
        ):
            return other
    return None


def _job(
    source: TemplateSource,
    template: ParsedTemplate,
    name: str,
    source_type: str,
    options: PlanOptions,
) -> Job:
    # Packer rejects a -var an HCL2 template does not declare; a legacy template takes every
    # one as a user variable, declared or not.
    declared = [
        (k, v) for k, v in options.vars if source.kind == "legacy" or k in template.variables
    ]
    return Job(
        id=job_id(source.rel, name),
        template=source.rel,
        name=name,
        # Legacy JSON templates match -only exactly; HCL2 compiles it as a glob.
        only=name if source.kind == "legacy" else only_pattern(name),
        after=(),
        source_type=source_type,
        workdir=source.workdir,
        target=source.target,
        needs_init=template.required_plugins,
        vars=tuple(declared),
    )


def _matches(job: Job, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(job.id, p) or fnmatch.fnmatchcase(job.name, p) for p in patterns)


def _select(jobs: list[Job], only: tuple[str, ...], except_: tuple[str, ...]) -> list[Job]:
    if only:
        jobs = [j for j in jobs if _matches(j, only)]
    if except_:
        jobs = [j for j in jobs if not _matches(j, except_)]
    return jobs


def _order(jobs: list[Job], *, flat: bool) -> list[Job]:
    """Parents before children; each template waits for its nearest ancestor with jobs."""
    by_template: dict[str, list[Job]] = {}
    for job in jobs:
        by_template.setdefault(job.template, []).append(job)
    dir_templates = {j.template for j in jobs if j.target == "."}
    ordered: list[Job] = []
    for template in sorted(by_template, key=_path_key):
        after: tuple[str, ...] = ()
        if not flat:
            ancestor = _nearest_ancestor(template, dir_templates)
            if ancestor is not None:
                after = tuple(j.id for j in by_template[ancestor])
        ordered.extend(_with_after(j, after) for j in by_template[template])
    return ordered


def _nearest_ancestor(template: str, dir_templates: set[str]) -> str | None:
    """The closest directory template above ``template`` (a legacy file's own directory counts)."""
    if template == ".":
        return None
    candidate = posix_parent(template)
    while candidate not in dir_templates:
        if candidate == ".":
            return None
        candidate = posix_parent(candidate)
    return candidate


def _with_after(job: Job, after: tuple[str, ...]) -> Job:
    return Job(**{**job.__dict__, "after": after})


def _path_key(rel: str) -> tuple[str, ...]:
    return () if rel == "." else tuple(rel.split("/"))
