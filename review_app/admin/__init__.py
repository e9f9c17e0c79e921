"""The ``admin``  blueprint."""

from __future__ import annotations

from review_app.admin.routes import bp

__all__ = ["bp"]
