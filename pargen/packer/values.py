"""HCL values as Python data, and the conversions Packer applies to them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias


class SetValue(tuple[Any, ...]):
    """An HCL set: unique elements, iterated in cty's order (sorted, for strings and numbers)."""

    @classmethod
    def of(cls, items: list[Value] | tuple[Value, ...]) -> SetValue:
        unique: list[Value] = []
        for item in items:
            if not any(same(item, u) for u in unique):
                unique.append(item)
        if all(isinstance(i, str) for i in unique) or all(is_number(i) for i in unique):
            unique.sort()
        return cls(unique)


Value: TypeAlias = str | int | float | bool | list["Value"] | SetValue | dict[str, "Value"] | None


class ConversionError(Exception):
    """A value of the wrong kind for what was asked of it."""


def same(left: Value, right: Value) -> bool:
    """HCL equality: Python says True == 1, HCL keeps bools and numbers apart."""
    return kind(left) == kind(right) and left == right


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_sequence(value: object) -> bool:
    return isinstance(value, list | SetValue)


def kind(value: Value) -> str:
    """The HCL type name people see in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if is_number(value):
        return "number"
    if isinstance(value, SetValue):
        return "set"
    if isinstance(value, list):
        return "list"
    return "object"


def format_number(number: int | float) -> str:
    if isinstance(number, int):
        return str(number)
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")


def to_string(value: Value) -> str:
    """cty's conversion to string: strings, numbers and bools only."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        assert isinstance(value, int | float)
        return format_number(value)
    raise ConversionError(f"a string is required, got {kind(value)}")


def to_number(value: Value) -> int | float:
    if is_number(value):
        assert isinstance(value, int | float)
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            pass
    raise ConversionError(f"a number is required, got {kind(value)}")


def to_bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ConversionError(f"a bool is required, got {kind(value)}")


def elements(value: Value) -> list[tuple[Value, Value]]:
    """(key, value) pairs the way HCL iterates a collection (for_each, for expressions)."""
    if isinstance(value, SetValue):
        return [(item, item) for item in value]
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        return [(key, value[key]) for key in sorted(value)]
    raise ConversionError(f"a collection (list, set or map) is required, got {kind(value)}")


def show(value: Value) -> str:
    """A short rendering of a value for messages."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None or isinstance(value, bool) or is_number(value):
        return to_string(value) if value is not None else "null"
    if isinstance(value, list | SetValue):
        return f"a {kind(value)} of {len(value)}"
    return kind(value)


@dataclass(frozen=True)
class TypeSpec:
    """A variable's type constraint, as far as conversions of its value need it."""

    name: str
    """string, number, bool, any, list, set, map, object or tuple."""
    element: TypeSpec | None = None
    length: int | None = None
    """For a tuple type taken from a default: the number of elements it must have."""


ANY = TypeSpec("any")


def convert(value: Value, spec: TypeSpec) -> Value:
    """Convert ``value`` to ``spec`` the way Packer converts variable values."""
    if spec.length is not None and value is not None and not _has_length(value, spec.length):
        raise ConversionError(
            f"a list of {spec.length} element(s) is required, got {show(value)} (the type "
            "comes from the default: declare a type like list(string) to allow others)"
        )
    if value is None or spec.name in ("any", "object", "tuple"):
        return value
    if spec.name == "string":
        return to_string(value)
    if spec.name == "number":
        return to_number(value)
    if spec.name == "bool":
        return to_bool(value)
    element = spec.element or ANY
    if spec.name == "map":
        if not isinstance(value, dict):
            raise ConversionError(f"a map is required, got {kind(value)}")
        return {key: convert(item, element) for key, item in value.items()}
    if not is_sequence(value):
        raise ConversionError(f"a {spec.name} is required, got {kind(value)}")
    assert isinstance(value, list | SetValue)
    items = [convert(item, element) for item in value]
    return SetValue.of(items) if spec.name == "set" else items


def _has_length(value: Value, length: int) -> bool:
    return isinstance(value, list | SetValue) and len(value) == length
