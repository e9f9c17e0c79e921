"""Alembic: where the migrations are, and bringing a database to the latest revision."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from rules.store.database import ROOT, Database, default_url

__all__ = ["migrations_config", "upgrade"]


def migrations_config(url: str) -> Any:
    """Alembic's configuration for ``url``, pointing at the project's ``migrations/``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (``rulebook db upgrade``)."""
    from alembic import command

    url = url or default_url()
    if make_url(url).get_backend_name() == "sqlite":
        Database(url).dispose()  # creates the instance folder
    command.upgrade(migrations_config(url), revision)
