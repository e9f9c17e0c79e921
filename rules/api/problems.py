"""Errors as ``application/problem+json`` (RFC 9457), never an HTML page.

Every body is ``{type, title, status, detail, errors: [{field, message, code?, suggestion?}]}``.
:func:`handle` is the one place an error of the product's tree becomes a problem: a refusal
carries its ``status`` and ``kind`` (:mod:`rules.errors`; facts errors are 422 naming each
field); a database that cannot be reached is a 503 with ``Retry-After``; anything else is
logged and is a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from rules.errors import OutcomeUnknownError, Problem, RulebookError

__all__ = [
    "PROBLEM_JSON",
    "RETRY_AFTER_SECONDS",
    "ApiProblem",
    "handle",
    "problem",
    "register",
]

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5
# Paths whose errors are problems; the rest of the app keeps Flask's own error pages.
API_PATHS = ("/api/", "/healthz", "/readyz", "/metrics")


class ApiProblem(RulebookError):
    """An HTTP-level refusal raised by the API itself (401, 403, 415, 400), with the headers
    its answer needs (``WWW-Authenticate``)."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Iterable[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail, errors)
        self.status: int = status
        self.detail = detail
        self.headers = dict(headers or {})


def problem(
    status: int,
    detail: str,
    errors: Iterable[Problem] = (),
    headers: Mapping[str, str] | None = None,
    kind: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> Response:
    """A problem response; ``kind`` names the problem type (``about:blank`` without one);
    ``extra``: extension members (RFC 9457 §3.2), such as the ``request_id`` to retry with."""
    body: dict[str, object] = {
        "type": f"urn:rulebook:problem:{kind}" if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [_error(p) for p in errors],
    }
    body.update(extra or {})
    response = Response(json.dumps(body), status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    if status == 503:
        response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response


def _error(p: Problem) -> dict[str, str]:
    out = {"field": p.location, "message": p.message, "code": p.code}
    if p.suggestion:
        out["suggestion"] = p.suggestion
    return out


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if status == 404:
        detail = f"no such resource: {request.path}; see /api/v1/openapi.json for the routes"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.path}"
    else:
        detail = exc.description or HTTPStatus(status).phrase
    return problem(status, detail, headers=headers)


def _database(exc: Exception) -> Response:
    if isinstance(exc, IntegrityError):
        current_app.logger.warning("integrity error on %s: %s", request.path, exc)
        return problem(
            409, "the request conflicts with a concurrent change; retry it", kind="conflict"
        )
    if isinstance(exc, DataError):
        # A value the database refuses (out of range, not text): the request's fault, not an
        # outage a client should retry. rules.api.limits refuses the known ones first.
        current_app.logger.warning("data error on %s: %s", request.path, exc)
        return problem(
            422,
            "the database refused a value of this request; nothing was recorded, check the "
            "values sent",
            kind="invalid-data",
        )
    current_app.logger.warning("database unavailable on %s: %s", request.path, exc)
    return problem(
        503,
        "the database cannot be reached; nothing was recorded, retry later",
        kind="unavailable",
    )


def handle(exc: Exception) -> Response | HTTPException:
    """The problem response for any exception raised while serving the API."""
    if isinstance(exc, ApiProblem):
        return problem(exc.status, exc.detail, exc.problems, exc.headers)
    if isinstance(exc, HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return _http(exc)
    if isinstance(exc, RulebookError) and exc.status is not None:
        detail = str(exc.args[0]) if exc.args else HTTPStatus(exc.status).phrase
        extra = None
        if isinstance(exc, OutcomeUnknownError):
            many = isinstance(exc.request_id, list)
            extra = {"request_ids" if many else "request_id": exc.request_id}
        return problem(exc.status, detail, exc.problems, kind=exc.kind, extra=extra)
    if isinstance(exc, DBAPIError | DisconnectionError | PoolTimeoutError):
        return _database(exc)
    # An error of the tree with no status is a failure, not a refusal (e.g. an engine defect).
    kind = "rules-error" if isinstance(exc, RulebookError) else "internal"
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return problem(500, "an unexpected error occurred; it has been logged", kind=kind)


def _app_http_error(exc: HTTPException) -> Response | HTTPException:
    """Routing errors (404, 405) happen before any blueprint: problems under the API paths."""
    if request.path.startswith(API_PATHS):
        return handle(exc)
    return exc


def register(app: Flask) -> None:
    """Make routing errors under the API paths problems too.

    Blueprints register :func:`handle` for ``Exception`` themselves, once, where they are
    defined (a blueprint cannot change after its first registration)."""
    app.register_error_handler(HTTPException, _app_http_error)
