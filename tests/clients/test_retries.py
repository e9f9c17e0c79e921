"""Retries against the live server, through a proxy that fails on cue: an idempotent call is
tried again and a retried decision is never recorded twice; ``resolve``, which records each
time, is retried only when its request never left."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rulebook_client import Retry, TransportError, UnavailableError

from tests.clients.conftest import APPROVE, NAME, REFER, Connect, Live
from tests.clients.proxy import Script, proxy
from tests.serving import free_port

pytestmark = pytest.mark.xdist_group("client-retries")

QUICK = Retry(attempts=4, backoff=0.05, max_wait=2.0)


def test_a_decision_whose_answer_was_lost_is_retried_and_recorded_once(
    connect: Connect, live: Live
) -> None:
    rid = f"lost-{uuid.uuid4()}"
    with proxy(live.port, ["drop"]) as flaky:
        d = connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK).decide(
            NAME, APPROVE, request_id=rid
        )
    assert flaky.script.forwarded == 2  # the server saw both attempts...
    assert d.created is False  # ...and answered the second with the first's decision
    stored = connect().get_decision(d.decision_id)
    assert (stored.request_id, stored.facts) == (rid, APPROVE)
    assert connect().decide(NAME, APPROVE, request_id=rid).decision_id == d.decision_id


def test_a_generated_request_id_is_the_same_on_every_attempt(connect: Connect, live: Live) -> None:
    with proxy(live.port, ["drop", "drop"]) as flaky:
        url = f"http://127.0.0.1:{flaky.server_port}"
        d = connect(url, retry=QUICK).decide(NAME, REFER)
        batch = connect(url, retry=QUICK).decide_batch(NAME, [APPROVE, REFER])
    assert flaky.script.forwarded == 4
    assert d.created is False
    uuid.UUID(d.request_id)
    # the dropped batch was recorded; its retry answered with those same decisions
    again = connect().get_decision(batch[1].decision_id)
    assert again.request_id == batch[1].request_id


def test_a_503_is_retried_after_its_retry_after(connect: Connect, live: Live) -> None:
    with proxy(live.port, ["503"]) as flaky:
        flaky.script.retry_after = "1"
        started = time.monotonic()
        d = connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK).decide(NAME, APPROVE)
        waited = time.monotonic() - started
    assert d.created is True
    assert [fault for _, _, fault in flaky.script.seen] == ["503", None]
    assert waited >= 1.0  # the backoff alone would have been at most 0.05 s


def test_a_retry_after_beyond_max_wait_is_not_waited_for(connect: Connect, live: Live) -> None:
    with proxy(live.port, ["503"]) as flaky:
        flaky.script.retry_after = "120"
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK).rulesets()
    assert time.monotonic() - started < 5
    assert caught.value.retry_after == 120
    assert len(flaky.script.seen) == 1


def test_retries_stop_after_the_attempts(connect: Connect, live: Live) -> None:
    with proxy(live.port, ["503"] * 10) as flaky:
        flaky.script.retry_after = "0"
        rb = connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK)
        with pytest.raises(UnavailableError) as caught:
            rb.replay(1)
    assert caught.value.status == 503
    assert caught.value.type == "urn:rulebook:problem:unavailable"
    assert len(flaky.script.seen) == QUICK.attempts
    assert flaky.script.forwarded == 0


def test_resolve_is_not_retried_once_its_request_may_have_arrived(
    connect: Connect, live: Live
) -> None:
    decided = connect().decide(NAME, REFER)
    with proxy(live.port, ["drop"]) as flaky:
        rb = connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK)
        with pytest.raises(TransportError) as caught:
            rb.resolve(decided.decision_id, {"outcome": "approve"}, note="once")
    assert flaky.script.forwarded == 1
    assert caught.value.status is None
    assert caught.value.__cause__ is not None
    # it had arrived: a retry would have recorded a second resolution
    assert connect().get_decision(decided.decision_id).resolution.note == "once"


def test_resolve_is_not_retried_on_a_503(connect: Connect, live: Live) -> None:
    decided = connect().decide(NAME, REFER)
    with proxy(live.port, ["503"]) as flaky:
        flaky.script.retry_after = "0"
        rb = connect(f"http://127.0.0.1:{flaky.server_port}", retry=QUICK)
        with pytest.raises(UnavailableError):
            rb.resolve(decided.decision_id, {"outcome": "approve"})
    assert len(flaky.script.seen) == 1


@contextmanager
def listening_later(port: int, upstream: int, seconds: float) -> Iterator[list[Script]]:
    """A fault-free proxy on ``port`` from ``seconds`` on: until then connections are refused.
    Yields the list its script is put in once it listens."""
    done, scripts = threading.Event(), []

    def run() -> None:
        time.sleep(seconds)
        with proxy(upstream, port=port) as server:
            scripts.append(server.script)
            done.wait(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield scripts
    finally:
        done.set()
        thread.join(10)


@pytest.mark.parametrize("call", ["decide", "resolve"])
def test_a_refused_connection_is_retried_even_for_resolve(
    connect: Connect, live: Live, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    decided = connect().decide(NAME, REFER)
    port = free_port()
    rb = connect(f"http://127.0.0.1:{port}", retry=Retry(attempts=30, backoff=0.1, max_wait=0.2))
    with (
        caplog.at_level(logging.INFO, "rulebook_client"),
        listening_later(port, live.port, 0.5) as scripts,
    ):
        if call == "decide":
            assert rb.decide(NAME, APPROVE).created is True
        else:
            resolved = rb.resolve(decided.decision_id, {"outcome": "approve"})
            assert resolved.decision_id == decided.decision_id
    (script,) = scripts
    assert len(script.seen) == 1  # the refused attempts never reached it
    refused = [r for r in caplog.records if "ConnectError" in r.getMessage()]
    assert refused, caplog.text
    assert all("retry" in r.getMessage() for r in refused)


def test_no_retry_when_attempts_is_one(connect: Connect, live: Live) -> None:
    with proxy(live.port, ["close"]) as flaky:
        rb = connect(f"http://127.0.0.1:{flaky.server_port}", retry=Retry(attempts=1))
        with pytest.raises(TransportError, match="no answer"):
            rb.rulesets()
    assert len(flaky.script.seen) == 1
