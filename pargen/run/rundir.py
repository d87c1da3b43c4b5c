"""Run directories: one per run, holding the plan and the exact script that runs it."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pargen.config import RunSettings
from pargen.dotdir import make_dirs
from pargen.errors import PargenError
from pargen.plan.jobs import Plan
from pargen.render import ScriptLocation, plan_json, render_script

RUNS_DIR = Path(".pargen") / "runs"
SCRIPT_NAME = "run.sh"


@dataclass(frozen=True)
class RunDir:
    path: Path
    script: Path


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def prepare_run(
    plan: Plan,
    settings: RunSettings,
    run_dir: Path | None,
    command_args: list[str],
    durations: Mapping[str, float] | None = None,
) -> RunDir:
    """Create the run directory with the plan and the exact script that will run."""
    root = Path(plan.root)
    default = run_dir is None
    path = root / RUNS_DIR / new_run_id() if run_dir is None else run_dir
    try:
        make_dirs(path.parent)
        path.mkdir(exist_ok=not default)
        (path / "plan.json").write_text(plan_json(plan, command_args), encoding="utf-8")
        script = path / SCRIPT_NAME
        script.write_text(
            render_script(
                plan, settings, ScriptLocation(path, SCRIPT_NAME), command_args, durations
            ),
            encoding="utf-8",
        )
        script.chmod(0o755)
        if default:
            _point_latest(root / RUNS_DIR, path.name)
    except OSError as err:
        raise PargenError(
            f"cannot write run directory {path}: {err.strerror}; choose another with --run-dir"
        ) from err
    return RunDir(path=path, script=script)


def _point_latest(runs: Path, name: str) -> None:
    link = runs / "latest"
    tmp = runs / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(name)
    tmp.replace(link)


def find_run(run: Path | None, root: str) -> Path:
    """RUN as given: a run directory, a run id under ROOT, or a tree whose latest run to read;
    without RUN, ROOT's latest run."""
    runs = Path(root) / RUNS_DIR
    if run is None:
        return _latest(Path(root))
    if (run / "plan.json").is_file():
        return run.resolve()
    if not run.exists() and (runs / run / "plan.json").is_file():
        return (runs / run).resolve()
    if (run / RUNS_DIR).is_dir():
        return _latest(run)
    if (run / "results.tsv").is_file() or (run / "events.log").is_file():
        raise PargenError(
            f"{run} has no plan.json: the script that ran it was rendered by an older pargen; "
            "render the script again (the command is in its header) and run it"
        )
    what = (
        "no such directory"
        if not run.exists()
        else f"no plan.json in it, and no {RUNS_DIR} under it"
    )
    raise PargenError(
        f"{run} is not a run: {what}, and no run {run} under {runs}; give a run directory, "
        "a run id (with --root TREE for another tree) or a tree that has runs"
    )


def _latest(tree: Path) -> Path:
    latest = tree / RUNS_DIR / "latest"
    if not latest.exists():
        raise PargenError(
            f"no runs under {tree}: {latest} does not exist; run pargen exec or the rendered "
            "script there first, or name the tree that has runs (RUN, or --root TREE)"
        )
    return latest.resolve()


def tree_of_run(run: Path | None, run_dir: Path, root: str) -> str:
    """ROOT of the run: ``root`` for its latest run, else the tree that holds RUN."""
    if run is None or run_dir.parent.parts[-2:] != RUNS_DIR.parts:
        return root
    tree = run_dir.parent.parent.parent
    inside = os.path.relpath(tree)
    return str(tree) if inside.startswith("..") else inside
