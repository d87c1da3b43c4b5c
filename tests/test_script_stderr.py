"""The script's stderr holds its own ``pargen: ...`` lines and nothing else: in a CI log any
other line from bash (``line 842: /proc/NNNN/stat: No such file or directory``) looks like a
crash."""

from __future__ import annotations

from pathlib import Path

from tests.trees import NEEDS_ENGINES, render, run_script, write_tree

pytestmark = NEEDS_ENGINES

RUNS = 20


def test_twenty_fast_runs_print_nothing_but_pargen_lines_on_stderr(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # Builds that do nothing and end at once, four at a time: the coordinator looks at job
    # shells that are just going away.
    tree = {".": {"top": "true"}} | {f"t{i}": {f"j{i}": "true"} for i in range(4)}
    script = render(write_tree(tmp_path / "tree", tree), tmp_path / "tree.sh", "--jobs", "4")

    noise: list[str] = []
    for number in range(RUNS):
        done = run_script(script, tmp_path / f"run{number}", script_env)
        assert done.code == 0, done.stderr
        noise += [
            f"run {number}: {line}"
            for line in done.stderr.splitlines()
            if not line.startswith("pargen: ")
        ]
    assert noise == []
