"""Shared cases for the system-of-record tests: the mortgage document and its variants, facts
(fixed and hypothesis-generated), and raw SQL helpers that bypass the service the way a person
with database access would.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from rules import audit
from rules.audit.verify.proposals import proposal_state
from rules.core.document import Document, load_document, parse_document
from rules.store import Database, accounts, decisions, versions
from rules.store.history import ImportSpec, import_csv
from rules.store.models import Proposal, Ruleset

__all__ = [
    "APPROVE",
    "DECLINE",
    "MORTGAGE",
    "NAME",
    "REFER",
    "History",
    "build_history",
    "count",
    "import_history",
    "mortgage",
    "mortgage_facts",
    "raw",
    "scalar",
    "variant",
]

MORTGAGE = Path(__file__).resolve().parents[3] / "examples" / "mortgage.yaml"
NAME = "mortgage-approval"
APPROVE = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}
DECLINE = {**APPROVE, "insurance": True}
REFER = {**APPROVE, "pirat": 0.5}  # no rule matches: the default, an exception


def mortgage() -> Document:
    return load_document(MORTGAGE.read_bytes())


def variant(
    doc: Document, edit: Callable[[dict[str, Any]], None], name: str | None = None
) -> Document:
    """``doc`` with ``edit`` applied to its plain-data form."""
    data = copy.deepcopy(doc.to_dict())
    edit(data)
    if name is not None:
        data["name"] = name
    return parse_document(data)


def threshold(value: float) -> Callable[[dict[str, Any]], None]:
    """An edit: the approve rule's debt-ratio limit becomes ``value``."""

    def edit(data: dict[str, Any]) -> None:
        data["rules"][1]["when"]["all"][0]["value"] = value

    return edit


def raw(db: Database, sql: str, **params: Any) -> int:
    """Run one statement on a real connection of its own, committed; the rows it touched."""
    with db.engine.begin() as conn:
        return conn.execute(text(sql), params).rowcount


def scalar(db: Database, sql: str, **params: Any) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def count(db: Database, table: str) -> int:
    return int(scalar(db, f"SELECT count(*) FROM {table}"))


class History:
    """What :func:`build_history` recorded, event by event."""

    def __init__(self) -> None:
        self.actions: list[str] = []
        self.decision_ids: list[int] = []
        self.imported_ids: list[int] = []

    def seq(self, action: str, nth: int = 0) -> int:
        """The seq of the ``nth`` event with ``action``."""
        return [i + 1 for i, a in enumerate(self.actions) if a == action][nth]


def proposal(session: Session, name: str = NAME, base: int = 1) -> int:
    """A bare proposal row for a version to come from (the proposer fills them in for real)."""
    # The service's lock order: the ruleset row, then the audit chain's head.
    ruleset_id = session.scalar(
        select(Ruleset.id).where(Ruleset.name == name).with_for_update(key_share=True)
    )
    row = Proposal(
        ruleset_id=ruleset_id,
        base_number=base,
        author="user:test",
        title="test proposal",
        operations=[],
        candidate="{}",
        candidate_hash=hashlib.sha256(b"{}").hexdigest(),
        citations=[],
        editors=[],
    )
    audit.lock_head(session)
    session.add(row)
    session.flush()
    # As the proposal service records it (rules.audit.verify.proposals vouches for proposals).
    state = proposal_state(row, name)
    audit.append(session, "user:test", "proposal.created", f"proposal:{row.id}", state)
    return row.id


def build_history(db: Database) -> History:
    """A chain with every kind of event: ruleset, two versions, activations, resolutions, a
    user and an API key; plus a version 3 that nothing references."""
    doc = mortgage()
    h = History()
    with db.session() as s:
        versions.create_ruleset(s, doc, "cli:setup")
    h.actions += ["ruleset.created", "version.created", "version.activated"]
    with db.session() as s:
        versions.create_version(
            s,
            NAME,
            variant(doc, threshold(0.35)),
            base=1,
            actor="user:ann",
            proposal_id=proposal(s, NAME, 1),
        )
        versions.activate(s, NAME, 2, "user:bob", note="go live")
    h.actions += ["proposal.created", "version.created", "version.activated"]
    with db.session() as s:
        for facts in (APPROVE, REFER, DECLINE):
            record, _ = decisions.DecisionService().decide(NAME, facts, caller="t", session=s)
            h.decision_ids.append(record.id)
    with db.session() as s:
        decisions.resolve(s, h.decision_ids[1], {"outcome": "approve"}, note="ok", actor="u:c")
        decisions.resolve(s, h.decision_ids[0], {"outcome": "decline"}, note=None, actor="u:d")
    h.actions += ["resolution.recorded", "resolution.recorded"]
    with db.session() as s:
        accounts.create_user(s, "carol", "auditor", "correct horse battery", "cli:admin")
        accounts.create_api_key(s, "lender", ["decide", "read"], "user:carol")
        versions.create_version(
            s,
            NAME,
            variant(doc, threshold(0.4)),
            base=2,
            actor="user:ann",
            proposal_id=proposal(s, NAME, 2),
        )
    h.actions += ["user.created", "apikey.created", "proposal.created", "version.created"]
    return h


IMPORT_CSV = (
    b"case_id,pirat,hirat,lvrat,chist,mhist,phist,insurance,outcome\n"
    b"c1,0.25,0.2,0.8,1,1,no,no,approve\n"  # automated approve, agreed
    b"c2,0.5,0.2,0.8,1,1,no,no,decline\n"  # an exception, resolved
    b"c3,0.25,0.2,0.8,1,1,no,yes,\n"  # automated decline, no outcome: unresolved
    b"c4,0.25,0.2,0.8,1,1,no,yes,approve\n"  # automated decline, overridden
)


def import_history(db: Database, h: History) -> None:
    """Import four cases (``history import``) into the active version, after
    :func:`build_history`: one ``history.imported`` event, three imported resolutions."""
    spec = ImportSpec(outcome_column="outcome", id_column="case_id", file_name="cases.csv")
    with db.session() as s:
        import_csv(s, NAME, IMPORT_CSV, spec, actor="cli:import")
    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM decisions WHERE source = 'import' ORDER BY id"))
        h.imported_ids = [int(i) for i in found.scalars()]
    h.actions.append("history.imported")


# ---------------------------------------------------------------------------- hypothesis


def _ratio(high: int) -> st.SearchStrategy[int | float]:
    edges: list[int | float] = [
        0,
        0.0,
        -0.0,
        5e-324,
        1e-300,
        0.1,
        0.3,
        0.1 + 0.2,
        0.29999999999999993,
    ]
    return st.one_of(
        st.sampled_from([*edges, high, float(high), high - 1e-9]),
        st.floats(min_value=0, max_value=high, allow_nan=False),
        st.integers(min_value=0, max_value=high),
    )


def _score(high: int) -> st.SearchStrategy[int | float]:
    return st.one_of(
        st.integers(min_value=1, max_value=high),
        st.integers(min_value=1, max_value=high).map(float),
    )


@st.composite
def mortgage_facts(draw: st.DrawFn) -> dict[str, Any]:
    """Valid facts for the mortgage document: bounds, float edges, integral floats for
    integers, and optional inputs absent, null or set."""
    facts: dict[str, Any] = {
        "pirat": draw(_ratio(3)),
        "hirat": draw(_ratio(3)),
        "lvrat": draw(_ratio(2)),
        "chist": draw(_score(6)),
        "mhist": draw(_score(4)),
        "phist": draw(st.booleans()),
        "insurance": draw(st.booleans()),
    }
    for name in ("afam", "single"):
        choice = draw(st.sampled_from(["absent", "null", "true", "false"]))
        if choice != "absent":
            facts[name] = {"null": None, "true": True, "false": False}[choice]
    return facts
