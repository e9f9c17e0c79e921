"""``rulebook_client`` against a live ``rulebook serve``: every call, sync and async, on SQLite
and PostgreSQL; the answers are the server's own, read into typed results."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from rulebook_client import (
    AsyncClient,
    AuthenticationError,
    BatchItem,
    ConflictError,
    Decision,
    NotFoundError,
    PermissionDeniedError,
    RulebookError,
    ValidationError,
)

from tests.clients.conftest import APPROVE, NAME, REFER, Connect, Live

pytestmark = pytest.mark.xdist_group("client-live")


def _rid() -> str:
    return f"app-{uuid.uuid4()}"


def test_decide_records_and_a_repeated_request_id_returns_the_stored_decision(rb: Any) -> None:
    rid = _rid()
    first = rb.decide(NAME, APPROVE, request_id=rid)
    assert isinstance(first, Decision)
    assert (first.ruleset, first.version, first.request_id) == (NAME, 1, rid)
    assert first.outputs == {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
    assert first.rule_ids == first.matched == ("approve-clean-low-debt",)
    assert (first.exception, first.error, first.created) == (False, None, True)
    assert len(first.version_hash) == 64
    assert first.decided_at.tzinfo is not None
    assert abs(datetime.now(UTC) - first.decided_at).total_seconds() < 60

    again = rb.decide(NAME, APPROVE, request_id=rid)
    assert again.created is False
    assert again == Decision(**{**first.__dict__, "created": False})


def test_a_decision_without_request_id_gets_a_generated_uuid(rb: Any) -> None:
    one, two = rb.decide(NAME, REFER), rb.decide(NAME, REFER)
    assert one.exception is True
    assert one.outputs["outcome"] == "refer"
    assert uuid.UUID(one.request_id) != uuid.UUID(two.request_id)
    assert one.decision_id != two.decision_id


def test_a_pinned_version_that_does_not_exist_is_not_found(rb: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        rb.decide(NAME, APPROVE, version=7)
    assert caught.value.status == 404
    assert "has no version 7" in caught.value.detail


def test_batch_decides_in_order_and_repeats_by_request_id(rb: Any) -> None:
    rid = _rid()
    items = [APPROVE, BatchItem(REFER, request_id=rid), {**APPROVE, "insurance": True}]
    decided = rb.decide_batch(NAME, items, version=1)
    assert [d.outputs["outcome"] for d in decided] == ["approve", "refer", "decline"]
    assert [d.decision_id for d in decided] == sorted(d.decision_id for d in decided)
    assert decided[1].request_id == rid
    generated = {decided[0].request_id, decided[2].request_id}
    assert len({str(uuid.UUID(r)) for r in generated}) == 2
    assert all(d.created is None for d in decided)  # the batch answer does not say per item

    # the same items again (with the request_ids the first call generated): nothing new
    repeat = [
        BatchItem(f, d.request_id) for f, d in zip([APPROVE, REFER, items[2]], decided, strict=True)
    ]
    assert rb.decide_batch(NAME, repeat) == decided


def test_resolve_then_get_shows_the_resolution_and_replay_is_identical(rb: Any) -> None:
    referred = rb.decide(NAME, REFER, request_id=_rid())
    resolution = rb.resolve(referred.decision_id, {"outcome": "approve"}, note="documents checked")
    assert resolution.decision_id == referred.decision_id
    assert resolution.outputs == {"outcome": "approve"}
    assert (resolution.note, resolution.resolved_by, resolution.source) == (
        "documents checked",
        "apikey:app",
        "api",
    )
    assert resolution.override is False  # a referral is not contradicted by a decision

    stored = rb.get_decision(referred.decision_id)
    assert stored.facts == REFER
    assert (stored.caller, stored.source, stored.resolution) == ("apikey:app", "api", resolution)
    assert (stored.outputs, stored.decided_at) == (referred.outputs, referred.decided_at)

    replayed = rb.replay(referred.decision_id)
    assert (replayed.decision_id, replayed.identical, replayed.differences) == (
        referred.decision_id,
        True,
        (),
    )
    assert replayed.stored["outputs"] == replayed.replayed["outputs"] == referred.outputs


def test_an_unresolved_decision_has_no_resolution(rb: Any) -> None:
    decided = rb.decide(NAME, APPROVE)
    assert rb.get_decision(decided.decision_id).resolution is None


def test_rulesets_and_versions(rb: Any) -> None:
    (ruleset,) = [r for r in rb.rulesets() if r.name == NAME]
    assert (ruleset.title, ruleset.active_version, ruleset.latest_version) == (
        "Mortgage pre-approval",
        1,
        1,
    )
    (version,) = rb.versions(NAME)
    assert (version.ruleset, version.version, version.parent, version.active) == (
        NAME,
        1,
        None,
        True,
    )
    assert version.hash == rb.decide(NAME, APPROVE).version_hash
    assert version.created_at >= ruleset.created_at


def test_an_unknown_fact_is_a_validation_error_naming_the_field_and_the_fix(rb: Any) -> None:
    facts = {k: v for k, v in APPROVE.items() if k != "insurance"} | {"insurence": False}
    with pytest.raises(ValidationError) as caught:
        rb.decide(NAME, {**facts, "chist": 9})
    error = caught.value
    assert (error.status, error.type) == (422, "urn:rulebook:problem:invalid-facts")
    by_field = {e.field: e for e in error.errors}
    assert by_field["facts.insurence"].suggestion == "insurance"
    assert by_field["facts.insurence"].code == "RB404"
    assert "above the maximum 6" in by_field["facts.chist"].message
    assert by_field["facts.insurance"].code == "RB405"  # required, and missing
    assert "did you mean 'insurance'?" in str(error)
    assert str(error).startswith("422 Unprocessable Entity: ")


def test_a_wrong_output_value_in_a_resolution_is_a_validation_error(rb: Any) -> None:
    decided = rb.decide(NAME, REFER)
    with pytest.raises(ValidationError) as caught:
        rb.resolve(decided.decision_id, {"outcome": "approved"})
    assert [e.suggestion for e in caught.value.errors] == ["approve"]
    assert rb.get_decision(decided.decision_id).resolution is None  # nothing recorded


def test_a_request_id_reused_with_other_facts_is_a_conflict(rb: Any) -> None:
    rid = _rid()
    rb.decide(NAME, APPROVE, request_id=rid)
    with pytest.raises(ConflictError) as caught:
        rb.decide(NAME, REFER, request_id=rid)
    assert caught.value.status == 409
    assert [(e.field, e.code) for e in caught.value.errors] == [("request_id", "RB411")]


@pytest.mark.parametrize(
    ("call", "detail"),
    [
        (lambda rb: rb.get_decision(2**40), "no decision"),
        (lambda rb: rb.resolve(2**40, {"outcome": "approve"}), "no decision"),
        (lambda rb: rb.replay(2**40), "no decision"),
        (lambda rb: rb.versions("mortgage-aproval"), "did you mean 'mortgage-approval'?"),
        (lambda rb: rb.decide("no such ruleset", APPROVE), "no ruleset named 'no such ruleset'"),
    ],
)
def test_what_does_not_exist_is_not_found(rb: Any, call: Any, detail: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        call(rb)
    assert caught.value.status == 404
    assert detail in caught.value.detail


def test_a_missing_or_unknown_key_is_an_authentication_error(connect: Connect) -> None:
    for key in ("", "rbk_000000000000_not-a-key"):
        with pytest.raises(AuthenticationError) as caught:
            connect(api_key=key).rulesets()
        assert caught.value.status == 401
        assert not isinstance(caught.value, PermissionDeniedError)
        assert caught.value.errors[0].field == "Authorization"


def test_a_key_without_the_scope_is_permission_denied(connect: Connect, live: Live) -> None:
    reader = connect(api_key=live.read_key)
    assert [r.name for r in reader.rulesets()] == [NAME]
    with pytest.raises(PermissionDeniedError) as caught:
        reader.decide(NAME, APPROVE)
    assert caught.value.status == 403
    assert "'decide' scope" in caught.value.detail
    assert isinstance(caught.value, AuthenticationError)


def test_facts_that_are_not_json_fail_before_anything_is_sent(rb: Any) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        rb.decide(NAME, {**APPROVE, "pirat": float("nan")})
    with pytest.raises(TypeError, match="decision id must be an int"):
        rb.get_decision("12")


def test_async_decisions_run_concurrently_on_one_client(live: Live) -> None:
    rids = [_rid() for _ in range(20)]

    async def main() -> list[Decision]:
        async with AsyncClient(live.url, live.key) as rb:
            return list(
                await asyncio.gather(*(rb.decide(NAME, APPROVE, request_id=r) for r in rids))
            )

    decided = asyncio.run(main())
    assert [d.request_id for d in decided] == rids
    assert len({d.decision_id for d in decided}) == len(rids)
    assert all(d.created for d in decided)


def test_every_error_is_a_rulebook_error() -> None:
    import rulebook_client

    exported = [getattr(rulebook_client, name) for name in rulebook_client.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert len(errors) == 10
    assert all(issubclass(e, RulebookError) for e in errors)
