"""The ``scenarios`` blueprint: a ruleset's test scenarios, added, changed and removed by
analysts (in a proposal's review, when reached from its dossier)."""

from __future__ import annotations

from review_app.scenarios.routes import bp

__all__ = ["bp"]
