"""Render the plan into the standalone bash script that runs it with GNU parallel."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from pargen import __version__
from pargen.config import RunSettings
from pargen.dotdir import GITIGNORE
from pargen.plan.formats import plan_dict
from pargen.plan.groups import job_group, limits_summary
from pargen.plan.ids import joblog_label, slug
from pargen.plan.jobs import Job, Plan
from pargen.tools import git

TEMPLATE = "run.sh.j2"
# Options whose values are paths, relative to the directory pargen was run in: written
# relative to the script's directory in its header, and to ROOT in the run's plan.json.
PATH_OPTIONS = frozenset({"--var-file", "--sshloginfile"})


@dataclass(frozen=True)
class ScriptJob:
    number: int
    id: str
    dir: str
    target: str
    only: str
    name: str
    log: str
    group: int
    after: str
    vars: tuple[str, ...]
    var_file: str
    """The job's build matrix var file, relative to ROOT when inside it; "" for none."""


@dataclass(frozen=True)
class ScriptGroup:
    number: int
    name: str
    limit: int


@dataclass(frozen=True)
class ScriptInit:
    dir: str
    target: str
    log: str


@dataclass(frozen=True)
class ScriptLocation:
    """Where the script will live, so that it can find the tree relative to itself."""

    directory: Path
    name: str


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pargen.templates", "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: shell_word(str(value))
    return env


_BACKSLASHES_BEFORE_QUOTE = re.compile(r"(\\+)'")


def shell_word(text: str) -> str:
    """``text`` as one shell word: ``shlex.quote``, with backslashes that would stand just
    before a closing quote written outside it, where shellcheck does not take them for an
    attempt to escape the quote (SC1003)."""
    quoted = shlex.quote(text)
    return _BACKSLASHES_BEFORE_QUOTE.sub(lambda m: "'" + m.group(1) * 2, quoted)


def render_script(
    plan: Plan,
    settings: RunSettings,
    location: ScriptLocation,
    command_args: Sequence[str] = (),
    durations: Mapping[str, float] | None = None,
) -> str:
    """The script text: the same inputs always give the same bytes (no time, no cwd).

    ``durations`` (seconds per job id, from earlier runs) orders ready jobs by the longest
    remaining path; without them every job counts as one unit.
    """
    root = Path(plan.root).resolve()
    root_from_script = Path(os.path.relpath(root, location.directory.resolve())).as_posix()
    groups, job_groups = _groups(plan.jobs, settings)
    jobs = _script_jobs(plan.jobs, job_groups, root)
    halt_when, halt_failures = _halt(settings.halt, len(jobs))
    words = [root_from_script, *paths_relative_to(command_args, location.directory)]
    plan_head, plan_tail = plan_json_parts(plan, command_args)
    context = {
        "version": __version__,
        "root_label": f"'{root_from_script}' (relative to this script)",
        "render_command": shlex.join(["pargen", "render", *words, "-o", location.name])
        + "   # in this script's directory",
        "check_command": shlex.join(["pargen", "check", *words, location.name]),
        "template_count": len({j.template for j in plan.jobs}),
        "limits_summary": limits_summary(settings, [(g.name, g.limit) for g in groups]),
        "pipeline_id": settings.pipeline_id or default_pipeline_id(root),
        "on_overlap": settings.on_overlap,
        "slots_spec": settings.jobs,
        "delay_us": round(settings.delay * 1_000_000),
        "grace_s": math.ceil(settings.grace),
        "halt_when": halt_when,
        "halt_failures": halt_failures,
        "attempts": settings.retries + 1,
        "timeout_us": round((settings.timeout or 0) * 1_000_000),
        "parallel_limits": _parallel_limits(settings),
        "root_from_script": root_from_script,
        "jobs": jobs,
        "ranks": start_ranks(plan.jobs, durations or {}),
        "ranks_from_history": bool(durations),
        "var_files": [_var_file(root, path) for path in plan.var_files],
        "groups": groups,
        "inits": _inits(plan.jobs),
        "sshlogins": settings.sshlogins,
        "sshloginfiles": [_var_file(root, path) for path in settings.sshloginfiles],
        "ssh": settings.ssh,
        "plan_json_head": plan_head,
        "plan_json_tail": plan_tail,
        "labels": [joblog_label(job.id) for job in plan.jobs],
        "pargen_dir_gitignore": GITIGNORE,
    }
    return _environment().get_template(TEMPLATE).render(context)


def paths_relative_to(words: Sequence[str], directory: Path) -> list[str]:
    """Command-line ``words`` with the values of PATH_OPTIONS, relative to the working
    directory, made relative to ``directory`` (absolute ones stay absolute)."""
    out = list(words)
    base = directory.resolve()
    for index in range(1, len(out)):
        if out[index - 1] in PATH_OPTIONS and not Path(out[index]).is_absolute():
            given = Path.cwd() / out[index]
            # The file itself may be a symlink: keep its name, resolve only where it lies.
            absolute = given.parent.resolve() / given.name
            out[index] = Path(os.path.relpath(absolute, base)).as_posix()
    return out


def plan_record(plan: Plan, command_args: Sequence[str]) -> dict[str, Any]:
    """A run's plan.json: ``plan --format json``'s document with ``root`` absolute, the
    ``var_files`` every job gets (relative to ROOT when inside it), and ``planned_with``, the
    options given on the command line (paths relative to ROOT), so that the tree can be
    planned again as it was (``pargen report`` does, for the input hashes of a script run).
    """
    root = Path(plan.root).resolve()
    return {
        **plan_dict(plan),
        "root": str(root),
        "var_files": [_var_file(root, path) for path in plan.var_files],
        "planned_with": paths_relative_to(command_args, root),
    }


def plan_json(plan: Plan, command_args: Sequence[str]) -> str:
    return json.dumps(plan_record(plan, command_args), indent=2, ensure_ascii=False) + "\n"


def plan_json_parts(plan: Plan, command_args: Sequence[str]) -> tuple[str, str]:
    """plan.json's text before and after the root's value: the script writes the tree's
    absolute path, known only when it runs, in between."""
    record = {**plan_record(plan, command_args), "root": ""}
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    head, marker, tail = text.partition('"root": ""')
    assert marker, "plan.json lost its root"
    return head + '"root": ', tail


def _script_jobs(jobs: Sequence[Job], job_groups: dict[str, int], root: Path) -> list[ScriptJob]:
    numbers = {job.id: index for index, job in enumerate(jobs, start=1)}
    logs = log_names(jobs)
    return [
        ScriptJob(
            number=numbers[job.id],
            id=job.id,
            dir=job.workdir,
            target=_target(job.target),
            only=job.only,
            name=job.name,
            log=logs[job.id],
            group=job_groups.get(job.id, 0),
            after=" ".join(str(numbers[a]) for a in job.after if a in numbers),
            vars=tuple(f"{k}={v}" for k, v in job.vars),
            var_file="" if job.var_file is None else _var_file(root, str(root / job.var_file)),
        )
        for job in jobs
    ]


def start_ranks(jobs: Sequence[Job], durations: Mapping[str, float]) -> list[int]:
    """Rank of each job (in plan order) among ready jobs: longest path to the end first."""
    known = [d for d in durations.values() if d > 0]
    default = sorted(known)[len(known) // 2] if known else 1.0
    children: dict[str, list[str]] = {job.id: [] for job in jobs}
    for job in jobs:
        for parent in job.after:
            children.setdefault(parent, []).append(job.id)
    remaining: dict[str, float] = {}
    for job in reversed(jobs):  # children come after their parents
        below = max((remaining[c] for c in children[job.id]), default=0.0)
        remaining[job.id] = durations.get(job.id, default) + below
    order = sorted(range(len(jobs)), key=lambda i: (-remaining[jobs[i].id], i))
    ranks = [0] * len(jobs)
    for rank, index in enumerate(order, start=1):
        ranks[index] = rank
    return ranks


def log_names(jobs: Sequence[Job]) -> dict[str, str]:
    """The log file name of each job id under the run directory's logs/."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for job in jobs:
        name = slug(job.id)
        if name.lower() in taken:  # case-insensitive file systems exist
            name = f"{name}-{hashlib.sha256(job.id.encode()).hexdigest()[:8]}"
        taken.add(name.lower())
        names[job.id] = f"{name}.log"
    return names


def _groups(jobs: Sequence[Job], settings: RunSettings) -> tuple[list[ScriptGroup], dict[str, int]]:
    """Configured groups first (first match wins), then one per source type with a limit."""
    groups: list[ScriptGroup] = []
    numbers: dict[str, int] = {}
    job_groups: dict[str, int] = {}
    for job in jobs:
        group = job_group(job, settings)
        if group is None:
            continue
        if group.key not in numbers:
            numbers[group.key] = len(groups) + 1
            groups.append(ScriptGroup(numbers[group.key], group.name, group.limit))
        job_groups[job.id] = numbers[group.key]
    return groups, job_groups


def _halt(halt: str, total: int) -> tuple[str, int]:
    if halt == "never":
        return "never", 0
    when, _, rest = halt.partition(",fail=")
    if rest.endswith("%"):
        return when, max(1, math.ceil(total * int(rest[:-1]) / 100))
    return when, int(rest)


def _parallel_limits(settings: RunSettings) -> list[str]:
    args: list[str] = []
    if settings.load is not None:
        args += ["--load", settings.load]
    if settings.memfree is not None:
        args += ["--memfree", settings.memfree]
    return args


def _target(target: str) -> str:
    """The path argument of ``packer build``, never read as an option."""
    return f"./{target}" if target.startswith("-") else target


def _inits(jobs: Sequence[Job]) -> list[ScriptInit]:
    """One packer init per template directory, or per file built on its own."""
    found = sorted({(job.workdir, job.target, job.template) for job in jobs if job.needs_init})
    return [ScriptInit(d, _target(t), init_log(template)) for d, t, template in found]


def init_log(template: str) -> str:
    """The log file of a template's packer init, under the run directory's logs/."""
    return f"init-{slug(template)}.log"


def _var_file(root: Path, path: str) -> str:
    absolute = Path(path).resolve()
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return str(absolute)


def default_pipeline_id(root: Path) -> str:
    """The same for every clone of one repository, however it was cloned: its remote and
    ROOT's path inside it."""
    top = git(["rev-parse", "--show-toplevel"], root)
    remote = _origin(Path(top)) if top else None
    if top and remote:
        inside = Path(os.path.relpath(root, top)).as_posix()
        identity = f"{remote}/{inside}".rstrip("/.")
        base = identity.rsplit("/", 2)[-2:] if inside == "." else [identity.rsplit("/", 1)[-1]]
        readable = "-".join(base)
    else:
        identity = readable = root.name or "root"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-.") or "tree"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{readable[:60]}-{digest}"


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAX_HOPS = 10


def _origin(repository: Path) -> str | None:
    """The repository's identity from its ``origin`` remote: the remote's path without host,
    user, token, port or ``.git`` (ssh, https and a path on the server itself agree). A local
    path is followed to that repository's own origin, so that a clone of a clone agrees too."""
    url = git(["config", "--get", "remote.origin.url"], repository)
    for _ in range(_MAX_HOPS):
        if not url:
            return None
        local = _local_path(url, repository)
        if local is None:
            return _remote_path(url)
        upstream = git(["config", "--get", "remote.origin.url"], local) if local.is_dir() else None
        if not upstream:
            return _remote_path(str(local))
        url, repository = upstream, local
    return _remote_path(url) if url else None


def _local_path(url: str, base: Path) -> Path | None:
    """The directory a remote URL names on this machine, or None for a network remote (git's
    rule: scp-like ``[user@]host:path`` has a colon before any slash)."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if _URL_SCHEME.match(url) or re.match(r"^[^/]*:", url):
        return None
    path = Path(url).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _remote_path(url: str) -> str:
    url = url.strip()
    if _URL_SCHEME.match(url):
        rest = _URL_SCHEME.sub("", url, count=1)
        url = "/" + rest.split("/", 1)[1] if "/" in rest else ""  # drop user:token@host:port
    elif not url.startswith("/") and ":" in url.split("/", 1)[0]:
        url = url.split(":", 1)[1]  # scp-like [user@]host:path
    path = url.strip("/").removesuffix(".git").rstrip("/")
    return path.removeprefix("~").strip("/").lower()
