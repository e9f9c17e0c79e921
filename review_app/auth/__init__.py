"""Signing in and out: the ``auth`` blueprint, the session's user kept on the server, the
forced password change, and HSTS. The password checks and the throttle are
:mod:`rules.store.credentials`."""

from __future__ import annotations

from flask import Flask

from review_app.auth.hsts import add_hsts
from review_app.auth.routes import bp
from review_app.auth.session import load_user, require_password_change

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    """Load each request's user, then send a user who must change their password to that
    page (both before :func:`review_app.access.enforce`); add HSTS to every response."""
    app.before_request(load_user)
    app.before_request(require_password_change)
    app.after_request(add_hsts)
