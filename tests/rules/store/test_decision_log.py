"""Streaming the decision log (rules.store.decision_log) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from rules.errors import InvalidRequestError, NotFoundError
from rules.store import Database, decisions, versions
from rules.store.decision_log import LoggedCase, count_cases, stream_cases
from rules.store.models import Decision
from tests.rules.store.storecases import APPROVE, DECLINE, NAME, REFER, mortgage, variant

OTHER = "other-ruleset"


def _decide(db: Database, facts: dict[str, Any], name: str = NAME) -> int:
    with db.session() as s:
        record, _ = decisions.DecisionService().decide(name, facts, caller="test", session=s)
        return record.id


def _resolve(db: Database, decision_id: int, outcome: str) -> None:
    with db.session() as s:
        decisions.resolve(s, decision_id, {"outcome": outcome}, note=None, actor="ann")


def _cases(db: Database, **filters: Any) -> list[LoggedCase]:
    with db.session() as s:
        return list(stream_cases(s, NAME, **filters))


def _count(db: Database, **filters: Any) -> int:
    with db.session() as s:
        return count_cases(s, NAME, **filters)


@pytest.fixture
def rulesets(db: Database) -> Database:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "test")
        versions.create_ruleset(s, variant(mortgage(), lambda d: None, name=OTHER), "test")
    return db


def test_a_case_carries_the_stored_decision_and_its_latest_resolution(rulesets: Database) -> None:
    db = rulesets
    refer = _decide(db, REFER)
    approve = _decide(db, APPROVE)
    _resolve(db, refer, "decline")
    _resolve(db, refer, "approve")  # the latest counts
    _resolve(db, approve, "decline")  # an override of an automated decision
    first, second = _cases(db)
    assert first.decision_id == refer
    assert (first.version, dict(first.facts)) == (1, REFER)
    assert first.outputs == {"outcome": "refer", "reason": "No rule matched"}
    assert (first.rule_ids, first.matched, first.exception, first.error) == ((), (), True, None)
    assert (first.resolution, first.override) == ({"outcome": "approve"}, False)
    assert first.decided_at.tzinfo is not None
    assert second.rule_ids == ("approve-clean-low-debt",)
    assert (second.resolution, second.override) == ({"outcome": "decline"}, True)
    assert second.to_dict()["resolution"] == {"outcome": "decline"}
    with pytest.raises(TypeError):
        first.facts["pirat"] = 0.1  # type: ignore[index]


def test_batches_neither_drop_nor_repeat_rows(rulesets: Database) -> None:
    db = rulesets
    mine = []
    for n in range(23):
        mine.append(_decide(db, {**REFER, "hirat": n / 100}))
        if n % 5 == 0:
            _decide(db, APPROVE, name=OTHER)  # interleaved ids of another ruleset
        if n % 3 == 0:
            _resolve(db, mine[-1], "approve")
    with db.session() as s:
        stream = stream_cases(s, NAME, batch=7)
        assert isinstance(stream, Generator)  # rows are read as they are consumed
        seen = [(c.decision_id, c.facts["hirat"], c.resolution) for c in stream]
    assert [i for i, _, _ in seen] == mine
    assert [h for _, h, _ in seen] == [n / 100 for n in range(23)]
    resolved = [r for _, _, r in seen]
    assert resolved == [{"outcome": "approve"} if n % 3 == 0 else None for n in range(23)]
    assert _count(db) == 23
    exact = [c.decision_id for c in _cases(db, batch=23)]
    assert exact == mine  # a last batch exactly full ends the stream too


def test_filters_by_id_time_version_and_count(rulesets: Database) -> None:
    db = rulesets
    ids = [_decide(db, {**REFER, "hirat": n / 100}) for n in range(6)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with db.session() as s:
        for n, i in enumerate(ids):
            at = start + timedelta(hours=n)
            s.execute(update(Decision).where(Decision.id == i).values(decided_at=at))
        versions.create_version(s, NAME, _v2(), base=1, actor="ann", proposal_id=None)
        versions.activate(s, NAME, 2, "ann")
    newer = _decide(db, APPROVE)
    windows: list[tuple[dict[str, Any], list[int]]] = [
        ({"after": ids[1], "before": ids[4]}, ids[2:4]),
        ({"since": start + timedelta(hours=2), "until": start + timedelta(hours=4)}, ids[2:4]),
        ({"version": 2}, [newer]),
        ({"version": 1, "last": 2}, ids[4:]),
        ({"last": 3}, [ids[4], ids[5], newer]),
        ({"last": 100}, [*ids, newer]),
        ({"after": newer}, []),
    ]
    for filters, expected in windows:
        assert [c.decision_id for c in _cases(db, **filters)] == expected, filters
        assert _count(db, **filters) == len(expected), filters


def _v2() -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["description"] = "version 2"

    return variant(mortgage(), edit)


def test_exceptions_only_includes_current_overrides(rulesets: Database) -> None:
    db = rulesets
    refer = _decide(db, REFER)
    overridden = _decide(db, APPROVE)
    taken_back = _decide(db, {**APPROVE, "hirat": 0.3})
    _decide(db, DECLINE)
    _resolve(db, refer, "approve")
    _resolve(db, overridden, "decline")
    _resolve(db, taken_back, "decline")
    _resolve(db, taken_back, "approve")  # the latest agrees again: no longer an override
    for n in range(4):  # resolved, but not exceptions: between the selected ids
        _resolve(db, _decide(db, {**APPROVE, "hirat": n / 10}), "approve")
    later = _decide(db, REFER)
    _resolve(db, later, "decline")
    found = [(c.decision_id, c.resolution) for c in _cases(db, exceptions_only=True)]
    assert found == [
        (refer, {"outcome": "approve"}),
        (overridden, {"outcome": "decline"}),
        (later, {"outcome": "decline"}),
    ]
    assert _count(db, exceptions_only=True) == 3


def test_unknown_rulesets_and_naive_times_are_refused(rulesets: Database) -> None:
    db = rulesets
    with db.session() as s, pytest.raises(NotFoundError, match="did you mean 'mortgage-approval'"):
        next(stream_cases(s, "mortgage-aproval"))
    with db.session() as s, pytest.raises(InvalidRequestError) as caught:
        count_cases(s, NAME, since=datetime(2026, 1, 1))
    assert caught.value.problems[0].location == "since"
    with db.session() as s, pytest.raises(ValueError, match="batch"):
        next(stream_cases(s, NAME, batch=0))
