"""Shadow runs in the store: every live decision of the active version also evaluated under
the shadow, stored linked to it, never returned, never failing the answer (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rules.audit.verify import verify
from rules.core.document import Document
from rules.core.engine import Result
from rules.errors import ConflictError
from rules.store import Database, decisions, versions
from rules.store.shadow import ShadowRunner, shadow_report, start_shadow, stop_shadow
from tests.rules.store.storecases import APPROVE, NAME, REFER, count, mortgage, threshold, variant


def _create(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        stricter = variant(mortgage(), threshold(0.2))
        versions.create_version(s, NAME, stricter, base=1, actor="user:ann", proposal_id=None)


def test_live_decisions_are_shadowed_and_reported(db: Database) -> None:
    _create(db)
    service = decisions.DecisionService(db)
    with db.session() as s:
        started = start_shadow(s, NAME, version=2, actor="user:ann")
    assert service.shadow is not None
    service.shadow.forget()
    live, _ = service.decide(NAME, APPROVE, caller="app")
    service.decide(NAME, REFER, caller="app")
    service.decide(NAME, APPROVE, caller="app", version=1)  # pinned: not shadowed
    assert live.outputs["outcome"] == "approve"  # the live answer, never the shadow's
    assert service.shadow.drain()
    with db.session() as s:
        decisions.resolve(s, live.id, {"outcome": "approve"}, note=None, actor="user:bo")
        report = shadow_report(s, NAME)
    assert report.shadow.id == started.id
    assert report.shadow.running
    assert (report.seen, report.differing, report.errors) == (2, 1, 0)
    assert report.transitions["outcome"]["approve"] == {"refer": 1}
    assert report.transitions["outcome"]["refer"] == {"refer": 1}
    assert (report.resolved, report.agree_live, report.agree_shadow) == (1, 1, 0)
    with db.session() as s:
        assert decisions.replay(s, live.id).identical  # replay is unchanged by shadowing
        stop_shadow(s, NAME, actor="user:ann")
    with db.session() as s:
        assert verify(s).ok


def _raising(doc: Document, facts: Mapping[str, Any]) -> Result:
    raise RuntimeError("the shadow blew up")


def test_a_shadow_that_raises_does_not_touch_the_live_answer(db: Database) -> None:
    _create(db)
    service = decisions.DecisionService(db, shadow=ShadowRunner(db, evaluate=_raising))
    with db.session() as s:
        start_shadow(s, NAME, version=2, actor="user:ann")
    record, created = service.decide(NAME, APPROVE, caller="app")
    batch = service.decide_batch(NAME, [{"facts": APPROVE}], caller="app")
    assert created
    assert record.outputs["outcome"] == "approve"
    assert batch[0][0].outputs["outcome"] == "approve"
    assert service.shadow is not None
    assert service.shadow.drain()
    with db.session() as s:
        report = shadow_report(s, NAME)
    assert (report.seen, report.errors) == (2, 2)
    assert "the shadow blew up" in (report.differences[0]["error"] or "")
    assert count(db, "decisions") == 2


def test_at_most_one_shadow_per_ruleset(db: Database) -> None:
    _create(db)
    with db.session() as s:
        start_shadow(s, NAME, version=2, actor="user:ann")
    with db.session() as s, pytest.raises(ConflictError, match="at most one shadow"):
        start_shadow(s, NAME, version=2, actor="user:ann")
    with db.session() as s:
        stop_shadow(s, NAME, actor="user:ann")
    with db.session() as s, pytest.raises(ConflictError, match="no shadow running"):
        stop_shadow(s, NAME, actor="user:ann")
    with db.session() as s, pytest.raises(ConflictError, match="active version"):
        start_shadow(s, NAME, version=1, actor="user:ann")


def test_no_shadow_running_stores_nothing(db: Database) -> None:
    _create(db)
    service = decisions.DecisionService(db)
    service.decide(NAME, APPROVE, caller="app")
    assert service.shadow is not None
    assert service.shadow.drain()
    assert count(db, "shadow_results") == 0


def test_without_a_shadow_decisions_stay_on_the_request_thread(db: Database) -> None:
    """Once the worker has found no shadow for the ruleset, decisions are not queued for it
    (until the look-up is ``ttl`` old), and a shadow started then is seen after forget()."""
    _create(db)
    runner = ShadowRunner(db, ttl=3600)
    service = decisions.DecisionService(db, shadow=runner)
    service.decide(NAME, APPROVE, caller="app")  # queued: nothing is known yet
    assert runner.drain()
    processed: list[int] = []
    process = runner._process
    runner._process = lambda items: (processed.append(len(items)), process(items))[1]  # type: ignore[method-assign]
    for _ in range(5):
        service.decide(NAME, APPROVE, caller="app")
    assert runner.drain()
    assert processed == []  # the cached "no shadow" kept them off the worker
    with db.session() as s:
        start_shadow(s, NAME, version=2, actor="user:ann")
    runner.forget()
    service.decide(NAME, APPROVE, caller="app")
    assert runner.drain()
    assert processed == [1]
    with db.session() as s:
        assert shadow_report(s, NAME).seen == 1
    runner.close()
