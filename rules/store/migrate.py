"""Alembic: where the migrations are, and bringing a database to the latest revision.

The migrations live in the repository's top-level ``migrations/`` folder and are installed as
the package ``rulebook_migrations`` (a setuptools ``package-dir`` mapping, in the wheel and in
an editable install alike), so Alembic finds them from wherever ``rulebook`` runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from rules.store.database import Database, default_url

__all__ = ["MIGRATIONS_PACKAGE", "migrations_config", "migrations_folder", "upgrade"]

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
