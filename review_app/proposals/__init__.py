"""``/proposals``: the review queue, the evidence dossier, the editor and review decisions."""

from __future__ import annotations

from review_app.proposals.routes import bp

__all__ = ["bp"]
