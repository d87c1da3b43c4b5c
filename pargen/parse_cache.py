"""Parse every template of a tree: in parallel when cold, from a content-keyed cache when warm."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pargen import __version__
from pargen.discover import TemplateSource
from pargen.errors import Problem, ProblemsError
from pargen.parse import Build, ParsedTemplate, VarInputs, parse_template

CACHE_FILE = Path(".pargen") / "cache" / "parse.json"
# Raise when what parsing returns, or what it accepts, changes: older entries are then unused.
CACHE_FORMAT = 2
# Below this many templates to parse, starting worker processes costs more than it saves.
_POOL_THRESHOLD = 64


def parse_all(
    sources: Sequence[TemplateSource], root: Path, inputs: VarInputs
) -> list[ParsedTemplate]:
    """Every template parsed, in the order given; all problems of all templates raised together."""
    cache_path = root / CACHE_FILE
    cache = _load(cache_path)
    inputs_key = _inputs_key(inputs)
    keys = [_key(source, inputs_key) for source in sources]
    results: list[ParsedTemplate | list[Problem] | None] = [
        _from_cache(source, cache.get(key)) for source, key in zip(sources, keys, strict=True)
    ]
    missing = [i for i, result in enumerate(results) if result is None]
    for i, result in zip(
        missing, _parse_many([sources[i] for i in missing], root, inputs), strict=True
    ):
        results[i] = result
    problems = [p for r in results if isinstance(r, list) for p in r]
    if problems:
        raise ProblemsError(problems)
    parsed = [r for r in results if isinstance(r, ParsedTemplate)]
    if missing:
        fresh = {keys[i]: _to_cache(parsed[i]) for i in missing}
        _save(cache_path, {k: v for k, v in cache.items() if k in set(keys)} | fresh)
    return parsed


def _parse_one(
    source: TemplateSource, root: Path, inputs: VarInputs
) -> ParsedTemplate | list[Problem]:
    # Exceptions do not cross process boundaries intact: return the problems instead.
    try:
        return parse_template(source, root, inputs)
    except ProblemsError as err:
        return list(err.problems)


def _parse_many(
    sources: list[TemplateSource], root: Path, inputs: VarInputs
) -> list[ParsedTemplate | list[Problem]]:
    workers = os.cpu_count() or 1
    if len(sources) < _POOL_THRESHOLD or workers == 1:
        return [_parse_one(s, root, inputs) for s in sources]
    chunk = max(1, len(sources) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(
                _parse_one,
                sources,
                [root] * len(sources),
                [inputs] * len(sources),
                chunksize=chunk,
            )
        )


def _inputs_key(inputs: VarInputs) -> str:
    digest = hashlib.sha256(f"{__version__}\0{CACHE_FORMAT}".encode())
    for path in inputs.var_files:
        digest.update(path.encode() + b"\0" + _read(Path(path)))
    digest.update(json.dumps([list(inputs.vars), sorted(inputs.env.items())]).encode())
    return digest.hexdigest()


def _key(source: TemplateSource, inputs_key: str) -> str:
    digest = hashlib.sha256(f"{inputs_key}\0{source.rel}\0{source.kind}".encode())
    for path in (*source.files, *source.auto_var_files):
        digest.update(b"\0" + path.name.encode() + b"\0" + _read(path))
    return digest.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"\0unreadable"


def _to_cache(template: ParsedTemplate) -> dict[str, Any]:
    return {
        "builds": [asdict(b) for b in template.builds],
        "variables": sorted(template.variables),
        "required_plugins": template.required_plugins,
        "warnings": [asdict(w) for w in template.warnings],
    }


def _from_cache(source: TemplateSource, entry: Any) -> ParsedTemplate | None:
    if not isinstance(entry, dict):
        return None
    try:
        return ParsedTemplate(
            source=source,
            builds=tuple(Build(**b) for b in entry["builds"]),
            variables=frozenset(entry["variables"]),
            required_plugins=bool(entry["required_plugins"]),
            warnings=tuple(Problem(**w) for w in entry["warnings"]),
        )
    except (KeyError, TypeError):
        return None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, Any]) -> None:
    """Write atomically; a cache that cannot be written only costs speed next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".parse-", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(data, handle, separators=(",", ":"))
        Path(handle.name).replace(path)
    except OSError:
        pass
