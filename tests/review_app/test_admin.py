"""/admin: users, API keys and the kill switch. Each change appends its audit event in the
same transaction; a new key is shown once; a refused form names its fields and writes
nothing; non-admins get 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from rules import audit
from rules.errors import ConflictError
from rules.store import accounts, settings
from rules.store.models import ApiKey, User
from tests.review_app.conftest import PASSWORD, Browser, audit_seq, count, db_of

NEW_USER = {"username": "ann", "role": "analyst", "password": PASSWORD, "confirm": PASSWORD}


@pytest.fixture
def admin(login: Callable[..., Browser]) -> Browser:
    return login("admin")


def last_event(app: Flask) -> audit.AuditRecord:
    with db_of(app).session() as s:
        return list(audit.events(s))[-1]


def test_creating_a_user_is_audited_and_they_can_sign_in(
    app: Flask, admin: Browser, anonymous: Browser
) -> None:
    response = admin.post("/admin/users", NEW_USER)
    assert response.status_code == 302
    assert response.location == "/admin/users"
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Created user ann (analyst)." in page
    event = last_event(app)
    assert (event.actor, event.action, event.subject) == ("user:admin", "user.created", "user:ann")
    assert event.payload == {"username": "ann", "role": "analyst"}
    assert anonymous.sign_in("ann").status_code == 302


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"username": "has space"}, "username", "Use 1 to 64 letters, digits"),
        ({"role": "boss"}, "role", "Not a valid choice"),
        ({"password": "short", "confirm": "short"}, "password", "at least 10 characters"),
        ({"confirm": "something else"}, "confirm", "The two passwords differ"),
        ({"username": "admin"}, "username", "a user named &#39;admin&#39; already exists"),
    ],
)
def test_a_refused_user_names_the_field_and_writes_nothing(
    app: Flask, admin: Browser, change: dict[str, str], field: str, message: str
) -> None:
    before = (audit_seq(app), count(app, User))
    response = admin.post("/admin/users", {**NEW_USER, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    assert f'aria-describedby="{field}-hint {field}-error"' in html or (
        f'aria-describedby="{field}-error"' in html
    )
    assert f'href="#{field}"' in html  # the error summary links to the field
    assert "correct horse" not in html  # passwords are never echoed
    assert (audit_seq(app), count(app, User)) == before


def test_disable_enable_and_role_changes_are_audited(
    app: Flask, admin: Browser, anonymous: Browser
) -> None:
    admin.post("/admin/users", NEW_USER)
    admin.post("/admin/users/ann/disable")
    assert last_event(app).action == "user.disabled"
    assert anonymous.sign_in("ann").status_code == 422
    admin.post("/admin/users/ann/enable")
    assert last_event(app).action == "user.enabled"
    admin.post("/admin/users/ann/role", {"role": "approver"})
    event = last_event(app)
    assert event.action == "user.role_changed"
    assert event.payload == {"username": "ann", "role": "approver", "previous": "analyst"}
    seq = audit_seq(app)
    admin.post("/admin/users/ann/role", {"role": "approver"})  # no change, no event
    assert audit_seq(app) == seq
    assert admin.post("/admin/users/nobody/disable").status_code == 404


def test_an_admin_cannot_lock_themselves_out(app: Flask, admin: Browser) -> None:
    admin.post("/admin/users", NEW_USER)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'admin <span class="hint">(you)</span>' in page
    assert 'action="/admin/users/admin/disable"' not in page  # not offered for oneself
    assert 'action="/admin/users/admin/role"' not in page
    assert 'action="/admin/users/ann/disable"' in page
    assert 'action="/admin/users/ann/role"' in page
    seq = audit_seq(app)
    response = admin.post("/admin/users/admin/disable")
    assert response.status_code == 302
    assert "You cannot disable your own account" in admin.get("/admin/users").get_data(as_text=True)
    admin.post("/admin/users/admin/role", {"role": "analyst"})
    assert audit_seq(app) == seq
    # And the service keeps one enabled admin whoever asks (the CLI, another admin).
    with pytest.raises(ConflictError, match="last enabled admin"), db_of(app).session() as s:
        accounts.set_user_disabled(s, "admin", True, "cli:root")
    with pytest.raises(ConflictError, match="last enabled admin"), db_of(app).session() as s:
        accounts.set_user_role(s, "admin", "auditor", "cli:root")


def test_a_new_key_is_shown_once_and_works(app: Flask, admin: Browser) -> None:
    response = admin.post("/admin/apikeys", {"name": "loan-origination", "scopes": ["read"]})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Copy the new key now" in html
    token = html.split('<p class="secret" id="new-key" tabindex="0">', 1)[1].split("<", 1)[0]
    assert token.startswith("rbk_")
    event = last_event(app)
    assert (event.action, event.actor) == ("apikey.created", "user:admin")
    assert event.payload == {"name": "loan-origination", "scopes": ["read"]}
    assert token not in admin.get("/admin/apikeys").get_data(as_text=True)
    api = app.test_client().get("/api/v1/rulesets", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200


def test_a_refused_key_names_the_field(app: Flask, admin: Browser) -> None:
    before = (audit_seq(app), count(app, ApiKey))
    response = admin.post("/admin/apikeys", {"name": "", "scopes": []})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Name the key after the application" in html
    assert "Choose at least one scope." in html
    response = admin.post("/admin/apikeys", {"name": "x", "scopes": ["write"]})
    assert response.status_code == 422
    assert "&#39;write&#39; is not a valid choice" in response.get_data(as_text=True)
    assert (audit_seq(app), count(app, ApiKey)) == before


def test_revoking_a_key(app: Flask, admin: Browser) -> None:
    with db_of(app).session() as s:
        info, token = accounts.create_api_key(s, "old-app", ["read"], "cli:test")
    response = admin.post(f"/admin/apikeys/{info.prefix}/revoke")
    assert response.status_code == 302
    assert f"API key old-app ({info.prefix}) is revoked." in admin.get("/admin/apikeys").get_data(
        as_text=True
    )
    event = last_event(app)
    assert (event.action, event.subject) == ("apikey.revoked", f"apikey:{info.prefix}")
    api = app.test_client().get("/api/v1/rulesets", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    assert admin.post("/admin/apikeys/nope/revoke").status_code == 404


def test_the_kill_switch(app: Flask, admin: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.ENV_LLM_DISABLED, raising=False)
    assert "Kill switch is OFF" in admin.get("/admin/llm").get_data(as_text=True)
    assert admin.post("/admin/llm", {"state": "on"}).status_code == 302
    page = admin.get("/admin/llm").get_data(as_text=True)
    assert "Kill switch ON: the LLM proposer will not run." in page
    assert "Kill switch is ON" in page
    assert "user:admin" in page
    event = last_event(app)
    assert (event.action, event.actor) == ("llm.kill_switch", "user:admin")
    assert event.payload["kill_switch"] is True
    admin.post("/admin/llm", {"state": "off"})
    with db_of(app).session() as s:
        assert settings.kill_switch(s).on is False
    assert last_event(app).payload["kill_switch"] is False
    seq = audit_seq(app)
    response = admin.post("/admin/llm", {"state": "maybe"})
    assert response.status_code == 422
    assert "The kill switch is either on or off." in response.get_data(as_text=True)
    assert audit_seq(app) == seq


def test_the_environment_override_is_explained(
    admin: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.ENV_LLM_DISABLED, "1")
    page = admin.get("/admin/llm").get_data(as_text=True)
    assert "Kill switch is ON" in page
    assert "RULEBOOK_LLM_DISABLED keeps the switch on" in page


@pytest.mark.parametrize("role", ["analyst", "approver", "auditor"])
def test_non_admins_get_403_and_change_nothing(
    app: Flask, login: Callable[..., Browser], role: str
) -> None:
    browser = login(role)
    seq = audit_seq(app)
    for path in ("/admin/users", "/admin/apikeys", "/admin/llm"):
        assert browser.get(path).status_code == 403
    assert browser.post("/admin/users", NEW_USER).status_code == 403
    assert browser.post("/admin/apikeys", {"name": "x", "scopes": ["read"]}).status_code == 403
    assert browser.post("/admin/llm", {"state": "on"}).status_code == 403
    assert audit_seq(app) == seq
    assert count(app, ApiKey) == 0
