"""Which templates wait for which, and why: the edges of the image hierarchy.

Three rules make an edge from a template to one it waits for:

- nested directory: a template waits for the nearest directory template above it that has
  jobs. A file template (legacy JSON, or an HCL2 file built on its own) is never such a parent
  and starts looking above its own directory: the templates of one directory are siblings.
  ``nesting = false`` in a ``template`` block of pargen.hcl turns this off below a directory.
- HCP Packer bucket: a template that reads a bucket waits for the templates that publish it.
- configured: ``after`` in a ``template`` block of pargen.hcl.

Every template of a build matrix (one per var file) is a node of its own.
"""

from __future__ import annotations

import fnmatch
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pargen.config import TemplateRule
from pargen.errors import Problem, ProblemsError
from pargen.packer.parse import Bucket, posix_parent


@dataclass(frozen=True)
class Node:
    """One template of the plan, read with one var file of its build matrix (or none)."""

    key: str
    """The template's path, or ``<path>@<var file>`` for a build matrix: its jobs' id prefix."""
    template: str
    var_file: str | None
    is_directory: bool
    """Packer is given the directory (a file template: Packer is given a file in it)."""
    workdir: str
    has_jobs: bool
    publishes: tuple[Bucket, ...] = ()
    reads: tuple[Bucket, ...] = ()

    def sort_key(self) -> tuple[tuple[str, ...], str]:
        return path_key(self.template), self.var_file or ""


@dataclass(frozen=True)
class Edge:
    """``key`` waits for ``parent`` because of ``why``."""

    parent: str
    why: str
    """``nested directory``, ``HCP Packer bucket "NAME"`` or ``after in pargen.hcl:LINE``."""
    place: Problem | None = None
    """Where the edge is written (a bucket read, a pargen.hcl block); an empty message."""


NESTED = "nested directory"


def path_key(rel: str) -> tuple[str, ...]:
    return () if rel == "." else tuple(rel.split("/"))


def names(rule_pattern: str, node: Node) -> bool:
    """Whether a pargen.hcl glob names ``node``: its path, its matrix key, or (for a file
    built on its own) its directory."""
    return any(
        fnmatch.fnmatchcase(text, rule_pattern)
        for text in (node.template, node.key, *([] if node.is_directory else [node.workdir]))
    )


def edges(
    nodes: Sequence[Node], rules: Sequence[TemplateRule], *, nesting: bool = True
) -> dict[str, list[Edge]]:
    """Node key -> the edges to the nodes it waits for (only nodes with jobs are waited for).

    ``nesting=False`` leaves out the nested-directory edges (``--flat``).
    """
    with_jobs = [n for n in nodes if n.has_jobs]
    by_template: dict[str, list[Node]] = {}
    for node in with_jobs:
        by_template.setdefault(node.template, []).append(node)
    directories = {n.template for n in with_jobs if n.is_directory}
    unnested = [r.pattern for r in rules if r.nesting is False]
    publishers: dict[str, list[Node]] = {}
    for node in with_jobs:
        for bucket in node.publishes:
            publishers.setdefault(bucket.name, []).append(node)
    found: dict[str, list[Edge]] = {}
    for node in nodes:
        out: dict[tuple[str, str], Edge] = {}
        parent = _nearest_directory(node, directories, unnested) if nesting else None
        for each in by_template.get(parent, []) if parent is not None else []:
            out.setdefault((each.key, NESTED), Edge(each.key, NESTED))
        for bucket in node.reads:
            why = f'HCP Packer bucket "{bucket.name}"'
            place = Problem(bucket.path, bucket.line, bucket.col, "")
            for each in publishers.get(bucket.name, []):
                if each.template != node.template:
                    out.setdefault((each.key, why), Edge(each.key, why, place))
        for rule in rules:
            if not rule.after or not names(rule.pattern, node):
                continue
            why = f"after in {rule.path}:{rule.line}"
            place = Problem(rule.path, rule.line, rule.col, "")
            for each in with_jobs:
                if each.template != node.template and any(names(p, each) for p in rule.after):
                    out.setdefault((each.key, why), Edge(each.key, why, place))
        found[node.key] = list(out.values())
    return found


def _nearest_directory(node: Node, directories: set[str], unnested: list[str]) -> str | None:
    """The closest directory template above ``node`` (a file's own directory is not above
    it), unless nesting is turned off for a directory it is in."""
    around = _containing(node.template)  # every directory the template is in, nearest first
    if any(fnmatch.fnmatchcase(d, p) for d in around for p in unnested):
        return None
    above = around if node.is_directory else around[1:]
    return next((d for d in above if d in directories), None)


def _containing(rel: str) -> list[str]:
    found: list[str] = []
    while rel != ".":
        rel = posix_parent(rel)
        found.append(rel)
    return found


def parents(found: Mapping[str, Iterable[Edge]]) -> dict[str, tuple[str, ...]]:
    """Node key -> the keys it waits for, each once."""
    return {key: tuple(dict.fromkeys(e.parent for e in out)) for key, out in found.items()}


def check_cycles(nodes: Sequence[Node], found: Mapping[str, Sequence[Edge]]) -> None:
    """A cycle of templates waiting for each other is an error that names it."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    for node in sorted(nodes, key=Node.sort_key):
        if node.key in state:
            continue
        # Walked without recursion: a chain of after edges may be longer than Python's stack.
        state[node.key] = 1
        path: list[tuple[str, Edge | None, Iterator[Edge]]] = [
            (node.key, None, iter(found.get(node.key, ())))
        ]
        while path:
            key, _, waits = path[-1]
            edge = next(waits, None)
            if edge is None:
                state[key] = 2
                path.pop()
            elif state.get(edge.parent) == 1:
                raise _cycle_error([(k, via) for k, via, _ in path], edge)
            elif edge.parent not in state:
                state[edge.parent] = 1
                path.append((edge.parent, edge, iter(found.get(edge.parent, ()))))


def _cycle_error(path: list[tuple[str, Edge | None]], closing: Edge) -> ProblemsError:
    start = next(i for i, (key, _) in enumerate(path) if key == closing.parent)
    steps = [*path[start + 1 :], (closing.parent, closing)]
    chain = path[start][0] + "".join(
        f" waits for {key} ({edge.why})" for key, edge in steps if edge
    )
    placed = [edge.place for _, edge in steps if edge is not None and edge.place is not None]
    configured = [p for p in placed if p.path.endswith("pargen.hcl")]
    where = (configured or placed or [Problem(path[start][0], 0, 0, "")])[0]
    return ProblemsError(
        [
            Problem(
                where.path,
                where.line,
                where.col,
                f"templates wait for each other in a cycle: {chain}; remove one of these edges",
            )
        ]
    )


def ordered(nodes: Sequence[Node], found: Mapping[str, Sequence[Edge]]) -> list[Node]:
    """Every node after the nodes it waits for; otherwise in path, then var file, order."""
    by_key = {n.key: n for n in nodes}
    waiting = {n.key: {e.parent for e in found.get(n.key, ()) if e.parent in by_key} for n in nodes}
    children: dict[str, list[str]] = {}
    for key, waits in waiting.items():
        for parent in waits:
            children.setdefault(parent, []).append(key)
    ready = [(by_key[k].sort_key(), k) for k, waits in waiting.items() if not waits]
    heapq.heapify(ready)
    out: list[Node] = []
    while ready:
        _, key = heapq.heappop(ready)
        out.append(by_key[key])
        for child in children.get(key, []):
            waiting[child].discard(key)
            if not waiting[child]:
                heapq.heappush(ready, (by_key[child].sort_key(), child))
    return out
