"""Legacy JSON templates (a ``.json`` file with a top-level ``builders`` list).

A build's name is its builder's ``name``, else its ``type``; Packer renders the name as a
Go template, so ``{{user `x`}}`` takes the user variable's value (default < ``-var-file``
< ``-var``). ``-only`` matches legacy names exactly: no globs, and a comma splits the value.

User variables are every declared one and every ``-var``/``-var-file`` value, declared or
not (Packer 1.6.6 ``packer/core.go``, renderVarsRecursively); each value is itself a template
over other user variables. A declared variable whose default is null must be given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pargen.errors import Problem
from pargen.packer.discover import TemplateSource, display_path
from pargen.packer.expressions import TemplateError, Where
from pargen.packer.json_text import (
    JsonArray,
    JsonLeaf,
    JsonNode,
    JsonObject,
    JsonSyntaxError,
    parse_json,
)

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_USER = re.compile(r"""\s*user\s+(?:`([^`]*)`|"([^"]*)")\s*""")
_ENV = re.compile(r"""\s*env\s+(?:`[^`]*`|"[^"]*")\s*""")


@dataclass
class LegacyReading:
    builds: list[tuple[str, str, Where]] = field(default_factory=list)
    variables: frozenset[str] = frozenset()
    problems: list[Problem] = field(default_factory=list)


def read_legacy_template(
    source: TemplateSource, root: Path, cli: dict[str, str], var_files: tuple[Path, ...]
) -> LegacyReading:
    reading = LegacyReading()
    path = source.files[0]
    shown = display_path(root, path)
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        reading.problems.append(
            Problem(shown, 0, 0, "cannot read file: not UTF-8 text; save it as UTF-8")
        )
        return reading
    except OSError as err:
        reading.problems.append(
            Problem(shown, 0, 0, f"cannot read file: {err.strerror or err}; make it readable")
        )
        return reading
    except JsonSyntaxError as err:
        reading.problems.append(Problem(shown, err.line, err.col, f"invalid JSON: {err.advice}"))
        return reading
    builders = document.last("builders") if isinstance(document, JsonObject) else None
    if not isinstance(document, JsonObject) or not isinstance(builders, JsonArray):
        reading.problems.append(Problem(shown, 1, 1, 'a legacy template needs a "builders" list'))
        return reading
    if not builders.items:
        where = Where(shown, builders.line, builders.col)
        reading.problems.append(
            _at(where, 'the "builders" list is empty; Packer needs at least one builder')
        )
        return reading
    variables = _Variables(_declared(document), cli, var_files, root)
    reading.variables = frozenset(variables.defaults)
    try:
        variables.files()  # Packer fails on a broken var file even when no name needs it
    except TemplateError as err:
        reading.problems.append(_at(err.where, err.message))
        return reading
    # Packer checks these before anything else: "required variable not set".
    reading.problems.extend(_at(where, message) for where, message in variables.unset(shown))
    reading.problems.extend(
        _at(where, message) for where, message in variables.undefined_references(shown)
    )
    if reading.problems:
        return reading
    seen: dict[str, int] = {}
    for index, builder in enumerate(builders.items, start=1):
        where = Where(shown, builder.line, builder.col)
        try:
            name, builder_type = _builder_name(builder, index, where, variables)
        except TemplateError as err:
            reading.problems.append(
                Problem(err.where.path, err.where.line, err.where.col, err.message)
            )
            continue
        if name in seen:
            reading.problems.append(
                _at(
                    where,
                    f'duplicate builder name "{name}", first at line {seen[name]}; '
                    'give each builder a unique "name"',
                )
            )
            continue
        seen[name] = where.line
        if "," in name:
            reading.problems.append(
                _at(
                    where,
                    f'builder name "{name}" has a comma, which Packer\'s -only cannot '
                    "select in a legacy template; rename it",
                )
            )
            continue
        reading.builds.append((name, builder_type, where))
    return reading


def _declared(document: JsonObject) -> dict[str, JsonNode]:
    variables = document.last("variables")
    if not isinstance(variables, JsonObject):
        return {}
    return {member.key: member.value for member in variables.members}


def _builder_name(
    builder: JsonNode, index: int, where: Where, variables: _Variables
) -> tuple[str, str]:
    if not isinstance(builder, JsonObject):
        raise TemplateError(where, f"builder {index} must be a JSON object")
    type_node = builder.last("type")
    if not (
        isinstance(type_node, JsonLeaf) and isinstance(type_node.value, str) and type_node.value
    ):
        raise TemplateError(where, f'builder {index} has no "type"; add one')
    name_node = builder.last("name")
    if name_node is None:
        return type_node.value, type_node.value
    if not (isinstance(name_node, JsonLeaf) and isinstance(name_node.value, str)):
        raise TemplateError(where, f'builder {index}: "name" must be a string')
    name = name_node.value or type_node.value
    return _render(name, where, variables), type_node.value


def _render(name: str, where: Where, variables: _Variables) -> str:
    def action(match: re.Match[str]) -> str:
        user = _USER.fullmatch(match.group(1))
        if user is None:
            raise TemplateError(
                where,
                f'cannot compute the builder name "{name}": pargen only knows '
                "{{user `x`}} in names; use a literal name",
            )
        return variables.value(user.group(1) or user.group(2) or "", where)

    return _ACTION.sub(action, name)


class _Variables:
    """User variables: default < ``-var-file`` (in order) < ``-var``, declared or not."""

    def __init__(
        self,
        defaults: dict[str, JsonNode],
        cli: dict[str, str],
        var_files: tuple[Path, ...],
        root: Path,
    ) -> None:
        self.defaults = defaults
        self.cli = cli
        self.var_files = var_files
        self.root = root
        self._files: list[dict[str, JsonNode]] | None = None
        self._values: dict[str, str] = {}
        self._rendering: list[str] = []

    def unset(self, shown: str) -> list[tuple[Where, str]]:
        """Declared variables with a null default that nothing sets, and a message for each."""
        found: list[tuple[Where, str]] = []
        for name, default in self.defaults.items():
            if isinstance(default, JsonLeaf) and default.value is None and not self._given(name):
                found.append(
                    (
                        Where(shown, default.line, default.col),
                        f'required variable "{name}" is not set (its default is null); set it '
                        f"with --var {name}=... or a var file",
                    )
                )
        return found

    def undefined_references(self, shown: str) -> list[tuple[Where, str]]:
        """``{{user `x`}}`` in a declared default naming no variable: Packer fails on it."""
        known = {*self.defaults, *self.cli, *(n for values in self.files() for n in values)}
        found: list[tuple[Where, str]] = []
        for name, default in self.defaults.items():
            if not (isinstance(default, JsonLeaf) and isinstance(default.value, str)):
                continue
            for match in _ACTION.finditer(default.value):
                user = _USER.fullmatch(match.group(1))
                referenced = user.group(1) or user.group(2) or "" if user else None
                if referenced is not None and referenced not in known:
                    found.append(
                        (
                            Where(shown, default.line, default.col),
                            f'user variable "{name}" uses "{referenced}", which is neither '
                            f"declared nor given; declare it or set it with --var "
                            f"{referenced}=...",
                        )
                    )
        return found

    def _given(self, name: str) -> bool:
        return name in self.cli or any(name in values for values in self.files())

    def value(self, name: str, where: Where) -> str:
        if name not in self._values:
            if name in self._rendering:
                cycle = " -> ".join([*self._rendering[self._rendering.index(name) :], name])
                raise TemplateError(
                    where, f"user variables use each other in a loop ({cycle}); break it"
                )
            self._rendering.append(name)
            try:
                self._values[name] = self._render(name, self._raw(name, where), where)
            finally:
                self._rendering.pop()
        return self._values[name]

    def _raw(self, name: str, where: Where) -> str:
        if name in self.cli:
            return self.cli[name]
        for values in reversed(self.files()):
            if name in values:
                return _text(values[name], where, name)
        if name not in self.defaults:
            # Packer renders a user variable nobody declared or gave as "" in a builder's name
            # (only one used by another variable's default is an error: undefined_references).
            return ""
        return _text(self.defaults[name], where, name)

    def _render(self, name: str, text: str, where: Where) -> str:
        """A variable's value rendered as Packer renders it: ``{{user `x`}}`` is replaced."""

        def action(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.lstrip().startswith("."):
                return match.group()  # Packer leaves {{ .Name }} for later
            user = _USER.fullmatch(inner)
            if user is not None:
                return self.value(user.group(1) or user.group(2) or "", where)
            if _ENV.fullmatch(inner):
                raise TemplateError(
                    where,
                    f'user variable "{name}" = "{text}" reads the environment, and it decides '
                    "a builder name: pargen plans before the build's environment exists, so "
                    "the rendered script would pin today's value; set the variable with "
                    "--var or a var file, or give it a literal default",
                )
            raise TemplateError(
                where,
                f'cannot compute user variable "{name}" = "{text}" used in the builder '
                "name; give it a literal default or set it with --var",
            )

        return _ACTION.sub(action, text)

    def files(self) -> list[dict[str, JsonNode]]:
        if self._files is None:
            self._files = [self._read(path) for path in self.var_files]
        return self._files

    def _read(self, path: Path) -> dict[str, JsonNode]:
        shown = display_path(self.root, path)
        try:
            document = parse_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            reason = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else err.strerror
            fix = (
                "give the path of a var file"
                if isinstance(err, IsADirectoryError)
                else ("make it readable")
            )
            raise TemplateError(
                Where(shown, 0, 0), f"cannot read var file: {reason}; {fix}"
            ) from None
        except JsonSyntaxError as err:
            raise TemplateError(
                Where(shown, err.line, err.col),
                f"invalid JSON (a legacy template takes JSON var files): {err.advice}",
            ) from None
        if not isinstance(document, JsonObject):
            raise TemplateError(Where(shown, 1, 1), "a var file must hold a JSON object")
        return {member.key: member.value for member in document.members}


def _text(node: JsonNode, where: Where, name: str) -> str:
    if isinstance(node, JsonLeaf) and node.value is not None:
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    raise TemplateError(where, f'user variable "{name}" must be a string')


def _at(where: Where, message: str) -> Problem:
    return Problem(where.path, where.line, where.col, message)
