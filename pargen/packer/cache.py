"""The content-keyed cache of parsed templates (``.pargen/cache/parse.json`` under ROOT).

An entry is keyed by the template's files, its auto var files, the variables given from
outside and pargen's version, so a warm plan parses only what changed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pargen import __version__
from pargen.errors import Problem
from pargen.packer.discover import TemplateSource
from pargen.packer.template import Build, ParsedTemplate, VarInputs

CACHE_FILE = Path(".pargen") / "cache" / "parse.json"
# Raise when what parsing returns, or what it accepts, changes: older entries are then unused.
CACHE_FORMAT = 3


def inputs_key(inputs: VarInputs) -> str:
    digest = hashlib.sha256(f"{__version__}\0{CACHE_FORMAT}".encode())
    for path in inputs.var_files:
        digest.update(path.encode() + b"\0" + _read(Path(path)))
    digest.update(json.dumps([list(inputs.vars), sorted(inputs.env.items())]).encode())
    return digest.hexdigest()


def key(source: TemplateSource, inputs_key: str) -> str:
    digest = hashlib.sha256(f"{inputs_key}\0{source.rel}\0{source.kind}".encode())
    for path in (*source.files, *source.auto_var_files):
        digest.update(b"\0" + path.name.encode() + b"\0" + _read(path))
    return digest.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"\0unreadable"


def to_entry(template: ParsedTemplate) -> dict[str, Any]:
    return {
        "builds": [asdict(b) for b in template.builds],
        "variables": sorted(template.variables),
        "required_plugins": template.required_plugins,
        "warnings": [asdict(w) for w in template.warnings],
    }


def from_entry(source: TemplateSource, entry: Any) -> ParsedTemplate | None:
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


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(path: Path, data: dict[str, Any]) -> None:
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
