"""Alembic migrations match the models on SQLite and PostgreSQL, and the schema itself refuses
what the service would never write (DESIGN §3; STYLE: invariants live in the database too)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from rules.store import Database, migrations_config
from rules.store.models import Base
from tests.conftest import PG_URL, pg_schema_url
from tests.rules.store.storecases import APPROVE, mortgage, raw, scalar

TABLES = set(Base.metadata.tables)
FACTS = json.dumps(APPROVE)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("RULEBOOK_TEST_POSTGRES_URL is not set")
    schema = f"rb_migrations_{uuid.uuid4().hex[:12]}"
    yield pg_schema_url(PG_URL, schema)
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _tables(url: str) -> set[str]:
    database = Database(url)
    try:
        return set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(migrations_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert [r.revision for r in script.walk_revisions()][-1] == "0001"  # the base


def test_upgrade_check_downgrade_upgrade(empty_url: str) -> None:
    cfg = migrations_config(empty_url)
    assert _tables(empty_url) == set()
    command.upgrade(cfg, "head")
    assert _tables(empty_url) == TABLES | {"alembic_version"}
    command.check(cfg)  # raises if the models and the migrations differ
    command.downgrade(cfg, "base")
    assert _tables(empty_url) == {"alembic_version"}
    command.upgrade(cfg, "head")
    command.check(cfg)
    database = Database(empty_url)
    with database.engine.connect() as conn:
        head = conn.execute(text("SELECT id, seq, hash FROM audit_head")).all()
    database.dispose()
    assert head == [(1, 0, "0" * 64)]


def _seed(db: Database) -> dict[str, object]:
    """A ruleset with version 1 and one decision (request_id ``req-1``); the ids to refer to."""
    at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    raw(db, "INSERT INTO rulesets (name, created_at, created_by) VALUES ('r', :t, 'x')", t=at)
    r = scalar(db, "SELECT id FROM rulesets")
    raw(
        db,
        "INSERT INTO versions (ruleset_id, number, document, hash, author, created_at) "
        "VALUES (:r, 1, :d, :h, 'x', :t)",
        r=r,
        d=mortgage().canonical_json().decode(),
        h=mortgage().hash,
        t=at,
    )
    v = scalar(db, "SELECT id FROM versions")
    params = {"r": r, "v": v, "t": at, "f": FACTS, "missing": 999_999}
    raw(db, _decision(":v", "'req-1'", "'api'"), **params)
    return params


def _decision(version_id: str, request_id: str, source: str) -> str:
    return (
        "INSERT INTO decisions (ruleset_id, version_id, version_number, version_hash, facts, "
        "rule_ids, matched, exception, request_id, caller, source, decided_at) VALUES "
        f"(:r, {version_id}, 1, 'h', :f, '[]', '[]', false, {request_id}, 'c', {source}, :t)"
    )


def _version(ruleset: str, number: int, parent: str = "NULL") -> str:
    return (
        "INSERT INTO versions (ruleset_id, number, document, hash, parent_number, author, "
        f"created_at) VALUES ({ruleset}, {number}, '{{}}', 'h', {parent}, 'x', :t)"
    )


def _proposal(status: str, accepted: str, submitter: str = "NULL") -> str:
    return (
        "INSERT INTO proposals (ruleset_id, base_number, status, author, title, rationale, "
        "operations, candidate, candidate_hash, citations, editors, created_at, updated_at, "
        f"accepted_number, submitted_by) VALUES (:r, 1, {status}, 'baseline', 't', '', '[]', "
        f"'{{}}', 'h', '[]', '[]', :t, :t, {accepted}, {submitter})"
    )


# name: (statement, the constraint PostgreSQL names, SQLite's message)
VIOLATIONS = {
    "duplicate version number": (
        _version(":r", 1),
        "uq_versions_ruleset_id_number",
        "UNIQUE constraint failed: versions.ruleset_id, versions.number",
    ),
    "version number 0": (
        _version(":r", 0),
        "ck_versions_number_positive",
        "CHECK constraint failed: ck_versions_",
    ),
    "version 2 without a parent": (
        _version(":r", 2),
        "ck_versions_parent_before_child",
        "CHECK constraint failed: ck_versions_parent_before_child",
    ),
    "version 2 whose parent comes later": (
        _version(":r", 2, parent="3"),
        "ck_versions_parent_before_child",
        "CHECK constraint failed: ck_versions_parent_before_child",
    ),
    "version of a missing ruleset": (
        _version(":missing", 1),
        "fk_versions_ruleset_id_rulesets",
        "FOREIGN KEY constraint failed",
    ),
    "duplicate request_id": (
        _decision(":v", "'req-1'", "'api'"),
        "uq_decisions_ruleset_id_request_id",
        "UNIQUE constraint failed: decisions.ruleset_id, decisions.request_id",
    ),
    "decision of a missing version": (
        _decision(":missing", "NULL", "'api'"),
        "fk_decisions_version_id_versions",
        "FOREIGN KEY constraint failed",
    ),
    "bad decision source": (
        _decision(":v", "'req-2'", "'email'"),
        "ck_decisions_source",
        "CHECK constraint failed: ck_decisions_source",
    ),
    "activation of a missing version": (
        "INSERT INTO activations (ruleset_id, version_id, number, actor, activated_at) "
        "VALUES (:r, :missing, 1, 'x', :t)",
        "fk_activations_version_id_versions",
        "FOREIGN KEY constraint failed",
    ),
    "resolution of a missing decision": (
        "INSERT INTO resolutions (decision_id, outputs, override, actor, source, resolved_at) "
        "VALUES (:missing, '{}', false, 'x', 'api', :t)",
        "fk_resolutions_decision_id_decisions",
        "FOREIGN KEY constraint failed",
    ),
    "duplicate ruleset name": (
        "INSERT INTO rulesets (name, created_at, created_by) VALUES ('r', :t, 'x')",
        "uq_rulesets_name",
        "UNIQUE constraint failed: rulesets.name",
    ),
    "bad role": (
        "INSERT INTO users (username, password_hash, role, disabled, created_at, created_by) "
        "VALUES ('eve', 'h', 'root', false, :t, 'x')",
        "ck_users_role",
        "CHECK constraint failed: ck_users_role",
    ),
    "second audit head": (
        "INSERT INTO audit_head (id, seq, hash) VALUES (2, 0, 'h')",
        "ck_audit_head_single_row",
        "CHECK constraint failed: ck_audit_head_single_row",
    ),
    "proposal with an unknown status": (
        _proposal("'pending'", "NULL"),
        "ck_proposals_status",
        "CHECK constraint failed: ck_proposals_status",
    ),
    "accepted proposal without its version": (
        _proposal("'accepted'", "NULL", "'user:sam'"),
        "ck_proposals_accepted_has_version",
        "CHECK constraint failed: ck_proposals_accepted_has_version",
    ),
    "submitted proposal without its submitter": (
        _proposal("'submitted'", "NULL"),
        "ck_proposals_submitted_has_submitter",
        "CHECK constraint failed: ck_proposals_submitted_has_submitter",
    ),
    "draft proposal claiming a version": (
        _proposal("'draft'", "2"),
        "ck_proposals_accepted_has_version",
        "CHECK constraint failed: ck_proposals_accepted_has_version",
    ),
    "version from a missing proposal": (
        "INSERT INTO versions (ruleset_id, number, document, hash, parent_number, author, "
        "proposal_id, created_at) VALUES (:r, 2, '{}', 'h', 1, 'x', :missing, :t)",
        "fk_versions_proposal_id_proposals",
        "FOREIGN KEY constraint failed",
    ),
    "audit seq 0": (
        "INSERT INTO audit_events (seq, at, actor, action, subject, payload, prev_hash, hash) "
        "VALUES (0, :t, 'x', 'a', 's', '{}', 'p', 'h')",
        "ck_audit_events_seq_positive",
        "CHECK constraint failed: ck_audit_events_seq_positive",
    ),
}


@pytest.mark.parametrize(("sql", "pg", "sqlite"), list(VIOLATIONS.values()), ids=list(VIOLATIONS))
def test_the_schema_refuses_what_the_service_never_writes(
    db: Database, sql: str, pg: str, sqlite: str
) -> None:
    params = _seed(db)
    with pytest.raises(IntegrityError) as err:
        raw(db, sql, **{k: v for k, v in params.items() if f":{k}" in sql})
    message = str(err.value.orig)
    assert (f'constraint "{pg}"' if db.dialect == "postgresql" else sqlite) in message


def test_the_seed_itself_is_valid(db: Database) -> None:
    """The control for the test above: the same statements, fixed, are accepted."""
    params = _seed(db)
    raw(db, _version(":r", 2, parent="1"), t=params["t"], r=params["r"])
    raw(db, _decision(":v", "'req-2'", "'cli'"), **{k: params[k] for k in "rvft"})
    assert scalar(db, "SELECT count(*) FROM decisions") == 2
    raw(db, _proposal("'accepted'", "2", "'user:sam'"), t=params["t"], r=params["r"])
    raw(db, _proposal("'submitted'", "NULL", "'user:sam'"), t=params["t"], r=params["r"])
    raw(db, _proposal("'draft'", "NULL"), t=params["t"], r=params["r"])
    assert scalar(db, "SELECT count(*) FROM proposals") == 3


def _event(seq: int, actor: str, action: str, subject: str) -> str:
    return (
        "INSERT INTO audit_events (seq, at, actor, action, subject, payload, prev_hash, hash) "
        f"VALUES ({seq}, :t, '{actor}', '{action}', '{subject}', '{{}}', 'p', 'h{seq}')"
    )


def test_0005_records_each_proposals_submitter_from_its_audit_events(empty_url: str) -> None:
    """Before 0005 the submitter was read from the proposal.submitted events; upgrading
    copies it onto each proposal (the latest such event's actor), drafts keep none."""
    cfg = migrations_config(empty_url)
    command.upgrade(cfg, "0004")
    db = Database(empty_url)
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
        raw(db, "INSERT INTO rulesets (name, created_at, created_by) VALUES ('r', :t, 'x')", t=at)
        r = scalar(db, "SELECT id FROM rulesets")
        for status in ("'submitted'", "'draft'", "'rejected'"):
            raw(db, _proposal_0004(status), r=r, t=at)
        for seq, (actor, action, subject) in enumerate(
            [
                ("user:ann", "proposal.submitted", "proposal:3"),
                ("user:sam", "proposal.submitted", "proposal:1"),
                ("user:bob", "proposal.edited", "proposal:1"),
                ("user:tom", "proposal.submitted", "proposal:10"),
            ],
            start=1,
        ):
            raw(db, _event(seq, actor, action, subject), t=at)
        command.upgrade(cfg, "head")
        with db.engine.connect() as conn:
            found = conn.execute(text("SELECT id, submitted_by FROM proposals ORDER BY id"))
            assert [tuple(row) for row in found] == [(1, "user:sam"), (2, None), (3, "user:ann")]
        command.check(cfg)
        command.downgrade(cfg, "0004")  # and back: the column goes, the rows stay
        assert scalar(db, "SELECT count(*) FROM proposals") == 3
    finally:
        db.dispose()


def _proposal_0004(status: str) -> str:
    return (
        "INSERT INTO proposals (ruleset_id, base_number, status, author, title, rationale, "
        "operations, candidate, candidate_hash, citations, editors, created_at, updated_at) "
        f"VALUES (:r, 1, {status}, 'baseline', 't', '', '[]', '{{}}', 'h', '[]', '[]', :t, :t)"
    )
