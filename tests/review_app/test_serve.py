"""``rulebook serve``: gunicorn with several workers, migrations first, metrics aggregated over
the workers, and a clean stop on SIGTERM. The server runs in a subprocess on a free port."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from review_app.commands import default_workers, gunicorn_options
from review_app.serving import AccessLogger, ServeSettings
from rules import logs
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


def test_gunicorn_gets_the_time_outs_and_rulebooks_logging() -> None:
    json_logs = logs.LogSettings("WARNING", "json")
    options = gunicorn_options(
        "0.0.0.0",
        80,
        2,
        2,
        False,
        timeout=9,
        graceful_timeout=8,
        keepalive=7,
        log_settings=json_logs,
    )
    assert (options["timeout"], options["graceful_timeout"], options["keepalive"]) == (9, 8, 7)
    assert options["logger_class"] is AccessLogger
    config = options["logconfig_dict"]
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["rulebook"]["()"] is logs.JsonFormatter
    assert config["loggers"]["gunicorn.access"]["level"] == "WARNING"  # --no-access-log
    for name in ("gunicorn.error", "gunicorn.access"):  # through the one handler
        assert (config["loggers"][name]["handlers"], config["loggers"][name]["propagate"]) == (
            [],
            True,
        )


def test_serve_settings_come_from_the_environment_and_flags_win() -> None:
    env = {"RULEBOOK_WORKERS": "3", "RULEBOOK_THREADS": "2", "RULEBOOK_TIMEOUT": "60"}
    env |= {"RULEBOOK_ACCESS_LOG": "off", "RULEBOOK_HOST": "0.0.0.0", "RULEBOOK_PORT": "8080"}
    found = ServeSettings.from_env(env)
    assert (found.workers, found.threads, found.timeout, found.access_log) == (3, 2, 60, False)
    assert (found.host, found.port, found.graceful_timeout, found.keepalive) == (
        "0.0.0.0",
        8080,
        20,
        5,
    )
    chosen = found.override(workers=5, threads=None, access_log=True)
    assert (chosen.workers, chosen.threads, chosen.access_log) == (5, 2, True)
    assert ServeSettings.from_env({}).workers == default_workers()


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("RULEBOOK_WORKERS", "lots", "'lots' is not a whole number of processes from 1 to 64"),
        ("RULEBOOK_THREADS", "0", "'0' is not a whole number of threads from 1 to 64"),
        ("RULEBOOK_KEEPALIVE", "-1", "'-1' is not a whole number of seconds from 0 to 3600"),
        ("RULEBOOK_ACCESS_LOG", "maybe", "'maybe' is not one of 1, true, yes, on, 0"),
        ("RULEBOOK_DB_POOL_SIZE", "0", "'0' is not a whole number of connections from 1"),
        ("RULEBOOK_DB_POOL_TIMEOUT", "soon", "'soon' is not a number of seconds from 0.1"),
        ("RULEBOOK_LOG_LEVEL", "LOUD", "'LOUD' is not one of DEBUG, INFO"),
    ],
)
def test_serve_refuses_a_bad_setting_naming_the_variable(
    var: str, value: str, says: str, tmp_path: Path
) -> None:
    env = {var: value, "RULEBOOK_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 2, result.output
    assert f"{var}: {says}" in result.stderr


def _get_with_id(port: int, path: str, rid: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"X-Request-Id": rid}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["X-Request-Id"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["X-Request-Id"]


def test_serve_logs_one_json_object_a_line_with_request_ids(db_url: str, tmp_path: Path) -> None:
    # RULEBOOK_THREADS is read; the flags --workers (1) and --db-pool-size win over their variables.
    env = {"RULEBOOK_LOG_FORMAT": "json", "RULEBOOK_THREADS": "2", "RULEBOOK_WORKERS": "5"}
    env |= {"RULEBOOK_DB_POOL_SIZE": "3"}
    args = ("--db-pool-size", "7")
    with serving(db_url, tmp_path, 1, env=env, access_log=True, args=args) as (proc, port):
        assert _get_with_id(port, "/readyz", "live-42") == (200, "live-42")
        assert _get_with_id(port, "/api/v1/nothing", "live-43") == (404, "live-43")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout == ""
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is one object
    messages = [line["message"] for line in lines]
    assert any("with 1 worker(s) x 2 thread(s)" in m for m in messages), messages
    assert any("(pool 7 + 10 overflow per worker)" in m for m in messages), messages
    assert "Shutting down: Master" in messages
    access = {line["request_id"]: line for line in lines if line["logger"] == "gunicorn.access"}
    ready, refused = access["live-42"], access["live-43"]
    assert (ready["method"], ready["path"], ready["status"]) == ("GET", "/readyz", 200)
    assert refused["status"] == 404
    assert ready["duration_ms"] > 0
    assert ready["message"].startswith("GET /readyz 200 ")
    assert all(line["request_id"] for line in access.values())  # generated when not sent
