"""Rule induction: a planted rule is recovered, an existing rule is widened, protected inputs are
never used, the output is deterministic, and on the real HMDA data the candidates automate more
at no loss of agreement.

On HMDA (learned on the odd case_ids, measured on the even ones) the defaults raise automation
from 48.7% to 54.0% (+5.3 points) while agreement with the lender goes from 96.7% to 96.9%. The
issue's target is +25 points at no loss: inside the odd half, cross-validated, no setting gains
automation without losing some agreement, and +25 points costs 1.7 to 2.1 (the frontier is in
bench/evaluation.md and proposer/induce.py). The test pins what is reached (+5 points at least,
no agreement lost); `pytest -s` prints the figures."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proposer import conditions
from proposer.analysis import Case
from proposer.conditions import candidate_tests, roundness, rule_tests
from proposer.errors import InductionError
from proposer.induce import Candidate, induce
from proposer.search import wider
from rules.core.check import check_document
from rules.core.document import Document, load_document, parse_document
from rules.core.engine import Engine
from rules.store.demo import DEMO_CSV, DEMO_RULESET

ENGINE = Engine()

DOC = """
name: loans
inputs:
  - {name: pirat, type: number, min: 0, max: 3}
  - {name: chist, type: integer, min: 1, max: 6}
  - {name: lvrat, type: number, min: 0, max: 3}
  - {name: selfemp, type: boolean}
  - {name: afam, type: boolean, protected: true}
  - {name: applicant, type: string, pii: true}
outputs:
  - {name: outcome, type: string, values: [decline, refer, approve], default: refer}
  - {name: reason, type: string, default: Needs review}
hit_policy: FIRST
review: {output: outcome, values: [refer]}
rules:
  - id: decline-extreme-debt
    when: {input: pirat, op: gt, value: 2}
    then: {outcome: decline, reason: Extreme debt}
"""


def synthetic(n: int, label: Any, seed: int = 7) -> list[Case]:
    """``n`` referred cases, each resolved by ``label(facts)`` (True: approve)."""
    rng = random.Random(seed)
    cases = []
    for k in range(1, n + 1):
        afam = rng.random() < 0.4
        facts = {
            "pirat": round(rng.uniform(0.0, 0.8), 3),
            "chist": rng.randint(1, 6),
            "lvrat": round(rng.uniform(0.3, 1.2), 3),
            "selfemp": rng.random() < 0.2,
            "afam": afam,
            "applicant": "A" if afam else "B",
        }
        outcome = "approve" if label(facts) else "decline"
        cases.append(
            Case(
                decision_id=k,
                facts=facts,
                outputs={"outcome": "refer", "reason": "Needs review"},
                rule_ids=(),
                exception=True,
                resolution={"outcome": outcome},
            )
        )
    return cases


def planted(facts: dict[str, Any]) -> bool:
    return bool(facts["pirat"] <= 0.25 and facts["chist"] <= 2)


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document(DOC)


def test_recovers_a_planted_rule_with_round_thresholds(doc: Document) -> None:
    cases = synthetic(1500, planted)
    first, *_ = induce(doc, cases, "approve", engine=ENGINE)
    assert first.conditions == ("pirat ≤ 0.25", "chist ≤ 2")
    assert first.rule.id == "induced-approve-pirat-le-0-25-chist-le-2"
    assert (first.position, first.before) == (1, None)  # no base rule decides these cases
    positives = sorted(c.decision_id for c in cases if c.resolution == {"outcome": "approve"})
    assert (first.support, first.harms, first.precision) == (len(positives), 0, 1.0)
    assert first.decision_ids == tuple(positives[:50])
    assert first.rule.then_dict == {
        "outcome": "approve",
        "reason": "Induced: " + " and ".join(first.conditions),
    }


def test_candidates_become_valid_documents_that_decide_the_planted_cases(doc: Document) -> None:
    cases = synthetic(800, planted)
    candidates = induce(doc, cases, "approve", engine=ENGINE)
    new = with_candidates(doc, candidates)
    assert [p for p in check_document(new) if p.severity == "error"] == []
    for c in cases:
        outcome = ENGINE.evaluate(new, c.facts).outputs
        assert isinstance(outcome, dict)
        assert (outcome["outcome"] == "approve") == planted(dict(c.facts)), c.decision_id


def test_never_conditions_on_protected_or_pii_inputs(doc: Document) -> None:
    """afam (protected) and applicant (PII) predict the resolution perfectly; nothing else
    does. The learner must find nothing rather than use them."""
    cases = synthetic(600, lambda facts: facts["afam"])
    assert induce(doc, cases, "approve", engine=ENGINE) == ()
    assert induce(doc, cases, "decline", engine=ENGINE) == ()
    used = {t.input for t, _ in candidate_tests(doc, [c.facts for c in cases])}
    assert used == {"pirat", "chist", "lvrat", "selfemp"}
    # the trap is real: the same data with afam unprotected yields a rule on afam
    data = doc.to_dict()
    data["inputs"][4]["protected"] = False
    (found,) = induce(parse_document(data), cases, "approve", engine=ENGINE)
    assert found.conditions == ("afam = true",)


def test_same_input_same_candidates_byte_for_byte(doc: Document) -> None:
    cases = synthetic(700, lambda f: (f["pirat"] <= 0.3 and not f["selfemp"]) or f["lvrat"] < 0.4)
    once = induce(doc, cases, "approve", engine=ENGINE)
    shuffled = list(cases)
    random.Random(1).shuffle(shuffled)
    twice = induce(doc, shuffled, "approve", engine=Engine())
    assert once
    assert repr(once) == repr(twice)
    assert [c.to_dict() for c in once] == [c.to_dict() for c in twice]


def test_under_unique_a_candidate_covers_no_case_a_base_rule_matches(doc: Document) -> None:
    data = doc.to_dict()
    data["hit_policy"] = "UNIQUE"
    data["rules"] = [
        {"id": "refer-self-employed", "when": {"input": "selfemp", "op": "eq", "value": True}}
    ]
    unique = parse_document(data)
    (found,) = induce(unique, synthetic(1500, planted), "approve", engine=ENGINE)
    assert found.conditions == ("pirat ≤ 0.25", "chist ≤ 2", "selfemp = false")
    assert (found.position, found.before) == (1, None)
    assert [
        p for p in check_document(with_candidates(unique, [found])) if p.severity == "error"
    ] == []


def with_rule(doc: Document, rule: dict[str, Any]) -> Document:
    data = doc.to_dict()
    data["rules"] = [*data["rules"], rule]
    return parse_document(data)


LOW_DEBT = {
    "id": "approve-low-debt",
    "when": {
        "all": [
            {"input": "pirat", "op": "le", "value": 0.2},
            {"input": "chist", "op": "le", "value": 2},
        ]
    },
    "then": {"outcome": "approve", "reason": "Low debt"},
}


def test_widens_an_existing_rule_and_places_the_copy_after_it(doc: Document) -> None:
    """The person's rule stops at pirat 0.2; the resolutions approve up to 0.25: induction
    offers the rule with the wider threshold, after it, rather than a rule of its own."""
    base = with_rule(doc, LOW_DEBT)
    cases = synthetic(3000, planted)
    first, *_ = induce(base, cases, "approve", engine=ENGINE)
    assert first.conditions == ("pirat ≤ 0.25", "chist ≤ 2")
    assert first.rule.id == "induced-approve-low-debt-pirat-le-0-25"
    assert "widens approve-low-debt" in str(first.rule.description)
    assert (first.position, first.before) == (2, None)
    newly = [c for c in cases if planted(dict(c.facts)) and c.facts["pirat"] > 0.2]  # type: ignore[operator]
    assert (first.support, first.harms) == (len(newly), 0)
    # without widening, the same cases are found by a new conjunction, not as a widening
    (alone, *_) = induce(base, cases, "approve", engine=ENGINE, widen=False, novel_precision=0.95)
    assert "widens" not in str(alone.rule.description)


def test_only_plain_conjunctions_on_usable_inputs_are_widened(doc: Document) -> None:
    pii = {
        **LOW_DEBT,
        "id": "approve-named",
        "when": {
            "all": [
                {"input": "pirat", "op": "le", "value": 0.2},
                {"input": "applicant", "op": "eq", "value": "B"},
            ]
        },
    }
    nested = {
        **LOW_DEBT,
        "id": "approve-either",
        "when": {
            "any": [
                {"input": "pirat", "op": "le", "value": 0.2},
                {"input": "chist", "op": "le", "value": 2},
            ]
        },
    }
    for rule in (pii, nested):
        base = with_rule(doc, rule)
        assert rule_tests(base, base.rules[-1]) == ()
        for found in induce(base, synthetic(1500, planted), "approve", engine=ENGINE):
            assert "widens" not in (found.rule.description or "")
            assert "applicant" not in " ".join(found.conditions)
    plain = with_rule(doc, LOW_DEBT)
    assert [t.text for t in rule_tests(plain, plain.rules[-1])] == ["pirat ≤ 0.2", "chist ≤ 2"]


def test_a_new_conjunction_must_clear_the_stricter_bar(doc: Document) -> None:
    """The planted region with one case in 12 declined: about 92% precision passes a 0.9 bar
    but not the default bar for new conjunctions (halfway to 1: 0.95)."""
    cases = [
        replace(c, resolution={"outcome": "decline"}) if c.decision_id % 12 == 0 else c
        for c in synthetic(3000, planted)
    ]
    assert induce(doc, cases, "approve", engine=ENGINE, min_precision=0.9) == ()
    (found, *_) = induce(
        doc, cases, "approve", engine=ENGINE, min_precision=0.9, novel_precision=0.9
    )
    assert found.conditions[:2] == ("pirat ≤ 0.25", "chist ≤ 2")
    assert 0.9 <= found.precision < 0.95


OPS = st.sampled_from(["le", "lt", "ge", "gt", "eq"])
SMALL = st.integers(min_value=-6, max_value=6).map(lambda n: n / 2)


@given(OPS, SMALL, OPS, SMALL, st.lists(SMALL, min_size=1, max_size=12))
def test_a_wider_condition_holds_wherever_the_narrower_does(
    op_a: str, a: float, op_b: str, b: float, values: list[float]
) -> None:
    other, test = conditions.Test("x", op_a, a, 0), conditions.Test("x", op_b, b, 0)
    if wider(other, test):
        assert other != test
        for value in values:
            assert not test.holds(value) or other.holds(value), (other.text, test.text, value)


def test_roundness_prefers_short_values() -> None:
    assert roundness(0.3) < roundness(0.25) < roundness(0.27) < roundness(0.275)
    assert roundness(2) < roundness(25)


def test_rejects_a_target_the_output_cannot_take(doc: Document) -> None:
    with pytest.raises(InductionError, match="'accept' is not a value of output 'outcome'"):
        induce(doc, [], "accept")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("min_precision", 0),
        ("min_precision", 1.5),
        ("novel_precision", 0.0),
        ("min_support", 0),
        ("caution", -1),
        ("max_conditions", 4),
    ],
)
def test_rejects_settings_out_of_range(doc: Document, setting: str, value: float) -> None:
    with pytest.raises(InductionError) as caught:
        induce(doc, [], "approve", **{setting: value})  # type: ignore[arg-type]
    assert [(p.code, p.location) for p in caught.value.problems] == [("RB921", setting)]


# --------------------------------------------------------------------------- real data


def with_candidates(doc: Document, candidates: Sequence[Candidate]) -> Document:
    """``doc`` with each candidate inserted before base rule ``position``, in order."""
    data = doc.to_dict()
    base = data["rules"]
    rules: list[dict[str, Any]] = []
    for p in range(len(base) + 1):
        rules += [c.to_dict()["rule"] for c in candidates if c.position == p]
        rules += base[p : p + 1]
    data["rules"] = rules
    return parse_document(data)


def typed(kind: str, raw: str) -> bool | int | float:
    if kind == "boolean":
        return raw == "yes"
    return int(float(raw)) if kind == "integer" else float(raw)


def hmda_cases(doc: Document) -> list[Case]:
    """Every HMDA application decided by ``doc``, the lender's decision as its resolution."""
    with DEMO_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))
    cases = []
    for row in rows:
        facts = {spec.name: typed(spec.type, row[spec.name]) for spec in doc.inputs}
        result = ENGINE.evaluate(doc, facts)
        assert isinstance(result.outputs, dict)
        lender = "decline" if row["deny"] == "yes" else "approve"
        cases.append(
            Case(
                decision_id=int(row["case_id"]),
                facts=facts,
                outputs=result.outputs,
                rule_ids=result.rule_ids,
                exception=result.exception,
                resolution={"outcome": lender},
                override=not result.exception and result.outputs["outcome"] != lender,
            )
        )
    return cases


def figures(doc: Document, cases: Sequence[Case]) -> tuple[float, float]:
    """(automation, agreement of automated decisions with the lender), in percent."""
    automated = agreed = 0
    for case in cases:
        result = ENGINE.evaluate(doc, case.facts)
        if not result.exception:
            assert isinstance(result.outputs, dict)
            assert case.resolution is not None
            automated += 1
            agreed += result.outputs["outcome"] == case.resolution["outcome"]
    return 100 * automated / len(cases), 100 * agreed / automated


def test_hmda_candidates_automate_more_without_losing_agreement() -> None:
    doc = load_document(DEMO_RULESET.read_text())
    cases = hmda_cases(doc)
    history = [c for c in cases if c.decision_id % 2]
    held_out = [c for c in cases if not c.decision_id % 2]
    candidates = induce(doc, history, "approve", engine=ENGINE)
    new = with_candidates(doc, candidates)
    assert [p for p in check_document(new) if p.severity == "error"] == []
    for candidate in candidates:
        assert not {"afam", "single"} & {c.split()[0] for c in candidate.conditions}
    before, after = figures(doc, held_out), figures(new, held_out)
    print("\nHMDA, learned on odd case_ids, measured on even case_ids:")
    for candidate in candidates:
        print(
            f"  {candidate.rule.id} at {candidate.position}: fixes {candidate.support}, "
            f"harms {candidate.harms}, precision {candidate.precision:.3f}"
        )
    print(f"  automation {before[0]:.1f}% -> {after[0]:.1f}% ({after[0] - before[0]:+.1f} points)")
    print(f"  agreement  {before[1]:.1f}% -> {after[1]:.1f}% ({after[1] - before[1]:+.1f} points)")
    assert after[0] - before[0] >= 5  # the target is +25: see the module docstring
    assert after[1] >= before[1]
    # every cited decision is a history case the candidates now decide as the lender did
    by_id = {c.decision_id: c for c in history}
    for candidate in candidates:
        for decision_id in candidate.decision_ids:
            case = by_id[decision_id]
            assert case.resolution is not None
            assert ENGINE.evaluate(doc, case.facts).outputs != {**case.outputs, **case.resolution}
            outputs = ENGINE.evaluate(new, case.facts).outputs
            assert isinstance(outputs, dict)
            assert outputs["outcome"] == case.resolution["outcome"]
