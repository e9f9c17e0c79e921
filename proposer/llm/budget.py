"""A run's limits and what it has spent: model calls, tool calls, tokens, cost, wall time.

Enforced by the proposer, never delegated to litellm (its budget does not accrue on
``completion``). A limit is checked before each model call and each tool call; tokens and
cost are known only after a call, so the call that goes over is the run's last one: its tool
calls are not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proposer.llm.settings import LlmSettings

__all__ = ["Budget", "Stop"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run stops: its status and a sentence saying which limit."""

    status: str
    reason: str


@dataclass(slots=True)
class Budget:
    settings: LlmSettings
    clock: Clock = time.monotonic
    started: float = field(default=-1.0)
    model_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def deadline(self) -> float:
        return self.started + self.settings.timeout_s

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def time_up(self) -> Stop | None:
        if self.remaining() > 0:
            return None
        return Stop("timeout", f"the run's {self.settings.timeout_s:g} s wall-clock limit passed")

    def before_model_call(self) -> Stop | None:
        """Why no further model call may be made, if one may not."""
        s = self.settings
        if self.model_calls >= s.max_calls:
            return Stop("call_limit", f"the run made its {s.max_calls} model calls (the limit)")
        return self.spent() or self.time_up()

    def spent(self) -> Stop | None:
        """Whether tokens or cost reached their limit."""
        s = self.settings
        if self.tokens >= s.max_tokens:
            return Stop(
                "budget_exhausted",
                f"the run used {self.tokens} tokens; its limit is {s.max_tokens}",
            )
        if self.cost_usd >= s.max_cost_usd:
            return Stop(
                "budget_exhausted",
                f"the run cost ${self.cost_usd:.6f}; its limit is ${s.max_cost_usd:.2f}",
            )
        return None

    def before_tool_call(self) -> Stop | None:
        s = self.settings
        if self.tool_calls >= s.max_tool_calls:
            return Stop("call_limit", f"the run made its {s.max_tool_calls} tool calls (the limit)")
        return self.time_up()

    def charge(self, prompt: int, completion: int, cost: float | None) -> None:
        """Count one model call's usage; ``cost`` None: unknown (counted as 0). The call
        itself is counted when it starts (``model_calls += 1``), answered or not."""
        self.prompt_tokens += max(prompt, 0)
        self.completion_tokens += max(completion, 0)
        if cost is None:
            self.cost_known = False
        else:
            self.cost_usd += max(cost, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_calls": self.model_calls,
            "tool_calls": self.tool_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 8),
            "cost_known": self.cost_known,
            "elapsed_s": round(self.elapsed(), 3),
        }
