"""``.pargen/history.json`` under ROOT: each job's smoothed duration from successful runs,
for the ETA and the start order."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pargen.dotdir import make_dirs

HISTORY_FILE = Path(".pargen") / "history.json"


def read_history(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}


def update_history(path: Path, durations: Mapping[str, float], weight: float = 0.5) -> None:
    """Smoothed duration per job id from successful runs; a lost write costs only an ETA."""
    history = read_history(path)
    for job_id, seconds in durations.items():
        old = history.get(job_id)
        history[job_id] = seconds if old is None else weight * seconds + (1 - weight) * old
    try:
        make_dirs(path.parent)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".history-", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(history, handle, indent=0, sort_keys=True)
        Path(handle.name).replace(path)
    except OSError:
        pass
