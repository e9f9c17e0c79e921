"""The review app on a real database (SQLite, then PostgreSQL): ``app`` → ``client`` like the
Flask tutorial, and ``login(role)``, which signs a user of that role in through the real form
with its CSRF token, as a browser would.

``route_values`` fills the ``<variables>`` of every UI route with ids that exist in a small
fixture database (the authorization matrix visits every route): add yours to
:func:`seed_route_values` when you add a route with a new variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from review_app import create_app
from rules.store import Database, accounts, decisions, scenarios, versions
from rules.store.extension import DB_EXTENSION
from rules.store.models import ROLES, AuditHead, Base, LoginThrottle
from tests.rules.api.conftest import APPROVE, NAME, mortgage

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_app(url: str, **config: Any) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", **config})


def db_of(app: Flask) -> Database:
    db: Database = app.extensions[DB_EXTENSION]
    return db


def count(app: Flask, model: type[Base]) -> int:
    with db_of(app).session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def audit_seq(app: Flask) -> int:
    """How many events the audit chain holds."""
    with db_of(app).session() as s:
        return int(s.scalar(select(AuditHead.seq)) or 0)


def csrf_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = make_app(db_url)
    with db_of(app).session() as s:  # a test may have filled it from another app (worker)
        s.execute(delete(LoginThrottle))
    yield app
    with db_of(app).session() as s:
        s.execute(delete(LoginThrottle))
    db_of(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Browser:
    """A test client that sends each POST with the CSRF token of its current session."""

    def __init__(self, client: FlaskClient, username: str | None = None) -> None:
        self.client = client
        self.username = username
        self._token: str | None = None

    def token(self) -> str:
        """A CSRF token for this session, read from the sign-in page's form."""
        if self._token is None:
            self._token = csrf_token(self.client.get("/login").get_data(as_text=True))
        return self._token

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, **kw)

    def post(
        self, path: str, data: Mapping[str, Any] | None = None, csrf: bool = True, **kw: Any
    ) -> TestResponse:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.token())
        return self.client.post(path, data=body, **kw)

    def sign_in(
        self, username: str, password: str = PASSWORD, path: str = "/login", **kw: Any
    ) -> TestResponse:
        """Post the sign-in form; the session (and so the CSRF token) is new afterwards."""
        response = self.post(path, {"username": username, "password": password}, **kw)
        self._token = None
        if response.status_code == 302:
            self.username = username
        return response


def ensure_user(app: Flask, username: str, role: str, password: str = PASSWORD) -> None:
    with db_of(app).session() as s:
        if all(u.username != username for u in accounts.list_users(s)):
            accounts.create_user(s, username, role, password, "cli:test")


@pytest.fixture
def login(app: Flask) -> Callable[..., Browser]:
    """``login("approver")``: a new browser signed in as a user with that role (the user is
    named after the role unless ``username`` is given, and created on first use)."""

    def sign_in(role: str, username: str | None = None) -> Browser:
        assert role in ROLES
        name = username or role
        ensure_user(app, name, role)
        browser = Browser(app.test_client())
        response = browser.sign_in(name)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return sign_in


@pytest.fixture
def anonymous(app: Flask) -> Browser:
    return Browser(app.test_client())


TARGET_USER = "target-user"
TARGET_KEY = "target-key"


def seed_route_values(app: Flask) -> dict[str, Any]:
    """A small database for the authorization matrix, and the value of each URL variable.

    Keys are URL variable names (``<name>``, ``<username>``...); a variable whose value
    depends on the endpoint goes under the endpoint's name, e.g.
    ``{"proposals.show": {"id": 7}}``."""
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
        decision, _ = decisions.DecisionService().decide(
            NAME, APPROVE, caller="cli:test", session=s
        )
        accounts.create_user(s, TARGET_USER, "analyst", PASSWORD, "cli:test")
        scenarios.add_scenario(
            s, NAME, APPROVE, {"outcome": "approve"}, actor="cli:test", key="seeded"
        )
        key, _token = accounts.create_api_key(s, TARGET_KEY, ["read"], "cli:test")
    with db_of(app).session() as s:  # a draft proposal for the proposals.* routes
        from proposer import create_proposal

        proposal = create_proposal(
            s,
            NAME,
            operations=[{"op": "remove_rule", "rule_id": "decline-insurance-denied"}],
            rationale="Seeded for the authorization matrix.",
            citations=[],
            author=f"user:{TARGET_USER}",
            actor=f"user:{TARGET_USER}",
        )
    return {
        "proposal_id": proposal.id,
        "name": NAME,
        "decision_id": decision.id,
        "username": TARGET_USER,
        "prefix": key.prefix,
        "fmt": "csv",
        "number": 1,  # a version of NAME (rulesets.version, rulesets.activate)
        "key": "seeded",  # a scenario of NAME (scenarios.edit, scenarios.remove)
    }


@pytest.fixture
def route_values(app: Flask) -> dict[str, Any]:
    return seed_route_values(app)


def build_path(app: Flask, rule: Rule, values: Mapping[str, Any]) -> str:
    """``rule``'s URL with its variables filled from ``values`` (see :func:`seed_route_values`)."""
    chosen: dict[str, Any] = {}
    for arg in sorted(rule.arguments):
        by_endpoint = values.get(rule.endpoint)
        if isinstance(by_endpoint, Mapping) and arg in by_endpoint:
            chosen[arg] = by_endpoint[arg]
        elif arg in values:
            chosen[arg] = values[arg]
        else:
            pytest.fail(
                f"no value for <{arg}> of {rule.endpoint} ({rule.rule}): add one in "
                "tests/review_app/conftest.py seed_route_values"
            )
    with app.test_request_context():
        _, path = rule.build(chosen, append_unknown=False) or ("", "")
    return path
