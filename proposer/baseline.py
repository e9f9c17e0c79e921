"""The deterministic proposer: the frontier of rule changes induced from resolved exceptions,
as proposals with evidence (DESIGN §5: with no model configured, it does the job, so the
product works offline; "a choice, not a verdict": it offers a range, analysts pick).

The pipeline, for ruleset ``name``:

1. read the logged cases in the window (default: all of the log) as a counted sample, streamed
   (:func:`proposer.sample.read_sample`, in :data:`~proposer.forecast.BLOCKS` blocks of
   decision id order), so memory does not grow with the number of decisions;
2. run induction along the ladder of precision bars for every target, and forecast each
   recipe out of sample (:func:`proposer.frontier.offers`); offers whose backtest would lose
   more agreement than the ceiling are dropped before they are forecast;
3. choose the offers to show (:func:`proposer.choice.choose`): a conservative one, bolder ones
   up to ``max_loss`` points of agreement (``RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS``), both
   directions, no near-duplicates;
4. draft them in that order, each as its ``add_rule`` operations on the latest version,
   citing the first 50 cases its change fixes (checked first: only verified ones are cited),
   with the system's evidence and the forecast attached (:func:`proposer.drafting.draft`),
   skipping any whose candidate an open proposal already has, until ``limit`` are drafted;
5. record them as drafts by author ``baseline``, listed by direction, least expected
   automation first, each titled with what it trades.

Everything is sorted and nothing is random or timed: the same log gives the same proposals,
byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposer.backtest import Window
from proposer.candidate import apply
from proposer.choice import choose, display_order, loses_at_most, title
from proposer.citations import check_citations
from proposer.drafting import MAX_ACTOR, Draft, draft, text_field
from proposer.errors import InvalidProposalError, OperationError
from proposer.evidence import ImpactThresholds
from proposer.forecast import BLOCKS
from proposer.frontier import LADDER, Offer, Step, fixed_ids, offers, targets_of
from proposer.proposals import open_duplicate, record_draft
from proposer.rationale import forecast_evidence, rationale
from proposer.records import ProposalRecord
from proposer.sample import Sample, read_sample
from proposer.settings import check_max_loss
from proposer.settings import max_loss as max_loss_from_env
from proposer.weights import Weights
from rules.core.document import Document
from rules.errors import Problem
from rules.store.versions import get_ruleset, get_version

__all__ = [
    "AUTHOR",
    "INDUCTION_SETTINGS",
    "MAX_LIMIT",
    "Frontier",
    "forecast_for",
    "ladder_for",
    "propose_baseline",
    "read_frontier",
]

AUTHOR = "baseline"
MAX_LIMIT = 50
INDUCTION_SETTINGS = (
    "min_support",
    "min_precision",
    "novel_precision",
    "caution",
    "max_conditions",
    "max_rules",
    "beam",
    "widen",
)
BARS = ("min_precision", "novel_precision")


@dataclass(frozen=True, slots=True)
class Frontier:
    """What a run found: the base it learned on, the sample, and the offers chosen to show,
    in display order."""

    name: str
    base: int
    doc: Document
    window: Window
    sample: Sample
    ladder: tuple[Step, ...]
    max_loss: float
    chosen: tuple[Offer, ...]


def ladder_for(induction: Mapping[str, Any] | None) -> tuple[Step, ...]:
    """The ladder of settings: :data:`~proposer.frontier.LADDER`, or, when ``induction``
    fixes a precision bar, that one setting alone."""
    if induction and any(k in induction for k in BARS):
        return (Step("as configured", {}),)
    return LADDER


def _problems(actor: object, limit: object, induction: object, max_loss: object) -> None:
    problems: list[Problem] = []
    text_field(actor, "actor", problems, limit=MAX_ACTOR)
    unknown = sorted(set(induction or {}) - set(INDUCTION_SETTINGS))  # type: ignore[call-overload]
    if unknown:
        problems.append(
            Problem(
                "RB940",
                f"induction.{unknown[0]}",
                f"not an induction setting: use {', '.join(INDUCTION_SETTINGS)}",
            )
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        problems.append(
            Problem("RB940", "limit", f"give a limit from 1 to {MAX_LIMIT}, not {limit!r}")
        )
    if max_loss is not None and (found := check_max_loss(max_loss, "max_loss")) is not None:
        problems.append(found)
    if problems:
        raise InvalidProposalError("the proposer's settings are not valid", problems)


def read_frontier(
    session: Session,
    name: str,
    *,
    window: Window | None = None,
    induction: Mapping[str, Any] | None = None,
    max_loss: float | None = None,
    base: int | None = None,
) -> Frontier:
    """The frontier of version ``base`` (default: the latest) of ruleset ``name`` on the
    window (writes nothing): the offers a run would draft, best first
    (:mod:`proposer.choice`)."""
    window = window or Window()
    ceiling = max_loss_from_env() if max_loss is None else float(max_loss)
    base = get_ruleset(session, name).latest_number if base is None else base
    doc = get_version(session, name, base).document
    sample = read_sample(session, name, doc, window, blocks=BLOCKS)
    ladder = ladder_for(induction)
    found = offers(
        sample,
        ladder=ladder,
        induction=dict(induction or {}),
        keep=lambda offer: loses_at_most(offer.in_sample, ceiling),
    )
    targets = targets_of(doc, sample)
    chosen = choose(found, targets, ceiling, Weights.of(sample.part().weights))
    return Frontier(name, base, doc, window, sample, ladder, ceiling, tuple(chosen))


def _cited(session: Session, frontier: Frontier, offer: Offer) -> list[int] | None:
    """The first cases the change fixes, as the citation check verifies them; None when the
    change does not apply (it is left out)."""
    ops = offer.layout.operations()
    try:
        candidate = apply(frontier.doc, ops)
    except OperationError:
        return None  # e.g. an overlap under UNIQUE the cases did not show
    ids = list(fixed_ids(offer, frontier.sample))
    verdicts = check_citations(session, frontier.name, frontier.doc, candidate, ids)
    return [v.decision_id for v in verdicts if v.verified]


def _draft(session: Session, frontier: Frontier, offer: Offer, thresholds: Any) -> Draft | None:
    cited = _cited(session, frontier, offer)
    if not cited:
        return None
    try:
        return draft(
            session,
            frontier.name,
            offer.layout.operations(),
            cited,
            base=frontier.base,
            window=frontier.window,
            thresholds=thresholds,
            forecast=forecast_evidence(offer, frontier.ladder, frontier.max_loss),
        )
    except InvalidProposalError:
        return None


def forecast_for(frontier: Frontier, candidate_hash: str) -> dict[str, Any] | None:
    """The forecast of the frontier's offer whose candidate document has this hash, if one
    has: the estimate of exactly that change, as its evidence stores it."""
    for offer in frontier.chosen:
        try:
            found = apply(frontier.doc, offer.layout.operations())
        except OperationError:
            continue
        if found.hash == candidate_hash:
            return forecast_evidence(offer, frontier.ladder, frontier.max_loss)
    return None


def _sensitive(doc: Document, found: Draft) -> bool:
    hidden = {i.name for i in doc.inputs if i.protected or i.pii}
    return bool(hidden & set(found.evidence.scope.inputs))


def propose_baseline(
    session: Session,
    name: str,
    *,
    limit: int = 5,
    window: Window | str | None = None,
    actor: str,
    thresholds: ImpactThresholds | None = None,
    induction: Mapping[str, Any] | None = None,
    max_loss: float | None = None,
) -> list[ProposalRecord]:
    """Run the deterministic proposer on ruleset ``name`` and record up to ``limit`` proposals
    spanning the frontier as drafts (author ``baseline``); none when the log supports none.
    ``max_loss`` is the ceiling in points (default: ``RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS``,
    else 3); ``induction`` overrides :func:`proposer.induce.learn`'s settings
    (``INDUCTION_SETTINGS``; a precision bar given replaces the ladder)."""
    _problems(actor, limit, induction, max_loss)
    if isinstance(window, str):
        window = Window.parse(window)
    frontier = read_frontier(session, name, window=window, induction=induction, max_loss=max_loss)
    drafted: list[tuple[Offer, Draft]] = []
    seen: set[str] = set()
    for offer in frontier.chosen:
        if len(drafted) == limit:
            break
        found = _draft(session, frontier, offer, thresholds)
        if found is None or _sensitive(frontier.doc, found):
            continue
        digest = found.candidate.hash
        if digest in seen or open_duplicate(session, name, digest) is not None:
            continue
        seen.add(digest)
        drafted.append((offer, found))
    targets = targets_of(frontier.doc, frontier.sample)
    order = display_order([offer for offer, _ in drafted], targets)
    by_offer = {id(offer): found for offer, found in drafted}
    created: list[ProposalRecord] = []
    for rank, offer in enumerate(order, start=1):
        found = by_offer[id(offer)]
        created.append(
            record_draft(
                session,
                found,
                rationale=rationale(offer, found, frontier.sample, frontier.max_loss),
                author=AUTHOR,
                actor=actor,
                title=title(offer),
                run=_run(offer, found, frontier, rank),
            )
        )
    return created


def _run(offer: Offer, found: Draft, frontier: Frontier, rank: int) -> dict[str, Any]:
    """The run record stored with the proposal: what was learned, from what, and its place
    on the frontier."""
    return {
        "proposer": AUTHOR,
        "window": found.evidence.window.to_dict(),
        "cases": frontier.sample.cases,
        "groups": len(frontier.sample.groups),
        "max_agreement_loss": frontier.max_loss,
        "role": offer.role,
        "rank": rank,
        "recipe": offer.recipe.to_dict(frontier.ladder),
        "induced": [c.to_dict() for c in offer.rules],
        "in_sample": offer.in_sample.to_dict(),
    }
