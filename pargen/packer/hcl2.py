"""An HCL2 template directory read into the full build names Packer gives its builds.

Mirrors hashicorp/packer ``hcl2template`` (types.build.go, types.source.go, parser.go):
names come from ``source`` blocks, ``build`` blocks (their ``name``, ``sources`` list,
nested ``source`` blocks and ``dynamic "source"`` blocks) and the variables they use.
Everything else in a template is parsed but never evaluated.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from pargen.errors import Problem
from pargen.packer.discover import TemplateSource, display_path
from pargen.packer.expressions import (
    Expr,
    Literal,
    Scope,
    TemplateError,
    TupleExpr,
    Variable,
    Where,
    evaluate,
)
from pargen.packer.hcp import Bucket, read_links
from pargen.packer.json_syntax import JsonBody
from pargen.packer.json_text import JsonSyntaxError, parse_json
from pargen.packer.native_syntax import (
    Attribute,
    Block,
    Body,
    SourceFile,
    Unexpected,
    each_error,
    parse_native,
)
from pargen.packer.outputs import output_directory, output_scope
from pargen.packer.values import ConversionError, Value, elements, is_sequence, kind, to_string
from pargen.packer.variables import (
    Declaration,
    Inputs,
    InputVariables,
    LocalValues,
    declare_variable_block,
    declare_variables_block,
)

T = TypeVar("T")
P = ParamSpec("P")
FoundBuild = tuple[str, str, Where, str | None]
"""Full build name, source type, where the reference to the source is, and the output
directory its builder writes (relative to where Packer runs; None: none or unknown)."""

_NESTED_NAME = Scope(place="in the name of a source block inside a build (it must be a literal)")


@dataclass(frozen=True)
class SourceUse:
    """One source a build runs: ``sources`` entry, nested block or dynamic expansion."""

    type: str
    name: str
    local_name: str
    where: Where
    body: Body | None = None
    """What the build adds to the source's body (a nested or dynamic source block's)."""


@dataclass
class HclReading:
    builds: list[FoundBuild] = field(default_factory=list)
    variables: frozenset[str] = frozenset()
    required_plugins: bool = False
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unused_sources: list[Problem] = field(default_factory=list)
    duplicates: list[Problem] = field(default_factory=list)
    """Those of ``problems`` that are a declaration made again in another file: files that
    cannot be loaded together."""
    publishes: list[Bucket] = field(default_factory=list)
    reads: list[Bucket] = field(default_factory=list)


def read_hcl_directory(
    source: TemplateSource, root: Path, inputs: Inputs, max_builds: int | None = None
) -> HclReading:
    bodies, problems = load_bodies(source.files, root)
    if problems:
        return HclReading(problems=problems)
    return read_bodies(bodies, inputs, max_builds)


def load_bodies(files: tuple[Path, ...], root: Path) -> tuple[list[Body], list[Problem]]:
    """The parsed files, each read once however many ways it is then evaluated."""
    problems: list[Problem] = []
    bodies = _load(files, root, problems)
    return bodies, problems


def read_bodies(bodies: list[Body], inputs: Inputs, max_builds: int | None = None) -> HclReading:
    """The builds of files loaded together, as Packer loads a directory (or one file).

    With ``max_builds``, reading stops as soon as dynamic blocks make more builds than that.
    """
    reading = HclReading()
    _Directory(bodies, inputs, reading, max_builds).read()
    return reading


def problem(err: TemplateError) -> Problem:
    return Problem(err.where.path, err.where.line, err.where.col, err.message)


def _load(files: tuple[Path, ...], root: Path, problems: list[Problem]) -> list[Body]:
    bodies: list[Body] = []
    for path in files:
        shown = display_path(root, path)
        is_json = path.name.endswith(".json")
        try:
            # Packer skips a byte order mark in native syntax; its JSON reader rejects one.
            text = path.read_text(encoding="utf-8" if is_json else "utf-8-sig")
        except UnicodeDecodeError:
            problems.append(
                Problem(shown, 0, 0, "cannot read file: not UTF-8 text; save it as UTF-8")
            )
            continue
        except OSError as err:
            problems.append(
                Problem(shown, 0, 0, f"cannot read file: {err.strerror or err}; make it readable")
            )
            continue
        try:
            if is_json:
                bodies.append(JsonBody(parse_json(text), shown))
            else:
                bodies.append(parse_native(SourceFile(shown, text)))
        except JsonSyntaxError as err:
            problems.append(Problem(shown, err.line, err.col, f"invalid JSON: {err.advice}"))
        except TemplateError as err:
            problems.extend(problem(each) for each in each_error(err))
        except RecursionError:
            problems.append(Problem(shown, 0, 0, "the file is nested too deeply to read"))
    return bodies


class _Directory:
    def __init__(
        self, bodies: list[Body], inputs: Inputs, reading: HclReading, max_builds: int | None
    ) -> None:
        self.bodies = bodies
        self.inputs = inputs
        self.reading = reading
        self.max_builds = max_builds
        self.sources: dict[tuple[str, str], Where] = {}
        self.source_bodies: dict[tuple[str, str], Body] = {}
        self.used: set[tuple[str, str]] = set()
        self.scope = Scope()
        """What build names, sources lists and for_each see: var, local and functions."""
        self.output_scope = Scope()
        """What a source's output directory sees: also path."""

    def attempt(self, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Run one step; a TemplateError becomes a problem and the reading goes on."""
        try:
            return action(*args, **kwargs)
        except TemplateError as err:
            self.reading.problems.append(problem(err))
        return None

    def top_blocks(self, block_type: str, labels: int) -> Iterator[Block]:
        for body in self.bodies:
            for block in self.attempt(body.blocks, block_type, labels) or []:
                if len(block.labels) == labels:
                    yield block
                else:
                    self.reading.problems.append(_label_problem(block, labels))

    def read(self) -> None:
        for body in self.bodies:
            for item in self.attempt(body.unexpected, TOP_LEVEL_BLOCKS) or []:
                self.reading.problems.append(_at(item.where, _unexpected_message(item)))
        self.reading.required_plugins = any(
            self.attempt(block.body.blocks, "required_plugins", 0)
            for block in self.top_blocks("packer", 0)
        )
        variables = InputVariables(self.declarations(), self.inputs)
        self.reading.variables = frozenset(variables.declarations)
        # Packer fails on a broken var file even when no build name needs its values. As with
        # a broken template file, stop: any value might have come from it.
        var_file_errors = variables.read_var_files()
        if var_file_errors:
            self.reading.problems.extend(problem(err) for err in var_file_errors)
            return
        # Packer checks every value given from outside, and that each variable has one,
        # before it reads any build.
        value_errors = variables.outside_value_errors() + variables.unset_errors()
        if value_errors:
            self.reading.problems.extend(problem(err) for err in value_errors)
            return
        definitions = self.local_definitions()
        locals_ = LocalValues(definitions, variables)
        self.scope = Scope({"var": variables, "local": locals_}, functions=True, place="here")
        self.output_scope = output_scope(definitions, variables)
        for block in self.top_blocks("source", 2):
            self.add_source(block.labels[0], block.labels[1], block.where, block.body)
        for block in self.top_blocks("dynamic", 1):
            self.attempt(self.top_dynamic, block)
        builds = list(self.top_blocks("build", 0))
        for block in builds:
            self.attempt(self.build, block)
        links = read_links(self.bodies, builds, self.scope)
        self.reading.publishes, self.reading.reads = links.publishes, links.reads
        self.reading.warnings.extend(links.warnings)
        for (source_type, name), where in self.sources.items():
            if (source_type, name) not in self.used:
                self.reading.unused_sources.append(
                    Problem(
                        where.path,
                        where.line,
                        where.col,
                        f'source "{source_type}" "{name}" is not used by any build; '
                        "add it to a build or remove it",
                    )
                )

    def declarations(self) -> dict[str, Declaration]:
        found: list[Declaration] = []
        for block in self.top_blocks("variable", 1):
            declared = self.attempt(
                declare_variable_block, block.body, block.labels[0], block.where
            )
            if declared is not None:
                found.append(declared)
        for block in self.top_blocks("variables", 0):
            found.extend(self.attempt(declare_variables_block, block.body) or [])
        declarations: dict[str, Declaration] = {}
        for declaration in found:
            first = declarations.get(declaration.name)
            if first is None:
                declarations[declaration.name] = declaration
                continue
            self.duplicate(declaration.where, f'variable "{declaration.name}"', first.where)
        return declarations

    def local_definitions(self) -> dict[str, Attribute]:
        found: list[Attribute] = []
        for block in self.top_blocks("locals", 0):
            found.extend(self.attempt(block.body.attributes) or [])
        for block in self.top_blocks("local", 1):
            expression = self.attempt(block.body.attribute, "expression")
            if expression is None:
                self.reading.problems.append(
                    _at(block.where, f'local "{block.labels[0]}" needs an expression = ... line')
                )
                continue
            found.append(_Renamed(block.labels[0], expression))
        definitions: dict[str, Attribute] = {}
        for attribute in found:
            first = definitions.get(attribute.name)
            if first is None:
                definitions[attribute.name] = attribute
                continue
            self.duplicate(attribute.where, f'local "{attribute.name}"', first.where)
        return definitions

    def duplicate(self, where: Where, what: str, first: Where) -> None:
        duplicate = _duplicate(where, what, first)
        self.reading.problems.append(duplicate)
        if where.path != first.path:
            self.reading.duplicates.append(duplicate)

    def add_source(self, source_type: str, name: str, where: Where, body: Body) -> None:
        first = self.sources.get((source_type, name))
        if first is not None:
            self.duplicate(where, f'source block "{source_type}" "{name}"', first)
            return
        self.sources[(source_type, name)] = where
        self.source_bodies[(source_type, name)] = body

    def top_dynamic(self, block: Block) -> None:
        if block.labels[0] == "build":
            raise TemplateError(
                block.where, 'pargen does not support dynamic "build" blocks; write them out'
            )
        if block.labels[0] != "source":
            if block.labels[0] not in TOP_LEVEL_BLOCKS:
                item = Unexpected("block type", block.labels[0], block.where)
                raise TemplateError(block.where, _unexpected_message(item))
            return
        for labels, content, _iteration in self.expand(block, 2):
            self.add_source(labels[0], labels[1], block.where, content)

    def build(self, block: Block) -> None:
        name_attr = block.body.attribute("name")
        build_name = ""
        if name_attr is not None:
            build_name = self.string(name_attr.expression(), self.scope, "the build name")
        uses: list[SourceUse] = []
        had_source = False
        sources = block.body.attribute("sources")
        if sources is not None:
            had_source = True
            uses.extend(self.attempt(self.sources_list, sources) or [])
        for nested in self.inner_blocks(block.body, "source"):
            had_source = True
            uses.extend(self.attempt(self.nested_source, nested) or [])
        for dynamic in self.inner_blocks(block.body, "dynamic"):
            if dynamic.labels[0] == "source":
                had_source = True
                uses.extend(self.attempt(self.dynamic_sources, dynamic) or [])
        if not had_source:
            raise TemplateError(
                block.where,
                "this build has no source: add sources = [...] or a source block "
                "(Packer refuses a build without one)",
            )
        for use in uses:
            key = (use.type, use.name)
            if key not in self.sources:
                self.reading.problems.append(
                    _at(
                        use.where,
                        f'unknown source "{use.type}.{use.name}": declare '
                        f'source "{use.type}" "{use.name}" {{ ... }} or fix the reference',
                    )
                )
                continue
            self.used.add(key)
            local = f"{use.type}.{use.local_name}"
            full = f"{build_name}.{local}" if build_name else local
            bodies = [self.source_bodies[key], *([use.body] if use.body is not None else [])]
            output = output_directory(use.type, use.name, bodies, self.output_scope)
            self.reading.builds.append((full, use.type, use.where, output))

    def inner_blocks(self, body: Body, block_type: str) -> list[Block]:
        """A build's one-label blocks of a type; a block with the wrong labels is a problem."""
        found: list[Block] = []
        for block in body.blocks(block_type, 1):
            if len(block.labels) == 1:
                found.append(block)
            else:
                self.reading.problems.append(_label_problem(block, 1))
        return found

    def sources_list(self, attribute: Attribute) -> list[SourceUse]:
        expr = attribute.expression()
        value = self.evaluate(expr, self.scope, "the sources list")
        if not is_sequence(value):
            raise TemplateError(expr.where, f"sources must be a list of strings, got {kind(value)}")
        items = expr.items if isinstance(expr, TupleExpr) else ()
        uses: list[SourceUse] = []
        for index, reference in enumerate(value):  # type: ignore[arg-type]
            where = items[index].where if index < len(items) else expr.where
            if not isinstance(reference, str):
                self.reading.problems.append(
                    _at(where, f"sources must hold strings, got {kind(reference)}")
                )
                continue
            parts = _reference_parts(reference)
            if parts is None or not all(_identifier(p) for p in parts):
                self.reading.problems.append(_at(where, _invalid_reference(reference, strict=True)))
                continue
            uses.append(SourceUse(parts[0], parts[1], parts[1], where))
        return uses

    def nested_source(self, block: Block) -> list[SourceUse]:
        reference = block.labels[0]
        parts = _reference_parts(reference)
        if parts is None:
            raise TemplateError(block.where, _invalid_reference(reference, strict=False))
        name_attr = block.body.attribute("name")
        local_name = ""
        if name_attr is not None:
            # Packer decodes this name without an evaluation context: a literal, and in
            # HCL-JSON a string taken verbatim, "${...}" included.
            expr = name_attr.expression(templates=False)
            local_name = self.string(expr, _NESTED_NAME, "the source name")
        return [SourceUse(parts[0], parts[1], local_name or parts[1], block.where, block.body)]

    def dynamic_sources(self, block: Block) -> list[SourceUse]:
        uses: list[SourceUse] = []
        names: dict[int, Expr | None] = {}
        for labels, content, iteration in self.expand(block, 1):
            reference = labels[0]
            parts = _reference_parts(reference)
            if parts is None:
                raise TemplateError(block.where, _invalid_reference(reference, strict=False))
            local_name = ""
            # Every element shares one content body: read its name expression once.
            if id(content) not in names:
                name_attr = content.attribute("name")
                names[id(content)] = None if name_attr is None else name_attr.expression()
            name_expr = names[id(content)]
            if name_expr is not None:
                scope = Scope(iteration, place=_CONTENT_PLACE)
                local_name = self.string(name_expr, scope, "the source name")
            uses.append(SourceUse(parts[0], parts[1], local_name or parts[1], block.where, content))
        return uses

    def expand(
        self, block: Block, label_count: int
    ) -> list[tuple[list[str], Body, dict[str, Value]]]:
        """A ``dynamic`` block's labels, content body and iterator, once per element."""
        body = block.body
        for_each = body.attribute("for_each")
        labels_attr = body.attribute("labels")
        contents = body.blocks("content", 0)
        if for_each is None or labels_attr is None or len(contents) != 1:
            raise TemplateError(
                block.where,
                f'a dynamic "{block.labels[0]}" block needs for_each, labels and one content '
                "block; add the missing ones",
            )
        collection_expr = for_each.expression()
        collection = self.evaluate(collection_expr, self.scope, "the for_each of a dynamic block")
        if collection is None:
            raise TemplateError(collection_expr.where, "for_each is null; give it a collection")
        try:
            pairs = elements(collection)
        except ConversionError:
            raise TemplateError(
                collection_expr.where,
                f"for_each needs a list, set or map, got {kind(collection)}",
            ) from None
        iterator = self.iterator_name(body, block.labels[0])
        label_exprs = self.label_expressions(labels_attr, label_count)
        expanded: list[tuple[list[str], Body, dict[str, Value]]] = []
        for key, value in pairs:
            self.check_count(block, len(self.reading.builds) + len(expanded) + 1)
            iteration: dict[str, Value] = {iterator: {"key": key, "value": value}}
            scope = self.scope.child(iteration)
            labels = [self.string(e, scope, "a dynamic block label") for e in label_exprs]
            expanded.append((labels, contents[0].body, iteration))
        return expanded

    def check_count(self, block: Block, count: int) -> None:
        """Stop as soon as the builds outnumber --max-jobs: a for_each can be huge."""
        if self.max_builds is not None and count > self.max_builds:
            raise TemplateError(
                block.where,
                f"this template makes more than {self.max_builds} builds, more than --max-jobs "
                f"{self.max_builds}; narrow this for_each or raise the limit",
            )

    def iterator_name(self, body: Body, default: str) -> str:
        attribute = body.attribute("iterator")
        if attribute is None:
            return default
        expr = attribute.expression(templates=False)
        if isinstance(expr, Variable):
            return expr.name
        if isinstance(expr, Literal) and isinstance(expr.value, str) and _identifier(expr.value):
            return expr.value
        raise TemplateError(expr.where, "iterator must be a single name, like iterator = item")

    def label_expressions(self, attribute: Attribute, count: int) -> tuple[Expr, ...]:
        expr = attribute.expression()
        if not isinstance(expr, TupleExpr) or len(expr.items) != count:
            raise TemplateError(
                expr.where, f"labels must be a list of {count} label(s), like {_LABELS[count]}"
            )
        return expr.items

    def evaluate(self, expr: Expr, scope: Scope, purpose: str) -> Value:
        try:
            return evaluate(expr, scope)
        except TemplateError as err:
            if (err.where.path, err.where.line) != (expr.where.path, expr.where.line):
                message = f"{err.message} (needed for {purpose} at {_place(expr.where)})"
                raise TemplateError(err.where, message) from None
            raise

    def string(self, expr: Expr, scope: Scope, purpose: str) -> str:
        value = self.evaluate(expr, scope, purpose)
        if value is None:
            raise TemplateError(expr.where, f"{purpose} `{expr.text}` is null; give it a string")
        try:
            return to_string(value)
        except ConversionError:
            raise TemplateError(
                expr.where, f"{purpose} `{expr.text}` must be a string, got {kind(value)}"
            ) from None


TOP_LEVEL_BLOCKS = frozenset(
    {"packer", "variable", "variables", "locals", "local", "data", "source", "build"}
    # Also in Packer's schema: communicator (1.6+) and hcp_packer_registry (1.9+). Packer
    # 1.6.6 rejects data, local and top-level dynamic blocks, later versions take the first
    # two; pargen reads a top-level dynamic "source" rather than reject it.
    | {"communicator", "hcp_packer_registry", "dynamic"}
)
_COMMON_BLOCKS = "packer, variable, variables, locals, local, data, source or build"


def _unexpected_message(item: Unexpected) -> str:
    if item.kind == "argument":
        return (
            f'unexpected argument "{item.name}" at the top level, where only blocks belong; '
            "move it into a block (a value goes in locals { ... }) or remove it"
        )
    close = difflib.get_close_matches(item.name, sorted(TOP_LEVEL_BLOCKS - {"dynamic"}), n=1)
    fix = f'did you mean "{close[0]}"?' if close else f"use {_COMMON_BLOCKS}, or remove it"
    return f'unsupported {item.kind} "{item.name}" at the top level; {fix}'


_CONTENT_PLACE = (
    "in the name of a dynamic source (Packer gives it only the iterator, like source.value)"
)
_LABELS = {1: '["source.<type>.<name>"]', 2: '["<type>", "<name>"]'}


class _Renamed(Attribute):
    """The ``expression`` of a ``local "name" {}`` block, under the local's name."""

    def __init__(self, name: str, inner: Attribute) -> None:
        super().__init__(name, inner.where)
        self.inner = inner

    def expression(self, templates: bool = True) -> Expr:
        return self.inner.expression(templates)


def _reference_parts(reference: str) -> tuple[str, str] | None:
    """Packer's sourceRefFromString: split on dots, drop the first of three or more parts."""
    parts = reference.split(".")
    if len(parts) < 2:
        return None
    if len(parts) > 2:
        parts = parts[1:]
    return parts[0], parts[1]


def _identifier(text: str) -> bool:
    """HCL's identifier: (ID_Start | _) (ID_Continue | -)*, as Python's isidentifier() plus -."""
    return not text.startswith("-") and text.replace("-", "_").isidentifier()


def _invalid_reference(reference: str, strict: bool) -> str:
    rule = (
        "; type and name must start with a letter or _ and hold only letters, digits, _ and -"
        if strict
        else ""
    )
    return f'invalid source reference "{reference}": write it as source.<type>.<name>{rule}'


_SHAPES = {
    ("source", 2): 'source "<type>" "<name>"',
    ("source", 1): 'source "<type>.<name>"',
    ("dynamic", 1): 'dynamic "source"',
}


def _label_problem(block: Block, expected: int) -> Problem:
    shape = _SHAPES.get((block.type, expected), block.type + ' "<name>"' * expected)
    return _at(
        block.where,
        f"a {block.type} block here takes {expected} label(s), got {len(block.labels)}; "
        f"write it as {shape} {{ ... }}",
    )


def _duplicate(where: Where, what: str, first: Where) -> Problem:
    return _at(where, f"duplicate {what}, first declared at {_place(first)}; keep only one")


def _place(where: Where) -> str:
    return f"{where.path}:{where.line}"


def _at(where: Where, message: str) -> Problem:
    return Problem(where.path, where.line, where.col, message)
