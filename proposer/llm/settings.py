"""The LLM proposer's settings, read from the environment (DESIGN §7).

========================================  ========  ==========================================
variable                                  default   meaning
========================================  ========  ==========================================
RULEBOOK_LLM_MODEL                        unset     litellm model string (``openai/gpt-4o-mini``,
                                                    ``ollama/llama3.1``); unset: the
                                                    deterministic proposer does the job
RULEBOOK_LLM_API_BASE                     unset     the endpoint (an http or https URL)
RULEBOOK_LLM_API_KEY                      unset     the endpoint's key (else the provider's
                                                    usual variable, e.g. OPENAI_API_KEY);
                                                    never recorded
RULEBOOK_LLM_FALLBACK_MODEL               unset     the model tried when the first fails
                                                    (429, 5xx, time-out) after its retries
RULEBOOK_LLM_MAX_COST_USD                 0.50      dollars per run (litellm's price table)
RULEBOOK_LLM_MAX_CALLS                    20        model calls per run
RULEBOOK_LLM_MAX_TOKENS                   200000    tokens per run (prompt + completion)
RULEBOOK_LLM_MAX_TOOL_CALLS               60        tool calls per run
RULEBOOK_LLM_TIMEOUT_S                    120       wall-clock seconds per run (hard deadline)
RULEBOOK_LLM_CALL_TIMEOUT_S               60        seconds one model attempt may take
RULEBOOK_LLM_RETRIES                      2         retries of a failed call per model
========================================  ========  ==========================================

Every limit is enforced by the proposer itself (litellm's own budget does not accrue).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from proposer.llm.errors import LlmSettingsError
from rules.errors import Problem

__all__ = ["ENV", "LlmSettings"]

ENV = {
    "model": "RULEBOOK_LLM_MODEL",
    "api_base": "RULEBOOK_LLM_API_BASE",
    "api_key": "RULEBOOK_LLM_API_KEY",
    "fallback_model": "RULEBOOK_LLM_FALLBACK_MODEL",
    "max_cost_usd": "RULEBOOK_LLM_MAX_COST_USD",
    "max_calls": "RULEBOOK_LLM_MAX_CALLS",
    "max_tokens": "RULEBOOK_LLM_MAX_TOKENS",
    "max_tool_calls": "RULEBOOK_LLM_MAX_TOOL_CALLS",
    "timeout_s": "RULEBOOK_LLM_TIMEOUT_S",
    "call_timeout_s": "RULEBOOK_LLM_CALL_TIMEOUT_S",
    "retries": "RULEBOOK_LLM_RETRIES",
}
MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}\Z")
URL = re.compile(r"https?://[^\s/]+(/\S*)?\Z")
# (low, high, what one unit is) for each numeric setting
BOUNDS: dict[str, tuple[float, float, str]] = {
    "max_cost_usd": (0, 1000, "US dollars per run"),
    "max_calls": (1, 1000, "model calls per run"),
    "max_tokens": (1, 100_000_000, "tokens per run"),
    "max_tool_calls": (1, 10_000, "tool calls per run"),
    "timeout_s": (0.001, 86_400, "seconds per run"),
    "call_timeout_s": (0.001, 86_400, "seconds per model attempt"),
    "retries": (0, 10, "retries per model"),
}
INTEGERS = ("max_calls", "max_tokens", "max_tool_calls", "retries")


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Which model to call and the per-run limits; ``model=None`` means not configured."""

    model: str | None = None
    api_base: str | None = None
    fallback_model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_cost_usd: float = 0.50
    max_calls: int = 20
    max_tokens: int = 200_000
    max_tool_calls: int = 60
    timeout_s: float = 120.0
    call_timeout_s: float = 60.0
    retries: int = 2

    def __post_init__(self) -> None:
        problems = [p for f in fields(self) if (p := _problem(f.name, getattr(self, f.name)))]
        if problems:
            raise LlmSettingsError("the LLM proposer's settings are not valid", problems)

    @property
    def configured(self) -> bool:
        return self.model is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LlmSettings:
        """Settings from ``environ`` (default: the process environment); LlmSettingsError
        naming every variable that is not valid."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for name, var in ENV.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            value = _READERS.get(name, _text)(name, raw)
            problem = value if isinstance(value, Problem) else _problem(name, value)
            if problem is not None:
                problems.append(problem)
            else:
                values[name] = value
        if problems:
            raise LlmSettingsError("the LLM proposer's settings are not valid", problems)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Every setting but the API key (only whether one is set)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        out["api_key_set"] = self.api_key is not None
        return out


def _text(name: str, raw: str) -> str | Problem:
    return raw


def _number(name: str, raw: str) -> float | Problem:
    unit = BOUNDS[name][2]
    whole = name in INTEGERS
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        return Problem(
            "RB950", ENV[name], f"{raw!r} is not {kind} of {unit}; e.g. {_example(name)}"
        )
    return value


_READERS: dict[str, Callable[[str, str], Any]] = dict.fromkeys(BOUNDS, _number)


def _example(name: str) -> str:
    return str(LlmSettings.__dataclass_fields__[name].default)


def _problem(name: str, value: Any) -> Problem | None:
    var = ENV[name]
    if name in ("model", "fallback_model"):
        if value is not None and (not isinstance(value, str) or not MODEL.match(value)):
            return Problem(
                "RB950", var, f"{value!r} is not a litellm model string, e.g. openai/gpt-4o-mini"
            )
        return None
    if name == "api_base":
        if value is not None and (not isinstance(value, str) or not URL.match(value)):
            return Problem("RB950", var, f"{value!r} is not an http(s) URL, e.g. http://host/v1")
        return None
    if name == "api_key":
        ok = value is None or (isinstance(value, str) and value.strip() != "")
        return None if ok else Problem("RB950", var, "an API key is a non-empty string")
    low, high, unit = BOUNDS[name]
    whole = name in INTEGERS
    number = isinstance(value, int) if whole else isinstance(value, int | float)
    if (
        isinstance(value, bool)
        or not number
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        kind = "a whole number" if whole else "a number"
        return Problem("RB950", var, f"{value!r} is not {kind} of {unit} from {low:g} to {high:g}")
    return None
