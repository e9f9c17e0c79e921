"""Every HTTP request has an id: the client's ``X-Request-Id`` when it is a sane token, else a
new one; it is echoed in the response's ``X-Request-Id`` and added to every log record of the
request (:func:`rules.logs.bind_request_id`), serve's access line included.

The id is for correlating logs only; the decision API's idempotency key is the body's
``request_id``, a different thing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from rules import logs

__all__ = ["ENVIRON_KEY", "HEADER", "RequestIdMiddleware", "init_app", "request_id_for"]

HEADER = "X-Request-Id"
ENVIRON_KEY = logs.REQUEST_ID_ENVIRON  # where the id is in the WSGI environ (serve's access log)
# Letters, digits and a few separators, up to 128 characters: a UUID, a ULID, a trace id.
SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}\Z")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_id_for(header: str | None) -> str:
    """``header`` if it is a sane id, else a new random one (32 hex digits)."""
    if header is not None and SANE.match(header):
        return header
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """WSGI middleware: picks the request's id, binds it for logging, echoes it."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        rid = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = rid

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            return start_response(status, [*kept, (HEADER, rid)], exc_info)

        token = logs.bind_request_id(rid)
        try:
            return self.app(environ, start)
        finally:
            logs.unbind_request_id(token)


def init_app(app: Flask) -> None:
    """Wrap ``app``'s WSGI callable (once)."""
    if not isinstance(app.wsgi_app, RequestIdMiddleware):
        app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
