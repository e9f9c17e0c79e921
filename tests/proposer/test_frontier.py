"""The frontier of proposals on the HMDA slice (the first 600 applications) through the real
service: a conservative proposal and bolder ones, each within the ceiling on agreement lost
in its backtest (counted by the backtest, independently of the learner) and expected; a ceiling
of 0 gives only changes that lose nothing; no near-duplicates; multi-rule proposals whose
citations and backtest are of the whole change; the forecast kept only while the change is the
one it was made for; the ceiling's setting read strictly."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from click.testing import CliRunner

from proposer import AddRule, InvalidProposalError, edit_proposal, get_proposal, propose_baseline
from proposer.baseline import read_frontier
from proposer.choice import JACCARD, jaccard
from proposer.evidence import ConfigurationError
from proposer.records import ProposalRecord
from proposer.settings import ENV_MAX_AGREEMENT_LOSS, max_loss
from proposer.weights import Weights
from rules.cli import main
from rules.core.engine import Engine
from rules.store import Database, versions
from rules.store.decision_log import stream_cases
from tests.proposer.test_baseline import NAME, hmda_doc, load

ENGINE = Engine()


def automated(record: ProposalRecord) -> dict[str, Any]:
    """The backtest's count of automated decisions and their agreement, as stored."""
    assert record.evidence is not None
    section: dict[str, Any] = record.evidence["backtest"]["automated"]
    return section


def loss(record: ProposalRecord) -> Fraction:
    """Points of agreement the backtest says the change loses, exactly (0 when it gains)."""
    a = automated(record)

    def rate(agreed: int, known: int) -> Fraction:
        return Fraction(agreed, known) if known else Fraction(1)

    before = rate(a["agreed_before"], a["known_before"])
    after = rate(a["agreed_after"], a["known_after"])
    return max(100 * (before - after), Fraction(0))


@pytest.fixture
def proposed(db: Database) -> list[ProposalRecord]:
    load(db)
    with db.session() as s:
        return propose_baseline(s, NAME, actor="cli:ann")


def test_a_conservative_proposal_and_bolder_ones_within_the_ceiling(
    proposed: list[ProposalRecord],
) -> None:
    roles = [r.run["role"] for r in proposed if r.run is not None]
    assert roles.count("conservative") == 1
    assert "boldest" in roles
    assert len(proposed) >= 3
    for record in proposed:
        assert record.run is not None
        assert record.evidence is not None
        forecast = record.evidence["forecast"]
        assert forecast["kind"] == "out_of_sample_estimate"
        assert loss(record) <= 3, record.title
        if record.run["role"] == "conservative":
            assert loss(record) == 0
        else:
            assert forecast["agreement_points"]["expected"] >= -3
        # the learner's own in-sample figures are the backtest's, counted apart
        a, n = automated(record), record.evidence["backtest"]["cases"]
        gain = 100 * (a["after"] - a["before"]) / n
        assert record.run["in_sample"]["automation_points"] == round(gain, 2)
        assert record.run["in_sample"]["automated"] == {"before": a["before"], "after": a["after"]}
        assert record.run["in_sample"]["agreed"] == {
            "before": a["agreed_before"],
            "after": a["agreed_after"],
        }
        # the title says what it trades, as the forecast expects it
        expected = forecast["automation_points"]["expected"]
        assert f"{expected:+.1f} pts automation".replace("-", "\u2212") in record.title
        assert "(expected)" in record.title
    gains = [
        r.evidence["forecast"]["automation_points"]["expected"] for r in proposed if r.evidence
    ]
    assert gains == sorted(gains), "listed least expected automation first (one direction here)"


def test_a_ceiling_of_zero_offers_only_changes_that_lose_nothing(db: Database) -> None:
    load(db)
    with db.session() as s:
        records = propose_baseline(s, NAME, actor="cli:ann", max_loss=0)
    assert records
    for record in records:
        assert loss(record) == 0, record.title
        forecast = (record.evidence or {})["forecast"]
        if record.run and record.run["role"] != "conservative":
            assert forecast["agreement_points"]["expected"] >= 0


def test_no_two_proposals_change_nearly_the_same_decisions(db: Database) -> None:
    load(db)
    with db.session() as s:
        frontier = read_frontier(s, NAME)
    weights = Weights.of(frontier.sample.part().weights)
    chosen = frontier.chosen
    assert len(chosen) >= 3
    for i, a in enumerate(chosen):
        for b in chosen[i + 1 :]:
            assert jaccard(a.changed, b.changed, weights) < JACCARD, (a.recipe, b.recipe)


def test_a_multi_rule_proposal_is_cited_and_backtested_as_a_whole(
    db: Database, proposed: list[ProposalRecord]
) -> None:
    multi = [r for r in proposed if len(r.operations) > 1]
    assert multi, "the slice's bolder proposals hold several rules"
    with db.session() as s:
        decided = {r.id: [versions.get_version(s, NAME, 1).document, r.candidate] for r in multi}
    logged = {c.decision_id: c for c in _cases(db)}
    for record in multi:
        evidence = record.evidence or {}
        added = {op.rule.id for op in record.operations if isinstance(op, AddRule)}
        assert set(evidence["scope"]["added"]) == added
        assert evidence["backtest"]["candidate"]["hash"] == record.candidate_hash
        cited = evidence["citations"]
        assert cited["verified"] == cited["total"] == len(record.citations) > 0
        # the cited cases are fixed by the change's rules, together: more than one rule decides them
        base, candidate = decided[record.id]
        deciders = set()
        for decision_id in record.citations:
            facts = dict(logged[decision_id].facts)
            assert ENGINE.evaluate(base, facts).outputs["outcome"] == "refer"
            result = ENGINE.evaluate(candidate, facts)
            deciders.add(result.rule_ids[0])
        assert deciders <= added
    assert any(len(_deciding(r, logged)) > 1 for r in multi)


def _deciding(record: ProposalRecord, logged: dict[int, Any]) -> set[str]:
    return {
        ENGINE.evaluate(record.candidate, dict(logged[i].facts)).rule_ids[0]
        for i in record.citations
    }


def _cases(db: Database) -> list[Any]:
    with db.session() as s:
        return list(stream_cases(s, NAME))


def test_an_edit_drops_the_forecast(db: Database, proposed: list[ProposalRecord]) -> None:
    """The estimate is of the change as it was learned: once a person changes it, nothing was
    held out from the new change, and the evidence says so (the backtest is remade)."""
    record = proposed[0]
    assert (record.evidence or {})["forecast"] is not None
    ops = [op.to_dict() for op in record.operations]
    rule = ops[0]["rule"]
    rule["description"] = "Edited by a person"
    with db.session() as s:
        edit_proposal(
            s,
            record.id,
            operations=ops,
            rationale="edited",
            citations=list(record.citations),
            editor="user:ann",
        )
    with db.session() as s:
        edited = get_proposal(s, record.id)
    assert edited.evidence is not None
    assert edited.evidence["forecast"] is None
    assert edited.evidence["backtest"]["candidate"]["hash"] == edited.candidate_hash


@pytest.mark.parametrize(
    ("value", "wrong"),
    [("three", "not a number"), ("-1", "out of range"), ("nan", "not a number"), ("101", "range")],
)
def test_a_bad_ceiling_setting_names_the_variable(value: str, wrong: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        max_loss({ENV_MAX_AGREEMENT_LOSS: value})
    (problem,) = caught.value.problems
    assert problem.location == ENV_MAX_AGREEMENT_LOSS
    assert wrong in problem.message
    assert max_loss({}) == 3
    assert max_loss({ENV_MAX_AGREEMENT_LOSS: " 1.5 "}) == 1.5


def test_the_ceiling_from_the_environment_and_the_command_line(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(db)
    monkeypatch.setenv(ENV_MAX_AGREEMENT_LOSS, "lots")
    runner = CliRunner()
    result = runner.invoke(main, ["propose", NAME, "--database-url", db.url])
    assert result.exit_code == 1
    assert ENV_MAX_AGREEMENT_LOSS in result.output
    result = runner.invoke(main, ["propose", NAME, "--max-loss", "-2", "--database-url", db.url])
    assert result.exit_code == 2
    assert "--max-loss" in result.output
    monkeypatch.setenv(ENV_MAX_AGREEMENT_LOSS, "0")
    with db.session() as s:
        records = propose_baseline(s, NAME, actor="cli:ann")
    assert all(r.run and r.run["max_agreement_loss"] == 0 for r in records)
    assert all(loss(r) == 0 for r in records)


def test_a_bad_max_loss_argument_is_refused(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, hmda_doc(), "cli:setup")
    for value in (-0.5, float("inf"), True, "3"):
        with db.session() as s, pytest.raises(InvalidProposalError) as caught:
            propose_baseline(s, NAME, actor="cli:ann", max_loss=value)  # type: ignore[arg-type]
        assert [p.location for p in caught.value.problems] == ["max_loss"]
