"""The rendered script, run for real: GNU parallel, Packer ``null`` builds, signals, semaphores.

Order and overlap are checked from the timestamps the builds record (see ``trees.step``),
never from how long a test took.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.trees import (
    MARKS_ENV,
    NEEDS_ENGINES,
    TOKEN_ENV,
    Finished,
    Interval,
    Result,
    Tree,
    event_intervals,
    files_named,
    has_process,
    interrupt,
    leftover_processes,
    max_concurrency,
    once_started,
    processes_with,
    read_events,
    read_joblog,
    read_marks,
    read_results,
    render,
    run_script,
    script_jobs,
    start_script,
    states,
    step,
    wait_for,
    write_tree,
)

pytestmark = NEEDS_ENGINES


@dataclass(frozen=True)
class Run:
    finished: Finished
    marks: dict[str, list[Interval]]
    results: dict[str, Result]
    run_dir: Path

    @property
    def states(self) -> dict[str, str]:
        return {job: result.state for job, result in self.results.items()}

    def only(self, label: str) -> Interval:
        """The single run of the step ``label``."""
        runs = self.marks.get(label, [])
        assert len(runs) == 1, f"{label} ran {len(runs)} times"
        return runs[0]


def prepare(tmp_path: Path, tree: Tree, *options: str, name: str = "tree") -> Path:
    """Write ``tree`` under tmp_path/name and render its script next to it."""
    return render(write_tree(tmp_path / name, tree), tmp_path / f"{name}.sh", *options)


def finish(script: Path, run_dir: Path, env: dict[str, str], finished: Finished) -> Run:
    return Run(finished, read_marks(Path(env[MARKS_ENV])), read_results(run_dir, script), run_dir)


def run(tmp_path: Path, env: dict[str, str], script: Path, run_name: str = "run") -> Run:
    run_dir = tmp_path / run_name
    return finish(script, run_dir, env, run_script(script, run_dir, env))


def span(intervals: dict[int, list[Interval]]) -> Interval:
    """From the first start to the last end."""
    runs = [i for attempts in intervals.values() for i in attempts]
    return Interval(min(i.start for i in runs), max(i.ended for i in runs))


def started(env: dict[str, str], *labels: str) -> bool:
    marks = read_marks(Path(env[MARKS_ENV]))
    return all(label in marks for label in labels)


# --- Scheduling -------------------------------------------------------------------------------


def test_child_template_starts_after_every_job_of_its_parent(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree = {
        ".": {"fast": step("fast"), "slow": once_started("fast") + "; " + step("slow", sleep=0.5)},
        "child": {"child": step("child")},
    }
    result = run(tmp_path, script_env, prepare(tmp_path, tree, "--jobs", "3"))

    assert result.finished.code == 0, result.finished.stderr
    # "fast" ends long before "slow": a child waiting for any one parent job would start early.
    assert result.only("fast").ended < result.only("slow").ended
    assert result.only("child").start > result.only("slow").ended
    assert result.only("child").start > result.only("fast").ended


def test_job_never_waits_for_unrelated_jobs(tmp_path: Path, script_env: dict[str, str]) -> None:
    tree = {
        "a": {"a": step("a")},
        "a/c": {"c": step("c")},
        "b": {"b": once_started("c") + "; " + step("b")},
    }
    result = run(tmp_path, script_env, prepare(tmp_path, tree, "--jobs", "3"))

    assert result.finished.code == 0, result.finished.stderr
    c, b = result.only("c"), result.only("b")
    assert c.start > result.only("a").ended
    assert c.start < b.ended  # no level-by-level waves


def test_jobs_limit_is_never_exceeded(tmp_path: Path, script_env: dict[str, str]) -> None:
    tree = {f"t{i}": {f"j{i}": step(f"j{i}", sleep=0.5)} for i in range(5)}
    result = run(tmp_path, script_env, prepare(tmp_path, tree, "--jobs", "2"))

    assert result.finished.code == 0, result.finished.stderr
    assert max_concurrency(runs[0] for runs in result.marks.values()) <= 2
    assert max_concurrency(i[0] for i in event_intervals(result.run_dir).values()) == 2


def test_failure_skips_descendants_and_other_branches_go_on(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree = {
        "a": {"a": step("a", fail=True)},
        "a/b": {"b": step("b")},
        "a/b/c": {"c": step("c")},
        "z": {"z": step("z", sleep=0.5)},
        "z/y": {"y": step("y")},
    }
    script = prepare(tmp_path, tree, "--jobs", "2")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.states == {
        "a:null.a": "failed",
        "a/b:null.b": "skipped",
        "a/b/c:null.c": "skipped",
        "z:null.z": "succeeded",
        "z/y:null.y": "succeeded",
    }
    failed = str(result.results["a:null.a"].number)
    assert result.results["a/b:null.b"].blocked_by == failed
    assert result.results["a/b/c:null.c"].blocked_by == failed
    assert "skipped a/b/c:null.c: it waits for a:null.a, which failed" in result.finished.stderr
    assert "b" not in result.marks and "c" not in result.marks


def test_halt_soon_starts_nothing_new_and_lets_running_jobs_finish(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree = {
        "a": {"bad": step("bad", fail=True)},
        "b": {"slow": step("slow", sleep=1.5)},
        "c": {"later": step("later")},
    }
    script = prepare(tmp_path, tree, "--jobs", "2", "--halt", "soon,fail=1")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.states == {
        "a:null.bad": "failed",
        "b:null.slow": "succeeded",
        "c:null.later": "not-run",
    }
    assert "later" not in result.marks


def test_halt_now_stops_running_jobs_gracefully(tmp_path: Path, script_env: dict[str, str]) -> None:
    tree = {
        "a": {"bad": once_started("busy") + "; " + step("bad", fail=True)},
        "b": {"busy": step("busy", hang=True, cleanup=0.5)},
    }
    script = prepare(tmp_path, tree, "--jobs", "2", "--halt", "now,fail=1", "--grace", "60")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.results["a:null.bad"].state == "failed"
    assert result.results["b:null.busy"].state == "interrupted"
    assert result.only("busy").cleaned


@pytest.mark.parametrize(("retries", "state", "attempts"), [(0, "failed", 1), (1, "succeeded", 2)])
def test_retries_rerun_a_failing_build(
    tmp_path: Path, script_env: dict[str, str], retries: int, state: str, attempts: int
) -> None:
    counter = tmp_path / "counter"
    flaky = f"{step('flaky')}; n=$(cat '{counter}' 2>/dev/null || echo 0); "
    flaky += f"echo $((n + 1)) >'{counter}'; [ $n -ge 1 ]"
    script = prepare(tmp_path, {".": {"flaky": flaky}}, "--retries", str(retries))
    result = run(tmp_path, script_env, script)

    assert result.finished.code == (0 if state == "succeeded" else 1)
    assert result.results[".:null.flaky"].state == state
    assert result.results[".:null.flaky"].attempts == attempts
    assert len(result.marks["flaky"]) == attempts


def test_timeout_stops_a_build_gracefully_and_fails_it(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # hang: the step waits in the background, so its TERM trap runs at once (a foreground
    # sleep lets Packer 1.6.6 finish cancelling before the trap has done its work).
    tree = {".": {"slow": step("slow", hang=True, cleanup=0.2)}}
    script = prepare(tmp_path, tree, "--jobs", "2", "--timeout", "1", "--grace", "60")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.results[".:null.slow"].state == "failed"
    assert result.only("slow").cleaned
    log = next((result.run_dir / "logs").glob("*.log")).read_text()
    assert "Cancelling build after receiving terminated" in log


def test_build_that_builds_nothing_fails(tmp_path: Path, script_env: dict[str, str]) -> None:
    script = prepare(tmp_path, {".": {"real": step("real")}})
    text = script.read_text(encoding="utf-8")
    # Packer 1.6.6 exits 0 when -only matches nothing.
    edited = text.replace(" . . null.real null.real ", " . . null.ghost null.real ")
    assert edited != text
    script.write_text(edited, encoding="utf-8")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.results[".:null.real"].state == "failed"
    assert "real" not in result.marks
    log = (result.run_dir / "logs").glob("*.log")
    assert any("packer built nothing for -only=null.ghost" in p.read_text() for p in log)


# --- Joblog -----------------------------------------------------------------------------------


def test_joblog_runtime_of_each_job_matches_its_own_start_and_end(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    # "fast" ends while "slow" runs and nothing else is ready: GNU parallel reaps it (and
    # logs its runtime) only when its next input line comes.
    tree = {"a": {"fast": step("fast")}, "b": {"slow": step("slow", sleep=1.5)}}
    script = prepare(tmp_path, tree, "--jobs", "2")
    result = run(tmp_path, script_env, script)
    assert result.finished.code == 0, result.finished.stderr

    runtimes: dict[int, float] = {}
    for line in read_joblog(result.run_dir):
        called = re.fullmatch(r'"\$PARGEN_SELF" __job (\d+) \d+ \S+', line.command)
        assert called, line.command
        number = int(called[1])
        if number:  # 0 is a tick
            assert number not in runtimes
            runtimes[number] = line.runtime
    intervals = event_intervals(result.run_dir)
    assert sorted(runtimes) == sorted(script_jobs(script)) == sorted(intervals)
    for number, (interval,) in intervals.items():
        own = interval.ended - interval.start
        assert abs(runtimes[number] - own) < 0.2, (number, runtimes[number], own)


# --- Groups -----------------------------------------------------------------------------------

GROUP_OF_NULL = 'group "cloud" {\n  types = ["null"]\n  limit = 1\n}\n'


@pytest.mark.parametrize("configured", ["option", "pargen.hcl"])
def test_group_limit_caps_concurrent_jobs_of_the_group(
    tmp_path: Path, script_env: dict[str, str], configured: str
) -> None:
    root = write_tree(
        tmp_path / "tree", {".": {f"g{i}": step(f"g{i}", sleep=0.4) for i in range(3)}}
    )
    options = ["--jobs", "3"]
    if configured == "option":
        options += ["--group-limit", "1"]
    else:
        (root / "pargen.hcl").write_text(GROUP_OF_NULL, encoding="utf-8")
    script = render(root, tmp_path / "tree.sh", *options)
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 0, result.finished.stderr
    assert len(result.marks) == 3
    assert max_concurrency(runs[0] for runs in result.marks.values()) == 1


def test_group_limit_holds_across_pipelines_on_one_machine(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    scripts = []
    for side in ("left", "right"):
        tree = {".": {f"{side}{i}": step(f"{side}{i}", sleep=0.4) for i in range(2)}}
        root = write_tree(tmp_path / side, tree)
        (root / "pargen.hcl").write_text(GROUP_OF_NULL, encoding="utf-8")
        scripts.append(render(root, tmp_path / f"{side}.sh", "--pipeline-id", side))
    processes = [start_script(s, tmp_path / f"run-{s.stem}", script_env) for s in scripts]
    for process in processes:
        _, err = process.communicate(timeout=90)
        assert process.returncode == 0, err

    marks = read_marks(Path(script_env[MARKS_ENV]))
    assert len(marks) == 4
    assert max_concurrency(runs[0] for runs in marks.values()) == 1
    # Both pipelines were running at once: the limit was shared, not dodged.
    left, right = (span(event_intervals(tmp_path / f"run-{s.stem}")) for s in scripts)
    assert left.overlaps(right)


def test_job_waiting_for_its_group_holds_no_slot(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree = {
        "g": {g: once_started("other") + "; " + step(g) for g in ("g1", "g2")},
        "z": {"other": step("other")},
    }
    root = write_tree(tmp_path / "tree", tree)
    config = (
        'group "g" {\n  names = ["g:*"]\n  limit = 1\n}\n'
        'group "z" {\n  names = ["z:*"]\n  limit = 1\n}\n'
    )
    (root / "pargen.hcl").write_text(config, encoding="utf-8")
    result = run(tmp_path, script_env, render(root, tmp_path / "tree.sh", "--jobs", "2"))

    assert result.finished.code == 0, result.finished.stderr
    first = min((result.only("g1"), result.only("g2")), key=lambda i: i.start)
    assert not result.only("g1").overlaps(result.only("g2"))
    assert result.only("other").start < first.ended


def test_stop_while_waiting_for_a_group_slot_held_by_another_pipeline(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    holder = write_tree(tmp_path / "holder", {".": {"held": step("held", hang=True, cleanup=0)}})
    waiter = write_tree(tmp_path / "waiter", {".": {"w": step("w")}, "sub": {"ws": step("ws")}})
    for root in (holder, waiter):
        (root / "pargen.hcl").write_text(GROUP_OF_NULL, encoding="utf-8")
    holding = start_script(render(holder, tmp_path / "holder.sh"), tmp_path / "run-h", script_env)
    waiter_env = {**script_env, TOKEN_ENV: uuid.uuid4().hex}
    script = render(waiter, tmp_path / "waiter.sh")
    try:
        wait_for(lambda: started(script_env, "held"), "the holder's build to start")
        waiting = start_script(script, tmp_path / "run-w", waiter_env)
        in_sem = partial(has_process, waiter_env[TOKEN_ENV], "--semaphore")
        wait_for(in_sem, "the second pipeline to wait for the group")
        interrupt(waiting, "term")
        _, err = waiting.communicate(timeout=30)
    finally:
        interrupt(holding, "term")
        holding.communicate(timeout=60)

    assert waiting.returncode == 130, err
    assert states(tmp_path / "run-w", script) == {".:null.w": "not-run", "sub:null.ws": "not-run"}
    assert leftover_processes(waiter_env[TOKEN_ENV]) == []
    assert set(read_marks(Path(script_env[MARKS_ENV]))) == {"held"}


# --- Pipeline lock ----------------------------------------------------------------------------


def _two_pipelines(
    tmp_path: Path, first: Tree, second: Tree, *second_options: str
) -> tuple[Path, Path]:
    options = ("--pipeline-id", "shared", "--grace", "60")
    one = prepare(tmp_path, first, *options, name="one")
    two = prepare(tmp_path, second, *options, *second_options, name="two")
    return one, two


def test_same_pipeline_waits_and_never_overlaps(tmp_path: Path, script_env: dict[str, str]) -> None:
    one, two = _two_pipelines(
        tmp_path, {".": {"one": step("one", sleep=1)}}, {".": {"two": step("two")}}
    )
    first = start_script(one, tmp_path / "run-one", script_env)
    wait_for(lambda: started(script_env, "one"), "the first pipeline to start")
    second = run_script(two, tmp_path / "run-two", script_env)
    first.communicate(timeout=60)

    assert first.returncode == 0
    assert second.code == 0, second.stderr
    assert "pipeline 'shared' is busy" in second.stderr
    marks = read_marks(Path(script_env[MARKS_ENV]))
    assert marks["two"][0].start > marks["one"][0].ended


def test_same_pipeline_with_on_overlap_fail_exits_4_naming_the_holder(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    one, two = _two_pipelines(
        tmp_path,
        {".": {"one": step("one", hang=True, cleanup=0)}},
        {".": {"two": step("two")}},
        "--on-overlap",
        "fail",
    )
    first = start_script(one, tmp_path / "run-one", script_env)
    try:
        wait_for(lambda: started(script_env, "one"), "the first pipeline to start")
        second = run_script(two, tmp_path / "run-two", script_env)
    finally:
        interrupt(first, "term")
        first.communicate(timeout=60)

    assert second.code == 4
    assert f"pargen: error: pipeline 'shared' is busy: pid={first.pid} " in second.stderr
    assert "two" not in read_marks(Path(script_env[MARKS_ENV]))


def test_same_pipeline_with_on_overlap_cancel_stops_the_older_run_first(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    one, two = _two_pipelines(
        tmp_path,
        {".": {"one": step("one", hang=True, cleanup=0.5)}},
        {".": {"two": step("two")}},
        "--on-overlap",
        "cancel",
    )
    first = start_script(one, tmp_path / "run-one", script_env)
    wait_for(lambda: started(script_env, "one"), "the first pipeline to start")
    second = run_script(two, tmp_path / "run-two", script_env)
    first.communicate(timeout=60)

    assert first.returncode == 130
    assert second.code == 0, second.stderr
    marks = read_marks(Path(script_env[MARKS_ENV]))
    assert marks["one"][0].cleaned
    assert marks["two"][0].start > marks["one"][0].ended
    assert read_results(tmp_path / "run-one", one)[".:null.one"].state == "interrupted"


@pytest.mark.parametrize("how", ["group", "term"])
def test_run_waiting_for_the_pipeline_lock_stops_at_once(
    tmp_path: Path, script_env: dict[str, str], how: str
) -> None:
    one, two = _two_pipelines(
        tmp_path, {".": {"one": step("one", hang=True, cleanup=0)}}, {".": {"two": step("two")}}
    )
    second_env = {**script_env, TOKEN_ENV: uuid.uuid4().hex}
    first = start_script(one, tmp_path / "run-one", script_env)
    try:
        wait_for(lambda: started(script_env, "one"), "the first pipeline to start")
        second = start_script(two, tmp_path / "run-two", second_env)
        in_flock = partial(has_process, second_env[TOKEN_ENV], "flock")
        wait_for(in_flock, "the second pipeline to wait for the lock")
        interrupt(second, how)
        _, err = second.communicate(timeout=30)
    finally:
        interrupt(first, "term")
        first.communicate(timeout=60)

    assert second.returncode == 130, err
    assert "pargen: error: interrupted while waiting for pipeline 'shared'" in err
    assert leftover_processes(second_env[TOKEN_ENV]) == []
    assert "two" not in read_marks(Path(script_env[MARKS_ENV]))


# --- Stopping ---------------------------------------------------------------------------------


PARGEN = str(Path(sys.executable).parent / "pargen")


def start_exec(
    root: Path, run_dir: Path, env: dict[str, str], *options: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PARGEN, "exec", str(root), "--run-dir", str(run_dir), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("how", ["group", "term", "exec"])
def test_stop_lets_running_builds_clean_up_and_leaves_no_process(
    tmp_path: Path, script_env: dict[str, str], how: str
) -> None:
    """Ctrl-C (SIGINT to the process group), SIGTERM to the script, Ctrl-C to pargen exec."""
    tree = {
        ".": {
            "r1": step("r1", hang=True, cleanup=1),
            "r2": step("r2", hang=True, cleanup=1),
            "r3": step("r3"),
        },
        "child": {"child": step("child")},
    }
    options = ("--jobs", "2", "--grace", "60")
    run_dir = tmp_path / "run"
    if how == "exec":
        root = write_tree(tmp_path / "tree", tree)
        process = start_exec(root, run_dir, script_env, *options)
        script = run_dir / "run.sh"
    else:
        script = prepare(tmp_path, tree, *options)
        process = start_script(script, run_dir, script_env)
    wait_for(lambda: started(script_env, "r1", "r2"), "two builds to start")
    assert processes_with(script_env[TOKEN_ENV])  # the check below sees the run's processes
    signalled = time.monotonic()
    interrupt(process, "term" if how == "term" else "group")
    _, err = process.communicate(timeout=60)
    took = time.monotonic() - signalled

    assert process.returncode == 130, err
    assert took < 30  # the cleanup (1 s) governs, not the 60 s grace period
    result = finish(script, run_dir, script_env, Finished(130, "", err))
    assert result.states == {
        ".:null.r1": "interrupted",
        ".:null.r2": "interrupted",
        ".:null.r3": "not-run",
        "child:null.child": "not-run",
    }
    assert result.only("r1").cleaned and result.only("r2").cleaned
    assert set(result.marks) == {"r1", "r2"}  # nothing started after the signal
    logged = {line.command.split()[2] for line in read_joblog(run_dir)}
    assert logged - {"0"} == {"1", "2"}  # the stopped builds are in the joblog too
    assert leftover_processes(script_env[TOKEN_ENV]) == []


def test_a_job_whose_shell_is_killed_is_recorded_and_the_run_goes_on(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    """kill -9 of a job's own shell: it never reports an end, and GNU parallel keeps it as a
    zombie until it reads another line. The run must still end, account for the job, and
    stop what is left of the build gracefully."""
    tree = {
        ".": {"busy": step("busy", hang=True, cleanup=0.2), "other": step("other")},
        "child": {"child": step("child")},
    }
    script = prepare(tmp_path, tree, "--jobs", "2", "--grace", "60")
    run_dir = tmp_path / "run"
    process = start_script(script, run_dir, script_env)
    wait_for(lambda: started(script_env, "busy"), "the build to start")
    busy = script_jobs(script)
    number = next(n for n, job_id in busy.items() if job_id == ".:null.busy")
    (start,) = [e for e in read_events(run_dir) if e.kind == "start" and e.number == number]
    os.kill(int(start.fields[2]), signal.SIGKILL)  # the job's shell leads its process group
    _, err = process.communicate(timeout=60)

    assert process.returncode == 1, err
    result = finish(script, run_dir, script_env, Finished(1, "", err))
    assert result.states == {
        ".:null.busy": "lost",
        ".:null.other": "succeeded",
        "child:null.child": "skipped",
    }
    assert result.only("busy").cleaned  # the orphaned build still got its SIGTERM
    assert not leftover_processes(script_env[TOKEN_ENV])


def test_stopped_build_keeps_its_real_attempt_in_the_joblog_with_retries(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree = {".": {"busy": step("busy", hang=True, cleanup=1)}}
    script = prepare(tmp_path, tree, "--retries", "2", "--grace", "60")
    process = start_script(script, tmp_path / "run", script_env)
    wait_for(lambda: started(script_env, "busy"), "the build to start")
    interrupt(process, "term")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err

    (line,) = [line for line in read_joblog(tmp_path / "run") if " __job 1 " in line.command]
    (attempt,) = event_intervals(tmp_path / "run")[1]
    assert abs(line.runtime - (attempt.ended - attempt.start)) < 0.2


# --- Names ------------------------------------------------------------------------------------

HOSTILE_DIRS = [
    "$(touch pwned)",
    "`touch pwned`",
    'it\'s "quoted"',
    "semi;colon & amp | pipe > out",
    "star * q ? [ab] {x,y} ~",
    "comma,dir\\back",
    "-dash",
    "new\nline\ttab",
]
HOSTILE_NAME = "n $(touch pwned) `touch pwned` 'q' \"d\"; * ? [a] ,c"


def test_hostile_names_build_every_job_once_and_inject_nothing(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    tree: dict[str, dict[str, str]] = {
        d: {f"h{i}": step(f"h{i}")} for i, d in enumerate(HOSTILE_DIRS)
    }
    # A child under a hostile parent, with a hostile build name of its own.
    tree[f"{HOSTILE_DIRS[0]}/{HOSTILE_DIRS[2]}"] = {
        HOSTILE_NAME: step("nested"),
        "plain": step("plain"),
    }
    root = write_tree(tmp_path / "tree", tree)
    write_tree(root, {"named build": {"named": step("named")}}, build_name=HOSTILE_NAME)
    script = render(root, tmp_path / "tree.sh")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 0, result.finished.stderr
    expected = {f"h{i}" for i in range(len(HOSTILE_DIRS))} | {"nested", "plain", "named"}
    assert set(result.marks) == expected
    assert all(len(runs) == 1 for runs in result.marks.values())
    assert set(result.states.values()) == {"succeeded"}
    child = result.only("nested")
    assert child.start > result.only("h0").ended
    assert files_named(tmp_path, "pwned") == []
    assert not (Path.cwd() / "pwned").exists() and not (Path.home() / "pwned").exists()
    check = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout


def test_vars_and_var_files_reach_packer_unchanged(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    value = "$(touch pwned) `touch pwned` 'q' \"d\"; * ? [a] ,c \\ end"
    root = tmp_path / "tree"
    root.mkdir()
    seen = tmp_path / "seen"
    (root / "build.pkr.hcl").write_text(
        f"""
variable "from_var" {{
  type = string
}}
variable "from_file" {{
  type = string
}}
source "null" "x" {{ communicator = "none" }}
build {{
  sources = ["source.null.x"]
  provisioner "shell-local" {{
    environment_vars = ["A=${{var.from_var}}", "B=${{var.from_file}}"]
    inline = ["printf '%s|%s' \\"$A\\" \\"$B\\" > '{seen}'"]
  }}
}}
""",
        encoding="utf-8",
    )
    var_file = tmp_path / "$(touch pwned) it's.pkrvars.hcl"
    var_file.write_text('from_file = "file value"\n', encoding="utf-8")
    script = render(
        root, tmp_path / "tree.sh", "--var", f"from_var={value}", "--var-file", str(var_file)
    )
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 0, result.finished.stderr
    assert seen.read_text(encoding="utf-8") == f"{value}|file value"
    assert files_named(tmp_path, "pwned") == []


# --- packer init ------------------------------------------------------------------------------


def test_failed_packer_init_fails_its_template_and_skips_its_children(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", {"plugged": {"p": step("p")}}, required_plugins=True)
    write_tree(root, {"plugged/child": {"pc": step("pc")}, "other": {"o": step("o")}})
    script = render(root, tmp_path / "tree.sh")
    result = run(tmp_path, script_env, script)

    assert result.finished.code == 1
    assert result.states == {
        "other:null.o": "succeeded",
        "plugged:null.p": "failed",
        "plugged/child:null.pc": "skipped",
    }
    assert result.results["plugged:null.p"].blocked_by == "init"
    assert "FAILED packer init plugged" in result.finished.stderr
    assert set(result.marks) == {"o"}


# --- pargen exec ------------------------------------------------------------------------------


def test_exec_runs_the_tree_and_exits_1_on_a_failed_job(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(
        tmp_path / "tree", {".": {"ok": step("ok")}, "sub": {"bad": step("bad", fail=True)}}
    )
    done = subprocess.run(
        [PARGEN, "exec", str(root)],
        env=script_env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    latest = root / ".pargen" / "runs" / "latest"
    results = read_results(latest, latest / "run.sh")
    assert {j: r.state for j, r in results.items()} == {
        ".:null.ok": "succeeded",
        "sub:null.bad": "failed",
    }
    assert set(read_marks(Path(script_env[MARKS_ENV]))) == {"ok", "bad"}
