"""Jobs of one run that would write the same local output directory.

Each job is its own ``packer build``, and jobs run at the same time: two builds of different
templates, or of one template with different var files of its build matrix, writing one
directory (Packer's default ``output-<source name>`` is shared by every build of a source, and
an ``output_directory`` may not change with the var file) fail or overwrite each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pargen.errors import Problem
from pargen.packer.parse import OUTPUT_ATTRIBUTE, Build


class _Job(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def var_file(self) -> str | None: ...
    @property
    def variant(self) -> str: ...
    @property
    def output_dir(self) -> str | None: ...


def collisions(jobs: Sequence[_Job], builds: Mapping[str, Build]) -> list[Problem]:
    """One problem per directory that two or more of ``jobs`` would write.

    ``builds`` maps each job id to the build it runs (where the source is used).
    """
    writers: dict[str, list[_Job]] = {}
    for job in jobs:
        if job.output_dir is not None:
            writers.setdefault(job.output_dir, []).append(job)
    problems = []
    for directory, shared in writers.items():
        # Builds of one template and var file share it in one packer build too: that is the
        # template's own affair, and its users build those with -only one at a time.
        first = shared[0]
        others = [j for j in shared if j.variant != first.variant]
        if not others:
            continue
        second = others[0]
        build = builds[second.id]
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        attribute = OUTPUT_ATTRIBUTE.get(build.source_type, "output_directory")
        matrix = first.var_file is not None and second.var_file is not None
        fix = (
            f"set {attribute} in the source to a path that differs per var file, "
            f'such as {attribute} = "output-${{var.name}}"'
            if matrix
            else f"give each build its own {attribute}, or build them in separate runs (--only)"
        )
        problems.append(
            Problem(
                build.path,
                build.line,
                build.col,
                f"jobs {first.id} and {second.id}{more} would all write {directory} at once "
                f"(its {build.source_type} builder's output directory); {fix}",
            )
        )
    return problems
