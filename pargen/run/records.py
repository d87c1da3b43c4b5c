"""What a finished run leaves on this machine, once per run, however it was started: each
succeeded job's duration (``.pargen/history.json``) and the input hashes of what it built
(``.pargen/built.json``, for ``--skip-unchanged``).

``pargen exec`` knows the input hashes from planning just before it ran. For a run of the
committed script, ``pargen report`` plans the tree again; the hashes it gets are those the
run built only if nothing the builds read has changed since: the script fingerprinted it as
it started (``inputs.sha256``), and the same fingerprints are taken again here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pargen.plan.inputs import InputHashes, record_built
from pargen.run.history import HISTORY_FILE, update_history
from pargen.run.report import RunReport

MARK = Path("state") / "recorded"
"""Written once a run is recorded, so that a second ``pargen report`` does not count it twice
(the script clears state/ when it reuses a run directory)."""
FINGERPRINTS = "inputs.sha256"
# Files of a template directory that may hold what Packer reads (a superset: plain var files
# too), as the script's write_inputs globs them.
_TEMPLATE_SUFFIXES = (".pkr.hcl", ".pkr.json", ".pkrvars.hcl", ".pkrvars.json")
# A job that ran and did not succeed may have left its image half-replaced: build it again.
_RAN_AND_FAILED = frozenset({"failed", "interrupted", "lost"})


def recorded(run_dir: Path) -> bool:
    return (run_dir / MARK).exists()


def record_run(report: RunReport, inputs: InputHashes | None) -> None:
    """History for every run; built.json when ``inputs`` are the run's input hashes."""
    root = Path(report.root)
    update_history(
        root / HISTORY_FILE,
        {j.id: j.duration for j in report.jobs if j.state == "succeeded" and j.duration},
    )
    if inputs is not None:
        record_built(
            root,
            inputs,
            succeeded={
                j.id: j.end_us
                for j in report.jobs
                if j.state == "succeeded" and j.end_us is not None
            },
            failed=[j.id for j in report.jobs if j.state in _RAN_AND_FAILED],
        )
    try:
        (report.path / MARK).parent.mkdir(exist_ok=True)
        (report.path / MARK).touch()
    except OSError:
        pass  # recorded again next time: a duration counts twice, nothing worse


@dataclass(frozen=True)
class Fingerprints:
    environment: str
    """sha256 of the PKR_VAR_* environment (``NAME=VALUE\\0`` each, sorted)."""
    files: Mapping[str, str]
    """Path (relative to ROOT, or absolute for a var file outside it) -> sha256."""


def read_fingerprints(run_dir: Path) -> Fingerprints | None:
    """What the script wrote as the run started; None when it wrote nothing readable."""
    try:
        records = (run_dir / FINGERPRINTS).read_bytes().split(b"\0")
    except OSError:
        return None
    if len(records) < 2 or records.pop() != b"" or len(records[0]) < 64:
        return None
    files = {os.fsdecode(r[66:]): r[:64].decode() for r in records[1:] if len(r) > 66}
    return Fingerprints(records[0][:64].decode(), files)


def current_fingerprints(
    root: Path,
    jobs: Sequence[tuple[str, str]],
    var_files: Sequence[str],
    environ: Mapping[bytes, bytes],
) -> Fingerprints:
    """The same fingerprints as the script's write_inputs, of the tree and environment now:
    ``jobs`` are the (workdir, target) of the run's jobs, ``var_files`` its var files."""
    names: list[str] = []
    seen: set[str] = set()
    for workdir, target in jobs:
        if target != ".":
            names.append(target if workdir == "." else f"{workdir}/{target}")
        directory = workdir
        while directory not in seen:
            seen.add(directory)
            names += _template_files(root, directory)
            if directory == ".":
                break
            directory = directory.rsplit("/", 1)[0] if "/" in directory else "."
    files = {}
    for name in [*names, *var_files]:
        try:
            files[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:
            continue  # the script's sha256sum skips what it cannot read too
    variables = sorted(
        k + b"=" + v + b"\0" for k, v in environ.items() if k.startswith(b"PKR_VAR_")
    )
    return Fingerprints(hashlib.sha256(b"".join(variables)).hexdigest(), files)


def _template_files(root: Path, directory: str) -> list[str]:
    prefix = "" if directory == "." else f"{directory}/"
    try:
        entries = sorted(entry.name for entry in (root / directory).iterdir())
    except OSError:
        return []
    return [prefix + name for name in entries if name.endswith(_TEMPLATE_SUFFIXES)]


def changed_since_start(run_dir: Path, environ: Mapping[bytes, bytes]) -> str | None:
    """What changed since the run started, in words; None when nothing did."""
    then = read_fingerprints(run_dir)
    if then is None:
        return f"{run_dir / FINGERPRINTS} is missing (a script from an older pargen)"
    try:
        plan = json.loads((run_dir / "plan.json").read_bytes())
        jobs = [(str(j["workdir"]), str(j["target"])) for j in plan["jobs"]]
        var_files = [str(v) for v in plan.get("var_files", [])]
        root = Path(str(plan["root"]))
    except (OSError, ValueError, KeyError, TypeError):
        return "its plan.json cannot be read"
    now = current_fingerprints(root, jobs, var_files, environ)
    if now.environment != then.environment:
        return "the PKR_VAR_* environment differs from the run's"
    for name in sorted(then.files.keys() | now.files.keys()):
        if name not in now.files:
            return f"{name} is gone"
        if name not in then.files:
            return f"{name} is new"
        if now.files[name] != then.files[name]:
            return f"{name} changed"
    return None


def planned_with(run_dir: Path) -> list[str]:
    """The command-line options the run's plan was made with (plan.json's ``planned_with``)."""
    try:
        words = json.loads((run_dir / "plan.json").read_bytes()).get("planned_with", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(word) for word in words] if isinstance(words, list) else []
