"""Test scenarios in the store: checked against the ruleset, every change an audit event the
chain vouches for, run under versions and candidates (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import audit
from rules.audit.verify import verify
from rules.core.scenarios import read_scenarios
from rules.errors import ConflictError, InvalidRequestError, NotFoundError
from rules.store import Database, scenarios, versions
from tests.rules.store.storecases import APPROVE, DECLINE, NAME, mortgage, raw, threshold, variant

TCK = Path(__file__).resolve().parents[3] / "tests" / "data" / "tck" / "dmn"


def _create(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")


def test_a_scenario_is_added_listed_run_and_audited(db: Database) -> None:
    _create(db)
    with db.session() as s:
        added = scenarios.add_scenario(
            s, NAME, APPROVE, {"outcome": "approve"}, actor="user:ann", note="clean case"
        )
        scenarios.add_scenario(s, NAME, DECLINE, {"outcome": "decline"}, actor="user:ann")
    assert added.id == "s1"
    with db.session() as s:
        found = scenarios.list_scenarios(s, NAME)
        outcomes = scenarios.run_ruleset_scenarios(s, NAME)
        events = [e.action for e in audit.events(s)]
    assert [f.id for f in found] == ["s1", "s2"]
    assert all(o.passed for o in outcomes)
    assert events.count("scenario.added") == 2
    with db.session() as s:
        assert verify(s).ok


def test_facts_and_expectations_are_checked_against_the_ruleset(db: Database) -> None:
    _create(db)
    with db.session() as s, pytest.raises(InvalidRequestError) as caught:
        scenarios.add_scenario(
            s, NAME, {**APPROVE, "pirate": 1}, {"outcom": "approve"}, actor="user:ann"
        )
    where = {p.location for p in caught.value.problems}
    assert {"facts.pirate", "expect.outcom"} <= where
    assert any(p.suggestion == "outcome" for p in caught.value.problems)
    with db.session() as s, pytest.raises(InvalidRequestError) as caught:
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "maybe"}, actor="user:ann")
    assert caught.value.problems[0].location == "expect.outcome"
    with db.session() as s:
        assert scenarios.list_scenarios(s, NAME) == []


def test_a_failing_scenario_names_expected_actual_and_the_deciding_rules(db: Database) -> None:
    _create(db)
    with db.session() as s:
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "approve"}, actor="user:ann", key="a")
    stricter = variant(mortgage(), threshold(0.2))
    with db.session() as s:
        [outcome] = scenarios.run_ruleset_scenarios(s, NAME, doc=stricter)
    assert not outcome.passed
    assert outcome.actual == {"outcome": "refer"}
    assert "expected 'approve', got 'refer'" in str(outcome)
    assert "(deciding rules: (defaults))" in str(outcome)


def test_update_and_remove_are_audited_and_vouched(db: Database) -> None:
    _create(db)
    with db.session() as s:
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "approve"}, actor="user:ann", key="a")
        scenarios.update_scenario(s, NAME, "a", DECLINE, {"outcome": "decline"}, actor="user:bo")
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "approve"}, actor="user:ann", key="b")
        scenarios.remove_scenario(s, NAME, "b", actor="user:ann")
    with db.session() as s:
        [only] = scenarios.list_scenarios(s, NAME)
        assert verify(s).ok
    assert (only.id, only.updated_by, only.expect) == ("a", "user:bo", {"outcome": "decline"})
    with db.session() as s, pytest.raises(NotFoundError, match="did you mean 'a'"):
        scenarios.remove_scenario(s, NAME, "aa", actor="user:ann")
    with db.session() as s, pytest.raises(ConflictError):
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "approve"}, actor="user:a", key="a")


def test_a_scenario_altered_outside_the_service_is_detected(db: Database) -> None:
    _create(db)
    with db.session() as s:
        scenarios.add_scenario(s, NAME, APPROVE, {"outcome": "approve"}, actor="user:ann", key="a")
    raw(db, "UPDATE scenarios SET expect = :e", e='{"outcome": "decline"}')
    with db.session() as s:
        report = verify(s)
    assert not report.ok
    assert "scenario a of mortgage-approval" in str(report.reason)


def test_a_scenario_inserted_outside_the_service_is_detected(db: Database) -> None:
    _create(db)
    raw(
        db,
        "INSERT INTO scenarios (ruleset_id, key, facts, expect, updated_by, updated_at) "
        "SELECT id, 'x', '{}', '{}', 'me', created_at FROM rulesets",
    )
    with db.session() as s:
        report = verify(s)
    assert not report.ok
    assert "no scenario event" in str(report.reason)


def test_import_from_yaml_csv_all_or_nothing(db: Database) -> None:
    _create(db)
    doc = mortgage()
    csv_text = (
        "id,note,pirat,hirat,lvrat,chist,mhist,phist,insurance,expect.outcome\n"
        "ok,clean,0.25,0.2,0.8,1,1,false,false,approve\n"
        "no,,0.25,0.2,0.8,1,1,false,true,decline\n"
    )
    items = read_scenarios(csv_text, "cases.csv", doc)
    with db.session() as s:
        scenarios.import_scenarios(s, NAME, items, actor="cli:me")
    yaml_text = "- {id: ok, facts: {pirat: 9}, expect: {outcome: approve}}\n"
    with db.session() as s, pytest.raises(InvalidRequestError, match="not valid"):
        scenarios.import_scenarios(s, NAME, read_scenarios(yaml_text, "x.yaml", doc), actor="me")
    with db.session() as s:
        found = {r.id: r for r in scenarios.list_scenarios(s, NAME)}
        outcomes = scenarios.run_ruleset_scenarios(s, NAME)
    assert found["ok"].facts["chist"] == 1
    assert found["ok"].facts["phist"] is False
    assert found["ok"].note == "clean"
    assert all(o.passed for o in outcomes)


def test_a_dmn_tck_test_file_imports_as_scenarios(db: Database) -> None:
    from rules.core.dmn import import_dmn

    folder = next(p for p in sorted(TCK.iterdir()) if p.name.startswith("0004"))
    doc = import_dmn(next(folder.glob("*.dmn")).read_bytes())
    with db.session() as s:
        versions.create_ruleset(s, doc, "cli:setup")
    tests = next(folder.glob("*test*.xml")).read_text()
    items = read_scenarios(tests, "tests.xml", doc)
    with db.session() as s:
        scenarios.import_scenarios(s, doc.name, items, actor="cli:me")
        outcomes = scenarios.run_ruleset_scenarios(s, doc.name)
    assert len(outcomes) == len(items) >= 3
    assert all(o.passed for o in outcomes), [str(o) for o in outcomes]
