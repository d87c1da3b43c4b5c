"""``--skip-unchanged``: what each job's image is built from, hashed, and what was built here.

A job's input hash covers the content of its template's files and auto var files (following
symlinks), every ``-var-file`` and its build matrix var file, the ``-var`` and ``PKR_VAR_*``
values of the variables its template declares, its name and ``-only`` value, and the input
hashes of the jobs of the templates it waits for in the image hierarchy (its parent images),
so a changed parent changes every image below it.
``.pargen/built.json`` under ROOT remembers the hash each job last succeeded with.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pargen.dotdir import make_dirs
from pargen.packer.parse import ParsedTemplate

if TYPE_CHECKING:
    from hashlib import _Hash

BUILT_FILE = Path(".pargen") / "built.json"
# Raise when what goes into a hash changes: every job then counts as changed once.
HASH_FORMAT = 1


@dataclass(frozen=True)
class InputHashes:
    hashes: Mapping[str, str]
    """Job id -> input hash, for every job of the tree (before --only, --except and the rest),
    parents before children."""
    parents: Mapping[str, tuple[str, ...]]
    """Job id -> the jobs of the templates above it in the image hierarchy."""


@dataclass(frozen=True)
class Built:
    inputs: str
    """The input hash the job last succeeded with."""
    at: str
    """When that build ended (UTC, ISO 8601)."""


class HashedJob(Protocol):
    """What of a planned job goes into its hash (``plan.Job`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def only(self) -> str: ...
    @property
    def workdir(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def vars(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def variant(self) -> str: ...


def input_hashes(
    templates: Mapping[str, ParsedTemplate],
    jobs: Sequence[HashedJob],
    parent_of: Mapping[str, Sequence[str]],
    var_files: Sequence[str],
    env: Mapping[str, str],
) -> InputHashes:
    """The input hash of every job in ``jobs``.

    Templates are keyed by the variant of their jobs (``Job.variant``: the template, with the
    var file of a build matrix); ``parent_of`` maps each to the ones it waits for.
    """
    shared = hashlib.sha256(f"pargen inputs {HASH_FORMAT}".encode())
    for path in var_files:
        _add(shared, "var-file", Path(path).name, _read(Path(path)))
    by_template: dict[str, list[HashedJob]] = {}
    for job in jobs:
        by_template.setdefault(job.variant, []).append(job)
    hashes: dict[str, str] = {}
    parents: dict[str, tuple[str, ...]] = {}

    def hash_template(key: str) -> None:
        if key in hashes_done:
            return
        hashes_done.add(key)
        above_templates = [p for p in parent_of.get(key, ()) if p in by_template]
        for parent in above_templates:
            hash_template(parent)
        above = tuple(j.id for p in above_templates for j in by_template[p])
        files = _template_digest(templates[key], env) if key in templates else b""
        for job in by_template[key]:
            digest = shared.copy()
            _add(digest, "template", job.template.encode(), files)
            _add(digest, "job", job.name.encode(), job.only.encode())
            _add(digest, "run", job.workdir.encode(), job.target.encode())
            for name, value in job.vars:
                _add(digest, "var", name.encode(), value.encode())
            for parent_id in above:
                _add(digest, "after", parent_id.encode(), hashes[parent_id].encode())
            hashes[job.id] = digest.hexdigest()
            parents[job.id] = above

    hashes_done: set[str] = set()
    for rel in by_template:
        hash_template(rel)
    return InputHashes(hashes=hashes, parents=parents)


def _template_digest(template: ParsedTemplate, env: Mapping[str, str]) -> bytes:
    source = template.source
    digest = hashlib.sha256(source.kind.encode())
    for kind, paths in (("file", source.files), ("auto", source.auto_var_files)):
        for path in paths:
            _add(digest, kind, path.name.encode(), _read(path))
    if template.var_file is not None:
        _add(digest, "matrix", Path(template.var_file).name, _read(Path(template.var_file)))
    # Packer reads PKR_VAR_<name> only for declared variables; others change nothing.
    for name in sorted(template.variables):
        value = env.get(f"PKR_VAR_{name}")
        if value is not None:
            _add(digest, "env", name.encode(), value.encode())
    return digest.digest()


def _add(digest: _Hash, *parts: bytes | str) -> None:
    # Length-prefixed, so that no two different sequences of parts hash alike.
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        return f"\0unreadable: {err.strerror}".encode()


def read_built(root: Path) -> dict[str, Built]:
    """Job id -> its last successful build here; empty when there is no record or it is bad."""
    try:
        data = json.loads((root / BUILT_FILE).read_text(encoding="utf-8"))
        jobs = data["jobs"] if data.get("format") == HASH_FORMAT else {}
        return {
            job_id: Built(str(entry["inputs"]), str(entry["at"]))
            for job_id, entry in jobs.items()
            if isinstance(entry, dict)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def record_built(
    root: Path,
    inputs: InputHashes,
    succeeded: Mapping[str, int],
    failed: Iterable[str],
) -> None:
    """Remember the input hashes of the jobs that succeeded (job id -> end time in µs).

    A job is remembered only when every job above it is built from its current inputs too
    (now or earlier): otherwise it was built on a stale parent image and must be built again.
    A job that ran and did not succeed is forgotten. The file is replaced atomically; a lost
    write only costs a rebuild.
    """
    path = root / BUILT_FILE
    try:
        make_dirs(path.parent)
        # Two runs of one tree (different pipelines) must not undo each other's records.
        with (path.parent / ".built.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            built = _updated(read_built(root), inputs, succeeded, failed)
            _write(path, built)
    except OSError:
        pass


def _updated(
    built: dict[str, Built],
    inputs: InputHashes,
    succeeded: Mapping[str, int],
    failed: Iterable[str],
) -> dict[str, Built]:
    for job_id in failed:
        built.pop(job_id, None)
    for job_id, current in inputs.hashes.items():  # parents first
        if job_id not in succeeded:
            continue
        parents_current = all(
            p in built and built[p].inputs == inputs.hashes[p] for p in inputs.parents[job_id]
        )
        if parents_current:
            built[job_id] = Built(current, _utc(succeeded[job_id]))
        else:
            built.pop(job_id, None)
    return built


def _write(path: Path, built: Mapping[str, Built]) -> None:
    data = {
        "format": HASH_FORMAT,
        "jobs": {k: {"inputs": v.inputs, "at": v.at} for k, v in sorted(built.items())},
    }
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".built-", delete=False, encoding="utf-8"
    ) as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    Path(handle.name).replace(path)


def _utc(time_us: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
