"""``rulebook db``: create and migrate the database (Alembic)."""

from __future__ import annotations

import click

from rules import store
from rules.cli.service import Cli, service_command, show_url

__all__ = ["db"]


def _revisions(cli: Cli) -> tuple[str | None, str | None]:
    """The database's current Alembic revision and the code's head revision."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with cli.db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = ScriptDirectory.from_config(store.migrations_config(cli.url)).get_current_head()
    return current, head


@click.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
@service_command
def upgrade(cli: Cli) -> None:
    """Create the tables, or migrate them to the latest schema (alembic upgrade head)."""
    before, _ = _revisions(cli)
    store.upgrade(cli.url)
    current, head = _revisions(cli)
    where = show_url(cli.url)
    changed = "already at" if before == current else f"upgraded from {before or 'empty'} to"
    cli.emit(
        {"database": where, "previous": before, "revision": current, "head": head},
        [f"{where}: {changed} revision {current} (head)"],
    )


@db.command("current")
@service_command
def current(cli: Cli) -> None:
    """Show the database's schema revision and whether it is the latest."""
    revision, head = _revisions(cli)
    where = show_url(cli.url)
    if revision == head:
        state = "up to date"
    elif revision is None:
        state = "empty: run `rulebook db upgrade`"
    else:
        state = f"behind {head}: run `rulebook db upgrade`"
    cli.emit(
        {"database": where, "revision": revision, "head": head, "up_to_date": revision == head},
        [f"{where}: revision {revision or '(none)'}, {state}"],
    )
