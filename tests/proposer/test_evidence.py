"""Evidence and the impact class: thresholds from the environment, outcome changes counted off
the transition matrix's diagonal, static-check warnings kept, and the backtest window kept
with the evidence so that an edit backtests the same decisions again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proposer import ImpactThresholds, Window, apply, edit_proposal, parse_operations
from proposer.backtest import backtest
from proposer.drafting import window_of
from proposer.evidence import (
    ENV_MAX_CHANGED,
    ENV_MAX_CHANGED_SHARE,
    ConfigurationError,
    build_evidence,
    changed_on,
    classify,
)
from rules.store import Database, versions
from tests.proposer.test_proposals import LOW, logged, propose, raise_limit
from tests.rules.store.storecases import NAME, mortgage

SHADOWED = {
    "op": "add_rule",
    "position": 2,
    "rule": {
        "id": "approve-very-low-debt",
        "when": {
            "all": [
                {"input": "pirat", "op": "le", "value": 0.2},
                {"input": "chist", "op": "eq", "value": 1},
                {"input": "phist", "op": "eq", "value": False},
            ]
        },
        "then": {"outcome": "approve"},
    },
}


def test_thresholds_default_and_come_from_the_environment() -> None:
    assert ImpactThresholds.from_env({}) == ImpactThresholds(0.05, 1000)
    env = {ENV_MAX_CHANGED_SHARE: "0.2", ENV_MAX_CHANGED: " 50 "}
    assert ImpactThresholds.from_env(env) == ImpactThresholds(0.2, 50)
    assert ImpactThresholds.from_env({ENV_MAX_CHANGED_SHARE: ""}) == ImpactThresholds()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({ENV_MAX_CHANGED_SHARE: "five percent"}, ENV_MAX_CHANGED_SHARE),
        ({ENV_MAX_CHANGED_SHARE: "1.5"}, ENV_MAX_CHANGED_SHARE),
        ({ENV_MAX_CHANGED: "1e3"}, ENV_MAX_CHANGED),
        ({ENV_MAX_CHANGED: "-1"}, ENV_MAX_CHANGED),
    ],
)
def test_a_bad_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ImpactThresholds.from_env(env)
    assert [p.location for p in caught.value.problems] == [variable]


def test_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MAX_CHANGED_SHARE, "0.5")
    monkeypatch.delenv(ENV_MAX_CHANGED, raising=False)
    assert ImpactThresholds.from_env() == ImpactThresholds(0.5, 1000)


def test_only_outcome_changes_count_toward_impact(db: Database) -> None:
    ids = logged(db)
    candidate = apply(mortgage(), parse_operations(raise_limit()))
    with db.session() as s:
        report = backtest(s, NAME, candidate)
    # C, D and H change from refer to approve; their reason changes with them
    assert changed_on(report, "outcome") == 3
    assert changed_on(report, "reason") == 3
    with db.session() as s:
        evidence = build_evidence(
            s,
            NAME,
            mortgage(),
            1,
            candidate,
            parse_operations(raise_limit()),
            [ids["C"]],
            None,
            LOW,
        )
    assert evidence.impact.changed == 3
    assert evidence.impact.cases == 9
    low = classify(evidence.backtest, evidence.scope, ImpactThresholds(3 / 9, 3), "outcome")
    high = classify(evidence.backtest, evidence.scope, ImpactThresholds(2 / 9, 3), "outcome")
    assert (low.level, high.level) == ("low", "high")
    by_count = classify(evidence.backtest, evidence.scope, ImpactThresholds(1, 2), "outcome")
    assert [code for code, _ in by_count.reasons] == ["changed_count"]


def test_warnings_of_the_candidate_are_evidence(db: Database) -> None:
    logged(db)
    record = propose(db, [SHADOWED])
    assert record.evidence is not None
    checks = record.evidence["checks"]
    assert [(c["code"], c["severity"]) for c in checks] == [("RB203", "warning")]
    assert checks[0]["location"].startswith("rules[2]")


def test_the_window_is_kept_and_an_edit_backtests_it_again(db: Database) -> None:
    logged(db)
    record = propose(db, window="last:4")
    assert record.evidence is not None
    assert record.evidence["backtest"]["cases"] == 4
    assert record.evidence["window"]["last"] == 4
    with db.session() as s:
        edited = edit_proposal(
            s,
            record.id,
            operations=raise_limit(0.4),
            rationale="Further.",
            citations=[],
            editor="user:eve",
            thresholds=LOW,
        )
    assert edited.evidence is not None
    assert edited.evidence["backtest"]["cases"] == 4
    assert edited.evidence["window"] == record.evidence["window"]


def test_a_version_without_a_log_has_no_evidence(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:t")
    record = propose(db, [{"op": "remove_rule", "rule_id": "decline-insurance-denied"}])
    assert record.evidence is not None
    reasons = [r["code"] for r in record.evidence["impact"]["reasons"]]
    assert reasons == ["no_evidence", "rule_removed"]


START = datetime(2026, 1, 1, tzinfo=UTC)
times = st.none() | st.integers(0, 10**8).map(lambda s: START + timedelta(seconds=s))


@given(
    after=st.integers(0, 10**9),
    before=st.none() | st.integers(1, 10**9),
    since=times,
    until=times,
    last=st.none() | st.integers(1, 10**6),
)
def test_a_stored_window_reads_back_as_itself(
    after: int, before: int | None, since: Any, until: Any, last: int | None
) -> None:
    window = Window(after=after, before=before, since=since, until=until, last=last)
    assert window_of({"window": window.to_dict()}) == window
    assert window_of(None) == Window()
