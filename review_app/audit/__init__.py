"""The ``audit``  blueprint."""

from __future__ import annotations

from review_app.audit.routes import bp

__all__ = ["bp"]
