"""``--var`` values no planned template can take.

An HCL2 template takes a ``-var`` only for a variable it declares (Packer refuses others:
"Undefined -var variable"); a legacy template takes every one. pargen gives each job only
the values its template takes. A ``--var`` that no template of the tree can take is a typo:
an error. One that only templates left out of this plan take (by --only, --except,
--changed-since, ...) is fine for a pipeline that always passes it, but worth a warning.
"""

from __future__ import annotations

from collections.abc import Iterable

from pargen.errors import Problem
from pargen.packer.parse import ParsedTemplate


def untaken_vars(
    names: Iterable[str], parsed: Iterable[ParsedTemplate], planned: set[str]
) -> tuple[list[Problem], list[Problem]]:
    """Errors and warnings for the ``--var`` names no template in ``planned`` takes."""
    templates = list(parsed)
    legacy = [t.source.rel for t in templates if t.source.kind == "legacy"]
    if any(rel in planned for rel in legacy):
        return [], []
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for name in dict.fromkeys(names):
        declaring = [t.source.rel for t in templates if name in t.variables]
        if any(rel in planned for rel in declaring):
            continue
        if declaring or legacy:
            shown = ", ".join(declaring or legacy)
            what = f'variable "{name}" is declared only in' if declaring else "only"
            warnings.append(
                Problem(
                    "--var",
                    0,
                    0,
                    f"{what} {shown}, which this plan does not build; no job gets --var {name}",
                )
            )
            continue
        errors.append(
            Problem(
                "--var",
                0,
                0,
                f'no template declares variable "{name}", and Packer refuses an undeclared '
                '-var ("Undefined -var variable"); fix the name or drop the --var',
            )
        )
    return errors, warnings
