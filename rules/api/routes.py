"""The decision API under ``/api/v1`` (DESIGN §4).

Each view validates its body, calls a store service, and builds its answer only after the
service's transaction has committed: a client never sees a decision that is not on record.
Decisions go through the app's :class:`~rules.store.decisions.DecisionService`, the one
decide-and-record path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from flask import Blueprint, Response, request

from rules.api import metrics, problems
from rules.api.auth import caller, requires
from rules.api.batches import batch_body
from rules.api.bodies import check_id, json_body, parse_time
from rules.api.limits import text_problems
from rules.api.openapi import document
from rules.errors import InvalidRequestError, Problem
from rules.jsontext import dumps
from rules.store import decisions, versions
from rules.store.accounts import ApiKeyInfo
from rules.store.decisions import DecisionService
from rules.store.decisions.requests import check_request_id, new_request_id
from rules.store.extension import database
from rules.store.extension import decisions as decision_service

__all__ = ["IDEMPOTENCY_KEY", "DecisionAnswer", "answer_decision", "bp", "request_id_of"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(Exception, problems.handle)

IDEMPOTENCY_KEY = "Idempotency-Key"  # draft-ietf-httpapi-idempotency-key-header


@bp.before_request
def _storable_text() -> None:
    """A NUL or a lone surrogate in the path or query is a 422 before any query runs."""
    values = [(k, v) for k, v in (request.view_args or {}).items() if isinstance(v, str)]
    if request.query_string:  # else no query to parse
        values += request.args.items(multi=True)
    found = text_problems(values)
    if found:
        raise InvalidRequestError("the address has text that cannot be stored", found)


class _Created(Response):
    """A JSON answer whose ``Location`` is a path this module built (ASCII already): added
    once the headers are final, past werkzeug's IRI-to-URI pass over it (a fifth of the cost
    of building a decision's response, in profiles)."""

    location_path: str | None = None

    def get_wsgi_headers(self, environ: Any) -> Any:
        headers = super().get_wsgi_headers(environ)
        if self.location_path is not None:
            headers["Location"] = self.location_path
        return headers


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, mimetype="application/json")


@dataclass(frozen=True, slots=True)
class DecisionAnswer:
    """A decision's answer: 201 (new) or 200 (a repeated request id), its JSON and the path
    of the stored decision (the ``Location``)."""

    status: int
    body: bytes
    location: str


def answer_decision(
    service: DecisionService, name: str, body: dict[str, Any], request_id: Any, key: ApiKeyInfo
) -> DecisionAnswer:
    """Decide and record ``body`` (a valid DecisionRequest) with ``service`` for the caller
    ``key``: the one decide-and-answer step of the view below and of
    :mod:`rules.api.hot_path` (which calls it outside Flask's request context)."""
    started = perf_counter()
    # Committed before this returns (rules.store.decisions.writers).
    record, created = service.decide(
        name,
        body["facts"],
        version=body.get("version"),
        request_id=request_id,
        caller=key.actor,
        api_key_id=key.id,
    )
    metrics.child(metrics.DECISION_SECONDS, "decision").observe(perf_counter() - started)
    metrics.record_decisions([(record, created)])
    return DecisionAnswer(
        201 if created else 200,
        dumps(record.to_dict()).encode(),  # json.dumps's text (rules.jsontext)
        # url_for would cost a route build per call
        f"{bp.url_prefix}/decisions/{record.id}",
    )


@bp.post("/rulesets/<name>/decisions")
@requires("decide")
def decide(name: str) -> Response:
    """Decide facts with the active (or a pinned) version; 200 for a repeated request_id.

    Requests that pass every check are answered by :mod:`rules.api.hot_path` without
    reaching this view; it serves the others (and answers their problems)."""
    body = json_body("DecisionRequest")
    rid = request_id_of(body, request.headers.get(IDEMPOTENCY_KEY))
    answer = answer_decision(decision_service(), name, body, rid, caller())
    response = _Created(answer.body, answer.status, mimetype="application/json")
    response.location_path = answer.location
    return response


def request_id_of(body: dict[str, Any], header: str | None) -> Any:
    """The request's idempotency key: its ``request_id`` or its ``Idempotency-Key`` header
    (the IETF header, an alias; both with different values is a 422), else a new one
    (returned with the answer, and named by a 503 whose outcome is unknown, so that a retry is
    always safe)."""
    given = body.get("request_id")
    if header is not None:
        key = _sf_string(header)
        wrong = check_request_id(key, IDEMPOTENCY_KEY)
        if wrong:
            raise InvalidRequestError("the Idempotency-Key header is not valid", [wrong])
        if given is not None and given != key:
            raise InvalidRequestError(
                "request_id and the Idempotency-Key header differ",
                [
                    Problem(
                        "RB414",
                        "request_id",
                        f"request_id {given!r} and the {IDEMPOTENCY_KEY} header {key!r} "
                        "differ; send one of them, or the same value in both",
                    )
                ],
            )
        given = key
    return new_request_id() if given is None else given


def _sf_string(value: str) -> str:
    """A header value as an RFC 8941 string (``"key"``, unescaped), or as sent when it is not
    quoted (a bare token, as many clients send it)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@bp.post("/rulesets/<name>/decisions/batch")
@requires("decide")
def decide_batch(name: str) -> Response:
    """Decide every item with one version, in order; all of them are recorded or none."""
    body = batch_body(name)
    for item in body["items"]:
        if item.get("request_id") is None:
            item["request_id"] = new_request_id()  # so that a retry is safe (as _request_id)
    key = caller()
    started = perf_counter()
    results = decision_service().decide_batch(
        name, body["items"], version=body.get("version"), caller=key.actor, api_key_id=key.id
    )
    metrics.child(metrics.DECISION_SECONDS, "batch").observe(perf_counter() - started)
    metrics.record_decisions(results)
    status = 201 if any(created for _, created in results) else 200
    return _json({"items": [record.to_dict() for record, _ in results]}, status)


@bp.get("/decisions/<int:decision_id>")
@requires("read")
def get_decision(decision_id: int) -> Response:
    """The stored decision with its facts, caller and latest resolution."""
    check_id(decision_id, "decision")
    with database().session() as session:
        record = decisions.get_decision(session, decision_id)
    return _json(record.to_dict(full=True))


@bp.post("/decisions/<int:decision_id>/resolution")
@requires("resolve")
def resolve(decision_id: int) -> Response:
    """Record the outcome a person chose for a decision."""
    check_id(decision_id, "decision")
    body = json_body("ResolutionRequest")
    with database().session() as session:
        resolution = decisions.resolve(
            session,
            decision_id,
            body["outputs"],
            note=body.get("note"),
            actor=caller().actor,
            require_review=True,
        )
    return _json(resolution.to_dict(), 201)


@bp.post("/decisions/<int:decision_id>/replay")
@requires("read")
def replay(decision_id: int) -> Response:
    """Re-evaluate a stored decision under its recorded version and compare."""
    check_id(decision_id, "decision")
    with database().session() as session:
        result = decisions.replay(session, decision_id)
    return _json(result.to_dict())


@bp.get("/rulesets")
@requires("read")
def list_rulesets() -> Response:
    """Every ruleset with its active and latest version."""
    with database().session() as session:
        rulesets = versions.list_rulesets(session)
    return _json({"items": [r.to_dict() for r in rulesets]})


@bp.get("/rulesets/<name>")
@requires("read")
def get_ruleset(name: str) -> Response:
    """A ruleset, its activation history and, with ``?at=``, the version active then."""
    at_text = request.args.get("at")
    at = parse_time(at_text, "at") if at_text is not None else None
    with database().session() as session:
        info = versions.get_ruleset(session, name)
        history = versions.activations(session, name)
        active = versions.active_at(session, name, at) if at is not None else None
    body = info.to_dict()
    body["activations"] = [a.to_dict() for a in history]
    if at is not None:
        body["active_at"] = {"at": at.isoformat(), "version": active}
    return _json(body)


@bp.get("/rulesets/<name>/versions")
@requires("read")
def list_versions(name: str) -> Response:
    """A ruleset's versions, oldest first, without their documents."""
    with database().session() as session:
        found = versions.list_versions(session, name)
    return _json({"items": [v.to_dict(with_document=False) for v in found]})


@bp.get("/rulesets/<name>/versions/<int:number>")
@requires("read")
def get_version(name: str, number: int) -> Response:
    """One version: its document, hash, parent and author."""
    check_id(number, "version")
    with database().session() as session:
        found = versions.get_version(session, name, number)
    return _json(found.to_dict())


@bp.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 description."""
    return _json(document())
