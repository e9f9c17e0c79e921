"""Citation verdicts: only a resolved exception or override that the candidate fixes counts."""

from __future__ import annotations

import pytest

from proposer.citations import MAX_CITATIONS, check_citations, citation_problems
from rules.store import Database, decisions, versions
from tests.rules.store.storecases import APPROVE, DECLINE, NAME, REFER, mortgage, threshold, variant

CANDIDATE = variant(mortgage(), threshold(0.55))  # approves REFER (pirat 0.5) too


def _decide(db: Database, facts: dict[str, object], resolution: str | None) -> int:
    with db.session() as s:
        record, _ = decisions.DecisionService().decide(NAME, facts, caller="t", session=s)
        if resolution is not None:
            decisions.resolve(s, record.id, {"outcome": resolution}, note=None, actor="u")
    return record.id


def test_each_condition_has_its_verdict(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:t")
        versions.create_ruleset(s, variant(mortgage(), lambda d: None, name="other"), "cli:t")
    fixed = _decide(db, REFER, "approve")  # exception, candidate now approves: verified
    still = _decide(db, REFER, "decline")  # exception, candidate approves, person declined
    unresolved = _decide(db, REFER, None)
    automated = _decide(db, APPROVE, "approve")  # resolved as decided: not an exception
    overridden = _decide(db, DECLINE, "approve")  # override the candidate does not change
    with db.session() as s:
        other, _ = decisions.DecisionService().decide("other", REFER, caller="t", session=s)
        decisions.resolve(s, other.id, {"outcome": "approve"}, note=None, actor="u")
    cited = [fixed, still, unresolved, automated, overridden, other.id, 999_999, fixed]
    with db.session() as s:
        verdicts = check_citations(s, NAME, mortgage(), CANDIDATE, cited)
    assert [(v.decision_id, v.verdict) for v in verdicts] == [
        (fixed, "verified"),
        (still, "still_wrong"),
        (unresolved, "unresolved"),
        (automated, "not_exception"),
        (overridden, "unchanged"),
        (other.id, "other_ruleset"),
        (999_999, "not_found"),
    ]
    assert verdicts[0].base == {"outcome": "refer", "reason": "No rule matched"}
    assert verdicts[0].candidate["outcome"] == "approve"
    assert verdicts[0].to_dict()["explanation"].startswith("the candidate gives")


def test_the_base_already_right_is_not_evidence(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:t")
    refer = _decide(db, REFER, "approve")
    with db.session() as s:  # "base" here already approves it: citing it proves nothing
        [verdict] = check_citations(s, NAME, CANDIDATE, CANDIDATE, [refer])
    assert verdict.verdict == "already_right"


@pytest.mark.parametrize(
    ("citations", "where"),
    [
        ("12", "citations"),
        ([1, "2", 3], "citations[1]"),
        ([1, True], "citations[1]"),
        ([0], "citations[0]"),
        (list(range(1, MAX_CITATIONS + 2)), "citations"),
    ],
)
def test_untrusted_citation_lists_are_checked(citations: object, where: str) -> None:
    problems = citation_problems(citations)
    assert [p.location for p in problems] == [where]


def test_a_clean_citation_list_has_no_problems() -> None:
    assert citation_problems([1, 2, 3]) == []
