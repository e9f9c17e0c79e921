"""The backtest on a small, hand-computed log of the mortgage ruleset, on both databases.

The log (examples/mortgage.yaml: decline if insurance was denied; approve when pirat <= 0.30,
chist in [1, 2] and no public record; else refer, an exception) and the candidate, which
raises the limit to pirat <= 0.35:

    case  pirat chist other          base     candidate  resolution
    A     0.20  1     insurance      decline  decline    -
    B     0.25  1                    approve  approve    approve
    C     0.32  1                    refer    approve    approve
    D     0.34  2                    refer    approve    decline
    E     0.40  1                    refer    refer      decline
    F     0.33  3                    refer    refer      -
    G     0.31  2     public record  refer    refer      -
    H     0.35  1                    refer    approve    -          (the new limit, inclusive)
    I     0.30  1                    approve  approve    decline    (the old limit; override)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from proposer.backtest import Backtest, BacktestError, Window, backtest
from proposer.backtest.report import MAX_CELLS, OTHER, Matrices
from rules.core.document import Document
from rules.store import Database, decisions, versions
from rules.store.models import Decision
from tests.rules.store.storecases import APPROVE, NAME, mortgage, threshold, variant

APPROVED = {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
REFERRED = {"outcome": "refer", "reason": "No rule matched"}
DECLINED = {"outcome": "decline", "reason": "Mortgage insurance denied"}
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("A", {"pirat": 0.20, "insurance": True}, None),
    ("B", {"pirat": 0.25}, "approve"),
    ("C", {"pirat": 0.32}, "approve"),
    ("D", {"pirat": 0.34, "chist": 2}, "decline"),
    ("E", {"pirat": 0.40}, "decline"),
    ("F", {"pirat": 0.33, "chist": 3}, None),
    ("G", {"pirat": 0.31, "chist": 2, "phist": True}, None),
    ("H", {"pirat": 0.35}, None),
    ("I", {"pirat": 0.30}, "decline"),
]


def _log(db: Database) -> dict[str, int]:
    """Version 1 of the mortgage ruleset, and cases A-I decided and resolved; their ids."""
    ids: dict[str, int] = {}
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "test")
    for name, change, outcome in CASES:
        with db.session() as s:
            record, _ = decisions.DecisionService().decide(
                NAME, {**APPROVE, **change}, caller="test", session=s
            )
            ids[name] = record.id
            if outcome is not None:
                decisions.resolve(s, record.id, {"outcome": outcome}, note=None, actor="ann")
    return ids


def _candidate(limit: float = 0.35) -> Document:
    return variant(mortgage(), threshold(limit))


def _run(db: Database, candidate: Document, **options: Any) -> Backtest:
    with db.session() as s:
        return backtest(s, NAME, candidate, **options)


def test_figures_are_the_hand_computed_ones(db: Database) -> None:
    ids = _log(db)
    report = _run(db, _candidate())
    assert report.base_version == 1
    assert report.cases == 9
    assert report.changed == 3
    assert report.transitions["outcome"] == {
        "approve": {"approve": 2},
        "decline": {"decline": 1},
        "refer": {"approve": 3, "refer": 3},
    }
    assert report.transitions["reason"] == {
        "Low debt ratio and clean credit": {"Low debt ratio and clean credit": 2},
        "Mortgage insurance denied": {"Mortgage insurance denied": 1},
        "No rule matched": {"Low debt ratio and clean credit": 3, "No rule matched": 3},
    }
    assert (report.resolved, report.agree_before, report.agree_after) == (5, 1, 2)
    assert (report.exceptions_before, report.exceptions_after) == (6, 3)
    assert (report.errors_before, report.errors_after) == (0, 0)
    assert (report.mismatches, report.other_versions) == (0, 0)
    assert [c.decision_id for c in report.changed_decisions] == [ids["C"], ids["D"], ids["H"]]
    first = report.changed_decisions[0]
    assert (first.base, first.candidate) == (REFERRED, APPROVED)
    assert first.resolution == {"outcome": "approve"}
    assert report.changed_decisions[2].resolution is None


def test_to_dict_gives_rates_and_the_bounded_list(db: Database) -> None:
    ids = _log(db)
    out = _run(db, _candidate(), keep=2).to_dict()
    assert out["changed_rate"] == round(3 / 9, 6)
    assert out["agreement"] == {
        "resolved": 5,
        "before": 1,
        "after": 2,
        "before_rate": 0.2,
        "after_rate": 0.4,
    }
    assert out["exceptions"]["before_rate"] == round(6 / 9, 6)
    assert out["exceptions"]["after_rate"] == round(3 / 9, 6)
    listed = out["changed_decisions"]
    assert (listed["total"], listed["shown"], listed["limit"]) == (3, 2, 2)
    assert [c["decision_id"] for c in listed["items"]] == [ids["C"], ids["D"]]
    assert listed["items"][1] == {
        "decision_id": ids["D"],
        "base": REFERRED,
        "candidate": APPROVED,
        "resolution": {"outcome": "decline"},
    }


def test_the_base_document_may_differ_from_the_deciding_version(db: Database) -> None:
    _log(db)
    # Base = the candidate itself: nothing changes, and C, D and H no longer replay as stored.
    report = _run(db, _candidate(), base=_candidate())
    assert (report.base_version, report.changed, report.mismatches) == (None, 0, 3)
    assert report.transitions["outcome"]["refer"] == {"refer": 3}


def test_decisions_of_other_versions_are_mismatches_against_the_base(db: Database) -> None:
    _log(db)
    with db.session() as s:
        versions.create_version(s, NAME, _candidate(), base=1, actor="ann", proposal_id=None)
        versions.activate(s, NAME, 2, "ann")
    with db.session() as s:
        decisions.DecisionService().decide(
            NAME, {**APPROVE, "pirat": 0.33}, caller="test", session=s
        )  # v2 approves
    report = _run(db, _candidate(0.40))  # against the active version, 2
    assert (report.base_version, report.cases) == (2, 10)
    assert (report.other_versions, report.mismatches) == (9, 3)
    assert report.changed == 1  # E: pirat 0.40 is approved by the candidate only
    old = _run(db, _candidate(0.40), base=1)
    assert (old.other_versions, old.mismatches, old.changed) == (1, 1, 5)  # C D E H, the v2 one


def test_facts_the_candidate_rejects_are_errors_not_crashes(db: Database) -> None:
    _log(db)

    def narrower(data: dict[str, Any]) -> None:
        threshold(0.33)(data)
        data["inputs"][0]["max"] = 0.33  # pirat: D, E and H no longer fit

    report = _run(db, variant(mortgage(), narrower))
    assert (report.errors_before, report.errors_after) == (0, 3)
    assert report.exceptions_after == 3 + 2  # E, H and D have no result; F and G refer
    assert report.changed == 4  # C approves; D, E and H have no result
    assert report.transitions["outcome"]["refer"] == {"(no result)": 3, "approve": 1, "refer": 2}
    assert report.agree_after == 2  # B and C


def test_windows_select_by_id_time_and_count(db: Database) -> None:
    ids = _log(db)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as s:
        for n, name in enumerate("ABCDEFGHI"):
            at = start + timedelta(days=n)
            s.execute(update(Decision).where(Decision.id == ids[name]).values(decided_at=at))
    cand = _candidate()
    by_ids = _run(db, cand, window=Window.parse(f"ids:{ids['C']}-{ids['E']}"))
    assert (by_ids.cases, by_ids.changed) == (3, 2)  # C, D, E
    by_time = _run(db, cand, window=Window.parse("since:2026-01-04,until:2026-01-08"))
    assert (by_time.cases, by_time.changed) == (4, 1)  # D, E, F, G: until excludes H
    last = _run(db, cand, window=Window.parse("last:2"))
    assert (last.cases, last.changed, last.resolved) == (2, 1, 1)  # H, I
    combined = _run(db, cand, window=Window.parse(f"ids:1-{ids['F']},last:3"))
    assert [c.decision_id for c in combined.changed_decisions] == [ids["D"]]  # D, E, F
    assert combined.cases == 3


def test_candidates_with_other_outputs_are_refused(db: Database) -> None:
    _log(db)

    def extra(data: dict[str, Any]) -> None:
        data["outputs"].append({"name": "tier", "type": "string", "default": "x"})

    with pytest.raises(BacktestError) as caught:
        _run(db, variant(mortgage(), extra))
    assert caught.value.problems[0].location == "candidate.outputs"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", Window()),
        ("", Window()),
        ("last:10000", Window(last=10000)),
        ("ids:100-2000", Window(after=99, before=2001)),
        ("ids:5-", Window(after=4)),
        ("since:2026-01-01", Window(since=datetime(2026, 1, 1, tzinfo=UTC))),
        (
            "since:2026-01-01T12:30,until:2026-02-01T00:00+01:00",
            Window(
                since=datetime(2026, 1, 1, 12, 30, tzinfo=UTC),
                until=datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
            ),
        ),
    ],
)
def test_window_strings_parse(text: str, expected: Window) -> None:
    assert Window.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "location", "fragment"),
    [
        ("latest:5", "window", "unknown term 'latest'"),
        ("last:0", "window.last", "N >= 1"),
        ("last:ten", "window.last", "not a count"),
        ("ids:20-10", "window.ids", "ends before it starts"),
        ("ids:abc", "window.ids", "ids:FIRST-LAST"),
        ("since:yesterday", "window.since", "not a date or time"),
        ("last:5,last:6", "window.last", "given twice"),
    ],
)
def test_bad_window_strings_say_what_is_wrong(text: str, location: str, fragment: str) -> None:
    with pytest.raises(BacktestError) as caught:
        Window.parse(text)
    problem = caught.value.problems[0]
    assert problem.location == location
    assert fragment in problem.message


def test_transition_cells_are_bounded() -> None:
    matrices = Matrices(("score",), fold=50)
    for n in range(MAX_CELLS + 10):
        matrices.add((str(n),), (str(n + 1),))
    matrices.add(("0",), ("1",))  # an existing cell still counts as itself
    result = matrices.result()["score"]
    assert result["0"] == {"1": 2}
    assert len(result) == MAX_CELLS + 1  # the kept base values and (other)
    assert result[OTHER] == {OTHER: 10}
