"""Test scenarios and the shadow run under ``/api/v1/rulesets/{name}`` (DESIGN §4, §5).

``GET``/``POST …/scenarios`` list and add scenarios (adding is recorded with the API key as
the actor and appends its audit event); ``POST …/scenarios/run`` runs them under a version
(default: the active one) or a candidate document sent in the body, recording nothing;
``GET …/shadow`` is the report of the running shadow (else the latest one).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from rules.api.auth import caller, requires
from rules.api.bodies import json_body
from rules.api.routes import _json, bp
from rules.core.document import parse_document
from rules.errors import DocumentError, InvalidRequestError, Problem
from rules.store import scenarios
from rules.store.extension import database
from rules.store.shadow import shadow_report

__all__: list[str] = []


@bp.get("/rulesets/<name>/scenarios")
@requires("read")
def list_scenarios(name: str) -> Response:
    """The ruleset's test scenarios."""
    with database().session() as session:
        found = scenarios.list_scenarios(session, name)
    return _json({"items": [s.to_dict() for s in found]})


@bp.post("/rulesets/<name>/scenarios")
@requires("resolve")
def add_scenario(name: str) -> Response:
    """Add a test scenario (facts checked against the inputs, expect against the outputs)."""
    body = json_body("ScenarioRequest")
    with database().session() as session:
        added = scenarios.add_scenario(
            session,
            name,
            body["facts"],
            body["expect"],
            actor=caller().actor,
            key=body.get("id"),
            note=body.get("note"),
        )
    return _json(added.to_dict(), 201)


def _candidate(value: Any) -> Any:
    try:
        return parse_document(value)
    except DocumentError as exc:
        raise InvalidRequestError(
            "the candidate document is not valid",
            [
                Problem(p.code, f"candidate.{p.location}", p.message, p.suggestion)
                for p in exc.problems
            ],
        ) from exc


@bp.post("/rulesets/<name>/scenarios/run")
@requires("read")
def run_scenarios(name: str) -> Response:
    """Run the scenarios under a version or a candidate document; nothing is recorded."""
    body = json_body("ScenarioRunRequest")
    if body.get("version") is not None and body.get("candidate") is not None:
        raise InvalidRequestError(
            "give a version or a candidate, not both",
            [Problem("RB433", "candidate", "send either version or candidate")],
        )
    doc = _candidate(body["candidate"]) if body.get("candidate") is not None else None
    with database().session() as session:
        outcomes = scenarios.run_ruleset_scenarios(
            session, name, doc=doc, version=body.get("version")
        )
    failed = [o for o in outcomes if not o.passed]
    return _json(
        {
            "ruleset": name,
            "version": body.get("version"),
            "candidate_hash": None if doc is None else doc.hash,
            "passed": len(outcomes) - len(failed),
            "failed": len(failed),
            "results": [o.to_dict() for o in outcomes],
        }
    )


@bp.get("/rulesets/<name>/shadow")
@requires("read")
def shadow(name: str) -> Response:
    """The shadow run's report: version, since, decisions seen, differences, transitions."""
    with database().session() as session:
        report = shadow_report(session, name)
    return _json(report.to_dict())
