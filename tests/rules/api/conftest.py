"""The API on a real database: an app per test with the mortgage ruleset and API keys.

``app`` → ``tokens`` → ``api`` chain like the Flask tutorial's ``app`` → ``client``; ``api``
sends requests with the key that has every scope unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from review_app import create_app
from rules.core.document import Document, load_document
from rules.store import Database, accounts, versions
from rules.store.extension import DB_EXTENSION
from rules.store.models import SCOPES, Base

MORTGAGE = Path(__file__).resolve().parents[3] / "examples" / "mortgage.yaml"
NAME = "mortgage-approval"
# Approved by rule approve-clean-low-debt.
APPROVE = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}
# No rule matches: the default outcome "refer", an exception routed to a person.
REFER = {**APPROVE, "pirat": 0.33}


def mortgage() -> Document:
    return load_document(MORTGAGE.read_bytes())


def mortgage_v2() -> Document:
    """Version 2 approves debt ratios up to 0.35, so REFER's facts are approved."""
    text = MORTGAGE.read_text(encoding="utf-8")
    assert "value: 0.30" in text
    return load_document(text.replace("value: 0.30", "value: 0.35").encode("utf-8"))


def db_of(app: Flask) -> Database:
    db: Database = app.extensions[DB_EXTENSION]
    return db


def count(app: Flask, model: type[Base]) -> int:
    with db_of(app).session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def make_app(url: str, **config: Any) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", **config})


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = make_app(db_url)
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
    yield app
    db_of(app).dispose()


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """API keys by name: ``all`` has every scope, ``decide``/``resolve``/``read`` one each."""
    with db_of(app).session() as s:
        out = {"all": accounts.create_api_key(s, "all", list(SCOPES), "cli:test")[1]}
        for scope in SCOPES:
            out[scope] = accounts.create_api_key(s, f"only-{scope}", [scope], "cli:test")[1]
    return out


class Api:
    """A test client that authenticates with one of the ``tokens``."""

    def __init__(self, client: FlaskClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}

    def get(self, path: str, key: str | None = "all", **kw: Any) -> TestResponse:
        return self.client.get(path, headers=self.headers(key), **kw)

    def post(self, path: str, body: Any = None, key: str | None = "all", **kw: Any) -> TestResponse:
        if body is not None:
            kw["json"] = body
        return self.client.post(path, headers=self.headers(key), **kw)

    def decide(self, body: Any, name: str = NAME, key: str = "all") -> TestResponse:
        return self.post(f"/api/v1/rulesets/{name}/decisions", body, key)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient, tokens: dict[str, str]) -> Api:
    return Api(client, tokens)


def fields(response: TestResponse) -> dict[str, dict[str, Any]]:
    """A problem's errors by field, after checking it is a problem document."""
    assert response.mimetype == "application/problem+json", response.data
    body = response.get_json()
    assert body["status"] == response.status_code
    assert set(body) >= {"type", "title", "status", "detail", "errors"}
    return {e["field"]: e for e in body["errors"]}
