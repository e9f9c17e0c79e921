"""The proposer measured on real data, through the real service (``rulebook proposer evaluate``).

The issue's protocol on a CSV of past cases with their real outcomes (by default the Boston HMDA
file and the demo ruleset, ``rules.store.demo``): the rows with an odd case id are the *history*,
the even ones are *held out*.

1. version 1 of the demo ruleset is created and the history imported into ``db`` exactly as
   ``rulebook history import`` does (:func:`rules.store.history.import_csv`, the demo's mapping);
2. each round runs the deterministic proposer (:func:`proposer.propose_baseline`, its best
   proposal), submits it as an analyst, has it accepted by an approver (a second, different one
   when it is high impact), and activates the new version; rounds stop early when the proposer
   has nothing more to offer, so each round learns on what the previous ones left;
3. every held-out row is decided by the engine under version 1 and under the final version
   (nothing recorded), and compared with its real outcome.

It reports automation (the share of held-out rows that are not exceptions) and agreement (the
share of automated rows whose review output is the real outcome) before and after, the uses of
protected inputs in the accepted versions' documents, the citation verdicts read from each
accepted proposal's evidence, the accepted rules, every held-out decision, and timings. Only
the timings vary from run to run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from proposer.baseline import propose_baseline
from proposer.errors import EvaluationError
from proposer.operations import AddRule
from proposer.proposals import submit_proposal
from proposer.records import ProposalRecord
from proposer.review import accept_proposal
from rules.core.document import Document, Scalar, load_document
from rules.core.engine import Engine, default_engine
from rules.core.validate import leaves
from rules.errors import Problem
from rules.store import Database, versions
from rules.store.demo import DEMO_RULESET, DEMO_SPEC
from rules.store.history import import_csv
from rules.store.history.columns import plan_columns
from rules.store.history.rows import Row, prepare_rows, read_csv

__all__ = [
    "APPROVERS",
    "AcceptedRule",
    "Decided",
    "Evaluation",
    "EvaluationError",
    "Figures",
    "evaluate",
    "split_csv",
]

SETUP, PROPOSER, ANALYST = "evaluate:setup", "evaluate:proposer", "evaluate:analyst"
APPROVERS = ("evaluate:approver-1", "evaluate:approver-2")
REPRODUCE = "rulebook proposer evaluate --csv {csv} --rounds {rounds} --out {out}"


@dataclass(frozen=True, slots=True)
class Decided:
    """One held-out row: its real outcome and what version 1 and the final version decide."""

    case_id: str
    real: Scalar | None
    before: Scalar | None
    after: Scalar | None
    exception_before: bool
    exception_after: bool
    rule_before: str | None
    rule_after: str | None


@dataclass(frozen=True, slots=True)
class AcceptedRule:
    """An accepted proposal's rule, readably (``approve when pirat ≤ 0.38 and …``), where it
    went, who accepted it, and the citation verdicts of its evidence."""

    proposal_id: int
    version: int
    rule_id: str
    text: str
    rule: dict[str, Any]  # as written in the document
    position: int | None
    before: str | None
    impact: str | None
    approvers: tuple[str, ...]
    citations: int  # verdicts in the proposal's evidence
    verified: int
    support: int | None  # the proposer's own counts on the history
    harms: int | None

    @classmethod
    def of(cls, record: ProposalRecord, number: int) -> AcceptedRule:
        verdicts = (record.evidence or {}).get("citations", {}).get("verdicts", [])
        induced = (record.run or {}).get("induced", {})
        added = [op for op in record.operations if isinstance(op, AddRule)]
        when = " and ".join(induced.get("conditions", ())) or "(see the proposal)"
        return cls(
            proposal_id=record.id,
            version=number,
            rule_id=added[0].rule.id if added else "",
            text=f"{induced.get('target', '?')} when {when}",
            rule=added[0].to_dict()["rule"] if added else {},
            position=added[0].position if added else None,
            before=induced.get("before"),
            impact=record.impact,
            approvers=tuple(a.approver for a in record.approvals),
            citations=len(verdicts),
            verified=sum(1 for v in verdicts if v.get("verdict") == "verified"),
            support=induced.get("support"),
            harms=induced.get("harms"),
        )


def protected_uses(doc: Document) -> int:
    """How many conditions of ``doc``'s rules test a protected input."""
    protected = {i.name for i in doc.inputs if i.protected}
    return sum(1 for r in doc.rules for leaf, _ in leaves(r.when, "") if leaf.input in protected)


@dataclass(frozen=True, slots=True)
class Figures:
    """Automation and agreement of one version on the held-out rows."""

    cases: int
    automated: int
    agreed: int

    @classmethod
    def of(cls, rows: Sequence[Decided], after: bool) -> Figures:
        automated = agreed = 0
        for row in rows:
            if not (row.exception_after if after else row.exception_before):
                automated += 1
                agreed += (row.after if after else row.before) == row.real
        return cls(len(rows), automated, agreed)

    @property
    def automation(self) -> float:
        return self.automated / self.cases if self.cases else 0.0

    @property
    def agreement(self) -> float:
        return self.agreed / self.automated if self.automated else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "automated": self.automated,
            "agreed": self.agreed,
            "automation": round(self.automation, 6),
            "agreement": round(self.agreement, 6),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What :func:`evaluate` did and measured."""

    file: str
    sha256: str
    ruleset: str
    history: int
    held_out: int
    rounds: int
    base: tuple[int, str]  # version number and hash
    final: tuple[int, str]
    accepted: tuple[AcceptedRule, ...]
    before: Figures
    after: Figures
    protected: tuple[str, ...]
    protected_uses: int
    decided: tuple[Decided, ...]
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def verdicts(self) -> int:
        return sum(a.citations for a in self.accepted)

    @property
    def verified(self) -> int:
        return sum(a.verified for a in self.accepted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "ruleset": self.ruleset,
            "split": {"history": "odd case_id", "held_out": "even case_id"},
            "history_rows": self.history,
            "held_out_rows": self.held_out,
            "rounds": {"asked": self.rounds, "accepted": len(self.accepted)},
            "base_version": {"number": self.base[0], "hash": self.base[1]},
            "final_version": {"number": self.final[0], "hash": self.final[1]},
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "automation_gain_points": round(
                100 * (self.after.automation - self.before.automation), 2
            ),
            "agreement_change_points": round(
                100 * (self.after.agreement - self.before.agreement), 2
            ),
            "protected_inputs": list(self.protected),
            "protected_inputs_used": self.protected_uses,
            "citations": {"verdicts": self.verdicts, "verified": self.verified},
            "accepted": [{**asdict(a), "approvers": list(a.approvers)} for a in self.accepted],
            "timing_s": {k: round(v, 3) for k, v in self.timing.items()},
            "decisions": [asdict(d) for d in self.decided],
        }


def split_csv(data: bytes, id_column: str) -> tuple[bytes, list[str], list[list[str]]]:
    """The history file (the header and the rows with an odd case id, as CSV bytes), the
    header, and the held-out rows (even case ids)."""
    header, records = read_csv(data)
    if id_column not in header:
        raise EvaluationError(
            f"the file has no {id_column!r} column to split on",
            [Problem("RB970", "header", f"add a {id_column} column of integer case ids")],
        )
    at = header.index(id_column)
    odd: list[list[str]] = []
    even: list[list[str]] = []
    problems: list[Problem] = []
    for number, cells in enumerate(records, start=2):
        text = cells[at].strip() if at < len(cells) else ""
        if not text.lstrip("-").isdigit():
            where = f"row {number}, column {id_column}"
            problems.append(Problem("RB971", where, f"{text!r} is not an integer case id"))
            continue
        (odd if int(text) % 2 else even).append(cells)
    if problems or not odd or not even:
        problems = problems or [
            Problem("RB972", id_column, "need rows with odd and with even case ids")
        ]
        raise EvaluationError("the file cannot be split into history and held-out rows", problems)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *odd])
    return out.getvalue().encode(), header, even


def evaluate(
    db: Database,
    data: bytes,
    *,
    file_name: str,
    rounds: int = 5,
    doc: Document | None = None,
    engine: Engine = default_engine,
    clock: Callable[[], float] = time.perf_counter,
) -> Evaluation:
    """Run the protocol of the module doc on ``data`` (a CSV file's bytes) in the empty
    database ``db``, with ``doc`` (default: the demo ruleset) as version 1."""
    doc = doc or load_document(DEMO_RULESET.read_bytes())
    spec = replace(DEMO_SPEC, file_name=f"{file_name} (odd case_id)")
    id_column = spec.id_column or "case_id"
    history, header, held_out = split_csv(data, id_column)
    started = clock()
    with db.session() as s:
        base = versions.create_ruleset(s, doc, SETUP)
        report = import_csv(s, doc.name, history, spec, actor=SETUP)
    timing = {"setup": clock() - started, "propose": 0.0, "accept": 0.0}
    accepted: list[AcceptedRule] = []
    for _ in range(rounds):
        found = _round(db, doc.name, clock, timing)
        if found is None:
            break
        accepted.append(found)
    mark = clock()
    with db.session() as s:
        final = versions.get_version(s, doc.name)  # the active version
        numbers = [base.number, *(a.version for a in accepted)]
        documents = [versions.get_version(s, doc.name, n).document for n in numbers]
    decided = _decide(documents[0], final.document, header, held_out, engine)
    timing["decide"] = clock() - mark
    timing["total"] = clock() - started
    return Evaluation(
        file=file_name,
        sha256=hashlib.sha256(data).hexdigest(),
        ruleset=doc.name,
        history=report.imported,
        held_out=len(decided),
        rounds=rounds,
        base=(base.number, base.hash),
        final=(final.number, final.hash),
        accepted=tuple(accepted),
        before=Figures.of(decided, after=False),
        after=Figures.of(decided, after=True),
        protected=tuple(i.name for i in doc.inputs if i.protected),
        protected_uses=sum(protected_uses(d) for d in documents[1:]),
        decided=tuple(decided),
        timing=timing,
    )


def _round(
    db: Database, name: str, clock: Callable[[], float], timing: dict[str, float]
) -> AcceptedRule | None:
    """Propose, submit, accept (two approvers if it is high impact) and activate the best
    proposal; None when the proposer has none."""
    mark = clock()
    with db.session() as s:
        found = propose_baseline(s, name, actor=PROPOSER, limit=1)
    timing["propose"] += clock() - mark
    if not found:
        return None
    mark = clock()
    with db.session() as s:
        record = _accept(s, found[0].id)
        number = record.accepted_number
        if number is None:  # pragma: no cover - _accept raises first
            raise EvaluationError(f"proposal {record.id} was not accepted")
        versions.activate(s, name, number, APPROVERS[0], "evaluation")
        result = AcceptedRule.of(record, number)
    timing["accept"] += clock() - mark
    return result


def _accept(session: Session, proposal_id: int) -> ProposalRecord:
    """Submit as the analyst; approve by the first approver, and the second if needed."""
    record = submit_proposal(session, proposal_id, ANALYST)
    for approver in APPROVERS:
        record = accept_proposal(session, proposal_id, approver=approver, note="evaluation")
        if record.status == "accepted":
            return record
    raise EvaluationError(f"proposal {proposal_id} is still {record.status} after two approvals")


def _decide(
    base: Document,
    final: Document,
    header: list[str],
    records: list[list[str]],
    engine: Engine,
) -> list[Decided]:
    plan = plan_columns(
        base,
        header,
        outcome_column=DEMO_SPEC.outcome_column,
        id_column=DEMO_SPEC.id_column,
        mapping=DEMO_SPEC.mapping,
    )
    output = plan.output.name
    rows: list[Row] = prepare_rows(plan, records, engine, base)
    decided: list[Decided] = []
    for row in rows:
        after = engine.evaluate(final, row.facts)
        decided.append(
            Decided(
                case_id=str(row.request_id),
                real=row.outcome,
                before=_value(row.result.outputs, output),
                after=_value(after.outputs, output),
                exception_before=row.result.exception,
                exception_after=after.exception,
                rule_before=row.result.rule_ids[0] if row.result.rule_ids else None,
                rule_after=after.rule_ids[0] if after.rule_ids else None,
            )
        )
    return decided


def _value(outputs: Any, output: str) -> Scalar | None:
    return outputs.get(output) if isinstance(outputs, dict) else None
