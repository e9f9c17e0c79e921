"""Every table of the product, on one metadata, so that one Alembic history migrates them
all (DESIGN §3, §5, §6).

Each table has one owner, which alone queries and writes it; other packages call the owner's
services and get frozen records back, never rows:

- the system of record's (:mod:`rules.store`): ``rulesets``, ``versions``, ``activations``
  (:mod:`~rules.store.versions`), ``decisions``, ``resolutions``
  (:mod:`~rules.store.decisions`), ``users``, ``api_keys`` (:mod:`~rules.store.accounts`),
  ``settings`` (:mod:`~rules.store.settings`), ``user_sessions``
  (:mod:`~rules.store.user_sessions`), ``login_throttle`` (:mod:`~rules.store.login_throttle`);
- the scenarios' and shadow runs' (:mod:`~rules.store.scenarios`, :mod:`~rules.store.shadow`):
  ``scenarios``, ``shadows``, ``shadow_results``;
- the audit chain's (:mod:`rules.audit`): ``audit_events``, ``audit_head``;
- the proposer's, defined here for the one metadata and written by the proposer alone:
  ``proposals``, ``proposal_approvals``, ``llm_runs``.

:mod:`rules.audit.verify` reads every table whose rows an event vouches for. Invariants live
in the schema as well as in Python: version numbers are unique per ruleset, request ids are
unique per ruleset, every reference is a foreign key, every CHECK is named.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "LLM_RUN_STATUSES",
    "ROLES",
    "SCOPES",
    "Activation",
    "ApiKey",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Decision",
    "LlmRun",
    "LoginThrottle",
    "Proposal",
    "ProposalApproval",
    "Resolution",
    "Ruleset",
    "Scenario",
    "Setting",
    "Shadow",
    "ShadowResult",
    "User",
    "UserSession",
    "Version",
    "utcnow",
]

ROLES = ("analyst", "approver", "auditor", "admin")
PROPOSAL_STATUSES = ("draft", "submitted", "accepted", "rejected", "superseded")
IMPACTS = ("low", "high")
SCOPES = ("decide", "resolve", "read")
SOURCES = ("api", "cli", "import")
LLM_RUN_STATUSES = (
    "running",
    "ok",
    "no_proposal",
    "failed",
    "killed",
    "not_configured",
    "budget_exhausted",
    "call_limit",
    "timeout",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    # Set by an admin's reset: until they choose a new password, the user may only do that.
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=false())


class ApiKey(Base):
    """An application's key. Only the SHA-256 of the secret is stored; ``prefix`` finds it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class UserSession(Base):
    """A signed-in browser (rules.store.user_sessions): its cookie holds a random token, this
    row only the token's SHA-256, so that signing out, a password change or an admin can end
    it on the server."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute limit
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed sign-ins counted per (address, username), and per address across usernames in
    the row whose username is ``''`` (rules.store.login_throttle). In the database, so every
    worker sees the same counts; one row per key, so counting is one locked update."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("address", "username"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    # The end of the pause whose first refusal was audited (one event per pause).
    noted_until: Mapped[datetime | None]


class Ruleset(Base):
    __tablename__ = "rulesets"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    # The number of the active version: always equal to the latest activation's (same
    # transaction, under this row's lock), kept here so a decision finds it in one query.
    active_number: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class Version(Base):
    """An immutable version: nothing updates or deletes one."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("ruleset_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(
            "(number = 1 AND parent_number IS NULL) OR "
            "(number > 1 AND parent_number IS NOT NULL AND parent_number < number)",
            name="parent_before_child",
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    number: Mapped[int] = mapped_column(Integer)
    # The canonical JSON text, byte for byte what ``hash`` was computed from.
    document: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    parent_number: Mapped[int | None] = mapped_column(Integer, default=None)
    author: Mapped[str] = mapped_column(String(100))
    proposal_id: Mapped[int | None] = mapped_column(Id, ForeignKey("proposals.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Proposal(Base):
    """A change to one base version: typed operations, the candidate document they give, the
    author's rationale and citations, and the evidence the system attached (DESIGN §5).

    ``evidence`` and ``impact`` are written by the system only, never taken from an author;
    ``run`` is an LLM proposer's full run record."""

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint(f"impact IS NULL OR {_in('impact', IMPACTS)}", name="impact"),
        CheckConstraint("base_number >= 1", name="base_positive"),
        CheckConstraint(
            "(status = 'accepted') = (accepted_number IS NOT NULL)", name="accepted_has_version"
        ),
        CheckConstraint(
            "status NOT IN ('submitted', 'accepted') OR submitted_by IS NOT NULL",
            name="submitted_has_submitter",
        ),
        Index("ix_proposals_ruleset_id_status", "ruleset_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    base_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    author: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    rationale: Mapped[str] = mapped_column(Text, default="")
    operations: Mapped[Any] = mapped_column(Json)
    # Canonical JSON of the candidate document, byte for byte what ``candidate_hash`` hashes.
    candidate: Mapped[str] = mapped_column(Text)
    candidate_hash: Mapped[str] = mapped_column(String(64))
    citations: Mapped[Any] = mapped_column(Json)
    evidence: Mapped[Any] = mapped_column(Json, nullable=True, default=None)
    impact: Mapped[str | None] = mapped_column(String(8), default=None)
    run: Mapped[Any] = mapped_column(Json, nullable=True, default=None)
    editors: Mapped[Any] = mapped_column(Json)
    # Who submitted it for review (four eyes: they may not approve it); the audit chain's
    # proposal.submitted event names the same person, and verification compares the two.
    submitted_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str | None] = mapped_column(Text, default=None)
    accepted_number: Mapped[int | None] = mapped_column(Integer, default=None)


class ProposalApproval(Base):
    """One approver's approval; a high-impact proposal needs two different approvers."""

    __tablename__ = "proposal_approvals"
    __table_args__ = (UniqueConstraint("proposal_id", "approver"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    approver: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activation(Base):
    __tablename__ = "activations"
    __table_args__ = (Index("ix_activations_ruleset_id_id", "ruleset_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    number: Mapped[int] = mapped_column(Integer)
    previous_number: Mapped[int | None] = mapped_column(Integer, default=None)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("ruleset_id", "request_id"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        Index("ix_decisions_ruleset_id_id", "ruleset_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(Json)
    outputs: Mapped[Any] = mapped_column(Json, nullable=True)
    rule_ids: Mapped[Any] = mapped_column(Json)
    matched: Mapped[Any] = mapped_column(Json)
    exception: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    request_id: Mapped[str | None] = mapped_column(String(200), default=None)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), default=None)
    caller: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resolution(Base):
    """The outcome a person chose for a decision; the latest one for a decision counts."""

    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    outputs: Mapped[dict[str, Any]] = mapped_column(Json)
    override: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One link of the hash chain: ``hash = SHA-256(prev_hash || canonical(event))``."""

    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    # Canonical JSON text, so the hashed bytes survive any backend's JSON round trip.
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's single head row: appenders lock it, and it records the last seq and hash,
    so deleting the newest events is detected too."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Id)
    hash: Mapped[str] = mapped_column(String(64))


class Setting(Base):
    """An operator setting, by key (e.g. ``llm.enabled``, the LLM proposer's kill switch).
    Changed only by a service that appends an audit event in the same transaction."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class LlmRun(Base):
    """One run of the LLM proposer: its status and full record (model, prompt and tool-schema
    versions, every message and tool call with the gateway's verdict, tokens, cost, latency)
    and the ids of the proposals it created (DESIGN §5)."""

    __tablename__ = "llm_runs"
    __table_args__ = (
        CheckConstraint(_in("status", LLM_RUN_STATUSES), name="status"),
        CheckConstraint("base_number IS NULL OR base_number >= 1", name="base_positive"),
        Index("ix_llm_runs_ruleset_id_id", "ruleset_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    base_number: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    actor: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    record: Mapped[Any] = mapped_column(Json)
    proposal_ids: Mapped[Any] = mapped_column(Json)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Scenario(Base):
    """An analyst's test scenario of a ruleset (DESIGN §5): facts and the outputs expected of
    them. Not part of any version's hash; every change appends an audit event."""

    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("ruleset_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    key: Mapped[str] = mapped_column(String(100))  # the scenario's id, unique in the ruleset
    facts: Mapped[dict[str, Any]] = mapped_column(Json)
    expect: Mapped[dict[str, Any]] = mapped_column(Json)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The proposal in whose review it was last changed, if any.
    proposal_id: Mapped[int | None] = mapped_column(Id, ForeignKey("proposals.id"), default=None)


class Shadow(Base):
    """A shadow run: a version or a proposal's candidate evaluated beside the active version
    on every live decision (DESIGN §5). At most one per ruleset is running (stopped_at NULL)."""

    __tablename__ = "shadows"
    __table_args__ = (
        CheckConstraint(
            "(version_number IS NULL) <> (proposal_id IS NULL)", name="version_or_proposal"
        ),
        Index(
            "uq_shadows_running",
            "ruleset_id",
            unique=True,
            sqlite_where=text("stopped_at IS NULL"),
            postgresql_where=text("stopped_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id"))
    version_number: Mapped[int | None] = mapped_column(Integer, default=None)
    proposal_id: Mapped[int | None] = mapped_column(Id, ForeignKey("proposals.id"), default=None)
    # Canonical JSON of the shadow document, byte for byte what ``document_hash`` hashes.
    document: Mapped[str] = mapped_column(Text)
    document_hash: Mapped[str] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_by: Mapped[str | None] = mapped_column(String(100), default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)


class ShadowResult(Base):
    """What the shadow decided for one live decision; never returned to the caller."""

    __tablename__ = "shadow_results"
    __table_args__ = (UniqueConstraint("shadow_id", "decision_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shadow_id: Mapped[int] = mapped_column(ForeignKey("shadows.id"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    outputs: Mapped[Any] = mapped_column(Json, nullable=True)
    rule_ids: Mapped[Any] = mapped_column(Json)
    exception: Mapped[bool | None] = mapped_column(Boolean, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)  # the shadow failed
    differs: Mapped[bool] = mapped_column(Boolean)
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
