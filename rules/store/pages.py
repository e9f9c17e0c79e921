"""Pages of a search, newest first, by keyset on an increasing id (the decision id, the audit
event's seq): the paging both people-facing searches share.

A page is the newest matches, the ones just older than ``before`` or the ones just newer than
``after`` (exclusive ids), plus whether more matches exist on either side; no offsets, so a
page stays cheap however far back it is and never skips a row inserted meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

__all__ = ["Keyset", "newest_first"]


@dataclass(frozen=True, slots=True)
class Keyset:
    """The rows of one page, newest first, and whether more matches are newer or older."""

    rows: list[Row[*tuple[Any, ...]]]
    newer: bool
    older: bool


def newest_first(
    session: Session,
    query: Select[*tuple[Any, ...]],
    key: ColumnElement[int] | InstrumentedAttribute[int],
    size: int,
    before: int | None = None,
    after: int | None = None,
) -> Keyset:
    """Up to ``size`` rows of ``query`` by ``key``, newest first: the newest, those just older
    than ``before``, or those just newer than ``after``. ``query``'s first column is ``key``."""
    if after is not None:
        rows = list(session.execute(query.where(key > after).order_by(key).limit(size)))
        rows.reverse()
    else:
        older = query if before is None else query.where(key < before)
        rows = list(session.execute(older.order_by(key.desc()).limit(size)))
    if not rows:
        return Keyset([], after is not None, before is not None)
    keys = query.with_only_columns(key, maintain_column_froms=True).limit(1)
    newest, oldest = int(rows[0][0]), int(rows[-1][0])
    return Keyset(
        rows,
        session.scalar(keys.where(key > newest)) is not None,
        session.scalar(keys.where(key < oldest)) is not None,
    )
