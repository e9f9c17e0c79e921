"""Rulesets, immutable versions and activation (DESIGN §3).

Version 1 comes from :func:`create_ruleset`; every later version from :func:`create_version`,
which only the proposal-acceptance path calls (four-eyes is enforced there). Activation is a
separate recorded step; rollback is activating an older version. Each change appends its audit
event in the same transaction. Writers lock the ruleset row, so version numbers are dense and
exactly one version is active at any moment.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules import audit
from rules.core.check import check_document
from rules.core.document import Document, parse_document
from rules.errors import ConflictError, InvalidRequestError, NotFoundError, suggest
from rules.store.models import Activation, Ruleset, Version, utcnow

__all__ = [
    "ActivationInfo",
    "RulesetInfo",
    "VersionDiff",
    "VersionInfo",
    "activate",
    "activations",
    "active_at",
    "create_ruleset",
    "create_version",
    "diff_versions",
    "document_of",
    "get_ruleset",
    "get_version",
    "list_rulesets",
    "list_versions",
]


@dataclass(frozen=True, slots=True)
class RulesetInfo:
    name: str
    title: str | None
    active_number: int | None
    latest_number: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "active_version": self.active_number,
            "latest_version": self.latest_number,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class VersionInfo:
    ruleset: str
    number: int
    hash: str
    parent: int | None
    author: str
    proposal_id: int | None
    created_at: datetime
    active: bool
    document: Document

    def to_dict(self, with_document: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ruleset": self.ruleset,
            "version": self.number,
            "hash": self.hash,
            "parent": self.parent,
            "author": self.author,
            "proposal_id": self.proposal_id,
            "created_at": self.created_at.isoformat(),
            "active": self.active,
        }
        if with_document:
            out["document"] = self.document.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class ActivationInfo:
    ruleset: str
    number: int
    previous: int | None
    actor: str
    note: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "version": self.number,
            "previous": self.previous,
            "actor": self.actor,
            "note": self.note,
            "activated_at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class VersionDiff:
    ruleset: str
    a: int
    b: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    moved: tuple[str, ...]
    settings_changed: tuple[str, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "from": self.a,
            "to": self.b,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "moved": list(self.moved),
            "settings_changed": list(self.settings_changed),
            "diff": self.text,
        }


class _Documents:
    """Parsed documents by hash: versions are immutable, so a parse is good forever."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, Document] = OrderedDict()

    def peek(self, digest: str) -> Document | None:
        with self._lock:
            return self._docs.get(digest)

    def get(self, digest: str, text: str) -> Document:
        with self._lock:
            doc = self._docs.get(digest)
            if doc is not None:
                self._docs.move_to_end(digest)
                return doc
        doc = parse_document(json.loads(text))
        with self._lock:
            self._docs[digest] = doc
            while len(self._docs) > self.size:
                self._docs.popitem(last=False)
        return doc


_documents = _Documents()


def document_of(version: Version) -> Document:
    return _documents.get(version.hash, version.document)


def _info(name: str, row: Version, active_number: int | None) -> VersionInfo:
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


def _ruleset(session: Session, name: str, lock: bool = False) -> Ruleset:
    query = select(Ruleset).where(Ruleset.name == name)
    if lock:
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


def _version(session: Session, ruleset: Ruleset, number: int) -> Version:
    row = session.scalar(
        select(Version).where(Version.ruleset_id == ruleset.id, Version.number == number)
    )
    if row is None:
        latest = _latest(session, ruleset)
        raise NotFoundError(f"{ruleset.name} has no version {number}; versions are 1 to {latest}")
    return row


def _latest(session: Session, ruleset: Ruleset) -> int:
    return int(
        session.scalar(select(func.max(Version.number)).where(Version.ruleset_id == ruleset.id))
        or 0
    )


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
    return _info(ruleset.name, version, ruleset.active_number)


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
    ruleset = _ruleset(session, name, lock=True)
    if doc.name != name:
        raise InvalidRequestError(
            f"the document is named {doc.name!r}, not {name!r}; a version keeps its ruleset's name"
        )
    latest = _latest(session, ruleset)
    if base != latest:
        raise ConflictError(
            f"the proposal is based on version {base} but {name} is at version {latest}: "
            "rebase it and backtest again"
        )
    parent = _version(session, ruleset, base)
    if parent.hash == doc.hash:
        raise ConflictError(f"the document is identical to version {base}; nothing to create")
    _require_clean(doc)
    row = _insert_version(session, ruleset, doc, latest + 1, base, actor, proposal_id)
    return _info(name, row, ruleset.active_number)


def activate(
    session: Session, name: str, number: int, actor: str, note: str | None = None
) -> ActivationInfo:
    """Make version ``number`` the active one (rollback is activating an older version)."""
    ruleset = _ruleset(session, name, lock=True)
    version = _version(session, ruleset, number)
    if ruleset.active_number == number:
        raise ConflictError(f"version {number} of {name} is already active")
    return _activate(session, ruleset, version, actor, note)


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
    r = _ruleset(session, name)
    return RulesetInfo(r.name, r.title, r.active_number, _latest(session, r), r.created_at)


def get_version(session: Session, name: str, number: int | None = None) -> VersionInfo:
    """Version ``number``, or the active one."""
    ruleset = _ruleset(session, name)
    if number is None:
        if ruleset.active_number is None:
            raise NotFoundError(f"{name} has no active version")
        number = ruleset.active_number
    return _info(name, _version(session, ruleset, number), ruleset.active_number)


def list_versions(session: Session, name: str) -> list[VersionInfo]:
    ruleset = _ruleset(session, name)
    rows = session.scalars(
        select(Version).where(Version.ruleset_id == ruleset.id).order_by(Version.number)
    )
    return [_info(name, r, ruleset.active_number) for r in rows]


def activations(session: Session, name: str) -> list[ActivationInfo]:
    ruleset = _ruleset(session, name)
    rows = session.scalars(
        select(Activation).where(Activation.ruleset_id == ruleset.id).order_by(Activation.id)
    )
    return [
        ActivationInfo(name, a.number, a.previous_number, a.actor, a.note, a.activated_at)
        for a in rows
    ]


def active_at(session: Session, name: str, at: datetime) -> int | None:
    """The version that was active at time ``at`` (None before the first activation)."""
    ruleset = _ruleset(session, name)
    return session.scalar(
        select(Activation.number)
        .where(Activation.ruleset_id == ruleset.id, Activation.activated_at <= at)
        .order_by(Activation.activated_at.desc(), Activation.id.desc())
        .limit(1)
    )


def _rule_texts(doc: Document) -> dict[str, str]:
    return {r["id"]: json.dumps(r, sort_keys=True) for r in doc.to_dict()["rules"]}


def diff_versions(session: Session, name: str, a: int, b: int) -> VersionDiff:
    """What changed from version ``a`` to version ``b``: rules by id, settings, and a text diff."""
    da, db = get_version(session, name, a).document, get_version(session, name, b).document
    ra, rb = _rule_texts(da), _rule_texts(db)
    order_a = [r for r in ra if r in rb]
    order_b = [r for r in rb if r in ra]
    moved = tuple(r for i, r in enumerate(order_b) if order_a[i] != r)
    dict_a, dict_b = da.to_dict(), db.to_dict()
    settings = tuple(
        sorted(
            k for k in set(dict_a) | set(dict_b) if k != "rules" and dict_a.get(k) != dict_b.get(k)
        )
    )
    text = "".join(
        difflib.unified_diff(
            json.dumps(dict_a, indent=2, sort_keys=True).splitlines(keepends=True),
            json.dumps(dict_b, indent=2, sort_keys=True).splitlines(keepends=True),
            fromfile=f"{name} v{a}",
            tofile=f"{name} v{b}",
        )
    )
    return VersionDiff(
        name,
        a,
        b,
        added=tuple(r for r in rb if r not in ra),
        removed=tuple(r for r in ra if r not in rb),
        changed=tuple(r for r in rb if r in ra and ra[r] != rb[r]),
        moved=moved,
        settings_changed=settings,
        text=text,
    )
