"""Values of ``var.*`` and ``local.*``, computed only when a build name needs them.

Packer's precedence, lowest first: the default, ``PKR_VAR_<name>``, ``*.auto.pkrvars.*``
(sorted, a later file wins), ``-var-file`` (in order), ``-var`` (a later one wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pargen.packer.discover import display_path
from pargen.packer.expressions import (
    Call,
    Expr,
    Literal,
    Namespace,
    Scope,
    TemplateError,
    Variable,
    Where,
    evaluate,
)
from pargen.packer.json_syntax import JsonBody
from pargen.packer.json_text import JsonSyntaxError, parse_json
from pargen.packer.native_syntax import (
    Attribute,
    Body,
    SourceFile,
    each_error,
    parse_expression_text,
    parse_native,
)
from pargen.packer.values import ANY, ConversionError, TypeSpec, Value, convert, is_number

_PRIMITIVES = frozenset({"string", "number", "bool", "any"})
_COLLECTIONS = frozenset({"list", "set", "map"})
_STRUCTURES = frozenset({"object", "tuple"})


@dataclass(frozen=True)
class Declaration:
    """A ``variable "x" {}`` block, or one attribute of a ``variables {}`` block."""

    name: str
    where: Where
    type: Attribute | None
    default: Attribute | None
    """Read only when a build name needs the variable."""


@dataclass(frozen=True)
class Inputs:
    """Where values come from besides defaults (the files are read only when needed)."""

    var_files: tuple[Path, ...]
    """Auto var files first (sorted), then ``-var-file`` ones in order: a later one wins."""
    cli: dict[str, str]
    env: dict[str, str]
    root: Path


def declare_variable_block(body: Body, name: str, where: Where) -> Declaration:
    return Declaration(name, where, body.attribute("type"), body.attribute("default"))


def declare_variables_block(body: Body) -> list[Declaration]:
    """The Packer 1 style ``variables { name = default }``."""
    return [Declaration(a.name, a.where, None, a) for a in body.attributes()]


class InputVariables(Namespace):
    """``var.<name>``: each value computed once, on first use."""

    def __init__(self, declarations: dict[str, Declaration], inputs: Inputs) -> None:
        self.declarations = declarations
        self.inputs = inputs
        self.values: dict[str, Value] = {}
        self._files: list[dict[str, Attribute]] | None = None

    def get(self, name: str, ref: Expr) -> Value:
        if name not in self.values:
            declaration = self.declarations.get(name)
            if declaration is None:
                raise TemplateError(
                    ref.where,
                    f'there is no variable "{name}"; declare it with a variable "{name}" block',
                )
            self.values[name] = self._resolve(declaration, ref)
        return self.values[name]

    def _spec(self, declaration: Declaration) -> TypeSpec | None:
        spec = type_spec(declaration.type.expression()) if declaration.type else None
        if spec is None and declaration.default is not None:
            # Without a type constraint Packer takes the default's type.
            spec = _inferred(evaluate(declaration.default.expression(), _TYPE_SCOPE))
        return spec

    def outside_value_errors(self) -> list[TemplateError]:
        """A ``-var`` or ``PKR_VAR_*`` value that does not fit its variable's type: Packer
        checks each one as it reads it, used by a build or not, overridden or not."""
        errors: list[TemplateError] = []
        for name, declaration in self.declarations.items():
            given = [(self.inputs.env.get(f"PKR_VAR_{name}"), f"PKR_VAR_{name}")]
            given.append((self.inputs.cli.get(name), "-var"))
            try:
                spec = self._spec(declaration)
                for text, origin in given:
                    if text is not None:
                        self._from_text(declaration, spec, text, origin)
            except TemplateError as err:
                errors.append(err)
        return errors

    def unset_errors(self) -> list[TemplateError]:
        """Variables with no default that nothing sets: Packer refuses the whole template."""
        files = self._var_files()
        return [
            TemplateError(
                declaration.where,
                f'variable "{name}" is not set: it has no default and nothing gives it a value '
                f'(Packer: "Unset variable"); set it with --var {name}=..., a var file or '
                f"PKR_VAR_{name}, or give it a default",
            )
            for name, declaration in self.declarations.items()
            if declaration.default is None
            and name not in self.inputs.cli
            and f"PKR_VAR_{name}" not in self.inputs.env
            and not any(name in attributes for attributes in files)
        ]

    def _resolve(self, declaration: Declaration, ref: Expr) -> Value:
        name = declaration.name
        spec = self._spec(declaration)
        default = declaration.default.expression() if declaration.default else None
        if name in self.inputs.cli:
            return self._from_text(declaration, spec, self.inputs.cli[name], "-var")
        for attributes in reversed(self._var_files()):
            if name in attributes:
                attribute = attributes[name]
                value = evaluate(attribute.expression(templates=False), _LITERAL_SCOPE)
                return self._convert(declaration, spec, value, attribute.where.path)
        env_name = f"PKR_VAR_{name}"
        if env_name in self.inputs.env:
            return self._from_text(declaration, spec, self.inputs.env[env_name], env_name)
        if default is not None:
            value = evaluate(default, _DEFAULT_SCOPE)
            return self._convert(declaration, spec, value, "its default")
        raise TemplateError(
            ref.where,
            f'variable "{name}" has no value: give it a default, or set it with '
            f"--var {name}=..., a var file or PKR_VAR_{name}",
        )

    def _from_text(
        self, declaration: Declaration, spec: TypeSpec | None, text: str, origin: str
    ) -> Value:
        # Packer takes the text literally for string and number variables, and parses it
        # as an HCL expression for every other type (or no type at all).
        if spec is not None and spec.name in ("string", "number"):
            return self._convert(declaration, spec, text, origin)
        try:
            value = evaluate(parse_expression_text(text, declaration.where), _LITERAL_SCOPE)
        except TemplateError as err:
            raise TemplateError(
                declaration.where,
                f'cannot use the value of variable "{declaration.name}" from {origin}: '
                f"{err.message}",
            ) from None
        return self._convert(declaration, spec, value, origin)

    def _convert(
        self, declaration: Declaration, spec: TypeSpec | None, value: Value, origin: str
    ) -> Value:
        if spec is None:
            return value
        try:
            return convert(value, spec)
        except ConversionError as err:
            raise TemplateError(
                declaration.where,
                f'the value of variable "{declaration.name}" from {origin} does not fit its '
                f"type: {err}",
            ) from None

    def read_var_files(self) -> list[TemplateError]:
        """Read every var file now; what is wrong in each, and the others are still used."""
        self._files = []
        errors: list[TemplateError] = []
        for path in self.inputs.var_files:
            try:
                self._files.append(self._read_var_file(path))
            except TemplateError as err:
                errors.extend(each_error(err))
        return errors

    def _var_files(self) -> list[dict[str, Attribute]]:
        if self._files is None:
            errors = self.read_var_files()
            if errors:
                raise errors[0]
        assert self._files is not None
        return self._files

    def _read_var_file(self, path: Path) -> dict[str, Attribute]:
        shown = display_path(self.inputs.root, path)
        if path.suffix not in (".hcl", ".json"):
            raise TemplateError(
                Where(shown, 0, 0), "a var file must be named *.pkrvars.hcl or *.pkrvars.json"
            )
        try:
            # As in templates: Packer skips a byte order mark in native syntax, not in JSON.
            text = path.read_text(encoding="utf-8" if path.suffix == ".json" else "utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise TemplateError(
                Where(shown, 0, 0), f"cannot read var file: {_reason(err)}; {_fix(err)}"
            ) from None
        body: Body
        if path.suffix == ".json":
            try:
                body = JsonBody(parse_json(text), shown)
            except JsonSyntaxError as err:
                where = Where(shown, err.line, err.col)
                raise TemplateError(where, f"invalid JSON: {err.advice}") from None
        else:
            body = parse_native(SourceFile(shown, text))
        return {attribute.name: attribute for attribute in body.attributes()}


class LocalValues(Namespace):
    """``local.<name>``: may use variables and other locals; computed once, on first use."""

    def __init__(self, definitions: dict[str, Attribute], variables: InputVariables) -> None:
        self.definitions = definitions
        self.values: dict[str, Value] = {}
        self.pending: set[str] = set()
        self.scope = Scope({"var": variables, "local": self}, functions=True, place="in locals")

    def get(self, name: str, ref: Expr) -> Value:
        if name in self.values:
            return self.values[name]
        definition = self.definitions.get(name)
        if definition is None:
            raise TemplateError(
                ref.where, f'there is no local "{name}"; define it in a locals block'
            )
        if name in self.pending:
            raise TemplateError(
                definition.where, f'local "{name}" depends on itself; break the cycle'
            )
        self.pending.add(name)
        try:
            self.values[name] = evaluate(definition.expression(), self.scope)
        finally:
            self.pending.discard(name)
        return self.values[name]


_DEFAULT_SCOPE = Scope(functions=True, place="in a variable default")
# The type of a default does not depend on what env() returns: a string.
_TYPE_SCOPE = Scope(functions=True, place="in a variable default", env_placeholder=True)
_LITERAL_SCOPE = Scope(place="in a variable value")


def type_spec(expr: Expr) -> TypeSpec:
    """A type constraint expression (``string``, ``list(string)``, ...), as far as we need it."""
    if isinstance(expr, Literal) and isinstance(expr.value, str):
        # HCL-JSON writes the type as a string: "list(string)".
        return type_spec(parse_expression_text(expr.value, expr.where))
    if isinstance(expr, Variable) and expr.name in _PRIMITIVES:
        return TypeSpec(expr.name)
    if isinstance(expr, Call):
        if expr.name in _COLLECTIONS and len(expr.args) == 1:
            return TypeSpec(expr.name, type_spec(expr.args[0]))
        if expr.name in _STRUCTURES:
            return TypeSpec(expr.name)
        if expr.name == "optional" and expr.args:
            return type_spec(expr.args[0])
    raise TemplateError(
        expr.where, f"invalid type `{expr.text}`; use string, number, bool, list(...), ..."
    )


def _inferred(default: Value) -> TypeSpec:
    if isinstance(default, bool):
        return TypeSpec("bool")
    if isinstance(default, str):
        return TypeSpec("string")
    if is_number(default):
        return TypeSpec("number")
    if isinstance(default, list):
        return TypeSpec("tuple", length=len(default))
    return ANY


def _reason(err: OSError | UnicodeDecodeError) -> str:
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8 text"
    return err.strerror or str(err)


def _fix(err: OSError | UnicodeDecodeError) -> str:
    if isinstance(err, UnicodeDecodeError):
        return "save it as UTF-8"
    if isinstance(err, IsADirectoryError):
        return "give the path of a var file, not of a directory"
    return "make it readable"
