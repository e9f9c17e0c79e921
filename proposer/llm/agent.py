"""The LLM proposer: a model in a loop of tool calls, every call through the gateway.

``run_llm_proposer(db, name, actor=...)``:

1. reads the ruleset (NotFoundError if there is none) and its latest version, the base;
2. checks the kill switch (:mod:`rules.store.settings`) and that a model is configured: if not, the
   run is recorded as ``killed`` / ``not_configured`` and no model is called at all;
3. loops: one model call with the tools, then each tool call the answer makes through
   :class:`~proposer.llm.gateway.Gateway` (its JSON result goes back as a ``tool`` message),
   until the model answers without a tool call, ``limit`` proposals exist, or a limit stops it;
4. writes the run record to ``llm_runs`` with an ``llm.run`` audit event, and returns an
   :class:`LlmRunResult`. Each proposal carries the record as it
   stood when the model submitted it (:mod:`proposer.llm.record`).

Statuses: ``ok`` (the model finished, or ``limit`` proposals were made, with at least one),
``no_proposal`` (it finished with none), ``failed`` (the model failed on every model tried,
sent malformed tool-call arguments twice in a row, or the run broke), ``killed``,
``not_configured``, ``budget_exhausted`` (tokens or cost), ``call_limit`` (model or tool
calls), ``timeout`` (the wall-clock deadline, or a model time-out on every model tried).

The run commits as it goes, in short transactions of its own (``db.session()``): one to
start its ``llm_runs`` row (status ``running``), one for each answer's tool calls (a proposal
is committed when it is created), one to finish. No transaction is open while the model is
called, so a run of up to ``RULEBOOK_LLM_TIMEOUT_S`` never holds SQLite's write lock or the
audit chain's lock while it waits, and a run that dies midway leaves its row ``running``.

Malformed arguments (not a JSON object) get one repair round: the gateway's error goes back to
the model, and none of that answer's other calls run. A second malformed answer in a row fails
the run. Proposals come only from an allowed ``submit_proposal`` and are whole; those made
before a run stops are kept, and the run's final record in ``llm_runs`` says how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposer.llm.budget import Budget, Stop
from proposer.llm.client import LitellmClient, ModelClient, ModelReply
from proposer.llm.errors import LlmError, ModelCallError
from proposer.llm.gateway import Gateway, parse_arguments
from proposer.llm.prompt import PROMPT_VERSION, load_prompt
from proposer.llm.record import RunRecorder
from proposer.llm.settings import LlmSettings
from proposer.llm.tools import openai_tools
from proposer.records import ProposalRecord
from rules.errors import Problem
from rules.store import Database
from rules.store.decision_log import count_cases
from rules.store.settings import kill_switch
from rules.store.versions import VersionInfo, get_ruleset, get_version

__all__ = ["MAX_LIMIT", "MAX_OUTPUT_TOKENS", "LlmRunResult", "run_llm_proposer"]

MAX_LIMIT = 50  # as the baseline proposer's
MAX_OUTPUT_TOKENS = 4096
SKIPPED = "not run: another call in the same answer had malformed arguments; send the calls again"


@dataclass(frozen=True, slots=True)
class LlmRunResult:
    """How a run ended, the proposals it created, and its full record."""

    run_id: int
    status: str
    reason: str
    proposals: tuple[ProposalRecord, ...]
    record: Mapping[str, Any]

    @property
    def proposal_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.proposals)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "ruleset": self.record.get("ruleset"),
            "status": self.status,
            "reason": self.reason,
            "model": self.record.get("model"),
            "fallback_used": self.record.get("fallback_used"),
            "proposals": [
                {"id": p.id, "title": p.title, "status": p.status, "impact": p.impact}
                for p in self.proposals
            ],
            "totals": self.record.get("totals"),
        }
        if full:
            out["record"] = dict(self.record)
        return out


@dataclass(slots=True)
class _Run:
    client: ModelClient
    gateway: Gateway
    budget: Budget
    recorder: RunRecorder
    messages: list[dict[str, Any]]
    limit: int
    db: Database
    repairing: bool = False

    def rebind(self, session: Session) -> None:
        self.gateway.rebind(session)
        self.recorder.rebind(session)


def _check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise LlmError(
            "the proposal limit is not valid",
            [Problem("RB950", "limit", f"give a number of proposals from 1 to {MAX_LIMIT}")],
        )
    return limit


def run_llm_proposer(
    db: Database,
    name: str,
    *,
    actor: str,
    limit: int = 3,
    settings: LlmSettings | None = None,
    clock: Callable[[], float] = time.monotonic,
    client: ModelClient | None = None,
    environ: Mapping[str, str] | None = None,
) -> LlmRunResult:
    """One run on ruleset ``name`` (see the module). ``settings`` default to
    :meth:`LlmSettings.from_env`; ``client`` to litellm; ``environ`` (for the kill switch's
    variable) to the process environment."""
    limit = _check_limit(limit)
    settings = settings or LlmSettings.from_env(environ)
    with db.session() as session:
        base = get_version(session, name, get_ruleset(session, name).latest_number)
        prompt = load_prompt(PROMPT_VERSION)
        recorder = RunRecorder(
            session, base, actor=actor, settings=settings, prompt=prompt, proposal_limit=limit
        )
        recorder.start()
        switch = kill_switch(session, environ)
        if switch.on:
            stop = Stop("killed", f"the kill switch is on ({switch.source})")
            return _result(recorder, stop, ())
        if not settings.configured:
            stop = Stop("not_configured", "no model is configured (RULEBOOK_LLM_MODEL)")
            return _result(recorder, stop, ())
        client = client or LitellmClient(settings, clock)
        run = _prepare(session, base, actor, settings, limit, recorder, client, clock, db)
    stop = _guarded(run)
    with db.session() as session:
        run.rebind(session)
        return _result(recorder, stop, run.gateway.proposals)


def _prepare(
    session: Session,
    base: VersionInfo,
    actor: str,
    settings: LlmSettings,
    limit: int,
    recorder: RunRecorder,
    client: ModelClient,
    clock: Callable[[], float],
    db: Database,
) -> _Run:
    """The run's budget, gateway and first two messages."""
    name = base.ruleset
    budget = Budget(settings, clock)
    gateway = Gateway(
        session,
        name,
        actor=actor,
        author=f"llm:{settings.model}",
        base=base.number,
        budget=budget,
        proposal_limit=limit,
        run_ref=recorder.snapshot,
        clock=clock,
    )
    recorder.gateway_log, recorder.budget = gateway.log, budget
    info = get_ruleset(session, name)
    recorder.messages = load_prompt(recorder.header["prompt_version"]).messages(
        ruleset=name,
        version=base.number,
        versions=info.latest_number,
        active=info.active_number,
        decisions=count_cases(session, name),
        exceptions=count_cases(session, name, exceptions_only=True),
        limit=limit,
    )
    return _Run(client, gateway, budget, recorder, recorder.messages, limit, db)


def _result(
    recorder: RunRecorder, stop: Stop, proposals: tuple[ProposalRecord, ...]
) -> LlmRunResult:
    record = recorder.finish(stop.status, stop.reason, [p.id for p in proposals])
    return LlmRunResult(recorder.run_id, stop.status, stop.reason, proposals, record)


def _guarded(run: _Run) -> Stop:
    try:
        return _loop(run)
    except Exception as exc:
        return Stop("failed", f"the run broke: {type(exc).__name__}: {str(exc)[:300]}")


def _loop(run: _Run) -> Stop:
    tools = openai_tools()
    while True:
        stop = run.budget.before_model_call()
        if stop is not None:
            return stop
        reply = _call(run, tools)
        if isinstance(reply, Stop):
            return reply
        over = run.budget.spent()
        if over is not None:
            return over
        if not reply.tool_calls:
            if run.gateway.proposals:
                return Stop(
                    "ok", f"the model finished with {len(run.gateway.proposals)} proposal(s)"
                )
            return Stop("no_proposal", "the model finished without an allowed proposal")
        with run.db.session() as session:
            run.rebind(session)
            stop = _tools(run, reply)
        if stop is not None:
            return stop
        if len(run.gateway.proposals) >= run.limit:
            return Stop("ok", f"the run created its {run.limit} proposal(s) (the limit)")


def _call(run: _Run, tools: list[dict[str, Any]]) -> ModelReply | Stop:
    budget, recorder = run.budget, run.recorder
    budget.model_calls += 1
    started = budget.elapsed()
    room = budget.settings.max_tokens - budget.tokens
    try:
        reply = run.client.complete(
            run.messages,
            tools,
            timeout=budget.remaining(),
            max_tokens=max(1, min(MAX_OUTPUT_TOKENS, room)),
        )
    except ModelCallError as exc:
        recorder.failed_call(exc, started, budget.elapsed() - started)
        return Stop("timeout" if exc.kind == "timeout" else "failed", str(exc))
    budget.charge(reply.prompt_tokens, reply.completion_tokens, reply.cost_usd)
    recorder.model_call(reply, started)
    run.messages.append(reply.message())
    return reply


def _malformed(arguments: str) -> bool:
    return not isinstance(parse_arguments(arguments), Mapping)


def _tools(run: _Run, reply: ModelReply) -> Stop | None:
    """Run the answer's tool calls through the gateway; a Stop if the run must end."""
    bad = [_malformed(call.arguments) for call in reply.tool_calls]
    for call, malformed in zip(reply.tool_calls, bad, strict=True):
        if any(bad) and not malformed:
            outcome = run.gateway.refuse(call.name, call.arguments, call.id, SKIPPED)
        else:
            outcome = run.gateway.call(call.name, call.arguments, call.id)
        run.messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.result})
        if run.gateway.stop is not None:
            return run.gateway.stop
    if not any(bad):
        run.repairing = False
        return None
    if run.repairing:
        return Stop(
            "failed", "the model sent malformed tool-call arguments again after a repair round"
        )
    run.repairing = True
    return None
