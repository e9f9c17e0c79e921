"""Exception analysis: exact groupings of a small hand-built decision log."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from proposer.analysis import SAMPLE, Case, analyse
from rules.core.document import Document, load_document

DOC = """
name: loans
inputs:
  - {name: pirat, type: number, min: 0, max: 3}
  - {name: chist, type: integer, min: 1, max: 6}
  - {name: afam, type: boolean, required: false, protected: true}
  - {name: applicant, type: string, required: false, pii: true}
outputs:
  - {name: outcome, type: string, values: [decline, refer, approve], default: refer}
  - {name: reason, type: string, default: Needs review}
hit_policy: FIRST
review: {output: outcome, values: [refer]}
rules:
  - id: refer-thin-file
    when: {input: chist, op: eq, value: 6}
    then: {outcome: refer}
  - id: approve-low-debt
    when: {input: pirat, op: le, value: 0.2}
    then: {outcome: approve}
"""


@pytest.fixture
def doc() -> Document:
    return load_document(DOC)


def case(
    decision_id: int,
    pirat: float,
    chist: int,
    outcome: str,
    rule_ids: tuple[str, ...] = (),
    resolved: str | None = None,
) -> Case:
    exception = outcome == "refer"
    return Case(
        decision_id=decision_id,
        facts={"pirat": pirat, "chist": chist, "afam": True, "applicant": "Ann Example"},
        outputs={"outcome": outcome, "reason": "x"},
        rule_ids=rule_ids,
        exception=exception,
        resolution=None if resolved is None else {"outcome": resolved, "reason": "by hand"},
        override=not exception and resolved is not None and resolved != outcome,
    )


LOG = [
    case(1, 0.25, 1, "refer", resolved="approve"),
    case(2, 0.33, 2, "refer", resolved="approve"),
    case(3, 0.90, 4, "refer", resolved="decline"),
    case(4, 0.30, 6, "refer", ("refer-thin-file",)),  # open: unresolved
    case(5, 0.15, 3, "approve", ("approve-low-debt",), resolved="decline"),  # an override
    case(6, 0.10, 1, "approve", ("approve-low-debt",), resolved="approve"),  # confirmed
    case(7, 0.12, 2, "approve", ("approve-low-debt",)),  # automated, untouched
]


def test_counts_and_rule_groups(doc: Document) -> None:
    analysis = analyse(doc, LOG)
    assert (analysis.decisions, analysis.exceptions, analysis.overrides, analysis.resolved) == (
        7,
        4,
        1,
        4,
    )
    groups = {p.label: p for p in analysis.by_rule}
    assert [p.label for p in analysis.by_rule] == [
        "no rule",
        "approve-low-debt",
        "refer-thin-file",
    ]
    default = groups["no rule"]
    assert (default.size, default.share, default.decision_ids) == (3, 0.6, (1, 2, 3))
    assert default.transition.label == "refer → approve"
    assert default.resolutions == (("approve", 2), ("decline", 1))
    assert default.consistency == pytest.approx(2 / 3)
    override = groups["approve-low-debt"]
    assert (override.size, override.decision_ids, override.consistency) == (1, (5,), 1.0)
    assert override.transition.label == "approve → decline"
    thin = groups["refer-thin-file"]
    assert (thin.resolved, thin.consistency, thin.transition.label) == (
        0,
        None,
        "refer → (unresolved)",
    )


def test_transition_groups_and_regions(doc: Document) -> None:
    analysis = analyse(doc, LOG)
    groups = {p.label: p for p in analysis.by_transition}
    assert sorted(groups) == [
        "approve → decline",
        "refer → (unresolved)",
        "refer → approve",
        "refer → decline",
    ]
    approve = groups["refer → approve"]
    assert (approve.size, approve.share, approve.decision_ids) == (2, 0.4, (1, 2))
    # 2 of the 3 resolved referrals went to approve
    assert approve.consistency == pytest.approx(2 / 3)
    assert approve.to_dict()["region_summary"] == "pirat 0.25\u20130.33, chist 1\u20132"
    pirat = approve.region[0]
    assert (pirat.low, pirat.high, pirat.median, pirat.present) == (0.25, 0.33, 0.25, 2)
    assert groups["refer → decline"].consistency == pytest.approx(1 / 3)
    assert groups["approve → decline"].consistency == 1.0
    assert analysis.by_transition[0].label == "refer → approve"  # largest first


def test_protected_and_pii_inputs_never_reported(doc: Document) -> None:
    data = analyse(doc, LOG).to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert "afam" not in text
    assert "applicant" not in text
    assert "Ann Example" not in text
    for pattern in data["by_rule"] + data["by_transition"]:
        assert [r["input"] for r in pattern["region"]] == ["pirat", "chist"]


def test_decision_ids_are_a_bounded_sample_with_the_full_count(doc: Document) -> None:
    many = [case(100 - k, 0.3, 2, "refer", resolved="approve") for k in range(SAMPLE + 5)]
    (pattern,) = analyse(doc, many).by_transition
    assert pattern.size == SAMPLE + 5
    assert pattern.decision_ids == tuple(range(76, 76 + SAMPLE))  # lowest ids, in order
    assert pattern.to_dict()["decision_count"] == SAMPLE + 5


def test_same_cases_in_any_order_give_the_same_analysis(doc: Document) -> None:
    assert repr(analyse(doc, LOG)) == repr(analyse(doc, list(reversed(LOG))))


def test_from_logged_reads_attributes_by_name() -> None:
    resolution = SimpleNamespace(outputs={"outcome": "decline"}, override=True)
    logged: Any = SimpleNamespace(
        id=9,
        facts={"pirat": 0.2},
        outputs={"outcome": "approve"},
        rule_ids=["approve-low-debt"],
        exception=False,
        resolution=resolution,
    )
    assert Case.from_logged(logged) == Case(
        decision_id=9,
        facts={"pirat": 0.2},
        outputs={"outcome": "approve"},
        rule_ids=("approve-low-debt",),
        exception=False,
        resolution={"outcome": "decline"},
        override=True,
    )
