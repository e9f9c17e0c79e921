"""Alembic environment bound to Rulebook's one metadata (``rules.store.models.Base``).

The database URL comes from the Alembic config when set (``rulebook db upgrade`` sets it),
else from ``RULEBOOK_DATABASE_URL``, else the embedded SQLite file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from rules.store import Database, default_url
from rules.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    has_main = config.file_config.has_section(config.config_ini_section)
    return (config.get_main_option("sqlalchemy.url") if has_main else None) or default_url()


def _options() -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER constraints: batch mode recreates the table instead.
        "render_as_batch": True,
    }


def run_migrations_offline() -> None:
    context.configure(url=_url(), literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    database = Database(_url(), poolclass=pool.NullPool)
    try:
        with database.engine.connect() as connection:
            context.configure(connection=connection, **_options())
            with context.begin_transaction():
                context.run_migrations()
    finally:
        database.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
