"""Operations endpoints, unauthenticated: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from rules.api import metrics, problems
from rules.store.extension import database
from rules.store.migrate import ready_revisions

__all__ = ["bp"]

bp = Blueprint("ops", __name__)
bp.register_error_handler(Exception, problems.handle)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers; the database is not consulted."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database answers and is migrated to the revision this code expects."""
    current = ready_revisions(database())
    return jsonify(status="ready", database="ok", revision=sorted(current))


@bp.get("/metrics")
def metrics_text() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)
