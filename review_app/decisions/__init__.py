"""The ``decisions`` blueprint."""

from __future__ import annotations

from review_app.decisions.routes import bp

__all__ = ["bp"]
