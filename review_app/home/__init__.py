"""The home page ``/``: where a signed-in user starts."""

from __future__ import annotations

from review_app.home.routes import bp

__all__ = ["bp"]
