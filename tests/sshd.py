"""A throwaway OpenSSH server on 127.0.0.1 for the ssh-mode tests.

Its host key, the client key and the port are made per server; clients reach it through an
ssh_config of their own (``Client``), where every host alias points at 127.0.0.1 and a port.
The server runs in the foreground (``-D``) as a child of the tests, so it ends by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    user_key: Path

    def kill_connections(self) -> None:
        """Drop every open connection and stop listening, as a host that goes down."""
        children = _children(self.process.pid)
        self.stop()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(proc.name))
    return found


def start_server(directory: Path, user_key: Path | None = None) -> Server:
    """An sshd on a free port of 127.0.0.1 that lets in the user running the tests by key
    (``user_key``, or a new one)."""
    directory.mkdir(parents=True, exist_ok=True)
    host_key = directory / "host_key"
    user_key = user_key or directory / "user_key"
    for key in (host_key, user_key):
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
    authorized = directory / "authorized_keys"
    shutil.copy(user_key.with_name(user_key.name + ".pub"), authorized)
    authorized.chmod(0o600)
    port = free_port()
    config = directory / f"sshd_config.{port}"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\n"
        f"PidFile {directory}/sshd.{port}.pid\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PermitRootLogin prohibit-password\n"
        "AcceptEnv PARGEN_TEST_* CHECKPOINT_DISABLE\n"
        "MaxStartups 100\n"
        "MaxSessions 100\n",
        encoding="utf-8",
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation needs it when root
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(directory / f"sshd.{port}.log").open("wb"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (directory / f"sshd.{port}.log").read_text(errors="replace")
                raise RuntimeError(f"sshd did not start: {log}") from None
            time.sleep(0.05)
    return Server(port, process, user_key)


def client_config(
    path: Path, hosts: Mapping[str, int], user_key: Path, env: Mapping[str, str]
) -> str:
    """Write an ssh_config where each alias of ``hosts`` is 127.0.0.1 at its port, sending the
    variables of ``env``; return the ssh command that uses it."""
    lines = []
    for alias, port in hosts.items():
        lines += [f"Host {alias}", "  HostName 127.0.0.1", f"  Port {port}"]
    lines += [
        "Host *",
        f"  IdentityFile {user_key}",
        "  IdentitiesOnly yes",
        "  StrictHostKeyChecking no",
        "  UserKnownHostsFile /dev/null",
        "  LogLevel ERROR",
        "  BatchMode yes",
        "  ConnectTimeout 5",
    ]
    if env:
        lines.append("  SetEnv " + " ".join(f"{k}={v}" for k, v in env.items()))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"ssh -F {path}"
