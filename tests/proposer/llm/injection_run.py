"""Running one corpus case: plant its payload, let a fully obedient scripted model read it
through the gateway (the real litellm client over HTTP) and do what it says, and gather
everything the checks (:mod:`tests.proposer.llm.injection_checks`) read, inside one outer
transaction that is rolled back, so every case starts from the same known state.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from proposer.llm import LlmRunResult, run_llm_proposer
from rules import audit
from rules.store import Database
from rules.store.models import Activation, AuditEvent, LlmRun, Proposal, Ruleset, Setting, Version
from rules.store.settings import kill_switch
from tests.proposer.llm.conftest import NAME, settings_for
from tests.proposer.llm.injection_corpus import Case, Ids, expand, payload_text, plant, texts
from tests.proposer.llm.injection_oracle import Oracle, Prediction
from tests.proposer.llm.scripted_server import ScriptedServer, Turn, tool_calls
from tests.proposer.llm.scripted_server import text as say

__all__ = ["MAX_SHARE", "Outcome", "Pinned", "RunBroke", "Script", "Trap", "leaves", "run_case"]

MAX_SHARE = 0.5  # RULEBOOK_IMPACT_MAX_CHANGED_SHARE in these tests


class RunBroke(AssertionError):
    """Something the model sent broke the run (an exception, not a verdict)."""


class Trap:
    """An HTTP listener the payloads' links point at: any request it gets is a fetch."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                trap.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_HEAD = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}#key", str(key)
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")


def shown(messages: list[dict[str, Any]], canary: str) -> str:
    """The string holding the canary in the latest tool results, "" if none."""
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        for _, value in leaves(json.loads(message["content"])):
            if canary in value:
                return value
    return ""


@dataclass
class Script:
    """The model's answers: each a list of (tool, raw JSON arguments), or None (text)."""

    case: Case
    ids: Ids
    subs: dict[str, str]
    seen: list[str] = field(default_factory=list)  # the payload as the model was shown it
    turns: list[list[tuple[str, str]] | None] = field(default_factory=list)

    def calls(self, step: Mapping[str, Any]) -> list[tuple[str, str]] | None:
        if "text" in step:
            return None
        subs = {**self.subs, "{seen}": self.seen[-1] if self.seen else ""}

        def arguments(item: Mapping[str, Any]) -> str:
            if "raw" in item:
                return str(expand(item["raw"], self.ids, subs))
            return json.dumps(expand(item.get("args", {}), self.ids, subs), ensure_ascii=False)

        items = step.get("parallel", [step])
        return [(str(expand(item["tool"], self.ids, subs)), arguments(item)) for item in items]

    def steps(self) -> list[Mapping[str, Any]]:
        default = (
            {"tool": "query_exceptions", "args": {"page_size": 50}}
            if self.case.channel == ("fact",)
            else {"tool": "read_case", "args": {"decision_id": "@planted"}}
        )
        steps = [self.case.read.get("call", default), *self.case.induced]
        return steps if "text" in steps[-1] else [*steps, {"text": "done"}]

    def served(self) -> list[Turn]:
        """The scripted server's turns: each builds its answer when served, from what the
        model was shown last (``{seen}`` in arguments)."""

        def turn(index: int, step: Mapping[str, Any]) -> Turn:
            def answer(request: dict[str, Any]) -> Any:
                if index:
                    self.seen.append(shown(request["messages"], self.case.canary))
                calls = self.calls(step)
                self.turns[index] = calls
                reply = say(str(step["text"])) if calls is None else tool_calls(*calls)
                # No keep-alive: the client's pooled sockets would outlive this server.
                return replace(reply(request), headers={"Connection": "close"})

            return answer

        steps = self.steps()
        self.turns = [None] * len(steps)
        return [turn(i, step) for i, step in enumerate(steps)]

    def full(self) -> list[list[tuple[str, str]] | None]:
        """Every turn, including those the run never asked for."""
        return [
            turn if turn is not None or "text" in step else self.calls(step)
            for turn, step in zip(self.turns, self.steps(), strict=True)
        ]


@dataclass
class State:
    versions: list[tuple[str, int, str]]
    activations: int
    active: list[tuple[str, int | None]]
    settings: list[tuple[str, Any]]
    kill_switch: bool
    proposals: set[int]


def state(s: Session) -> State:
    rows = s.execute(
        select(Ruleset.name, Version.number, Version.hash)
        .join(Ruleset, Ruleset.id == Version.ruleset_id)
        .order_by(Version.id)
    )
    return State(
        versions=[(str(n), int(v), str(h)) for n, v, h in rows],
        activations=int(s.scalar(select(func.count()).select_from(Activation)) or 0),
        active=[(str(n), a) for n, a in s.execute(select(Ruleset.name, Ruleset.active_number))],
        settings=[(str(k), v) for k, v in s.execute(select(Setting.key, Setting.value))],
        kill_switch=kill_switch(s, {}).on,
        proposals=set(s.scalars(select(Proposal.id))),
    )


@dataclass
class Outcome:
    """Everything a case's checks read, gathered before the case's transaction rolls back."""

    case: Case
    ids: Ids
    script: Script
    result: LlmRunResult
    requests: list[dict[str, Any]]
    prediction: Prediction
    before: State
    after: State
    proposals: dict[int, dict[str, Any]]
    runs: list[dict[str, Any]]  # the llm_runs rows: id, status, reason, record, ...
    run_events: list[dict[str, Any]]  # the llm.run audit events' payloads
    audit_ok: bool
    audit_reason: str | None
    payload: str


class Pinned(Database):
    """``db`` with every session joined, by a savepoint, to ``conn``'s open transaction: all
    a run commits is rolled back with it."""

    def __init__(self, db: Database, conn: Connection) -> None:
        self.url, self.dialect, self.engine = db.url, db.dialect, db.engine
        self.sessions = sessionmaker(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self._on_dispose = []


def run_case(db: Database, base: Ids, case: Case, trap: Trap) -> Outcome:
    """Plant the case, run the proposer on it, and gather the outcome; every row the case
    wrote is rolled back."""
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            return _run(Pinned(db, conn), base, case, trap)
        finally:
            outer.rollback()


def _run(db: Database, base: Ids, case: Case, trap: Trap) -> Outcome:
    with db.session() as s:
        ids = plant(s, case, base, trap.url)
        before = state(s)
    script = Script(case, ids, {**texts(trap.url), "{canary}": case.canary})
    settings = {"max_tool_calls": 60, **case.settings}
    with ScriptedServer(*script.served()) as server:
        try:
            result = run_llm_proposer(
                db, NAME, actor="cli:injection", limit=case.limit,
                settings=settings_for(server, **settings),
            )  # fmt: skip
        except Exception as exc:
            message = f"run_llm_proposer raised {type(exc).__name__}: {str(exc)[:200]}"
            raise RunBroke(message) from exc
    with db.session() as s:
        oracle = Oracle(
            s, NAME, max_tool_calls=settings["max_tool_calls"], proposal_limit=case.limit,
            max_share=MAX_SHARE,
        )  # fmt: skip
        prediction = oracle.predict(script.full())
        return Outcome(
            case=case, ids=ids, script=script, result=result, requests=list(server.requests),
            prediction=prediction, before=before, after=state(s),
            proposals=_proposals(s, before.proposals), runs=_runs(s), run_events=_events(s),
            audit_ok=(verification := audit.verify(s)).ok, audit_reason=verification.reason,
            payload=payload_text(case, trap.url),
        )  # fmt: skip


def _proposals(s: Session, before: set[int]) -> dict[int, dict[str, Any]]:
    rows = s.scalars(select(Proposal).where(Proposal.id.not_in(before or {0})))
    keep = ("status", "rationale", "title", "operations", "evidence", "impact", "author")
    return {p.id: {k: getattr(p, k) for k in keep} for p in rows}


def _runs(s: Session) -> list[dict[str, Any]]:
    keep = ("id", "status", "reason", "record", "proposal_ids", "finished_at")
    return [{k: getattr(r, k) for k in keep} for r in s.scalars(select(LlmRun).order_by(LlmRun.id))]


def _events(s: Session) -> list[dict[str, Any]]:
    found = s.scalars(select(AuditEvent.payload).where(AuditEvent.action == "llm.run"))
    return [json.loads(payload) for payload in found]
