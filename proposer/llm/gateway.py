"""The tool gateway: every tool call the model makes passes here, and only here (DESIGN §5).

``Gateway.call(name, raw_arguments_json)`` returns a :class:`ToolOutcome`: allowed or denied,
the reason, and the JSON text the model is sent back. In order, a call is

1. refused when a per-run limit is reached (tool calls, wall time): kind ``limit``;
2. refused for a tool not on the allow-list: kind ``unknown_tool``;
3. refused when its arguments are not a JSON object: kind ``malformed``;
4. refused for an unexpected, missing or mistyped argument (the field is named): ``denied``;
5. run by its handler, which may refuse it too (operations that do not apply or use a
   protected, PII or unknown input; citations of decisions that are not this ruleset's, or
   none verified; a decision of another ruleset): ``denied``.

The allow-list: ``read_ruleset``, ``query_exceptions``, ``read_case``, ``read_frontier``,
``run_backtest`` (read only) and ``submit_proposal`` (the one write; a draft proposal).
Handlers only see the run's ruleset and base version; what they return passes
:mod:`proposer.llm.views` (PII removed, case data wrapped as untrusted data). No handler
error escapes as an exception: the proposer's and the rules' errors become denials with their
located problems. Every call, allowed or not, is
appended to :attr:`Gateway.log` with its verdict and reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from proposer.llm import changes, offers, reads
from proposer.llm.budget import Budget, Stop
from proposer.llm.context import Denied, ToolContext
from proposer.llm.settings import LlmSettings
from proposer.llm.tools import TOOLS
from proposer.llm.views import dumps
from proposer.records import ProposalRecord
from rules.errors import Problem, RulebookError, suggest
from rules.store.versions import get_ruleset, get_version

__all__ = ["MAX_LOGGED_ARGUMENTS", "Gateway", "GatewayEntry", "ToolOutcome", "parse_arguments"]

MAX_ECHOED_NAME = 200  # characters of an unknown tool's name quoted back
MAX_LOGGED_ARGUMENTS = 20_000  # characters of raw arguments kept per logged call
Handler = Callable[[ToolContext, dict[str, Any]], dict[str, Any]]
logger = logging.getLogger("rulebook.llm.gateway")
HANDLERS: dict[str, Handler] = {
    "read_ruleset": reads.read_ruleset,
    "query_exceptions": reads.query_exceptions,
    "read_case": reads.read_case,
    "read_frontier": offers.read_frontier_tool,
    "run_backtest": changes.run_backtest,
    "submit_proposal": changes.submit_proposal,
}


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A call's verdict. ``result`` is the JSON text the model gets back, allowed or not;
    ``kind`` is ``allowed``, ``denied``, ``malformed``, ``unknown_tool`` or ``limit``."""

    tool: str
    allowed: bool
    reason: str
    result: str
    kind: str = "allowed"
    problems: tuple[Problem, ...] = ()
    proposal_id: int | None = None


@dataclass(frozen=True, slots=True)
class GatewayEntry:
    """One logged call (the run record's ``tool_calls``)."""

    seq: int
    call_id: str | None
    tool: str
    arguments: str
    allowed: bool
    kind: str
    reason: str
    problems: tuple[Problem, ...]
    latency_s: float
    result_chars: int
    proposal_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "call_id": self.call_id,
            "tool": self.tool,
            "arguments": self.arguments,
            "allowed": self.allowed,
            "verdict": "allow" if self.allowed else "deny",
            "kind": self.kind,
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "latency_s": self.latency_s,
            "result_chars": self.result_chars,
            "proposal_id": self.proposal_id,
        }


def _deny(tool: str, kind: str, reason: str, problems: tuple[Problem, ...] = ()) -> ToolOutcome:
    body = {
        "ok": False,
        "tool": tool,
        "denied": reason,
        "problems": [p.as_dict() for p in problems],
    }
    return ToolOutcome(tool, False, reason, dumps(body), kind, problems)


class Gateway:
    """The gateway of one run on one ruleset: ``base`` is the version changes are made to
    (default: the latest), ``author`` what proposals are authored by (``llm:<model>``),
    ``actor`` who started the run (the audit actor). ``budget`` holds the run's limits and
    spending (default: :class:`LlmSettings`' defaults); ``run_ref`` gives the run record to
    store with a proposal when one is created."""

    def __init__(
        self,
        session: Session,
        ruleset: str,
        *,
        actor: str,
        author: str = "llm:unknown",
        base: int | None = None,
        budget: Budget | None = None,
        proposal_limit: int = 3,
        run_ref: Callable[[], Mapping[str, Any] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        number = get_ruleset(session, ruleset).latest_number if base is None else base
        version = get_version(session, ruleset, number)
        self.clock = clock
        self.budget = budget or Budget(LlmSettings(), clock)
        self.context = ToolContext(
            session=session,
            ruleset=ruleset,
            base=version.number,
            doc=version.document,
            author=author,
            actor=actor,
            budget=self.budget,
            proposal_limit=proposal_limit,
            run_ref=run_ref or (lambda: None),
        )
        self.log: list[GatewayEntry] = []
        self.stop: Stop | None = None  # set when a limit refused a call: the run must end

    def rebind(self, session: Session) -> None:
        """Work in ``session`` from now on: a run opens a short transaction for each answer's
        tool calls, so no lock is held while the model thinks."""
        self.context.session = session

    @property
    def proposals(self) -> tuple[ProposalRecord, ...]:
        """The proposals created through this gateway, in order."""
        return tuple(self.context.proposals)

    def call(self, name: str, arguments: str | None, call_id: str | None = None) -> ToolOutcome:
        """Decide one tool call, run it if allowed, and log it."""
        started = self.clock()
        outcome = self._decide(name, arguments)
        self._record(outcome, name, arguments, call_id, started)
        return outcome

    def refuse(
        self, name: str, arguments: str | None, call_id: str | None, reason: str
    ) -> ToolOutcome:
        """Log a call that is not run at all (e.g. a sibling of a malformed call), as denied."""
        outcome = _deny(str(name)[:MAX_ECHOED_NAME], "denied", reason)
        self._record(outcome, name, arguments, call_id, self.clock())
        return outcome

    def _record(
        self,
        outcome: ToolOutcome,
        name: str,
        arguments: str | None,
        call_id: str | None,
        started: float,
    ) -> None:
        text = arguments if isinstance(arguments, str) else ""
        verdict = "allow" if outcome.allowed else "deny"
        logger.info("%s %r %s: %r", self.context.ruleset, str(name)[:200], verdict, outcome.reason)
        self.log.append(
            GatewayEntry(
                seq=len(self.log) + 1,
                call_id=call_id,
                tool=str(name)[:200],
                arguments=text[:MAX_LOGGED_ARGUMENTS],
                allowed=outcome.allowed,
                kind=outcome.kind,
                reason=outcome.reason,
                problems=outcome.problems,
                latency_s=round(max(self.clock() - started, 0.0), 6),
                result_chars=len(outcome.result),
                proposal_id=outcome.proposal_id,
            )
        )

    def _decide(self, name: str, arguments: str | None) -> ToolOutcome:
        stop = self.budget.before_tool_call()
        if stop is not None:
            self.stop = stop
            shown = str(name)[:MAX_ECHOED_NAME]
            return _deny(shown, "limit", stop.reason, (Problem("RB954", "run", stop.reason),))
        self.budget.tool_calls += 1
        spec = TOOLS.get(name)
        if spec is None:
            shown = str(name)[:MAX_ECHOED_NAME]  # never echo an unbounded text back
            problem = Problem(
                "RB951",
                "name",
                f"there is no tool {shown!r}; the tools are {', '.join(TOOLS)}",
                suggest(shown, TOOLS),
            )
            return _deny(shown, "unknown_tool", problem.message, (problem,))
        parsed = parse_arguments(arguments)
        if not isinstance(parsed, Problem) and _has_nul(parsed):
            # No text a database would refuse goes further (PostgreSQL rejects NUL in text).
            problem = Problem("RB955", "arguments", "the arguments contain a NUL character")
            return _deny(name, "denied", problem.message, (problem,))
        if isinstance(parsed, Problem):
            return _deny(name, "malformed", parsed.message, (parsed,))
        values, problems = spec.read(parsed)
        if problems:
            kind = "malformed" if problems[0].code == "RB952" else "denied"
            return _deny(name, kind, f"the arguments of {name} are not valid", tuple(problems))
        return self._run(name, values)

    def _run(self, name: str, values: dict[str, Any]) -> ToolOutcome:
        before = len(self.context.proposals)
        try:
            # Each call in a savepoint of its own: whatever a call does to the transaction
            # (a database error included) is undone with it, never an earlier call's work.
            with self.context.session.begin_nested():
                payload = HANDLERS[name](self.context, values)
        except Denied as exc:
            return _deny(name, exc.verdict, exc.reason, exc.problems)
        except RulebookError as exc:
            return _deny(name, "denied", str(exc).splitlines()[0], exc.problems)
        except (SQLAlchemyError, RecursionError, OverflowError) as exc:  # savepoint rolled back
            cause = type(getattr(exc, "orig", None) or exc).__name__
            reason = f"the database refused this call ({cause})"
            return _deny(name, "denied", reason, (Problem("RB955", "arguments", reason),))
        created = self.context.proposals[before:]
        proposal_id = created[0].id if created else None
        result = dumps({"ok": True, "tool": name, **payload})
        reason = f"proposal {proposal_id} created" if proposal_id is not None else "allowed"
        return ToolOutcome(name, True, reason, result, "allowed", (), proposal_id)


def _has_nul(value: Any) -> bool:
    """Whether any text in ``value`` (keys too, at any depth) holds a NUL; iterative, so no
    nesting depth can exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_arguments(arguments: str | None) -> Any:
    """The arguments read as JSON, or the :class:`Problem` with them (an empty text is
    ``{}``; NaN and Infinity are not JSON)."""
    if arguments is None or not arguments.strip():
        return {}
    try:
        return json.loads(arguments, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        return Problem(
            "RB952",
            "arguments",
            f"the arguments are not valid JSON ({exc}); send one JSON object, e.g. {{}}",
        )
