"""The review UI's wiring: ``init_app(app)`` after the API's (see ``create_app``).

Order matters and is fixed here: load the session's user (:func:`review_app.auth.init_app`,
which also sends a user who must change their password to that page), then
:func:`review_app.access.enforce`
(sign-in or 403), then CSRF on every POST of the UI; the ``/api/v1`` blueprint is exempt from
CSRF (bearer keys, no cookies). Error pages are HTML for the UI and problem+json for the API
paths. Every transaction is a ``with database().session() as s:`` block in a view, which
commits at its end and rolls back on any exception before an error handler runs, so no
handler finds a transaction open.

To add a blueprint: import it in :func:`blueprints` and give each of its endpoints roles in
``review_app/access.py`` (``create_app`` refuses to start otherwise).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect  # type: ignore[import-untyped]
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from review_app import access, auth
from review_app.privacy import MASK
from rules.api import problems
from rules.api import routes as api_routes
from rules.api.limits import text_problems
from rules.errors import InvalidRequestError, Problem, RulebookError
from rules.store.extension import database

__all__ = [
    "NAV",
    "NavItem",
    "blueprints",
    "database",
    "init_app",
    "nav_items",
    "pretty_json",
    "when",
]

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

MESSAGES = {
    400: "The request could not be understood.",
    403: "Your role does not allow this page or action. Ask an admin if you need it.",
    404: "There is no such page. Check the address, or start again from the home page.",
    405: "This page does not accept that kind of request.",
    409: "This conflicts with a change made in the meantime. Reload the page and try again.",
    422: "Some of what was sent is not valid.",
    500: "Something went wrong on our side. It has been logged; nothing was changed.",
    503: "The database cannot be reached right now. Nothing was changed; try again shortly.",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_MESSAGE = (
    "The form was not accepted: its security token is missing, wrong or expired (for example "
    "after signing in again in another tab). Go back, reload the page and submit it again."
)


@dataclass(frozen=True, slots=True)
class NavItem:
    endpoint: str
    label: str
    section: str  # the blueprint whose pages mark this item as current


# The main navigation; an item shows when its endpoint exists and the user may use it.
NAV = (
    NavItem("proposals.index", "Proposals", "proposals"),
    NavItem("rulesets.index", "Rulesets", "rulesets"),
    NavItem("decisions.index", "Decisions", "decisions"),
    NavItem("audit.index", "Audit", "audit"),
    NavItem("admin.users", "Admin", "admin"),
)


def nav_items() -> list[NavItem]:
    """The navigation entries the current user may follow (a template global)."""
    views = current_app.view_functions
    return [item for item in NAV if item.endpoint in views and access.can(item.endpoint)]


def blueprints() -> list[Blueprint]:
    """The review UI's blueprints, in registration order."""
    from review_app import admin, audit, auth, decisions, home, proposals, rulesets, scenarios

    return [
        auth.bp,
        home.bp,
        audit.bp,
        admin.bp,
        rulesets.bp,
        scenarios.bp,
        decisions.bp,
        proposals.bp,
    ]


def when(value: datetime | None) -> str:
    """A timestamp as ``2026-01-02 13:04:05 UTC`` (``—`` for none)."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: Any) -> str:
    """JSON for people: indented, keys sorted, non-ASCII kept (autoescaped in templates)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _page(status: int, detail: str, errors: tuple[Problem, ...] = ()) -> tuple[str, int]:
    title = HTTPStatus(status).phrase
    page = render_template(
        "errors/error.html", status=status, title=title, detail=detail, problems=errors
    )
    return page, status


def _http_detail(exc: HTTPException, status: int) -> str:
    if isinstance(exc, CSRFError):
        return CSRF_MESSAGE
    if status in (403, 404, 405, 500) or not exc.description:
        return MESSAGES.get(status, HTTPStatus(status).description)
    return str(exc.description)


def handle_error(exc: Exception) -> Any:
    """Problem+json under the API paths; an error page for the UI."""
    if request.path.startswith(problems.API_PATHS):
        return problems.handle(exc)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        if status < 400:
            return exc  # redirects raised by routing
        return _page(status, _http_detail(exc, status))
    if isinstance(exc, RulebookError) and exc.status is not None:  # a refusal, with its status
        detail = str(exc.args[0]) if exc.args else MESSAGES.get(exc.status, "")
        return _page(exc.status, detail, exc.problems)
    if isinstance(exc, IntegrityError):
        log.warning("integrity error on %s: %s", request.path, exc)
        return _page(409, MESSAGES[409])
    if isinstance(exc, DataError):  # a value the database refuses: not an outage
        log.warning("data error on %s: %s", request.path, exc)
        return _page(422, MESSAGES[422])
    if isinstance(exc, DBAPIError | DisconnectionError | PoolTimeoutError):
        log.warning("database unavailable on %s: %s", request.path, exc)
        return _page(503, MESSAGES[503])
    log.exception("unexpected error on %s %s", request.method, request.path)
    return _page(500, MESSAGES[500])


def storable_text() -> None:
    """A NUL or a lone surrogate in a page's query or form is a 422 naming the field, before
    any view stores it (PostgreSQL cannot; :mod:`rules.api.limits`). The API checks its own."""
    if request.path.startswith(problems.API_PATHS) or request.endpoint == "static":
        return
    fields = [*request.args.items(multi=True)]
    if request.method == "POST" and request.mimetype in FORM_TYPES:
        fields += request.form.items(multi=True)
    found = text_problems(fields)
    if found:
        raise InvalidRequestError(
            "Some of what was sent cannot be stored: remove the NUL or broken characters.", found
        )


def _headers(response: Response) -> Response:
    if request.path.startswith(problems.API_PATHS) or request.endpoint == "static":
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Sessions' user, access control, CSRF, blueprints, error pages, headers, filters."""
    auth.init_app(app)  # the session's user (and HSTS)
    access.init_app(app)  # after the user is loaded, before CSRF
    csrf = CSRFProtect(app)
    csrf.exempt(api_routes.bp)
    app.before_request(storable_text)  # after CSRF: a forged form is refused first
    for bp in blueprints():
        app.register_blueprint(bp)
    app.register_error_handler(HTTPException, handle_error)
    app.register_error_handler(Exception, handle_error)
    app.after_request(_headers)
    app.jinja_env.filters.update(when=when, pretty_json=pretty_json)
    app.jinja_env.globals.update(nav_items=nav_items, MASK=MASK)
    access.check_complete(app)
