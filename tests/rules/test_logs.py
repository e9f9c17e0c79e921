"""Logging settings and formats (:mod:`rules.logs`): json mode writes one parsable object a
line, tracebacks included; bad settings are errors naming the variable."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from click.testing import CliRunner

from rules import logs
from rules.cli import main
from rules.errors import SettingsError
from tests.logcapture import Lines


def test_defaults_and_case_insensitive_values() -> None:
    assert logs.LogSettings.from_env({}) == logs.LogSettings("INFO", "text")
    found = logs.LogSettings.from_env(
        {"RULEBOOK_LOG_LEVEL": "debug", "RULEBOOK_LOG_FORMAT": "JSON"}
    )
    assert (found.level, found.format) == ("DEBUG", "json")


def test_bad_settings_name_each_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        logs.LogSettings.from_env({"RULEBOOK_LOG_LEVEL": "LOUD", "RULEBOOK_LOG_FORMAT": "xml"})
    where = {p.location: p.message for p in caught.value.problems}
    assert set(where) == {"RULEBOOK_LOG_LEVEL", "RULEBOOK_LOG_FORMAT"}
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in where["RULEBOOK_LOG_LEVEL"]
    assert "text, json" in where["RULEBOOK_LOG_FORMAT"]


def test_the_cli_refuses_a_bad_log_setting_naming_it() -> None:
    result = CliRunner().invoke(
        main, ["ruleset", "check", "examples/mortgage.yaml"], env={"RULEBOOK_LOG_FORMAT": "xml"}
    )
    assert result.exit_code == 2
    assert "RULEBOOK_LOG_FORMAT: 'xml' is not one of text, json" in result.stderr


def test_json_lines_carry_the_request_id_extras_and_the_traceback(json_logs: Lines) -> None:
    log = logging.getLogger("rulebook.test")
    token = logs.bind_request_id("req-1")
    try:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            log.exception("failed on %s", "/x", extra={"path": "/x", "status": 500})
    finally:
        logs.unbind_request_id(token)
    log.warning("after the request")
    first, second = json_logs()
    assert first["request_id"] == "req-1"
    assert (first["level"], first["logger"], first["message"]) == (
        "ERROR",
        "rulebook.test",
        "failed on /x",
    )
    assert (first["path"], first["status"]) == ("/x", 500)
    assert "RuntimeError: boom" in first["traceback"]
    assert first["time"].endswith("Z")
    assert second["request_id"] is None


def test_text_lines_show_the_request_id() -> None:
    record = logging.LogRecord("rulebook.test", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    assert "INFO" in logs.TextFormatter().format(record)
    assert logs.TextFormatter().format(record).endswith("rulebook.test [abc] hello")


def test_warnings_are_logged_as_json(json_logs: Lines) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    (line,) = json_logs()
    assert line["logger"] == "py.warnings"
    assert "deprecated thing" in line["message"]


def test_the_handler_writes_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    handler = logs.StderrHandler()
    handler.setFormatter(logs.JsonFormatter())
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "one", None, None))
    assert json.loads(capsys.readouterr().err)["message"] == "one"
    assert handler.stream is sys.stderr
