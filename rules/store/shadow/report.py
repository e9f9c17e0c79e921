"""What a shadow run saw (DESIGN §5): decisions seen, how many differ (and how many the shadow
could not evaluate), the transition matrix per output (live value to shadow value), and
agreement with the human resolutions recorded since the run started, live against shadow."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.core.document import Document
from rules.errors import NotFoundError
from rules.store.models import Decision, Resolution, Shadow, ShadowResult
from rules.store.shadow.runs import ShadowInfo, info_of
from rules.store.versions.documents import documents
from rules.store.versions.read import find_ruleset

__all__ = ["KEEP_DIFFERENCES", "ShadowReport", "shadow_report"]

KEEP_DIFFERENCES = 20


@dataclass(frozen=True, slots=True)
class ShadowReport:
    shadow: ShadowInfo
    seen: int
    differing: int
    errors: int
    transitions: Mapping[str, Mapping[str, Mapping[str, int]]]
    resolved: int
    agree_live: int
    agree_shadow: int
    output: str
    differences: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.shadow.to_dict(),
            "decisions_seen": self.seen,
            "differences": self.differing,
            "errors": self.errors,
            "transitions": {
                k: {a: dict(b) for a, b in v.items()} for k, v in self.transitions.items()
            },
            "agreement": {
                "output": self.output,
                "resolved": self.resolved,
                "live": self.agree_live,
                "shadow": self.agree_shadow,
            },
            "examples": list(self.differences),
        }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _value(outputs: Any, name: str) -> Any:
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    if isinstance(outputs, list):
        return [r.get(name) for r in outputs if isinstance(r, Mapping)]
    return None


def _review_output(doc: Document) -> str:
    return doc.review.output if doc.review is not None else doc.outputs[0].name


def shadow_report(session: Session, name: str, shadow_id: int | None = None) -> ShadowReport:
    """The report of the ruleset's running shadow, else its latest one (or ``shadow_id``)."""
    ruleset = find_ruleset(session, name)
    query = select(Shadow).where(Shadow.ruleset_id == ruleset.id)
    if shadow_id is not None:
        query = query.where(Shadow.id == shadow_id)
    row = session.scalar(query.order_by(Shadow.id.desc()).limit(1))
    if row is None:
        raise NotFoundError(
            f"{name} has never run a shadow: start one with `rulebook shadow start`"
        )
    doc = documents.get(row.document_hash, row.document)
    output = _review_output(doc)
    latest = (
        select(Resolution.decision_id, func.max(Resolution.id).label("rid"))
        .where(Resolution.resolved_at >= row.started_at)
        .group_by(Resolution.decision_id)
        .subquery()
    )
    rows = session.execute(
        select(
            ShadowResult.decision_id,
            Decision.outputs,
            ShadowResult.outputs,
            ShadowResult.error,
            ShadowResult.differs,
            Resolution.outputs,
        )
        .join(Decision, Decision.id == ShadowResult.decision_id)
        .outerjoin(latest, latest.c.decision_id == ShadowResult.decision_id)
        .outerjoin(Resolution, Resolution.id == latest.c.rid)
        .where(ShadowResult.shadow_id == row.id)
        .order_by(ShadowResult.decision_id)
        .execution_options(yield_per=1000)
    )
    seen = differing = errors = resolved = agree_live = agree_shadow = 0
    matrix: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    examples: list[dict[str, Any]] = []
    for decision_id, live, shadow, error, differs, human in rows:
        seen += 1
        errors += error is not None and shadow is None
        if differs:
            differing += 1
            if len(examples) < KEEP_DIFFERENCES:
                examples.append(
                    {"decision_id": decision_id, "live": live, "shadow": shadow, "error": error}
                )
        for out in doc.outputs:
            before = _text(_value(live, out.name))
            after = "(error)" if shadow is None and error else _text(_value(shadow, out.name))
            cell = matrix[out.name][before]
            cell[after] = cell.get(after, 0) + 1
        if isinstance(human, Mapping) and output in human:
            resolved += 1
            agree_live += _value(live, output) == human[output]
            agree_shadow += _value(shadow, output) == human[output]
    return ShadowReport(
        info_of(row, name),
        seen,
        differing,
        errors,
        matrix,
        resolved,
        agree_live,
        agree_shadow,
        output,
        tuple(examples),
    )
