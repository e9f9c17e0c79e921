"""Signing in and out: the ``auth`` blueprint, the session's user and the login throttle."""

from __future__ import annotations

from review_app.auth.routes import bp

__all__ = ["bp"]
