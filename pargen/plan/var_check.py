"""``--var`` values no planned template can take: Packer would refuse them.

An HCL2 template takes a ``-var`` only for a variable it declares ("Undefined -var variable"
otherwise); a legacy template takes every one. pargen gives each job only the values its
template takes, so a ``--var`` that none of the planned templates takes is a typo, or meant
for a template the plan leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable

from pargen.errors import Problem
from pargen.packer.parse import ParsedTemplate


def untaken_vars(
    names: Iterable[str], parsed: Iterable[ParsedTemplate], planned: set[str]
) -> list[Problem]:
    """A problem for each ``--var`` name no template in ``planned`` (template paths) takes."""
    templates = list(parsed)
    if any(t.source.kind == "legacy" and t.source.rel in planned for t in templates):
        return []
    problems: list[Problem] = []
    for name in dict.fromkeys(names):
        declaring = [t.source.rel for t in templates if name in t.variables]
        if any(rel in planned for rel in declaring):
            continue
        if declaring:
            shown = ", ".join(declaring)
            message = (
                f'variable "{name}" is declared only in {shown}, which this plan does not '
                "build; drop the --var or plan that template too"
            )
        else:
            message = (
                f'no template declares variable "{name}", and Packer refuses an undeclared '
                '-var ("Undefined -var variable"); fix the name or drop the --var'
            )
        problems.append(Problem("--var", 0, 0, message))
    return problems
