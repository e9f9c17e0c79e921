"""Alembic: where the migrations are, and bringing a database to the latest revision.

The migrations live in the repository's top-level ``migrations/`` folder and are installed as
the package ``rulebook_migrations`` (a setuptools ``package-dir`` mapping, in the wheel and in
an editable install alike), so Alembic finds them from wherever ``rulebook`` runs.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rules.errors import UnavailableError
from rules.store.database import Database, default_url

__all__ = [
    "MIGRATIONS_PACKAGE",
    "expected_revisions",
    "migrations_config",
    "migrations_folder",
    "ready_revisions",
    "upgrade",
]

MIGRATIONS_PACKAGE = "rulebook_migrations"


def migrations_folder() -> Path:
    """The folder of the installed migrations (``env.py``, ``script.py.mako``, versions)."""
    package = importlib.import_module(MIGRATIONS_PACKAGE)
    return Path(next(iter(package.__path__))).resolve()


def migrations_config(url: str) -> Any:
    """Alembic's configuration for ``url``, pointing at the installed migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_folder()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (``rulebook db upgrade``)."""
    from alembic import command

    url = url or default_url()
    if make_url(url).get_backend_name() == "sqlite":
        Database(url).dispose()  # creates the instance folder
    command.upgrade(migrations_config(url), revision)


@cache
def expected_revisions() -> frozenset[str]:
    """The Alembic heads this code expects (read once from the migrations)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations_config("sqlite://"))
    return frozenset(script.get_heads())


def ready_revisions(db: Database) -> frozenset[str]:
    """The database's revisions when it answers and is migrated to what this code expects;
    UnavailableError (naming both, and the fix) when it is not."""
    with db.engine.connect() as conn:
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
    return current
