"""Reading rulesets, versions and their activation history (DESIGN §3), and finding the rows
the writers lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.errors import NotFoundError, suggest
from rules.store.models import Activation, Ruleset, Version
from rules.store.versions.documents import document_of
from rules.store.versions.records import ActivationInfo, RulesetInfo, VersionInfo

__all__ = [
    "activations",
    "active_at",
    "find_ruleset",
    "find_version",
    "get_ruleset",
    "get_version",
    "latest_number",
    "list_rulesets",
    "list_versions",
    "lock_ruleset",
    "ruleset_id",
    "version_info",
]


def version_info(name: str, row: Version, active_number: int | None) -> VersionInfo:
    return VersionInfo(
        name,
        row.number,
        row.hash,
        row.parent_number,
        row.author,
        row.proposal_id,
        row.created_at,
        row.number == active_number,
        document_of(row),
    )


def find_ruleset(
    session: Session, name: str, lock: bool = False, *, activating: bool = False
) -> Ruleset:
    """The ruleset's row (for the store's writers); NotFoundError with a "did you mean"."""
    query = select(Ruleset).where(Ruleset.name == name)
    if activating:
        # FOR UPDATE: a decision's guarded INSERT reads this row FOR KEY SHARE
        # (rules.store.decisions.writers.insert_statement), so it waits for the activation to
        # commit and then sees the new active version: "active at T" agrees exactly with the
        # recorded decisions. Taken after the audit chain's lock (rules.store.versions.write
        # _activate; a caller's transaction that decides takes that lock first too).
        query = query.with_for_update()
    elif lock:
        # FOR NO KEY UPDATE: serialises version writers, but not the FOR KEY SHARE lock that
        # inserting a decision (a foreign key to this row) takes. With FOR UPDATE, a
        # transaction that appends to the audit chain and then decides would deadlock with
        # a writer that holds this row and waits for the chain.
        query = query.with_for_update(key_share=True)
    row = session.scalar(query)
    if row is None:
        names = session.scalars(select(Ruleset.name)).all()
        hint = suggest(name, names)
        raise NotFoundError(
            f"no ruleset named {name!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )
    return row


def find_version(session: Session, ruleset: Ruleset, number: int) -> Version:
    """The version's row; NotFoundError naming the versions there are."""
    row = session.scalar(
        select(Version).where(Version.ruleset_id == ruleset.id, Version.number == number)
    )
    if row is None:
        latest = latest_number(session, ruleset)
        raise NotFoundError(f"{ruleset.name} has no version {number}; versions are 1 to {latest}")
    return row


def latest_number(session: Session, ruleset: Ruleset) -> int:
    """The number of the ruleset's latest version (0 when it has none)."""
    return int(
        session.scalar(select(func.max(Version.number)).where(Version.ruleset_id == ruleset.id))
        or 0
    )


def ruleset_id(session: Session, name: str) -> int:
    """The id of ruleset ``name`` (for rows other packages keep about it, such as
    proposals); NotFoundError with a "did you mean"."""
    return find_ruleset(session, name).id


def lock_ruleset(session: Session, name: str) -> None:
    """Lock the ruleset's row as the version writers do (FOR NO KEY UPDATE), so a change that
    will create a version (accepting a proposal) is serialised with them; the caller then
    takes the audit chain's lock (:func:`rules.audit.lock_head`)."""
    find_ruleset(session, name, lock=True)


def list_rulesets(session: Session) -> list[RulesetInfo]:
    latest = (
        select(Version.ruleset_id, func.max(Version.number).label("latest"))
        .group_by(Version.ruleset_id)
        .subquery()
    )
    rows = session.execute(
        select(Ruleset, latest.c.latest)
        .join(latest, latest.c.ruleset_id == Ruleset.id)
        .order_by(Ruleset.name)
    )
    found = []
    for row in rows:  # Result.tuples() is deprecated in SQLAlchemy 2.1
        r: Ruleset = row[0]
        found.append(RulesetInfo(r.name, r.title, r.active_number, int(row[1] or 0), r.created_at))
    return found


def get_ruleset(session: Session, name: str) -> RulesetInfo:
    r = find_ruleset(session, name)
    return RulesetInfo(r.name, r.title, r.active_number, latest_number(session, r), r.created_at)


def get_version(session: Session, name: str, number: int | None = None) -> VersionInfo:
    """Version ``number``, or the active one."""
    ruleset = find_ruleset(session, name)
    if number is None:
        if ruleset.active_number is None:
            raise NotFoundError(f"{name} has no active version")
        number = ruleset.active_number
    return version_info(name, find_version(session, ruleset, number), ruleset.active_number)


def list_versions(session: Session, name: str) -> list[VersionInfo]:
    ruleset = find_ruleset(session, name)
    rows = session.scalars(
        select(Version).where(Version.ruleset_id == ruleset.id).order_by(Version.number)
    )
    return [version_info(name, r, ruleset.active_number) for r in rows]


def activations(session: Session, name: str) -> list[ActivationInfo]:
    ruleset = find_ruleset(session, name)
    rows = session.scalars(
        select(Activation).where(Activation.ruleset_id == ruleset.id).order_by(Activation.id)
    )
    return [
        ActivationInfo(name, a.number, a.previous_number, a.actor, a.note, a.activated_at)
        for a in rows
    ]


def active_at(session: Session, name: str, at: datetime) -> int | None:
    """The version that was active at time ``at`` (None before the first activation)."""
    ruleset = find_ruleset(session, name)
    return session.scalar(
        select(Activation.number)
        .where(Activation.ruleset_id == ruleset.id, Activation.activated_at <= at)
        .order_by(Activation.activated_at.desc(), Activation.id.desc())
        .limit(1)
    )
