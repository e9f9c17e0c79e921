"""The database half of ``rulebook dmn export NAME``: a recorded version's document.

:mod:`rules.cli` imports this module only when the argument is not an existing file, so
exporting a document file loads no database code.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from rules.commands import Cli, database_error
from rules.core.document import Document
from rules.errors import NotFoundError
from rules.store import versions

__all__ = ["recorded_document"]


def recorded_document(url: str, name: str, number: int | None) -> tuple[Document, int]:
    """Version ``number`` (default: the active one) of ruleset ``name``: its document and
    number. NotFoundError if there is no such ruleset (saying that no such file exists
    either) or version; UnavailableError if the database cannot be used."""
    cli = Cli(url, as_json=False)
    try:
        with cli.session() as session:
            try:
                versions.get_ruleset(session, name)
            except NotFoundError as exc:
                raise NotFoundError(f"there is no file {name!r}, and {exc}") from exc
            info = versions.get_version(session, name, number)
        return info.document, info.number
    except SQLAlchemyError as exc:
        raise database_error(exc, url) from exc
    finally:
        cli.close()
