"""The face of pargen.packer: every template of a tree read into the builds Packer would run.

Other rooms import from this module only. Cold templates are parsed in parallel, warm ones
come from the content-keyed cache.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pargen.errors import Problem, ProblemsError
from pargen.packer import cache
from pargen.packer.discover import (
    AUTO_VAR_SUFFIXES,
    HCL_JSON_SUFFIX,
    HCL_SUFFIX,
    Discovery,
    TemplateSource,
    discover,
    discover_tree,
    display_path,
    posix_parent,
)
from pargen.packer.hcl_check import go_runtime_loaded, syntax_errors
from pargen.packer.hcp import Bucket
from pargen.packer.layout import Layout, Reading, ReadMode, read_layout
from pargen.packer.only import only_pattern
from pargen.packer.outputs import OUTPUT_ATTRIBUTE
from pargen.packer.template import Build, ParsedTemplate, VarInputs, parse_template

__all__ = [
    "AUTO_VAR_SUFFIXES",
    "HCL_JSON_SUFFIX",
    "HCL_SUFFIX",
    "OUTPUT_ATTRIBUTE",
    "Bucket",
    "Build",
    "Discovery",
    "ParsedTemplate",
    "ParsedTree",
    "ReadMode",
    "Reading",
    "TemplateSource",
    "VarInputs",
    "discover",
    "discover_tree",
    "display_path",
    "only_pattern",
    "parse_all",
    "parse_template",
    "posix_parent",
    "syntax_problems",
]


@dataclass(frozen=True)
class ParsedTree:
    templates: list[ParsedTemplate]
    """In the order of the sources given; each source's templates in path then var file order."""
    notes: list[Problem]
    """Directories read one template per file, and why."""


# Below this many templates to parse, starting worker processes costs more than it saves.
_POOL_THRESHOLD = 64


def parse_all(
    sources: Sequence[TemplateSource],
    root: Path,
    inputs: VarInputs,
    readings: Mapping[str, Reading] | None = None,
    max_builds: int | None = None,
) -> ParsedTree:
    """Every template parsed, in the order given; all problems of all templates raised together.

    ``readings`` says how to read a discovered template (by its path), when not by default.
    ``max_builds``: a template that makes more builds is a problem, found as they are made.
    """
    hows = [(readings or {}).get(source.rel, Reading()) for source in sources]
    cache_path = root / cache.CACHE_FILE
    entries = cache.load(cache_path)
    inputs_key = cache.inputs_key(inputs)
    keys = [cache.key(source, inputs_key, how) for source, how in zip(sources, hows, strict=True)]
    results: list[Layout | list[Problem] | None] = [
        cache.from_entry(source, entries.get(key))
        for source, key in zip(sources, keys, strict=True)
    ]
    missing = [i for i, result in enumerate(results) if result is None]
    work = [(sources[i], hows[i]) for i in missing]
    for i, result in zip(missing, _parse_many(work, root, inputs, max_builds), strict=True):
        results[i] = result
    problems = [p for r in results if isinstance(r, list) for p in r]
    if problems:
        raise ProblemsError(problems)
    layouts = [r for r in results if isinstance(r, Layout)]
    if missing:
        fresh = {keys[i]: cache.to_entry(layouts[i]) for i in missing}
        cache.save(cache_path, {k: v for k, v in entries.items() if k in set(keys)} | fresh)
    return ParsedTree(
        [t for layout in layouts for t in layout.templates],
        [layout.note for layout in layouts if layout.note is not None],
    )


def syntax_problems(text: str, shown: str) -> list[Problem]:
    """What HCL itself rejects in ``text`` (native syntax, shown as ``shown``), in its words."""
    return [
        Problem(err.where.path, err.where.line, err.where.col, err.message)
        for err in syntax_errors(text, shown)
    ]


def _parse_one(
    source: TemplateSource,
    how: Reading,
    root: Path,
    inputs: VarInputs,
    max_builds: int | None = None,
) -> Layout | list[Problem]:
    # Exceptions do not cross process boundaries intact: return the problems instead.
    try:
        return read_layout(source, root, inputs, how, max_builds)
    except ProblemsError as err:
        return list(err.problems)


def _parse_many(
    work: list[tuple[TemplateSource, Reading]],
    root: Path,
    inputs: VarInputs,
    max_builds: int | None,
) -> list[Layout | list[Problem]]:
    workers = os.cpu_count() or 1
    # A template of a build matrix is read once per var file: it weighs that many.
    weight = sum(max(1, sum(len(f) for f in how.matrix.values())) for _, how in work)
    if weight < _POOL_THRESHOLD or workers == 1:
        return [_parse_one(s, how, root, inputs, max_builds) for s, how in work]
    chunk = max(1, len(work) // (workers * 4))
    # A forked worker must not enter a Go runtime its parent started (its threads are not
    # copied): fork only while none runs here, as in a CLI run; else start workers afresh.
    context = multiprocessing.get_context("spawn" if go_runtime_loaded() else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(
            pool.map(
                _parse_one,
                [s for s, _ in work],
                [how for _, how in work],
                [root] * len(work),
                [inputs] * len(work),
                [max_builds] * len(work),
                chunksize=chunk,
            )
        )
