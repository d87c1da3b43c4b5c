"""The HCL functions that show up in values deciding build names (a small, common subset)."""

from __future__ import annotations

import re
from collections.abc import Callable

from pargen.packer.values import (
    SetValue,
    Value,
    format_number,
    is_sequence,
    kind,
    same,
    to_bool,
    to_number,
    to_string,
)


class FunctionError(Exception):
    """A function called with arguments it cannot take."""


Function = Callable[[list[Value]], Value]
FUNCTIONS: dict[str, Function] = {}


def _register(name: str, arity: int | None = None) -> Callable[[Function], Function]:
    def wrap(function: Function) -> Function:
        def checked(args: list[Value]) -> Value:
            if arity is not None and len(args) != arity:
                raise FunctionError(f"{name}() takes {arity} argument(s), got {len(args)}")
            return function(args)

        FUNCTIONS[name] = checked
        return checked

    return wrap


def _text(args: list[Value], index: int) -> str:
    return to_string(args[index])


def _sequence(value: Value) -> list[Value]:
    if not is_sequence(value):
        raise FunctionError(f"a list or set is required, got {kind(value)}")
    return list(value)  # type: ignore[arg-type]


def _mapping(value: Value) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise FunctionError(f"a map is required, got {kind(value)}")
    return value


def _integer(value: Value) -> int:
    number = to_number(value)
    if isinstance(number, float) and not number.is_integer():
        raise FunctionError(f"a whole number is required, got {format_number(number)}")
    return int(number)


def _string_function(name: str, apply: Callable[[str], str]) -> None:
    _register(name, 1)(lambda args: apply(_text(args, 0)))


_string_function("lower", str.lower)
_string_function("upper", str.upper)
_string_function("title", lambda s: re.sub(r"\b(\w)", lambda m: m.group(1).upper(), s))
_string_function("trimspace", str.strip)
_string_function("chomp", lambda s: re.sub(r"(\r\n|\n|\r)+$", "", s))
_string_function("strrev", lambda s: s[::-1])


@_register("trim", 2)
def _trim(args: list[Value]) -> Value:
    return _text(args, 0).strip(_text(args, 1))


@_register("trimprefix", 2)
def _trimprefix(args: list[Value]) -> Value:
    return _text(args, 0).removeprefix(_text(args, 1))


@_register("trimsuffix", 2)
def _trimsuffix(args: list[Value]) -> Value:
    return _text(args, 0).removesuffix(_text(args, 1))


@_register("replace", 3)
def _replace(args: list[Value]) -> Value:
    text, search, replacement = (_text(args, i) for i in range(3))
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        return _regex_replace([text, search[1:-1], replacement])
    return text.replace(search, replacement)


@_register("regex_replace", 3)
def _regex_replace(args: list[Value]) -> Value:
    text, pattern, replacement = (_text(args, i) for i in range(3))
    # Go's $1 / ${1} references become Python's \g<1>.
    python_replacement = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement.replace("\\", "\\\\"))
    try:
        return re.sub(pattern, python_replacement, text)
    except re.error as err:
        raise FunctionError(f"invalid regular expression: {err}") from None


@_register("substr", 3)
def _substr(args: list[Value]) -> Value:
    text = _text(args, 0)
    offset, length = _integer(args[1]), _integer(args[2])
    if offset < 0:
        offset += len(text)
    return text[offset:] if length == -1 else text[offset : offset + length]


@_register("join")
def _join(args: list[Value]) -> Value:
    if len(args) < 2:
        raise FunctionError("join() needs a separator and at least one list")
    items = [item for arg in args[1:] for item in _sequence(arg)]
    return _text(args, 0).join(to_string(item) for item in items)


@_register("split", 2)
def _split(args: list[Value]) -> Value:
    separator, text = _text(args, 0), _text(args, 1)
    return list(text.split(separator)) if separator else list(text)


@_register("format")
def _format(args: list[Value]) -> Value:
    if not args:
        raise FunctionError("format() needs a format string")
    return _go_format(_text(args, 0), args[1:])


@_register("formatlist")
def _formatlist(args: list[Value]) -> Value:
    if not args:
        raise FunctionError("formatlist() needs a format string")
    lists = [list(a) for a in args[1:] if is_sequence(a)]  # type: ignore[arg-type]
    count = min((len(items) for items in lists), default=1)
    return [
        _go_format(
            _text(args, 0),
            [list(a)[row] if is_sequence(a) else a for a in args[1:]],  # type: ignore[arg-type]
        )
        for row in range(count)
    ]


_VERB = re.compile(r"%(?:\[(\d+)\])?([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


def _go_format(template: str, args: list[Value]) -> str:
    position = 0

    def verb(match: re.Match[str]) -> str:
        nonlocal position
        explicit, flags, width, precision, letter = match.groups()
        if letter == "%":
            return "%"
        if explicit:
            position = int(explicit) - 1
        if position >= len(args):
            raise FunctionError(f"format(): not enough arguments for {match.group()}")
        value = args[position]
        position += 1
        if letter in "sv":
            rendered = to_string(value)
        elif letter == "q":
            rendered = '"' + to_string(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif letter == "d":
            rendered = str(int(to_number(value)))
        elif letter == "f":
            rendered = f"{to_number(value):.{int(precision or 6)}f}"
        elif letter == "t":
            rendered = "true" if to_bool(value) else "false"
        else:
            raise FunctionError(f"format(): pargen does not support the verb %{letter}")
        if width:
            size = int(width)
            pad = "0" if "0" in flags and "-" not in flags else " "
            rendered = rendered.ljust(size) if "-" in flags else rendered.rjust(size, pad)
        return rendered

    return _VERB.sub(verb, template)


@_register("length", 1)
def _length(args: list[Value]) -> Value:
    value = args[0]
    if isinstance(value, str | list | SetValue | dict):
        return len(value)
    raise FunctionError(f"length() takes a string or collection, got {kind(value)}")


@_register("concat")
def _concat(args: list[Value]) -> Value:
    return [item for arg in args for item in _sequence(arg)]


@_register("flatten", 1)
def _flatten(args: list[Value]) -> Value:
    def walk(items: list[Value]) -> list[Value]:
        out: list[Value] = []
        for item in items:
            out.extend(walk(list(item)) if is_sequence(item) else [item])  # type: ignore[arg-type]
        return out

    return walk(_sequence(args[0]))


@_register("distinct", 1)
def _distinct(args: list[Value]) -> Value:
    out: list[Value] = []
    for item in _sequence(args[0]):
        if not any(same(item, seen) for seen in out):
            out.append(item)
    return out


@_register("reverse", 1)
def _reverse(args: list[Value]) -> Value:
    return _sequence(args[0])[::-1]


@_register("sort", 1)
def _sort(args: list[Value]) -> Value:
    return list[Value](sorted(to_string(item) for item in _sequence(args[0])))


@_register("compact", 1)
def _compact(args: list[Value]) -> Value:
    return [item for item in _sequence(args[0]) if item not in (None, "")]


@_register("contains", 2)
def _contains(args: list[Value]) -> Value:
    return any(same(item, args[1]) for item in _sequence(args[0]))


@_register("element", 2)
def _element(args: list[Value]) -> Value:
    items = _sequence(args[0])
    if not items:
        raise FunctionError("element() cannot use an empty list")
    return items[_integer(args[1]) % len(items)]


@_register("slice", 3)
def _slice(args: list[Value]) -> Value:
    return _sequence(args[0])[_integer(args[1]) : _integer(args[2])]


@_register("range")
def _range(args: list[Value]) -> Value:
    if not 1 <= len(args) <= 3:
        raise FunctionError("range() takes 1 to 3 arguments")
    numbers = [_integer(arg) for arg in args]
    if len(numbers) == 1:
        numbers.insert(0, 0)
    values = range(*numbers)
    if len(values) > _RANGE_LIMIT:
        # go-cty's own cap, in every Packer version (its words).
        raise FunctionError(
            f"more than {_RANGE_LIMIT} values were generated; either decrease the difference "
            "between start and end or use a smaller step"
        )
    return list(values)


_RANGE_LIMIT = 1024


@_register("coalesce")
def _coalesce(args: list[Value]) -> Value:
    for arg in args:
        if arg not in (None, ""):
            return arg
    raise FunctionError("coalesce(): no non-null, non-empty argument")


@_register("keys", 1)
def _keys(args: list[Value]) -> Value:
    return list[Value](sorted(_mapping(args[0])))


@_register("values", 1)
def _values(args: list[Value]) -> Value:
    mapping = _mapping(args[0])
    return [mapping[key] for key in sorted(mapping)]


@_register("lookup")
def _lookup(args: list[Value]) -> Value:
    if len(args) not in (2, 3):
        raise FunctionError("lookup() takes 2 or 3 arguments")
    mapping, key = _mapping(args[0]), _text(args, 1)
    if key in mapping:
        return mapping[key]
    if len(args) == 3:
        return args[2]
    raise FunctionError(f'lookup(): no key "{key}" and no default')


@_register("merge")
def _merge(args: list[Value]) -> Value:
    merged: dict[str, Value] = {}
    for arg in args:
        if arg is not None:
            merged.update(_mapping(arg))
    return merged


@_register("zipmap", 2)
def _zipmap(args: list[Value]) -> Value:
    keys, values = _sequence(args[0]), _sequence(args[1])
    if len(keys) != len(values):
        raise FunctionError("zipmap() needs two lists of the same length")
    return {to_string(k): v for k, v in zip(keys, values, strict=True)}


@_register("toset", 1)
def _toset(args: list[Value]) -> Value:
    return SetValue.of(_sequence(args[0]))


@_register("tolist", 1)
def _tolist(args: list[Value]) -> Value:
    return _sequence(args[0])


@_register("tomap", 1)
def _tomap(args: list[Value]) -> Value:
    return dict(_mapping(args[0]))


@_register("tostring", 1)
def _tostring(args: list[Value]) -> Value:
    return None if args[0] is None else to_string(args[0])


@_register("tonumber", 1)
def _tonumber(args: list[Value]) -> Value:
    return None if args[0] is None else to_number(args[0])


@_register("tobool", 1)
def _tobool(args: list[Value]) -> Value:
    return None if args[0] is None else to_bool(args[0])


@_register("setunion")
def _setunion(args: list[Value]) -> Value:
    return SetValue.of([item for arg in args for item in _sequence(arg)])


@_register("min")
def _min(args: list[Value]) -> Value:
    return min(to_number(arg) for arg in args) if args else _empty("min")


@_register("max")
def _max(args: list[Value]) -> Value:
    return max(to_number(arg) for arg in args) if args else _empty("max")


def _empty(name: str) -> Value:
    raise FunctionError(f"{name}() needs at least one argument")
