"""Logging: one configuration for ``rulebook serve`` (gunicorn's master and workers) and the
CLI, from the environment (DESIGN §7).

=====================  =======  ===============================================================
variable               default  meaning
=====================  =======  ===============================================================
RULEBOOK_LOG_LEVEL     INFO     DEBUG, INFO, WARNING, ERROR or CRITICAL
RULEBOOK_LOG_FORMAT    text     ``text`` (one line a record) or ``json`` (one JSON object a line:
                                ``time``, ``level``, ``logger``, ``process``, ``message``,
                                ``request_id``, the record's extra fields, ``traceback``)
=====================  =======  ===============================================================

Every record goes to standard error through one handler (:func:`dict_config`, applied with
:func:`logging.config.dictConfig`), gunicorn's error and access loggers included. During an
HTTP request the request's id (:func:`bind_request_id`, set by
:mod:`rules.api.request_id`) is added to every record, so all the lines of one request,
its access line, a traceback, a sign-in failure, share it. Python warnings are logged too
(``py.warnings``), so that in json mode every line of output parses.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from rules.environ import EnvReader

__all__ = [
    "ACCESS_LOGGER",
    "FORMATS",
    "LEVELS",
    "REQUEST_ID_ENVIRON",
    "JsonFormatter",
    "LogSettings",
    "RequestIdFilter",
    "StderrHandler",
    "TextFormatter",
    "bind_request_id",
    "configure",
    "configure_cli",
    "current_request_id",
    "dict_config",
    "unbind_request_id",
]

LEVEL_ENV = "RULEBOOK_LOG_LEVEL"
FORMAT_ENV = "RULEBOOK_LOG_FORMAT"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
ACCESS_LOGGER = "gunicorn.access"  # serve's access lines (review_app.serving.AccessLogger)
REQUEST_ID_ENVIRON = "rulebook.request_id"  # where a request's id is in its WSGI environ

_request_id: ContextVar[str | None] = ContextVar("rulebook_request_id", default=None)
# The attributes every LogRecord has; anything else on a record is an extra field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "request_tag",
}


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The level and the format; ``access`` is whether serve logs a line per request."""

    level: str = "INFO"
    format: str = "text"
    access: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LogSettings:
        """Settings from ``environ`` (default: the process environment); SettingsError naming
        each variable that is not valid."""
        reader = EnvReader(os.environ if environ is None else environ, "the logging settings")
        settings = cls(
            level=reader.choice(LEVEL_ENV, "INFO", LEVELS),
            format=reader.choice(FORMAT_ENV, "text", FORMATS),
        )
        reader.check()
        return settings


def current_request_id() -> str | None:
    """The id of the HTTP request being served in this thread, if any."""
    return _request_id.get()


def bind_request_id(value: str | None) -> Token[str | None]:
    """Tag this thread's records with ``value`` until :func:`unbind_request_id`."""
    return _request_id.set(value)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's, unless the record carries one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class StderrHandler(logging.StreamHandler[TextIO]):
    """A handler for whatever ``sys.stderr`` is when a record is emitted (as Python's
    last-resort handler), never a stream that was replaced and closed since."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class TextFormatter(logging.Formatter):
    """``2026-12-07 15:04:05,123 INFO [pid] logger [request id] message``."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s [%(process)d] %(name)s %(request_tag)s%(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        found = getattr(record, "request_id", None)
        record.request_tag = f"[{found}] " if found else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback is the ``traceback`` field, never extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["traceback"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def dict_config(settings: LogSettings) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` configuration of ``settings`` (also handed to
    gunicorn as ``logconfig_dict``, which routes its error and access loggers through it)."""
    formatter = JsonFormatter if settings.format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"rulebook": {"()": formatter}},
        "handlers": {
            "stderr": {"()": StderrHandler, "formatter": "rulebook", "filters": ["request_id"]}
        },
        "root": {"level": settings.level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": settings.level, "handlers": [], "propagate": True},
            # One line per Alembic plugin at every start; its migration lines stay.
            "alembic.runtime.plugins": {"level": "WARNING"},
            ACCESS_LOGGER: {
                "level": "INFO" if settings.access else "WARNING",
                "handlers": [],
                "propagate": True,
            },
        },
    }


def configure(settings: LogSettings) -> None:
    """Apply ``settings`` to this process (and log Python's warnings)."""
    logging.config.dictConfig(dict_config(settings))
    logging.captureWarnings(True)


def configure_cli(environ: Mapping[str, str] | None = None) -> LogSettings:
    """The CLI's logging: the settings are always checked (SettingsError), and applied unless
    the process has configured logging already (as :func:`logging.basicConfig`: a program
    that embeds the CLI, or the test runner, keeps its own)."""
    settings = LogSettings.from_env(environ)
    if not logging.getLogger().handlers:
        configure(settings)
    return settings
