"""Operations endpoints, unauthenticated: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rules.api import metrics, problems
from rules.errors import UnavailableError
from rules.store import migrations_config
from rules.store.extension import database

__all__ = ["bp", "expected_revisions"]

bp = Blueprint("ops", __name__)
bp.register_error_handler(Exception, problems.handle)


@cache
def expected_revisions() -> frozenset[str]:
    """The Alembic heads this code expects (read once from ``migrations/``)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations_config("sqlite://"))
    return frozenset(script.get_heads())


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers; the database is not consulted."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database answers and is migrated to the revision this code expects."""
    with database().engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        try:
            current = frozenset(conn.scalars(text("SELECT version_num FROM alembic_version")))
        except DBAPIError:
            current = frozenset()
    expected = expected_revisions()
    if current != expected:
        found = ", ".join(sorted(current)) or "none"
        raise UnavailableError(
            f"the database is at revision {found} but this code expects "
            f"{', '.join(sorted(expected))}; run `rulebook db upgrade`"
        )
    return jsonify(status="ready", database="ok", revision=sorted(current))


@bp.get("/metrics")
def metrics_text() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)
