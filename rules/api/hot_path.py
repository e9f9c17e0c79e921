"""The decision endpoint's hot path: ``POST /api/v1/rulesets/<name>/decisions`` answered at the
WSGI level, outside Flask's request context, when the request passes every check.

Why: Flask's per-request machinery (the request context, URL matching, a dozen app-wide hooks
that each return at once for an API call, the response object) was about a third of a
decision's CPU time in profiles, and this is the endpoint applications call at volume (issue 13;
``bench.cpu`` and ``bench.http`` measure it).

How it stays the same endpoint:

* It takes the view's steps with the view's own functions: the body parsed by
  :func:`~rules.api.bodies.parse_json` and checked by :func:`~rules.api.bodies.checked`
  against ``DecisionRequest``; the key from the app's :class:`~rules.store.accounts.KeyCache`,
  with the ``decide`` scope; the idempotency key by :func:`~rules.api.routes.request_id_of`;
  the decision recorded and answered by :func:`~rules.api.routes.answer_decision`; the
  header read by :func:`~rules.api.auth.bearer_token`, the scope the view's own. The key it
  looked up is left in the environ (:data:`~rules.api.auth.LOOKED_UP`): a request handed on
  with a key that is not valid costs one lookup in all, as it did before the hot path.
* Every other request is handed to Flask unchanged (its body put back) before anything is
  recorded: another method, path or content type, a query string, a chunked body or one over
  the size limit, no key or a key that is not valid or lacks the scope, a body or header that
  any check refuses, any error while checking. Flask answers it as it always has, problems
  included. The checks only read, so running them twice changes nothing.
* An error once the decision is under way (an unknown ruleset, facts the version refuses, the
  database failing: a 503 naming the request id) is answered by the app's own error handler
  and after-request hooks, in a request context made for it: the view's answer. It is never
  handed on, since the view would decide a second time.
* A success has the headers the app's after-request hooks give an API answer (HSTS when it is
  configured) and is counted in the response metrics. The hooks it skips are listed below
  (:data:`BEFORE_HOOKS`, :data:`AFTER_HOOKS`); a test fails when the app gains another, and
  another compares the two paths' answers header by header.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES

from rules.api import metrics
from rules.api.auth import LOOKED_UP, bearer_token, required_scope
from rules.api.bodies import checked, parse_json
from rules.api.routes import DecisionAnswer, answer_decision, decide, request_id_of
from rules.store.extension import DB_EXTENSION, DECISIONS_EXTENSION, KEYS_EXTENSION

__all__ = ["AFTER_HOOKS", "BEFORE_HOOKS", "DecisionHotPath", "init_app"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Only plain names: any other (escaped, non-ASCII, empty) is Flask's to route and check.
PATH = re.compile(r"/api/v1/rulesets/([A-Za-z0-9._-]{1,200})/decisions\Z")
SCOPE = required_scope(decide)  # the view's own
EXTENSION = "rulebook.hot_path"
# The app's hooks that run for a decision in Flask and are skipped here, by qualified name,
# with why skipping them changes no answer. A new hook fails a test until it is listed.
BEFORE_HOOKS = {
    # The UI's: each returns at once for an API path (no session, no user, CSRF-exempt).
    "review_app.auth.session.load_user": "API requests carry no session",
    "review_app.auth.session.require_password_change": "only a signed-in user is sent on",
    "review_app.access.enforce": "the API's endpoints are outside the UI's roles",
    "flask_wtf.csrf.CSRFProtect.init_app.<locals>.csrf_protect": "the API is exempt",
    "review_app.web.storable_text": "returns at once for an API path",
    # The API's: a plain name has no NUL or lone surrogate, and there is no query string.
    "rules.api.routes._storable_text": "PATH admits neither",
}
AFTER_HOOKS = {
    "rules.api._count_response": "counted here too",
    "review_app.auth.hsts.add_hsts": "added here too",
    "review_app.web._headers": "returns at once for an API path",
}


class DecisionHotPath:
    """WSGI middleware in front of the Flask app (see the module's docstring)."""

    def __init__(self, app: Flask, flask: WsgiApp) -> None:
        self.app = app
        self.flask = flask  # the app's WSGI callable behind this one
        self.statuses = {code: f"{code} {HTTP_STATUS_CODES[code].upper()}" for code in (200, 201)}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        match = None
        if environ.get("REQUEST_METHOD") == "POST" and not environ.get("QUERY_STRING"):
            match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.flask(environ, start_response)
        raw = self._body(environ)
        if raw is None:
            return self.flask(environ, start_response)
        try:
            checks = self._checks(environ, raw)
        except Exception:
            checks = None
        if checks is None:
            return self.flask(environ, start_response)
        body, request_id, key = checks
        try:
            answer = answer_decision(
                self.app.extensions[DECISIONS_EXTENSION], match.group(1), body, request_id, key
            )
        except Exception as exc:
            return self._problem(environ, start_response, exc)
        return self._answer(answer, start_response)

    def _body(self, environ: dict[str, Any]) -> bytes | None:
        """The whole body when it is JSON with a length within the limit (put back for Flask
        to read again), else None."""
        kind = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if kind != "application/json" or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH", ""))
        except ValueError:
            return None
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        if length < 0 or (limit is not None and length > limit):
            return None
        stream = environ["wsgi.input"]
        parts: list[bytes] = []
        left = length
        while left > 0:
            chunk = stream.read(left)
            if not chunk:
                break  # the client sent less than it said: Flask's 400
            parts.append(chunk)
            left -= len(chunk)
        raw = b"".join(parts)
        environ["wsgi.input"] = io.BytesIO(raw)
        return raw if left == 0 else None

    def _checks(
        self, environ: dict[str, Any], raw: bytes
    ) -> tuple[dict[str, Any], Any, Any] | None:
        """The valid body, its idempotency key and the caller's key; None for Flask to answer
        (exceptions too)."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        extensions = self.app.extensions
        key = extensions[KEYS_EXTENSION].get(extensions[DB_EXTENSION].sessions, token)
        environ[LOOKED_UP] = (token, key)  # Flask's check, for a request handed on, asks no more
        if key is None or SCOPE is None or SCOPE not in key.scopes:
            return None
        body = parse_json(raw)
        if not isinstance(body, dict):
            return None
        body = checked(body, "DecisionRequest")
        return body, request_id_of(body, environ.get("HTTP_IDEMPOTENCY_KEY")), key

    def _answer(self, answer: DecisionAnswer, start_response: Callable[..., Any]) -> list[bytes]:
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(answer.body))),
            ("Location", answer.location),
        ]
        hsts = self.app.config.get("HSTS")
        if hsts:
            headers.append(("Strict-Transport-Security", str(hsts)))
        metrics.child(metrics.HTTP_RESPONSES, str(answer.status)).inc()
        start_response(self.statuses[answer.status], headers)
        return [answer.body]

    def _problem(
        self, environ: dict[str, Any], start_response: Callable[..., Any], exc: Exception
    ) -> Iterable[bytes]:
        """``exc`` answered as Flask answers a view's exception: the blueprint's error handler,
        then the after-request hooks (as ``Flask.full_dispatch_request`` and ``wsgi_app``)."""
        app = self.app
        with app.request_context(environ):
            try:
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as error:
                response = app.handle_exception(error)
            return response(environ, start_response)


def init_app(app: Flask) -> None:
    """Put the hot path in front of ``app``'s WSGI callable (once)."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = app.wsgi_app = DecisionHotPath(app, app.wsgi_app)  # type: ignore[method-assign]
