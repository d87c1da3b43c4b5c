"""The part of HCL's expression language that build names depend on, and its evaluator.

Expressions arrive here already parsed (native syntax by pargen.packer.native_syntax, HCL-JSON
strings by pargen.packer.json_syntax); only those that decide a name are ever evaluated.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pargen.packer import functions
from pargen.packer.values import (
    ConversionError,
    Value,
    elements,
    is_sequence,
    kind,
    same,
    show,
    to_bool,
    to_number,
    to_string,
)


@dataclass(frozen=True, slots=True)
class Where:
    """A place in a template file: path relative to ROOT, 1-based line and column."""

    path: str
    line: int
    col: int


class TemplateError(Exception):
    """Something pargen cannot read or evaluate, at the place in a template that explains it."""

    def __init__(self, where: Where, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Expr:
    where: Where
    text: str
    """Source text, quoted in messages."""


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Value


@dataclass(frozen=True, slots=True)
class Template(Expr):
    parts: tuple[str | Expr, ...]


@dataclass(frozen=True, slots=True)
class TupleExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ObjectExpr(Expr):
    items: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class Variable(Expr):
    """A bare name: the root of a traversal (``var``, ``local``, ``source``) or a type keyword."""

    name: str


@dataclass(frozen=True, slots=True)
class GetAttr(Expr):
    target: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index(Expr):
    target: Expr
    key: Expr


@dataclass(frozen=True, slots=True)
class SplatItem(Expr):
    """The element a splat expression is applied to."""


@dataclass(frozen=True, slots=True)
class Splat(Expr):
    source: Expr
    each: Expr
    """Expression over SplatItem, applied to every element."""


@dataclass(frozen=True, slots=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]
    expand_last: bool = False


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    condition: Expr
    if_true: Expr
    if_false: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    operator: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    operator: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class For(Expr):
    key_var: str | None
    value_var: str
    collection: Expr
    key: Expr | None
    """Set for an object ``{for ...}``; None for a tuple ``[for ...]``."""
    value: Expr
    condition: Expr | None
    grouping: bool


@dataclass(frozen=True, slots=True)
class Unsupported(Expr):
    reason: str


class Namespace(abc.ABC):
    """A root whose attributes are computed on demand (``var``, ``local``)."""

    @abc.abstractmethod
    def get(self, name: str, ref: Expr) -> Value:
        """The value of ``<root>.<name>``; ``ref`` is the expression asking, for messages."""


@dataclass(frozen=True)
class Scope:
    """What an expression may see: Packer gives each place in a template its own context."""

    roots: Mapping[str, Value | Namespace] = field(default_factory=dict)
    functions: bool = False
    place: str = "here"
    """Where the expression is, for messages: 'in the name of a source block'."""
    env_placeholder: bool = False
    """``env()`` gives "" (where only a value's type matters), instead of being refused."""

    def child(self, extra: Mapping[str, Value | Namespace]) -> Scope:
        return Scope({**self.roots, **extra}, self.functions, self.place, self.env_placeholder)


def evaluate(expr: Expr, scope: Scope) -> Value:
    return _Evaluator(scope).eval(expr)


_ARITHMETIC: dict[str, Callable[[int | float, int | float], int | float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}
_COMPARISON: dict[str, Callable[[int | float, int | float], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


class _Evaluator:
    def __init__(self, scope: Scope, splat_item: Value = None) -> None:
        self.scope = scope
        self.splat_item = splat_item

    def fail(self, expr: Expr, reason: str) -> TemplateError:
        return TemplateError(expr.where, f"cannot evaluate `{expr.text}`: {reason}")

    def eval(self, expr: Expr) -> Value:
        try:
            return self.dispatch(expr)
        except ConversionError as err:
            raise self.fail(expr, str(err)) from None
        except functions.FunctionError as err:
            raise self.fail(expr, str(err)) from None

    def dispatch(self, expr: Expr) -> Value:
        match expr:
            case Literal(value=value):
                return value
            case Template():
                return self.template(expr)
            case TupleExpr(items=items):
                return [self.eval(item) for item in items]
            case ObjectExpr(items=items):
                return {to_string(self.eval(k)): self.eval(v) for k, v in items}
            case Variable():
                return self.root(expr)
            case GetAttr() | Index():
                return self.traverse(expr)
            case SplatItem():
                return self.splat_item
            case Splat():
                return self.splat(expr)
            case Call():
                return self.call(expr)
            case Conditional():
                chosen = expr.if_true if to_bool(self.eval(expr.condition)) else expr.if_false
                return self.eval(chosen)
            case Binary():
                return self.binary(expr)
            case Unary():
                operand = self.eval(expr.operand)
                return -to_number(operand) if expr.operator == "-" else not to_bool(operand)
            case For():
                return self.for_expr(expr)
            case Unsupported(reason=reason):
                raise self.fail(expr, reason)
        raise self.fail(expr, "pargen does not know this kind of expression")

    def template(self, expr: Template) -> Value:
        if len(expr.parts) == 1 and isinstance(expr.parts[0], Expr):
            # "${x}" alone is x itself, whatever its type.
            return self.eval(expr.parts[0])
        out: list[str] = []
        for part in expr.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self.eval(part)
            if value is None:
                raise self.fail(part, "the value is null, which a string template cannot use")
            try:
                out.append(to_string(value))
            except ConversionError:
                raise self.fail(
                    part, f"a string template cannot use a {kind(value)} value"
                ) from None
        return "".join(out)

    def root(self, expr: Variable) -> Value:
        if expr.name not in self.scope.roots:
            raise self.fail(expr, self.unknown_root(expr.name))
        found = self.scope.roots[expr.name]
        if isinstance(found, Namespace):
            raise self.fail(expr, f"refer to one value, like `{expr.name}.<name>`")
        return found

    def unknown_root(self, name: str) -> str:
        if name == "data":
            return (
                "data sources are only known while Packer runs, but pargen needs this value "
                "before, to name the builds; use a variable or a literal instead"
            )
        if name in ("var", "local"):
            return f"Packer does not allow variables {self.scope.place}; use a literal value"
        if name in ("source", "build", "path", "packer", "each", "count", "self"):
            return (
                f'"{name}" is not available {self.scope.place}; '
                "use a variable, a local or a literal"
            )
        return f'there is no variable named "{name}"'

    def traverse(self, expr: GetAttr | Index) -> Value:
        root: Expr = expr
        while isinstance(root, GetAttr | Index):
            root = root.target
        if isinstance(root, Variable) and root.name not in self.scope.roots:
            # Name the whole reference (`data.x.y.id`), not just its root.
            raise self.fail(expr, self.unknown_root(root.name))
        target = expr.target
        if isinstance(target, Variable):
            namespace = self.scope.roots.get(target.name)
            if isinstance(namespace, Namespace):
                name = expr.name if isinstance(expr, GetAttr) else to_string(self.eval(expr.key))
                return namespace.get(name, expr)
        value = self.eval(target)
        if isinstance(expr, GetAttr):
            if isinstance(value, dict):
                if expr.name in value:
                    return value[expr.name]
                raise self.fail(expr, f'the object has no attribute "{expr.name}"')
            raise self.fail(expr, f'a {kind(value)} has no attribute "{expr.name}"')
        key = self.eval(expr.key)
        if isinstance(value, dict):
            name = to_string(key)
            if name in value:
                return value[name]
            raise self.fail(expr, f'the map has no element "{name}"')
        if isinstance(value, list):
            number = to_number(key)
            if isinstance(number, int) and 0 <= number < len(value):
                return value[number]
            raise self.fail(expr, f"index {show(key)} is out of range (length {len(value)})")
        raise self.fail(expr, f"a {kind(value)} cannot be indexed")

    def splat(self, expr: Splat) -> Value:
        source = self.eval(expr.source)
        if source is None:
            return []
        items = list(source) if is_sequence(source) else [source]  # type: ignore[arg-type]
        return [_Evaluator(self.scope, item).eval(expr.each) for item in items]

    def call(self, expr: Call) -> Value:
        if not self.scope.functions:
            raise self.fail(expr, f"Packer does not allow function calls {self.scope.place}")
        if expr.name == "env":
            return self.env(expr)
        function = functions.FUNCTIONS.get(expr.name)
        if function is None:
            raise self.fail(
                expr,
                f'pargen does not support the function "{expr.name}" in values that decide '
                "build names; use a literal or a simpler expression",
            )
        args = [self.eval(arg) for arg in expr.args]
        if expr.expand_last:
            last = args.pop() if args else None
            if not is_sequence(last):
                raise self.fail(expr, "the argument before ... must be a list or set")
            args.extend(last)  # type: ignore[arg-type]
        return function(args)

    def env(self, expr: Call) -> Value:
        # Packer gives env() to variable defaults only. A value read from pargen's own
        # environment would be pinned into the rendered script, which runs elsewhere.
        if len(expr.args) != 1 or not isinstance(self.eval(expr.args[0]), str):
            raise self.fail(expr, 'env() takes one string, like env("HOME")')
        if self.scope.env_placeholder:
            return ""
        raise self.fail(
            expr,
            "it reads the environment, and it decides a build name: pargen plans before the "
            "build's environment exists, so the rendered script would pin today's value; set "
            "this variable with --var, a var file or PKR_VAR_<name> (which replace its "
            "default), or give it a literal default",
        )

    def binary(self, expr: Binary) -> Value:
        operator = expr.operator
        if operator in ("&&", "||"):
            left = to_bool(self.eval(expr.left))
            if operator == "&&":
                return left and to_bool(self.eval(expr.right))
            return left or to_bool(self.eval(expr.right))
        left_value, right_value = self.eval(expr.left), self.eval(expr.right)
        if operator == "==":
            return same(left_value, right_value)
        if operator == "!=":
            return not same(left_value, right_value)
        a, b = to_number(left_value), to_number(right_value)
        if operator in _COMPARISON:
            return _COMPARISON[operator](a, b)
        if operator in _ARITHMETIC:
            return _ARITHMETIC[operator](a, b)
        if b == 0:
            raise self.fail(expr, "division by zero")
        if operator == "/":
            result = a / b
            return int(result) if result.is_integer() else result
        return a % b

    def for_expr(self, expr: For) -> Value:
        pairs = elements(self.eval(expr.collection))
        keys: list[str] = []
        values: list[Value] = []
        for key, value in pairs:
            bound: dict[str, Value] = {expr.value_var: value}
            if expr.key_var is not None:
                bound[expr.key_var] = key
            inner = _Evaluator(self.scope.child(bound), self.splat_item)
            if expr.condition is not None and not to_bool(inner.eval(expr.condition)):
                continue
            if expr.key is not None:
                keys.append(to_string(inner.eval(expr.key)))
            values.append(inner.eval(expr.value))
        if expr.key is None:
            return values
        result: dict[str, Value] = {}
        for key, value in zip(keys, values, strict=True):
            if expr.grouping:
                group = result.setdefault(key, [])
                assert isinstance(group, list)
                group.append(value)
            elif key in result:
                raise self.fail(expr, f'duplicate key "{key}"; add ... to group values by key')
            else:
                result[key] = value
        return result
