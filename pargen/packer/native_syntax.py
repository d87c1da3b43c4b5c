"""HCL2 native syntax (``.pkr.hcl``, ``.pkrvars.hcl``) read into neutral blocks and attributes.

python-hcl2 gives the parse tree with positions; its own serializer is skipped (it costs more
than the parse and drops what we need). The text is skimmed first (pargen.packer.native_text),
and an attribute's value becomes an expression only when asked for.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from pargen.packer.expressions import (
    Binary,
    Call,
    Conditional,
    Expr,
    For,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Splat,
    SplatItem,
    Template,
    TemplateError,
    TupleExpr,
    Unary,
    Unsupported,
    Variable,
    Where,
)
from pargen.packer.hcl_check import SyntaxErrors, check_native
from pargen.packer.native_text import (
    close_heredocs,
    interpolation_end,
    relax_strip_markers,
    scan,
    skim,
)

LarkTree = Tree[Token]


class Attribute(abc.ABC):
    """``name = value`` in a body; the value is read only when asked for."""

    def __init__(self, name: str, where: Where) -> None:
        self.name = name
        self.where = where

    @abc.abstractmethod
    def expression(self, templates: bool = True) -> Expr:
        """The value as an expression.

        ``templates=False`` is how Packer reads a value without an evaluation context: in
        HCL-JSON a string is then taken verbatim, "${...}" included.
        """


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...]
    where: Where
    body: Body


@dataclass(frozen=True)
class Unexpected:
    kind: str
    """"argument", "block type", or (HCL-JSON, where the two look alike) "property"."""
    name: str
    where: Where


class Body(abc.ABC):
    @abc.abstractmethod
    def attributes(self) -> list[Attribute]:
        """Every attribute, in file order (HCL-JSON: every property, blocks included)."""

    @abc.abstractmethod
    def blocks(self, block_type: str, labels: int) -> list[Block]:
        """Blocks of one type, in file order. ``labels`` is how many the schema expects
        (HCL-JSON needs it to unpack them; native blocks are checked by the caller)."""

    @abc.abstractmethod
    def unexpected(self, block_types: Collection[str]) -> list[Unexpected]:
        """What a body that takes only blocks of ``block_types`` must not hold, in file order."""

    def attribute(self, name: str) -> Attribute | None:
        found = [attr for attr in self.attributes() if attr.name == name]
        if len(found) > 1:
            first = found[0].where
            raise TemplateError(
                found[1].where,
                f'duplicate argument "{name}" (first set at line {first.line}); keep only one',
            )
        return found[0] if found else None


@dataclass(frozen=True)
class SourceFile:
    path: str
    """Relative to ROOT, for messages."""
    text: str


def parse_native(file: SourceFile) -> Body:
    """Parse one file of HCL native syntax; raise TemplateError for a syntax error
    (SyntaxErrors for what HCL itself rejects, EscapeErrors for invalid escapes: see
    each_error)."""
    check_native(file.text, file.path)
    tree, parsed = _parse_text(close_heredocs(file.text), file.path)
    body = tree.children[0]
    assert isinstance(body, Tree)
    return NativeBody(body, SourceFile(file.path, parsed))


class EscapeErrors(TemplateError):
    """Every invalid escape in one file: each is a problem of its own."""

    def __init__(self, errors: list[TemplateError]) -> None:
        super().__init__(errors[0].where, errors[0].message)
        self.errors = errors


def each_error(err: TemplateError) -> list[TemplateError]:
    """The problems one error from parse_native stands for."""
    return err.errors if isinstance(err, (EscapeErrors, SyntaxErrors)) else [err]


def _parse_text(text: str, path: str) -> tuple[LarkTree, str]:
    """The parse tree of ``text`` skimmed, and the text it was parsed from."""
    scanned = scan(text)
    escape = None
    if scanned.bad_escapes:
        escape = EscapeErrors(
            [
                TemplateError(_position(path, text, offset), _escape_message(text, offset))
                for offset in scanned.bad_escapes
            ]
        )
    try:
        parsed = _parse_skimmed(text, scanned.skimmed)
    except LarkError as err:
        # python-hcl2 reports an unclosed string at some later token: name the string.
        errors = [_syntax_error(path, err)]
        if scanned.unclosed_string is not None:
            where = _position(path, text, scanned.unclosed_string)
            errors.append(TemplateError(where, _UNCLOSED))
        if escape is not None:
            errors.append(escape.errors[0])
        raise min(errors, key=_first) from None
    if escape is not None:
        raise escape
    return parsed


_UNCLOSED = (
    'this string is never closed: add the closing " on the same line '
    "(for text over several lines, use \\n or a heredoc)"
)


def _parse_skimmed(text: str, skimmed: str) -> tuple[LarkTree, str]:
    try:
        return hcl2.parses_to_tree(skimmed), skimmed
    except LarkError as err:
        error = err
    if skimmed != text:
        # A skimmed body must never hide or move a syntax error: report the whole file's.
        try:
            return hcl2.parses_to_tree(text), text
        except LarkError as err:
            error = err
    relaxed = relax_strip_markers(text)
    if relaxed is not None:
        relaxed = skim(relaxed)
        try:
            return hcl2.parses_to_tree(relaxed), relaxed
        except LarkError:
            pass
    raise error


def _position(path: str, text: str, offset: int) -> Where:
    line_start = text.rfind("\n", 0, offset) + 1
    return Where(path, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _first(err: TemplateError) -> tuple[int, int]:
    """Sort key: the earliest place in the file; a problem without one last."""
    line, col = err.where.line, err.where.col
    return (line, col) if line > 0 else (1 << 62, 0)


def _escape_message(text: str, offset: int) -> str:
    selector = text[offset + 1 : offset + 2]
    if selector in ("u", "U"):
        digits = "four" if selector == "u" else "eight"
        return (
            f"invalid escape sequence in a string: \\{selector} must be followed by {digits} "
            "hexadecimal digits"
        )
    return (
        f'invalid escape sequence "\\{selector}" in a string: write \\\\ for a backslash; '
        'a quoted string knows \\n \\r \\t \\" \\\\ \\uNNNN and \\UNNNNNNNN'
    )


def parse_expression_text(text: str, where: Where) -> Expr:
    """One expression given as text (a ``-var`` value, an HCL-JSON interpolation)."""
    source = f"x = {text}\n"
    try:
        tree = hcl2.parses_to_tree(source)
    except LarkError as err:
        raise TemplateError(
            where, f"invalid expression `{text.strip()}`: {_describe(err)}"
        ) from None
    bad_escapes = scan(source).bad_escapes
    if bad_escapes:
        message = _escape_message(source, bad_escapes[0])
        raise TemplateError(where, f"invalid expression `{text.strip()}`: {message}")
    body = tree.children[0]
    assert isinstance(body, Tree)
    items = [c for c in body.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    if len(items) != 1 or items[0].data != "attribute":
        raise TemplateError(where, f"invalid expression `{text.strip()}`")
    return _Converter(SourceFile(where.path, source), where).convert(_value_tree(items[0]))


def _syntax_error(path: str, err: LarkError) -> TemplateError:
    line = getattr(err, "line", 0)
    col = getattr(err, "column", 0)
    if not (isinstance(line, int) and isinstance(col, int) and line > 0):
        line = col = 0
    where = Where(path, line, max(col, 0))
    return TemplateError(where, f"invalid HCL syntax: {_describe(err)}; fix the file")


def _describe(err: LarkError) -> str:
    if isinstance(err, UnexpectedToken):
        if err.token.type == "$END":
            return "unexpected end of file"
        snippet = str(err.token).strip().split("\n")[0][:30]
        return f"unexpected {snippet!r}" if snippet else "unexpected end of line"
    if isinstance(err, UnexpectedCharacters):
        return f"unexpected character {err.char!r}"
    if isinstance(err, UnexpectedInput):
        return "unexpected end of file"
    return str(err).split("\n")[0]


# -- bodies ------------------------------------------------------------------------------


class NativeAttribute(Attribute):
    def __init__(self, name: str, where: Where, tree: LarkTree, file: SourceFile) -> None:
        super().__init__(name, where)
        self.tree = tree
        self.file = file

    def expression(self, templates: bool = True) -> Expr:
        return _Converter(self.file).convert(self.tree)


class NativeBody(Body):
    def __init__(self, tree: LarkTree, file: SourceFile) -> None:
        self.tree = tree
        self.file = file

    @cached_property
    def _items(self) -> tuple[list[Attribute], list[Block]]:
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        for child in self.tree.children:
            if not isinstance(child, Tree):
                continue
            if child.data == "attribute":
                name = _name(child.children[0])
                where = _where(self.file.path, child)
                attributes.append(NativeAttribute(name, where, _value_tree(child), self.file))
            elif child.data == "block":
                blocks.append(self._block(child))
        return attributes, blocks

    def _block(self, tree: LarkTree) -> Block:
        head = [c for c in tree.children if isinstance(c, Tree)]
        body = next(c for c in head if c.data == "body")
        label_trees = head[1 : head.index(body)]
        labels = tuple(
            self._label(label) for label in label_trees if label.data != "new_line_or_comment"
        )
        where = _where(self.file.path, tree)
        return Block(_name(head[0]), labels, where, NativeBody(body, self.file))

    def _label(self, tree: LarkTree) -> str:
        if tree.data != "string":
            return _name(tree)
        expr = _Converter(self.file).convert(tree)
        if isinstance(expr, Literal) and isinstance(expr.value, str):
            return expr.value
        raise TemplateError(expr.where, "a block label must be a literal string")

    def attributes(self) -> list[Attribute]:
        return self._items[0]

    def blocks(self, block_type: str, labels: int) -> list[Block]:
        return [block for block in self._items[1] if block.type == block_type]

    def unexpected(self, block_types: Collection[str]) -> list[Unexpected]:
        attributes, blocks = self._items
        found = [Unexpected("argument", a.name, a.where) for a in attributes]
        found += [
            Unexpected("block type", b.type, b.where) for b in blocks if b.type not in block_types
        ]
        return sorted(found, key=lambda item: (item.where.line, item.where.col))


def _value_tree(attribute: LarkTree) -> LarkTree:
    value = attribute.children[-1]
    assert isinstance(value, Tree)
    return value


def _name(tree: Token | LarkTree) -> str:
    """The text of an identifier-like node (identifier, keyword, literal_value)."""
    if isinstance(tree, Token):
        return str(tree)
    return "".join(_name(child) for child in tree.children)


def _where(path: str, node: LarkTree | Token) -> Where:
    if isinstance(node, Token):
        return Where(path, node.line or 0, node.column or 0)
    meta = node.meta
    return Where(path, getattr(meta, "line", 0), getattr(meta, "column", 0))


# -- expressions ---------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_DIRECTIVES = frozenset(
    {"template_if_start", "template_else", "template_endif", "template_for_start"}
    | {"template_endfor"}
)


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw

    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code:
            return chr(int(code, 16))
        char = match.group(3)
        return _SIMPLE_ESCAPES.get(char, "\\" + char)

    return _ESCAPE.sub(one, raw)


def _trees(tree: LarkTree) -> list[LarkTree]:
    """Child trees that carry meaning (no tokens, no newlines or comments)."""
    return [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _tokens(tree: LarkTree) -> list[Token]:
    return [c for c in tree.children if isinstance(c, Token)]


class _Converter:
    """Lark parse tree of one expression -> pargen.packer.expressions nodes."""

    def __init__(self, file: SourceFile, fixed: Where | None = None) -> None:
        self.file = file
        self.fixed = fixed
        """When set, every node is placed here (expressions parsed out of a JSON string)."""

    def where(self, tree: LarkTree | Token) -> Where:
        return self.fixed or _where(self.file.path, tree)

    def text(self, tree: LarkTree) -> str:
        meta = tree.meta
        if getattr(meta, "empty", True):
            return ""
        return self.file.text[meta.start_pos : meta.end_pos].strip()

    def convert(self, tree: LarkTree) -> Expr:
        handler = getattr(self, "on_" + tree.data, None)
        if handler is None:
            return Unsupported(
                self.where(tree),
                self.text(tree),
                f"pargen does not evaluate this kind of expression ({tree.data})",
            )
        result: Expr = handler(tree, self.where(tree), self.text(tree))
        return result

    def on_expr_term(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.convert(_trees(tree)[0])

    def on_conditional(self, tree: LarkTree, where: Where, text: str) -> Expr:
        condition, if_true, if_false = (self.convert(t) for t in _trees(tree))
        return Conditional(where, text, condition, if_true, if_false)

    def on_binary_op(self, tree: LarkTree, where: Where, text: str) -> Expr:
        left, term = _trees(tree)
        operator_tree, right = _trees(term)
        operator = str(_tokens(operator_tree)[0]).strip()
        return Binary(where, text, operator, self.convert(left), self.convert(right))

    def on_unary_op(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return Unary(where, text, str(_tokens(tree)[0]), self.convert(_trees(tree)[0]))

    def on_int_lit(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return Literal(where, text, int(str(_tokens(tree)[0])))

    def on_float_lit(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return Literal(where, text, float(str(_tokens(tree)[0])))

    def on_literal_value(self, tree: LarkTree, where: Where, text: str) -> Expr:
        word = str(_tokens(tree)[0])
        return Literal(where, text, {"true": True, "false": False}.get(word))

    def on_identifier(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return Variable(where, text, _name(tree))

    def on_string(self, tree: LarkTree, where: Where, text: str) -> Expr:
        parts: list[str | Expr] = []
        for part in _trees(tree):
            (piece,) = part.children
            if isinstance(piece, Token):
                raw = str(piece)
                if piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    parts.append(raw[1:])
                else:
                    parts.append(_unescape(raw))
            elif piece.data == "interpolation":
                parts.append(self.convert(_trees(piece)[0]))
            else:
                return self.directive(where, text)
        return _template(where, text, parts)

    def directive(self, where: Where, text: str) -> Expr:
        return Unsupported(where, text, "pargen does not evaluate template directives (%{...})")

    def on_template_string(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.directive(where, text)

    def on_heredoc_template(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.heredoc(tree, where, text, trim=False)

    def on_heredoc_template_trim(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.heredoc(tree, where, text, trim=True)

    def heredoc(self, tree: LarkTree, where: Where, text: str, trim: bool) -> Expr:
        lines = str(_tokens(tree)[0]).split("\n")
        body = [line.rstrip("\r") for line in lines[1:-2]]
        if trim:
            indents = [len(line) - len(line.lstrip(" \t")) for line in body if line.strip()]
            cut = min(indents, default=0)
            body = [line[cut:] for line in body]
        content = "".join(line + "\n" for line in body)
        return parse_template_text(content, self.fixed or where, text)

    def on_tuple(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return TupleExpr(where, text, tuple(self.convert(t) for t in _trees(tree)))

    def on_object(self, tree: LarkTree, where: Where, text: str) -> Expr:
        items: list[tuple[Expr, Expr]] = []
        for element in _trees(tree):
            key_tree, value_tree = _trees(element)
            items.append((self.object_key(key_tree), self.convert(value_tree)))
        return ObjectExpr(where, text, tuple(items))

    def object_key(self, tree: LarkTree) -> Expr:
        (inner,) = _trees(tree) or [tree]
        if inner.data == "keyword":
            return Literal(self.where(inner), self.text(inner), _name(inner))
        bare = _trees(inner)
        if inner.data == "expr_term" and len(bare) == 1 and bare[0].data == "identifier":
            # `{ name = ... }`: a bare word is the key itself, not a variable.
            return Literal(self.where(inner), self.text(inner), _name(bare[0]))
        return self.convert(inner)

    def on_function_call(self, tree: LarkTree, where: Where, text: str) -> Expr:
        names = [t for t in _trees(tree) if t.data == "identifier"]
        if len(names) > 1:
            return Unsupported(where, text, "pargen does not evaluate provider functions")
        arguments = [t for t in _trees(tree) if t.data == "arguments"]
        args: tuple[Expr, ...] = ()
        expand = False
        if arguments:
            args = tuple(self.convert(t) for t in _trees(arguments[0]))
            expand = any(token.type == "ELLIPSIS" for token in _tokens(arguments[0]))
        return Call(where, text, _name(names[0]), args, expand)

    def on_index_expr_term(self, tree: LarkTree, where: Where, text: str) -> Expr:
        target, index = _trees(tree)
        return Index(where, text, self.convert(target), self.index_key(index))

    def index_key(self, index: LarkTree) -> Expr:
        if index.data == "short_index":
            number = next(t for t in _tokens(index) if t.type == "INT_LITERAL")
            return Literal(self.where(index), str(number), int(str(number)))
        return self.convert(_trees(index)[0])

    def on_get_attr_expr_term(self, tree: LarkTree, where: Where, text: str) -> Expr:
        target, get_attr = _trees(tree)
        return GetAttr(where, text, self.convert(target), _name(_trees(get_attr)[0]))

    def on_attr_splat_expr_term(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.splat(tree, where, text)

    def on_full_splat_expr_term(self, tree: LarkTree, where: Where, text: str) -> Expr:
        return self.splat(tree, where, text)

    def splat(self, tree: LarkTree, where: Where, text: str) -> Expr:
        source, steps = _trees(tree)
        each: Expr = SplatItem(where, text)
        for step in _trees(steps):
            if step.data == "get_attr":
                each = GetAttr(where, text, each, _name(_trees(step)[0]))
            else:
                each = Index(where, text, each, self.index_key(step))
        return Splat(where, text, self.convert(source), each)

    def on_for_tuple_expr(self, tree: LarkTree, where: Where, text: str) -> Expr:
        intro, value, *rest = _trees(tree)
        return self.for_expr(
            where=where, text=text, intro=intro, key=None, value=value, rest=rest, grouping=False
        )

    def on_for_object_expr(self, tree: LarkTree, where: Where, text: str) -> Expr:
        intro, key, value, *rest = _trees(tree)
        grouping = any(token.type == "ELLIPSIS" for token in _tokens(tree))
        return self.for_expr(
            where=where, text=text, intro=intro, key=key, value=value, rest=rest, grouping=grouping
        )

    def for_expr(
        self,
        *,
        where: Where,
        text: str,
        intro: LarkTree,
        key: LarkTree | None,
        value: LarkTree,
        rest: list[LarkTree],
        grouping: bool,
    ) -> Expr:
        parts = _trees(intro)
        names = [_name(p) for p in parts[:-1]]
        key_var, value_var = (None, names[0]) if len(names) == 1 else (names[0], names[1])
        condition = self.convert(_trees(rest[0])[0]) if rest else None
        return For(
            where,
            text,
            key_var,
            value_var,
            self.convert(parts[-1]),
            self.convert(key) if key is not None else None,
            self.convert(value),
            condition,
            grouping,
        )


def _template(where: Where, text: str, parts: list[str | Expr]) -> Expr:
    merged: list[str | Expr] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if not merged:
        return Literal(where, text, "")
    if len(merged) == 1 and isinstance(merged[0], str):
        return Literal(where, text, merged[0])
    return Template(where, text, tuple(merged))


def parse_template_text(content: str, where: Where, text: str) -> Expr:
    """A template given as plain text (an HCL-JSON string, a heredoc body)."""
    parts: list[str | Expr] = []
    position = 0
    literal_start = 0
    while True:
        found = _next_template_start(content, position)
        if found < 0:
            break
        if content.startswith(("$${", "%%{"), found):
            parts.append(content[literal_start:found] + content[found + 1 : found + 3])
            position = literal_start = found + 3
            continue
        parts.append(content[literal_start:found])
        end = interpolation_end(content, found + 2)
        if end < 0:
            raise TemplateError(where, f"unclosed interpolation in `{text}`; add the missing }}")
        if content[found] == "%":
            return Unsupported(where, text, "pargen does not evaluate template directives (%{...})")
        inner = content[found + 2 : end]
        if inner.startswith("~"):
            inner = inner[1:]
            parts[-1] = str(parts[-1]).rstrip()
        strip_after = inner.endswith("~")
        parts.append(parse_expression_text(inner.rstrip("~"), where))
        position = literal_start = end + 1
        if strip_after:
            rest = content[position:]
            position = literal_start = position + len(rest) - len(rest.lstrip())
    parts.append(content[literal_start:])
    return _template(where, text, parts)


def _next_template_start(content: str, position: int) -> int:
    dollar = content.find("${", position)
    percent = content.find("%{", position)
    # "$${" is found as "${" one character late: step back to see the escape.
    candidates = [i for i in (dollar, percent) if i >= 0]
    if not candidates:
        return -1
    first = min(candidates)
    if first > 0 and content[first - 1] == content[first] and first - 1 >= position:
        return first - 1
    return first
