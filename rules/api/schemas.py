"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's bodies and answers.

Request bodies are closed (an unknown field is a 422); answers are open, so fields can be
added without breaking clients.
"""

from __future__ import annotations

from typing import Any

from rules.api.limits import MAX_INT
from rules.store.decisions import MAX_BATCH, MAX_REQUEST_ID

__all__ = ["MAX_INT", "SCHEMAS", "ref"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], props: dict[str, Any], closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "required": required, "properties": props}
    if closed:
        out["additionalProperties"] = False
    return out


def _list_of(name: str) -> dict[str, Any]:
    return _obj(["items"], {"items": {"type": "array", "items": ref(name)}})


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NULL_STR = {"type": ["string", "null"]}
NULL_INT = {"type": ["integer", "null"]}
HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, hex"}
SCALAR = {"type": ["string", "number", "boolean", "null"]}
ROW = {"type": "object", "additionalProperties": SCALAR}
VERSION_PIN = {
    "type": ["integer", "null"],
    "minimum": 1,
    "maximum": MAX_INT,
    "description": "pin this version; absent or null: the active version decides",
}
REQUEST_ID = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": MAX_REQUEST_ID,
    "description": "the client's idempotency key, unique per ruleset",
}

SCHEMAS: dict[str, Any] = {
    "FieldError": _obj(
        ["field", "message"],
        {"field": STR, "message": STR, "code": STR, "suggestion": STR},
    ),
    "Problem": _obj(
        ["type", "title", "status", "detail", "errors"],
        {
            "type": {"type": "string", "format": "uri-reference"},
            "title": STR,
            "status": INT,
            "detail": STR,
            "errors": {"type": "array", "items": ref("FieldError")},
        },
    ),
    "Facts": {**ROW, "description": "input values by name, as the ruleset's inputs declare"},
    "DecisionRequest": _obj(
        ["facts"],
        {"facts": ref("Facts"), "version": VERSION_PIN, "request_id": REQUEST_ID},
        closed=True,
    ),
    "BatchItem": _obj(["facts"], {"facts": ref("Facts"), "request_id": REQUEST_ID}, True),
    "BatchRequest": _obj(
        ["items"],
        {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": ref("BatchItem"),
            },
            "version": VERSION_PIN,
        },
        closed=True,
    ),
    "Decision": _obj(
        [
            "decision_id",
            "ruleset",
            "version",
            "version_hash",
            "outputs",
            "rule_ids",
            "matched",
            "exception",
            "request_id",
            "decided_at",
        ],
        {
            "decision_id": INT,
            "ruleset": STR,
            "version": INT,
            "version_hash": HASH,
            "outputs": {
                "description": "an object for single-hit policies and aggregations, a list of "
                "objects for multi-hit policies, null when nothing could be decided",
                "anyOf": [ROW, {"type": "array", "items": ROW}, {"type": "null"}],
            },
            "rule_ids": {"type": "array", "items": STR},
            "matched": {"type": "array", "items": STR},
            "exception": {**BOOL, "description": "routed to a person for review"},
            "request_id": NULL_STR,
            "decided_at": TIME,
            "error": {**STR, "description": "present when evaluation failed (e.g. UNIQUE)"},
        },
    ),
    "BatchResponse": _list_of("Decision"),
    "Resolution": _obj(
        ["decision_id", "outputs", "override", "note", "resolved_by", "source", "resolved_at"],
        {
            "decision_id": INT,
            "outputs": ROW,
            "override": BOOL,
            "note": NULL_STR,
            "resolved_by": STR,
            "source": STR,
            "resolved_at": TIME,
        },
    ),
    "DecisionDetail": {
        "allOf": [
            ref("Decision"),
            _obj(
                ["facts", "caller", "source", "resolution"],
                {
                    "facts": ref("Facts"),
                    "caller": STR,
                    "source": STR,
                    "resolution": {"anyOf": [ref("Resolution"), {"type": "null"}]},
                },
            ),
        ]
    },
    "ResolutionRequest": _obj(
        ["outputs"],
        {
            "outputs": {**ROW, "minProperties": 1},
            "note": {"type": ["string", "null"], "maxLength": 4000},
        },
        closed=True,
    ),
    "Replay": _obj(
        ["decision_id", "identical", "stored", "replayed", "differences"],
        {
            "decision_id": INT,
            "identical": BOOL,
            "stored": {"type": "object"},
            "replayed": {"type": "object"},
            "differences": {"type": "array", "items": STR},
        },
    ),
    "Ruleset": _obj(
        ["name", "title", "active_version", "latest_version", "created_at"],
        {
            "name": STR,
            "title": NULL_STR,
            "active_version": NULL_INT,
            "latest_version": INT,
            "created_at": TIME,
        },
    ),
    "RulesetList": _list_of("Ruleset"),
    "Activation": _obj(
        ["ruleset", "version", "previous", "actor", "note", "activated_at"],
        {
            "ruleset": STR,
            "version": INT,
            "previous": NULL_INT,
            "actor": STR,
            "note": NULL_STR,
            "activated_at": TIME,
        },
    ),
    "RulesetDetail": {
        "allOf": [
            ref("Ruleset"),
            _obj(
                ["activations"],
                {
                    "activations": {"type": "array", "items": ref("Activation")},
                    "active_at": _obj(["at", "version"], {"at": TIME, "version": NULL_INT}),
                },
            ),
        ]
    },
    "Version": _obj(
        ["ruleset", "version", "hash", "parent", "author", "proposal_id", "created_at", "active"],
        {
            "ruleset": STR,
            "version": INT,
            "hash": HASH,
            "parent": NULL_INT,
            "author": STR,
            "proposal_id": NULL_INT,
            "created_at": TIME,
            "active": BOOL,
        },
    ),
    "VersionList": _list_of("Version"),
    "VersionDetail": {
        "allOf": [
            ref("Version"),
            _obj(["document"], {"document": {"type": "object", "description": "DESIGN §2"}}),
        ]
    },
    "Health": _obj(["status"], {"status": STR}),
    "Ready": _obj(
        ["status", "database", "revision"],
        {"status": STR, "database": STR, "revision": {"type": "array", "items": STR}},
    ),
    "ScenarioRequest": _obj(
        ["facts", "expect"],
        {
            "id": {**STR, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"},
            "facts": ref("Facts"),
            "expect": {"type": "object", "description": "expected values of some outputs"},
            "note": NULL_STR,
        },
        True,
    ),
    "Scenario": _obj(
        ["id", "facts", "expect", "note", "updated_by", "updated_at"],
        {
            "id": STR,
            "facts": {"type": "object"},
            "expect": {"type": "object"},
            "note": NULL_STR,
            "updated_by": STR,
            "updated_at": TIME,
            "proposal_id": NULL_INT,
        },
    ),
    "ScenarioList": _list_of("Scenario"),
    "ScenarioRunRequest": _obj(
        [],
        {
            "version": {**INT, "minimum": 1, "maximum": MAX_INT},
            "candidate": {"type": "object", "description": "a ruleset document (DESIGN §2)"},
        },
        True,
    ),
    "ScenarioRun": _obj(
        ["ruleset", "passed", "failed", "results"],
        {
            "ruleset": STR,
            "version": NULL_INT,
            "candidate_hash": {"type": ["string", "null"]},
            "passed": INT,
            "failed": INT,
            "results": {"type": "array", "items": {"type": "object"}},
        },
    ),
    "ShadowReport": _obj(
        ["ruleset", "since", "running", "decisions_seen", "differences", "transitions"],
        {
            "ruleset": STR,
            "version": NULL_INT,
            "proposal_id": NULL_INT,
            "since": TIME,
            "running": BOOL,
            "decisions_seen": INT,
            "differences": INT,
            "errors": INT,
            "transitions": {"type": "object", "description": "output: live value: shadow value: n"},
            "agreement": {"type": "object"},
        },
    ),
}
