"""Which version decides: a ruleset's active version, or the one a client pins.

:func:`find_target` reads it in one query (the ruleset's row joined to the version), with the
parsed document from the cache by hash. :class:`Targets` remembers targets per process for
the hot path: a remembered active version may be stale, which is why the INSERT that records
a decision re-checks that the version is still the active one
(:mod:`rules.store.decisions.writers`); a pinned version never goes stale (versions are
immutable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from rules.core.document import Document
from rules.errors import ConflictError, NotFoundError, suggest
from rules.store.models import Ruleset, Version
from rules.store.versions.documents import documents

__all__ = ["Target", "Targets", "find_target"]

MAX_REMEMBERED = 1024


@dataclass(frozen=True, slots=True)
class Target:
    """The version a decision is made with: its ruleset, number, hash and document."""

    ruleset_id: int
    ruleset: str
    version_id: int
    number: int
    hash: str
    doc: Document


def find_target(session: Session, name: str, version: int | None, share: bool = False) -> Target:
    """Version ``version`` of ruleset ``name``, or its active version (None).

    ``share``: hold the ruleset's row FOR SHARE until the transaction ends (PostgreSQL), so
    no activation commits between reading the active version and recording decisions with
    it: an activation locks the row before it stamps its time, so the decisions recorded with
    the version read here are all stamped before that time (DESIGN §3, "active at T").

    NotFoundError (with a "did you mean") for no such ruleset or version; ConflictError when
    the ruleset has no active version."""
    if share:
        # A statement of its own: once the lock is granted, the read below takes a snapshot
        # that sees the activation that held it (a locking read of the join would re-check
        # the ruleset's new row against the old snapshot's version row).
        session.execute(select(Ruleset.id).where(Ruleset.name == name).with_for_update(read=True))
    number = Ruleset.active_number if version is None else version
    row = session.execute(
        select(Ruleset.id, Ruleset.active_number, Version.id, Version.number, Version.hash)
        .outerjoin(Version, and_(Version.ruleset_id == Ruleset.id, Version.number == number))
        .where(Ruleset.name == name)
    ).one_or_none()
    if row is None:
        hint = suggest(name, session.scalars(select(Ruleset.name)).all())
        raise NotFoundError(
            f"no ruleset named {name!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )
    ruleset_id, _active, version_id, found, digest = row
    if version_id is None:
        if version is None:
            raise ConflictError(f"{name} has no active version")
        raise NotFoundError(f"{name} has no version {version}")
    doc = documents.peek(digest)
    if doc is None:
        text = session.scalar(select(Version.document).where(Version.id == version_id))
        doc = documents.get(digest, str(text))
    return Target(ruleset_id, name, version_id, found, digest, doc)


class Targets:
    """Targets remembered by (ruleset, pinned version or None), shared between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str, int | None], Target] = {}

    def get(
        self, name: str, version: int | None, fresh: bool, session: Callable[[], Session]
    ) -> Target:
        """The remembered target, unless ``fresh`` or none is remembered: then it is read
        with a session from ``session`` and remembered."""
        key = (name, version)
        if not fresh:
            with self._lock:
                found = self._found.get(key)
            if found is not None:
                return found
        with session() as s:
            target = find_target(s, name, version)
        with self._lock:
            if len(self._found) > MAX_REMEMBERED:
                self._found.clear()
            self._found[key] = target
        return target
