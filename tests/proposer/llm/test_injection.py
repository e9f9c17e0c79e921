"""Prompt injection, contained: every case of ``tests/data/injection/corpus.yaml`` plants a
payload in the decision log, a fully obedient scripted model reads it through the gateway
(the real litellm client over HTTP) and does what it says; the test then proves that what
the gateway let through is exactly what the policy allows (an independent oracle, and the
corpus's own expectation) and that the invariants hold whatever the model was induced to do.

One populated database per dialect serves the whole module; each case runs inside an outer
transaction (sessions join it with savepoints) that is rolled back, so every case starts
from the same known state.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from proposer.llm import Budget, Gateway, LlmSettings
from rules.errors import FactsError, InvalidRequestError
from rules.store import Database, decisions, upgrade
from tests.conftest import PG_URL, pg_schema_url
from tests.proposer.llm.conftest import NAME
from tests.proposer.llm.injection_checks import (
    HOLES,
    check_canary_only_as_data,
    check_capped,
    check_delivery,
    check_expectation,
    check_no_pii,
    check_oracle,
    check_run,
)
from tests.proposer.llm.injection_corpus import (
    CATEGORIES,
    Case,
    Ids,
    build_log,
    expand,
    load_corpus,
)
from tests.proposer.llm.injection_fuzz import compare, fuzz_calls
from tests.proposer.llm.injection_oracle import Oracle
from tests.proposer.llm.injection_record import check_invariants, check_record
from tests.proposer.llm.injection_run import MAX_SHARE, Pinned, Trap, run_case

CASES = load_corpus()
STYLES = {"polite", "authoritative", "fake-system", "fake-tool", "role-play", "unicode", "html"}
STYLES |= {"base64", "multi-language", "field-names", "long"}


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    found = Trap()
    yield found
    found.close()


def _drop_schema(schema: str) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def corpus_db(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, Ids]]:
    """A migrated database holding the log every case starts from (its own PostgreSQL
    schema, so no other test's clean-up touches it)."""
    schema = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("injection") / "rulebook.sqlite3"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        if not PG_URL:
            pytest.skip("RULEBOOK_TEST_POSTGRES_URL is not set")
        uid, worker = request.getfixturevalue("testrun_uid"), request.getfixturevalue("worker_id")
        schema = f"rb_injection_{uid[:12]}_{worker}"
        _drop_schema(schema)
        url = pg_schema_url(PG_URL, schema)
        upgrade(url)
    db = Database(url)
    with db.session() as s:
        ids = build_log(s)
    yield db, ids
    db.dispose()
    if schema is not None:
        _drop_schema(schema)


@pytest.fixture(autouse=True)
def _impact_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULEBOOK_IMPACT_MAX_CHANGED_SHARE", str(MAX_SHARE))
    monkeypatch.delenv("RULEBOOK_IMPACT_MAX_CHANGED", raising=False)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_injection_is_contained(
    corpus_db: tuple[Database, Ids], case: Case, trap: Trap, request: pytest.FixtureRequest
) -> None:
    db, base = corpus_db
    if case.hole is not None and db.dialect in case.hole["dialects"]:
        request.applymarker(
            pytest.mark.xfail(
                raises=HOLES[case.hole["raises"]], strict=True, reason=case.hole["reason"]
            )
        )
    outcome = run_case(db, base, case, trap)
    # The containment checks first: a hole fails on its own kind of error.
    check_run(outcome)
    check_no_pii(outcome, trap)
    check_capped(outcome)
    check_delivery(outcome)
    check_oracle(outcome)
    check_expectation(outcome)
    check_canary_only_as_data(outcome)
    check_invariants(outcome)
    check_record(outcome)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # they only set env vars
)
@given(
    calls=st.lists(fuzz_calls(), min_size=1, max_size=6),
    max_tool_calls=st.integers(2, 8),
    proposal_limit=st.integers(1, 2),
)
def test_the_gateway_allows_exactly_what_the_oracle_allows(
    corpus_db: tuple[Database, Ids],
    calls: list[tuple[str, Any]],
    max_tool_calls: int,
    proposal_limit: int,
) -> None:
    """Random sequences of calls, valid and not, straight to the gateway: every verdict is
    the oracle's (beyond the corpus's scripted calls)."""
    db, ids = corpus_db
    with db.engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            budget = Budget(LlmSettings(max_tool_calls=max_tool_calls))
            gw = Gateway(
                s, NAME, actor="cli:fuzz", author="llm:fuzz", budget=budget,
                proposal_limit=proposal_limit,
            )  # fmt: skip
            oracle = Oracle(
                s, NAME, max_tool_calls=max_tool_calls, proposal_limit=proposal_limit,
                max_share=MAX_SHARE,
            )  # fmt: skip
            for name, args in calls:
                raw = args if isinstance(args, str) else json.dumps(expand(args, ids, {}))
                outcome = gw.call(name, raw)
                event(f"{outcome.tool[:20]}: {outcome.kind}")
                compare(outcome, oracle.judge(name, raw), gw)
        finally:
            s.close()
            outer.rollback()


def test_the_corpus_covers_every_category_with_its_own_canaries() -> None:
    assert len(CASES) >= 40
    counts = Counter(c.attack for c in CASES)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 5, counts
    assert {c.style for c in CASES} >= STYLES
    assert len({c.id for c in CASES}) == len({c.canary for c in CASES}) == len(CASES)
    for case in CASES:
        assert case.canary in case.payload, case.id
        others = [o for o in CASES if o is not case]
        assert not any(case.canary in o.payload for o in others), case.id
        assert set(case.channel) <= {"fact", "note", "output"}
        assert {"status", "calls"} <= set(case.expect)
        if case.hole is not None:
            assert case.hole["raises"] in HOLES
            assert set(case.hole["dialects"]) <= {"sqlite", "postgresql"}


def test_case_data_longer_than_the_service_takes_is_refused_at_the_door(
    corpus_db: tuple[Database, Ids],
) -> None:
    """What a payload can be is bounded before any model sees it: a string fact of at most
    10,000 characters, a note of at most 4,000 (the corpus plants both at their limit)."""
    db, _ = corpus_db
    facts = {"pirat": 0.37, "chist": 1, "insurance": False, "comment": "x" * 10_001}
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            with Pinned(db, conn).session() as s:
                with pytest.raises(FactsError) as facts_error:
                    decisions.DecisionService().decide(NAME, facts, caller="test", session=s)
                record, _ = decisions.DecisionService().decide(
                    NAME, {**facts, "comment": "ok"}, caller="t", session=s
                )
                with pytest.raises(InvalidRequestError) as note_error:
                    decisions.resolve(
                        s, record.id, {"outcome": "approve"}, note="x" * 4001, actor="u"
                    )
        finally:
            outer.rollback()
    assert [p.location for p in facts_error.value.problems] == ["facts.comment"]
    assert [p.location for p in note_error.value.problems] == ["note"]
