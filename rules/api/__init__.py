"""Rulebook's HTTP decision API (DESIGN §4): JSON under ``/api/v1``, problem+json errors,
bearer API keys with scopes, health and Prometheus endpoints.

This package uses Flask; the pure engine core never imports it::

    app.extensions["rulebook.db"] = Database(url)   # the factory's one database
    rules.api.init_app(app)                         # routes, error handlers, metrics
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from rules.api import health, metrics, problems, routes
from rules.api.extensions import DB_EXTENSION, KEYS_EXTENSION, database, install

__all__ = ["DB_EXTENSION", "KEYS_EXTENSION", "database", "init_app"]


def _count_response(response: Response) -> Response:
    metrics.HTTP_RESPONSES.labels(str(response.status_code)).inc()
    return response


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's cookie sessions, except under the API paths: API clients authenticate with a
    bearer key and carry no session, so their requests skip opening one (a signing serializer
    per request)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(problems.API_PATHS):
            return self.null_session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register the API and operations routes, their error handling and response metrics."""
    install(app)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _SessionInterface()
    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    problems.register(app)
    app.after_request(_count_response)
