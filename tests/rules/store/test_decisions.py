"""Recorded decisions, resolutions and replay (DESIGN §3) on a real database."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.core.engine import evaluate
from rules.errors import ConflictError, FactsError, InvalidRequestError, NotFoundError
from rules.store import Database, decisions, versions
from tests.rules.store.storecases import (
    APPROVE,
    DECLINE,
    NAME,
    REFER,
    count,
    mortgage,
    mortgage_facts,
    raw,
    threshold,
    variant,
)

APPROVED = {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
_ids = itertools.count()


def _create(db: Database, *, v2: bool = False) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        if v2:
            doc = variant(mortgage(), threshold(0.35))
            versions.create_version(s, NAME, doc, base=1, actor="user:ann", proposal_id=None)


def _decide(db: Database, facts: object, **kw: Any) -> tuple[decisions.DecisionRecord, bool]:
    with db.session() as s:
        return decisions.DecisionService().decide(
            kw.pop("name", NAME), facts, caller="app", **kw, session=s
        )


def test_a_repeated_request_id_returns_the_stored_decision(db: Database) -> None:
    _create(db)
    first, created = _decide(db, APPROVE, request_id="loan-1")
    again, repeated = _decide(db, dict(APPROVE), request_id="loan-1")
    assert (created, repeated) == (True, False)
    assert again == first
    assert first.outputs == APPROVED
    assert count(db, "decisions") == 1
    with pytest.raises(ConflictError, match="'loan-1' was already used for decision") as err:
        _decide(db, DECLINE, request_id="loan-1")
    assert [p.code for p in err.value.problems] == ["RB411"]
    assert count(db, "decisions") == 1


def test_request_ids_are_per_ruleset(db: Database) -> None:
    _create(db)
    with db.session() as s:
        versions.create_ruleset(s, variant(mortgage(), threshold(0.3), name="other"), "cli:setup")
    a, _ = _decide(db, APPROVE, request_id="loan-1")
    b, created = _decide(db, DECLINE, request_id="loan-1", name="other")
    assert created
    assert (a.ruleset, b.ruleset, b.outputs["outcome"]) == (NAME, "other", "decline")
    assert a.id != b.id


@pytest.mark.parametrize(
    ("facts", "problems"),
    [
        ({**APPROVE, "pirrat": 0.2}, [("RB404", "facts.pirrat", "pirat")]),
        ({**APPROVE, "chist": "1"}, [("RB401", "facts.chist", None)]),
        (
            {**APPROVE, "lvrat": 2.5, "mhist": 1.5},
            [("RB402", "facts.lvrat", None), ("RB401", "facts.mhist", None)],
        ),
        ({k: v for k, v in APPROVE.items() if k != "phist"}, [("RB405", "facts.phist", None)]),
        ([APPROVE], [("RB400", "facts", None)]),
    ],
    ids=[
        "unknown field",
        "wrong type",
        "out of bounds and not an integer",
        "missing",
        "not an object",
    ],
)
def test_bad_facts_are_refused_and_nothing_is_written(
    db: Database, facts: object, problems: list[tuple[str, str, str | None]]
) -> None:
    _create(db)
    with pytest.raises(FactsError) as err:
        _decide(db, facts, request_id="loan-1")
    got = {(p.code, p.location, p.suggestion) for p in err.value.problems}
    assert got == set(problems)
    assert count(db, "decisions") == 0
    _, created = _decide(db, APPROVE, request_id="loan-1")
    assert created  # the request id was not consumed


def test_a_pinned_version_decides_and_is_recorded(db: Database) -> None:
    _create(db, v2=True)
    facts = {**APPROVE, "pirat": 0.33}  # approved under v2 (limit 0.35), referred under v1
    active, _ = _decide(db, facts)
    pinned, _ = _decide(db, facts, version=2)
    with db.session() as s:
        hashes = {v.number: v.hash for v in versions.list_versions(s, NAME)}
    assert (active.version, active.version_hash, active.outputs["outcome"], active.exception) == (
        1,
        hashes[1],
        "refer",
        True,
    )
    assert (pinned.version, pinned.version_hash, pinned.outputs["outcome"], pinned.exception) == (
        2,
        hashes[2],
        "approve",
        False,
    )
    with pytest.raises(NotFoundError, match="has no version 3"):
        _decide(db, facts, version=3)
    with db.session() as s:
        versions.activate(s, NAME, 2, "user:bob")
    now_active, _ = _decide(db, facts)
    assert (now_active.version, now_active.outputs["outcome"]) == (2, "approve")
    assert count(db, "decisions") == 3


def test_a_batch_is_all_or_nothing(db: Database) -> None:
    _create(db)
    items = [
        {"facts": APPROVE, "request_id": "b-1"},
        {"facts": {**DECLINE, "pirat": -1}},
        {"facts": REFER, "request_id": "b-1"},
        {"facts": REFER, "reqest_id": "b-3"},
    ]
    with pytest.raises(InvalidRequestError, match="nothing was recorded") as err, db.session() as s:
        decisions.DecisionService().decide_batch(NAME, items, caller="app", session=s)
    assert {(p.code, p.location) for p in err.value.problems} == {
        ("RB402", "items[1].facts.pirat"),
        ("RB411", "items[2].request_id"),
        ("RB413", "items[3].reqest_id"),
    }
    assert count(db, "decisions") == 0


def test_a_batch_decides_in_order_and_honours_request_ids(db: Database) -> None:
    _create(db, v2=True)
    earlier, _ = _decide(db, REFER, request_id="b-2")
    items = [
        {"facts": APPROVE, "request_id": "b-1"},
        {"facts": REFER, "request_id": "b-2"},
        {"facts": DECLINE},
    ]
    with db.session() as s:
        results = decisions.DecisionService().decide_batch(
            NAME, items, version=2, caller="app", session=s
        )
    assert [(r.outputs["outcome"], r.version, new) for r, new in results] == [
        ("approve", 2, True),
        ("refer", 1, False),  # the stored decision, under the version that made it
        ("decline", 2, True),
    ]
    assert results[1][0] == earlier
    assert count(db, "decisions") == 3


def _resolve(db: Database, decision_id: int, outputs: object, note: str | None = None) -> Any:
    with db.session() as s:
        return decisions.resolve(s, decision_id, outputs, note=note, actor="user:uma")


@pytest.mark.parametrize(
    ("outputs", "note", "problem"),
    [
        ({"outcom": "approve"}, None, ("RB421", "outputs.outcom", "outcome")),
        ({"outcome": "aprove"}, None, ("RB423", "outputs.outcome", "approve")),
        ({"outcome": 1}, None, ("RB422", "outputs.outcome", None)),
        ({}, None, ("RB420", "outputs", None)),
        ({"outcome": "approve"}, "x" * 4001, ("RB424", "note", None)),
    ],
    ids=["unknown output", "not an allowed value", "wrong type", "empty", "note too long"],
)
def test_an_invalid_resolution_is_refused_and_nothing_is_written(
    db: Database, outputs: object, note: str | None, problem: tuple[str, str, str | None]
) -> None:
    _create(db)
    decision, _ = _decide(db, REFER)
    events = count(db, "audit_events")
    with pytest.raises(InvalidRequestError) as err:
        _resolve(db, decision.id, outputs, note)
    assert [(p.code, p.location, p.suggestion) for p in err.value.problems] == [problem]
    assert (count(db, "resolutions"), count(db, "audit_events")) == (0, events)


def test_resolving_an_unknown_decision_is_not_found(db: Database) -> None:
    _create(db)
    with pytest.raises(NotFoundError, match="no decision 42"):
        _resolve(db, 42, {"outcome": "approve"})


def test_override_is_true_only_when_an_automated_decision_changes(db: Database) -> None:
    _create(db)
    approved, _ = _decide(db, APPROVE)
    referred, _ = _decide(db, REFER)
    assert (approved.exception, referred.exception) == (False, True)
    assert _resolve(db, approved.id, {"outcome": "approve"}).override is False
    assert _resolve(db, approved.id, {"reason": "Underwriter's call"}).override is True
    assert _resolve(db, approved.id, {"outcome": "decline"}, note="fraud").override is True
    assert _resolve(db, referred.id, {"outcome": "approve"}).override is False
    with db.session() as s:
        latest = decisions.get_decision(s, approved.id).resolution
    assert latest is not None
    assert (latest.outputs, latest.override, latest.note, latest.actor) == (
        {"outcome": "decline"},
        True,
        "fraud",
        "user:uma",
    )
    assert count(db, "resolutions") == 4


def _comparable(result: Any) -> tuple[Any, ...]:
    return (
        result.outputs,
        list(result.rule_ids),
        list(result.matched),
        result.exception,
        result.error,
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(mortgage_facts(), min_size=1, max_size=25))
def test_stored_decisions_replay_identically(db: Database, batch: list[dict[str, Any]]) -> None:
    if count(db, "rulesets") == 0:
        _create(db, v2=True)
    doc = mortgage()
    with db.session() as s:
        made = [
            decisions.DecisionService().decide(
                NAME, facts, caller="app", version=1, request_id=f"h-{next(_ids)}", session=s
            )[0]
            for facts in batch
        ]
    with db.session() as s:
        for facts, record in zip(batch, made, strict=True):
            stored = decisions.get_decision(s, record.id)
            expected = evaluate(doc, facts)
            assert stored.facts == record.facts
            assert _comparable(stored) == _comparable(expected)
            assert decisions.replay(s, record.id).identical
            again, created = decisions.DecisionService().decide(
                NAME, facts, caller="app", version=1, request_id=record.request_id, session=s
            )
            assert (again.id, created) == (record.id, False)
        assert all(r.identical for r in decisions.replay_all(s, NAME))


def test_replay_reports_an_altered_stored_result(db: Database) -> None:
    _create(db)
    approved, _ = _decide(db, APPROVE)
    untouched, _ = _decide(db, DECLINE)
    forged = json.dumps({"outcome": "decline", "reason": "Low debt ratio and clean credit"})
    cast = "CAST(:o AS JSONB)" if db.dialect == "postgresql" else ":o"
    assert (
        raw(db, f"UPDATE decisions SET outputs = {cast} WHERE id = :i", o=forged, i=approved.id)
        == 1
    )
    with db.session() as s:
        replay = decisions.replay(s, approved.id)
        everything = {r.decision_id: r for r in decisions.replay_all(s, NAME)}
    assert not replay.identical
    assert replay.differences == ("outputs",)
    assert replay.stored["outputs"]["outcome"] == "decline"
    assert replay.replayed["outputs"] == APPROVED
    assert not everything[approved.id].identical
    assert everything[untouched.id].identical
