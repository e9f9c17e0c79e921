"""Rulebook's HTTP decision API (DESIGN §4): JSON under ``/api/v1``, problem+json errors,
bearer API keys with scopes, health and Prometheus endpoints.

This package uses Flask; the pure engine core never imports it::

    app.extensions["rulebook.db"] = Database(url)   # the factory's one database
    rules.api.init_app(app)                         # routes, error handlers, metrics
"""

from __future__ import annotations

from flask import Flask, Response

from rules.api import health, metrics, problems, routes
from rules.api.extensions import DB_EXTENSION, KEYS_EXTENSION, database, install

__all__ = ["DB_EXTENSION", "KEYS_EXTENSION", "database", "init_app"]


def _count_response(response: Response) -> Response:
    metrics.HTTP_RESPONSES.labels(str(response.status_code)).inc()
    return response


def init_app(app: Flask) -> None:
    """Register the API and operations routes, their error handling and response metrics."""
    install(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    problems.register(app)
    app.after_request(_count_response)
