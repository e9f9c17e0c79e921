"""The model client's own hard deadline: litellm does not enforce its time-out around a custom
provider, so the client waits for the call only until the run's deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from proposer.llm import LitellmClient, LlmSettings, ModelCallError
from proposer.llm.client import _litellm


@pytest.fixture
def sleepy() -> Iterator[None]:
    """A litellm custom provider ``sleepy/`` that answers after a second, whatever time-out
    it is given (registered for this test only)."""
    litellm = _litellm()
    provider: Any = litellm.CustomLLM

    class Sleepy(provider):  # type: ignore[misc]
        def completion(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(1.0)
            return litellm.completion(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "x"}],
                mock_response="late",
            )

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return self.completion()

    litellm.custom_provider_map = [{"provider": "sleepy", "custom_handler": Sleepy()}]
    litellm.utils.custom_llm_setup()
    yield
    litellm.custom_provider_map = []
    for names in (litellm.provider_list, litellm._custom_providers):
        while "sleepy" in names:
            names.remove("sleepy")


@pytest.mark.usefixtures("sleepy")
def test_the_deadline_holds_around_a_provider_that_ignores_time_outs() -> None:
    client = LitellmClient(LlmSettings(model="sleepy/slow", retries=0, call_timeout_s=0.1))
    started = time.monotonic()
    with pytest.raises(ModelCallError) as err:
        client.complete([{"role": "user", "content": "hi"}], [], timeout=0.2, max_tokens=10)
    assert err.value.kind == "timeout"
    assert time.monotonic() - started < 0.9  # the provider itself takes 1 s
