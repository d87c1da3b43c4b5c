"""What one discovered template stands for: a directory read whole, or one template per file,
each read once per var file of its build matrix.

Packer given a directory loads every file in it; some repositories instead keep several
complete templates side by side and build each one as ``packer build FILE``, which reads that
file alone and no auto var files. A directory whose files cannot be loaded together because
they declare the same variables, locals or sources, while every file with a ``build`` block
is complete on its own, is such a directory. ``pargen.hcl`` can say which reading to use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pargen.errors import Problem, ProblemsError
from pargen.packer.discover import TemplateSource, display_path
from pargen.packer.expressions import TemplateError
from pargen.packer.hcl2 import HclReading, load_bodies, read_bodies
from pargen.packer.native_syntax import Body
from pargen.packer.template import (
    ParsedTemplate,
    VarInputs,
    guarded,
    hcl_inputs,
    hcl_template,
    parse_legacy,
)

ReadMode = Literal["whole", "per-file"]
_Parse = Callable[[str | None], ParsedTemplate]


@dataclass(frozen=True)
class Reading:
    """How to read one discovered template."""

    read: ReadMode | None = None
    """None: whole, or per file when the files cannot be loaded together and can be alone."""
    matrix: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Template path (the directory's, or a file's) -> its build matrix's var files."""


@dataclass(frozen=True)
class Layout:
    templates: list[ParsedTemplate]
    """The templates, each once per var file of its matrix, in path then var file order."""
    note: Problem | None = None
    """Why the directory is read one template per file, when pargen decided it."""


def read_layout(
    source: TemplateSource,
    root: Path,
    inputs: VarInputs,
    how: Reading,
    max_builds: int | None = None,
) -> Layout:
    """Every template ``source`` stands for; all their problems raised together.

    With ``max_builds``, a reading stops as soon as dynamic blocks make more builds than that.
    """
    root = root.absolute()
    return guarded(source, lambda: _read_layout(source, root, inputs, how, max_builds))


def _read_layout(
    source: TemplateSource, root: Path, inputs: VarInputs, how: Reading, max_builds: int | None
) -> Layout:
    if source.kind == "legacy":
        return Layout(_each_var_file(source, how, lambda f: parse_legacy(source, root, inputs, f)))
    bodies, problems = load_bodies(source.files, root)
    if problems:
        raise ProblemsError(problems)
    directory = _Directory(source, root, inputs, how, bodies, max_builds)
    if how.read == "per-file":
        return Layout(directory.per_file())
    whole = directory.whole()
    if isinstance(whole, list):
        return Layout(whole)
    if how.read == "whole" or not whole.duplicates or len(directory.with_builds()) < 2:
        # Side-by-side templates are several files with a build each; one is a broken whole.
        raise ProblemsError(whole.problems)
    try:
        files = directory.per_file()
    except ProblemsError as err:
        raise ProblemsError([*whole.problems, _no_way(source, err.problems)]) from None
    return Layout(files, directory.note(whole, files))


class _Directory:
    def __init__(
        self,
        source: TemplateSource,
        root: Path,
        inputs: VarInputs,
        how: Reading,
        bodies: list[Body],
        max_builds: int | None,
    ) -> None:
        self.source = source
        self.max_builds = max_builds
        self.root = root
        self.inputs = inputs
        self.how = how
        self.bodies = dict(zip(source.files, bodies, strict=True))

    def whole(self) -> list[ParsedTemplate] | HclReading:
        """The directory's templates, or the first reading with problems."""
        templates = []
        for var_file in self.how.matrix.get(self.source.rel) or (None,):
            inputs = hcl_inputs(self.source, self.root, self.inputs, var_file)
            reading = read_bodies(list(self.bodies.values()), inputs, self.max_builds)
            if reading.problems:
                return reading
            templates.append(hcl_template(self.source, reading, var_file))
        return templates

    def per_file(self) -> list[ParsedTemplate]:
        """One template per file with a build, each read alone; all problems raised together."""
        templates: list[ParsedTemplate] = []
        problems: list[Problem] = []
        for path in self.with_builds():
            if path.name in self.source.excluded:
                continue
            source = self.source.file_template(path)
            for var_file in self.how.matrix.get(source.rel) or (None,):
                inputs = hcl_inputs(source, self.root, self.inputs, var_file)
                reading = read_bodies([self.bodies[path]], inputs, self.max_builds)
                problems.extend(reading.problems)
                if not reading.problems:
                    templates.append(hcl_template(source, reading, var_file))
        if problems:
            raise ProblemsError(problems)
        return templates

    def with_builds(self) -> list[Path]:
        found = []
        for path, body in self.bodies.items():
            try:
                if body.blocks("build", 0):
                    found.append(path)
            except TemplateError:
                found.append(path)  # its reading says what is wrong
        return found

    def note(self, whole: HclReading, files: list[ParsedTemplate]) -> Problem:
        first = min(whole.duplicates)
        declared = first.message.split(";", 1)[0]
        count = len({t.source.rel for t in files})
        skipped = [p for p in self.source.files if p not in self.with_builds()]
        without = (
            f"; not built: {', '.join(display_path(self.root, p) for p in skipped)} (no build)"
            if skipped
            else ""
        )
        auto = ", without its auto var files" if self.source.auto_var_files else ""
        return Problem(
            self.source.rel,
            0,
            0,
            f"read as {count} templates, one per file with a build (packer build FILE{auto}), "
            f"since its files cannot be loaded together ({first.path}:{first.line}: "
            f"{declared}){without}; to choose, set read in pargen.hcl: "
            f'template "{self.source.rel}" {{ read = "whole" }}',
        )


def _each_var_file(source: TemplateSource, how: Reading, parse: _Parse) -> list[ParsedTemplate]:
    templates: list[ParsedTemplate] = []
    problems: list[Problem] = []
    for var_file in how.matrix.get(source.rel) or (None,):
        try:
            templates.append(parse(var_file))
        except ProblemsError as err:
            problems.extend(err.problems)
    if problems:
        raise ProblemsError(problems)
    return templates


def _no_way(source: TemplateSource, alone: list[Problem]) -> Problem:
    why = f" ({min(alone)})"
    return Problem(
        source.rel,
        0,
        0,
        "its files cannot be loaded together (duplicate declarations), nor built one by one"
        f"{why}; keep one of each declaration, or make every file with a build complete "
        "on its own",
    )
