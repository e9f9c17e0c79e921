"""A PostgreSQL schema of a benchmark's own, so a run never touches other data."""

from __future__ import annotations

from sqlalchemy import create_engine, text

__all__ = ["pg_schema_url"]


def pg_schema_url(base: str, schema: str, *, create: bool) -> str:
    """Create (``create``) or drop ``schema`` in the database at ``base``; the URL whose
    connections all work in it."""
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if create:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        else:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"
