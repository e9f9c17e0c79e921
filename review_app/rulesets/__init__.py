"""The ``rulesets`` blueprint."""

from __future__ import annotations

from review_app.rulesets.routes import bp

__all__ = ["bp"]
