"""Creating rulesets and versions, and activating them (DESIGN §3).

Version 1 comes from :func:`create_ruleset`; every later version from :func:`create_version`,
which only the proposal-acceptance path calls (four-eyes is enforced there). Activation is a
separate recorded step; rollback is activating an older version. Each change appends its audit
event in the same transaction. Writers lock the ruleset row, so version numbers are dense and
exactly one version is active at any moment.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules import audit
from rules.core.check import check_document
from rules.core.document import Document
from rules.errors import ConflictError, InvalidRequestError
from rules.store.models import Activation, Ruleset, Version, utcnow
from rules.store.versions.documents import document_of
from rules.store.versions.read import find_ruleset, find_version, latest_number, version_info
from rules.store.versions.records import ActivationInfo, VersionInfo

__all__ = ["activate", "create_ruleset", "create_version"]


def _require_clean(doc: Document) -> None:
    errors = [p for p in check_document(doc) if p.severity == "error"]
    if errors:
        raise InvalidRequestError(f"{doc.name}: the document has static check errors", errors)


def _insert_version(
    session: Session,
    ruleset: Ruleset,
    doc: Document,
    number: int,
    parent: int | None,
    actor: str,
    proposal_id: int | None,
) -> Version:
    row = Version(
        ruleset_id=ruleset.id,
        number=number,
        document=doc.canonical_json().decode("utf-8"),
        hash=doc.hash,
        parent_number=parent,
        author=actor,
        proposal_id=proposal_id,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor,
        "version.created",
        f"ruleset:{ruleset.name}",
        {
            "ruleset": ruleset.name,
            "number": number,
            "hash": doc.hash,
            "parent": parent,
            "proposal_id": proposal_id,
        },
    )
    return row


def _activate(
    session: Session, ruleset: Ruleset, version: Version, actor: str, note: str | None
) -> ActivationInfo:
    previous = ruleset.active_number
    audit.lock_head(session)  # before the insert: activation ids follow chain order
    # Then the row FOR UPDATE, which a decision's guarded INSERT (FOR KEY SHARE) waits for:
    # no decision records the old version with a time after this one's.
    find_ruleset(session, ruleset.name, activating=True)
    at = utcnow()
    session.add(
        Activation(
            ruleset_id=ruleset.id,
            version_id=version.id,
            number=version.number,
            previous_number=previous,
            actor=actor,
            note=note,
            activated_at=at,
        )
    )
    ruleset.active_number = version.number
    session.flush()
    audit.append(
        session,
        actor,
        "version.activated",
        f"ruleset:{ruleset.name}",
        {"ruleset": ruleset.name, "number": version.number, "previous": previous, "note": note},
    )
    return ActivationInfo(ruleset.name, version.number, previous, actor, note, at)


def create_ruleset(session: Session, doc: Document, actor: str) -> VersionInfo:
    """Version 1 of a new ruleset, activated (``rulebook ruleset create``)."""
    _require_clean(doc)
    if session.scalar(select(Ruleset.id).where(Ruleset.name == doc.name)) is not None:
        raise ConflictError(
            f"a ruleset named {doc.name!r} already exists; later versions come only from "
            "accepted proposals"
        )
    ruleset = Ruleset(name=doc.name, title=doc.title, created_by=actor)
    session.add(ruleset)
    session.flush()
    audit.append(session, actor, "ruleset.created", f"ruleset:{doc.name}", {"ruleset": doc.name})
    version = _insert_version(session, ruleset, doc, 1, None, actor, None)
    _activate(session, ruleset, version, actor, "version 1")
    return version_info(ruleset.name, version, ruleset.active_number)


def create_version(
    session: Session,
    name: str,
    doc: Document,
    *,
    base: int,
    actor: str,
    proposal_id: int | None,
) -> VersionInfo:
    """The next version, from a proposal accepted in review; not activated.

    ``base`` is the version the proposal was made against: if a newer version exists the
    proposal must be rebased first (ConflictError)."""
    ruleset = find_ruleset(session, name, lock=True)
    if doc.name != name:
        raise InvalidRequestError(
            f"the document is named {doc.name!r}, not {name!r}; a version keeps its ruleset's name"
        )
    latest = latest_number(session, ruleset)
    if base != latest:
        raise ConflictError(
            f"the proposal is based on version {base} but {name} is at version {latest}: "
            "rebase it and backtest again"
        )
    parent = find_version(session, ruleset, base)
    # A parent stored before the canonical form became RFC 8785 may carry the older hash of the
    # same document: compare by the document as well as by the stored hash.
    if doc.hash in (parent.hash, document_of(parent).hash):
        raise ConflictError(f"the document is identical to version {base}; nothing to create")
    _require_clean(doc)
    row = _insert_version(session, ruleset, doc, latest + 1, base, actor, proposal_id)
    return version_info(name, row, ruleset.active_number)


def activate(
    session: Session, name: str, number: int, actor: str, note: str | None = None
) -> ActivationInfo:
    """Make version ``number`` the active one (rollback is activating an older version)."""
    ruleset = find_ruleset(session, name, lock=True)
    version = find_version(session, ruleset, number)
    if ruleset.active_number == number:
        raise ConflictError(f"version {number} of {name} is already active")
    return _activate(session, ruleset, version, actor, note)
