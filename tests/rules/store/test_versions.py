"""Rulesets, immutable versions and activation (DESIGN §3) on a real database."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from rules import audit
from rules.errors import ConflictError, InvalidRequestError, NotFoundError
from rules.store import Database, versions
from tests.rules.store.storecases import NAME, count, mortgage, proposal, threshold, variant

TABLES = ("rulesets", "versions", "activations", "audit_events")


def _counts(db: Database) -> dict[str, int]:
    return {t: count(db, t) for t in TABLES}


def _create(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")


def _new_version(db: Database, base: int, limit: float, **kw: Any) -> versions.VersionInfo:
    with db.session() as s:
        return versions.create_version(
            s,
            NAME,
            variant(mortgage(), threshold(limit)),
            base=base,
            actor=kw.get("actor", "user:ann"),
            proposal_id=proposal(s, NAME, base) if kw.get("with_proposal") else None,
        )


def test_create_ruleset_records_version_1_active(db: Database) -> None:
    doc = mortgage()
    _create(db)
    with db.session() as s:
        info = versions.get_ruleset(s, NAME)
        v1 = versions.get_version(s, NAME)
        history = versions.activations(s, NAME)
        actions = [e.action for e in audit.events(s)]
    assert (info.active_number, info.latest_number) == (1, 1)
    assert (v1.number, v1.hash, v1.parent, v1.author, v1.active) == (
        1,
        doc.hash,
        None,
        "cli:setup",
        True,
    )
    assert v1.document == doc
    assert [(a.number, a.previous) for a in history] == [(1, None)]
    assert actions == ["ruleset.created", "version.created", "version.activated"]


def test_create_ruleset_refuses_a_duplicate_name_and_writes_nothing(db: Database) -> None:
    _create(db)
    before = _counts(db)
    with pytest.raises(ConflictError, match="already exists"), db.session() as s:
        versions.create_ruleset(s, variant(mortgage(), threshold(0.4)), "cli:again")
    assert _counts(db) == before


def test_create_ruleset_refuses_static_check_errors_and_writes_nothing(db: Database) -> None:
    def on_protected(data: dict[str, Any]) -> None:
        data["rules"][1]["when"]["all"].append({"input": "afam", "op": "eq", "value": False})

    with pytest.raises(InvalidRequestError) as err, db.session() as s:
        versions.create_ruleset(s, variant(mortgage(), on_protected), "cli:setup")
    assert [(p.code, p.location) for p in err.value.problems] == [
        ("RB104", "rules[1].when.all[3].input")
    ]
    assert _counts(db) == dict.fromkeys(TABLES, 0)


def test_versions_are_numbered_densely_with_their_provenance(db: Database) -> None:
    _create(db)
    v2 = _new_version(db, 1, 0.35, actor="user:ann", with_proposal=True)
    v3 = _new_version(db, 2, 0.4, actor="user:bob", with_proposal=True)
    v4 = _new_version(db, 3, 0.3, actor="user:cy")  # back to v1's rules: a new version all the same
    assert [(v.number, v.parent, v.author, v.proposal_id) for v in (v2, v3, v4)] == [
        (2, 1, "user:ann", 1),  # the proposals' ids
        (3, 2, "user:bob", 2),
        (4, 3, "user:cy", None),
    ]
    assert not any(v.active for v in (v2, v3, v4))  # creating never activates
    with db.session() as s:
        listed = versions.list_versions(s, NAME)
        created = [e.payload for e in audit.events(s, action="version.created")]
    assert [v.number for v in listed] == [1, 2, 3, 4]
    assert listed[3].hash == listed[0].hash == mortgage().hash
    assert [(p["number"], p["parent"], p["proposal_id"], p["hash"]) for p in created] == [
        (v.number, v.parent, v.proposal_id, v.hash) for v in listed
    ]


@pytest.mark.parametrize(
    ("base", "doc", "error", "message"),
    [
        (1, variant(mortgage(), threshold(0.5)), ConflictError, "based on version 1 but"),
        (
            2,
            variant(mortgage(), threshold(0.5), name="other"),
            InvalidRequestError,
            "named 'other'",
        ),
        (2, variant(mortgage(), threshold(0.35)), ConflictError, "identical to version 2"),
    ],
    ids=["stale base", "another name", "identical"],
)
def test_create_version_refuses_and_writes_nothing(
    db: Database, base: int, doc: Any, error: type[Exception], message: str
) -> None:
    _create(db)
    _new_version(db, 1, 0.35)
    before = _counts(db)
    with pytest.raises(error, match=message), db.session() as s:
        versions.create_version(s, NAME, doc, base=base, actor="user:ann", proposal_id=None)
    assert _counts(db) == before


def test_create_version_of_an_unknown_ruleset_suggests_a_name(db: Database) -> None:
    _create(db)
    with pytest.raises(NotFoundError, match="did you mean 'mortgage-approval'"), db.session() as s:
        versions.create_version(
            s, "mortgage-aproval", mortgage(), base=1, actor="user:ann", proposal_id=None
        )


def _activate(db: Database, number: int) -> versions.ActivationInfo:
    time.sleep(0.002)  # distinct activation times, so every interval is non-empty
    with db.session() as s:
        return versions.activate(s, NAME, number, "user:bob", note=f"to {number}")


def test_activation_and_rollback_keep_exactly_one_version_active(db: Database) -> None:
    _create(db)
    _new_version(db, 1, 0.35)
    _new_version(db, 2, 0.4)
    for number, previous in ((3, 1), (2, 3), (1, 2), (3, 1)):
        done = _activate(db, number)
        assert (done.number, done.previous) == (number, previous)
        with db.session() as s:
            assert [v.number for v in versions.list_versions(s, NAME) if v.active] == [number]
            assert versions.get_version(s, NAME).number == number
            assert versions.get_ruleset(s, NAME).active_number == number
    with db.session() as s:
        history = versions.activations(s, NAME)
        events = [e.payload for e in audit.events(s, action="version.activated")]
    assert [(a.number, a.previous) for a in history] == [(1, None), (3, 1), (2, 3), (1, 2), (3, 1)]
    assert [(e["number"], e["previous"]) for e in events] == [
        (a.number, a.previous) for a in history
    ]
    assert history[1].note == "to 3"


def test_active_at_answers_for_any_time(db: Database) -> None:
    _create(db)
    _new_version(db, 1, 0.35)
    for number in (2, 1, 2):
        _activate(db, number)
    with db.session() as s:
        history = versions.activations(s, NAME)
        tick = timedelta(microseconds=1)
        assert versions.active_at(s, NAME, history[0].at - tick) is None
        for a, after in itertools.pairwise(history):
            assert a.at < after.at
            assert versions.active_at(s, NAME, a.at) == a.number
            assert versions.active_at(s, NAME, after.at - tick) == a.number
        last = history[-1]
        assert versions.active_at(s, NAME, last.at + timedelta(days=365)) == last.number
        # The same instant in another time zone is the same answer.
        local = history[1].at.astimezone(timezone(timedelta(hours=-5)))
        assert versions.active_at(s, NAME, local) == history[1].number
    assert [a.number for a in history] == [1, 2, 1, 2]


def test_activating_the_active_version_again_is_a_conflict(db: Database) -> None:
    _create(db)
    before = _counts(db)
    with pytest.raises(ConflictError, match="version 1 of mortgage-approval is already active"):
        _activate(db, 1)
    with pytest.raises(NotFoundError, match="versions are 1 to 1"):
        _activate(db, 2)
    assert _counts(db) == before


def test_diff_reports_added_removed_changed_and_moved_rules(db: Database) -> None:
    def edit(data: dict[str, Any]) -> None:
        decline, approve = data["rules"]
        approve["when"]["all"][0]["value"] = 0.35
        data["rules"] = [
            approve,
            {
                "id": "decline-high-debt",
                "when": {"input": "pirat", "op": "gt", "value": 0.6},
                "then": {"outcome": "decline", "reason": "Debt ratio too high"},
            },
            decline,
        ]
        data["title"] = "Mortgage pre-approval, 2nd edition"

    def drop(data: dict[str, Any]) -> None:
        data["rules"] = [r for r in data["rules"] if r["id"] != "decline-insurance-denied"]

    _create(db)
    changed = variant(mortgage(), edit)
    with db.session() as s:
        versions.create_version(s, NAME, changed, base=1, actor="user:ann", proposal_id=None)
        versions.create_version(
            s, NAME, variant(changed, drop), base=2, actor="u", proposal_id=None
        )
        forward = versions.diff_versions(s, NAME, 1, 2)
        removal = versions.diff_versions(s, NAME, 2, 3)
        same = versions.diff_versions(s, NAME, 1, 1)
    assert forward.added == ("decline-high-debt",)
    assert forward.removed == ()
    assert forward.changed == ("approve-clean-low-debt",)
    assert set(forward.moved) == {"approve-clean-low-debt", "decline-insurance-denied"}
    assert forward.settings_changed == ("title",)
    lines = {line.replace(" ", "") for line in forward.text.splitlines()}
    assert {'-"value":0.3', '+"value":0.35', '+"id":"decline-high-debt",'} <= lines
    assert (removal.added, removal.removed, removal.changed, removal.moved) == (
        (),
        ("decline-insurance-denied",),
        (),
        (),
    )
    assert (same.added, same.removed, same.changed, same.moved, same.text) == ((), (), (), (), "")


def test_a_document_identical_to_a_parent_stored_under_the_older_hash_is_a_no_op(
    db: Database,
) -> None:
    """A version stored before the canonical form became RFC 8785 keeps the hash it was
    stored with (a document with exponent-form floats hashes differently now): resubmitting
    the same document is still "identical", not a new version."""
    _create(db)
    with db.engine.begin() as conn:  # version 1 as the older code stored it: another hash
        conn.execute(text("UPDATE versions SET hash = :h WHERE number = 1"), {"h": "e" * 64})
    before = _counts(db)
    with pytest.raises(ConflictError, match="identical"), db.session() as s:
        versions.create_version(s, NAME, mortgage(), base=1, actor="user:ann", proposal_id=None)
    assert _counts(db) == before
