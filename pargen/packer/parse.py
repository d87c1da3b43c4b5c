"""The face of pargen.packer: every template of a tree read into the builds Packer would run.

Other rooms import from this module only. Cold templates are parsed in parallel, warm ones
come from the content-keyed cache.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pargen.errors import Problem, ProblemsError
from pargen.packer import cache
from pargen.packer.discover import (
    AUTO_VAR_SUFFIXES,
    HCL_JSON_SUFFIX,
    HCL_SUFFIX,
    TemplateSource,
    discover,
    display_path,
    posix_parent,
)
from pargen.packer.hcl_check import go_runtime_loaded, syntax_errors
from pargen.packer.only import only_pattern
from pargen.packer.template import Build, ParsedTemplate, VarInputs, parse_template

__all__ = [
    "AUTO_VAR_SUFFIXES",
    "HCL_JSON_SUFFIX",
    "HCL_SUFFIX",
    "Build",
    "ParsedTemplate",
    "TemplateSource",
    "VarInputs",
    "discover",
    "display_path",
    "only_pattern",
    "parse_all",
    "parse_template",
    "posix_parent",
    "syntax_problems",
]

# Below this many templates to parse, starting worker processes costs more than it saves.
_POOL_THRESHOLD = 64


def parse_all(
    sources: Sequence[TemplateSource],
    root: Path,
    inputs: VarInputs,
    max_builds: int | None = None,
) -> list[ParsedTemplate]:
    """Every template parsed, in the order given; all problems of all templates raised together.

    ``max_builds``: a template that makes more builds is a problem, found as they are made.
    """
    cache_path = root / cache.CACHE_FILE
    entries = cache.load(cache_path)
    inputs_key = cache.inputs_key(inputs)
    keys = [cache.key(source, inputs_key) for source in sources]
    results: list[ParsedTemplate | list[Problem] | None] = [
        cache.from_entry(source, entries.get(key))
        for source, key in zip(sources, keys, strict=True)
    ]
    missing = [i for i, result in enumerate(results) if result is None]
    for i, result in zip(
        missing,
        _parse_many([sources[i] for i in missing], root, inputs, max_builds),
        strict=True,
    ):
        results[i] = result
    problems = [p for r in results if isinstance(r, list) for p in r]
    if problems:
        raise ProblemsError(problems)
    parsed = [r for r in results if isinstance(r, ParsedTemplate)]
    if missing:
        fresh = {keys[i]: cache.to_entry(parsed[i]) for i in missing}
        cache.save(cache_path, {k: v for k, v in entries.items() if k in set(keys)} | fresh)
    return parsed


def syntax_problems(text: str, shown: str) -> list[Problem]:
    """What HCL itself rejects in ``text`` (native syntax, shown as ``shown``), in its words."""
    return [
        Problem(err.where.path, err.where.line, err.where.col, err.message)
        for err in syntax_errors(text, shown)
    ]


def _parse_one(
    source: TemplateSource, root: Path, inputs: VarInputs, max_builds: int | None = None
) -> ParsedTemplate | list[Problem]:
    # Exceptions do not cross process boundaries intact: return the problems instead.
    try:
        return parse_template(source, root, inputs, max_builds)
    except ProblemsError as err:
        return list(err.problems)


def _parse_many(
    sources: list[TemplateSource], root: Path, inputs: VarInputs, max_builds: int | None
) -> list[ParsedTemplate | list[Problem]]:
    workers = os.cpu_count() or 1
    if len(sources) < _POOL_THRESHOLD or workers == 1:
        return [_parse_one(s, root, inputs, max_builds) for s in sources]
    chunk = max(1, len(sources) // (workers * 4))
    # A forked worker must not enter a Go runtime its parent started (its threads are not
    # copied): fork only while none runs here, as in a CLI run; else start workers afresh.
    context = multiprocessing.get_context("spawn" if go_runtime_loaded() else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(
            pool.map(
                _parse_one,
                sources,
                [root] * len(sources),
                [inputs] * len(sources),
                [max_builds] * len(sources),
                chunksize=chunk,
            )
        )
