"""Read one template (HCL2, HCL-JSON or legacy JSON) into the builds Packer would run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pargen.errors import ExitCode, PargenError, Problem, ProblemsError
from pargen.packer.discover import TemplateSource
from pargen.packer.expressions import Where
from pargen.packer.hcl2 import read_hcl_directory
from pargen.packer.legacy import read_legacy_template
from pargen.packer.variables import Inputs


@dataclass(frozen=True)
class VarInputs:
    """Variable values from outside the template, as Packer takes them."""

    var_files: tuple[str, ...] = ()
    """Paths as given to ``-var-file`` (absolute, or relative to the current directory)."""
    vars: tuple[tuple[str, str], ...] = ()
    """``-var name=value`` pairs in command-line order (a later one wins)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Only the ``PKR_VAR_*`` entries matter."""


@dataclass(frozen=True)
class Build:
    """One full build name Packer's ``-only`` selects."""

    name: str
    """Full build name: ``<build name>.<type>.<local name>`` or ``<type>.<local name>``."""
    source_type: str
    path: str
    """File (relative to ROOT), line and column of the reference that produced it."""
    line: int
    col: int = 1


@dataclass(frozen=True)
class ParsedTemplate:
    source: TemplateSource
    builds: tuple[Build, ...]
    """In template order; several builds may share one name."""
    variables: frozenset[str] = frozenset()
    """Declared variable names (``-var`` for an undeclared one is an error in Packer)."""
    required_plugins: bool = False
    """The template has ``packer { required_plugins { ... } }``: it needs ``packer init``."""
    warnings: tuple[Problem, ...] = ()


def parse_template(
    source: TemplateSource, root: Path, inputs: VarInputs, max_builds: int | None = None
) -> ParsedTemplate:
    """The builds of one template; every problem found in it raised together.

    With ``max_builds``, reading stops as soon as dynamic blocks make more builds than that.
    """
    root = root.absolute()
    try:
        return _parse(source, root, inputs, max_builds)
    except ProblemsError:
        raise
    except RecursionError:
        raise ProblemsError([Problem(source.rel, 0, 0, _TOO_DEEP)]) from None
    except Exception as err:  # a pargen bug: say which template triggers it
        raise PargenError(
            f"{source.rel}: pargen failed to read this template ({type(err).__name__}: {err}); "
            "this is a bug in pargen: please report it with the template",
            code=ExitCode.INTERNAL,
        ) from err


_TOO_DEEP = "the template is nested too deeply for pargen to read"


def _parse(
    source: TemplateSource, root: Path, inputs: VarInputs, max_builds: int | None
) -> ParsedTemplate:
    cli = dict(inputs.vars)
    var_files = tuple(Path.cwd() / path for path in inputs.var_files)
    if source.kind == "legacy":
        legacy = read_legacy_template(source, root, cli, var_files)
        if legacy.problems:
            raise ProblemsError(legacy.problems)
        return ParsedTemplate(
            source=source, builds=_builds(legacy.builds), variables=legacy.variables
        )
    env = {k: v for k, v in inputs.env.items() if k.startswith("PKR_VAR_")}
    reading = read_hcl_directory(
        source, root, Inputs((*source.auto_var_files, *var_files), cli, env, root), max_builds
    )
    if reading.problems:
        raise ProblemsError(reading.problems)
    return ParsedTemplate(
        source=source,
        builds=_builds(reading.builds),
        variables=reading.variables,
        required_plugins=reading.required_plugins,
        warnings=tuple(reading.warnings),
    )


def _builds(found: list[tuple[str, str, Where]]) -> tuple[Build, ...]:
    return tuple(
        Build(name, source_type, where.path, where.line, where.col)
        for name, source_type, where in found
    )
