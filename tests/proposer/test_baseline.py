"""The deterministic proposer on a slice of the Boston HMDA demo (the first 600 applications,
imported with the lender's decisions as resolutions): proposals with verified citations,
never on a protected or PII input, ranked, deduplicated, and the same from the same log."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest

from proposer import (
    AddRule,
    InvalidProposalError,
    ProposalRecord,
    propose_baseline,
    reject_proposal,
)
from proposer.baseline import AUTHOR
from rules import audit
from rules.core.document import Document, load_document, parse_document
from rules.core.validate import leaves
from rules.store import Database, versions
from rules.store.demo import DEMO_CSV, DEMO_RULESET, DEMO_SPEC
from rules.store.history import import_csv

NAME = "mortgage-approval"
SLICE = 600


def hmda_csv(limit: int = SLICE) -> bytes:
    with DEMO_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def hmda_doc(pii: tuple[str, ...] = ()) -> Document:
    """The demo ruleset, with the inputs named in ``pii`` marked as PII."""
    data = copy.deepcopy(load_document(DEMO_RULESET.read_bytes()).to_dict())
    for spec in data["inputs"]:
        if spec["name"] in pii:
            spec["pii"] = True
    return parse_document(data)


def load(db: Database) -> Document:
    doc = hmda_doc()
    with db.session() as s:
        versions.create_ruleset(s, doc, "cli:setup")
        import_csv(s, NAME, hmda_csv(), DEMO_SPEC, actor="cli:setup")
    return doc


# The 600-row slice is small: induce's defaults (a 0.975 bar for new rules) find one widening
# there. These settings (its earlier defaults) find several, which the tests below need.
LENIENT = {"min_precision": 0.93, "novel_precision": 0.93, "widen": False}


def run(db: Database, **options: Any) -> list[ProposalRecord]:
    with db.session() as s:
        return propose_baseline(s, NAME, actor="cli:ann", **options)


def conditioned_on(record: ProposalRecord) -> set[str]:
    found: set[str] = set()
    for op in record.operations:
        assert isinstance(op, AddRule)
        found |= {leaf.input for leaf, _ in leaves(op.rule.when, "")}
    return found


def comparable(record: ProposalRecord) -> dict[str, Any]:
    """What a run decides: everything but ids and times."""
    data = record.to_dict()
    for key in ("id", "created_at", "updated_at", "status", "decided_by", "decided_at"):
        data.pop(key)
    data.pop("decision_note")
    return data


def test_proposals_with_verified_citations_on_allowed_inputs(db: Database) -> None:
    doc = load(db)
    records = run(db)
    assert records, "the HMDA slice supports at least one rule"
    hidden = {i.name for i in doc.inputs if i.protected or i.pii}
    assert hidden == {"afam", "single"}
    for record in records:
        assert (record.author, record.status, record.base) == (AUTHOR, "draft", 1)
        assert record.evidence is not None
        assert record.evidence["attached_by"] == "system"
        verdicts = record.evidence["citations"]["verdicts"]
        assert verdicts, "each proposal cites the cases it fixes"
        assert {v["verdict"] for v in verdicts} == {"verified"}
        assert [v["decision_id"] for v in verdicts] == list(record.citations)
        assert not conditioned_on(record) & hidden
        assert not set(record.evidence["scope"]["inputs"]) & hidden
        report = record.evidence["backtest"]
        assert report["cases"] == SLICE
        assert report["agreement"]["after"] > report["agreement"]["before"]
        assert record.run is not None
        assert record.run["proposer"] == AUTHOR
        assert record.run["cases"] == SLICE
        for induced in record.run["induced"]:
            assert str(induced["support"]) in record.rationale.replace(",", "")
    assert [r.run["rank"] for r in records if r.run is not None] == list(range(1, len(records) + 1))
    with db.session() as s:
        assert audit.verify(s).ok


def test_an_input_marked_pii_is_never_conditioned_on(db: Database) -> None:
    load(db)
    used = {i for record in run(db, induction=LENIENT) for i in conditioned_on(record)}
    assert used
    # The same log for a copy of the ruleset whose inputs used above are PII
    doc = parse_document({**hmda_doc(pii=tuple(used)).to_dict(), "name": "mortgage-pii"})
    with db.session() as s:
        versions.create_ruleset(s, doc, "cli:setup")
        import_csv(s, "mortgage-pii", hmda_csv(), DEMO_SPEC, actor="cli:setup")
        records = propose_baseline(s, "mortgage-pii", actor="cli:ann", induction=LENIENT)
    assert records, "the slice supports a rule on the other inputs too"
    for record in records:
        assert not conditioned_on(record) & (used | {"afam", "single"})


def test_same_log_same_proposals_and_no_duplicates(db: Database) -> None:
    load(db)
    first = run(db)
    assert run(db) == []  # every candidate is already an open proposal
    with db.session() as s:
        for record in first:
            reject_proposal(s, record.id, actor="user:bob", reason="again, to compare")
    second = run(db)
    assert [comparable(r) for r in second] == [comparable(r) for r in first]
    assert [r.id for r in second] != [r.id for r in first]


def test_limit_keeps_the_first_choice(db: Database) -> None:
    """``limit`` takes the frontier's offers in their order of choice (the conservative one
    first): one proposal is one of the five, the same byte for byte (but its rank)."""
    load(db)
    best = run(db, limit=1, induction=LENIENT)
    assert len(best) == 1
    with db.session() as s:
        reject_proposal(s, best[0].id, actor="user:bob", reason="compare")
    everything = run(db, limit=5, induction=LENIENT)
    assert len(everything) >= 2

    def unranked(record: ProposalRecord) -> dict[str, Any]:
        data = comparable(record)
        data["run"] = {k: v for k, v in data["run"].items() if k != "rank"}
        return data

    assert unranked(best[0]) in [unranked(r) for r in everything]


def test_window_and_empty_log(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, hmda_doc(), "cli:setup")
    assert run(db) == []  # no cases, no rule
    with db.session() as s:
        import_csv(s, NAME, hmda_csv(), DEMO_SPEC, actor="cli:setup")
    assert run(db, window="last:5") == []  # five cases support no rule
    records = run(db, window="ids:1-400")
    assert records
    assert {r.evidence["backtest"]["cases"] for r in records if r.evidence} == {400}


@pytest.mark.parametrize("limit", [0, 51, True])
def test_bad_settings_are_refused(db: Database, limit: Any) -> None:
    load(db)
    with pytest.raises(InvalidProposalError) as caught:
        run(db, limit=limit)
    assert [p.location for p in caught.value.problems] == ["limit"]


def test_an_unknown_induction_setting_is_named(db: Database) -> None:
    load(db)
    with pytest.raises(InvalidProposalError) as caught:
        run(db, induction={"min_precison": 0.9})
    assert [p.location for p in caught.value.problems] == ["induction.min_precison"]
