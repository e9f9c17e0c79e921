"""``Client`` and ``AsyncClient``: the same calls, sent with httpx's sync or async client.

Both build each call with :mod:`rulebook_client._calls` and retry it with
:class:`rulebook_client._retry.Attempts`; only the sending and the waiting differ.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from rulebook_client import _calls
from rulebook_client._calls import Call, Item
from rulebook_client._models import Decision, DecisionDetail, Replay, Resolution, Ruleset, Version
from rulebook_client._retry import Attempts, Retry

__all__ = ["API_KEY_ENV", "DEFAULT_TIMEOUT", "AsyncClient", "Client"]

T = TypeVar("T")
VERSION = "0.1.0"
API_KEY_ENV = "RULEBOOK_API_KEY"
# Connecting should be quick; an answer includes the database's commit.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _options(
    base_url: str,
    api_key: str | None,
    timeout: float | httpx.Timeout,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """httpx client settings shared by both clients."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    sent = {"Accept": "application/json", "User-Agent": f"rulebook-client/{VERSION}"}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    sent.update(headers or {})
    return {"base_url": base_url, "headers": sent, "timeout": timeout}


class Client:
    """A client of the decision API at ``base_url`` (e.g. ``http://127.0.0.1:8000``).

    ``api_key`` defaults to the ``RULEBOOK_API_KEY`` environment variable. ``timeout`` is in
    seconds (or an ``httpx.Timeout``) per attempt; ``retry`` says how often and how long
    apart retryable calls are tried (see :class:`Retry`). ``transport`` replaces httpx's
    network transport (e.g. ``httpx.MockTransport`` in tests). Use it as a context manager,
    or call :meth:`close`. Every method raises a :class:`RulebookError` subclass on failure.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry if retry is not None else Retry()
        options = _options(base_url, api_key, timeout, headers)
        self._http = httpx.Client(**options, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempts = Attempts(self.retry, call.safety, call.what)
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, content=call.content, headers=call.headers
                )
            except httpx.TransportError as exc:
                time.sleep(attempts.failed(exc))
                continue
            wait = attempts.answered(response)
            if wait is None:
                return call.answer(response)
            time.sleep(wait)

    def decide(
        self,
        ruleset: str,
        facts: Mapping[str, Any],
        *,
        request_id: str | None = None,
        version: int | None = None,
    ) -> Decision:
        """Decide ``facts`` with the active version (or ``version``) and record it.

        ``request_id`` makes the call idempotent: the same id with the same facts returns the
        stored decision. Without one a UUID is generated, so a retry never decides twice."""
        return self._send(_calls.decide(ruleset, facts, request_id, version))

    def decide_batch(
        self, ruleset: str, items: Iterable[Item], *, version: int | None = None
    ) -> list[Decision]:
        """Decide every item with one version, in order; all are recorded or none.

        An item is a facts mapping or a :class:`BatchItem` with its own request_id; items
        without one get a generated UUID."""
        return self._send(_calls.decide_batch(ruleset, items, version))

    def get_decision(self, decision_id: int) -> DecisionDetail:
        """The stored decision with its facts, caller and latest resolution."""
        return self._send(_calls.get_decision(decision_id))

    def resolve(
        self, decision_id: int, outputs: Mapping[str, Any], *, note: str | None = None
    ) -> Resolution:
        """Record the outcome a person chose. Retried only if the request never left."""
        return self._send(_calls.resolve(decision_id, outputs, note))

    def replay(self, decision_id: int) -> Replay:
        """Re-evaluate a stored decision under its recorded version and compare."""
        return self._send(_calls.replay(decision_id))

    def rulesets(self) -> list[Ruleset]:
        """Every ruleset with its active and latest version."""
        return self._send(_calls.rulesets())

    def versions(self, ruleset: str) -> list[Version]:
        """A ruleset's versions, oldest first."""
        return self._send(_calls.versions(ruleset))


class AsyncClient:
    """:class:`Client`'s methods as coroutines, on ``httpx.AsyncClient``; same arguments."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry if retry is not None else Retry()
        options = _options(base_url, api_key, timeout, headers)
        self._http = httpx.AsyncClient(**options, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempts = Attempts(self.retry, call.safety, call.what)
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, content=call.content, headers=call.headers
                )
            except httpx.TransportError as exc:
                await asyncio.sleep(attempts.failed(exc))
                continue
            wait = attempts.answered(response)
            if wait is None:
                return call.answer(response)
            await asyncio.sleep(wait)

    async def decide(
        self,
        ruleset: str,
        facts: Mapping[str, Any],
        *,
        request_id: str | None = None,
        version: int | None = None,
    ) -> Decision:
        """As :meth:`Client.decide`."""
        return await self._send(_calls.decide(ruleset, facts, request_id, version))

    async def decide_batch(
        self, ruleset: str, items: Iterable[Item], *, version: int | None = None
    ) -> list[Decision]:
        """As :meth:`Client.decide_batch`."""
        return await self._send(_calls.decide_batch(ruleset, items, version))

    async def get_decision(self, decision_id: int) -> DecisionDetail:
        """As :meth:`Client.get_decision`."""
        return await self._send(_calls.get_decision(decision_id))

    async def resolve(
        self, decision_id: int, outputs: Mapping[str, Any], *, note: str | None = None
    ) -> Resolution:
        """As :meth:`Client.resolve`."""
        return await self._send(_calls.resolve(decision_id, outputs, note))

    async def replay(self, decision_id: int) -> Replay:
        """As :meth:`Client.replay`."""
        return await self._send(_calls.replay(decision_id))

    async def rulesets(self) -> list[Ruleset]:
        """As :meth:`Client.rulesets`."""
        return await self._send(_calls.rulesets())

    async def versions(self, ruleset: str) -> list[Version]:
        """As :meth:`Client.versions`."""
        return await self._send(_calls.versions(ruleset))
