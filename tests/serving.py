"""A live ``rulebook serve`` for tests: a real gunicorn master and workers in a subprocess, on
a free port of 127.0.0.1, killed with its workers at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

RULEBOOK = Path(sys.executable).with_name("rulebook")
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rulebook serve exited with {proc.returncode}: {proc.communicate()[1]}")
        try:
            if get(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"rulebook serve did not answer /healthz within {START_SECONDS} s")


def workers(pid: int, expected: int) -> list[int]:
    """The master's child processes, once ``expected`` of them have started (gunicorn forks
    them one after another)."""
    deadline = time.monotonic() + 30
    while True:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@contextmanager
def serving(
    db_url: str,
    home: Path,
    workers: int = 2,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    access_log: bool = False,
    args: tuple[str, ...] = (),
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``rulebook serve`` on ``db_url`` (it migrates first), its instance folder and working
    directory in ``home``, ``env`` added to its environment, ``args`` to its flags; yields the
    process and its port once ``/healthz`` answers. Its output goes to ``log`` when given (a
    long run would fill a pipe nobody reads), else to pipes read at the end."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "RULEBOOK_INSTANCE_PATH": str(home / "instance"), **(env or {})}
    command = [str(RULEBOOK), "serve", "--port", str(port), "--workers", str(workers), *args]
    access = "--access-log" if access_log else "--no-access-log"
    output = None if log is None else log.open("w")
    proc = subprocess.Popen(
        [*command, access, "--database-url", db_url],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE if output is None else output,
        stderr=subprocess.PIPE if output is None else subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until_up(proc, port)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the master and its workers
            proc.communicate()
        if output is not None:
            output.close()
