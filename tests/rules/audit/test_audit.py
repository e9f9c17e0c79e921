"""The audit chain is tamper-evident (DESIGN §6): altering, deleting, inserting or reordering
any stored event, or any row an event vouches for (versions, activations, the active version,
resolutions, imported history), is detected, and ``verify`` names the first bad event, or the
row that no event vouches for.

Every tamper is raw SQL on a connection of its own, the way someone with database access
would do it, never through the service.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from rules import audit
from rules.core.document import canonical_json
from rules.store import Database, decisions
from rules.store.models import AuditEvent, Resolution, Version, utcnow
from tests.rules.store.storecases import History, build_history, count, import_history, raw, scalar

EVENTS = 12  # build_history's chain length


def _verify(db: Database) -> audit.Verification:
    with db.session() as s:
        return audit.verify(s)


def _event(db: Database, seq: int) -> AuditEvent:
    with db.session() as s:
        row = s.get(AuditEvent, seq)
        assert row is not None
        return row


def _rehash(db: Database, seq: int, payload: dict[str, object]) -> None:
    """Rewrite event ``seq``'s payload and recompute its hash with the published algorithm."""
    ev = _event(db, seq)
    text = canonical_json(payload).decode()
    digest = audit.event_hash(ev.prev_hash, seq, ev.at, ev.actor, ev.action, ev.subject, text)
    with db.engine.begin() as conn:
        conn.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(payload=text, hash=digest)
        )


def _backdate(db: Database, seq: int) -> None:
    at = _event(db, seq).at - timedelta(days=1)
    with db.engine.begin() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(at=at))


def _reattribute_last(db: Database, h: History) -> None:
    """The last event (version 3's creation) now cites another proposal, rehashed: the chain
    still links, and version 3 is intact, so only the head can tell."""
    payload = json.loads(_event(db, EVENTS).payload)
    _rehash(db, EVENTS, {**payload, "proposal_id": 99})


def _swap(db: Database, a: int, b: int) -> None:
    raw(db, "UPDATE audit_events SET seq = 1000000 WHERE seq = :a", a=a)
    raw(db, "UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    raw(db, "UPDATE audit_events SET seq = :b WHERE seq = 1000000", b=b)


def _forge_event(db: Database, h: History) -> None:
    """Append an event after the last one, chained and hashed correctly, head untouched."""
    last = _event(db, EVENTS)
    at = utcnow()
    payload = canonical_json({"ruleset": "mortgage-approval", "number": 1}).decode()
    args = (EVENTS + 1, at, "user:mallory", "version.activated", "ruleset:mortgage-approval")
    digest = audit.event_hash(last.hash, *args, payload)
    with db.engine.begin() as conn:
        conn.execute(
            insert(AuditEvent).values(
                seq=EVENTS + 1,
                at=at,
                actor="user:mallory",
                action="version.activated",
                subject="ruleset:mortgage-approval",
                payload=payload,
                prev_hash=last.hash,
                hash=digest,
            )
        )


def _version_sql(sql: str) -> Callable[[Database, History], object]:
    def tamper(db: Database, h: History) -> object:
        return raw(db, sql + " WHERE number = 2")

    return tamper


def _rewrite_version(db: Database, h: History) -> None:
    """Change version 2's document and store the matching hash: only the chain knows."""
    doc = scalar(db, "SELECT document FROM versions WHERE number = 2").replace("0.35", "0.36")
    digest = hashlib.sha256(doc.encode()).hexdigest()
    raw(db, "UPDATE versions SET document = :d, hash = :h WHERE number = 2", d=doc, h=digest)


@dataclass(frozen=True)
class Tamper:
    name: str
    apply: Callable[[Database, History], object]
    bad_seq: Callable[[History], int | None]
    reason: str


TAMPERS = [
    Tamper(
        "event payload",
        lambda db, h: raw(
            db,
            "UPDATE audit_events SET payload = replace(payload, 'approve', 'decline') "
            "WHERE seq = :s",
            s=h.seq("resolution.recorded"),
        ),
        lambda h: h.seq("resolution.recorded"),
        "hash does not match",
    ),
    Tamper(
        "event actor",
        lambda db, h: raw(
            db, "UPDATE audit_events SET actor = 'user:eve' WHERE seq = :s", s=h.seq("user.created")
        ),
        lambda h: h.seq("user.created"),
        "hash does not match",
    ),
    Tamper(
        "event action",
        lambda db, h: raw(
            db,
            "UPDATE audit_events SET action = 'version.deleted' WHERE seq = :s",
            s=h.seq("version.activated", 1),
        ),
        lambda h: h.seq("version.activated", 1),
        "hash does not match",
    ),
    Tamper("event time", lambda db, h: _backdate(db, 3), lambda h: 3, "hash does not match"),
    Tamper(
        "middle event deleted",
        lambda db, h: raw(db, "DELETE FROM audit_events WHERE seq = 5"),
        lambda h: 5,
        "event 5 is missing",
    ),
    Tamper(
        "first event deleted",
        lambda db, h: raw(db, "DELETE FROM audit_events WHERE seq = 1"),
        lambda h: 1,
        "event 1 is missing",
    ),
    Tamper(
        "last event deleted",
        lambda db, h: raw(db, "DELETE FROM audit_events WHERE seq = :s", s=EVENTS),
        lambda h: EVENTS,
        "head",
    ),
    Tamper(
        "every event deleted",
        lambda db, h: raw(db, "DELETE FROM audit_events"),
        lambda h: 1,
        "head",
    ),
    Tamper(
        "head row deleted",
        lambda db, h: raw(db, "DELETE FROM audit_head"),
        lambda h: 1,
        "past the head",
    ),
    Tamper("forged event appended", _forge_event, lambda h: EVENTS + 1, "head"),
    Tamper(
        "last event rewritten and rehashed",
        _reattribute_last,
        lambda h: EVENTS,
        "head",
    ),
    Tamper(
        "middle event rewritten and rehashed",
        lambda db, h: _rehash(db, h.seq("user.created"), {"username": "mallory", "role": "admin"}),
        lambda h: h.seq("user.created") + 1,
        "event 9's hash",
    ),
    Tamper(
        "resolution event rewritten and rehashed",
        lambda db, h: _rehash(
            db,
            h.seq("resolution.recorded"),
            {"decision_id": h.decision_ids[1], "outputs": {"outcome": "decline"}},
        ),
        lambda h: h.seq("resolution.recorded"),
        'resolutions row 1 of decision 2: outputs is {"outcome": "approve"}, the event says '
        '{"outcome": "decline"}; note is "ok", the event says null',
    ),
    Tamper("two events swapped", lambda db, h: _swap(db, 6, 7), lambda h: 6, "prev_hash"),
    Tamper(
        "version document",
        _version_sql("UPDATE versions SET document = replace(document, '0.35', '0.36')"),
        lambda h: h.seq("version.created", 1),
        "document no longer matches its hash",
    ),
    Tamper(
        "version hash",
        _version_sql("UPDATE versions SET hash = '" + "ab" * 32 + "'"),
        lambda h: h.seq("version.created", 1),
        "version 2 of mortgage-approval",
    ),
    Tamper(
        "version rewritten with a matching hash",
        _rewrite_version,
        lambda h: h.seq("version.created", 1),
        "differs from the one recorded",
    ),
    Tamper(
        "unreferenced version deleted",
        lambda db, h: raw(db, "DELETE FROM versions WHERE number = 3"),
        lambda h: h.seq("version.created", 2),
        "version 3 of mortgage-approval was deleted",
    ),
    Tamper(
        "proposal's rationale rewritten",
        lambda db, h: raw(db, "UPDATE proposals SET rationale = 'trust me' WHERE id = 1"),
        lambda h: h.seq("proposal.created"),
        "proposals row 1: digest is",
    ),
    Tamper(
        "proposal's impact lowered",
        lambda db, h: raw(db, "UPDATE proposals SET impact = 'low' WHERE id = 2"),
        lambda h: h.seq("proposal.created", 1),
        "proposals row 2: impact is 'low', the event says None",
    ),
    Tamper(
        "proposal's submitter forged",
        lambda db, h: raw(db, "UPDATE proposals SET submitted_by = 'user:mallory' WHERE id = 1"),
        lambda h: h.seq("proposal.created"),
        "proposals row 1: submitted_by is 'user:mallory', the proposal.submitted event says None",
    ),
    Tamper(
        "proposal's candidate rewritten",
        lambda db, h: raw(db, "UPDATE proposals SET candidate = :c WHERE id = 1", c='{"x": 1}'),
        lambda h: h.seq("proposal.created"),
        "proposal 1: its candidate no longer matches its hash",
    ),
    Tamper(
        "proposal deleted",
        lambda db, h: (
            raw(db, "UPDATE versions SET proposal_id = NULL WHERE proposal_id = 2"),
            raw(db, "DELETE FROM proposals WHERE id = 2"),
        ),
        lambda h: h.seq("proposal.created", 1),
        "proposal 2 was deleted",
    ),
    Tamper(
        "approval forged",
        lambda db, h: raw(
            db,
            "INSERT INTO proposal_approvals (proposal_id, approver, approved_at) "
            "VALUES (1, 'user:mallory', CURRENT_TIMESTAMP)",
        ),
        lambda h: h.seq("proposal.created"),
        "approvals are ['user:mallory'], the events recorded []",
    ),
    Tamper(
        "proposal inserted",
        lambda db, h: raw(
            db,
            "INSERT INTO proposals (ruleset_id, base_number, status, author, title, "
            "rationale, operations, candidate, candidate_hash, citations, editors, created_at, "
            "updated_at) SELECT ruleset_id, base_number, status, author, title, rationale, "
            "operations, candidate, candidate_hash, citations, editors, created_at, updated_at "
            "FROM proposals WHERE id = 1",
        ),
        lambda h: None,
        "proposals row 3 has no proposal.created event",
    ),
]


def test_history_verifies(db: Database) -> None:
    h = build_history(db)
    result = _verify(db)
    assert result.ok, result
    assert (result.events, result.first_bad_seq, result.reason) == (EVENTS, None, None)
    with db.session() as s:
        assert [e.action for e in audit.events(s)] == h.actions
        assert [e.seq for e in audit.events(s)] == list(range(1, EVENTS + 1))


def test_empty_chain_verifies(db: Database) -> None:
    assert _verify(db) == audit.Verification(True, 0)


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.name for t in TAMPERS])
def test_tampering_is_detected(db: Database, tamper: Tamper) -> None:
    h = build_history(db)
    assert _verify(db).ok
    tamper.apply(db, h)
    result = _verify(db)
    assert result.ok is False
    assert result.first_bad_seq == tamper.bad_seq(h), result
    assert result.reason is not None
    assert tamper.reason in result.reason, result


def test_a_version_without_its_event_is_detected(db: Database) -> None:
    build_history(db)
    with db.engine.begin() as conn:
        ruleset_id = conn.execute(select(Version.ruleset_id).limit(1)).scalar_one()
        doc = conn.execute(select(Version.document).where(Version.number == 3)).scalar_one()
        conn.execute(
            insert(Version).values(
                ruleset_id=ruleset_id,
                number=4,
                document=doc,
                hash=hashlib.sha256(doc.encode()).hexdigest(),
                parent_number=3,
                author="user:mallory",
                created_at=utcnow(),
            )
        )
    result = _verify(db)
    assert not result.ok
    assert result.reason == "version 4 of mortgage-approval has no version.created event"


# ------------------------------------------------------------------ the rows events vouch for

FORGED_ACTIVATION = (
    "INSERT INTO activations (ruleset_id, version_id, number, previous_number, actor, "
    "activated_at) SELECT ruleset_id, id, 3, 2, 'user:mallory', CURRENT_TIMESTAMP "
    "FROM versions WHERE number = 3"
)


def _forge_resolution(decision: Callable[[History], int], source: str) -> Callable[..., object]:
    def tamper(db: Database, h: History) -> object:
        return raw(
            db,
            "INSERT INTO resolutions (decision_id, outputs, override, actor, source, "
            "resolved_at) VALUES (:d, :o, false, 'user:mallory', :s, CURRENT_TIMESTAMP)",
            d=decision(h),
            o='{"outcome": "approve"}',
            s=source,
        )

    return tamper


RECORD_TAMPERS = [
    Tamper(
        "activation altered",
        lambda db, h: raw(db, "UPDATE activations SET number = 1 WHERE id = 2"),
        lambda h: h.seq("version.activated", 1),
        "activations row 2 of mortgage-approval: version is 1, the event says 2",
    ),
    Tamper(
        "activation pointed at another version",
        lambda db, h: raw(
            db,
            "UPDATE activations SET version_id = (SELECT id FROM versions WHERE number = 3) "
            "WHERE id = 2",
        ),
        lambda h: h.seq("version.activated", 1),
        "activations row 2 of mortgage-approval: the version of version_id is 3, the event says 2",
    ),
    Tamper(
        "first activation deleted",
        lambda db, h: raw(db, "DELETE FROM activations WHERE id = 1"),
        lambda h: h.seq("version.activated"),
        "the activations row of this activation (version 1 of mortgage-approval) was deleted",
    ),
    Tamper(
        "forged activation inserted",
        lambda db, h: raw(db, FORGED_ACTIVATION),
        lambda h: None,
        "activations row 3 (version 3 of mortgage-approval) has no version.activated event",
    ),
    Tamper(
        "active version changed",
        lambda db, h: raw(db, "UPDATE rulesets SET active_number = 1"),
        lambda h: h.seq("version.activated", 1),
        "mortgage-approval's active_number is 1, but its last activation made version 2 "
        "active: rulesets.active_number was altered",
    ),
    Tamper(
        "resolution outputs altered",
        lambda db, h: raw(db, "UPDATE resolutions SET outputs = :o WHERE id = 1", o=REFER_OUT),
        lambda h: h.seq("resolution.recorded"),
        'resolutions row 1 of decision 2: outputs is {"outcome": "refer"}, the event says '
        '{"outcome": "approve"}',
    ),
    Tamper(
        "resolution override flipped",
        lambda db, h: raw(db, "UPDATE resolutions SET override = NOT override WHERE id = 2"),
        lambda h: h.seq("resolution.recorded", 1),
        "resolutions row 2 of decision 1: override is false, the event says true",
    ),
    Tamper(
        "resolution reattributed",
        lambda db, h: raw(db, "UPDATE resolutions SET actor = 'u:mallory' WHERE id = 1"),
        lambda h: h.seq("resolution.recorded"),
        'resolutions row 1 of decision 2: actor is "u:mallory", the event says "u:c"',
    ),
    Tamper(
        "resolution deleted",
        lambda db, h: raw(db, "DELETE FROM resolutions WHERE id = 2"),
        lambda h: h.seq("resolution.recorded", 1),
        "no resolutions row of decision 1 matches this event: it was deleted",
    ),
    Tamper(
        "forged resolution inserted",
        _forge_resolution(lambda h: h.decision_ids[2], "api"),
        lambda h: None,
        "resolutions row 3 (decision 3) has no resolution.recorded event",
    ),
]
REFER_OUT = '{"outcome": "refer"}'


@pytest.mark.parametrize("tamper", RECORD_TAMPERS, ids=[t.name for t in RECORD_TAMPERS])
def test_tampering_with_what_events_vouch_for_is_detected(db: Database, tamper: Tamper) -> None:
    h = build_history(db)
    assert _verify(db).ok
    tamper.apply(db, h)
    result = _verify(db)
    assert (result.ok, result.first_bad_seq) == (False, tamper.bad_seq(h)), result
    assert result.reason is not None
    assert tamper.reason in result.reason, result


def test_the_first_offending_event_is_named_whatever_it_vouches_for(db: Database) -> None:
    """A resolution altered after an activation: the activation's event comes first, though
    activations are compared after the walk."""
    h = build_history(db)
    raw(db, "UPDATE resolutions SET outputs = :o WHERE id = 1", o=REFER_OUT)
    raw(db, "UPDATE activations SET note = 'quietly' WHERE id = 2")
    result = _verify(db)
    assert result.first_bad_seq == h.seq("version.activated", 1), result
    assert result.reason is not None
    assert 'note is "quietly"' in result.reason, result


def test_rows_read_ahead_of_their_events_are_matched(db: Database) -> None:
    """Under concurrent writers a later resolution id can be recorded by an earlier event:
    here the two resolutions' contents are swapped, so the ids run opposite to the chain."""
    h = build_history(db)
    with db.engine.begin() as conn:
        first = conn.execute(select(Resolution).where(Resolution.id == 1)).one()
        second = conn.execute(select(Resolution).where(Resolution.id == 2)).one()
        for ident, row in ((1, second), (2, first)):
            columns = ("decision_id", "outputs", "override", "note", "actor")
            values = {k: getattr(row, k) for k in columns}
            conn.execute(update(Resolution).where(Resolution.id == ident).values(**values))
    assert _verify(db) == audit.Verification(True, EVENTS)
    with db.session() as s:  # and a later event still finds its row
        decisions.resolve(s, h.decision_ids[2], {"outcome": "refer"}, note=None, actor="u:e")
    assert _verify(db) == audit.Verification(True, EVENTS + 1)


# ---------------------------------------------------------------------- imported history

IMPORTED = "history.imported"


def _imported(nth: int) -> Callable[[History], int]:
    return lambda h: h.imported_ids[nth]


IMPORT_TAMPERS = [
    Tamper(
        "imported resolution outputs",
        lambda db, h: raw(db, "UPDATE resolutions SET outputs = :o WHERE id = 3", o=REFER_OUT),
        lambda h: h.seq(IMPORTED),
        "no longer match the digest recorded",
    ),
    Tamper(
        "imported resolution note",
        lambda db, h: raw(db, "UPDATE resolutions SET note = 'edited' WHERE id = 4"),
        lambda h: h.seq(IMPORTED),
        "no longer match the digest recorded",
    ),
    Tamper(
        "imported decision outputs",
        lambda db, h: raw(
            db,
            "UPDATE decisions SET outputs = :o WHERE id = :d",
            o='{"outcome": "approve", "reason": "Low debt ratio and clean credit"}',
            d=h.imported_ids[1],
        ),
        lambda h: h.seq(IMPORTED),
        "no longer match the digest recorded",
    ),
    Tamper(
        "imported resolution deleted",
        lambda db, h: raw(db, "DELETE FROM resolutions WHERE id = 4"),
        lambda h: h.seq(IMPORTED),
        "3 resolutions were imported with them, but 2 are recorded: imported resolutions were "
        "deleted",
    ),
    Tamper(
        "imported decision deleted",
        lambda db, h: (
            raw(db, "DELETE FROM resolutions WHERE decision_id = :d", d=h.imported_ids[0]),
            raw(db, "DELETE FROM decisions WHERE id = :d", d=h.imported_ids[0]),
        ),
        lambda h: h.seq(IMPORTED),
        "4 decisions were imported into mortgage-approval, but 3 of them remain",
    ),
    Tamper(
        "imported resolution added to an unresolved case",
        _forge_resolution(_imported(2), "import"),
        lambda h: h.seq(IMPORTED),
        "imported resolutions were added",
    ),
    Tamper(
        "imported resolution forged on another decision",
        _forge_resolution(lambda h: h.decision_ids[2], "import"),
        lambda h: None,
        "resolutions row 6 (decision 3, source import) is vouched for by no history.imported",
    ),
    Tamper(
        "a resolution relabelled as imported",
        lambda db, h: raw(db, "UPDATE resolutions SET source = 'import' WHERE id = 2"),
        lambda h: h.seq("resolution.recorded", 1),
        "no resolutions row of decision 1 matches this event: it was deleted (or marked as "
        "imported)",
    ),
]


def test_an_imported_history_verifies(db: Database) -> None:
    h = build_history(db)
    import_history(db, h)
    assert _verify(db) == audit.Verification(True, EVENTS + 1)
    with db.session() as s:
        (event,) = audit.events(s, action=IMPORTED)
        # a person's later resolution of an imported case has its own event
        decisions.resolve(s, h.imported_ids[2], {"outcome": "decline"}, note=None, actor="u:f")
    assert event.payload["decision_ids"] == [[h.imported_ids[0], h.imported_ids[-1]]]
    assert (event.payload["rows_imported"], event.payload["resolutions"]) == (4, 3)
    assert _verify(db) == audit.Verification(True, EVENTS + 2)


@pytest.mark.parametrize("tamper", IMPORT_TAMPERS, ids=[t.name for t in IMPORT_TAMPERS])
def test_tampering_with_imported_history_is_detected(db: Database, tamper: Tamper) -> None:
    h = build_history(db)
    import_history(db, h)
    assert _verify(db).ok
    tamper.apply(db, h)
    result = _verify(db)
    assert (result.ok, result.first_bad_seq) == (False, tamper.bad_seq(h)), result
    assert result.reason is not None
    assert tamper.reason in result.reason, result


def test_an_import_recorded_before_digests_vouches_for_its_range(db: Database) -> None:
    """An event without a digest (imports before this check) vouches for the imported
    resolutions of its decision ids by their number, so an old record still verifies."""
    h = build_history(db)
    import_history(db, h)
    seq = h.seq(IMPORTED)
    payload = json.loads(_event(db, seq).payload)
    for key in ("digest", "decision_ids", "resolutions"):
        del payload[key]
    _rehash(db, seq, payload)
    raw(db, "UPDATE audit_head SET hash = :h", h=_event(db, seq).hash)
    assert _verify(db).ok
    _forge_resolution(lambda h: h.decision_ids[2], "import")(db, h)
    assert _verify(db).reason == (
        "resolutions row 6 (decision 3, source import) is vouched for by no history.imported event"
    )


def _recompute(records: list[dict[str, object]]) -> None:
    """An auditor's offline check of an export: the chain recomputed from its text alone."""
    prev = audit.GENESIS
    for rec in records:
        body = {k: rec[k] for k in ("seq", "at", "actor", "action", "subject", "payload")}
        # Chain format 2 (docs/audit-chain.md): RFC 8785 of the fields and "format": 2.
        body["format"] = 2
        digest = hashlib.sha256(prev.encode() + canonical_json(body)).hexdigest()
        assert (rec["prev_hash"], rec["hash"]) == (prev, digest), rec["seq"]
        prev = digest


def test_export_round_trips_and_verifies_offline(db: Database) -> None:
    h = build_history(db)
    with db.session() as s:
        expected = [e.to_dict() for e in audit.events(s)]
        as_json = audit.export(s, "json")
        as_csv = audit.export(s, "csv")
    assert [e["action"] for e in expected] == h.actions
    parsed = json.loads(as_json)
    assert parsed == expected
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert list(rows[0]) == list(audit.EXPORT_FIELDS)
    from_csv = [{**r, "seq": int(r["seq"]), "payload": json.loads(r["payload"])} for r in rows]
    assert from_csv == expected
    _recompute(parsed)
    _recompute(from_csv)


def test_export_refuses_an_unknown_format(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="use csv or json"):
        audit.export(s, "xml")


def test_a_rolled_back_append_leaves_no_trace(db: Database) -> None:
    build_history(db)
    appended: list[audit.AuditRecord] = []

    def change_that_fails() -> None:
        with db.session() as s:
            appended.append(audit.append(s, "user:x", "kill_switch.set", "proposer", {"on": True}))
            raise RuntimeError("the change failed after its event was appended")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert [r.seq for r in appended] == [EVENTS + 1]
    assert count(db, "audit_events") == EVENTS
    assert scalar(db, "SELECT seq FROM audit_head") == EVENTS
    assert _verify(db).ok
    with db.session() as s:
        record = audit.append(s, "user:x", "kill_switch.set", "proposer", {"on": False})
    assert record.seq == EVENTS + 1
    assert _verify(db) == audit.Verification(True, EVENTS + 1)
