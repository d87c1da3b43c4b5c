"""HCP Packer links: the bucket a template publishes and the buckets it reads.

A template publishes to a bucket with ``hcp_packer_registry { bucket_name = ... }``, at the
top level or inside its build (the top-level block wins); without ``bucket_name`` a lone
named build publishes under its build name (hashicorp/packer internal/hcp/registry/hcl.go).
It reads a bucket with a ``data "hcp-packer-version"`` (earlier ``hcp-packer-iteration``) or
``data "hcp-packer-artifact"`` (earlier ``hcp-packer-image``) source, whose ``bucket_name`` is
often another of them: ``data.hcp-packer-version.NAME.bucket_name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pargen.errors import Problem
from pargen.packer.expressions import Expr, Namespace, Scope, TemplateError, Where, evaluate
from pargen.packer.native_syntax import Block, Body
from pargen.packer.native_text import HCP_READERS
from pargen.packer.values import Value

REGISTRY = "hcp_packer_registry"


@dataclass(frozen=True)
class Bucket:
    """An HCP Packer bucket a template publishes or reads, and where the template says so."""

    name: str
    path: str
    line: int
    col: int = 1


@dataclass
class Links:
    publishes: list[Bucket] = field(default_factory=list)
    reads: list[Bucket] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def read_links(bodies: Sequence[Body], builds: Sequence[Block], scope: Scope) -> Links:
    """The buckets of one template; a bucket pargen cannot compute is a warning."""
    links = Links()
    data = _ReaderData(bodies, scope)
    for block in data.blocks.values():
        bucket = _bucket_of(block, data.scope, "the bucket this data source reads", links)
        if bucket is not None:
            links.reads.append(bucket)
    top_level = [b for body in bodies for b in _safe_blocks(body, REGISTRY)]
    in_builds = [b for build in builds for b in _safe_blocks(build.body, REGISTRY)]
    for registry in (top_level or in_builds)[:1]:
        bucket = _bucket_of(registry, scope, "the bucket this template publishes", links)
        if bucket is not None:
            links.publishes.append(bucket)
        elif (
            not top_level and len(builds) == 1 and _attribute(registry.body, "bucket_name") is None
        ):
            named = _build_name(builds[0], scope, links)
            if named is not None:
                links.publishes.append(named)
    return links


def _safe_blocks(body: Body, block_type: str) -> list[Block]:
    try:
        return body.blocks(block_type, 0)
    except TemplateError:
        return []  # reported where the template's blocks are read


def _attribute(body: Body, name: str) -> Expr | None:
    try:
        attribute = body.attribute(name)
    except TemplateError:
        return None
    return attribute.expression() if attribute is not None else None


def _bucket_of(block: Block, scope: Scope, purpose: str, links: Links) -> Bucket | None:
    expr = _attribute(block.body, "bucket_name")
    if expr is None:
        return None
    return _evaluated(expr, block.where, scope, purpose, links)


def _build_name(build: Block, scope: Scope, links: Links) -> Bucket | None:
    expr = _attribute(build.body, "name")
    if expr is None:
        return None
    return _evaluated(expr, build.where, scope, "the bucket this template publishes", links)


def _evaluated(expr: Expr, where: Where, scope: Scope, purpose: str, links: Links) -> Bucket | None:
    try:
        value = evaluate(expr, scope)
    except TemplateError as err:
        reason = err.message
    else:
        if isinstance(value, str) and value:
            return Bucket(value, where.path, where.line, where.col)
        reason = "it is not a string"
    links.warnings.append(
        Problem(
            expr.where.path,
            expr.where.line,
            expr.where.col,
            f"pargen cannot compute {purpose} ({reason}), so no template waits for it here; "
            "add an after edge in pargen.hcl if one must",
        )
    )
    return None


class _ReaderData(Namespace):
    """``data.<type>.<name>.bucket_name`` of the HCP Packer data sources: all that is known of
    a data source before Packer runs."""

    def __init__(self, bodies: Iterable[Body], scope: Scope) -> None:
        self.blocks: dict[tuple[str, str], Block] = {}
        for body in bodies:
            for block in _safe_blocks_labelled(body):
                if block.labels[0] in HCP_READERS:
                    self.blocks.setdefault((block.labels[0], block.labels[1]), block)
        self.scope = scope.child({"data": self})
        self.values: dict[tuple[str, str], Value] = {}
        self.pending: set[tuple[str, str]] = set()

    def get(self, name: str, ref: Expr) -> Value:
        if name not in HCP_READERS:
            raise TemplateError(
                ref.where,
                f"data.{name} is only known while Packer runs; "
                "only the bucket_name of the hcp-packer data sources is known before",
            )
        found: dict[str, Value] = {}
        for (source_type, label), block in self.blocks.items():
            key = (source_type, label)
            if source_type != name or key in self.pending:
                continue
            if key not in self.values:
                self.pending.add(key)
                try:
                    expr = _attribute(block.body, "bucket_name")
                    self.values[key] = None if expr is None else evaluate(expr, self.scope)
                except TemplateError:
                    continue
                finally:
                    self.pending.discard(key)
            found[label] = {"bucket_name": self.values[key]}
        return found


def _safe_blocks_labelled(body: Body) -> list[Block]:
    try:
        return [b for b in body.blocks("data", 2) if len(b.labels) == 2]
    except TemplateError:
        return []
