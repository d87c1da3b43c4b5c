"""Turn parsed templates into the flat, ordered job list: one job per (template, full name),
and per var file for a template of a build matrix."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pargen.config import PlanOptions
from pargen.errors import PargenError, Problem, ProblemsError
from pargen.packer.parse import (
    Bucket,
    Build,
    ParsedTemplate,
    TemplateSource,
    VarInputs,
    discover_tree,
    only_pattern,
    parse_all,
)
from pargen.plan.changes import changed_paths, changed_templates, select_changed
from pargen.plan.graph import Edge, Node, check_cycles, edges, names, ordered, parents
from pargen.plan.ids import job_id, variant_key
from pargen.plan.inputs import Built, InputHashes, input_hashes, read_built
from pargen.plan.outputs import collisions
from pargen.plan.reading import readings
from pargen.plan.var_check import untaken_vars


@dataclass(frozen=True)
class Job:
    id: str
    template: str
    """Template path relative to ROOT ('.' for ROOT itself; a file's path for a file template)."""
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
    """Path argument of ``packer build`` ('.' or a file name)."""
    needs_init: bool
    vars: tuple[tuple[str, str], ...]
    """The ``-var`` values this template takes: those it declares (HCL2 rejects others), or
    every one (a legacy template)."""
    var_file: str | None = None
    """The build matrix var file it is built with, relative to ROOT (None: no matrix)."""
    output_dir: str | None = None
    """The local directory its builder writes, relative to ROOT, when pargen knows it."""

    @property
    def variant(self) -> str:
        """Its template, with the matrix var file: the part of its id before the name."""
        return variant_key(self.template, self.var_file)


@dataclass(frozen=True)
class Unchanged:
    """A job ``--skip-unchanged`` left out: its inputs are those of its last build here."""

    id: str
    template: str
    name: str
    built_at: str
    """When that build ended (UTC, ISO 8601)."""


@dataclass(frozen=True)
class PlannedTemplate:
    """A template of the plan (one per var file of a build matrix), and what it waits for."""

    key: str
    """The template's path, or ``<path>@<var file>``: the id prefix of its jobs."""
    template: str
    var_file: str | None
    jobs: int
    """Its planned jobs; 0 for a template with no builds."""
    after: tuple[Edge, ...] = ()
    """The planned templates it waits for, and why."""


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
    templates: tuple[PlannedTemplate, ...] = ()
    """The templates of ``jobs`` in plan order, then the templates with no builds."""
    notes: tuple[Problem, ...] = ()
    """What is worth knowing and not wrong: directories read one template per file."""
    unused_sources: tuple[Problem, ...] = ()
    """Source blocks no build uses, whatever var file of its matrix a template is read with."""


def make_plan(
    root: str, options: PlanOptions, env: Mapping[str, str], *, hash_inputs: bool = False
) -> Plan:
    """Discover, parse and order the tree at ``root``; every problem is raised in one pass.

    ``hash_inputs`` computes every job's input hash even without ``--skip-unchanged``.
    """
    root_path = Path(root)
    found = discover_tree(root_path, options.exclude)
    sources, problems = found.templates, found.problems
    if (
        not sources
        and not problems
        and not (options.exclude and discover_tree(root_path).templates)
    ):
        raise PargenError(
            f"no Packer template under {root}: no *.pkr.hcl or *.pkr.json file, and no legacy "
            'JSON template (a *.json file with a "builders" list), in it or below it; '
            "give the directory that holds the templates"
        )
    inputs = VarInputs(
        var_files=options.var_files,
        vars=options.vars,
        env={k: v for k, v in env.items() if k.startswith("PKR_VAR_")},
    )
    parsed: list[ParsedTemplate] = []
    notes: list[Problem] = []
    # Without a selection every job is planned: --max-jobs can stop reading as builds are made.
    narrowed = bool(
        options.only or options.except_ or options.changed_since or options.skip_unchanged
    )
    limit = None if narrowed else options.max_jobs
    try:
        tree = parse_all(sources, root_path, inputs, readings(sources, options), max_builds=limit)
        parsed, notes = tree.templates, tree.notes
    except ProblemsError as err:
        problems.extend(err.problems)
    if problems:
        raise ProblemsError(_from_here(root, p) for p in problems)
    try:
        jobs = _jobs(parsed, options, root_path, limit)
    except ProblemsError as err:
        raise ProblemsError(_from_here(root, p) for p in err.problems) from None
    nodes = _nodes(parsed, jobs, root)
    hierarchy = edges(nodes, options.templates)
    check_cycles(nodes, hierarchy)
    every_job = jobs
    parent_of = parents(hierarchy)
    reasons: dict[str, str] = {}
    if options.changed_since is not None:
        changed = changed_templates(
            root_path,
            [(n.key, t.source, t.var_file) for n, t in zip(nodes, parsed, strict=True)],
            options.var_files,
            changed_paths(root_path, options.changed_since),
        )
        selected = select_changed(changed, [n.key for n in nodes], parent_of)
        jobs = [j for j in jobs if j.variant in selected]
        reasons = {j.id: selected[j.variant] for j in jobs}
    jobs = _select(jobs, options.only, options.except_)
    hashes = None
    unchanged: list[Unchanged] = []
    if options.skip_unchanged or hash_inputs:
        by_key = {n.key: t for n, t in zip(nodes, parsed, strict=True)}
        hashes = input_hashes(by_key, every_job, parent_of, options.var_files, env)
    if options.skip_unchanged and hashes is not None:
        jobs, unchanged = _changed_inputs(jobs, hashes, read_built(root_path), reasons)
    untaken, var_warnings = untaken_vars(
        (name for name, _ in options.vars), parsed, {j.template for j in jobs}
    )
    if jobs and untaken:
        raise ProblemsError(untaken)
    if options.max_jobs is not None and len(jobs) > options.max_jobs:
        raise _too_many(f"the plan has {len(jobs)} jobs", options.max_jobs)
    clashes = collisions(jobs, {j.id: b for j, b in _builds_of(every_job, parsed, root_path)})
    if clashes:
        raise ProblemsError(_from_here(root, p) for p in clashes)
    jobs, planned = _order(jobs, nodes, options)
    warnings = [_from_here(root, w) for template in parsed for w in template.warnings]
    warnings += _pattern_warnings(options, nodes, found.unmatched)
    if jobs:
        warnings += var_warnings
    return Plan(
        root=root,
        jobs=tuple(jobs),
        var_files=options.var_files,
        warnings=tuple(warnings),
        selected_because={j.id: reasons[j.id] for j in jobs if j.id in reasons},
        unchanged=tuple(unchanged),
        changed_since=options.changed_since,
        inputs=hashes,
        templates=tuple(planned),
        notes=tuple(_from_here(root, n) for n in notes),
        unused_sources=tuple(_from_here(root, u) for u in unused_sources(parsed)),
    )


def _nodes(parsed: Sequence[ParsedTemplate], jobs: Sequence[Job], root: str) -> list[Node]:
    """One node per template read (per var file of a build matrix), in the order of ``parsed``."""
    with_jobs = {j.variant for j in jobs}
    nodes = []
    for template in parsed:
        source = template.source
        var_file = _relative_var_file(template.var_file, Path(root))
        key = variant_key(source.rel, var_file)
        nodes.append(
            Node(
                key=key,
                template=source.rel,
                var_file=var_file,
                is_directory=source.target == ".",
                workdir=source.workdir,
                has_jobs=key in with_jobs,
                publishes=template.publishes,
                # Named from here: a cycle through a bucket is reported where it is read.
                reads=tuple(_bucket_from_here(root, b) for b in template.reads),
            )
        )
    return nodes


def _bucket_from_here(root: str, bucket: Bucket) -> Bucket:
    where = _from_here(root, Problem(bucket.path, bucket.line, bucket.col, ""))
    return replace(bucket, path=where.path)


def _relative_var_file(var_file: str | None, root: Path) -> str | None:
    if var_file is None:
        return None
    return Path(os.path.relpath(var_file, root.absolute())).as_posix()


def _builds_of(
    jobs: Iterable[Job], parsed: Iterable[ParsedTemplate], root: Path
) -> Iterable[tuple[Job, Build]]:
    """Each job with the first build of its name (where its source is used)."""
    first: dict[tuple[str, str], Build] = {}
    for template in parsed:
        key = variant_key(template.source.rel, _relative_var_file(template.var_file, root))
        for build in template.builds:
            first.setdefault((key, build.name), build)
    return ((job, first[(job.variant, job.name)]) for job in jobs)


def unused_sources(parsed: Iterable[ParsedTemplate]) -> list[Problem]:
    """The sources unused by every reading of their template (a build matrix reads it once per
    var file, and variables often choose the sources)."""
    readings_of: dict[str, list[set[Problem]]] = {}
    for template in parsed:
        readings_of.setdefault(template.source.rel, []).append(set(template.unused_sources))
    return sorted(p for each in readings_of.values() for p in set.intersection(*each))


def _pattern_warnings(
    options: PlanOptions, nodes: Sequence[Node], unmatched_excludes: Iterable[str]
) -> list[Problem]:
    """Patterns that name nothing: a typo there changes what is built without a word."""
    warnings = [
        Problem(
            "--exclude",
            0,
            0,
            f"{pattern!r} names no directory or template file; exclude patterns are paths "
            "relative to ROOT, or file and directory names",
        )
        for pattern in unmatched_excludes
    ]
    for rule in options.templates:
        place = (rule.path, rule.line, rule.col)
        if not any(names(rule.pattern, n) for n in nodes):
            message = f"template {rule.pattern!r} names no template (paths are relative to ROOT)"
            warnings.append(Problem(*place, message))
        for pattern in rule.after:
            if not any(names(pattern, n) for n in nodes):
                message = f"after {pattern!r} names no template (paths are relative to ROOT)"
                warnings.append(Problem(*place, message))
    return warnings


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


def _jobs(
    parsed: Iterable[ParsedTemplate], options: PlanOptions, root: Path, limit: int | None
) -> list[Job]:
    """Every job of every template; ``limit``: stop as soon as there are more."""
    problems: list[Problem] = []
    jobs: list[Job] = []
    for template in parsed:
        source = template.source
        var_file = _relative_var_file(template.var_file, root)
        names_left: dict[str, str] = {}
        for build in template.builds:
            names_left.setdefault(build.name, build.source_type)
        # Only a name with a comma can select another one: compared within its length only,
        # so planning stays linear in the number of builds.
        by_length: dict[int, list[str]] = {}
        if source.kind == "hcl" and any("," in name for name in names_left):
            for name in names_left:
                by_length.setdefault(len(name), []).append(name)
        for build in template.builds:
            if names_left.pop(build.name, None) is None:
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
            jobs.append(_job(source, template, build, var_file, options))
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
    build: Build,
    var_file: str | None,
    options: PlanOptions,
) -> Job:
    # Packer rejects a -var an HCL2 template does not declare; a legacy template takes every
    # one as a user variable, declared or not.
    declared = [
        (k, v) for k, v in options.vars if source.kind == "legacy" or k in template.variables
    ]
    return Job(
        id=job_id(variant_key(source.rel, var_file), build.name),
        template=source.rel,
        name=build.name,
        # Legacy JSON templates match -only exactly; HCL2 compiles it as a glob.
        only=build.name if source.kind == "legacy" else only_pattern(build.name),
        after=(),
        source_type=build.source_type,
        workdir=source.workdir,
        target=source.target,
        needs_init=template.required_plugins,
        vars=tuple(declared),
        var_file=var_file,
        output_dir=build.output_dir,
    )


def _matches(job: Job, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(job.id, p) or fnmatch.fnmatchcase(job.name, p) for p in patterns)


def _select(jobs: list[Job], only: tuple[str, ...], except_: tuple[str, ...]) -> list[Job]:
    if only:
        jobs = [j for j in jobs if _matches(j, only)]
    if except_:
        jobs = [j for j in jobs if not _matches(j, except_)]
    return jobs


def _order(
    jobs: list[Job], nodes: Sequence[Node], options: PlanOptions
) -> tuple[list[Job], list[PlannedTemplate]]:
    """The jobs, each waiting for the jobs it must among the selected ones, parents first; and
    their templates in that order, then the templates with no builds.

    The hierarchy is that of the selected jobs: a child whose parent is left out waits for
    the nearest selected directory template above, or for nothing.
    """
    by_variant: dict[str, list[Job]] = {}
    for job in jobs:
        by_variant.setdefault(job.variant, []).append(job)
    selected = [n for n in nodes if n.key in by_variant]
    selected = [replace(n, has_jobs=True) for n in selected]
    waits = edges(selected, options.templates, nesting=not options.flat)
    waited = parents(waits)
    ordered_jobs: list[Job] = []
    planned: list[PlannedTemplate] = []
    for node in ordered(selected, waits):
        after = tuple(j.id for parent in waited[node.key] for j in by_variant[parent])
        ordered_jobs.extend(replace(j, after=after) for j in by_variant[node.key])
        count = len(by_variant[node.key])
        planned.append(
            PlannedTemplate(node.key, node.template, node.var_file, count, tuple(waits[node.key]))
        )
    planned += [
        PlannedTemplate(n.key, n.template, n.var_file, 0)
        for n in sorted(nodes, key=Node.sort_key)
        if not n.has_jobs
    ]
    return ordered_jobs, planned
