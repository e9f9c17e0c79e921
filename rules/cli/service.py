"""What the ``rulebook`` verbs backed by the system of record share (DESIGN §4).

:mod:`rules.cli.main` imports those verbs' modules only when one of them runs. Each verb is
wrapped by :func:`service_command`, which adds ``--database-url`` (or ``RULEBOOK_DATABASE_URL``) and
``--json``, and turns every error into a message and a non-zero exit: a service error with its
own exit code (404-like: 3, database unavailable: 4, anything else: 1).
"""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from rules.cli.output import echo_json, fail, json_option
from rules.errors import ConflictError, RulebookError, ServiceError, UnavailableError
from rules.store import Database, default_url

__all__ = ["Cli", "cli_actor", "database_error", "service_command", "show_url", "when"]

database_option = click.option(
    "--database-url",
    envvar="RULEBOOK_DATABASE_URL",
    show_envvar=True,
    metavar="URL",
    help="SQLAlchemy URL of the database (default: the SQLite file in the instance folder).",
)


def cli_actor() -> str:
    """Who the audit trail records for a command run from the shell: ``cli:<os user>``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid{os.getuid()}"
    return f"cli:{name}"


def show_url(url: str) -> str:
    """``url`` with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparseable URL)"


def when(at: Any) -> str:
    """A timestamp for tables: UTC to the second."""
    return str(at.strftime("%Y-%m-%d %H:%M:%SZ"))


@dataclass
class Cli:
    """What a verb works with: the database, the output mode and the actor."""

    url: str
    as_json: bool
    actor: str = field(default_factory=cli_actor)
    _db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.url)
        return self._db

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self.db.session() as session:
            yield session

    def emit(self, data: Any, lines: Iterable[str]) -> None:
        """Print ``data`` as JSON with ``--json``, else the human-readable ``lines``."""
        if self.as_json:
            echo_json(data)
        else:
            for line in lines:
                click.echo(line)

    def note(self, text: str) -> None:
        """A message for the person at the terminal, kept off stdout's JSON."""
        if not self.as_json:
            click.echo(text, err=True)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def database_error(exc: SQLAlchemyError, url: str) -> ServiceError:
    """A database failure, said in terms of what the user can do about it."""
    where = show_url(url)
    if isinstance(exc, ArgumentError):
        return UnavailableError(f"{where} is not a usable database URL: {exc}")
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "no such table" in detail or ("relation" in detail and "does not exist" in detail):
        return UnavailableError(
            f"the database at {where} has no Rulebook tables: run `rulebook db upgrade` first"
        )
    if isinstance(exc, IntegrityError):
        return ConflictError(f"the database refused the change ({detail}); nothing was written")
    return UnavailableError(f"cannot use the database at {where}: {detail}")


def service_command(func: Callable[..., None]) -> Callable[..., None]:
    """Give a verb ``--database-url`` and ``--json``, a :class:`Cli` as its first argument,
    and error handling: a message naming what was wrong and a non-zero exit."""

    @functools.wraps(func)
    def run(database_url: str | None, as_json: bool, **kwargs: Any) -> None:
        cli = Cli(database_url or default_url(), as_json)
        try:
            func(cli, **kwargs)
        except RulebookError as exc:
            fail(exc, as_json)
        except SQLAlchemyError as exc:
            fail(database_error(exc, cli.url), as_json)
        finally:
            cli.close()

    return database_option(json_option(run))
