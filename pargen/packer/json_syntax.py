"""HCL in JSON syntax (``.pkr.json``, ``.pkrvars.json``) read into the same neutral blocks.

Follows hashicorp/hcl ``json/structure.go``: a body is an object or an array of objects whose
properties are merged; a block's labels are nested object keys, and its body may be an object
(one block) or an array of objects (one block each); ``"//"`` properties are comments.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from pargen.packer.expressions import Expr, Literal, ObjectExpr, TemplateError, TupleExpr, Where
from pargen.packer.json_text import JsonArray, JsonLeaf, JsonMember, JsonNode, JsonObject, to_python
from pargen.packer.native_syntax import Attribute, Block, Body, Unexpected, parse_template_text


class JsonAttribute(Attribute):
    def __init__(self, name: str, where: Where, node: JsonNode, path: str) -> None:
        super().__init__(name, where)
        self.node = node
        self.path = path

    def expression(self, templates: bool = True) -> Expr:
        return json_expression(self.node, self.path, templates)


class JsonBody(Body):
    def __init__(self, node: JsonNode, path: str) -> None:
        self.node = node
        self.path = path

    def where(self, node: JsonNode | JsonMember) -> Where:
        return Where(self.path, node.line, node.col)

    def members(self, node: JsonNode, purpose: str) -> list[JsonMember]:
        if isinstance(node, JsonObject):
            return list(node.members)
        if isinstance(node, JsonArray):
            members: list[JsonMember] = []
            for item in node.items:
                if not isinstance(item, JsonObject):
                    raise TemplateError(self.where(item), f"a JSON object is required {purpose}")
                members.extend(item.members)
            return members
        if node.value is None:
            return []
        raise TemplateError(
            self.where(node), f"a JSON object or an array of objects is required {purpose}"
        )

    def attributes(self) -> list[Attribute]:
        return [
            JsonAttribute(m.key, self.where(m), m.value, self.path)
            for m in self.members(self.node, "here, to define arguments and blocks")
            if m.key != "//"
        ]

    def unexpected(self, block_types: Collection[str]) -> list[Unexpected]:
        return [
            Unexpected("property", m.key, self.where(m))
            for m in self.members(self.node, "here, to define arguments and blocks")
            if m.key != "//" and m.key not in block_types
        ]

    def blocks(self, block_type: str, labels: int) -> list[Block]:
        found: list[Block] = []
        for member in self.members(self.node, "here, to define arguments and blocks"):
            if member.key == block_type:
                self._unpack(
                    member.value,
                    block_type=block_type,
                    labels_left=labels,
                    labels=(),
                    where=self.where(member),
                    found=found,
                )
        return found

    def _unpack(
        self,
        node: JsonNode,
        *,
        block_type: str,
        labels_left: int,
        labels: tuple[str, ...],
        where: Where,
        found: list[Block],
    ) -> None:
        if labels_left:
            purpose = f'here: its keys are the labels of the "{block_type}" block'
            members = self.members(node, purpose)
            if not members:
                raise TemplateError(
                    self.where(node), f'the "{block_type}" block is missing a label; add one'
                )
            for member in members:
                self._unpack(
                    member.value,
                    block_type=block_type,
                    labels_left=labels_left - 1,
                    labels=(*labels, member.key),
                    where=self.where(member),
                    found=found,
                )
            return
        if isinstance(node, JsonObject):
            found.append(Block(block_type, labels, where, JsonBody(node, self.path)))
        elif isinstance(node, JsonArray):
            for item in node.items:
                found.append(Block(block_type, labels, self.where(item), JsonBody(item, self.path)))
        elif node.value is not None:
            raise TemplateError(
                self.where(node),
                f'a JSON object or array is required for the contents of "{block_type}" blocks',
            )


def json_expression(node: JsonNode, path: str, templates: bool) -> Expr:
    """A JSON value as an expression: with ``templates``, strings are HCL templates."""
    where = Where(path, node.line, node.col)
    if isinstance(node, JsonArray):
        items = tuple(json_expression(item, path, templates) for item in node.items)
        return TupleExpr(where, _text(node), items)
    if isinstance(node, JsonObject):
        pairs = tuple(
            (
                _string(m.key, Where(path, m.line, m.col), templates),
                json_expression(m.value, path, templates),
            )
            for m in node.members
        )
        return ObjectExpr(where, _text(node), pairs)
    if isinstance(node.value, str):
        return _string(node.value, where, templates)
    return Literal(where, _text(node), node.value)


def _string(value: str, where: Where, templates: bool) -> Expr:
    if templates and ("{" in value):
        return parse_template_text(value, where, value)
    return Literal(where, value, value)


def _text(node: JsonNode) -> str:
    if isinstance(node, JsonLeaf) and isinstance(node.value, str):
        return node.value
    return json.dumps(to_python(node))
