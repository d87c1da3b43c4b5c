"""Read one template (HCL2, HCL-JSON or legacy JSON) into the builds Packer would run."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pargen.errors import ExitCode, PargenError, Problem, ProblemsError
from pargen.packer.discover import TemplateSource
from pargen.packer.expressions import Where
from pargen.packer.hcl2 import HclReading, read_hcl_directory
from pargen.packer.hcp import Bucket
from pargen.packer.legacy import read_legacy_template
from pargen.packer.variables import Inputs

T = TypeVar("T")


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
    output_dir: str | None = None
    """The local directory its builder writes, relative to ROOT (None: none, or unknown)."""


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
    var_file: str | None = None
    """The absolute path of the build matrix var file it was read with, if any."""
    unused_sources: tuple[Problem, ...] = ()
    """Source blocks no build uses (with the variables it was read with)."""
    publishes: tuple[Bucket, ...] = ()
    """The HCP Packer bucket its builds publish to (at most one)."""
    reads: tuple[Bucket, ...] = ()
    """The HCP Packer buckets its data sources read."""


def parse_template(
    source: TemplateSource, root: Path, inputs: VarInputs, max_builds: int | None = None
) -> ParsedTemplate:
    """The builds of one template; every problem found in it raised together.

    With ``max_builds``, reading stops as soon as dynamic blocks make more builds than that.
    """
    root = root.absolute()
    return guarded(source, lambda: _parse(source, root, inputs, max_builds))


def guarded(source: TemplateSource, read: Callable[[], T]) -> T:
    """``read()``, with a failure of pargen's own said as a bug met in ``source``."""
    try:
        return read()
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
    if source.kind == "legacy":
        return parse_legacy(source, root, inputs)
    reading = read_hcl_directory(source, root, hcl_inputs(source, root, inputs), max_builds)
    if reading.problems:
        raise ProblemsError(reading.problems)
    return hcl_template(source, reading)


def var_file_paths(inputs: VarInputs, var_file: str | None) -> tuple[Path, ...]:
    """The ``-var-file`` arguments of a build, in order: a build matrix's var file last."""
    given = (*inputs.var_files, *([var_file] if var_file is not None else []))
    return tuple(Path.cwd() / path for path in given)


def hcl_inputs(
    source: TemplateSource, root: Path, inputs: VarInputs, var_file: str | None = None
) -> Inputs:
    """Where an HCL2 template's values come from; Packer given a file loads no auto var files."""
    env = {k: v for k, v in inputs.env.items() if k.startswith("PKR_VAR_")}
    var_files = (*source.auto_var_files, *var_file_paths(inputs, var_file))
    return Inputs(var_files, dict(inputs.vars), env, root)


def parse_legacy(
    source: TemplateSource, root: Path, inputs: VarInputs, var_file: str | None = None
) -> ParsedTemplate:
    cli = dict(inputs.vars)
    legacy = read_legacy_template(source, root, cli, var_file_paths(inputs, var_file))
    if legacy.problems:
        raise ProblemsError(legacy.problems)
    return ParsedTemplate(
        source=source,
        builds=_builds(legacy.builds, source.workdir),
        variables=legacy.variables,
        var_file=var_file,
    )


def hcl_template(
    source: TemplateSource, reading: HclReading, var_file: str | None = None
) -> ParsedTemplate:
    """A template read without problems."""
    return ParsedTemplate(
        source=source,
        builds=_builds(reading.builds, source.workdir),
        variables=reading.variables,
        required_plugins=reading.required_plugins,
        warnings=tuple(reading.warnings),
        var_file=var_file,
        unused_sources=tuple(reading.unused_sources),
        publishes=tuple(reading.publishes),
        reads=tuple(reading.reads),
    )


def _builds(
    found: Sequence[tuple[str, str, Where] | tuple[str, str, Where, str | None]], workdir: str
) -> tuple[Build, ...]:
    builds = []
    for name, source_type, where, *output in found:
        # Relative to ROOT, so that builds of different directories writing one path meet.
        output_dir = output[0] if output else None
        if output_dir is not None:
            output_dir = posixpath.normpath(posixpath.join(workdir, output_dir))
        builds.append(Build(name, source_type, where.path, where.line, where.col, output_dir))
    return tuple(builds)
