"""The service end to end on a real database: create, decide, resolve, replay, audit."""

from __future__ import annotations

from pathlib import Path

from rules import audit
from rules.core.document import load_document
from rules.store import Database, decisions, versions

MORTGAGE = Path(__file__).resolve().parents[3] / "examples" / "mortgage.yaml"
FACTS = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}


def test_create_decide_resolve_replay_and_verify(db: Database) -> None:
    doc = load_document(MORTGAGE.read_bytes())
    with db.session() as s:
        v1 = versions.create_ruleset(s, doc, "cli:test")
    assert (v1.number, v1.active, v1.hash) == (1, True, doc.hash)
    with db.session() as s:
        record, created = decisions.DecisionService().decide(
            doc.name, FACTS, request_id="r-1", caller="t", session=s
        )
    assert created
    assert record.outputs == {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
    with db.session() as s:
        again, created = decisions.DecisionService().decide(
            doc.name, FACTS, request_id="r-1", caller="t", session=s
        )
    assert not created
    assert again.id == record.id
    with db.session() as s:
        decisions.resolve(s, record.id, {"outcome": "decline"}, note="n", actor="user:a")
    with db.session() as s:
        stored = decisions.get_decision(s, record.id)
        assert stored.resolution is not None
        assert stored.resolution.override is True
        assert decisions.replay(s, record.id).identical
        result = audit.verify(s)
    assert result.ok, result
    assert result.events == 4  # ruleset.created, version.created, version.activated, resolution
