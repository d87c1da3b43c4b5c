"""GitLab's collapsible sections: the exact bytes GitLab's log parser recognises, read from a
real run through a pipe, one section per job opened when the job starts and streamed while
it runs (a job that never ends still shows its output)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.trees import NEEDS_ENGINES, render, step, write_tree

pytestmark = NEEDS_ENGINES

# GitLab's own rule for a marker (lib/gitlab/regex.rb, build_trace_section_regex).
GITLAB_MARKER = re.compile(
    rb"section_((?:start)|(?:end)):(\d+):([a-zA-Z0-9_.-]+)"
    rb"(\[(?:\w+=\w+)(?:, ?(?:\w+=\w+))*\])?\r\033\[0K"
)
ESC = b"\x1b[0K"


def read_until(process: subprocess.Popen[bytes], wanted: bytes, timeout: float = 60) -> bytes:
    """Bytes from the process's stdout pipe until ``wanted`` has come."""
    assert process.stdout is not None
    data = b""
    deadline = time.monotonic() + timeout
    while wanted not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} never came; got {data!r}"
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, f"stdout ended before {wanted!r}; got {data!r}"
            data += chunk
    return data


def start(command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def check_sections(out: bytes, run_id: str, jobs: Mapping[int, str]) -> None:
    """Every job of ``jobs`` (number -> id): one start marker, exactly as written, before all
    of its lines, and one end marker after them."""
    for number, job_id in jobs.items():
        name = f"pargen_{run_id}_{number}_1".encode()
        opened = re.search(
            re.escape(ESC)
            + rb"section_start:(\d+):"
            + re.escape(name)
            + rb"\r"
            + re.escape(ESC)
            + re.escape(f"[{job_id}] attempt 1 of 1 in slot ".encode())
            + rb"\d on this machine\n",
            out,
        )
        assert opened, (job_id, out)
        closed = re.search(
            re.escape(ESC)
            + rb"section_end:(\d+):"
            + re.escape(name)
            + rb"\r"
            + re.escape(ESC)
            + rb"\n",
            out,
        )
        assert closed, (job_id, out)
        assert int(opened[1]) <= int(closed[1])
        for marker in (opened, closed):
            assert GITLAB_MARKER.search(marker[0]), marker[0]
        tagged = re.finditer(re.escape(f"[{job_id}] ".encode()), out)
        lines = [m.start() for m in tagged if not opened.start() <= m.start() < opened.end()]
        assert lines, (job_id, out)
        assert opened.end() <= min(lines) and max(lines) < closed.start(), (job_id, out)


def test_a_script_run_opens_a_section_per_job_as_it_starts(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    gate = tmp_path / "gate"
    tree = {
        "a": {"slow": f"echo waiting; until test -e {gate}; do sleep 0.05; done; echo done"},
        "b": {"quick": step("quick")},
    }
    root = write_tree(tmp_path / "tree", tree)
    script = render(root, root / "pargen.sh", "--jobs", "2")
    process = start([str(script)], script_env | {"GITLAB_CI": "true"})
    try:
        # While "slow" still runs: its section is open and its first line has arrived.
        out = read_until(process, b"[a:null.slow]     null.slow: waiting\n")
        # Job 1's section is open; job 2's may have opened and closed beside it meanwhile.
        assert re.search(rb"section_start:\d+:pargen_[^\r]*_1_1\r", out), out
        assert not re.search(rb"section_end:\d+:pargen_[^\r]*_1_1\r", out), out
        gate.touch()
        assert process.stdout is not None
        out += process.stdout.read()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    run_id = (root / ".pargen" / "runs" / "latest").resolve().name
    check_sections(out, run_id, {1: "a:null.slow", 2: "b:null.quick"})
    assert len(GITLAB_MARKER.findall(out)) == 4


def test_pargen_exec_passes_the_markers_through_unchanged(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", {".": {"one": step("one")}, "b": {"two": step("two")}})
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "pargen", "exec", str(root), "--run-dir", str(run_dir)]
    process = start(command, script_env | {"GITLAB_CI": "true"})
    assert process.stdout is not None
    out = process.stdout.read()
    assert process.wait(timeout=120) == 0
    check_sections(out, "run", {1: ".:null.one", 2: "b:null.two"})


def test_no_markers_outside_gitlab(tmp_path: Path, script_env: dict[str, str]) -> None:
    root = write_tree(tmp_path / "tree", {".": {"one": step("one")}})
    script = render(root, root / "pargen.sh")
    done = subprocess.run(
        [str(script)], env=script_env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert b"[.:null.one]" in done.stdout
    assert b"\x1b" not in done.stdout + done.stderr
