"""The client's mapping of answers to results and errors, and its retry policy, through httpx's
``MockTransport`` seam: answers the live server does not give on demand (a proxy's HTML page,
a 429, a time-out, an HTTP-date ``Retry-After``). The live tests cover the rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rulebook_client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Retry,
    RulebookError,
    ServerError,
    TransportError,
    UnavailableError,
    ValidationError,
)

Handler = Callable[[httpx.Request], httpx.Response]
NO_WAIT = Retry(attempts=3, backoff=0.0, max_wait=5.0)
DECISION = {
    "decision_id": 7,
    "ruleset": "r",
    "version": 1,
    "version_hash": "0" * 64,
    "outputs": {"outcome": "approve"},
    "rule_ids": ["a"],
    "matched": ["a"],
    "exception": False,
    "request_id": "x",
    "decided_at": "2026-01-02T03:04:05.123456+00:00",
    "a_field_added_later": True,
}


def _sync(handler: Handler, call: Callable[[Any], Any], retry: Retry = NO_WAIT) -> Any:
    with Client(
        "http://rulebook.test", "k", retry=retry, transport=httpx.MockTransport(handler)
    ) as rb:
        return call(rb)


def _async(handler: Handler, call: Callable[[Any], Any], retry: Retry = NO_WAIT) -> Any:
    async def main() -> Any:
        transport = httpx.MockTransport(handler)
        async with AsyncClient("http://rulebook.test", "k", retry=retry, transport=transport) as rb:
            return await call(rb)

    return asyncio.run(main())


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return _sync if request.param == "sync" else _async


def _answers(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving ``responses`` in turn (raising the exceptions), and the requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[len(seen) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def _problem(status: int, headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "T", "status": status, "detail": "d", "errors": []}
    return httpx.Response(status, json={**body, **extra}, headers=headers)


def test_the_request_carries_the_key_the_path_and_the_body(run: Callable[..., Any]) -> None:
    handler, seen = _answers(httpx.Response(201, json=DECISION))
    d = run(handler, lambda rb: rb.decide("a b", {"x": 1}, request_id="r1", version=2))
    (request,) = seen
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v1/rulesets/a%20b/decisions")
    assert request.headers["Authorization"] == "Bearer k"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"facts": {"x": 1}, "request_id": "r1", "version": 2}
    assert d.decided_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert (d.decision_id, d.rule_ids, d.created) == (7, ("a",), True)


def test_a_base_url_with_a_path_prefix_is_kept(run: Callable[..., Any]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    with Client("http://h/rulebook/", "k", transport=httpx.MockTransport(handler)) as rb:
        assert rb.rulesets() == []
    assert seen[0].url.path == "/rulebook/api/v1/rulesets"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, RulebookError),
        (409, ConflictError),
        (413, BadRequestError),
        (415, BadRequestError),
        (422, ValidationError),
        (429, RulebookError),
        (500, ServerError),
        (502, ServerError),
        (503, UnavailableError),
    ],
)
def test_each_status_is_its_error(run: Callable[..., Any], status: int, error: type) -> None:
    errors = [{"field": "facts.x", "message": "m", "code": "RB1", "suggestion": "y"}]
    handler, _ = _answers(*[_problem(status, errors=errors)] * 3)
    with pytest.raises(RulebookError) as caught:
        run(handler, lambda rb: rb.get_decision(1), Retry(attempts=1))
    assert type(caught.value) is error
    assert (caught.value.status, caught.value.detail) == (status, "d")
    assert [(e.field, e.code, e.suggestion) for e in caught.value.errors] == [
        ("facts.x", "RB1", "y")
    ]


def test_an_answer_that_is_not_a_problem_keeps_its_text(run: Callable[..., Any]) -> None:
    page = httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
    handler, _ = _answers(page)
    with pytest.raises(ServerError) as caught:
        run(handler, lambda rb: rb.rulesets())
    assert caught.value.detail == "<html><body>Bad Gateway</body></html>"
    assert (caught.value.status, caught.value.title, caught.value.errors) == (
        502,
        "Bad Gateway",
        (),
    )


def test_a_success_of_the_wrong_shape_is_an_error_not_a_crash(run: Callable[..., Any]) -> None:
    handler, _ = _answers(httpx.Response(200, json={"decision_id": 1}))
    with pytest.raises(RulebookError, match="expected shape") as caught:
        run(handler, lambda rb: rb.get_decision(1))
    assert caught.value.status == 200


def test_a_503_sequence_is_retried_with_the_same_body(run: Callable[..., Any]) -> None:
    busy = _problem(503, headers={"Retry-After": "0"})
    handler, seen = _answers(busy, busy, httpx.Response(200, json={"items": [DECISION] * 2}))
    decided = run(handler, lambda rb: rb.decide_batch("r", [{"x": 1}, {"x": 2}]))
    assert [d.decision_id for d in decided] == [7, 7]
    assert len(seen) == 3
    assert seen[0].content == seen[1].content == seen[2].content
    ids = [item["request_id"] for item in json.loads(seen[0].content)["items"]]
    assert len(set(ids)) == 2


def test_an_http_date_retry_after_is_read(run: Callable[..., Any]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    handler, seen = _answers(_problem(503, headers={"Retry-After": when}))
    with pytest.raises(UnavailableError) as caught:
        run(handler, lambda rb: rb.rulesets())
    assert len(seen) == 1  # more than max_wait: not waited for
    assert 80 < caught.value.retry_after <= 90


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("slow"), True),
        (httpx.ReadTimeout("slow"), False),
        (httpx.RemoteProtocolError("dropped"), False),
        (httpx.WriteError("broken"), False),
    ],
)
def test_resolve_is_retried_only_when_nothing_was_sent(
    run: Callable[..., Any], failure: Exception, retried: bool
) -> None:
    answer = {
        "decision_id": 1,
        "outputs": {"o": 1},
        "override": False,
        "note": None,
        "resolved_by": "k",
        "source": "api",
        "resolved_at": "2026-01-01T00:00:00+00:00",
    }
    handler, seen = _answers(failure, httpx.Response(201, json=answer))
    call = lambda rb: rb.resolve(1, {"o": 1})  # noqa: E731
    if retried:
        assert run(handler, call).outputs == {"o": 1}
    else:
        with pytest.raises(TransportError) as caught:
            run(handler, call)
        assert caught.value.__cause__ is failure
    assert len(seen) == (2 if retried else 1)


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset")],
)
def test_idempotent_calls_are_retried_after_any_network_failure(
    run: Callable[..., Any], failure: Exception
) -> None:
    handler, seen = _answers(failure, failure, httpx.Response(200, json={"items": []}))
    assert run(handler, lambda rb: rb.versions("r")) == []
    assert len(seen) == 3


def test_an_unsupported_url_is_not_retried(run: Callable[..., Any]) -> None:
    handler, seen = _answers(httpx.UnsupportedProtocol("ftp"), httpx.UnsupportedProtocol("ftp"))
    with pytest.raises(TransportError):
        run(handler, lambda rb: rb.rulesets())
    assert len(seen) == 1


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULEBOOK_API_KEY", "from-env")
    handler, seen = _answers(httpx.Response(200, json={"items": []}))
    with Client("http://h", transport=httpx.MockTransport(handler)) as rb:
        rb.rulesets()
    assert seen[0].headers["Authorization"] == "Bearer from-env"


@given(
    st.integers(min_value=1, max_value=40),
    st.floats(min_value=0, max_value=5),
    st.floats(min_value=0, max_value=60),
    st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)
def test_waits_grow_and_honour_retry_after(
    retry: int, backoff: float, max_wait: float, after: float | None
) -> None:
    policy = Retry(attempts=50, backoff=backoff, max_wait=max_wait)
    wait = policy.wait(retry, after)
    ceiling = min(max_wait, backoff * 2 ** (retry - 1))
    if after is not None and after > max_wait:
        assert wait is None
        return
    assert wait is not None
    assert ceiling / 2 <= wait <= max(ceiling, after or 0)
    if after is not None:
        assert wait >= after


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"backoff": -1}, {"max_wait": -0.1}])
def test_a_retry_policy_that_makes_no_sense_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"attempts|negative"):
        Retry(**bad)
