"""A run's record, kept as the run goes and written to ``llm_runs`` synchronously (never
through litellm's logging callbacks, which may drop work).

The record::

    {"run_id", "ruleset", "base_version", "base_hash", "actor", "author",
     "model", "fallback_model", "fallback_used", "models_used", "api_base",
     "prompt_version", "prompt_sha256", "tool_schema_version", "limits", "proposal_limit",
     "status", "reason", "started_at", "finished_at",
     "messages": [every message sent to or received from the model, in order],
     "model_calls": [{"n", "model", "fallback_used", "latency_s", "prompt_tokens",
                      "completion_tokens", "cost_usd", "cost_known", "finish_reason", ...}],
     "tool_calls": [{"seq", "call_id", "tool", "arguments", "verdict", "reason", ...}],
     "totals": {"model_calls", "tool_calls", "tokens", "cost_usd", "cost_known", ...},
     "proposal_ids": [...]}

A proposal the run creates carries, in ``proposals.run``, the record as it stood when the
model submitted it (``"status": "running"``; everything the model saw and did up to that
call, and the ``run_id``). It is never updated afterwards: the proposal's audit events vouch
for its content, run record included. :meth:`RunRecorder.finish` writes the final record and
status to ``llm_runs`` and appends the ``llm.run`` audit event with the final record's SHA-256,
in the caller's transaction.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.orm import Session

from proposer.llm.budget import Budget
from proposer.llm.client import ModelReply
from proposer.llm.errors import ModelCallError
from proposer.llm.gateway import GatewayEntry
from proposer.llm.prompt import Prompt
from proposer.llm.settings import LlmSettings
from proposer.llm.tools import TOOL_SCHEMA_VERSION
from rules import audit
from rules.core.document import canonical_json
from rules.store import versions
from rules.store.models import LlmRun, utcnow
from rules.store.versions import VersionInfo

__all__ = ["LIMITS", "NUL_MARK", "RunRecorder", "without_nul"]


LIMITS = ("max_cost_usd", "max_calls", "max_tokens", "max_tool_calls", "timeout_s")


def _without_credentials(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` part (a run record is no place for secrets)."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _header(
    version: VersionInfo, actor: str, settings: LlmSettings, prompt: Prompt, limit: int
) -> dict[str, Any]:
    s = settings.to_dict()
    return {
        "run_id": None,
        "ruleset": version.ruleset,
        "base_version": version.number,
        "base_hash": version.hash,
        "actor": actor,
        "author": f"llm:{settings.model}" if settings.model else None,
        "model": settings.model,
        "fallback_model": settings.fallback_model,
        "api_base": _without_credentials(settings.api_base),
        "prompt_version": prompt.version,
        "prompt_sha256": prompt.sha256,
        "tool_schema_version": TOOL_SCHEMA_VERSION,
        "limits": {k: s[k] for k in (*LIMITS, "call_timeout_s", "retries")},
        "proposal_limit": limit,
        "started_at": utcnow().isoformat(),
    }


NUL_MARK = "\u2400"  # SYMBOL FOR NULL: what a NUL the model sent is recorded as


def without_nul(value: Any) -> Any:
    """``value`` with every NUL character in its texts (keys too) shown as ``NUL_MARK``: a
    database refuses NUL in text, and the record of what the model sent must still be kept."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_MARK)
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


class RunRecorder:
    """Collects one run's record on ruleset version ``version`` (the base); :meth:`start`
    inserts its ``llm_runs`` row."""

    def __init__(
        self,
        session: Session,
        version: VersionInfo,
        *,
        actor: str,
        settings: LlmSettings,
        prompt: Prompt,
        proposal_limit: int,
    ) -> None:
        self.session = session
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.gateway_log: Sequence[GatewayEntry] = ()
        self.budget: Budget | None = None
        self.header = _header(version, actor, settings, prompt, proposal_limit)
        ruleset_id = versions.ruleset_id(session, version.ruleset)
        self.row = LlmRun(
            ruleset_id=ruleset_id,
            base_number=version.number,
            status="running",
            actor=actor,
            model=settings.model,
            record={},
            proposal_ids=[],
        )

    @property
    def run_id(self) -> int:
        return int(self.row.id)

    def rebind(self, session: Session) -> None:
        """Write through ``session`` from now on (the run's row joins it)."""
        self.session = session
        session.add(self.row)

    def start(self) -> int:
        self.session.add(self.row)
        self.session.flush()
        self.header["run_id"] = self.row.id
        return self.run_id

    def model_call(self, reply: ModelReply, started_s: float) -> None:
        self.calls.append(
            {
                "n": len(self.calls) + 1,
                "started_s": round(started_s, 6),
                "model": reply.model,
                "fallback_used": reply.fallback_used,
                "latency_s": reply.latency_s,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                "cost_usd": reply.cost_usd,
                "cost_known": reply.cost_usd is not None,
                "finish_reason": reply.finish_reason,
                "tool_calls": len(reply.tool_calls),
            }
        )

    def failed_call(self, error: ModelCallError, started_s: float, latency_s: float) -> None:
        self.calls.append(
            {
                "n": len(self.calls) + 1,
                "started_s": round(started_s, 6),
                "model": error.model,
                "error": str(error),
                "kind": error.kind,
                "latency_s": round(latency_s, 6),
            }
        )

    def snapshot(self, status: str = "running", reason: str | None = None) -> dict[str, Any]:
        """The record as it stands (a copy)."""
        answered = [c for c in self.calls if "error" not in c]
        used = list(dict.fromkeys(str(c["model"]) for c in answered))
        record: dict[str, Any] = without_nul(
            {
                **copy.deepcopy(self.header),
                "status": status,
                "reason": reason,
                "fallback_used": any(c.get("fallback_used") for c in answered),
                "models_used": used,
                "messages": copy.deepcopy(self.messages),
                "model_calls": copy.deepcopy(self.calls),
                "tool_calls": [entry.to_dict() for entry in self.gateway_log],
                "totals": None if self.budget is None else self.budget.to_dict(),
                "proposal_ids": list(self.row.proposal_ids or []),
            }
        )
        return record

    def finish(self, status: str, reason: str, proposal_ids: Sequence[int]) -> dict[str, Any]:
        """Write the final record and status, and audit the run."""
        self.row.proposal_ids = list(proposal_ids)
        record = self.snapshot(status, reason)
        record["finished_at"] = utcnow().isoformat()
        audit.lock_head(self.session)
        self.row.status, self.row.reason = status, reason
        self.row.record, self.row.finished_at = record, utcnow()
        self.session.flush()
        totals = record["totals"] or {}
        audit.append(
            self.session,
            str(self.header["actor"]),
            "llm.run",
            f"ruleset:{self.header['ruleset']}",
            {
                "run_id": self.run_id,
                "ruleset": self.header["ruleset"],
                "status": status,
                "reason": reason,
                "model": self.header["model"],
                "fallback_used": record["fallback_used"],
                "prompt_version": self.header["prompt_version"],
                "tool_schema_version": TOOL_SCHEMA_VERSION,
                "proposal_ids": list(proposal_ids),
                "model_calls": totals.get("model_calls", 0),
                "tool_calls": totals.get("tool_calls", 0),
                "tokens": totals.get("tokens", 0),
                "cost_usd": totals.get("cost_usd", 0),
                "record_sha256": hashlib.sha256(canonical_json(record)).hexdigest(),
            },
        )
        return record
