"""``rulebook serve``: gunicorn with several workers, migrations first, metrics aggregated over
the workers, and a clean stop on SIGTERM. The server runs in a subprocess on a free port."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from review_app.commands import default_workers, gunicorn_options
from rules.cli import main
from tests.serving import get, serving, workers

REQUESTS = 30


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    with serving(db_url, tmp_path) as running:
        yield running


def _responses_ok(metrics: str) -> float:
    found = re.search(r'^rulebook_http_responses_total\{status="200"\} (\S+)$', metrics, re.M)
    assert found, metrics
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the demo's example uses curl")
def test_serves_with_several_workers_and_stops_on_sigterm(
    server: tuple[subprocess.Popen[str], int], db_url: str
) -> None:
    proc, port = server
    assert len(workers(proc.pid, 2)) == 2
    status, body = get(port, "/readyz")
    assert status == 200, body  # serve migrated the database first
    assert json.loads(body)["status"] == "ready"
    for _ in range(REQUESTS - 1):
        assert get(port, "/healthz")[0] == 200
    # every worker writes its counts to the shared folder: /metrics adds them all up
    status, body = get(port, "/metrics")
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
