"""``rulebook serve``: gunicorn with several workers, migrations first, metrics aggregated over
the workers, and a clean stop on SIGTERM. The server runs in a subprocess on a free port."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from review_app.commands import default_workers, gunicorn_options
from rules.cli import main

RULEBOOK = Path(sys.executable).with_name("rulebook")
REQUESTS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_until_up(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rulebook serve exited with {proc.returncode}: {proc.communicate()[1]}")
        try:
            if _get(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("rulebook serve did not answer /healthz within 60 s")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "RULEBOOK_INSTANCE_PATH": str(tmp_path / "instance")}
    args = [str(RULEBOOK), "serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    proc = subprocess.Popen(
        [*args, "--database-url", db_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until_up(proc, port)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the master and its workers
            proc.communicate()


def _workers(pid: int, expected: int) -> list[int]:
    """The master's child processes, once ``expected`` of them have started (gunicorn forks
    them one after another)."""
    deadline = time.monotonic() + 30
    while True:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _responses_ok(metrics: str) -> float:
    found = re.search(r'^rulebook_http_responses_total\{status="200"\} (\S+)$', metrics, re.M)
    assert found, metrics
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the demo's example uses curl")
def test_serves_with_several_workers_and_stops_on_sigterm(
    server: tuple[subprocess.Popen[str], int], db_url: str
) -> None:
    proc, port = server
    assert len(_workers(proc.pid, 2)) == 2
    status, body = _get(port, "/readyz")
    assert status == 200, body  # serve migrated the database first
    assert json.loads(body)["status"] == "ready"
    for _ in range(REQUESTS - 1):
        assert _get(port, "/healthz")[0] == 200
    # every worker writes its counts to the shared folder: /metrics adds them all up
    status, body = _get(port, "/metrics")
    assert status == 200
    assert _responses_ok(body.decode()) == REQUESTS + 1  # with the first /healthz

    # the demo's ready-to-paste example works as pasted
    loaded = CliRunner().invoke(
        main, ["demo", "load", "--url", f"http://127.0.0.1:{port}", "--database-url", db_url]
    )
    assert loaded.exit_code == 0, loaded.output
    example = loaded.output.split("Try a decision:\n", 1)[1]
    pasted = subprocess.run(["bash", "-c", example], capture_output=True, text=True, timeout=30)
    assert pasted.returncode == 0, pasted.stderr
    decision = json.loads(pasted.stdout)
    assert (decision["ruleset"], decision["outputs"]["outcome"]) == ("mortgage-approval", "approve")

    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Shutting down: Master" in stderr


def test_serve_refuses_an_unreachable_database() -> None:
    result = CliRunner().invoke(
        main, ["serve", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 4
    assert "cannot use the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in (
        result.stderr
    )


def test_gunicorn_settings() -> None:
    options: dict[str, Any] = gunicorn_options("::1", 8080, 3, 4, access_log=False)
    assert options["bind"] == ["[::1]:8080"]
    assert (options["workers"], options["worker_class"], options["threads"]) == (3, "gthread", 4)
    assert options["preload_app"] is False
    assert options["accesslog"] is None
    assert gunicorn_options("127.0.0.1", 80, 1, 1, access_log=True)["worker_class"] == "sync"
    assert 3 <= default_workers() <= 8
