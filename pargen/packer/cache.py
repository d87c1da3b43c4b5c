"""The content-keyed cache of parsed templates (``.pargen/cache/parse.json`` under ROOT).

An entry is keyed by the template's files, its auto var files, the variables given from
outside, how it is read (whole or per file, its build matrix) and pargen's version, so a warm
plan parses only what changed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pargen import __version__
from pargen.dotdir import make_dirs
from pargen.errors import Problem
from pargen.packer.discover import TemplateSource
from pargen.packer.hcp import Bucket
from pargen.packer.layout import Layout, Reading
from pargen.packer.template import Build, ParsedTemplate, VarInputs

CACHE_FILE = Path(".pargen") / "cache" / "parse.json"
# Raise when what parsing returns, or what it accepts, changes: older entries are then unused.
CACHE_FORMAT = 4


def inputs_key(inputs: VarInputs) -> str:
    digest = hashlib.sha256(f"{__version__}\0{CACHE_FORMAT}".encode())
    for path in inputs.var_files:
        digest.update(path.encode() + b"\0" + _read(Path(path)))
    digest.update(json.dumps([list(inputs.vars), sorted(inputs.env.items())]).encode())
    return digest.hexdigest()


def key(source: TemplateSource, inputs_key: str, how: Reading | None = None) -> str:
    how = how or Reading()
    digest = hashlib.sha256(f"{inputs_key}\0{source.rel}\0{source.kind}".encode())
    for path in (*source.files, *source.auto_var_files):
        digest.update(b"\0" + path.name.encode() + b"\0" + _read(path))
    digest.update(json.dumps([how.read, sorted(how.matrix.items()), source.excluded]).encode())
    for var_file in sorted({f for files in how.matrix.values() for f in files}):
        digest.update(b"\0" + var_file.encode() + b"\0" + _read(Path(var_file)))
    return digest.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"\0unreadable"


def to_entry(layout: Layout) -> dict[str, Any]:
    return {
        "templates": [_template_entry(t) for t in layout.templates],
        "note": asdict(layout.note) if layout.note is not None else None,
    }


def _template_entry(template: ParsedTemplate) -> dict[str, Any]:
    return {
        "file": template.source.files[0].name if template.source.as_file else None,
        "builds": [asdict(b) for b in template.builds],
        "variables": sorted(template.variables),
        "required_plugins": template.required_plugins,
        "warnings": [asdict(w) for w in template.warnings],
        "var_file": template.var_file,
        "unused_sources": [asdict(w) for w in template.unused_sources],
        "publishes": [asdict(b) for b in template.publishes],
        "reads": [asdict(b) for b in template.reads],
    }


def from_entry(source: TemplateSource, entry: Any) -> Layout | None:
    if not isinstance(entry, dict):
        return None
    try:
        note = entry["note"]
        return Layout(
            [_template(source, t) for t in entry["templates"]],
            Problem(**note) if note is not None else None,
        )
    except (KeyError, TypeError):
        return None


def _template(source: TemplateSource, entry: dict[str, Any]) -> ParsedTemplate:
    file = entry["file"]
    return ParsedTemplate(
        source=source.file_template(source.directory / file) if file is not None else source,
        builds=tuple(Build(**b) for b in entry["builds"]),
        variables=frozenset(entry["variables"]),
        required_plugins=bool(entry["required_plugins"]),
        warnings=tuple(Problem(**w) for w in entry["warnings"]),
        var_file=entry["var_file"],
        unused_sources=tuple(Problem(**w) for w in entry["unused_sources"]),
        publishes=tuple(Bucket(**b) for b in entry["publishes"]),
        reads=tuple(Bucket(**b) for b in entry["reads"]),
    )


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(path: Path, data: dict[str, Any]) -> None:
    """Write atomically; a cache that cannot be written only costs speed next time."""
    try:
        make_dirs(path.parent)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".parse-", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(data, handle, separators=(",", ":"))
        Path(handle.name).replace(path)
    except OSError:
        pass
