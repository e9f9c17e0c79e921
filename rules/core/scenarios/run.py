"""Running scenarios under a document: each passes when every expected output equals the
result's (numbers numerically, so 1 == 1.0); a multi-hit result compares the list of the
output's values over the rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.core.document import Document
from rules.core.engine import Engine, default_engine
from rules.core.scenarios.check import ScenarioData
from rules.errors import FactsError, RulebookError

__all__ = ["ScenarioOutcome", "run_scenario", "run_scenarios"]


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """One scenario run: what was expected, what the document gave (the expected outputs
    only), the rules that decided, and why it failed (``message``)."""

    id: str
    passed: bool
    expected: Mapping[str, Any]
    actual: Mapping[str, Any]
    rule_ids: tuple[str, ...]
    message: str = ""
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "expected": dict(self.expected),
            "actual": dict(self.actual),
            "rule_ids": list(self.rule_ids),
            "message": self.message,
            "note": self.note,
        }

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.id}"
        rules = ", ".join(self.rule_ids) or "(defaults)"
        differ = "; ".join(
            f"{k}: expected {self.expected[k]!r}, got {self.actual.get(k)!r}"
            for k in self.expected
            if not _same(self.expected[k], self.actual.get(k))
        )
        text = f"FAIL {self.id}: {differ or self.message} (deciding rules: {rules})"
        return f"{text} ({self.message})" if self.message and differ else text


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def run_scenario(
    doc: Document, scenario: ScenarioData, engine: Engine = default_engine
) -> ScenarioOutcome:
    """Run one scenario under ``doc``."""
    expected = dict(scenario.expect)
    try:
        _, result = engine.decide(doc, dict(scenario.facts))
    except FactsError as exc:
        why = "the facts do not fit this document: " + "; ".join(map(str, exc.problems))
        return ScenarioOutcome(scenario.id, False, expected, {}, (), why, scenario.note)
    except RulebookError as exc:
        return ScenarioOutcome(scenario.id, False, expected, {}, (), str(exc), scenario.note)
    outputs = result.outputs
    actual: dict[str, Any] = {}
    for key in expected:
        if outputs is None:
            actual[key] = None
        elif isinstance(outputs, list):
            actual[key] = [row.get(key) for row in outputs]
        else:
            actual[key] = outputs.get(key)
    passed = all(_same(expected[k], actual[k]) for k in expected)
    message = result.error or ""
    return ScenarioOutcome(
        scenario.id, passed, expected, actual, tuple(result.rule_ids), message, scenario.note
    )


def run_scenarios(
    doc: Document, scenarios: Iterable[ScenarioData], engine: Engine = default_engine
) -> list[ScenarioOutcome]:
    """Run every scenario under ``doc``, in order."""
    return [run_scenario(doc, s, engine) for s in scenarios]
