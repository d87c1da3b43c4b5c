"""GNU parallel's ssh mode, for real: an sshd on 127.0.0.1 (tests/sshd.py) as the remote host.

The remote builds run on this same machine, through ssh, with the environment the client
config sends (marks file, token); a build records in ``$PARGEN_TEST_MARKS.ssh`` whether it
ran in an ssh session, so the tests can tell where each build ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sshd import Server, client_config, free_port, start_server
from tests.test_script import (
    HOSTILE_DIRS,
    HOSTILE_NAME,
    PARGEN,
    finish,
    prepare,
    start_exec,
    started,
)
from tests.trees import (
    MARKS_ENV,
    NEEDS_ENGINES,
    TOKEN_ENV,
    Finished,
    interrupt,
    leftover_processes,
    pargen,
    processes_with,
    read_marks,
    render,
    run_script,
    script_jobs,
    start_script,
    step,
    wait_for,
    write_tree,
)

pytestmark = NEEDS_ENGINES


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # scripts/setup installs openssh-server: a missing sshd is a failure, not a skip.
    running = start_server(tmp_path_factory.mktemp("sshd"))
    yield running
    running.stop()


def where(label: str, command: str) -> str:
    """A record of whether the build runs in an ssh session, then ``command``."""
    marks = f'"${MARKS_ENV}.ssh"'
    return f'if [ -n "$SSH_CONNECTION" ]; then echo {label} >>{marks}; fi; {command}'


def hangs_over_ssh(label: str) -> str:
    """A build that hangs (until stopped) on the ssh host and is quick on this machine."""
    remote = step(label, hang=True, cleanup=0.2)
    return where(label, f'if [ -n "$SSH_CONNECTION" ]; then {remote}; else {step(label)}; fi')


def ran_over_ssh(env: dict[str, str]) -> set[str]:
    path = Path(env[MARKS_ENV] + ".ssh")
    return set(path.read_text().split()) if path.exists() else set()


def ssh_command(tmp_path: Path, env: dict[str, str], hosts: dict[str, int], key: Path) -> str:
    sent = {k: env[k] for k in (MARKS_ENV, TOKEN_ENV, "CHECKPOINT_DISABLE")}
    return client_config(tmp_path / "ssh_config", hosts, key, sent)


def joblog_hosts(run_dir: Path) -> dict[str, list[str]]:
    """Job number -> the Host column of each of its joblog lines (ticks left out)."""
    hosts: dict[str, list[str]] = {}
    for line in (run_dir / "joblog").read_text().splitlines()[1:]:
        fields = line.split("\t")
        number = fields[8].split()[2]
        if number != "0":
            hosts.setdefault(number, []).append(fields[1])
    return hosts


def test_jobs_run_on_this_machine_and_on_the_ssh_host_parents_first(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    names = [f"b{i}" for i in range(4)]
    tree = {
        ".": {n: where(n, step(n, sleep=1)) for n in names},
        "child": {"c": where("c", step("c"))},
    }
    root = write_tree(tmp_path / "tree", tree)
    ssh = ssh_command(tmp_path, script_env, {"worker": server.port}, server.user_key)
    run_dir = tmp_path / "run"
    process = start_exec(root, run_dir, script_env, "-S", "1/worker,1/:", "--ssh", ssh)
    _, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    remote = ran_over_ssh(script_env)
    assert remote and remote != {*names, "c"}  # both machines built
    report = _report(run_dir)
    host = {job["id"].split("null.")[1]: job["host"] for job in report["jobs"]}
    assert {label for label, h in host.items() if h == "worker"} == remote
    assert {label for label, h in host.items() if h == ":"} == {*names, "c"} - remote
    assert {job["state"] for job in report["jobs"]} == {"succeeded"}
    _, table, _ = pargen("status", str(run_dir))
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("JOB "))
    rows = lines[lines.index(header) + 1 :]
    assert header.split() == ["JOB", "STATE", "EXIT", "TIME", "HOST", "NOTE"]
    assert {row.split()[4] for row in rows} == {"worker", ":"}
    marks = read_marks(Path(script_env[MARKS_ENV]))
    (child,) = marks["c"]
    assert child.start >= max(marks[n][0].ended for n in names)  # parents first, anywhere
    assert leftover_processes(script_env[TOKEN_ENV]) == []


def test_a_dead_host_in_the_list_gets_no_job(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    tree = {".": {n: where(n, step(n, sleep=0.5)) for n in ("a", "b", "c")}}
    hosts = {"worker": server.port, "dead": free_port()}
    ssh = ssh_command(tmp_path, script_env, hosts, server.user_key)
    logins = tmp_path / "hosts"
    logins.write_text("# the build hosts\n1/dead\n1/worker\n", encoding="utf-8")
    script = prepare(tmp_path, tree, "--sshloginfile", str(logins), "--ssh", ssh)
    run_dir = tmp_path / "run"
    result = finish(script, run_dir, script_env, run_script(script, run_dir, script_env))

    assert result.finished.code == 0, result.finished.stderr
    assert "host dead is not usable" in result.finished.stderr
    assert ran_over_ssh(script_env) == {"a", "b", "c"}
    assert {h for hs in joblog_hosts(run_dir).values() for h in hs} == {"worker"}


def test_a_host_that_goes_down_mid_run_moves_its_job_to_another_host(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    """The connection of a running build drops and the host stops answering: the build there
    is told to stop (it records its clean-up), the job is retried on this machine, and the
    dead host's slot gets no new job."""
    victim, run_dir, (code, err) = _lose_a_remote_build(tmp_path, script_env, server, "1")

    assert code == 0, err
    # The remote build got its SIGTERM when the connection dropped and cleaned up, while (the
    # host being unreachable) the retry ran here.
    assert sorted(_marks_of(script_env, victim)) == ["cleaned", "end", "start", "start"]
    report = _report(run_dir)
    jobs = {job["id"]: job for job in report["jobs"]}
    assert {job["state"] for job in jobs.values()} == {"succeeded"}
    assert jobs[f".:null.{victim}"]["host"] == ":"
    assert jobs[f".:null.{victim}"]["attempts"] == 2
    assert "lost the connection to flaky" in _log_of(run_dir, victim).read_text()
    assert leftover_processes(script_env[TOKEN_ENV]) == []


def test_without_retries_a_lost_connection_fails_the_job_visibly(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    victim, run_dir, (code, err) = _lose_a_remote_build(tmp_path, script_env, server, "0")

    assert code == 1, err
    report = _report(run_dir)
    state = {job["id"]: (job["state"], job["host"]) for job in report["jobs"]}
    (other,) = {"a", "b"} - {victim}
    assert state == {
        f".:null.{victim}": ("lost", "flaky"),
        f".:null.{other}": ("succeeded", ":"),
        "z:null.c": ("skipped", None),
    }
    # Told to stop when its connection dropped, it cleans up there, unwatched.
    wait_for(lambda: _marks_of(script_env, victim) == ["start", "cleaned"], "its clean-up")
    assert "lost the connection to flaky" in _log_of(run_dir, victim).read_text()


def test_a_stop_reaches_a_remote_build_as_a_graceful_sigterm(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    tree = {".": {"r": where("r", step("r", hang=True, cleanup=1))}, "child": {"c": step("c")}}
    ssh = ssh_command(tmp_path, script_env, {"worker": server.port}, server.user_key)
    script = prepare(tmp_path, tree, "-S", "1/worker", "--ssh", ssh, "--grace", "60")
    run_dir = tmp_path / "run"
    process = start_script(script, run_dir, script_env)
    wait_for(lambda: "r" in ran_over_ssh(script_env), "the build to start over ssh")
    interrupt(process, "group")
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    result = finish(script, run_dir, script_env, Finished(130, "", err))
    assert result.only("r").cleaned
    assert result.states == {".:null.r": "interrupted", "child:null.c": "not-run"}
    # The clean-up's output came back over the connection after the stop.
    log = _log_of(run_dir, "r").read_text()
    assert "Build 'null.r' errored" in log or "cancelled" in log.lower(), log
    assert leftover_processes(script_env[TOKEN_ENV]) == []


@pytest.mark.parametrize(
    ("where_", "content", "expected"),
    [
        ("-S", "ssh -p 2222 host", "is not an sshlogin"),
        ("-S", "2//host", "is not an sshlogin"),
        ("file", "1/worker\nssh -p 22 other\n", "hosts:2:1: 'ssh -p 22 other' is not an sshlogin"),
        ("missing", "", "sshloginfile"),
    ],
)
def test_bad_host_lists_are_one_line_errors_and_nothing_runs(
    tmp_path: Path, where_: str, content: str, expected: str
) -> None:
    root = write_tree(tmp_path / "tree", {".": {"a": "true"}})
    hosts = tmp_path / "hosts"
    if where_ == "-S":
        option = ["-S", content]
    else:
        if where_ == "file":
            hosts.write_text(content, encoding="utf-8")
        option = ["--sshloginfile", str(hosts)]
    done = subprocess.run(
        [PARGEN, "render", str(root), "-o", str(tmp_path / "s.sh"), *option],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    code, err = done.returncode, done.stderr
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.sh").exists()


def test_the_script_checks_a_host_list_given_at_run_time(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    root = write_tree(tmp_path / "tree", {".": {"a": step("a")}})
    script = prepare(tmp_path, {".": {"a": step("a")}})
    hosts = tmp_path / "hosts"
    hosts.write_text("1/ok\nssh -p 22 other\n", encoding="utf-8")
    done = subprocess.run(
        [str(script), "--run-dir", str(tmp_path / "run"), "--sshloginfile", str(hosts)],
        env=script_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{hosts}:2: 'ssh -p 22 other' has a space" in done.stderr
    assert not Path(script_env[MARKS_ENV]).exists()  # nothing ran
    assert root.exists()


def _lose_a_remote_build(
    tmp_path: Path, env: dict[str, str], server: Server, retries: str
) -> tuple[str, Path, tuple[int, str]]:
    """Two builds, one slot on a host "flaky" and one here: once the one there runs, flaky
    drops its connections and stops answering. The build that was there, the run directory,
    and the exit code and stderr of `pargen exec`."""
    flaky = start_server(tmp_path / "flaky", server.user_key)
    try:
        tree = {".": {"a": hangs_over_ssh("a"), "b": hangs_over_ssh("b")}, "z": {"c": step("c")}}
        root = write_tree(tmp_path / "tree", tree)
        ssh = ssh_command(tmp_path, env, {"flaky": flaky.port}, server.user_key)
        run_dir = tmp_path / "run"
        options = ("-S", "1/flaky,1/:", "--ssh", ssh, "--retries", retries)
        process = start_exec(root, run_dir, env, *options)
        wait_for(lambda: ran_over_ssh(env), "a build to start over ssh")
        (victim,) = ran_over_ssh(env)
        wait_for(lambda: started(env, victim), "the remote build to start")
        flaky.kill_connections()
        _, err = process.communicate(timeout=60)
    finally:
        flaky.stop()
    return victim, run_dir, (process.returncode, err)


def _marks_of(env: dict[str, str], label: str) -> list[str]:
    """The kinds of marks the steps of ``label`` recorded, in order."""
    lines = Path(env[MARKS_ENV]).read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[0] == label]


def _number_of(script: Path, label: str) -> str:
    return next(str(n) for n, job_id in script_jobs(script).items() if job_id.endswith(label))


def _log_of(run_dir: Path, label: str) -> Path:
    (log,) = [p for p in (run_dir / "logs").iterdir() if p.name.startswith(f"null.{label}-")]
    return log


def _report(run_dir: Path) -> dict[str, Any]:
    code, out, err = pargen("status", str(run_dir), "--format", "json")
    data: dict[str, Any] = json.loads(out)
    codes = {"succeeded": 0, "failed": 1, "interrupted": 130, "running": 75}
    assert code == codes[data["outcome"]], out + err  # the run's own exit code
    return data


def test_hosts_in_pargen_hcl_are_rendered_relative_to_the_tree(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", {".": {"a": "true"}})
    (root / "ci").mkdir()
    (root / "ci" / "hosts").write_text("2/build1\n:\n", encoding="utf-8")
    (root / "pargen.hcl").write_text(
        'sshloginfile = ["ci/hosts"]\nsshlogin = ["1/build2"]\nssh = "ssh -F ci/ssh_config"\n',
        encoding="utf-8",
    )
    text = render(root, tmp_path / "s.sh").read_text()
    assert "readonly DEFAULT_SSHLOGINFILES=(ci/hosts)" in text
    assert "readonly DEFAULT_SSHLOGINS=(1/build2)" in text
    assert "readonly DEFAULT_SSH='ssh -F ci/ssh_config'" in text


def test_load_and_memfree_are_refused_with_hosts(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "tree", {".": {"a": "true"}})
    done = subprocess.run(
        [PARGEN, "render", str(root), "-S", "1/build1", "--memfree", "1G"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not supported with hosts" in done.stderr and len(done.stderr.splitlines()) == 1


def test_hostile_names_build_on_the_ssh_host_once_and_inject_nothing(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    """Directory and build names with $(), backticks, quotes, globs, newlines: quoted for the
    remote shell as well as for this one."""
    tree: dict[str, dict[str, str]] = {
        d: {f"h{i}": where(f"h{i}", step(f"h{i}"))} for i, d in enumerate(HOSTILE_DIRS)
    }
    tree[f"{HOSTILE_DIRS[0]}/{HOSTILE_DIRS[2]}"] = {HOSTILE_NAME: where("nested", step("nested"))}
    root = write_tree(tmp_path / "tree", tree)
    ssh = ssh_command(tmp_path, script_env, {"worker": server.port}, server.user_key)
    script = render(root, tmp_path / "tree.sh", "-S", "2/worker", "--ssh", ssh)
    run_dir = tmp_path / "run"
    result = finish(script, run_dir, script_env, run_script(script, run_dir, script_env))

    assert result.finished.code == 0, result.finished.stderr
    expected = {f"h{i}" for i in range(len(HOSTILE_DIRS))} | {"nested"}
    assert set(result.marks) == expected
    assert all(len(runs) == 1 for runs in result.marks.values())
    assert ran_over_ssh(script_env) == expected
    assert result.only("nested").start > result.only("h0").ended
    assert list(tmp_path.rglob("pwned")) == []
    assert not (Path.home() / "pwned").exists()


def test_when_the_only_host_goes_down_the_rest_is_not_run_and_the_run_ends(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    """The retry of a lost build cannot connect: its slot is retired, and with no slot left the
    jobs still waiting are recorded as not run instead of waiting forever."""
    flaky = start_server(tmp_path / "flaky", server.user_key)
    try:
        tree = {".": {"a": hangs_over_ssh("a")}, "z": {"c": step("c")}}
        root = write_tree(tmp_path / "tree", tree)
        ssh = ssh_command(tmp_path, script_env, {"flaky": flaky.port}, server.user_key)
        run_dir = tmp_path / "run"
        options = ("-S", "1/flaky", "--ssh", ssh, "--retries", "1")
        process = start_exec(root, run_dir, script_env, *options)
        wait_for(lambda: started(script_env, "a"), "the remote build to start")
        flaky.kill_connections()
        _, err = process.communicate(timeout=60)
    finally:
        flaky.stop()

    assert process.returncode == 1, err
    assert "cannot reach flaky, and no host is left to run on" in err
    report = _report(run_dir)
    assert {job["id"]: job["state"] for job in report["jobs"]} == {
        ".:null.a": "lost",
        "z:null.c": "not-run",
    }
    assert leftover_processes(script_env[TOKEN_ENV]) == []


def test_a_remote_packer_killed_with_9_fails_its_job_and_leaves_nothing(
    tmp_path: Path, script_env: dict[str, str], server: Server
) -> None:
    """Killed, the real Packer leaves its plugins and provisioner holding the output pipe (and
    Packer 1.6.6's wrapper process exits 0): on the host they get SIGTERM and clean up, and the
    job fails at once instead of waiting for them."""
    tree = {".": {"r": where("r", step("r", hang=True, cleanup=0.2))}, "z": {"c": step("c")}}
    root = write_tree(tmp_path / "tree", tree)
    ssh = ssh_command(tmp_path, script_env, {"worker": server.port}, server.user_key)
    run_dir = tmp_path / "run"
    process = start_exec(root, run_dir, script_env, "-S", "1/worker", "--ssh", ssh)
    wait_for(lambda: started(script_env, "r"), "the remote build to start")
    packers = [
        int(entry.split(":", 1)[0])
        for entry in processes_with(script_env[TOKEN_ENV])
        if "-only=null.r" in entry
    ]
    inner = [pid for pid in packers if _parent_of(pid) in packers]
    assert len(inner) == 1, packers
    os.kill(inner[0], signal.SIGKILL)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 1, err
    report = _report(run_dir)
    assert {job["id"]: job["state"] for job in report["jobs"]} == {
        ".:null.r": "failed",
        "z:null.c": "skipped",
    }
    assert _marks_of(script_env, "r") == ["start", "cleaned"]
    assert leftover_processes(script_env[TOKEN_ENV]) == []


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
