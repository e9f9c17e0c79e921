"""The evidence the system attaches to a proposal, and its impact class (DESIGN §5).

:func:`build_evidence` gathers, for a candidate document and the operations that made it:

* **citations**: a verdict per cited decision (:func:`proposer.citations.check_citations`);
* **backtest**: the window of the log replayed under base and candidate
  (:func:`proposer.backtest.backtest`; the first ``keep`` changed decisions are listed);
* **checks**: every static check finding of the candidate, warnings and notes included (a
  candidate with errors never gets this far: :func:`proposer.candidate.apply` refuses it);
* **scope**: the rules the operations touch and the inputs and outputs of those rules;
* **impact**: ``low`` or ``high``, with every reason that made it high;
* **scenarios**: the ruleset's test scenarios run under the candidate, pass or fail each
  (:func:`rules.store.scenarios.run_ruleset_scenarios`);
* **forecast**: the out-of-sample estimate of the change (:mod:`proposer.forecast`), when the
  change is one the deterministic proposer learned (its estimate is of how it was learned);
  None for a change a person or a model wrote or edited, which nothing can hold out from.

Nothing here comes from the author: a proposal's author supplies operations, a rationale and
the ids it cites; every figure below is computed by the system.

Impact thresholds (:class:`ImpactThresholds`, read from the environment by
:meth:`ImpactThresholds.from_env`). A proposal is **high** impact when any of these holds:

==================================  =======  ==============================================
variable                            default  high impact when
==================================  =======  ==============================================
RULEBOOK_IMPACT_MAX_CHANGED_SHARE   0.05     more than this share of the backtested
                                             decisions change their outcome (0 to 1)
RULEBOOK_IMPACT_MAX_CHANGED         1000     more than this many backtested decisions
                                             change their outcome
(always)                                     agreement with human resolutions falls
(always)                                     a rule is removed
(always)                                     the backtest window holds no decision (no
                                             evidence is high impact)
==================================  =======  ==============================================

A decision's *outcome* is its review output (``outcome`` in the demo; the first output when
the document names none): a change of an explanatory output alone, such as the ``reason``
text of a decision that stays ``approve``, is counted by the backtest but does not make a
change high impact. A high-impact proposal needs two different approvers
(:mod:`proposer.review`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from proposer.backtest import Backtest, Window, backtest
from proposer.candidate import Scope, scope
from proposer.cases import review_output
from proposer.citations import CitationVerdict, check_citations
from proposer.errors import ProposerError
from proposer.operations import Operation
from rules.core.check import check_document
from rules.core.document import Document
from rules.core.scenarios import ScenarioOutcome
from rules.errors import Problem
from rules.store.scenarios import run_ruleset_scenarios

__all__ = [
    "ENV_MAX_CHANGED",
    "ENV_MAX_CHANGED_SHARE",
    "IMPACTS",
    "KEEP_CHANGED",
    "ConfigurationError",
    "Evidence",
    "Impact",
    "ImpactThresholds",
    "build_evidence",
    "changed_on",
    "classify",
]

ENV_MAX_CHANGED_SHARE = "RULEBOOK_IMPACT_MAX_CHANGED_SHARE"
ENV_MAX_CHANGED = "RULEBOOK_IMPACT_MAX_CHANGED"
IMPACTS = ("low", "high")
KEEP_CHANGED = 100  # changed decisions stored with a proposal's evidence (the count is complete)


class ConfigurationError(ProposerError):
    """A setting read from the environment is not valid."""


@dataclass(frozen=True, slots=True)
class ImpactThresholds:
    """Where a change stops being low impact (see the module's table)."""

    max_changed_share: float = 0.05
    max_changed: int = 1000

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.max_changed_share <= 1:
            problems.append(
                Problem(
                    "RB941",
                    "max_changed_share",
                    f"{self.max_changed_share!r} is not a share; give a number from 0 to 1",
                )
            )
        if self.max_changed < 0:
            problems.append(
                Problem("RB941", "max_changed", f"{self.max_changed!r}: give a count from 0 up")
            )
        if problems:
            raise ConfigurationError("the impact thresholds are not valid", problems)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ImpactThresholds:
        """The thresholds set in ``environ`` (default: the process environment); a variable
        that is set but not a valid number raises ConfigurationError naming it."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []
        share = _number(env, ENV_MAX_CHANGED_SHARE, 0.05, float, problems)
        count = _number(env, ENV_MAX_CHANGED, 1000, int, problems)
        if problems:
            raise ConfigurationError("an impact threshold setting is not valid", problems)
        try:
            return cls(max_changed_share=float(share), max_changed=int(count))
        except ConfigurationError as exc:
            names = {"max_changed_share": ENV_MAX_CHANGED_SHARE, "max_changed": ENV_MAX_CHANGED}
            raise ConfigurationError(
                "an impact threshold setting is not valid",
                [Problem(p.code, names[p.location], p.message) for p in exc.problems],
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return {"max_changed_share": self.max_changed_share, "max_changed": self.max_changed}


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    kind: type[int] | type[float],
    problems: list[Problem],
) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        what = "a whole number, e.g. 1000" if kind is int else "a number, e.g. 0.05"
        problems.append(Problem("RB941", name, f"{text!r} is not {what}"))
        return default


@dataclass(frozen=True, slots=True)
class Impact:
    """``level`` is ``high`` when any reason fired; each reason is ``(code, message)``.
    ``changed`` counts the backtested decisions whose ``output`` (the review output) the
    candidate changes, out of ``cases``."""

    level: str
    reasons: tuple[tuple[str, str], ...]
    thresholds: ImpactThresholds
    output: str
    changed: int
    cases: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reasons": [{"code": code, "message": text} for code, text in self.reasons],
            "thresholds": self.thresholds.to_dict(),
            "output": self.output,
            "changed": self.changed,
            "cases": self.cases,
        }


def changed_on(report: Backtest, output: str) -> int:
    """Backtested decisions whose ``output`` changes: the transition matrix off its diagonal."""
    rows = report.transitions.get(output, {})
    return sum(n for before, row in rows.items() for after, n in row.items() if after != before)


def classify(report: Backtest, change: Scope, thresholds: ImpactThresholds, output: str) -> Impact:
    """The impact class of a change, from its backtest and its scope (see the module)."""
    reasons: list[tuple[str, str]] = []
    n, changed = report.cases, changed_on(report, output)
    if n == 0:
        reasons.append(
            ("no_evidence", "the backtest window holds no decision, so nothing shows its effect")
        )
    elif changed / n > thresholds.max_changed_share:
        reasons.append(
            (
                "changed_share",
                f"changes the {output} of {changed:,} of {n:,} backtested decisions "
                f"({changed / n:.1%}); the limit is {thresholds.max_changed_share:.1%}",
            )
        )
    if changed > thresholds.max_changed:
        reasons.append(
            (
                "changed_count",
                f"changes the {output} of {changed:,} backtested decisions; the limit is "
                f"{thresholds.max_changed:,}",
            )
        )
    if report.agree_after < report.agree_before:
        reasons.append(
            (
                "agreement_falls",
                f"agrees with {report.agree_after:,} human resolutions where the base agrees "
                f"with {report.agree_before:,} (of {report.resolved:,})",
            )
        )
    if change.removed:
        reasons.append(("rule_removed", f"removes {', '.join(change.removed)}"))
    level = "high" if reasons else "low"
    return Impact(level, tuple(reasons), thresholds, output, changed, n)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the system found out about a candidate (see the module)."""

    citations: tuple[CitationVerdict, ...]
    backtest: Backtest
    checks: tuple[Problem, ...]
    scope: Scope
    impact: Impact
    window: Window = field(default_factory=Window)
    forecast: Mapping[str, Any] | None = None
    scenarios: tuple[ScenarioOutcome, ...] = ()

    @property
    def verified(self) -> int:
        return sum(1 for v in self.citations if v.verified)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attached_by": "system",
            "window": self.window.to_dict(),
            "citations": {
                "verified": self.verified,
                "total": len(self.citations),
                "verdicts": [v.to_dict() for v in self.citations],
            },
            "backtest": self.backtest.to_dict(),
            "checks": [p.as_dict() for p in self.checks],
            "scope": self.scope.to_dict(),
            "impact": self.impact.to_dict(),
            "forecast": None if self.forecast is None else dict(self.forecast),
            "scenarios": {
                "passed": sum(1 for o in self.scenarios if o.passed),
                "failed": sum(1 for o in self.scenarios if not o.passed),
                "results": [o.to_dict() for o in self.scenarios],
            },
        }


def build_evidence(
    session: Session,
    name: str,
    base_doc: Document,
    base_number: int,
    candidate_doc: Document,
    operations: Sequence[Operation],
    citations: Sequence[int],
    window: Window | None = None,
    thresholds: ImpactThresholds | None = None,
    *,
    keep: int = KEEP_CHANGED,
    forecast: Mapping[str, Any] | None = None,
) -> Evidence:
    """The evidence for ``candidate_doc`` (``base_doc``, version ``base_number``, with
    ``operations`` applied): citations, a backtest over ``window`` (default: all of the log),
    static checks, scope and impact class (``thresholds`` default to
    :meth:`ImpactThresholds.from_env`); ``forecast`` is the deterministic proposer's
    out-of-sample estimate of the change, when it learned it."""
    window = window or Window()
    thresholds = thresholds or ImpactThresholds.from_env()
    verdicts = check_citations(session, name, base_doc, candidate_doc, citations)
    report = backtest(session, name, candidate_doc, base=base_number, window=window, keep=keep)
    change = scope(base_doc, operations)
    return Evidence(
        citations=tuple(verdicts),
        backtest=report,
        checks=tuple(check_document(candidate_doc)),
        scope=change,
        impact=classify(report, change, thresholds, review_output(base_doc)),
        window=window,
        forecast=forecast,
        scenarios=tuple(run_ruleset_scenarios(session, name, doc=candidate_doc)),
    )
