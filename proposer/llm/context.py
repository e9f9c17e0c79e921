"""What every tool handler works with: the run's ruleset, base version, session and limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from proposer.errors import ProposerError
from proposer.llm.budget import Budget
from proposer.llm.views import MIN_SECRET, CaseView
from proposer.records import ProposalRecord
from rules.core.document import Document
from rules.errors import Problem
from rules.store.decision_log import stream_cases

__all__ = ["MAX_KNOWN", "Denied", "ToolContext"]

MAX_KNOWN = 100_000  # PII texts remembered per run for scrubbing


class Denied(ProposerError):
    """A tool handler's refusal: a reason, located problems, and the gateway's ``verdict``
    (``denied`` or ``limit``). The gateway turns it into the tool's answer to the model."""

    def __init__(
        self, reason: str, problems: Iterable[Problem] = (), verdict: str = "denied"
    ) -> None:
        super().__init__(reason, problems)
        self.reason = reason
        self.verdict = verdict


@dataclass(slots=True)
class ToolContext:
    """The one ruleset and base version a run may touch; nothing in a tool's arguments can
    name another."""

    session: Session
    ruleset: str
    base: int
    doc: Document
    author: str
    actor: str
    budget: Budget
    proposal_limit: int
    run_ref: Callable[[], Mapping[str, Any] | None]
    proposals: list[ProposalRecord] = field(default_factory=list)
    known: tuple[str, ...] | None = None
    withheld: tuple[str, ...] | None = None
    frontier: Any = None  # the deterministic proposer's frontier, computed once per run

    def known_pii(self) -> tuple[str, ...]:
        """Every text value of a PII input in the ruleset's log (read once per run, at most
        ``MAX_KNOWN``), to scrub from what the model is shown: a note may name another
        applicant than its own case's."""
        if self.known is None:
            self.known = self._texts([i.name for i in self.doc.inputs if i.pii])
        return self.known

    def known_withheld(self) -> tuple[str, ...]:
        """Every text value of a PII or protected input in the ruleset's log (read once per
        run, at most ``MAX_KNOWN``): what is scrubbed from results drawn from many cases at
        once, such as conditions induced from them."""
        if self.withheld is None:
            hidden = [i.name for i in self.doc.inputs if i.pii or i.protected]
            self.withheld = self._texts(hidden)
        return self.withheld

    def _texts(self, names: list[str]) -> tuple[str, ...]:
        found: set[str] = set()
        if names:
            for case in stream_cases(self.session, self.ruleset):
                for name in names:
                    value = case.facts.get(name)
                    if isinstance(value, str) and len(value) >= MIN_SECRET:
                        found.add(value)
                if len(found) >= MAX_KNOWN:
                    break
        return tuple(sorted(found))

    @property
    def view(self) -> CaseView:
        return CaseView(self.doc)
