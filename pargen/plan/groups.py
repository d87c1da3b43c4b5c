"""Which machine-wide group (counting semaphore) each job belongs to, and the limits a plan
runs within, in words."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pargen.config import Group, RunSettings


class _Job(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def source_type(self) -> str: ...


@dataclass(frozen=True)
class JobGroup:
    key: str
    """``config:<name>`` for a pargen.hcl group, ``type:<source type>`` for a default one."""
    name: str
    limit: int


def job_group(job: _Job, settings: RunSettings) -> JobGroup | None:
    """The first configured group that names the job; else, with ``group_limit``, its source
    type's group; else none."""
    group = _configured_group(job, settings.groups)
    if group is not None:
        return JobGroup(f"config:{group.name}", group.name, group.limit)
    if settings.group_limit is not None:
        return JobGroup(f"type:{job.source_type}", job.source_type, settings.group_limit)
    return None


def _configured_group(job: _Job, groups: Sequence[Group]) -> Group | None:
    for group in groups:
        if any(fnmatch.fnmatchcase(job.source_type, t) for t in group.types) or any(
            fnmatch.fnmatchcase(job.id, n) or fnmatch.fnmatchcase(job.name, n) for n in group.names
        ):
            return group
    return None


def limits_summary(settings: RunSettings, groups: Iterable[tuple[str, int]]) -> str:
    """The limits, as the script's header and ``pargen plan`` show them; ``groups`` are the
    (name, limit) of the groups the plan's jobs belong to."""
    parts = [f"jobs {settings.jobs}"]
    if settings.load is not None:
        parts.append(f"load {settings.load}")
    if settings.memfree is not None:
        parts.append(f"memfree {settings.memfree}")
    if settings.delay:
        parts.append(f"delay {settings.delay:g}s")
    if settings.timeout is not None:
        parts.append(f"timeout {settings.timeout:g}s")
    parts.append(f"retries {settings.retries}")
    parts.append(f"halt {settings.halt}")
    parts.append(f"grace {settings.grace:g}s")
    parts.extend(f"group {name} {limit}" for name, limit in groups)
    return ", ".join(parts)
