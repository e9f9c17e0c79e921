"""Schemathesis against the served description (``/api/v1/openapi.json``) on the app in
process: every operation, from its examples (the demo's ruleset, valid facts, ids that exist)
and from generated requests, valid and not, with a key that has every scope. No answer is a
server error, and every answer conforms to the description: its status, content type, headers
and body schema. A fixed seed and bounded examples keep it deterministic and within ~60 s."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rules.store import versions
from rules.store.shadow import start_shadow
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, db_of, mortgage_v2

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 60
# Every operation's answers, by status: each must have reached a 2xx at least once.
ANSWERS: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))


@pytest.fixture
def api_schema(app: Flask, api: Api) -> Iterator[Any]:
    """The served description of an app with a decision of each kind (approved, referred and
    resolved) whose ids the examples name."""
    ids = [api.decide({"facts": facts}).get_json()["decision_id"] for facts in (APPROVE, REFER)]
    assert ids == [1, 2], ids  # the description's example decision_id is 1
    resolved = api.post("/api/v1/decisions/2/resolution", {"outputs": {"outcome": "approve"}})
    assert resolved.status_code == 201
    with db_of(app).session() as session:  # the shadow report's example ruleset has one
        versions.create_version(
            session, NAME, mortgage_v2(), base=1, actor="user:a", proposal_id=None
        )
        start_shadow(session, NAME, version=2, actor="user:test")
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": 20261207,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "phases": {"coverage": {"enabled": False}},
        }
    )
    ANSWERS.clear()
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    total = sum(sum(statuses.values()) for statuses in ANSWERS.values())
    print(total, "requests", {op: dict(statuses) for op, statuses in ANSWERS.items()})
    missed = [op for op, statuses in ANSWERS.items() if not any(200 <= s < 300 for s in statuses)]
    served = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    operations = {f"{verb.upper()} {path}" for path, ops in served.items() for verb in ops}
    operations.discard("GET /api/v1/openapi.json")  # the description itself: nothing to generate
    assert set(ANSWERS) == operations, sorted(operations ^ set(ANSWERS))  # every one was tried
    assert not missed, {op: dict(ANSWERS[op]) for op in missed}


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.xdist_group("schemathesis")
@schema.parametrize()
@settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_description(case: Any, api: Api) -> None:
    response = case.call_and_validate(headers=api.headers("all"), checks=CHECKS)
    ANSWERS[case.operation.label][response.status_code] += 1
