"""Held-out rows decided by the engine under any version or candidate, nothing recorded, and
compared with their real outcomes (what ``rulebook proposer evaluate`` measures).

**Automation** is the share of the rows that are not exceptions; **agreement** the share of
the automated rows whose review output is the real outcome (every held-out row has one). These
are :mod:`proposer.trade`'s measures, on rows whose outcome is always known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rules.core.document import Document, Scalar
from rules.core.engine import Engine
from rules.store.demo import DEMO_SPEC
from rules.store.history.columns import plan_columns
from rules.store.history.rows import Row, prepare_rows

__all__ = ["Decided", "Figures", "HeldOut"]


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


def change(before: Figures, after: Figures) -> dict[str, float]:
    """Points of automation gained and of agreement changed, from ``before`` to ``after``."""
    return {
        "automation_points": round(100 * (after.automation - before.automation), 2),
        "agreement_points": round(100 * (after.agreement - before.agreement), 2),
    }


class HeldOut:
    """The held-out rows of a CSV in the demo's columns, decided under ``base`` once."""

    def __init__(
        self, base: Document, header: list[str], records: list[list[str]], engine: Engine
    ) -> None:
        plan = plan_columns(
            base,
            header,
            outcome_column=DEMO_SPEC.outcome_column,
            id_column=DEMO_SPEC.id_column,
            mapping=DEMO_SPEC.mapping,
        )
        self.output = plan.output.name
        self.engine = engine
        self.rows: list[Row] = prepare_rows(plan, records, engine, base)

    def decide(self, doc: Document) -> list[Decided]:
        """Every row under the base (as prepared) and under ``doc``."""
        decided: list[Decided] = []
        for row in self.rows:
            after = self.engine.evaluate(doc, row.facts)
            decided.append(
                Decided(
                    case_id=str(row.request_id),
                    real=row.outcome,
                    before=_value(row.result.outputs, self.output),
                    after=_value(after.outputs, self.output),
                    exception_before=row.result.exception,
                    exception_after=after.exception,
                    rule_before=row.result.rule_ids[0] if row.result.rule_ids else None,
                    rule_after=after.rule_ids[0] if after.rule_ids else None,
                )
            )
        return decided


def _value(outputs: Any, output: str) -> Scalar | None:
    return outputs.get(output) if isinstance(outputs, dict) else None
