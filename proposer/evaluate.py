"""The proposer measured on real data, through the real service (``rulebook proposer evaluate``).

The issue's protocol on a CSV of past cases with their real outcomes (by default the Boston HMDA
file and the demo ruleset, ``rules.store.demo``): the rows with an odd case id are the *history*,
the even ones are *held out*.

1. version 1 of the demo ruleset is created and the history imported into ``db`` exactly as
   ``rulebook history import`` does (:func:`rules.store.history.import_csv`, the demo's mapping);
2. the deterministic proposer drafts its frontier (:func:`proposer.propose_baseline`, up to
   ``limit`` proposals, ceiling ``max_loss``); every proposal's candidate decides every
   held-out row (nothing recorded), and its held-out change is set beside its backtest (fitted)
   and its forecast (expected, with the range): the **frontier table**, and how many held-out
   changes fell inside their stated range (**calibration**);
3. an analyst picks the proposal expected to automate most (all are within the ceiling),
   submits it, an approver accepts it (a second, different one when it is high impact), and
   the new version is activated; with ``rounds`` above 1 the proposer runs again on what is
   left, and so on, stopping early when it has nothing to offer;
4. every held-out row is decided under version 1 and under the final version.

It reports automation (the share of held-out rows that are not exceptions) and agreement (the
share of automated rows whose review output is the real outcome) before and after, the uses of
protected inputs in every proposal's candidate, the citation verdicts read from each proposal's
evidence, the accepted changes, the acceptance figures of the issue, every held-out decision,
and timings. Only the timings vary from run to run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from sqlalchemy.orm import Session

from proposer.baseline import propose_baseline
from proposer.errors import EvaluationError
from proposer.evaluation import AcceptedProposal, Evaluation, FrontierRow
from proposer.heldout import Decided, Figures, HeldOut
from proposer.proposals import submit_proposal
from proposer.records import ProposalRecord
from proposer.review import accept_proposal
from proposer.settings import max_loss as max_loss_from_env
from rules.core.document import Document, load_document
from rules.core.engine import Engine, default_engine
from rules.errors import Problem
from rules.store import Database, versions
from rules.store.demo import DEMO_RULESET, DEMO_SPEC
from rules.store.history import import_csv
from rules.store.history.rows import read_csv

__all__ = [
    "APPROVERS",
    "AcceptedProposal",
    "Decided",
    "Evaluation",
    "EvaluationError",
    "Figures",
    "FrontierRow",
    "evaluate",
    "split_csv",
]

SETUP, PROPOSER, ANALYST = "evaluate:setup", "evaluate:proposer", "evaluate:analyst"
APPROVERS = ("evaluate:approver-1", "evaluate:approver-2")
REPRODUCE = "rulebook proposer evaluate --csv {csv} --rounds {rounds} --out {out}"
LIMIT = 5


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
    rounds: int = 1,
    max_loss: float | None = None,
    doc: Document | None = None,
    engine: Engine = default_engine,
    clock: Callable[[], float] = time.perf_counter,
) -> Evaluation:
    """Run the protocol of the module doc on ``data`` (a CSV file's bytes) in the empty
    database ``db``, with ``doc`` (default: the demo ruleset) as version 1 and ``max_loss``
    (default: ``RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS``, else 3) as the ceiling."""
    doc = doc or load_document(DEMO_RULESET.read_bytes())
    ceiling = max_loss_from_env() if max_loss is None else max_loss
    spec = replace(DEMO_SPEC, file_name=f"{file_name} (odd case_id)")
    id_column = spec.id_column or "case_id"
    history, header, records = split_csv(data, id_column)
    started = clock()
    with db.session() as s:
        base = versions.create_ruleset(s, doc, SETUP)
        report = import_csv(s, doc.name, history, spec, actor=SETUP)
    held = HeldOut(doc, header, records, engine)
    timing = {"setup": clock() - started, "propose": 0.0, "accept": 0.0}
    accepted: list[AcceptedProposal] = []
    frontier: tuple[FrontierRow, ...] = ()
    for n in range(rounds):
        found = _round(db, doc.name, ceiling, clock, timing)
        if n == 0:
            frontier = tuple(FrontierRow.of(r, held) for r in found[0])
        if found[1] is None:
            break
        accepted.append(found[1])
    mark = clock()
    with db.session() as s:
        final = versions.get_version(s, doc.name)  # the active version
    decided = held.decide(final.document)
    timing["decide"] = clock() - mark
    timing["total"] = clock() - started
    return Evaluation(
        file=file_name,
        sha256=hashlib.sha256(data).hexdigest(),
        ruleset=doc.name,
        history=report.imported,
        held_out=len(decided),
        rounds=rounds,
        max_loss=ceiling,
        base=(base.number, base.hash),
        final=(final.number, final.hash),
        frontier=frontier,
        accepted=tuple(accepted),
        before=Figures.of(decided, after=False),
        after=Figures.of(decided, after=True),
        protected=tuple(i.name for i in doc.inputs if i.protected),
        decided=tuple(decided),
        timing=timing,
    )


def _expected_automation(record: ProposalRecord) -> float:
    forecast = (record.evidence or {}).get("forecast") or {}
    estimate = forecast.get("automation_points")
    return float(estimate["expected"]) if isinstance(estimate, Mapping) else float("-inf")


def _round(
    db: Database, name: str, max_loss: float, clock: Callable[[], float], timing: dict[str, float]
) -> tuple[list[ProposalRecord], AcceptedProposal | None]:
    """Draft the frontier; submit, accept (two approvers if it is high impact) and activate
    the proposal expected to automate most. The proposals, and the accepted one (None when
    the proposer has none)."""
    mark = clock()
    with db.session() as s:
        found = propose_baseline(s, name, actor=PROPOSER, limit=LIMIT, max_loss=max_loss)
    timing["propose"] += clock() - mark
    if not found:
        return found, None
    pick = max(found, key=lambda r: (_expected_automation(r), -r.id))
    mark = clock()
    with db.session() as s:
        record = _accept(s, pick.id)
        number = record.accepted_number
        if number is None:  # pragma: no cover - _accept raises first
            raise EvaluationError(f"proposal {record.id} was not accepted")
        versions.activate(s, name, number, APPROVERS[0], "evaluation")
        result = AcceptedProposal.of(record, number)
    timing["accept"] += clock() - mark
    return found, result


def _accept(session: Session, proposal_id: int) -> ProposalRecord:
    """Submit as the analyst; approve by the first approver, and the second if needed."""
    record = submit_proposal(session, proposal_id, ANALYST)
    for approver in APPROVERS:
        record = accept_proposal(session, proposal_id, approver=approver, note="evaluation")
        if record.status == "accepted":
            return record
    raise EvaluationError(f"proposal {proposal_id} is still {record.status} after two approvals")
