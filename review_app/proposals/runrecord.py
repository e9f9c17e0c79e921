"""A proposer's run record (``proposals.run``), as the dossier shows it. For the LLM
proposer: which model and prompt, what it cost, and every tool call with the gateway's
verdict and reason; for the baseline proposer: what it induced, from how many cases.

The record is the one the proposal was created with (see :mod:`proposer.llm.record`); every
value in it came from the run or the model, so it is shown as text, never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from review_app.proposals.backtest import window_text
from review_app.proposals.evidence import part, plain

__all__ = ["MessageRow", "ModelCallRow", "RunView", "ToolCallRow", "run_view"]


@dataclass(frozen=True, slots=True)
class ToolCallRow:
    seq: str
    tool: str
    allowed: bool
    verdict: str
    kind: str
    reason: str
    arguments: str
    latency: str


@dataclass(frozen=True, slots=True)
class ModelCallRow:
    n: str
    model: str
    fallback_used: bool
    latency: str
    tokens: str
    cost: str
    finish: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class RunView:
    """``kind``: ``llm`` (the agent's record) or ``baseline`` (the rule induction's)."""

    kind: str
    title: str
    facts: tuple[tuple[str, str], ...]  # model, prompt, tokens, cost ... as (term, value)
    tool_calls: tuple[ToolCallRow, ...] = ()
    model_calls: tuple[ModelCallRow, ...] = ()
    messages: tuple[MessageRow, ...] = ()
    denied: int = 0


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return plain(value)


def _usd(value: Any, known: Any = True) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"${value:.4f}" + ("" if known is not False else " (at least; some calls unpriced)")


def _seconds(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "—"


def _tool_call(call: Mapping[str, Any]) -> ToolCallRow:
    allowed = bool(call.get("allowed", call.get("verdict") == "allow"))
    return ToolCallRow(
        seq=_text(call.get("seq")),
        tool=_text(call.get("tool")),
        allowed=allowed,
        verdict="allowed" if allowed else "denied",
        kind=_text(call.get("kind")),
        reason=_text(call.get("reason")),
        arguments=_text(call.get("arguments")),
        latency=_seconds(call.get("latency_s")),
    )


def _model_call(call: Mapping[str, Any]) -> ModelCallRow:
    if call.get("error"):
        tokens, finish = "—", f"failed: {call.get('error')}"
    else:
        tokens = f"{call.get('prompt_tokens', 0):,} in / {call.get('completion_tokens', 0):,} out"
        finish = _text(call.get("finish_reason"))
    return ModelCallRow(
        n=_text(call.get("n")),
        model=_text(call.get("model")),
        fallback_used=bool(call.get("fallback_used")),
        latency=_seconds(call.get("latency_s")),
        tokens=tokens,
        cost=_usd(call.get("cost_usd"), call.get("cost_known", True)),
        finish=finish,
    )


def _message(message: Mapping[str, Any]) -> MessageRow:
    parts = [_text(message.get("content"))] if message.get("content") else []
    if message.get("tool_calls"):
        parts.append("tool calls: " + _text(message.get("tool_calls")))
    return MessageRow(_text(message.get("role")), "\n".join(parts) or "—")


def _facts(run: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    totals = part(run, "totals")
    calls = [c for c in run.get("model_calls") or () if isinstance(c, Mapping)]
    latency = sum(
        c.get("latency_s") or 0 for c in calls if isinstance(c.get("latency_s"), int | float)
    )
    tokens = totals.get("tokens")
    if not isinstance(tokens, int):
        tokens = sum(int(c.get("total_tokens") or 0) for c in calls)
    prompt_tokens = totals.get(
        "prompt_tokens", sum(int(c.get("prompt_tokens") or 0) for c in calls)
    )
    completion = totals.get(
        "completion_tokens", sum(int(c.get("completion_tokens") or 0) for c in calls)
    )
    return (
        ("Model", _text(run.get("model"))),
        ("Fallback model", _text(run.get("fallback_model"))),
        ("Fallback used", "yes" if run.get("fallback_used") else "no"),
        ("Models that answered", ", ".join(map(str, run.get("models_used") or ())) or "—"),
        ("Prompt version", _text(run.get("prompt_version"))),
        ("Prompt SHA-256", _text(run.get("prompt_sha256"))),
        ("Tool-schema version", _text(run.get("tool_schema_version"))),
        ("Tokens", f"{tokens:,} ({prompt_tokens:,} prompt, {completion:,} completion)"),
        ("Cost", _usd(totals.get("cost_usd"), totals.get("cost_known", True))),
        ("Model latency", _seconds(latency)),
        ("Run time when the proposal was made", _seconds(totals.get("elapsed_s"))),
        ("Run", f"#{_text(run.get('run_id'))}, started {_text(run.get('started_at'))}"),
        ("Started by", _text(run.get("actor"))),
        ("Limits", _limits(part(run, "limits"))),
    )


def _limits(limits: Mapping[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {plain(v)}" for k, v in limits.items()) or "—"


def _rule_line(induced: Mapping[str, Any]) -> str:
    precision = induced.get("precision")
    shown = f"{precision:.1%}" if isinstance(precision, int | float) else "—"
    return (
        f"{_text(induced.get('target'))} when "
        f"{'; '.join(map(str, induced.get('conditions') or ())) or '—'}: "
        f"{_text(induced.get('support'))} resolved cases it decides as people did, "
        f"{_text(induced.get('harms'))} it would decide against them (precision {shown})"
    )


def _baseline(run: Mapping[str, Any]) -> RunView:
    found = run.get("induced")
    # One rule per proposal in records made before proposals could hold several.
    rules = (
        [found]
        if isinstance(found, Mapping)
        else [r for r in found or () if isinstance(r, Mapping)]
    )
    recipe = part(run, "recipe")
    facts: list[tuple[str, str]] = [
        ("Proposer", "baseline: rule induction from the exceptions people resolved"),
        ("Decisions learned from", _text(run.get("cases"))),
    ]
    if run.get("role"):
        facts.append(
            (
                "Place on the frontier",
                f"{_text(run.get('role'))}, {_text(recipe.get('target'))} "
                f"(shown {_text(run.get('rank'))}; ceiling "
                f"{_text(run.get('max_agreement_loss'))} points of agreement)",
            )
        )
    if recipe:
        facts.append(
            (
                "How it was learned",
                f"induction at {_text(recipe.get('setting'))}, its first "
                f"{_text(recipe.get('rules'))} rule(s)"
                + (
                    f", then {recipe['repair_rules']} repair rule(s)"
                    if recipe.get("repair_rules")
                    else ""
                ),
            )
        )
    facts += [(f"Rule {n}", _rule_line(r)) for n, r in enumerate(rules, start=1)]
    facts.append(("Window", window_text(part(run, "window"))))
    return RunView("baseline", "Baseline proposer run record", tuple(facts))


def run_view(run: Mapping[str, Any] | None) -> RunView | None:
    """The run record as the dossier shows it; None for a proposal no proposer made."""
    if not run:
        return None
    if run.get("proposer") == "baseline":
        return _baseline(run)
    tool_calls = tuple(_tool_call(c) for c in run.get("tool_calls") or () if isinstance(c, Mapping))
    return RunView(
        kind="llm",
        title="LLM run record",
        facts=_facts(run),
        tool_calls=tool_calls,
        model_calls=tuple(
            _model_call(c) for c in run.get("model_calls") or () if isinstance(c, Mapping)
        ),
        messages=tuple(_message(m) for m in run.get("messages") or () if isinstance(m, Mapping)),
        denied=sum(1 for c in tool_calls if not c.allowed),
    )
