"""The model client: the only module that imports litellm, and only when a call is made.

:class:`LitellmClient` sends OpenAI-format messages and tools through a litellm ``Router``:
the configured model first (retried ``settings.retries`` times), then the fallback model on a
rate limit, a server error, a time-out or an unreadable answer. Each attempt may take
``min(call_timeout_s, time left in the run)``; the whole call also runs in a worker thread
that is abandoned at the run's hard deadline, since litellm's own time-out does not hold
around every provider. Cooldowns are off: every call tries the configured model first.

Tokens come from the answer's ``usage``; cost from ``litellm.completion_cost``, or ``None``
(unknown, counted as 0 and recorded so) for a model litellm has no price for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from proposer.llm.errors import ModelCallError
from proposer.llm.settings import LlmSettings

__all__ = ["GRACE_S", "LitellmClient", "ModelClient", "ModelReply", "RequestedCall"]

GRACE_S = 0.25  # how long past the deadline a call's thread is waited for before it is abandoned
PRIMARY, FALLBACK = "primary", "fallback"
_lock = threading.Lock()
_module: Any = None


def _litellm() -> Any:
    """litellm, imported once, configured once (module-global settings)."""
    global _module
    with _lock:
        if _module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            _module = litellm
        return _module


@dataclass(frozen=True, slots=True)
class RequestedCall:
    """A tool call as the model wrote it: ``arguments`` is raw text, possibly not JSON."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ModelReply:
    """One model answer with what it cost."""

    content: str | None
    tool_calls: tuple[RequestedCall, ...]
    finish_reason: str | None
    model: str  # the litellm model string that answered
    fallback_used: bool
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: litellm has no price for the model
    latency_s: float

    def message(self) -> dict[str, Any]:
        """The assistant message, in OpenAI format, as the conversation continues with it."""
        out: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        return out


class ModelClient(Protocol):
    """What the agent needs of a model: one chat completion with tools."""

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        timeout: float,
        max_tokens: int,
    ) -> ModelReply: ...


class LitellmClient:
    """A :class:`ModelClient` on litellm's Router (see the module)."""

    def __init__(self, settings: LlmSettings, clock: Callable[[], float] = time.monotonic) -> None:
        if settings.model is None:
            raise ModelCallError("no model is configured (RULEBOOK_LLM_MODEL)", "error")
        self.settings = settings
        self.clock = clock
        self._router: Any = None

    def _params(self, model: str) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model}
        if self.settings.api_base is not None:
            params["api_base"] = self.settings.api_base
        if self.settings.api_key is not None:
            params["api_key"] = self.settings.api_key
        return params

    def router(self) -> Any:
        if self._router is None:
            litellm = _litellm()
            s = self.settings
            models = [{"model_name": PRIMARY, "litellm_params": self._params(str(s.model))}]
            fallbacks = []
            if s.fallback_model is not None:
                models.append(
                    {"model_name": FALLBACK, "litellm_params": self._params(s.fallback_model)}
                )
                fallbacks = [{PRIMARY: [FALLBACK]}]
            self._router = litellm.Router(
                model_list=models,
                fallbacks=fallbacks,
                num_retries=s.retries,
                timeout=s.call_timeout_s,
                disable_cooldowns=True,
            )
        return self._router

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        timeout: float,
        max_tokens: int,
    ) -> ModelReply:
        """One completion; ModelCallError when every model failed or the deadline passed."""
        router = self.router()
        attempt = max(min(self.settings.call_timeout_s, timeout), 0.001)
        kwargs = {
            "model": PRIMARY,
            "messages": list(messages),
            "tools": list(tools),
            "timeout": attempt,
            "max_tokens": max_tokens,
        }
        started = self.clock()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["response"] = router.completion(**kwargs)
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="rulebook-llm-call", daemon=True)
        worker.start()
        worker.join(max(timeout, 0.0) + GRACE_S)
        latency = round(self.clock() - started, 6)
        if worker.is_alive():
            raise ModelCallError(
                f"the model did not answer within the run's remaining {timeout:.3g} s",
                "timeout",
                self.settings.model,
            )
        if "error" in outcome:
            raise _call_error(outcome["error"], self.settings)
        return _reply(outcome["response"], self.settings, latency)


def _call_error(exc: BaseException, settings: LlmSettings) -> ModelCallError:
    litellm = _litellm()
    kinds = (
        (litellm.Timeout, "timeout"),
        (litellm.RateLimitError, "rate_limit"),
        (litellm.InternalServerError, "server"),
        (litellm.ServiceUnavailableError, "server"),
        (litellm.APIConnectionError, "server"),
    )
    kind = next((name for cls, name in kinds if isinstance(exc, cls)), "error")
    tried = settings.fallback_model or settings.model
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    error = ModelCallError(f"the model call failed ({kind}): {first[:300]}", kind, tried)
    error.__cause__ = exc
    return error


def _tool_calls(message: Any) -> tuple[RequestedCall, ...]:
    found = []
    for i, call in enumerate(getattr(message, "tool_calls", None) or ()):
        function = getattr(call, "function", None)
        arguments = getattr(function, "arguments", None)
        found.append(
            RequestedCall(
                id=str(getattr(call, "id", None) or f"call_{i}"),
                name=str(getattr(function, "name", None) or ""),
                arguments=arguments if isinstance(arguments, str) else "",
            )
        )
    return tuple(found)


def _answered_by(response: Any, settings: LlmSettings) -> tuple[str, bool]:
    hidden = getattr(response, "_hidden_params", None) or {}
    headers = hidden.get("additional_headers") or {}
    name = hidden.get("litellm_model_name")
    fallbacks = int(headers.get("x-litellm-attempted-fallbacks") or 0)
    if not isinstance(name, str):
        name = settings.fallback_model if fallbacks else settings.model
    used = fallbacks > 0 or (name == settings.fallback_model and name != settings.model)
    return str(name), used


def _cost(response: Any, model: str) -> float | None:
    litellm = _litellm()
    # The Router registers its deployments in model_cost, unpriced: a price must be given.
    entries = [litellm.model_cost.get(name) for name in (model, model.split("/", 1)[-1])]
    if not any(_priced(entry) for entry in entries):
        return None
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:
        return None


def _priced(entry: Any) -> bool:
    return isinstance(entry, dict) and any(
        entry.get(key) is not None for key in ("input_cost_per_token", "output_cost_per_token")
    )


def _reply(response: Any, settings: LlmSettings, latency: float) -> ModelReply:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise ModelCallError("the model's answer has no choices", "bad_response", settings.model)
    message = choices[0].message
    usage = getattr(response, "usage", None)
    model, fallback_used = _answered_by(response, settings)
    content = getattr(message, "content", None)
    return ModelReply(
        content=content if isinstance(content, str) else None,
        tool_calls=_tool_calls(message),
        finish_reason=getattr(choices[0], "finish_reason", None),
        model=model,
        fallback_used=fallback_used,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=_cost(response, model),
        latency_s=latency,
    )
