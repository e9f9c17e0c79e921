"""What every tool handler works with: the run's ruleset, base version, session and limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from proposer.llm.budget import Budget
from proposer.llm.views import CaseView
from proposer.records import ProposalRecord
from rules.document import Document
from rules.errors import Problem

__all__ = ["Denied", "ToolContext"]


class Denied(Exception):
    """A handler's refusal: ``kind`` (``denied`` or ``limit``), a reason, located problems."""

    def __init__(self, reason: str, problems: Iterable[Problem] = (), kind: str = "denied") -> None:
        self.reason = reason
        self.problems = tuple(problems)
        self.kind = kind
        super().__init__(reason)


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

    @property
    def view(self) -> CaseView:
        return CaseView(self.doc)
