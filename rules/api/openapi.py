"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``.

A test checks it against the OpenAPI schema and against the app's routes, both ways, and that
each operation's security scope is the one its view enforces.
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from rules.api.schemas import SCHEMAS, ref

__all__ = ["document"]

JSON = "application/json"
PROBLEM = "application/problem+json"
SECURITY = "apiKey"


# Examples use the demo's ruleset (`rulebook demo load`, examples/mortgage.yaml); the API's
# property test (tests/rules/api/test_schemathesis.py) starts from them to reach the 2xx paths.
RULESET = "mortgage-approval"
FACTS = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}
EXAMPLES: dict[str, Any] = {
    "DecisionRequest": {"facts": FACTS, "request_id": "app-1001"},
    "BatchRequest": {"items": [{"facts": FACTS}, {"facts": {**FACTS, "insurance": True}}]},
    "ResolutionRequest": {"outputs": {"outcome": "approve"}, "note": "checked the file"},
    "ScenarioRequest": {"facts": FACTS, "expect": {"outcome": "approve"}, "note": "a clean file"},
    "ScenarioRunRequest": {"version": 1},
}

PARAMETERS = {
    "name": {
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": RULESET,
    },
    "decision_id": {
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "example": 1,
    },
    "number": {
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "example": 1,
    },
    "Idempotency-Key": {
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": "the IETF idempotency key header, an alias of the body's `request_id` "
        '(a quoted string, `"key"`, or the bare key); both with different values is a 422',
    },
    "at": {
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date-time"},
        "description": "also report the version active at this time (with a timezone)",
        "example": "2030-01-01T00:00:00Z",
    },
}


def _content(schema: str, media: str = JSON) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": ref(schema)}
    if schema in EXAMPLES:
        content["example"] = EXAMPLES[schema]
    return {media: content}


def _responses(ok: dict[str, tuple[str, str]], errors: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        code: {"description": text, "content": _content(schema)}
        for code, (schema, text) in ok.items()
    }
    for status in (*errors, 500, 503):
        out[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": _content("Problem", PROBLEM),
        }
    return out


def _op(
    summary: str,
    scope: str | None,
    ok: dict[str, tuple[str, str]],
    errors: tuple[int, ...] = (),
    body: str | None = None,
    params: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary}
    if params:
        op["parameters"] = [{"name": p, **PARAMETERS[p]} for p in params]
    if body:
        op["requestBody"] = {"required": True, "content": _content(body)}
        errors = (400, 415, 422, *errors)
    if scope:
        op["security"] = [{SECURITY: [scope]}]
        errors = (401, 403, *errors)
    else:
        op["security"] = []
    op["responses"] = _responses(ok, tuple(sorted(set(errors))))
    return op


DECIDED = ("Decision", "the new decision, recorded")
REPEATED = ("Decision", "the stored decision for a repeated request_id")
DECISION_PATHS: dict[str, Any] = {
    "/api/v1/rulesets/{name}/decisions": {
        "post": _op(
            "Decide facts with the active or a pinned version",
            "decide",
            {"201": DECIDED, "200": REPEATED},
            (404, 409),
            body="DecisionRequest",
            params=("name", "Idempotency-Key"),
        )
    },
    "/api/v1/rulesets/{name}/decisions/batch": {
        "post": _op(
            "Decide many facts with one version, in order, all or nothing",
            "decide",
            {
                "201": ("BatchResponse", "the decisions, at least one new"),
                "200": ("BatchResponse", "every item repeated a request_id"),
            },
            (404, 409),
            body="BatchRequest",
            params=("name",),
        )
    },
    "/api/v1/decisions/{decision_id}": {
        "get": _op(
            "A stored decision with its facts and latest resolution",
            "read",
            {"200": ("DecisionDetail", "the decision")},
            (404,),
            params=("decision_id",),
        )
    },
    "/api/v1/decisions/{decision_id}/resolution": {
        "post": _op(
            "Record the outcome a person chose",
            "resolve",
            {"201": ("Resolution", "the recorded resolution")},
            (404,),
            body="ResolutionRequest",
            params=("decision_id",),
        )
    },
    "/api/v1/decisions/{decision_id}/replay": {
        "post": _op(
            "Re-evaluate a decision under its recorded version",
            "read",
            {"200": ("Replay", "stored and replayed results, and any difference")},
            (404,),
            params=("decision_id",),
        )
    },
}


RULESETS = "/api/v1/rulesets"
RULESET_PATHS: dict[str, Any] = {
    RULESETS: {"get": _op("Every ruleset", "read", {"200": ("RulesetList", "the rulesets")})},
    RULESETS + "/{name}": {
        "get": _op(
            "A ruleset with its activation history",
            "read",
            {"200": ("RulesetDetail", "the ruleset")},
            (404, 422),
            params=("name", "at"),
        )
    },
    RULESETS + "/{name}/versions": {
        "get": _op(
            "A ruleset's versions, oldest first",
            "read",
            {"200": ("VersionList", "the versions")},
            (404,),
            params=("name",),
        )
    },
    RULESETS + "/{name}/versions/{number}": {
        "get": _op(
            "One version with its document and hash",
            "read",
            {"200": ("VersionDetail", "the version")},
            (404,),
            params=("name", "number"),
        )
    },
}

RULESET_PATHS[RULESETS + "/{name}/scenarios"] = {
    "get": _op(
        "The ruleset's test scenarios",
        "read",
        {"200": ("ScenarioList", "the scenarios")},
        (404,),
        params=("name",),
    ),
    "post": _op(
        "Add a test scenario (an audit event)",
        "resolve",
        {"201": ("Scenario", "the scenario, recorded")},
        (404, 409),
        body="ScenarioRequest",
        params=("name",),
    ),
}
RULESET_PATHS[RULESETS + "/{name}/scenarios/run"] = {
    "post": _op(
        "Run the scenarios under a version or a candidate document",
        "read",
        {"200": ("ScenarioRun", "each scenario passed or failed")},
        (404,),
        body="ScenarioRunRequest",
        params=("name",),
    )
}
RULESET_PATHS[RULESETS + "/{name}/shadow"] = {
    "get": _op(
        "The shadow run's report",
        "read",
        {"200": ("ShadowReport", "what the shadow saw")},
        (404,),
        params=("name",),
    )
}


METRICS_OK = {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}}
OPS_PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {}}}},
        }
    },
    "/healthz": {"get": _op("Liveness", None, {"200": ("Health", "the process is up")})},
    "/readyz": {
        "get": _op(
            "Readiness: the database is reachable and migrated",
            None,
            {"200": ("Ready", "ready to serve")},
        )
    },
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": METRICS_OK}},
}


SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (`rulebook apikeys create NAME --scopes decide,read`). Each "
    "operation names the scope it needs: `decide` (decisions, batches), `resolve` "
    "(resolutions), `read` (every GET, and replay). A missing or invalid key is a 401; a "
    "key without the scope is a 403.",
}


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once; treat it as read-only)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rulebook decision API",
            "version": "1",
            "description": "Versioned, recorded, explainable decisions (DESIGN §4). Errors are "
            "application/problem+json (RFC 9457).",
        },
        "paths": {**DECISION_PATHS, **RULESET_PATHS, **OPS_PATHS},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {SECURITY: SECURITY_SCHEME},
        },
        "security": [{SECURITY: []}],
    }
