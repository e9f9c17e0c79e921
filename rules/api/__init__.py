"""Rulebook's HTTP decision API (DESIGN §4): JSON under ``/api/v1``, problem+json errors,
bearer API keys with scopes, health and Prometheus endpoints.

The blueprint has no data access of its own: its views check the request, call the store's
services (through :mod:`rules.store.extension`, which owns the database handle) and answer
with their frozen records::

    rules.store.extension.init_app(app)   # the app's database and services (done if missing)
    rules.api.init_app(app)               # routes, error handlers, metrics

- :mod:`~rules.api.routes`: the decision API's views; :mod:`~rules.api.trials`: test
  scenarios and the shadow run; :mod:`~rules.api.health`: liveness,
  readiness and metrics; :mod:`~rules.api.auth`: bearer keys and scopes;
  :mod:`~rules.api.bodies`: strict request bodies, validated against the description's own
  schemas (:mod:`~rules.api.validation`; a batch's items with their facts,
  :mod:`~rules.api.batches`); :mod:`~rules.api.limits`: what a client may send at all (text,
  nesting, ids, times), shared with the review app; :mod:`~rules.api.problems`: every error as
  problem+json, in one place; :mod:`~rules.api.openapi`, :mod:`~rules.api.schemas`: the
  OpenAPI description; :mod:`~rules.api.metrics`: Prometheus metrics;
  :mod:`~rules.api.request_id`: every request's id, echoed and in every log line;
  :mod:`~rules.api.hot_path`: plain decisions answered outside Flask's request context.

It may import Flask, :mod:`rules.store` (services, records and the app's handle),
:mod:`rules.core` and :mod:`rules.errors`; nothing under ``rules`` imports it but the app
factories that register it, and the core never does.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from rules.api import health, hot_path, limits, metrics, problems, request_id, routes
from rules.api import trials as _trials  # noqa: F401  (its views are on routes.bp)
from rules.store import extension

__all__ = ["init_app"]


def _count_response(response: Response) -> Response:
    metrics.child(metrics.HTTP_RESPONSES, str(response.status_code)).inc()
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
    limits.install_converters(app)  # before any route: ids in URLs are at most 64-bit
    extension.init_app(app)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _SessionInterface()
    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    problems.register(app)
    app.after_request(_count_response)
    hot_path.init_app(app)  # plain decisions answered before Flask's request machinery
    request_id.init_app(app)
