"""The Flask application: one factory serves the decision API and the review UI.

``create_app`` follows the Flask tutorial: configuration, then each subsystem wiring itself
with ``init_app(app)``: the store (:mod:`rules.store.extension`: the one database and the
services bound to it), the JSON API (``rules.api``), then the review UI
(:mod:`review_app.web`).

Session cookies are HttpOnly and SameSite=Lax; ``RULEBOOK_SECURE_COOKIES=1`` adds Secure (and
the ``__Host-`` name prefix) and Strict-Transport-Security on every response, and must be set
whenever the app is served over HTTPS; it is off by default so that ``make run`` works on
http://127.0.0.1. Behind a reverse proxy, set
``RULEBOOK_PROXY_HOPS`` to the number of proxies so the login throttle sees client addresses.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from rules import store

__all__ = ["HSTS", "create_app", "secret_key", "serve_app", "session_config"]

_TRUE = ("1", "true", "yes", "on")
# Strict-Transport-Security over HTTPS (review_app.auth.hsts says why these values).
HSTS = "max-age=31536000; includeSubDomains"


def session_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """Cookie, session and transport settings (``RULEBOOK_SECURE_COOKIES`` turns on Secure
    cookies and HSTS)."""
    secure = environ.get("RULEBOOK_SECURE_COOKIES", "").strip().lower() in _TRUE
    return {
        "HSTS": HSTS if secure else None,
        "SESSION_COOKIE_NAME": "__Host-rulebook" if secure else "rulebook_session",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Idle timeout and a hard limit from sign-in, both enforced from the user_sessions table.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "SESSION_MAX_AGE_SECONDS": 12 * 3600,
        # A CSRF token lives as long as its session (not one hour): a long review is not lost.
        "WTF_CSRF_TIME_LIMIT": None,
    }


class _App(Flask):
    """Flask, with :meth:`ensure_sync` remembered for each function. Flask asks it of every
    hook and view on every request (about ten a decision), and each answer costs an
    ``inspect.iscoroutinefunction``: a twentieth of a decision's own CPU time in profiles."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        found = self._sync.get(func)
        if found is None:
            found = self._sync[func] = super().ensure_sync(func)
        return found


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The application for ``test_config`` (tests) or the environment (``rulebook serve``)."""
    # Imported here, not at module level: `rulebook serve` imports this package in the gunicorn
    # master, and prometheus_client must first be imported in a worker, after serve has set
    # PROMETHEUS_MULTIPROC_DIR, or each worker's metrics stay private to it.
    from review_app import web
    from rules import api
    from rules.api import limits
    from rules.store import extension

    app = _App(__name__, instance_path=str(store.instance_path()))
    limits.install_converters(app)  # before any route: ids in URLs are at most 64-bit
    app.config.from_mapping(
        TESTING=False,
        # A batch of 1,000 decisions is well under this; anything larger is refused with 413.
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        PROXY_HOPS=int(os.environ.get("RULEBOOK_PROXY_HOPS", "0") or 0),
        **session_config(os.environ),
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = store.default_url()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("RULEBOOK_SECRET_KEY") or secret_key(
            store.instance_path()
        )
    extension.init_app(app)  # the app's database and services: the store owns them
    api.init_app(app)
    web.init_app(app)
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:  # outermost: every path (the decision hot path too) and the access log see it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def serve_app() -> Flask:
    """The application as each ``rulebook serve`` worker builds it: :func:`create_app` from
    the environment, warmed up (:func:`rules.store.extension.warm`) before the worker
    accepts a connection. The target for running Rulebook under another WSGI server
    (``gunicorn 'review_app:serve_app()'``)."""
    from rules.store import extension

    app = create_app()
    extension.warm(app)
    return app


def secret_key(folder: Path) -> str:
    """The key in ``folder/secret_key``, generated (mode 0600) the first time it is needed.

    Several workers may start at once: the key is written to a private temporary file and
    linked into place, so every process reads the same complete key."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".secret_key.")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()
