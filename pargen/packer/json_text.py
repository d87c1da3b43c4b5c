"""JSON read the way HCL reads it: every value keeps its line and column, and repeated
object keys are all kept (in HCL-JSON a repeated key is one more block, not an overwrite)."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class JsonMember:
    key: str
    line: int
    col: int
    value: JsonNode


@dataclass(frozen=True, slots=True)
class JsonObject:
    members: tuple[JsonMember, ...]
    line: int
    col: int

    def last(self, key: str) -> JsonNode | None:
        """The value a plain JSON decoder keeps for ``key``: the last one."""
        found = None
        for member in self.members:
            if member.key == key:
                found = member.value
        return found


@dataclass(frozen=True, slots=True)
class JsonArray:
    items: tuple[JsonNode, ...]
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class JsonLeaf:
    value: JsonScalar
    line: int
    col: int


JsonNode = JsonObject | JsonArray | JsonLeaf


class JsonSyntaxError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col

    @property
    def advice(self) -> str:
        """The message with what to do about it, for a person."""
        return self.message if ";" in self.message else f"{self.message}; fix the JSON"


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_LITERALS: dict[str, JsonScalar] = {"true": True, "false": False, "null": None}


def parse_json(text: str) -> JsonNode:
    """Parse ``text``; raise JsonSyntaxError with the place of the first mistake."""
    if text.startswith("\ufeff"):
        # Packer's JSON readers (HCL-JSON and legacy) reject it too.
        raise JsonSyntaxError(
            "the file starts with a byte order mark (BOM), which Packer rejects in JSON; "
            "save it as UTF-8 without BOM",
            1,
            1,
        )
    return _Reader(text).document()


def to_python(node: JsonNode) -> object:
    """Plain Python data (a repeated key keeps its last value, as json.loads does)."""
    if isinstance(node, JsonObject):
        return {m.key: to_python(m.value) for m in node.members}
    if isinstance(node, JsonArray):
        return [to_python(item) for item in node.items]
    return node.value


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, pos: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.line_starts, pos) - 1
        return index + 1, pos - self.line_starts[index] + 1

    def fail(self, message: str, pos: int | None = None) -> JsonSyntaxError:
        line, col = self.where(self.pos if pos is None else pos)
        return JsonSyntaxError(message, line, col)

    def skip_blanks(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()

    def document(self) -> JsonNode:
        node = self.value()
        self.skip_blanks()
        if self.pos != len(self.text):
            raise self.fail("extra data after the JSON value")
        return node

    def value(self) -> JsonNode:
        self.skip_blanks()
        start = self.pos
        line, col = self.where(start)
        char = self.text[start : start + 1]
        if char == "{":
            return self.object(line, col)
        if char == "[":
            return self.array(line, col)
        if char == '"':
            return JsonLeaf(self.string(), line, col)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, start):
                self.pos = start + len(word)
                return JsonLeaf(literal, line, col)
        match = _NUMBER.match(self.text, start)
        if match is None:
            raise self.fail("expecting a value" if char else "unexpected end of file")
        self.pos = match.end()
        number: int | float = (
            float(match.group()) if match.group(1) or match.group(2) else int(match.group())
        )
        return JsonLeaf(number, line, col)

    def string(self) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail("unterminated string, or a control character in a string")
        try:
            value = json.loads(match.group())
        except json.JSONDecodeError as err:
            raise self.fail(err.msg.lower(), self.pos + err.pos) from None
        self.pos = match.end()
        assert isinstance(value, str)
        return value

    def expect(self, closing: str, what: str) -> bool:
        """Consume ``,`` (True: more follows) or ``closing`` (False)."""
        self.skip_blanks()
        char = self.text[self.pos : self.pos + 1]
        if char == ",":
            self.pos += 1
            return True
        if char == closing:
            self.pos += 1
            return False
        raise self.fail(f"expecting ',' or '{closing}' in {what}")

    def object(self, line: int, col: int) -> JsonObject:
        self.pos += 1
        members: list[JsonMember] = []
        self.skip_blanks()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return JsonObject((), line, col)
        while True:
            self.skip_blanks()
            if not self.text.startswith('"', self.pos):
                raise self.fail("expecting a property name in double quotes")
            key_line, key_col = self.where(self.pos)
            key = self.string()
            self.skip_blanks()
            if not self.text.startswith(":", self.pos):
                raise self.fail("expecting ':' after the property name")
            self.pos += 1
            members.append(JsonMember(key, key_line, key_col, self.value()))
            if not self.expect("}", "object"):
                return JsonObject(tuple(members), line, col)

    def array(self, line: int, col: int) -> JsonArray:
        self.pos += 1
        items: list[JsonNode] = []
        self.skip_blanks()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return JsonArray((), line, col)
        while True:
            items.append(self.value())
            if not self.expect("]", "array"):
                return JsonArray(tuple(items), line, col)
